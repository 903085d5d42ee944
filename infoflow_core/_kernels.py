"""Log-sum-exp Gaussian kernel sums, the inner loop of every mixture entropy.

``log_kernel_sums(x, centers, beta)[b, i] = log Σ_j exp(−‖x[b,i] − centers[b,j]‖² / (2β²))``

computed block by block with an online maximum, so memory stays bounded whatever
the sizes. Distances are formed as differences (``torch.cdist`` without the matrix
product) for small ``d``, where that is both fast and free of cancellation, and by a
float64 matrix product on centred data for large ``d``.

Two exact paths (``method``):

- ``"dense"``: every (query, centre) pair, in blocks (this module).
- ``"pruned"``: block-sparse; centres whose kernel value is below e^{-(ln n + 28)}
  of the query's largest one are skipped, so the sum is exact to e^{-28} ≈ 7e-13
  relative (:mod:`._kernels_pruned`). Fast when components are far apart
  compared with β.
- ``"triton"``: a fused CUDA kernel (:mod:`._triton`, optional, float32 CUDA
  tensors only; written without a GPU and untested so far).
- ``"auto"`` (default): on float32 CUDA tensors the Triton kernel if it is
  installed and passes a self-check against the float64 dense path; otherwise
  dense or pruned per mixture, see :func:`choose_method`.
"""

from __future__ import annotations

import torch

from . import _kernels_pruned
from ._validation import check_chunk_size

__all__: list[str] = []

#: Accepted values of ``method``.
METHODS = ("auto", "dense", "pruned", "triton")
#: "auto" never prunes mixtures with fewer centres than this (the dense tiles are
#: already efficient and the spatial blocks would be few).
AUTO_PRUNE_MIN_CENTERS = 2048
#: ... nor problems with fewer (query, centre) pairs per mixture than this.
AUTO_PRUNE_MIN_PAIRS = 1 << 21
#: "auto" prunes when a probe finds that at most this fraction of pairs is kept:
#: for d < MATMUL_MIN_DIM a kept pair costs about what a dense pair costs (both are
#: differences), for larger d the pruned tiles' gathers make a pair about twice as
#: dear as in the dense matrix product (measured on 2 CPU cores, benchmarks/).
AUTO_PRUNE_MAX_FRACTION = {"small_d": 0.5, "large_d": 0.25}
#: Queries in the probe that estimates the kept fraction.
AUTO_PROBE_QUERIES = 256

#: Above this dimension squared distances come from a float64 matrix product.
MATMUL_MIN_DIM = 17
#: Elements of one (batch, query, centre) block: 2**22 float64 numbers = 32 MiB.
BLOCK_ELEMENTS = 1 << 22
#: Default number of centres per block.
AUTO_CENTER_CHUNK = 2048
#: exp(a − max) for a − max below this is replaced by exp(this): a relative
#: perturbation below n·e^{-80} ≈ 1e-35·n, which avoids float32's slow path
#: for very negative arguments (../shared/STACK.md).
EXP_FLOOR = -80.0


def _squared_distances(xq: torch.Tensor, cc: torch.Tensor, shift: torch.Tensor | None) -> torch.Tensor:
    """Squared distances (b, q, c) between xq (b, q, d) and cc (b, c, d)."""
    d = xq.shape[-1]
    if d < MATMUL_MIN_DIM:
        dist = torch.cdist(xq, cc, compute_mode="donot_use_mm_for_euclid_dist")  # (b, q, c)
        return dist * dist
    # Large d: |x|² + |c|² − 2x·c in float64 on data centred by `shift` (b, 1, d).
    x64 = xq.to(torch.float64) - shift  # (b, q, d)
    c64 = cc.to(torch.float64) - shift  # (b, c, d)
    d2 = (x64 * x64).sum(-1, keepdim=True) + (c64 * c64).sum(-1).unsqueeze(-2) \
        - 2.0 * torch.bmm(x64, c64.transpose(1, 2))  # (b, q, c)
    return d2.clamp_min_(0.0).to(xq.dtype)


