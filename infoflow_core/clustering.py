"""Clustering measures (Sections 2 and 5 of the paper): pairwise distances split by
class (Figs. 6 and 8) and cosine similarity between two models' representations
(Fig. 3)."""

from __future__ import annotations

import torch

from ._tiles import BLOCK_ELEMENTS
from ._validation import check_tensor

__all__ = ["pairwise_distances_by_class", "pairwise_distance_histograms", "cosine_similarities"]



def _check_labels(labels, n: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    if labels.shape[0] != n:
        raise ValueError(f"labels must have one entry per row of t ({n}), got {labels.shape[0]}")
    return labels


def _row_blocks(t: torch.Tensor):
    """Yield (i0, i1, distances (i1−i0, n)) over blocks of rows."""
    n = t.shape[0]
    rows = max(1, BLOCK_ELEMENTS // n)
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        yield i0, i1, torch.cdist(t[i0:i1], t, compute_mode="donot_use_mm_for_euclid_dist")  # (r, n)


def pairwise_distances_by_class(t: torch.Tensor, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distances of all pairs i < j, split by same or different label.

    Parameters
    ----------
    t : Tensor, shape (n, d)
        Representations (or inputs) of n samples.
    labels : Tensor, shape (n,)
        Class labels.

    Returns
    -------
    within, between : Tensor, 1-D each
        Distances of same-label and different-label pairs, in the dtype of ``t``
        (pairs in row-major order of i < j). For very large n prefer
        :func:`pairwise_distance_histograms`, whose memory does not grow with n².

    Examples
    --------
    >>> w, b = pairwise_distances_by_class(torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([0, 0, 1]))
    >>> w.tolist(), b.tolist()
    ([1.0], [3.0, 2.0])
    """
    t = check_tensor(t, "t", ndim=2, shape="(n, d)")
    n = t.shape[0]
    labels = _check_labels(labels, n).to(t.device)
    within, between = [], []
    for i0, i1, dist in _row_blocks(t):
        j = torch.arange(n, device=t.device)
        i = torch.arange(i0, i1, device=t.device)
        upper = j.unsqueeze(0) > i.unsqueeze(1)  # (r, n)
        same = labels[i0:i1].unsqueeze(1) == labels.unsqueeze(0)  # (r, n)
        within.append(dist[upper & same])
        between.append(dist[upper & ~same])
    return torch.cat(within), torch.cat(between)


def pairwise_distance_histograms(t: torch.Tensor, labels, bins, *, clip: bool = False,
                                 method: str = "direct") -> tuple[torch.Tensor, torch.Tensor]:
    """Histograms of within- and between-class pairwise distances (pairs i < j),
    computed block by block: memory O(n · block), never n².

    Rows are grouped by class first, so within-class pairs come from one class's
    block against itself (upper triangle only) and between-class pairs from two
    classes' blocks: about n²/2 distances in all, none computed twice.

    Parameters
    ----------
    t : Tensor, shape (n, d)
    labels : Tensor, shape (n,)
    bins : Tensor, shape (k + 1,)
        Increasing bin edges; bins are ``[e_0, e_1), …, [e_{k−1}, e_k]``.
    clip : bool
        If False (default), distances outside ``[e_0, e_k]`` are not counted (as in
        ``numpy.histogram``). If True they count in the first or last bin, so that
        every pair is counted (useful with log-spaced edges starting above 0).
    method : {"direct", "gram"}
        ``"direct"`` (default): every distance from its coordinate differences, exact to
        rounding. ``"gram"``: from ‖a‖² + ‖b‖² − 2⟨a, b⟩ by matrix products, about 15×
        faster for wide layers (d in the thousands) on a CPU. Its squared distances
        carry a cancellation error of about ``d·eps·(‖a‖² + ‖b‖²)`` (eps of ``t``'s
        dtype; pass float64 to make it negligible against any bin width), so only a
        pair within that of a bin edge can be counted in the neighbouring bin.

    Returns
    -------
    within_counts, between_counts : Tensor of int64, shape (k,) each

    Examples
    --------
    >>> w, b = pairwise_distance_histograms(torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([0, 0, 1]),
    ...                                     torch.tensor([0.0, 1.5, 3.0]))
    >>> w.tolist(), b.tolist()
    ([1, 0], [0, 2])
    """
    t = check_tensor(t, "t", ndim=2, shape="(n, d)")
    if method not in ("direct", "gram"):
        raise ValueError(f"method must be 'direct' or 'gram', got {method!r}")
    mode = "donot_use_mm_for_euclid_dist" if method == "direct" else "use_mm_for_euclid_dist"
    n = t.shape[0]
    labels = _check_labels(labels, n).to(t.device)
    edges = torch.as_tensor(bins, dtype=torch.float64, device=t.device)
    if edges.dim() != 1 or edges.numel() < 2:
        raise ValueError(f"bins must be a 1-D tensor of at least 2 edges, got shape {tuple(edges.shape)}")
    if not bool(torch.isfinite(edges).all()) or not bool((edges[1:] > edges[:-1]).all()):
        raise ValueError("bins must be finite and strictly increasing")
    k = edges.numel() - 1
    within = torch.zeros(k, dtype=torch.long, device=t.device)
    between = torch.zeros(k, dtype=torch.long, device=t.device)

    edges_t = edges.to(t.dtype)  # compare in the distances' dtype (no float64 copy of every distance)

    def count(dist: torch.Tensor, acc: torch.Tensor) -> None:
        dist = dist.reshape(-1)  # (m,)
        idx = torch.bucketize(dist, edges_t, right=True) - 1  # bin of each distance
        idx[dist == edges_t[-1]] = k - 1  # the last bin is closed
        if clip:
            idx.clamp_(0, k - 1)
        else:
            idx = idx[(idx >= 0) & (idx < k)]
        acc += torch.bincount(idx, minlength=k)

    groups = [t[labels == c] for c in torch.unique(labels)]  # each (n_c, d)
    for a, ga in enumerate(groups):
        rows = max(1, BLOCK_ELEMENTS // max(1, ga.shape[0]))
        for r0 in range(0, ga.shape[0], rows):
            block = ga[r0:r0 + rows]  # (r, d)
            # Within: rows r0.. against columns r0.. of the same class, pairs j > i.
            dist = torch.cdist(block, ga[r0:], compute_mode=mode)  # (r, n_c − r0)
            upper = torch.ones_like(dist, dtype=torch.bool).triu_(diagonal=1)  # (r, n_c − r0)
            count(dist[upper], within)
            for gb in groups[a + 1:]:
                count(torch.cdist(block, gb, compute_mode=mode), between)  # (r, n_b)
    return within, between


def cosine_similarities(a: torch.Tensor, b: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """Cosine similarity between two models' representations of the same inputs.

    ``cos_i = ⟨a_i, b_i⟩ / (‖a_i‖ ‖b_i‖)`` over the layer's units, one value per
    input (the paper's Fig. 3 compares the deterministic CNN with each noisy or
    dropout CNN this way, layer by layer).

    Parameters
    ----------
    a, b : Tensor, shape (n, d)
        Row i of each is the same input's representation in the two models.
    eps : float
        Norms are clamped below at ``eps`` (an all-zero row gives 0).

    Returns
    -------
    Tensor, shape (n,), in [−1, 1].

    Examples
    --------
    >>> cosine_similarities(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])).tolist()
    [0.7071067690849304]
    """
    a = check_tensor(a, "a", ndim=2, shape="(n, d)")
    b = check_tensor(b, "b", ndim=2, shape="(n, d)")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    dot = (a * b).sum(dim=1)  # (n,)
    norms = a.norm(dim=1).clamp_min(eps) * b.norm(dim=1).clamp_min(eps)  # (n,)
    return (dot / norms).clamp(-1.0, 1.0)
