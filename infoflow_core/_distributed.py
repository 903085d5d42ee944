"""Monte Carlo mixture entropies split over the ranks of a ``torch.distributed`` group.

The public estimators (:func:`~infoflow_core.entropy.gm_entropy`,
:func:`~infoflow_core.mutual_information.sp_mutual_information`,
:func:`~infoflow_core.mutual_information.sp_label_information`) take
``group=None``; with a process group every rank of it calls the function with the
same arguments except its own ``generator``, and every rank gets the same result.

How the work is split (``_sharded_entropies``)
----------------------------------------------
The single-process estimator draws, for each mixture of ``n`` components, a list
of ``n_mc`` sample positions: positions ``0 … m·n − 1`` (``m = n_mc // n``) belong
to component ``p mod n`` (each component ``m`` times) and the last ``r = n_mc mod
n`` positions to ``r`` distinct components chosen uniformly at random. With
``world`` ranks, rank ``k`` takes the contiguous positions ``[start_k, stop_k)``,
``n_mc // world`` of them plus one for the first ``n_mc % world`` ranks
(:meth:`Shard.share`). The random remainder components are drawn by group rank 0
from its generator and all-reduced (the other ranks contribute zeros), so every
rank knows the global per-component counts. With fewer samples than components
(``m = 0``) position ``p`` is one sample from a uniformly chosen component of the
``p``-th contiguous block of components, drawn by the rank that owns ``p``. The
stratification is thus global: the union of the ranks' samples has exactly the
allocation of the single-process estimator with the same ``n_mc``, and their noise
is independent (one generator per rank), so the estimate has the same distribution.
(For ``m = 0`` the standard error pairs neighbouring blocks within each rank, so at
a rank boundary the pairing, not the estimate, differs from one process's.)

Reductions, float64, per block of mixtures: (1) the per-component sums of
``−ln p(sample)`` (a (b, n) tensor; a (b,) total when ``m = 0``), from which the
global stratum means and the estimate ``(1/n) Σ_i mean_i`` follow; (2) the
per-component sums of squared deviations from those global means (the stratified
variance ``Σ_i s_i² / (n² k_i)``), or, when ``m < 2``, the total squared deviation
from the global mean (the i.i.d. formula). Two passes rather than sums of squares:
no cancellation. Finally rank 0's ``(values, stderrs)`` are all-reduced against
zeros, so every rank returns bit-identical numbers whatever the backend's
reduction order.

Memory per rank is that of the single-process estimator with
``ceil(n_mc / world)`` samples plus the (b, n) per-component statistics (which the
single-process estimator forms too). The number of collectives per call depends
only on the shapes and ``n_mc`` (block sizes use ``ceil(n_mc / world)``, the same
on every rank), never on the rank.

Backends: gloo (CPU tensors) and NCCL (CUDA tensors: the data must be on the
rank's CUDA device, e.g. ``torch.cuda.set_device(local_rank)``). With gloo,
statistics of CUDA data are copied to the CPU for the reduction.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass

import torch

from ._kernels import log_kernel_sums
from ._strata import _block_bounds, _pair_sums, _stratified_indices, own_component_term
from ._tiles import BLOCK_ELEMENTS

__all__: list[str] = []


@dataclass(frozen=True)
class Shard:
    """This process's place in a process group: ``rank`` of ``world``, and the
    device the collectives run on."""

    group: object
    rank: int
    world: int
    comm_device: torch.device

    def share(self, n_mc: int) -> tuple[int, int]:
        """``(start, stop)``: this rank's positions among ``n_mc`` samples; the first
        ``n_mc % world`` ranks take ``n_mc // world + 1``, the others ``n_mc // world``.

        >>> [Shard(None, k, 3, torch.device("cpu")).share(8) for k in range(3)]
        [(0, 3), (3, 6), (6, 8)]
        """
        q, r = divmod(n_mc, self.world)
        start = self.rank * q + min(self.rank, r)
        return start, start + q + (1 if self.rank < r else 0)

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        """The sum of ``t`` over the ranks (a new tensor on ``t``'s device)."""
        x = t.to(self.comm_device).clone()
        torch.distributed.all_reduce(x, op=torch.distributed.ReduceOp.SUM, group=self.group)
        return x.to(t.device)

    def from_rank0(self, t: torch.Tensor) -> torch.Tensor:
        """Rank 0's ``t`` on every rank (an all-reduce against zeros: bit-identical)."""
        return self.all_reduce(t if self.rank == 0 else torch.zeros_like(t))


def _generator_fingerprint(generator, device: torch.device) -> int:
    """A 63-bit hash of the generator's state (of the default generator of
    ``device`` when None); reading the state draws nothing."""
    if generator is not None:
        state = generator.get_state()
    elif device.type == "cuda":
        state = torch.cuda.get_rng_state(device)
    else:
        state = torch.get_rng_state()
    digest = hashlib.blake2b(state.cpu().numpy().tobytes(), digest_size=8).digest()
    return struct.unpack("<q", digest)[0] & 0x7FFFFFFFFFFFFFFF


def _checksums(x: torch.Tensor) -> list[float]:
    """Three float64 sums of ``x`` (plain, squared, position-weighted): equal on ranks
    holding the same data."""
    v = x.detach().reshape(-1).to(torch.float64)
    w = torch.linspace(1.0, 2.0, v.numel(), dtype=torch.float64, device=v.device)
    return [float(v.sum()), float((v * v).sum()), float((v * w).sum())]


def check_group(group, generator, device, *, same: dict, name: str = "group") -> Shard | None:
    """``None`` for ``group=None``; else this rank's :class:`Shard`, after checking,
    with one all-gather, that

    - ``torch.distributed`` is initialized and this process belongs to ``group``;
    - with NCCL, ``device`` is a CUDA device;
    - the ranks' generators are in different states (two ranks with the same seed
      would draw the same samples: the estimate would average duplicates and its
      standard error would be too small by up to √world) -- ValueError otherwise;
    - every value in ``same`` (ints, floats, or tensors, compared by checksums) is
      the same on every rank -- ValueError naming the argument otherwise.

    Every rank of the group must call it (it is a collective); every rank raises
    the same error.
    """
    if group is None:
        return None
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(f"{name} needs an initialized torch.distributed process group "
                         f"(torch.distributed.init_process_group), got {group!r} without one")
    if not (group is dist.group.WORLD or isinstance(group, dist.ProcessGroup)):
        raise ValueError(f"{name} must be None or a torch.distributed ProcessGroup "
                         f"(e.g. torch.distributed.group.WORLD), got {type(group).__name__}")
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    if rank < 0:
        raise ValueError(f"{name} does not contain this process (global rank {dist.get_rank()})")
    device = torch.device(device)
    backend = dist.get_backend(group)
    if backend == "nccl":
        if device.type != "cuda":
            raise ValueError(f"{name} uses the NCCL backend, which needs CUDA data; the data are on {device} "
                             f"(use gloo for CPU tensors)")
        comm_device = device if device.index is not None else torch.device("cuda", torch.cuda.current_device())
    else:
        comm_device = torch.device("cpu")
    names, floats = [], []
    for key, value in same.items():
        if isinstance(value, torch.Tensor):
            sums = _checksums(value)
        elif value is None:
            sums = [math.nan]
        else:
            sums = [float(value)]
        names += [key] * len(sums)
        floats += sums
    # One int64 tensor: the fingerprint, then the float64 values as their bits.
    fp = torch.tensor([_generator_fingerprint(generator, device)], dtype=torch.int64)
    packed = torch.cat([fp, torch.tensor(floats, dtype=torch.float64).view(torch.int64)]).to(comm_device)
    gathered = [torch.empty_like(packed) for _ in range(world)]
    dist.all_gather(gathered, packed, group=group)
    rows = [g.cpu() for g in gathered]
    for k, row in enumerate(rows[1:], start=1):
        theirs = row[1:].view(torch.float64)
        ours = rows[0][1:].view(torch.float64)
        for j, key in enumerate(names):
            a, b = float(ours[j]), float(theirs[j])
            if not (a == b or (math.isnan(a) and math.isnan(b))
                    or abs(a - b) <= 1e-12 * max(abs(a), abs(b))):
                raise ValueError(f"{key} must be the same on every rank of {name}: "
                                 f"group rank {k} differs from rank 0")
    fps = [int(row[0]) for row in rows]
    if len(set(fps)) < world:
        pairs = [(i, j) for i in range(world) for j in range(i + 1, world) if fps[i] == fps[j]]
        raise ValueError(f"generator must differ between the ranks of {name}: group ranks "
                         f"{pairs[0][0]} and {pairs[0][1]} hold generators in the same state (same seed?), "
                         f"which would draw identical samples and understate the standard error; "
                         f"seed each rank differently, e.g. manual_seed(seed + rank)")
    return Shard(group, rank, world, comm_device)


def sharded_entropies(centers: torch.Tensor, beta: float, n_mc: int, generator, chunk_size, method,
                      shard: Shard, *, control_variate: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte Carlo entropies of B mixtures, ``n_mc`` samples each split over the ranks
    of ``shard`` (see the module docstring); the distributed twin of
    ``entropy._gm_entropy_batched``.

    Parameters
    ----------
    centers : Tensor, shape (B, n, d)
        The same on every rank.

    Returns
    -------
    values, stderrs : Tensor, shape (B,) each, float64, on ``centers.device``;
    bit-identical on every rank.
    """

    B, n, d = centers.shape
    device, dtype = centers.device, centers.dtype
    const = math.log(n) + 0.5 * d * math.log(2.0 * math.pi * beta * beta)
    m, r = divmod(n_mc, n)
    start, stop = shard.share(n_mc)
    n_loc = stop - start
    # The same block on every rank (the largest share), so the ranks make the same collectives.
    block = max(1, BLOCK_ELEMENTS // max(1, -(-n_mc // shard.world) * d))
    pos = torch.arange(start, stop, device=device)  # (n_loc,) this rank's sample positions
    tail = pos >= m * n  # positions of the random remainder
    drawn = []  # per block: b0, −ln p, own-component term (or None), idx, counts: this rank's samples
    for b0 in range(0, B, block):
        c = centers[b0:b0 + block]  # (b, n, d)
        b = c.shape[0]
        counts = torch.full((b, n), m, dtype=torch.long, device=device)
        idx = (pos % n).expand(b, n_loc).clone()  # (b, n_loc)
        if m == 0:  # one sample per block of components: this rank's blocks, its own generator
            idx, counts, _ = _stratified_indices(b, n, n_mc, generator, device, positions=pos)
        elif r:
            if shard.rank == 0:
                perm = torch.rand(b, n, generator=generator, device=device).argsort(dim=-1)[:, :r]  # (b, r)
            else:
                perm = torch.zeros(b, r, dtype=torch.long, device=device)
            perm = shard.all_reduce(perm)
            counts.scatter_add_(1, perm, torch.ones_like(perm))
            if bool(tail.any()):
                idx[:, tail] = perm[:, pos[tail] - m * n]
        noise = torch.randn(b, n_loc, d, generator=generator, device=device, dtype=dtype)  # (b, n_loc, d)
        if n_loc:
            samples = torch.gather(c, 1, idx.unsqueeze(-1).expand(b, n_loc, d)) + beta * noise
            lse = log_kernel_sums(samples, c, beta, chunk_size=chunk_size, method=method)  # (b, n_loc)
            v = const - lse.to(torch.float64)  # −ln p(sample)
        else:
            v = torch.empty(b, 0, dtype=torch.float64, device=device)
        w = own_component_term(noise) if control_variate else None
        drawn.append((b0, v, w, idx, counts))
    a = 0.0
    if control_variate:  # the pooled regression coefficient of entropy._gm_entropy_batched, over all ranks
        cov = var_w = 0.0
        for _, v, w, idx, counts in drawn:
            k = counts.to(torch.float64)
            zeros = torch.zeros(v.shape[0], n, dtype=torch.float64, device=device)
            if m >= 2:  # centred per stratum, the strata's means over all ranks
                mv = torch.gather(shard.all_reduce(zeros.scatter_add(1, idx, v)) / k, 1, idx)
                mw = torch.gather(shard.all_reduce(zeros.scatter_add(1, idx, w)) / k, 1, idx)
            else:  # centred per mixture
                mv = (shard.all_reduce(v.sum(dim=1)) / n_mc).unsqueeze(1)
                mw = (shard.all_reduce(w.sum(dim=1)) / n_mc).unsqueeze(1)
            vc, wc = v - mv, w - mw
            sums = shard.all_reduce(torch.stack([(vc * wc).sum(), (wc * wc).sum()]))
            cov, var_w = cov + float(sums[0]), var_w + float(sums[1])
        a = cov / var_w if var_w > 0 else 0.0
    values = torch.empty(B, dtype=torch.float64, device=device)
    stderrs = torch.empty(B, dtype=torch.float64, device=device)
    bounds = _block_bounds(n, n_mc, device)
    block_w = (bounds[1:] - bounds[:-1]).to(torch.float64) / n  # (n_mc,) weights of the block strata (m = 0)
    for b0, v, w, idx, counts in drawn:
        b = v.shape[0]
        if a:
            v = v - a * w
        k = counts.to(torch.float64)
        zeros = torch.zeros(b, n, dtype=torch.float64, device=device)
        if m == 0:  # block strata: weighted sum, variance from pairs of neighbouring blocks on each rank
            w_pos = block_w[pos]  # (n_loc,)
            pair_sum, pairs = _pair_sums(v, w_pos)
            both = shard.all_reduce(torch.cat([(v * w_pos).sum(dim=1), pair_sum,
                                               torch.full((1,), float(pairs), dtype=torch.float64,
                                                          device=device)]))
            est, n_pairs = both[:b], float(both[-1])
            var = both[b:2 * b] * (n_mc / (2 * n_pairs)) if n_pairs else torch.full_like(est, math.inf)
            values[b0:b0 + b] = est
            stderrs[b0:b0 + b] = var.sqrt()
            continue
        if m >= 1:
            sums = shard.all_reduce(zeros.scatter_add(1, idx, v))  # (b, n) per-stratum sums
            means = sums / k
            est = means.mean(dim=1)  # (1/n) Σ_i mean_i, as the single-process weights 1/(n k_i)
            total = sums.sum(dim=1)
        else:
            total = shard.all_reduce(v.sum(dim=1))  # (b,)
            est = total / n_mc
        if m >= 2:
            dev2 = (v - torch.gather(means, 1, idx)) ** 2
            ss = shard.all_reduce(zeros.scatter_add(1, idx, dev2))  # (b, n)
            var = (ss / (k - 1.0) / (n * n * k)).sum(dim=1)
        else:  # n_mc ≥ 2: the i.i.d. formula, as the single-process estimator
            mu = total / n_mc
            ss = shard.all_reduce(((v - mu.unsqueeze(1)) ** 2).sum(dim=1))
            var = ss / (n_mc - 1) / n_mc
        values[b0:b0 + b] = est
        stderrs[b0:b0 + b] = var.sqrt()
    both = shard.from_rank0(torch.stack([values, stderrs]))
    return both[0], both[1]
