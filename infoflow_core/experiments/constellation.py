"""The AWGN-constellation view (Section 4 of the paper), chapter
``book/03_constellation.ipynb``.

When ``S`` is a deterministic function of a discrete ``X`` (a noisy layer's input
given the data), ``I(X; T) = I(S; S + Z)`` with ``Z ~ N(0, β² I)``: the information
sent over an additive white Gaussian noise channel whose input *constellation* is
the set of representations ``{s_1, …, s_n}``, used with equal probabilities. The
output law is the mixture ``(1/n) Σ_i N(s_i, β² I)``, so

    I = h((1/n) Σ_i N(s_i, β² I)) − (d/2) ln(2πeβ²),

between 0 (one point) and ``ln n`` (all points resolvable). When points form ``K``
tight, well-separated clusters, ``I ≈ ln K`` for β between the clusters' width and
their spacing: "the log of the number of resolvable clusters".

Constellations here are pulse-amplitude (1-D, ``n`` points at spacing ``Δ``) or
square (2-D, ``m × m`` points) grids whose consecutive points are grouped into ``K``
clusters; a *merge* amount ``μ ∈ [0, 1]`` moves every point a fraction ``μ`` of the
way to its cluster's mean (``μ = 0``: the plain grid; ``μ = 1``: ``K`` points).

The experiment (:func:`run_constellation`, configuration :class:`ConstellationConfig`,
results :class:`ConstellationResults`) computes ``I(S; S + Z)`` with its bounds for
every merge amount and β, in 1-D (exact) and 2-D (Monte Carlo); ``python -m
infoflow_core constellation`` runs it from the command line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .._validation import check_beta, check_positive, check_positive_int
from ..entropy import gaussian_entropy, gm_entropy, gm_entropy_1d, gm_entropy_bounds
from ..results import ExperimentResults, Provenance, load_or_run
from ._common import Experiment, ExperimentConfig, progress_iter, resolve_device

__all__ = [
    "clustered_constellation",
    "constellation_information",
    "ConstellationInformation",
    "gaussian_channel_capacity",
    "ConstellationConfig",
    "ConstellationResults",
    "Sweep",
    "run_constellation",
    "constellation_results",
    "EXPERIMENT",
]


def clustered_constellation(n_points: int, n_clusters: int, *, spacing: float = 1.0,
                            merge: float = 0.0, dim: int = 1) -> np.ndarray:
    """A grid constellation whose points are pulled towards ``n_clusters`` cluster means.

    Parameters
    ----------
    n_points : int
        Points per axis: ``n_points`` points (``dim = 1``) or ``n_points²`` (``dim = 2``).
    n_clusters : int
        Clusters per axis; must divide ``n_points``. Consecutive points form a cluster.
    spacing : float
        Distance between neighbouring grid points (Δ > 0).
    merge : float
        ``μ ∈ [0, 1]``: each point moves to ``(1 − μ)·s + μ·(its cluster mean)``.
    dim : int
        1 (pulse-amplitude) or 2 (square, the product of two 1-D constellations).

    Returns
    -------
    ndarray of float64, shape (n_points**dim, dim)
        Centred on the origin.

    Examples
    --------
    >>> clustered_constellation(4, 2, merge=1.0)[:, 0].tolist()
    [-1.0, -1.0, 1.0, 1.0]
    """
    n_points = check_positive_int(n_points, "n_points")
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    if n_points % n_clusters:
        raise ValueError(f"n_clusters={n_clusters} must divide n_points={n_points}")
    spacing = check_positive(spacing, "spacing")
    merge = float(merge)
    if not 0.0 <= merge <= 1.0:
        raise ValueError(f"merge must lie in [0, 1], got {merge}")
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    grid = spacing * (np.arange(n_points) - (n_points - 1) / 2)  # (n,)
    means = grid.reshape(n_clusters, -1).mean(axis=1)  # (K,)
    axis = (1 - merge) * grid + merge * np.repeat(means, n_points // n_clusters)  # (n,)
    if dim == 1:
        return axis[:, None]  # (n, 1)
    a, b = np.meshgrid(axis, axis, indexing="ij")  # (n, n) each
    return np.stack([a.ravel(), b.ravel()], axis=1)  # (n², 2)


def gaussian_channel_capacity(power: float, beta: float, dim: int = 1) -> float:
    """``(d/2) ln(1 + P/β²)``: the information (nats) of a Gaussian input of per-axis
    variance ``P`` over the channel; no input of that variance carries more.

    >>> round(gaussian_channel_capacity(3.0, 1.0), 6)  # ½ ln 4
    0.693147
    """
    return 0.5 * dim * math.log1p(power / check_beta(beta) ** 2)


@dataclass(frozen=True)
class ConstellationInformation:
    """``I(S; S + Z)`` of one constellation and its Kolchinsky–Tracey bounds, in nats.

    Attributes
    ----------
    mi : float
        The information (exact quadrature in 1-D, Monte Carlo in 2-D and above).
    stderr : float
        Its Monte Carlo standard error (0 in 1-D).
    lower, upper : float
        The bounds on ``h(S + Z)`` minus ``h(Z)``.
    """

    mi: float
    stderr: float
    lower: float
    upper: float


def constellation_information(points, beta: float, *, n_mc: int = 20000,
                              generator: torch.Generator | None = None) -> ConstellationInformation:
    """``I(S; S + Z)`` for ``S`` uniform on ``points``, with the Kolchinsky–Tracey bounds.

    Parameters
    ----------
    points : array or Tensor, shape (n, d)
        The constellation (a tensor stays on its device; Monte Carlo runs there).
    beta : float
        Noise standard deviation.
    n_mc : int
        Monte Carlo samples when ``d ≥ 2`` (1-D uses exact quadrature).
    generator : torch.Generator, optional
        Source of the Monte Carlo samples (on the points' device).

    Returns
    -------
    ConstellationInformation
        ``mi`` and ``stderr`` (0 in 1-D), ``lower`` and ``upper`` (the bounds minus
        ``h(Z)``), all in nats.

    Examples
    --------
    >>> r = constellation_information(clustered_constellation(4, 4), 0.01)  # 4 points, far apart
    >>> round(r.mi, 6), round(r.lower, 6), round(r.upper, 6)
    (1.386294, 1.386294, 1.386294)
    """
    beta = check_beta(beta)
    if isinstance(points, torch.Tensor):
        c = points.to(torch.float64)
    else:
        c = torch.as_tensor(np.asarray(points, dtype=np.float64))
    if c.dim() != 2 or c.numel() == 0:
        raise ValueError(f"points must have shape (n, d), got {tuple(c.shape)}")
    d = c.shape[1]
    h_z = gaussian_entropy(d, beta)
    if d == 1:
        mi, se = gm_entropy_1d(c[:, 0], beta) - h_z, 0.0
    else:
        est = gm_entropy(c, beta, n_mc=n_mc, generator=generator)
        mi, se = est.value - h_z, est.stderr
    lo, up = gm_entropy_bounds(c, beta)
    return ConstellationInformation(mi=float(mi), stderr=float(se), lower=float(lo - h_z), upper=float(up - h_z))


@dataclass(frozen=True, kw_only=True)
class ConstellationConfig(ExperimentConfig):
    """Everything that defines a run of :func:`run_constellation`.

    A 16-point 1-D constellation in 4 clusters, a 6 × 6 2-D one in 3 × 3 clusters,
    41 values of β over four decades (17 in 2-D) and 11 merge amounts; only the
    Monte Carlo sample count of the 2-D sweep changes with the scale.

    Attributes
    ----------
    seed : int
        Seed of the generator of the 2-D Monte Carlo samples.
    n_points, n_clusters : int
        Points and clusters of the 1-D constellation.
    n_points_2d, n_clusters_2d : int
        Points and clusters per axis of the 2-D constellation.
    spacing : float
        Grid spacing Δ.
    betas, betas_2d : tuple of float
        Noise levels of the 1-D and 2-D sweeps.
    merges : tuple of float
        Merge amounts μ in [0, 1].
    n_mc : int
        Monte Carlo samples of each 2-D estimate.

    Examples
    --------
    >>> c = ConstellationConfig.for_scale("quick")
    >>> c.n_mc, len(c.betas), len(c.betas_2d), c.merges[:3]
    (4000, 41, 17, (0.0, 0.1, 0.2))
    """

    PRESETS: ClassVar[dict] = {"quick": dict(n_mc=4000), "book": {}, "full": dict(n_mc=100000)}

    seed: int = 2019
    n_points: int = 16
    n_clusters: int = 4
    n_points_2d: int = 6
    n_clusters_2d: int = 3
    spacing: float = 1.0
    betas: tuple = tuple(np.round(np.logspace(-2, 2, 41), 6).tolist())
    betas_2d: tuple = tuple(np.round(np.logspace(-2, 2, 17), 6).tolist())
    merges: tuple = tuple(round(0.1 * i, 1) for i in range(11))
    n_mc: int = 20000

    def validate(self) -> None:
        for name in ("n_points", "n_clusters", "n_points_2d", "n_clusters_2d"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.n_mc, "n_mc", minimum=2)
        for n, k, names in ((self.n_points, self.n_clusters, "n_clusters, n_points"),
                            (self.n_points_2d, self.n_clusters_2d, "n_clusters_2d, n_points_2d")):
            if n % k:
                raise ValueError(f"{names.split(', ')[0]}={k} must divide {names.split(', ')[1]}={n}")
        check_positive(self.spacing, "spacing")
        for name in ("betas", "betas_2d"):
            if not getattr(self, name):
                raise ValueError(f"{name} must hold at least one β")
            for beta in getattr(self, name):
                check_beta(beta, name)
        if not self.merges or not all(0.0 <= m <= 1.0 for m in self.merges):
            raise ValueError(f"merges must be numbers in [0, 1], got {self.merges!r}")


@dataclass(frozen=True)
class Sweep:
    """``I(S; S+Z)`` over a grid of merge amounts and β, for one constellation family
    (a view of :class:`ConstellationResults`, from :meth:`ConstellationResults.sweep`).

    Attributes
    ----------
    dim : int
        1 (pulse-amplitude, exact quadrature) or 2 (square grid, Monte Carlo).
    betas : ndarray, shape (B,)
    merges : ndarray, shape (M,)
    points : ndarray, shape (M, n, dim)
        The constellation at each merge amount.
    mi, stderr, lower, upper : ndarray, shape (M, B)
        Information, its standard error (0 in 1-D), and the Kolchinsky–Tracey bounds
        on it, in nats.
    n_points, n_clusters : int
        Total points ``n`` and clusters ``K`` (``ln n`` and ``ln K`` are the plateaus).
    """

    dim: int
    betas: np.ndarray
    merges: np.ndarray
    points: np.ndarray
    mi: np.ndarray
    stderr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_points: int
    n_clusters: int

    def merge_index(self, merge: float) -> int:
        """Index of ``merge`` in ``merges`` (``ValueError`` when it is not there)."""
        j = int(np.argmin(np.abs(self.merges - merge)))
        if abs(self.merges[j] - merge) > 1e-9:
            raise ValueError(f"merge={merge} is not among the precomputed {self.merges.tolist()}")
        return j

    def beta_index(self, beta: float) -> int:
        """Index of the precomputed β nearest to ``beta`` (on a log scale)."""
        return int(np.argmin(np.abs(np.log(self.betas / beta))))

    def at(self, merge: float, beta: float) -> float:
        """The stored information at ``merge`` and the nearest precomputed β."""
        return float(self.mi[self.merge_index(merge), self.beta_index(beta)])


@dataclass(kw_only=True)
class ConstellationResults(ExperimentResults):
    """What :func:`run_constellation` computed: the 1-D and 2-D sweeps (use
    :meth:`sweep` for either).

    Attributes
    ----------
    config : ConstellationConfig
    merges : ndarray, shape (M,)
    betas_1d, betas_2d : ndarray, shape (B1,) and (B2,)
    points_1d : ndarray, shape (M, n, 1)
    points_2d : ndarray, shape (M, m², 2)
    mi_1d, stderr_1d, lower_1d, upper_1d : ndarray, shape (M, B1)
        Exact information (quadrature; ``stderr_1d`` is 0) and Kolchinsky–Tracey bounds, nats.
    mi_2d, stderr_2d, lower_2d, upper_2d : ndarray, shape (M, B2)
        Monte Carlo information, its standard error, and the bounds, nats.
    provenance : Provenance
    """

    experiment: ClassVar[str] = "constellation"
    config_type: ClassVar[type] = ConstellationConfig
    ARRAYS: ClassVar[tuple[str, ...]] = ("merges", "betas_1d", "points_1d", "mi_1d", "stderr_1d", "lower_1d",
                                         "upper_1d", "betas_2d", "points_2d", "mi_2d", "stderr_2d", "lower_2d",
                                         "upper_2d")

    merges: np.ndarray
    betas_1d: np.ndarray
    points_1d: np.ndarray
    mi_1d: np.ndarray
    stderr_1d: np.ndarray
    lower_1d: np.ndarray
    upper_1d: np.ndarray
    betas_2d: np.ndarray
    points_2d: np.ndarray
    mi_2d: np.ndarray
    stderr_2d: np.ndarray
    lower_2d: np.ndarray
    upper_2d: np.ndarray

    def sweep(self, dim: int) -> Sweep:
        """The 1-D (``dim = 1``) or 2-D (``dim = 2``) sweep."""
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim!r}")
        c = self.config
        n, k = (c.n_points, c.n_clusters) if dim == 1 else (c.n_points_2d ** 2, c.n_clusters_2d ** 2)
        get = lambda name: getattr(self, f"{name}_{dim}d")  # noqa: E731
        return Sweep(dim, get("betas"), self.merges, get("points"), get("mi"), get("stderr"), get("lower"),
                     get("upper"), n_points=n, n_clusters=k)

    def summary(self) -> dict:
        """Headline numbers: ``ln n``, ``ln K`` and the information range of each sweep."""
        out = {}
        for dim in (1, 2):
            s = self.sweep(dim)
            out[f"{dim}d"] = {"ln_n": math.log(s.n_points), "ln_k": math.log(s.n_clusters),
                              "mi_min": float(s.mi.min()), "mi_max": float(s.mi.max())}
        return out


def _sweep_arrays(config: ConstellationConfig, dim: int, generator, device, progress: bool) -> dict:
    """Points, information and bounds of one family for every (merge, β) pair."""
    n, k, betas = ((config.n_points, config.n_clusters, config.betas) if dim == 1
                   else (config.n_points_2d, config.n_clusters_2d, config.betas_2d))
    betas = np.asarray(betas, dtype=np.float64)
    pts = np.stack([clustered_constellation(n, k, spacing=config.spacing, merge=m, dim=dim)
                    for m in config.merges])  # (M, n**dim, dim)
    pts_t = torch.from_numpy(pts).to(device)
    out = np.empty((4, len(config.merges), len(betas)))  # mi, stderr, lower, upper
    jobs = [(a, b) for a in range(len(config.merges)) for b in range(len(betas))]
    for a, b in progress_iter(jobs, progress, desc=f"{dim}-D constellations", leave=False):
        r = constellation_information(pts_t[a], betas[b], n_mc=config.n_mc, generator=generator)
        out[:, a, b] = r.mi, r.stderr, r.lower, r.upper
    names = ("mi", "stderr", "lower", "upper")
    return {f"betas_{dim}d": betas, f"points_{dim}d": pts, **{f"{v}_{dim}d": out[i] for i, v in enumerate(names)}}


def run_constellation(config: ConstellationConfig, *, device=None, progress: bool = True) -> ConstellationResults:
    """Information and bounds for every (merge, β) pair of ``config``, in 1-D (exact
    quadrature) and then 2-D (Monte Carlo, from a generator seeded with ``config.seed``).

    Parameters
    ----------
    config : ConstellationConfig
    device : torch.device or str, optional
        Where the bounds and the Monte Carlo run
        (:func:`~infoflow_core.experiments.resolve_device`: ``None`` is CUDA when
        available). The chapter uses the CPU: the same numbers on every machine.
    progress : bool
        Show progress bars.

    Returns
    -------
    ConstellationResults

    Examples
    --------
    >>> cfg = ConstellationConfig.for_scale("quick", betas=(0.01, 1.0), betas_2d=(0.01,), merges=(0.0, 1.0),
    ...                                      n_mc=200)
    >>> r = run_constellation(cfg, device="cpu", progress=False)
    >>> s = r.sweep(1)
    >>> s.mi.shape, round(s.at(0.0, 0.01), 3), round(s.at(1.0, 0.01), 3), r.sweep(2).mi.shape
    ((2, 2), 2.773, 1.386, (2, 1))
    """
    if not isinstance(config, ConstellationConfig):
        raise ValueError(f"config must be a ConstellationConfig, got {type(config).__name__}")
    device = resolve_device(device)
    start = time.perf_counter()
    generator = torch.Generator(device=device).manual_seed(config.seed)
    arrays = _sweep_arrays(config, 1, generator, device, progress)
    arrays.update(_sweep_arrays(config, 2, generator, device, progress))
    return ConstellationResults(config=config, merges=np.asarray(config.merges, dtype=np.float64),
                                provenance=Provenance.now(device, time.perf_counter() - start), **arrays)


EXPERIMENT = Experiment("constellation", "Section 4: I(S; S+Z) of clustered constellations", ConstellationConfig,
                        ConstellationResults, run_constellation)


def constellation_results(scale: str | None = None, *, results_dir=None, recompute: bool = False, device=None,
                          progress: bool = True) -> ConstellationResults:
    """The chapter's :class:`ConstellationResults` at ``scale`` (default
    ``INFOFLOW_SCALE``), by :func:`~infoflow_core.results.load_or_run`: a stored run of
    the code's configuration from ``<results_dir>/constellation/``, or
    :func:`run_constellation` (seconds; the 2-D Monte Carlo dominates)."""
    return load_or_run(EXPERIMENT, ConstellationConfig.for_scale(scale), results_dir=results_dir,
                       recompute=recompute, device=device, progress=progress)
