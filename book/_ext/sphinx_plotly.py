"""A Sphinx extension of this book (not of the library): it serves plotly.js from the
book's own static files.

How the book's figures draw with no kernel and no network:

1. In a notebook, :func:`infoflow_core.plots.show` emits each figure as ``text/html``:
   a ``<div>`` plus an inline ``<script>`` calling ``Plotly.newPlot`` with the
   figure's JSON, and *no* copy of plotly.js (``include_plotlyjs=False``).
2. At build time this extension copies ``plotly.min.js`` from the installed plotly
   package (so it always matches the Python plotly that wrote the figures; it is not
   committed) into ``_build/_plotly_static/``, adds that folder to
   ``html_static_path`` (Sphinx copies it to ``_build/html/_static/``) and adds
   ``<script src="_static/plotly.min.js">`` to the ``<head>`` of every page, without
   ``defer``/``async``: the browser runs it before the inline figure scripts in the
   body, so ``window.Plotly`` exists when they call ``Plotly.newPlot``.
3. It removes require.js from every page. myst-nb adds require.js (and the ipywidgets
   HTML manager) from a CDN to any page whose notebook saved widget state; with
   require.js present, plotly's UMD bundle registers itself as an AMD module instead
   of setting ``window.Plotly`` and every figure on the page fails to draw. Widgets
   cannot recompute in static HTML anyway: the book's live widget cells are tagged
   ``remove-output`` and explained in a "Live in JupyterLab" admonition.
4. It drops exact duplicate ``<script>`` entries (sphinx-thebe adds its inline
   configuration twice, and the second copy is a JavaScript error on every page).
5. It adds ``infoflow.css`` (written into the same folder): printed cell output wraps
   at the column edge instead of scrolling sideways.

The folder is kept outside the book's source ``_static/`` on purpose: Jupyter Book
adds every ``*.js`` found there to every page a second time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["setup"]

#: Scripts that must never reach a page with plotly figures (see the module docstring).
_BLOCKED_SCRIPTS = ("require.js", "require.min.js", "embed-amd.js")


def _plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise RuntimeError(f"plotly.min.js not found at {path}: reinstall plotly")
    return path


def _no_widget_js(app, config) -> None:
    # myst-nb reads nb_ipywidgets_js at builder-inited; empty it before then.
    config.nb_ipywidgets_js = {}


#: The book's own styles: printed cell output wraps at the column edge instead of
#: scrolling sideways (long tables of numbers stay readable on a narrow page).
_BOOK_CSS = """div.cell_output pre, div.output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def _add_static(app) -> None:
    static = Path(app.doctreedir).parent / "_plotly_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy2(_plotly_js(), static / "plotly.min.js")
    (static / "infoflow.css").write_text(_BOOK_CSS)
    app.config.html_static_path.append(str(static))


def _script_filename(script) -> str:
    # Sphinx 7 passes _JavaScript objects (.filename, .attributes); older ones, str.
    return str(getattr(script, "filename", script) or "")


def _script_key(script) -> tuple:
    # Priority left out on purpose: the duplicates differ only in it.
    attributes = getattr(script, "attributes", {}) or {}
    return (_script_filename(script), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _clean_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop require.js & co. and exact duplicates from the page's ``<script>`` list.

    Dropping require.js is a safety net behind :func:`_no_widget_js`: whatever adds
    it, it does not ship. Duplicates: sphinx-thebe 0.3.1 registers its inline
    ``const THEBE_JS_URL = ...`` script once per read pass, and a second copy raises
    "Identifier 'THEBE_JS_URL' has already been declared" on every page.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    kept, seen = [], set()
    for script in scripts:
        if _script_filename(script).split("?")[0].endswith(_BLOCKED_SCRIPTS):
            continue
        key = _script_key(script)
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("config-inited", _no_widget_js)
    app.connect("builder-inited", _add_static)
    # Later than myst-nb's own handler, so its per-page scripts are already listed.
    app.connect("html-page-context", _clean_scripts, priority=900)
    # Loaded in <head>, synchronously, before any figure's inline script runs.
    app.add_js_file("plotly.min.js", priority=200)
    app.add_css_file("infoflow.css")
    return {"version": "1.1", "parallel_read_safe": True, "parallel_write_safe": True}
