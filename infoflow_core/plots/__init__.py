"""Plotly figures for the book: one function per figure, each taking a results object.

Importing this module registers the ``"infoflow"`` plotly renderer and makes it the
default. It emits each figure twice in one output:

* ``text/html`` with a ``<div>`` and a call to ``Plotly.newPlot`` but *no* copy of
  plotly.js: the book serves one copy from its own static files (see
  :mod:`infoflow_core.sphinx_plotly`), so the published HTML draws with the network
  off and pages stay small;
* ``application/vnd.plotly.v1+json``, which JupyterLab renders with its bundled
  plotly extension (live use).

Use :func:`show` (or ``fig.show()``) in chapters.
"""

from __future__ import annotations

from ._render import show, slider_steps

__all__ = ["show", "slider_steps"]
