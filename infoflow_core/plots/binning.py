"""Figures of the binning chapter (``book/01_binning.ipynb``, Section 1 and Fig. 1 of
the paper); each takes a :class:`~infoflow_core.experiments.binning.BinningResults`.

>>> from infoflow_core.experiments.binning import BinningConfig, run_binning
>>> r = run_binning(BinningConfig.for_scale("quick", n_bits=6, widths=(6, 3, 2), epochs=3, n_records=2),
...                 device="cpu", progress=False)
>>> len(plot_binned_entropy_vs_bin_size(r).layout.sliders[0].steps) == len(r.epochs)
True
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from ._render import slider, slider_steps

__all__ = ["plot_binned_entropy_vs_bin_size", "plot_binned_entropy_vs_epoch", "plot_min_distance_vs_epoch",
           "plot_representations"]

_COLORS = qualitative.Plotly


def _layer_name(k: int, width: int) -> str:
    return f"T{k + 1} (d = {width})"


def _hx_line(fig: go.Figure, h_x: float, n: int) -> None:
    fig.add_hline(y=h_x, line_dash="dash", line_color="black",
                  annotation_text=f"H(X) = ln {n} = {h_x:.3f}", annotation_position="bottom right")


def plot_binned_entropy_vs_bin_size(results, *, active: int | None = None) -> go.Figure:
    """I(X; Bin(T_ℓ)) = H(Bin(T_ℓ)) against bin size, one curve per layer, with a slider
    over the measured epochs. The bin size axis runs from one bin (left) to tiny bins
    (right), where every curve reaches H(X) = ln n.

    Parameters
    ----------
    results : BinningResults
    active : int, optional
        Index of the epoch shown first (default: the last one).
    """
    epochs, sizes, h = results.epochs, results.bin_sizes, results.h_bin  # h: (E, K, L)
    n_layers = h.shape[2]
    active = len(epochs) - 1 if active is None else int(active)
    fig = go.Figure()
    for r, epoch in enumerate(epochs):
        for k in range(n_layers):
            fig.add_scatter(x=sizes, y=h[r, :, k], mode="lines+markers", name=_layer_name(k, results.layer_widths[k]),
                            line_color=_COLORS[k % len(_COLORS)], visible=(r == active), legendgroup=str(k),
                            hovertemplate="bin size %{x:g}<br>H(Bin(T)) = %{y:.3f} nats")
    titles = [f"I(X; Bin(T)) = H(Bin(T)) against bin size, epoch {e}" for e in epochs]
    steps = slider_steps([str(e) for e in epochs], n_layers, titles=titles)
    _hx_line(fig, results.h_x, results.n_inputs)
    fig.update_layout(
        title_text=titles[active],
        xaxis=dict(title_text="bin size", type="log", autorange="reversed", exponentformat="power"),
        yaxis=dict(title_text="H(Bin(T)) (nats)", range=[-0.2, results.h_x + 0.5]),
        sliders=slider(steps, "epoch ", active=active),
        legend=dict(title_text="layer"),
        height=520,
    )
    return fig


def plot_binned_entropy_vs_epoch(results, *, active: int | None = None) -> go.Figure:
    """H(Bin(T_ℓ)) across training epochs (log axis), one curve per layer, with a slider
    over the bin size: the paper's Fig. 1 for our network. Epoch 0 (before training)
    is left off the log axis.

    Parameters
    ----------
    results : BinningResults
    active : int, optional
        Index of the bin size shown first (default: the one closest to 0.1).
    """
    keep = results.epochs > 0
    epochs, sizes = results.epochs[keep], results.bin_sizes
    h = results.h_bin[keep]  # (E', K, L)
    n_layers = h.shape[2]
    if active is None:
        active = int(np.argmin(np.abs(np.log(sizes) - np.log(0.1))))
    fig = go.Figure()
    for b, size in enumerate(sizes):
        for k in range(n_layers):
            fig.add_scatter(x=epochs, y=h[:, b, k], mode="lines", name=_layer_name(k, results.layer_widths[k]),
                            line_color=_COLORS[k % len(_COLORS)], visible=(b == active), legendgroup=str(k),
                            hovertemplate="epoch %{x}<br>H(Bin(T)) = %{y:.3f} nats")
    titles = [f"I(X; Bin(T)) across training, bin size {s:g}" for s in sizes]
    steps = slider_steps([f"{s:g}" for s in sizes], n_layers, titles=titles)
    _hx_line(fig, results.h_x, results.n_inputs)
    fig.update_layout(
        title_text=titles[active],
        xaxis=dict(title_text="epoch", type="log"),
        yaxis=dict(title_text="H(Bin(T)) (nats)", range=[-0.2, results.h_x + 0.5]),
        sliders=slider(steps, "bin size ", active=active),
        legend=dict(title_text="layer"),
        height=520,
    )
    return fig


def plot_min_distance_vs_epoch(results) -> go.Figure:
    """The smallest distance between the representations of two distinct inputs, per
    layer, across training: positive throughout (the map stays injective), so bins
    narrower than it give H(Bin(T)) = ln n exactly."""
    keep = results.epochs > 0
    fig = go.Figure()
    for k in range(results.min_distance.shape[1]):
        fig.add_scatter(x=results.epochs[keep], y=results.min_distance[keep, k], mode="lines",
                        name=_layer_name(k, results.layer_widths[k]), line_color=_COLORS[k % len(_COLORS)],
                        hovertemplate="epoch %{x}<br>min distance %{y:.2e}")
    fig.update_layout(
        title_text="Smallest distance between two inputs' representations",
        xaxis=dict(title_text="epoch", type="log"),
        yaxis=dict(title_text="min over pairs of ‖T(x) − T(x′)‖", type="log", exponentformat="power"),
        legend=dict(title_text="layer"),
        height=420,
    )
    return fig


def plot_representations(results, *, layer: int = -1, units=(0, 1), max_epochs: int = 16,
                            bin_size: float | None = 0.1) -> go.Figure:
    """The representations of all inputs in one layer (two of its units), coloured by
    class, with a slider over the measured epochs: clusters forming during training.

    Parameters
    ----------
    results : BinningResults
    layer : int
        Index of the hidden layer (default: the last).
    units : (int, int)
        The two units on the axes.
    max_epochs : int
        At most this many epochs on the slider (evenly spread over the measured ones,
        the first and the last included) to keep the page small.
    bin_size : float or None
        Draw the bin grid of this size (None: no grid).
    """
    reps = results.representations[layer]  # (E, n, d)
    n_rec, _, d = reps.shape
    if not (0 <= units[0] < d and 0 <= units[1] < d):
        raise ValueError(f"units must index the layer's {d} units, got {units}")
    layer_index = layer % len(results.representations)
    picks = np.unique(np.round(np.linspace(0, n_rec - 1, min(max_epochs, n_rec))).astype(int))
    labels = np.asarray(results.labels)
    fig = go.Figure()
    for r in picks.tolist():
        for c in (0, 1):
            pts = reps[r, labels == c]  # (n_c, d)
            # Open circles for class 0 over filled crosses for class 1: where the two
            # classes coincide (epoch 0) both stay visible.
            fig.add_scatter(x=pts[:, units[0]], y=pts[:, units[1]], mode="markers", name=f"class {c}",
                              marker=dict(size=7 if c == 0 else 5, color=_COLORS[c], opacity=0.7,
                                          symbol="circle-open" if c == 0 else "x-thin-open",
                                          line=dict(width=1.5 if c == 0 else 1, color=_COLORS[c])),
                              visible=bool(r == picks[-1]), legendgroup=str(c))
    epochs = results.epochs[picks]
    name = f"T{layer_index + 1}"
    titles = [f"{name}: units {units[0] + 1} and {units[1] + 1} of all {results.n_inputs} inputs, epoch {e}"
              for e in epochs]
    steps = slider_steps([str(e) for e in epochs], 2, titles=titles)
    grid = dict(showgrid=False, zeroline=False, range=[-1.05, 1.05])
    fig.update_layout(
        title_text=titles[-1],
        xaxis=dict(title_text=f"unit {units[0] + 1}", **grid),
        yaxis=dict(title_text=f"unit {units[1] + 1}", scaleanchor="x", **grid),
        sliders=slider(steps, "epoch ", active=len(picks) - 1),
        height=620,
        width=640,
    )
    if bin_size is not None:
        edges = np.arange(-1.0, 1.0 + 1e-9, bin_size)
        for e in edges:
            fig.add_vline(x=e, line_width=0.5, line_color="lightgray", layer="below")
            fig.add_hline(y=e, line_width=0.5, line_color="lightgray", layer="below")
    return fig
