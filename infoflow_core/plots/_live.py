"""Live controls for JupyterLab that stay out of the way of batch execution."""

from __future__ import annotations

import os

__all__ = ["live_controls", "in_batch"]

#: Set (to anything but "" or "0") by the Makefile for book builds and nbval runs.
BATCH_ENV = "INFOFLOW_BATCH"


def in_batch() -> bool:
    """Whether the notebook is being executed in batch (book build, nbval), not by a person."""
    return os.environ.get(BATCH_ENV, "") not in ("", "0")


def live_controls(fn, /, *, manual: bool = False, **controls):
    """ipywidgets controls that re-run ``fn`` whenever a control changes (JupyterLab).

    Parameters
    ----------
    fn : callable
        Called with one keyword argument per control; it prints or shows a figure.
    manual : bool
        Put a "Run" button under the controls (for slow functions): nothing runs
        until it is pressed.
    **controls
        ipywidgets value widgets (sliders, dropdowns) or fixed values, by keyword.

    Notes
    -----
    In batch execution (``INFOFLOW_BATCH=1``, set by ``make book`` and ``make test``)
    no widget is created: executing a notebook whose cells display widgets that
    capture output can deadlock the executor (jupyter/nbclient#312), and the static
    HTML could not recompute anyway. ``fn`` then runs once with the controls' values,
    so the code behind the controls is still executed and tested; with ``manual``
    nothing runs, as in JupyterLab before the button is pressed. Chapters tag these
    cells ``remove-output``.
    """
    if in_batch():
        if manual:
            print("live controls: run this cell in JupyterLab")
            return None
        values = {k: getattr(w, "value", w) for k, w in controls.items()}
        return fn(**values)
    import ipywidgets as widgets

    for name, w in controls.items():
        _full_label(w, name)
    if manual:
        return widgets.interact_manual(fn, **controls)
    return widgets.interact(fn, **controls)


def _full_label(widget, name: str) -> None:
    """Label a control in full: ``description`` (from its keyword when it has none) at
    its natural width. ipywidgets' default fixed label width cuts labels off
    ("log10_ep…", "learning r…")."""
    if not hasattr(widget, "description"):
        return  # a fixed value, not a widget
    if not widget.description:
        widget.description = name.replace("_", " ")
    style = getattr(widget, "style", None)
    if style is not None and hasattr(style, "description_width"):
        style.description_width = "initial"
