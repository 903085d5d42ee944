"""Fused float32 kernel sums in C, for the CPU paths of :mod:`._kernels` and :mod:`._kernels_pruned`.

torch computes a tile of Gaussian kernel sums in six passes over memory (distances,
scale, maximum, subtraction, exponential, sum), each one a separate operation. The
C kernels in ``native/kernels.c`` do the same arithmetic in one pass per block of
centres, in registers, with a vectorised exponential (8 float32 lanes through GCC or
Clang vector extensions). On this project's 2-core CPU a measured SZT epoch at
n_x = 1000 runs 4.4–4.6× faster than with the torch tiles
(``benchmarks/bench_szt_epoch.py --kernels c torch``; ``benchmarks/README.md``), and
the sums are more accurate, since distances are summed squares rather than ``cdist``
squared.

Used only for float32 CPU tensors (float64 stays on the torch paths, the library's
reference precision). The source is compiled on first use with the system C compiler
(``$CC``, else ``cc``; ``-O3 -march=native``) into a cache folder
(``$INFOFLOW_NATIVE_DIR``, else ``$XDG_CACHE_HOME/infoflow/native``, else
``~/.cache/infoflow/native``), keyed by the source, the compiler, its flags and the
CPU's instruction sets, and loaded with :mod:`ctypes` (which releases the GIL, so
:mod:`._cpu_pool`'s workers run it in parallel). A compiler that refuses
``-march=native`` gets portable flags. Where there is no compiler, or compiling fails,
or the compiled kernel fails its self-check against float64 torch sums, or
``INFOFLOW_NATIVE=0``, the torch paths run instead, with the same results to float32
rounding; :func:`status` says which and why.

Each query's sum is computed on its own in a fixed order, so results do not depend on
how the work is split between threads.

>>> import torch
>>> x = torch.zeros(1, 2); c = torch.zeros(3, 2)
>>> got = lse_dense(x, c.T.contiguous(), -0.5) if available() else torch.tensor([1.0986123], dtype=torch.float64)
>>> round(float(got[0]), 6)  # ln 3
1.098612
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

from . import _cpu_pool

__all__: list[str] = []

#: The C source, beside this module.
SOURCE = Path(__file__).resolve().parent / "native" / "kernels.c"
#: Compiler flags (the machine's own instruction set).
CFLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-std=gnu11"]
#: Tried when a compiler refuses ``-march=native`` (some Clang builds for arm64): portable code.
CFLAGS_PORTABLE = ["-O3", "-fPIC", "-shared", "-std=gnu11"]
#: Largest block of centres and largest dimension the kernels accept (their stack buffers).
MAX_LEAF = 1024
MAX_DIM = 64
#: Centres per block of :func:`lse_dense` (one pass over each block's centres per query).
DENSE_BLOCK = 256
#: Relative tolerance of the self-check against the float64 torch sums (float32 rounding).
SELF_CHECK_TOL = 1e-5
#: Levels of the k-d build split before the segments below go to separate workers, and
#: the fewest centres for which they do.
KD_TOP_LEVELS = 2
KD_PARALLEL_MIN = 1 << 16
#: Set to "0" to use the torch paths only.
ENV_SWITCH = "INFOFLOW_NATIVE"

_LOCK = threading.Lock()
_STATE: dict = {}


def _cache_dir() -> Path:
    if os.environ.get("INFOFLOW_NATIVE_DIR"):
        return Path(os.environ["INFOFLOW_NATIVE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "infoflow" / "native"


def _cpu_flags() -> str:
    """The CPU's feature flags (a compiled ``-march=native`` kernel is valid for these only)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _compile() -> Path:
    """Compile :data:`SOURCE` into the cache (once per source, compiler and CPU); its path."""
    cc = os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        raise RuntimeError(f"no C compiler ({cc!r} not found)")
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60).stdout
    src = SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([src, " ".join([cc, *CFLAGS]).encode(), version.encode(),
                                     _cpu_flags().encode(), platform.machine().encode()])).hexdigest()[:16]
    target = _cache_dir() / f"kernels-{key}.so"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # an unwritable cache folder: the system's temporary folder instead
        target = Path(tempfile.gettempdir()) / f"infoflow-native-{os.getuid() if hasattr(os, 'getuid') else 0}" \
            / target.name
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        for flags in (CFLAGS, CFLAGS_PORTABLE):
            run = subprocess.run([cc, *flags, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True,
                                 timeout=300)
            if run.returncode == 0:
                break
        else:
            raise RuntimeError(f"{cc} failed: {run.stderr.strip()[:500]}")
        os.replace(tmp, target)  # atomic: concurrent processes never load a half-written file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(_compile()))
    i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    lib.infoflow_lse_pieces_f32.argtypes = [ptr, i64, ptr, ptr, i64, ptr, ptr, i64, i64, f32, f32, ptr]
    lib.infoflow_lse_dense_f32.argtypes = [ptr, i64, i64, ptr, i64, i64, f32, f32, ptr, ptr]
    lib.infoflow_kept_blocks_f32.argtypes = [ptr, i64, i64, ptr, ptr, i64, ptr, ptr, i64, ctypes.c_double,
                                             ptr, ptr, ptr, ptr]
    lib.infoflow_kd_split_f32.argtypes = [ptr, ptr, i64, i64, i64, ptr, ptr, ptr]
    for f in (lib.infoflow_lse_pieces_f32, lib.infoflow_lse_dense_f32, lib.infoflow_kept_blocks_f32,
              lib.infoflow_kd_split_f32):
        f.restype = ctypes.c_int
    return lib


def _self_check(lib: ctypes.CDLL) -> None:
    """The dense kernel against float64 torch sums on a small problem with a ragged tail."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(37, 5, generator=g)
    c = torch.randn(301, 5, generator=g)
    scale = -0.5 / 0.3 ** 2
    ref = torch.logsumexp(scale * torch.cdist(x.double(), c.double()) ** 2, dim=1)
    got = lse_dense(x, c.T.contiguous(), scale, lib=lib)
    err = float(((got - ref).abs() / ref.abs().clamp_min(1.0)).max())
    if not err <= SELF_CHECK_TOL:
        raise RuntimeError(f"self-check failed: relative error {err:.3g} > {SELF_CHECK_TOL}")


def _library() -> ctypes.CDLL | None:
    with _LOCK:
        if "lib" not in _STATE:
            if os.environ.get(ENV_SWITCH, "1") == "0":
                _STATE.update(lib=None, why=f"disabled ({ENV_SWITCH}=0)")
            else:
                try:
                    lib = _load()
                    _self_check(lib)
                    _STATE.update(lib=lib, why="compiled C kernels (float32, CPU)")
                except (OSError, RuntimeError, subprocess.SubprocessError) as err:
                    _STATE.update(lib=None, why=f"unavailable: {err}")
        return _STATE["lib"]


def available() -> bool:
    """Whether the C kernels are compiled, loaded and pass their self-check."""
    return _library() is not None


def status() -> str:
    """Which CPU float32 kernels run, and why: for benchmarks and bug reports."""
    _library()
    return _STATE["why"]


@contextlib.contextmanager
def switched(on: bool):
    """Within the block the C kernels are used (``on``, where available) or not (the torch
    paths): for benchmarks that run both side by side, and tests. Not thread-safe."""
    _library()
    saved = dict(_STATE)
    if not on:
        _STATE.update(lib=None, why="switched off (torch paths)")
    try:
        yield
    finally:
        _STATE.clear()
        _STATE.update(saved)


def usable(x: torch.Tensor, centers: torch.Tensor, leaf: int = 0) -> bool:
    """Whether queries x (..., d) and centres (..., d) go to the C kernels: float32 CPU
    tensors of dimension ≤ :data:`MAX_DIM`, blocks of ≤ :data:`MAX_LEAF` centres, and
    the kernels available."""
    return (x.device.type == "cpu" and centers.device.type == "cpu" and x.dtype == torch.float32
            and centers.dtype == torch.float32 and x.shape[-1] <= MAX_DIM and leaf <= MAX_LEAF and available())


def _ptr(t: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(t.data_ptr())


def _check(rc: int) -> None:
    if rc != 0:
        raise ValueError(f"native kernel: blocks above {MAX_LEAF} centres or d above {MAX_DIM}")


def lse_dense(x: torch.Tensor, centers_t: torch.Tensor, scale: float, floor: float = -80.0,
              exclude: torch.Tensor | None = None, *, lib: ctypes.CDLL | None = None) -> torch.Tensor:
    """``log Σ_j exp(scale·‖x_i − c_j‖²)`` for queries x (m, d) and centres given
    transposed, ``centers_t`` (d, n) contiguous; float32 in, (m,) float64 out.
    ``scale`` = −1/(2β²); exponents relative to each block's largest are clamped at ``floor``.
    ``exclude`` (m,) int: centre ``exclude[i]`` is left out of query i's sum (−inf when it
    is the only centre), without the cancellation of subtracting its term afterwards.
    ``lib``: the loaded library (default: the one in use; the self-check passes its
    candidate)."""
    lib = _library() if lib is None else lib
    x = x.contiguous()
    m, d = x.shape
    out = torch.empty(m, dtype=torch.float64)
    if exclude is not None:
        exclude = exclude.to(torch.int64).contiguous()
        if exclude.shape != (m,):
            raise ValueError(f"exclude: expected shape ({m},), got {tuple(exclude.shape)}")
    _check(lib.infoflow_lse_dense_f32(_ptr(x), m, d, _ptr(centers_t), centers_t.shape[1], DENSE_BLOCK, scale, floor,
                                      None if exclude is None else _ptr(exclude), _ptr(out)))
    return out


def lse_pieces(x: torch.Tensor, blocks_t: torch.Tensor, counts: torch.Tensor, members: torch.Tensor,
               piece_blk: torch.Tensor, scale: float, floor: float = -80.0) -> torch.Tensor:
    """The pruned path's tiles: ``out[p, k] = log Σ_j exp(scale·‖x[members[p, k]] − c_j‖²)``
    over the ``counts[b]`` centres of block ``b = piece_blk[p]`` of ``blocks_t``
    (nb, d, leaf); −inf where ``members`` is −1. Returns (n_pieces, g) float64."""
    x, members, piece_blk = x.contiguous(), members.contiguous(), piece_blk.contiguous()
    n_pieces, g = members.shape
    out = torch.empty(n_pieces, g, dtype=torch.float64)
    _check(_library().infoflow_lse_pieces_f32(_ptr(x), x.shape[1], _ptr(blocks_t), _ptr(counts), blocks_t.shape[2],
                                              _ptr(members), _ptr(piece_blk), n_pieces, g, scale, floor, _ptr(out)))
    return out


def kept_blocks(x: torch.Tensor, part, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The pruned path's (block, query) pairs for queries x (m, d) in the tree of ``part``
    (a :class:`._kernels_pruned.Partition`), as ``_kernels_pruned._kept_pairs`` finds them:
    blocks whose box, and every ancestor's, lies within ``u + margin`` of the query, where
    u is the exact squared distance to the nearest centre of the block reached by descending
    towards the nearer box. Returns (blk, qry), each (P,), sorted by block, queries
    increasing within a block."""
    lib = _library()
    x = x.contiguous()
    m, d = x.shape
    lo, hi = part.tree_boxes
    thr = torch.empty(m, dtype=torch.float32)
    n_kept = torch.empty(m, dtype=torch.int64)
    args = (_ptr(x), m, d, _ptr(lo), _ptr(hi), part.levels, _ptr(part.blocks_t), _ptr(part.counts),
            part.blocks_t.shape[2], margin, _ptr(thr), _ptr(n_kept))
    _check(lib.infoflow_kept_blocks_f32(*args, None, None))
    offsets = torch.cumsum(n_kept, 0) - n_kept
    blk = torch.empty(int(n_kept.sum()), dtype=torch.int64)
    _check(lib.infoflow_kept_blocks_f32(*args, _ptr(offsets), _ptr(blk)))
    qry = torch.repeat_interleave(torch.arange(m), n_kept)
    blk, order = blk.sort(stable=True)
    return blk, qry[order]


