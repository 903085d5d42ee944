"""Plotly figures for the book: one function per figure, each taking a results object.

Importing this module registers the ``"infoflow"`` plotly renderer (without making it
plotly's default: :func:`show` asks for it). It emits each figure twice in one output:

* ``text/html`` with a ``<div>`` and a call to ``Plotly.newPlot`` but *no* copy of
  plotly.js: the book serves one copy from its own static files (see
  ``book/_ext/sphinx_plotly.py``), so the published HTML draws with the network
  off and pages stay small;
* ``application/vnd.plotly.v1+json``, which JupyterLab renders with its bundled
  plotly extension (live use).

Use :func:`show` (or ``fig.show()``) in chapters. Sliders must be plotly's own
(``layout.sliders`` with ``"update"``/``"restyle"`` steps, e.g. from
:func:`slider_steps`): they run in the browser with no kernel, and
``tests/test_browser.py`` moves each one with the mouse in headless Chromium. Keep
LaTeX out of figure text (plotly does not typeset it): use Unicode (β, ℓ, ≤).

Live ipywidgets controls go through :func:`live_controls`, in cells tagged
``remove-output``: in JupyterLab they recompute; in batch execution (the book build,
nbval) they run their function once without creating widgets.

One module per chapter holds its figure functions, all named ``plot_<what>`` and
taking that chapter's results object: :mod:`.binning` (chapter 01), :mod:`.neuron`
(02), :mod:`.constellation` (03), :mod:`.szt` (04, 05) and :mod:`.mnist` (06).

>>> import plotly.io as pio
>>> from infoflow_core import plots
>>> "infoflow" in pio.renderers and pio.renderers.default != "infoflow"
True
"""

from __future__ import annotations

try:
    import plotly  # noqa: F401
except ImportError as err:  # the library itself does not need plotly
    raise ImportError("infoflow_core.plots needs plotly and ipywidgets: pip install 'infoflow-core[plots]'") from err

from ._live import in_batch, live_controls  # noqa: E402
from ._render import show, slider, slider_steps  # noqa: E402

__all__ = ["show", "slider", "slider_steps", "live_controls", "in_batch"]
