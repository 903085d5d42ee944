"""Measuring the SZT networks at each measured epoch: I(X; T_ℓ) by the SP estimator,
H(Bin(T_ℓ)), pairwise-distance histograms and snapshots of the last hidden layer; the
deterministic network's H(Bin(T_ℓ)) per bin size; the DPI check over realizations.

Functions here take a resolved ``torch.device``; :func:`~infoflow_core.experiments.szt.run_szt`
resolves it once.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ...binning import binned_entropy
from ...clustering import pairwise_distance_histograms
from ...data.szt import SZTData, szt_data
from ...models.szt import SZT_WIDTHS, SZTNet
from ...mutual_information import MIEstimate, sp_mutual_information
from ...noise import sample_representations
from .._common import progress_bar, progress_iter, resolve_device
from .config import NetworkConfig
from .results import DeterministicResults, DPIResults, NetworkResults
from .training import train_network

__all__ = ["estimate_information", "histogram_edges", "measure_noisy", "measure_deterministic", "dpi_realizations"]

#: Widths of the hidden layers T_1 … T_5.
HIDDEN_WIDTHS = SZT_WIDTHS[1:-1]


def estimate_information(samples: list, beta: float, *, n_mc: int, n_mc_given_x: int,
                         generator: torch.Generator | None = None) -> list[MIEstimate]:
    """SP estimates of I(X; T_ℓ), equation (1), for every layer.

    h(T_ℓ) is a Gaussian-mixture entropy with all ``n_inputs · n_x`` centres and
    ``n_mc`` Monte Carlo samples; h(T_ℓ | X) averages ``n_inputs`` mixtures of ``n_x``
    centres, ``n_mc_given_x`` samples each (both by
    :func:`~infoflow_core.mutual_information.sp_mutual_information`). The
    conditional term averages thousands of mixtures, so few samples each suffice;
    h(T_ℓ) carries nearly all of the error. Layer 1 is deterministic given X: its
    realizations coincide, one is kept and h(T_1 | X) = (d/2) ln(2πeβ²) exactly.

    Parameters
    ----------
    samples : list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
        From :func:`~infoflow_core.noise.sample_representations`.
    beta : float
    n_mc, n_mc_given_x : int
    generator : torch.Generator, optional

    Returns
    -------
    list of MIEstimate
        Per layer: ``value``, ``stderr``, ``h_t``, ``h_t_given_x`` (nats).

    Examples
    --------
    Four inputs 1 apart, β = 0.01: I = ln 4 ≈ 1.386.

    >>> s = torch.arange(4.0, dtype=torch.float64).reshape(4, 1, 1)
    >>> est = estimate_information([s], 0.01, n_mc=256, n_mc_given_x=8, generator=torch.Generator().manual_seed(0))
    >>> round(est[0].value, 2)
    1.39
    """
    out = []
    for layer, s in enumerate(samples):
        if layer == 0:
            s = s[:, :1]  # (n_inputs, 1, d_1): S_1 = f_1(x) is the same in every realization
        out.append(sp_mutual_information(s, beta, n_mc=n_mc, n_mc_given_x=n_mc_given_x, generator=generator))
    return out


def _bin_range(t: torch.Tensor, activation: str) -> tuple[float, float]:
    """Bins cover [−1, 1] for tanh units, else the range of the values."""
    if activation == "tanh":
        return (-1.0, 1.0)
    lo, hi = float(t.min()), float(t.max())
    return (lo, hi if hi > lo else lo + 1.0)


def histogram_edges(network: NetworkConfig, widths=HIDDEN_WIDTHS) -> np.ndarray:
    """Log-spaced histogram edges from ``hist_min`` to the tanh cube's diameter
    ``2√d_ℓ``, one row per layer width ``d_ℓ``; shape (L, hist_bins + 1).

    >>> from infoflow_core.experiments.szt import SZTConfig
    >>> e = histogram_edges(SZTConfig.for_scale("quick").network("tanh")); e.shape, float(e[0, 0])
    ((5, 41), 0.001)
    """
    lo = math.log10(network.hist_min)
    return np.stack([np.logspace(lo, math.log10(2.0 * math.sqrt(d)), network.hist_bins + 1) for d in widths])


def measure_noisy(network: NetworkConfig, data: SZTData, device: torch.device, *,
                  progress: bool = True) -> NetworkResults:
    """Train a noisy SZT network and measure it at ``network.epochs`` (Fig. 5, Fig. 6).

    At every measured epoch: ``n_x`` noisy passes of all 4096 inputs give S_ℓ for each
    layer; :func:`estimate_information` turns them into I(X; T_ℓ); one realization
    ``T_ℓ = S_ℓ + Z_ℓ`` per input gives H(Bin(T_ℓ)) (bins of ``bin_factor · β``), the
    within/between-class pairwise-distance histograms and the layer-5 snapshots.
    Seeds: ``network.seed + 2`` for training, ``+ 3`` for every estimate.

    Parameters
    ----------
    network : NetworkConfig
        With ``beta > 0``.
    data : SZTData
    device : torch.device
    progress : bool

    Returns
    -------
    NetworkResults
    """
    if network.beta <= 0:
        raise ValueError(f"network.beta must be > 0 for the SP estimator, got {network.beta}")
    t0 = time.perf_counter()
    data = data.to(device)
    train_gen = torch.Generator(device).manual_seed(network.seed + 2)
    est_gen = torch.Generator(device).manual_seed(network.seed + 3)
    edges = histogram_edges(network)  # (L, B + 1)
    edges_t = [torch.as_tensor(e, device=device) for e in edges]
    rows: list[dict] = []
    snaps: list[np.ndarray] = []
    hists: list[tuple] = []
    bar = progress_bar(len(network.epochs), progress, f"{network.name}: measured epochs")

    def measure(epoch, model):
        samples = sample_representations(model, data.x, network.n_x, generator=est_gen)  # L × (4096, n_x, d)
        est = estimate_information(samples, network.beta, n_mc=network.n_mc, n_mc_given_x=network.n_mc_given_x,
                                   generator=est_gen)
        row = {k: [getattr(e, k) for e in est] for k in ("value", "stderr", "h_t", "h_t_given_x")}
        t_layers = []
        for s in samples:
            s0 = s[:, 0]  # (4096, d): one realization of S_ℓ
            t_layers.append(s0 + network.beta * torch.randn(s0.shape, generator=est_gen, device=device,
                                                            dtype=s0.dtype))  # (4096, d): T_ℓ
        bin_size = network.bin_factor * network.beta
        row["h_bin"] = [binned_entropy(t, bin_size=bin_size, value_range=_bin_range(t, network.activation))
                        for t in t_layers]
        if epoch in network.snapshot_epochs:
            snaps.append(t_layers[-1].float().cpu().numpy())
            if network.histograms:
                hw, hb = zip(*(pairwise_distance_histograms(t, data.y, e, clip=True)
                               for t, e in zip(t_layers, edges_t)))
                hists.append(([h.cpu().numpy() for h in hw], [h.cpu().numpy() for h in hb]))
        rows.append(row)
        if bar is not None:
            bar.update(1)

    model, losses = train_network(network, data, generator=train_gen, callback=measure)
    if bar is not None:
        bar.close()
    stack = lambda key: np.asarray([r[key] for r in rows], dtype=np.float64)  # noqa: E731  (E, L)
    if network.histograms:
        hw = np.asarray([h[0] for h in hists], dtype=np.int64)  # (S, L, B)
        hb = np.asarray([h[1] for h in hists], dtype=np.int64)
    else:
        hw = hb = np.zeros((0, len(HIDDEN_WIDTHS), network.hist_bins), dtype=np.int64)
    return NetworkResults(
        config=network, epochs=np.asarray(network.epochs), mi=stack("value"), mi_stderr=stack("stderr"),
        h_t=stack("h_t"), h_t_given_x=stack("h_t_given_x"), h_bin=stack("h_bin"),
        loss_epochs=losses["epoch"], train_loss=losses["train_loss"], test_loss=losses["test_loss"],
        train_acc=losses["train_acc"], test_acc=losses["test_acc"],
        hist_edges=edges, hist_within=hw, hist_between=hb,
        snapshot_epochs=np.asarray([e for e in network.epochs if e in network.snapshot_epochs]),
        snapshots=np.asarray(snaps, dtype=np.float32).reshape(len(snaps), data.x.shape[0], HIDDEN_WIDTHS[-1]),
        labels=data.y.cpu().numpy(),
        final_state={k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
        wall_time_s=time.perf_counter() - t0,
    )


def measure_deterministic(network: NetworkConfig, data: SZTData, device: torch.device, *,
                          progress: bool = True) -> DeterministicResults:
    """Train the deterministic SZT network (β = 0) and record H(Bin(T_ℓ)) for every
    bin size of ``network.bin_sizes`` at ``network.epochs`` (Fig. 1 of the paper).

    For a deterministic network and X uniform over 4096 distinct inputs,
    I(X; Bin(T_ℓ)) = H(Bin(T_ℓ)) ≤ ln 4096 ≈ 8.318, with equality once the bins are
    small enough to separate all 4096 representations.
    """
    if not network.bin_sizes:
        raise ValueError("network.bin_sizes must list at least one bin size")
    t0 = time.perf_counter()
    data = data.to(device)
    gen = torch.Generator(device).manual_seed(network.seed + 2)
    rows = []
    bar = progress_bar(len(network.epochs), progress, f"{network.name}: measured epochs")

    def measure(epoch, model):
        layers = model.hidden_values(data.x)  # L × (4096, d_ℓ)
        rows.append([[binned_entropy(t, bin_size=b, value_range=_bin_range(t, network.activation))
                      for t in layers] for b in network.bin_sizes])  # (K, L)
        if bar is not None:
            bar.update(1)

    _, losses = train_network(network, data, generator=gen, callback=measure)
    if bar is not None:
        bar.close()
    return DeterministicResults(
        config=network, epochs=np.asarray(network.epochs), bin_sizes=np.asarray(network.bin_sizes),
        h_bin=np.asarray(rows, dtype=np.float64),  # (E, K, L)
        loss_epochs=losses["epoch"], train_loss=losses["train_loss"],
        test_loss=losses["test_loss"], train_acc=losses["train_acc"], test_acc=losses["test_acc"],
        wall_time_s=time.perf_counter() - t0)


def _trained_model(result: NetworkResults, device: torch.device, generator: torch.Generator) -> SZTNet:
    """The final network of ``result`` on ``device``, its noise drawn from ``generator``."""
    model = SZTNet(result.config.activation, result.config.beta, generator=generator)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in result.final_state.items()})
    return model.to(device)


def dpi_realizations(result: NetworkResults, n_x_values, *, n_mc: int, n_mc_given_x: int, seed: int = 0,
                     device=None, progress: bool = True) -> DPIResults:
    """The data-processing inequality as a check on the estimator.

    Re-estimates I(X; T_ℓ) for the final network of ``result`` with each number of
    realizations per input in ``n_x_values``. The DPI demands I(X; T_{ℓ+1}) ≤ I(X; T_ℓ);
    with too few realizations the conditional mixtures h(T_ℓ | X = x) of deep layers are
    underestimated (a plug-in entropy is biased down), I is overestimated, and deeper
    layers can appear to carry *more* information than shallower ones.

    Parameters
    ----------
    result : NetworkResults
        With ``final_state``.
    n_x_values : sequence of int
    n_mc, n_mc_given_x : int
        Monte Carlo sizes of :func:`estimate_information`.
    seed : int
        Seed of the noise and the Monte Carlo samples.
    device : str or torch.device, optional
        Default: CUDA when available (:func:`~infoflow_core.experiments.resolve_device`).
    progress : bool
    """
    device = resolve_device(device)
    gen = torch.Generator(device).manual_seed(seed)
    model = _trained_model(result, device, gen)
    x = szt_data(result.config.seed).x.to(device)  # (4096, 12)
    beta = result.config.beta
    rows = []
    for n_x in progress_iter(list(n_x_values), progress, desc="DPI: realizations"):
        samples = sample_representations(model, x, int(n_x), generator=gen)
        rows.append(estimate_information(samples, beta, n_mc=n_mc, n_mc_given_x=n_mc_given_x, generator=gen))
    get = lambda k: np.asarray([[getattr(e, k) for e in r] for r in rows])  # noqa: E731  (M, L)
    return DPIResults(network=result.name, epoch=int(result.config.n_epochs), beta=beta,
                      n_x=np.asarray(list(n_x_values)), mi=get("value"), mi_stderr=get("stderr"),
                      h_t=get("h_t"), h_t_given_x=get("h_t_given_x"))
