"""The nested path for crowded mixtures (infoflow_core._nested, method="nested"/"auto").

References, float64: Gauss–Legendre quadrature (gm_entropy_1d, exact to 1e-10 nats),
the closed form of separated and of coinciding components, and the exact kernel-sum
path on the same mixture. Tolerances are multiples of the reported error (standard
error plus the bias bound); coverage is counted over seeds.
"""

import math

import pytest
import torch

from infoflow_core import gm_density, gm_entropy, gm_entropy_1d, sp_mutual_information
from infoflow_core._nested import NESTED_MIN_CENTERS, choose_nested, nested_entropy
from infoflow_core.entropy import gaussian_entropy

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_crowded_1d_matches_quadrature_with_unequal_blocks():
    # 8191 centres (blocks of 3 or 4 components for subset 2048), each sample within reach of thousands.
    c = torch.rand(8191, 1, generator=_gen(0), dtype=F64)
    ref = gm_entropy_1d(c[:, 0], 0.02)
    val, err, info = nested_entropy(c, 0.02, 4096, _gen(1), subset=2048)
    assert info["correction"] < 1e-3 and err < 0.02
    assert abs(val - ref) <= 4 * err, (val, ref, err)


@pytest.mark.parametrize("beta, subset", [(0.02, 256), (0.003, 128)])
def test_error_covers_quadrature_over_seeds(beta, subset):
    # Crowded (β = 0.02) and sparse enough that the subsets are noisy (β = 0.003: ρ up to ~1,
    # where the Jensen correction and its bound matter).
    c = torch.rand(2048, 1, generator=_gen(2), dtype=F64)
    ref = gm_entropy_1d(c[:, 0], beta)
    diffs, errs = [], []
    for seed in range(40):
        val, err, _ = nested_entropy(c, beta, 1024, _gen(100 + seed), subset=subset)
        diffs.append(val - ref)
        errs.append(err)
    covered = sum(abs(dv) <= 2 * e for dv, e in zip(diffs, errs))
    assert covered >= 34, (covered, diffs[:5], errs[:5])  # 95 % expected for a normal error; ≥ 85 % asked
    mean, rms_err = sum(diffs) / 40, math.sqrt(sum(e * e for e in errs) / 40)
    assert abs(mean) <= 3 * rms_err / math.sqrt(40) + 1e-4, (mean, rms_err)  # no bias beyond the noise


def test_separated_components_are_exact():
    # Far apart (100 β): p(G) is the own component's alone, summed exactly in the own block.
    c = (torch.arange(4096, dtype=F64) * 100.0).reshape(-1, 1).repeat(1, 2)
    val, err, info = nested_entropy(c, 1.0, 2048, _gen(3), subset=256)
    assert abs(val - (gaussian_entropy(2, 1.0) + math.log(4096))) < 1e-9
    assert err < 1e-9 and info["correction"] < 1e-12


def test_coinciding_components_closed_form():
    c = torch.full((10_000, 3), 0.25, dtype=F64)
    val, err, _ = nested_entropy(c, 0.1, 1000, _gen(4), subset=100)
    assert abs(val - gaussian_entropy(3, 0.1)) < 1e-9 and err < 1e-9


def test_agrees_with_the_exact_path_in_3d():
    # A crowded 3-D mixture large enough for "auto" to consider the nested path.
    n = NESTED_MIN_CENTERS
    c = 0.05 * torch.randn(n, 3, generator=_gen(5), dtype=F64)
    plan = choose_nested(c, 0.1, _gen(6))
    assert plan is not None and plan["cost_fraction"] <= 0.25
    nested = gm_entropy(c, 0.1, n_mc=2048, generator=_gen(7), method="auto")
    exact = gm_entropy(c, 0.1, n_mc=2048, generator=_gen(8), method="dense")
    assert abs(nested.value - exact.value) <= 4 * math.hypot(nested.stderr, exact.stderr)
    assert nested.stderr < 0.05 and exact.stderr < 0.05


