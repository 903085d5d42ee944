"""The numbers chapter 5 (``book/05_szt_clustering.ipynb``) quotes from the full run.

At the default ``book`` scale the chapter shows the stored full run
(``book/results/szt/full/``: 10⁴ epochs, n_x = 1000) and its prose quotes seed 0 of every
network unless it names seed 1. Each assertion below is commented with the sentence it backs
and rounds as the prose rounds; the seed-0 ones read ``results.networks`` and
``results.deterministic``, so they stay true when seed 2 is added to the stored run, and the
seed-1 ones read ``results.seed_runs[name][1]`` and ``results.deterministic_runs[1]``. The numbers come from the
analysis functions the chapter's cells print (``szt.distance_summary``,
``szt.hbin_correlations``, ``szt.binned_plane_phases``), so prose and printout agree.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from infoflow_core.experiments import szt as ex
from infoflow_core.experiments.szt.analysis import ROUNDING_NATS

RESULTS = Path(__file__).resolve().parents[1] / "book" / "results" / "szt"
LN_4096 = math.log(4096)


@pytest.fixture(scope="module")
def full_run():
    return ex.SZTResults.load(RESULTS / "full", expected_config=ex.SZTConfig.for_scale("full"), allow_part=True)


def _at(epochs, epoch: int) -> int:
    """The row of ``epoch`` in an array of epochs."""
    rows = np.flatnonzero(np.asarray(epochs) == epoch)
    assert rows.size == 1, f"epoch {epoch} is not measured"
    return int(rows[0])


def _pct(x: float) -> int:
    """A fraction as the prose's whole percent."""
    return round(100 * float(x))


def test_fig6_distance_histograms(full_run):
    """Cell 230b0cc8 (Fig. 6): the tanh and orthonormal networks' within- and between-class
    distances, from ``szt.distance_summary`` as the chapter's cell prints them."""
    tanh, orth = full_run.networks["tanh"], full_run.networks["orthonormal"]
    s = ex.distance_summary(tanh)
    snap = s["epochs"].tolist()
    close, far = s["within_close"], s["between_far"]  # (S, L)
    t5 = lambda epoch: float(tanh.mi[_at(tanh.epochs, epoch), 4])  # noqa: E731
    # "57 % of the within-class pairs of layer 5 lie within 10β, and I(X;T_5) is only 2.70 nats"
    assert snap[0] == 1 and _pct(close[0, 4]) == 57 and round(t5(1), 2) == 2.70
    # "Training first spreads them (9 % at epoch 24)"
    assert _pct(close[snap.index(24), 4]) == 9 and close[snap.index(24), 4] == close[:snap.index(60), 4].min()
    # "from epoch 60 on, at least 64 % of the between-class pairs of layer 5 lie more than √3 apart"
    assert _pct(far[snap.index(60):, 4].min()) == 64 and (far[:snap.index(60), 4] < 0.5).all()
    # "(98 % at epoch 9999, when their median distance, 3.24, is close to the full diagonal 2√3 ≈ 3.46"
    assert snap[-1] == 9999 and _pct(far[-1, 4]) == 98 and round(float(s["between"][-1, 4]), 2) == 3.24
    assert round(float(tanh.hist_edges[4, -1]), 2) == round(2 * math.sqrt(3), 2) == 3.46
    # "19 % at epoch 60, when I(X;T_5) has fallen to 3.22 nats; 6 % at epoch 739, when it is back up at 4.93"
    assert _pct(close[snap.index(60), 4]) == 19 and round(t5(60), 2) == 3.22
    assert _pct(close[snap.index(739), 4]) == 6 and round(t5(739), 2) == 4.93
    # "then 28 % at epoch 4328 and 57 % at epoch 9999, when it ends at its lowest, 2.48 nats"
    assert _pct(close[snap.index(4328), 4]) == 28 and _pct(close[-1, 4]) == 57
    assert round(t5(9999), 2) == 2.48 and t5(9999) == tanh.mi[:, 4].min()
    # "The within-class pairs closer than 10β follow I(X;T_5) the other way round" (over the snapshots)
    assert np.corrcoef(close[:, 4], [t5(e) for e in snap])[0, 1] < -0.85
    # "The fraction doubles over the last 6000 epochs"
    assert round(float(close[-1, 4] / close[snap.index(4328), 4])) == 2
    # "Layer 4 ...: at epoch 9999, 79 % of its between-class pairs lie more than √4 = 2 apart and 4 % of its
    # within-class pairs within 10β"
    assert _pct(far[-1, 3]) == 79 and _pct(close[-1, 3]) == 4 and float(tanh.hist_edges[3, -1]) == pytest.approx(4.0)
    # "Layer 3 shows only the parting of the classes (25 % of between-class pairs beyond √5 at epoch 9999), with at
    # most 1 % of its within-class pairs within 10β at any snapshot, and I(X;T_3) stays within 0.5 nats of ln 4096"
    assert _pct(far[-1, 2]) == 25 and _pct(close[:, 2].max()) <= 1 and LN_4096 - tanh.mi[:, 2].min() < 0.5
    # Orthonormal: "both fractions fall to about zero, below 0.2 % in every layer from epoch 1874 on"
    so = ex.distance_summary(orth)
    k = so["epochs"].tolist().index(1874)
    assert so["within_close"][k:].max() < 0.002 and so["between_far"][k:].max() < 0.002
    # "from epoch 739 on, fewer than 1 % of layer 5's within-class pairs are closer than about 0.1" (20β)
    s01 = ex.distance_summary(orth, close_factor=20)
    assert (s01["within_close"][so["epochs"].tolist().index(739):, 4] < 0.01).all()
    # "(median distances 0.63 and 0.42 in layer 5 at epoch 9999)"
    assert round(float(so["between"][-1, 4]), 2) == 0.63 and round(float(so["within"][-1, 4]), 2) == 0.42


