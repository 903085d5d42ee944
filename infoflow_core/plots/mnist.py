"""Figures of the MNIST CNN chapter (Table 1, Figs. 3, 7, 8 and the per-unit
binned entropies), each from a :class:`~infoflow_core.experiments.mnist.MnistResults`
(entropies in nats).

>>> len(plot_digits(np.zeros((3, 28, 28), dtype=np.uint8), [0, 1, 2]).data)
3
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .._validation import check_positive_int
from ._render import slider, slider_steps

__all__ = ["plot_digits", "plot_table1", "plot_cosine_histograms", "plot_two_bin_entropy", "plot_unit_entropy",
           "plot_distance_histograms"]

_LAYERS = ["layer 1 (conv)", "layer 2 (conv)", "layer 3 (dense)", "layer 4 (logits)"]


def _layer_names(results) -> list:
    """The four measured layers' names: layer 4 is the logits, or a dense layer when the
    configuration has a second dense hidden layer (``dense2``)."""
    dense2 = getattr(results.config, "dense2", 0)
    return _LAYERS[:3] + ([f"layer 4 (dense, {dense2})"] if dense2 else _LAYERS[3:])
_COLORS = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3"]


def _scale_note(results) -> str:
    c = results.config
    return f"{c.scale} scale: {c.n_train} training images, {c.epochs} epochs, {c.n_seeds} seeds"


def plot_digits(images, labels) -> go.Figure:
    """A row of MNIST digits (``images`` uint8 of shape (k, 28, 28)) titled by label."""
    images = np.asarray(images)
    labels = [int(v) for v in np.asarray(labels).reshape(-1)]
    if images.ndim != 3 or images.shape[0] == 0 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (k, 28, 28) with k >= 1, got {images.shape}")
    k = images.shape[0]
    if len(labels) != k:
        raise ValueError(f"labels must hold one label per image ({k}), got {len(labels)}")
    fig = make_subplots(rows=1, cols=k, subplot_titles=[f"label {v}" for v in labels], horizontal_spacing=0.01)
    for i in range(k):
        fig.add_trace(go.Heatmap(z=images[i][::-1], colorscale="gray_r", zmin=0, zmax=255, showscale=False,
                                 hovertemplate="pixel %{z}<extra></extra>"), row=1, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(height=170, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def plot_table1(results) -> go.Figure:
    """Table 1 as bars: our validation errors per 10,000 (mean ± std over seeds)
    beside the paper's, on a log axis (β = 0.5 is 40× the others)."""
    rows = results.table1()
    names = [r["model"] for r in rows]
    fig = go.Figure()
    fig.add_bar(name="paper (8 seeds, 128 epochs)", x=names, y=[r["paper_mean"] for r in rows],
                error_y=dict(type="data", array=[r["paper_std"] for r in rows]), marker_color="#bbbbbb")
    fig.add_bar(name=f"ours ({_scale_note(results)})", x=names, y=[r["mean"] for r in rows],
                error_y=dict(type="data", array=[0.0 if math.isnan(r["std"]) else r["std"] for r in rows]),
                marker_color=_COLORS[0])
    fig.update_layout(barmode="group", title_text="Table 1: validation errors per 10,000 images",
                      yaxis=dict(type="log", title="errors per 10,000 (log scale)"),
                      legend=dict(orientation="h", y=-0.25), height=420)
    return fig


def plot_cosine_histograms(results) -> go.Figure:
    """Fig. 3: histograms (densities) of the cosine similarity between the deterministic
    model's representation of a validation image and each other model's, per layer
    (same seed, hence same initial weights and batch order; noise and dropout off)."""
    edges = np.asarray(results.cosine_edges)
    centers = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    fig = make_subplots(rows=1, cols=4, subplot_titles=_layer_names(results), shared_yaxes=False)
    others = results.variants[1:]
    for v, name in enumerate(others):
        for ell in range(4):
            counts = np.asarray(results.cosine_counts[v, ell], dtype=float)
            total = counts.sum()
            density = counts / (total * width) if total > 0 else counts
            fig.add_trace(go.Scatter(x=centers, y=density, mode="lines", line=dict(color=_COLORS[v + 1], shape="hvh"),
                                     name=name, legendgroup=name, showlegend=ell == 0,
                                     hovertemplate=f"{name}<br>cos %{{x:.3f}}<br>density %{{y:.2f}}<extra></extra>"),
                          row=1, col=ell + 1)
    lo = max(-1.0, float(edges[:-1][np.asarray(results.cosine_counts).sum(axis=(0, 1)) > 0].min()) - 0.05)
    fig.update_xaxes(range=[lo, 1.0], title_text="cosine similarity")
    fig.update_yaxes(title_text="density", col=1)
    fig.update_layout(title_text="Fig. 3: cosine similarity to the deterministic model", height=380,
                      legend=dict(orientation="h", y=-0.3))
    return fig


