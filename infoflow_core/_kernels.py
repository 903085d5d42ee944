"""Log-sum-exp Gaussian kernel sums, the inner loop of every mixture entropy.

``log_kernel_sums(x, centers, beta)[b, i] = log Σ_j exp(−‖x[b,i] − centers[b,j]‖² / (2β²))``

computed block by block with an online maximum, so memory stays bounded whatever
the sizes. Distances are formed as differences for small ``d`` and by a float64
matrix product on centred data for large ``d`` (:mod:`._tiles`).

This module is the one dispatcher; :data:`METHODS` is the table of paths that
``method=`` accepts everywhere (:func:`~infoflow_core.entropy.gm_entropy`,
:func:`~infoflow_core.entropy.gm_entropy_bounds`,
:func:`~infoflow_core.entropy.gm_density`,
:func:`~infoflow_core.mutual_information.sp_mutual_information`):

- ``"dense"``: every (query, centre) pair, in blocks (this module).
- ``"pruned"``: block-sparse; centres whose kernel value is below e^{-(ln n + 28)}
  of the query's largest one are skipped, so the sum is exact to e^{-28} ≈ 7e-13
  relative (:mod:`._kernels_pruned`). Fast when components are far apart
  compared with β.
- ``"triton"``: a fused CUDA kernel (:mod:`._triton`, optional, float32 CUDA
  tensors only; ``ValueError`` elsewhere).
- ``"auto"`` (default): on float32 CUDA tensors the Triton kernel if it is
  installed and passes :func:`triton_self_check`; otherwise dense or pruned per
  mixture, see :func:`choose_method`.

On CPU the dense and pruned paths cut the queries into slices (about
:data:`CPU_TASK_PAIRS` pairs each, by sizes only) that :mod:`._cpu_pool` runs on
single-threaded workers: a busy machine slows them no more than a single-threaded
library, and the results are the same bit for bit at any thread count. For float32
CPU tensors both paths compute their tiles with the fused C kernels of
:mod:`._native` when they compile on the machine (an SZT epoch runs 4.4–4.6× faster
than with the torch tiles), else with torch.

:mod:`._triton` is imported only from :func:`_triton_module`, so CPU installs
never import it (nor ``triton``), and it imports nothing from here.

>>> x = torch.zeros(1, 1, 2, dtype=torch.float64)
>>> float(log_kernel_sums(x, torch.zeros(1, 3, 2, dtype=torch.float64), 1.0, method="dense")[0, 0])  # ln 3
1.0986122886681098
"""

from __future__ import annotations

import math

import torch

from . import _cpu_pool, _kernels_pruned, _native
from ._tiles import BLOCK_ELEMENTS, MATMUL_MIN_DIM, exp_floor, shift, squared_distances, sum_exp
from ._validation import check_chunk_size

__all__: list[str] = []

#: The accepted values of ``method`` and what each does (the one table).
METHODS = {
    "auto": "triton on float32 CUDA tensors when it passes its self-check, else dense or pruned per mixture",
    "dense": "every (query, centre) pair, in blocks",
    "pruned": "skips centres below e^-(ln n + 28) of each query's largest term (exact to 7e-13 relative)",
    "triton": "fused CUDA kernel, float32 CUDA tensors only",
}
#: "auto" never prunes mixtures with fewer centres than this (the dense tiles are
#: already efficient and the spatial blocks would be few).
AUTO_PRUNE_MIN_CENTERS = 2048
#: "auto" never prunes problems with fewer (query, centre) pairs per mixture than this.
AUTO_PRUNE_MIN_PAIRS = 1 << 21
#: "auto" prunes when a probe finds that at most this fraction of pairs is kept:
#: for small d a kept pair costs about what a dense pair costs (both are
#: differences), for larger d the pruned tiles' gathers make a pair about twice as
#: dear as in the dense matrix product (measured on 2 CPU cores, benchmarks/).
AUTO_PRUNE_MAX_FRACTION = {"small_d": 0.5, "large_d": 0.25}
#: Queries in the probe that estimates the kept fraction.
AUTO_PROBE_QUERIES = 256
#: Default number of centres per block of the dense path.
AUTO_CENTER_CHUNK = 2048
#: CPU work is cut into tasks of about this many (query, centre) pairs, run by
#: :mod:`._cpu_pool` on single-threaded workers; the cut depends on sizes only.
CPU_TASK_PAIRS = 1 << 23
#: Fewest queries in one dense task.
CPU_TASK_MIN_QUERIES = 256
#: Fewest queries in one pruned task (the pruned path groups a task's queries by block).
CPU_TASK_MIN_QUERIES_PRUNED = 1024
#: Pruned tasks are run in batches whose mixtures hold at most this many centres in all
#: (each pending task holds its mixture's partition).
CPU_PENDING_CENTERS = 1 << 22
#: Tolerance of :func:`triton_self_check` (relative, 1-nat scale).
TRITON_SELF_CHECK_TOL = 1e-5

