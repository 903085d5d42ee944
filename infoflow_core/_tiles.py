"""What the kernel-sum paths (:mod:`._kernels` dense, :mod:`._kernels_pruned`)
share: the memory budget of one block, squared distances, and the log-sum-exp
of one tile. Both import this module; it imports neither.

>>> a = torch.tensor([[0.0, -1000.0], [2.0, 2.0]], dtype=torch.float64)
>>> log_sum_exp(a.clone(), None).tolist() == torch.logsumexp(a, dim=-1).tolist()
True
"""

from __future__ import annotations

import torch

__all__: list[str] = []

#: Elements of one temporary block (a (batch, query, centre) tile, a row block of
#: distances, a block of Monte Carlo samples): 2**22 numbers = 32 MiB in float64.
BLOCK_ELEMENTS = 1 << 22
#: exp(a − max) for a − max below this is replaced by exp(this): a relative
#: perturbation below n·e^{-80} ≈ 1e-35·n, which avoids float32's slow path
#: for very negative arguments. Applied to float32 only (float64 needs no floor).
EXP_FLOOR = -80.0
#: From this dimension on, squared distances come from a float64 matrix product.
MATMUL_MIN_DIM = 17


def exp_floor(dtype: torch.dtype) -> float | None:
    """The floor on exponents for ``dtype``: :data:`EXP_FLOOR` below float64, else None."""
    return None if dtype == torch.float64 else EXP_FLOOR


def shift(centers: torch.Tensor) -> torch.Tensor | None:
    """Per-mixture mean (B, 1, d) in float64 of centres (B, n, d) when the
    matrix-product distance path is used (d ≥ :data:`MATMUL_MIN_DIM`), else None."""
    if centers.shape[-1] < MATMUL_MIN_DIM:
        return None
    return centers.mean(dim=1, keepdim=True).to(torch.float64)


def squared_distances(xq: torch.Tensor, cc: torch.Tensor, sh: torch.Tensor | None) -> torch.Tensor:
    """Squared distances (b, q, c) between xq (b, q, d) and cc (b, c, d).

    Small d: explicit differences (``torch.cdist`` without the matrix product),
    free of cancellation. Large d: ``|x|² + |c|² − 2x·c`` in float64 on data
    centred by ``sh`` (b, 1, d), from :func:`shift`.
    """
    d = xq.shape[-1]
    if d < MATMUL_MIN_DIM:
        dist = torch.cdist(xq, cc, compute_mode="donot_use_mm_for_euclid_dist")  # (b, q, c)
        return dist * dist
    x64 = xq.to(torch.float64) - sh  # (b, q, d)
    c64 = cc.to(torch.float64) - sh  # (b, c, d)
    d2 = (x64 * x64).sum(-1, keepdim=True) + (c64 * c64).sum(-1).unsqueeze(-2) \
        - 2.0 * torch.bmm(x64, c64.transpose(1, 2))  # (b, q, c)
    return d2.clamp_min_(0.0).to(xq.dtype)


def sum_exp(a: torch.Tensor, mx: torch.Tensor, floor: float | None) -> torch.Tensor:
    """``Σ_k exp(a[..., k] − mx[...])`` over the last axis, with exponents clamped
    at ``floor`` (None: no clamp). Overwrites ``a``."""
    a.sub_(mx.unsqueeze(-1))
    if floor is not None:
        a.clamp_min_(floor)
    return a.exp_().sum(dim=-1)


def log_sum_exp(a: torch.Tensor, floor: float | None) -> torch.Tensor:
    """``log Σ_k exp(a[..., k])`` over the last axis of one tile. Overwrites ``a``."""
    mx = a.amax(dim=-1)
    return mx + sum_exp(a, mx, floor).log()
