"""The fused C kernels (infoflow_core._native) against float64 brute force and the torch paths.

Tolerances: float32 inputs, float32 distances and exponentials, float64 combination;
measured errors are ~3e-7 relative, the tests allow TOL32 (as tests/test_kernels.py).
"""

from __future__ import annotations

import math
import os
import shutil

import pytest
import torch

from infoflow_core import _kernels, _kernels_pruned, _native

TOL32 = 2e-5  # relative, on a 1-nat scale (as tests/test_kernels.py)
HAVE_CC = shutil.which(os.environ.get("CC") or "cc") is not None
needs_native = pytest.mark.skipif(not (HAVE_CC and _native.available()), reason=f"C kernels: {_native.status()}")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _brute(x, c, beta):
    """float64 log Σ_j exp(−‖x_i − c_j‖²/2β²) of the float32 inputs, by explicit differences."""
    d2 = ((x.double()[:, None, :] - c.double()[None, :, :]) ** 2).sum(-1)
    return torch.logsumexp(-d2 / (2 * beta * beta), dim=1)


def _rel(got, ref):
    return float(((got.double() - ref).abs() / ref.abs().clamp_min(1.0)).max())


@pytest.fixture
def torch_only(monkeypatch):
    """The library with the C kernels switched off (the torch reference paths)."""
    monkeypatch.setattr(_native, "_STATE", {"lib": None, "why": "switched off by the test"})


def test_compiles_where_a_compiler_exists():
    if not HAVE_CC:
        pytest.skip("no C compiler on this machine")
    assert _native.available(), _native.status()
    assert _native.status() == "compiled C kernels (float32, CPU)"


@needs_native
@pytest.mark.parametrize("d", [1, 2, 5, 8, 9, 12, 17, 40, 64])
@pytest.mark.parametrize("m,n", [(1, 1), (3, 7), (5, 257), (37, 1000)])
def test_dense_matches_brute_force(d, m, n):
    # Ragged sizes: queries not a multiple of the 4-query register block, centres not a
    # multiple of the 8 lanes nor of the 256-centre block.
    x = torch.randn(m, d, generator=_gen(d * 1000 + m))
    c = 0.7 * torch.randn(n, d, generator=_gen(d * 1000 + n + 1))
    for beta in (0.05, 0.5, 3.0):
        got = _native.lse_dense(x, c.T.contiguous(), -0.5 / beta ** 2)
        assert got.dtype == torch.float64 and got.shape == (m,)
        assert _rel(got, _brute(x, c, beta)) <= TOL32


@needs_native
def test_dense_tasks_leave_out_one_centre_per_query():
    # The nested path's sums: every batch's centre exclude[i] left out of query i's sum,
    # against float64 brute force over the other centres; the only centre gives −inf.
    B, m, n, d, beta = 3, 300, 40, 4, 0.4
    x = torch.randn(B, m, d, generator=_gen(7))
    c = torch.randn(B, n, d, generator=_gen(8))
    skip = torch.randint(0, n, (m,), generator=_gen(9))
    out = torch.empty(B, m, dtype=torch.float64)
    for task in _kernels._dense_tasks(x, c, beta, "auto", out, exclude=skip):
        task()
    d2 = ((x.double().unsqueeze(2) - c.double().unsqueeze(1)) ** 2).sum(-1)  # (B, m, n)
    d2[:, torch.arange(m), skip] = math.inf
    want = torch.logsumexp(-d2 / (2 * beta ** 2), dim=-1)
    assert _rel(out, want) <= TOL32
    one = torch.empty(1, 2, dtype=torch.float64)
    for task in _kernels._dense_tasks(x[:1, :2], c[:1, :1], beta, "auto", one, exclude=torch.zeros(2, dtype=torch.long)):
        task()
    assert torch.isneginf(one).all()


def test_dense_tasks_exclude_needs_c():
    x = torch.zeros(1, 2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="exclude"):
        _kernels._dense_tasks(x, x, 1.0, "auto", torch.empty(1, 2, dtype=torch.float64),
                              exclude=torch.zeros(2, dtype=torch.long))


@needs_native
def test_dense_far_queries_and_exp_floor():
    # Queries far from every centre (exponents ~ −1e7) and centres spread so that most
    # terms fall below the floor: the sum is the nearest term's, exactly as brute force.
    c = torch.linspace(-50, 50, 513).unsqueeze(1)
    x = torch.tensor([[-3000.0], [0.013], [49.99], [2500.0]])
    got = _native.lse_dense(x, c.T.contiguous(), -0.5 / 0.1 ** 2)
    assert _rel(got, _brute(x, c, 0.1)) <= TOL32


