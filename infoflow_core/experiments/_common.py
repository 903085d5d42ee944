"""The skeleton every experiment follows.

An experiment is

* a frozen configuration dataclass, subclass of :class:`ExperimentConfig`, built for a
  scale by ``Config.for_scale(scale, **overrides)`` from its class-level ``PRESETS``;
* one function ``run_<name>(config, *, device=None, progress=True)`` that returns a
  results object, subclass of :class:`infoflow_core.results.ExperimentResults`
  (arrays, a JSON summary, save and load);
* one function ``<name>_results(scale, *, results_dir=None, ...)`` that a chapter
  calls: stored results when they match the configuration, else a run
  (:func:`infoflow_core.results.load_or_run`);
* an :class:`Experiment` record that ties the three together for the command line
  ``python -m infoflow_core <name> --scale S --out DIR``.

Helpers shared by all experiments live here too: the log-spaced epoch grid
(:func:`log_epochs`), progress bars (:func:`progress_iter`, :func:`progress_bar`) and
the one place where ``"auto"`` becomes a device (:func:`resolve_device`), and the
spreading of an experiment's independent jobs over the ranks of a ``torchrun`` launch
(:func:`run_sharded`, :func:`dist_rank`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from ..scales import SCALES, current_scale

__all__ = [
    "ExperimentConfig", "Experiment", "config_hash", "log_epochs", "progress_iter", "progress_bar",
    "resolve_device", "single_thread", "dist_world", "dist_rank", "run_sharded", "Checkpoints", "to_state", "from_state",
]


def config_hash(config: dict) -> str:
    """A short, stable hash (12 hex digits) of a JSON-serialisable configuration.

    Key order does not matter; tuples and lists hash alike.

    >>> config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": (1, 2), "a": 1})
    True
    """
    blob = json.dumps(_jsonable(config), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _jsonable(value: Any):
    """Tuples to lists, numpy scalars to Python numbers, nested configs to dicts."""
    if isinstance(value, ExperimentConfig):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """Base of every experiment's configuration: frozen, hashable, JSON round-trip.

    Subclasses are ``@dataclass(frozen=True, kw_only=True)`` with a default for every
    field (the ``book`` scale's values by convention), a class attribute ``PRESETS``
    mapping each scale to the fields it changes, and, if they check their fields, a
    :meth:`validate` method (called on construction; raise ``ValueError`` naming the
    field).

    Attributes
    ----------
    scale : {"quick", "book", "full"}
        Which preset the sizes come from (informational once overrides are applied).
    seed : int
        Root of every random generator of the run.
    """

    PRESETS: ClassVar[dict[str, dict]] = {}

    scale: str = "book"
    seed: int = 0

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        for f in fields(self):  # lists given for tuple fields become tuples (hashable, frozen)
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Check the fields (subclasses override); raise ``ValueError`` naming the field."""

    @classmethod
    def for_scale(cls, scale: str | None = None, **overrides):
        """The configuration at ``scale`` (default: ``INFOFLOW_SCALE``, else ``book``):
        the class defaults, then ``PRESETS[scale]``, then ``overrides``."""
        scale = current_scale() if scale is None else scale
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; fields are {sorted(names)}")
        return cls(**{**cls.PRESETS.get(scale, {}), **overrides, "scale": scale})

    def replace(self, **changes):
        """A copy with ``changes`` applied (checked like a new configuration)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Every field, JSON-ready (tuples as lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict):
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"config has unknown {cls.__name__} field(s) {unknown}")
        return cls(**data)

    @property
    def hash(self) -> str:
        """:func:`config_hash` of :meth:`to_dict`: equal hashes, equal configurations."""
        return config_hash(self.to_dict())

    def is_preset(self) -> bool:
        """Whether this is exactly ``for_scale(self.scale)`` (no overrides)."""
        return self == type(self).for_scale(self.scale)

    def part_of(self, whole) -> bool:
        """Whether this is ``whole`` with fewer seeds (``n_seeds``), all else equal: the
        configuration of a long run's results while its later seeds are still running.

        >>> from infoflow_core.experiments.szt import SZTConfig
        >>> full = SZTConfig.for_scale("full")
        >>> full.replace(n_seeds=1).part_of(full), full.part_of(full), full.replace(n_x=10, n_seeds=1).part_of(full)
        (True, False, False)
        """
        if type(self) is not type(whole) or not hasattr(whole, "n_seeds"):
            return False
        return self.n_seeds < whole.n_seeds and self.replace(n_seeds=whole.n_seeds) == whole


@dataclass(frozen=True)
class Experiment:
    """What the command line and :func:`~infoflow_core.results.load_or_run` need to
    know about one experiment.

    Attributes
    ----------
    name : str
        The command-line name and the folder name of stored results.
    description : str
        One line for ``--help``.
    config_type : type of ExperimentConfig
    results_type : type of ExperimentResults
    run : callable
        ``run(config, *, device=None, progress=True) -> results``; a long experiment
        also takes ``checkpoints=None`` (a :class:`Checkpoints`) and resumes from it.
    status : callable, optional
        ``status(config, out) -> str``: where a run kept in folder ``out`` stands (its
        finished jobs and checkpoints), for experiments that run as jobs.
    """

    name: str
    description: str
    config_type: type
    results_type: type
    run: Callable
    status: Callable | None = None

    @property
    def resumable(self) -> bool:
        """Whether :attr:`run` takes ``checkpoints=`` (and so can continue a stopped run)."""
        import inspect

        return "checkpoints" in inspect.signature(self.run).parameters


def log_epochs(last: int, n_points: int, *, include_zero: bool = False) -> tuple[int, ...]:
    """The log-spaced epoch grid ``unique(round(logspace(0, log10(last), n_points)))``,
    with epoch 0 in front when ``include_zero``; 1 and ``last`` are always included.

    The paper's SZT grid is ``log_epochs(9999, 100)``: 84 distinct epochs out of 100
    points (small epochs round to the same integer).

    >>> g = log_epochs(9999, 100); len(g), g[:6], g[-1]
    (84, (1, 2, 3, 4, 5, 6), 9999)
    >>> log_epochs(100, 5, include_zero=True)
    (0, 1, 3, 10, 32, 100)
    """
    if isinstance(last, bool) or not isinstance(last, (int, np.integer)) or last < 1:
        raise ValueError(f"last must be an integer >= 1, got {last!r}")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"n_points must be an integer >= 1, got {n_points!r}")
    if n_points == 1:
        grid = np.asarray([last])
    else:
        grid = np.unique(np.round(np.logspace(0, math.log10(last), int(n_points))).astype(np.int64))
        grid[-1] = last  # guard against logspace's last digit
    if include_zero:
        grid = np.concatenate([[0], grid])
    return tuple(int(e) for e in np.unique(grid))


def progress_iter(iterable, enabled: bool, **tqdm_kwargs):
    """``iterable`` wrapped in a ``tqdm.auto`` bar (with the time left), or itself
    when ``enabled`` is False."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **tqdm_kwargs)


def progress_bar(total: int, enabled: bool, desc: str, *, leave: bool = True, unit: str = "it"):
    """A ``tqdm.auto`` bar to update by hand (``bar.update(n)``), or ``None`` when
    ``enabled`` is False."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=leave, unit=unit)


def resolve_device(device=None) -> torch.device:
    """``None`` or ``"auto"``: CUDA when available, else the CPU; otherwise
    ``torch.device(device)``. The only place an experiment picks a device.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}") from None