def test_fig6_book_scale_comparison(full_run):
    """Cell 230b0cc8's one comparison with the stored book-scale run: "it trained the same network (its training
    losses agree with this run's within 10⁻⁶ nats) and stopped at epoch 4000, at 24 %" (layer 5's within-class
    pairs within 10β)."""
    book = ex.SZTResults.load(RESULTS / "book", expected_config=ex.SZTConfig.for_scale("book"))
    b, f = book.networks["tanh"], full_run.networks["tanh"]
    assert b.config.n_epochs == 4000 and np.abs(f.train_loss[:4000] - b.train_loss).max() < 1e-6
    s = ex.distance_summary(b)
    assert int(s["epochs"][-1]) == 3999 and _pct(s["within_close"][-1, 4]) == 24


def test_the_run_shown_is_the_full_scale_seed0(full_run):
    """Cell 7501c9d1: "the paper-scale full run: 10⁴ epochs, information at 84 measured epochs,
    n_x = 1000 noise realizations per input ... it holds seeds 0 and 1 of every network and of the
    deterministic one; seed 2 is under way"."""
    c = full_run.config
    assert (c.scale, c.n_epochs, len(c.epochs), c.n_x) == ("full", 10_000, 84, 1000)
    assert ex.SZTConfig.for_scale("full").n_seeds == 3  # "seed 2 is under way"
    assert [r.config.seed for r in full_run.deterministic_runs] == [0, 1000]
    assert {n: [r.config.seed for r in runs] for n, runs in full_run.seed_runs.items()} == {
        n: [0, 1000] for n in ("tanh", "orthonormal", "linear", "relu")}
    assert set(full_run.networks) == {"tanh", "orthonormal", "linear", "relu"} and full_run.deterministic is not None
    # "The numbers quoted in the text are seed 0's": results.networks and results.deterministic are seed 0.
    assert {r.config.seed for r in full_run.networks.values()} == {0} and full_run.deterministic.config.seed == 0
    assert all(len(r.epochs) == 84 for r in full_run.networks.values())


