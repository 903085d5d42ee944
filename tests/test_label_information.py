"""SP estimate of I(T; Y) (sp_label_information) and the Kolchinsky–Tracey bounds on
I(X; T) and I(T; Y) (mutual_information_bounds), against closed forms, 1-D quadrature
(gm_entropy_1d, float64) and the data-processing inequality."""

import math

import numpy as np
import pytest
import torch

from infoflow_core.data.szt import load_szt
from infoflow_core.entropy import gaussian_entropy, gm_entropy_1d
from infoflow_core.models.szt import SZTNet
from infoflow_core.mutual_information import (LabelMIEstimate, mutual_information_bounds, sp_label_information,
                                              sp_mutual_information)
from infoflow_core.noise import sample_representations
from tests.conftest import make_generator

F64 = torch.float64
K = 4  # tolerance in standard errors throughout


def entropy_of(labels) -> float:
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def test_far_apart_classes_carry_the_label_entropy(device):
    # Classes of sizes 2, 3, 5 at 0, 100, 200, each spread over a few units; β = 0.05:
    # the class mixtures do not overlap, so I(T; Y) = H(Y).
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 2 + [1] * 3 + [2] * 5)
    samples = torch.rand(10, 4, 2, dtype=F64, generator=g) * 3 + 100.0 * labels.to(F64).reshape(10, 1, 1)
    mi = sp_label_information(samples.to(device), labels.to(device), 0.05, n_mc=4000,
                              generator=make_generator(device))
    assert isinstance(mi, LabelMIEstimate) and mi.stderr > 0
    assert abs(mi.value - entropy_of(labels)) < K * mi.stderr, mi
    assert mi.value == pytest.approx(mi.h_t - mi.h_t_given_y, abs=1e-12)
    assert mi.stderr == pytest.approx(math.hypot(mi.h_t_stderr, mi.h_t_given_y_stderr), rel=1e-12)


def test_identical_class_conditionals_carry_nothing():
    # Class 1's realizations are class 0's (the same multiset of centres): I(T; Y) = 0 exactly.
    g = torch.Generator().manual_seed(1)
    half = torch.randn(6, 5, 3, dtype=F64, generator=g)
    samples = torch.cat([half, half[torch.randperm(6, generator=g)]])
    labels = np.array([0] * 6 + [1] * 6)
    mi = sp_label_information(samples, labels, 0.3, n_mc=3000, generator=g)
    assert abs(mi.value) < K * mi.stderr, mi


@pytest.mark.parametrize("beta, seed", [(0.05, 0), (0.3, 1), (1.0, 2)])
def test_one_dimensional_mixtures_match_quadrature(beta, seed):
    # I = h(T) − Σ_y p(y) h(T | y), each term by Gauss–Legendre quadrature (float64).
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    samples = torch.randn(9, 3, 1, dtype=F64, generator=g) * 0.2 + 0.4 * labels.to(F64).reshape(9, 1, 1)
    h_t = gm_entropy_1d(samples.reshape(-1), beta)
    h_cond = sum((labels == y).double().mean().item() * gm_entropy_1d(samples[labels == y].reshape(-1), beta)
                 for y in range(3))
    mi = sp_label_information(samples, labels, beta, n_mc=6000, n_mc_given_y=3000, generator=g)
    assert abs(mi.h_t - h_t) < K * mi.h_t_stderr
    assert abs(mi.h_t_given_y - h_cond) < K * mi.h_t_given_y_stderr
    assert abs(mi.value - (h_t - h_cond)) < K * mi.stderr, (mi, h_t - h_cond)
    assert 0.0 < h_t - h_cond < entropy_of(labels)


