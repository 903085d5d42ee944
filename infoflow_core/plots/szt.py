"""Figures of Section 5.1 (the SZT network): one function per figure, each taking a
results object of :mod:`infoflow_core.experiments.szt` (a network's
:class:`~infoflow_core.experiments.szt.NetworkResults`, the
:class:`~infoflow_core.experiments.szt.DeterministicResults` or the
:class:`~infoflow_core.experiments.szt.DPIResults`) and returning a plotly Figure.

>>> from infoflow_core.experiments.szt import DPIResults
>>> mi = np.array([[8.3, 8.2, 8.0, 6.0, 4.0]])
>>> fig = plot_dpi_realizations(DPIResults("tanh", 100, 0.005, np.array([1]), mi, 0.01 + 0 * mi, mi, 0 * mi))
>>> len(fig.data)
5
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..experiments.szt.analysis import bin_centres, hbin_correlations
from ._render import slider, slider_steps

__all__ = [
    "plot_information", "plot_layer_scatter", "plot_distance_histograms", "plot_binning",
    "plot_hbin_vs_information", "plot_dpi_realizations", "plot_layer_comparison", "plot_information_plane",
    "plot_binned_information_plane",
]

_LAYER_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
_LN_4096 = math.log(4096)
_NAMES = {"tanh": "tanh, β = 0.005 (Fig. 5(a))", "orthonormal": "tanh + orthonormality, β = 0.005 (Fig. 5(b))",
          "linear": "linear, β = 0.01 (Fig. 5(c))", "relu": "ReLU, β = 0.005"}


def _title(result) -> str:
    return _NAMES.get(result.name, result.name)


def _log_thin(n: int, k: int = 600) -> np.ndarray:
    """Indices of about ``k`` of ``range(n)``, evenly spaced in log scale (first and last kept)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.logspace(0, np.log10(n), k)).astype(int) - 1)


def plot_information(result, *, title: str | None = None, other_seeds=()) -> go.Figure:
    """Fig. 5 (left column): I(X; T_ℓ) per layer across epochs with ±2 standard-error
    bars, the train and test loss of the noiseless network below, and H(Bin(T_ℓ))
    (bins of 10β) at the bottom.

    Parameters
    ----------
    result : NetworkResults
    other_seeds : sequence of NetworkResults
        Runs of the same network with other seeds (``SZTResults.seed_runs[name][1:]``):
        their I(X; T_ℓ) and test loss are drawn as thin, faint lines in the same colours,
        so the spread over seeds is seen beside the one run's error bars.
    """
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.45, 0.2, 0.35])
    ep = result.epochs
    for k in range(result.n_layers):
        color = _LAYER_COLORS[k % len(_LAYER_COLORS)]
        fig.add_trace(go.Scatter(x=ep, y=result.mi[:, k], mode="lines+markers", name=f"T{k + 1}",
                                 legendgroup=f"T{k + 1}", line={"color": color}, marker={"size": 4},
                                 error_y={"type": "data", "array": 2 * result.mi_stderr[:, k], "visible": True,
                                          "thickness": 1, "width": 2}),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=ep, y=result.h_bin[:, k], mode="lines", name=f"T{k + 1}", showlegend=False,
                                 legendgroup=f"T{k + 1}", line={"color": color, "dash": "dot"}), row=3, col=1)
    for j, other in enumerate(other_seeds):
        for k in range(other.n_layers):
            fig.add_trace(go.Scatter(x=other.epochs, y=other.mi[:, k], mode="lines", name=f"T{k + 1}, other seeds",
                                     legendgroup=f"T{k + 1}", showlegend=False, opacity=0.45, hoverinfo="x+y+name",
                                     line={"color": _LAYER_COLORS[k % len(_LAYER_COLORS)], "width": 1}),
                          row=1, col=1)
        keep = _log_thin(len(other.loss_epochs))
        fig.add_trace(go.Scatter(x=other.loss_epochs[keep], y=other.test_loss[keep].astype(np.float32), mode="lines",
                                 name="test loss, other seeds", showlegend=j == 0, opacity=0.45,
                                 line={"color": "gray", "width": 1, "dash": "dash"}), row=2, col=1)
    keep = _log_thin(len(result.loss_epochs))  # at most ~600 points on the log axis
    le = result.loss_epochs[keep]
    fig.add_trace(go.Scatter(x=le, y=result.train_loss[keep].astype(np.float32), mode="lines", name="train loss",
                             line={"color": "black", "width": 1}), row=2, col=1)
    fig.add_trace(go.Scatter(x=le, y=result.test_loss[keep].astype(np.float32), mode="lines", name="test loss",
                             line={"color": "gray", "width": 1, "dash": "dash"}), row=2, col=1)
    for row in (1, 3):
        fig.add_hline(y=_LN_4096, line={"dash": "dash", "color": "lightgray", "width": 1}, row=row, col=1)
    fig.update_xaxes(type="log", row=3, col=1, title_text="epoch")
    fig.update_xaxes(type="log")
    fig.update_yaxes(title_text="I(X; T<sub>ℓ</sub>) [nats]", row=1, col=1)
    fig.update_yaxes(title_text="loss [nats]", row=2, col=1)
    fig.update_yaxes(title_text="H(Bin(T<sub>ℓ</sub>)), bin 10β", row=3, col=1)
    seeds = (f"<br><span style='font-size:12px'>{1 + len(other_seeds)} seeds: one with ±2 s.e., "
             f"the others faint</span>" if len(other_seeds) else "")
    fig.update_layout(height=760, title={"text": title or f"Information flow: {_title(result)}{seeds}"},
                      legend={"orientation": "v"}, margin={"t": 80 if seeds else 60})
    return fig


