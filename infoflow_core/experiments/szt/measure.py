"""Measuring the SZT networks at each measured epoch: I(X; T_ℓ) by the SP estimator,
H(Bin(T_ℓ)), pairwise-distance histograms and snapshots of the last hidden layer; the
deterministic network's H(Bin(T_ℓ)) per bin size; the DPI check over realizations.

Functions here take a resolved ``torch.device``; :func:`~infoflow_core.experiments.szt.run_szt`
resolves it once.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch

from ...binning import binned_entropy, binned_label_information
from ...clustering import pairwise_distance_histograms
from ...data.szt import SZTData, szt_data
from ...models.szt import SZT_WIDTHS, SZTNet
from ...entropy import _gm_entropy_batched, gm_entropy
from ...mutual_information import (Information, LabelMIEstimate, MIEstimate, _nested_plan, _sp_information,
                                   sp_label_information, sp_mutual_information)
from ...noise import sample_representations
from .._common import from_state, progress_bar, progress_iter, resolve_device, to_state
from .config import NetworkConfig
from .results import DeterministicResults, DPIResults, NetworkResults
from .training import train_network

__all__ = ["collapse_realizations", "choose_n_mc", "choose_n_mc_given_x", "estimate_information",
           "estimate_label_information", "estimate_information_jointly", "histogram_edges",
           "measure_noisy", "measure_deterministic", "dpi_realizations", "COINCIDENCE_TOLERANCE"]

#: Realizations of S_ℓ closer than this many β everywhere count as one (:func:`collapse_realizations`).
COINCIDENCE_TOLERANCE = 1e-6

#: Widths of the hidden layers T_1 … T_5.
HIDDEN_WIDTHS = SZT_WIDTHS[1:-1]


def collapse_realizations(s: torch.Tensor, beta: float) -> torch.Tensor:
    """``s`` with its realizations collapsed to one when they all coincide.

    When every input's ``n_x`` realizations of S_ℓ agree to ``COINCIDENCE_TOLERANCE · β``
    (layer 1, which is ``f_1(x)`` with no noise before it, or any map of noiseless
    values), the mixtures of the SP estimator are those of one realization per input
    (duplicate centres change no density, and shifts of 1e-6 β change the entropies
    by about 1e-12 nats), so one is kept: ``n_x`` times less work, and h(T_ℓ | X) is
    exact. Detected, not assumed.

    Parameters
    ----------
    s : Tensor, shape (n_inputs, n_x, d)
    beta : float

    Returns
    -------
    Tensor, shape (n_inputs, 1, d) or ``s`` itself

    >>> s = torch.ones(3, 4, 2)
    >>> collapse_realizations(s, 0.01).shape, collapse_realizations(s + torch.arange(4.0)[:, None], 0.01).shape
    (torch.Size([3, 1, 2]), torch.Size([3, 4, 2]))
    """
    if s.shape[1] > 1 and float((s - s[:, :1]).abs().max()) <= COINCIDENCE_TOLERANCE * beta:
        return s[:, :1]
    return s


def choose_n_mc(samples: list, beta: float, n_mc: int, target_stderr: float,
                generator: torch.Generator | None = None, method: str = "auto") -> list[int]:
    """Monte Carlo samples for h(T_ℓ) of each layer, enough for a standard error of
    about ``target_stderr`` nats and at most ``n_mc``.

    A pilot estimate of h(T_ℓ) with ``n_pilot = max(1024, n_mc // 4)`` samples gives its
    standard error ``s``; the layer gets ``ceil(n_pilot · (s / target)²)`` samples,
    clipped to ``[n_pilot, n_mc]`` (the error falls like 1/√n_mc, or faster: the
    samples are stratified over the inputs, so this errs on the safe side). The pilot is
    then discarded: the estimates use fresh samples, so they stay unbiased. With
    ``target_stderr = 0`` every layer gets ``n_mc``.

    Parameters
    ----------
    samples : list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
    beta : float
    n_mc : int
        The most samples a layer gets.
    target_stderr : float
        Nats; 0 for a fixed ``n_mc``.
    generator : torch.Generator, optional
    method : str
        Path of the pilot entropy (as in :func:`~infoflow_core.entropy.gm_entropy`):
        the pilot's error is that of the path the estimate will take.

    Returns
    -------
    list of int, one per layer

    >>> s = [torch.arange(4.0, dtype=torch.float64).reshape(4, 1, 1)]  # far apart: no variance left
    >>> choose_n_mc(s, 0.01, 8192, 0.01, torch.Generator().manual_seed(0)), choose_n_mc(s, 0.01, 8192, 0.0)
    ([2048], [8192])
    """
    if target_stderr <= 0:
        return [int(n_mc)] * len(samples)
    n_pilot = min(int(n_mc), max(1024, int(n_mc) // 4))
    out = []
    for s in samples:
        c = collapse_realizations(s, beta)
        se = gm_entropy(c.reshape(-1, c.shape[-1]), beta, n_mc=n_pilot, generator=generator, method=method).stderr
        out.append(int(min(n_mc, max(n_pilot, math.ceil(n_pilot * (se / target_stderr) ** 2)))))
    return out


#: Inputs of the pilot of :func:`choose_n_mc_given_x` (evenly spaced).
GIVEN_X_PILOT_INPUTS = 512
#: Samples per input in that pilot.
GIVEN_X_PILOT_SAMPLES = 16
#: The conditional term's share of the target: h(T_ℓ | X) gets ``target / 3``, which adds
#: at most √(1 + 1/9) − 1 ≈ 5 % to the error of I(X; T_ℓ) in quadrature.
GIVEN_X_TARGET_FRACTION = 1.0 / 3.0


def choose_n_mc_given_x(samples: list, beta: float, n_mc_given_x: int, target_stderr: float,
                        generator: torch.Generator | None = None) -> list[int]:
    """Monte Carlo samples for each h(T_ℓ | X = x) of each layer, enough for a standard error
    of about ``target_stderr / 3`` nats on their mean h(T_ℓ | X), at most ``n_mc_given_x``.

    A pilot of :data:`GIVEN_X_PILOT_SAMPLES` samples for each of
    :data:`GIVEN_X_PILOT_INPUTS` evenly spaced inputs gives the root-mean-square standard
    error ``r`` of one input's entropy; the mean over all ``n_inputs`` has about
    ``r / √n_inputs``, so a layer gets ``ceil(m₀ (r / (√n_inputs · target/3))²)``
    samples per input, clipped to ``[m₀, n_mc_given_x]`` (the pilot is discarded). A
    layer whose realizations coincide (:func:`collapse_realizations`) needs none (its
    conditional entropy is exact) and gets ``n_mc_given_x``. With ``target_stderr = 0``
    every layer gets ``n_mc_given_x``.

    Parameters
    ----------
    samples : list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
    beta : float
    n_mc_given_x : int or sequence of int
        Samples for each h(T_ℓ | X = x), or one number per layer (:func:`choose_n_mc_given_x`).
    target_stderr : float
        Nats, the target of I(X; T_ℓ) as in :func:`choose_n_mc`.
    generator : torch.Generator, optional

    Returns
    -------
    list of int, one per layer

    >>> g = torch.Generator().manual_seed(0)
    >>> s = torch.randn(4096, 50, 2, generator=g, dtype=torch.float64) * 0.01
    >>> n = choose_n_mc_given_x([s], 0.01, 256, 0.01, g)[0]; 16 <= n < 256
    True
    """
    if target_stderr <= 0:
        return [int(n_mc_given_x)] * len(samples)
    out = []
    for s in samples:
        c = collapse_realizations(s, beta)
        m0 = min(int(n_mc_given_x), GIVEN_X_PILOT_SAMPLES)
        if c.shape[1] == 1:
            out.append(int(n_mc_given_x))
            continue
        pick = torch.linspace(0, c.shape[0] - 1, min(c.shape[0], GIVEN_X_PILOT_INPUTS), device=c.device).long()
        _, se = _gm_entropy_batched(c[pick], beta, m0, generator, "auto", "auto")  # (p,)
        per_input = float(se.pow(2).mean().sqrt())
        target = GIVEN_X_TARGET_FRACTION * target_stderr * math.sqrt(c.shape[0])
        out.append(int(min(n_mc_given_x, max(m0, math.ceil(m0 * (per_input / target) ** 2)))))
    return out


def _per_layer(n_mc, n_layers: int) -> list[int]:
    return [int(n_mc)] * n_layers if isinstance(n_mc, (int, np.integer)) else [int(v) for v in n_mc]


def estimate_information(samples: list, beta: float, *, n_mc: int, n_mc_given_x: int,
                         generator: torch.Generator | None = None, control_variate: bool = True,
                         collapse: bool = True, method: str = "auto", target_stderr: float = 0.0,
                         n_mc_max: int | None = None) -> list[MIEstimate]:
    """SP estimates of I(X; T_ℓ), equation (1), for every layer.

    h(T_ℓ) is a Gaussian-mixture entropy with all ``n_inputs · n_x`` centres and
    ``n_mc`` Monte Carlo samples; h(T_ℓ | X) averages ``n_inputs`` mixtures of ``n_x``
    centres, ``n_mc_given_x`` samples each (both by
    :func:`~infoflow_core.mutual_information.sp_mutual_information`, with its
    own-component control variate). The conditional term averages thousands of
    mixtures, so few samples each suffice; h(T_ℓ) carries most of the error. A layer
    whose realizations coincide (layer 1: it is deterministic given X) is collapsed to
    one realization per input (:func:`collapse_realizations`), and then
    h(T_ℓ | X) = (d/2) ln(2πeβ²) exactly.

    Parameters
    ----------
    samples : list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
        From :func:`~infoflow_core.noise.sample_representations`.
    beta : float
    n_mc : int or sequence of int
        Samples for h(T_ℓ), or one number per layer (:func:`choose_n_mc`).
    n_mc_given_x : int
    generator : torch.Generator, optional
    control_variate : bool
        The own-component control variate of every mixture entropy (default on; off
        for the benchmark that measures what it saves).
    collapse : bool
        Collapse coinciding realizations (default on; off: the benchmark).
    method : str
        Path of h(T_ℓ) (:func:`~infoflow_core.mutual_information.sp_mutual_information`;
        ``"auto"``: the nested path for crowded layers, ``"exact"``: never).
    target_stderr : float
        With ``n_mc_max``: a layer whose error exceeds this (nats) gets a second estimate
        of h(T_ℓ) from fresh samples, at most ``n_mc_max`` in all (:func:`_top_up`);
        0 (default): none.
    n_mc_max : int, optional

    Returns
    -------
    list of MIEstimate
        Per layer: ``value``, ``stderr``, ``h_t``, ``h_t_given_x`` (nats), and
        ``h_t_path`` (``"exact"`` or ``"nested"``).

    Examples
    --------
    Four inputs 1 apart, β = 0.01: I = ln 4 ≈ 1.386.

    >>> s = torch.arange(4.0, dtype=torch.float64).reshape(4, 1, 1)
    >>> est = estimate_information([s], 0.01, n_mc=256, n_mc_given_x=8, generator=torch.Generator().manual_seed(0))
    >>> round(est[0].value, 2)
    1.39
    """
    out = []
    for s, n, m in zip(samples, _per_layer(n_mc, len(samples)), _per_layer(n_mc_given_x, len(samples))):
        c = collapse_realizations(s, beta) if collapse else s
        mi = sp_mutual_information(c, beta, n_mc=n, n_mc_given_x=m, generator=generator,
                                   control_variate=control_variate, method=method)
        out.append(_top_up(mi, c, beta, n, target_stderr, n_mc_max, generator, control_variate, method))
    return out


def _top_up(mi: MIEstimate, c: torch.Tensor, beta: float, n: int, target_stderr: float, n_mc_max, generator,
            control_variate: bool, method: str) -> MIEstimate:
    """``mi`` with h(T_ℓ) re-estimated from more samples when its error misses the target.

    :func:`choose_n_mc` sizes the sample from a pilot's standard error, assuming it falls
    like 1/√n_mc; with samples stratified over blocks of inputs it can fall more slowly
    (measured: the SZT network at epoch 97, n_x = 1000, ended at 0.012–0.013 nats for a
    target of 0.008). When ``mi.stderr > target_stderr`` and fewer than ``n_mc_max``
    samples were used, a second, independent estimate of h(T_ℓ) with ``n₂`` fresh samples
    (the same rule from the first one's error, at most ``n_mc_max − n``) is combined with
    the first by sample counts, ``(n h₁ + n₂ h₂) / (n + n₂)`` (unbiased; its variance is
    ``(n² s₁² + n₂² s₂²) / (n + n₂)²``).
    """
    if target_stderr <= 0 or n_mc_max is None or mi.stderr <= target_stderr or n >= n_mc_max:
        return mi
    room = max(target_stderr ** 2 - mi.h_t_given_x_stderr ** 2, (0.5 * target_stderr) ** 2)
    n2 = int(min(n_mc_max - n, max(2, math.ceil(n * (mi.h_t_stderr ** 2 / room - 1.0)))))
    second = gm_entropy(c.reshape(-1, c.shape[-1]), beta, n_mc=n2, generator=generator,
                        control_variate=control_variate, method=method)
    h_t, se_t = _by_counts(n, mi.h_t, mi.h_t_stderr, n2, second.value, second.stderr)
    return dataclasses.replace(mi, value=h_t - mi.h_t_given_x, h_t=h_t, h_t_stderr=se_t,
                               stderr=math.hypot(se_t, mi.h_t_given_x_stderr))


def estimate_label_information(samples: list, labels: torch.Tensor, beta: float, information: list, *, n_mc: int,
                               generator: torch.Generator | None = None, method: str = "auto") -> list[LabelMIEstimate]:
    """SP estimates of I(T_ℓ; Y) for every layer, reusing h(T_ℓ) of ``information``.

    I(T_ℓ; Y) = h(T_ℓ) − Σ_y p(y) h(T_ℓ | Y = y)
    (:func:`~infoflow_core.mutual_information.sp_label_information`), with h(T_ℓ)
    the estimate already in ``information`` (from :func:`estimate_information` on the
    same samples) and each class-conditional mixture drawn with ``n_mc`` samples from
    ``generator``. Realizations are collapsed as there.

    Parameters
    ----------
    samples : list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
    labels : Tensor, shape (n_inputs,)
    beta : float
    information : list of MIEstimate
        One per layer, from the same ``samples``.
    n_mc : int or sequence of int
        Samples for each h(T_ℓ | Y = y), or one number per layer.
    generator : torch.Generator, optional
    method : str
        Path of each h(T_ℓ | Y = y), as in :func:`estimate_information`.

    Returns
    -------
    list of LabelMIEstimate
    """
    return [sp_label_information(collapse_realizations(s, beta), labels, beta, n_mc=n, generator=generator,
                                 h_t=(mi.h_t, mi.h_t_stderr), method=method)
            for s, mi, n in zip(samples, information, _per_layer(n_mc, len(samples)))]


#: The first stage of :func:`estimate_information_jointly` draws ``n_mc // JOINT_FIRST_DIVISOR`` samples.
JOINT_FIRST_DIVISOR = 4
#: ... and the second ``JOINT_SAFETY`` times what 1/√n scaling predicts: the collapsed-strata
#: error of the smaller second sample is the more conservative (measured on the SZT network at
#: n_x = 1000, epoch 97: without it layers 4-5 pooled to 0.009 nats for a target of 0.008).
JOINT_SAFETY = 1.3


def estimate_information_jointly(samples: list, labels: torch.Tensor, beta: float, *, n_mc: int,
                                 target_stderr: float, generator: torch.Generator | None = None,
                                 method: str = "auto") -> list[Information]:
    """I(X; T_ℓ) and I(T_ℓ; Y) of every layer, integrated jointly (:func:`~infoflow_core.
    mutual_information.sp_information`), with just enough samples for ``target_stderr``.

    Per layer (realizations collapsed as in :func:`estimate_information`, inputs sorted by
    label once): a first estimate from ``n₁ = n_mc // 4`` samples; when the larger of its two
    errors ``e`` exceeds the target, a second, independent one from
    ``n₂ = ceil(n₁ (1.3 e² / target² − 1))`` more (:data:`JOINT_SAFETY`) (at most ``n_mc − n₁``), pooled with the first
    by sample counts (each field ``(n₁ a₁ + n₂ a₂) / (n₁ + n₂)``, errors
    ``√(n₁² e₁² + n₂² e₂²) / (n₁ + n₂)``), repeated from the pooled error until the target or
    ``n_mc`` is reached. No pilot is thrown away; ``n₂`` depends on the
    first estimate's error only, never on its value. The nested path's choice
    (:func:`~infoflow_core._nested.choose_nested`) is made once per layer. With
    ``target_stderr = 0`` every layer gets ``n_mc`` samples in one estimate.

    Parameters
    ----------
    samples : list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
    labels : Tensor, shape (n_inputs,)
    beta : float
    n_mc : int
        The most samples of T_ℓ per layer.
    target_stderr : float
        Nats.
    generator : torch.Generator, optional
    method : str
        Path of p(T_ℓ) (``"auto"``: nested for crowded layers; ``"exact"``: never).

    Returns
    -------
    list of Information
        One per layer: ``x_t`` (MIEstimate), ``t_y`` (LabelMIEstimate), ``n_mc`` (samples used).

    >>> s = torch.arange(4.0, dtype=torch.float64).reshape(4, 1, 1)
    >>> info, = estimate_information_jointly([s], torch.tensor([0, 1, 0, 1]), 0.01, n_mc=256,
    ...                                      target_stderr=0.01, generator=torch.Generator().manual_seed(0))
    >>> round(info.x_t.value, 6), round(info.t_y.value, 6), info.n_mc
    (1.386294, 0.693147, 64)
    """
    order = torch.argsort(labels, stable=True)
    labels = labels[order]
    out = []
    for s in samples:
        c = collapse_realizations(s, beta)[order].contiguous()  # (n_inputs, n_x or 1, d), sorted by label
        plan = _nested_plan(c, beta, method, generator)
        n1 = int(n_mc) if target_stderr <= 0 else max(2, int(n_mc) // JOINT_FIRST_DIVISOR)
        est = _sp_information(c, labels, beta, n1, generator, "auto", method, True, plan)
        err = max(est.x_t.stderr, est.t_y.stderr)
        while target_stderr > 0 and err > target_stderr and est.n_mc < n_mc:  # at most a few rounds
            n2 = int(min(n_mc - est.n_mc,
                         max(2, math.ceil(est.n_mc * (JOINT_SAFETY * err ** 2 / target_stderr ** 2 - 1.0)))))
            est = _pooled(est, _sp_information(c, labels, beta, n2, generator, "auto", method, True, plan))
            err = max(est.x_t.stderr, est.t_y.stderr)
        out.append(est)
    return out


def _by_counts(na: int, a: float, a_stderr: float, nb: int, b: float, b_stderr: float) -> tuple[float, float]:
    """Two independent estimates from na and nb samples pooled by their counts:
    ``(na a + nb b) / (na + nb)`` and its standard error
    ``√(na² s_a² + nb² s_b²) / (na + nb)``.

    >>> _by_counts(1, 0.0, 0.4, 1, 2.0, 0.3)
    (1.0, 0.25)
    """
    return (na * a + nb * b) / (na + nb), math.sqrt((na * a_stderr) ** 2 + (nb * b_stderr) ** 2) / (na + nb)


def _pooled(a: Information, b: Information) -> Information:
    """Two independent joint estimates pooled by their sample counts (every field)."""
    na, nb = a.n_mc, b.n_mc

    def pool(x, y):
        kw = {}
        for f in dataclasses.fields(x):
            u, v = getattr(x, f.name), getattr(y, f.name)
            if f.name.endswith("stderr"):
                kw[f.name] = _by_counts(na, 0.0, u, nb, 0.0, v)[1]
            elif isinstance(u, float):
                kw[f.name] = _by_counts(na, u, 0.0, nb, v, 0.0)[0]
            elif f.name.endswith("_path"):
                kw[f.name] = "nested" if "nested" in (u, v) else "exact"
        return dataclasses.replace(x, **kw)

    return Information(pool(a.x_t, b.x_t), pool(a.t_y, b.t_y), na + nb)


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
                  progress: bool = True, checkpoints=None, key: str | None = None) -> NetworkResults:
    """Train a noisy SZT network and measure it at ``network.epochs`` (Fig. 5, Fig. 6).

    At every measured epoch: ``n_x`` noisy passes of all 4096 inputs give S_ℓ for each
    layer; :func:`estimate_information` turns them into I(X; T_ℓ) and
    :func:`estimate_label_information` into I(T_ℓ; Y) (the information plane), each
    entropy of equation (1) from its own samples, ``n_mc`` for h(T_ℓ) and for each
    h(T_ℓ | Y = y); with ``network.target_stderr > 0`` (the full preset)
    :func:`estimate_information_jointly` gives both from one set of samples per layer,
    sized for that error (the same quantities, ~3× cheaper at n_x = 1000); one
    realization ``T_ℓ = S_ℓ + Z_ℓ`` per input gives H(Bin(T_ℓ)) (bins of
    ``bin_factor · β``) and, at the snapshot epochs, the within/between-class
    pairwise-distance histograms and the layer-5 snapshots; the weights are kept (to
    re-estimate any measured epoch later). Seeds: ``network.seed + 2`` for training,
    ``+ 3`` for I(X; T_ℓ) (and, jointly integrated, I(T_ℓ; Y)), binning and histograms,
    ``+ 5`` for the class-conditional entropies of I(T_ℓ; Y) when they are separate (so
    adding those left the other numbers unchanged).

    Parameters
    ----------
    network : NetworkConfig
        With ``beta > 0``.
    data : SZTData
    device : torch.device
    progress : bool
    checkpoints : Checkpoints, optional
        Save everything after each measured epoch under ``key``, and continue from
        the last one saved when there is one (the results are those of an
        uninterrupted run).
    key : str, optional
        Default ``"<name>/seed<seed>"``.

    Returns
    -------
    NetworkResults
    """
    if network.beta <= 0:
        raise ValueError(f"network.beta must be > 0 for the SP estimator, got {network.beta}")
    key = key or f"{network.name}/seed{network.seed}"
    t0 = time.perf_counter()
    data = data.to(device)
    train_gen = torch.Generator(device).manual_seed(network.seed + 2)
    est_gen = torch.Generator(device).manual_seed(network.seed + 3)
    label_gen = torch.Generator(device).manual_seed(network.seed + 5)
    edges = histogram_edges(network)  # (L, B + 1)
    edges_t = [torch.as_tensor(e, device=device) for e in edges]
    done = {"rows": [], "snaps": [], "hists": [], "states": [], "wall": 0.0}
    resume = checkpoints.load(key) if checkpoints is not None else None
    if resume is not None:
        est_gen.set_state(resume["est_gen"])
        label_gen.set_state(resume["label_gen"])
        done = from_state(resume["done"])
    bar = progress_bar(len(network.epochs), progress, f"{network.name} (seed {network.seed}): measured epochs")
    if bar is not None and done["rows"]:
        bar.update(len(done["rows"]))

    def measure(epoch, model, train_state):
        t_measure = time.perf_counter()
        samples = sample_representations(model, data.x, network.n_x, generator=est_gen)  # L × (4096, n_x, d)
        if network.target_stderr > 0:  # both informations from one set of samples per layer
            joint = estimate_information_jointly(samples, data.y, network.beta, n_mc=network.n_mc,
                                                 target_stderr=network.target_stderr, generator=est_gen)
            est, label = [j.x_t for j in joint], [j.t_y for j in joint]
        else:  # the entropies of equation (1), each from its own samples (I(T;Y)'s from label_gen)
            est = estimate_information(samples, network.beta, n_mc=network.n_mc, n_mc_given_x=network.n_mc_given_x,
                                       generator=est_gen)
            label = estimate_label_information(samples, data.y, network.beta, est, n_mc=network.n_mc,
                                               generator=label_gen)
        row = {k: [getattr(e, k) for e in est] for k in ("value", "stderr", "h_t", "h_t_given_x")}
        row["path"] = [int(e.h_t_path == "nested") for e in est]
        t_layers = []
        for s in samples:
            s0 = s[:, 0]  # (4096, d): one realization of S_ℓ
            t_layers.append(s0 + network.beta * torch.randn(s0.shape, generator=est_gen, device=device,
                                                            dtype=s0.dtype))  # (4096, d): T_ℓ
        bin_size = network.bin_factor * network.beta
        row["h_bin"] = [binned_entropy(t, bin_size=bin_size, value_range=_bin_range(t, network.activation))
                        for t in t_layers]
        if epoch in network.snapshot_epochs:
            done["snaps"].append(t_layers[-1].float().cpu().numpy())
            if network.histograms:
                hw, hb = zip(*(pairwise_distance_histograms(t, data.y, e, clip=True)
                               for t, e in zip(t_layers, edges_t)))
                done["hists"].append(([h.cpu().numpy() for h in hw], [h.cpu().numpy() for h in hb]))
        row["label_value"] = [e.value for e in label]
        row["label_stderr"] = [e.stderr for e in label]
        row["label_path"] = [int(e.h_t_given_y_path == "nested") for e in label]
        row["seconds"] = time.perf_counter() - t_measure
        done["rows"].append(row)
        done["states"].append({k: v.float().numpy() for k, v in train_state["model"].items()})
        if checkpoints is not None:
            done["wall"] = done.get("wall", 0.0) + (time.perf_counter() - t_start[0])
            t_start[0] = time.perf_counter()
            checkpoints.save(key, {"train": train_state, "est_gen": est_gen.get_state(),
                                   "label_gen": label_gen.get_state(), "done": to_state(done)})
        if bar is not None:
            bar.update(1)

    t_start = [t0]
    model, losses = train_network(network, data, generator=train_gen, callback=measure,
                                  resume=None if resume is None else resume["train"])
    if bar is not None:
        bar.close()
    rows, snaps, hists = done["rows"], done["snaps"], done["hists"]
    stack = lambda key: np.asarray([r[key] for r in rows], dtype=np.float64)  # noqa: E731  (E, L)
    if network.histograms:
        hw = np.asarray([h[0] for h in hists], dtype=np.int64)  # (S, L, B)
        hb = np.asarray([h[1] for h in hists], dtype=np.int64)
    else:
        hw = hb = np.zeros((0, len(HIDDEN_WIDTHS), network.hist_bins), dtype=np.int64)
    states = {k: np.stack([st[k] for st in done["states"]]).astype(np.float32) for k in done["states"][0]}
    return NetworkResults(
        config=network, epochs=np.asarray(network.epochs), mi=stack("value"), mi_stderr=stack("stderr"),
        h_t=stack("h_t"), h_t_given_x=stack("h_t_given_x"), h_bin=stack("h_bin"),
        mi_y=stack("label_value"), mi_y_stderr=stack("label_stderr"),
        loss_epochs=losses["epoch"], train_loss=losses["train_loss"], test_loss=losses["test_loss"],
        train_acc=losses["train_acc"], test_acc=losses["test_acc"],
        hist_edges=edges, hist_within=hw, hist_between=hb,
        snapshot_epochs=np.asarray([e for e in network.epochs if e in network.snapshot_epochs]),
        snapshots=np.asarray(snaps, dtype=np.float32).reshape(len(snaps), data.x.shape[0], HIDDEN_WIDTHS[-1]),
        labels=data.y.cpu().numpy(), epoch_states=states,
        final_state={k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
        wall_time_s=done.get("wall", 0.0) + time.perf_counter() - t_start[0],
        mi_path=np.asarray([r.get("path", [0] * len(HIDDEN_WIDTHS)) for r in rows], dtype=np.int8),
        mi_y_path=np.asarray([r.get("label_path", [0] * len(HIDDEN_WIDTHS)) for r in rows], dtype=np.int8),
        measure_seconds=np.asarray([r.get("seconds", np.nan) for r in rows], dtype=np.float32),
    )


def measure_deterministic(network: NetworkConfig, data: SZTData, device: torch.device, *,
                          progress: bool = True, checkpoints=None, key: str | None = None) -> DeterministicResults:
    """Train the deterministic SZT network (β = 0) and record, for every bin size of
    ``network.bin_sizes`` at ``network.epochs``, H(Bin(T_ℓ)) (Fig. 1 of the paper) and
    I(Bin(T_ℓ); Y) (the binned information plane of Shwartz-Ziv & Tishby).

    For a deterministic network and X uniform over 4096 distinct inputs,
    I(X; Bin(T_ℓ)) = H(Bin(T_ℓ)) ≤ ln 4096 ≈ 8.318, with equality once the bins are
    small enough to separate all 4096 representations; I(Bin(T_ℓ); Y) ≤ H(Y) ≤ ln 2.
    ``checkpoints`` and ``key`` as in :func:`measure_noisy`.
    """
    if not network.bin_sizes:
        raise ValueError("network.bin_sizes must list at least one bin size")
    key = key or f"{network.name}/seed{network.seed}"
    t0 = time.perf_counter()
    data = data.to(device)
    gen = torch.Generator(device).manual_seed(network.seed + 2)
    resume = checkpoints.load(key) if checkpoints is not None else None
    rows = [] if resume is None else resume["rows"].tolist()
    bar = progress_bar(len(network.epochs), progress, f"{network.name} (seed {network.seed}): measured epochs")

    def measure(epoch, model, train_state):
        layers = model.hidden_values(data.x)  # L × (4096, d_ℓ)
        rows.append([[[f(t, bin_size=b, value_range=_bin_range(t, network.activation)) for t in layers]
                      for b in network.bin_sizes]
                     for f in (binned_entropy, lambda t, **kw: binned_label_information(t, data.y, **kw))])  # (2, K, L)
        if checkpoints is not None:
            checkpoints.save(key, {"train": train_state, "rows": torch.tensor(rows, dtype=torch.float64)})
        if bar is not None:
            bar.update(1)

    _, losses = train_network(network, data, generator=gen, callback=measure,
                              resume=None if resume is None else resume["train"])
    if bar is not None:
        bar.close()
    rows = np.asarray(rows, dtype=np.float64)  # (E, 2, K, L)
    return DeterministicResults(
        config=network, epochs=np.asarray(network.epochs), bin_sizes=np.asarray(network.bin_sizes),
        h_bin=rows[:, 0], h_bin_y=rows[:, 1],  # (E, K, L) each
        loss_epochs=losses["epoch"], train_loss=losses["train_loss"],
        test_loss=losses["test_loss"], train_acc=losses["train_acc"], test_acc=losses["test_acc"],
        wall_time_s=time.perf_counter() - t0)


def _trained_model(result: NetworkResults, device: torch.device, generator: torch.Generator,
                   epoch: int | None = None) -> SZTNet:
    """The network of ``result`` after ``epoch`` (a measured one; None: the final
    weights) on ``device``, its noise drawn from ``generator``."""
    if epoch is None:
        state = result.final_state
    else:
        at = np.flatnonzero(np.asarray(result.epochs) == epoch)
        if at.size == 0:
            raise ValueError(f"epoch must be one of the measured epochs of {result.name}, got {epoch}")
        state = {k: v[at[0]] for k, v in result.epoch_states.items()}
    model = SZTNet(result.config.activation, result.config.beta, generator=generator)
    model.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in state.items()})
    return model.to(device)


def dpi_realizations(result: NetworkResults, n_x_values, *, n_mc: int, n_mc_given_x: int, seed: int = 0,
                     epoch: int | None = None, target_stderr: float = 0.0, device=None,
                     progress: bool = True) -> DPIResults:
    """The data-processing inequality and the realization bias as checks on the estimator.

    Re-estimates I(X; T_ℓ) for the network of ``result`` (its final weights, or those
    after the measured ``epoch``) with each number of realizations per input in
    ``n_x_values``. The DPI demands I(X; T_{ℓ+1}) ≤ I(X; T_ℓ); with too few
    realizations the conditional mixtures h(T_ℓ | X = x) of deep layers are
    underestimated (a plug-in entropy is biased down), I is overestimated, and deeper
    layers can appear to carry *more* information than shallower ones. The gap to the
    largest ``n_x`` measures the bias at each smaller one.

    Parameters
    ----------
    result : NetworkResults
        With ``final_state`` (and ``epoch_states`` for ``epoch``).
    n_x_values : sequence of int
    n_mc, n_mc_given_x : int
        Monte Carlo sizes of :func:`estimate_information`.
    target_stderr : float
        As for :func:`choose_n_mc` (0: ``n_mc`` samples for every h(T_ℓ)).
    seed : int
        Seed of the noise and the Monte Carlo samples.
    epoch : int, optional
        A measured epoch of ``result``; default: the final network (epoch ``n_epochs``).
    device : str or torch.device, optional
        Default: CUDA when available (:func:`~infoflow_core.experiments.resolve_device`).
    progress : bool
    """
    device = resolve_device(device)
    gen = torch.Generator(device).manual_seed(seed)
    model = _trained_model(result, device, gen, epoch)
    x = szt_data(result.config.data_seed).x.to(device)  # (4096, 12)
    beta = result.config.beta
    rows = []
    for n_x in progress_iter(list(n_x_values), progress, desc=f"realizations, epoch {epoch or 'final'}"):
        samples = sample_representations(model, x, int(n_x), generator=gen)
        n = choose_n_mc(samples, beta, n_mc, target_stderr, gen)
        m = choose_n_mc_given_x(samples, beta, n_mc_given_x, target_stderr, gen)
        rows.append(estimate_information(samples, beta, n_mc=n, n_mc_given_x=m, generator=gen,
                                         target_stderr=target_stderr, n_mc_max=n_mc))
    get = lambda k: np.asarray([[getattr(e, k) for e in r] for r in rows])  # noqa: E731  (M, L)
    return DPIResults(network=result.name, epoch=int(result.config.n_epochs if epoch is None else epoch), beta=beta,
                      n_x=np.asarray(list(n_x_values)), mi=get("value"), mi_stderr=get("stderr"),
                      h_t=get("h_t"), h_t_given_x=get("h_t_given_x"))
