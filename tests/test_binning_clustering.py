"""Binning against a plain numpy count; distances against a brute-force loop."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from infoflow_core import (binned_entropy, binned_entropy_per_unit, cosine_similarities,
                           pairwise_distance_histograms, pairwise_distances_by_class)
from infoflow_core.binning import bin_edges, bin_indices


def numpy_binned_entropy(t, bin_size, lo=-1.0, hi=1.0):
    k = math.ceil((hi - lo) / bin_size - 1e-9)
    idx = np.clip(np.floor((t - lo) / bin_size).astype(int), 0, k - 1)
    counts = {}
    for row in map(tuple, idx):
        counts[row] = counts.get(row, 0) + 1
    p = np.array(list(counts.values()), dtype=float) / len(idx)
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("bin_size", [2.0, 0.5, 0.1, 0.013, 1e-4])
def test_binned_entropy_matches_numpy_count(bin_size):
    t = np.tanh(np.random.default_rng(0).normal(size=(500, 3)) * 2)
    got = binned_entropy(torch.from_numpy(t), bin_size=bin_size)
    assert got == pytest.approx(numpy_binned_entropy(t, bin_size), abs=1e-12)
    assert 0.0 <= got <= math.log(500) + 1e-12


def test_binned_entropy_limits():
    t = torch.rand(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert binned_entropy(t, bin_size=2.0) == 0.0  # one cell
    assert binned_entropy(t, bin_size=1e-9) == pytest.approx(math.log(64), abs=1e-12)  # distinct rows


def test_per_unit_matches_numpy():
    t = np.tanh(np.random.default_rng(1).normal(size=(300, 4)))
    got = binned_entropy_per_unit(torch.from_numpy(t), bin_size=0.25)
    ref = [numpy_binned_entropy(t[:, [k]], 0.25) for k in range(4)]
    assert got.shape == (4,)
    assert got.tolist() == pytest.approx(ref, abs=1e-12)


def test_value_range_and_bad_bins():
    t = torch.tensor([[0.0], [5.0], [10.0]])
    # Bins [0, 5) and [5, 10] (the top edge joins the last bin): counts 1 and 2.
    assert binned_entropy(t, bin_size=5.0, value_range=(0, 10)) == pytest.approx(math.log(3) - 2 / 3 * math.log(2), abs=1e-12)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="bin_size"):
            binned_entropy(t, bin_size=bad)
    with pytest.raises(ValueError, match="value_range"):
        binned_entropy(t, bin_size=1.0, value_range=(1, 1))
    with pytest.raises(ValueError, match=r"t must be a 2-D tensor of shape \(n, d\), got shape \(3,\)"):
        binned_entropy(torch.zeros(3), bin_size=1.0)
    with pytest.raises(ValueError, match="t contains"):
        binned_entropy(torch.tensor([[float("nan")]]), bin_size=1.0)


def brute_force_distances(t, labels):
    within, between = [], []
    for i, j in itertools.combinations(range(len(t)), 2):
        dist = math.sqrt(sum((a - b) ** 2 for a, b in zip(t[i], t[j])))
        (within if labels[i] == labels[j] else between).append(dist)
    return within, between


def test_pairwise_distances_against_loop():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(40, 3))
    labels = rng.integers(0, 3, size=40)
    within, between = pairwise_distances_by_class(torch.from_numpy(t), torch.from_numpy(labels))
    w_ref, b_ref = brute_force_distances(t.tolist(), labels.tolist())
    assert within.tolist() == pytest.approx(w_ref, abs=1e-12)
    assert between.tolist() == pytest.approx(b_ref, abs=1e-12)


def test_histograms_match_numpy_histogram():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(120, 5))
    labels = rng.integers(0, 2, size=120)
    w_ref, b_ref = brute_force_distances(t.tolist(), labels.tolist())
    edges = np.linspace(0, 6, 25)
    w, b = pairwise_distance_histograms(torch.from_numpy(t), torch.from_numpy(labels), torch.from_numpy(edges))
    assert w.tolist() == np.histogram(w_ref, edges)[0].tolist()
    assert b.tolist() == np.histogram(b_ref, edges)[0].tolist()


def test_clipped_log_spaced_histograms_count_every_pair():
    # Log-spaced edges from 1e-3: with clip=True distances outside [1e-3, 1] count in
    # the end bins. Reference: all pairs in numpy, clipped, numpy.histogram of log10.
    g = torch.Generator().manual_seed(1)
    t = torch.rand(200, 2, generator=g, dtype=torch.float64) * 0.1
    t[:5] += 3.0  # some distances above the last edge
    labels = torch.randint(0, 2, (200,), generator=g)
    edges = torch.logspace(-3, 0, 16, dtype=torch.float64)
    w, b = pairwise_distance_histograms(t, labels, edges, clip=True)
    x, lab = t.numpy(), labels.numpy()
    i, j = np.triu_indices(200, k=1)
    dist = np.clip(np.linalg.norm(x[i] - x[j], axis=1), 1e-3, 1.0)
    same = lab[i] == lab[j]
    ref_w, _ = np.histogram(np.log10(dist[same]), bins=np.linspace(-3, 0, 16))
    ref_b, _ = np.histogram(np.log10(dist[~same]), bins=np.linspace(-3, 0, 16))
    assert int(w.sum()) == same.sum() and int(b.sum()) == (~same).sum()
    # log10 of an edge may round to either side of the numpy reference's edge.
    assert np.abs(w.numpy() - ref_w).max() <= 1 and np.abs(b.numpy() - ref_b).max() <= 1


def test_gram_histograms_equal_direct_ones_for_wide_float64_layers():
    """method="gram" (matrix products) against the direct distances and numpy's brute
    force: the same counts for a wide float64 layer, where d·eps·(‖a‖² + ‖b‖²) ≈ 1e-11
    is far below the distance to the nearest edge of any pair (checked)."""
    rng = np.random.default_rng(5)
    t = np.tanh(rng.normal(size=(160, 3000))) / np.sqrt(3000)  # RMS-scaled, like the MNIST analysis
    labels = rng.integers(0, 3, size=160)
    w_ref, b_ref = brute_force_distances(t.tolist(), labels.tolist())
    edges = np.linspace(0.0, 1.6, 41)
    gaps = np.abs(np.concatenate([w_ref, b_ref])[:, None] - edges[None, :]).min()
    assert gaps > 1e-9  # no pair sits on an edge, so both methods must agree exactly
    tt, ll, ee = torch.from_numpy(t), torch.from_numpy(labels), torch.from_numpy(edges)
    wd, bd = pairwise_distance_histograms(tt, ll, ee)
    wg, bg = pairwise_distance_histograms(tt, ll, ee, method="gram")
    assert wg.tolist() == wd.tolist() == np.histogram(w_ref, edges)[0].tolist()
    assert bg.tolist() == bd.tolist() == np.histogram(b_ref, edges)[0].tolist()
    with pytest.raises(ValueError, match="method must be 'direct' or 'gram'"):
        pairwise_distance_histograms(tt, ll, ee, method="mm")


def test_histograms_with_many_classes_and_float32():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(150, 4))
    labels = rng.integers(0, 5, size=150)
    w_ref, b_ref = brute_force_distances(t.tolist(), labels.tolist())
    edges = np.linspace(0, 8, 17)
    w, b = pairwise_distance_histograms(torch.from_numpy(t).float(), torch.from_numpy(labels), torch.from_numpy(edges))
    # float32 distances: a pair within 1e-5 of an edge may land in the neighbouring bin.
    assert np.abs(w.numpy() - np.histogram(w_ref, edges)[0]).max() <= 1
    assert np.abs(b.numpy() - np.histogram(b_ref, edges)[0]).max() <= 1
    assert int(w.sum() + b.sum()) == 150 * 149 // 2


def test_distances_bad_input():
    with pytest.raises(ValueError, match="labels must have one entry per row"):
        pairwise_distances_by_class(torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="labels must be 1-D"):
        pairwise_distances_by_class(torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="bins"):
        pairwise_distance_histograms(torch.zeros(3, 2), torch.zeros(3), torch.tensor([1.0, 0.0]))


def test_cosine_similarities():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(50, 8)), rng.normal(size=(50, 8))
    got = cosine_similarities(torch.from_numpy(a), torch.from_numpy(b))
    ref = [float(x @ y / np.linalg.norm(x) / np.linalg.norm(y)) for x, y in zip(a, b)]
    assert got.tolist() == pytest.approx(ref, abs=1e-12)
    assert cosine_similarities(torch.from_numpy(a), torch.from_numpy(2 * a)).tolist() == pytest.approx([1.0] * 50)
    with pytest.raises(ValueError, match="same shape"):
        cosine_similarities(torch.zeros(3, 2), torch.zeros(3, 3))


# --- bin edges: an exact reference that shares nothing with bin_indices ---------------

def reference_bin(t: float, edges: list[float]) -> int:
    """The bin of ``t`` by exact rational comparisons with an explicit edge list:
    bin k holds Fraction(e_k) ≤ t < Fraction(e_{k+1}); the top edge belongs to the
    last bin; values below the first edge go to bin 0, above the last to bin K−1."""
    x = Fraction(t)
    fe = [Fraction(e) for e in edges]
    K = len(edges) - 1
    if x < fe[0]:
        return 0
    if x >= fe[K]:
        return K - 1
    return next(k for k in range(K) if fe[k] <= x < fe[k + 1])


def _around(values):
    """Each value and its float64 neighbours on both sides."""
    return [w for v in values for w in (np.nextafter(v, -np.inf), v, np.nextafter(v, np.inf))]


@pytest.mark.parametrize("bin_size, value_range, n_bins", [
    (0.25, (-1.0, 1.0), 8),  # dyadic: lo + k·s is exact
    (2.5, (0.0, 10.0), 4),
    (0.02, (-1.0, 1.0), 100),  # not representable: the edges are the float64 values of lo + k·s
    (0.1, (-1.0, 1.0), 20),
    (0.3, (-1.0, 1.0), 7),  # 2/0.3 is not whole: the last bin reaches past hi
])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_values_on_and_beside_every_edge(bin_size, value_range, n_bins, dtype):
    lo, hi = value_range
    edges = [lo + k * bin_size for k in range(n_bins + 1)]  # listed explicitly (the documented edges)
    assert bin_edges(bin_size=bin_size, value_range=value_range).tolist() == edges
    values = _around(edges + [hi, lo - 5.0, hi + 5.0, 0.5 * (lo + hi)])
    t = torch.tensor(values, dtype=dtype).reshape(-1, 1)
    got = bin_indices(t, bin_size=bin_size, value_range=value_range)[:, 0].tolist()
    want = [reference_bin(float(v), edges) for v in t[:, 0].tolist()]  # the exact value of each input
    assert got == want


def test_interior_edges_and_top_value_with_100_bins():
    """The reported defect: with 100 bins over [−1, 1], 1.0 is in the last bin (99)
    and −1 + k·0.02 in bin k (it starts there), never in bin k − 1."""
    t = torch.tensor([-1.0 + k * 0.02 for k in range(100)] + [1.0], dtype=torch.float64).reshape(-1, 1)
    assert bin_indices(t, bin_size=0.02)[:, 0].tolist() == list(range(100)) + [99]
    # The same through binned_entropy: 101 values in 100 bins, one bin holding two.
    assert binned_entropy(t, bin_size=0.02) == pytest.approx(math.log(101) - 2 * math.log(2) / 101, abs=1e-12)


def test_exact_rational_bins_for_random_dyadic_values():
    """Random values on a fine dyadic grid (many exactly on edges), bins by exact
    rational arithmetic: k = ⌊(t − lo) / s⌋ in Fractions, clipped into [0, K)."""
    rng = np.random.default_rng(0)
    t = rng.integers(-80, 81, size=(400, 3)) / 64.0  # multiples of 1/64 in [−1.25, 1.25]
    got = bin_indices(torch.from_numpy(t), bin_size=0.125)
    for v, k in zip(t.reshape(-1), got.reshape(-1).tolist()):
        exact = math.floor((Fraction(v) + 1) / Fraction(1, 8))
        assert k == min(max(exact, 0), 15), (v, k)


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_input(device, dtype):
    t = torch.rand(20, 3, dtype=dtype, generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.arange(20, device=device) % 3
    idx = bin_indices(t, bin_size=0.1)
    assert idx.dtype == torch.int64 and idx.device == t.device and idx.shape == (20, 3)
    per = binned_entropy_per_unit(t, bin_size=0.1)
    assert per.dtype == torch.float64 and per.device == t.device  # documented: float64
    assert type(binned_entropy(t, bin_size=0.1)) is float
    w, b = pairwise_distances_by_class(t, labels)
    assert w.dtype == b.dtype == dtype and w.device == b.device == t.device
    cs = cosine_similarities(t, t)
    assert cs.dtype == dtype and cs.device == t.device


# --- bins given by their number over value_range (IDNNs' way) ---------------------------

@pytest.mark.parametrize("n_bins, value_range", [(30, (-1.0, 1.0)), (29, (-1.0, 1.0)), (7, (-1.0, 1.0)),
                                                 (100, (-1.0, 1.0)), (3, (0.0, 10.0))])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_n_bins_on_and_beside_every_edge(n_bins, value_range, dtype):
    """Edges lo + k·s with s = (hi − lo)/n_bins (float64), listed explicitly; every
    edge, its float neighbours, hi, and far-out values against the Fraction reference."""
    lo, hi = value_range
    s = (hi - lo) / n_bins
    edges = [lo + k * s for k in range(n_bins + 1)]
    assert bin_edges(n_bins=n_bins, value_range=value_range).tolist() == edges
    values = _around(edges + [hi, lo - 5.0, hi + 5.0, 0.5 * (lo + hi)])
    t = torch.tensor(values, dtype=dtype).reshape(-1, 1)
    got = bin_indices(t, n_bins=n_bins, value_range=value_range)[:, 0].tolist()
    assert got == [reference_bin(float(v), edges) for v in t[:, 0].tolist()]
    assert max(got) == n_bins - 1


def test_saturated_tanh_top_value_with_30_bins():
    """+1.0 (a saturated tanh) is in the last of 30 bins over [−1, 1], with the values just below it;
    −1.0 in the first. A layer saturated at ±1 has two cells."""
    t = torch.tanh(torch.tensor([[-40.0], [-1e-3], [0.0], [3.0], [40.0]], dtype=torch.float64))
    assert t[4, 0] == 1.0 and t[0, 0] == -1.0
    assert bin_indices(t, n_bins=30)[:, 0].tolist() == [0, 14, 15, 29, 29]
    sat = torch.tensor([[1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [np.nextafter(1.0, 0), -1.0]])
    assert bin_indices(sat, n_bins=30).tolist() == [[29, 0], [29, 0], [0, 29], [29, 0]]
    assert binned_entropy(sat, n_bins=30) == pytest.approx(math.log(4) - 0.75 * math.log(3), abs=1e-12)


def test_n_bins_equals_the_bin_size_it_implies():
    t = torch.rand(300, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for n_bins, bin_size in ((8, 0.25), (4, 0.5), (2, 1.0)):  # exact widths: identical edges
        assert torch.equal(bin_indices(t, n_bins=n_bins), bin_indices(t, bin_size=bin_size))
        assert binned_entropy(t, n_bins=n_bins) == binned_entropy(t, bin_size=bin_size)
        assert binned_entropy(t, n_bins=n_bins) == pytest.approx(numpy_binned_entropy(t.numpy(), bin_size), abs=1e-12)
        assert torch.equal(binned_entropy_per_unit(t, n_bins=n_bins), binned_entropy_per_unit(t, bin_size=bin_size))


def test_bits_and_exactly_one_of_bin_size_and_n_bins():
    t = torch.rand(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert binned_entropy(t, n_bins=10, unit="bits") == pytest.approx(binned_entropy(t, n_bins=10) / math.log(2),
                                                                     rel=1e-15)
    assert binned_entropy_per_unit(t, bin_size=0.1, unit="bits").tolist() == pytest.approx(
        (binned_entropy_per_unit(t, bin_size=0.1) / math.log(2)).tolist(), rel=1e-15)
    for kwargs in ({}, {"bin_size": 0.1, "n_bins": 20}):
        for f in (binned_entropy, binned_entropy_per_unit, bin_indices):
            with pytest.raises(ValueError, match="exactly one of bin_size and n_bins"):
                f(t, **kwargs)
        with pytest.raises(ValueError, match="exactly one"):
            bin_edges(**kwargs)
    for bad in (0, -3, 2.5, "ten", True):
        with pytest.raises(ValueError, match="n_bins"):
            binned_entropy(t, n_bins=bad)
    with pytest.raises(ValueError, match="unit"):
        binned_entropy(t, n_bins=3, unit="nat")


def _brute_label_information(cells: list, labels: list) -> float:
    """Σ p(c, y) ln(p(c, y) / (p(c) p(y))) by counting, in float64."""
    from collections import Counter
    n = len(cells)
    pc, py, pj = Counter(cells), Counter(labels), Counter(zip(cells, labels))
    return sum(k / n * math.log((k / n) / (pc[c] / n * py[y] / n)) for (c, y), k in pj.items())


@pytest.mark.parametrize("seed", range(5))
def test_binned_label_information_matches_counting(seed):
    """I(Bin(T); Y) against a brute-force count over (cell, label) pairs, to 1e-12;
    within [0, min(H(Bin T), H(Y))]."""
    from infoflow_core.binning import bin_indices, binned_entropy, binned_label_information
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(300, 3, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.randint(0, 3, (300,), generator=g)
    for n_bins in (1, 2, 4, 30):
        value = binned_label_information(t, y, n_bins=n_bins)
        cells = [tuple(r) for r in bin_indices(t, n_bins=n_bins).tolist()]
        assert value == pytest.approx(_brute_label_information(cells, y.tolist()), abs=1e-12)
        h_y = _brute_label_information(y.tolist(), y.tolist())
        assert -1e-12 <= value <= min(binned_entropy(t, n_bins=n_bins), h_y) + 1e-12
    assert binned_label_information(t, y, n_bins=1) == 0.0
    assert binned_label_information(t, y.numpy(), n_bins=4, unit="bits") == pytest.approx(
        binned_label_information(t, y, n_bins=4) / math.log(2), rel=1e-12)


def test_binned_label_information_bad_labels():
    from infoflow_core.binning import binned_label_information
    t = torch.zeros(4, 2)
    for bad in (torch.zeros(3, dtype=torch.long), torch.zeros(4), torch.zeros(4, dtype=torch.bool), [0, 1, 0, 1]):
        with pytest.raises(ValueError, match="labels"):
            binned_label_information(t, bad, n_bins=2)


# --- bins as users write them: np.linspace edges, np.digitize / np.histogram semantics ------

def _numpy_bins(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.digitize's bins, bin k = [e_k, e_{k+1}), with the top edge and values outside
    the edges clipped into the end bins (v compared in float64, as NumPy promotes it)."""
    return np.clip(np.digitize(v.astype(np.float64), edges) - 1, 0, len(edges) - 2)


