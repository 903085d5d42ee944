"""Input checks shared by the public functions: one error type, ``ValueError``,
naming the argument and what is wrong with it."""

from __future__ import annotations

import math

import torch

__all__: list[str] = []


def check_beta(beta, name: str = "beta", *, allow_zero: bool = False) -> float:
    """Return ``beta`` as a float after checking it is finite and positive
    (or zero where ``allow_zero``)."""
    if isinstance(beta, torch.Tensor):
        if beta.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(beta.shape)}")
        beta = beta.item()
    try:
        value = float(beta)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {beta!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound} (it is a noise standard deviation), got {value}")
    return value


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking ``value >= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, float) and value.is_integer()
    ):
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
            value = int(value.item())
        else:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def check_tensor(x, name: str, *, ndim: int | tuple[int, ...], finite: bool = True,
                 floating: bool = True, nonempty: bool = True) -> torch.Tensor:
    """Check that ``x`` is a tensor with ``ndim`` dimensions, no empty axis, and
    (where asked) only finite floating-point values."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.dim() not in ndims:
        want = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return x


def check_chunk_size(chunk_size, name: str = "chunk_size"):
    """``"auto"`` or a positive integer."""
    if isinstance(chunk_size, str):
        if chunk_size != "auto":
            raise ValueError(f"{name} must be 'auto' or a positive integer, got {chunk_size!r}")
        return chunk_size
    return check_positive_int(chunk_size, name)
