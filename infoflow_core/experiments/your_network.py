"""Information flow in a network that is not in the paper: a small MLP on two moons
(the book's chapter ``book/07_your_network.ipynb``, "Your own network").

The recipe any reader can apply to their own model, in three steps:

1. write the network as usual, with its activations as modules
   (``nn.Sequential(nn.Linear(2, 12), nn.Tanh(), ...)``);
2. :func:`~infoflow_core.noise.add_noise` makes a copy with Gaussian noise of
   standard deviation β after every activation, and that copy is trained;
3. :func:`~infoflow_core.network.network_information` measures, per noisy layer,
   I(X; T_ℓ), I(T_ℓ; Y) and H(Bin(T_ℓ)) with standard errors.

The data are generated, not downloaded: ``n_inputs`` points of the classic "two
moons" (two interleaved half circles, one per class, with Gaussian jitter), drawn
from a ``torch.Generator``. X is uniform over these points (the training set is the
measured set), so I(X; T_ℓ) ≤ H(X) = ln n and I(T_ℓ; Y) ≤ H(Y) ≈ ln 2.

For every β of the configuration a noisy copy of the *same* initial network is
trained (full-batch Adam, noise on) and measured at log-spaced epochs; the plain
(deterministic) network is trained alongside from the same weights, for its accuracy
only (its I(X; T_ℓ) is the constant ln n, see chapter 01).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_positive, check_positive_int
from ..network import network_information
from ..noise import add_noise
from ..results import ExperimentResults, Provenance, load_or_run
from ._common import Experiment, ExperimentConfig, log_epochs, progress_iter, resolve_device, single_thread

__all__ = [
    "ACTIVATIONS",
    "YourNetworkConfig",
    "YourNetworkResults",
    "two_moons",
    "make_mlp",
    "run_your_network",
    "your_network_results",
    "EXPERIMENT",
]

#: Activation name -> (module type, value range the bins of H(Bin(T)) cover).
#: ReLU is unbounded above: values past the range fall in the last bin.
ACTIVATIONS = {"tanh": (nn.Tanh, (-1.0, 1.0)), "relu": (nn.ReLU, (0.0, 2.0))}


@dataclass(frozen=True, kw_only=True)
class YourNetworkConfig(ExperimentConfig):
    """Everything that defines a run of :func:`run_your_network`.

    Build it with ``YourNetworkConfig.for_scale(scale, **overrides)``. The ``quick``
    scale takes seconds on one core; ``book`` a few minutes on a laptop CPU.

    Attributes
    ----------
    n_inputs : int
        Points of the two-moons set (half per class, ≥ 4).
    data_noise : float
        Standard deviation of the Gaussian jitter of the points (≥ 0).
    widths : tuple of int
        Layer widths, 2 inputs first, 2 output logits last, ≥ 1 hidden layer.
    activation : {"tanh", "relu"}
        The hidden layers' activation module.
    betas : tuple of float
        Noise levels β > 0: one noisy network trained and measured per β.
    epochs : int
        Full-batch training epochs.
    lr : float
        Adam's learning rate.
    n_records : int
        About how many epochs are measured: epoch 0 and the distinct epochs of
        ``log_epochs(epochs, n_records − 1)``.
    n_x : int
        Noise realizations per input for the estimators.
    n_mc : int
        Monte Carlo samples of each entropy in the estimators.
    bin_size : float
        Bin size of H(Bin(T_ℓ)), the same for every β (0.5: four bins across a tanh
        unit's range (−1, 1), or across (0, 2) for ReLU).
    seed : int
        Root of the data, initial weights, training noise and estimation generators.

    Examples
    --------
    >>> YourNetworkConfig.for_scale("quick").n_inputs, YourNetworkConfig.for_scale("book", betas=[0.1]).betas
    (200, (0.1,))
    """

    PRESETS: ClassVar[dict] = {
        "quick": dict(n_inputs=200, epochs=300, n_records=5, n_x=10, n_mc=800),
        "book": {},
        "full": dict(n_inputs=1000, epochs=5000, n_records=20, n_x=40, n_mc=5000, betas=(0.02, 0.05, 0.1, 0.2, 0.4)),
    }

    # the data and the network
    n_inputs: int = 500
    data_noise: float = 0.1
    widths: tuple = (2, 12, 8, 4, 2)
    activation: str = "tanh"
    # training, one noisy copy per β
    betas: tuple = (0.05, 0.1, 0.2)
    epochs: int = 2000
    lr: float = 0.01
    # measuring at n_records log-spaced epochs
    n_records: int = 10
    bin_size: float = 0.5
    n_x: int = 20
    n_mc: int = 2000

    def validate(self) -> None:
        check_positive_int(self.n_inputs, "n_inputs", minimum=4)
        if not (isinstance(self.data_noise, (int, float)) and self.data_noise >= 0):
            raise ValueError(f"data_noise must be a number ≥ 0, got {self.data_noise!r}")
        if (len(self.widths) < 3 or self.widths[0] != 2 or self.widths[-1] != 2
                or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in self.widths)):
            raise ValueError(f"widths must run from 2 inputs to 2 logits through ≥ 1 hidden layer of positive "
                             f"integer width, got {self.widths}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if not self.betas or any(isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0
                                 for b in self.betas):
            raise ValueError(f"betas must be a non-empty tuple of numbers > 0, got {self.betas}")
        check_positive_int(self.epochs, "epochs")
        check_positive(self.lr, "lr")
        check_positive_int(self.n_records, "n_records", minimum=2)
        check_positive_int(self.n_x, "n_x")
        check_positive_int(self.n_mc, "n_mc", minimum=2)
        check_positive(self.bin_size, "bin_size")

    def record_epochs(self) -> tuple[int, ...]:
        """The measured epochs: ``log_epochs(epochs, n_records − 1, include_zero=True)``.

        >>> YourNetworkConfig.for_scale("quick", epochs=100, n_records=6).record_epochs()
        (0, 1, 3, 10, 32, 100)
        """
        return log_epochs(self.epochs, self.n_records - 1, include_zero=True)


def two_moons(n: int, *, noise: float = 0.1, generator: torch.Generator | None = None,
              dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of two interleaved half circles, alternately of class 0 and 1.

    Class 0 lies on ``(cos θ, sin θ)``, class 1 on ``(1 − cos θ, ½ − sin θ)``, with θ
    uniform on [0, π] and Gaussian jitter of standard deviation ``noise`` added to
    both coordinates; everything is drawn from ``generator``.

    Returns
    -------
    x : Tensor, shape (n, 2)
    labels : Tensor of int64, shape (n,)
        ``arange(n) % 2``: the classes are balanced (to one point).

    Examples
    --------
    >>> x, y = two_moons(10, generator=torch.Generator().manual_seed(0))
    >>> tuple(x.shape), y.tolist()[:4], int(y.sum())
    ((10, 2), [0, 1, 0, 1], 5)
    """
    n = check_positive_int(n, "n")
    labels = torch.arange(n) % 2  # (n,)
    theta = math.pi * torch.rand(n, generator=generator, dtype=dtype)  # (n,)
    c, s = torch.cos(theta), torch.sin(theta)
    first = labels == 0
    x = torch.stack([torch.where(first, c, 1 - c), torch.where(first, s, 0.5 - s)], dim=1)  # (n, 2)
    x = x + noise * torch.randn(x.shape, generator=generator, dtype=dtype)
    return x, labels


def make_mlp(widths, activation: str = "tanh", *, seed: int = 0, dtype=torch.float32) -> nn.Sequential:
    """``nn.Sequential(Linear, Act, Linear, Act, …, Linear)`` with PyTorch's default
    initialization drawn under ``torch.manual_seed(seed)`` (the global generator's
    state is restored afterwards).

    >>> make_mlp((2, 3, 2))
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): Tanh()
      (2): Linear(in_features=3, out_features=2, bias=True)
    )
    """
    act = ACTIVATIONS[activation][0]
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b, dtype=dtype))
            if k < len(widths) - 2:
                layers.append(act())
    return nn.Sequential(*layers)


