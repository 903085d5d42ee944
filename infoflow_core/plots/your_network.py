"""Figures of the chapter "Your own network" (``book/07_your_network.ipynb``); each
takes a :class:`~infoflow_core.experiments.your_network.YourNetworkResults`.

>>> from infoflow_core.experiments.your_network import YourNetworkConfig, run_your_network
>>> r = run_your_network(YourNetworkConfig.for_scale("quick", n_inputs=12, widths=(2, 3, 2), betas=(0.1, 0.2),
...                                                  epochs=2, n_records=2, n_x=2, n_mc=20), progress=False)
>>> len(plot_information_vs_epoch(r).layout.sliders[0].steps), len(plot_information_plane(r).layout.sliders[0].steps)
(2, 2)
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ._render import slider, slider_steps

__all__ = ["plot_data", "plot_information_vs_epoch", "plot_information_plane"]

_COLORS = qualitative.Plotly
_UNITS = {"nats": 1.0, "bits": 1.0 / math.log(2)}


def _factor(unit: str) -> float:
    if unit not in _UNITS:
        raise ValueError(f"unit must be 'nats' or 'bits', got {unit!r}")
    return _UNITS[unit]


def _per_beta(results, unit: str, active) -> tuple[float, np.ndarray, int, int]:
    """Unit factor, the β values, the number of layers and the β index shown first
    (default: the middle one) of a figure with one slider step per β."""
    betas = results.betas
    return _factor(unit), betas, results.i_xt.shape[2], len(betas) // 2 if active is None else int(active)


def _layer_name(k: int, width: int) -> str:
    return f"T{k + 1} (d = {width})"


def plot_data(results) -> go.Figure:
    """The two-moons inputs, coloured by class: the data set X is uniform over."""
    x, labels = np.asarray(results.x), np.asarray(results.labels)
    fig = go.Figure()
    for c in np.unique(labels).tolist():
        pts = x[labels == c]
        fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"class {c}",
                        marker=dict(size=6, color=_COLORS[c % len(_COLORS)], opacity=0.7))
    fig.update_layout(title_text=f"Two moons: the {len(labels)} inputs, X uniform over them",
                      xaxis=dict(title_text="x₁"), yaxis=dict(title_text="x₂", scaleanchor="x"),
                      height=420, width=640)
    return fig


def plot_information_vs_epoch(results, *, unit: str = "nats", active: int | None = None) -> go.Figure:
    """I(X; T_ℓ), I(T_ℓ; Y) (± one standard error) and H(Bin(T_ℓ)) across training,
    one curve per layer, side by side, with a slider over β. Epoch 0 (before
    training) is left off the log epoch axis.

    Parameters
    ----------
    results : YourNetworkResults
    unit : {"nats", "bits"}
    active : int, optional
        Index of the β shown first (default: the middle one).
    """
    f, betas, n_layers, active = _per_beta(results, unit, active)
    keep = results.epochs > 0
    epochs = results.epochs[keep]
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=("I(X;T)", "I(T;Y)", f"H(Bin(T)), bin size {results.config.bin_size:g}"))
    for b in range(len(betas)):
        for col, (val, err) in enumerate([(results.i_xt, results.i_xt_err), (results.i_ty, results.i_ty_err),
                                          (results.h_bin, None)], start=1):
            for k in range(n_layers):
                fig.add_scatter(
                    x=epochs, y=f * val[b, keep, k], mode="lines+markers",
                    error_y=None if err is None else dict(type="data", array=f * err[b, keep, k], visible=True),
                    name=_layer_name(k, results.layer_widths[k]), line_color=_COLORS[k % len(_COLORS)],
                    legendgroup=str(k), showlegend=(col == 1), visible=(b == active), row=1, col=col,
                    hovertemplate=f"epoch %{{x}}<br>%{{y:.3f}} {unit}")
    titles = [f"Information across training, β = {beta:g}" for beta in betas]
    steps = slider_steps([f"{beta:g}" for beta in betas], 3 * n_layers, titles=titles)
    for col, level, text in [(1, results.h_x, "H(X) = ln n"), (2, results.h_y, "H(Y)"), (3, results.h_x, "ln n")]:
        fig.add_hline(y=f * level, line_dash="dash", line_color="black", row=1, col=col,
                      annotation_text=text, annotation_position="bottom right")
    fig.update_xaxes(title_text="epoch", type="log")
    fig.update_yaxes(title_text=unit, col=1)
    fig.update_yaxes(range=[-0.1 * f, f * (results.h_y + 0.4)], col=2)
    fig.update_layout(title_text=titles[active], sliders=slider(steps, "β = ", active=active),
                      legend=dict(title_text="layer"), height=480)
    return fig


def plot_information_plane(results, *, unit: str = "nats", active: int | None = None) -> go.Figure:
    """The information plane: I(X; T_ℓ) against I(T_ℓ; Y) over training, one path per
    layer, markers coloured by epoch (log scale), with error bars in both directions
    and a slider over β. The dashed lines are H(Y) and I(T;Y) = I(X;T): the data
    processing inequality keeps every point below both, up to its error bars.
    ``results``, ``unit`` and ``active`` (the β shown first) are as for
    :func:`plot_information_vs_epoch`.
    """
    f, betas, n_layers, active = _per_beta(results, unit, active)
    epochs = results.epochs
    color = np.log10(epochs + 1.0)
    ticks = [e for e in (0, 1, 10, 100, 1000, 10000, 100000) if e <= epochs.max()]
    fig = go.Figure()
    for b in range(len(betas)):
        for k in range(n_layers):
            fig.add_scatter(
                x=f * results.i_xt[b, :, k], y=f * results.i_ty[b, :, k], mode="lines+markers",
                error_x=dict(type="data", array=f * results.i_xt_err[b, :, k], visible=True, thickness=1),
                error_y=dict(type="data", array=f * results.i_ty_err[b, :, k], visible=True, thickness=1),
                line=dict(color=_COLORS[k % len(_COLORS)], width=1),
                marker=dict(size=9, color=color, colorscale="Viridis", cmin=0, cmax=float(color.max()),
                            line=dict(color=_COLORS[k % len(_COLORS)], width=2),
                            showscale=(k == 0),
                            colorbar=dict(title=dict(text="epoch"), tickvals=np.log10(np.array(ticks) + 1.0).tolist(),
                                          ticktext=[str(t) for t in ticks], x=1.02)),
                name=_layer_name(k, results.layer_widths[k]), legendgroup=str(k), visible=(b == active),
                customdata=epochs, hovertemplate=f"epoch %{{customdata}}<br>I(X;T) = %{{x:.3f}} {unit}"
                                                 f"<br>I(T;Y) = %{{y:.3f}} {unit}")
    titles = [f"Information plane, β = {beta:g} (colour: epoch)" for beta in betas]
    steps = slider_steps([f"{beta:g}" for beta in betas], n_layers, titles=titles)
    x_max = f * float(np.max(results.i_xt + results.i_xt_err)) * 1.05
    fig.add_hline(y=f * results.h_y, line_dash="dash", line_color="black", annotation_text="H(Y)",
                  annotation_position="top left")
    fig.add_scatter(x=[0, x_max], y=[0, x_max], mode="lines", line=dict(dash="dot", color="gray"),
                    name="I(T;Y) = I(X;T)", hoverinfo="skip")
    steps = [dict(s, args=[{"visible": list(s["args"][0]["visible"]) + [True]}, *s["args"][1:]]) for s in steps]
    fig.update_layout(
        title_text=titles[active],
        xaxis=dict(title_text=f"I(X;T) ({unit})", range=[0, x_max]),
        yaxis=dict(title_text=f"I(T;Y) ({unit})", range=[-0.1 * f, f * (results.h_y + 0.3)]),
        sliders=slider(steps, "β = ", active=active),
        legend=dict(title_text="layer", x=1.15),
        height=520,
    )
    return fig
