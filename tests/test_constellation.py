"""Tests for the AWGN-constellation view: I(S; S+Z) of clustered constellations."""

import math

import numpy as np
import pytest
import torch

from infoflow_core.__main__ import main as cli_main
from infoflow_core.entropy import gm_density
from infoflow_core.experiments import constellation as C
from infoflow_core.experiments.constellation import ConstellationConfig, ConstellationResults, run_constellation
from infoflow_core.plots import constellation as plots
from infoflow_core.scales import SCALES


def test_far_apart_points_carry_ln_n_exactly_in_1d():
    # Spacing 1 = 100 β: overlap below e^{-1250}; quadrature accuracy 1e-8.
    pts = C.clustered_constellation(16, 1)
    r = C.constellation_information(pts, 0.01)
    assert abs(r.mi - math.log(16)) < 1e-8
    assert abs(r.lower - math.log(16)) < 1e-8 and abs(r.upper - math.log(16)) < 1e-8


def test_far_apart_points_carry_ln_n_in_2d_monte_carlo():
    pts = C.clustered_constellation(4, 1, dim=2)  # 16 points on a 4x4 grid
    r = C.constellation_information(pts, 0.01, n_mc=16_000, generator=torch.Generator().manual_seed(0))
    # Monte Carlo: within 4 standard errors.
    assert abs(r.mi - math.log(16)) < 4 * r.stderr + 1e-9
    assert r.stderr < 0.05


def test_single_point_carries_nothing():
    r = C.constellation_information(np.zeros((1, 1)), 0.3)
    assert abs(r.mi) < 1e-8 and abs(r.lower) < 1e-12 and abs(r.upper) < 1e-12
    # Several copies of one point are one point.
    r = C.constellation_information(np.full((5, 1), 2.0), 0.3)
    assert abs(r.mi) < 1e-8


def test_merged_clusters_give_ln_k_between_width_and_spacing():
    # μ = 1: 4 distinct points at spacing 4; β = 0.3 is 13 β apart: ln 4 within 1e-6.
    pts = C.clustered_constellation(16, 4, merge=1.0)
    assert len(np.unique(pts)) == 4
    assert abs(C.constellation_information(pts, 0.3).mi - math.log(4)) < 1e-6


@pytest.mark.parametrize("beta", [0.01, 0.05, 0.2, 0.6, 2.0, 8.0])
def test_bounds_bracket_exact_value(beta):
    rng = np.random.default_rng(int(beta * 1000))
    pts = rng.normal(size=(12, 1))
    r = C.constellation_information(pts, beta)
    # KT bounds are rigorous; 1e-9 covers quadrature error.
    assert r.lower - 1e-9 <= r.mi <= r.upper + 1e-9


def test_merging_lowers_information():
    vals = [C.constellation_information(C.clustered_constellation(16, 4, merge=m), 0.1).mi
            for m in np.linspace(0, 1, 11)]
    # Exact values, so monotone up to quadrature error.
    assert np.all(np.diff(vals) <= 1e-9)
    # Spacing 10 β: the overlap costs ~1.6e-6 nats (real, not numerical); allow 1e-5.
    assert abs(vals[0] - math.log(16)) < 1e-5 and abs(vals[-1] - math.log(4)) < 1e-5


def test_gaussian_input_bounds_and_matches_at_low_snr():
    pts = C.clustered_constellation(16, 1)
    power = float(pts.var())
    assert abs(power - (16 ** 2 - 1) / 12) < 1e-12  # variance of 16-PAM, spacing 1
    for beta in (0.3, 1.0, 3.0, 10.0, 30.0):
        mi = C.constellation_information(pts, beta).mi
        cap = C.gaussian_channel_capacity(power, beta)
        assert mi <= cap + 1e-9  # a Gaussian input of the same power carries the most
        if beta >= 10:
            assert abs(mi - cap) < 0.01 * cap  # low SNR: every input gives ≈ SNR/2


def test_1d_exact_value_matches_dense_trapezoid():
    pts = np.array([[-1.0], [-0.8], [0.1], [0.15], [1.3]])
    beta = 0.2
    t = np.linspace(-4, 4.5, 400_001)
    p = np.exp(-0.5 * ((t[:, None] - pts[:, 0]) / beta) ** 2).mean(1) / (beta * math.sqrt(2 * math.pi))
    h = np.trapezoid(-p * np.log(p), t)
    ref = h - 0.5 * math.log(2 * math.pi * math.e * beta ** 2)
    assert abs(C.constellation_information(pts, beta).mi - ref) < 1e-7


def test_constellation_geometry():
    g = C.clustered_constellation(6, 3, spacing=2.0)[:, 0]
    np.testing.assert_allclose(g, [-5, -3, -1, 1, 3, 5])
    half = C.clustered_constellation(6, 3, spacing=2.0, merge=0.5)[:, 0]
    np.testing.assert_allclose(half, [-4.5, -3.5, -0.5, 0.5, 3.5, 4.5])
    two = C.clustered_constellation(3, 1, dim=2)
    assert two.shape == (9, 2) and abs(two.mean()) < 1e-15


