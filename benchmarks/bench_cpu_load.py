"""Kernel sums on a busy CPU: this project against scikit-learn, idle and with competing processes (issue 20).

For each case (the mixtures of ``bench_gm_entropy.py``'s ``spread`` regime, d = 10
and 12, β = 0.005 and 0.05, 4096 and 40,960 centres, 4096 queries; and the batched
conditional mixtures of ``sp_mutual_information``) and for each load (0, 1, …
competing processes, each a Python busy loop started before the case and killed
after it), times, on the same inputs:

- ``tasks``: ``log_kernel_sums(method="auto")`` as the library runs it: slices of
  the queries on ``torch.get_num_threads()`` single-threaded workers
  (``infoflow_core._cpu_pool``);
- ``omp``: the same slices run one after another, each operation on torch's
  intra-op threads (the scheduling before issue 20);
- ``1-thread``: ``tasks`` under ``torch.set_num_threads(1)``;
- ``sklearn``: ``KernelDensity(kernel="gaussian", bandwidth=β, rtol=1e-3).score_samples``
  (a tree, approximate, single-threaded; the mixtures only).

Each time is the median of ``--reps`` runs (a loaded machine's times spread; the
median is what a user waits). Results: ``results/cpu_load_<device>.{json,md}``.

Usage::

    .venv/bin/python benchmarks/bench_cpu_load.py                 # loads 0 and 1, about 5 minutes on 2 cores
    .venv/bin/python benchmarks/bench_cpu_load.py --loads 0 1 2   # also two competing processes
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infoflow_core import _cpu_pool  # noqa: E402
from infoflow_core._kernels import log_kernel_sums  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PATHS = ("tasks", "omp", "1-thread", "sklearn")


@contextlib.contextmanager
def competing(k: int):
    """k busy processes (Python spin loops) for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]
    try:
        if procs:
            time.sleep(0.5)  # let them reach the loop
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@contextlib.contextmanager
def scheduling(path: str):
    """``omp``: tasks run in line on the intra-op threads; ``1-thread``: one thread."""
    runner, n = _cpu_pool.task_runner, torch.get_num_threads()
    if path == "omp":
        _cpu_pool.task_runner = lambda device=None: contextlib.nullcontext(_cpu_pool._run_here)
    if path == "1-thread":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        _cpu_pool.task_runner = runner
        torch.set_num_threads(n)


def median_time(fn, reps: int) -> tuple[object, float]:
    out, times = None, []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def cases():
    """(name, x (B, m, d), centres (B, n, d), β) on CPU, float32."""
    for d in (10, 12):
        for beta in (0.005, 0.05):
            for R in (1, 10):
                n, m = 4096 * R, 4096
                g = torch.Generator().manual_seed(1000 * d + R)
                c = torch.rand(n, d, generator=g) * 2 - 1
                x = c[torch.randint(0, n, (m,), generator=g)] + beta * torch.randn(m, d, generator=g)
                yield f"spread d={d} β={beta:g} n={n}", x[None], c[None], beta
    g = torch.Generator().manual_seed(0)
    for B, n_x, d, beta in [(256, 1000, 12, 0.05), (16, 8192, 12, 0.005)]:
        c = (torch.rand(B, 1, d, generator=g) * 2 - 1) + 0.3 * torch.rand(B, n_x, d, generator=g)
        idx = torch.randint(0, n_x, (B, 1000), generator=g)
        x = torch.gather(c, 1, idx.unsqueeze(-1).expand(B, 1000, d)) + beta * torch.randn(B, 1000, d, generator=g)
        yield f"batched B={B} n_x={n_x} d={d} β={beta:g}", x, c, beta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", type=int, nargs="+", default=[0, 1], help="numbers of competing busy processes")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tag", default="")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if any(k < 0 for k in args.loads) or args.reps < 1:
        ap.error("--loads must be >= 0 and --reps >= 1")
    try:
        from sklearn.neighbors import KernelDensity
    except ImportError:
        KernelDensity = None
        print("scikit-learn is not installed: the sklearn column is skipped", flush=True)
    threads = torch.get_num_threads()
    rows = []
    for name, x, c, beta in cases():
        ref = log_kernel_sums(x.double(), c.double(), beta, method="dense")
        B, n, d = c.shape
        const = math.log(n) + 0.5 * d * math.log(2 * math.pi * beta * beta)
        for load in args.loads:
            with competing(load):
                for path in PATHS:
                    if path == "sklearn":
                        if KernelDensity is None or B > 1:
                            continue
                        xc, cc = x[0].double().numpy(), c[0].double().numpy()

                        def fn():
                            kde = KernelDensity(kernel="gaussian", bandwidth=beta, rtol=1e-3).fit(cc)
                            return (torch.from_numpy(kde.score_samples(xc)) + const)[None]
                    else:
                        def fn():
                            return log_kernel_sums(x, c, beta)
                    with scheduling(path):
                        out, sec = median_time(fn, args.reps)
                    err = float(torch.expm1((out.double() - ref).abs()).max())
                    rows.append(dict(case=name, load=load, path=path, seconds=sec, max_rel_err_density=err))
                    print(f"{name:34s} load {load} {path:8s} {sec:8.4f} s  rel.err {err:.0e}", flush=True)
    meta = dict(threads=threads, cpu_count=os.cpu_count(), torch=torch.__version__, reps=args.reps,
                platform=platform.platform(), python=platform.python_version(), loads=args.loads,
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                sklearn=_sklearn_version() if KernelDensity is not None else None)
    stem = f"cpu_load_cpu-{os.cpu_count()}cores-{threads}threads" + (f"_{args.tag}" if args.tag else "")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
    (args.out_dir / f"{stem}.md").write_text(markdown(meta, rows))
    print(markdown(meta, rows))
    print(f"wrote {args.out_dir / stem}.json and .md")


def _sklearn_version():
    import sklearn
    return sklearn.__version__


def markdown(meta, rows) -> str:
    lines = [f"# Kernel sums under load: {meta['cpu_count']} cores, torch at {meta['threads']} threads", "",
             f"{meta['date']}, torch {meta['torch']}, scikit-learn {meta['sklearn']}; median of {meta['reps']} runs; "
             "load k = k competing busy processes. Seconds, and in brackets scikit-learn's time over ours "
             "(≥ 1: ours is faster).", ""]
    keyed = {}
    for r in rows:
        keyed.setdefault(r["case"], {})[(r["load"], r["path"])] = r["seconds"]
    head = "| case | " + " | ".join(f"{p} (load {k})" for k in meta["loads"] for p in PATHS) + " |"
    lines += [head, "|---|" + "---|" * (len(PATHS) * len(meta["loads"]))]
    for case, cell in keyed.items():
        vals = []
        for k in meta["loads"]:
            sk = cell.get((k, "sklearn"))
            for p in PATHS:
                s = cell.get((k, p))
                if s is None:
                    vals.append("")
                elif sk is not None and p != "sklearn":
                    vals.append(f"{s:.3g} [{sk / s:.2f}×]")
                else:
                    vals.append(f"{s:.3g}")
        lines.append(f"| {case} | " + " | ".join(vals) + " |")
    errs = max(r["max_rel_err_density"] for r in rows if r["path"] != "sklearn")
    lines += ["", f"Largest relative error of the density, ours against float64 dense: {errs:.0e} "
              f"(scikit-learn's rtol=1e-3: up to {max(r['max_rel_err_density'] for r in rows):.0e})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
