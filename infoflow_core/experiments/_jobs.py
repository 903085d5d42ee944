"""Finished jobs of a long run, stored one file each so that the run advances in git.

A full-scale experiment is many independent jobs (one network and seed, the
deterministic network of a seed, one realization check). :class:`JobStore` keeps each
finished job's result as a small compressed ``.npz`` under ``folder`` (meant to be
committed), tied to the run's configuration hash like :class:`~._common.Checkpoints`:
a sitting runs a few jobs (``--jobs N`` or ``--max-hours H`` on the command line),
commits them, and the next sitting, from a fresh clone, loads them and goes on with
the rest. The unfinished job's per-epoch checkpoint (``DIR/checkpoints``, not
committed) lets an interrupted job resume on the same machine; with
:class:`CommittedCheckpoints` its latest state is also committed every half hour or
so (``DIR/unfinished``), so that a sitting cut off in the middle of a long job
loses at most that much of it, and a fresh clone goes on from there.

>>> import tempfile
>>> from infoflow_core.experiments.binning import BinningConfig
>>> from dataclasses import dataclass, field
>>> @dataclass
... class R:
...     config: object
...     curve: np.ndarray
...     wall_time_s: float = 0.0
...     state: dict = field(default_factory=dict)
>>> cfg = BinningConfig.for_scale("quick")
>>> with tempfile.TemporaryDirectory() as d:
...     path = JobStore(d, cfg).save("tanh/seed0", R(None, np.arange(3.0), 1.5, {"w": np.ones(2)}))
...     back = JobStore(d, cfg).load("tanh/seed0", R, config=None)
...     back.curve.tolist(), back.wall_time_s, back.state["w"].tolist(), JobStore(d, cfg).keys()
([0.0, 1.0, 2.0], 1.5, [1.0, 1.0], ['tanh/seed0'])
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import torch

from ._common import Checkpoints, ExperimentConfig, _atomic_write, bind_folder

__all__ = ["JobStore", "JobBudget", "IncompleteRun", "CommittedCheckpoints"]


class IncompleteRun(Exception):
    """Raised by a run with a job budget when jobs are left: ``finished`` and
    ``missing`` name them (keys like ``"tanh/seed0"``); ``partial`` is the results of
    the seeds whose jobs are all finished (a configuration with fewer ``n_seeds``,
    :meth:`~._common.ExperimentConfig.part_of` the run's), or None when there are none."""

    def __init__(self, finished: list[str], missing: list[str], partial=None):
        self.finished, self.missing = list(finished), list(missing)
        self.partial = partial
        super().__init__(f"{len(self.finished)} of {len(self.finished) + len(self.missing)} jobs finished; "
                         f"left: {', '.join(self.missing)}")


class JobBudget:
    """How many new jobs a sitting may start: at most ``max_jobs`` (None: any), and none
    after ``max_hours`` hours from the budget's creation (None: no limit).

    >>> b = JobBudget(max_jobs=1)
    >>> b.allows(), b.start(), b.allows()
    (True, None, False)
    """

    def __init__(self, max_jobs: int | None = None, max_hours: float | None = None):
        if max_jobs is not None and (not isinstance(max_jobs, int) or max_jobs < 0):
            raise ValueError(f"max_jobs must be a non-negative integer or None, got {max_jobs!r}")
        if max_hours is not None and not (isinstance(max_hours, (int, float)) and max_hours > 0):
            raise ValueError(f"max_hours must be a positive number or None, got {max_hours!r}")
        self.max_jobs, self.max_hours = max_jobs, max_hours
        self.started = 0
        self.t0 = time.monotonic()

    def allows(self) -> bool:
        """Whether another job may start now."""
        if self.max_jobs is not None and self.started >= self.max_jobs:
            return False
        return self.max_hours is None or (time.monotonic() - self.t0) < 3600.0 * self.max_hours

    def start(self) -> None:
        """Count a job as started."""
        self.started += 1


def _flatten(result) -> tuple[dict, dict]:
    """Arrays and JSON metadata of a results dataclass (its ``config`` field left out)."""
    arrays, meta = {}, {}
    for f in dataclasses.fields(result):
        if f.name == "config":
            continue
        value = getattr(result, f.name)
        if isinstance(value, dict):
            meta[f.name] = {"dict": sorted(value)}
            for k, v in value.items():
                arrays[f"{f.name}/{k}"] = np.asarray(v)
        elif isinstance(value, np.ndarray):
            arrays[f.name] = value
        elif value is None or isinstance(value, (bool, int, float, str)):
            meta[f.name] = {"value": value}
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (bool, int, float, str)) for v in value):
            meta[f.name] = {"value": list(value)}
        else:
            raise ValueError(f"cannot store field {f.name!r} of type {type(value).__name__}")
    return arrays, meta