def plot_two_bin_entropy(results) -> go.Figure:
    """Fig. 7: H(Bin(T_ℓ)) with two bins per unit, [−1, 0] and (0, 1], for the dropout
    model across epochs, with the ceiling ln n (n analysis images)."""
    ep = results.epochs
    n = results.config.n_analysis
    fig = go.Figure()
    for ell in range(4):
        fig.add_scatter(x=ep, y=results.two_bin_entropy[:, ell], mode="lines+markers", name=_layer_names(results)[ell],
                        line=dict(color=_COLORS[ell]))
    fig.add_scatter(x=[ep[0], ep[-1]], y=[math.log(n)] * 2, mode="lines", name=f"ln n = ln {n}",
                    line=dict(color="black", dash="dash"))
    fig.update_layout(title_text=f"Fig. 7: H(Bin(T<sub>ℓ</sub>)), two bins per unit, dropout model ({n} validation images)",
                      xaxis_title="epoch", yaxis_title="H(Bin(T<sub>ℓ</sub>)) (nats)", height=400)
    return fig


def plot_unit_entropy(results, n_units_shown: int = 12) -> go.Figure:
    """H(Bin(T_3(k))) per unit k of layer 3 across epochs, one slider step per bin size:
    a few units' curves, the mean over the 128 units ± one std, and in the title the
    mean ± std of the per-unit regression slopes (epochs 1..E)."""
    n_units = np.asarray(results.unit_entropy).shape[-1]
    n_units_shown = check_positive_int(n_units_shown, "n_units_shown")
    if n_units_shown > n_units:
        raise ValueError(f"n_units_shown must be <= {n_units} (the units of layer 3), got {n_units_shown}")
    ep = results.epochs
    sizes = results.config.bin_sizes
    fig = go.Figure()
    per_step = n_units_shown + 1
    titles, labels = [], []
    for k, b in enumerate(sizes):
        h = np.asarray(results.unit_entropy[:, k, :])  # (E+1, 128)
        for u in range(n_units_shown):
            fig.add_scatter(x=ep, y=h[:, u], mode="lines", line=dict(width=1, color="#aaaaaa"),
                            name=f"unit {u}", showlegend=False, visible=k == 0,
                            hovertemplate=f"unit {u}<br>epoch %{{x}}<br>%{{y:.3f}} nats<extra></extra>")
        fig.add_scatter(x=ep, y=h.mean(axis=1), mode="lines+markers", line=dict(width=3, color=_COLORS[0]),
                        error_y=dict(type="data", array=h.std(axis=1), visible=True),
                        name="mean over 128 units ± std", visible=k == 0)
        s = np.asarray(results.slopes[k])
        labels.append(f"{b:g}")
        titles.append(f"H(Bin(T<sub>3</sub>(k))) per unit, bin size {b:g}:<br>slope {s.mean():+.4f} ± {s.std(ddof=1):.4f} "
                      f"nats/epoch ({100 * (s < 0).mean():.0f}% of units negative)")
    steps = slider_steps(labels, per_step, titles=titles)
    fig.update_layout(title_text=titles[0], xaxis_title="epoch", yaxis_title="entropy (nats)", height=480,
                      margin={"t": 90}, sliders=slider(steps, "bin size: ", active=0, pad_top=60))
    return fig


def plot_distance_histograms(results) -> go.Figure:
    """Fig. 8: within- and between-class histograms of pairwise distances of the
    analysis images, in pixel space and layers 1–4 of the dropout model, one slider
    step per epoch. Distances are RMS per unit (‖t_i − t_j‖ / sqrt(d)); each histogram
    is normalised to a density."""
    epochs = results.config.fig8_epochs
    titles_sub = ["pixels"] + [name.replace(" (", "<br>(") for name in _layer_names(results)]  # two lines: narrow panels
    fig = make_subplots(rows=1, cols=5, subplot_titles=titles_sub)
    for f, epoch in enumerate(epochs):
        for j in range(5):
            edges = np.asarray(results.dist_edges[f, j])
            centers = 0.5 * (edges[1:] + edges[:-1])
            width = edges[1] - edges[0]
            for kind, counts, color in (("within class", results.dist_within[f, j], _COLORS[0]),
                                        ("between classes", results.dist_between[f, j], _COLORS[1])):
                counts = np.asarray(counts, dtype=float)
                density = counts / max(counts.sum() * width, 1e-300)
                fig.add_trace(go.Scatter(x=centers, y=density, mode="lines", line=dict(color=color, shape="hvh"),
                                         fill="tozeroy", opacity=0.5, name=kind, legendgroup=kind,
                                         showlegend=j == 0, visible=f == len(epochs) - 1,
                                         hovertemplate=f"{kind}<br>distance %{{x:.3f}}<extra></extra>"),
                              row=1, col=j + 1)
    labels = [f"{e}" for e in epochs]
    titles = [f"Fig. 8: pairwise distances (RMS per unit), epoch {e} of {results.config.epochs}" for e in epochs]
    steps = slider_steps(labels, 10, titles=titles)
    fig.update_xaxes(title_text="distance / √d", tickangle=-45)  # one angle in every panel
    fig.update_yaxes(title_text="density", col=1)
    fig.update_layout(title_text=titles[-1], height=460, legend=dict(x=1.01, xanchor="left", y=1),
                      sliders=slider(steps, "epoch: ", active=len(epochs) - 1, pad_top=60))
    return fig
