"""Command line: run one of the paper's experiments and store its results.

    python -m infoflow_core EXPERIMENT [--scale S] --out DIR [--seed N] [--device D]
                                       [--set FIELD=VALUE ...] [--overwrite] [--no-progress]
                                       [--jobs N] [--max-hours H] [--commit [--commit-every MIN]]

The output folder is checked before anything is computed; an existing stored run is
replaced only with ``--overwrite``; files are written at the end, all at once.

Long experiments (those whose run takes ``checkpoints=``, e.g. ``szt`` and ``mnist``)
save their progress in ``DIR/checkpoints/`` as they go: run the same command again
after an interruption and it continues where it stopped (``--overwrite`` starts
afresh). The folder is removed once the results are written.

Experiments made of independent jobs (``szt``: one job per network and seed, the
deterministic network per seed, each realization check) can advance *in git*, sitting
by sitting: with ``--jobs N`` (start at most N jobs) or ``--max-hours H`` (start no
job after H hours), each finished job is written to ``DIR/jobs/<job>.npz`` (small:
curves, errors, snapshots, weights; ``DIR/jobs/config.json`` names the
configuration), ``--commit`` commits each such file as it is written, and the same
command in a later sitting, from a fresh clone, loads the finished jobs and runs the
rest. ``--commit`` also commits the running job's checkpoint every ``--commit-every``
minutes (default 30) to ``DIR/jobs/unfinished/``: a sitting cut off in the middle of a
job loses at most that much of it, since a fresh clone goes on from the committed
state; the job's result replaces it in git when the job finishes. When none is left, ``summary.json`` and ``arrays.npz`` are assembled from them.
A ``DIR/jobs`` folder, once there, is always used. For example::

    nice python -m infoflow_core szt --scale full --out book/results/szt/full --max-hours 2 --commit

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment)::

    torchrun --standalone --nproc_per_node N -m infoflow_core EXPERIMENT --scale S --out DIR

every process joins the default ``torch.distributed`` process group (gloo on the CPU,
NCCL when the device is CUDA, each rank on GPU ``LOCAL_RANK``), and the experiment
spreads its independent jobs over the ranks
(:func:`~infoflow_core.experiments._common.run_sharded`): the SZT networks, the MNIST
stacks of seeds. Rank 0 alone checks the output folder (before anything is computed;
the other ranks stop with it when the check fails), shows progress, writes the
results and prints; the stored results are those of a one-process run. The group's
timeout (``INFOFLOW_DIST_TIMEOUT_S``, default 7 days) bounds how long a rank that has
finished its share waits for the others.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import inspect
import json
import os
import shutil
import sys
import time
from pathlib import Path

from .experiments import EXPERIMENT_MODULES, get_experiment, resolve_device
from .scales import SCALES, current_scale

#: Default timeout (seconds) of the process group under torchrun: a rank that has done its
#: share waits this long in the gather for the slowest rank.
DIST_TIMEOUT_S = 7 * 24 * 3600


def _launched_by_torchrun() -> bool:
    """Whether the environment asks for more than one process (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def _init_distributed(device):
    """Join the default process group torchrun describes (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``); returns this rank's device: ``cuda:LOCAL_RANK``
    when ``device`` is CUDA without an index, else ``device``."""
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=float(os.environ.get("INFOFLOW_DIST_TIMEOUT_S", DIST_TIMEOUT_S)))
    kwargs = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout, **kwargs)
    return device


def _barrier() -> None:
    """Wait for every rank under torchrun (nothing with one process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


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
        if "jobs" in inspect.signature(get_experiment(name).run).parameters:
            p.add_argument("--jobs", type=_non_negative_int, default=None, metavar="N",
                           help="start at most N jobs not yet in DIR/jobs, then stop (finished jobs stay there)")
            p.add_argument("--max-hours", type=_positive_float, default=None, metavar="H",
                           help="start no job after H hours (finished jobs stay in DIR/jobs)")
            p.add_argument("--commit", action="store_true",
                           help="git-commit each finished job's file in DIR/jobs as it is written, and the "
                                "running job's checkpoint every --commit-every minutes (DIR/jobs/unfinished; "
                                "a fresh clone goes on from it)")
            p.add_argument("--commit-every", type=_positive_minutes, default=30.0, metavar="MIN",
                           help="minutes between two commits of the running job's checkpoint with --commit "
                                "(default 30)")
        if get_experiment(name).status is not None:
            p.add_argument("--status", action="store_true",
                           help="print where the run in --out stands (finished jobs, checkpoints, what is left) "
                                "and run nothing")
            p.add_argument("--assemble", action="store_true",
                           help="run nothing: write summary.json and arrays.npz from the finished jobs in "
                                "DIR/jobs, of the seeds whose jobs are all in (the whole run once every job is)")
    return parser


def _number(kind: type, minimum: float, what: str):
    """An argparse ``type``: ``kind(text)``, finite, ≥ ``minimum``, else an error naming ``what``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not (minimum <= value < float("inf")):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


