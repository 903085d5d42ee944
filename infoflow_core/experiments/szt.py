"""Section 5.1 of the paper: the noisy SZT network (Figs. 1, 5 and 6).

One function per experiment, each returning a results object that a plotting
function of :mod:`infoflow_core.plots.szt` draws:

* :func:`run_noisy` — train a noisy 12-10-7-5-4-3-2 network and, at log-spaced
  epochs, estimate I(X; T_ℓ) for every hidden layer with the SP estimator
  (equation (1)), H(Bin(T_ℓ)) with bins of 10β, within/between-class distance
  histograms and layer-5 snapshots (Fig. 5(a, b, c), the ReLU network, Fig. 6);
* :func:`run_deterministic` — the deterministic network (β = 0), H(Bin(T_ℓ)) for
  several bin sizes (Fig. 1);
* :func:`run_dpi_realizations` — the data-processing inequality as a check: I per
  layer for the trained network against the number of noise realizations per input.

:func:`run_szt` runs them all at a scale (quick, book, full; one code path), and
``python -m infoflow_core szt --scale S --out DIR`` stores the results.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..binning import binned_entropy
from ..clustering import pairwise_distance_histograms
from ._progress import progress_bar, progress_iter
from ..data.szt import SZTData, szt_data
from ..models.szt import SZT_WIDTHS, SZTNet, orthonormalize_
from ..mutual_information import sp_mutual_information
from ..noise import sample_representations
from ..scales import SCALES

__all__ = [
    "SZTConfig", "SZTResult", "BinningResult", "DPIResult", "SZTRun",
    "SCALE_SETTINGS", "EXPERIMENTS", "measurement_epochs", "experiment_config",
    "train_szt", "estimate_information", "run_noisy", "run_deterministic",
    "run_dpi_realizations", "run_szt", "save_szt_run", "szt_run_from_stored",
    "distance_summary", "compression_summary", "overfitting_onset", "hbin_correlations", "dpi_check", "main",
]

#: Sizes per scale. ``n_x``: noise realizations per input (R); ``n_mc``: Monte Carlo
#: samples for h(T_ℓ); ``n_mc_cond``: for each h(T_ℓ | X = x); ``n_points``: points of
#: the log-spaced epoch grid (duplicates removed: 100 points over 10⁴ epochs give the
#: paper's 84 epochs); ``dpi_n_x``: realizations tried in the DPI check.
SCALE_SETTINGS = {
    "quick": dict(n_epochs=120, n_points=8, n_x=3, n_mc=512, n_mc_cond=16, n_snapshots=3,
                  dpi_n_x=(1, 2, 4, 8), hist_bins=40, det_points=12),
    "book": dict(n_epochs=4000, n_points=30, n_x=10, n_mc=4096, n_mc_cond=32, n_snapshots=8,
                 dpi_n_x=(1, 2, 5, 10, 20, 50, 100), hist_bins=50, det_points=40),
    "full": dict(n_epochs=10_000, n_points=100, n_x=1000, n_mc=16_384, n_mc_cond=128, n_snapshots=10,
                 dpi_n_x=(1, 3, 10, 30, 100, 300, 1000), hist_bins=60, det_points=100),
}

#: The networks of Section 5.1: activation, β, orthonormality strength α.
EXPERIMENTS = {
    "tanh": dict(activation="tanh", beta=0.005, alpha=0.0, histograms=True),        # Fig. 5(a)
    "orthonormal": dict(activation="tanh", beta=0.005, alpha=1e-3, histograms=True),  # Fig. 5(b)
    "linear": dict(activation="linear", beta=0.01, alpha=0.0, histograms=False),     # Fig. 5(c)
    "relu": dict(activation="relu", beta=0.005, alpha=0.0, histograms=False),        # ReLU, in the text
}

#: Bin sizes of Fig. 1 (deterministic network, tanh units in [−1, 1]).
DETERMINISTIC_BIN_SIZES = (0.5, 0.1, 0.01, 0.001, 0.0001)


def measurement_epochs(n_epochs: int, n_points: int) -> tuple[int, ...]:
    """The paper's grid ``unique(round(logspace(0, log10(n_epochs − 1), n_points)))``.

    >>> len(measurement_epochs(10_000, 100)), measurement_epochs(10_000, 100)[-1]
    (84, 9999)
    """
    if n_epochs < 2 or n_points < 1:
        raise ValueError(f"n_epochs must be >= 2 and n_points >= 1, got {n_epochs}, {n_points}")
    grid = np.unique(np.round(np.logspace(0, math.log10(n_epochs - 1), n_points)).astype(int))
    return tuple(int(e) for e in grid)


@dataclass(frozen=True)
class SZTConfig:
    """Everything that defines one SZT run (the paper's settings by default).

    Attributes
    ----------
    name : str
        Experiment name (``"tanh"``, ``"orthonormal"``, ``"linear"``, ``"relu"``, ``"deterministic"``).
    activation : {"tanh", "relu", "linear"}
    beta : float
        Noise standard deviation β (0: deterministic network).
    alpha : float
        Orthonormality (Parseval) step size α, 0 for none. Paper: open; we use 10⁻³.
    n_epochs, batch_size, lr : training (Adam, full passes over the 3277 training inputs).
    epochs : tuple of int
        Epochs after which everything is measured.
    n_x, n_mc, n_mc_cond : SP estimator sizes (see :data:`SCALE_SETTINGS`).
    bin_factor : float
        H(Bin(T_ℓ)) uses bins of ``bin_factor · β`` (paper: 10).
    bin_sizes : tuple of float
        Bin sizes for the deterministic network (Fig. 1).
    histograms : bool
        Whether to record pairwise-distance histograms (Fig. 6) at the snapshot epochs.
    hist_bins : int
        Bins of those histograms, equally spaced in log scale over ``[hist_min, 2√d_ℓ]``
        (``2√d_ℓ``: the diameter of the tanh cube); shorter or longer distances count in
        the first or last bin.
    hist_min : float
        Lower edge of the histograms (default 10⁻³, a fifth of β = 0.005).
    snapshot_epochs : tuple of int
        Epochs at which the last hidden layer (d = 3) is stored for the scatter plots.
    seed : int
        Seed of the data split, the initial weights, the batches and all noise.
    """

    name: str = "tanh"
    activation: str = "tanh"
    beta: float = 0.005
    alpha: float = 0.0
    n_epochs: int = 10_000
    batch_size: int = 256
    lr: float = 4e-4
    epochs: tuple = measurement_epochs(10_000, 100)
    n_x: int = 1000
    n_mc: int = 16_384
    n_mc_cond: int = 128
    bin_factor: float = 10.0
    bin_sizes: tuple = ()
    histograms: bool = False
    hist_bins: int = 60
    hist_min: float = 1e-3
    snapshot_epochs: tuple = ()
    seed: int = 0


def _snapshot_subset(epochs, k: int) -> tuple[int, ...]:
    """About ``k`` of ``epochs``, evenly spread in log scale, first and last included."""
    epochs = list(epochs)
    if k >= len(epochs):
        return tuple(epochs)
    pos = np.unique(np.round(np.linspace(0, len(epochs) - 1, k)).astype(int))
    return tuple(epochs[i] for i in pos)


def experiment_config(name: str, scale: str, *, seed: int = 0) -> SZTConfig:
    """The :class:`SZTConfig` of experiment ``name`` (a key of :data:`EXPERIMENTS` or
    ``"deterministic"``) at ``scale``."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    s = SCALE_SETTINGS[scale]
    epochs = measurement_epochs(s["n_epochs"], s["n_points"])
    common = dict(n_epochs=s["n_epochs"], epochs=epochs, n_x=s["n_x"], n_mc=s["n_mc"],
                  n_mc_cond=s["n_mc_cond"], hist_bins=s["hist_bins"], seed=seed,
                  snapshot_epochs=_snapshot_subset(epochs, s["n_snapshots"]))
    if name == "deterministic":
        return SZTConfig(name=name, activation="tanh", beta=0.0, alpha=0.0,
                         bin_sizes=DETERMINISTIC_BIN_SIZES,
                         **{**common, "epochs": measurement_epochs(s["n_epochs"], s["det_points"])})
    if name not in EXPERIMENTS:
        raise ValueError(f"name must be one of {sorted(EXPERIMENTS) + ['deterministic']}, got {name!r}")
    return SZTConfig(name=name, **EXPERIMENTS[name], **common)


# --------------------------------------------------------------------------- results


@dataclass
class SZTResult:
    """One noisy network trained and measured (Fig. 5 and Fig. 6). ``L`` hidden layers,
    ``E`` measured epochs; all entropies in nats.

    Attributes
    ----------
    config : dict
        The :class:`SZTConfig` as a dict.
    epochs : ndarray, shape (E,)
    mi, mi_stderr : ndarray, shape (E, L)
        SP estimate of I(X; T_ℓ) (equation (1)) and its Monte Carlo standard error.
    h_t, h_t_given_x : ndarray, shape (E, L)
        The two terms of equation (1).
    h_bin : ndarray, shape (E, L)
        H(Bin(T_ℓ)) of one noisy realization per input, bins of ``bin_factor·β``.
    loss_epochs : ndarray, shape (K,)
        Every epoch 1…n_epochs.
    train_loss, test_loss, train_acc, test_acc : ndarray, shape (K,)
        Of the noiseless network (eval mode); cross-entropy in nats.
    hist_edges : ndarray, shape (L, B + 1)
    hist_within, hist_between : ndarray, shape (S, L, B)
        Counts of pairwise distances between T_ℓ of same- and different-label inputs
        at the ``snapshot_epochs`` (empty when the config has ``histograms=False``).
    snapshot_epochs : ndarray, shape (S,)
    snapshots : ndarray, shape (S, 4096, d_L)
        One noisy realization of the last hidden layer for every input.
    labels : ndarray, shape (4096,)
    final_state : dict of str to ndarray
        The trained weights (to rerun estimates, e.g. :func:`run_dpi_realizations`).
    wall_time_s : float
    """

    config: dict
    epochs: np.ndarray
    mi: np.ndarray
    mi_stderr: np.ndarray
    h_t: np.ndarray
    h_t_given_x: np.ndarray
    h_bin: np.ndarray
    loss_epochs: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    hist_edges: np.ndarray
    hist_within: np.ndarray
    hist_between: np.ndarray
    snapshot_epochs: np.ndarray
    snapshots: np.ndarray
    labels: np.ndarray
    final_state: dict = field(default_factory=dict)
    wall_time_s: float = 0.0

    @property
    def name(self) -> str:
        return self.config["name"]

    @property
    def n_layers(self) -> int:
        return self.mi.shape[1]


@dataclass
class BinningResult:
    """The deterministic network (β = 0), Fig. 1: H(Bin(T_ℓ)) = I(X; Bin(T_ℓ)).

    Attributes
    ----------
    config : dict
    epochs : ndarray, shape (E,)
    bin_sizes : ndarray, shape (K,)
    h_bin : ndarray, shape (E, K, L)
        In nats; at most ln 4096 ≈ 8.318.
    loss_epochs, train_loss, test_loss, train_acc, test_acc : ndarray, shape (n_epochs,)
    wall_time_s : float
    """

    config: dict
    epochs: np.ndarray
    bin_sizes: np.ndarray
    h_bin: np.ndarray
    loss_epochs: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    wall_time_s: float = 0.0


@dataclass
class DPIResult:
    """I(X; T_ℓ) of one trained network against the realizations per input ``n_x``.

    Attributes
    ----------
    experiment : str
        Whose final weights were used.
    epoch : int
    beta : float
    n_x : ndarray, shape (M,)
    mi, mi_stderr, h_t, h_t_given_x : ndarray, shape (M, L)
    """

    experiment: str
    epoch: int
    beta: float
    n_x: np.ndarray
    mi: np.ndarray
    mi_stderr: np.ndarray
    h_t: np.ndarray
    h_t_given_x: np.ndarray


@dataclass
class SZTRun:
    """All SZT experiments at one scale (what the CLI stores).

    Attributes
    ----------
    scale : str
    results : dict of str to SZTResult
    binning : BinningResult or None
    dpi : DPIResult or None
    device : str
    wall_time_s : float
    """

    scale: str
    results: dict
    binning: BinningResult | None = None
    dpi: DPIResult | None = None
    device: str = "cpu"
    wall_time_s: float = 0.0


# --------------------------------------------------------------------------- training


def _build_model(config: SZTConfig, device, noise_generator) -> SZTNet:
    init_gen = torch.Generator().manual_seed(config.seed + 1)
    model = SZTNet(config.activation, config.beta, generator=noise_generator, init_generator=init_gen)
    return model.to(device)


def train_szt(config: SZTConfig, data: SZTData, *, generator: torch.Generator, callback=None,
              progress: bool = False):
    """Train the SZT network of ``config`` and call ``callback(epoch, model)`` after
    each epoch listed in ``config.epochs``.

    Adam (lr ``config.lr``), mini-batches of ``config.batch_size`` reshuffled every
    epoch, softmax cross-entropy, noise on; after every step, the orthonormality
    update :func:`~infoflow_core.models.szt.orthonormalize_` when ``config.alpha > 0``.

    Parameters
    ----------
    config : SZTConfig
    data : SZTData
        On the device to train on.
    generator : torch.Generator
        On that device: batch order and all training noise.
    callback : callable, optional
    progress : bool
        A tqdm bar over epochs.

    Returns
    -------
    model : SZTNet
    losses : dict of str to ndarray, shape (n_epochs,)
        ``epoch``, ``train_loss``, ``test_loss``, ``train_acc``, ``test_acc`` of the
        noiseless network (eval mode) after every epoch.
    """
    device = data.x.device
    model = _build_model(config, device, generator)
    opt_kw = {"fused": True} if device.type in ("cpu", "cuda") else {}
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, **opt_kw)
    x_tr, y_tr = data.x[data.train_idx], data.y[data.train_idx]  # (n_tr, 12), (n_tr,)
    x_te, y_te = data.x[data.test_idx], data.y[data.test_idx]
    n_tr = x_tr.shape[0]
    record = torch.zeros(config.n_epochs, 4, dtype=torch.float64, device=device)  # per epoch: 4 numbers
    measure = set(config.epochs)
    for epoch in progress_iter(range(1, config.n_epochs + 1), progress, desc=config.name, leave=False):
        model.train()
        perm = torch.randperm(n_tr, generator=generator, device=device)  # (n_tr,)
        xs, ys = x_tr[perm], y_tr[perm]
        for start in range(0, n_tr, config.batch_size):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xs[start:start + config.batch_size]), ys[start:start + config.batch_size])
            loss.backward()
            opt.step()
            if config.alpha > 0:
                orthonormalize_(model, config.alpha)
        model.eval()
        with torch.no_grad():
            out_tr, out_te = model(x_tr), model(x_te)  # (n_tr, 2), (n_te, 2)
            record[epoch - 1, 0] = F.cross_entropy(out_tr, y_tr)
            record[epoch - 1, 1] = F.cross_entropy(out_te, y_te)
            record[epoch - 1, 2] = (out_tr.argmax(1) == y_tr).double().mean()
            record[epoch - 1, 3] = (out_te.argmax(1) == y_te).double().mean()
        if callback is not None and epoch in measure:
            callback(epoch, model)
    rec = record.cpu().numpy()
    losses = {"epoch": np.arange(1, config.n_epochs + 1), "train_loss": rec[:, 0], "test_loss": rec[:, 1],
              "train_acc": rec[:, 2], "test_acc": rec[:, 3]}
    return model, losses


