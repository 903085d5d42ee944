"""Mixture entropies of crowded mixtures: the density at each sample from subsets of the
centres (nested Monte Carlo), with the Jensen bias of the log removed and bounded.

The SP estimator's ``h(T_ℓ)`` is the entropy of ``p = (1/n) Σ_j N(c_j, β² I)`` with
``n = n_inputs · n_x`` centres (4·10⁶ at the paper's scale). The exact path sums all
``n`` kernels at every Monte Carlo sample, skipping only those that cannot matter
(:mod:`._kernels_pruned`); when representations crowd (an untrained network's deep
layers: every sample has millions of centres within reach) nothing can be skipped.
There ``p(G)`` is an average of very many comparable terms, so it can be estimated
from a small subset of them with a small, measurable error. For a sample ``G`` drawn
from component ``i``:

* the components are cut into ``s`` contiguous blocks (:func:`._strata._block_bounds`;
  the SP estimator lists the realizations input by input, so a block is one input's
  realizations when ``s = n_inputs``);
* ``G``'s own block is summed exactly (every component of it), so near-separated
  components, where ``p(G)`` is dominated by its own, lose nothing;
* every other block ``b`` is represented by one uniformly chosen component, weighted
  by ``|b| / n``: one *group* is such a choice for all blocks, an unbiased estimate
  ``S_g(G)`` of ``p(G)``; ``groups`` independent groups give their mean ``Ŝ`` and its
  relative variance ``ρ = var_g(S_g) / (groups · Ŝ²)``;
* the value of the sample is ``−ln Ŝ − ρ/2`` (the delta-method correction of
  ``E ln Ŝ ≈ ln p − ρ/2``); what second-order bias is left is bounded per sample by
  ``ρ^{3/2} + ρ²`` (the next terms of ``−ln(1 + δ)``, δ = Ŝ/p − 1, with room for a
  skewed δ: for a normal δ they are ``0.53 ρ^{3/2}`` and ``0.75 ρ²``), and the bound's
  weighted mean over samples, ``bias_bound``, is *added* to the standard error.

The samples are split into ``replicates`` interleaved sets (sample ``k`` goes to set
``k mod replicates``: each set spreads over all inputs), each scored against its own
independent groups, so the estimates of the sets are independent given the centres:
their spread gives a standard error that includes the subsets' error as well as the
Monte Carlo error (conservative: the sets also differ by which strata they hold).

Cost per sample: ``groups · s + n/s`` kernel evaluations instead of up to ``n``.
``method="auto"`` (:func:`choose_nested`) takes this path only when a pilot shows it
both cheaper and accurate (mean correction below :data:`NESTED_MAX_CORRECTION`).

All components coincide: h = h(N(0, β²I)) = ln(2πe) for d = 2, β = 1; every group's
estimate is exact (ρ = 0), and the control variate removes all Monte Carlo variance:

>>> c = torch.zeros(1 << 12, 2, dtype=torch.float64)
>>> val, err, info = nested_entropy(c, 1.0, 256, torch.Generator().manual_seed(0), subset=64, replicates=8)
>>> abs(val - math.log(2 * math.pi * math.e)) < 1e-12, err < 1e-12, info["terms_per_sample"]  # 4·64 + 4096/64
(True, True, 320)
"""

from __future__ import annotations

import math

import torch

from . import _cpu_pool, _native
from ._kernels import _dense_tasks, log_kernel_sums
from ._kernels_pruned import PRUNE_LOG_TOLERANCE
from ._strata import _block_bounds, _centred_products, _stratified_indices, _stratified_mean_var, own_component_term
from ._tiles import BLOCK_ELEMENTS, shift, squared_distances

__all__: list[str] = []