@contextlib.contextmanager
def single_thread(enabled: bool = True):
    """Run the body with ``torch.set_num_threads(1)``, restoring the thread count after.

    The networks trained here are tiny: one thread is faster than several (no
    synchronisation, no oversubscription on a busy machine) and makes the floating-point
    reductions, hence the trained weights, independent of the machine's core count.

    >>> n = torch.get_num_threads()
    >>> with single_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == n
    True
    """
    n = torch.get_num_threads()
    if not enabled or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _dist_active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def dist_world() -> int:
    """The number of ranks of the default ``torch.distributed`` process group, 1 when
    there is none (one process).

    >>> dist_world()
    1
    """
    import torch.distributed as dist

    return dist.get_world_size() if _dist_active() else 1


def dist_rank() -> int:
    """This process's rank in the default ``torch.distributed`` process group, 0 when
    there is none (one process).

    >>> dist_rank()
    0
    """
    import torch.distributed as dist

    return dist.get_rank() if _dist_active() else 0


def run_sharded(jobs, fn: Callable) -> list:
    """``[fn(job) for job in jobs]``, the jobs spread over the ranks of ``torchrun``.

    With one process (no default ``torch.distributed`` process group, or a world of
    one) this is exactly the list comprehension, in order. When a default process group
    with ``world > 1`` ranks is initialized (``python -m infoflow_core`` does it under
    ``torchrun``), rank ``r`` runs the jobs ``r, r + world, r + 2·world, …`` and the
    results are gathered with :func:`torch.distributed.all_gather_object`, so every
    rank returns the full list in the original job order.

    Every rank must call it with the same ``jobs`` (a collective operation). The jobs
    must be independent and each must seed its own generators (nothing drawn from a
    generator shared between jobs, no global RNG): then a job's result does not depend on
    the rank that ran it or on the other jobs, and the gathered list equals the
    one-process list bit for bit (on the same device type and thread count). Results
    travel by pickle: return numpy arrays, Python numbers and dataclasses of them, not
    CUDA tensors. A job that raises on one rank raises there; the other ranks then wait
    in the gather until the process group's timeout (``torchrun`` stops them all once
    one rank fails).

    >>> run_sharded([1, 2, 3], lambda j: j * j)  # one process
    [1, 4, 9]
    """
    jobs = list(jobs)
    world = dist_world()
    if world == 1:
        return [fn(job) for job in jobs]
    import torch.distributed as dist

    rank = dist.get_rank()
    mine = [fn(job) for job in jobs[rank::world]]
    gathered: list = [None] * world
    dist.all_gather_object(gathered, mine)
    out: list = [None] * len(jobs)
    for r, results in enumerate(gathered):
        out[r::world] = results
    return out