@dataclass(kw_only=True)
class YourNetworkResults(ExperimentResults):
    """What :func:`run_your_network` measured. ``B`` noise levels, ``E`` epochs, ``L``
    hidden layers; every information quantity in nats (divide by ln 2 for bits).

    Attributes
    ----------
    config : YourNetworkConfig
    betas : ndarray, shape (B,)
    epochs : ndarray of int, shape (E,)
        The measured epochs (0 = before training).
    i_xt, i_xt_err : ndarray, shape (B, E, L)
        I(X; T_ℓ) and its standard error.
    i_ty, i_ty_err : ndarray, shape (B, E, L)
        I(T_ℓ; Y) and its standard error.
    h_bin : ndarray, shape (B, E, L)
        H(Bin(T_ℓ)) of one noisy realization per input, bin size ``config.bin_size``.
    loss, accuracy : ndarray, shape (B, E)
        Cross-entropy and accuracy of the noisy network (noise off, eval mode).
    plain_loss, plain_accuracy : ndarray, shape (E,)
        The same for the deterministic network trained from the same weights.
    x : ndarray, shape (n, 2)
    labels : ndarray of int, shape (n,)
    provenance : Provenance
    """

    experiment: ClassVar[str] = "your_network"
    config_type: ClassVar[type] = YourNetworkConfig
    ARRAYS: ClassVar[tuple[str, ...]] = ("betas", "epochs", "i_xt", "i_xt_err", "i_ty", "i_ty_err", "h_bin",
                                         "loss", "accuracy", "plain_loss", "plain_accuracy", "x", "labels")

    betas: np.ndarray
    epochs: np.ndarray
    i_xt: np.ndarray
    i_xt_err: np.ndarray
    i_ty: np.ndarray
    i_ty_err: np.ndarray
    h_bin: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    plain_loss: np.ndarray
    plain_accuracy: np.ndarray
    x: np.ndarray
    labels: np.ndarray

    @property
    def n_inputs(self) -> int:
        return int(self.config.n_inputs)

    @property
    def h_x(self) -> float:
        """H(X) = ln n in nats (X uniform over the n points)."""
        return math.log(self.n_inputs)

    @property
    def h_y(self) -> float:
        """H(Y) in nats, from the class frequencies."""
        p = np.bincount(np.asarray(self.labels)) / len(self.labels)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    @property
    def layer_widths(self) -> tuple[int, ...]:
        """Widths of the hidden layers T_1 … T_L."""
        return tuple(self.config.widths[1:-1])

    def dpi_holds(self, k: float = 3.0) -> np.ndarray:
        """Where I(T_ℓ; Y) ≤ min(I(X; T_ℓ), H(Y)) up to ``k`` standard errors, shape (B, E, L)."""
        slack = k * np.hypot(self.i_ty_err, self.i_xt_err)
        return (self.i_ty <= self.i_xt + slack) & (self.i_ty <= self.h_y + k * self.i_ty_err)

    def summary(self) -> dict:
        """Headline numbers (JSON-serialisable)."""
        return {
            "h_x": self.h_x,
            "h_y": self.h_y,
            "final_accuracy": {f"{b:g}": float(a) for b, a in zip(self.betas, self.accuracy[:, -1])},
            "plain_final_accuracy": float(self.plain_accuracy[-1]),
            "final_i_xt": self.i_xt[:, -1].tolist(),
            "final_i_ty": self.i_ty[:, -1].tolist(),
            "dpi_holds_within_3_stderr": bool(self.dpi_holds(3.0).all()),
        }