#: Blocks of components (one centre of each per group) of the pilot: the 4096 SZT inputs.
NESTED_SUBSET = 4096
#: ``"auto"`` gives the nested path at most this many blocks: beyond it the groups cost more
#: than the exact pruned path (measured on 2 CPU cores, SZT epoch 1, n_x = 1000: layer 4
#: needed 65,536 blocks and took 442 s against the exact path's 106 s;
#: ``benchmarks/results/szt_epoch_cpu_book-e1-nx1000-*.md``).
NESTED_MAX_SUBSET = 8192
#: ``"auto"`` gives the nested path at most ``n / NESTED_MIN_BLOCK`` blocks (the own
#: block, summed exactly, keeps at least this many components).
NESTED_MIN_BLOCK = 8
#: Independent groups per set of samples (the relative variance ρ of Ŝ needs ≥ 2).
NESTED_GROUPS = 4
#: Independent sets of samples, each with its own groups (the standard error).
NESTED_REPLICATES = 32
#: ``"auto"`` considers the nested path for mixtures of at least this many centres.
NESTED_MIN_CENTERS = 1 << 16
#: ``"auto"`` sizes the subsets so that the expected mean correction ρ/2 is at most this (nats).
NESTED_MAX_CORRECTION = 5e-4
#: ``"auto"`` takes the nested path only when it computes at most this fraction of the
#: kernel terms the exact path would (estimated from the pilot).
NESTED_MAX_COST_FRACTION = 0.25
#: Samples in the pilot of :func:`choose_nested` (in 4 sets).
NESTED_PILOT_SAMPLES = 512
#: The exact pruned path keeps whole spatial blocks: it computes about this many
#: times the terms that are within its pruning radius (a rough, measured factor).
PRUNED_BLOCK_OVERHEAD = 4.0


