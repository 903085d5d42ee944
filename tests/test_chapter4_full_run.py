"""The numbers chapter 4 (book/04_szt_information.ipynb) quotes from the stored full run
(book/results/szt/full: 10^4 epochs, n_x = 1000): read back, they are those numbers. Seed 0's
numbers first (they stay true as later seeds are added), then seed 1's and the counts over
seeds 0 and 1 (restated when seed 2 is assembled)."""

from pathlib import Path

import numpy as np
import pytest

from infoflow_core.data.szt import szt_data
from infoflow_core.experiments import szt as ex

FULL = Path(__file__).resolve().parents[1] / "book" / "results" / "szt" / "full"
LN_4096 = float(np.log(4096))


@pytest.fixture(scope="module")
def run():
    return ex.SZTResults.load(FULL, expected_config=ex.SZTConfig.for_scale("full"), allow_part=True)


def _at(r, layer):
    return {int(e): float(v) for e, v in zip(r.epochs, r.mi[:, layer - 1])}


def test_fig5a_tanh(run):
    tanh = run.networks["tanh"]
    t5, t4 = _at(tanh, 5), _at(tanh, 4)
    # "I(X;T5) rises from 2.70 nats at epoch 1 to 4.78 at epoch 20, falls to 3.19 by epoch 87 (1.59 nats,
    # 151 standard errors), rises again to 5.03 at epoch 614 ... and falls to 2.48 by the last epoch, 9999
    # (2.54 nats, 238 standard errors)"
    phases = ex.information_phases(tanh, 5)
    assert [(p["kind"], p["from_epoch"], p["to_epoch"]) for p in phases] == [
        ("rise", 1, 20), ("fall", 20, 87), ("rise", 87, 614), ("fall", 614, 9999)]
    assert [round(t5[e], 2) for e in (1, 20, 87, 614, 9999)] == [2.70, 4.78, 3.19, 5.03, 2.48]
    assert round(-phases[1]["change"], 2) == 1.59 and round(phases[1]["sigma"]) == 151
    assert round(-phases[3]["change"], 2) == 2.54 and round(phases[3]["sigma"]) == 238
    # "I(X;T4) ... (6.99 nats at epoch 20, 5.27 at epoch 60), climbs back to 7.73 at epoch 3944 and falls
    # late too, to 7.14 (0.60 nats)"
    assert [round(t4[e], 2) for e in (20, 60, 3944, 9999)] == [6.99, 5.27, 7.73, 7.14]
    c4 = ex.compression_summary(tanh, 4)
    assert c4["peak_epoch"] == 3944 and round(c4["drop"], 2) == 0.60
    # "Layer 3 dips once, from 8.25 to 7.84 nats between epochs 15 and 60, just past our threshold ...
    # and returns to 8.28; layers 1 and 2 stay within 0.004 nats of ln 4096"
    c3 = ex.compression_summary(tanh, 3)
    assert (c3["fall_from"], c3["fall_to"], round(c3["fall_start"], 2), round(c3["fall_start"] - c3["fall"], 2)) == (
        15, 60, 8.25, 7.84)
    assert c3["compresses"] and np.log(1.5) < c3["fall"] < 0.42 and round(c3["final"], 2) == 8.28
    assert [ex.compression_summary(tanh, k)["compresses"] for k in range(1, 6)] == [False, False, True, True, True]
    assert np.abs(tanh.mi[:, :2] - LN_4096).max() < 0.004
    # "Every point's standard error is below 0.008 nats"
    assert tanh.mi_stderr.max() < 0.008 and tanh.mi_y_stderr.max() < 0.008
    # the snapshots: "epochs 1, 10, 24, 60, 138, 320, 739, 1874, 4328 and 9999"
    assert tanh.snapshot_epochs.tolist() == [1, 10, 24, 60, 138, 320, 739, 1874, 4328, 9999]
    # "at epoch 9999, 78 % of the inputs lie within 0.05 of two opposite corners, (-1, 1, 1) and (1, -1, -1),
    # each holding inputs of one class only (but one)"
    t, y = tanh.snapshots[-1].astype(np.float64), tanh.labels
    near = [np.abs(t - np.array(c)).max(axis=1) < 0.05 for c in ((-1, 1, 1), (1, -1, -1))]
    assert round(100 * float((near[0] | near[1]).mean())) == 78
    assert sorted(np.bincount(y[near[0]], minlength=2).tolist() + np.bincount(y[near[1]], minlength=2).tolist()) == [
        0, 1, 1551, 1656]
    # "The test loss reaches its minimum at epoch 2644 (0.127 nats) and then rises to 0.381 at epoch 10^4
    # while the training loss falls to 0.0005 ... Its test accuracy ends at 0.967"
    onset = ex.overfitting_onset(tanh.loss_epochs, tanh.test_loss)
    assert onset["rises"] and onset["min_epoch"] == 2644 and round(onset["min_test_loss"], 3) == 0.127
    assert round(onset["final_test_loss"], 3) == 0.381 and round(float(tanh.train_loss[-1]), 4) == 0.0005
    assert round(float(tanh.test_acc[-1]), 3) == 0.967


