"""Fused CUDA kernel (Triton) for ``log Σ_j exp(−‖x_i − c_j‖² / 2β²)``, batched.

Optional: imported lazily by ``_kernels._triton_module`` only when
``method="triton"`` is asked for, or when ``method="auto"`` meets float32 CUDA
tensors; ``triton`` itself is imported inside a ``try`` so CPU installs never
need it, and importing this module without triton or a GPU works. It imports
nothing from the rest of the package (no cycle with ``_kernels``).

One program handles ``BLOCK_M`` queries of one mixture and streams over its
centres in tiles of ``BLOCK_N`` with an online maximum (base-2 exponentials), so
the (m × n) matrix never exists. Squared distances are accumulated as
differences in float32, one coordinate at a time (no |x|² + |c|² − 2x·c
cancellation, whatever d): the loop over coordinates is unrolled for d ≤ 16.

Status: written without access to a GPU. Its logic was checked only in Triton
3.6's CPU interpreter (``TRITON_INTERPRET=1``, ``benchmarks/check_triton_interpreter.py``:
d ∈ {1, 3, 12, 40}, batched, ragged tiles, a far query; max relative error 3e-7
vs float64); it has **never been compiled or timed on a GPU** (run
``benchmarks/gpu_check.sh`` on one). ``_kernels.triton_self_check()`` compares
it with the float64 dense path on a small problem the first time it is needed;
``method="auto"`` uses the kernel only if that check passes, and
``INFOFLOW_TRITON=0`` turns it off.

>>> available(torch.zeros(1))  # a CPU tensor: never
False
"""

from __future__ import annotations

import math
import os

import torch

try:  # pragma: no cover - exercised on GPU machines only
    import triton
    import triton.language as tl
except ImportError:  # CPU installs
    triton = None
    tl = None

__all__: list[str] = []

#: Queries per program and centres per tile.
BLOCK_M = 64
BLOCK_N = 64
#: Up to this d the loop over coordinates is unrolled at compile time.
MAX_STATIC_DIM = 16
_LN2 = math.log(2.0)
_LOG2E = 1.0 / _LN2


def available(x: torch.Tensor) -> bool:
    """True when the kernel can run on ``x``: triton importable, CUDA tensor, float32."""
    return (triton is not None and x.is_cuda and x.dtype == torch.float32
            and os.environ.get("INFOFLOW_TRITON", "1") != "0")


if triton is not None:  # pragma: no cover - GPU only

    @triton.jit
    def _lse_kernel(X, C, OUT, m, n, d,
                    sxb, sxm, sxd, scb, scn, scd, sob, som,
                    coef,  # −log2(e) / (2β²): exponents in base 2
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, D_STATIC: tl.constexpr):
        pid_m = tl.program_id(0)
        b = tl.program_id(1)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,)
        mask_m = offs_m < m
        xb = X + b * sxb
        cb = C + b * scb
        run_max = tl.full((BLOCK_M,), float("-inf"), tl.float32)
        run_sum = tl.zeros((BLOCK_M,), tl.float32)
        for n0 in tl.range(0, n, BLOCK_N):
            offs_n = n0 + tl.arange(0, BLOCK_N)  # (BLOCK_N,)
            mask_n = offs_n < n
            d2 = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
            if D_STATIC > 0:
                for k in tl.static_range(D_STATIC):
                    xk = tl.load(xb + offs_m * sxm + k * sxd, mask=mask_m, other=0.0)
                    ck = tl.load(cb + offs_n * scn + k * scd, mask=mask_n, other=0.0)
                    diff = xk[:, None] - ck[None, :]  # (BLOCK_M, BLOCK_N)
                    d2 += diff * diff
            else:
                for k in tl.range(0, d):
                    xk = tl.load(xb + offs_m * sxm + k * sxd, mask=mask_m, other=0.0)
                    ck = tl.load(cb + offs_n * scn + k * scd, mask=mask_n, other=0.0)
                    diff = xk[:, None] - ck[None, :]
                    d2 += diff * diff
            a = tl.where(mask_n[None, :], d2 * coef, float("-inf"))  # (BLOCK_M, BLOCK_N), log2 units
            new_max = tl.maximum(run_max, tl.max(a, axis=1))  # finite: every tile has a valid centre
            run_sum = run_sum * tl.exp2(run_max - new_max) + tl.sum(tl.exp2(a - new_max[:, None]), axis=1)
            run_max = new_max
        out = (run_max + tl.log2(run_sum)) * 0.6931471805599453  # back to natural log
        tl.store(OUT + b * sob + offs_m * som, out, mask=mask_m)


def log_kernel_sums_triton(x: torch.Tensor, centers: torch.Tensor, beta: float) -> torch.Tensor:
    """``log Σ_j exp(−‖x[b,i] − centers[b,j]‖²/2β²)``: x (B, m, d), centers (B, n, d),
    float32 CUDA tensors -> (B, m) float32. One launch for all B mixtures."""
    if not available(x) or not available(centers):
        raise ValueError("method='triton' needs the triton package and float32 CUDA tensors "
                         f"(got {x.dtype} on {x.device}, triton {'present' if triton else 'absent'})")
    B, m, d = x.shape
    n = centers.shape[1]
    out = torch.empty(B, m, dtype=torch.float32, device=x.device)
    grid = (triton.cdiv(m, BLOCK_M), B)
    _lse_kernel[grid](
        x, centers, out, m, n, d,
        x.stride(0), x.stride(1), x.stride(2),
        centers.stride(0), centers.stride(1), centers.stride(2),
        out.stride(0), out.stride(1),
        -_LOG2E / (2.0 * beta * beta),
        BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, D_STATIC=d if d <= MAX_STATIC_DIM else 0,
        num_warps=4,
    )
    return out

