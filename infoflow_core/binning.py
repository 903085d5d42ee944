"""Binned entropies H(Bin(T_ℓ)) (Sections 1 and 5 of the paper).

Each neuron's range is cut into bins; ``Bin(T)`` maps a representation to
its cell. For a deterministic network and X uniform over n distinct inputs,
``I(X; Bin(T_ℓ)) = H(Bin(T_ℓ))`` ≤ ln n: a measure of clustering, not of
mutual information.

Edge convention (every function here): the bins are given by exactly one of
``bin_size``, ``n_bins`` and ``edges``, with float64 edges e_0 < … < e_K built as
NumPy builds them:

* ``n_bins=K`` over ``value_range=(lo, hi)``: ``np.linspace(lo, hi, K + 1)``;
* ``bin_size=s``: ``lo + np.arange(K + 1) * s`` with ``K = ceil((hi − lo)/s)``;
* ``edges=``: the given increasing sequence, converted to float64.

A value x is in bin k when ``e_k ≤ x < e_{k+1}`` (``np.digitize(x, edges) − 1``,
``np.histogram``'s bins), except that the top edge belongs to the last bin and
values outside ``[e_0, e_K]`` are clipped to the end bins. Values are compared
in float64: a float32 input is compared as the float64 value of each float32
number (exact) against the float64 edges, as ``np.digitize`` does for a float32
array and float64 bins. A float32 value is therefore on a float64 edge only when
the edge is itself a float32 number; ``np.float32(-1 + 3 * (2 / 29))`` lies
below the edge ``-1 + 3 * (2 / 29)`` and goes one bin down, in NumPy as here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._validation import check_positive_int, check_tensor
from .entropy import UNITS, check_unit

__all__ = ["bin_edges", "bin_indices", "binned_entropy", "binned_entropy_per_unit", "binned_label_information"]


class _Bins:
    """Validated bins: ``K`` bins, and either a uniform grid (``lo``, ``s``: edges
    ``lo + k·s``, the top one replaced by ``hi`` for ``n_bins``) or explicit float64
    ``edges`` (CPU tensor, shape (K + 1,))."""

    __slots__ = ("K", "lo", "hi", "s", "edges", "linspace")

    def __init__(self, K, lo=None, hi=None, s=None, edges=None, linspace=False):
        self.K, self.lo, self.hi, self.s, self.edges, self.linspace = K, lo, hi, s, edges, linspace


def _check_edges(edges) -> torch.Tensor:
    """``edges`` as a float64 CPU tensor of shape (K + 1,), K ≥ 1, finite and strictly increasing."""
    what = "edges must be a 1-D increasing sequence of at least 2 finite numbers"
    if isinstance(edges, torch.Tensor):
        if edges.dtype == torch.bool or edges.is_complex():
            raise ValueError(f"{what}, got a tensor of dtype {edges.dtype}")
        e = edges.detach().to(device="cpu", dtype=torch.float64)
    else:
        if isinstance(edges, (str, bytes)) or np.isscalar(edges):
            raise ValueError(f"{what}, got {edges!r}")
        try:
            a = np.asarray(edges)
        except (TypeError, ValueError):
            raise ValueError(f"{what}, got {edges!r}") from None
        if a.dtype.kind not in "iuf":
            raise ValueError(f"{what}, got {edges!r} (dtype {a.dtype})")
        e = torch.from_numpy(a.astype(np.float64))  # a copy: later changes to the caller's array do not move the bins
    if e.dim() != 1 or e.numel() < 2:
        raise ValueError(f"{what}, got shape {tuple(e.shape)}")
    if not bool(torch.isfinite(e).all()):
        raise ValueError(f"{what}, got non-finite values: {e.tolist() if e.numel() <= 10 else e}")
    if not bool((e[1:] > e[:-1]).all()):
        k = int(torch.nonzero(e[1:] <= e[:-1])[0, 0])
        raise ValueError(f"edges must be strictly increasing, got edges[{k}] = {e[k].item()!r} "
                         f"≥ edges[{k + 1}] = {e[k + 1].item()!r}")
    return e


def _check_bins(bin_size, n_bins, value_range, edges=None) -> _Bins:
    """The bins from exactly one of ``bin_size`` (K = ceil((hi − lo)/s)), ``n_bins``
    (s = (hi − lo)/K) and ``edges`` (not with ``value_range``)."""
    given = [name for name, v in (("bin_size", bin_size), ("n_bins", n_bins), ("edges", edges)) if v is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of bin_size and n_bins (or edges instead of both), got "
                         f"bin_size={bin_size!r}, n_bins={n_bins!r}" + ("" if edges is None else ", and edges"))
    if edges is not None:
        if value_range is not None:
            raise ValueError(f"value_range goes with bin_size or n_bins; edges set the range themselves, "
                             f"got value_range={value_range!r} with edges")
        e = _check_edges(edges)
        return _Bins(e.numel() - 1, edges=e)
    if value_range is None:
        value_range = (-1.0, 1.0)
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (low, high), got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"value_range must be finite with high > low, got {value_range!r}")
    if n_bins is not None:
        n_bins = check_positive_int(n_bins, "n_bins")
        return _Bins(n_bins, lo, hi, (hi - lo) / n_bins, linspace=True)  # np.linspace's step: (stop − start) / K
    try:
        bin_size = float(bin_size)
    except (TypeError, ValueError):
        raise ValueError(f"bin_size must be a positive number, got {bin_size!r}") from None
    if not math.isfinite(bin_size) or bin_size <= 0:
        raise ValueError(f"bin_size must be a positive finite number, got {bin_size}")
    n_bins = max(1, math.ceil((hi - lo) / bin_size - 1e-9))
    return _Bins(n_bins, lo, hi, bin_size)


def bin_edges(*, bin_size: float | None = None, n_bins: int | None = None, value_range=None,
              edges=None) -> torch.Tensor:
    """The ``K + 1`` bin edges, float64 (CPU), as NumPy computes them.

    Give exactly one of ``bin_size``, ``n_bins`` and ``edges``; ``value_range``
    (default ``(-1, 1)``) goes with the first two.

    * ``n_bins=K``: ``np.linspace(lo, hi, K + 1)``, i.e. ``lo + k·s`` with ``s =
      (hi − lo)/K`` in float64 and the top edge exactly ``hi`` (the way IDNNs
      bins by number over [−1, 1]).
    * ``bin_size=s``: ``lo + np.arange(K + 1) * s`` (each edge the float64 value of
      ``lo + k * s``), ``K = ceil((hi − lo) / s)`` less 1e-9 of slack, so a range
      that is a whole number of bins up to round-off gets exactly that many; the
      last bin may reach past ``hi``. With ``s = (hi − lo)/K`` the edges are
      those of ``n_bins=K`` except perhaps the top one, which never changes a
      bin (values at or above ``e_{K−1}`` are all in the last bin).
    * ``edges``: the given 1-D strictly increasing finite sequence (list, NumPy
      array or tensor; ≥ 2 entries) as float64; anything else is a ``ValueError``
      naming ``edges``.

    Note on IDNNs: its ``num_of_bins`` counts *edges* (``np.linspace(-1, 1,
    num_of_bins)`` then ``np.digitize``), which makes ``num_of_bins − 1`` bins of
    width ``2 / (num_of_bins − 1)`` plus a cell of its own for values ≥ 1 (the
    +1.0 of a saturated tanh). Here +1.0 is in the last bin; ``n_bins =
    num_of_bins − 1`` gives their edges.

    >>> bin_edges(bin_size=0.5).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    >>> bin_edges(n_bins=4, value_range=(0, 1)).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> bin_edges(edges=[0, 1, 10]).tolist()
    [0.0, 1.0, 10.0]
    """
    b = _check_bins(bin_size, n_bins, value_range, edges)
    if b.edges is not None:
        return b.edges.clone()
    if b.linspace:
        return torch.from_numpy(np.linspace(b.lo, b.hi, b.K + 1))
    return torch.from_numpy(b.lo + np.arange(b.K + 1, dtype=np.float64) * b.s)


def _indices(t: torch.Tensor, b: _Bins) -> torch.Tensor:
    """Bin index (int64, on ``t.device``) of every entry of ``t`` in the validated bins ``b``."""
    x = t.to(torch.float64)  # exact for float32 input
    if b.edges is not None:
        e = b.edges.to(x.device)
        k = torch.searchsorted(e, x.contiguous(), right=True) - 1  # e_k ≤ x < e_{k+1}: np.digitize − 1
        return k.clamp_(0, b.K - 1)
    # Uniform grid, without listing its K + 1 edges (K may be 10⁹): a first guess by
    # division (off by at most one near an edge), then comparisons with the float64
    # edges e_k = lo + k·s, computed as in bin_edges, so that no rounding moves a
    # value across an edge. The top edge (hi for n_bins) never matters: every value
    # ≥ e_{K−1} ends in bin K − 1.
    lo, s, K = b.lo, b.s, b.K
    k = torch.floor((x - lo) / s).clamp_(-1, K)  # (n, d), float64
    k = k - (x < lo + k * s).to(torch.float64)  # below its left edge: one bin down
    k = k + (x >= lo + (k + 1) * s).to(torch.float64)  # at or past its right edge: one bin up
    return k.clamp_(0, K - 1).long()


def bin_indices(t: torch.Tensor, *, bin_size: float | None = None, n_bins: int | None = None,
                value_range=None, edges=None) -> torch.Tensor:
    """Per-neuron bin index of every value.

    Edge convention: bin k is ``[e_k, e_{k+1})`` for the float64 edges of
    :func:`bin_edges` (``np.linspace(lo, hi, K + 1)`` for ``n_bins``, ``lo + k·s``
    for ``bin_size``, or ``edges`` as given; exactly one of the three): the index
    is ``np.digitize(x, edges) − 1`` (``torch.searchsorted(edges, x, right=True) − 1``),
    so a value exactly on an interior edge ``e_k`` is in bin k, as in
    ``np.histogram``. The last bin is closed on the right too: the top edge (``hi``
    for ``n_bins``) falls in bin K−1. Values outside ``[e_0, e_K]`` are clipped:
    below to bin 0, above to bin K−1.

    Values are compared in float64: float32 input as the float64 value of each
    float32 number (exact), against the float64 edges, as ``np.digitize`` compares
    a float32 array with float64 bins. A float32 value is on an edge only if the
    edge is a float32 number; otherwise it goes to whichever side its float32
    rounding fell (``np.float32(-1 + 3 * (2/29))`` is below that edge: bin 2 of
    ``n_bins=29``). Likewise ``torch.linspace`` does not round as ``np.linspace``
    does, so its values, even in float64, are not all on NumPy's edges.

    Parameters
    ----------
    t : Tensor, shape (n, d)
    bin_size : float, optional
    n_bins : int, optional
    value_range : (float, float), optional
        Default ``(-1, 1)``; with ``bin_size`` or ``n_bins`` only.
    edges : 1-D increasing sequence of float, optional
        Explicit bin edges (K + 1 of them, K ≥ 1), e.g. ``np.linspace(-1, 1, 31)``.

    Returns
    -------
    Tensor of int64, shape (n, d)

    Examples
    --------
    >>> bin_indices(torch.tensor([[-1.0], [-0.5], [-0.01], [1.0], [7.0]]), bin_size=0.5)[:, 0].tolist()
    [0, 1, 1, 3, 3]
    >>> bin_indices(torch.tensor([[-1.0], [0.99], [1.0]]), n_bins=30)[:, 0].tolist()  # +1.0: the last bin
    [0, 29, 29]
    >>> bin_indices(torch.tensor([[-3.0], [0.0], [0.5], [9.0]]), edges=[0.0, 0.5, 2.0])[:, 0].tolist()
    [0, 0, 1, 1]
    >>> e3 = -1 + 3 * (2 / 29)  # the edge e_3 of n_bins=29 over (-1, 1)
    >>> [bin_indices(torch.tensor([[e3]], dtype=dt), n_bins=29).item() for dt in (torch.float64, torch.float32)]
    [3, 2]
    """
    t = check_tensor(t, "t", ndim=2, shape="(n, d)")
    return _indices(t, _check_bins(bin_size, n_bins, value_range, edges))


def _entropy_of_counts(counts: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the distribution proportional to ``counts`` along the last axis."""
    counts = counts.to(torch.float64)
    total = counts.sum(dim=-1, keepdim=True)
    p = counts / total
    return 0.0 - torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(dim=-1)  # 0.0, never −0.0