def test_auto_chooses_by_crowding_and_reports_the_path():
    # 4096 inputs × 16 realizations: crowded (all within a few β) vs separated (inputs 1 apart).
    g = _gen(9)
    crowded = 0.01 * torch.randn(4096, 1, 2, generator=g, dtype=F64) + 0.005 * torch.randn(4096, 16, 2, generator=g,
                                                                                             dtype=F64)
    separated = torch.arange(4096, dtype=F64).reshape(4096, 1, 1).repeat(1, 16, 2) \
        + 0.005 * torch.randn(4096, 16, 2, generator=g, dtype=F64)
    a = sp_mutual_information(crowded, 0.01, n_mc=1024, n_mc_given_x=16, generator=_gen(10))
    b = sp_mutual_information(separated, 0.005, n_mc=1024, n_mc_given_x=16, generator=_gen(11))
    assert a.h_t_path == "nested" and b.h_t_path == "exact"
    assert abs(b.value - math.log(4096)) < 4 * b.stderr + 1e-6
    assert choose_nested(torch.zeros(100, 2, dtype=F64), 0.1, _gen(0)) is None  # small: never nested


def test_nested_method_is_checked():
    c = torch.zeros(100, 2, dtype=F64)
    with pytest.raises(ValueError, match="method must be one of .*'nested'"):
        gm_entropy(c, 0.1, n_mc=100, method="fast")
    with pytest.raises(ValueError, match="method must be one of"):
        gm_density(c, 0.1, c, method="nested")  # densities are exact sums only
    est = gm_entropy(c, 0.1, n_mc=100, generator=_gen(0), method="nested")
    assert abs(est.value - gaussian_entropy(2, 0.1)) < 1e-9


def test_float32_centres():
    c = torch.rand(4096, 1, generator=_gen(12)).float()
    ref = gm_entropy_1d(c[:, 0].double(), 0.02)  # the float32 centres, exactly
    val, err, _ = nested_entropy(c, 0.02, 2048, _gen(13), subset=1024)
    assert abs(val - ref) <= 4 * err and err < 0.03



@pytest.mark.parametrize("n,d", [(4096, 1), (5000, 2), (3001, 3)])
def test_float32_subset_sums_in_c_match_torch(n, d, monkeypatch):
    # float32 mixtures take the C kernels for the subsets' sums, leaving each sample's own block
    # out instead of subtracting its pick (unequal blocks: the extra weight coordinate). With the
    # same draws, both ways agree to float32 rounding of the sums (measured ≤ 1e-8 nats).
    from infoflow_core import _native
    if not _native.available():
        pytest.skip(f"C kernels: {_native.status()}")
    c = (0.3 * torch.randn(n, d, generator=_gen(n))).float()
    with_c = nested_entropy(c, 0.02, 2048, _gen(1), subset=512)
    with _native.switched(False):
        with_torch = nested_entropy(c, 0.02, 2048, _gen(1), subset=512)
    assert abs(with_c[0] - with_torch[0]) <= 1e-6 and abs(with_c[1] - with_torch[1]) <= 1e-6
    assert with_c[2]["subset"] == with_torch[2]["subset"]


# ------------------------------------------- the overlap floor of the standard error (issue 20, item 2)

from infoflow_core.entropy import overlap_bound  # noqa: E402


@pytest.mark.parametrize("seed", range(6))
def test_overlap_bound_brackets_the_exact_entropy(seed):
    # Random 1-D mixtures, exact entropy by quadrature: h0 + ln n − B ≤ h ≤ h0 + ln n.
    g = _gen(200 + seed)
    n = int(torch.randint(2, 9, (1,), generator=g))
    c = torch.rand(n, generator=g, dtype=F64) * float(torch.rand(1, generator=g)) * 10
    h = gm_entropy_1d(c, 0.3)
    top = gaussian_entropy(1, 0.3) + math.log(n)
    b = float(overlap_bound(c.reshape(1, n, 1), 0.3))
    assert top - b - 1e-9 <= h <= top + 1e-9, (h, top, b)


@pytest.mark.parametrize("spacing", [5.0, 6.0, 8.0])
def test_nearly_separated_error_bars_cover_quadrature(spacing):
    # Four 1-D Gaussians `spacing` β apart: the control variate leaves almost no sample variance;
    # the reported error never reads zero and ± 2·stderr covers the exact value in every seed.
    c = (torch.arange(4, dtype=F64) * spacing * 0.1).reshape(4, 1)
    exact = gm_entropy_1d(c[:, 0], 0.1)
    covered = 0
    for seed in range(60):
        est = gm_entropy(c, 0.1, n_mc=1000, generator=_gen(seed))
        assert est.stderr > 0
        covered += abs(est.value - exact) <= 2 * est.stderr
    assert covered == 60
