"""Joint integration of I(X; T) and I(T; Y) (sp_information, infoflow_core._joint) and the
SZT driver that sizes it (estimate_information_jointly).

References, float64: closed forms (separated inputs: ln n and H(Y) exactly; coinciding
inputs: 0), Gauss–Legendre quadrature of every entropy of equation (1) (gm_entropy_1d,
exact to 1e-10 nats), and the separate estimator (sp_mutual_information,
sp_label_information) on the same mixtures. Tolerances are multiples of the reported
errors; coverage is counted over seeds.
"""

import math

import numpy as np
import pytest
import torch

from infoflow_core import gm_entropy_1d, sp_information, sp_label_information, sp_mutual_information
from infoflow_core.experiments.szt import estimate_information_jointly

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _quadrature_information(samples: torch.Tensor, labels: torch.Tensor, beta: float) -> tuple[float, float]:
    """I(X;T) and I(T;Y) of a 1-D SP mixture (n_inputs, n_x, 1) by quadrature of each entropy."""
    c = samples[..., 0]
    h_t = gm_entropy_1d(c.reshape(-1), beta)
    h_x = float(np.mean([gm_entropy_1d(row, beta) for row in c]))
    h_y = sum(float((labels == k).double().mean()) * gm_entropy_1d(c[labels == k].reshape(-1), beta)
              for k in labels.unique())
    return h_t - h_x, h_t - h_y


def _overlapping_1d(seed: int = 0):
    """8 inputs × 6 realizations in 1-D, classes interleaved, overlapping at β = 0.05."""
    g = _gen(seed)
    means = torch.rand(8, 1, 1, generator=g, dtype=F64)
    samples = means + 0.04 * torch.randn(8, 6, 1, generator=g, dtype=F64)
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    return samples, labels, 0.05


def test_separated_inputs_closed_form():
    # Inputs 1 apart, realizations 0.01 apart, β = 1e-3: p(T|X) owns all the density.
    samples = (torch.arange(6, dtype=F64).reshape(6, 1, 1) + 0.01 * torch.arange(3, dtype=F64).reshape(1, 3, 1))
    samples = samples.repeat(1, 1, 2)  # (6, 3, 2)
    labels = torch.tensor([2, 0, 2, 1, 0, 2])
    info = sp_information(samples, 1e-3, labels, n_mc=600, generator=_gen(0))
    h_y = -sum(p * math.log(p) for p in (1 / 3, 1 / 6, 1 / 2))
    assert abs(info.x_t.value - math.log(6)) < 1e-9 and info.x_t.stderr < 1e-9
    assert abs(info.t_y.value - h_y) < 1e-9 and info.t_y.stderr < 1e-9
    assert abs(info.x_t.h_t - info.x_t.h_t_given_x - info.x_t.value) < 1e-12
    assert info.n_mc == 600 and info.x_t.h_t_path == "exact"


def test_coinciding_inputs_carry_nothing():
    samples = torch.zeros(5, 4, 3, dtype=F64) + 0.3
    info = sp_information(samples, 0.1, torch.tensor([0, 1, 0, 1, 1]), n_mc=500, generator=_gen(1))
    assert abs(info.x_t.value) < 1e-12 and abs(info.t_y.value) < 1e-12


def test_matches_quadrature():
    samples, labels, beta = _overlapping_1d()
    ref_x, ref_y = _quadrature_information(samples, labels, beta)
    info = sp_information(samples, beta, labels, n_mc=20_000, generator=_gen(2))
    assert 0.3 < ref_x < math.log(8) - 0.3  # overlapping: neither extreme
    assert abs(info.x_t.value - ref_x) <= 4 * info.x_t.stderr, (info.x_t, ref_x)
    assert abs(info.t_y.value - ref_y) <= 4 * info.t_y.stderr, (info.t_y, ref_y)
    assert info.x_t.stderr < 0.01 and info.t_y.stderr < 0.01


def test_error_covers_quadrature_over_seeds():
    samples, labels, beta = _overlapping_1d(3)
    ref_x, ref_y = _quadrature_information(samples, labels, beta)
    z_x, z_y = [], []
    for seed in range(40):
        info = sp_information(samples, beta, labels, n_mc=400, generator=_gen(100 + seed))
        z_x.append((info.x_t.value - ref_x) / info.x_t.stderr)
        z_y.append((info.t_y.value - ref_y) / info.t_y.stderr)
    for z in (np.array(z_x), np.array(z_y)):
        assert (np.abs(z) <= 2).sum() >= 34, z  # 95 % expected for a normal error; ≥ 85 % asked
        assert abs(z.mean()) <= 3 / math.sqrt(40) + 0.2, z.mean()  # no bias beyond the noise


