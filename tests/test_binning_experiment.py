"""The binning experiment (``infoflow_core.experiments.binning``, chapter 01): its
binned entropies against an independent numpy count, and the identities of Section 1."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from infoflow_core.__main__ import main as cli_main
from infoflow_core.experiments.binning import (
    EXPERIMENT,
    BinningConfig,
    BinningResults,
    binary_inputs,
    run_binning,
)
from infoflow_core.models.szt import SZTNet
from infoflow_core.scales import SCALES


def _numpy_binned_entropy(t: np.ndarray, bin_size: float, lo: float = -1.0, hi: float = 1.0) -> float:
    """Independent reference: count identical cell tuples with a Counter, float64."""
    n_bins = max(1, math.ceil((hi - lo) / bin_size - 1e-9))
    idx = np.clip(np.floor((t - lo) / bin_size).astype(np.int64), 0, n_bins - 1)  # (n, d)
    counts = np.array(list(Counter(map(tuple, idx)).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


@pytest.fixture(scope="module")
def small_run():
    # 64 inputs, a short run: about a second on one core.
    config = BinningConfig.for_scale("quick", n_bits=6, widths=(6, 5, 3, 2), epochs=60, n_records=6,
                                     bin_sizes=(2.0, 0.5, 0.1, 0.01, 1e-12), seed=3)
    return run_binning(config, device="cpu", progress=False)


def test_binary_inputs_are_all_distinct_and_balanced():
    x, y = binary_inputs(7)
    assert x.shape == (128, 7) and x.dtype == torch.float64
    assert torch.unique(x, dim=0).shape[0] == 128  # every vector of {−1, 1}^7 once
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    assert int(y.sum()) == 64  # the XOR of two 3-bit majorities is balanced
    # the rule, checked input by input
    expect = [int((r[0] + r[1] + r[2]) * (r[3] + r[4] + r[5]) > 0) for r in x.tolist()]
    assert y.tolist() == expect


def _old_record_epochs(epochs: int, n_records: int) -> list[int]:
    """The grid the experiment used before the shared log_epochs (kept as the reference)."""
    grid = np.unique(np.round(np.logspace(0, math.log10(epochs), n_records - 1)).astype(int))
    return [0] + grid.tolist()


@pytest.mark.parametrize("scale", SCALES)
def test_record_epochs_are_the_former_grid_at_every_scale(scale):
    c = BinningConfig.for_scale(scale)
    e = c.record_epochs()
    assert list(e) == _old_record_epochs(c.epochs, c.n_records)
    assert e[0] == 0 and e[-1] == c.epochs and np.all(np.diff(e) > 0) and len(e) <= c.n_records


def test_shapes_and_units(small_run):
    r = small_run
    n_rec, n_bins, n_layers = r.h_bin.shape  # (E, K, L)
    assert (n_bins, n_layers) == (5, 2)
    assert n_rec == len(r.epochs) and r.epochs[0] == 0 and r.epochs[-1] == 60
    assert r.min_distance.shape == r.n_distinct.shape == (n_rec, n_layers)
    assert [rep.shape for rep in r.representations] == [(n_rec, 64, 5), (n_rec, 64, 3)]
    assert r.h_x == pytest.approx(math.log(64), abs=1e-12)


def test_binned_entropy_matches_numpy_count(small_run):
    # The stored entropies against an independent recount from the stored representations
    # (same float64 values, so only summation order differs: tolerance 1e-12).
    r = small_run
    for k, reps in enumerate(r.representations):
        for i in range(len(r.epochs)):
            for j, b in enumerate(r.bin_sizes):
                assert r.h_bin[i, j, k] == pytest.approx(_numpy_binned_entropy(reps[i], b), abs=1e-12)


def test_bounds_one_bin_and_tiny_bins(small_run):
    r = small_run
    ln_n = math.log(64)
    assert np.all(r.h_bin >= -1e-12)
    assert np.all(r.h_bin <= ln_n + 1e-12)  # H(Bin(T)) = I(X; Bin(T)) ≤ H(X)
    assert np.allclose(r.h_bin[:, 0, :], 0.0, atol=1e-12)  # bin size 2: a single cell
    # the map is injective, so bins far below the smallest distance separate every input
    assert np.all(r.n_distinct == 64)
    assert np.all(r.min_distance > 1e-12 * math.sqrt(5))
    assert np.allclose(r.h_bin[:, -1, :], ln_n, atol=1e-12)
    # coarser bins never see more cells than finer ones nested in them (0.5 → 0.1 is not
    # nested, but 2 → 0.5 → 0.01 → 1e-12 grids are unions of finer cells starting at −1)
    nested = [0, 1, 3, 4]
    assert np.all(np.diff(r.h_bin[:, nested, :], axis=1) >= -1e-12)


def test_same_seed_same_run():
    config = BinningConfig.for_scale("quick", n_bits=6, widths=(6, 4, 2), epochs=20, n_records=4, bin_sizes=(0.1,),
                                     seed=7)
    a = run_binning(config, device="cpu", progress=False)
    b = run_binning(config, device="cpu", progress=False)
    c = run_binning(config.replace(seed=8), device="cpu", progress=False)
    assert np.array_equal(a.representations[0], b.representations[0])
    assert not np.array_equal(a.representations[0], c.representations[0])


def test_training_learns_the_rule():
    # 300 full-batch Adam steps fit the 64 inputs (the rule needs a hidden layer).
    config = BinningConfig.for_scale("quick", n_bits=6, widths=(6, 8, 4, 2), epochs=300, n_records=3,
                                     bin_sizes=(0.1,))
    r = run_binning(config, device="cpu", progress=False)
    assert r.accuracy[-1] == 1.0
    assert r.loss[-1] < 0.1 < r.loss[0]


def test_scales_keep_their_former_sizes():
    sizes = {s: (BinningConfig.for_scale(s).epochs, BinningConfig.for_scale(s).n_records) for s in SCALES}
    assert sizes == {"quick": (1500, 25), "book": (4000, 40), "full": (20000, 80)}
    assert BinningConfig.for_scale("quick", lr=0.003).lr == 0.003
    book = BinningConfig.for_scale("book")
    assert (book.n_bits, book.widths, book.lr, book.seed, len(book.bin_sizes)) == (9, (9, 8, 6, 5, 4, 3, 2), 0.01, 0, 16)


def test_network_is_the_szt_net_with_float64_draws():
    # The deterministic network is SZTNet(beta=0) drawn in float64: PyTorch's default
    # init (uniform ±1/√fan_in), weight then bias, layer by layer, from the seed.
    net = SZTNet("tanh", 0.0, widths=(6, 4, 2), dtype=torch.float64, init_generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    for lin in net.linears():
        bound = 1.0 / lin.in_features ** 0.5
        for p in (lin.weight, lin.bias):
            assert p.dtype == torch.float64
            draw = (2 * torch.rand(p.shape, generator=g, dtype=torch.float64) - 1) * bound
            torch.testing.assert_close(p.detach(), draw, rtol=0, atol=0)
    # without dtype the SZT experiment's float32 network is drawn as before (float32 draws)
    net32 = SZTNet("tanh", 0.1, init_generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    w = net32.linears()[0].weight
    assert w.dtype == torch.float32
    torch.testing.assert_close(w.detach(), (2 * torch.rand(w.shape, generator=g) - 1) * (1.0 / 12 ** 0.5), rtol=0, atol=0)


def test_save_load_and_command_line(tmp_path, small_run):
    back = BinningResults.load(small_run.save(tmp_path / "saved"), expected_config=small_run.config)
    for name in (*BinningResults.ARRAYS,):
        np.testing.assert_array_equal(getattr(back, name), getattr(small_run, name))
    assert all(np.array_equal(a, b) for a, b in zip(back.representations, small_run.representations))
    assert back.h_x == small_run.h_x and back.layer_widths == (5, 3)
    assert EXPERIMENT.run is run_binning and EXPERIMENT.config_type is BinningConfig
    out = tmp_path / "cli"
    assert cli_main(["binning", "--scale", "quick", "--out", str(out), "--device", "cpu", "--no-progress",
                     "--set", "epochs=4", "--set", "n_records=3", "--set", "bin_sizes=[0.5]"]) == 0
    r = BinningResults.load(out)
    assert r.config.epochs == 4 and r.h_bin.shape == (3, 1, 5) and r.epochs.tolist() == [0, 1, 4]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scale="huge"), "scale"),
        (dict(n_bits=5, widths=(5, 3, 2)), "n_bits"),
        (dict(widths=(9, 2)), "widths"),
        (dict(widths=(8, 4, 2)), "widths"),
        (dict(lr=0.0), "lr"),
        (dict(bin_sizes=(0.1, -1.0)), "bin_sizes"),
        (dict(epochs=0), "epochs"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BinningConfig.for_scale(kwargs.pop("scale", "quick"), **kwargs)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="config"):
        run_binning({"epochs": 3})
    with pytest.raises(ValueError, match="n_bits"):
        binary_inputs(3)
    with pytest.raises(ValueError, match="scale"):
        BinningConfig.for_scale("medium")
