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
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_positive_int
from ..binning import binned_entropy
from ..scales import SCALES

__all__ = [
    "BinningConfig",
    "BinningResults",
    "binning_config",
    "binary_inputs",
    "record_epochs",
    "run_binning",
]

#: Bin sizes (in units of a tanh output, range (−1, 1)) shown in the chapter:
#: 2 is a single bin (H = 0); the smallest separate every pair of inputs.
DEFAULT_BIN_SIZES = (2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 3e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10, 1e-12)


@dataclass(frozen=True)
class BinningConfig:
    """Everything that defines a run of :func:`run_binning`.

    Attributes
    ----------
    scale : str
        ``quick``, ``book`` or ``full`` (only ``epochs`` and ``n_records`` differ).
    n_bits : int
        Inputs are all ``2**n_bits`` vectors of ``{−1, +1}^n_bits`` (needs ≥ 6).
    widths : tuple of int
        Layer widths, input first, 2 output logits last; hidden layers are tanh.
    epochs : int
        Full-batch training epochs.
    lr : float
        Adam's learning rate (the authors' SZT runs: Adam, 4·10⁻⁴).
    n_records : int
        About how many epochs (log-spaced, epoch 0 included) are measured.
    bin_sizes : tuple of float
        Bin widths for ``H(Bin(T_ℓ))``, on the tanh range (−1, 1).
    seed : int
        Seed of the initial weights (the data are fixed).
    """

    scale: str = "book"
    n_bits: int = 9
    widths: tuple = (9, 8, 6, 5, 4, 3, 2)
    epochs: int = 4000
    lr: float = 0.01
    n_records: int = 40
    bin_sizes: tuple = DEFAULT_BIN_SIZES
    seed: int = 0

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        check_positive_int(self.n_bits, "n_bits", minimum=6)
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.n_records, "n_records", minimum=2)
        if len(self.widths) < 3 or self.widths[0] != self.n_bits or self.widths[-1] != 2:
            raise ValueError(f"widths must run from n_bits={self.n_bits} to 2 logits through ≥ 1 hidden layer, "
                             f"got {self.widths}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not self.bin_sizes or min(self.bin_sizes) <= 0:
            raise ValueError(f"bin_sizes must be positive numbers, got {self.bin_sizes}")


def binning_config(scale: str, **overrides) -> BinningConfig:
    """The configuration used at ``scale`` (``quick``: ≤ 10 s on one CPU core).

    >>> binning_config("quick").epochs
    1500
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    sizes = {
        "quick": dict(epochs=1500, n_records=25),
        "book": dict(epochs=4000, n_records=40),
        "full": dict(epochs=20000, n_records=80),
    }[scale]
    sizes.update(overrides)
    return BinningConfig(scale=scale, **sizes)


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


def record_epochs(epochs: int, n_records: int) -> np.ndarray:
    """About ``n_records`` log-spaced distinct epochs in ``[0, epochs]``, 0 and ``epochs`` included.

    >>> record_epochs(100, 5).tolist()
    [0, 1, 5, 22, 100]
    """
    epochs = check_positive_int(epochs, "epochs")
    n_records = check_positive_int(n_records, "n_records", minimum=2)
    grid = np.unique(np.round(np.logspace(0, math.log10(epochs), n_records - 1)).astype(int))
    return np.concatenate([[0], grid])


@dataclass
class BinningResults:
    """What :func:`run_binning` measured.

    Attributes
    ----------
    config : BinningConfig
    epochs : ndarray of int, shape (n_rec,)
        The measured epochs (0 = before training).
    bin_sizes : ndarray, shape (n_bins,)
    layer_widths : tuple of int
        Widths of the hidden layers T_1 … T_L.
    h_binned : ndarray, shape (n_rec, n_layers, n_bins)
        ``H(Bin(T_ℓ)) = I(X; Bin(T_ℓ))`` in nats.
    h_x : float
        ``H(X) = ln n`` in nats: the true ``I(X; T_ℓ)`` of an injective map.
    min_distance : ndarray, shape (n_rec, n_layers)
        Smallest Euclidean distance between the representations of two distinct inputs.
    n_distinct : ndarray of int, shape (n_rec, n_layers)
        Number of distinct representation vectors (exact float64 equality): n for an
        injective map.
    loss, accuracy : ndarray, shape (n_rec,)
        Cross-entropy (nats) and accuracy on the n inputs at each measured epoch.
    representations : tuple of ndarray, one per layer, shape (n_rec, n, d_ℓ)
        The representations ``T_ℓ = f_ℓ(x)`` of all inputs at each measured epoch
        (row i is input i of :func:`binary_inputs`).
    labels : ndarray of int, shape (n,)
    wall_time_s : float
    """

    config: BinningConfig
    epochs: np.ndarray
    bin_sizes: np.ndarray
    layer_widths: tuple
    h_binned: np.ndarray
    h_x: float
    min_distance: np.ndarray
    n_distinct: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    representations: tuple = ()
    labels: np.ndarray | None = None
    wall_time_s: float = 0.0

    @property
    def n_inputs(self) -> int:
        return 2 ** self.config.n_bits

    def summary(self) -> dict:
        """Configuration and headline numbers (JSON-serialisable)."""
        return {
            "config": asdict(self.config),
            "wall_time_s": self.wall_time_s,
            "h_x": self.h_x,
            "final_accuracy": float(self.accuracy[-1]),
            "final_loss": float(self.loss[-1]),
            "injective_at_every_epoch": bool((self.n_distinct == self.n_inputs).all()),
        }


class _TanhNet(nn.Module):
    """The deterministic SZT-shaped network: tanh hidden layers, linear output.

    Initial weights and biases follow PyTorch's default for ``nn.Linear`` (uniform on
    ``±1/√fan_in``), drawn from ``generator`` (on the CPU, then moved).

    Shape: input ``(n, widths[0])``, output ``(n, widths[-1])`` logits.
    """

    def __init__(self, widths, generator: torch.Generator, *, dtype=torch.float64, device=None):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        with torch.no_grad():
            for lin in self.layers:
                bound = 1.0 / lin.in_features ** 0.5
                for p in (lin.weight, lin.bias):
                    u = torch.rand(p.shape, generator=generator, device=generator.device, dtype=torch.float64)
                    p.copy_((2 * u - 1) * bound)
        self.to(device=device, dtype=dtype)

    def hidden_values(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[T_1, …, T_L]``, each of shape ``(n, d_ℓ)``."""
        outs = []
        for lin in self.layers[:-1]:
            x = torch.tanh(lin(x))  # (n, d_ℓ)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for lin in self.layers[:-1]:
            x = torch.tanh(lin(x))  # (n, d_ℓ)
        return self.layers[-1](x)  # (n, 2)