_TRITON_SELF_CHECK: dict[str, bool] = {}


def check_method(method, name: str = "method") -> str:
    """One of the keys of :data:`METHODS`, else ``ValueError``."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"{name} must be one of {', '.join(repr(m) for m in METHODS)}, got {method!r}")
    return method


def _triton_module():
    """The optional Triton module, imported on first use only."""
    from . import _triton

    return _triton


def triton_self_check(device) -> bool:
    """Whether the Triton kernel agrees with the float64 dense path (relative
    error ≤ :data:`TRITON_SELF_CHECK_TOL`, 1-nat scale) on a small batched
    problem with d ∈ {3, 40} on ``device``; False without triton or CUDA.
    Cached per device.

    >>> triton_self_check("cpu")
    False
    """
    key = str(device)
    if key not in _TRITON_SELF_CHECK:
        ok = False
        if torch.device(device).type == "cuda":
            T = _triton_module()
            if T.triton is not None:
                try:
                    g = torch.Generator(device=device).manual_seed(0)
                    ok = True
                    for d, beta in ((3, 0.05), (40, 0.3)):
                        c = torch.rand(3, 1000, d, generator=g, device=device) * 2 - 1  # (3, 1000, d)
                        x = c[:, :300] + beta * torch.randn(3, 300, d, generator=g, device=device)  # (3, 300, d)
                        got = T.log_kernel_sums_triton(x, c, beta).double()
                        ref = _log_kernel_sums_dense(x.double(), c.double(), beta, "auto")
                        err = ((got - ref).abs() / ref.abs().clamp_min(1.0)).max().item()
                        ok = ok and math.isfinite(err) and err <= TRITON_SELF_CHECK_TOL
                except Exception:  # noqa: BLE001 - any failure means "do not use it"
                    ok = False
        _TRITON_SELF_CHECK[key] = ok
    return _TRITON_SELF_CHECK[key]


def auto_uses_triton(x: torch.Tensor, centers: torch.Tensor) -> bool:
    """Whether ``method="auto"`` sends these tensors to the Triton kernel: float32 CUDA
    tensors, with triton installed and :func:`triton_self_check` passed.

    >>> auto_uses_triton(torch.zeros(1, 1, 2), torch.zeros(1, 3, 2))
    False
    """
    if not (x.is_cuda and x.dtype == torch.float32 and centers.dtype == torch.float32):
        return False
    T = _triton_module()
    return bool(T.available(x) and T.available(centers) and triton_self_check(x.device))


def choose_method(x: torch.Tensor, centers: torch.Tensor, beta: float, *,
                  leaf: int | None = None, part=None) -> str:
    """The path ``method="auto"`` takes for one mixture on CPU (or without
    Triton): ``"dense"`` or ``"pruned"``.

    Rule: dense when the mixture has fewer than ``AUTO_PRUNE_MIN_CENTERS`` centres or
    fewer than ``AUTO_PRUNE_MIN_PAIRS`` (query, centre) pairs; otherwise the centres
    are split into spatial blocks and ``AUTO_PROBE_QUERIES`` evenly spaced queries
    are probed: pruned when the fraction of pairs the pruned path would compute is
    at most ``AUTO_PRUNE_MAX_FRACTION`` (0.5 for d < 17, 0.25 above).

    Parameters
    ----------
    x : Tensor, shape (m, d)
    centers : Tensor, shape (n, d)
    """
    m, d = x.shape
    n = centers.shape[0]
    if n < AUTO_PRUNE_MIN_CENTERS or m * n < AUTO_PRUNE_MIN_PAIRS:
        return "dense"
    if part is None:
        leaf = leaf or _kernels_pruned.default_leaf(d, _native.usable(x, centers))
        part = _kernels_pruned.partition_of(centers, leaf)
    probe = x[torch.linspace(0, m - 1, min(m, AUTO_PROBE_QUERIES), device=x.device).long()]  # (p, d)
    frac = _kernels_pruned.kept_fraction(probe, part, beta, shift(centers.unsqueeze(0)))
    limit = AUTO_PRUNE_MAX_FRACTION["small_d" if d < MATMUL_MIN_DIM else "large_d"]
    return "pruned" if frac <= limit else "dense"


def log_kernel_sums(x: torch.Tensor, centers: torch.Tensor, beta: float, *,
                    chunk_size: int | str = "auto", method: str = "auto") -> torch.Tensor:
    """``log Σ_j exp(−‖x_i − c_j‖² / (2β²))`` for batches of query points and centres.

    Parameters
    ----------
    x : Tensor, shape (B, m, d)
        Query points.
    centers : Tensor, shape (B, n, d)
        Mixture centres; batch ``b`` of ``x`` is scored against batch ``b`` only.
    beta : float
        Kernel width (standard deviation) β > 0.
    chunk_size : int or "auto"
        Centres per block (``"auto"``: 2048 for the dense path; for the pruned path
        the size of its spatial blocks, "auto": 256 for d ≤ 16, else 512; 512 with
        the C kernels of :mod:`._native`, whose dense path always takes blocks of
        256). The number of query points per block is chosen so that a block holds about
        4·10⁶ numbers. Results do not depend on it beyond floating-point summation
        order.
    method : str
        A key of :data:`METHODS` (see the module docstring).

    Returns
    -------
    Tensor, shape (B, m)
        In the dtype and on the device of ``x``.
    """
    chunk_size = check_chunk_size(chunk_size)
    method = check_method(method)
    if method == "triton":
        return _triton_module().log_kernel_sums_triton(x, centers, beta)
    if method == "auto" and auto_uses_triton(x, centers):
        return _triton_module().log_kernel_sums_triton(x, centers, beta)
    with _cpu_pool.task_runner(x.device) as run:
        return _log_kernel_sums_tasks(x, centers, beta, chunk_size, method, run)


def _log_kernel_sums_tasks(x: torch.Tensor, centers: torch.Tensor, beta: float, chunk_size: int | str,
                           method: str, run) -> torch.Tensor:
    """Dense or pruned sums (``method`` "dense", "pruned" or "auto"), as tasks given to ``run``."""
    B, m, d = x.shape
    n = centers.shape[1]
    out = torch.empty(B, m, dtype=x.dtype, device=x.device)
    if method == "auto" and (n < AUTO_PRUNE_MIN_CENTERS or m * n < AUTO_PRUNE_MIN_PAIRS):
        method = "dense"
    if method == "dense":
        run(_dense_tasks(x, centers, beta, chunk_size, out))
        return out
    leaf = _kernels_pruned.default_leaf(d, _native.usable(x, centers)) if chunk_size == "auto" else chunk_size
    sh = shift(centers)  # (B, 1, d) or None
    tasks, pending = [], 0
    for b in range(B):
        part = _kernels_pruned.partition_of(centers[b], leaf)
        sb = None if sh is None else sh[b:b + 1]  # (1, 1, d)
        if method == "auto" and choose_method(x[b], centers[b], beta, part=part) == "dense":
            tasks += _dense_tasks(x[b:b + 1], centers[b:b + 1], beta, chunk_size, out[b:b + 1])
            continue
        qs = _task_queries(m, n, CPU_TASK_MIN_QUERIES_PRUNED, x.device)
        tasks += [lambda b=b, q0=q0, part=part, sb=sb: out[b, q0:q0 + qs].copy_(
            _kernels_pruned.log_kernel_sums_pruned_one(x[b, q0:q0 + qs], part, beta, sb)) for q0 in range(0, m, qs)]
        pending += n
        if pending >= CPU_PENDING_CENTERS:  # bound the partitions the pending tasks hold
            run(tasks)
            tasks, pending = [], 0
    run(tasks)
    return out


def _task_queries(m: int, n: int, least: int, device: torch.device) -> int:
    """Queries per task for a mixture of n centres: on CPU about :data:`CPU_TASK_PAIRS`
    pairs, at least ``least`` queries, at most m (sizes only, never threads or load);
    elsewhere m (one task: a GPU parallelises within each block)."""
    if device.type != "cpu":
        return m
    return min(m, max(least, CPU_TASK_PAIRS // max(1, n)))


def _dense_tasks(x: torch.Tensor, centers: torch.Tensor, beta: float, chunk_size: int | str,
                 out: torch.Tensor, exclude: torch.Tensor | None = None) -> list:
    """Tasks for :mod:`._cpu_pool` that write the dense sums of x (B, m, d) into out (B, m):
    slices of about :data:`CPU_TASK_PAIRS` pairs (whole mixtures grouped when small).

    ``exclude`` (m,) int, C kernels only: centre ``exclude[i]`` of every batch is left out
    of query i's sum (the nested path's own block)."""
    B, m, _ = x.shape
    n = centers.shape[1]
    qs = _task_queries(m, n, CPU_TASK_MIN_QUERIES, x.device)
    if x.device.type != "cpu":
        bb = B
    else:
        bb = max(1, CPU_TASK_PAIRS // max(1, m * n)) if qs == m else 1
    native = _native.usable(x, centers)
    if exclude is not None and not native:
        raise ValueError("exclude: needs the C kernels (float32 on the CPU, _native.available())")
    if native:
        centers_t = centers.transpose(1, 2).contiguous()  # (B, d, n), once for all tasks
        scale = -0.5 / (beta * beta)

        def native_task(b0, q0):
            skip = None if exclude is None else exclude[q0:q0 + qs]
            for b in range(b0, min(B, b0 + bb)):
                out[b, q0:q0 + qs] = _native.lse_dense(x[b, q0:q0 + qs], centers_t[b], scale, exclude=skip)
        return [lambda b0=b0, q0=q0: native_task(b0, q0) for b0 in range(0, B, bb) for q0 in range(0, m, qs)]

    def task(b0, q0):
        out[b0:b0 + bb, q0:q0 + qs] = _log_kernel_sums_dense(x[b0:b0 + bb, q0:q0 + qs], centers[b0:b0 + bb],
                                                             beta, chunk_size)
    return [lambda b0=b0, q0=q0: task(b0, q0) for b0 in range(0, B, bb) for q0 in range(0, m, qs)]


def _log_kernel_sums_dense(x: torch.Tensor, centers: torch.Tensor, beta: float,
                           chunk_size: int | str) -> torch.Tensor:
    """Every pair, block by block (see :func:`log_kernel_sums`)."""
    B, m, d = x.shape
    n = centers.shape[1]
    cn = min(n, AUTO_CENTER_CHUNK if chunk_size == "auto" else chunk_size)
    per_batch = max(1, BLOCK_ELEMENTS // cn)  # queries × batches per block
    qm = min(m, per_batch)
    bb = max(1, min(B, per_batch // qm))
    scale = -0.5 / (beta * beta)
    floor = exp_floor(x.dtype)
    sh_all = shift(centers)  # (B, 1, d) or None

    out = torch.empty(B, m, dtype=x.dtype, device=x.device)
    for b0 in range(0, B, bb):
        b1 = min(B, b0 + bb)
        sh = None if sh_all is None else sh_all[b0:b1]
        for q0 in range(0, m, qm):
            q1 = min(m, q0 + qm)
            xq = x[b0:b1, q0:q1]  # (b, q, d)
            run_max = torch.full((b1 - b0, q1 - q0), -torch.inf, dtype=x.dtype, device=x.device)
            run_sum = torch.zeros_like(run_max)
            for c0 in range(0, n, cn):
                a = squared_distances(xq, centers[b0:b1, c0:c0 + cn], sh).mul_(scale)  # (b, q, c)
                new_max = torch.maximum(run_max, a.amax(dim=-1))  # (b, q)
                run_sum = run_sum * torch.exp(run_max - new_max) + sum_exp(a, new_max, floor)
                run_max = new_max
            out[b0:b1, q0:q1] = run_max + torch.log(run_sum)
    return out