def test_hbin_tracks_information(full_run):
    """Cell 1db1adfb: ``szt.hbin_correlations`` and the range of I(X;T_ℓ) over epochs, as the
    chapter's cell prints them (r to 2 decimals, ranges to 2)."""
    r = {name: ex.hbin_correlations(net) for name, net in full_run.networks.items()}
    span = {name: net.mi.max(axis=0) - net.mi.min(axis=0) for name, net in full_run.networks.items()}
    r2 = lambda name, layers: [round(float(r[name][k - 1]), 2) for k in layers]  # noqa: E731
    # "correlations of 0.91 and 0.90 in layers 4 and 5 of the tanh network (whose estimates span 2.5 nats ...)"
    assert r2("tanh", (4, 5)) == [0.91, 0.90] and np.round(span["tanh"][3:], 1).tolist() == [2.5, 2.5]
    # "0.99 and 1.00 with orthonormality regularization (2.6 and 5.2 nats)"
    assert r2("orthonormal", (4, 5)) == [0.99, 1.00] and np.round(span["orthonormal"][3:], 1).tolist() == [2.6, 5.2]
    # "0.98–0.99 in layers 2–5 of the ReLU network, whose layer 2 moves by 0.9 nats and layers 3–5 by 4 to 7"
    assert min(r2("relu", (2, 3, 4, 5))) == 0.98 and max(r2("relu", (2, 3, 4, 5))) == 0.99
    assert round(float(span["relu"][1]), 1) == 0.9 and np.round(span["relu"][2:]).tolist() == [4, 7, 7]
    # "Monte Carlo standard errors of at most 0.008 nats"
    assert max(float(net.mi_stderr.max()) for net in full_run.networks.values()) <= 0.008 + 5e-5
    # "layer 3 of the orthonormal network moves by only 0.12 nats and still correlates at 1.00"
    assert round(float(span["orthonormal"][2]), 2) == 0.12 and r2("orthonormal", (3,)) == [1.00]
    # "(0.80 for the tanh network's layer 3, which moves by 0.46)"
    assert r2("tanh", (3,)) == [0.80] and round(float(span["tanh"][2]), 2) == 0.46
    # Linear: "both peak at epoch 22 (4.47 and 4.46 nats) and then fall"
    lin = full_run.networks["linear"]
    i5, h5 = lin.mi[:, 4], lin.h_bin[:, 4]
    assert int(lin.epochs[i5.argmax()]) == int(lin.epochs[h5.argmax()]) == 22
    assert round(float(i5.max()), 2) == 4.47 and round(float(h5.max()), 2) == 4.46
    # "by epoch 9999, I(X;T_5) is down to 3.53 nats, H(Bin(T_5)) only to 4.25"
    assert int(lin.epochs[-1]) == 9999 and round(float(i5[-1]), 2) == 3.53 and round(float(h5[-1]), 2) == 4.25
    # "The correlations are 0.74 and 0.71 in layers 4 and 5"
    assert r2("linear", (4, 5)) == [0.74, 0.71]
    # "and 0.07 in layer 3, although I(X;T_3) moves by 0.52 nats there"
    assert r2("linear", (3,)) == [0.07] and round(float(span["linear"][2]), 2) == 0.52
    # "from the first epoch to the last, H(Bin(T_3)) gains 0.96 nats while I(X;T_3) loses 0.16"
    assert round(float(lin.h_bin[-1, 2] - lin.h_bin[0, 2]), 2) == 0.96
    assert round(float(lin.mi[0, 2] - lin.mi[-1, 2]), 2) == 0.16
    # "though both rise to a peak (at epochs 20 and 15) and fall after it"
    h3, i3 = lin.h_bin[:, 2], lin.mi[:, 2]
    assert (int(lin.epochs[h3.argmax()]), int(lin.epochs[i3.argmax()])) == (20, 15)
    assert h3[-1] < h3.max() - 0.5 and i3[-1] < i3.max() - 0.5
    # "layer 1 of the tanh, orthonormal and linear networks is ln 4096 at every epoch up to float rounding
    # (r is printed as nan)"
    for name in ("tanh", "orthonormal", "linear"):
        assert np.allclose(full_run.networks[name].mi[:, 0], LN_4096, rtol=0, atol=ROUNDING_NATS)
        assert np.isnan(r[name][0])
    # "layer 2 of the tanh networks moves by at most 0.004 nats, a few standard errors (r = 0.05 and 0.23)"
    for name in ("tanh", "orthonormal"):
        net = full_run.networks[name]
        assert round(float(span[name][1]), 3) <= 0.004 and span[name][1] <= 5 * net.mi_stderr[:, 1].max()
    assert r2("tanh", (2,)) == [0.05] and r2("orthonormal", (2,)) == [0.23]
    # "yet the linear network's layer 2 (0.01 nats) and the ReLU network's layer 1 (0.001 nats) correlate at 0.93
    # and 0.91"
    assert round(float(span["linear"][1]), 2) == 0.01 and r2("linear", (2,)) == [0.93]
    assert round(float(span["relu"][0]), 3) == 0.001 and r2("relu", (1,)) == [0.91]