def test_agrees_with_separate_estimator():
    # 2-D, 64 inputs × 16 realizations: both integrations of the same mixtures.
    g = _gen(4)
    samples = torch.rand(64, 1, 2, generator=g, dtype=F64) + 0.03 * torch.randn(64, 16, 2, generator=g, dtype=F64)
    labels = (torch.arange(64) % 3 == 0).long()
    beta, n = 0.03, 4096
    joint = sp_information(samples, beta, labels, n_mc=n, generator=_gen(5))
    mi = sp_mutual_information(samples, beta, n_mc=n, n_mc_given_x=n // 16, generator=_gen(6))
    ty = sp_label_information(samples, labels, beta, n_mc=n, generator=_gen(7))
    assert abs(joint.x_t.value - mi.value) <= 4 * math.hypot(joint.x_t.stderr, mi.stderr), (joint.x_t, mi)
    assert abs(joint.t_y.value - ty.value) <= 4 * math.hypot(joint.t_y.stderr, ty.stderr), (joint.t_y, ty)
    assert abs(joint.x_t.h_t - mi.h_t) <= 4 * math.hypot(joint.x_t.h_t_stderr, mi.h_t_stderr)
    # ln P(Y|T) varies less than the entropies it replaces (the separate estimate drew 3n samples)
    assert joint.t_y.stderr < 0.8 * ty.stderr


def test_label_order_only_permutes_the_inputs():
    samples, labels, beta = _overlapping_1d(5)
    order = torch.argsort(labels, stable=True)
    a = sp_information(samples, beta, labels, n_mc=300, generator=_gen(8))
    b = sp_information(samples[order], beta, labels[order], n_mc=300, generator=_gen(8))
    assert a == b
    assert sp_information(samples, beta, n_mc=300, generator=_gen(8)).t_y is None


def test_float32_samples():
    samples, labels, beta = _overlapping_1d(6)
    ref_x, ref_y = _quadrature_information(samples, labels, beta)
    info = sp_information(samples.float(), beta, labels, n_mc=8000, generator=_gen(9))
    assert abs(info.x_t.value - ref_x) <= 4 * info.x_t.stderr + 1e-5
    assert abs(info.t_y.value - ref_y) <= 4 * info.t_y.stderr + 1e-5


def test_nested_path_matches_exact():
    # 65,536 centres, crowded (every sample within reach of thousands): p(T) from subsets.
    g = _gen(10)
    samples = torch.rand(256, 1, 2, generator=g, dtype=F64) + 0.05 * torch.randn(256, 256, 2, generator=g, dtype=F64)
    labels = (torch.arange(256) % 2).long()
    beta = 0.02
    exact = sp_information(samples, beta, labels, n_mc=4096, generator=_gen(11), method="exact")
    nested = sp_information(samples, beta, labels, n_mc=4096, generator=_gen(12), method="nested")
    assert exact.x_t.h_t_path == "exact" and nested.x_t.h_t_path == "nested"
    tol = 4 * math.hypot(exact.x_t.stderr, nested.x_t.stderr)
    assert abs(exact.x_t.value - nested.x_t.value) <= tol, (exact.x_t, nested.x_t)
    assert abs(exact.t_y.value - nested.t_y.value) <= 4 * math.hypot(exact.t_y.stderr, nested.t_y.stderr)
    assert abs(exact.x_t.h_t_given_x - nested.x_t.h_t_given_x) <= 4 * math.hypot(
        exact.x_t.h_t_given_x_stderr, nested.x_t.h_t_given_x_stderr)


@pytest.mark.parametrize("kwargs, match", [
    (dict(labels=torch.tensor([0, 1])), "labels must have shape"),
    (dict(labels=torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])), "labels must hold integers"),
    (dict(n_mc=1), "n_mc"),
    (dict(method="fast"), "method"),
    (dict(beta=-1.0), "beta"),
])
def test_bad_input(kwargs, match):
    samples, labels, beta = _overlapping_1d()
    args = dict(labels=labels, n_mc=100, beta=beta, method="auto")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sp_information(samples, args.pop("beta"), args.pop("labels"), **args)


def test_driver_reaches_target_and_pools():
    samples, labels, beta = _overlapping_1d(7)
    ref_x, ref_y = _quadrature_information(samples, labels, beta)
    (info,) = estimate_information_jointly([samples], labels, beta, n_mc=40_000, target_stderr=0.01,
                                           generator=_gen(13))
    assert info.n_mc <= 40_000 and info.x_t.stderr <= 0.0115 and info.t_y.stderr <= 0.0115
    assert abs(info.x_t.value - ref_x) <= 4 * info.x_t.stderr and abs(info.t_y.value - ref_y) <= 4 * info.t_y.stderr
    (fixed,) = estimate_information_jointly([samples], labels, beta, n_mc=512, target_stderr=0.0, generator=_gen(14))
    assert fixed.n_mc == 512


def test_szt_run_with_a_target_integrates_jointly():
    # The full preset's mode (target_stderr > 0) end to end on a tiny run: every point has both
    # informations, errors near the target, I(T;Y) <= I(X;T) <= ln 4096 within errors, paths recorded.
    from infoflow_core.experiments.szt import SZTConfig, run_szt

    cfg = SZTConfig.for_scale("quick", n_epochs=2, n_points=2, det_points=2, n_snapshots=1, n_x=2, n_mc=8192,
                              target_stderr=0.03, hist_bins=10, networks=("tanh",), histograms=(),
                              deterministic=False, dpi=False)
    net = run_szt(cfg, device="cpu", progress=False).networks["tanh"]
    assert np.isfinite(net.mi).all() and np.isfinite(net.mi_y).all()
    assert (net.mi_stderr <= 0.035).all() and (net.mi_y_stderr <= 0.035).all()
    # + 1e-6: float32 kernel sums carry ~1e-7 relative rounding on log-densities of order 1-10 nats
    assert (net.mi <= math.log(4096) + 3 * net.mi_stderr + 1e-6).all()
    assert (net.mi_y <= net.mi + 3 * np.hypot(net.mi_stderr, net.mi_y_stderr)).all()
    assert net.mi_path.shape == net.mi.shape
