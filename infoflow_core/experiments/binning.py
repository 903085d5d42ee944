"""Why I(X;T) is vacuous in a deterministic network, and what binning measures
(Section 1 and Fig. 1 of the paper; the book's chapter ``book/01_binning.ipynb``).

A small deterministic tanh network (the SZT architecture of Section 5.1, narrowed) is trained on
every vector of a discrete input set, X uniform over n distinct inputs. At chosen
epochs each hidden layer's representations ``T_ℓ = f_ℓ(X)`` of all n inputs are
binned at several bin sizes. Because ``Bin(f_ℓ(·))`` is a deterministic function of
X,

    I(X; Bin(T_ℓ)) = H(Bin(T_ℓ)) − H(Bin(T_ℓ) | X) = H(Bin(T_ℓ)) ≤ H(X) = ln n,

while the true ``I(X; T_ℓ) = H(X) = ln n`` at every epoch, because tanh is strictly
monotone and the affine maps are (almost surely) injective on n points. The
experiment records both: the binned curves and the smallest distance between two
inputs' representations (positive: the map is injective; bins smaller than it give
exactly ln n).

The inputs are all ``2**n_bits`` vectors of ``{−1, +1}^n_bits``; the label of ``x`` is
``[(x₁ + x₂ + x₃)(x₄ + x₅ + x₆) > 0]``, an XOR of two majorities (balanced, and not
linearly separable, so the hidden layers must do some work).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_positive, check_positive_int
from ..binning import binned_entropy
from ..models.szt import SZTNet
from ..results import ExperimentResults, Provenance, load_or_run
from ._common import Experiment, ExperimentConfig, log_epochs, progress_iter, resolve_device, single_thread

__all__ = [
    "DEFAULT_BIN_SIZES",
    "BinningConfig",
    "BinningResults",
    "binary_inputs",
    "run_binning",
    "binning_results",
    "EXPERIMENT",
]

#: Bin sizes (in units of a tanh output, range (−1, 1)) shown in the chapter:
#: 2 is a single bin (H = 0); the smallest separate every pair of inputs.
DEFAULT_BIN_SIZES = (2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 3e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10, 1e-12)


@dataclass(frozen=True, kw_only=True)
class BinningConfig(ExperimentConfig):
    """Everything that defines a run of :func:`run_binning`.

    Build it with ``BinningConfig.for_scale(scale, **overrides)``; the scales differ
    only in ``epochs`` and ``n_records`` (``quick``: 1500 and 25, ≤ 10 s on one core).

    Attributes
    ----------
    n_bits : int
        Inputs are all ``2**n_bits`` vectors of ``{−1, +1}^n_bits`` (needs ≥ 6).
    widths : tuple of int
        Layer widths, input first, 2 output logits last; hidden layers are tanh.
    epochs : int
        Full-batch training epochs.
    lr : float
        Adam's learning rate (the authors' SZT runs: Adam, 4·10⁻⁴).
    n_records : int
        About how many epochs are measured: epoch 0 and the distinct epochs of
        ``log_epochs(epochs, n_records − 1)``.
    bin_sizes : tuple of float
        Bin widths for ``H(Bin(T_ℓ))``, on the tanh range (−1, 1).
    seed : int
        Seed of the initial weights (the data are fixed).

    Examples
    --------
    >>> BinningConfig.for_scale("quick").epochs, BinningConfig.for_scale("full", lr=0.003).lr
    (1500, 0.003)
    """

    PRESETS: ClassVar[dict] = {
        "quick": dict(epochs=1500, n_records=25),
        "book": {},
        "full": dict(epochs=20000, n_records=80),
    }

    n_bits: int = 9
    widths: tuple = (9, 8, 6, 5, 4, 3, 2)
    epochs: int = 4000
    lr: float = 0.01
    n_records: int = 40
    bin_sizes: tuple = DEFAULT_BIN_SIZES

    def validate(self) -> None:
        check_positive_int(self.n_bits, "n_bits", minimum=6)
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.n_records, "n_records", minimum=2)
        if len(self.widths) < 3 or self.widths[0] != self.n_bits or self.widths[-1] != 2:
            raise ValueError(f"widths must run from n_bits={self.n_bits} to 2 logits through ≥ 1 hidden layer, "
                             f"got {self.widths}")
        check_positive(self.lr, "lr")
        if not self.bin_sizes or min(self.bin_sizes) <= 0:
            raise ValueError(f"bin_sizes must be positive numbers, got {self.bin_sizes}")

    def record_epochs(self) -> tuple[int, ...]:
        """The measured epochs: ``log_epochs(epochs, n_records − 1, include_zero=True)``.

        >>> BinningConfig.for_scale("book", epochs=100, n_records=6).record_epochs()
        (0, 1, 3, 10, 32, 100)
        """
        return log_epochs(self.epochs, self.n_records - 1, include_zero=True)


def binary_inputs(n_bits: int, *, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``2**n_bits`` vectors of ``{−1, +1}^n_bits`` and their labels.

    The label is ``1`` when ``(x₁ + x₂ + x₃)(x₄ + x₅ + x₆) > 0`` and ``0`` otherwise
    (each sum is odd, so never zero; exactly half the inputs are in each class).

    Returns
    -------
    x : Tensor, shape (2**n_bits, n_bits)
    labels : Tensor of int64, shape (2**n_bits,)

    Examples
    --------
    >>> x, y = binary_inputs(6)
    >>> tuple(x.shape), int(y.sum())
    ((64, 6), 32)
    """
    n_bits = check_positive_int(n_bits, "n_bits", minimum=6)
    codes = torch.arange(2 ** n_bits, device=device)  # (n,)
    bits = (codes[:, None] >> torch.arange(n_bits, device=device)) & 1  # (n, n_bits)
    x = (2 * bits - 1).to(dtype)  # (n, n_bits) in {−1, +1}
    labels = ((x[:, 0:3].sum(1) * x[:, 3:6].sum(1)) > 0).long()  # (n,)
    return x, labels


