"""The "Your own network" experiment (``infoflow_core.experiments.your_network``,
chapter 07): configuration, a tiny run's information against its bounds, storage and
the command line."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infoflow_core.__main__ import main as cli_main
from infoflow_core.experiments import get_experiment
from infoflow_core.experiments.your_network import (
    EXPERIMENT,
    YourNetworkConfig,
    YourNetworkResults,
    make_mlp,
    run_your_network,
    two_moons,
)
from infoflow_core.noise import GaussianNoise, add_noise
from infoflow_core.scales import SCALES

K = 4.0  # standard errors of slack in the inequalities


@pytest.fixture(scope="module")
def tiny_run():
    # 40 points, 2 noise levels, 3 measured epochs: about a second on one core.
    config = YourNetworkConfig.for_scale("quick", n_inputs=40, widths=(2, 6, 3, 2), betas=(0.05, 0.3), epochs=60,
                                         n_records=3, n_x=4, n_mc=300, seed=2)
    return run_your_network(config, device="cpu", progress=False)


@pytest.mark.parametrize("scale", SCALES)
def test_presets_are_valid_and_grow(scale):
    c = YourNetworkConfig.for_scale(scale)
    assert c.scale == scale and c.is_preset()
    e = c.record_epochs()
    assert e[0] == 0 and e[-1] == c.epochs and np.all(np.diff(e) > 0)
    quick, book, full = (YourNetworkConfig.for_scale(s) for s in ("quick", "book", "full"))
    assert quick.n_inputs < book.n_inputs < full.n_inputs and quick.epochs < book.epochs < full.epochs


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scale="huge"), "scale"),
        (dict(n_inputs=2), "n_inputs"),
        (dict(widths=(2, 2)), "widths"),
        (dict(widths=(3, 4, 2)), "widths"),
        (dict(widths=(2, 0, 2)), "widths"),
        (dict(activation="sigmoid"), "activation"),
        (dict(betas=()), "betas"),
        (dict(betas=(0.1, 0.0)), "betas"),
        (dict(epochs=0), "epochs"),
        (dict(lr=0.0), "lr"),
        (dict(n_records=1), "n_records"),
        (dict(n_x=0), "n_x"),
        (dict(n_mc=1), "n_mc"),
        (dict(bin_size=0.0), "bin_size"),
        (dict(data_noise=-1.0), "data_noise"),
        (dict(nonsense=1), "nonsense"),
    ],
)
def test_bad_configs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        YourNetworkConfig.for_scale(kwargs.pop("scale", "quick"), **kwargs)


def test_two_moons_is_reproducible_and_balanced():
    a = two_moons(51, generator=torch.Generator().manual_seed(1))
    b = two_moons(51, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    x, y = two_moons(50, noise=0.0, generator=torch.Generator().manual_seed(1))
    assert x.shape == (50, 2) and int(y.sum()) == 25
    # without jitter the points lie on their half circles
    r0 = torch.linalg.norm(x[y == 0], dim=1)
    r1 = torch.linalg.norm(x[y == 1] - torch.tensor([1.0, 0.5]), dim=1)
    assert torch.allclose(r0, torch.ones_like(r0), atol=1e-6) and torch.allclose(r1, torch.ones_like(r1), atol=1e-6)
    assert (x[y == 0, 1] >= -1e-6).all() and (x[y == 1, 1] <= 0.5 + 1e-6).all()


def test_make_mlp_gets_one_noise_module_per_hidden_layer():
    net = make_mlp((2, 5, 4, 3, 2), "relu", seed=3)
    noisy = add_noise(net, 0.1)
    assert sum(isinstance(m, GaussianNoise) for m in noisy.modules()) == 3
    same = make_mlp((2, 5, 4, 3, 2), "relu", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))


def test_shapes(tiny_run):
    r = tiny_run
    assert r.epochs.tolist() == list(r.config.record_epochs()) and r.betas.tolist() == [0.05, 0.3]
    for name in ("i_xt", "i_xt_err", "i_ty", "i_ty_err", "h_bin"):
        assert getattr(r, name).shape == (2, len(r.epochs), 2), name
    assert r.accuracy.shape == r.loss.shape == (2, len(r.epochs)) and r.plain_accuracy.shape == (len(r.epochs),)
    assert r.x.shape == (40, 2) and r.labels.shape == (40,)
    assert r.layer_widths == (6, 3) and r.h_x == pytest.approx(math.log(40)) and r.h_y == pytest.approx(math.log(2))


def test_information_within_its_bounds(tiny_run):
    r = tiny_run
    assert np.all(r.i_xt_err > 0) and np.all(r.i_ty_err > 0)
    # 0 ≤ I(T;Y) ≤ min(I(X;T), ln 2) and 0 ≤ I(X;T) ≤ ln n, up to K standard errors
    assert np.all(r.i_ty >= -K * r.i_ty_err)
    assert np.all(r.i_ty <= math.log(2) + K * r.i_ty_err)
    assert np.all(r.i_ty <= r.i_xt + K * np.hypot(r.i_ty_err, r.i_xt_err))
    assert np.all(r.i_xt >= -K * r.i_xt_err) and np.all(r.i_xt <= r.h_x + K * r.i_xt_err)
    assert r.dpi_holds(K).all() and r.summary()["dpi_holds_within_3_stderr"] in (True, False)
    # H(Bin(T)) of n points lies in [0, ln n]
    assert np.all(r.h_bin >= -1e-9) and np.all(r.h_bin <= math.log(40) + 1e-9)
    # at epoch 0 (same weights) the first layer holds less about X with more noise
    assert r.i_xt[0, 0, 0] > r.i_xt[1, 0, 0] + K * np.hypot(r.i_xt_err[0, 0, 0], r.i_xt_err[1, 0, 0])


def test_same_seed_same_run(tiny_run):
    again = run_your_network(tiny_run.config, device="cpu", progress=False)
    for name in YourNetworkResults.ARRAYS:
        np.testing.assert_array_equal(getattr(again, name), getattr(tiny_run, name), err_msg=name)


def test_save_load_round_trip(tiny_run, tmp_path):
    tiny_run.save(tmp_path / "run")
    back = YourNetworkResults.load(tmp_path / "run", expected_config=tiny_run.config)
    assert back.config == tiny_run.config
    for name in YourNetworkResults.ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(tiny_run, name), err_msg=name)
    assert back.summary() == tiny_run.summary()


def test_cli(tmp_path):
    assert get_experiment("your_network") is EXPERIMENT
    assert EXPERIMENT.run is run_your_network and EXPERIMENT.config_type is YourNetworkConfig
    out = tmp_path / "cli"
    assert cli_main(["your_network", "--scale", "quick", "--out", str(out), "--device", "cpu", "--no-progress",
                     "--set", "n_inputs=16", "--set", "widths=[2, 3, 2]", "--set", "betas=[0.2]",
                     "--set", "epochs=4", "--set", "n_records=2", "--set", "n_x=2", "--set", "n_mc=20"]) == 0
    r = YourNetworkResults.load(out)
    assert r.config.epochs == 4 and r.i_xt.shape == (1, 2, 1) and r.epochs.tolist() == [0, 4]


def test_plots_build(tiny_run):
    from infoflow_core.plots.your_network import plot_data, plot_information_plane, plot_information_vs_epoch

    fig = plot_information_vs_epoch(tiny_run, unit="bits")
    assert len(fig.layout.sliders[0].steps) == 2 and len(fig.data) == 2 * 3 * 2
    plane = plot_information_plane(tiny_run, active=0)
    assert len(plane.data) == 2 * 2 + 1 and plane.layout.sliders[0].active == 0
    assert all(len(s.args[0]["visible"]) == len(plane.data) for s in plane.layout.sliders[0].steps)
    assert len(plot_data(tiny_run).data) == 2
    with pytest.raises(ValueError, match="unit"):
        plot_information_plane(tiny_run, unit="hartleys")