def plot_layer_scatter(result, *, layer: int | None = None) -> go.Figure:
    """Fig. 5 (right): the last hidden layer (d = 3), one noisy realization per input,
    colored by label, with a slider over the stored snapshot epochs."""
    snaps = result.snapshots  # (S, n, 3)
    if snaps.shape[0] == 0:
        raise ValueError("result has no snapshots")
    labels = np.asarray(result.labels)
    fig = go.Figure()
    for s, epoch in enumerate(result.snapshot_epochs):
        for c, color in ((0, "#1f77b4"), (1, "#d62728")):
            pts = np.ascontiguousarray(snaps[s][labels == c].T, dtype=np.float32)  # (3, n_c); float32 halves the HTML
            fig.add_trace(go.Scatter3d(x=pts[0], y=pts[1], z=pts[2], mode="markers", name=f"y = {c}",
                                       marker={"size": 3, "color": color, "opacity": 0.6}, visible=(s == 0)))
    epochs = [int(e) for e in result.snapshot_epochs]
    name = f"T{result.n_layers}"
    titles = [f"{name} at epoch {e}: {_title(result)}" for e in epochs]
    fig.update_layout(sliders=slider(slider_steps([str(e) for e in epochs], 2, titles=titles), "epoch "),
                      title={"text": titles[0]}, height=680,
                      scene={"xaxis_title": "unit 1", "yaxis_title": "unit 2", "zaxis_title": "unit 3",
                             "aspectmode": "cube", "domain": {"y": [0.18, 1.0]},
                             "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 1.1}}},
                      margin={"b": 20})
    if result.config.activation == "tanh":
        rng = [-1.05, 1.05]
        fig.update_layout(scene={"xaxis": {"range": rng}, "yaxis": {"range": rng}, "zaxis": {"range": rng}})
    return fig


def plot_distance_histograms(result) -> go.Figure:
    """Fig. 6: histograms (fractions of pairs, log-spaced distance bins) of within- and
    between-class pairwise distances of T_ℓ for each layer, with a slider over the
    snapshot epochs."""
    hw, hb = result.hist_within, result.hist_between  # (S, L, B)
    if hw.shape[0] == 0:
        raise ValueError("result has no pairwise-distance histograms (config histograms=False)")
    n_s, n_l, _ = hw.shape
    log_x = bool((result.hist_edges[:, 0] > 0).all())
    fig = make_subplots(rows=1, cols=n_l, subplot_titles=[f"T{k + 1}" for k in range(n_l)], horizontal_spacing=0.03,
                        shared_yaxes=True)
    for s in range(n_s):
        for k in range(n_l):
            mids = bin_centres(result.hist_edges[k])
            for counts, name, color in ((hw[s, k], "within class", "#1f77b4"), (hb[s, k], "between classes", "#d62728")):
                frac = counts / max(1, counts.sum())
                fig.add_trace(go.Scatter(x=mids, y=frac, mode="lines", line={"shape": "hvh", "color": color, "width": 1},
                                         fill="tozeroy", opacity=0.5, name=name, legendgroup=name,
                                         showlegend=(k == 0), visible=(s == 0)), row=1, col=k + 1)
    epochs = [int(e) for e in result.snapshot_epochs]
    titles = [f"Pairwise distances at epoch {e}: {_title(result)}" for e in epochs]
    # Legend at the right (not under the slider); the slider well below the axis titles;
    # the same tick-label angle in every panel (plotly rotates only the crowded ones).
    fig.update_layout(height=460, title={"text": titles[0]}, legend={"x": 1.01, "xanchor": "left", "y": 1},
                      sliders=slider(slider_steps([str(e) for e in epochs], 2 * n_l, titles=titles), "epoch ",
                                     pad_top=90))
    fig.update_xaxes(title_text="distance", type="log" if log_x else "linear", dtick=1 if log_x else None,
                     tickangle=-45)
    fig.update_yaxes(title_text="fraction of pairs", col=1)
    return fig


def plot_binning(binning, *, other_seeds=()) -> go.Figure:
    """Fig. 1: I(X; Bin(T_ℓ)) = H(Bin(T_ℓ)) of the deterministic network across epochs,
    one curve per layer, with a slider over the bin size. Dashed: ln 4096 ≈ 8.32.

    Parameters
    ----------
    binning : DeterministicResults
    other_seeds : sequence of DeterministicResults
        Runs with other seeds (``SZTResults.deterministic_runs[1:]``), same bin sizes:
        drawn as thin, faint lines in the layers' colours.
    """
    for other in other_seeds:
        if not np.array_equal(other.bin_sizes, binning.bin_sizes):
            raise ValueError(f"other_seeds must have the bin sizes {binning.bin_sizes.tolist()}, "
                             f"got {other.bin_sizes.tolist()}")
    h = binning.h_bin  # (E, K, L)
    n_e, n_k, n_l = h.shape
    fig = go.Figure()
    for j in range(n_k):
        for k in range(n_l):
            fig.add_trace(go.Scatter(x=binning.epochs, y=h[:, j, k], mode="lines+markers", name=f"T{k + 1}",
                                     legendgroup=f"T{k + 1}", marker={"size": 4},
                                     line={"color": _LAYER_COLORS[k % len(_LAYER_COLORS)]}, visible=(j == 0)))
        for other in other_seeds:
            for k in range(n_l):
                fig.add_trace(go.Scatter(x=other.epochs, y=other.h_bin[:, j, k], mode="lines", opacity=0.45,
                                         name=f"T{k + 1}, other seeds", legendgroup=f"T{k + 1}", showlegend=False,
                                         line={"color": _LAYER_COLORS[k % len(_LAYER_COLORS)], "width": 1},
                                         visible=(j == 0)))
    labels = [f"{b:g}" for b in binning.bin_sizes]
    seeds = f" ({1 + len(other_seeds)} seeds)" if len(other_seeds) else ""
    titles = [f"Deterministic network (β = 0): H(Bin(T<sub>ℓ</sub>)), bin size {b}{seeds}" for b in labels]
    fig.add_hline(y=_LN_4096, line={"dash": "dash", "color": "gray", "width": 1},
                  annotation_text="ln 4096", annotation_position="bottom right")
    fig.update_layout(title={"text": titles[0]}, height=450, xaxis={"type": "log", "title": "epoch"},
                      yaxis={"title": "I(X; Bin(T<sub>ℓ</sub>)) [nats]", "range": [0, 8.8]},
                      sliders=slider(slider_steps(labels, n_l * (1 + len(other_seeds)), titles=titles), "bin size "))
    return fig


def plot_hbin_vs_information(result) -> go.Figure:
    """H(Bin(T_ℓ)) (bins of 10β) against I(X; T_ℓ) over the measured epochs, one panel
    per layer, with the Pearson correlation in each panel's title."""
    r = hbin_correlations(result)
    n_l = result.n_layers
    fig = make_subplots(rows=1, cols=n_l, subplot_titles=[f"T{k + 1}: r = {r[k]:.2f}" for k in range(n_l)],
                        horizontal_spacing=0.05)
    for k in range(n_l):
        fig.add_trace(go.Scatter(x=result.mi[:, k], y=result.h_bin[:, k], mode="markers",
                                 marker={"color": np.log10(result.epochs), "colorscale": "Viridis", "size": 6,
                                         "showscale": k == n_l - 1,
                                         "colorbar": {"title": "log₁₀ epoch"} if k == n_l - 1 else None},
                                 text=[f"epoch {e}" for e in result.epochs], name=f"T{k + 1}", showlegend=False),
                      row=1, col=k + 1)
    fig.update_xaxes(title_text="I(X; T<sub>ℓ</sub>)")
    fig.update_yaxes(title_text="H(Bin(T<sub>ℓ</sub>))", col=1)
    fig.update_layout(height=330, title={"text": f"Binned entropy against information: {_title(result)}"})
    return fig


def plot_dpi_realizations(dpi) -> go.Figure:
    """I(X; T_ℓ) per layer for one trained network against the number of noise
    realizations per input (±2 standard errors). The data-processing inequality
    requires the curves to stay ordered, T1 on top."""
    fig = go.Figure()
    for k in range(dpi.mi.shape[1]):
        fig.add_trace(go.Scatter(x=dpi.n_x, y=dpi.mi[:, k], mode="lines+markers", name=f"T{k + 1}",
                                 line={"color": _LAYER_COLORS[k % len(_LAYER_COLORS)]},
                                 error_y={"type": "data", "array": 2 * dpi.mi_stderr[:, k], "visible": True}))
    fig.update_layout(title={"text": f"Realizations per input and the DPI ({dpi.network}, epoch {dpi.epoch})"},
                      xaxis={"type": "log", "title": "realizations per input n_x"},
                      yaxis={"title": "I(X; T<sub>ℓ</sub>) [nats]"}, height=420)
    return fig


def plot_layer_comparison(results: dict, *, layer: int = 5) -> go.Figure:
    """I(X; T_layer) across epochs for several experiments on one axis (±2 s.e.)."""
    fig = go.Figure()
    for j, (name, r) in enumerate(results.items()):
        k = layer - 1
        fig.add_trace(go.Scatter(x=r.epochs, y=r.mi[:, k], mode="lines+markers", name=_NAMES.get(name, name),
                                 marker={"size": 4}, line={"color": _LAYER_COLORS[j % len(_LAYER_COLORS)]},
                                 error_y={"type": "data", "array": 2 * r.mi_stderr[:, k], "visible": True}))
    # Legend under the plot, so the plot keeps the page's width.
    fig.update_layout(title={"text": f"I(X; T<sub>{layer}</sub>) in each network"}, height=520,
                      xaxis={"type": "log", "title": "epoch"}, yaxis={"title": f"I(X; T<sub>{layer}</sub>) [nats]"},
                      legend={"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top"}, margin={"b": 140})
    return fig


def _epoch_colorbar(show: bool) -> dict:
    return {"title": "log₁₀ epoch"} if show else {}


def plot_information_plane(results: dict, *, h_y: float | None = None, other_seeds: dict | None = None) -> go.Figure:
    """The information plane of the noisy networks: I(X; T_ℓ) (x) against I(T_ℓ; Y) (y)
    over the measured epochs, one panel per network, one trajectory per layer (line in
    the layer's colour, markers coloured by log₁₀ epoch, ±2 standard errors on both
    axes). Both axes are SP estimates of the noisy network's informations.

    Parameters
    ----------
    results : dict of str to NetworkResults
        Networks with ``mi_y`` (e.g. ``SZTResults.networks``), at most four.
    h_y : float, optional
        H(Y) in nats, drawn as a dashed line (the ceiling of I(T; Y)).
    other_seeds : dict of str to sequence of NetworkResults, optional
        Runs of the same networks with other seeds (e.g. ``{k: v[1:] for k, v in
        SZTResults.seed_runs.items()}``), drawn as thin, faint trajectories.
    """
    names = list(results)
    if not 1 <= len(names) <= 4:
        raise ValueError(f"results must hold 1 to 4 networks, got {len(names)}")
    cols = min(2, len(names))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[_NAMES.get(n, n) for n in names],
                        horizontal_spacing=0.08, vertical_spacing=0.12)
    every = list(results.values()) + [o for runs in (other_seeds or {}).values() for o in runs]
    lo = min(float((r.mi_y - 2 * r.mi_y_stderr).min()) for r in every)
    hi = max(float((r.mi_y + 2 * r.mi_y_stderr).max()) for r in every)
    y_range = [max(0.0, lo) - 0.02, max(hi, h_y or 0.0) + 0.02]
    for j, name in enumerate(names):
        r = results[name]
        row, col = j // cols + 1, j % cols + 1
        for k in range(r.n_layers):
            color = _LAYER_COLORS[k % len(_LAYER_COLORS)]
            fig.add_trace(go.Scatter(
                x=r.mi[:, k], y=r.mi_y[:, k], mode="lines+markers", name=f"T{k + 1}", legendgroup=f"T{k + 1}",
                showlegend=j == 0, line={"color": color, "width": 1},
                marker={"size": 6, "color": np.log10(r.epochs), "colorscale": "Viridis", "cmin": 0,
                        "cmax": math.log10(max(int(r.epochs[-1]), 10)),
                        "showscale": j == 0 and k == 0, "colorbar": _epoch_colorbar(j == 0 and k == 0),
                        "line": {"color": color, "width": 1}},
                error_x={"type": "data", "array": 2 * r.mi_stderr[:, k], "thickness": 1, "width": 0},
                error_y={"type": "data", "array": 2 * r.mi_y_stderr[:, k], "thickness": 1, "width": 0},
                text=[f"T{k + 1}, epoch {e}" for e in r.epochs], hoverinfo="text+x+y"), row=row, col=col)
        for other in (other_seeds or {}).get(name, ()):
            for k in range(other.n_layers):
                fig.add_trace(go.Scatter(x=other.mi[:, k], y=other.mi_y[:, k], mode="lines", opacity=0.45,
                                         name=f"T{k + 1}, other seeds", legendgroup=f"T{k + 1}", showlegend=False,
                                         line={"color": _LAYER_COLORS[k % len(_LAYER_COLORS)], "width": 1},
                                         hoverinfo="x+y+name"), row=row, col=col)
        if h_y is not None:
            fig.add_hline(y=h_y, line={"dash": "dash", "color": "gray", "width": 1}, row=row, col=col)
    fig.update_xaxes(title_text="I(X; T<sub>ℓ</sub>) [nats]")
    fig.update_yaxes(title_text="I(T<sub>ℓ</sub>; Y) [nats]", col=1)
    fig.update_yaxes(range=y_range)
    fig.update_layout(height=380 * rows + 80, title={"text": "The information plane of the noisy networks (SP estimates)"},
                      # below the last row's axis titles: about 65 px under the plot area (its height is
                      # the figure's less the default top margin and this bottom one), whatever the rows
                      legend={"orientation": "h", "x": 0, "y": -65 / (380 * rows + 80 - 100 - 100), "yanchor": "top"},
                      margin={"b": 100})
    return fig