@dataclass(kw_only=True)
class BinningResults(ExperimentResults):
    """What :func:`run_binning` measured.

    Attributes
    ----------
    config : BinningConfig
    epochs : ndarray of int, shape (E,)
        The measured epochs (0 = before training).
    bin_sizes : ndarray, shape (K,)
    h_bin : ndarray, shape (E, K, L)
        ``H(Bin(T_ℓ)) = I(X; Bin(T_ℓ))`` in nats, per epoch, bin size and hidden layer
        (the layout of the SZT experiment's ``h_bin``).
    min_distance : ndarray, shape (E, L)
        Smallest Euclidean distance between the representations of two distinct inputs.
    n_distinct : ndarray of int, shape (E, L)
        Number of distinct representation vectors (exact float64 equality): n for an
        injective map.
    loss, accuracy : ndarray, shape (E,)
        Cross-entropy (nats) and accuracy on the n inputs at each measured epoch.
    representations : tuple of L ndarrays, each shape (E, n, d_ℓ)
        The representations ``T_ℓ = f_ℓ(x)`` of all inputs at each measured epoch
        (row i is input i of :func:`binary_inputs`); stored as ``representations_ℓ``.
    labels : ndarray of int, shape (n,)
    provenance : Provenance
    """

    experiment: ClassVar[str] = "binning"
    config_type: ClassVar[type] = BinningConfig
    ARRAYS: ClassVar[tuple[str, ...]] = ("epochs", "bin_sizes", "h_bin", "min_distance", "n_distinct", "loss",
                                         "accuracy", "labels")

    epochs: np.ndarray
    bin_sizes: np.ndarray
    h_bin: np.ndarray
    min_distance: np.ndarray
    n_distinct: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    labels: np.ndarray
    representations: tuple = ()

    @property
    def n_inputs(self) -> int:
        """``n = 2**n_bits``."""
        return 2 ** self.config.n_bits

    @property
    def h_x(self) -> float:
        """``H(X) = ln n`` in nats: the true ``I(X; T_ℓ)`` of an injective map."""
        return math.log(self.n_inputs)

    @property
    def layer_widths(self) -> tuple[int, ...]:
        """Widths of the hidden layers T_1 … T_L."""
        return tuple(self.config.widths[1:-1])

    def arrays(self) -> dict[str, np.ndarray]:
        """``ARRAYS`` plus ``representations_1`` … ``representations_L``."""
        out = super().arrays()
        out.update({f"representations_{k + 1}": np.asarray(r) for k, r in enumerate(self.representations)})
        return out

    @classmethod
    def from_arrays(cls, config, arrays, summary, provenance):
        """Rebuild from :meth:`arrays` (the representations from ``representations_ℓ``)."""
        names = [f"representations_{k + 1}" for k in range(len(config.widths) - 2)]
        missing = [k for k in (*cls.ARRAYS, *names) if k not in arrays]
        if missing:
            raise ValueError(f"stored arrays lack {missing} for {cls.__name__}")
        return cls(config=config, provenance=provenance, representations=tuple(arrays[k] for k in names),
                   **{k: arrays[k] for k in cls.ARRAYS})

    def summary(self) -> dict:
        """Headline numbers (JSON-serialisable)."""
        return {
            "h_x": self.h_x,
            "final_accuracy": float(self.accuracy[-1]),
            "final_loss": float(self.loss[-1]),
            "injective_at_every_epoch": bool((self.n_distinct == self.n_inputs).all()),
        }


