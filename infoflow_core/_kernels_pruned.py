"""Exact block-sparse Gaussian kernel sums: skip centres that cannot contribute.

For a query point x with an upper bound ``u ≥ min_j ‖x − c_j‖²`` on its squared
distance to the nearest centre, every centre with ``‖x − c_j‖² > u + 2β²K`` has a
kernel value below ``e^{−K}`` times the largest one. Dropping all such centres (at
most n of them) changes ``Σ_j exp(−‖x − c_j‖²/2β²)`` by a relative amount below
``n·e^{−K}``, and its logarithm by less than that in absolute value. With

    K = ln n + PRUNE_LOG_TOLERANCE,     PRUNE_LOG_TOLERANCE = 28,

the bound is ``e^{−28} ≈ 6.9e-13`` whatever n: the pruned sums are exact to
about 1e-12 relative (in float64; float32 inputs keep float32's own rounding).

How the skipping is organised (all in torch, so it follows the inputs' device):

1. The centres are split into blocks of at most ``leaf`` points by recursive
   median splits along each segment's widest coordinate (a balanced k-d tree,
   built with a few sorts). Each block keeps its bounding box.
   The tree's nodes keep their tight bounding boxes.
2. An upper bound ``u`` on each query's nearest-centre squared distance comes
   from exact distances to the block reached by descending towards the nearer
   box at each node.
3. The tree is descended again, keeping node ``k`` for query ``i`` iff the
   squared distance from the point to the node's box is ``≤ u_i + 2β²K``. Kept
   (query, block) pairs are grouped by block into pieces of ``G`` queries and
   computed exactly as dense (G × leaf) tiles, with the same distance code as the
   dense path; per-query results are combined by a log-sum-exp over its pieces.

A superset of the needed centres is always summed (whole blocks, and padding
slots are masked out), so the only error is the stated tolerance.
"""

from __future__ import annotations

import math

import torch

from . import _native
from ._tiles import BLOCK_ELEMENTS, exp_floor, log_sum_exp, squared_distances

__all__: list[str] = []

#: Terms below e^{-(ln n + 28)} of the largest term are skipped: relative error ≤ e^{-28} ≈ 6.9e-13.
PRUNE_LOG_TOLERANCE = 28.0
#: Queries handled at once (bounds the (queries × blocks) keep-mask).
QUERY_CHUNK = 8192
#: Maximum queries per piece (one dense tile of G × leaf).
MAX_GROUP = 64


#: Partitions kept by :func:`partition_of` (each holds its centres alive, so that the
#: memory cannot be reused by another tensor while its entry exists).
PARTITION_CACHE_SIZE = 2
_PARTITIONS: list = []


def partition_of(centers: torch.Tensor, leaf: int) -> "Partition":
    """The :class:`Partition` of ``centers`` (n, d), built once and reused.

    An SP estimate computes several entropies of the same mixture (the pilot that
    sizes the Monte Carlo sample, the estimate itself, the path chooser's probe); with
    4·10⁶ centres the tree costs seconds to build. Entries are keyed by the tensor's
    memory (address, offset, shape, strides, dtype, device) and its version counter
    (any in-place change invalidates it), and hold a reference to the tensor, so the
    memory of a cached mixture is never handed to another tensor while the entry exists.

    >>> c = torch.rand(1000, 2)
    >>> partition_of(c, 64) is partition_of(c.view(1000, 2), 64), partition_of(c, 64) is partition_of(c, 128)
    (True, False)
    >>> p = partition_of(c, 64); _ = c.add_(1.0); partition_of(c, 64) is p  # changed in place: rebuilt
    False
    """
    key = (centers.data_ptr(), centers.storage_offset(), tuple(centers.shape), centers.stride(), centers.dtype,
           str(centers.device), centers._version, int(leaf))
    for i, (k, _, part) in enumerate(_PARTITIONS):
        if k == key:
            _PARTITIONS.insert(0, _PARTITIONS.pop(i))
            return part
    part = Partition(centers, leaf)
    _PARTITIONS.insert(0, (key, centers, part))
    del _PARTITIONS[PARTITION_CACHE_SIZE:]
    return part


#: Centres per block with the C kernels of :mod:`._native`: their per-pair cost is low
#: enough that the (block, query) bookkeeping of smaller blocks costs more than the
#: extra pairs that larger blocks keep (measured on SZT mixtures of 4·10⁶ centres,
#: d = 3–7: 512 fastest of 64–512 in every case).
NATIVE_LEAF = 512


def default_leaf(d: int, native: bool = False) -> int:
    """Centres per block: small blocks prune finely in low d; in high d the
    point-to-box bounds cost O(d) per block, so blocks grow. With the C kernels
    (``native``), :data:`NATIVE_LEAF` for every d.

    >>> default_leaf(3), default_leaf(40), default_leaf(3, native=True)
    (256, 512, 512)
    """
    if native:
        return NATIVE_LEAF
    return 256 if d <= 16 else 512