def binned_entropy(t: torch.Tensor, *, bin_size: float | None = None, n_bins: int | None = None,
                   value_range=None, edges=None, unit: str = "nats") -> float:
    """H(Bin(T)): the discrete entropy (nats, or bits) of the binned rows of ``t``.

    Each row is one sample (one input); rows in the same cell of the
    ``K^d`` grid are the same symbol. Bins are ``[e_k, e_{k+1})``, k = 0 … K−1, for the
    float64 edges of :func:`bin_edges`: ``np.linspace(lo, hi, K + 1)`` for
    ``n_bins=K``, ``lo + k·s`` for ``bin_size=s``, or ``edges`` as given (give
    exactly one). A value on an interior edge is in the bin that starts there
    (``np.digitize``/``np.histogram``), the top edge is in the last bin (closed at
    the top), and values outside the edges are clipped into the first or last
    bin; float32 input is compared as its exact float64 values (see
    :func:`bin_indices`).

    Parameters
    ----------
    t : Tensor, shape (n, d)
        Representations of n inputs, weighed equally.
    bin_size : float, optional
        Width of a bin (> 0), in the units of ``t``.
    n_bins : int, optional
        Number of bins over ``value_range`` instead (≥ 1; see :func:`bin_edges`).
    value_range : (float, float), optional
        The range the bins cover, default ``(-1, 1)`` for tanh units; with
        ``bin_size`` or ``n_bins`` only.
    edges : 1-D increasing sequence of float, optional
        Explicit bin edges instead (K + 1 of them, K ≥ 1; see :func:`bin_edges`).
    unit : {"nats", "bits"}

    Returns
    -------
    float
        Between 0 and ln n (log₂ n in bits).

    Examples
    --------
    >>> binned_entropy(torch.tensor([[-0.9], [-0.8], [0.5], [0.6]]), bin_size=1.0)  # 2 cells, 2 rows each
    0.6931471805599453
    >>> binned_entropy(torch.tensor([[-0.9], [-0.8], [0.5], [0.6]]), n_bins=2, unit="bits")
    1.0
    >>> binned_entropy(torch.tensor([[-0.9], [-0.8], [0.5], [0.6]]), edges=[-1.0, 0.55, 1.0], unit="bits")
    0.8112781244591328
    """
    scale = UNITS[check_unit(unit)]
    idx = bin_indices(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range, edges=edges)  # (n, d)
    _, counts = torch.unique(idx, dim=0, return_counts=True)
    return float(_entropy_of_counts(counts)) / scale