def kd_order(centers: torch.Tensor, levels: int) -> torch.Tensor:
    """The order (n,) int64 of centres (n, d) in the blocks of a balanced k-d tree of
    ``levels`` levels: each segment of c centres is split at ceil(c/2) along its widest
    coordinate (from a strided subsample of ≤ 64 centres) by selection, so block b holds
    the next ``counts[b]`` entries (the sizes of :class:`._kernels_pruned.Partition`).

    The top :data:`KD_TOP_LEVELS` levels are split here, the 2**KD_TOP_LEVELS segments
    below on :mod:`._cpu_pool`'s workers; the order does not depend on the thread count."""
    c = centers.contiguous()
    n, d = c.shape
    if n >= 1 << 31:
        raise ValueError(f"centers: at most 2**31 - 1 centres for the C tree build, got {n}")
    lib = _library()
    pts, order = c.clone(), torch.arange(n, dtype=torch.int64)
    tmp, tmpi, keys = torch.empty(n, d), torch.empty(n, dtype=torch.int64), torch.empty(n, dtype=torch.int64)
    top = min(levels, KD_TOP_LEVELS) if n >= KD_PARALLEL_MIN else levels

    def split(a: int, b: int, lv: int) -> None:
        _check(lib.infoflow_kd_split_f32(_ptr(pts[a:b]), _ptr(order[a:b]), b - a, d, lv, _ptr(tmp[a:b]),
                                         _ptr(tmpi[a:b]), _ptr(keys[a:b])))

    segments = [(0, n)]
    for _ in range(top):  # the top levels, one split per segment, here
        for a, b in segments:
            split(a, b, 1)
        segments = [s for a, b in segments for s in ((a, a + (b - a + 1) // 2), (a + (b - a + 1) // 2, b))]
    if levels > top:
        with _cpu_pool.task_runner(c.device) as run:
            run([lambda a=a, b=b: split(a, b, levels - top) for a, b in segments])
    return order
