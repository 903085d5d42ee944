"""The SP estimator (equation (1)) against quadrature and its bounds."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from infoflow_core import GaussianNoise, gaussian_entropy, gm_entropy_1d, sample_representations, sp_mutual_information
from tests.conftest import make_generator

F64 = torch.float64
X4 = torch.tensor([-3.0, -1.0, 1.0, 3.0], dtype=F64)


@pytest.mark.parametrize("w, b, beta", [(0.5, -1.15, 0.01), (1.0, -2.3, 0.1), (3.0, 0.0, 0.3), (0.0, 0.0, 0.01)])
def test_single_noisy_tanh_neuron_matches_quadrature(device, w, b, beta):
    # T = tanh(wX + b) + Z, X uniform on {−3, −1, 1, 3}: I = h(T) − h(Z), h(T) by quadrature.
    s = torch.tanh(w * X4 + b)
    exact = gm_entropy_1d(s, beta) - gaussian_entropy(1, beta)
    mi = sp_mutual_information(s.reshape(4, 1, 1).to(device), beta, n_mc=20_000, generator=make_generator(device))
    assert abs(mi.value - exact) < 4 * mi.stderr + 1e-12, (mi, exact)
    assert mi.h_t_given_x == gaussian_entropy(1, beta) and mi.h_t_given_x_stderr == 0.0


def test_mutual_information_is_between_zero_and_ln_n():
    g = torch.Generator().manual_seed(0)
    for beta in (0.01, 0.1, 1.0):
        samples = torch.rand(16, 8, 3, dtype=F64, generator=g)  # 16 inputs, 8 realizations
        mi = sp_mutual_information(samples, beta, n_mc=800, generator=g)
        assert -4 * mi.stderr <= mi.value <= math.log(16) + 4 * mi.stderr
        assert mi.value == pytest.approx(mi.h_t - mi.h_t_given_x, abs=1e-12)


def test_conditional_entropies_match_quadrature_in_1d():
    # Each input's conditional mixture is 1-D: compare the batched estimate with quadrature.
    g = torch.Generator().manual_seed(1)
    samples = torch.randn(5, 6, 1, dtype=F64, generator=g) * 0.1
    samples += torch.arange(5, dtype=F64).reshape(5, 1, 1)
    beta = 0.05
    h_cond = sum(gm_entropy_1d(samples[i, :, 0], beta) for i in range(5)) / 5
    h_t = gm_entropy_1d(samples.reshape(-1), beta)
    mi = sp_mutual_information(samples, beta, n_mc=6000, generator=g)
    assert abs(mi.h_t_given_x - h_cond) < 4 * mi.h_t_given_x_stderr + 1e-9
    assert abs(mi.h_t - h_t) < 4 * mi.h_t_stderr + 1e-9
    assert abs(mi.value - (h_t - h_cond)) < 4 * mi.stderr + 1e-9


def test_one_realization_gives_exact_conditional_entropy():
    samples = torch.rand(10, 1, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    mi = sp_mutual_information(samples, 0.2, n_mc=100, generator=torch.Generator().manual_seed(0))
    assert mi.h_t_given_x == pytest.approx(2 * math.log(2 * math.pi * math.e * 0.04), abs=1e-12)


def test_two_stacked_noisy_layers():
    torch.manual_seed(0)  # only for nn.Linear's default init in this test
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), GaussianNoise(0.1), nn.Linear(3, 2), nn.Tanh(), GaussianNoise(0.1))
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(1))
    s1, s2 = sample_representations(net, x, 5, generator=torch.Generator().manual_seed(2), chunk_size=3)
    assert s1.shape == (7, 5, 3) and s2.shape == (7, 5, 2)
    # Layer 1: S_1 = f_1(x) is deterministic, identical realizations, equal to the noiseless net.
    assert torch.equal(s1, s1[:, :1].expand_as(s1))
    assert torch.allclose(s1[:, 0], torch.tanh(net[0](x)))
    # Layer 2: realizations differ (noise of layer 1 propagated).
    assert (s2[:, 1:] != s2[:, :1]).any(dim=-1).all()
    # Chunking over inputs does not change the draws' distribution shape; eval/train flags restored.
    assert net.training and not net[2].sampling
    net.eval()
    assert torch.equal(net(x), net(x))  # identity noise in eval mode


def test_gaussian_noise_module():
    noise = GaussianNoise(0.5, generator=torch.Generator().manual_seed(0))
    x = torch.zeros(100_000, dtype=F64)
    y = noise(x)  # training mode: noise on
    assert y.dtype == F64 and abs(y.std().item() - 0.5) < 0.01
    assert torch.equal(GaussianNoise(0.0)(x), x)
    assert torch.equal(noise.eval()(x), x)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        GaussianNoise(-0.1)
    with pytest.raises(ValueError, match="beta must be finite"):
        GaussianNoise(float("nan"))


def test_noise_after_convolution_and_pooling():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), GaussianNoise(0.1), nn.MaxPool2d(2), GaussianNoise(0.1))
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    s1, s2 = sample_representations(net, x, 2, generator=torch.Generator().manual_seed(1))
    assert s1.shape == (3, 2, 32) and s2.shape == (3, 2, 8)


@pytest.mark.parametrize("bad, match", [
    (dict(samples=torch.zeros(3, 2)), r"samples must be a 3-D tensor of shape \(n_inputs, n_x, d\), got shape \(3, 2\)"),
    (dict(samples=torch.zeros(3, 2, 1, dtype=torch.float16)), "samples must be a float32 or float64 tensor, got dtype torch.float16"),
    (dict(samples=torch.zeros(3, 2, 1, dtype=torch.bfloat16)), "samples must be a float32 or float64 tensor, got dtype torch.bfloat16"),
    (dict(generator=0), "generator must be a torch.Generator"),
    (dict(generator=np.random.default_rng(0)), "generator must be a torch.Generator"),
    (dict(n_mc=1), "n_mc must be an integer >= 2"),
    (dict(n_mc_given_x=1), "n_mc_given_x must be an integer >= 2"),
    (dict(chunk_size=-3), "chunk_size must be an integer >= 1"),
    (dict(samples=torch.zeros(0, 2, 1)), "samples must not be empty"),
    (dict(samples=torch.full((2, 2, 1), float("nan"))), "samples contains 4 NaN"),
    (dict(beta=0.0), "beta must be > 0"),
    (dict(n_mc=0), "n_mc"),
])
def test_bad_input(bad, match):
    kwargs = dict(samples=torch.zeros(3, 2, 1), beta=0.1, n_mc=10)
    kwargs.update(bad)
    with pytest.raises(ValueError, match=match):
        sp_mutual_information(kwargs.pop("samples"), kwargs.pop("beta"), **kwargs)


def test_sample_representations_bad_input():
    net = nn.Sequential(nn.Linear(1, 1), GaussianNoise(0.1))
    with pytest.raises(ValueError, match="n_x"):
        sample_representations(net, torch.zeros(2, 1), 0)
    with pytest.raises(ValueError, match="no GaussianNoise"):
        sample_representations(nn.Linear(1, 1), torch.zeros(2, 1), 2)
    with pytest.raises(ValueError, match="x contains"):
        sample_representations(net, torch.full((2, 1), float("inf")), 2)
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        sample_representations(net, torch.zeros(2, 1), 2, generator=0)
    with pytest.raises(ValueError, match="chunk_size must be 'auto' or a positive integer"):
        sample_representations(net, torch.zeros(2, 1), 2, chunk_size="all")
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        GaussianNoise(0.1, generator=np.random.default_rng(0))


def test_numpy_samples_are_accepted():
    s = np.random.default_rng(0).normal(size=(4, 3, 2))
    a = sp_mutual_information(s, 0.3, n_mc=40, generator=torch.Generator().manual_seed(0))
    b = sp_mutual_information(torch.from_numpy(s), 0.3, n_mc=40, generator=torch.Generator().manual_seed(0))
    assert a == b


def _variance_ratio(values: np.ndarray, variances: np.ndarray) -> tuple[float, float]:
    """mean(stderr²) / var(estimates) and its standard error by the delta method.

    With R runs, A = mean(s²) and B = var(x) have sampling variances var(s²)/R and
    (μ₄ − σ⁴)/R (the chi-square-like error of a sample variance, kurtosis
    included) and covariance cov(s², (x − x̄)²)/R; the ratio A/B then has relative
    variance var(A)/A² + var(B)/B² − 2cov/(AB).
    """
    R = values.size
    dev2 = (values - values.mean()) ** 2
    A, B = variances.mean(), dev2.sum() / (R - 1)
    var_a = variances.var(ddof=1) / R
    var_b = (np.mean(dev2 ** 2) - B ** 2) / R
    cov = np.cov(variances, dev2)[0, 1] / R
    ratio = A / B
    return ratio, ratio * math.sqrt(var_a / A ** 2 + var_b / B ** 2 - 2 * cov / (A * B))


def test_stderr_is_calibrated_when_the_conditional_term_dominates():
    """mean(stderr²) / var(estimate) ≈ 1 over many independent runs, with the
    conditional term's error dominating (3 samples per conditional component,
    thousands for h(T)). Its combination over inputs is Σ se_i² / n_inputs²; a
    mistaken /√n_inputs would inflate its variance n_inputs = 8 times.
    Tolerance: 5 delta-method standard errors of the ratio (≈ 0.05 here), and the
    test checks that this resolves the 8× of the bug by far."""
    g = torch.Generator().manual_seed(0)
    samples = torch.rand(8, 4, 1, dtype=F64, generator=g) * 0.6  # overlapping conditional mixtures (β = 0.1)
    runs = [sp_mutual_information(samples, 0.1, n_mc=4096, n_mc_given_x=12, generator=g) for _ in range(1000)]
    values = np.array([r.value for r in runs])
    variances = np.array([r.stderr ** 2 for r in runs])
    cond_share = np.mean([r.h_t_given_x_stderr ** 2 for r in runs]) / variances.mean()
    assert cond_share > 0.7  # the conditional term dominates the variance
    ratio, se = _variance_ratio(values, variances)
    assert se < 0.1
    assert abs(ratio - 1.0) < 5 * se, f"mean(stderr²)/var = {ratio:.3f} ± {se:.3f}"


def test_separate_sample_count_for_the_conditional_term():
    g = torch.Generator().manual_seed(3)
    samples = torch.rand(8, 4, 2, dtype=F64, generator=g)
    a = sp_mutual_information(samples, 0.1, n_mc=500, n_mc_given_x=50, generator=torch.Generator().manual_seed(0))
    b = sp_mutual_information(samples, 0.1, n_mc=500, generator=torch.Generator().manual_seed(0))
    assert a.h_t == b.h_t and a.h_t_stderr == b.h_t_stderr  # same draws for h(T)
    assert a.h_t_given_x_stderr > b.h_t_given_x_stderr  # fewer samples, larger error
    assert abs(a.h_t_given_x - b.h_t_given_x) < 4 * math.hypot(a.h_t_given_x_stderr, b.h_t_given_x_stderr)
    with pytest.raises(ValueError, match="n_mc_given_x"):
        sp_mutual_information(samples, 0.1, n_mc=10, n_mc_given_x=0)