_non_negative_int = _number(int, 0, "a non-negative integer")
_positive_float = _number(float, 1e-300, "a positive number of hours")
_positive_minutes = _number(float, 1e-300, "a positive number of minutes")


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
        if getattr(args, "status", False):
            print(experiment.status(config, args.out))
            return 0
        device = resolve_device(args.device)
        if not _launched_by_torchrun():
            out = check_output_dir(args.out, overwrite=args.overwrite, config=config)
    except ValueError as err:
        parser.error(str(err))
    if not _launched_by_torchrun():
        return _run(experiment, config, device, out, args, rank=0)
    import torch.distributed as dist

    device = _init_distributed(device)
    try:
        rank = dist.get_rank()
        # rank 0 checks the output folder (it may exist on rank 0's machine only); all stop if it fails
        verdict = [None]
        if rank == 0:
            try:
                out = check_output_dir(args.out, overwrite=args.overwrite, config=config)
            except ValueError as err:
                verdict = [str(err)]
        dist.broadcast_object_list(verdict, src=0)
        if verdict[0] is not None:
            if rank == 0:
                parser.print_usage(sys.stderr)
                print(f"{parser.prog}: error: {verdict[0]}", file=sys.stderr)
            return 2
        return _run(experiment, config, device, out if rank == 0 else None, args, rank=rank)
    finally:
        dist.destroy_process_group()


def _bound_store(cls, folder: Path, config, args, rank: int):
    """``cls(folder, config)`` (a Checkpoints or JobStore), the folder emptied first with
    ``--overwrite``; None after printing why when the folder belongs to another configuration."""
    if args.overwrite and rank == 0 and folder.exists():
        shutil.rmtree(folder)
    _barrier()
    try:
        return cls(folder, config)
    except ValueError as err:
        print(f"python -m infoflow_core {args.experiment}: {err}", file=sys.stderr)
        return None


def _run(experiment, config, device, out, args, *, rank: int) -> int:
    """Run the experiment (every rank), save and report (rank 0 only)."""
    from .results import holds_part_of

    t0 = time.perf_counter()
    kwargs = {}
    assemble = getattr(args, "assemble", False)
    jobs_folder = Path(args.out) / "jobs"
    if hasattr(args, "jobs") and (args.jobs is not None or args.max_hours is not None or args.commit
                                  or jobs_folder.is_dir() or assemble):
        from .experiments._jobs import JobBudget, JobStore

        kwargs["jobs"] = _bound_store(JobStore, jobs_folder, config, args, rank)
        if kwargs["jobs"] is None:
            return 2
        kwargs["budget"] = JobBudget(0 if assemble else args.jobs, args.max_hours)
        kwargs["commit"] = bool(args.commit) and rank == 0
        found = kwargs["jobs"].keys()
        if found and rank == 0:
            print(f"{len(found)} finished job(s) in {jobs_folder}: {', '.join(found)}", file=sys.stderr)
    if experiment.resumable and not assemble:
        from .experiments import Checkpoints

        folder = Path(args.out) / "checkpoints"
        store = Checkpoints
        if kwargs.get("jobs") is not None:  # a fresh clone goes on from a job's committed checkpoint
            from .experiments._jobs import CommittedCheckpoints

            store = functools.partial(CommittedCheckpoints, jobs=kwargs["jobs"],
                                      every_s=60.0 * args.commit_every if kwargs["commit"] else float("inf"))
        kwargs["checkpoints"] = _bound_store(store, folder, config, args, rank)
        if kwargs["checkpoints"] is None:
            return 2
        done = kwargs["checkpoints"].keys()
        if done and rank == 0:
            print(f"resuming from {len(done)} checkpoint(s) in {folder}", file=sys.stderr)
    from .experiments._jobs import IncompleteRun

    try:
        results = experiment.run(config, device=device, progress=not args.no_progress and rank == 0, **kwargs)
    except FileNotFoundError as err:  # missing data: the message says where to put it
        print(f"python -m infoflow_core {args.experiment}: {err}", file=sys.stderr)
        return 1
    except IncompleteRun as err:
        if rank != 0:
            return 0
        then = "" if assemble else "; run the same command again to go on"
        print(f"python -m infoflow_core {args.experiment}: {err}. Finished jobs are in {jobs_folder}{then}.",
              file=sys.stderr)
        if assemble:
            if err.partial is None:
                print(f"python -m infoflow_core {args.experiment}: no seed has all its jobs finished yet; "
                      "nothing written", file=sys.stderr)
                return 1
            err.partial.save(out, overwrite=True)  # check_output_dir let only a part of this run be replaced
            print(f"wrote {out / 'summary.json'} and {out / 'arrays.npz'} of the finished seeds: "
                  f"{err.partial.describe()}")
        return 0
    if rank != 0:
        return 0
    results.save(out, overwrite=args.overwrite or holds_part_of(out, config))
    if "checkpoints" in kwargs:
        kwargs["checkpoints"].remove()
    print(f"wrote {out / 'summary.json'} and {out / 'arrays.npz'} "
          f"({time.perf_counter() - t0:.0f} s on {results.provenance.device}, config hash {config.hash})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
