"""The book's plotly renderer (see :mod:`infoflow_core.plots`)."""

from __future__ import annotations

import hashlib
import itertools

import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer

__all__ = ["show", "slider", "slider_steps"]

_counter = itertools.count()


class BookRenderer(MimetypeRenderer):
    """HTML without plotly.js (served once by the book) plus plotly's JSON mimetype."""

    def to_mimebundle(self, fig_dict):
        import plotly.graph_objects as go

        fig = go.Figure(fig_dict)
        # Deterministic div ids: re-executing a notebook gives the same HTML.
        digest = hashlib.sha1(pio.to_json(fig, validate=False).encode()).hexdigest()[:10]
        div_id = f"infoflow-fig-{next(_counter)}-{digest}"
        html = pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"responsive": True, "displaylogo": False},
            validate=False,
        )
        return {
            "application/vnd.plotly.v1+json": {"data": fig_dict.get("data", []),
                                               "layout": fig_dict.get("layout", {}),
                                               "frames": fig_dict.get("frames", [])},
            "text/html": html,
        }


#: Registered under a new name only: importing this module leaves plotly's default
#: renderer as it was; :func:`show` asks for this one explicitly.
pio.renderers["infoflow"] = BookRenderer()


def show(fig) -> None:
    """Display a plotly figure in a notebook (book HTML and JupyterLab alike)."""
    fig.show(renderer="infoflow")


def slider(steps, prefix: str, *, active: int = 0, pad_top: int = 50) -> list[dict]:
    """``layout.sliders`` for one plotly slider over ``steps`` (from :func:`slider_steps`
    or hand-made ``"update"``/``"restyle"`` steps), labelled ``prefix`` + step label.

    >>> slider([{"method": "update", "label": "1", "args": [{}]}], "epoch ")[0]["currentvalue"]
    {'prefix': 'epoch '}
    """
    return [{"active": int(active), "currentvalue": {"prefix": prefix}, "pad": {"t": int(pad_top)}, "steps": steps}]


def slider_steps(labels, n_traces_per_step: int, *, title_fmt: str | None = None, titles=None):
    """Slider steps for a figure whose traces come in equal groups, one group per step.

    Parameters
    ----------
    labels : sequence of str
        One label per step (e.g. ``"β = 0.01"`` or ``"epoch 128"``).
    n_traces_per_step : int
        How many consecutive traces make up one step.
    titles : sequence of str, optional
        A figure title per step (set with ``{"title.text": ...}``: a bare
        ``{"title": ...}`` blanks the title in plotly 7).

    Returns
    -------
    list of dict
        Ready for ``layout.sliders[0].steps``.
    """
    n = len(labels)
    steps = []
    for k, label in enumerate(labels):
        visible = [False] * (n * n_traces_per_step)
        for j in range(n_traces_per_step):
            visible[k * n_traces_per_step + j] = True
        args = [{"visible": visible}]
        if titles is not None:
            args.append({"title.text": titles[k]})
        steps.append({"method": "update", "label": str(label), "args": args})
    return steps