# --------------------------------------------------------------------------- measuring


def estimate_information(samples: list, beta: float, *, n_mc: int, n_mc_cond: int,
                         generator: torch.Generator | None = None) -> list[dict]:
    """SP estimates of I(X; T_ℓ), equation (1), for every layer.

    h(T_ℓ) is a Gaussian-mixture entropy with all ``n_inputs · n_x`` centres and
    ``n_mc`` Monte Carlo samples; h(T_ℓ | X) averages ``n_inputs`` mixtures of ``n_x``
    centres, ``n_mc_cond`` samples each (both by
    :func:`~infoflow_core.mutual_information.sp_mutual_information`). The
    conditional term averages thousands of mixtures, so few samples each suffice;
    h(T_ℓ) carries nearly all of the error. Layer 1 is deterministic given X: its
    realizations coincide, one is kept and h(T_1 | X) = (d/2) ln(2πeβ²) exactly.

    Parameters
    ----------
    samples : list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
        From :func:`~infoflow_core.noise.sample_representations`.
    beta : float
    n_mc, n_mc_cond : int
    generator : torch.Generator, optional

    Returns
    -------
    list of dict
        Per layer: ``value``, ``stderr``, ``h_t``, ``h_t_given_x`` (nats).
    """
    out = []
    for layer, s in enumerate(samples):
        if layer == 0:
            s = s[:, :1]  # (n_inputs, 1, d_1): S_1 = f_1(x) is the same in every realization
        mi = sp_mutual_information(s, beta, n_mc=n_mc, n_mc_given_x=n_mc_cond, generator=generator)
        out.append({"value": mi.value, "stderr": mi.stderr, "h_t": mi.h_t, "h_t_given_x": mi.h_t_given_x})
    return out


