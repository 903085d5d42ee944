"""Joint Monte Carlo integration of the SP estimator: I(X; T_ℓ) and I(T_ℓ; Y) from one
set of samples of T_ℓ.

Equation (1) of the paper writes the SP estimate as a difference of Gaussian-mixture
entropies, ``h(p̂ ∗ φ_β) − (1/n) Σ_x h(p̂^(x) ∗ φ_β)``; estimating each entropy from its
own samples (:func:`~infoflow_core.mutual_information.sp_mutual_information`) leaves each
with the variance of ``−ln p``, which is mostly the noise's own (about d/2 nats²). The
same number is the expectation of one log-ratio, with X uniform over the ``n`` inputs
and T drawn from the mixture:

    I(X; T) = E ln [p(T | X) / p(T)] = ln n − H(X | T),

    I(T; Y) = E ln [p(T | Y) / p(T)] = H(Y) − H(Y | T),

where ``p(T | X = x)`` is the mixture of x's ``n_x`` realizations and ``p(T | Y = y)``
that of the inputs labelled y. The log-ratio is a log-posterior, so its variance is
that of ``ln P(X | T)``: none for separated inputs (each sample's own input owns all
of the density), small for crowded ones, and the label's ``ln P(Y | T)`` lies in
``[ln p_min, 0]`` up to a constant. Measured on the SZT network at n_x = 1000 (2 CPU
cores, ``benchmarks/results/szt_epoch_cpu_book-*-joint.md``) the joint I(X; T) needs
about as many samples as h(T) alone did, and I(T; Y) a tenth, so the class-conditional
entropies (another full pass over all centres) and the separate h(T | X = x) are saved.

Every sample needs three kernel sums: over all centres (``p(T)``), over its own
input's ``n_x`` (``p(T | X)``, cheap) and over its own class (``p(T | Y)``). With the
inputs sorted by label the classes are contiguous slices of the centres, so the sum over
all centres is the log-sum-exp of the per-class sums: one pass over the centres gives
both. For crowded mixtures ``p(T)`` may come from the nested path
(:mod:`._nested`, whose Jensen correction and bias bound carry over unchanged, the
log-ratio being linear in ``ln p(T)``); I(T; Y) is then estimated as a difference of
entropies by the caller.

Samples are stratified over the components as everywhere
(:func:`._strata._stratified_indices`), and the own-component control variate is applied
to each summand with its own regression coefficient.

>>> s = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).reshape(4, 1, 1)
>>> t = joint_terms(s, 0.01, 256, torch.Generator().manual_seed(0), class_sizes=[2, 2])
>>> [round(float(summarize(t, k)[0]), 9) for k in ("v_x", "v_y")]  # ln 4, ln 2
[1.386294361, 0.693147181]
"""

from __future__ import annotations

import math

import torch

from ._kernels import log_kernel_sums
from ._nested import (NESTED_GROUPS, NESTED_REPLICATES, bias_bound_of, block_log_sums, nested_neg_log_density,
                      sample_weights, subset_variance)
from ._strata import _centred_products, _stratified_indices, _stratified_mean_var, own_component_term
from ._tiles import shift

__all__: list[str] = []