class Checkpoints:
    """Resumable progress of a long run: one file per job in ``folder``, tied to the
    run's configuration.

    A run saves the state of each of its jobs (e.g. one network and seed) after every
    unit of work with :meth:`save`; started again with the same configuration it
    loads that state with :meth:`load` and continues. The folder records the configuration's
    hash (``config.json``): a folder started with another configuration is refused,
    so a resumed run never mixes two configurations. Files are written atomically
    (a temporary file, then a rename), so a run killed while saving leaves the
    previous checkpoint intact.

    States are dicts of tensors, numbers, strings and (nested) lists, tuples and dicts
    of them, as ``torch.load(weights_only=True)`` reads them (NumPy arrays: convert
    with ``torch.from_numpy``).

    Parameters
    ----------
    folder : str or Path
        Created if missing.
    config : ExperimentConfig

    Examples
    --------
    >>> import tempfile
    >>> from infoflow_core.experiments.binning import BinningConfig
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ck = Checkpoints(d, BinningConfig.for_scale("quick"))
    ...     ck.save("tanh/seed0", {"epoch": 3, "w": torch.ones(2)})
    ...     state = Checkpoints(d, BinningConfig.for_scale("quick")).load("tanh/seed0")
    ...     state["epoch"], ck.load("relu/seed0")
    (3, None)
    """

    def __init__(self, folder, config: ExperimentConfig):
        self.folder = bind_folder(folder, config, "checkpoints",
                                  "remove the folder (or pass --overwrite) to start again, or run with the "
                                  "configuration it was started with")

    def _path(self, key: str) -> Path:
        if not key or any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"key must be a relative name like 'tanh/seed0', got {key!r}")
        return self.folder / f"{key}.pt"

    def load(self, key: str) -> dict | None:
        """The last state saved for ``key``, or None when there is none."""
        path = self._path(key)
        if not path.is_file():
            return None
        return torch.load(path, map_location="cpu", weights_only=True)

    def save(self, key: str, state: dict) -> None:
        """Store ``state`` for ``key``, replacing the previous one atomically."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(state, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def keys(self) -> list[str]:
        """Keys with a saved state, sorted."""
        return sorted(str(p.relative_to(self.folder).with_suffix("")) for p in self.folder.rglob("*.pt"))

    def remove(self) -> None:
        """Delete the folder (after the results are stored)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def bind_folder(folder, config: ExperimentConfig, what: str, remedy: str) -> Path:
    """``folder`` (created if missing) tied to ``config``: its ``config.json`` records the
    configuration's hash when new; a folder recorded for another hash raises ValueError
    naming ``what`` it holds and the ``remedy``. Returns the folder as a Path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "config.json"
    if record.is_file():
        stored = json.loads(record.read_text())
        if stored.get("config_hash") != config.hash:
            raise ValueError(f"{what} in {str(folder)!r} belong to a run with config hash "
                             f"{stored.get('config_hash')}, not {config.hash}: {remedy}")
    else:
        _atomic_write(record, (json.dumps({"config_hash": config.hash, "config": config.to_dict()},
                                          indent=1) + "\n").encode())
    return folder


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def to_state(tree):
    """A copy of ``tree`` (nested dicts, lists, tuples) that :class:`Checkpoints` can
    store: NumPy arrays become tensors, tensors become detached CPU copies, anything
    else is kept.

    >>> to_state({"a": np.zeros(2), "b": [torch.ones(1, requires_grad=True), 3]})["b"][0].requires_grad
    False
    """
    if isinstance(tree, np.ndarray):
        return torch.from_numpy(tree.copy())
    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu().clone()
    if isinstance(tree, dict):
        return {k: to_state(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_state(v) for v in tree)
    return tree


def from_state(tree):
    """The inverse of :func:`to_state` for arrays: every tensor back to a NumPy array.

    >>> from_state({"a": torch.zeros(2)})["a"].tolist()
    [0.0, 0.0]
    """
    if isinstance(tree, torch.Tensor):
        return tree.numpy()
    if isinstance(tree, dict):
        return {k: from_state(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(from_state(v) for v in tree)
    return tree