class JobStore:
    """Finished jobs of one run, one ``<key>.npz`` each in ``folder`` (``/`` in a key
    becomes ``--``), and ``config.json`` naming the run's configuration.

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    config : ExperimentConfig
        A folder holding another configuration's jobs is refused (ValueError).
    """

    def __init__(self, folder, config: ExperimentConfig):
        self.folder = bind_folder(folder, config, "finished jobs",
                                  "run with the configuration they were made with, or give another --out")
        self.config = config

    @staticmethod
    def _file_name(key: str) -> str:
        """``key`` with ``/`` as ``--`` (ValueError for a key that is not a relative name)."""
        if not key or any(part in ("", ".", "..") for part in key.split("/")) or "--" in key:
            raise ValueError(f"key must be a relative name like 'tanh/seed0', got {key!r}")
        return key.replace("/", "--")

    def path(self, key: str) -> Path:
        """The file of job ``key``."""
        return self.folder / f"{self._file_name(key)}.npz"

    def keys(self) -> list[str]:
        """Keys of the finished jobs, sorted."""
        return sorted(p.stem.replace("--", "/") for p in self.folder.glob("*.npz"))

    def save(self, key: str, result) -> Path:
        """Store a finished job's result (a dataclass) atomically; returns its path."""
        arrays, meta = _flatten(result)
        meta = {"key": key, "type": type(result).__name__, "config_hash": self.config.hash, "fields": meta}
        path = self.path(key)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".npz.tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, __meta__=np.asarray(json.dumps(meta)), **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    def load(self, key: str, cls, *, config):
        """The stored result of job ``key`` as a ``cls`` with ``config``, or None."""
        path = self.path(key)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            if meta.get("config_hash") != self.config.hash:
                raise ValueError(f"{path} was made with config hash {meta.get('config_hash')}, not {self.config.hash}")
            kw = {}
            for name, info in meta["fields"].items():
                if "dict" in info:
                    kw[name] = {k: z[f"{name}/{k}"] for k in info["dict"]}
                else:
                    kw[name] = info["value"]
            for name in z.files:
                if name != "__meta__" and "/" not in name:
                    kw[name] = z[name]
        names = {f.name for f in dataclasses.fields(cls)}
        if "config" in names:
            kw["config"] = config
        return cls(**{k: v for k, v in kw.items() if k in names})

    def unfinished_path(self, key: str) -> Path:
        """Where the committed state of unfinished job ``key`` (a checkpoint key, e.g.
        ``"tanh/seed2000"``) is kept: ``<folder>/unfinished/<key with / as -->.pt``."""
        return self.folder / "unfinished" / f"{self._file_name(key)}.pt"

    def load_unfinished(self, key: str) -> dict | None:
        """The committed state of unfinished job ``key`` (see :meth:`keep_unfinished`), or None."""
        path = self.unfinished_path(key)
        return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None

    def keep_unfinished(self, key: str, checkpoint: Path) -> bool:
        """Copy the checkpoint file of unfinished job ``key`` to :meth:`unfinished_path`
        (atomically) and ``git commit`` that path alone; True when committed."""
        path = self.unfinished_path(key)
        path.parent.mkdir(exist_ok=True)
        _atomic_write(path, Path(checkpoint).read_bytes())
        return self._git_commit([path, self.folder / "config.json"],
                                f"{type(self.config).__name__} run: checkpoint {key} of an unfinished job "
                                f"(config hash {self.config.hash})")

    def commit(self, key: str, *, unfinished: str | None = None) -> bool:
        """``git add`` and ``git commit`` job ``key``'s file and ``config.json`` (only
        those paths), when ``folder`` is inside a git work tree; False otherwise. With
        ``unfinished`` (the job's checkpoint key), its committed state
        (:meth:`keep_unfinished`) is deleted in the same commit."""
        paths = [self.path(key), self.folder / "config.json"]
        if unfinished is not None:
            gone = self.unfinished_path(unfinished)
            if gone.is_file():
                gone.unlink()
                try:
                    gone.parent.rmdir()  # when it was the last one
                except OSError:
                    pass
            if self._tracked(gone):
                paths.append(gone)
        return self._git_commit(paths, f"{type(self.config).__name__} run: job {key} finished "
                                       f"(config hash {self.config.hash})")

    def _top(self) -> str:
        return subprocess.run(["git", "-C", str(self.folder), "rev-parse", "--show-toplevel"], capture_output=True,
                              text=True, check=True).stdout.strip()

    def _tracked(self, path: Path) -> bool:
        try:
            return bool(subprocess.run(["git", "-C", self._top(), "ls-files", "--", str(path.resolve())],
                                       capture_output=True, text=True, check=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            return False

    def _git_commit(self, paths, msg: str) -> bool:
        """``git add`` then ``git commit`` of ``paths`` only (others staged are left
        alone); False when ``folder`` is not in a git work tree or git fails."""
        paths = [str(Path(p).resolve()) for p in paths]
        try:
            top = self._top()
            subprocess.run(["git", "-C", top, "add", "-A", "--", *paths], check=True, capture_output=True)
            subprocess.run(["git", "-C", top, "commit", "-q", "-m", msg, "--", *paths], check=True,
                           capture_output=True)
            return True
        except (OSError, subprocess.CalledProcessError):
            return False


class CommittedCheckpoints(Checkpoints):
    """:class:`~._common.Checkpoints` of a run with a :class:`JobStore` whose running
    job's state also goes into git: at most every ``every_s`` seconds the state just
    saved is copied to ``jobs.unfinished_path(key)`` and committed there
    (:meth:`JobStore.keep_unfinished`). :meth:`load` falls back on that committed
    state when this machine has no checkpoint of its own (a fresh clone), so the next
    sitting goes on from where the last commit left the job, not from its start. The
    committed state is deleted when the job's result is committed
    (``JobStore.commit(key, unfinished=...)``).

    Parameters
    ----------
    folder, config
        As for :class:`~._common.Checkpoints`.
    jobs : JobStore
    every_s : float
        Seconds between two commits of a running job's state (the first comes
        ``every_s`` after this object is made).
    """

    def __init__(self, folder, config: ExperimentConfig, *, jobs: JobStore, every_s: float = 1800.0):
        if not (isinstance(every_s, (int, float)) and every_s >= 0):
            raise ValueError(f"every_s must be a non-negative number of seconds, got {every_s!r}")
        super().__init__(folder, config)
        self.jobs, self.every_s = jobs, float(every_s)
        self._last = time.monotonic()  # of the last commit, of any key

    def load(self, key: str) -> dict | None:
        """This machine's last state for ``key``, else the committed one, else None."""
        state = super().load(key)
        return state if state is not None else self.jobs.load_unfinished(key)

    def keys(self) -> list[str]:
        """Keys with a saved state, here or committed, sorted."""
        folder = self.jobs.folder / "unfinished"
        committed = [p.stem.replace("--", "/") for p in folder.glob("*.pt")] if folder.is_dir() else []
        return sorted(set(super().keys()) | set(committed))

    def save(self, key: str, state: dict) -> None:
        """Store ``state`` as :class:`~._common.Checkpoints` does; commit it when
        ``every_s`` have passed since the last such commit (of any key: a job that
        starts right after another finished waits its turn)."""
        super().save(key, state)
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self.jobs.keep_unfinished(key, self._path(key))
            self._last = now
