"""tqdm progress bars for the experiments, off when ``enabled`` is False."""

from __future__ import annotations

__all__: list[str] = []


def progress_iter(iterable, enabled: bool, **kw):
    """``iterable`` wrapped in a ``tqdm.auto`` bar (itself when disabled)."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kw)


def progress_bar(total: int, enabled: bool, desc: str, *, leave: bool = True):
    """A ``tqdm.auto`` bar updated by hand (``None`` when disabled)."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=leave)
