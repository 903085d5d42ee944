"""Every kernel-sum path against an independent float64 brute force.

The reference forms the full (query × centre) matrix of squared distances by
explicit differences in float64 and reduces it with ``torch.logsumexp``; it shares
no code with ``infoflow_core._kernels``. The pruned path skips only terms below
e^{-(ln n + 28)} of each query's largest, so in float64 it must agree to about
1e-12; the tests ask 1e-9 (relative to max(1, |value|): log-sums near 0 have no
relative scale, and 1 nat is the natural unit) and the issue's 1e-6 is implied.
"""

import math

import pytest
import torch

from conftest import make_generator
from infoflow_core import _kernels
from infoflow_core._kernels import choose_method, log_kernel_sums
from infoflow_core.entropy import gm_entropy, gm_entropy_bounds
from infoflow_core.mutual_information import sp_mutual_information

TOL64 = 1e-9  # float64 paths: pruning error ≤ 7e-13, summation order ~1e-15·n
TOL32 = 2e-5  # float32 inputs: float32 distances and sums, vs float64 of the same inputs


def brute_force(x: torch.Tensor, c: torch.Tensor, beta: float) -> torch.Tensor:
    """log Σ_j exp(−‖x_i − c_j‖²/2β²) in float64 over the full matrix, one batch at a time."""
    out = []
    for xb, cb in zip(x.double(), c.double()):
        d2 = ((xb[:, None, :] - cb[None, :, :]) ** 2).sum(-1)  # (m, n)
        out.append(torch.logsumexp(-d2 / (2.0 * beta * beta), dim=1))
    return torch.stack(out)  # (B, m)


def assert_close(got: torch.Tensor, ref: torch.Tensor, tol: float):
    err = ((got.double() - ref).abs() / ref.abs().clamp_min(1.0)).max().item()
    assert err <= tol, f"max relative error {err:.3g} > {tol}"