class Partition:
    """Centres of one mixture in a balanced k-d tree of spatial blocks.

    Built by ``levels`` rounds of median splits, each segment along its widest
    coordinate (estimated from a strided subsample of ≤ 64 points per segment),
    with one sort per round. Node ``j`` of level ``l`` has children ``2j`` and
    ``2j + 1``; level ``levels`` holds the blocks.

    Attributes
    ----------
    blocks : Tensor, shape (nb, leaf, d)
        Centre coordinates by block (padding slots repeat the block's first centre).
    pad : Tensor, shape (nb, leaf)
        0 for real centres, −inf for padding slots.
    lo, hi : list of Tensor, shape (2**l, d)
        Tight bounding boxes of the nodes of each level l = 0..levels.
    counts : Tensor, shape (nb,)
        Real centres per block (they fill the first slots).
    """

    def __init__(self, centers: torch.Tensor, leaf: int):
        n, d = centers.shape
        device = centers.device
        # Enough levels for blocks of ≤ leaf centres, never so many that a block is empty.
        levels = min(math.ceil(math.log2(n / leaf)), n.bit_length() - 1) if n > leaf else 0
        pos = torch.arange(n, device=device)
        if _native.usable(centers, centers):
            order = _native.kd_order(centers, levels)  # (n,) exact median splits, by selection in C
            counts = _block_counts(n, levels, device)
        else:
            order, counts = _sorted_order(centers, levels, pos)
        nb = 1 << levels
        seg = torch.repeat_interleave(torch.arange(nb, device=device), counts)  # (n,) block of each position
        starts = torch.cumsum(counts, 0) - counts
        rank = pos - starts[seg]
        size = int(counts.max())
        slots = torch.full((nb, size), -1, dtype=torch.long, device=device)
        slots[seg, rank] = order  # (nb, size) centre index, −1 for padding
        valid = slots >= 0
        filled = torch.where(valid, slots, slots[:, :1])  # padding repeats the first centre
        self.blocks = centers[filled]  # (nb, size, d)
        self.pad = torch.zeros(nb, size, dtype=centers.dtype, device=device).masked_fill_(~valid, -math.inf)
        lo, hi = [self.blocks.amin(dim=1)], [self.blocks.amax(dim=1)]  # (nb, d) each
        for _ in range(levels):
            lo.append(torch.minimum(lo[-1][0::2], lo[-1][1::2]))  # parent boxes
            hi.append(torch.maximum(hi[-1][0::2], hi[-1][1::2]))
        self.lo, self.hi = lo[::-1], hi[::-1]
        self.levels = levels
        self.n = n
        self.counts = counts.to(torch.int64)
        self._blocks_t = None
        self._tree_boxes = None

    @property
    def tree_boxes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All nodes' boxes (lo, hi), each (2·nb − 1, d) contiguous, in heap order (level by
        level), for :mod:`._native` (built once)."""
        if self._tree_boxes is None:
            self._tree_boxes = (torch.cat(self.lo).contiguous(), torch.cat(self.hi).contiguous())
        return self._tree_boxes

    @property
    def blocks_t(self) -> torch.Tensor:
        """The blocks transposed, (nb, d, leaf) contiguous, for :mod:`._native` (built once)."""
        if self._blocks_t is None:
            self._blocks_t = self.blocks.transpose(1, 2).contiguous()
        return self._blocks_t

    @property
    def n_blocks(self) -> int:
        return self.blocks.shape[0]

    @property
    def leaf(self) -> int:
        return self.blocks.shape[1]


def _block_counts(n: int, levels: int, device) -> torch.Tensor:
    """Centres per segment after ``levels`` median splits of ``n``: (2**levels,) int64.

    The tree is balanced, so the sizes depend on n only: a segment of c centres
    splits into ceil(c/2) and floor(c/2).

    >>> _block_counts(7, 2, "cpu").tolist()
    [2, 2, 2, 1]
    """
    counts = torch.tensor([n], device=device)
    for _ in range(levels):
        counts = torch.stack([(counts + 1) // 2, counts // 2], dim=1).reshape(-1)
    return counts


def _sorted_order(centers: torch.Tensor, levels: int, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The centres' order in the blocks of :class:`Partition` and the block sizes, by one
    torch sort per level (any dtype or device): returns order (n,) and counts (2**levels,)."""
    n, d = centers.shape
    device = centers.device
    order = torch.arange(n, device=device)
    # Coordinates quantised to 30 bits over their global range (for sorting only).
    glo, ghi = centers.amin(dim=0), centers.amax(dim=0)  # (d,)
    unit = float((1 << 30) - 1) / (ghi - glo).to(torch.float64).clamp_min(1e-300)  # (d,)
    qc = ((centers - glo).to(torch.float64) * unit).clamp_(0, (1 << 30) - 1).to(torch.int32)  # (n, d)
    for level in range(levels):
        nseg = 1 << level
        counts = _block_counts(n, level, device)  # (nseg,)
        seg = torch.repeat_interleave(torch.arange(nseg, device=device), counts)  # (n,) segment of each position
        # Widest coordinate of each segment, from a strided subsample (segments are contiguous).
        stride = max(1, n // (nseg * 64))
        sub = pos[::stride]  # (s,)
        sseg = seg[sub]
        q = centers[order[sub]]  # (s, d)
        idx = sseg.unsqueeze(1).expand_as(q)  # (s, d)
        lo = torch.full((nseg, d), math.inf, dtype=q.dtype, device=device).scatter_reduce(0, idx, q, "amin")
        hi = torch.full((nseg, d), -math.inf, dtype=q.dtype, device=device).scatter_reduce(0, idx, q, "amax")
        dim = torch.nan_to_num(hi - lo, nan=0.0, posinf=0.0, neginf=0.0).argmax(dim=1)  # (nseg,)
        key = qc.reshape(-1)[order * d + dim[seg]]  # (n,) quantised coordinate used by its segment
        # One int32 sort key: segment in the high bits, the coordinate's top 30 − level bits below.
        perm = torch.argsort(seg.to(torch.int32).bitwise_left_shift_(30 - level).bitwise_or_(key >> level))
        order = order[perm]
    return order, _block_counts(n, levels, device)


def _box_lower_bounds(x: torch.Tensor, qry: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                      node: torch.Tensor) -> torch.Tensor:
    """Squared distance from query ``x[qry[p]]`` to the box of ``node[p]``: (P,)."""
    P = qry.shape[0]
    d = x.shape[1]
    out = torch.empty(P, dtype=x.dtype, device=x.device)
    step = max(1, BLOCK_ELEMENTS // max(1, d))
    for s in range(0, P, step):
        xs = x[qry[s:s + step]]  # (p, d)
        nd = node[s:s + step]
        gap = (lo[nd] - xs).clamp_min_(0) + (xs - hi[nd]).clamp_min_(0)  # (p, d)
        out[s:s + step] = (gap * gap).sum(dim=-1)
    return out


def _pieces(blk: torch.Tensor, qry: torch.Tensor, n_blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Group (block, query) pairs, sorted by block, into pieces of at most g queries.

    Returns ``members`` (n_pieces, g): query indices, −1 in empty slots, and
    ``piece_blk`` (n_pieces,): the block of each piece. g is the mean number of
    queries per used block rounded up to a power of two, at most ``MAX_GROUP``.
    """
    device = blk.device
    counts = torch.bincount(blk, minlength=n_blocks)  # (nb,) queries per block
    used = int((counts > 0).sum())
    mean = blk.shape[0] / max(1, used)
    g = int(min(MAX_GROUP, 1 << max(0, math.ceil(math.log2(mean)))))
    n_pieces_blk = (counts + g - 1) // g  # (nb,)
    piece_start = torch.cumsum(n_pieces_blk, 0) - n_pieces_blk
    pair_start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(blk.shape[0], device=device) - pair_start[blk]  # (P,) rank within its block
    piece = piece_start[blk] + rank // g  # (P,)
    n_pieces = int(n_pieces_blk.sum())
    members = torch.full((n_pieces, g), -1, dtype=torch.long, device=device)
    members[piece, rank % g] = qry  # (n_pieces, g)
    piece_blk = torch.repeat_interleave(torch.arange(n_blocks, device=device), n_pieces_blk)  # (n_pieces,)
    return members, piece_blk


def _tile_map(x: torch.Tensor, part: Partition, members: torch.Tensor, piece_blk: torch.Tensor,
              sh: torch.Tensor | None, reduce) -> torch.Tensor:
    """``reduce(d2 + padding (p, g, leaf)) -> (p, g)`` over all pieces, in float64.

    ``d2`` are squared distances between each piece's queries and its block's
    centres (:func:`._tiles.squared_distances`, centred by ``sh``); padding
    slots carry +inf.
    """
    n_pieces, g = members.shape
    out = torch.empty(n_pieces, g, dtype=torch.float64, device=x.device)
    step = max(1, BLOCK_ELEMENTS // (g * part.leaf))
    for p0 in range(0, n_pieces, step):
        mem = members[p0:p0 + step]  # (p, g)
        pb = piece_blk[p0:p0 + step]  # (p,)
        d2 = squared_distances(x[mem.clamp_min(0)], part.blocks[pb], sh)  # (p, g, leaf)
        d2.sub_(part.pad[pb].unsqueeze(1))  # padding slots → +inf
        out[p0:p0 + step] = reduce(d2).to(torch.float64)
    return out


def _kept_pairs(x: torch.Tensor, part: Partition, beta: float,
                sh: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(block, query) pairs, sorted by block, that may hold a centre within the tolerance.

    An upper bound ``u`` on each query's nearest-centre squared distance comes
    from the block reached by descending the tree towards the nearer box; then
    the tree is descended again keeping the nodes whose box is within
    ``u + 2β²(ln n + 28)``. ``sh`` is the distance shift of :func:`._tiles.shift`.
    """
    margin = 2.0 * beta * beta * (math.log(part.n) + PRUNE_LOG_TOLERANCE)
    if _native.usable(x, part.blocks, part.leaf):
        return _native.kept_blocks(x, part, margin)
    q = x.shape[0]
    device = x.device
    qall = torch.arange(q, device=device)
    node = torch.zeros(q, dtype=torch.long, device=device)
    for level in range(1, part.levels + 1):
        lo, hi = part.lo[level], part.hi[level]
        left = _box_lower_bounds(x, qall, lo, hi, 2 * node)
        right = _box_lower_bounds(x, qall, lo, hi, 2 * node + 1)
        node = 2 * node + (right < left).long()
    blk, order = node.sort(stable=True)
    members, piece_blk = _pieces(blk, qall[order], part.n_blocks)
    mins = _tile_map(x, part, members, piece_blk, sh, lambda d2: d2.amin(dim=-1))  # (n_pieces, g)
    ok = members >= 0
    upper = torch.full((q,), math.inf, dtype=torch.float64, device=device).scatter_reduce(
        0, members[ok], mins[ok], "amin")  # (q,) ≥ nearest-centre squared distance
    thr = (upper + margin).to(x.dtype)  # (q,)
    qry = qall
    node = torch.zeros(q, dtype=torch.long, device=device)
    for level in range(1, part.levels + 1):
        qry = qry.repeat_interleave(2)  # (2P,)
        node = torch.stack([2 * node, 2 * node + 1], dim=1).reshape(-1)  # (2P,)
        keep = _box_lower_bounds(x, qry, part.lo[level], part.hi[level], node) <= thr[qry]
        qry, node = qry[keep], node[keep]
    blk, order = node.sort(stable=True)
    return blk, qry[order]


def kept_fraction(x: torch.Tensor, part: Partition, beta: float, sh: torch.Tensor | None = None) -> float:
    """Fraction of (query, centre) pairs the pruned path would compute for queries x (q, d).

    ``sh``: the distance shift of :func:`._tiles.shift` (None for d < 17).
    """
    blk, _ = _kept_pairs(x, part, beta, sh)
    return blk.shape[0] * part.leaf / (x.shape[0] * part.n)


def log_kernel_sums_pruned_one(x: torch.Tensor, part: Partition, beta: float,
                               sh: torch.Tensor | None) -> torch.Tensor:
    """``log Σ_j exp(−‖x_i − c_j‖²/2β²)`` for queries x (m, d) of one mixture, exact to e^{-28}.

    ``sh`` (1, 1, d) or None is the distance shift of :func:`._tiles.shift`.
    Returns (m,) in x's dtype; the combination over blocks is done in float64.
    """
    m, d = x.shape
    scale = -0.5 / (beta * beta)
    floor = exp_floor(x.dtype)
    out = torch.empty(m, dtype=x.dtype, device=x.device)

    def lse(d2):  # (p, g, leaf) -> (p, g)
        return log_sum_exp(d2.mul_(scale), floor)

    for q0 in range(0, m, QUERY_CHUNK):
        xs = x[q0:q0 + QUERY_CHUNK]  # (q, d)
        q = xs.shape[0]
        blk, qry = _kept_pairs(xs, part, beta, sh)  # (P,) each, sorted by block
        members, piece_blk = _pieces(blk, qry, part.n_blocks)
        if _native.usable(xs, part.blocks, part.leaf):
            vals = _native.lse_pieces(xs, part.blocks_t, part.counts, members, piece_blk, scale,
                                      floor)  # (n_pieces, g)
        else:
            vals = _tile_map(xs, part, members, piece_blk, sh, lse)  # (n_pieces, g)
        ok = members >= 0
        vals, who = vals[ok], members[ok]  # (P,) each
        mx = torch.full((q,), -math.inf, dtype=torch.float64, device=x.device).scatter_reduce(0, who, vals, "amax")
        s = torch.zeros(q, dtype=torch.float64, device=x.device).index_add_(0, who, torch.exp(vals - mx[who]))
        out[q0:q0 + q] = (mx + torch.log(s)).to(x.dtype)
    return out
