"""The three scales every experiment runs at, chosen by ``INFOFLOW_SCALE``.

* ``quick``: CI; each notebook in at most 60 s on 2 CPU cores.
* ``book``: a reader's CPU; minutes per chapter.
* ``full``: the paper's scale (hours on a CPU; a GPU shortens it).

The same code path runs at every scale; only sizes (inputs, realizations,
epochs, seeds) change.
"""

from __future__ import annotations

import os

__all__ = ["SCALES", "current_scale"]

SCALES = ("quick", "book", "full")


def current_scale(default: str = "book") -> str:
    """The scale named by the environment variable ``INFOFLOW_SCALE``.

    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"INFOFLOW_SCALE": "Quick"}):
    ...     current_scale()
    'quick'
    """
    scale = os.environ.get("INFOFLOW_SCALE", default).strip().lower()
    if scale not in SCALES:
        raise ValueError(f"INFOFLOW_SCALE must be one of {SCALES}, got {scale!r}")
    return scale