def binned_entropy_per_unit(t: torch.Tensor, *, bin_size: float | None = None, n_bins: int | None = None,
                            value_range=None, edges=None, unit: str = "nats") -> torch.Tensor:
    """H(Bin(T(k))) for each neuron k separately, in nats (or bits).

    Parameters
    ----------
    t : Tensor, shape (n, d)
    bin_size, n_bins, value_range, edges, unit
        As in :func:`binned_entropy` (exactly one of ``bin_size``, ``n_bins`` and ``edges``).

    Returns
    -------
    Tensor, shape (d,), float64, on ``t.device``.

    Examples
    --------
    >>> binned_entropy_per_unit(torch.tensor([[-0.9, 0.1], [0.5, 0.2]]), n_bins=2, unit="bits").tolist()
    [1.0, 0.0]
    """
    scale = UNITS[check_unit(unit)]
    t = check_tensor(t, "t", ndim=2, shape="(n, d)")
    bins = _check_bins(bin_size, n_bins, value_range, edges)
    idx, n_bins = _indices(t, bins), bins.K  # (n, d)
    n, d = idx.shape
    flat = idx + torch.arange(d, device=idx.device) * n_bins  # (n, d): unit k uses bins [k·K, (k+1)·K)
    counts = torch.bincount(flat.reshape(-1), minlength=d * n_bins).reshape(d, n_bins)  # (d, K)
    return _entropy_of_counts(counts) / scale


