"""The SZT chapters' code: data, network, orthonormality step, experiments, stored results."""

import json
import math

import numpy as np
import pytest
import torch

from conftest import make_generator
from infoflow_core.data.szt import load_szt, split_szt, szt_data
from infoflow_core.experiments import szt as ex
from infoflow_core.models.szt import SZTNet, orthonormalize_
from infoflow_core.noise import GaussianNoise, sample_representations
from infoflow_core.results import load_run

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


# ---------------------------------------------------------------- experiments


def test_measurement_epochs_are_the_papers():
    e = ex.measurement_epochs(10_000, 100)
    assert len(e) == 84 and e[0] == 1 and e[-1] == 9999  # unique(round(logspace(0, log10(9999), 100)))
    assert list(e) == sorted(set(e))


TINY = dict(n_epochs=3, epochs=(1, 3), n_x=2, n_mc=256, n_mc_cond=4, hist_bins=10, snapshot_epochs=(3,))


@pytest.fixture(scope="module")
def tiny_run():
    torch.set_num_threads(1)
    data = szt_data(0)
    res = ex.run_noisy(ex.SZTConfig(name="tanh", activation="tanh", beta=0.005, histograms=True, **TINY),
                       data=data, device="cpu", progress=False)
    det = ex.run_deterministic(ex.SZTConfig(name="deterministic", beta=0.0, bin_sizes=(0.1, 1e-4), **TINY),
                               data=data, device="cpu", progress=False)
    dpi = ex.run_dpi_realizations(res, (1, 2), n_mc=256, n_mc_cond=4, device="cpu", progress=False)
    return ex.SZTRun(scale="quick", results={"tanh": res}, binning=det, dpi=dpi, device="cpu", wall_time_s=1.0)


def test_tiny_experiment_information_is_bounded(tiny_run):
    r = tiny_run.results["tanh"]
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


def test_deterministic_binning_tends_to_ln_4096(tiny_run):
    b = tiny_run.binning
    assert b.h_bin.shape == (2, 2, 5)
    # Tiny bins separate all 4096 distinct representations of layer 1: H = ln 4096 (to 1e-9).
    np.testing.assert_allclose(b.h_bin[:, 1, 0], LN_4096, rtol=1e-9)
    assert (b.h_bin[:, 0] <= b.h_bin[:, 1] + 1e-12).all()  # coarser bins, less entropy


