"""Input checks shared by the public functions: one error type, ``ValueError``,
whose message names the argument, says what it must be, and shows what it got.

Array inputs (the rule everywhere in the numerical core): a ``torch.Tensor`` of
float32 or float64, or a NumPy ``ndarray`` of those dtypes, which is converted
with ``torch.from_numpy`` (a CPU tensor, same dtype, memory shared). Results are
torch tensors (or floats) whatever the input type. Other containers (lists,
tuples) and other dtypes (float16, bfloat16, integers) are rejected with a
``ValueError`` that says what is supported.

>>> check_positive(0.5, "lr")
0.5
>>> check_positive(0, "lr")
Traceback (most recent call last):
...
ValueError: lr must be > 0, got 0.0
>>> check_tensor(torch.zeros(3), "centers", ndim=2, shape="(n, d)")
Traceback (most recent call last):
...
ValueError: centers must be a 2-D tensor of shape (n, d), got shape (3,)
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__: list[str] = []

#: Floating-point dtypes the numerical core computes in.
SUPPORTED_DTYPES = (torch.float32, torch.float64)


def check_real(value, name: str) -> float:
    """``value`` (a number or a one-element tensor, not a bool) as a float."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    number = None if isinstance(value, bool) else _to_float(value)
    if number is None:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return number


def _to_float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_positive(value, name: str, *, allow_zero: bool = False, what: str | None = None) -> float:
    """Return ``value`` as a float after checking it is a finite real number
    ``> 0`` (``>= 0`` where ``allow_zero``). ``what`` (e.g. "a noise standard
    deviation") is added to the message when given."""
    number = check_real(value, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    if number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        about = f" ({name} is {what})" if what else ""
        raise ValueError(f"{name} must be {bound}{about}, got {number}")
    return number


def check_beta(beta, name: str = "beta", *, allow_zero: bool = False) -> float:
    """:func:`check_positive` for a noise standard deviation β (only for β: use
    :func:`check_positive` for anything else)."""
    return check_positive(beta, name, allow_zero=allow_zero, what="a noise standard deviation")


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking it is an integer ``>= minimum``
    (integral floats and one-element integer tensors are accepted)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        value = int(value.item())
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def check_generator(generator, device=None, name: str = "generator") -> torch.Generator | None:
    """``None`` or a ``torch.Generator`` (on the type of ``device`` when given)."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"{name} must be a torch.Generator or None, got {type(generator).__module__}."
                         f"{type(generator).__name__} ({generator!r}); e.g. torch.Generator().manual_seed(0)")
    if device is not None and torch.device(generator.device).type != torch.device(device).type:
        raise ValueError(f"{name} must be on the device of the data ({torch.device(device)}), "
                         f"got a generator on {generator.device}")
    return generator


def _dims(ndims: tuple[int, ...]) -> str:
    return " or ".join(f"{n}-D" for n in ndims)


def check_tensor(x, name: str, *, ndim: int | tuple[int, ...], shape: str | None = None, finite: bool = True,
                 floating: bool = True, nonempty: bool = True) -> torch.Tensor:
    """Return ``x`` as a tensor after checking it has ``ndim`` dimensions (``shape``
    describes the expected shape in messages, e.g. "(n, d)"), no empty axis, and
    (where asked) a supported floating dtype and only finite values. NumPy arrays
    are converted (see the module docstring); other types are rejected."""
    if isinstance(x, np.ndarray):
        if x.dtype not in (np.float32, np.float64) and floating:
            raise ValueError(f"{name} must be a float32 or float64 array, got a NumPy array of dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or NumPy array, got {type(x).__name__}")
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.dim() not in ndims:
        of_shape = f" of shape {shape}" if shape else ""
        raise ValueError(f"{name} must be a {_dims(ndims)} tensor{of_shape}, got shape {tuple(x.shape)}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if floating and x.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"{name} must be a float32 or float64 tensor, got dtype {x.dtype}"
                         + (" (convert with .float() or .double())" if x.is_floating_point() else ""))
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
