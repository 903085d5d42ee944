"""Speed-up of ``gm_entropy(..., group=)`` from 1 to N processes (issue 14).

For each size (n centres, n_mc samples; d = 3, β = 0.05, centres uniform in
[−1, 1]^d, float32), times

- ``1 proc``: ``gm_entropy`` with ``group=None`` in one process;
- ``N procs``: ``gm_entropy`` with ``group=WORLD`` in N processes spawned on
  127.0.0.1 (gloo on CPU, each process ``torch.set_num_threads(1)``; with
  ``--backend nccl`` one CUDA device per process), wall time of rank 0 between two
  barriers, best of ``--repeat``;

and prints a table (seconds, speed-up = t(1 proc) / t(N procs), efficiency =
speed-up / N) and the estimates (they differ by Monte Carlo error only). Results:
``benchmarks/results/distributed_<backend>_<N>procs.{json,md}`` (``$OUT/...``
when ``$OUT`` is set).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_distributed.py                 # gloo, 2 processes, CPU
    OMP_NUM_THREADS=1 python benchmarks/bench_distributed.py --quick         # the smallest size only
    python benchmarks/bench_distributed.py --backend nccl --procs 2          # 2 GPUs (not yet run)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infoflow_core.entropy import gm_entropy  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = [(4096, 4096), (16384, 16384), (65536, 65536), (262144, 131072)]  # (n centres, n_mc)
D, BETA = 3, 0.05


def default_out_dir() -> Path:
    out = os.environ.get("OUT")
    return Path(out) / "benchmarks" / "results" if out else RESULTS


def _centers(n: int, device) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    return (2 * torch.rand(n, D, generator=g) - 1).to(device)


def _time(fn, repeat: int, barrier=None):
    best, result = float("inf"), None
    for _ in range(repeat):
        if barrier:
            barrier()
        t0 = time.perf_counter()
        result = fn()
        if barrier:
            barrier()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _worker(rank: int, world: int, port: int, backend: str, sizes, repeat: int, folder: str) -> None:
    torch.set_num_threads(1)
    device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
    if backend == "nccl":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=600))
    rows = []
    try:
        for n, n_mc in sizes:
            c = _centers(n, device)
            gen = torch.Generator(device=device).manual_seed(1000 * rank + 1)
            sync = (lambda: torch.cuda.synchronize(device)) if backend == "nccl" else (lambda: None)

            def barrier():
                sync()
                dist.barrier()

            t, est = _time(lambda: gm_entropy(c, BETA, n_mc=n_mc, generator=gen, group=dist.group.WORLD),
                           repeat, barrier)
            rows.append({"n": n, "n_mc": n_mc, "seconds": t, "value": est.value, "stderr": est.stderr})
    finally:
        dist.destroy_process_group()
    if rank == 0:
        Path(folder, "dist.json").write_text(json.dumps(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--backend", choices=["gloo", "nccl"], default="gloo")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="the smallest size only")
    ap.add_argument("--out-dir", type=Path, default=None)
    args = ap.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    device = torch.device("cuda", 0) if args.backend == "nccl" else torch.device("cpu")
    torch.set_num_threads(1)

    single = []
    for n, n_mc in sizes:
        c = _centers(n, device)
        gen = torch.Generator(device=device).manual_seed(1)
        sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
        t, est = _time(lambda: gm_entropy(c, BETA, n_mc=n_mc, generator=gen), args.repeat, sync)
        single.append({"seconds": t, "value": est.value, "stderr": est.stderr})
        print(f"1 proc   n={n:6d} n_mc={n_mc:6d}: {t:8.3f} s   h = {est.value:.4f} ± {est.stderr:.4f}", flush=True)

    out_dir = args.out_dir or default_out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(args.procs, port, args.backend, sizes, args.repeat, str(out_dir)),
             nprocs=args.procs, join=True)
    multi = json.loads((out_dir / "dist.json").read_text())
    (out_dir / "dist.json").unlink()

    stem = f"distributed_{args.backend}_{args.procs}procs"
    header = (f"# gm_entropy with group=: 1 process vs {args.procs} ({args.backend})\n\n"
              f"{datetime.date.today()}, torch {torch.__version__}, {platform.machine()}, "
              f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end), "
              f"1 thread per process; d = {D}, β = {BETA}, float32 centres uniform in [-1, 1]^d, "
              f"best of {args.repeat}.\n\n"
              f"| n | n_mc | 1 proc (s) | {args.procs} procs (s) | speed-up | efficiency | "
              f"h, 1 proc | h, {args.procs} procs |\n|---|---|---|---|---|---|---|---|\n")
    lines = []
    for (n, n_mc), s1, sm in zip(sizes, single, multi):
        sp = s1["seconds"] / sm["seconds"]
        lines.append(f"| {n} | {n_mc} | {s1['seconds']:.3f} | {sm['seconds']:.3f} | {sp:.2f} | "
                     f"{sp / args.procs:.2f} | {s1['value']:.4f} ± {s1['stderr']:.4f} | "
                     f"{sm['value']:.4f} ± {sm['stderr']:.4f} |")
    table = header + "\n".join(lines) + "\n"
    print("\n" + table)
    (out_dir / f"{stem}.md").write_text(table)
    (out_dir / f"{stem}.json").write_text(json.dumps(
        {"backend": args.backend, "procs": args.procs, "d": D, "beta": BETA, "repeat": args.repeat,
         "torch": torch.__version__, "cpus": os.cpu_count(), "load_end": os.getloadavg()[0],
         "rows": [{"n": n, "n_mc": n_mc, "single": s1, "multi": sm}
                  for (n, n_mc), s1, sm in zip(sizes, single, multi)]}, indent=1))


if __name__ == "__main__":
    main()