def plot_binned_information_plane(binning) -> go.Figure:
    """The binned information plane of the deterministic network, as Shwartz-Ziv &
    Tishby draw it: I(X; Bin(T_ℓ)) = H(Bin(T_ℓ)) (x) against I(Bin(T_ℓ); Y) (y) over
    the measured epochs, one trajectory per layer (markers coloured by log₁₀ epoch),
    with a slider over the bin size: the picture, "compression" included, is a
    property of the bin size, not of the network.

    Parameters
    ----------
    binning : DeterministicResults
        With ``h_bin_y``.
    """
    hx, hy = binning.h_bin, binning.h_bin_y  # (E, K, L)
    n_e, n_k, n_l = hx.shape
    cmax = math.log10(max(int(binning.epochs[-1]), 10))
    fig = go.Figure()
    for j in range(n_k):
        for k in range(n_l):
            color = _LAYER_COLORS[k % len(_LAYER_COLORS)]
            fig.add_trace(go.Scatter(
                x=hx[:, j, k], y=hy[:, j, k], mode="lines+markers", name=f"T{k + 1}", visible=(j == 0),
                line={"color": color, "width": 1},
                marker={"size": 6, "color": np.log10(binning.epochs), "colorscale": "Viridis", "cmin": 0, "cmax": cmax,
                        "showscale": k == 0, "colorbar": _epoch_colorbar(k == 0), "line": {"color": color, "width": 1}},
                text=[f"T{k + 1}, epoch {e}" for e in binning.epochs], hoverinfo="text+x+y"))
    labels = [f"{b:g}" for b in binning.bin_sizes]
    titles = [f"Deterministic network (β = 0), binned plane, bin size {b}" for b in labels]
    fig.add_vline(x=_LN_4096, line={"dash": "dash", "color": "gray", "width": 1})
    fig.update_layout(title={"text": titles[0]}, height=480,
                      xaxis={"title": "I(X; Bin(T<sub>ℓ</sub>)) = H(Bin(T<sub>ℓ</sub>)) [nats]", "range": [0, 8.6]},
                      yaxis={"title": "I(Bin(T<sub>ℓ</sub>); Y) [nats]", "range": [0, 0.72]},
                      legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}, margin={"t": 90},
                      sliders=slider(slider_steps(labels, n_l, titles=titles), "bin size "))
    return fig