def test_fig5b_orthonormal(run):
    orth = run.networks["orthonormal"]
    t5 = _at(orth, 5)
    c5, c4 = ex.compression_summary(orth, 5), ex.compression_summary(orth, 4)
    # "I(X;T5) climbs from 2.77 nats at epoch 1 to 7.98 at epoch 614 ... and stays there (7.97 at epoch 9999)"
    assert [round(t5[e], 2) for e in (1, 614, 9999)] == [2.77, 7.98, 7.97] and c5["peak_epoch"] == 614
    # "Its largest fall is a dip of 0.38 nats between epochs 22 and 31 (37 standard errors, just short of our
    # ln 1.5 threshold) ... layer 4 dips by 0.19 nats at the same time"
    assert (c5["fall_from"], c5["fall_to"], round(c5["fall"], 2), round(c5["fall_sigma"])) == (22, 31, 0.38, 37)
    assert not c5["compresses"] and (c4["fall_from"], c4["fall_to"], round(c4["fall"], 2)) == (20, 31, 0.19)
    # "every unit within 0.72 of zero at the end"
    assert round(float(np.abs(orth.snapshots[-1]).max()), 2) == 0.72
    # "test accuracy 0.969 against 0.967, and a test loss still at its minimum at the end of training (0.105 nats)"
    onset = ex.overfitting_onset(orth.loss_epochs, orth.test_loss)
    assert not onset["rises"] and round(onset["final_test_loss"], 3) == 0.105
    assert round(float(orth.test_acc[-1]), 3) == 0.969


def test_fig5c_linear_and_its_exact_conditional_entropy(run):
    lin = run.networks["linear"]
    t5, t4, t3 = _at(lin, 5), _at(lin, 4), _at(lin, 3)
    # "test accuracy ... 0.860"
    assert round(float(lin.test_acc[-1]), 3) == 0.860
    # "I(X;T5) rises from 2.11 nats at epoch 1 to 4.47 at epoch 22, falls to 3.50 by epoch 31 and to 3.39 by
    # epoch 2477 (1.08 nats in all, 105 standard errors), and stays near 3.5 (3.53 at the end)"
    assert [round(t5[e], 2) for e in (1, 22, 31, 2477, 9999)] == [2.11, 4.47, 3.50, 3.39, 3.53]
    c5 = ex.compression_summary(lin, 5)
    assert (c5["fall_from"], c5["fall_to"], round(c5["fall"], 2), round(c5["fall_sigma"])) == (22, 2477, 1.08, 105)
    # "Layer 4 ... (6.49 nats at epoch 20, 5.52 at epoch 2477, 5.57 at the end), and layer 3 loses 0.52 nats
    # more slowly, from 8.12 at epoch 15 to 7.60 at epoch 5214"
    assert [round(t4[e], 2) for e in (20, 2477, 9999)] == [6.49, 5.52, 5.57]
    c3 = ex.compression_summary(lin, 3)
    assert (c3["fall_from"], c3["fall_to"], round(c3["fall"], 2)) == (15, 5214, 0.52)
    assert [round(t3[e], 2) for e in (15, 5214)] == [8.12, 7.60]
    assert [ex.compression_summary(lin, k)["compresses"] for k in range(1, 6)] == [False, False, True, True, True]
    # "from epoch 60 on, layer 5 is a row of 13-15 tight clusters along one line (gaps of more than 10 beta
    # between them), spread about a hundred times more along that line than across it"
    beta = lin.config.beta
    for i, epoch in enumerate(lin.snapshot_epochs):
        t = lin.snapshots[i].astype(np.float64)
        t -= t.mean(axis=0)
        _, s, vt = np.linalg.svd(t, full_matrices=False)
        clusters = 1 + int((np.diff(np.sort(t @ vt[0])) > 10 * beta).sum())
        assert (13 <= clusters <= 15 and s[0] > 90 * s[1]) == (epoch >= 60), epoch
    # "the SP estimate of h(T|X) is within 0.041 nats of the exact value at every measured epoch and layer (on
    # average 0.007-0.015 nats low in layers 2-5) ... layer 5: 4.45 -> 3.38 nats"
    exact = ex.linear_conditional_entropy(lin)
    gap = lin.h_t_given_x - exact
    assert round(float(np.abs(gap).max()), 3) == 0.041
    assert [round(float(v), 3) for v in gap[:, 1:].mean(axis=0)] == [-0.007, -0.012, -0.015, -0.010]
    i_exact = lin.h_t - exact
    assert np.abs(i_exact - lin.mi).max() < 0.042
    assert [ex.compression_summary(lin, k)["compresses"] for k in (3, 4, 5)] == [True] * 3
    top = int(i_exact[:, 4].argmax())
    assert (round(float(i_exact[top, 4]), 2), round(float(i_exact[top:, 4].min()), 2)) == (4.45, 3.38)


