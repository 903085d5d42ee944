"""Figures of the single noisy neuron chapter (``book/02_noisy_neuron.ipynb``): the
paper's Fig. 4(a)–(d), the learned parameters, and the two-neuron leaky-ReLU chain.
Each function takes a :class:`~infoflow_core.experiments.neuron.NeuronResults` and
returns a plotly Figure whose parameter (epoch or β) is a slider over precomputed
values.

>>> from infoflow_core.experiments.neuron import NeuronConfig, run_neuron
>>> cfg = NeuronConfig.for_scale("quick", n_epochs=100, per_decade=2, betas=(0.01,), sp_betas=(0.01,), n_mc=100,
...                               chain_epochs=10, chain_per_decade=1, chain_betas=(0.1,))
>>> r = run_neuron(cfg, device="cpu", progress=False)
>>> len(plot_density_snapshots(r, every=1).layout.sliders[0].steps) == len(r.epochs)
True
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ._render import slider, slider_steps

__all__ = [
    "plot_density_snapshots",
    "plot_density_heatmap",
    "plot_information",
    "plot_information_by_beta",
    "plot_parameters",
    "plot_two_neuron",
]

_INPUT_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#d62728"]  # x = -3, -1, 1, 3
# Plateaus of I(X;T) when components coincide: 4 apart; {-3,-1} merged; {-3,-1,1} merged.
_PLATEAUS = [(math.log(4), "ln 4:<br>four resolvable"),
             (1.5 * math.log(2), "H(½,¼,¼):<br>x = −3, −1 merged"),
             (-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), "H(¾,¼):<br>x = −3, −1, 1 merged")]


def _fmt_beta(beta: float) -> str:
    return f"β = {beta:.3g}"


def plot_density_snapshots(res, *, beta: float = 0.01, every: int = 2, active_epoch: int = 250):
    """Fig. 4(a): the density ``p_{T(k)}`` at one epoch, with a slider over recorded epochs.

    Also marks the four constellation points ``S(k) = tanh(w_k x + b_k)``.
    """
    j = res.beta_index(beta)
    s = res.representations  # (K, 4)
    idx = list(range(0, len(res.epochs), every))
    if len(res.epochs) - 1 not in idx:
        idx.append(len(res.epochs) - 1)
    fig = go.Figure()
    for k in idx:
        fig.add_trace(go.Scatter(x=res.grid, y=res.density[j, k].astype(np.float32), mode="lines",
                                 line={"color": "black"}, name="p<sub>T</sub>(t)", visible=False,
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=s[k], y=np.zeros(4), mode="markers",
                                 marker={"color": _INPUT_COLORS, "size": 10, "symbol": "triangle-up"},
                                 text=[f"x = {x:g}" for x in (-3, -1, 1, 3)],
                                 hovertemplate="%{text}<br>s = %{x:.4f}<extra></extra>",
                                 visible=False, showlegend=False))
    labels = [str(int(res.epochs[k])) for k in idx]
    titles = [f"Fig. 4(a): density of T(k) at epoch k = {lab}, β = {beta:.3g}" for lab in labels]
    active = int(np.argmin(np.abs(res.epochs[idx] - active_epoch)))
    for t in (2 * active, 2 * active + 1):
        fig.data[t].visible = True
    fig.update_layout(
        title={"text": titles[active]},
        xaxis={"title": {"text": "t"}, "range": [float(res.grid[0]), float(res.grid[-1])]},
        yaxis={"title": {"text": "p<sub>T(k)</sub>(t)"}, "range": [-0.02 / beta, 1.05 / (beta * math.sqrt(2 * math.pi))]},
        sliders=slider(slider_steps(labels, 2, titles=titles), "epoch k = ", active=active),
        template="plotly_white", height=430,
    )
    return fig


def plot_density_heatmap(res, *, betas=(0.01, 0.1, 0.5), t_stride: int = 2):
    """Fig. 4(b): ``p_{T(k)}(t)`` as a function of ``log10 k`` (x) and ``t`` (y), a
    slider over β. Colour is ``log10`` of the density (clipped at 10⁻³)."""
    keep = res.epochs > 0
    lk = np.log10(res.epochs[keep])
    grid = res.grid[::t_stride]
    fig = go.Figure()
    for n, beta in enumerate(betas):
        j = res.beta_index(beta)
        z = np.log10(np.maximum(res.density[j][keep][:, ::t_stride], 1e-3)).T.astype(np.float32)  # (G, K)
        fig.add_trace(go.Heatmap(x=lk, y=grid, z=z, colorscale="Viridis", zmin=-3,
                                 zmax=math.log10(0.5 / min(betas)), visible=(n == 0),
                                 colorbar={"title": {"text": "log10 p"}},
                                 hovertemplate="log10 k = %{x:.2f}<br>t = %{y:.3f}<br>log10 p = %{z:.2f}"
                                               "<extra></extra>"))
    labels = [_fmt_beta(b) for b in betas]
    titles = [f"Fig. 4(b): density of T(k) across training, {lab}" for lab in labels]
    fig.update_layout(
        title={"text": titles[0]},
        xaxis={"title": {"text": "log10 epoch k"}}, yaxis={"title": {"text": "t"}},
        sliders=slider(slider_steps(labels, 1, titles=titles), ""),
        template="plotly_white", height=450,
    )
    return fig


def plot_information(res, *, active_beta: float = 0.01):
    """Fig. 4(c): ``I(X; T(k))`` against ``k`` (log axis): exact (quadrature) and the SP
    estimator with ±2 standard errors; a slider over the β where SP ran. Dotted lines:
    the plateaus ``ln 4``, ``H(½,¼,¼)``, ``H(¾,¼)``."""
    keep = res.epochs > 0
    fig = go.Figure()
    for a, beta in enumerate(res.sp_betas):
        j = res.beta_index(float(beta))
        fig.add_trace(go.Scatter(x=res.epochs[keep], y=res.mi[j][keep], mode="lines",
                                 name="exact (quadrature)", line={"color": "black"}, visible=False))
        sp_k = res.epochs[res.sp_index]
        ok = sp_k > 0
        fig.add_trace(go.Scatter(x=sp_k[ok], y=res.sp_mi[a][ok], mode="markers", name="SP estimator ±2 s.e.",
                                 marker={"color": "#d62728", "size": 6},
                                 error_y={"type": "data", "array": 2 * res.sp_stderr[a][ok]},
                                 visible=False))
    labels = [_fmt_beta(float(b)) for b in res.sp_betas]
    titles = [f"Fig. 4(c): I(X;T(k)) during training, {lab}" for lab in labels]
    active = int(np.argmin(np.abs(res.sp_betas - active_beta)))
    fig.data[2 * active].visible = True
    fig.data[2 * active + 1].visible = True
    # Plateau labels in the right margin (never over the curve), the legend under them.
    for value, text in _PLATEAUS:
        fig.add_hline(y=value, line={"dash": "dot", "color": "gray", "width": 1})
        fig.add_annotation(x=1.01, xref="x domain", y=value, yref="y", text=text, showarrow=False,
                           xanchor="left", align="left", font={"size": 11})
    fig.update_layout(
        title={"text": titles[active]},
        xaxis={"title": {"text": "epoch k"}, "type": "log"},
        yaxis={"title": {"text": "I(X; T(k)) [nats]"}, "range": [-0.05, 1.5]},
        template="plotly_white", height=450, margin={"r": 150},
        legend={"x": 1.01, "xanchor": "left", "y": 0, "yanchor": "bottom", "font": {"size": 11}},
    )
    if len(labels) > 1:  # a slider over the β where SP ran (one β at the quick scale)
        fig.update_layout(sliders=slider(slider_steps(labels, 2, titles=titles), "", active=active))
    return fig


def plot_information_by_beta(res, *, betas=None):
    """Fig. 4(d): exact ``I(X; T(k))`` against ``k`` for several β (one trace each;
    click legend entries to hide or show)."""
    keep = res.epochs > 0
    betas = res.betas if betas is None else betas
    fig = go.Figure()
    for n, beta in enumerate(betas):
        j = res.beta_index(float(beta))
        fig.add_trace(go.Scatter(x=res.epochs[keep], y=res.mi[j][keep], mode="lines",
                                 name=_fmt_beta(float(beta)),
                                 line={"color": _sequential(n, len(betas))}))
    fig.update_layout(
        title={"text": "Fig. 4(d): I(X;T(k)) during training for several noise levels β"},
        xaxis={"title": {"text": "epoch k"}, "type": "log"},
        yaxis={"title": {"text": "I(X; T(k)) [nats]"}},
        template="plotly_white", height=450,
    )
    return fig


def _sequential(n: int, total: int) -> str:
    import plotly.colors as pc

    scale = pc.sequential.Viridis
    return scale[int(round(n * (len(scale) - 1) / max(total - 1, 1)))]


def plot_parameters(res):
    """The learned ``w_k``, ``b_k`` and the ratio ``b_k / w_k`` against ``k``; dotted
    lines at ``−2`` (the limit of gradient descent, see the chapter) and ``−2.3`` (the
    paper)."""
    from plotly.subplots import make_subplots

    keep = res.epochs > 0
    k = res.epochs[keep]
    w, b = res.params[keep, 0], res.params[keep, 1]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("w<sub>k</sub> and b<sub>k</sub>", "b<sub>k</sub> / w<sub>k</sub>"))
    fig.add_trace(go.Scatter(x=k, y=w, name="w", line={"color": "#1f77b4"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=k, y=b, name="b", line={"color": "#ff7f0e"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=k, y=b / w, name="b / w", line={"color": "black"}), row=1, col=2)
    # The reference lines are labelled in the right margin, never over the b/w curve.
    for ref, text, shift in ((-2.0, "−2: midway between<br>x = 1 and x = 3", 12), (-2.3, "−2.3: the paper", -12)):
        fig.add_hline(y=ref, line={"dash": "dot", "color": "gray", "width": 1}, row=1, col=2)
        fig.add_annotation(x=1.01, xref="x2 domain", y=ref, yref="y2", text=text, showarrow=False,
                           xanchor="left", yshift=shift, align="left", font={"size": 11})
    fig.update_xaxes(type="log", title={"text": "epoch k"})
    fig.update_layout(title={"text": "Learned parameters of the neuron"}, template="plotly_white",
                      height=440, margin={"r": 150, "b": 110},
                      legend={"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"})
    return fig


def plot_two_neuron(res, *, active_beta: float = 0.1):
    """``I(X; T1)`` and ``I(X; T2)`` of the leaky-ReLU chain against ``k``; the SP
    estimate of ``I(X; T2)`` with ±2 standard errors; a slider over β."""
    epochs = res.chain_epochs
    keep = epochs > 0
    sp_k = epochs[res.chain_sp_index]
    ok = sp_k > 0
    fig = go.Figure()
    for a in range(len(res.chain_betas)):
        fig.add_trace(go.Scatter(x=epochs[keep], y=res.chain_mi_t1[a][keep], name="I(X;T1) exact",
                                 line={"color": "#1f77b4"}, visible=False))
        fig.add_trace(go.Scatter(x=epochs[keep], y=res.chain_mi_t2[a][keep], name="I(X;T2) quadrature",
                                 line={"color": "black"}, visible=False))
        fig.add_trace(go.Scatter(x=sp_k[ok], y=res.chain_sp_mi_t2[a][ok], mode="markers",
                                 name="I(X;T2) SP ±2 s.e.", marker={"color": "#d62728", "size": 6},
                                 error_y={"type": "data", "array": 2 * res.chain_sp_stderr_t2[a][ok]},
                                 visible=False))
    labels = [_fmt_beta(float(b)) for b in res.chain_betas]
    titles = [f"Two-neuron leaky-ReLU chain: information during training, {lab}" for lab in labels]
    active = int(np.argmin(np.abs(res.chain_betas - active_beta)))
    for t in range(3 * active, 3 * active + 3):
        fig.data[t].visible = True
    fig.add_hline(y=math.log(4), line={"dash": "dot", "color": "gray", "width": 1},
                  annotation_text="ln 4", annotation_position="bottom left")
    fig.update_layout(
        title={"text": titles[active]},
        xaxis={"title": {"text": "epoch k"}, "type": "log"},
        yaxis={"title": {"text": "nats"}, "range": [-0.05, 1.5]},
        sliders=slider(slider_steps(labels, 3, titles=titles), "", active=active),
        template="plotly_white", height=450, legend={"x": 1.02, "xanchor": "left", "y": 0.5, "yanchor": "middle"},
    )
    return fig
