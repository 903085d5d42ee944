"""Pilot for the ``full`` CPU protocol: one MNIST CNN (one variant, one seed) trained on
all 60 000 training images with the full preset's batch size and learning-rate
schedule, its validation errors per 10 000 printed after every epoch.

It answers "does the deterministic CNN reach ≤ 70 errors in this many epochs?" in
minutes instead of hours (one model, not 18), before the full run is launched. The
model, data order and step are those of :func:`~infoflow_core.experiments.mnist.run_mnist`
for the deterministic variant of seed 0 (a stack of one model instead of six, so the
noise and dropout streams of the other variants are not drawn).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mnist_pilot.py                  # full preset, deterministic
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mnist_pilot.py --epochs 8 --variant 5   # dropout model
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infoflow_core.data.mnist import MNIST, load_mnist, random_shift  # noqa: E402
from infoflow_core.experiments.mnist import VARIANTS, MnistConfig  # noqa: E402
from infoflow_core.models.mnist import MnistCNN, StackedMnistCNN  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: the full preset's")
    ap.add_argument("--variant", type=int, default=0, help="index into VARIANTS (0: deterministic)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="e.g. lr=0.02")
    args = ap.parse_args(argv)
    overrides = {}
    for item in args.set:
        k, v = item.split("=", 1)
        overrides[k] = type(getattr(MnistConfig(), k))(v)
    if args.epochs is not None:
        overrides.update(epochs=args.epochs, fig8_epochs=())
    c = MnistConfig.for_scale("full", **overrides)
    torch.set_num_threads(1)
    data = load_mnist()
    x_train = MNIST.normalise(data.train_images)
    y_train = data.train_labels
    x_val, y_val = MNIST.normalise(data.test_images), data.test_labels
    name, beta, p = VARIANTS[args.variant]
    seed_value = c.seed * 1000 + 1
    net = MnistCNN(beta, p, batch_norm=c.batch_norm, generator=torch.Generator().manual_seed(seed_value),
                   dropout_placement=c.dropout_placement, dense2=c.dense2)
    stack = StackedMnistCNN.from_models([net])
    opt = torch.optim.SGD(stack.parameters(), lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
    order = torch.Generator().manual_seed(seed_value + 7919)
    noise = torch.Generator().manual_seed(c.seed * 1000 + 104729)
    shift_gen = torch.Generator().manual_seed(c.seed * 1000 + 15485863)
    print(f"{name}: {c.n_train} images, batch {c.batch_size}, lr {c.lr} ({c.lr_schedule}), {c.epochs} epochs, "
          f"dropout {c.dropout_placement}, shift {c.shift}, weight decay {c.weight_decay}", flush=True)
    t0 = time.perf_counter()
    for epoch in range(1, c.epochs + 1):
        for group in opt.param_groups:
            group["lr"] = c.lr_at(epoch)
        stack.train()
        perm = torch.randperm(c.n_train, generator=order)
        for s in range(0, c.n_train, c.batch_size):
            idx = perm[s:s + c.batch_size]
            xb = random_shift(x_train[idx][None], c.shift, shift_gen)[0] if c.shift else x_train[idx]
            logits = stack(xb[:, None], noise)[:, 0]  # (b, 10)
            loss = F.cross_entropy(logits, y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        stack.eval()
        stack.noisy_eval = c.noisy_eval
        with torch.no_grad():
            wrong = sum(int((stack(x_val[s:s + 500], noise)[:, 0].argmax(-1) != y_val[s:s + 500]).sum())
                        for s in range(0, 10000, 500))
        recal = StackedMnistCNN.from_models([stack.model(0)]).recalibrate_batch_norm(x_train[:10000], noise=False)
        with torch.no_grad():
            wrong_bn = sum(int((recal(x_val[s:s + 500])[:, 0].argmax(-1) != y_val[s:s + 500]).sum())
                           for s in range(0, 10000, 500))
        print(f"epoch {epoch:3d}  lr {c.lr_at(epoch):.5f}  errors {wrong:4d}/10000  "
              f"(BN re-estimated on 10k: {wrong_bn:4d})  {time.perf_counter() - t0:6.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