def test_relu(run):
    relu = run.networks["relu"]
    t5 = _at(relu, 5)
    # "I(X;T5) climbs from 0.10 nats at epoch 1 ... to 7.14 at epoch 509, stays near 6.8 until epoch 5214, then
    # falls to 5.95 by epoch 5722 and to 4.74 by epoch 9999 (2.40 nats in all, 218 standard errors)"
    assert [round(t5[e], 2) for e in (1, 509, 5214, 5722, 9999)] == [0.10, 7.14, 6.78, 5.95, 4.74]
    c5 = ex.compression_summary(relu, 5)
    assert c5["compresses"] and (c5["fall_from"], c5["fall_to"], round(c5["fall"], 2), round(c5["fall_sigma"])) == (
        509, 9999, 2.40, 218)
    # "at epochs 1-10 two of its three units are off for every input"; "at epoch 9999 each of layer 5's two live
    # units is clearly active (above 5 beta) on only 56-58 % of the inputs, against 82-95 % at epoch 4328 ...
    # the third unit stays off for every input throughout"
    beta = relu.config.beta
    active = {int(e): (relu.snapshots[i] > 5 * beta).mean(axis=0) for i, e in enumerate(relu.snapshot_epochs)}
    assert all((active[e] > 0).sum() == 1 for e in (1, 10)) and all(a[1] == 0 for a in active.values())
    assert [round(100 * float(active[9999][u])) for u in (0, 2)] in ([58, 56], [56, 58])
    assert sorted(round(100 * float(active[4328][u])) for u in (0, 2)) == [82, 95]
    # "Layers 3 and 4 lose 0.17 and 0.22 nats, below our threshold, and layers 1 and 2 end at ln 4096"
    c3, c4 = ex.compression_summary(relu, 3), ex.compression_summary(relu, 4)
    assert (round(c3["fall"], 2), round(c4["fall"], 2)) == (0.17, 0.22) and not (c3["compresses"] or c4["compresses"])
    assert np.abs(relu.mi[-1, :2] - LN_4096).max() < 0.001
    # "The test loss is lowest at epoch 5954 (0.099 nats) ... rises to 0.341 by the end; test accuracy 0.960"
    onset = ex.overfitting_onset(relu.loss_epochs, relu.test_loss)
    assert (onset["min_epoch"], round(onset["min_test_loss"], 3), round(onset["final_test_loss"], 3)) == (
        5954, 0.099, 0.341) and onset["rises"]
    assert round(float(relu.test_acc[-1]), 3) == 0.960


def test_dpi_check_over_epochs(run):
    # "None exceeds 3 standard errors ... the largest excess, 0.6 standard errors in the tanh run, is between
    # layers 1 and 2 at epoch 22, where both read ln 4096 to within 1e-8 nats; in the other three runs a deeper
    # layer is never estimated above the shallower one"
    checks = {n: ex.dpi_check(r.mi, r.mi_stderr) for n, r in run.networks.items()}
    assert all(c["holds"] and c["n_checked"] == 336 for c in checks.values())
    tanh = run.networks["tanh"]
    row, col = np.unravel_index(int(checks["tanh"]["excess"].argmax()), checks["tanh"]["excess"].shape)
    assert round(checks["tanh"]["max_excess_sigma"], 1) == 0.6 and (int(tanh.epochs[row]), col) == (22, 0)
    assert np.abs(tanh.mi[row, :2] - LN_4096).max() < 1e-8
    for name in ("orthonormal", "linear", "relu"):
        r = run.networks[name]
        assert (r.mi[:, 1:] <= r.mi[:, :-1]).all(), name