def test_estimate_information_far_apart_inputs():
    # Four inputs far apart (>> β): I = ln 4 for any realizations (closed form).
    base = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).reshape(4, 1, 1)
    s = base + 1e-3 * torch.randn(4, 5, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    est = ex.estimate_information([base, s], 0.01, n_mc=4000, n_mc_cond=64, generator=torch.Generator().manual_seed(1))
    for e in est:
        assert abs(e["value"] - math.log(4)) < 4 * e["stderr"] + 1e-3


def test_analysis_helpers_on_synthetic_curves():
    mi = np.array([[8.0, 6.0], [8.0, 7.0], [8.0, 5.0]])
    se = np.full_like(mi, 0.01)
    r = ex.SZTResult(config={"name": "x"}, epochs=np.array([1, 10, 100]), mi=mi, mi_stderr=se, h_t=mi, h_t_given_x=0 * mi,
                     h_bin=mi + 0.5, loss_epochs=np.arange(1, 4), train_loss=np.zeros(3), test_loss=np.zeros(3),
                     train_acc=np.zeros(3), test_acc=np.zeros(3), hist_edges=np.zeros((2, 2)),
                     hist_within=np.zeros((0, 2, 1)), hist_between=np.zeros((0, 2, 1)), snapshot_epochs=np.array([]),
                     snapshots=np.zeros((0, 1, 3)), labels=np.zeros(1))
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


def test_run_noisy_rejects_beta_zero():
    with pytest.raises(ValueError, match="beta"):
        ex.run_noisy(ex.SZTConfig(beta=0.0, **TINY), progress=False)
    with pytest.raises(ValueError, match="scale"):
        ex.experiment_config("tanh", "huge")


def test_summary_json_schema_and_round_trip(tiny_run, tmp_path):
    out = ex.save_szt_run(tiny_run, tmp_path / "szt")
    summary = json.loads((out / "summary.json").read_text())
    for key in ("config", "version", "device", "date", "wall_time_s", "experiments", "deterministic", "dpi_realizations"):
        assert key in summary
    exp = summary["experiments"]["tanh"]
    assert exp["epochs"] == [1, 3]
    for layer in ("T1", "T2", "T3", "T4", "T5"):
        assert set(exp["layers"][layer]) == {"I", "stderr", "h_T", "h_T_given_X", "H_bin"}
        assert len(exp["layers"][layer]["I"]) == 2
    assert set(exp["losses"]) >= {"train_loss", "test_loss", "final_test_acc"}
    assert {"compression", "overfitting_onset", "hbin_correlation", "dpi"} <= set(exp)
    back = ex.szt_run_from_stored(load_run(out))
    r0, r1 = tiny_run.results["tanh"], back.results["tanh"]
    np.testing.assert_array_equal(r0.mi, r1.mi)
    np.testing.assert_array_equal(r0.hist_within, r1.hist_within)
    np.testing.assert_allclose(r0.snapshots, r1.snapshots, atol=1e-3)  # stored as float16
    np.testing.assert_array_equal(back.binning.h_bin, tiny_run.binning.h_bin)
    np.testing.assert_array_equal(back.dpi.mi, tiny_run.dpi.mi)
    assert back.results["tanh"].config["beta"] == 0.005


def test_scale_configs_follow_the_paper_at_full_scale():
    full = ex.experiment_config("tanh", "full")
    assert (full.n_epochs, len(full.epochs), full.n_x, full.beta, full.lr, full.batch_size) == (10_000, 84, 1000, 0.005, 4e-4, 256)
    assert ex.experiment_config("linear", "full").beta == 0.01
    assert ex.experiment_config("orthonormal", "book").alpha > 0 and ex.experiment_config("tanh", "book").alpha == 0
    quick = ex.experiment_config("tanh", "quick")
    assert set(quick.snapshot_epochs) <= set(quick.epochs) and quick.epochs[-1] == quick.n_epochs - 1


def test_cli_rejects_unknown_experiment(capsys):
    with pytest.raises(SystemExit):
        ex.main(["--scale", "quick", "--out", "/nonexistent", "--experiments", "sigmoid"])
    assert "unknown experiments" in capsys.readouterr().err


def test_distance_summary_fractions_and_medians():
    edges = np.array([[0.001, 0.01, 0.1, 1.0, 2.0]])  # one layer, 4 bins; half diameter = 1.0
    within = np.array([[[6, 2, 2, 0]]])  # (S=1, L=1, B=4)
    between = np.array([[[0, 0, 1, 3]]])
    r = ex.SZTResult(config={"name": "x", "beta": 0.005}, epochs=np.array([1]), mi=np.zeros((1, 1)),
                     mi_stderr=np.zeros((1, 1)), h_t=np.zeros((1, 1)), h_t_given_x=np.zeros((1, 1)),
                     h_bin=np.zeros((1, 1)), loss_epochs=np.arange(1, 2), train_loss=np.zeros(1), test_loss=np.zeros(1),
                     train_acc=np.zeros(1), test_acc=np.zeros(1), hist_edges=edges, hist_within=within,
                     hist_between=between, snapshot_epochs=np.array([1]), snapshots=np.zeros((1, 1, 3)), labels=np.zeros(1))
    s = ex.distance_summary(r)  # 10β = 0.05: only the first bin (upper edge 0.01) counts as close
    np.testing.assert_allclose(s["within_close"], [[0.6]])
    np.testing.assert_allclose(s["between_far"], [[0.75]])
    np.testing.assert_allclose(s["within"], [[math.sqrt(0.001 * 0.01)]])  # median in the first (geometric) bin
    np.testing.assert_allclose(s["between"], [[math.sqrt(2.0)]])
