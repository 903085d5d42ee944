"""Training throughput of the MNIST CNNs on this machine: which batch size, stack size,
memory format and thread count make the CPU protocol fit a few hours.

Every row times ``--steps`` SGD steps (after ``--warmup`` untimed ones, stopping early
after ``--max-seconds``) of :class:`~infoflow_core.models.mnist.StackedMnistCNN` with
``M`` models (6 Table 1 variants per seed: dropout and Gaussian noise drawn as in
training), one mini-batch of ``b`` images per model and step, exactly the step of
:func:`~infoflow_core.experiments.mnist.run_mnist` (per-model cross entropy, summed,
backward, SGD with momentum). Throughput does not depend on the pixel values, so the
images are random. Reported per row: seconds per step, model-images per second, the
seconds one model needs for one pass over the 60 000 training images, and the CPU
hours of 18 models (6 variants × 3 seeds) × 1 epoch at that rate.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mnist_throughput.py            # ~5 min
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mnist_throughput.py --quick    # 3 rows, ~1 min
    .venv/bin/python benchmarks/mnist_throughput.py --threads 1 2 --device cuda

Results: ``mnist_throughput_<device>-<threads>.md`` in ``--out-dir`` (default
``$OUT/benchmarks/results`` when ``$OUT`` is set, else ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infoflow_core.models.mnist import StackedMnistCNN  # noqa: E402

_VARIANTS = ((0.0, 0.0), (0.05, 0.0), (0.1, 0.0), (0.2, 0.0), (0.5, 0.0), (0.0, 0.2))  # (β, p) of Table 1

#: (models M, batch b, channels_last) per row; M = 1 is one model alone (the deterministic one).
ROWS = [(1, 32, False), (6, 32, False), (6, 32, True), (6, 64, False), (6, 128, False), (18, 32, False),
        (18, 64, False), (18, 128, False)]
QUICK_ROWS = [(6, 32, False), (6, 128, False), (18, 64, False)]


def time_steps(m: int, b: int, channels_last: bool, *, steps: int, warmup: int, max_seconds: float,
               device: torch.device, dropout_placement: str = "before_pool") -> dict:
    """Seconds per SGD step of a stack of ``m`` models with batch ``b`` (mean over the
    timed steps) and the derived rates."""
    g = torch.Generator().manual_seed(0)
    variants = [_VARIANTS[k % 6] for k in range(m)]
    stack = StackedMnistCNN([v[0] for v in variants], [v[1] for v in variants], generator=g,
                            dropout_placement=dropout_placement).to(device)
    if channels_last:
        stack = stack.to(memory_format=torch.channels_last)
    stack.train()
    opt = torch.optim.SGD(stack.parameters(), lr=5e-3, momentum=0.9)
    noise = torch.Generator(device=device).manual_seed(1)
    x = torch.rand(b, m, 28, 28, generator=g).to(device)  # (b, M, 28, 28)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (b, m), generator=g).to(device)  # (b, M)

    def step():
        logits = stack(x, noise)  # (b, M, 10)
        loss = F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1), reduction="none").reshape(b, m).mean(0)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    done = 0
    while done < steps:
        step()
        done += 1
        if time.perf_counter() - t0 > max_seconds and done >= 10:
            break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    s_step = (time.perf_counter() - t0) / done
    rate = m * b / s_step  # model-images per second
    return {"models": m, "batch": b, "channels_last": channels_last, "steps": done, "s_per_step": s_step,
            "model_images_per_s": rate, "s_per_model_epoch": 60000 / rate, "h_18_models_epoch": 18 * 60000 / rate / 3600}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=25.0, help="stop a row after this many seconds")
    ap.add_argument("--quick", action="store_true", help=f"only the rows {QUICK_ROWS}")
    ap.add_argument("--after-pool", action="store_true", help="dropout after max-pooling (the full preset's)")
    ap.add_argument("--out-dir", default=None)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    rows = QUICK_ROWS if args.quick else ROWS
    placement = "after_pool" if args.after_pool else "before_pool"
    lines = [f"# MNIST CNN training throughput ({device}, {datetime.date.today().isoformat()})", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"dropout {placement}; up to {args.steps} steps per row ({args.max_seconds:g} s cap) after "
             f"{args.warmup} warm-up steps.", "",
             "| threads | models M | batch b | channels-last | steps | s/step | model-images/s | "
             "s per model-epoch (60k) | h for 18 models × 1 epoch |",
             "|---:|---:|---:|:---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for threads in args.threads:
        torch.set_num_threads(threads)
        for m, b, cl in rows:
            r = time_steps(m, b, cl, steps=args.steps, warmup=args.warmup, max_seconds=args.max_seconds,
                           device=device, dropout_placement=placement)
            line = (f"| {threads} | {m} | {b} | {'yes' if cl else 'no'} | {r['steps']} | {r['s_per_step']:.4f} | "
                    f"{r['model_images_per_s']:.0f} | {r['s_per_model_epoch']:.1f} | {r['h_18_models_epoch']:.3f} |")
            lines.append(line)
            print(line, flush=True)
    out_dir = Path(args.out_dir) if args.out_dir else (
        Path(os.environ["OUT"]) / "benchmarks" / "results" if os.environ.get("OUT") else
        Path(__file__).resolve().parent / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"mnist_throughput_{device.type}-{'-'.join(map(str, args.threads))}thread{'s' if args.threads != [1] else ''}.md"
    (out_dir / name).write_text("\n".join(lines) + "\n")
    print(f"wrote {out_dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