def test_information_plane(run):
    h_y = ex.label_entropy(run.networks["tanh"].labels)
    # "Layer 1 ... stays within 0.0004 nats of H(Y) in every network, and no estimate of layers 1-3 exceeds H(Y)
    # by more than 2e-5 nats"
    for r in run.networks.values():
        assert np.abs(r.mi_y[:, 0] - h_y).max() < 0.0004 and (r.mi_y[:, :3] - h_y).max() < 2e-5
    p = {(n, k): ex.plane_phases(r, k) for n, r in run.networks.items() for k in range(1, 6)}
    both = sorted(key for key, q in p.items() if q["fitting"] and q["compression_after_fit"])
    assert both == [("linear", 3), ("linear", 4), ("linear", 5), ("relu", 5), ("tanh", 4), ("tanh", 5)]
    # tanh: "I(T5;Y) climbs from 0.025 nats to 0.68, 90 % of the way by epoch 977, with I(X;T5) up by 2.1 nats
    # ...; then I(X;T5) falls by 2.32 nats to epoch 9999 (216 standard errors) while I(T5;Y) still gains 0.06"
    t5 = p[("tanh", 5)]
    assert (round(t5["y_first"], 3), round(t5["y_max"], 2), t5["fit_epoch"], round(t5["x_rise"], 1)) == (
        0.025, 0.68, 977, 2.1)
    assert (t5["fall_to"], round(t5["x_fall"], 2), round(t5["x_fall_sigma"]), round(t5["y_change_in_fall"], 2)) == (
        9999, 2.32, 216, 0.06)
    # "The first compression ... (epochs 20 -> 87, 1.59 nats) ... while I(T5;Y) is still low and rising (0.42 -> 0.46)"
    tanh = run.networks["tanh"]
    y5 = {int(e): float(v) for e, v in zip(tanh.epochs, tanh.mi_y[:, 4])}
    assert (round(y5[20], 2), round(y5[87], 2)) == (0.42, 0.46)
    # "Layer 4 fits by epoch 351 (0.11 -> 0.69 nats) and compresses late, from epoch 3944 (0.60 nats, 56 s.e.)"
    t4 = p[("tanh", 4)]
    assert (t4["fit_epoch"], round(t4["y_first"], 2), round(t4["y_max"], 2)) == (351, 0.11, 0.69)
    assert (t4["fall_from"], round(t4["x_fall"], 2), round(t4["x_fall_sigma"])) == (3944, 0.60, 56)
    # ReLU: "I(T5;Y) rises from 0.01 to 0.68 nats (90 % by epoch 673), then I(X;T5) falls by 2.31 nats (210 s.e.)
    # while I(T5;Y) gains 0.06. Its layers 3 and 4 fit only."
    r5 = p[("relu", 5)]
    assert (round(r5["y_first"], 2), round(r5["y_max"], 2), r5["fit_epoch"]) == (0.01, 0.68, 673)
    assert (round(r5["x_fall"], 2), round(r5["x_fall_sigma"]), round(r5["y_change_in_fall"], 2)) == (2.31, 210, 0.06)
    # orthonormal: "I(T;Y) of layers 4 and 5 reaches 0.693 and 0.685 nats by epochs 38 and 105 ...
    # no later fall passes our threshold (0.01 and 0.04 nats)"
    o4, o5 = p[("orthonormal", 4)], p[("orthonormal", 5)]
    assert (round(o4["y_max"], 3), round(o5["y_max"], 3), o4["fit_epoch"], o5["fit_epoch"]) == (0.693, 0.685, 38, 105)
    assert (round(o4["x_fall"], 2), round(o5["x_fall"], 2)) == (0.01, 0.04)
    # linear: "compression of layers 3, 4 and 5 (0.52, 0.98 and 1.08 nats) while I(T;Y) changes by -0.040, -0.025
    # and +0.005 nats. Its I(T5;Y) stays between 0.41 and 0.44 nats from epoch 20 on"
    lin = run.networks["linear"]
    assert [round(p[("linear", k)]["x_fall"], 2) for k in (3, 4, 5)] == [0.52, 0.98, 1.08]
    assert [round(p[("linear", k)]["y_change_in_fall"], 3) for k in (3, 4, 5)] == [-0.040, -0.025, 0.005]
    late = lin.mi_y[lin.epochs >= 20, 4]
    assert (round(float(late.min()), 2), round(float(late.max()), 2)) == (0.41, 0.44)