def binned_label_information(t: torch.Tensor, labels, *, bin_size: float | None = None, n_bins: int | None = None,
                             value_range=None, edges=None, unit: str = "nats") -> float:
    """I(Bin(T); Y): the plug-in mutual information (nats, or bits) between the binned
    rows of ``t`` and the labels, the I(T; Y) of the binning-based information plane
    (Shwartz-Ziv & Tishby's IDNNs).

        I(Bin(T); Y) = H(Bin(T)) + H(Y) − H(Bin(T), Y)
                     = H(Bin(T)) − Σ_y p(y) H(Bin(T) | Y = y),

    with the rows weighed equally. It lies in [0, min(H(Bin(T)), H(Y))]: H(Y) once
    no cell holds two labels, 0 when every cell holds the labels in their overall
    proportions (e.g. a single cell).

    Parameters
    ----------
    t : Tensor, shape (n, d)
    labels : Tensor or NumPy array of integers, shape (n,)
    bin_size, n_bins, value_range, edges, unit
        As in :func:`binned_entropy` (exactly one of ``bin_size``, ``n_bins`` and ``edges``).

    Returns
    -------
    float

    Examples
    --------
    >>> t = torch.tensor([[-0.9], [-0.8], [0.5], [0.6]])
    >>> binned_label_information(t, torch.tensor([0, 0, 1, 1]), n_bins=2, unit="bits")  # cells = labels
    1.0
    >>> binned_label_information(t, torch.tensor([0, 1, 0, 1]), n_bins=2)  # each cell half and half
    0.0
    """
    scale = UNITS[check_unit(unit)]
    idx = bin_indices(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range, edges=edges)  # (n, d)
    if isinstance(labels, np.ndarray):
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must hold integers, got a NumPy array of dtype {labels.dtype}")
        labels = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64, copy=False))
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex() \
            or labels.dtype == torch.bool:
        raise ValueError("labels must be a tensor or NumPy array of integers (class indices)")
    if labels.dim() != 1 or labels.shape[0] != idx.shape[0]:
        raise ValueError(f"labels must have shape ({idx.shape[0]},), one per row of t, got {tuple(labels.shape)}")
    labels = labels.to(device=idx.device, dtype=torch.long)
    _, cell = torch.unique(idx, dim=0, return_inverse=True)  # (n,)
    _, label = torch.unique(labels, return_inverse=True)  # (n,)
    joint = cell * (int(label.max()) + 1) + label
    h = lambda ids: _entropy_of_counts(torch.unique(ids, return_counts=True)[1])  # noqa: E731
    return max(0.0, float(h(cell) + h(label) - h(joint))) / scale