def _entropy_of(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


LINSPACE_RANGES = [(-1.0, 1.0), (-3.7, 2.2), (0.3, 7.9), (-6.1, -0.45)]  # both signs, one side only, other widths


@pytest.mark.parametrize("nb", [30, 100, 101, 256])
@pytest.mark.parametrize("value_range", LINSPACE_RANGES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_values_on_linspace_edges_match_digitize_and_histogram(nb, value_range, dtype):
    """Values exactly on the edges np.linspace(lo, hi, nb) (and beside them, and far out),
    binned with n_bins = nb − 1, bin_size = (hi − lo)/(nb − 1) and edges = the linspace:
    the indices of np.digitize, the counts of np.histogram, and entropies equal to 1e-12
    (exact counts). float32 input is compared as the float64 value of each float32."""
    lo, hi = value_range
    e = np.linspace(lo, hi, nb)
    K = nb - 1
    assert bin_edges(n_bins=K, value_range=value_range).numpy().tolist() == e.tolist()
    assert bin_edges(bin_size=(hi - lo) / K, value_range=value_range).numpy()[:-1].tolist() == e[:-1].tolist()
    values = np.array(_around(e.tolist()) + [lo - 5.0, hi + 5.0, 0.5 * (lo + hi)])
    t = torch.tensor(values, dtype=dtype).reshape(-1, 1)
    v = t[:, 0].double().numpy()  # what the comparisons see: float32 input widened exactly
    want = _numpy_bins(v, e)
    for kw in (dict(n_bins=K, value_range=value_range), dict(bin_size=(hi - lo) / K, value_range=value_range),
               dict(edges=e), dict(edges=torch.from_numpy(e)), dict(edges=e.tolist())):
        assert bin_indices(t, **kw)[:, 0].tolist() == want.tolist(), kw
    # np.histogram (which drops values outside [lo, hi]) on the in-range values: the same counts
    inside = (v >= lo) & (v <= hi)
    counts = np.histogram(v[inside], bins=e)[0]
    assert np.bincount(want[inside], minlength=K).tolist() == counts.tolist()
    h_ref = _entropy_of(counts.astype(float))
    for kw in (dict(n_bins=K, value_range=value_range), dict(bin_size=(hi - lo) / K, value_range=value_range),
               dict(edges=e)):
        assert binned_entropy(t[torch.from_numpy(inside)], **kw) == pytest.approx(h_ref, abs=1e-12)


@pytest.mark.parametrize("nb", [30, 100, 101, 256])
@pytest.mark.parametrize("value_range", LINSPACE_RANGES)
def test_linspace_values_fill_every_bin(nb, value_range):
    """The nb values np.linspace(lo, hi, nb) fill the nb − 1 bins one each, the top value
    joining the last: H = ln nb − 2 ln 2 / nb (≈ ln(nb − 1)), with bin_size = (hi − lo)/(nb − 1),
    n_bins = nb − 1 or edges = the same linspace, equal to np.histogram's count to 1e-12."""
    lo, hi = value_range
    v = np.linspace(lo, hi, nb)
    t = torch.from_numpy(v)[:, None]
    h_hist = _entropy_of(np.histogram(v, bins=v)[0].astype(float))
    expected = math.log(nb) - 2 * math.log(2) / nb
    assert h_hist == pytest.approx(expected, abs=1e-12)
    for kw in (dict(bin_size=(hi - lo) / (nb - 1), value_range=value_range),
               dict(n_bins=nb - 1, value_range=value_range), dict(edges=v)):
        assert binned_entropy(t, **kw) == pytest.approx(h_hist, abs=1e-12)
        assert bin_indices(t, **kw)[:, 0].tolist() == list(range(nb - 1)) + [nb - 2]
    # −v is not np.linspace(−hi, −lo, nb) (rounding is not symmetric), so it need not fill every
    # bin of the mirrored range; it is still binned as np.histogram bins it
    m = np.linspace(-hi, -lo, nb)
    assert binned_entropy(-t, n_bins=nb - 1, value_range=(-hi, -lo)) == pytest.approx(
        _entropy_of(np.histogram(-v, bins=m)[0].astype(float)), abs=1e-12)


@pytest.mark.parametrize("nb", [30, 100, 101, 256])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_linspace_binned_as_numpy_bins_it(nb, dtype):
    """The example of issue 20: binned_entropy(torch.linspace(-1, 1, nb)[:, None], bin_size=2/(nb−1)).
    torch.linspace does not round as np.linspace does, and float32 values are not on float64
    edges, so some values lie just below their edge and go one bin down: in np.digitize and
    np.histogram as here (entropies equal to 1e-12), below ln nb − 2 ln 2 / nb."""
    t = torch.linspace(-1, 1, nb, dtype=dtype)[:, None]
    v = t[:, 0].double().numpy()
    e = np.linspace(-1, 1, nb)
    assert bin_indices(t, bin_size=2 / (nb - 1))[:, 0].tolist() == _numpy_bins(v, e).tolist()
    h_hist = _entropy_of(np.histogram(v, bins=e)[0].astype(float))
    for kw in (dict(bin_size=2 / (nb - 1)), dict(n_bins=nb - 1), dict(edges=e)):
        assert binned_entropy(t, **kw) == pytest.approx(h_hist, abs=1e-12)
    assert (v < e).any() and h_hist < math.log(nb) - 2 * math.log(2) / nb - 0.01


def test_bin_edges_are_numpy_linspace_and_arange():
    """n_bins: np.linspace(lo, hi, K + 1) exactly (top edge hi even where lo + K·s is not);
    bin_size: lo + np.arange(K + 1) * s."""
    for K in range(1, 300):
        for lo, hi in ((-1.0, 1.0), (-3.7, 2.2), (0.3, 7.9)):
            assert bin_edges(n_bins=K, value_range=(lo, hi)).tolist() == np.linspace(lo, hi, K + 1).tolist()
    assert -1.0 + 49 * (2 / 49) != 1.0 and bin_edges(n_bins=49)[-1].item() == 1.0  # a case where it matters
    for s, (lo, hi) in ((0.013, (-1.0, 1.0)), (0.3, (-2.0, 5.0)), (2 / 29, (-1.0, 1.0))):
        e = bin_edges(bin_size=s, value_range=(lo, hi))
        assert e.dtype == torch.float64 and e.tolist() == (lo + np.arange(e.numel()) * s).tolist()
        assert e[-2] < hi <= e[-1] + 1e-12


def test_explicit_uneven_edges_match_digitize():
    """edges=: any strictly increasing edges, as a list, NumPy array (float or int) or tensor
    (float32 edges are used at their float64 values), against np.digitize on random values and
    values on and beside every edge, for every binned function."""
    from infoflow_core.binning import binned_label_information
    rng = np.random.default_rng(3)
    e = np.sort(rng.uniform(-2, 2, size=12))
    v = np.concatenate([rng.uniform(-3, 3, size=300), _around(e.tolist())])
    t = torch.from_numpy(np.stack([v, -v], axis=1))  # (n, 2)
    want = np.stack([_numpy_bins(t[:, j].numpy(), e) for j in range(2)], axis=1)
    for edges in (e, e.tolist(), torch.from_numpy(e), tuple(e)):
        assert bin_indices(t, edges=edges).numpy().tolist() == want.tolist()
    e32 = torch.from_numpy(e).float()
    assert bin_indices(t, edges=e32).numpy().tolist() == \
        np.stack([_numpy_bins(t[:, j].numpy(), e32.double().numpy()) for j in range(2)], axis=1).tolist()
    assert bin_indices(torch.tensor([[-1.0], [0.0], [1.0], [2.0]]), edges=np.array([0, 1, 2])).tolist() == \
        [[0], [0], [1], [1]]
    # every function, edges = np.linspace(-1, 1, 31) ≡ n_bins = 30
    u = torch.rand(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2.4 - 1.2
    y = torch.arange(200) % 3
    lin = np.linspace(-1, 1, 31)
    assert binned_entropy(u, edges=lin) == binned_entropy(u, n_bins=30)
    assert torch.equal(binned_entropy_per_unit(u, edges=lin), binned_entropy_per_unit(u, n_bins=30))
    assert binned_label_information(u, y, edges=lin) == binned_label_information(u, y, n_bins=30)
    per = binned_entropy_per_unit(t, edges=e)
    assert per.tolist() == pytest.approx([_entropy_of(np.bincount(want[:, j]).astype(float)) for j in range(2)],
                                         abs=1e-12)
    assert bin_edges(edges=e).tolist() == e.tolist()


def test_bad_edges():
    from infoflow_core.binning import binned_label_information
    t = torch.zeros(4, 1)
    fns = (lambda **kw: bin_indices(t, **kw), lambda **kw: binned_entropy(t, **kw),
           lambda **kw: binned_entropy_per_unit(t, **kw),
           lambda **kw: binned_label_information(t, torch.zeros(4, dtype=torch.long), **kw), bin_edges)
    bad_edges = ([0.5], [], [[0.0, 1.0], [2.0, 3.0]], [0.0, 1.0, 1.0], [1.0, 0.0], [0.0, float("nan")],
                 [0.0, float("inf")], "0 1", 3.0, [True, False], [0j, 1j], np.array(["a", "b"]),
                 torch.tensor([0.0, 1.0]) > 0.5, torch.tensor([[0.0, 1.0]]), [0.0, "1"])
    for f in fns:
        for bad in bad_edges:
            with pytest.raises(ValueError, match="edges"):
                f(edges=bad)
        with pytest.raises(ValueError, match="exactly one of bin_size and n_bins"):
            f(edges=[0.0, 1.0], bin_size=0.5)
        with pytest.raises(ValueError, match="exactly one of bin_size and n_bins"):
            f(edges=[0.0, 1.0], n_bins=2)
        with pytest.raises(ValueError, match="value_range"):
            f(edges=[0.0, 1.0], value_range=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"edges\[1\] = 1.0 ≥ edges\[2\] = 1.0"):
        bin_indices(t, edges=[0.0, 1.0, 1.0])
