"""Log-sum-exp Gaussian kernel sums, the inner loop of every mixture entropy.

``log_kernel_sums(x, centers, beta)[b, i] = log Σ_j exp(−‖x[b,i] − centers[b,j]‖² / (2β²))``

computed block by block with an online maximum, so memory stays bounded whatever
the sizes. Distances are formed as differences (``torch.cdist`` without the matrix
product) for small ``d``, where that is both fast and free of cancellation, and by a
float64 matrix product on centred data for large ``d``.
"""

from __future__ import annotations

import torch

from ._validation import check_chunk_size

__all__: list[str] = []

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


def log_kernel_sums(x: torch.Tensor, centers: torch.Tensor, beta: float, *,
                    chunk_size: int | str = "auto") -> torch.Tensor:
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
        Centres per block (``"auto"``: 2048). The number of query points per block
        is chosen so that a block holds about 4·10⁶ numbers. Results do not depend
        on it beyond floating-point summation order.

    Returns
    -------
    Tensor, shape (B, m)
        In the dtype and on the device of ``x``.
    """
    chunk_size = check_chunk_size(chunk_size)
    B, m, d = x.shape
    n = centers.shape[1]
    cn = min(n, AUTO_CENTER_CHUNK if chunk_size == "auto" else chunk_size)
    per_batch = max(1, BLOCK_ELEMENTS // cn)  # queries × batches per block
    qm = min(m, per_batch)
    bb = max(1, min(B, per_batch // qm))
    scale = -0.5 / (beta * beta)
    floor = EXP_FLOOR if x.dtype in (torch.float32, torch.float16, torch.bfloat16) else None
    shift = centers.mean(dim=1, keepdim=True).to(torch.float64) if d >= MATMUL_MIN_DIM else None  # (B, 1, d)

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