def test_hbin_book_scale_comparison(full_run):
    """Cell 1db1adfb: "The book-scale run trained the very same network (its training losses agree with this run's
    within 10⁻⁶ nats) but measured it at 28 epochs with n_x = 10, and found 0.97 and 0.95 in layers 4 and 5"."""
    book = ex.SZTResults.load(RESULTS / "book", expected_config=ex.SZTConfig.for_scale("book"))
    lin = book.networks["linear"]
    assert np.abs(full_run.networks["linear"].train_loss[:4000] - lin.train_loss).max() < 1e-6
    assert len(lin.epochs) == 28 and book.config.n_x == 10
    assert np.round(ex.hbin_correlations(lin)[3:], 2).tolist() == [0.97, 0.95]


def test_fig1_deterministic_network(full_run):
    """Cell 3b9b8c7c (Fig. 1): H(Bin(T_ℓ)) of the deterministic network, shape (E, bin sizes, L)."""
    b = full_run.deterministic
    sizes = b.bin_sizes.tolist()
    assert sizes == [0.5, 0.1, 0.01, 0.001, 0.0001] and int(b.epochs[-1]) == 9999 and b.config.n_epochs == 10_000
    h = lambda size: b.h_bin[:, sizes.index(size)]  # noqa: E731  (E, L)
    # "With bins of 10⁻³ and 10⁻⁴, layers 1–4 stay within 0.04 nats of ln 4096 ≈ 8.32 throughout"
    assert round(LN_4096, 2) == 8.32
    assert (LN_4096 - h(1e-3)[:, :4]).max() < 0.04 and (LN_4096 - h(1e-4)[:, :4]).max() < 0.04
    # "at bin size 0.1, H(Bin(T_5)) ranges from 0.73 to 3.96 nats over training, peaking at epoch 614 and falling
    # to 1.68 by epoch 9999" (the cell prints the range to 2 decimals)
    t5 = h(0.1)[:, 4]
    assert (round(float(t5.min()), 2), round(float(t5.max()), 2)) == (0.73, 3.96)
    assert int(b.epochs[t5.argmax()]) == 614 and round(float(t5[-1]), 2) == 1.68
    # "layer 5 drops below ln 4096 even with bins of 10⁻⁴. It is under 8.30 nats from epoch 2056 on and reaches
    # 5.20 nats at epoch 9999"
    u5 = h(1e-4)[:, 4]
    late = b.epochs >= 1000
    below = late & (u5 < 8.30)
    assert int(b.epochs[below][0]) == 2056 and below[b.epochs >= 2056].all()
    assert round(float(u5[-1]), 2) == 5.20 and u5[-1] == u5.min()


def test_fig1_book_scale_comparison(full_run):
    """Cell 3b9b8c7c: "the first 4000 epochs retrace the book-scale run (its binned entropies agree with this
    run's within 0.001 nats at the epochs both measured), which stopped at 7.72 nats" (layer 5, bin 10⁻⁴)."""
    f = full_run.deterministic
    b = ex.SZTResults.load(RESULTS / "book", expected_config=ex.SZTConfig.for_scale("book")).deterministic
    common = sorted(set(f.epochs.tolist()) & set(b.epochs.tolist()))
    assert len(common) >= 10 and b.config.n_epochs == 4000
    rows_f, rows_b = [_at(f.epochs, e) for e in common], [_at(b.epochs, e) for e in common]
    assert np.abs(f.h_bin[rows_f] - b.h_bin[rows_b]).max() < 0.001
    assert round(float(b.h_bin[-1, -1, 4]), 2) == 7.72 and float(b.bin_sizes[-1]) == 1e-4