def _bin_range(t: torch.Tensor, activation: str) -> tuple[float, float]:
    """Bins cover [−1, 1] for tanh units, else the range of the values."""
    if activation == "tanh":
        return (-1.0, 1.0)
    lo, hi = float(t.min()), float(t.max())
    return (lo, hi if hi > lo else lo + 1.0)


def _hist_edges(config: SZTConfig, widths) -> np.ndarray:
    """Log-spaced edges from ``hist_min`` to the tanh cube's diameter ``2√d_ℓ``, per layer."""
    return np.stack([np.logspace(math.log10(config.hist_min), math.log10(2.0 * math.sqrt(d)), config.hist_bins + 1)
                     for d in widths])  # (L, B+1)


def _device_of(device) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def run_noisy(config: SZTConfig, *, data: SZTData | None = None, device=None, progress: bool = True) -> SZTResult:
    """Train a noisy SZT network and measure it at ``config.epochs`` (Fig. 5, Fig. 6).

    At every measured epoch: ``n_x`` noisy passes of all 4096 inputs give S_ℓ for each
    layer; :func:`estimate_information` turns them into I(X; T_ℓ); one realization
    ``T_ℓ = S_ℓ + Z_ℓ`` per input gives H(Bin(T_ℓ)) (bins of ``bin_factor · β``), the
    within/between-class pairwise-distance histograms and the layer-5 snapshots.

    Parameters
    ----------
    config : SZTConfig
        With ``beta > 0``.
    data : SZTData, optional
        Default: the SZT set with the split drawn from ``config.seed``.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    progress : bool
        tqdm bars.

    Returns
    -------
    SZTResult
    """
    if config.beta <= 0:
        raise ValueError(f"config.beta must be > 0 for the SP estimator, got {config.beta}")
    t0 = time.perf_counter()
    device = _device_of(device)
    data = (data if data is not None else szt_data(config.seed)).to(device)
    train_gen = torch.Generator(device).manual_seed(config.seed + 2)
    est_gen = torch.Generator(device).manual_seed(config.seed + 3)
    widths = SZT_WIDTHS[1:-1]
    n_layers = len(widths)
    edges = _hist_edges(config, widths)
    edges_t = [torch.as_tensor(e, device=device) for e in edges]
    rows: list[dict] = []
    snaps: list[np.ndarray] = []
    hists: list[tuple] = []
    bar = progress_bar(len(config.epochs), progress, f"{config.name}: measured epochs")

    def measure(epoch, model):
        samples = sample_representations(model, data.x, config.n_x, generator=est_gen)  # L × (4096, n_x, d)
        est = estimate_information(samples, config.beta, n_mc=config.n_mc, n_mc_cond=config.n_mc_cond,
                                   generator=est_gen)
        row = {k: [e[k] for e in est] for k in ("value", "stderr", "h_t", "h_t_given_x")}
        t_layers = []
        for s in samples:
            s0 = s[:, 0]  # (4096, d): one realization of S_ℓ
            t_layers.append(s0 + config.beta * torch.randn(s0.shape, generator=est_gen, device=device,
                                                           dtype=s0.dtype))  # (4096, d): T_ℓ
        bin_size = config.bin_factor * config.beta
        row["h_bin"] = [binned_entropy(t, bin_size=bin_size, value_range=_bin_range(t, config.activation))
                        for t in t_layers]
        if epoch in config.snapshot_epochs:
            snaps.append(t_layers[-1].float().cpu().numpy())
            if config.histograms:
                hw, hb = zip(*(pairwise_distance_histograms(t, data.y, e, clip=True)
                               for t, e in zip(t_layers, edges_t)))
                hists.append(([h.cpu().numpy() for h in hw], [h.cpu().numpy() for h in hb]))
        rows.append(row)
        if bar is not None:
            bar.update(1)

    model, losses = train_szt(config, data, generator=train_gen, callback=measure)
    if bar is not None:
        bar.close()
    stack = lambda key: np.asarray([r[key] for r in rows], dtype=np.float64)  # noqa: E731  (E, L)
    if config.histograms:
        hw = np.asarray([h[0] for h in hists], dtype=np.int64)  # (S, L, B)
        hb = np.asarray([h[1] for h in hists], dtype=np.int64)
    else:
        hw = hb = np.zeros((0, n_layers, config.hist_bins), dtype=np.int64)
    return SZTResult(
        config=asdict(config), epochs=np.asarray(config.epochs), mi=stack("value"), mi_stderr=stack("stderr"),
        h_t=stack("h_t"), h_t_given_x=stack("h_t_given_x"), h_bin=stack("h_bin"),
        loss_epochs=losses["epoch"], train_loss=losses["train_loss"], test_loss=losses["test_loss"],
        train_acc=losses["train_acc"], test_acc=losses["test_acc"],
        hist_edges=edges, hist_within=hw, hist_between=hb,
        snapshot_epochs=np.asarray([e for e in config.epochs if e in config.snapshot_epochs]),
        snapshots=np.asarray(snaps, dtype=np.float32).reshape(len(snaps), data.x.shape[0], widths[-1]),
        labels=data.y.cpu().numpy(),
        final_state={k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
        wall_time_s=time.perf_counter() - t0,
    )


def run_deterministic(config: SZTConfig, *, data: SZTData | None = None, device=None,
                      progress: bool = True) -> BinningResult:
    """Train the deterministic SZT network (β = 0) and record H(Bin(T_ℓ)) for every
    bin size of ``config.bin_sizes`` at ``config.epochs`` (Fig. 1 of the paper).

    For a deterministic network and X uniform over 4096 distinct inputs,
    I(X; Bin(T_ℓ)) = H(Bin(T_ℓ)) ≤ ln 4096 ≈ 8.318, with equality once the bins are
    small enough to separate all 4096 representations.
    """
    if not config.bin_sizes:
        raise ValueError("config.bin_sizes must list at least one bin size")
    t0 = time.perf_counter()
    device = _device_of(device)
    data = (data if data is not None else szt_data(config.seed)).to(device)
    gen = torch.Generator(device).manual_seed(config.seed + 2)
    rows = []
    bar = progress_bar(len(config.epochs), progress, f"{config.name}: measured epochs")

    def measure(epoch, model):
        layers = model.hidden_values(data.x)  # L × (4096, d_ℓ)
        rows.append([[binned_entropy(t, bin_size=b, value_range=_bin_range(t, config.activation))
                      for t in layers] for b in config.bin_sizes])  # (K, L)
        if bar is not None:
            bar.update(1)

    _, losses = train_szt(config, data, generator=gen, callback=measure)
    if bar is not None:
        bar.close()
    return BinningResult(
        config=asdict(config), epochs=np.asarray(config.epochs), bin_sizes=np.asarray(config.bin_sizes),
        h_bin=np.asarray(rows, dtype=np.float64), loss_epochs=losses["epoch"], train_loss=losses["train_loss"],
        test_loss=losses["test_loss"], train_acc=losses["train_acc"], test_acc=losses["test_acc"],
        wall_time_s=time.perf_counter() - t0)


def _model_from_result(result: SZTResult, device) -> SZTNet:
    cfg = result.config
    model = SZTNet(cfg["activation"], cfg["beta"])
    model.load_state_dict({k: torch.as_tensor(v) for k, v in result.final_state.items()})
    return model.to(device)


def run_dpi_realizations(result: SZTResult, n_x_values, *, n_mc: int, n_mc_cond: int, seed: int = 0,
                         device=None, progress: bool = True) -> DPIResult:
    """The data-processing inequality as a check on the estimator.

    Re-estimates I(X; T_ℓ) for the final network of ``result`` with each number of
    realizations per input in ``n_x_values``. The DPI demands I(X; T_{ℓ+1}) ≤ I(X; T_ℓ);
    with too few realizations the conditional mixtures h(T_ℓ | X = x) of deep layers are
    underestimated (a plug-in entropy is biased down), I is overestimated, and deeper
    layers can appear to carry *more* information than shallower ones.
    """
    device = _device_of(device)
    model = _model_from_result(result, device)
    x = szt_data(result.config["seed"]).x.to(device)  # (4096, 12)
    gen = torch.Generator(device).manual_seed(seed)
    for m in model.modules():
        if hasattr(m, "generator"):
            m.generator = gen
    beta = result.config["beta"]
    rows = []
    for n_x in progress_iter(list(n_x_values), progress, desc="DPI: realizations"):
        samples = sample_representations(model, x, int(n_x), generator=gen)
        rows.append(estimate_information(samples, beta, n_mc=n_mc, n_mc_cond=n_mc_cond, generator=gen))
    get = lambda k: np.asarray([[e[k] for e in r] for r in rows])  # noqa: E731  (M, L)
    return DPIResult(experiment=result.name, epoch=int(result.config["n_epochs"]), beta=beta,
                     n_x=np.asarray(list(n_x_values)), mi=get("value"), mi_stderr=get("stderr"),
                     h_t=get("h_t"), h_t_given_x=get("h_t_given_x"))


# --------------------------------------------------------------------------- analysis


def compression_summary(result: SZTResult, layer: int, *, n_sigma: float = 5.0,
                        min_fall: float = math.log(1.5)) -> dict:
    """Does I(X; T_layer) compress? (``layer`` counts from 1.)

    Two readings of the curve over the measured epochs, each with its size in units of
    the standard error of the difference (``sqrt(se_a² + se_b²)``):

    * ``peak`` → ``final``: the drop from the maximum to the last epoch;
    * the largest fall anywhere, ``max over a < b of I(a) − I(b)`` (``fall``, from
      ``fall_from`` to ``fall_to``): it also catches a compression phase followed by
      a new rise.

    ``compresses`` is True when the largest fall exceeds ``n_sigma`` standard errors
    (5 by default: it is the largest of many differences, so noise alone reaches
    3) and ``min_fall`` nats (default ln 1.5: ``e^I``, the effective number of
    distinguishable inputs, shrinks by at least a third).
    """
    k = layer - 1
    if not 0 <= k < result.n_layers:
        raise ValueError(f"layer must be in 1..{result.n_layers}, got {layer}")
    mi, se = result.mi[:, k], result.mi_stderr[:, k]
    i_max = int(np.argmax(mi))
    drop = float(mi[i_max] - mi[-1])
    sigma = float(math.hypot(se[i_max], se[-1])) or float("inf")
    run_arg = np.array([int(np.argmax(mi[:b + 1])) for b in range(len(mi))])  # index of the max up to b
    falls = mi[run_arg] - mi  # (E,)
    b = int(np.argmax(falls))
    a = int(run_arg[b])
    fall = float(falls[b])
    fall_sigma = fall / (float(math.hypot(se[a], se[b])) or float("inf"))
    return {"layer": layer, "peak_epoch": int(result.epochs[i_max]), "peak": float(mi[i_max]),
            "final": float(mi[-1]), "drop": drop, "drop_sigma": drop / sigma,
            "fall_from": int(result.epochs[a]), "fall_to": int(result.epochs[b]), "fall": fall,
            "fall_sigma": fall_sigma, "fall_start": float(mi[a]),
            "compresses": bool(fall_sigma > n_sigma and fall > min_fall)}


def overfitting_onset(losses_epochs, test_loss, *, window: int = 25) -> dict:
    """When does the test loss start to rise? The epoch of the minimum of the test loss
    smoothed by a centred moving average of ``window`` epochs, with the loss there and
    at the end (nats)."""
    tl = np.asarray(test_loss, dtype=np.float64)
    w = max(1, min(window, len(tl)))
    smooth = np.convolve(tl, np.ones(w) / w, mode="same")
    half = w // 2
    inner = slice(half, len(tl) - half) if len(tl) > 2 * half else slice(0, len(tl))
    k = int(np.argmin(smooth[inner])) + inner.start
    return {"min_epoch": int(np.asarray(losses_epochs)[k]), "min_test_loss": float(smooth[k]),
            "final_test_loss": float(smooth[inner][-1]), "rises": bool(smooth[inner][-1] > smooth[k] * 1.05)}


def hbin_correlations(result: SZTResult) -> np.ndarray:
    """Pearson correlation across measured epochs of H(Bin(T_ℓ)) with I(X; T_ℓ), per
    layer (shape (L,); NaN where either is constant)."""
    out = []
    for k in range(result.n_layers):
        a, b = result.h_bin[:, k], result.mi[:, k]
        out.append(float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan"))
    return np.asarray(out)


def _bin_centres(edges: np.ndarray) -> np.ndarray:
    """Geometric centres of positive (log-spaced) edges, arithmetic otherwise; (..., B + 1) -> (..., B)."""
    if (edges[..., 0] > 0).all():
        return np.sqrt(edges[..., 1:] * edges[..., :-1])
    return 0.5 * (edges[..., 1:] + edges[..., :-1])


def distance_summary(result: SZTResult, *, close_factor: float = 10.0) -> dict:
    """Numbers from the Fig. 6 histograms, per snapshot epoch and layer (arrays (S, L)).

    * ``within``, ``between``: median within- and between-class distances (to the
      bin centre);
    * ``within_close``: the fraction of within-class pairs closer than
      ``close_factor · β`` (counting whole bins whose upper edge is at most that): inputs
      that the noise makes hard to tell apart, i.e. tight clusters;
    * ``between_far``: the fraction of between-class pairs farther than half the
      diameter ``√d_ℓ`` of the tanh cube (counting bins whose lower edge is at least
      that): classes pushed to opposite sides.
    """
    if result.hist_within.shape[0] == 0:
        raise ValueError("result has no pairwise-distance histograms (config histograms=False)")
    edges = result.hist_edges  # (L, B + 1)
    mids = _bin_centres(edges)  # (L, B)

    def median(counts):  # (S, L, B) -> (S, L)
        cum = np.cumsum(counts, axis=-1)
        k = (cum >= 0.5 * cum[..., -1:]).argmax(axis=-1)  # (S, L)
        return np.take_along_axis(np.broadcast_to(mids, counts.shape), k[..., None], axis=-1)[..., 0]

    def fraction(counts, mask):  # (S, L, B), (L, B) -> (S, L)
        return (counts * mask).sum(-1) / np.maximum(counts.sum(-1), 1)

    close = close_factor * float(result.config["beta"])
    half_diameter = 0.5 * edges[:, -1:]  # (L, 1): edges end at 2√d
    return {"epochs": result.snapshot_epochs, "within": median(result.hist_within),
            "between": median(result.hist_between),
            "within_close": fraction(result.hist_within, edges[:, 1:] <= close),
            "between_far": fraction(result.hist_between, edges[:, :-1] >= half_diameter)}


def dpi_check(mi, mi_stderr, *, n_sigma: float = 3.0) -> dict:
    """Check I(X; T_{ℓ+1}) ≤ I(X; T_ℓ) within ``n_sigma`` standard errors.

    Parameters
    ----------
    mi, mi_stderr : ndarray, shape (E, L)

    Returns
    -------
    dict
        ``excess`` (E, L−1): I_{ℓ+1} − I_ℓ in standard errors of the difference;
        ``violations``: list of (row, ℓ) where the excess exceeds ``n_sigma``;
        ``n_checked``; ``max_excess_sigma``; ``holds``.
    """
    mi, se = np.asarray(mi, dtype=np.float64), np.asarray(mi_stderr, dtype=np.float64)
    diff = mi[:, 1:] - mi[:, :-1]  # (E, L−1)
    sigma = np.sqrt(se[:, 1:] ** 2 + se[:, :-1] ** 2)  # (E, L−1)
    excess = diff / np.where(sigma > 0, sigma, np.inf)
    bad = np.argwhere(excess > n_sigma)
    return {"excess": excess, "violations": [(int(r), int(c) + 1) for r, c in bad],
            "n_checked": int(excess.size), "max_excess_sigma": float(excess.max()),
            "holds": bool(len(bad) == 0), "n_sigma": n_sigma}


# --------------------------------------------------------------------------- all at a scale


def run_szt(scale: str, *, experiments=tuple(EXPERIMENTS), deterministic: bool = True, dpi: bool = True,
            histograms: bool | None = None, seed: int = 0, device=None, progress: bool = True) -> SZTRun:
    """Run the SZT experiments of Section 5.1 at ``scale`` (see :data:`SCALE_SETTINGS`).

    Parameters
    ----------
    scale : {"quick", "book", "full"}
    experiments : sequence of str
        Keys of :data:`EXPERIMENTS`.
    deterministic : bool
        Also run Fig. 1's deterministic network.
    dpi : bool
        Also run :func:`run_dpi_realizations` on the final ``"tanh"`` network (needs it
        in ``experiments``).
    histograms : bool, optional
        Record Fig. 6's distance histograms; ``None``: for the tanh networks only
        (see :data:`EXPERIMENTS`).
    seed : int
    device : str or torch.device, optional
        Default: CUDA when available.
    """
    t0 = time.perf_counter()
    dev = _device_of(device)
    data = szt_data(seed)
    results = {}
    for name in experiments:
        config = experiment_config(name, scale, seed=seed)
        if histograms is not None:
            config = replace(config, histograms=bool(histograms))
        results[name] = run_noisy(config, data=data, device=dev, progress=progress)
    binning = None
    if deterministic:
        binning = run_deterministic(experiment_config("deterministic", scale, seed=seed), data=data,
                                    device=dev, progress=progress)
    dpi_res = None
    if dpi and "tanh" in results:
        s = SCALE_SETTINGS[scale]
        dpi_res = run_dpi_realizations(results["tanh"], s["dpi_n_x"], n_mc=s["n_mc"], n_mc_cond=s["n_mc_cond"],
                                       seed=seed + 4, device=dev, progress=progress)
    return SZTRun(scale=scale, results=results, binning=binning, dpi=dpi_res, device=str(dev),
                  wall_time_s=time.perf_counter() - t0)


_RESULT_ARRAYS = ("epochs", "mi", "mi_stderr", "h_t", "h_t_given_x", "h_bin", "loss_epochs", "train_loss",
                  "test_loss", "train_acc", "test_acc", "hist_edges", "hist_within", "hist_between",
                  "snapshot_epochs", "snapshots", "labels")
_BINNING_ARRAYS = ("epochs", "bin_sizes", "h_bin", "loss_epochs", "train_loss", "test_loss", "train_acc", "test_acc")
_DPI_ARRAYS = ("n_x", "mi", "mi_stderr", "h_t", "h_t_given_x")


def _layer_table(result: SZTResult) -> dict:
    layers = {}
    for k in range(result.n_layers):
        layers[f"T{k + 1}"] = {
            "I": np.round(result.mi[:, k], 5).tolist(), "stderr": np.round(result.mi_stderr[:, k], 5).tolist(),
            "h_T": np.round(result.h_t[:, k], 5).tolist(), "h_T_given_X": np.round(result.h_t_given_x[:, k], 5).tolist(),
            "H_bin": np.round(result.h_bin[:, k], 5).tolist(),
        }
    return layers


def _summary(run: SZTRun) -> dict:
    """The ``summary.json`` of a run: configuration, per experiment and layer the
    measured curves, and the headline numbers the chapters quote."""
    s = SCALE_SETTINGS[run.scale]
    out = {"config": {"scale": run.scale, **s, "dpi_n_x": list(s["dpi_n_x"]),
                      "experiments": {n: r.config for n, r in run.results.items()}},
           "wall_time_s": round(run.wall_time_s, 1), "experiments": {}}
    for name, r in run.results.items():
        comp = [compression_summary(r, layer) for layer in range(1, r.n_layers + 1)]
        dpi = dpi_check(r.mi, r.mi_stderr)
        out["experiments"][name] = {
            "epochs": r.epochs.tolist(), "layers": _layer_table(r),
            "losses": {"epochs_measured": r.epochs.tolist(),
                       "train_loss": np.round(r.train_loss[r.epochs - 1], 5).tolist(),
                       "test_loss": np.round(r.test_loss[r.epochs - 1], 5).tolist(),
                       "final_train_acc": float(r.train_acc[-1]), "final_test_acc": float(r.test_acc[-1])},
            "compression": comp, "overfitting_onset": overfitting_onset(r.loss_epochs, r.test_loss),
            "hbin_correlation": [round(float(c), 4) for c in hbin_correlations(r)],
            "dpi": {k: v for k, v in dpi.items() if k != "excess"},
            "wall_time_s": round(r.wall_time_s, 1),
        }
    if run.binning is not None:
        b = run.binning
        out["deterministic"] = {"config": b.config, "epochs": b.epochs.tolist(), "bin_sizes": b.bin_sizes.tolist(),
                                "H_bin_final": np.round(b.h_bin[-1], 4).tolist(),
                                "final_test_acc": float(b.test_acc[-1]), "wall_time_s": round(b.wall_time_s, 1)}
    if run.dpi is not None:
        d = run.dpi
        chk = dpi_check(d.mi, d.mi_stderr)
        out["dpi_realizations"] = {"experiment": d.experiment, "epoch": d.epoch, "n_x": d.n_x.tolist(),
                                   "I": np.round(d.mi, 5).tolist(), "stderr": np.round(d.mi_stderr, 5).tolist(),
                                   "violations": chk["violations"]}
    return out


def save_szt_run(run: SZTRun, out_dir) -> Path:
    """Store ``run`` with :func:`infoflow_core.results.save_run` (``summary.json`` +
    ``arrays.npz``; keys ``<experiment>__<field>``)."""
    from ..results import save_run

    arrays = {}
    for name, r in run.results.items():
        for key in _RESULT_ARRAYS:
            value = getattr(r, key)
            arrays[f"{name}__{key}"] = value.astype(np.float16) if key == "snapshots" else value
        for key, value in r.final_state.items():
            arrays[f"{name}__state__{key}"] = value
    if run.binning is not None:
        for key in _BINNING_ARRAYS:
            arrays[f"deterministic__{key}"] = getattr(run.binning, key)
    if run.dpi is not None:
        for key in _DPI_ARRAYS:
            arrays[f"dpi__{key}"] = getattr(run.dpi, key)
    return save_run(out_dir, _summary(run), arrays, device=run.device)


def szt_run_from_stored(stored) -> SZTRun:
    """Rebuild an :class:`SZTRun` from a :class:`~infoflow_core.results.StoredRun`
    (as returned by ``find_stored_run("szt", scale)``)."""
    a, summ = stored.arrays, stored.summary
    results = {}
    for name, exp_cfg in summ["config"]["experiments"].items():
        kw = {key: a[f"{name}__{key}"] for key in _RESULT_ARRAYS}
        kw["snapshots"] = kw["snapshots"].astype(np.float32)
        prefix = f"{name}__state__"
        state = {k[len(prefix):]: v for k, v in a.items() if k.startswith(prefix)}
        results[name] = SZTResult(config=exp_cfg, final_state=state,
                                  wall_time_s=summ["experiments"][name].get("wall_time_s", 0.0), **kw)
    binning = None
    if "deterministic" in summ:
        binning = BinningResult(config=summ["deterministic"]["config"],
                                **{key: a[f"deterministic__{key}"] for key in _BINNING_ARRAYS},
                                wall_time_s=summ["deterministic"].get("wall_time_s", 0.0))
    dpi = None
    if "dpi_realizations" in summ:
        d = summ["dpi_realizations"]
        dpi = DPIResult(experiment=d["experiment"], epoch=d["epoch"],
                        beta=summ["config"]["experiments"][d["experiment"]]["beta"],
                        **{key: a[f"dpi__{key}"] for key in _DPI_ARRAYS})
    return SZTRun(scale=summ["config"]["scale"], results=results, binning=binning, dpi=dpi,
                  device=summ.get("device", "?"), wall_time_s=summ.get("wall_time_s", 0.0))


def main(argv=None) -> int:
    """``python -m infoflow_core szt --scale {quick,book,full} --out DIR``."""
    parser = argparse.ArgumentParser(prog="python -m infoflow_core szt",
                                     description="Section 5.1 of the paper: the noisy SZT network (Figs. 1, 5, 6).")
    parser.add_argument("--scale", choices=SCALES, default="book")
    parser.add_argument("--out", required=True, help="folder for summary.json and arrays.npz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, ...")
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS),
                        help="comma-separated subset of " + ",".join(EXPERIMENTS))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    names = [n for n in args.experiments.split(",") if n]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiments {unknown}")
    run = run_szt(args.scale, experiments=tuple(names), seed=args.seed, device=args.device,
                  progress=not args.no_progress)
    out = save_szt_run(run, args.out)
    print(f"wrote {out / 'summary.json'} and {out / 'arrays.npz'} ({run.wall_time_s:.0f} s on {run.device})")
    return 0