def test_realization_check(run):
    by_epoch = {d.epoch: d for d in run.realizations}
    assert sorted(by_epoch) == [1, 87, 10000] and run.dpi.epoch == 10000
    row = lambda d, n_x: int(np.flatnonzero(d.n_x == n_x)[0])  # noqa: E731
    final, e87, e1 = by_epoch[10000], by_epoch[87], by_epoch[1]
    # "I(X;T5) is 2.85 nats with one realization per input, 2.63 with n_x = 10, 2.54 with 100, 2.52 with 300 and
    # 2.49 with 1000; I(X;T4) settles from 7.33 to 7.14 by n_x = 100"
    assert [round(float(final.mi[row(final, n), 4]), 2) for n in (1, 10, 100, 300, 1000)] == [
        2.85, 2.63, 2.54, 2.52, 2.49]
    assert [round(float(final.mi[row(final, n), 3]), 2) for n in (1, 100, 300, 1000)] == [7.33, 7.14, 7.14, 7.14]
    # "At epoch 87 ... I(X;T5) goes 4.20 -> 3.47 -> 3.24 -> 3.22 and I(X;T4) 6.25 -> 5.59 -> 5.37 -> 5.34 for
    # n_x = 1, 10, 100, 1000. At epoch 1 ... (I(X;T5) 3.14, 2.78, 2.71, 2.72)"
    ns = (1, 10, 100, 1000)
    assert [round(float(e87.mi[row(e87, n), 4]), 2) for n in ns] == [4.20, 3.47, 3.24, 3.22]
    assert [round(float(e87.mi[row(e87, n), 3]), 2) for n in ns] == [6.25, 5.59, 5.37, 5.34]
    assert [round(float(e1.mi[row(e1, n), 4]), 2) for n in ns] == [3.14, 2.78, 2.71, 2.72]
    # "From n_x = 300 to 1000 no estimate moves by more than 0.03 nats (layer 5 of the final network, 2.52 -> 2.49,
    # 2.4 standard errors of the difference)"
    moves = {d.epoch: d.mi[row(d, 1000)] - d.mi[row(d, 300)] for d in run.realizations}
    assert max(float(np.abs(m).max()) for m in moves.values()) < 0.03
    se = float(np.hypot(final.mi_stderr[row(final, 300), 4], final.mi_stderr[row(final, 1000), 4]))
    assert round(abs(float(moves[10000][4])) / se, 1) == 2.4
    # "The book scale's n_x = 10 overstates I(X;T5) by 0.25 nats at epoch 87"
    assert round(float(e87.mi[row(e87, 10), 4] - e87.mi[row(e87, 1000), 4]), 2) == 0.25
    # "At n_x = 1000 the two agree within 0.03 nats (layer 5 at epochs 1 and 87: 2.72 and 3.22 here, 2.70 and 3.19
    # on the curve)"
    tanh = run.networks["tanh"]
    curve = {int(e): tanh.mi[i] for i, e in enumerate(tanh.epochs)}
    for d, e in ((e1, 1), (e87, 87)):
        assert np.abs(d.mi[row(d, 1000)] - curve[e]).max() < 0.03
    assert [round(float(curve[e][4]), 2) for e in (1, 87)] == [2.70, 3.19]
    # "from n_x = 1 to 1000, h(T4) of the final network rises by 1.41 nats and h(T4|X) by 1.60; their difference,
    # the estimate, moves by 0.19"
    a, b = row(final, 1), row(final, 1000)
    assert round(float(final.h_t[b, 3] - final.h_t[a, 3]), 2) == 1.41
    assert round(float(final.h_t_given_x[b, 3] - final.h_t_given_x[a, 3]), 2) == 1.60
    assert round(float(final.mi[a, 3] - final.mi[b, 3]), 2) == 0.19
    # "No estimate here breaks the DPI by more than 3 standard errors (the largest excess is 2.05)"
    checks = [ex.dpi_check(d.mi, d.mi_stderr) for d in run.realizations]
    assert all(c["holds"] for c in checks) and round(max(c["max_excess_sigma"] for c in checks), 2) == 2.05


def test_summary(run):
    # "the upward bias of too few realizations per input (0.2-1.0 nats for layers 4-5 at n_x = 1, up to 0.25 at
    # n_x = 10) ... at n_x = 1000 what is left is a few hundredths of a nat"
    bias = {n: np.array([d.mi[list(d.n_x).index(n), 3:] - d.mi[list(d.n_x).index(1000), 3:]
                         for d in run.realizations]) for n in (1, 10, 300)}
    assert (round(float(bias[1].min()), 1), round(float(bias[1].max()), 1)) == (0.2, 1.0)
    assert round(float(bias[10].max()), 2) == 0.25 and np.abs(bias[300]).max() < 0.03
    # "Layer 4 follows both falls (1.7 and 0.6 nats), layer 3 the first (0.4)"; ReLU "by 2.4 nats, most of it
    # after epoch 5214"
    tanh, relu = run.networks["tanh"], run.networks["relu"]
    falls4 = [p for p in ex.information_phases(tanh, 4) if p["kind"] == "fall"]
    assert [round(-p["change"], 1) for p in falls4] == [1.7, 0.6]
    assert round(ex.compression_summary(tanh, 3)["fall"], 1) == 0.4
    r5 = {int(e): float(v) for e, v in zip(relu.epochs, relu.mi[:, 4])}
    assert r5[5214] - r5[9999] > 0.5 * (max(r5.values()) - r5[9999])


