"""Where a long SZT run stands: its finished jobs (``DIR/jobs``), the unfinished one's
checkpoint (``DIR/checkpoints``, else the one committed in ``DIR/jobs/unfinished``)
and what is left, without running anything (``python -m infoflow_core szt --status``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._common import Checkpoints
from .._jobs import JobStore
from .config import SZTConfig
from .results import DeterministicResults, DPIResults, NetworkResults

__all__ = ["run_jobs", "job_type", "describe_job", "run_status"]


def run_jobs(config: SZTConfig) -> list[tuple[str, int]]:
    """The (network, seed index) jobs of ``config`` in the order :func:`run_szt` runs them:
    per seed, every noisy network, then the deterministic one (the realization check
    comes after the first seed's).

    >>> run_jobs(SZTConfig.for_scale("quick", networks=("tanh", "relu"), n_seeds=2))
    [('tanh', 0), ('relu', 0), ('deterministic', 0), ('tanh', 1), ('relu', 1), ('deterministic', 1)]
    """
    names = list(config.networks) + (["deterministic"] if config.deterministic else [])
    return [(name, k) for k in range(config.n_seeds) for name in names]


def job_type(name: str) -> type:
    """The results type of job ``name`` (a network of :func:`run_jobs`).

    >>> job_type("deterministic").__name__, job_type("tanh").__name__
    ('DeterministicResults', 'NetworkResults')
    """
    return DeterministicResults if name == "deterministic" else NetworkResults


def _epochs_where(flags: np.ndarray, epochs: np.ndarray) -> str:
    """'T5 at 1, 3; T4 at 1' for the layers whose ``flags`` (E, L) are set; 'none' if none."""
    parts = [f"T{k + 1} at {', '.join(str(int(e)) for e in epochs[flags[:, k] != 0])}"
             for k in range(flags.shape[1]) if (flags[:, k] != 0).any()]
    return "; ".join(parts) or "none"


def describe_job(result) -> str:
    """One finished job in a few lines: for a noisy network its measured epochs, final
    test accuracy, largest standard errors, the layers and epochs that took the nested
    path (:mod:`infoflow_core._nested`), the seconds per measured epoch and its wall time.

    >>> print(describe_job(DPIResults("tanh", 97, 0.005, np.array([1, 10]), np.zeros((2, 5)), np.zeros((2, 5)),
    ...                                np.zeros((2, 5)), np.zeros((2, 5)))))
    realization check at epoch 97: n_x = 1, 10
    """
    if isinstance(result, DPIResults):
        return f"realization check at epoch {result.epoch}: n_x = {', '.join(str(int(n)) for n in result.n_x)}"
    hours = f"wall {result.wall_time_s / 3600:.2f} h"
    if isinstance(result, DeterministicResults):
        return f"{len(result.epochs)} measured epochs; final test accuracy {result.test_acc[-1]:.3f}; {hours}"
    lines = [f"{len(result.epochs)} measured epochs of {len(result.loss_epochs)}; final test accuracy "
             f"{result.test_acc[-1]:.3f}; standard errors ≤ {result.mi_stderr.max():.4f} (I(X;T)), "
             f"≤ {result.mi_y_stderr.max():.4f} (I(T;Y)) nats; {hours}"]
    if result.mi_path is not None:
        lines.append(f"  nested path, h(T): {_epochs_where(result.mi_path, result.epochs)}")
        lines.append(f"  nested path, I(T;Y): {_epochs_where(result.mi_y_path, result.epochs)}")
    secs = result.measure_seconds
    if secs is not None and np.isfinite(secs).any():
        s = secs[np.isfinite(secs)]
        lines.append(f"  seconds per measured epoch ({s.size} recorded): mean {s.mean():.1f}, median "
                     f"{np.median(s):.1f}, max {s.max():.1f}")
    return "\n".join(lines)


def _progress(state: dict | None) -> int:
    """Measured epochs in an unfinished job's checkpoint (noisy or deterministic)."""
    if state is None:
        return 0
    if "done" in state:
        return len(state["done"]["rows"])
    return len(state.get("rows", ()))


def run_status(config: SZTConfig, out) -> str:
    """Where the run of ``config`` kept in folder ``out`` stands: each finished job
    (:func:`describe_job`), each unfinished job with a checkpoint and its measured
    epochs, the jobs left, and the finished jobs' wall hours.

    Raises ValueError when ``out/jobs`` or ``out/checkpoints`` belong to another
    configuration.
    """
    out = Path(out)
    lines = [f"SZT run in {out} (config hash {config.hash}, scale {config.scale}, n_x = {config.n_x}, "
             f"{config.n_seeds} seed(s))"]
    if not (out / "jobs").is_dir() and not (out / "checkpoints").is_dir():
        return "\n".join(lines + ["no finished jobs and no checkpoints yet"])
    store = JobStore(out / "jobs", config) if (out / "jobs").is_dir() else None
    ckpt = Checkpoints(out / "checkpoints", config) if (out / "checkpoints").is_dir() else None
    finished, hours, left = 0, 0.0, []
    jobs = run_jobs(config)
    for name, k in jobs:
        key = f"{name}/seed{k}"
        result = store.load(key, job_type(name), config=config.network(name, k)) if store is not None else None
        if result is not None:
            finished += 1
            hours += result.wall_time_s / 3600
            lines.append(f"{key}: finished, " + describe_job(result))
            continue
        ck_key = f"{name}/seed{config.network(name, k).seed}"
        state = ckpt.load(ck_key) if ckpt is not None else None
        where = "its checkpoint"
        if state is None and store is not None:
            state, where = store.load_unfinished(ck_key), "its committed checkpoint"
        if state is not None:
            lines.append(f"{key}: under way, {_progress(state)} of {len(config.network(name, k).epochs)} "
                         f"measured epochs in {where}")
        left.append(key)
    dpi = [key for key in (store.keys() if store is not None else []) if key.startswith("dpi/")]
    for key in dpi:
        result = store.load(key, DPIResults, config=None)
        lines.append(f"{key}: finished, " + describe_job(result))
    if config.dpi and len(dpi) < config.dpi_epochs:
        left.append(f"realization check ({config.dpi_epochs - len(dpi)} of {config.dpi_epochs} epochs)")
    lines.append(f"{finished} of {len(jobs)} network jobs finished ({hours:.2f} wall hours, the realization "
                 f"check's not counted); "
                 f"left: {', '.join(left) if left else 'none'}")
    return "\n".join(lines)
