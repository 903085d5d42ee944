"""Tests for the single noisy neuron and the leaky-ReLU chain (Section 4, Fig. 4)."""

import math

import numpy as np
import pytest
import torch

from infoflow_core.__main__ import main as cli_main
from infoflow_core.experiments import neuron
from infoflow_core.experiments.neuron import NeuronConfig, NeuronResults, run_neuron
from infoflow_core.mutual_information import sp_mutual_information
from infoflow_core.scales import SCALES

X = torch.tensor(neuron.NEURON_INPUTS, dtype=torch.float64)
Y = torch.tensor(neuron.NEURON_LABELS, dtype=torch.float64)


def _torch_tanh_loss_grad(w, b):
    """Independent oracle: autograd in float64."""
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    loss = ((torch.tanh(wt * X + bt) - Y) ** 2).mean()
    loss.backward()
    return loss.item(), wt.grad.item(), bt.grad.item()


@pytest.mark.parametrize("w,b", [(0.0, 0.0), (0.3, -0.2), (1.7, -3.4), (-0.8, 2.5)])
def test_tanh_gradient_matches_autograd(w, b):
    # Same float64 arithmetic up to rounding: 1e-13 relative.
    ours = neuron.tanh_neuron_loss_and_gradient(w, b)
    ref = _torch_tanh_loss_grad(w, b)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("w0,b0", [(0.0, 0.0), (0.3, -0.2), (1.7, -3.4)])