def test_checked_report_holds_on_the_full_run(run):
    # The chapter's checked report (szt.report) says "yes" to every claim on the stored full run too
    # (layer 1 reads ln 4096 up to float rounding, which its standard error does not count).
    text = ex.report(run, parts=("networks", "plane", "dpi"))
    assert ": no" not in text and text.count(": yes") == 4 * 3 + 4 + 2


# ---- seed 1, and the counts over seeds 0 and 1 -------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds(run):
    """The runs over seeds; the chapters quote seeds 0 and 1 (restate them when seed 2 is assembled)."""
    assert {name: len(r) for name, r in run.seed_runs.items()} == {n: 2 for n in ("tanh", "orthonormal", "linear", "relu")}
    assert len(run.deterministic_runs) == 2
    return run.seed_runs


def _counts(runs, layer):
    return sum(ex.compression_summary(r, layer)["compresses"] for r in runs)


def _fit_then_compress(runs, layer):
    return sum(p["fitting"] and p["compression_after_fit"] for p in (ex.plane_phases(r, layer) for r in runs))


def test_seed1_tanh_plateau(seeds):
    t = seeds["tanh"][1]
    # "For its first 81 epochs the network learns nothing: the test accuracy stays at 0.513, the share of the larger
    # class in the test set, and from epoch 28 on the training and test losses sit within 0.01 nats of ln 2 ...
    # a plateau that Adam leaves at epoch 82 (test accuracy 0.551 at epoch 83, 0.889 at epoch 120)"
    acc = dict(zip(t.loss_epochs.tolist(), t.test_acc.tolist()))
    assert all(round(acc[e], 3) == 0.513 for e in range(1, 82)) and round(acc[82], 3) != 0.513
    assert (round(acc[83], 3), round(acc[120], 3)) == (0.551, 0.889)
    data = szt_data(t.config.data_seed)
    share = float(data.y[data.test_idx].double().mean())
    assert round(max(share, 1 - share), 3) == 0.513
    on = (t.loss_epochs >= 28) & (t.loss_epochs <= 81)
    assert np.abs(t.train_loss[on] - np.log(2)).max() < 0.01 and np.abs(t.test_loss[on] - np.log(2)).max() < 0.01
    # "I(X;T3) falls from 8.23 nats at epoch 1 to 2.26 at epoch 55 (5.97 nats), I(X;T4) by 4.60 nats to epoch 50,
    # I(X;T5) by 2.26 to epoch 45, and even layer 2 loses 1.02 nats, while I(T3;Y) drops from 0.65 to 0.31 nats"
    c = {k: ex.compression_summary(t, k) for k in range(2, 6)}
    assert (c[3]["fall_from"], c[3]["fall_to"], round(c[3]["fall_start"], 2), round(c[3]["fall"], 2)) == (1, 55, 8.23, 5.97)
    assert (c[4]["fall_to"], round(c[4]["fall"], 2), c[5]["fall_to"], round(c[5]["fall"], 2)) == (50, 4.60, 45, 2.26)
    assert round(c[2]["fall"], 2) == 1.02 and round(_at(t, 3)[55], 2) == 2.26
    y3 = t.mi_y[t.epochs <= 81, 2]
    assert (round(float(y3[0]), 2), round(float(y3.min()), 2)) == (0.65, 0.31)
    # "a fall of 1.18 nats from epoch 201 to 2056, a rise to epoch 3944 and a late fall of 1.41 nats to 2.32 at
    # epoch 9999"; layer-5 phases of seed 1 in the phases cell
    phases = ex.information_phases(t, 5)
    assert [(p["kind"], p["from_epoch"], p["to_epoch"], round(p["change"], 2)) for p in phases] == [
        ("fall", 1, 45, -2.26), ("rise", 45, 201, 3.01), ("fall", 201, 2056, -1.18), ("rise", 2056, 3944, 1.59),
        ("fall", 3944, 9999, -1.41)]
    assert round(_at(t, 5)[9999], 2) == 2.32
    # "test accuracy 0.994, and a test loss lowest at epoch 8120 (0.022 nats) and 0.026 at the end"
    onset = ex.overfitting_onset(t.loss_epochs, t.test_loss)
    assert (onset["min_epoch"], round(onset["min_test_loss"], 3), round(onset["final_test_loss"], 3)) == (8120, 0.022, 0.026)
    assert round(float(t.test_acc[-1]), 3) == 0.994
    # "layers 3, 4 and 5 compress in 2 of 2 and layer 2 in 1 of 2"; "the late fall to epoch 10^4 comes in 2 of 2,
    # the paper's early rise (to ~28) and fall (from ~80) in 1 of 2"
    assert [_counts(seeds["tanh"], k) for k in range(1, 6)] == [0, 1, 2, 2, 2]
    kinds = [[p["kind"] for p in ex.information_phases(r, 5)] for r in seeds["tanh"]]
    late = [ex.information_phases(r, 5)[-1] for r in seeds["tanh"]]
    assert all(p["kind"] == "fall" and p["to_epoch"] == 9999 for p in late)
    assert [k[:2] == ["rise", "fall"] for k in kinds] == [True, False]


