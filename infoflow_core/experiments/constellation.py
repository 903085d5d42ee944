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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_beta, check_positive_int
from ..entropy import gaussian_entropy, gm_entropy, gm_entropy_1d, gm_entropy_bounds

__all__ = [
    "clustered_constellation",
    "constellation_information",
    "ConstellationSweep",
    "constellation_config",
    "run_constellation_sweep",
    "gaussian_channel_capacity",
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
    spacing = check_beta(spacing, "spacing")
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
    """``(d/2) ln(1 + P/β²)``: the information of a Gaussian input of per-axis variance
    ``P`` over the channel; no input of that variance carries more."""
    return 0.5 * dim * math.log1p(power / check_beta(beta) ** 2)


def constellation_information(points, beta: float, *, n_mc: int = 20000,
                              generator: torch.Generator | None = None) -> dict:
    """``I(S; S + Z)`` for ``S`` uniform on ``points``, with the Kolchinsky–Tracey bounds.

    Parameters
    ----------
    points : array, shape (n, d)
        The constellation.
    beta : float
        Noise standard deviation.
    n_mc : int
        Monte Carlo samples when ``d ≥ 2`` (1-D uses exact quadrature).
    generator : torch.Generator, optional
        Source of the Monte Carlo samples.

    Returns
    -------
    dict
        ``mi`` and ``stderr`` (0 in 1-D), ``lower`` and ``upper`` (the bounds minus
        ``h(Z)``), all in nats.
    """
    beta = check_beta(beta)
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
    return {"mi": mi, "stderr": se, "lower": lo - h_z, "upper": up - h_z}


def constellation_config(scale: str) -> dict:
    """Sizes for the chapter at ``scale``: a 16-point 1-D constellation in 4 clusters,
    a 6 × 6 2-D one in 3 × 3 clusters, 41 values of β over four decades and 11 merge
    amounts; only the Monte Carlo sample count changes with the scale."""
    n_mc = {"quick": 4000, "book": 20000, "full": 100000}.get(scale)
    if n_mc is None:
        raise ValueError(f"scale must be 'quick', 'book' or 'full', got {scale!r}")
    return dict(scale=scale, n_points=16, n_clusters=4, n_points_2d=6, n_clusters_2d=3,
                spacing=1.0, betas=np.round(np.logspace(-2, 2, 41), 6).tolist(),
                betas_2d=np.round(np.logspace(-2, 2, 17), 6).tolist(),
                merges=[round(0.1 * i, 1) for i in range(11)], n_mc=n_mc)


@dataclass
class ConstellationSweep:
    """``I(S; S+Z)`` over a grid of β and merge amounts, for one constellation family.

    Attributes
    ----------
    config : dict
    dim : int
    betas : ndarray, shape (B,)
    merges : ndarray, shape (M,)
    points : ndarray, shape (M, n, dim)
        The constellation at each merge amount.
    mi, stderr, lower, upper : ndarray, shape (M, B)
        Information (exact in 1-D, Monte Carlo in 2-D), its standard error, and the
        Kolchinsky–Tracey bounds on it, in nats.
    n_points, n_clusters : int
        Total points ``n`` and clusters ``K`` (``ln n`` and ``ln K`` are the plateaus).
    """

    config: dict
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
    source: str = field(default="computed in this session")

    def merge_index(self, merge: float) -> int:
        j = int(np.argmin(np.abs(self.merges - merge)))
        if abs(self.merges[j] - merge) > 1e-9:
            raise ValueError(f"merge={merge} is not among the precomputed {self.merges.tolist()}")
        return j

    def at(self, merge: float, beta: float) -> float:
        """The stored information at the nearest precomputed β for a given merge."""
        return float(self.mi[self.merge_index(merge), int(np.argmin(np.abs(np.log(self.betas / beta))))])


def run_constellation_sweep(config: dict, *, dim: int = 1, generator: torch.Generator | None = None,
                            progress: bool = True) -> ConstellationSweep:
    """Information and bounds for every (merge, β) pair of ``config`` (1-D or 2-D)."""
    from tqdm.auto import tqdm

    if dim == 1:
        n, k, betas = config["n_points"], config["n_clusters"], config["betas"]
    elif dim == 2:
        n, k, betas = config["n_points_2d"], config["n_clusters_2d"], config["betas_2d"]
    else:
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    betas = np.asarray(betas, dtype=np.float64)
    merges = np.asarray(config["merges"], dtype=np.float64)
    pts = np.stack([clustered_constellation(n, k, spacing=config["spacing"], merge=m, dim=dim)
                    for m in merges])  # (M, n**dim, dim)
    out = np.empty((4, len(merges), len(betas)))  # mi, stderr, lower, upper
    jobs = [(a, b) for a in range(len(merges)) for b in range(len(betas))]
    for a, b in tqdm(jobs, desc=f"{dim}-D constellations", disable=not progress, leave=False):
        r = constellation_information(pts[a], betas[b], n_mc=config["n_mc"], generator=generator)
        out[:, a, b] = r["mi"], r["stderr"], r["lower"], r["upper"]
    return ConstellationSweep(config, dim, betas, merges, pts, *out, n_points=n ** dim, n_clusters=k ** dim)