def test_inlined_training_step_is_the_documented_gradient(w0, b0):
    # train_tanh_neuron inlines the loss and gradient of tanh_neuron_loss_and_gradient
    # (speed): one recorded step must agree with it to rounding (1e-15).
    lr = 0.05
    loss, gw, gb = neuron.tanh_neuron_loss_and_gradient(w0, b0)
    tr = neuron.train_tanh_neuron(1, lr=lr, w0=w0, b0=b0, record_epochs=[0, 1])
    assert tr.loss[0] == pytest.approx(loss, rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(tr.params[1], [w0 - lr * gw, b0 - lr * gb], rtol=0, atol=1e-15)


def test_training_steps_are_gradient_descent():
    # Two epochs by hand with autograd gradients must match the trainer to 1e-14.
    lr = 0.01
    w = b = 0.0
    for _ in range(2):
        _, gw, gb = _torch_tanh_loss_grad(w, b)
        w, b = w - lr * gw, b - lr * gb
    tr = neuron.train_tanh_neuron(2, lr=lr, record_epochs=[0, 1, 2])
    np.testing.assert_allclose(tr.params[0], [0.0, 0.0])
    np.testing.assert_allclose(tr.params[2], [w, b], rtol=0, atol=1e-14)
    # First step from w = b = 0 by hand: dL/dw = (2/4) Σ (0 − y_i) x_i = (1/2)(−6) = −3,
    # dL/db = (2/4) Σ (0 − y_i) = (1/2)(2) = 1, so (w, b) = (0.03, −0.01).
    np.testing.assert_allclose(tr.params[1], [0.03, -0.01], atol=1e-15)


def test_learned_ratio_tends_to_minus_two():
    # Full-batch GD drives b/w to −2 from above (the chapter derives it): at 10^6
    # epochs we measured −1.962. The paper reports ≈ −2.3, which plain GD on the four
    # equiprobable points does not reach. Tolerance: the ratio lies in (−2, −1.95)
    # and is still decreasing.
    tr = neuron.train_tanh_neuron(1_000_000, record_epochs=[10_000, 100_000, 1_000_000])
    ratio = tr.b / tr.w
    assert np.all(np.diff(ratio) < 0)
    assert -2.0 < ratio[-1] < -1.95
    assert tr.loss[-1] < 1e-4


def test_information_closed_forms():
    beta = 0.01
    # Far apart: ln 4; all equal: 0; two merged: H(1/2, 1/4, 1/4) = 1.5 ln 2 (1e-8: quadrature).
    assert abs(neuron.mixture_information([-0.9, -0.3, 0.3, 0.9], beta) - math.log(4)) < 1e-8
    assert abs(neuron.mixture_information([0.2, 0.2, 0.2, 0.2], beta)) < 1e-8
    assert abs(neuron.mixture_information([-1.0, -1.0, 0.0, 1.0], beta) - 1.5 * math.log(2)) < 1e-8


def _trapezoid_mi(rows, beta):
    """Independent oracle for I(X; S + Z), S | X = x_i uniform on rows[i]: dense grid."""
    rows = np.asarray(rows, dtype=np.float64)
    t = np.linspace(rows.min() - 12 * beta, rows.max() + 12 * beta, 200_001)

    def h(c):
        p = np.exp(-0.5 * ((t[:, None] - c[None, :]) / beta) ** 2).mean(1) / (beta * math.sqrt(2 * math.pi))
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(p > 0, -p * np.log(p), 0.0)
        return np.trapezoid(f, t)

    return h(rows.ravel()) - np.mean([h(r) for r in rows])


def test_information_with_spread_conditionals_matches_dense_quadrature():
    rng = np.random.default_rng(0)
    rows = np.sort(rng.normal(size=(4, 8)) * 0.2 + np.array([[-1.0], [-0.4], [0.1], [1.0]]), axis=1)
    # Trapezoid on 2e5 points over a range of ~3: error far below 1e-5 nats.
    assert abs(neuron.mixture_information(rows, 0.1) - _trapezoid_mi(rows, 0.1)) < 1e-5


def test_sp_estimate_agrees_with_exact_at_a_trained_epoch():
    tr = neuron.train_tanh_neuron(2_000, record_epochs=[600])
    s = np.tanh(tr.w[0] * X.numpy() + tr.b[0])  # (4,)
    exact = neuron.mixture_information(s, 0.01)
    g = torch.Generator().manual_seed(0)
    est = sp_mutual_information(torch.tensor(s).reshape(4, 1, 1), 0.01, n_mc=20_000, generator=g)
    # Monte Carlo: within 4 standard errors (fails with probability < 1e-4).
    assert abs(est.value - exact) < 4 * est.stderr + 1e-9


def test_falling_epochs_finds_steps_of_a_synthetic_curve():
    k = np.asarray(NeuronConfig.for_scale("book").record_epochs()[1:])  # 40 per decade up to 10^6
    lk = np.log10(k)
    info = 1.4 - 0.35 / (1 + np.exp(-(lk - 3) * 6)) - 0.45 / (1 + np.exp(-(lk - 5) * 6))
    found = neuron.falling_epochs(k, info)
    assert len(found) == 2
    np.testing.assert_allclose(np.log10(found), [3.0, 5.0], atol=0.05)


def _old_log_epochs(n_epochs: int, per_decade: int) -> list[int]:
    """The neuron's former grid, 0 and round(10^(j / per_decade)) up to n_epochs (the reference)."""
    n = int(math.floor(per_decade * math.log10(n_epochs) + 1e-9))
    ks = np.round(10.0 ** (np.arange(n + 1) / per_decade)).astype(np.int64)
    ks = np.unique(np.concatenate([[0], ks, [n_epochs]]))
    return ks[ks <= n_epochs].tolist()


@pytest.mark.parametrize("scale", SCALES)
def test_record_epochs_are_the_former_grid_at_every_scale(scale):
    # _common.log_epochs(n, floor(per_decade·log10 n) + 1, include_zero=True) replaces the
    # neuron's own grid: identical epochs for every configuration the chapter uses.
    c = NeuronConfig.for_scale(scale)
    assert list(c.record_epochs()) == _old_log_epochs(c.n_epochs, c.per_decade)
    assert list(c.chain_record_epochs()) == _old_log_epochs(c.chain_epochs, c.chain_per_decade)


@pytest.mark.parametrize("n_epochs", [10**3, 10**4, 10**5])
def test_default_record_epochs_are_the_former_grid(n_epochs):
    # train_tanh_neuron's default (20 per decade), also what the chapter's live cell uses
    tr = neuron.train_tanh_neuron(n_epochs)
    assert tr.epochs.tolist() == _old_log_epochs(n_epochs, 20)
    assert NeuronConfig.for_scale("book", n_epochs=n_epochs, per_decade=20).record_epochs() == tuple(tr.epochs)


def test_scales_keep_their_former_values():
    expect = {
        "quick": dict(per_decade=20, sp_betas=(0.01,), sp_every=3, n_mc=1000, chain_per_decade=8, chain_quantiles=32,
                      chain_sp_n_x=50, chain_sp_every=3),
        "book": dict(per_decade=40, sp_betas=(0.01, 0.1, 0.5), sp_every=2, n_mc=4000, chain_per_decade=20,
                     chain_quantiles=64, chain_sp_n_x=200, chain_sp_every=2),
        "full": dict(per_decade=40, sp_betas=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0), sp_every=1, n_mc=20000,
                     chain_per_decade=20, chain_quantiles=64, chain_sp_n_x=1000, chain_sp_every=1),
    }
    for scale, values in expect.items():
        c = NeuronConfig.for_scale(scale)
        assert {k: getattr(c, k) for k in values} == values
        assert (c.n_epochs, c.lr, c.density_points, c.chain_epochs, c.chain_betas, c.chain_slope, c.seed) == (
            1_000_000, 0.01, 401, 100_000, (0.01, 0.05, 0.1, 0.3), 0.1, 2019)


def test_leaky_relu_one_definition_for_floats_and_arrays():
    assert neuron.leaky_relu(2.0) == 2.0 and neuron.leaky_relu(-2.0, 0.2) == pytest.approx(-0.4)
    u = np.array([-3.0, 0.0, 0.5])
    np.testing.assert_array_equal(neuron.leaky_relu(u), torch.nn.LeakyReLU(0.1)(torch.tensor(u)).numpy())


def _torch_chain_loss_grad(p, slope=0.1):
    q = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    act = torch.nn.LeakyReLU(slope)
    out = act(q[2] * act(q[0] * X + q[1]) + q[3])
    loss = ((out - Y) ** 2).mean()
    loss.backward()
    return loss.item(), q.grad.tolist()


