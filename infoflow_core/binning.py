"""Binned entropies H(Bin(T_ℓ)) (Sections 1 and 5 of the paper).

Each neuron's range is cut into equal bins; ``Bin(T)`` maps a representation to
its cell. For a deterministic network and X uniform over n distinct inputs,
``I(X; Bin(T_ℓ)) = H(Bin(T_ℓ))`` ≤ ln n: a measure of clustering, not of
mutual information.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._validation import check_positive_int, check_tensor
from .entropy import UNITS, check_unit

__all__ = ["bin_edges", "bin_indices", "binned_entropy", "binned_entropy_per_unit", "binned_label_information"]


def _check_bins(bin_size, n_bins, value_range) -> tuple[float, float, float, int]:
    """``(s, lo, hi, K)``: bin width, range and number of bins, from exactly one of
    ``bin_size`` (K = ceil((hi − lo)/s)) and ``n_bins`` (s = (hi − lo)/K)."""
    if (bin_size is None) == (n_bins is None):
        raise ValueError(f"give exactly one of bin_size and n_bins, got bin_size={bin_size!r}, n_bins={n_bins!r}")
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (low, high), got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"value_range must be finite with high > low, got {value_range!r}")
    if n_bins is not None:
        n_bins = check_positive_int(n_bins, "n_bins")
        return (hi - lo) / n_bins, lo, hi, n_bins
    try:
        bin_size = float(bin_size)
    except (TypeError, ValueError):
        raise ValueError(f"bin_size must be a positive number, got {bin_size!r}") from None
    if not math.isfinite(bin_size) or bin_size <= 0:
        raise ValueError(f"bin_size must be a positive finite number, got {bin_size}")
    n_bins = max(1, math.ceil((hi - lo) / bin_size - 1e-9))
    return bin_size, lo, hi, n_bins


def bin_edges(*, bin_size: float | None = None, n_bins: int | None = None, value_range=(-1.0, 1.0)) -> torch.Tensor:
    """The ``K + 1`` bin edges ``lo + k·s``, k = 0 … K, in float64.

    Give exactly one of ``bin_size`` and ``n_bins``. With ``bin_size``, ``s =
    bin_size`` and ``K = ceil((hi − lo) / s)`` (less 1e-9 of slack, so a range
    that is a whole number of bins up to round-off gets exactly that many; the
    last bin may reach past ``hi``). With ``n_bins``, ``K = n_bins`` and ``s =
    (hi − lo) / K`` (float64), the way IDNNs bins by number over [−1, 1]. Each
    edge is the float64 value of the expression ``lo + k * s``.

    Note on IDNNs: its ``num_of_bins`` counts *edges* (``np.linspace(-1, 1,
    num_of_bins)`` then ``np.digitize``), which makes ``num_of_bins − 1`` bins of
    width ``2 / (num_of_bins − 1)`` plus a cell of its own for values ≥ 1 (the
    +1.0 of a saturated tanh). Here +1.0 is in the last bin; ``n_bins =
    num_of_bins − 1`` gives their bin width.

    >>> bin_edges(bin_size=0.5).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    >>> bin_edges(n_bins=4, value_range=(0, 1)).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    bin_size, lo, _, n_bins = _check_bins(bin_size, n_bins, value_range)
    return lo + torch.arange(n_bins + 1, dtype=torch.float64) * bin_size


def bin_indices(t: torch.Tensor, *, bin_size: float | None = None, n_bins: int | None = None,
                value_range=(-1.0, 1.0)) -> torch.Tensor:
    """Per-neuron bin index of every value.

    Edge convention: bin k is ``[e_k, e_{k+1})`` with ``e_k = lo + k·s``
    (float64, see :func:`bin_edges`) for k = 0 … K−1, where ``s = bin_size`` and
    ``K = ceil((hi − lo) / s)``, or ``K = n_bins`` and ``s = (hi − lo) / K``
    (exactly one of the two): closed on the left, so a value exactly on an interior edge
    ``e_k`` is in bin k. The last bin is closed on the right too: ``hi`` (and
    the top edge) fall in bin K−1. Values outside ``value_range`` are clipped:
    below ``lo`` to bin 0, above ``hi`` to bin K−1. Values are compared with
    the edges exactly (after conversion to float64); a division only makes the
    first guess, so no rounding moves a value across an edge.

    Parameters
    ----------
    t : Tensor, shape (n, d)
    bin_size : float, optional
    n_bins : int, optional
    value_range : (float, float)

    Returns
    -------
    Tensor of int64, shape (n, d)

    Examples
    --------
    >>> bin_indices(torch.tensor([[-1.0], [-0.5], [-0.01], [1.0], [7.0]]), bin_size=0.5)[:, 0].tolist()
    [0, 1, 1, 3, 3]
    >>> bin_indices(torch.tensor([[-1.0], [0.99], [1.0]]), n_bins=30)[:, 0].tolist()  # +1.0: the last bin
    [0, 29, 29]
    """
    t = check_tensor(t, "t", ndim=2, shape="(n, d)")
    bin_size, lo, _, n_bins = _check_bins(bin_size, n_bins, value_range)
    x = t.to(torch.float64)
    # A first guess by division (off by at most one near an edge), then exact
    # comparisons with the edges e_k = lo + k·bin_size, computed as in bin_edges.
    k = torch.floor((x - lo) / bin_size).clamp_(-1, n_bins)  # (n, d), float64
    k = k - (x < lo + k * bin_size).to(torch.float64)  # below its left edge: one bin down
    k = k + (x >= lo + (k + 1) * bin_size).to(torch.float64)  # at or past its right edge: one bin up
    return k.clamp_(0, n_bins - 1).long()