def test_fig1_test_loss(full_run):
    """Cell 3b9b8c7c: "test loss ... bottoms out near epoch 2000 at 0.137 nats and rises from there, to 0.70 by
    epoch 9999, while its training accuracy reaches 1" (``szt.overfitting_onset``: smoothed test loss)."""
    b = full_run.deterministic
    o = ex.overfitting_onset(b.loss_epochs, b.test_loss)
    assert abs(o["min_epoch"] - 2000) <= 50 and round(o["min_test_loss"], 3) == 0.137 and o["rises"]
    assert round(o["final_test_loss"], 2) == 0.70 and round(float(b.test_loss[-1]), 2) == 0.70
    assert float(b.train_acc[-1]) == 1.0


def test_binned_information_plane(full_run):
    """Cell 00bf0fcb: ``szt.binned_plane_phases`` of the deterministic network, as the chapter's cell prints it."""
    b = full_run.deterministic
    sizes = b.bin_sizes.tolist()
    ph = lambda size, layer: ex.binned_plane_phases(b, sizes.index(size), layer)  # noqa: E731
    both = lambda p: p["fitting"] and p["compression_after_fit"]  # noqa: E731  (the cell's "yes")
    h_y = ex.label_entropy(full_run.networks["tanh"].labels)
    # "a 'compression phase' for layer 5 at every bin size from 0.5 down to 10⁻³"
    assert [both(ph(s, 5)) for s in sizes] == [True, True, True, True, False]
    # "At bin 0.1, I(Bin(T_5);Y) rises from 0.01 to 0.67 nats by epoch 890 and then H(Bin(T_5)) falls by 2.11 nats
    # to epoch 9999"
    p = ph(0.1, 5)
    assert (round(p["y_first"], 2), round(p["y_max"], 2), p["fit_epoch"]) == (0.01, 0.67, 890)
    assert round(p["x_fall"], 2) == 2.11 and (p["fall_from"], p["fall_to"]) == (890, 9999)
    # "At bin 0.01 the fall is 4.34 nats from epoch 614, and layer 4 gets one too (1.03 nats, epochs 16 → 79)"
    p, p4 = ph(0.01, 5), ph(0.01, 4)
    assert round(p["x_fall"], 2) == 4.34 and p["fall_from"] == 614 and both(p4)
    assert round(p4["x_fall"], 2) == 1.03 and (p4["fall_from"], p4["fall_to"]) == (16, 79)
    # Only layer 5, and layer 4 at bin 0.01, show the two phases at any bin size.
    assert [(s, k) for s in sizes for k in range(1, 6) if both(ph(s, k))] == [
        (0.5, 5), (0.1, 5), (0.01, 4), (0.01, 5), (0.001, 5)]
    # "At 10⁻³, I(Bin(T_5);Y) is 0.67 nats from the first epoch ..., yet H(Bin(T_5)) falls by 4.34 nats too, from
    # epoch 20"
    p = ph(0.001, 5)
    assert round(p["y_first"], 2) == 0.67 and round(p["x_fall"], 2) == 4.34 and p["fall_from"] == 20
    # "At bin 0.5 the fall is 0.65 nats"
    assert round(ph(0.5, 5)["x_fall"], 2) == 0.65
    # "At 10⁻⁴ layers 1–4 sit at ln 4096 and H(Y) throughout; layer 5 sits at H(Y) as well, while its
    # H(Bin(T_5)) falls by 3.12 nats (..., almost all of it after epoch 2000)"
    k = sizes.index(1e-4)
    assert np.abs(b.h_bin[:, k, :4] - LN_4096).max() < 0.005
    assert np.allclose(b.h_bin_y[:, k, :], h_y, rtol=0, atol=1e-9)
    p = ph(1e-4, 5)
    assert not p["fitting"] and round(p["x_fall"], 2) == 3.12
    before = b.epochs < 2000
    assert LN_4096 - b.h_bin[before, k, 4][-1] < 0.01 * p["x_fall"]


