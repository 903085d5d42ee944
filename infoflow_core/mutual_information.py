"""The sample-propagation (SP) estimator of I(X; T_ℓ), equation (1) of the paper.

    Î_SP = h(p̂_{S_ℓ} ∗ φ_β) − (1/n) Σ_x h(p̂_{S_ℓ^(x)} ∗ φ_β)

Both terms are Gaussian-mixture entropies (:mod:`infoflow_core.entropy`): h(T_ℓ) has
one centre per (input, realization); h(T_ℓ | X = x) has the ``n_x`` realizations of
input x as its centres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from ._distributed import check_group
from ._joint import joint_terms, summarize
from ._kernels import auto_uses_triton, check_method
from ._nested import NESTED_MIN_BLOCK, NESTED_SUBSET, choose_nested
from ._validation import check_beta, check_chunk_size, check_generator, check_positive_int, check_tensor
from .entropy import (UNITS, Estimate, _gm_entropy_batched, _gm_entropy_bounds_batched, _gm_entropy_one, _InUnits,
                      _with_overlap_floor, check_entropy_method, check_unit, gaussian_entropy, kernel_method)

__all__ = ["MIEstimate", "LabelMIEstimate", "Information", "MIBounds", "InformationBounds", "sp_mutual_information",
           "sp_label_information", "sp_information", "mutual_information_bounds"]


@dataclass(frozen=True)
class _EntropyDifference(_InUnits):
    """``value = h_t − (a conditional entropy)`` with its error (the shared fields)."""

    value: float
    stderr: float
    h_t: float


@dataclass(frozen=True)
class MIEstimate(_EntropyDifference):
    """An SP estimate of I(X; T_ℓ), in nats unless converted.

    Attributes
    ----------
    value : float
        ``h_t − h_t_given_x``.
    stderr : float
        Monte Carlo standard error of ``value`` (both terms' errors combined).
    h_t : float
        Estimate of h(T_ℓ).
    h_t_given_x : float
        Estimate of h(T_ℓ | X) = mean over inputs of h(T_ℓ | X = x_i).
    h_t_stderr, h_t_given_x_stderr : float
        Their Monte Carlo standard errors.
    unit : {"nats", "bits"}
        Unit of every float field; :meth:`to_bits` converts (all fields over ln 2).
    """

    h_t_given_x: float
    h_t_stderr: float = 0.0
    h_t_given_x_stderr: float = 0.0
    unit: str = "nats"
    #: How h(T_ℓ) was computed: ``"exact"`` (every kernel that matters) or ``"nested"``
    #: (subsets of the centres, :mod:`infoflow_core._nested`); not shown, not compared.
    h_t_path: str = field(default="exact", repr=False, compare=False)


@dataclass(frozen=True)
class LabelMIEstimate(_EntropyDifference):
    """An SP estimate of I(T_ℓ; Y) (see :func:`sp_label_information`): the fields of
    :class:`MIEstimate` with the label Y in place of the input X, so ``value =
    h_t − h_t_given_y`` where ``h_t_given_y`` estimates h(T_ℓ | Y) = Σ_y p(y)
    h(T_ℓ | Y = y); ``stderr`` combines all terms' errors; ``unit`` as there.
    """

    h_t_given_y: float
    h_t_stderr: float = 0.0
    h_t_given_y_stderr: float = 0.0
    unit: str = "nats"
    #: ``"nested"`` when a class-conditional entropy took the nested path, else ``"exact"``.
    h_t_given_y_path: str = field(default="exact", repr=False, compare=False)


@dataclass(frozen=True)
class Information:
    """I(X; T_ℓ) and I(T_ℓ; Y) of one layer from one set of samples (:func:`sp_information`).

    Attributes
    ----------
    x_t : MIEstimate
        I(X; T_ℓ), with h(T_ℓ) and h(T_ℓ | X) = h(T_ℓ) − I(X; T_ℓ) from the same samples.
    t_y : LabelMIEstimate or None
        I(T_ℓ; Y) (None without labels).
    n_mc : int
        Monte Carlo samples of T_ℓ used.
    """

    x_t: MIEstimate
    t_y: LabelMIEstimate | None
    n_mc: int


class MIBounds(NamedTuple):
    """Lower and upper bounds on a mutual information (unpacks as ``lo, up``)."""

    lower: float
    upper: float


@dataclass(frozen=True)
class InformationBounds:
    """Kolchinsky–Tracey bounds from :func:`mutual_information_bounds`.

    Attributes
    ----------
    x_t : MIBounds
        Bounds on I(X; T_ℓ).
    t_y : MIBounds or None
        Bounds on I(T_ℓ; Y) (None when no labels were given).
    unit : {"nats", "bits"}
    """

    x_t: MIBounds
    t_y: MIBounds | None
    unit: str = "nats"


def _checked_sp_arguments(samples, beta, n_mc, n_mc_given, given_name: str, generator, chunk_size, method):
    """The arguments shared by the SP estimators, checked (``n_mc_given`` defaults to ``n_mc``)."""
    samples = check_tensor(samples, "samples", ndim=3, shape="(n_inputs, n_x, d)")
    n_mc = check_positive_int(n_mc, "n_mc", minimum=2)
    n_mc_given = n_mc if n_mc_given is None else check_positive_int(n_mc_given, given_name, minimum=2)
    return (samples, check_beta(beta), n_mc, n_mc_given, check_generator(generator, samples.device),
            check_chunk_size(chunk_size), check_entropy_method(method))


def sp_mutual_information(samples: torch.Tensor, beta: float, *, n_mc: int,
                          n_mc_given_x: int | None = None,
                          generator: torch.Generator | None = None,
                          chunk_size: int | str = "auto", method: str = "auto", group=None,
                          control_variate: bool = True) -> MIEstimate:
    """The SP estimate of I(X; T_ℓ), equation (1) of the paper, in nats.

    Parameters
    ----------
    samples : Tensor, shape (n_inputs, n_x, d)
        ``samples[i, j]`` is the j-th realization of S_ℓ = f_ℓ(T_{ℓ−1}) for input
        x_i, e.g. from :func:`~infoflow_core.noise.sample_representations`. Inputs
        weigh equally (X uniform over them).
    beta : float
        Noise standard deviation β > 0 of the layer.
    n_mc : int
        Monte Carlo samples for h(T_ℓ), and (unless ``n_mc_given_x`` is given)
        again for *each* h(T_ℓ | X = x_i); ≥ 2.
    n_mc_given_x : int, optional
        Monte Carlo samples for each h(T_ℓ | X = x_i) when it should differ from
        ``n_mc`` (default: ``n_mc``); ≥ 2. The conditional term averages ``n_inputs``
        independent estimates, so its error shrinks like 1/√n_inputs and far
        fewer samples per input often suffice.
    generator : torch.Generator, optional
        Source of the Monte Carlo samples, on ``samples.device`` (a
        ``torch.Generator``, not a seed or a NumPy generator).
    chunk_size : int or "auto"
        Centres per block of pairwise work.
    method : {"auto", "exact", "dense", "pruned", "triton", "nested"}
        Path of h(T_ℓ), as in :func:`~infoflow_core.entropy.gm_entropy` (``"auto"``
        takes the nested path for a large crowded mixture, see there; which one ran is
        ``MIEstimate.h_t_path``). The ``n_inputs`` conditional mixtures (``n_x``
        centres each) always take the exact paths (``"nested"``, ``"exact"``: as
        ``"auto"`` chooses among them), evaluated as one batch.
    group : torch.distributed ProcessGroup, optional
        Split the Monte Carlo samples of every mixture entropy (h(T_ℓ) and each
        h(T_ℓ | X = x_i)) over the ranks of this initialized process group, as in
        :func:`~infoflow_core.entropy.gm_entropy`: every rank passes the same
        ``samples``, ``beta``, ``n_mc`` and ``n_mc_given_x`` (checked) and its own
        ``generator`` (ranks in the same generator state raise ValueError), and
        gets the same ``MIEstimate``. Default None: this process alone.
    control_variate : bool
        The own-component control variate in every mixture entropy, as in
        :func:`~infoflow_core.entropy.gm_entropy` (default True: unbiased, lower
        variance).

    Returns
    -------
    MIEstimate
        When ``n_x == 1`` (layer 1, or any deterministic map) the conditional
        entropy is exact, ``(d/2) ln(2πeβ²)``, with zero error.

    Examples
    --------
    Four far-apart inputs carry ln 4 nats:

    >>> s = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).reshape(4, 1, 1)
    >>> mi = sp_mutual_information(s, 0.01, n_mc=4000, generator=torch.Generator().manual_seed(0))
    >>> round(mi.value, 9), mi.stderr < 1e-9  # separated: the control variate leaves no variance
    (1.386294361, True)
    >>> plain = sp_mutual_information(s, 0.01, n_mc=4000, generator=torch.Generator().manual_seed(0),
    ...                               control_variate=False)
    >>> abs(plain.value - math.log(4)) < 4 * plain.stderr, round(plain.stderr, 3)
    (True, 0.011)
    >>> sp_mutual_information(s, 0.01, n_mc=4000, generator=torch.Generator().manual_seed(0),
    ...                       group=None) == mi  # group=None: one process
    True
    """
    samples, beta, n_mc, n_mc_given_x, generator, chunk_size, method = _checked_sp_arguments(
        samples, beta, n_mc, n_mc_given_x, "n_mc_given_x", generator, chunk_size, method)
    n_inputs, n_x, d = samples.shape
    shard = check_group(group, generator, samples.device,
                        same={"samples": samples, "beta": beta, "n_mc": n_mc, "n_mc_given_x": n_mc_given_x})

    centers = samples.reshape(1, n_inputs * n_x, d)  # (1, n_inputs·n_x, d)
    cv = bool(control_variate)
    h_t, se_t, path = _gm_entropy_one(centers, beta, n_mc, generator, chunk_size, method, shard, cv)
    if n_x == 1:
        h_cond, se_cond = gaussian_entropy(d, beta), 0.0
    else:
        values, stderrs = _gm_entropy_batched(samples, beta, n_mc_given_x, generator, chunk_size,
                                              kernel_method(method), shard, cv)  # (n_inputs,) each: exact paths
        h_cond = float(values.mean())
        se_cond = float(torch.sqrt((stderrs ** 2).sum())) / n_inputs
    return MIEstimate(
        value=h_t - h_cond,
        stderr=math.sqrt(se_t ** 2 + se_cond ** 2),
        h_t=h_t,
        h_t_given_x=h_cond,
        h_t_stderr=se_t,
        h_t_given_x_stderr=se_cond,
        h_t_path=path,
    )


def _check_labels(labels, n_inputs: int, device) -> torch.Tensor:
    """``labels`` as an int64 tensor of shape (n_inputs,) on ``device``: a torch or
    NumPy array of integers (not bool, not float, not a list)."""
    if isinstance(labels, np.ndarray):
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must hold integers, got a NumPy array of dtype {labels.dtype}")
        labels = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64, copy=False))
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be a torch.Tensor or NumPy array of integers, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must hold integers, got dtype {labels.dtype} (class indices, e.g. torch.long)")
    if labels.dim() != 1 or labels.shape[0] != n_inputs:
        raise ValueError(f"labels must have shape ({n_inputs},), one per input of samples, "
                         f"got shape {tuple(labels.shape)}")
    return labels.to(device=device, dtype=torch.long)


def _class_centers(samples: torch.Tensor, labels: torch.Tensor) -> list[tuple[float, torch.Tensor]]:
    """``(p(y), centres of T | Y = y)`` per class: the fraction of inputs labelled y and
    all realizations of those inputs, shape (1, n_y·n_x, d)."""
    classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    n_inputs, _, d = samples.shape
    return [(int(counts[k]) / n_inputs, samples[inverse == k].reshape(1, -1, d)) for k in range(len(classes))]


def sp_label_information(samples: torch.Tensor, labels, beta: float, *, n_mc: int,
                         n_mc_given_y: int | None = None,
                         generator: torch.Generator | None = None,
                         chunk_size: int | str = "auto", method: str = "auto",
                         group=None, control_variate: bool = True, h_t=None) -> LabelMIEstimate:
    """The SP estimate of I(T_ℓ; Y), the information a noisy layer holds about the label, in nats.

        I(T_ℓ; Y) = h(T_ℓ) − Σ_y p(y) h(T_ℓ | Y = y),      T_ℓ = S_ℓ + βZ,

    with X uniform over the inputs, p(y) the fraction of inputs labelled y, and
    each term the entropy of a known Gaussian mixture (as in equation (1) of the
    paper): h(T_ℓ) has one centre per (input, realization), h(T_ℓ | Y = y) the
    ``n_y·n_x`` realizations of the inputs labelled y. Each entropy is a
    stratified Monte Carlo estimate (:func:`~infoflow_core.entropy.gm_entropy`)
    from its own samples, so the terms are independent and the standard error is
    ``sqrt(se(h_t)² + Σ_y p(y)² se(h_y)²)``.

    Parameters
    ----------
    samples : Tensor, shape (n_inputs, n_x, d)
        Realizations of S_ℓ per input, as for
        :func:`sp_mutual_information` (e.g. from
        :func:`~infoflow_core.noise.sample_representations`).
    labels : Tensor or NumPy array of integers, shape (n_inputs,)
        The class of each input (any integer values; bool and float are refused).
    beta : float
        Noise standard deviation β > 0 of the layer.
    n_mc : int
        Monte Carlo samples for h(T_ℓ), and (unless ``n_mc_given_y`` is given) for
        each h(T_ℓ | Y = y); ≥ 2.
    n_mc_given_y : int, optional
        Monte Carlo samples for each class-conditional entropy (default ``n_mc``).
    generator : torch.Generator, optional
        Source of the Monte Carlo samples, on ``samples.device``.
    chunk_size, method
        Blocking and path, as in :func:`sp_mutual_information`; with ``"auto"`` h(T_ℓ) and
        each h(T_ℓ | Y = y) (large mixtures all) may take the nested path
        (``LabelMIEstimate.h_t_given_y_path``).
    group : torch.distributed ProcessGroup, optional
        Split the Monte Carlo samples of every entropy over the ranks of this
        process group, as in :func:`sp_mutual_information` (``labels`` must be the
        same on every rank too; checked). Default None: this process alone.
    control_variate : bool
        As in :func:`sp_mutual_information`.
    h_t : Estimate or (value, stderr), optional
        An estimate of h(T_ℓ) already made from the same ``samples`` and ``beta``
        (e.g. ``(mi.h_t, mi.h_t_stderr)`` of :func:`sp_mutual_information`): used
        instead of drawing a new one, which halves the work when both informations
        are wanted. Only the class-conditional entropies are then drawn (from
        ``generator``); the error of the result still counts that of ``h_t``.

    Returns
    -------
    LabelMIEstimate
        With a single class, h(T_ℓ | Y) is the mixture of h(T_ℓ): the result is
        exactly 0 with standard error 0 (``h_t_given_y = h_t``). A class whose
        mixture has one centre (one input, ``n_x == 1``) has the exact Gaussian
        entropy ``(d/2) ln(2πeβ²)`` with zero error.

    Examples
    --------
    Two far-apart classes of equal size carry ln 2 nats (1 bit):

    >>> s = torch.tensor([0.0, 1.0, 5.0, 6.0], dtype=torch.float64).reshape(4, 1, 1)
    >>> mi = sp_label_information(s, torch.tensor([0, 0, 1, 1]), 0.01, n_mc=4000,
    ...                           generator=torch.Generator().manual_seed(0))
    >>> abs(mi.value - math.log(2)) < 4 * mi.stderr, abs(mi.to_bits().value - 1) < 4 * mi.to_bits().stderr
    (True, True)
    >>> sp_label_information(s, torch.tensor([0, 0, 1, 1]), 0.01, n_mc=4000, group=None,
    ...                      generator=torch.Generator().manual_seed(0)) == mi  # one process
    True
    """
    samples, beta, n_mc, n_mc_given_y, generator, chunk_size, method = _checked_sp_arguments(
        samples, beta, n_mc, n_mc_given_y, "n_mc_given_y", generator, chunk_size, method)
    n_inputs, n_x, d = samples.shape
    labels = _check_labels(labels, n_inputs, samples.device)
    shard = check_group(group, generator, samples.device,
                        same={"samples": samples, "labels": labels, "beta": beta, "n_mc": n_mc,
                              "n_mc_given_y": n_mc_given_y})

    cv = bool(control_variate)
    if isinstance(h_t, Estimate):
        if h_t.unit != "nats":
            raise ValueError(f"h_t must be in nats, got an Estimate in {h_t.unit}")
        h_t = (h_t.value, h_t.stderr)
    if h_t is not None:
        try:
            h_t, se_t = (float(v) for v in h_t)
        except (TypeError, ValueError):
            raise ValueError(f"h_t must be an Estimate or a (value, stderr) pair, got {h_t!r}") from None
        if not (math.isfinite(h_t) and math.isfinite(se_t) and se_t >= 0):
            raise ValueError(f"h_t must be a finite value with a finite stderr >= 0, got {(h_t, se_t)}")
    else:
        h_t, se_t, _ = _gm_entropy_one(samples.reshape(1, n_inputs * n_x, d), beta, n_mc, generator, chunk_size,
                                       method, shard, cv)
    groups = _class_centers(samples, labels)
    if len(groups) == 1:
        return LabelMIEstimate(0.0, 0.0, h_t, h_t, se_t, se_t)
    h_cond = var_cond = 0.0
    paths = []
    for p, centers in groups:
        if centers.shape[1] == 1:
            h, se, path = gaussian_entropy(d, beta), 0.0, "exact"
        else:
            h, se, path = _gm_entropy_one(centers, beta, n_mc_given_y, generator, chunk_size, method, shard, cv)
        paths.append(path)
        h_cond += p * h
        var_cond += (p * se) ** 2
    return LabelMIEstimate(
        value=h_t - h_cond,
        stderr=math.sqrt(se_t ** 2 + var_cond),
        h_t=h_t,
        h_t_given_y=h_cond,
        h_t_stderr=se_t,
        h_t_given_y_stderr=math.sqrt(var_cond),
        h_t_given_y_path="nested" if "nested" in paths else "exact",
    )


def sp_information(samples: torch.Tensor, beta: float, labels=None, *, n_mc: int,
                   generator: torch.Generator | None = None, chunk_size: int | str = "auto",
                   method: str = "auto", control_variate: bool = True) -> Information:
    """I(X; T_ℓ) and I(T_ℓ; Y), the SP estimator's numbers, integrated jointly, in nats.

    The same quantities as :func:`sp_mutual_information` and :func:`sp_label_information`
    (the Gaussian mixtures of equation (1), X uniform over the inputs), but every term
    is estimated from *one* set of samples T = S_ℓ + βZ, as the mean of a log-ratio:

        I(X; T_ℓ) = E ln [p(T | X) / p(T)],      I(T_ℓ; Y) = E ln [p(T | Y) / p(T)].

    The log-ratio is a log-posterior, ``ln(n P(X | T))``: it has no variance for
    separated inputs and little for crowded ones, whereas each entropy of the separate
    estimate keeps the noise's own variance. For the trained and untrained SZT networks at
    n_x = 1000 the joint I(X; T_ℓ) needs about the samples h(T_ℓ) alone needed, and
    I(T_ℓ; Y) a tenth of them; the class-conditional entropies are not computed at all
    (:mod:`infoflow_core._joint` has the details and the measurements).

    Parameters
    ----------
    samples : Tensor, shape (n_inputs, n_x, d)
        Realizations of S_ℓ per input, as for :func:`sp_mutual_information`.
    beta : float
        Noise standard deviation β > 0.
    labels : Tensor or NumPy array of integers, shape (n_inputs,), optional
        The class of each input; without them ``t_y`` is None.
    n_mc : int
        Monte Carlo samples of T_ℓ (≥ 2), stratified over the ``n_inputs · n_x`` components.
    generator : torch.Generator, optional
        On ``samples.device``.
    chunk_size : int or "auto"
    method : {"auto", "exact", "dense", "pruned", "triton", "nested"}
        Path of p(T_ℓ), as in :func:`~infoflow_core.entropy.gm_entropy`: ``"auto"`` takes
        the nested path for a large crowded mixture. On that path I(T_ℓ; Y) is the
        difference of entropies of :func:`sp_label_information` (with the joint h(T_ℓ)).
    control_variate : bool
        The own-component control variate on every summand (default True).

    Returns
    -------
    Information
        ``x_t`` (its ``h_t_path`` says which path p(T_ℓ) took), ``t_y`` and ``n_mc``.

    Examples
    --------
    Four far-apart inputs, two per class: ln 4 and ln 2 nats, with no Monte Carlo variance:

    >>> s = torch.tensor([0.0, 1.0, 5.0, 6.0], dtype=torch.float64).reshape(4, 1, 1)
    >>> info = sp_information(s, 0.01, torch.tensor([1, 0, 1, 0]), n_mc=1000,
    ...                       generator=torch.Generator().manual_seed(0))
    >>> round(info.x_t.value, 9), round(info.t_y.value, 9), info.x_t.stderr < 1e-6
    (1.386294361, 0.693147181, True)
    """
    samples, beta, n_mc, _, generator, chunk_size, method = _checked_sp_arguments(
        samples, beta, n_mc, None, "n_mc", generator, chunk_size, method)
    if labels is not None:
        labels = _check_labels(labels, samples.shape[0], samples.device)
        if bool((labels[1:] < labels[:-1]).any()):
            order = torch.argsort(labels, stable=True)
            samples, labels = samples[order], labels[order]
    return _sp_information(samples, labels, beta, n_mc, generator, chunk_size, method, bool(control_variate),
                           plan=_nested_plan(samples, beta, method, generator))


def _nested_plan(samples: torch.Tensor, beta: float, method: str, generator) -> dict | None:
    """The nested path's plan for p(T) of ``samples`` (n_inputs, n_x, d) under ``method``, or None."""
    c = samples.reshape(-1, samples.shape[-1])
    if method == "nested":
        return {"subset": max(1, min(NESTED_SUBSET, c.shape[0] // NESTED_MIN_BLOCK))}
    if method == "auto" and not auto_uses_triton(c.unsqueeze(0), c.unsqueeze(0)):
        return choose_nested(c, beta, generator)
    return None


def _sp_information(samples: torch.Tensor, labels, beta: float, n_mc: int, generator, chunk_size, method: str,
                    control_variate: bool, plan: dict | None) -> Information:
    """:func:`sp_information` on checked arguments, ``labels`` (or None) sorted, with the
    nested path's ``plan`` (None: exact) already chosen."""
    n_inputs, n_x, d = samples.shape
    sizes = None if labels is None else torch.unique_consecutive(labels, return_counts=True)[1].tolist()
    terms = joint_terms(samples, beta, n_mc, generator, class_sizes=sizes, chunk_size=chunk_size,
                        method=kernel_method(method), plan=plan)
    cv = control_variate
    (h_t, se_t), (mi, se_mi), (h_x, se_x) = (summarize(terms, k, control_variate=cv) for k in ("v_h", "v_x", "v_h-v_x"))
    centers = samples.reshape(1, -1, d)

    def floored(se):  # the overlap no sample saw, for small nearly separated mixtures (entropy._with_overlap_floor)
        return float(_with_overlap_floor(torch.tensor([se], dtype=torch.float64), centers, beta, chunk_size,
                                         kernel_method(method), cv)[0])

    se_t, se_mi = floored(se_t), floored(se_mi)
    path = "exact" if plan is None else "nested"
    x_t = MIEstimate(value=mi, stderr=se_mi, h_t=h_t, h_t_given_x=h_x, h_t_stderr=se_t, h_t_given_x_stderr=se_x,
                     h_t_path=path)
    t_y = None
    if labels is not None and len(sizes) == 1:
        t_y = LabelMIEstimate(0.0, 0.0, h_t, h_t, se_t, se_t)
    elif labels is not None and plan is None:
        (iy, se_iy), (h_y, se_y) = (summarize(terms, k, control_variate=cv) for k in ("v_y", "v_h-v_y"))
        t_y = LabelMIEstimate(value=iy, stderr=floored(se_iy), h_t=h_t, h_t_given_y=h_y, h_t_stderr=se_t,
                              h_t_given_y_stderr=se_y)
    elif labels is not None:
        p_max = max(sizes) / n_inputs
        t_y = sp_label_information(samples, labels, beta, n_mc=n_mc, n_mc_given_y=max(2, math.ceil(n_mc * p_max)),
                                   generator=generator, chunk_size=chunk_size, method=method,
                                   control_variate=cv, h_t=(h_t, se_t))
    return Information(x_t, t_y, n_mc)


def mutual_information_bounds(samples: torch.Tensor, beta: float, labels=None, *,
                              chunk_size: int | str = "auto", method: str = "auto",
                              unit: str = "nats") -> InformationBounds:
    """Kolchinsky–Tracey bounds on I(X; T_ℓ) and (with ``labels``) I(T_ℓ; Y), deterministic.

    Every entropy of :func:`sp_mutual_information` and :func:`sp_label_information`
    is bracketed by :func:`~infoflow_core.entropy.gm_entropy_bounds`
    (``lo ≤ h ≤ up``). A difference ``h(T) − h(T | ·)`` is then bounded by pairing
    opposite ends::

        I(X;T) ≥ lo h(T) − (1/n) Σ_i up h(T | X = x_i)
        I(X;T) ≤ up h(T) − (1/n) Σ_i lo h(T | X = x_i)
        I(T;Y) ≥ lo h(T) − Σ_y p(y) up h(T | Y = y)
        I(T;Y) ≤ up h(T) − Σ_y p(y) lo h(T | Y = y)

    (for ``n_x == 1``, h(T | X = x) = (d/2) ln(2πeβ²) exactly, so lo = up there).
    The results are then narrowed by facts that hold for any network: both
    informations are ≥ 0; I(X; T) ≤ H(X) = ln n_inputs; I(T; Y) ≤ H(Y) and, Y being
    a function of the input, I(T; Y) ≤ I(X; T) (so its upper bound is also capped
    by that of I(X; T), and the lower bound of I(X; T) raised to that of I(T; Y)).
    With a single class, I(T; Y) = 0 exactly.

    Parameters
    ----------
    samples : Tensor, shape (n_inputs, n_x, d)
        As for :func:`sp_mutual_information`.
    beta : float
        Noise standard deviation β > 0.
    labels : Tensor or NumPy array of integers, shape (n_inputs,), optional
        As for :func:`sp_label_information`; without them only I(X; T) is bounded.
    chunk_size, method
        Blocking and kernel-sum path, as in :func:`sp_mutual_information`; the
        work is O((n_inputs·n_x)²·d), chunked.
    unit : {"nats", "bits"}

    Returns
    -------
    InformationBounds
        ``x_t`` and ``t_y`` (None without labels), each ``MIBounds(lower, upper)``.

    Examples
    --------
    Four far-apart inputs, two per class: I(X;T) = ln 4 and I(T;Y) = ln 2, both pinned:

    >>> s = torch.tensor([0.0, 1.0, 5.0, 6.0], dtype=torch.float64).reshape(4, 1, 1)
    >>> b = mutual_information_bounds(s, 0.01, torch.tensor([0, 0, 1, 1]), unit="bits")
    >>> [round(v, 9) for v in (*b.x_t, *b.t_y)]
    [2.0, 2.0, 1.0, 1.0]
    """
    samples = check_tensor(samples, "samples", ndim=3, shape="(n_inputs, n_x, d)")
    n_inputs, n_x, d = samples.shape
    if labels is not None:
        labels = _check_labels(labels, n_inputs, samples.device)
    beta = check_beta(beta)
    chunk_size = check_chunk_size(chunk_size)
    method = check_method(method)
    unit = check_unit(unit)

    def bounds(centers):  # (B, n, d) -> lower, upper: float64 tensors (B,)
        if centers.shape[1] == 1:
            h0 = torch.full((centers.shape[0],), gaussian_entropy(d, beta), dtype=torch.float64)
            return h0, h0
        return _gm_entropy_bounds_batched(centers, beta, chunk_size, method)

    t_lo, t_up = (float(v[0]) for v in bounds(samples.reshape(1, n_inputs * n_x, d)))
    x_lo, x_up = (float(v.mean()) for v in bounds(samples))
    xt = [max(0.0, t_lo - x_up), min(math.log(n_inputs), t_up - x_lo)]
    ty = None
    if labels is not None:
        groups = _class_centers(samples, labels)
        if len(groups) == 1:
            ty = [0.0, 0.0]
        else:
            y_lo = y_up = h_y = 0.0
            for p, centers in groups:
                lo, up = bounds(centers)
                y_lo, y_up, h_y = y_lo + p * float(lo[0]), y_up + p * float(up[0]), h_y - p * math.log(p)
            ty = [max(0.0, t_lo - y_up), min(h_y, t_up - y_lo, xt[1])]
            xt[0] = max(xt[0], ty[0])
    scale = 1.0 / UNITS[unit]
    return InformationBounds(MIBounds(xt[0] * scale, xt[1] * scale),
                             None if ty is None else MIBounds(ty[0] * scale, ty[1] * scale), unit)