def test_single_class_is_exactly_zero():
    samples = torch.rand(5, 3, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    mi = sp_label_information(samples, torch.full((5,), 7), 0.1, n_mc=200, generator=torch.Generator().manual_seed(0))
    assert (mi.value, mi.stderr) == (0.0, 0.0)
    assert mi.h_t == mi.h_t_given_y and mi.h_t_stderr == mi.h_t_given_y_stderr > 0


def test_one_centre_classes_use_the_exact_gaussian_entropy():
    # One input per class and n_x = 1: I(T; Y) = I(X; T) and h(T | y) = (d/2) ln(2πeβ²).
    samples = torch.tensor([[0.0, 0.0], [0.3, 0.1], [1.0, -0.5]], dtype=F64).reshape(3, 1, 2)
    mi = sp_label_information(samples, torch.tensor([2, 0, 1]), 0.2, n_mc=300,
                              generator=torch.Generator().manual_seed(0))
    ixt = sp_mutual_information(samples, 0.2, n_mc=300, generator=torch.Generator().manual_seed(0))
    assert mi.h_t_given_y == pytest.approx(gaussian_entropy(2, 0.2), abs=1e-12) and mi.h_t_given_y_stderr == 0.0
    assert (mi.value, mi.stderr) == (ixt.value, ixt.stderr)  # same generator, same h(T) samples


def test_stderr_is_calibrated():
    """Mean stderr² over R independent runs against the variance of the R estimates.
    For nearly Gaussian estimates the sample variance has relative sd √(2/(R−1)) ≈ 0.07
    at R = 400 (the mean of stderr² is far more precise), so the ratio must be within
    4·√(2/(R−1)) ≈ 0.28 of 1."""
    R = 400
    g = torch.Generator().manual_seed(3)
    labels = torch.tensor([0] * 6 + [1] * 6)
    samples = torch.randn(12, 3, 2, dtype=F64, generator=g) * 0.5 + labels.to(F64).reshape(12, 1, 1)
    runs = [sp_label_information(samples, labels, 0.4, n_mc=144, n_mc_given_y=72, generator=g) for _ in range(R)]
    values = np.array([r.value for r in runs])
    ratio = np.mean([r.stderr ** 2 for r in runs]) / values.var(ddof=1)
    assert abs(ratio - 1) < 4 * math.sqrt(2 / (R - 1)), ratio


def test_data_processing_inequality_on_a_trained_noisy_network():
    """A small noisy tanh network trained briefly (60 Adam steps) on 256 SZT inputs: per layer
    I(T; Y) ≤ min(I(X; T), H(Y)) within K combined standard errors, and the
    Kolchinsky–Tracey bounds bracket both SP estimates within K stderr."""
    x, y = load_szt()
    idx = torch.randperm(4096, generator=torch.Generator().manual_seed(0))[:256]
    x, y = x[idx].double(), y[idx]
    torch.manual_seed(0)  # only the training noise of this test
    net = SZTNet("tanh", 0.1, widths=(12, 8, 4, 2), dtype=F64, init_generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    g = torch.Generator().manual_seed(4)
    h_y = entropy_of(y)
    for s in sample_representations(net, x, 8, generator=g):
        ixt = sp_mutual_information(s, 0.1, n_mc=2000, n_mc_given_x=64, generator=g)
        ity = sp_label_information(s, y, 0.1, n_mc=2000, generator=g)
        assert ity.value > 0.05  # trained: the layer holds label information
        assert ity.value <= h_y + K * ity.stderr
        assert ity.value <= ixt.value + K * math.hypot(ity.stderr, ixt.stderr), (ity, ixt)
        b = mutual_information_bounds(s, 0.1, y)
        assert b.x_t.lower - K * ixt.stderr <= ixt.value <= b.x_t.upper + K * ixt.stderr, (b, ixt)
        assert b.t_y.lower - K * ity.stderr <= ity.value <= b.t_y.upper + K * ity.stderr, (b, ity)
        assert 0 <= b.t_y.lower <= b.t_y.upper <= min(h_y, b.x_t.upper) + 1e-12


@pytest.mark.parametrize("beta", [0.05, 0.3, 1.0])
def test_bounds_bracket_quadrature_in_one_dimension(beta):
    g = torch.Generator().manual_seed(5)
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    samples = torch.randn(6, 4, 1, dtype=F64, generator=g) * 0.3 + 0.5 * labels.to(F64).reshape(6, 1, 1)
    h_t = gm_entropy_1d(samples.reshape(-1), beta)
    i_xt = h_t - sum(gm_entropy_1d(samples[i, :, 0], beta) for i in range(6)) / 6
    i_ty = h_t - sum((labels == y).double().mean().item() * gm_entropy_1d(samples[labels == y].reshape(-1), beta)
                     for y in range(3))
    b = mutual_information_bounds(samples, beta, labels)
    assert b.x_t.lower <= i_xt <= b.x_t.upper and b.t_y.lower <= i_ty <= b.t_y.upper, (b, i_xt, i_ty)
    bits = mutual_information_bounds(samples, beta, labels, unit="bits")
    assert bits.unit == "bits" and bits.x_t.upper == pytest.approx(b.x_t.upper / math.log(2), rel=1e-12)
    assert mutual_information_bounds(samples, beta).t_y is None


def test_bounds_with_one_realization_use_the_exact_conditional():
    # n_x = 1: h(T | X) is exact, so the I(X; T) bounds are those of h(T) shifted by it.
    from infoflow_core.entropy import gm_entropy_bounds
    s = torch.tensor([0.0, 0.4, 1.0, 3.0], dtype=F64).reshape(4, 1, 1)
    lo, up = gm_entropy_bounds(s.reshape(4, 1), 0.5)
    b = mutual_information_bounds(s, 0.5, torch.tensor([0, 0, 0, 0]))
    assert b.x_t == pytest.approx((lo - gaussian_entropy(1, 0.5), up - gaussian_entropy(1, 0.5)), abs=1e-12)
    assert b.t_y == (0.0, 0.0)


def test_bits():
    mi = sp_label_information(torch.rand(4, 2, 1, dtype=F64), torch.tensor([0, 1, 0, 1]), 0.1, n_mc=100)
    bits = mi.to_bits()
    assert bits.unit == "bits" and type(bits) is LabelMIEstimate
    for name in ("value", "stderr", "h_t", "h_t_given_y", "h_t_stderr", "h_t_given_y_stderr"):
        assert getattr(bits, name) == pytest.approx(getattr(mi, name) / math.log(2), rel=1e-15)
    assert bits.to_nats().value == pytest.approx(mi.value, rel=1e-15) and bits.to_bits() == bits


@pytest.mark.parametrize("labels, match", [
    (torch.tensor([0, 1, 0]), r"shape \(4,\)"),
    (torch.tensor([[0, 1, 0, 1]]), r"shape \(4,\)"),
    (torch.tensor([0.0, 1.0, 0.0, 1.0]), "integers"),
    (np.array([0.0, 1.0, 0.0, 1.0]), "integers"),
    (torch.tensor([True, False, True, False]), "integers"),
    ([0, 1, 0, 1], "torch.Tensor or NumPy array"),
])
def test_bad_labels(labels, match):
    samples = torch.rand(4, 2, 1, dtype=F64)
    with pytest.raises(ValueError, match="labels must " + ".*" + match):
        sp_label_information(samples, labels, 0.1, n_mc=10)
    with pytest.raises(ValueError, match="labels must"):
        mutual_information_bounds(samples, 0.1, labels)


def test_bad_arguments():
    samples, labels = torch.rand(4, 2, 1, dtype=F64), torch.tensor([0, 1, 0, 1])
    with pytest.raises(ValueError, match="beta"):
        sp_label_information(samples, labels, -0.1, n_mc=10)
    with pytest.raises(ValueError, match="n_mc_given_y"):
        sp_label_information(samples, labels, 0.1, n_mc=10, n_mc_given_y=1)
    with pytest.raises(ValueError, match="samples"):
        sp_label_information(samples[0], labels, 0.1, n_mc=10)
    with pytest.raises(ValueError, match="unit"):
        mutual_information_bounds(samples, 0.1, unit="bit")


def test_a_given_h_t_is_used_and_checked():
    """h_t= reuses sp_mutual_information's h(T): the result is h_t − h(T|Y) with the
    class conditionals drawn as without it, and the combined error; bad h_t is refused."""
    from infoflow_core.entropy import Estimate
    from infoflow_core.mutual_information import sp_mutual_information

    g = torch.Generator().manual_seed(0)
    s = torch.randn(40, 3, 2, generator=g, dtype=torch.float64)
    y = torch.arange(40) % 2
    mi = sp_mutual_information(s, 0.3, n_mc=2000, n_mc_given_x=64, generator=torch.Generator().manual_seed(1))
    ty = sp_label_information(s, y, 0.3, n_mc=2000, h_t=(mi.h_t, mi.h_t_stderr),
                              generator=torch.Generator().manual_seed(2))
    assert ty.h_t == mi.h_t and ty.h_t_stderr == mi.h_t_stderr
    assert ty.value == pytest.approx(mi.h_t - ty.h_t_given_y, abs=1e-12)
    assert ty.stderr == pytest.approx((mi.h_t_stderr ** 2 + ty.h_t_given_y_stderr ** 2) ** 0.5, rel=1e-12)
    fresh = sp_label_information(s, y, 0.3, n_mc=2000, generator=torch.Generator().manual_seed(2))
    assert abs(fresh.value - ty.value) < 5 * (fresh.stderr ** 2 + ty.stderr ** 2) ** 0.5
    same = sp_label_information(s, y, 0.3, n_mc=2000, h_t=Estimate(mi.h_t, mi.h_t_stderr),
                                generator=torch.Generator().manual_seed(2))
    assert same == ty
    for bad in ((1.0,), (float("nan"), 0.1), (1.0, -1.0), "x", Estimate(1.0, 0.1).to_bits()):
        with pytest.raises(ValueError, match="h_t"):
            sp_label_information(s, y, 0.3, n_mc=100, h_t=bad, generator=torch.Generator().manual_seed(2))
