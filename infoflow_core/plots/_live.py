"""Live controls for JupyterLab that stay out of the way of batch execution."""

from __future__ import annotations

import os

__all__ = ["live_controls", "in_batch"]

#: Set by the Makefile for book builds and nbval runs: "1" (or anything but "" and "0")
#: forces batch execution, "0" forces the widgets; unset, :func:`in_batch` detects it.
BATCH_ENV = "INFOFLOW_BATCH"


def in_batch() -> bool:
    """Whether the notebook is being executed in batch (book build, nbval), not by a person.

    ``INFOFLOW_BATCH`` decides when it is set: ``"0"`` no, any other non-empty value
    yes. Unset (a plain ``jupyter-book build .``, ``jupyter nbconvert --execute``,
    papermill), batch means that the code runs in a Jupyter kernel for a client that
    does not allow stdin: nbclient, which all of these (and nbval) use, sends every
    cell with ``allow_stdin`` false, while JupyterLab, Notebook and VS Code allow
    ``input()``. Outside a kernel (plain Python, pytest) it is False.
    """
    value = os.environ.get(BATCH_ENV, "").strip()
    if value:
        return value != "0"
    return _client_without_stdin()


def _client_without_stdin() -> bool:
    """Whether the current cell was sent by a client that does not allow stdin (the
    ``allow_stdin`` field of the kernel's current ``execute_request``)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)  # ipykernel >= 6
    if get_parent is None:
        return False
    try:
        request = get_parent() or {}
    except Exception:  # no request being handled
        return False
    if request.get("header", {}).get("msg_type") != "execute_request":
        return False
    return request.get("content", {}).get("allow_stdin", True) is False


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
    In batch execution (:func:`in_batch`: ``INFOFLOW_BATCH=1``, set by ``make book``
    and ``make test``, or, with it unset, any nbclient-based executor such as a plain
    ``jupyter-book build .``) no widget is created. nbclient stands in for the
    front end of an ``Output`` widget (``interact`` prints and shows figures into
    one): it sends each captured output back to the kernel on the shell channel, from
    its IOPub task, while its other task waits on that same socket for the cell's
    ``execute_reply``. The wake-up for the reply can then be lost (jupyter/nbclient#312):
    the kernel is idle and the build waits out the cell's whole timeout (``execute:
    timeout`` in ``_config.yml``), for a third or more of the runs of a chapter. The
    static HTML could not recompute anyway. ``fn`` then runs once with the controls'
    values, so the code behind the controls is still executed and tested; with
    ``manual`` nothing runs, as in JupyterLab before the button is pressed. Chapters
    tag these cells ``remove-output``.
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