def make_centers(regime: str, B: int, n: int, d: int, g: torch.Generator, device):
    """Centres (B, n, d) and a β for one regime."""
    kw = dict(generator=g, device=device, dtype=torch.float64)
    if regime == "far":  # uniform; β a fifth of the typical spacing
        c = torch.rand(B, n, d, **kw) * 2 - 1
        beta = 0.2 * 2.0 / n ** (1.0 / d)
    elif regime == "clustered":  # 4 clusters of width β: heavily overlapping components
        beta = 0.05
        mu = torch.rand(B, 4, d, **kw) * 2 - 1
        which = torch.randint(0, 4, (B, n), generator=g, device=device)
        c = torch.gather(mu, 1, which.unsqueeze(-1).expand(B, n, d)) + beta * torch.randn(B, n, d, **kw)
    elif regime == "mixed":  # half spread out, half in one tight cluster
        c = torch.rand(B, n, d, **kw) * 2 - 1
        beta = 0.2 * 2.0 / n ** (1.0 / d)
        c[:, n // 2:] = 0.3 + beta * torch.randn(B, n - n // 2, d, **kw)
    else:
        raise AssertionError(regime)
    return c, beta


def make_queries(c: torch.Tensor, beta: float, m: int, g: torch.Generator) -> torch.Tensor:
    """Mixture samples, plus a few arbitrary points (some far from every centre)."""
    B, n, d = c.shape
    idx = torch.randint(0, n, (B, m), generator=g, device=c.device)
    x = torch.gather(c, 1, idx.unsqueeze(-1).expand(B, m, d))
    x = x + beta * torch.randn(B, m, d, generator=g, device=c.device, dtype=c.dtype)
    k = max(1, m // 10)
    x[:, :k] = torch.rand(B, k, d, generator=g, device=c.device, dtype=c.dtype) * 4 - 2
    x[:, 0] = 50.0  # far from everything: the sum is tiny and the nearest centre decides
    return x


@pytest.mark.parametrize("regime", ["far", "clustered", "mixed"])
@pytest.mark.parametrize("d", [1, 3, 12, 40])
@pytest.mark.parametrize("method", ["dense", "pruned", "auto"])
def test_paths_match_brute_force(regime, d, method, device):
    g = make_generator(device, seed=d)
    c, beta = make_centers(regime, 2, 600, d, g, device)  # two mixtures in one batch
    x = make_queries(c, beta, 150, g)
    ref = brute_force(x, c, beta)
    got = log_kernel_sums(x, c, beta, method=method, chunk_size=32 if method == "pruned" else "auto")
    assert got.dtype == torch.float64 and got.shape == (2, 150) and got.device == x.device
    assert_close(got, ref, TOL64)


@pytest.mark.parametrize("regime", ["far", "clustered", "mixed"])
@pytest.mark.parametrize("d", [3, 40])
def test_pruned_float32(regime, d, device):
    g = make_generator(device, seed=7)
    c, beta = make_centers(regime, 1, 700, d, g, device)
    x = make_queries(c, beta, 120, g)
    ref = brute_force(x, c, beta)
    x32, c32 = x.float(), c.float()
    ref32 = brute_force(x32, c32, beta)  # the float32 inputs, exactly, in float64
    got = log_kernel_sums(x32, c32, beta, method="pruned", chunk_size=16)
    assert got.dtype == torch.float32
    assert_close(got, ref32, TOL32)
    assert torch.isfinite(ref).all()


@pytest.mark.parametrize("method", ["dense", "pruned"])
def test_chunk_size_invariance(method, device):
    g = make_generator(device, seed=3)
    c, beta = make_centers("mixed", 2, 1000, 3, g, device)
    x = make_queries(c, beta, 200, g)
    outs = [log_kernel_sums(x, c, beta, method=method, chunk_size=cs) for cs in (1, 7, 64, 1000, "auto")]
    for o in outs[1:]:
        assert_close(o, outs[0].double(), 1e-12)


def test_degenerate_sizes(device):
    """One centre, fewer centres than a block, a block size larger than n."""
    g = make_generator(device, seed=4)
    for n in (1, 2, 5, 33):
        c = torch.randn(1, n, 2, generator=g, device=device, dtype=torch.float64)
        x = torch.randn(1, 9, 2, generator=g, device=device, dtype=torch.float64)
        for cs in (1, 4, "auto"):
            assert_close(log_kernel_sums(x, c, 0.3, method="pruned", chunk_size=cs), brute_force(x, c, 0.3), TOL64)


def test_duplicate_centres(device):
    """All centres equal (zero-width boxes): every path gives ln n − D/2β²."""
    c = torch.zeros(1, 500, 3, dtype=torch.float64, device=device)
    x = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]], dtype=torch.float64, device=device)
    want = torch.tensor([[math.log(500), math.log(500) - 1.0 / (2 * 0.5 ** 2)]], dtype=torch.float64, device=device)
    for method in ("dense", "pruned", "auto"):
        assert_close(log_kernel_sums(x, c, 0.5, method=method, chunk_size=16), want, 1e-12)


def test_auto_choice(device, monkeypatch):
    """With the size thresholds lowered, "auto" prunes far-apart mixtures and keeps
    clustered ones dense; a batch mixing both is still exact."""
    monkeypatch.setattr(_kernels, "AUTO_PRUNE_MIN_CENTERS", 64)
    monkeypatch.setattr(_kernels, "AUTO_PRUNE_MIN_PAIRS", 1)
    g = make_generator(device, seed=5)
    far, beta = make_centers("far", 1, 2000, 3, g, device)
    close = 0.5 * beta * torch.randn(1, 2000, 3, generator=g, device=device, dtype=torch.float64)
    x_far, x_close = make_queries(far, beta, 300, g), make_queries(close, beta, 300, g)
    assert choose_method(x_far[0], far[0], beta) == "pruned"
    assert choose_method(x_close[0], close[0], beta) == "dense"
    c = torch.cat([far, close])  # (2, n, d)
    x = torch.cat([x_far, x_close])
    assert_close(log_kernel_sums(x, c, beta, method="auto"), brute_force(x, c, beta), TOL64)


def test_auto_small_is_dense(device):
    """Below the size thresholds "auto" is the dense path, bit for bit."""
    g = make_generator(device, seed=6)
    c, beta = make_centers("far", 3, 300, 3, g, device)
    x = make_queries(c, beta, 50, g)
    assert torch.equal(log_kernel_sums(x, c, beta, method="auto"), log_kernel_sums(x, c, beta, method="dense"))


