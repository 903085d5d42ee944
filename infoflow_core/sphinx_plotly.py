"""A Sphinx extension that serves plotly.js from the book's own static files.

At build time it copies ``plotly.min.js`` from the installed plotly package (it is
not committed) into a private static folder and adds it to every page, so figures
written with ``include_plotlyjs=False`` draw with the network switched off.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise RuntimeError(f"plotly.min.js not found at {path}: reinstall plotly")
    return path


def _add_static(app) -> None:
    static = Path(app.doctreedir).parent / "_plotly_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy2(_plotly_js(), static / "plotly.min.js")
    app.config.html_static_path.append(str(static))


def setup(app):
    app.connect("builder-inited", _add_static)
    # Loaded in <head> before any figure's inline script runs.
    app.add_js_file("plotly.min.js", priority=200)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
