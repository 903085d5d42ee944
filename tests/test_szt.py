"""The SZT chapters' code: data, network, orthonormality step, configuration, experiments,
stored results, and the text the chapters check (the same on any thread count)."""

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_generator
from infoflow_core.data.szt import load_szt, split_szt, szt_data
from infoflow_core.experiments import szt as ex
from infoflow_core.experiments.szt import SZTConfig
from infoflow_core.models.szt import SZTNet, orthonormalize_
from infoflow_core.noise import GaussianNoise, sample_representations
from infoflow_core.results import StaleResultsError

LN_4096 = math.log(4096)


# ---------------------------------------------------------------- data


def test_loader_shapes_and_labels():
    x, y = load_szt()
    assert x.shape == (4096, 12) and x.dtype == torch.float32
    assert y.shape == (4096,) and y.dtype == torch.int64
    # Independent reference: row i is the binary expansion of i, most significant bit first.
    ref = (np.arange(4096)[:, None] >> np.arange(11, -1, -1)[None, :]) & 1  # (4096, 12)
    np.testing.assert_array_equal(x.numpy(), ref)
    assert int(y.sum()) == 2118 and int((y == 0).sum()) == 1978  # the data README's counts
    # Labels used directly (not one-hot [y, 1-y]): all-zero pattern has y = 0, all-ones y = 1.
    assert int(y[0]) == 0 and int(y[-1]) == 1


def test_split_sizes_disjoint_and_seeded():
    tr, te = split_szt(generator=torch.Generator().manual_seed(0))
    assert tr.shape == (3277,) and te.shape == (819,)
    assert torch.equal(torch.sort(torch.cat([tr, te])).values, torch.arange(4096))
    tr2, _ = split_szt(generator=torch.Generator().manual_seed(0))
    tr3, _ = split_szt(generator=torch.Generator().manual_seed(1))
    assert torch.equal(tr, tr2) and not torch.equal(tr, tr3)
    d = szt_data(0)
    assert torch.equal(d.train_idx, tr)


def test_split_bad_input():
    with pytest.raises(ValueError, match="n_train"):
        split_szt(10, 10, generator=torch.Generator())
    with pytest.raises(ValueError, match="generator"):
        split_szt(10, 5, generator=None)


# ---------------------------------------------------------------- model


def test_model_layer_dims_and_noise_placement(device):
    net = SZTNet("tanh", 0.005).to(device)
    assert [(m.in_features, m.out_features) for m in net.linears()] == [(12, 10), (10, 7), (7, 5), (5, 4), (4, 3), (3, 2)]
    for block in net.hidden:  # Linear -> activation -> noise
        assert isinstance(block[0], torch.nn.Linear) and isinstance(block[1], torch.nn.Tanh)
        assert isinstance(block[2], GaussianNoise) and block[2].beta == 0.005
    assert not any(isinstance(m, GaussianNoise) for m in net.out.modules())  # output: no noise
    x = torch.rand(64, 12, device=device)
    s = sample_representations(net, x, 3, generator=make_generator(device))
    assert [t.shape[-1] for t in s] == [10, 7, 5, 4, 3]
    torch.testing.assert_close(s[0][:, 0], s[0][:, 2])  # S_1 = f_1(x): no noise before layer 1
    assert not torch.allclose(s[1][:, 0], s[1][:, 1])  # S_2 depends on T_1's noise
    net.eval()  # eval mode: deterministic and equal to the noiseless forward pass
    torch.testing.assert_close(net(x), net(x))
    torch.testing.assert_close(net.hidden_values(x)[0], torch.tanh(net.linears()[0](x)))


def test_model_activations_and_bad_input():
    assert isinstance(SZTNet("relu", 0.1).hidden[0][1], torch.nn.ReLU)
    assert isinstance(SZTNet("linear", 0.1).hidden[0][1], torch.nn.Identity)
    with pytest.raises(ValueError, match="activation"):
        SZTNet("sigmoid", 0.1)
    with pytest.raises(ValueError, match="beta"):
        SZTNet("tanh", -1.0)


def test_default_init_matches_pytorch_bounds():
    net = SZTNet("tanh", 0.005, init_generator=torch.Generator().manual_seed(0))
    for lin in net.linears():
        bound = 1 / math.sqrt(lin.in_features)  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        w, b = lin.weight.detach(), lin.bias.detach()
        assert float(w.abs().max()) <= bound and float(b.abs().max()) <= bound
        assert float(w.abs().max()) > 0.5 * bound