@needs_native
@pytest.mark.parametrize("d", [1, 4, 10])
def test_pieces_match_brute_force(d):
    # Blocks with padding slots (counts < leaf) and empty member slots (−1 -> −inf).
    nb, leaf, g = 5, 24, 6
    blocks = torch.randn(nb, leaf, d, generator=_gen(d))
    counts = torch.tensor([24, 1, 9, 17, 8], dtype=torch.int64)
    x = torch.randn(11, d, generator=_gen(d + 1))
    members = torch.randint(0, 11, (7, g), generator=_gen(d + 2))
    members[1, 2:] = -1
    members[4, 0] = -1
    piece_blk = torch.tensor([0, 1, 2, 3, 4, 2, 0])
    beta = 0.8
    got = _native.lse_pieces(x, blocks.transpose(1, 2).contiguous(), counts, members, piece_blk, -0.5 / beta ** 2)
    for p in range(7):
        b = int(piece_blk[p])
        for k in range(g):
            i = int(members[p, k])
            if i < 0:
                assert got[p, k] == -math.inf
            else:
                ref = _brute(x[i:i + 1], blocks[b, :int(counts[b])], beta)
                assert _rel(got[p, k:k + 1], ref) <= TOL32


@needs_native
@pytest.mark.parametrize("d,beta", [(1, 0.01), (3, 0.05), (4, 0.005), (10, 0.2), (20, 0.3)])
def test_kept_blocks_are_the_torch_search(d, beta, monkeypatch):
    # The C tree search keeps exactly the (block, query) pairs of the torch search.
    c = 0.5 * torch.randn(20_001, d, generator=_gen(d))
    x = c[::7][:2000] + beta * torch.randn(2000, d, generator=_gen(d + 1))
    part = _kernels_pruned.Partition(c, 256)
    sh = _kernels.shift(c.unsqueeze(0))
    b1, q1 = _kernels_pruned._kept_pairs(x, part, beta, sh)
    monkeypatch.setattr(_native, "_STATE", {"lib": None, "why": "switched off by the test"})
    b2, q2 = _kernels_pruned._kept_pairs(x, part, beta, sh)
    assert torch.equal(b1, b2) and torch.equal(q1, q2)


@needs_native
@pytest.mark.parametrize("method", ["dense", "pruned", "auto"])
@pytest.mark.parametrize("d", [2, 5, 12, 20])
def test_library_paths_agree_with_and_without_c(method, d, monkeypatch):
    # log_kernel_sums on float32 CPU tensors: the C kernels and the torch tiles both
    # within TOL32 of float64 brute force (batched mixtures, spread and crowded).
    x = torch.randn(2, 700, d, generator=_gen(d))
    c = torch.cat([0.3 * torch.randn(2, 2500, d, generator=_gen(d + 1)),
                   3.0 + 0.01 * torch.randn(2, 2500, d, generator=_gen(d + 2))], dim=1)
    beta = 0.05
    ref = torch.stack([_brute(x[b], c[b], beta) for b in range(2)])
    fast = _kernels.log_kernel_sums(x, c, beta, method=method)
    monkeypatch.setattr(_native, "_STATE", {"lib": None, "why": "switched off by the test"})
    slow = _kernels.log_kernel_sums(x, c, beta, method=method)
    assert fast.dtype == slow.dtype == torch.float32
    assert _rel(fast, ref) <= TOL32 and _rel(slow, ref) <= TOL32


def test_float64_never_uses_c():
    x = torch.zeros(3, 2, dtype=torch.float64)
    assert not _native.usable(x, x)
    assert not _native.usable(torch.zeros(3, 2), torch.zeros(3, 2), leaf=_native.MAX_LEAF + 1)
    assert not _native.usable(torch.zeros(3, _native.MAX_DIM + 1), torch.zeros(3, _native.MAX_DIM + 1))


def test_torch_paths_run_when_c_is_off(torch_only):
    x = torch.randn(1, 50, 3, generator=_gen(0))
    c = torch.randn(1, 3000, 3, generator=_gen(1))
    assert not _native.available() and "switched off" in _native.status()
    got = _kernels.log_kernel_sums(x, c, 0.3, method="pruned")
    assert _rel(got[0], _brute(x[0], c[0], 0.3)) <= TOL32