def _evaluate(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Cross-entropy and accuracy with the noise off (eval mode), training mode restored."""
    was = model.training
    model.eval()
    with torch.no_grad():
        logits = model(x)
        out = float(F.cross_entropy(logits, labels)), float((logits.argmax(1) == labels).double().mean())
    model.train(was)
    return out


def run_your_network(config: YourNetworkConfig, *, device=None, progress: bool = True) -> YourNetworkResults:
    """Train the plain MLP and one noisy copy per β on two moons, measuring the noisy
    copies with :func:`~infoflow_core.network.network_information` along the way.

    Everything is float32. Training runs on one thread on the CPU (the networks are
    tiny), which also makes the trained weights independent of the machine's thread
    count; the estimators then use the caller's threads.

    Parameters
    ----------
    config : YourNetworkConfig
    device : torch.device or str, optional
        Where to compute (:func:`~infoflow_core.experiments.resolve_device`).
    progress : bool
        Show a progress bar over the noise levels and epochs.

    Returns
    -------
    YourNetworkResults

    Examples
    --------
    >>> cfg = YourNetworkConfig.for_scale("quick", n_inputs=20, widths=(2, 3, 2), betas=(0.2,), epochs=3,
    ...                                   n_records=2, n_x=2, n_mc=50)
    >>> r = run_your_network(cfg, device="cpu", progress=False)
    >>> r.epochs.tolist(), r.i_xt.shape, bool((r.i_ty <= np.log(2) + 4 * r.i_ty_err).all())
    ([0, 3], (1, 2, 1), True)
    """
    if not isinstance(config, YourNetworkConfig):
        raise ValueError(f"config must be a YourNetworkConfig, got {type(config).__name__}")
    device = resolve_device(device)
    start = time.perf_counter()
    x, labels = two_moons(config.n_inputs, noise=config.data_noise,
                          generator=torch.Generator().manual_seed(config.seed))
    x, labels = x.to(device), labels.to(device)
    epochs = config.record_epochs()
    plain = make_mlp(config.widths, config.activation, seed=config.seed).to(device)
    bar = progress_iter(range(len(config.betas) + 1), progress, desc="your_network (networks)")
    rows = []
    for b in bar:
        if b == 0:  # the plain network, for its accuracy only
            plain_curve, _ = _train(plain, x, labels, config, epochs, None, device, progress)
            continue
        beta = float(config.betas[b - 1])
        seed = config.seed + 1000 * b
        noisy = add_noise(make_mlp(config.widths, config.activation, seed=config.seed), beta,
                          generator=torch.Generator(device).manual_seed(seed)).to(device)
        rows.append(_train(noisy, x, labels, config, epochs, beta, device, progress,
                           torch.Generator(device).manual_seed(seed + 1)))
    curves, info = zip(*rows)  # per β: (E, 2) loss/accuracy and (E, 5, L) information
    curves, info = np.array(curves), np.array(info)  # (B, E, 2), (B, E, 5, L)
    plain_curve = np.asarray(plain_curve)  # (E, 2)
    return YourNetworkResults(
        config=config,
        betas=np.asarray(config.betas, dtype=float),
        epochs=np.asarray(epochs, dtype=np.int64),
        i_xt=info[:, :, 0], i_xt_err=info[:, :, 1], i_ty=info[:, :, 2], i_ty_err=info[:, :, 3],
        h_bin=info[:, :, 4],
        loss=curves[:, :, 0], accuracy=curves[:, :, 1],
        plain_loss=plain_curve[:, 0], plain_accuracy=plain_curve[:, 1],
        x=x.cpu().numpy(), labels=labels.cpu().numpy(),
        provenance=Provenance.now(device, time.perf_counter() - start),
    )


def _measure(model, x, labels, config, beta, generator) -> np.ndarray:
    """(5, L): I(X;T), its error, I(T;Y), its error, H(Bin(T)) per noisy layer."""
    info = network_information(model, x, labels, n_x=config.n_x, n_mc=config.n_mc,
                               bin_size=config.bin_size, value_range=ACTIVATIONS[config.activation][1],
                               generator=generator, progress=False)
    return np.array([[r.i_xt.value, r.i_xt.stderr, r.i_ty.value, r.i_ty.stderr, r.h_bin] for r in info]).T


def _train(model, x, labels, config, epochs, beta, device, progress, generator=None):
    """Full-batch Adam; at each of ``epochs``: loss and accuracy (and, when ``beta``
    is given, the measured information). Returns ``(curve (E, 2), info (E, 5, L))``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    curve, info = [], []

    def record():
        curve.append(_evaluate(model, x, labels))
        if beta is not None:
            info.append(_measure(model, x, labels, config, beta, generator))

    model.train()
    record()  # epoch 0
    desc = "plain network" if beta is None else f"β = {beta:g}"
    done = 0
    for stop in progress_iter(epochs[1:], progress, desc=desc, leave=False):
        with single_thread(device.type == "cpu"):  # training on one thread, measuring on the caller's
            for _ in range(stop - done):
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), labels)
                loss.backward()
                optimizer.step()
        done = stop
        record()
    return curve, info


EXPERIMENT = Experiment("your_network", "Beyond the paper: add_noise and network_information on an MLP on two moons",
                        YourNetworkConfig, YourNetworkResults, run_your_network)


def your_network_results(scale: str | None = None, *, results_dir=None, recompute: bool = False, device=None,
                         progress: bool = True) -> YourNetworkResults:
    """The chapter's :class:`YourNetworkResults` at ``scale`` (default ``INFOFLOW_SCALE``).

    Runs :func:`run_your_network` (seconds at the quick scale), unless
    ``<results_dir>/your_network/`` holds a run made with the code's configuration
    (see :func:`~infoflow_core.results.load_or_run`, which also explains ``recompute``).
    """
    return load_or_run(EXPERIMENT, YourNetworkConfig.for_scale(scale), results_dir=results_dir,
                       recompute=recompute, device=device, progress=progress)