def test_seed1_orthonormal_and_linear(seeds):
    o = seeds["orthonormal"][1]
    # "Seed 1 has the same seed (1000) as the tanh network's seed 1 ... test accuracy 0.513 to epoch 51, leaving it
    # at epoch 52, 30 epochs before the unregularized network"
    assert o.config.seed == seeds["tanh"][1].config.seed == 1000
    acc = dict(zip(o.loss_epochs.tolist(), o.test_acc.tolist()))
    assert all(round(acc[e], 3) == 0.513 for e in range(1, 52)) and round(acc[52], 3) != 0.513
    # "layers 3, 4 and 5 by 2.92, 3.27 and 1.58 nats, to epochs 31, 31 and 28 ... I(X;T5) climbs to 8.02 nats at
    # epoch 739 and stays there (7.98 at the end)"
    c = {k: ex.compression_summary(o, k) for k in (3, 4, 5)}
    assert [(round(c[k]["fall"], 2), c[k]["fall_to"]) for k in (3, 4, 5)] == [(2.92, 31), (3.27, 31), (1.58, 28)]
    assert (c[5]["peak_epoch"], round(c[5]["peak"], 2), round(c[5]["final"], 2)) == (739, 8.02, 7.98)
    # "layer 5 compresses in 1 of 2 ... after fitting, no layer of either seed falls by more than 0.08 nats"
    assert _counts(seeds["orthonormal"], 5) == 1
    assert max(ex.plane_phases(r, k)["x_fall"] for r in seeds["orthonormal"] for k in range(1, 6)) < 0.085
    # "Test accuracy 0.966 (seed 0: 0.969), test loss lowest at epoch 6919 (0.101 nats) and 0.102 at the end ...
    # differs by 0.004 (3 of the 819 test inputs) and the
    # unregularized one's by 0.027 (22 inputs)"
    onset = ex.overfitting_onset(o.loss_epochs, o.test_loss)
    assert (onset["min_epoch"], round(onset["min_test_loss"], 3), round(onset["final_test_loss"], 3)) == (6919, 0.101, 0.102)
    spread = {n: abs(float(r[0].test_acc[-1] - r[1].test_acc[-1])) for n, r in seeds.items()}
    assert (round(spread["orthonormal"], 3), round(spread["tanh"], 3)) == (0.004, 0.027)
    assert (round(spread["orthonormal"] * 819), round(spread["tanh"] * 819)) == (3, 22)
    lin = seeds["linear"][1]
    # "I(X;T5) rises to 4.40 nats at epoch 28, falls by 1.25 nats to epoch 66 and ends at 3.44, layers 3 and 4 lose
    # 0.43 and 1.21 nats, and the test accuracy is 0.860 again. ... layers 3, 4 and 5 compress in 2 of 2"
    c = {k: ex.compression_summary(lin, k) for k in (3, 4, 5)}
    assert (c[5]["fall_from"], round(c[5]["fall_start"], 2), c[5]["fall_to"], round(c[5]["fall"], 2)) == (28, 4.40, 66, 1.25)
    assert (round(c[5]["final"], 2), round(c[3]["fall"], 2), round(c[4]["fall"], 2)) == (3.44, 0.43, 1.21)
    assert round(float(lin.test_acc[-1]), 3) == 0.860
    assert [_counts(seeds["linear"], k) for k in (3, 4, 5)] == [2, 2, 2]
    # "(seed 1: 0.045)": the SP estimate of h(T|X) against the exact one
    assert round(float(np.abs(lin.h_t_given_x - ex.linear_conditional_entropy(lin)).max()), 3) == 0.045


