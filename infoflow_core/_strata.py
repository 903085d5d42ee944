"""Stratified sampling of Gaussian-mixture components and the statistics of its
samples: what the single-process estimator (:mod:`.entropy`) and the distributed one
(:mod:`._distributed`) share. Both import this module; it imports neither (nor any
other module of the package), so the import graph has no cycle.

>>> _block_bounds(10, 4, "cpu").tolist()
[0, 2, 5, 7, 10]
"""

from __future__ import annotations

import math

import torch

__all__: list[str] = []


def _block_bounds(n: int, n_mc: int, device) -> torch.Tensor:
    """Start of each of the ``n_mc`` contiguous blocks of components (and ``n`` at the end),
    shape (n_mc + 1,): block k is ``[k·n // n_mc, (k+1)·n // n_mc)``, sizes differing by at
    most one."""
    return torch.arange(n_mc + 1, device=device) * n // n_mc


def _stratified_indices(B: int, n: int, n_mc: int, generator, device,
                        positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Components of the ``n_mc`` samples of each of ``B`` mixtures of ``n`` components.

    With at least as many samples as components, every component gets ``m = n_mc // n``
    samples and the ``r = n_mc mod n`` others go to distinct components chosen uniformly
    at random. With fewer (``m = 0``), the components are cut into ``n_mc`` contiguous
    blocks (:func:`_block_bounds`) and sample k is drawn from a uniformly chosen component
    of block k: stratified over blocks, so when the order of the components means
    something (the SP estimator lists the realizations input by input) the samples
    are spread over the inputs instead of landing where chance puts them.
    ``positions`` (the sample positions to draw, default all) serves the distributed
    estimator. Returns ``idx`` (B, len(positions)), per-component counts (B, n) of the
    drawn samples, and m.
    """
    m, r = divmod(n_mc, n)
    if m == 0:
        pos = torch.arange(n_mc, device=device) if positions is None else positions
        bounds = _block_bounds(n, n_mc, device)
        lo, size = bounds[pos], bounds[pos + 1] - bounds[pos]  # (p,) each
        u = torch.rand(B, pos.shape[0], generator=generator, device=device, dtype=torch.float64)
        idx = lo + torch.minimum((u * size).long(), size - 1)  # (B, p)
    else:
        parts = []
        parts.append(torch.arange(n, device=device).repeat(m).expand(B, m * n))  # (B, m·n)
        if r:
            perm = torch.rand(B, n, generator=generator, device=device).argsort(dim=-1)  # (B, n)
            parts.append(perm[:, :r])  # (B, r)
        idx = torch.cat(parts, dim=1)  # (B, n_mc)
        if positions is not None:
            idx = idx[:, positions]
    counts = torch.zeros(B, n, device=device, dtype=torch.long)
    counts.scatter_add_(1, idx, torch.ones_like(idx))
    return idx, counts, m


def _pair_sums(v: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``Σ_pairs w̄² (v_a − v_b)²`` over consecutive pairs of samples (b, p) and the
    number of pairs (an odd last sample is left out)."""
    q = v.shape[1] // 2 * 2
    wbar = 0.5 * (weights[0:q:2] + weights[1:q:2])
    return (wbar ** 2 * (v[:, 0:q:2] - v[:, 1:q:2]) ** 2).sum(dim=1), q // 2


def _collapsed_pairs_var(v: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Variance estimate of ``Σ_k weights_k v_k`` with one sample per stratum (b, p):
    strata paired in order, each pair contributing ``w̄² (v_a − v_b)²`` (the collapsed-
    strata estimator: conservative, by the squared differences of the paired strata's
    means, small for neighbouring blocks); an odd last stratum is counted by scaling."""
    sums, pairs = _pair_sums(v, weights)
    if pairs == 0:
        return torch.full((v.shape[0],), math.inf, dtype=torch.float64, device=v.device)
    return sums * (v.shape[1] / (2 * pairs))


def own_component_term(noise: torch.Tensor) -> torch.Tensor:
    """The control variate of a mixture-entropy sample: ``‖z‖²/2 − d/2`` per sample.

    A sample ``G = c_i + βz`` of a Gaussian mixture has ``−ln p(G) = ln n +
    (d/2) ln(2πβ²) + ‖z‖²/2`` exactly when its own component dominates the density
    (separated components), and the same up to a constant when all components
    coincide. ``‖z‖²/2`` has the known mean ``d/2`` whatever the mixture, so
    subtracting ``‖z‖²/2 − d/2`` leaves the estimator unbiased and removes the
    sample's own-component variance (all of it in those two limits).

    Parameters
    ----------
    noise : Tensor, shape (..., d)
        The standard normal draws z.

    Returns
    -------
    Tensor, shape (...), float64

    >>> own_component_term(torch.tensor([[3.0, 4.0]], dtype=torch.float64))
    tensor([11.5000], dtype=torch.float64)
    """
    return 0.5 * noise.to(torch.float64).pow(2).sum(dim=-1) - 0.5 * noise.shape[-1]


def _centred_products(v: torch.Tensor, w: torch.Tensor, idx: torch.Tensor, counts: torch.Tensor,
                      m: int) -> tuple[float, float]:
    """Σ (v − v̄)(w − w̄) and Σ (w − w̄)² over a block of samples (b, n_mc), the means
    taken per stratum (component) when every stratum has ≥ 2 samples (``m ≥ 2``), else
    per mixture: the pieces of the pooled control-variate coefficient."""
    if m >= 2:
        k = counts.to(torch.float64)
        centre = lambda x: x - torch.gather(torch.zeros_like(k).scatter_add_(1, idx, x) / k, 1, idx)  # noqa: E731
    else:
        centre = lambda x: x - x.mean(dim=1, keepdim=True)  # noqa: E731
    vc, wc = centre(v), centre(w)
    return float((vc * wc).sum()), float((wc * wc).sum())


def _stratified_mean_var(v: torch.Tensor, idx: torch.Tensor, counts: torch.Tensor, n: int,
                         n_mc: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The stratified estimate of ``E v`` per mixture and its variance, shape (b,) each.

    ``v`` (b, n_mc) are the values of the samples, drawn from components ``idx``
    (b, n_mc) by :func:`_stratified_indices`: with ``m = n_mc // n ≥ 1`` every component
    is a stratum (``counts`` (b, n) samples each); with ``m = 0`` every block of
    components is a stratum with one sample, weighing its share of the components.
    """
    b = v.shape[0]
    m = n_mc // n
    if m == 0:
        bounds = _block_bounds(n, n_mc, v.device)
        w = (bounds[1:] - bounds[:-1]).to(torch.float64) / n  # (n_mc,) block weights, sum 1
        return (v * w).sum(dim=1), _collapsed_pairs_var(v, w)
    cnt = torch.gather(counts, 1, idx).to(torch.float64)  # (b, n_mc)
    est = (v / (n * cnt)).sum(dim=1)  # stratified weights; each component weighs 1/n
    if m >= 2:
        # Stratified variance: Σ_i s_i² / (n² k_i), s_i² the sample variance in stratum i.
        k = counts.to(torch.float64)
        means = torch.zeros(b, n, dtype=torch.float64, device=v.device).scatter_add_(1, idx, v) / k  # (b, n)
        dev2 = (v - torch.gather(means, 1, idx)) ** 2  # (b, n_mc)
        ss = torch.zeros(b, n, dtype=torch.float64, device=v.device).scatter_add_(1, idx, dev2)
        var = (ss / (k - 1.0) / (n * n * k)).sum(dim=1)
    else:
        # One or two samples in a stratum: the i.i.d. formula (an upper bound).
        var = v.var(dim=1, unbiased=True) / n_mc
    return est, var