def _entropy_of_counts(counts: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the distribution proportional to ``counts`` along the last axis."""
    counts = counts.to(torch.float64)
    total = counts.sum(dim=-1, keepdim=True)
    p = counts / total
    return 0.0 - torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(dim=-1)  # 0.0, never −0.0


def binned_entropy(t: torch.Tensor, *, bin_size: float | None = None, n_bins: int | None = None,
                   value_range=(-1.0, 1.0), unit: str = "nats") -> float:
    """H(Bin(T)): the discrete entropy (nats, or bits) of the binned rows of ``t``.

    Each row is one sample (one input); rows in the same cell of the
    ``K^d`` grid are the same symbol. Bins are ``[lo + k·s, lo + (k+1)·s)``
    with ``s = bin_size`` or ``s = (hi − lo) / n_bins`` (give exactly one), k = 0 … K−1:
    a value on an interior edge is in the
    bin that starts there, and ``hi`` is in the last bin (closed at the top).
    Values outside ``value_range`` are clipped into the first or last bin (see
    :func:`bin_indices`).

    Parameters
    ----------
    t : Tensor, shape (n, d)
        Representations of n inputs, weighed equally.
    bin_size : float, optional
        Width of a bin (> 0), in the units of ``t``.
    n_bins : int, optional
        Number of bins over ``value_range`` instead (≥ 1; see :func:`bin_edges`).
    value_range : (float, float)
        The range the bins cover, ``(-1, 1)`` for tanh units.
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
    """
    scale = UNITS[check_unit(unit)]
    idx = bin_indices(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range)  # (n, d)
    _, counts = torch.unique(idx, dim=0, return_counts=True)
    return float(_entropy_of_counts(counts)) / scale


def binned_entropy_per_unit(t: torch.Tensor, *, bin_size: float | None = None, n_bins: int | None = None,
                            value_range=(-1.0, 1.0), unit: str = "nats") -> torch.Tensor:
    """H(Bin(T(k))) for each neuron k separately, in nats (or bits).

    Parameters
    ----------
    t : Tensor, shape (n, d)
    bin_size, n_bins, value_range, unit
        As in :func:`binned_entropy` (exactly one of ``bin_size`` and ``n_bins``).

    Returns
    -------
    Tensor, shape (d,), float64, on ``t.device``.

    Examples
    --------
    >>> binned_entropy_per_unit(torch.tensor([[-0.9, 0.1], [0.5, 0.2]]), n_bins=2, unit="bits").tolist()
    [1.0, 0.0]
    """
    scale = UNITS[check_unit(unit)]
    idx = bin_indices(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range)  # (n, d)
    _, _, _, n_bins = _check_bins(bin_size, n_bins, value_range)
    n, d = idx.shape
    flat = idx + torch.arange(d, device=idx.device) * n_bins  # (n, d): unit k uses bins [k·K, (k+1)·K)
    counts = torch.bincount(flat.reshape(-1), minlength=d * n_bins).reshape(d, n_bins)  # (d, K)
    return _entropy_of_counts(counts) / scale


def binned_label_information(t: torch.Tensor, labels, *, bin_size: float | None = None, n_bins: int | None = None,
                             value_range=(-1.0, 1.0), unit: str = "nats") -> float:
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
    bin_size, n_bins, value_range, unit
        As in :func:`binned_entropy` (exactly one of ``bin_size`` and ``n_bins``).

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
    idx = bin_indices(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range)  # (n, d)
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