def test_seed1_relu_never_learns(seeds):
    r = seeds["relu"][1]
    # "every unit of layer 5 is off for every input, so T5 is the noise alone and I(X;T5) = I(T5;Y) = 0 at every
    # epoch ... the training loss creeps towards H(Y) = 0.693 nats and the test accuracy stays at 0.513"
    assert np.abs(r.mi[:, 4]).max() < 1e-6 and np.abs(r.mi_y[:, 4]).max() < 1e-6
    assert np.allclose(r.test_acc, r.test_acc[0]) and round(float(r.test_acc[0]), 3) == 0.513
    h_y = ex.label_entropy(r.labels)
    assert round(h_y, 3) == 0.693 and abs(float(r.train_loss[-1]) - h_y) < 0.001
    # "The curves of layers 1-4 are flat (8.32, 7.70, 3.42 and 1.65 nats, each within 0.05 nats over the 84 epochs,
    # as Monte Carlo errors of 0.008 nats per point allow)"
    assert [round(float(v), 2) for v in r.mi[:, :4].mean(axis=0)] == [8.32, 7.70, 3.42, 1.65]
    assert (r.mi[:, :4].max(axis=0) - r.mi[:, :4].min(axis=0)).max() < 0.05 and r.mi_stderr.max() < 0.008
    # "layer 5 compresses in 1 of 2"; describe_seeds: the dead seed has no phase of I(X;T5)
    assert _counts(seeds["relu"], 5) == 1 and ex.information_phases(r, 5) == []


def test_seed1_dpi_and_information_plane(seeds):
    # "In seed 1 a deeper layer is never estimated above the shallower one, in any of the four networks."
    for name, runs in seeds.items():
        assert (runs[1].mi[:, 1:] <= runs[1].mi[:, :-1]).all(), name
        assert ex.dpi_check(runs[1].mi, runs[1].mi_stderr)["holds"]
    p = {(n, k): ex.plane_phases(runs[1], k) for n, runs in seeds.items() for k in range(1, 6)}
    # tanh: "I(T5;Y) climbs from 0.054 to 0.690 nats, 90 % of the way by epoch 351, then I(X;T5) falls by 1.41 nats
    # from epoch 3944 (133 standard errors) while I(T5;Y) gains 0.017; layer 4 fits by epoch 320 and falls by 0.76
    # nats from epoch 3274"
    t5, t4 = p[("tanh", 5)], p[("tanh", 4)]
    assert (round(t5["y_first"], 3), round(t5["y_max"], 3), t5["fit_epoch"]) == (0.054, 0.690, 351)
    assert (round(t5["x_fall"], 2), t5["fall_from"], round(t5["x_fall_sigma"]), round(t5["y_change_in_fall"], 3)) == (
        1.41, 3944, 133, 0.017)
    assert (t4["fit_epoch"], round(t4["x_fall"], 2), t4["fall_from"]) == (320, 0.76, 3274)
    # "Orthonormal: fitting only again (largest later fall 0.08 nats). Linear: fitting to epochs 24-31, then
    # compression of layers 3, 4 and 5 (0.43, 1.21 and 0.90 nats)"
    assert round(max(p[("orthonormal", k)]["x_fall"] for k in range(1, 6)), 2) == 0.08
    assert [p[("linear", k)]["fit_epoch"] for k in (3, 4, 5)] == [24, 28, 31]
    assert [round(p[("linear", k)]["x_fall"], 2) for k in (3, 4, 5)] == [0.43, 1.21, 0.90]
    # "Over the two seeds, fitting then compression comes in layers 4 and 5 of the tanh network in 2 of 2 seeds,
    # layers 3-5 of the linear network in 2 of 2, layer 5 of the ReLU network in 1 of 2 ..., and no layer of the
    # orthonormal network."
    counts = {n: [_fit_then_compress(runs, k) for k in range(1, 6)] for n, runs in seeds.items()}
    assert counts == {"tanh": [0, 0, 0, 2, 2], "linear": [0, 0, 2, 2, 2], "relu": [0, 0, 0, 0, 1],
                      "orthonormal": [0, 0, 0, 0, 0]}
    # "its plateau collapse (epochs 1 -> 55) ... comes before any fitting, and I(T;Y) falls with I(X;T)"
    tanh = seeds["tanh"][1]
    on = tanh.epochs <= 55
    assert (tanh.mi_y[on, 2][-1] < tanh.mi_y[0, 2] - 0.3) and tanh.epochs[on][-1] < t4["fit_epoch"]