def check_method(method, name: str = "method") -> str:
    """One of :data:`METHODS`, else ``ValueError``."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"{name} must be one of {', '.join(repr(m) for m in METHODS)}, got {method!r}")
    return method


def _shift(centers: torch.Tensor) -> torch.Tensor | None:
    """Per-mixture mean (B, 1, d) in float64 when the matrix-product path is used."""
    if centers.shape[-1] < MATMUL_MIN_DIM:
        return None
    return centers.mean(dim=1, keepdim=True).to(torch.float64)


def choose_method(x: torch.Tensor, centers: torch.Tensor, beta: float, *,
                  leaf: int | None = None, part=None) -> str:
    """The path ``method="auto"`` takes for one mixture: ``"dense"`` or ``"pruned"``.

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
        part = _kernels_pruned.Partition(centers, leaf or _kernels_pruned.default_leaf(d))
    probe = x[torch.linspace(0, m - 1, min(m, AUTO_PROBE_QUERIES), device=x.device).long()]  # (p, d)
    shift = _shift(centers.unsqueeze(0))
    shift = None if shift is None else shift[0:1]
    frac = _kernels_pruned.kept_fraction(probe, part, beta, lambda a, b: _squared_distances(a, b, shift))
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
        the size of its spatial blocks, "auto": 256 for d ≤ 16, else 512). The
        number of query points per block is chosen so that a block holds about
        4·10⁶ numbers. Results do not depend on it beyond floating-point summation
        order.
    method : {"auto", "dense", "pruned", "triton"}
        ``"dense"`` sums every pair; ``"pruned"`` skips centres below
        e^{-(ln n + 28)} of each query's largest term (exact to about 7e-13
        relative); ``"triton"`` is the fused CUDA kernel (float32 CUDA tensors;
        ``ValueError`` elsewhere); ``"auto"`` takes the Triton kernel on float32
        CUDA tensors when it passes its self-check, else chooses per mixture
        with :func:`choose_method`.

    Returns
    -------
    Tensor, shape (B, m)
        In the dtype and on the device of ``x``.
    """
    chunk_size = check_chunk_size(chunk_size)
    method = check_method(method)
    if method == "dense":
        return _log_kernel_sums_dense(x, centers, beta, chunk_size)
    if method == "triton" or (method == "auto" and x.is_cuda and x.dtype == torch.float32):
        from . import _triton  # only here: CPU installs never import it

        if method == "triton":
            return _triton.log_kernel_sums_triton(x, centers, beta)
        if _triton.available(x) and _triton.available(centers) and _triton.self_check(x.device):
            return _triton.log_kernel_sums_triton(x, centers, beta)
    B, m, d = x.shape
    n = centers.shape[1]
    if method == "auto" and (n < AUTO_PRUNE_MIN_CENTERS or m * n < AUTO_PRUNE_MIN_PAIRS):
        return _log_kernel_sums_dense(x, centers, beta, chunk_size)
    leaf = _kernels_pruned.default_leaf(d) if chunk_size == "auto" else chunk_size
    shift = _shift(centers)  # (B, 1, d) or None
    out = torch.empty(B, m, dtype=x.dtype, device=x.device)
    for b in range(B):
        part = _kernels_pruned.Partition(centers[b], leaf)
        sh = None if shift is None else shift[b:b + 1]  # (1, 1, d)
        if method == "auto" and choose_method(x[b], centers[b], beta, part=part) == "dense":
            out[b] = _log_kernel_sums_dense(x[b:b + 1], centers[b:b + 1], beta, chunk_size)[0]
        else:
            out[b] = _kernels_pruned.log_kernel_sums_pruned_one(x[b], part, beta, _squared_distances, sh)
    return out


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
    floor = EXP_FLOOR if x.dtype in (torch.float32, torch.float16, torch.bfloat16) else None
    shift = _shift(centers)  # (B, 1, d) or None

    out = torch.empty(B, m, dtype=x.dtype, device=x.device)
    for b0 in range(0, B, bb):
        b1 = min(B, b0 + bb)
        sh = None if shift is None else shift[b0:b1]
        for q0 in range(0, m, qm):
            q1 = min(m, q0 + qm)
            xq = x[b0:b1, q0:q1]  # (b, q, d)
            run_max = torch.full((b1 - b0, q1 - q0), -torch.inf, dtype=x.dtype, device=x.device)
            run_sum = torch.zeros_like(run_max)
            for c0 in range(0, n, cn):
                a = _squared_distances(xq, centers[b0:b1, c0:c0 + cn], sh).mul_(scale)  # (b, q, c)
                new_max = torch.maximum(run_max, a.amax(dim=-1))  # (b, q)
                a.sub_(new_max.unsqueeze(-1))
                if floor is not None:
                    a.clamp_min_(floor)
                run_sum = run_sum * torch.exp(run_max - new_max) + a.exp_().sum(dim=-1)
                run_max = new_max
            out[b0:b1, q0:q1] = run_max + torch.log(run_sum)
    return out
