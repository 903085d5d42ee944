"""Figures of the AWGN-constellation chapter (``book/03_constellation.ipynb``). Each
takes a :class:`~infoflow_core.experiments.constellation.ConstellationResults` (and
draws its 1-D or 2-D sweep) and returns a plotly Figure, most with a slider over the
precomputed merge amounts.

>>> from infoflow_core.experiments.constellation import ConstellationConfig, run_constellation
>>> cfg = ConstellationConfig.for_scale("quick", betas=(0.1, 1.0), betas_2d=(0.1,), merges=(0.0, 1.0), n_mc=200)
>>> r = run_constellation(cfg, device="cpu", progress=False)
>>> len(plot_information_vs_beta(r, dim=2).layout.sliders[0].steps)
2
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch

from ..entropy import gm_density
from ..experiments.constellation import gaussian_channel_capacity
from ._render import slider, slider_steps

__all__ = [
    "plot_constellation_density",
    "plot_constellation_2d",
    "plot_information_vs_beta",
    "plot_information_vs_merge",
    "plot_bounds_gap",
]


def plot_constellation_density(results, *, beta: float = 0.1, n_grid: int = 1200, active_merge: float = 0.0):
    """Output density ``p_T = (1/n) Σ N(s_i, β²)`` of the 1-D constellation and its
    points at the precomputed β nearest ``beta``; a slider over the merge amount; the
    title gives ``I(S; S+Z)`` at each."""
    sweep = results.sweep(1)
    b = sweep.beta_index(beta)
    beta = float(sweep.betas[b])
    pts = sweep.points[:, :, 0]  # (M, n)
    lo, hi = pts.min() - 4 * beta, pts.max() + 4 * beta
    t = np.linspace(lo, hi, n_grid)  # (G,)
    fig = go.Figure()
    for m in range(len(sweep.merges)):
        p = gm_density(torch.from_numpy(pts[m]), beta, torch.from_numpy(t)).numpy()  # (G,)
        fig.add_trace(go.Scatter(x=t, y=p.astype(np.float32), mode="lines", line={"color": "black"},
                                 name="p<sub>T</sub>(t)", visible=False, showlegend=False))
        fig.add_trace(go.Scatter(x=pts[m], y=np.zeros(len(pts[m])), mode="markers", name="points s<sub>i</sub>",
                                 marker={"color": "#d62728", "symbol": "triangle-up", "size": 9},
                                 visible=False, showlegend=False))
    labels = [f"{mu:.1f}" for mu in sweep.merges]
    titles = [f"merge μ = {mu:.1f}, β = {beta:.3g}: I(S;S+Z) = {sweep.mi[m, b]:.3f} nats "
              f"(ln n = {math.log(sweep.n_points):.3f}, ln K = {math.log(sweep.n_clusters):.3f})"
              for m, mu in enumerate(sweep.merges)]
    active = int(np.argmin(np.abs(sweep.merges - active_merge)))
    fig.data[2 * active].visible = fig.data[2 * active + 1].visible = True
    fig.update_layout(title={"text": titles[active]}, xaxis={"title": {"text": "t"}},
                      yaxis={"title": {"text": "p<sub>T</sub>(t)"}},
                      sliders=slider(slider_steps(labels, 2, titles=titles), "merge μ = ", active=active),
                      template="plotly_white", height=420)
    return fig


def plot_constellation_2d(results, *, beta: float = 0.1, active_merge: float = 0.0):
    """The 2-D constellation: its points with a circle of radius β around each (one
    noise standard deviation, the precomputed β nearest ``beta``); a slider over the
    merge amount."""
    sweep = results.sweep(2)
    b = sweep.beta_index(beta)
    beta = float(sweep.betas[b])
    theta = np.linspace(0, 2 * math.pi, 25)
    fig = go.Figure()
    for m in range(len(sweep.merges)):
        p = sweep.points[m]  # (n, 2)
        # All circles in one trace, separated by None (NaN) breaks: (n, 26) -> flat.
        cx = (p[:, :1] + beta * np.cos(theta)[None, :])
        cy = (p[:, 1:] + beta * np.sin(theta)[None, :])
        cx = np.concatenate([cx, np.full((len(p), 1), np.nan)], axis=1).ravel()
        cy = np.concatenate([cy, np.full((len(p), 1), np.nan)], axis=1).ravel()
        fig.add_trace(go.Scatter(x=cx, y=cy, mode="lines", line={"color": "rgba(31,119,180,0.5)", "width": 1},
                                 name="radius β", visible=False, hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="markers", marker={"color": "#d62728", "size": 6},
                                 name="points", visible=False, showlegend=False))
    labels = [f"{mu:.1f}" for mu in sweep.merges]
    titles = [f"{sweep.n_points} points in {sweep.n_clusters} clusters, merge μ = {mu:.1f}, β = {beta:.3g}: "
              f"I ≈ {sweep.mi[m, b]:.2f} ± {sweep.stderr[m, b]:.2f} nats" for m, mu in enumerate(sweep.merges)]
    active = int(np.argmin(np.abs(sweep.merges - active_merge)))
    fig.data[2 * active].visible = fig.data[2 * active + 1].visible = True
    # Fixed axes (all merge steps' points and circles): the points visibly move together
    # as μ grows instead of the axes rescaling around them.
    allp = np.concatenate([np.asarray(sweep.points[m]) for m in range(len(sweep.merges))])  # (M n, 2)
    lo, hi = allp.min(axis=0) - 1.3 * beta, allp.max(axis=0) + 1.3 * beta
    fig.update_layout(title={"text": titles[active]},
                      xaxis={"title": {"text": "s₁"}, "range": [float(lo[0]), float(hi[0])], "autorange": False},
                      yaxis={"title": {"text": "s₂"}, "scaleanchor": "x",
                             "range": [float(lo[1]), float(hi[1])], "autorange": False},
                      sliders=slider(slider_steps(labels, 2, titles=titles), "merge μ = ", active=active),
                      template="plotly_white", height=520, width=600)
    return fig


def plot_information_vs_beta(results, *, dim: int = 1, active_merge: float = 0.9):
    """``I(S; S+Z)`` against β (log axis) for the ``dim``-D sweep, with the
    Kolchinsky–Tracey band, the levels ``ln n`` and ``ln K``, and the Gaussian-input
    value ``(d/2) ln(1 + P/β²)`` (P: the constellation's per-axis variance); a slider
    over the merge amount."""
    sweep = results.sweep(dim)
    fig = go.Figure()
    exact = sweep.dim == 1
    for m in range(len(sweep.merges)):
        power = float(sweep.points[m].var(axis=0).mean())
        cap = [gaussian_channel_capacity(power, float(beta), sweep.dim) for beta in sweep.betas]
        fig.add_trace(go.Scatter(x=sweep.betas, y=sweep.upper[m], mode="lines", line={"width": 0},
                                 name="KT upper", visible=False, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=sweep.betas, y=sweep.lower[m], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(31,119,180,0.25)",
                                 name="Kolchinsky–Tracey bounds", visible=False))
        fig.add_trace(go.Scatter(x=sweep.betas, y=sweep.mi[m], mode="lines+markers" if not exact else "lines",
                                 line={"color": "black"}, marker={"size": 5},
                                 error_y=None if exact else {"type": "data", "array": 2 * sweep.stderr[m]},
                                 name="I exact (quadrature)" if exact else "I Monte Carlo ±2 s.e.",
                                 visible=False))
        fig.add_trace(go.Scatter(x=sweep.betas, y=cap, mode="lines", line={"color": "#ff7f0e", "dash": "dash"},
                                 name="Gaussian input, same power", visible=False))
    for value, text in ((math.log(sweep.n_points), f"ln n = ln {sweep.n_points}"),
                        (math.log(sweep.n_clusters), f"ln K = ln {sweep.n_clusters}")):
        fig.add_hline(y=value, line={"dash": "dot", "color": "gray", "width": 1}, annotation_text=text,
                      annotation_position="top right")
    labels = [f"{mu:.1f}" for mu in sweep.merges]
    titles = [f"{sweep.dim}-D, {sweep.n_points} points in {sweep.n_clusters} clusters, merge μ = {mu:.1f}: "
              "I(S;S+Z) against β" for mu in sweep.merges]
    active = int(np.argmin(np.abs(sweep.merges - active_merge)))
    for t in range(4 * active, 4 * active + 4):
        fig.data[t].visible = True
    top = math.log(sweep.n_points) * 1.15
    fig.update_layout(title={"text": titles[active]},
                      xaxis={"title": {"text": "noise standard deviation β (grid spacing Δ = 1)"}, "type": "log"},
                      yaxis={"title": {"text": "nats"}, "range": [-0.05, top]},
                      sliders=slider(slider_steps(labels, 4, titles=titles), "merge μ = ", active=active),
                      template="plotly_white", height=460, legend={"x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"})
    return fig


def plot_information_vs_merge(results, *, betas=(0.01, 0.03, 0.1, 0.3, 1.0)):
    """``I(S; S+Z)`` of the 1-D sweep against the merge amount μ for a few β (the
    precomputed ones nearest): merging points lowers the information, from ``ln n``
    towards ``ln K`` (small β)."""
    sweep = results.sweep(1)
    fig = go.Figure()
    for beta in betas:
        b = sweep.beta_index(beta)
        fig.add_trace(go.Scatter(x=sweep.merges, y=sweep.mi[:, b], mode="lines+markers",
                                 name=f"β = {sweep.betas[b]:.3g}"))
    for value, text in ((math.log(sweep.n_points), "ln n"), (math.log(sweep.n_clusters), "ln K")):
        fig.add_hline(y=value, line={"dash": "dot", "color": "gray", "width": 1}, annotation_text=text)
    fig.update_layout(title={"text": "Merging constellation points lowers I(S;S+Z)"},
                      xaxis={"title": {"text": "merge amount μ (0: grid, 1: K points)"}},
                      yaxis={"title": {"text": "nats"}}, template="plotly_white", height=420)
    return fig


def plot_bounds_gap(results, *, merges=(0.0, 0.5, 0.9, 1.0)):
    """Width of the Kolchinsky–Tracey band (upper − lower, nats) of the 1-D sweep
    against β for a few merge amounts: zero where the points are well separated or
    fully merged, largest at intermediate β."""
    sweep = results.sweep(1)
    fig = go.Figure()
    for mu in merges:
        m = sweep.merge_index(mu)
        fig.add_trace(go.Scatter(x=sweep.betas, y=sweep.upper[m] - sweep.lower[m], mode="lines",
                                 name=f"upper − lower, μ = {mu:.1f}"))
        fig.add_trace(go.Scatter(x=sweep.betas, y=sweep.mi[m] - sweep.lower[m], mode="lines",
                                 line={"dash": "dot"}, name=f"I − lower, μ = {mu:.1f}"))
    fig.update_layout(title={"text": "How tight are the Kolchinsky–Tracey bounds?"},
                      xaxis={"title": {"text": "β"}, "type": "log"}, yaxis={"title": {"text": "nats"}},
                      template="plotly_white", height=420)
    return fig