def joint_terms(samples: torch.Tensor, beta: float, n_mc: int, generator, *, class_sizes=None,
                chunk_size="auto", method: str = "auto", plan: dict | None = None) -> dict:
    """Per-sample summands of h(T), I(X; T) and (with ``class_sizes``) I(T; Y).

    Parameters
    ----------
    samples : Tensor, shape (n_inputs, n_x, d)
        Realizations of S_ℓ per input; with ``class_sizes`` the inputs are sorted by
        label (class k holds the next ``class_sizes[k]`` inputs).
    beta : float
    n_mc : int
        Samples of T, stratified over the ``n_inputs · n_x`` components.
    generator : torch.Generator
    class_sizes : sequence of int, optional
        Inputs per class, in order; None: no labels.
    chunk_size, method
        Kernel-sum blocking and path (:data:`._kernels.METHODS`) of the exact sums.
    plan : dict, optional
        From :func:`._nested.choose_nested`: ``p(T)`` by the nested path with its
        ``subset``; then ``class_sizes`` is ignored (no ``v_y``).

    Returns
    -------
    dict
        ``v_h`` = −ln p(T), ``v_x`` = ln p(T|X) − ln p(T) and, with classes on the exact
        path, ``v_y`` = ln p(T|Y) − ln p(T): float64 (n_mc,) each, nats; ``w``, the
        own-component term; ``idx``, ``counts``, ``m``, ``n`` (the stratification);
        ``wt`` (sample weights); ``nested`` (the nested path's terms, or None).
    """
    n_in, n_x, d = samples.shape
    n = n_in * n_x
    device = samples.device
    centers = samples.reshape(n, d)
    idx, counts, m = _stratified_indices(1, n, n_mc, generator, device)  # (1, n_mc), (1, n)
    comp = idx[0]
    z = torch.randn(n_mc, d, generator=generator, device=device, dtype=samples.dtype)  # (n_mc, d)
    t = centers[comp] + beta * z  # (n_mc, d)
    log_norm = 0.5 * d * math.log(2.0 * math.pi * beta * beta)
    inp = torch.div(comp, n_x, rounding_mode="floor")  # (n_mc,) own input
    own_size = torch.full_like(inp, n_x)
    log_px = block_log_sums(t, centers, inp * n_x, own_size, beta, shift(centers.unsqueeze(0))) \
        - math.log(n_x) - log_norm  # (n_mc,) ln p(t | x)
    out = dict(w=own_component_term(z), idx=idx, counts=counts, m=m, n=n, wt=sample_weights(idx, counts, n, n_mc),
               nested=None)
    if plan is not None:
        terms = nested_neg_log_density(centers, beta, t.to(torch.float64), comp, generator, subset=plan["subset"],
                                       groups=plan.get("groups", NESTED_GROUPS),
                                       replicates=max(2, min(NESTED_REPLICATES, n_mc // 2)))
        neg_log_p = terms["v"]
        out["nested"] = terms
    elif class_sizes is None:
        lse = log_kernel_sums(t.unsqueeze(0), centers.unsqueeze(0), beta, chunk_size=chunk_size, method=method)[0]
        neg_log_p = math.log(n) + log_norm - lse.to(torch.float64)
    else:
        ends = torch.cumsum(torch.as_tensor(list(class_sizes), device=device), 0) * n_x  # (K,) centre ends
        starts = ends - torch.as_tensor(list(class_sizes), device=device) * n_x
        per_class = torch.stack([
            log_kernel_sums(t.unsqueeze(0), centers[int(a):int(b)].unsqueeze(0), beta, chunk_size=chunk_size,
                            method=method)[0].to(torch.float64)
            for a, b in zip(starts.tolist(), ends.tolist())])  # (K, n_mc)
        neg_log_p = math.log(n) + log_norm - torch.logsumexp(per_class, dim=0)
        own_class = torch.searchsorted(ends, comp, right=True)  # (n_mc,)
        sizes = (ends - starts).to(torch.float64)
        log_py = per_class.gather(0, own_class.unsqueeze(0))[0] - sizes[own_class].log() - log_norm
        out["v_y"] = log_py + neg_log_p
    out["v_h"] = neg_log_p
    out["v_x"] = log_px + neg_log_p
    return out


def summarize(terms: dict, key: str, *, control_variate: bool = True) -> tuple[float, float]:
    """The stratified estimate of ``E terms[key]`` and its error (nats).

    ``key`` is ``"v_h"`` (h(T)), ``"v_x"`` (I(X; T)), ``"v_y"`` (I(T; Y)), or
    ``"v_h-v_x"`` / ``"v_h-v_y"`` (h(T | X), h(T | Y)). With the nested path the error of
    a summand holding ``ln p(T)`` adds the subsets' variance and the bias bound.
    """
    if "-" in key:
        a, b = key.split("-")
        v = terms[a] - terms[b]
    else:
        v = terms[key]
    idx, counts, m, n = terms["idx"], terms["counts"], terms["m"], terms["n"]
    n_mc = v.shape[0]
    v = v.unsqueeze(0)
    if control_variate:
        w = terms["w"].unsqueeze(0)
        cov, var_w = _centred_products(v, w, idx, counts, m)
        if var_w > 0:
            v = v - (cov / var_w) * w
    value, var = _stratified_mean_var(v, idx, counts, n, n_mc)
    var, extra = float(var[0]), 0.0
    nested = terms["nested"]
    if nested is not None and "-" not in key:  # the summand holds −ln Ŝ once
        var += subset_variance(nested, terms["wt"])
        extra = bias_bound_of(nested, terms["wt"])
    return float(value[0]), math.sqrt(var) + extra