@pytest.mark.parametrize("p", [(0.0, 4.5, -1.0, 0.0), (-0.7, 1.2, 0.9, -0.3), (-1.4, 4.4, -1.6, 0.95)])
def test_leaky_chain_gradient_matches_autograd(p):
    loss, grad = neuron.leaky_chain_loss_and_gradient(p)
    ref_loss, ref_grad = _torch_chain_loss_grad(p)
    assert abs(loss - ref_loss) < 1e-13
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-14)


@pytest.fixture(scope="module")
def small_run():
    cfg = NeuronConfig.for_scale("quick", n_epochs=3000, per_decade=10, sp_every=4, n_mc=2000, betas=(0.01, 0.1),
                                 sp_betas=(0.01,), chain_epochs=3000, chain_betas=(0.01, 0.3), chain_sp_every=10,
                                 seed=1)
    return run_neuron(cfg, device="cpu", progress=False)


def test_run_is_consistent(small_run):
    res = small_run
    # the neuron: exact information within [0, ln 4]; SP within 4 s.e. of it
    assert res.mi.shape == (2, len(res.epochs)) and res.density.shape == (2, len(res.epochs), 401)
    assert np.all(res.mi > -1e-8) and np.all(res.mi < math.log(4) + 1e-8)
    exact = res.mi[res.beta_index(0.01)][res.sp_index]
    assert np.all(np.abs(res.sp_mi[0] - exact) < 4 * res.sp_stderr[0] + 1e-9)  # + rounding: stderr can be ~0
    # densities at β = 0.01 integrate to 1 on the grid [-1.25, 1.25] (trapezoid, 1e-3)
    assert np.allclose(np.trapezoid(res.density[0], res.grid, axis=-1), 1.0, atol=1e-3)
    # the chain: information bounds 0 ≤ I ≤ ln 4 (quadrature, 1e-8)
    assert np.all(res.chain_mi_t1 > -1e-8) and np.all(res.chain_mi_t1 < math.log(4) + 1e-8)
    assert np.all(res.chain_mi_t2 > -1e-8) and np.all(res.chain_mi_t2 < math.log(4) + 1e-8)
    # SP agrees with the quantile quadrature within 4 s.e. plus the quantile error
    # (32 quantiles differ from 512 by < 1e-3 nats on this run; we allow 5e-3).
    ref = res.chain_mi_t2[:, res.chain_sp_index]
    assert np.all(np.abs(res.chain_sp_mi_t2 - ref) < 4 * res.chain_sp_stderr_t2 + 5e-3)
    s1, s2 = res.chain_representations(len(res.chain_epochs) - 1)
    assert s1.shape == s2.shape == (4,)


def test_same_seed_same_run(small_run):
    again = run_neuron(small_run.config, device="cpu", progress=False)
    for name in NeuronResults.ARRAYS:
        np.testing.assert_array_equal(getattr(again, name), getattr(small_run, name))


def test_save_load_and_command_line(tmp_path, small_run):
    back = NeuronResults.load(small_run.save(tmp_path / "saved"), expected_config=small_run.config)
    for name in NeuronResults.ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(small_run, name))
    out = tmp_path / "cli"
    assert cli_main(["neuron", "--scale", "quick", "--out", str(out), "--device", "cpu", "--no-progress",
                     "--set", "n_epochs=100", "--set", "chain_epochs=100", "--set", "betas=[0.01]",
                     "--set", "sp_betas=[0.01]", "--set", "chain_betas=[0.1]", "--set", "n_mc=50"]) == 0
    r = NeuronResults.load(out)
    assert r.config.n_epochs == 100 and r.mi.shape == (1, len(r.epochs)) and r.epochs[-1] == 100


def test_bad_input_raises():
    with pytest.raises(ValueError, match="n_epochs"):
        neuron.train_tanh_neuron(0)
    with pytest.raises(ValueError, match="lr"):
        neuron.train_tanh_neuron(10, lr=-0.1)
    with pytest.raises(ValueError, match="record_epochs"):
        neuron.train_tanh_neuron(10, record_epochs=[0, 20])
    with pytest.raises(ValueError, match="init"):
        neuron.train_leaky_chain(10, init=(0.0, 1.0))
    with pytest.raises(ValueError, match="centers"):
        neuron.mixture_information(np.zeros((2, 2, 2)), 0.1)
    with pytest.raises(ValueError, match="scale"):
        NeuronConfig.for_scale("huge")
    with pytest.raises(ValueError, match="sp_betas"):
        NeuronConfig.for_scale("quick", sp_betas=(0.3,))
    with pytest.raises(ValueError, match="lr"):
        NeuronConfig.for_scale("quick", lr=0.0)
    with pytest.raises(ValueError, match="chain_slope"):
        NeuronConfig.for_scale("quick", chain_slope=0.0)
    with pytest.raises(ValueError, match="config"):
        run_neuron({"n_epochs": 10})
