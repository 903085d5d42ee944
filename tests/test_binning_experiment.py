"""The binning experiment (``infoflow_core.experiments.binning``, chapter 01): its
binned entropies against an independent numpy count, and the identities of Section 1."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from infoflow_core.experiments.binning import (
    BinningConfig,
    binary_inputs,
    binning_config,
    record_epochs,
    run_binning,
)


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
    config = BinningConfig(scale="quick", n_bits=6, widths=(6, 5, 3, 2), epochs=60, n_records=6,
                           bin_sizes=(2.0, 0.5, 0.1, 0.01, 1e-12))
    return run_binning(config, generator=torch.Generator().manual_seed(3), progress=False)


def test_binary_inputs_are_all_distinct_and_balanced():
    x, y = binary_inputs(7)
    assert x.shape == (128, 7) and x.dtype == torch.float64
    assert torch.unique(x, dim=0).shape[0] == 128  # every vector of {−1, 1}^7 once
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    assert int(y.sum()) == 64  # the XOR of two 3-bit majorities is balanced
    # the rule, checked input by input
    expect = [int((r[0] + r[1] + r[2]) * (r[3] + r[4] + r[5]) > 0) for r in x.tolist()]
    assert y.tolist() == expect


def test_record_epochs_are_log_spaced_and_include_ends():
    e = record_epochs(1000, 20)
    assert e[0] == 0 and e[-1] == 1000
    assert np.all(np.diff(e) > 0)
    assert len(e) <= 20


def test_shapes_and_units(small_run):
    r = small_run
    n_rec, n_layers, n_bins = r.h_binned.shape
    assert (n_layers, n_bins) == (2, 5)
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
                assert r.h_binned[i, k, j] == pytest.approx(_numpy_binned_entropy(reps[i], b), abs=1e-12)


def test_bounds_one_bin_and_tiny_bins(small_run):
    r = small_run
    ln_n = math.log(64)
    assert np.all(r.h_binned >= -1e-12)
    assert np.all(r.h_binned <= ln_n + 1e-12)  # H(Bin(T)) = I(X; Bin(T)) ≤ H(X)
    assert np.allclose(r.h_binned[:, :, 0], 0.0, atol=1e-12)  # bin size 2: a single cell
    # the map is injective, so bins far below the smallest distance separate every input
    assert np.all(r.n_distinct == 64)
    assert np.all(r.min_distance > 1e-12 * math.sqrt(5))
    assert np.allclose(r.h_binned[:, :, -1], ln_n, atol=1e-12)
    # coarser bins never see more cells than finer ones nested in them (0.5 → 0.1 is not
    # nested, but 2 → 0.5 → 0.01 → 1e-12 grids are unions of finer cells starting at −1)
    nested = [0, 1, 3, 4]
    assert np.all(np.diff(r.h_binned[:, :, nested], axis=2) >= -1e-12)


def test_same_generator_same_run():
    config = BinningConfig(scale="quick", n_bits=6, widths=(6, 4, 2), epochs=20, n_records=4, bin_sizes=(0.1,))
    a = run_binning(config, generator=torch.Generator().manual_seed(7), progress=False)
    b = run_binning(config, generator=torch.Generator().manual_seed(7), progress=False)
    c = run_binning(config, generator=torch.Generator().manual_seed(8), progress=False)
    assert np.array_equal(a.representations[0], b.representations[0])
    assert not np.array_equal(a.representations[0], c.representations[0])


def test_training_learns_the_rule():
    # 300 full-batch Adam steps fit the 64 inputs (the rule needs a hidden layer).
    config = BinningConfig(scale="quick", n_bits=6, widths=(6, 8, 4, 2), epochs=300, n_records=3, bin_sizes=(0.1,))
    r = run_binning(config, generator=torch.Generator().manual_seed(0), progress=False)
    assert r.accuracy[-1] == 1.0
    assert r.loss[-1] < 0.1 < r.loss[0]


def test_scales():
    assert binning_config("quick").epochs < binning_config("book").epochs < binning_config("full").epochs
    assert binning_config("quick", lr=0.003).lr == 0.003


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
        BinningConfig(**kwargs)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="config"):
        run_binning({"epochs": 3})
    with pytest.raises(ValueError, match="n_bits"):
        binary_inputs(3)
    with pytest.raises(ValueError, match="scale"):
        binning_config("medium")