@pytest.mark.parametrize("method", ["dense", "pruned", "auto"])
def test_public_functions_accept_method(method, device):
    """Same generator state → same samples: the entropies agree across paths."""
    g = make_generator(device, seed=8)
    c, beta = make_centers("mixed", 1, 400, 2, g, device)
    ref = gm_entropy(c[0], beta, n_mc=800, generator=make_generator(device, 1), method="dense")
    got = gm_entropy(c[0], beta, n_mc=800, generator=make_generator(device, 1), method=method)
    assert abs(got.value - ref.value) <= 1e-9 * abs(ref.value) and abs(got.stderr - ref.stderr) <= 1e-9
    lo_ref, up_ref = gm_entropy_bounds(c[0], beta, method="dense")
    lo, up = gm_entropy_bounds(c[0], beta, method=method)
    assert abs(lo - lo_ref) <= 1e-9 * abs(lo_ref) and abs(up - up_ref) <= 1e-9 * abs(up_ref)
    s = c[0, :300].reshape(30, 10, 2)  # (n_inputs, n_x, d): batched conditional mixtures
    mi_ref = sp_mutual_information(s, beta, n_mc=200, generator=make_generator(device, 2), method="dense")
    mi = sp_mutual_information(s, beta, n_mc=200, generator=make_generator(device, 2), method=method)
    assert abs(mi.value - mi_ref.value) <= 1e-9 * max(1.0, abs(mi_ref.value))
    assert abs(mi.h_t_given_x - mi_ref.h_t_given_x) <= 1e-9 * abs(mi_ref.h_t_given_x)


@pytest.mark.parametrize("bad", ["triton ", "Dense", "fast", None, 3])
def test_bad_method(bad):
    x = torch.zeros(1, 2, 1)
    with pytest.raises(ValueError, match="method"):
        log_kernel_sums(x, x, 1.0, method=bad)
    with pytest.raises(ValueError, match="method"):
        gm_entropy(x[0], 1.0, n_mc=4, method=bad)
    with pytest.raises(ValueError, match="method"):
        gm_entropy_bounds(x[0], 1.0, method=bad)
    with pytest.raises(ValueError, match="method"):
        sp_mutual_information(x.reshape(2, 1, 1), 1.0, n_mc=4, method=bad)


def test_triton_needs_cuda_float32():
    """On CPU tensors (or without triton) forcing the kernel is a clear ValueError."""
    x = torch.zeros(1, 3, 2)
    if torch.cuda.is_available():
        x64 = x.double().cuda()
        with pytest.raises(ValueError, match="method='triton'"):
            log_kernel_sums(x64, x64, 1.0, method="triton")
    with pytest.raises(ValueError, match="method='triton'"):
        log_kernel_sums(x, x, 1.0, method="triton")