def test_orthonormal_update_matches_numpy_float64(device):
    net = SZTNet("tanh", 0.005, init_generator=torch.Generator().manual_seed(3)).to(device, torch.float64)
    before = [lin.weight.detach().cpu().numpy().copy() for lin in net.linears()]
    alpha = 0.05
    orthonormalize_(net, alpha)
    after = [lin.weight.detach().cpu().numpy() for lin in net.linears()]
    for w0, w1 in zip(before[:-1], after[:-1]):
        ref = (1 + alpha) * w0 - alpha * w0 @ w0.T @ w0  # numpy float64 reference
        np.testing.assert_allclose(w1, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(after[-1], before[-1])  # the last layer is left alone


def test_orthonormal_iteration_drives_singular_values_to_one():
    net = SZTNet("tanh", 0.005, init_generator=torch.Generator().manual_seed(0)).double()
    for _ in range(3000):
        orthonormalize_(net, 0.05)
    for lin in net.linears()[:-1]:
        sv = torch.linalg.svdvals(lin.weight)
        torch.testing.assert_close(sv, torch.ones_like(sv), rtol=0, atol=1e-6)  # Parseval: s -> 1


# ---------------------------------------------------------------- configuration

BOOK_RESULTS = Path(__file__).resolve().parent.parent / "book" / "results"


def test_epoch_grids_are_the_papers():
    full = SZTConfig.for_scale("full")
    assert len(full.epochs) == 84 and full.epochs[0] == 1 and full.epochs[-1] == 9999  # log_epochs(9999, 100)
    book = SZTConfig.for_scale("book")
    assert len(book.epochs) == 28 and book.epochs[-1] == 3999 and len(book.det_epochs) == 36
    assert book.snapshot_epochs == (1, 6, 17, 55, 129, 406, 1274, 3999)  # the stored run's
    quick = SZTConfig.for_scale("quick")
    assert set(quick.snapshot_epochs) <= set(quick.epochs) and quick.epochs[-1] == quick.n_epochs - 1


def test_network_settings_follow_the_paper():
    c = SZTConfig.for_scale("full")
    # n_x: 300 left a bias of ~0.04 nats at the clustered epoch 97 against 1000 (benchmarks/results), so 1000
    assert (c.n_epochs, c.n_x, c.lr, c.batch_size, c.n_seeds, c.dpi_n_x[-1]) == (10_000, 1000, 4e-4, 256, 3, 1000)
    table = {n: (c.network(n).activation, c.network(n).beta, c.network(n).alpha)
             for n in ("tanh", "orthonormal", "linear", "relu", "deterministic")}
    assert table == {"tanh": ("tanh", 0.005, 0.0), "orthonormal": ("tanh", 0.005, 1e-3),
                     "linear": ("linear", 0.01, 0.0), "relu": ("relu", 0.005, 0.0),
                     "deterministic": ("tanh", 0.0, 0.0)}
    assert c.network("deterministic").bin_sizes == (0.5, 0.1, 0.01, 0.001, 0.0001) and not c.network("tanh").bin_sizes
    assert c.network("tanh").histograms and not c.network("linear").histograms
    assert not c.network("tanh", 1).histograms and c.network("tanh", 1).snapshot_epochs == ()
    assert c.network("tanh", 2).seed == c.seed + 2000 and c.network("tanh", 2).data_seed == c.seed
    with pytest.raises(ValueError, match="seed_index"):
        c.network("tanh", 3)
    assert c.network("tanh").n_mc_given_x == c.n_mc_given_x == 256
    assert SZTConfig.for_scale("book").seed == 0 and SZTConfig.for_scale("quick").seed == ex.QUICK_SEED
    g = torch.Generator().manual_seed(2019)  # the seed the chapters used to draw at the quick scale
    assert ex.QUICK_SEED == int(torch.randint(0, 2**31 - 1, (1,), generator=g))


def test_config_checks_name_the_field():
    with pytest.raises(ValueError, match="networks"):
        SZTConfig.for_scale("quick", networks=("sigmoid",))
    with pytest.raises(ValueError, match="n_mc_given_x"):
        SZTConfig.for_scale("quick", n_mc_given_x=1)
    with pytest.raises(ValueError, match="beta_linear"):
        SZTConfig.for_scale("quick", beta_linear=0.0)
    with pytest.raises(ValueError, match="'tanh'"):
        SZTConfig.for_scale("quick", networks=("relu",))  # dpi needs the tanh network
    with pytest.raises(ValueError, match="network must be one of"):
        SZTConfig.for_scale("quick").network("sigmoid")
    assert SZTConfig.for_scale("quick", dpi_n_x=[1, 2]).dpi_n_x == (1, 2)


# ---------------------------------------------------------------- a tiny run

TINY = dict(n_epochs=3, n_points=2, det_points=2, n_snapshots=1, n_x=2, n_mc=256, n_mc_given_x=4, hist_bins=10,
            networks=("tanh",), histograms=("tanh",), dpi_n_x=(1, 2), bin_sizes=(0.1, 1e-4))


@pytest.fixture(scope="module")
def tiny_run():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield ex.run_szt(SZTConfig.for_scale("quick", **TINY), device="cpu", progress=False)
    finally:
        torch.set_num_threads(n)


def test_tiny_experiment_information_is_bounded(tiny_run):
    r = tiny_run.networks["tanh"]
    assert r.mi.shape == (2, 5) and np.isfinite(r.mi).all() and (r.mi_stderr > 0).all()
    # 0 <= I(X; T) <= ln 4096 (X uniform over 4096 inputs), within 4 standard errors.
    assert (r.mi >= -4 * r.mi_stderr).all() and (r.mi <= LN_4096 + 4 * r.mi_stderr).all()
    # Layer 1: h(T_1 | X) = (d_1 / 2) ln(2πeβ²) exactly (footnote 3 of the paper).
    np.testing.assert_allclose(r.h_t_given_x[:, 0], 5 * math.log(2 * math.pi * math.e * 0.005 ** 2), rtol=1e-12)
    np.testing.assert_allclose(r.mi, r.h_t - r.h_t_given_x, rtol=1e-12)
    assert ((r.h_bin >= 0) & (r.h_bin <= LN_4096 + 1e-9)).all()
    assert r.loss_epochs.shape == (3,) and np.isfinite(r.test_loss).all()
    assert r.snapshots.shape == (1, 4096, 3) and r.hist_within.shape == (1, 5, 10)
    # Every pair counted once (log-spaced bins, out-of-range distances in the end bins): C(4096, 2) in all.
    assert (r.hist_within.sum(-1) + r.hist_between.sum(-1) == 4096 * 4095 // 2).all()
    # Within-class pairs: C(1978, 2) + C(2118, 2) (the class sizes).
    assert (r.hist_within.sum(-1) == 1978 * 1977 // 2 + 2118 * 2117 // 2).all()
    # The information plane: 0 <= I(T;Y) <= min(I(X;T), H(Y)) within 4 s.e. (Y is a function of X);
    # T_1 separates the 4096 inputs (far apart compared with β), so I(T_1;Y) = H(Y) to within 0.02.
    h_y = ex.label_entropy(r.labels)
    assert h_y == pytest.approx(-(1978 / 4096) * math.log(1978 / 4096) - (2118 / 4096) * math.log(2118 / 4096))
    four = 4 * np.hypot(r.mi_y_stderr, r.mi_stderr)
    assert r.mi_y.shape == (2, 5) and (r.mi_y_stderr > 0).all()
    assert ((r.mi_y >= -4 * r.mi_y_stderr) & (r.mi_y <= np.minimum(r.mi, h_y) + four)).all()
    assert np.abs(r.mi_y[:, 0] - h_y).max() < 0.02
    assert {k: v.shape[0] for k, v in r.epoch_states.items()} == {k: 2 for k in r.final_state}


def test_deterministic_binning_tends_to_ln_4096(tiny_run):
    b = tiny_run.deterministic
    assert b.h_bin.shape == (2, 2, 5)  # (E, K, L)
    # Tiny bins separate all 4096 distinct representations of layer 1: H = ln 4096 (to 1e-9).
    np.testing.assert_allclose(b.h_bin[:, 1, 0], LN_4096, rtol=1e-9)
    assert (b.h_bin[:, 0] <= b.h_bin[:, 1] + 1e-12).all()  # coarser bins, less entropy
    # Binned plane: 0 <= I(Bin(T);Y) <= min(H(Bin(T)), H(Y)); all of H(Y) once layer 1's cells separate the inputs.
    h_y = ex.label_entropy(tiny_run.networks["tanh"].labels)
    assert b.h_bin_y.shape == (2, 2, 5) and (b.h_bin_y >= 0).all()
    assert (b.h_bin_y <= np.minimum(b.h_bin, h_y) + 1e-12).all()
    np.testing.assert_allclose(b.h_bin_y[:, 1, 0], h_y, rtol=1e-12)


def test_results_save_load_round_trip(tiny_run, tmp_path):
    out = tiny_run.save(tmp_path / "szt")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["experiment"] == "szt" and summary["config"]["n_mc_given_x"] == 4
    assert summary["config_hash"] == tiny_run.config.hash
    net = summary["networks"]["tanh"]
    assert net["epochs"] == [1, 2] and set(net["layers"]["T5"]) == {"I", "stderr", "h_T", "h_T_given_X", "H_bin",
                                                                    "I_TY", "I_TY_stderr"}
    assert [r["seed"] for r in summary["seeds"]["tanh"]] == [tiny_run.config.seed]
    assert np.asarray(summary["seeds"]["tanh"][0]["mi"]).shape == (2, 5)
    assert {"compression", "overfitting_onset", "hbin_correlation", "dpi", "losses"} <= set(net)
    assert {"deterministic", "dpi_realizations"} <= set(summary)
    back = ex.SZTResults.load(out, expected_config=tiny_run.config)
    r0, r1 = tiny_run.networks["tanh"], back.networks["tanh"]
    np.testing.assert_array_equal(r0.mi, r1.mi)
    np.testing.assert_array_equal(r0.hist_within, r1.hist_within)
    np.testing.assert_allclose(r0.snapshots, r1.snapshots, atol=1e-3)  # stored as float16
    np.testing.assert_array_equal(back.deterministic.h_bin, tiny_run.deterministic.h_bin)
    np.testing.assert_array_equal(back.dpi.mi, tiny_run.dpi.mi)
    np.testing.assert_array_equal(r0.mi_y, r1.mi_y)
    np.testing.assert_array_equal(back.deterministic.h_bin_y, tiny_run.deterministic.h_bin_y)
    assert [d.epoch for d in back.realizations] == [d.epoch for d in tiny_run.realizations]
    for k in r0.epoch_states:
        np.testing.assert_array_equal(r0.epoch_states[k], r1.epoch_states[k])
    assert r1.config == r0.config and r1.config.beta == 0.005
    assert ex.report(back) == ex.report(tiny_run)


def test_estimate_information_far_apart_inputs():
    # Four inputs far apart (>> β): I = ln 4 for any realizations (closed form).
    base = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).reshape(4, 1, 1)
    s = base + 1e-3 * torch.randn(4, 5, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    est = ex.estimate_information([base, s], 0.01, n_mc=4000, n_mc_given_x=64, generator=torch.Generator().manual_seed(1))
    for e in est:
        assert abs(e.value - math.log(4)) < 4 * e.stderr + 1e-3


def test_collapse_realizations_is_detected_not_assumed():
    """Realizations within 1e-6 β of each other everywhere collapse to one; anything more stays."""
    base = torch.randn(6, 1, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    same = base.expand(6, 4, 3).clone()
    assert ex.collapse_realizations(same, 0.01).shape == (6, 1, 3)
    near = same.clone()
    near[2, 3, 1] += 0.9e-8  # < 1e-6 · 0.01
    assert ex.collapse_realizations(near, 0.01).shape == (6, 1, 3)
    near[2, 3, 1] += 2e-8
    assert ex.collapse_realizations(near, 0.01).shape == (6, 4, 3)
    # Collapsing changes no estimate: the mixtures are the same distributions.
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    one = ex.estimate_information([same], 0.01, n_mc=2000, n_mc_given_x=16, generator=g())[0]
    full = ex.estimate_information([same], 0.01, n_mc=2000, n_mc_given_x=16, generator=g(), collapse=False)[0]
    assert one.h_t_given_x == pytest.approx(1.5 * math.log(2 * math.pi * math.e * 0.01 ** 2), abs=1e-12)
    assert abs(one.value - full.value) < 4 * math.hypot(one.stderr, full.stderr) + 1e-6


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    """Stopped in the middle of a network (KeyboardInterrupt at the 2nd measured epoch of
    the second seed) and started again from its checkpoints, a run gives the same
    arrays, bit for bit, as a run that was never stopped; a checkpoint folder of another
    configuration is refused."""
    from infoflow_core.experiments import Checkpoints
    from infoflow_core.experiments.szt import measure as measure_mod

    cfg = SZTConfig.for_scale("quick", **{**TINY, "n_epochs": 6, "n_points": 4, "n_seeds": 2, "dpi_epochs": 2})
    ref = ex.run_szt(cfg, device="cpu", progress=False)
    assert ref.seed_runs["tanh"][1].config.seed == cfg.seed + 1000
    assert not np.array_equal(ref.seed_runs["tanh"][0].mi, ref.seed_runs["tanh"][1].mi)
    calls, orig = [0], measure_mod.estimate_information

    def stop(*args, **kwargs):
        calls[0] += 1
        # after seed 0's measured epochs and its realization check, seed 1's 2nd measured epoch
        if calls[0] == len(cfg.epochs) + cfg.dpi_epochs * len(cfg.dpi_n_x) + 2:
            raise KeyboardInterrupt
        return orig(*args, **kwargs)

    monkeypatch.setattr(measure_mod, "estimate_information", stop)
    with pytest.raises(KeyboardInterrupt):
        ex.run_szt(cfg, device="cpu", progress=False, checkpoints=Checkpoints(tmp_path, cfg))
    monkeypatch.setattr(measure_mod, "estimate_information", orig)
    assert "tanh/seed1781245421" in Checkpoints(tmp_path, cfg).keys()
    again = ex.run_szt(cfg, device="cpu", progress=False, checkpoints=Checkpoints(tmp_path, cfg))
    a, b = ref.arrays(), again.arrays()
    assert a.keys() == b.keys() and len(a) > 100
    # the same bit for bit, but the measured seconds (timings)
    assert [k for k in a if not k.endswith("measure_seconds") and not np.array_equal(a[k], b[k])] == []
    with pytest.raises(ValueError, match="config hash"):
        Checkpoints(tmp_path, cfg.replace(n_x=3))


def test_measure_noisy_rejects_beta_zero():
    c = SZTConfig.for_scale("quick", **TINY)
    with pytest.raises(ValueError, match="beta"):
        ex.measure_noisy(c.network("deterministic"), szt_data(0), torch.device("cpu"), progress=False)


def test_cli_runs_a_tiny_experiment(tmp_path):
    from infoflow_core.__main__ import main

    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    assert main(["szt", "--scale", "quick", "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress",
                 "--set", "networks=[\"tanh\"]", *sets]) == 0
    back = ex.SZTResults.load(tmp_path / "run")
    assert back.networks["tanh"].mi.shape == (2, 5)
    assert back.describe().startswith("quick scale: 1 seed per network (root seed ") and "2 measured" in back.describe()


# ---------------------------------------------------------------- analysis


def _network_results(**arrays):
    base = dict(epochs=np.array([1]), mi=np.zeros((1, 1)), mi_stderr=np.zeros((1, 1)), h_t=np.zeros((1, 1)),
                h_t_given_x=np.zeros((1, 1)), h_bin=np.zeros((1, 1)), loss_epochs=np.arange(1, 2),
                train_loss=np.zeros(1), test_loss=np.zeros(1), train_acc=np.zeros(1), test_acc=np.zeros(1),
                hist_edges=np.zeros((1, 2)), hist_within=np.zeros((0, 1, 1)), hist_between=np.zeros((0, 1, 1)),
                snapshot_epochs=np.array([]), snapshots=np.zeros((0, 1, 3)), labels=np.zeros(1),
                mi_y=np.zeros((1, 1)), mi_y_stderr=np.zeros((1, 1)))
    return ex.NetworkResults(config=SZTConfig.for_scale("quick").network("tanh"), **{**base, **arrays})


def test_compression_over_seeds_counts_each_seed():
    """Three synthetic seeds of one layer: one falls by 2 nats (compresses), one by
    0.1 nats (below ln 1.5), one rises only; the count and the epochs are those."""
    ep = np.array([1, 10, 100])
    runs = [_network_results(epochs=ep, mi=np.array(v)[:, None], mi_stderr=np.full((3, 1), 0.01))
            for v in ([5.0, 7.0, 5.0], [5.0, 5.1, 5.0], [5.0, 6.0, 7.0])]
    c = ex.compression_over_seeds(runs, 1)
    assert (c["n_seeds"], c["compresses"]) == (3, 1)
    assert c["fall_from"] == [10, None, None] and c["fall_to"] == [100, None, None]
    assert c["text"].startswith("T1 compresses in 1 of 3 seeds") and "10→100 (2.00 nats)" in c["text"]
    assert [p["compresses"] for p in c["per_seed"]] == [True, False, False]
    with pytest.raises(ValueError, match="runs"):
        ex.compression_over_seeds([], 1)
    with pytest.raises(ValueError, match="layer"):
        ex.compression_over_seeds(runs, 2)


def _curve(values, se=0.01, epochs=None):
    v = np.asarray(values, dtype=float)
    ep = np.arange(1, len(v) + 1) if epochs is None else np.asarray(epochs)
    return _network_results(epochs=ep, mi=v[:, None], mi_stderr=np.full((len(v), 1), se))


def test_information_phases_reads_the_zigzag():
    """Layer 5 of the paper's Fig. 5(a) in miniature: rise, fall, second rise, late fall, with
    wiggles below ln 1.5 nats inside each phase; the turning points are the extrema."""
    ep = [1, 3, 10, 20, 28, 50, 80, 120, 300, 600, 2000, 10000]
    v = [2.7, 3.5, 4.3, 4.9, 4.8, 4.0, 3.2, 3.3, 4.6, 5.0, 4.0, 2.5]  # 4.9 → 4.8 and 3.2 → 3.3: wiggles
    ph = ex.information_phases(_curve(v, epochs=ep), 1)
    assert [(p["kind"], p["from_epoch"], p["to_epoch"]) for p in ph] == [
        ("rise", 1, 20), ("fall", 20, 80), ("rise", 80, 600), ("fall", 600, 10000)]
    assert ph[0]["change"] == pytest.approx(2.2) and ph[3]["change"] == pytest.approx(-2.5)
    assert ph[1]["sigma"] == pytest.approx(1.7 / math.hypot(0.01, 0.01))


@pytest.mark.parametrize("values,se,expected", [
    ([5.0, 5.0, 5.0], 0.01, []),  # flat
    ([5.0, 5.3, 5.1, 5.35], 0.01, []),  # moves, but never by ln 1.5 nats
    ([5.0, 6.0, 7.0], 0.3, []),  # 2 nats, but only 4.7 standard errors
    ([7.0, 6.9, 5.0, 5.2], 0.01, [("fall", 1, 3)]),  # one fall; the tail's 0.2 is a wiggle
    ([5.0, 4.9, 6.0, 7.0], 0.01, [("rise", 2, 4)]),  # starts at the lowest epoch before the rise
])
def test_information_phases_thresholds(values, se, expected):
    ph = ex.information_phases(_curve(values, se), 1)
    assert [(p["kind"], p["from_epoch"], p["to_epoch"]) for p in ph] == expected


def test_describe_seeds_lists_each_seed_and_counts():
    """Two synthetic seeds of a two-layer network, worked by hand: in seed 0 both layers fall
    by 2 nats and layer 2 falls after its I(T;Y) has risen (fitting then compression); in
    seed 1 layer 1 wiggles by 0.1 nats and layer 2 only rises."""
    ep = np.arange(1, 6)
    mi_y = np.array([[0.6, 0.1], [0.6, 0.5], [0.6, 0.6], [0.6, 0.6], [0.6, 0.6]])  # (E, L)
    common = dict(epochs=ep, mi_stderr=np.full((5, 2), 0.01), mi_y=mi_y, mi_y_stderr=np.full((5, 2), 0.01),
                  loss_epochs=ep, test_loss=np.full(5, 0.5), test_acc=np.full(5, 0.9))
    runs = [_network_results(mi=np.array([[5, 1], [7, 2], [5, 3], [5, 3], [5, 1]], dtype=float), **common),
            _network_results(mi=np.array([[5, 1], [5.1, 2], [5, 3], [5, 4], [5, 5]], dtype=float), **common)]
    assert ex.describe_seeds(runs, layer=2).splitlines() == [
        "tanh, 2 seeds (* compresses)",
        "seed 0: test accuracy 0.900; test loss lowest 0.500 at epoch 3, 0.500 at the end",
        "  largest fall of I(X;T), nats: T1 2.00*, T2 2.00*",
        "  T2: rise 1→3 (+2.00), fall 3→5 (-2.00)",
        "  information plane, fitting then compression: T2",
        "seed 1: test accuracy 0.900; test loss lowest 0.500 at epoch 3, 0.500 at the end",
        "  largest fall of I(X;T), nats: T1 0.10, T2 0.00",
        "  T2: rise 1→5 (+4.00)",
        "  information plane, fitting then compression: none",
        "compresses in: T1 1 of 2, T2 1 of 2",
        "fitting then compression in: T1 0 of 2, T2 1 of 2"]
    with pytest.raises(ValueError, match="runs"):
        ex.describe_seeds([])
    with pytest.raises(ValueError, match="layer must be in 1..2, got 3"):
        ex.describe_seeds(runs, layer=3)


def test_phases_over_seeds_counts_patterns():
    runs = [_curve([1.0, 3.0, 1.0, 3.0, 1.0]), _curve([1.0, 3.0, 1.0, 3.0, 1.0]), _curve([1.0, 1.0, 1.0])]
    c = ex.phases_over_seeds(runs, 1)
    assert c["counts"] == {"rise, fall, rise, fall": 2, "no phase": 1}
    assert c["text"].splitlines()[0] == "T1, seed 0: rise 1→2 (+2.00), fall 2→3 (-2.00), rise 3→4 (+2.00), fall 4→5 (-2.00)"
    assert c["text"].splitlines()[2].endswith("no rise or fall beyond the thresholds")
    with pytest.raises(ValueError, match="runs"):
        ex.phases_over_seeds([], 1)
    with pytest.raises(ValueError, match="layer"):
        ex.information_phases(runs[0], 2)


def test_chapter_quotes_the_full_runs_first_job():
    """Chapter 4 quotes layer 5's phases in the full run's first finished job (tanh, seed 0),
    committed in book/results/szt/full/jobs/: read back, they are those numbers."""
    from pathlib import Path

    from infoflow_core.experiments._jobs import JobStore

    folder = Path(__file__).resolve().parents[1] / "book" / "results" / "szt" / "full" / "jobs"
    cfg = SZTConfig.for_scale("full")
    net = JobStore(folder, cfg).load("tanh/seed0", ex.NetworkResults, config=cfg.network("tanh", 0))
    assert net is not None, "the committed job tanh/seed0 no longer loads with the full preset"
    assert net.mi_stderr.max() <= 0.01 and net.mi_y_stderr.max() <= 0.01 and len(net.epochs) == 84
    ph = ex.information_phases(net, 5)
    assert [(p["kind"], p["from_epoch"], p["to_epoch"]) for p in ph] == [
        ("rise", 1, 20), ("fall", 20, 87), ("rise", 87, 614), ("fall", 614, 9999)]
    assert [round(p["change"], 2) for p in ph] == [2.09, -1.59, 1.84, -2.54]


def test_plots_draw_every_seed():
    """Other seeds add one faint I(X;T_l) line per layer and a test-loss line to Fig. 5's
    panel, and one trajectory per layer to the information plane; the plane's y range
    covers them."""
    from infoflow_core.plots import szt as szt_plots

    ep = np.array([1, 10, 100])
    mk = lambda y: _network_results(epochs=ep, mi=np.full((3, 1), 5.0), mi_stderr=np.full((3, 1), 0.01),  # noqa: E731
                                    h_bin=np.zeros((3, 1)), mi_y=np.full((3, 1), y), mi_y_stderr=np.full((3, 1), 0.01))
    runs = [mk(0.3), mk(0.5), mk(0.9)]
    one = szt_plots.plot_information(runs[0])
    three = szt_plots.plot_information(runs[0], other_seeds=runs[1:])
    assert len(three.data) == len(one.data) + 2 * (1 + 1) and "3 seeds" in three.layout.title.text
    plane = szt_plots.plot_information_plane({"tanh": runs[0]}, other_seeds={"tanh": runs[1:]})
    assert len(plane.data) == 1 + 2 and plane.layout.yaxis.range[1] >= 0.9 + 0.02


def test_analysis_helpers_on_synthetic_curves():
    mi = np.array([[8.0, 6.0], [8.0, 7.0], [8.0, 5.0]])
    r = _network_results(epochs=np.array([1, 10, 100]), mi=mi, mi_stderr=np.full_like(mi, 0.01), h_t=mi,
                         h_t_given_x=0 * mi, h_bin=mi + 0.5)
    np.testing.assert_allclose(ex.hbin_correlations(r)[1], 1.0)  # H(Bin) = I + 0.5 exactly
    c = ex.compression_summary(r, 2)
    assert c["peak_epoch"] == 10 and c["compresses"] and math.isclose(c["drop"], 2.0)
    assert (c["fall_from"], c["fall_to"]) == (10, 100) and math.isclose(c["fall_sigma"], 2.0 / math.hypot(0.01, 0.01))
    assert not ex.compression_summary(r, 1)["compresses"]
    # A fall then a new rise above the old peak: the peak-to-end drop is 0, the largest fall is not.
    r.mi = np.array([[0.0, 5.0], [0.0, 3.0], [0.0, 6.0]])
    c = ex.compression_summary(r, 2)
    assert c["drop"] == 0.0 and math.isclose(c["fall"], 2.0) and (c["fall_from"], c["fall_to"]) == (1, 10)
    with pytest.raises(ValueError, match="layer"):
        ex.compression_summary(r, 3)
    chk = ex.dpi_check(np.array([[1.0, 1.05], [1.0, 0.5]]), np.full((2, 2), 0.01))
    assert chk["violations"] == [(0, 1)] and not chk["holds"]
    tl = np.concatenate([np.linspace(1, 0.1, 100), np.linspace(0.1, 0.5, 100)])
    rise = ex.overfitting_onset(np.arange(1, 201), tl, window=5)
    assert abs(rise["min_epoch"] - 100) <= 2 and rise["rises"]
    with pytest.raises(ValueError, match="parts"):
        ex.report(None, parts=("everything",))


def test_plane_phases_on_synthetic_curves():
    """A fitting phase (I(T;Y) 0.3 -> 0.69, I(X;T) 2 -> 6) then compression (6 -> 4, I(T;Y) kept)."""
    mi = np.array([[2.0], [4.0], [6.0], [5.0], [4.0]])
    mi_y = np.array([[0.3], [0.6], [0.69], [0.69], [0.685]])
    r = _network_results(epochs=np.array([1, 10, 100, 1000, 5000]), mi=mi, mi_stderr=np.full_like(mi, 0.01),
                         mi_y=mi_y, mi_y_stderr=np.full_like(mi, 0.002))
    p = ex.plane_phases(r, 1)
    assert p["fit_epoch"] == 100 and p["fitting"] and p["x_rises_while_fitting"]
    assert (p["fall_from"], p["fall_to"]) == (100, 5000) and p["compression_after_fit"]
    assert p["x_fall"] == pytest.approx(2.0) and p["y_change_in_fall"] == pytest.approx(-0.005)
    r.mi = np.array([[2.0], [4.0], [6.0], [6.0], [6.1]])  # no fall after fitting
    assert not ex.plane_phases(r, 1)["compression_after_fit"]
    with pytest.raises(ValueError, match="layer"):
        ex.plane_phases(r, 2)


def test_distance_summary_fractions_and_medians():
    edges = np.array([[0.001, 0.01, 0.1, 1.0, 2.0]])  # one layer, 4 bins; half diameter = 1.0
    r = _network_results(hist_edges=edges, hist_within=np.array([[[6, 2, 2, 0]]]),  # (S=1, L=1, B=4)
                         hist_between=np.array([[[0, 0, 1, 3]]]), snapshot_epochs=np.array([1]))
    s = ex.distance_summary(r)  # 10β = 0.05: only the first bin (upper edge 0.01) counts as close
    np.testing.assert_allclose(s["within_close"], [[0.6]])
    np.testing.assert_allclose(s["between_far"], [[0.75]])
    np.testing.assert_allclose(s["within"], [[math.sqrt(0.001 * 0.01)]])  # median in the first (geometric) bin
    np.testing.assert_allclose(s["between"], [[math.sqrt(2.0)]])


# ---------------------------------------------------------------- the stored book run


@pytest.fixture(scope="module")
def book_run():
    # The book folder itself (szt_results("book") prefers a stored full run).
    return ex.SZTResults.load(BOOK_RESULTS / "szt" / "book", expected_config=SZTConfig.for_scale("book"))


def test_stored_book_run_loads_with_the_numbers_the_chapters_quote(book_run):
    """The numbers chapters 4 and 5 quote, from the stored book run (one seed, n_x = 10)."""
    assert book_run.provenance.path is not None  # loaded, not computed
    tanh, orth, lin, relu = (book_run.networks[n] for n in ("tanh", "orthonormal", "linear", "relu"))
    t5 = dict(zip(tanh.epochs.tolist(), tanh.mi[:, 4]))
    # Chapter 4: I(X;T5) of the tanh network 2.76 (epoch 1) -> 4.79 (17) -> 3.47 (73) -> 5.34 (540) -> 4.38 (3999).
    assert [round(t5[e], 2) for e in (1, 17, 73, 540, 3999)] == [2.76, 4.79, 3.47, 5.34, 4.38]
    assert [ex.compression_summary(tanh, k)["compresses"] for k in range(1, 6)] == [False, False, False, True, True]
    assert round(float(tanh.mi[-1, 3]), 2) == 7.80  # layer 4 does not fall late
    assert not ex.compression_summary(orth, 5)["compresses"] and not ex.compression_summary(relu, 5)["compresses"]
    assert [round(float(r.test_acc[-1]), 3) for r in (tanh, orth, lin, relu)] == [0.960, 0.969, 0.858, 0.923]
    assert ex.overfitting_onset(tanh.loss_epochs, tanh.test_loss)["rises"]
    # Chapter 5: bin 1e-4, layer 5 of the deterministic network at epoch 4000: 7.72 nats.
    assert round(float(book_run.deterministic.h_bin[-1, -1, 4]), 2) == 7.72
    # The realization study: final network I(X;T5) 4.83 at n_x = 1, 4.20 at n_x = 100; epochs checked.
    assert np.round(book_run.dpi.mi[[0, -1], 4], 2).tolist() == [4.83, 4.20]
    assert [d.epoch for d in book_run.realizations] == [4000, 1, 97]
    np.testing.assert_array_equal(np.round(ex.hbin_correlations(tanh)[3:], 2), [0.92, 0.94])
    # The information plane: fitting then compression in tanh T5 and linear T4-T5 only.
    phases = {(n, k): ex.plane_phases(r, k) for n, r in book_run.networks.items() for k in range(1, 6)}
    both = sorted(key for key, p in phases.items() if p["fitting"] and p["compression_after_fit"])
    assert both == [("linear", 4), ("linear", 5), ("tanh", 5)]
    assert phases[("tanh", 5)]["fit_epoch"] == 1274 and round(phases[("tanh", 5)]["x_fall"], 2) == 0.71
    # The linear network's exact h(T|X): the n_x = 10 plug-in is low, by up to 0.74 nats.
    gap = lin.h_t_given_x - ex.linear_conditional_entropy(lin)
    assert abs(gap[:, 0]).max() < 1e-9 and round(float(abs(gap).max()), 2) == 0.74 and (gap[:, 1:] < 0).all()
    # The ReLU network's one DPI excess (chapter 4): epoch 129, T1 -> T2, 3.2 s.e.
    assert ex.dpi_check(relu.mi, relu.mi_stderr)["violations"] == [(15, 1)]


def test_editing_a_preset_makes_the_stored_run_stale(monkeypatch):
    presets = {**SZTConfig.PRESETS, **{scale: {**SZTConfig.PRESETS[scale], "n_x": 11} for scale in ("book", "full")}}
    monkeypatch.setattr(SZTConfig, "PRESETS", presets)
    with pytest.raises(StaleResultsError, match="n_x"):
        ex.szt_results("book", results_dir=BOOK_RESULTS, progress=False)


# ---------------------------------------------------------------- any machine, any thread count

_THREAD_RUN = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[1]))
from infoflow_core.experiments import szt
cfg = szt.SZTConfig.for_scale("quick", networks=("relu",), histograms=(), deterministic=False, dpi=False,
                              n_epochs=40, n_points=5)
r = szt.run_szt(cfg, device="cpu", progress=False)
w = b"".join(v.tobytes() for _, v in sorted(r.networks["relu"].final_state.items()))
print(szt.report(r))
print("weights", hashlib.sha256(w).hexdigest())
"""


@pytest.mark.slow
def test_checked_text_is_the_same_on_one_and_two_threads():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    outs = []
    for threads in (1, 2):
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        done = subprocess.run([sys.executable, "-c", _THREAD_RUN, str(threads)], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outs.append(done.stdout)
    assert "relu: test accuracy above" in outs[0]
    assert outs[0] == outs[1]  # the report, and the trained weights bit for bit (training runs on one thread)


def test_linear_conditional_entropy_matches_sampling():
    """The exact Gaussian h(T_ℓ | X) of a linear noisy network against the Gaussian
    entropy of 400 000 sampled realizations of T_ℓ for one input (float64; the
    log-determinant of a sample covariance errs by about d·sqrt(2/n) ≈ 0.02 nats at
    d = 10, so 0.05), and layer 1's closed form (d/2) ln(2πeβ²) to 1e-12."""
    from infoflow_core.models.szt import SZTNet

    beta = 0.3
    net = SZTNet("linear", beta, dtype=torch.float64, init_generator=torch.Generator().manual_seed(0),
                 generator=torch.Generator().manual_seed(1))
    state = {k: v.numpy()[None] for k, v in net.state_dict().items()}  # one "epoch"
    cfg = SZTConfig.for_scale("quick").network("linear")
    r = _network_results(epochs=np.array([1]), mi=np.zeros((1, 5)))
    r.config, r.epoch_states = dataclasses.replace(cfg, beta=beta), state
    exact = ex.linear_conditional_entropy(r)[0]  # (5,)
    assert exact[0] == pytest.approx(5 * math.log(2 * math.pi * math.e * beta ** 2), abs=1e-12)
    x = torch.rand(1, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64).expand(400_000, 12)
    t = x
    with torch.no_grad():
        for k, block in enumerate(net.hidden):
            t = block(t)  # (n, d_ℓ), noise on
            cov = np.cov(t.numpy().T)
            assert 0.5 * np.linalg.slogdet(2 * math.pi * math.e * np.atleast_2d(cov))[1] == pytest.approx(exact[k], abs=0.05)
    with pytest.raises(ValueError, match="linear"):
        ex.linear_conditional_entropy(_network_results())


def test_binned_plane_phases_count_any_change():
    """The binned plane is exact: a rise of I(Bin(T);Y) by 0.01 is fitting, a fall of H(Bin(T))
    by 1 nat after it is compression (> ln 1.5), a fall of 0.3 is not."""
    h = np.array([[[2.0]], [[5.0]], [[4.0]]])  # (E, K, L)
    hy = np.array([[[0.60]], [[0.61]], [[0.61]]])
    b = ex.DeterministicResults(config=SZTConfig.for_scale("quick").network("deterministic"),
                                epochs=np.array([1, 10, 100]), bin_sizes=np.array([0.1]), h_bin=h, h_bin_y=hy,
                                loss_epochs=np.arange(1, 2), train_loss=np.zeros(1), test_loss=np.zeros(1),
                                train_acc=np.zeros(1), test_acc=np.zeros(1))
    p = ex.binned_plane_phases(b, 0, 1)
    assert p["fitting"] and p["fit_epoch"] == 10 and p["compression_after_fit"] and p["x_fall"] == pytest.approx(1.0)
    b.h_bin = np.array([[[2.0]], [[5.0]], [[4.7]]])
    assert not ex.binned_plane_phases(b, 0, 1)["compression_after_fit"]
    with pytest.raises(ValueError, match="bin_index"):
        ex.binned_plane_phases(b, 1, 1)


def test_fig1_slider_shows_every_seed_of_each_bin_size():
    """plot_binning with other seeds: each slider step makes the L curves of the first seed
    and the L of each other seed visible, at that bin size only; other bin sizes are refused."""
    from infoflow_core.plots import szt as szt_plots

    def det(h):
        return ex.DeterministicResults(config=SZTConfig.for_scale("quick").network("deterministic"),
                                       epochs=np.array([1, 10]), bin_sizes=np.array([0.1, 0.01]), h_bin=h,
                                       h_bin_y=0 * h, loss_epochs=np.arange(1, 2), train_loss=np.zeros(1),
                                       test_loss=np.zeros(1), train_acc=np.zeros(1), test_acc=np.zeros(1))
    runs = [det(np.full((2, 2, 3), v)) for v in (1.0, 2.0, 3.0)]  # (E, K, L)
    fig = szt_plots.plot_binning(runs[0], other_seeds=runs[1:])
    assert len(fig.data) == 2 * 3 * 3 and "3 seeds" in fig.layout.title.text
    step = fig.layout.sliders[0].steps[1]
    shown = [t for t, v in zip(fig.data, step.args[0]["visible"]) if v]
    assert len(shown) == 9 and sorted({float(t.y[0]) for t in shown}) == [1.0, 2.0, 3.0]
    assert all(t.visible is not True for t in fig.data[9:]) and all(t.visible for t in fig.data[:9])
    plane = szt_plots.plot_binned_information_plane(runs[0])  # one seed, the same slider over bin sizes
    assert len(plane.data) == 2 * 3 and sum(plane.layout.sliders[0].steps[1].args[0]["visible"]) == 3
    other = det(np.zeros((2, 2, 3)))
    other.bin_sizes = np.array([0.5, 0.05])
    with pytest.raises(ValueError, match="other_seeds"):
        szt_plots.plot_binning(runs[0], other_seeds=[other])


def test_choose_n_mc_reaches_the_target():
    """A layer with Monte Carlo variance gets about the samples for the target stderr:
    estimates with the chosen n_mc have an h(T) stderr within 30 % of the target (the
    pilot's own error is ~2 % at 8192 samples), and the cap and the floor hold."""
    g = torch.Generator().manual_seed(0)
    s = [torch.rand(3000, 4, 2, generator=g, dtype=torch.float64) * 0.05]  # overlapping: variance left
    (n,) = ex.choose_n_mc(s, 0.01, 32_768, 0.006, torch.Generator().manual_seed(1))  # pilot at 8192: ~0.009
    assert 8192 < n < 32_768
    est = ex.estimate_information(s, 0.01, n_mc=[n], n_mc_given_x=16, generator=torch.Generator().manual_seed(2))[0]
    assert 0.7 * 0.006 < est.h_t_stderr < 1.3 * 0.006, (n, est)
    assert ex.choose_n_mc(s, 0.01, 32_768, 1e-6, g) == [32_768]  # capped at n_mc
    assert ex.choose_n_mc(s, 0.01, 32_768, 10.0, g) == [8192]  # at least the pilot's size