def nested_entropy(centers: torch.Tensor, beta: float, n_mc: int, generator, *, control_variate: bool = True,
                   subset: int = NESTED_SUBSET, groups: int = NESTED_GROUPS,
                   replicates: int = NESTED_REPLICATES, kernel_method: str = "dense",
                   count_reach: bool = False) -> tuple[float, float, dict]:
    """Entropy of ``(1/n) Σ_j N(c_j, β² I_d)`` by nested Monte Carlo (module docstring).

    Parameters
    ----------
    centers : Tensor, shape (n, d)
    beta : float
    n_mc : int
        Monte Carlo samples, stratified over the components as in
        :func:`~infoflow_core.entropy.gm_entropy` (≥ 2 per replicate).
    generator : torch.Generator
    control_variate : bool
        The own-component control variate (:func:`._strata.own_component_term`).
    subset, groups, replicates : int
        Blocks (centres per group), groups per set (≥ 2) and sets of samples (≥ 2).
    kernel_method : str
        Kernel-sum path of the group sums (:data:`._kernels.METHODS`; default dense:
        the groups are small and, where this path is chosen, crowded).
    count_reach : bool
        Also measure ``reach``: the fraction of group centres within the exact pruned
        path's radius of each sample (what :func:`choose_nested` compares costs by).

    Returns
    -------
    value : float
        Nats.
    error : float
        Standard error over the sets plus ``bias_bound`` (nats).
    info : dict
        ``stderr`` (over the sets), ``bias_bound``, ``correction`` (weighted mean of
        ρ/2 that was removed), ``max_rho``, ``terms_per_sample`` (kernel evaluations).
    """
    n, d = centers.shape
    device = centers.device
    replicates = max(2, min(int(replicates), n_mc // 2))
    idx, counts, m = _stratified_indices(1, n, n_mc, generator, device)  # (1, n_mc), (1, n)
    noise = torch.randn(1, n_mc, d, generator=generator, device=device, dtype=centers.dtype)  # (1, n_mc, d)
    comp = idx[0]  # (n_mc,)
    x = centers[comp].to(torch.float64) + beta * noise[0].to(torch.float64)  # (n_mc, d)
    wt = sample_weights(idx, counts, n, n_mc)  # (n_mc,)
    terms = nested_neg_log_density(centers, beta, x, comp, generator, subset=subset, groups=groups,
                                   replicates=replicates, kernel_method=kernel_method, count_reach=count_reach)
    v, rho = terms["v"], terms["rho"]
    if control_variate:
        w = own_component_term(noise[0])  # (n_mc,)
        cov, var_w = _centred_products(v.unsqueeze(0), w.unsqueeze(0), idx, counts, m)
        if var_w > 0:
            v = v - (cov / var_w) * w
    value, var_mc = _stratified_mean_var(v.unsqueeze(0), idx, counts, n, n_mc)
    # Samples of one set share its groups, so their subset errors are correlated: to first
    # order the set's error is −mean_g D_g, D_g = Σ_k wt_k (S_g/Ŝ − 1)_k, over independent groups.
    var_sub, bias_bound = subset_variance(terms, wt), bias_bound_of(terms, wt)
    stderr = math.sqrt(float(var_mc[0]) + var_sub)
    value = float(value[0])
    info = dict(stderr=stderr, subset_stderr=math.sqrt(var_sub), bias_bound=bias_bound, subset=terms["subset"],
                groups=groups, correction=float((wt * rho).sum()) / 2, max_rho=float(rho.max()),
                terms_per_sample=groups * terms["subset"] + terms["width"], reach=terms["reach"])
    return value, stderr + bias_bound, info


def sample_weights(idx: torch.Tensor, counts: torch.Tensor, n: int, n_mc: int) -> torch.Tensor:
    """Weight of each stratified sample in the estimate of a mean, shape (n_mc,), summing to 1:
    the share of its block of components (one sample per block, ``n_mc < n``) or
    ``1 / (n · count)`` of its component (see :func:`._strata._stratified_indices`)."""
    if n_mc < n:
        sb = _block_bounds(n, n_mc, idx.device)
        return (sb[1:] - sb[:-1]).to(torch.float64) / n
    return 1.0 / (n * torch.gather(counts, 1, idx)[0].to(torch.float64))


def block_log_sums(x: torch.Tensor, centers: torch.Tensor, start: torch.Tensor, size: torch.Tensor, beta: float,
                   sh: torch.Tensor | None = None) -> torch.Tensor:
    """``ln Σ_{j ∈ block} exp(−‖x_k − c_j‖²/2β²)`` for each query over its own contiguous block.

    Parameters
    ----------
    x : Tensor, shape (p, d)
        Queries.
    centers : Tensor, shape (n, d)
    start, size : Tensor, shape (p,)
        Query k's block is ``centers[start_k : start_k + size_k]`` (size ≥ 1).
    sh : Tensor (1, 1, d) or None
        The distance shift of :func:`._tiles.shift`.

    Returns
    -------
    Tensor, shape (p,), float64
    """
    p, d = x.shape
    n = centers.shape[0]
    width = int(size.max()) if p else 1
    scale = -0.5 / (beta * beta)
    out = torch.empty(p, dtype=torch.float64, device=x.device)
    step = max(1, BLOCK_ELEMENTS // (width * d))
    cols = torch.arange(width, device=x.device)
    for q0 in range(0, p, step):
        st, sz = start[q0:q0 + step], size[q0:q0 + step]
        members = st.unsqueeze(1) + cols  # (q, width)
        valid = cols < sz.unsqueeze(1)  # (q, width)
        cm = centers[members.clamp_max(n - 1)].to(torch.float64)  # (q, width, d)
        e = squared_distances(x[q0:q0 + step].to(torch.float64).unsqueeze(1), cm,
                              None if sh is None else sh.expand(st.shape[0], 1, d))[:, 0]  # (q, width)
        out[q0:q0 + step] = torch.logsumexp((e * scale).masked_fill_(~valid, -math.inf), dim=-1)
    return out


def subset_variance(terms: dict, wt: torch.Tensor) -> float:
    """Variance of a weighted mean of :func:`nested_neg_log_density` values from the subsets'
    errors, which samples of one set share (their groups): to first order the set's error is
    ``−mean_g D_g``, ``D_g = Σ_k wt_k (S_g/Ŝ − 1)_k``, over independent groups."""
    var = 0.0
    for pos, dev in terms["ratios"]:
        dg = (dev * wt[pos]).sum(dim=1)  # (G,)
        var += float(dg.var(unbiased=True)) / dev.shape[0]
    return var


def bias_bound_of(terms: dict, wt: torch.Tensor) -> float:
    """The bound ``Σ_k wt_k (ρ_k^{3/2} + ρ_k²)`` on the bias the delta method leaves (nats)."""
    rho = terms["rho"]
    return float((wt * (rho.pow(1.5) + rho.pow(2))).sum())


def nested_neg_log_density(centers: torch.Tensor, beta: float, x: torch.Tensor, comp: torch.Tensor, generator, *,
                           subset: int = NESTED_SUBSET, groups: int = NESTED_GROUPS,
                           replicates: int = NESTED_REPLICATES, kernel_method: str = "dense",
                           count_reach: bool = False) -> dict:
    """``−ln p(x_k)`` of ``p = (1/n) Σ_j N(c_j, β² I_d)`` at samples ``x_k`` drawn from components
    ``comp_k``, estimated from subsets of the centres with the Jensen bias removed (module docstring).

    Parameters
    ----------
    centers : Tensor, shape (n, d)
    x : Tensor, shape (n_mc, d), float64
    comp : Tensor, shape (n_mc,)
        The component each sample was drawn from (its own block is summed exactly).
    subset, groups, replicates, kernel_method, count_reach
        As in :func:`nested_entropy` (``replicates`` ≥ 2 sets, sample k in set k mod replicates).

    Returns
    -------
    dict
        ``v`` (n_mc,): the corrected values ``−ln Ŝ − ρ/2`` (nats, float64); ``rho`` (n_mc,);
        ``ratios``: per set, its positions and ``S_g/Ŝ − 1`` of each group, for
        :func:`subset_variance`; ``reach``; ``subset`` and ``width`` (blocks, largest block).
    """
    n, d = centers.shape
    device = centers.device
    s = min(int(subset), n)
    n_mc = x.shape[0]

    bounds = _block_bounds(n, s, device)  # (s + 1,)
    lo, size = bounds[:-1], bounds[1:] - bounds[:-1]  # (s,) each
    logw = size.to(torch.float64).log() - math.log(n)  # (s,)
    # Unequal block weights ride on one extra coordinate: ‖(x, 0) − (c, e_b)‖² = ‖x − c‖² + e_b²
    # with e_b² = 2β² ln(w_max / w_b), so each kernel term is scaled by w_b / w_max exactly.
    extra = (2.0 * beta * beta * (logw.max() - logw)).sqrt() if bool((size != size[0]).any()) else None  # (s,)
    own = torch.searchsorted(bounds, comp, right=True) - 1  # (n_mc,) own block of each sample
    width = int(size.max())
    scale = -0.5 / (beta * beta)
    const = 0.5 * d * math.log(2.0 * math.pi * beta * beta)
    sh = shift(centers.unsqueeze(0))  # (1, 1, d) or None
    xq_all = x if extra is None else torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)  # (n_mc, d or d + 1)

    # float32 mixtures on CPU: the subsets' sums in the C kernels (float32, as the exact path).
    native = (centers.dtype == torch.float32 and kernel_method in ("dense", "auto")
              and _native.usable(centers, centers) and xq_all.shape[1] <= _native.MAX_DIM)  # d + 1 with unequal blocks
    v = torch.empty(n_mc, dtype=torch.float64, device=device)
    rho = torch.empty_like(v)
    reach = 0.0
    ratios = []  # per set: (positions, ratio − 1 of each group (G, p))
    rep = torch.arange(n_mc, device=device) % replicates
    for r in range(replicates):
        pos = (rep == r).nonzero()[:, 0]  # (p,)
        u = torch.rand(groups, s, generator=generator, device=device, dtype=torch.float64)
        picks = lo + torch.minimum((u * size).long(), size - 1)  # (groups, s)
        cg = centers[picks].to(torch.float64)  # (groups, s, d)
        if extra is not None:
            cg = torch.cat([cg, extra.expand(groups, s).unsqueeze(-1)], dim=-1)  # (groups, s, d + 1)
        xq, ob = x[pos], own[pos]  # (p, d), (p,)
        xr = xq_all[pos].unsqueeze(0).expand(groups, -1, -1)  # (G, p, d or d + 1)
        if native:  # float32 mixtures: the C kernels sum every block but the own one directly
            rest = _rest_sums_native(xq_all[pos], cg, ob, beta) + logw.max()  # (G, p)
        else:
            lse = log_kernel_sums(xr, cg, beta, method=kernel_method) + logw.max()  # (G, p): ln S_g, every block
        if count_reach:  # group centres within the exact path's pruning radius of each sample
            d2 = squared_distances(xr[..., :d], cg[..., :d], None if sh is None else sh.expand(groups, 1, d))
            radius = d2.amin(dim=-1, keepdim=True) + 2.0 * beta * beta * (math.log(n) + PRUNE_LOG_TOLERANCE)
            reach += float((d2 <= radius).to(torch.float64).mean())
        if not native:
            # The group's pick in the sample's own block, taken out (the block is summed exactly below).
            cp = centers[torch.gather(picks, 1, ob.expand(groups, -1))].to(torch.float64)  # (G, p, d)
            a_pick = ((xq - cp) ** 2).sum(-1) * scale + logw[ob]  # (G, p)
            t = (a_pick - lse).clamp_max(0.0)
            rest = lse + torch.log(-torch.expm1(t))  # (G, p), −inf when the pick was all of it
        exact = block_log_sums(xq, centers, lo[ob], size[ob], beta, sh) - math.log(n)  # (p,) ln (1/n) Σ_own φ
        log_s = torch.logaddexp(rest, exact)  # (G, p): each group's estimate of ln p
        log_mean = torch.logsumexp(log_s, dim=0) - math.log(groups)  # (p,)
        ratio = torch.exp(log_s - log_mean)  # (G, p)
        rho_p = ((ratio - 1.0) ** 2).sum(dim=0) / ((groups - 1) * groups)  # (p,)
        v[pos] = const - log_mean - 0.5 * rho_p
        rho[pos] = rho_p
        ratios.append((pos, ratio - 1.0))
    return dict(v=v, rho=rho, ratios=ratios, reach=reach / replicates, subset=s, width=width)


def _rest_sums_native(xq: torch.Tensor, cg: torch.Tensor, own: torch.Tensor, beta: float) -> torch.Tensor:
    """``ln Σ_{b ≠ own_k} exp(−‖x_k − c_{g,b}‖² / (2β²))`` for each group g and query k, in
    the C kernels (float32 distances, float64 sums) on :mod:`._cpu_pool`'s workers: every
    subset centre but the one in the query's own block, left out rather than subtracted.

    xq (p, d') float64, cg (G, s, d') float64, own (p,) block indices; returns (G, p) float64.
    """
    G, p = cg.shape[0], xq.shape[0]
    x32 = xq.to(torch.float32).unsqueeze(0).expand(G, -1, -1)  # (G, p, d')
    out = torch.empty(G, p, dtype=torch.float64)
    with _cpu_pool.task_runner(xq.device) as run:
        run(_dense_tasks(x32, cg.to(torch.float32), beta, "auto", out, exclude=own))
    return out


def choose_nested(centers: torch.Tensor, beta: float, generator) -> dict | None:
    """Whether ``method="auto"`` should take the nested path for this mixture, and how.

    A pilot (:data:`NESTED_PILOT_SAMPLES` samples, :data:`NESTED_GROUPS` groups of
    ``s₀ = min(NESTED_SUBSET, n // 16)`` blocks) measures the mean relative variance
    ``ρ₀`` of the density estimates and the fraction ``f`` of centres within the exact
    pruned path's radius. ρ falls at least like 1/s (finer blocks, one pick each), so
    the nested path gets ``s = 2^k`` blocks, the smallest power of two with a predicted
    mean correction ``ρ₀ s₀ / (2 s)`` of at most :data:`NESTED_MAX_CORRECTION`, raised
    to about ``√(n / groups)`` (where the cost ``groups · s + n / s`` kernel terms per
    sample is least) and at most :data:`NESTED_MAX_SUBSET` and ``n / NESTED_MIN_BLOCK``
    (exact when the target needs more). The exact path costs about
    ``min(n, PRUNED_BLOCK_OVERHEAD · f · n)``; nested when it costs at most
    :data:`NESTED_MAX_COST_FRACTION` of that.

    Returns
    -------
    dict or None
        ``{"subset": s, "groups": ..., "pilot_rho": ρ₀, "reach": f, "cost_fraction": ...}``
        for the nested path, None for the exact one.
    """
    n = centers.shape[0]
    if n < NESTED_MIN_CENTERS:
        return None
    s0 = min(NESTED_SUBSET, n // 16)
    _, _, info = nested_entropy(centers, beta, NESTED_PILOT_SAMPLES, generator, subset=s0, replicates=4,
                                count_reach=True)
    rho0 = 2.0 * info["correction"]
    need = rho0 * s0 / (2.0 * NESTED_MAX_CORRECTION)  # blocks for the target correction
    best = math.sqrt(n / NESTED_GROUPS)  # least cost
    s = 1 << max(0, math.ceil(math.log2(max(need, best, 1.0))))
    cap = min(NESTED_MAX_SUBSET, n // NESTED_MIN_BLOCK)
    if s > cap:
        if need > cap:
            return None
        s = cap
    nested = NESTED_GROUPS * s + -(-n // s)
    exact = min(float(n), PRUNED_BLOCK_OVERHEAD * info["reach"] * n)
    if nested > NESTED_MAX_COST_FRACTION * exact:
        return None
    return dict(subset=s, groups=NESTED_GROUPS, pilot_rho=rho0, reach=info["reach"], cost_fraction=nested / exact)
