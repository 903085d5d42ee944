"""One measured epoch of the SZT experiment: I(X; T_ℓ) for the 5 hidden layers.

The noisy tanh SZT network (widths 12-10-7-5-4-3-2, β = 0.005), untrained, briefly
trained, or the trained network of a stored run (``--results DIR``: the ``tanh``
network of the stored SZT run in DIR, its final weights or those after
``--epoch``), all 4096 inputs, ``n_x`` noise realizations per input, and the SP
estimator with ``n_mc`` samples for h(T_ℓ) and ``n_mc_given_x`` for each
h(T_ℓ | X = x). Times the sampling of representations and each layer's estimate,
and prints a table. ``--variants`` compares, side by side on the same samples:

* ``plain``: every layer with all n_x realizations, no control variate;
* ``collapse``: layer 1's coinciding realizations collapsed to one, no control variate;
* ``cv``: the own-component control variate (``control_variate=True``), no collapse;
* ``cv+collapse``: and layer 1's coinciding realizations collapsed to one (what
  the experiment runs, ``experiments.szt.estimate_information``);
* ``cv+collapse+auto``: and each layer's samples for h(T_ℓ) chosen for a standard
  error of ``--target-stderr`` from a pilot, at most ``--n-mc`` (``choose_n_mc``, what the
  full scale runs; the pilot's time is included);
* ``cv+collapse+TY``, ``cv+collapse+auto+TY``: and I(T_ℓ; Y) as the experiment measures it
  (sharing h(T_ℓ));
* ``cv+collapse+auto+TY+exact``: the same with h(T_ℓ) by the exact kernel sums only
  (``method="exact"``; without it ``"auto"`` may take the nested path for crowded
  layers). With ``--fixed-given-x`` the ``+auto`` variants keep ``--n-mc-given-x`` for
  every h(T_ℓ | X = x) instead of choosing it per layer (``choose_n_mc_given_x``): the
  estimator as it was before both.
* ``joint``: I(X; T_ℓ) and I(T_ℓ; Y) from one set of samples per layer, sized for
  ``--target-stderr`` with at most ``--n-mc`` (``estimate_information_jointly``, what the
  full scale runs); ``joint+exact``: the same with p(T_ℓ) by exact sums only.

Since the block-stratified sampling of mixtures with more components than samples
became the library's default, every variant uses it; ``plain`` is the estimator
without the control variate and without collapsing.

Usage::

    python benchmarks/bench_szt_epoch.py --device cuda --n-x 1000           # the paper's setting
    OMP_NUM_THREADS=1 python benchmarks/bench_szt_epoch.py --device cpu --n-x 100
    python benchmarks/bench_szt_epoch.py --device cpu --n-x 100 300 1000 --results book/results/szt/book \
        --variants plain cv cv+collapse cv+collapse+TY                      # the issue-10 table

Results: ``szt_epoch_<device>.{json,md}`` in ``--out-dir`` (default
``$OUT/benchmarks/results`` when ``$OUT`` is set, else ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infoflow_core.models.szt import SZTNet  # noqa: E402
from infoflow_core._native import status as native_status, switched  # noqa: E402
from infoflow_core.noise import sample_representations  # noqa: E402


def default_out_dir() -> Path:
    out = os.environ.get("OUT")
    return Path(out) / "benchmarks" / "results" if out else Path(__file__).resolve().parent / "results"


def szt_inputs() -> tuple[torch.Tensor, torch.Tensor, str]:
    """The 4096 SZT inputs and labels; without SciPy (needed to read var_u.mat) the
    inputs alone, rebuilt as the binary expansions of 0…4095, and random labels."""
    try:
        from infoflow_core.data.szt import szt_data
        data = szt_data(0)
        return data.x, data.y, "var_u.mat"
    except ImportError as err:
        bits = torch.arange(12 - 1, -1, -1)
        x = ((torch.arange(4096)[:, None] >> bits) & 1).to(torch.float32)  # (4096, 12), MSB first
        y = torch.randint(0, 2, (4096,), generator=torch.Generator().manual_seed(0))
        return x, y, f"binary expansions (szt_data unavailable: {err})"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_briefly(net: SZTNet, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    """A few full-batch SGD epochs (lr 0.1, cross-entropy), noise on."""
    if epochs <= 0:
        return
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()


def build_net(device: torch.device, args, x: torch.Tensor, y: torch.Tensor) -> tuple[SZTNet, str]:
    """The network to measure and a line saying which it is."""
    if args.results:
        from infoflow_core.experiments.szt import SZTResults
        stored = SZTResults.load(args.results)
        tanh = stored.networks["tanh"]
        if args.epoch is None:
            state, what = tanh.final_state, f"final (epoch {stored.config.n_epochs})"
        else:
            at = [int(e) for e in tanh.epochs].index(args.epoch)
            state, what = {k: v[at] for k, v in tanh.epoch_states.items()}, f"epoch {args.epoch}"
        net = SZTNet("tanh", tanh.config.beta, generator=torch.Generator(device=device).manual_seed(args.seed + 1))
        net.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in state.items()})
        return net.to(device), f"tanh network of {args.results}, {what}"
    net = SZTNet("tanh", args.beta, init_generator=torch.Generator().manual_seed(args.seed),
                 generator=torch.Generator(device=device).manual_seed(args.seed + 1), device=device)
    train_briefly(net, x, y, args.train_epochs, args.seed)
    return net, f"tanh network, {args.train_epochs} full-batch SGD epochs"


VARIANTS = ("plain", "collapse", "cv", "cv+collapse", "cv+collapse+auto", "cv+collapse+TY", "cv+collapse+auto+TY",
            "cv+collapse+auto+TY+exact", "joint", "joint+exact")


def run(device: torch.device, n_x: int, args, x: torch.Tensor, y: torch.Tensor, net: SZTNet) -> list[dict]:
    g = torch.Generator(device=device).manual_seed(args.seed)
    sync(device)
    t0 = time.perf_counter()
    samples = sample_representations(net, x, n_x, generator=g)  # 5 × (n_inputs, n_x, d_ℓ)
    sync(device)
    t_sample = time.perf_counter() - t0
    out = []
    for kernels in args.kernels:  # each with the same Monte Carlo draws: differences are the kernels' rounding
        with switched(kernels == "c"):
            g = torch.Generator(device=device).manual_seed(args.seed + 1)
            out += run_variants(device, n_x, args, x, y, net, samples, t_sample, g,
                                suffix="" if args.kernels == ["c"] else f" [{kernels}]")
    return out


def run_variants(device: torch.device, n_x: int, args, x: torch.Tensor, y: torch.Tensor, net: SZTNet, samples: list, t_sample: float,
                 g: torch.Generator, suffix: str) -> list[dict]:
    """Every variant of ``args.variants`` on the same samples; ``suffix`` is added to their names."""
    from infoflow_core.experiments.szt import (choose_n_mc, choose_n_mc_given_x, estimate_information,
                                               estimate_label_information)

    out = []
    for variant in args.variants:
        if variant.startswith("joint"):
            out.append(run_joint(variant, n_x, args, y, net, samples, t_sample, g))
            out[-1]["variant"] += suffix
            continue
        cv, collapse, ty = variant.startswith("cv"), "collapse" in variant, "TY" in variant
        auto = "auto" in variant
        # "+exact": h(T) by the exact kernel sums only (the path before the nested one existed)
        method = "exact" if variant.endswith("+exact") else "auto"
        layers = []
        for ell, s in enumerate(samples, start=1):
            t1 = time.perf_counter()
            n_mc = choose_n_mc([s], net.beta, args.n_mc, args.target_stderr, g, method=method)[0] if auto else args.n_mc
            n_given = (choose_n_mc_given_x([s], net.beta, args.n_mc_given_x, args.target_stderr, g)[0]
                       if auto and not args.fixed_given_x else args.n_mc_given_x)
            mi = estimate_information([s], net.beta, n_mc=n_mc, n_mc_given_x=n_given, generator=g,
                                      control_variate=cv, collapse=collapse, method=method)[0]
            row = dict(layer=ell, d=s.shape[-1], mi=mi.value, stderr=mi.stderr, h_t=mi.h_t,
                       h_t_given_x=mi.h_t_given_x, n_mc=n_mc, n_mc_given_x=n_given, path=mi.h_t_path)
            if ty:  # with a target, the classes share the budget by weight, as the experiment does
                n_y = math.ceil(n_mc * float(torch.bincount(y).max()) / y.shape[0]) if auto else n_mc
                lab = estimate_label_information([s], y, net.beta, [mi], n_mc=n_y, generator=g, method=method)[0]
                row.update(mi_y=lab.value, mi_y_stderr=lab.stderr, path_y=lab.h_t_given_y_path)
            sync(device)
            row["seconds"] = time.perf_counter() - t1
            layers.append(row)
            print(f"  n_x={n_x:5d} {variant:15s} layer {ell} (d={s.shape[-1]:2d}): I = {mi.value:8.4f} ± "
                  f"{mi.stderr:.4f} nats  ({row['seconds']:8.2f} s, h(T) {mi.h_t_path})", flush=True)
        total = t_sample + sum(r["seconds"] for r in layers)
        out.append(dict(n_x=n_x, variant=variant + suffix, n_inputs=x.shape[0], sample_seconds=t_sample,
                        total_seconds=total, max_stderr=max(r["stderr"] for r in layers), layers=layers))
    return out


def run_joint(variant: str, n_x: int, args, y: torch.Tensor, net: SZTNet, samples: list, t_sample: float,
              g: torch.Generator) -> dict:
    """The ``joint`` variants: both informations per layer from one set of samples."""
    from infoflow_core.experiments.szt import estimate_information_jointly

    method = "exact" if variant.endswith("+exact") else "auto"
    layers = []
    for ell, s in enumerate(samples, start=1):
        t1 = time.perf_counter()
        (info,) = estimate_information_jointly([s], y, net.beta, n_mc=args.n_mc, target_stderr=args.target_stderr,
                                               generator=g, method=method)
        mi, lab = info.x_t, info.t_y
        row = dict(layer=ell, d=s.shape[-1], mi=mi.value, stderr=mi.stderr, h_t=mi.h_t, h_t_given_x=mi.h_t_given_x,
                   n_mc=info.n_mc, n_mc_given_x=0, path=mi.h_t_path, mi_y=lab.value, mi_y_stderr=lab.stderr,
                   path_y=lab.h_t_given_y_path, seconds=time.perf_counter() - t1)
        layers.append(row)
        print(f"  n_x={n_x:5d} {variant:15s} layer {ell} (d={s.shape[-1]:2d}): I = {mi.value:8.4f} ± "
              f"{mi.stderr:.4f}, I(T;Y) = {lab.value:.4f} ± {lab.stderr:.4f} nats  ({row['seconds']:8.2f} s, "
              f"p(T) {mi.h_t_path})", flush=True)
    total = t_sample + sum(r["seconds"] for r in layers)
    return dict(n_x=n_x, variant=variant, n_inputs=samples[0].shape[0], sample_seconds=t_sample, total_seconds=total,
                max_stderr=max(max(r["stderr"], r["mi_y_stderr"]) for r in layers), layers=layers)


def markdown(meta: dict, runs: list[dict]) -> str:
    lines = [f"# SZT measured epoch on {meta['device']}", "",
             f"{meta['network']}, inputs: {meta['inputs']}; "
             f"n_mc = {meta['n_mc']}, n_mc_given_x = {meta['n_mc_given_x']}; CPU float32 kernels: "
             f"{meta.get('kernels', 'torch')}; torch {meta['torch']}, "
             f"{meta['date']}. Cells: I(X;T_ℓ) ± its Monte Carlo standard error, nats (seconds).", "",
             "| n_x | variant | sampling (s) | " + " | ".join(f"I(X;T_{k}) (s)" for k in range(1, 6))
             + " | max stderr | total (s) |",
             "|---" * 10 + "|"]
    for r in runs:
        cells = [f"{L['mi']:.3f} ± {L['stderr']:.4f} ({L['seconds']:.1f} s"
                 + (f", n_mc {L['n_mc']}/{L.get('n_mc_given_x', '')}" if "auto" in r["variant"] or "joint" in r["variant"] else "")
                 + (f", {L['path']}" if L.get("path", "exact") != "exact" or L.get("path_y", "exact") != "exact" else "")
                 + (f"; I(T;Y) {L['mi_y']:.3f} ± {L['mi_y_stderr']:.3f}" if "mi_y" in L else "") + ")"
                 for L in r["layers"]]
        lines.append(f"| {r['n_x']} | {r['variant']} | {r['sample_seconds']:.2f} | " + " | ".join(cells)
                     + f" | {r['max_stderr']:.4f} | {r['total_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n-x", type=int, nargs="+", default=[1000], help="noise realizations per input")
    ap.add_argument("--n-inputs", type=int, default=4096, help="use the first N of the 4096 inputs")
    ap.add_argument("--n-mc", type=int, default=16384)
    ap.add_argument("--n-mc-given-x", type=int, default=128)
    ap.add_argument("--beta", type=float, default=0.005)
    ap.add_argument("--train-epochs", type=int, default=0, help="full-batch SGD epochs before measuring")
    ap.add_argument("--results", default=None, help="stored SZT run folder: measure its trained tanh network")
    ap.add_argument("--epoch", type=int, default=None, help="with --results: a measured epoch (default: final)")
    ap.add_argument("--variants", nargs="+", default=["cv+collapse"], choices=VARIANTS)
    ap.add_argument("--target-stderr", type=float, default=0.009, help="nats, for the +auto variants")
    ap.add_argument("--fixed-given-x", action="store_true",
                    help="+auto variants: n_mc_given_x fixed (as before choose_n_mc_given_x), not chosen per layer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=None)
    ap.add_argument("--tag", default="")
    ap.add_argument("--kernels", nargs="+", default=["c"], choices=["c", "torch"],
                    help="CPU float32 kernel sums: the C kernels (infoflow_core._native, where they compile) and/or "
                         "the torch tiles; with both, every variant runs with each on the same samples")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    x, y, source = szt_inputs()
    x, y = x[:args.n_inputs].to(device), y[:args.n_inputs].to(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu-{torch.get_num_threads()}threads"
    print(f"device {name}  torch {torch.__version__}  inputs {x.shape[0]} ({source})", flush=True)
    if device.type == "cuda":
        from infoflow_core._kernels import triton_self_check
        print(f"triton kernel used by method='auto': {triton_self_check(device)}", flush=True)
    kernels = native_status() if device.type == "cpu" else "torch / triton"
    print(f"CPU float32 kernel sums: {kernels}", flush=True)
    net, network = build_net(device, args, x, y)
    print(network, flush=True)
    runs = [r for n_x in args.n_x for r in run(device, n_x, args, x, y, net)]
    meta = dict(device=name, torch=torch.__version__, beta=net.beta, n_mc=args.n_mc, n_mc_given_x=args.n_mc_given_x,
                train_epochs=args.train_epochs, network=network, inputs=source, platform=platform.platform(),
                kernels=kernels, target_stderr=args.target_stderr,
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    md = markdown(meta, runs)
    print(md)
    out = args.out_dir or default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    stem = f"szt_epoch_{device.type}{('_' + args.tag) if args.tag else ''}"
    (out / f"{stem}.json").write_text(json.dumps(dict(meta=meta, runs=runs), indent=1))
    (out / f"{stem}.md").write_text(md)
    print(f"wrote {out / stem}.json and .md")
    ok = all(math.isfinite(L["mi"]) for r in runs for L in r["layers"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
