"""Command line: run one of the paper's experiments and store its results.

    python -m infoflow_core EXPERIMENT [--scale S] --out DIR [--seed N] [--device D]
                                       [--set FIELD=VALUE ...] [--overwrite] [--no-progress]

The output folder is checked before anything is computed; an existing stored run is
replaced only with ``--overwrite``; files are written at the end, all at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .experiments import EXPERIMENT_MODULES, get_experiment, resolve_device
from .scales import SCALES, current_scale



def _parse_set(items: list[str], parser: argparse.ArgumentParser) -> dict:
    overrides = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            parser.error(f"--set takes FIELD=VALUE, got {item!r}")
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw  # a bare string
    return overrides


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per experiment)."""
    parser = argparse.ArgumentParser(
        prog="python -m infoflow_core",
        description="Run one of the paper's experiments and store its results "
                    "(summary.json with the full configuration, arrays.npz).")
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    try:
        default_scale = current_scale()
    except ValueError as err:  # a bad INFOFLOW_SCALE is reported when it is used
        default_scale = str(err)
    for name in EXPERIMENT_MODULES:
        description = get_experiment(name).description
        p = sub.add_parser(name, help=description, description=description)
        p.add_argument("--scale", choices=SCALES, default=None,
                       help=f"sizes to run at (default: $INFOFLOW_SCALE, else book; now {default_scale})")
        p.add_argument("--out", required=True, help="folder to write summary.json and arrays.npz into")
        p.add_argument("--seed", type=int, default=None,
                       help="root seed of every random generator (default: the scale's preset)")
        p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N")
        p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="override a configuration field (VALUE as JSON, e.g. n_epochs=200); repeatable")
        p.add_argument("--overwrite", action="store_true", help="replace stored results already in --out")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .results import check_output_dir

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        scale = args.scale or current_scale()
    except ValueError as err:
        parser.error(str(err))
    experiment = get_experiment(args.experiment)
    overrides = _parse_set(args.set, parser)
    if args.seed is not None:
        overrides["seed"] = args.seed
    try:
        config = experiment.config_type.for_scale(scale, **overrides)
        device = resolve_device(args.device)
        out = check_output_dir(args.out, overwrite=args.overwrite)
    except ValueError as err:
        parser.error(str(err))
    t0 = time.perf_counter()
    try:
        results = experiment.run(config, device=device, progress=not args.no_progress)
    except FileNotFoundError as err:  # missing data: the message says where to put it
        print(f"python -m infoflow_core {args.experiment}: {err}", file=sys.stderr)
        return 1
    results.save(out, overwrite=args.overwrite)
    print(f"wrote {out / 'summary.json'} and {out / 'arrays.npz'} "
          f"({time.perf_counter() - t0:.0f} s on {results.provenance.device}, config hash {config.hash})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