def test_binned_plane_book_scale_comparison():
    """Cell 00bf0fcb: "(the book-scale run, stopped at epoch 4000, saw a fall of 1.37 nats)" at bin 0.1."""
    b = ex.SZTResults.load(RESULTS / "book", expected_config=ex.SZTConfig.for_scale("book")).deterministic
    p = ex.binned_plane_phases(b, b.bin_sizes.tolist().index(0.1), 5)
    assert round(p["x_fall"], 2) == 1.37 and p["fall_to"] == 3999


def test_summary(full_run):
    """Cell 0d50add4's Summary bullets (their numbers are checked above; here what they add)."""
    b = full_run.deterministic
    k = b.bin_sizes.tolist().index(1e-4)
    # "(layer 5 at bins of 10⁻⁴: 5.20 nats after 10⁴ epochs)"
    assert round(float(b.h_bin[-1, k, 4]), 2) == 5.20 and b.config.n_epochs == 10_000
    # "and none at 10⁻⁴, where layer 5 falls with no fitting phase before it"
    p = ex.binned_plane_phases(b, k, 5)
    assert not p["fitting"] and p["compression_after_fit"]
    # "tight, class-pure clusters forming in the deep layers of the tanh network, still tightening at the last
    # epoch": layer 5's within-class pairs within 10β grow over the last three snapshots, and the between-class
    # pairs are then far apart (class-pure clusters)
    s = ex.distance_summary(full_run.networks["tanh"])
    assert (np.diff(s["within_close"][-3:, 4]) > 0).all() and (s["between_far"][-3:, 4] > 0.8).all()
    # "closely in the tanh and ReLU networks and more loosely in the linear one": layers 4 and 5
    r = {name: ex.hbin_correlations(net)[3:] for name, net in full_run.networks.items()}
    assert min(min(r[n]) for n in ("tanh", "orthonormal", "relu")) >= 0.89 and max(r["linear"]) < 0.8


def test_seed1_deterministic_network(full_run):
    """Cells 3b9b8c7c and 00bf0fcb, seed 1 of the deterministic network."""
    b = full_run.deterministic_runs[1]
    col = {float(v): j for j, v in enumerate(b.bin_sizes)}
    # "test accuracy 0.513 to epoch 80"
    acc = dict(zip(b.loss_epochs.tolist(), b.test_acc.tolist()))
    assert all(round(acc[e], 3) == 0.513 for e in range(1, 81)) and round(acc[81], 3) != 0.513
    # "with bins of 1e-3, H(Bin(T3)) dips to 7.94 nats at epoch 55"
    h3 = b.h_bin[:, col[1e-3], 2]
    assert (round(float(h3.min()), 2), int(b.epochs[h3.argmin()])) == (7.94, 55)
    # "with bins of 1e-4, H(Bin(T5)) falls to 7.36 nats at epoch 50 and is back at 8.30 by epoch 87"
    h5 = b.h_bin[:, col[1e-4], 4]
    early = b.epochs <= 87
    assert (round(float(h5[early].min()), 2), int(b.epochs[early][h5[early].argmin()])) == (7.36, 50)
    assert round(float(h5[_at(b.epochs, 87)]), 2) == 8.30
    # "with bins of 1e-4 it reaches 0.99 nats at epoch 9999 (0.85 with bins of 1e-3), and layer 4 ends at 7.85"
    assert (round(float(h5[-1]), 2), round(float(b.h_bin[-1, col[1e-3], 4]), 2)) == (0.99, 0.85)
    assert int(b.epochs[-1]) == 9999 and round(float(b.h_bin[-1, col[1e-4], 3]), 2) == 7.85
    # "test accuracy 0.977 against 0.951; test loss lowest at epoch 922, 0.089 nats, and 0.157 at the end"
    assert (round(float(b.test_acc[-1]), 3), round(float(full_run.deterministic.test_acc[-1]), 3)) == (0.977, 0.951)
    onset = ex.overfitting_onset(b.loss_epochs, b.test_loss)
    assert (onset["min_epoch"], round(onset["min_test_loss"], 3), round(onset["final_test_loss"], 3)) == (922, 0.089, 0.157)
    # "a 'compression phase' in layers 1, 4 and 5 at bin 0.5, layers 4 and 5 at 0.1, layers 3-5 at 0.01 and layer 5
    # alone at 1e-3 (by 6.63 nats from epoch 221), and none at 1e-4"
    both = {size: [k for k in range(1, 6) if (lambda p: p["fitting"] and p["compression_after_fit"])(
        ex.binned_plane_phases(b, j, k))] for size, j in col.items()}
    assert both == {0.5: [1, 4, 5], 0.1: [4, 5], 0.01: [3, 4, 5], 1e-3: [5], 1e-4: []}
    p = ex.binned_plane_phases(b, col[1e-3], 5)
    assert (round(p["x_fall"], 2), p["fall_from"]) == (6.63, 221)
    # summary: "5.20 nats after 10^4 epochs in seed 0, 0.99 in seed 1"
    assert round(float(full_run.deterministic.h_bin[-1, col[1e-4], 4]), 2) == 5.20