def _measure(model: _TanhNet, x: torch.Tensor, labels: torch.Tensor, bin_sizes) -> tuple:
    """Binned entropies, injectivity and loss of ``model`` on all inputs."""
    with torch.no_grad():
        hidden = model.hidden_values(x)  # list of (n, d_ℓ)
        logits = model(x)  # (n, 2)
        loss = float(F.cross_entropy(logits, labels))
        accuracy = float((logits.argmax(1) == labels).double().mean())
        h = np.array([[binned_entropy(t, bin_size=b) for b in bin_sizes] for t in hidden])  # (n_layers, n_bins)
        min_dist = np.array([float(torch.pdist(t).min()) for t in hidden])  # (n_layers,)
        distinct = np.array([torch.unique(t, dim=0).shape[0] for t in hidden])  # (n_layers,)
    reps = [t.cpu().numpy() for t in hidden]  # list of (n, d_ℓ)
    return h, min_dist, distinct, loss, accuracy, reps


def run_binning(config: BinningConfig | None = None, *, generator: torch.Generator | None = None,
                progress: bool = True, device=None) -> BinningResults:
    """Train the deterministic tanh network and measure ``H(Bin(T_ℓ))`` along the way.

    Full-batch Adam on all ``2**n_bits`` inputs with softmax cross-entropy, in
    float64 (so that saturated tanh units stay distinguishable and injectivity is
    not lost to rounding).

    Parameters
    ----------
    config : BinningConfig, optional
        Defaults to ``binning_config("book")``.
    generator : torch.Generator, optional
        Source of the initial weights (any device; they are drawn there and moved);
        defaults to a CPU generator seeded with ``config.seed``.
    progress : bool
        Show a ``tqdm`` progress bar over epochs.
    device : torch.device or str, optional
        Where to train (default CPU).

    Returns
    -------
    BinningResults
    """
    from tqdm.auto import tqdm

    config = binning_config("book") if config is None else config
    if not isinstance(config, BinningConfig):
        raise ValueError(f"config must be a BinningConfig, got {type(config).__name__}")
    device = torch.device(device or "cpu")
    if generator is None:
        generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()

    x, labels = binary_inputs(config.n_bits, device=device)  # (n, n_bits), (n,)
    model = _TanhNet(config.widths, generator, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    epochs = record_epochs(config.epochs, config.n_records)
    records = []
    to_record = set(epochs.tolist())

    if 0 in to_record:
        records.append(_measure(model, x, labels, config.bin_sizes))
    for epoch in tqdm(range(1, config.epochs + 1), desc="training", disable=not progress, leave=False):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        if epoch in to_record:
            records.append(_measure(model, x, labels, config.bin_sizes))

    h, min_dist, distinct, loss, accuracy, reps = zip(*records)
    h, min_dist, distinct, loss, accuracy = (np.array(v) for v in (h, min_dist, distinct, loss, accuracy))
    representations = tuple(np.stack([r[k] for r in reps]) for k in range(len(reps[0])))  # each (n_rec, n, d_ℓ)
    return BinningResults(
        config=config,
        epochs=epochs,
        bin_sizes=np.asarray(config.bin_sizes, dtype=float),
        layer_widths=tuple(config.widths[1:-1]),
        h_binned=h,  # (n_rec, n_layers, n_bins)
        h_x=math.log(2 ** config.n_bits),
        min_distance=min_dist,  # (n_rec, n_layers)
        n_distinct=distinct.astype(int),  # (n_rec, n_layers)
        loss=loss,
        accuracy=accuracy,
        representations=representations,
        labels=labels.cpu().numpy(),
        wall_time_s=time.perf_counter() - start,
    )