def test_cpu_paths_never_import_triton():
    """The CPU install never imports the optional kernel module (nor triton)."""
    import subprocess
    import sys
    code = (
        "import sys, torch\n"
        "from infoflow_core.entropy import gm_entropy\n"
        "from infoflow_core.mutual_information import sp_mutual_information\n"
        "g = torch.Generator().manual_seed(0)\n"
        "gm_entropy(torch.rand(3000, 3, generator=g), 0.01, n_mc=3000, generator=g)\n"
        "sp_mutual_information(torch.rand(8, 4, 2, generator=g), 0.1, n_mc=50, generator=g)\n"
        "assert 'infoflow_core._triton' not in sys.modules and 'triton' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _triton_ready():
    if not torch.cuda.is_available():
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


cuda_triton = pytest.mark.skipif(not _triton_ready(), reason="needs CUDA and triton")


@cuda_triton
@pytest.mark.parametrize("regime", ["far", "clustered", "mixed"])
@pytest.mark.parametrize("d", [1, 3, 12, 40])
def test_triton_matches_brute_force(regime, d):
    device = torch.device("cuda")
    g = make_generator(device, seed=d)
    c, beta = make_centers(regime, 3, 700, d, g, device)  # three mixtures, one launch
    x = make_queries(c, beta, 130, g)
    x32, c32 = x.float(), c.float()
    got = log_kernel_sums(x32, c32, beta, method="triton")
    assert got.dtype == torch.float32 and got.shape == (3, 130)
    assert_close(got, brute_force(x32, c32, beta), TOL32)


@cuda_triton
def test_triton_self_check_and_auto():
    device = torch.device("cuda")
    assert _kernels.triton_self_check(device)
    g = make_generator(device, seed=11)
    c, beta = make_centers("far", 2, 3000, 3, g, device)
    x = make_queries(c, beta, 500, g).float()
    c = c.float()
    assert torch.equal(log_kernel_sums(x, c, beta, method="auto"), log_kernel_sums(x, c, beta, method="triton"))


# --- CPU tasks on single-threaded workers (issue 20) -------------------------------

@pytest.fixture
def threads():
    """Set torch's thread count for one test, restored after."""
    n = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(n)


@pytest.mark.parametrize("method", ["dense", "pruned", "auto"])
@pytest.mark.parametrize("B,m,n,d", [(1, 3000, 20000, 3), (1, 1500, 9000, 20), (24, 700, 900, 5)])
def test_results_do_not_depend_on_the_thread_count(method, B, m, n, d, threads):
    """The split into tasks depends on the sizes only and each task runs on one
    thread: 1, 2 and 3 threads give the same bits, and match the float64 brute force
    on a subset of queries (float32 inputs: TOL32)."""
    g = make_generator("cpu", 7)
    beta = 0.05
    c = torch.rand(B, n, d, generator=g) * 2 - 1  # (B, n, d)
    x = c[:, torch.randint(0, n, (m,), generator=g)] + beta * torch.randn(B, m, d, generator=g)  # (B, m, d)
    outs = []
    for k in (1, 2, 3):
        threads(k)
        outs.append(log_kernel_sums(x, c, beta, method=method))
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
    assert outs[0].dtype == torch.float32 and outs[0].shape == (B, m)
    assert_close(outs[0][:, ::97], brute_force(x[:, ::97], c, beta), TOL32)


def test_gm_entropy_is_the_same_at_one_and_two_threads(threads):
    c = torch.rand(30000, 4, generator=make_generator("cpu", 3), dtype=torch.float64)
    est = []
    for k in (1, 2):
        threads(k)
        est.append(gm_entropy(c, 0.02, n_mc=6000, generator=make_generator("cpu", 4)))
    assert est[0].value == est[1].value and est[0].stderr == est[1].stderr


def test_run_tasks_runs_all_reraises_and_restores_threads(threads):
    from infoflow_core import _cpu_pool

    threads(2)
    done = []

    def nested(i):  # a task that itself runs tasks: they run in line, no deadlock
        _cpu_pool.run_tasks([lambda: done.append(("inner", i))])
        done.append(i)

    _cpu_pool.run_tasks([lambda i=i: nested(i) for i in range(6)])
    assert sorted(v for v in done if isinstance(v, int)) == list(range(6)) and len(done) == 12
    assert torch.get_num_threads() == 2

    def boom():
        raise RuntimeError("task failed")
    ran = []
    with pytest.raises(RuntimeError, match="task failed"):
        _cpu_pool.run_tasks([boom] + [lambda i=i: ran.append(i) for i in range(4)])
    assert sorted(ran) == list(range(4)) and torch.get_num_threads() == 2

    with _cpu_pool.task_runner("cpu") as run:
        assert torch.get_num_threads() == 1  # preparation between runs is single-threaded too
        run([lambda: ran.append(9)])
    assert torch.get_num_threads() == 2 and ran[-1] == 9


def test_kernel_sums_in_a_forked_child(threads):
    """A process forked after the workers started (a DataLoader worker, multiprocessing
    with fork) gets its own workers instead of waiting on its parent's."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    threads(2)
    c = torch.rand(1, 20000, 3, generator=make_generator("cpu", 5))
    x = c[:, :3000] + 0.01
    here = log_kernel_sums(x, c, 0.05)  # starts this process's workers
    with multiprocessing.get_context("fork").Pool(1) as pool:
        there = pool.apply_async(log_kernel_sums, (x, c, 0.05)).get(timeout=120)
    assert torch.equal(here, there)