def test_no_compiler_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("INFOFLOW_NATIVE_DIR", str(tmp_path / "cache"))
    assert not _native.available()
    assert "no C compiler" in _native.status()


def test_compile_error_falls_back(monkeypatch, tmp_path):
    if not HAVE_CC:
        pytest.skip("no C compiler on this machine")
    bad = tmp_path / "kernels.c"
    bad.write_text("this is not C\n")
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setattr(_native, "SOURCE", bad)
    monkeypatch.setenv("INFOFLOW_NATIVE_DIR", str(tmp_path / "cache"))
    assert not _native.available()
    assert "failed" in _native.status()
    assert not list((tmp_path / "cache").glob("*.so"))  # nothing half-written left behind


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setenv(_native.ENV_SWITCH, "0")
    assert not _native.available() and "disabled" in _native.status()


def test_compiled_once_per_source(monkeypatch, tmp_path):
    if not HAVE_CC:
        pytest.skip("no C compiler on this machine")
    monkeypatch.setenv("INFOFLOW_NATIVE_DIR", str(tmp_path))
    first = _native._compile()
    stamp = first.stat().st_mtime_ns
    assert _native._compile() == first and first.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def _is_kd_split(c, order, levels):
    """Every node's centres split at ceil(c/2) with one coordinate separating the halves."""
    segs = [order]
    for _ in range(levels):
        nxt = []
        for s in segs:
            half = (len(s) + 1) // 2
            left, right = c[s[:half]], c[s[half:]]
            if len(right) and not bool((left.amax(0) <= right.amin(0)).any()):
                return False
            nxt += [s[:half], s[half:]]
        segs = nxt
    return True


@needs_native
@pytest.mark.parametrize("kind", ["gaussian", "ties", "identical", "one-d"])
def test_kd_order_is_a_balanced_kd_tree(kind):
    g = _gen(5)
    n = 5003
    c = {"gaussian": torch.randn(n, 3, generator=g),
         "ties": torch.randint(0, 3, (n, 4), generator=g).float(),  # saturated units: few distinct values
         "identical": torch.ones(n, 2),
         "one-d": torch.randn(n, 1, generator=g)}[kind]
    levels = 5
    order = _native.kd_order(c, levels)
    assert torch.equal(order.sort().values, torch.arange(n))  # a permutation
    assert _is_kd_split(c, order, levels)
    part = _kernels_pruned.Partition(c, 200)  # the library's partition, built with it
    assert int(part.counts.sum()) == n and int(part.counts.max()) - int(part.counts.min()) <= 1
    x = c[:64] + 0.01
    assert _rel(_kernels.log_kernel_sums(x[None], c[None], 0.3, method="pruned")[0], _brute(x, c, 0.3)) <= TOL32


def test_unwritable_cache_uses_the_temporary_folder(monkeypatch, tmp_path):
    if not HAVE_CC:
        pytest.skip("no C compiler on this machine")
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the cache folder's parent should be: mkdir fails
    monkeypatch.setenv("INFOFLOW_NATIVE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(_native.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    path = _native._compile()
    assert path.parent.parent == tmp_path / "tmp" and path.exists()


@needs_native
def test_kd_order_split_over_workers_is_the_same(monkeypatch):
    # Above KD_PARALLEL_MIN centres the segments below the top levels are built on the
    # workers: the same order as one sequential build, at 1 and 2 threads.
    c = torch.randn(_native.KD_PARALLEL_MIN + 4321, 3, generator=_gen(9))
    levels = 8
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = _native.kd_order(c, levels)
        torch.set_num_threads(1)
        one = _native.kd_order(c, levels)
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setattr(_native, "KD_PARALLEL_MIN", 1 << 40)
    sequential = _native.kd_order(c, levels)
    assert torch.equal(two, sequential) and torch.equal(one, sequential)
    assert _is_kd_split(c, sequential, 3)


def test_compiler_without_march_native_gets_portable_flags(monkeypatch, tmp_path):
    # A compiler that refuses -march=native (as some Clang builds for arm64 do): the kernels
    # are built with the portable flags and still pass their self-check.
    real = shutil.which(os.environ.get("CC") or "cc")
    if real is None:
        pytest.skip("no C compiler on this machine")
    fake = tmp_path / "picky-cc"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = "-march=native" ] && exit 1; done\nexec {real} "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(_native, "_STATE", {})
    monkeypatch.setenv("CC", str(fake))
    monkeypatch.setenv("INFOFLOW_NATIVE_DIR", str(tmp_path / "cache"))
    assert _native.available(), _native.status()