@pytest.fixture(scope="module")
def small_run():
    cfg = ConstellationConfig.for_scale("quick", betas=(0.01, 0.1, 1.0), betas_2d=(0.01, 1.0), merges=(0.0, 0.5, 1.0),
                                        n_mc=2000)
    return run_constellation(cfg, device="cpu", progress=False)


def test_run_and_figures(small_run):
    sweep = small_run.sweep(1)
    assert sweep.mi.shape == (3, 3) and sweep.n_points == 16 and sweep.n_clusters == 4
    assert np.all(sweep.lower <= sweep.mi + 1e-9) and np.all(sweep.mi <= sweep.upper + 1e-9)
    two = small_run.sweep(2)
    assert two.mi.shape == (3, 2) and two.points.shape == (3, 36, 2) and (two.n_points, two.n_clusters) == (36, 9)
    # Monte Carlo within 4 s.e. of the bounds' band (plus rounding: separated points leave no Monte Carlo
    # variance under the control variate, stderr ~1e-16, and the estimate equals the bounds to ~1e-15)
    assert np.all(two.mi > two.lower - 4 * two.stderr - 1e-9) and np.all(two.mi < two.upper + 4 * two.stderr + 1e-9)
    for fig, per_step in ((plots.plot_constellation_density(small_run, beta=0.1), 2),
                          (plots.plot_information_vs_beta(small_run, active_merge=0.5), 4),
                          (plots.plot_information_vs_beta(small_run, dim=2), 4),
                          (plots.plot_constellation_2d(small_run), 2)):
        steps = fig.layout.sliders[0].steps
        assert len(steps) == 3 and len(fig.data) == 3 * per_step
        assert all(len(s.args[0]["visible"]) == len(fig.data) for s in steps)
    assert len(plots.plot_information_vs_merge(small_run).data) == 5
    assert len(plots.plot_bounds_gap(small_run, merges=(0.0, 1.0)).data) == 4


def test_density_figure_draws_the_mixture_density(small_run):
    # the figure's curve is entropy.gm_density of the points (one home for the density)
    fig = plots.plot_constellation_density(small_run, beta=0.1, n_grid=50)
    t, p = np.asarray(fig.data[0].x), np.asarray(fig.data[0].y)
    pts = small_run.sweep(1).points[0, :, 0]
    ref = np.exp(-0.5 * ((t[:, None] - pts[None, :]) / 0.1) ** 2).mean(1) / (0.1 * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(p, ref, rtol=1e-6, atol=1e-30)  # float32 in the figure
    np.testing.assert_allclose(gm_density(torch.from_numpy(pts), 0.1, torch.from_numpy(t)).numpy(), ref, rtol=1e-12)


def test_same_seed_same_run_save_load_and_command_line(tmp_path, small_run):
    again = run_constellation(small_run.config, device="cpu", progress=False)
    back = ConstellationResults.load(small_run.save(tmp_path / "saved"), expected_config=small_run.config)
    for name in ConstellationResults.ARRAYS:
        np.testing.assert_array_equal(getattr(again, name), getattr(small_run, name))
        np.testing.assert_array_equal(getattr(back, name), getattr(small_run, name))
    out = tmp_path / "cli"
    assert cli_main(["constellation", "--scale", "quick", "--out", str(out), "--device", "cpu", "--no-progress",
                     "--set", "betas=[0.1]", "--set", "betas_2d=[0.1]", "--set", "merges=[0.0, 1.0]",
                     "--set", "n_mc=100"]) == 0
    assert ConstellationResults.load(out).sweep(2).mi.shape == (2, 1)


def test_scales_keep_their_former_values():
    assert {s: ConstellationConfig.for_scale(s).n_mc for s in SCALES} == {"quick": 4000, "book": 20000, "full": 100000}
    c = ConstellationConfig.for_scale("book")
    assert (c.n_points, c.n_clusters, c.n_points_2d, c.n_clusters_2d, c.spacing, c.seed) == (16, 4, 6, 3, 1.0, 2019)
    assert c.betas == tuple(np.round(np.logspace(-2, 2, 41), 6).tolist())
    assert c.betas_2d == tuple(np.round(np.logspace(-2, 2, 17), 6).tolist())
    assert c.merges == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="n_clusters"):
        C.clustered_constellation(10, 3)
    with pytest.raises(ValueError, match="merge"):
        C.clustered_constellation(4, 2, merge=1.5)
    with pytest.raises(ValueError, match="dim"):
        C.clustered_constellation(4, 2, dim=3)
    with pytest.raises(ValueError, match="points"):
        C.constellation_information(np.zeros(3), 0.1)
    with pytest.raises(ValueError, match="beta"):
        C.constellation_information(np.zeros((3, 1)), 0.0)
    with pytest.raises(ValueError, match="n_clusters=3 must divide n_points=16"):
        ConstellationConfig.for_scale("quick", n_clusters=3)
    with pytest.raises(ValueError, match="merges"):
        ConstellationConfig.for_scale("quick", merges=(0.0, 1.5))
    with pytest.raises(ValueError, match="betas_2d"):
        ConstellationConfig.for_scale("quick", betas_2d=(0.1, -1.0))
    with pytest.raises(ValueError, match="config"):
        run_constellation({"n_mc": 10})
    with pytest.raises(ValueError, match="dim"):
        ConstellationResults.sweep(None, 3)