def test_seed1_hbin_tracks_information(full_run):
    """Cell 1db1adfb, seed 1."""
    s = {n: runs[1] for n, runs in full_run.seed_runs.items()}
    r = {n: ex.hbin_correlations(x) for n, x in s.items()}
    span = {n: x.mi.max(axis=0) - x.mi.min(axis=0) for n, x in s.items()}
    # "layers 2-5 of the tanh network, whose estimates move by 1.0-6.0 nats (most of it on the plateau), correlate
    # at 0.90-0.97, and those of the orthonormal network at 0.96-0.99; layer 1 of the tanh network, which dips by
    # 0.003 nats early on, correlates at 0.87"
    assert (round(float(span["tanh"][1:].min()), 1), round(float(span["tanh"][1:].max()), 1)) == (1.0, 6.0)
    assert (round(float(r["tanh"][1:].min()), 2), round(float(r["tanh"][1:].max()), 2)) == (0.90, 0.97)
    assert (round(float(r["orthonormal"][1:].min()), 2), round(float(r["orthonormal"][1:].max()), 2)) == (0.96, 0.99)
    assert round(float(span["tanh"][0]), 3) == 0.003 and round(float(r["tanh"][0]), 2) == 0.87
    assert ROUNDING_NATS < span["tanh"][0]
    # "The linear network's seed 1 ...: 0.32, 0.24, 0.23 and 0.71 in layers 2-5. Its H(Bin(T4)) rises with I(X;T4)
    # to epoch 28 (3.26 -> 5.82 nats against 4.49 -> 6.01) but ... ending at 5.28 nats against 4.97: from the peak
    # the binned entropy loses 0.53 nats where I(X;T4) loses 1.04"
    lin = s["linear"]
    assert [round(float(v), 2) for v in r["linear"][1:]] == [0.32, 0.24, 0.23, 0.71]
    row = {int(e): i for i, e in enumerate(lin.epochs)}
    hb, mi = lin.h_bin[:, 3], lin.mi[:, 3]
    assert int(lin.epochs[mi.argmax()]) == 28
    assert [round(float(hb[row[e]]), 2) for e in (1, 28, 9999)] == [3.26, 5.82, 5.28]
    assert [round(float(mi[row[e]]), 2) for e in (1, 28, 9999)] == [4.49, 6.01, 4.97]
    assert (round(float(hb[row[28]] - hb[-1]), 2), round(float(mi[row[28]] - mi[-1]), 2)) == (0.53, 1.04)
    # "The dead ReLU network's curves are flat, and their correlations (-0.14 to 0.18) are those of Monte Carlo noise"
    rr = r["relu"][:4]
    assert (round(float(rr.min()), 2), round(float(rr.max()), 2)) == (-0.14, 0.18) and np.isnan(r["relu"][4])