def _measure(model: SZTNet, x: torch.Tensor, labels: torch.Tensor, bin_sizes) -> tuple:
    """Binned entropies, injectivity and loss of ``model`` on all inputs."""
    with torch.no_grad():
        hidden = model.hidden_values(x)  # list of L tensors (n, d_ℓ)
        logits = model(x)  # (n, 2)
        loss = float(F.cross_entropy(logits, labels))
        accuracy = float((logits.argmax(1) == labels).double().mean())
        h = np.array([[binned_entropy(t, bin_size=b) for t in hidden] for b in bin_sizes])  # (K, L)
        min_dist = np.array([float(torch.pdist(t).min()) for t in hidden])  # (L,)
        distinct = np.array([torch.unique(t, dim=0).shape[0] for t in hidden])  # (L,)
    reps = [t.cpu().numpy() for t in hidden]  # L arrays (n, d_ℓ)
    return h, min_dist, distinct, loss, accuracy, reps


def run_binning(config: BinningConfig, *, device=None, progress: bool = True) -> BinningResults:
    """Train the deterministic tanh network and measure ``H(Bin(T_ℓ))`` along the way.

    The network is :class:`~infoflow_core.models.szt.SZTNet` with ``beta = 0`` and
    ``config.widths``, its initial weights drawn from a CPU generator seeded with
    ``config.seed``. Full-batch Adam on all ``2**n_bits`` inputs with softmax
    cross-entropy, in float64 (so that saturated tanh units stay distinguishable and
    injectivity is not lost to rounding). On the CPU it runs on one thread (restored
    afterwards): the matrices are at most 512 × 9, threads only add synchronisation
    (on two busy cores, 2 threads took 5× longer than one), and one thread gives the
    same numbers whatever the machine's thread count.

    Parameters
    ----------
    config : BinningConfig
    device : torch.device or str, optional
        Where to train (:func:`~infoflow_core.experiments.resolve_device`: ``None`` is
        CUDA when available). The network is tiny: the CPU is as fast, and gives the
        same numbers on every machine.
    progress : bool
        Show a progress bar over epochs.

    Returns
    -------
    BinningResults

    Examples
    --------
    >>> cfg = BinningConfig.for_scale("quick", n_bits=6, widths=(6, 3, 2), epochs=5, n_records=3,
    ...                               bin_sizes=(2.0, 1e-12))
    >>> r = run_binning(cfg, device="cpu", progress=False)
    >>> r.epochs.tolist(), r.h_bin.shape, round(float(r.h_bin[-1, -1, 0]), 6) == round(r.h_x, 6)
    ([0, 1, 5], (3, 2, 1), True)
    """
    if not isinstance(config, BinningConfig):
        raise ValueError(f"config must be a BinningConfig, got {type(config).__name__}")
    device = resolve_device(device)
    with single_thread(device.type == "cpu"):
        return _train_and_measure(config, device, progress)


def _train_and_measure(config: BinningConfig, device: torch.device, progress: bool) -> BinningResults:
    """The body of :func:`run_binning`."""
    start = time.perf_counter()
    x, labels = binary_inputs(config.n_bits, device=device)  # (n, n_bits), (n,)
    model = SZTNet("tanh", 0.0, widths=config.widths, dtype=torch.float64, device=device,
                   init_generator=torch.Generator().manual_seed(config.seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    epochs = config.record_epochs()
    to_record = set(epochs)

    records = [_measure(model, x, labels, config.bin_sizes)]  # epoch 0
    for epoch in progress_iter(range(1, config.epochs + 1), progress, desc="training", leave=False):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        if epoch in to_record:
            records.append(_measure(model, x, labels, config.bin_sizes))

    h, min_dist, distinct, loss, accuracy, reps = zip(*records)
    n_layers = len(config.widths) - 2
    return BinningResults(
        config=config,
        epochs=np.asarray(epochs, dtype=np.int64),
        bin_sizes=np.asarray(config.bin_sizes, dtype=float),
        h_bin=np.array(h),  # (E, K, L)
        min_distance=np.array(min_dist),  # (E, L)
        n_distinct=np.array(distinct).astype(int),  # (E, L)
        loss=np.array(loss),
        accuracy=np.array(accuracy),
        labels=labels.cpu().numpy(),
        representations=tuple(np.stack([r[k] for r in reps]) for k in range(n_layers)),  # each (E, n, d_ℓ)
        provenance=Provenance.now(device, time.perf_counter() - start),
    )


EXPERIMENT = Experiment("binning", "Section 1: binned entropy H(Bin(T)) of a deterministic tanh network",
                        BinningConfig, BinningResults, run_binning)


def binning_results(scale: str | None = None, *, results_dir=None, recompute: bool = False, device=None,
                    progress: bool = True) -> BinningResults:
    """The chapter's :class:`BinningResults` at ``scale`` (default ``INFOFLOW_SCALE``).

    Trains the network with :func:`run_binning` (about 10 s at the quick scale), unless
    ``<results_dir>/binning/`` holds a run made with the code's configuration (see
    :func:`~infoflow_core.results.load_or_run`, which also explains ``recompute``).
    """
    return load_or_run(EXPERIMENT, BinningConfig.for_scale(scale), results_dir=results_dir, recompute=recompute,
                       device=device, progress=progress)
