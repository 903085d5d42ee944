"""Experiment results: one base type, one storage format, one load-or-run.

Every experiment's results object is a dataclass deriving from
:class:`ExperimentResults`: it carries its configuration (an
:class:`~infoflow_core.experiments.ExperimentConfig`), its arrays, a JSON summary of
the headline numbers and a :class:`Provenance` (device, wall time, where it came from).

On disk a run is a folder with

* ``summary.json``: ``experiment``, ``config``, ``config_hash``, the package version,
  torch and Python versions, device, date, wall time, then the experiment's summary;
* ``arrays.npz``: every array of the results object.

:func:`load_or_run` is what a chapter calls: it looks for
``<results_dir>/<experiment>/<scale>/`` (``full`` before ``book``), refuses a stored
run whose configuration hash differs from the code's (:class:`StaleResultsError`)
unless asked to recompute, and otherwise runs the experiment. The results folder is
an argument or the environment variable ``INFOFLOW_RESULTS_DIR``; without either,
everything is computed.

What :func:`load_or_run` computes goes through the **run cache** (:func:`cache_dir`:
``$INFOFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/infoflow/runs``, else
``~/.cache/infoflow/runs``), one folder per run,
``<experiment>/<config hash>-<key hash>/``, written by :meth:`ExperimentResults.save`
into a temporary folder that is then renamed into place. The key is the full
configuration, a hash of every file of the installed ``infoflow_core`` package
(:func:`library_hash`), the torch, NumPy and Python versions and the device, so a
changed estimator, another commit or another machine never reads an old entry.
A second computation of the same configuration (the quick SZT run of chapters 4 and
5, a notebook test run after a quick book build) loads it. What is returned after a
computation is the cached folder read back, so the first and the second caller see
the same numbers. ``recompute=True`` bypasses the cache; ``INFOFLOW_CACHE=0``
disables it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .experiments._common import ExperimentConfig, config_hash, resolve_device

__all__ = [
    "ExperimentResults", "Provenance", "StaleResultsError", "load_or_run", "check_output_dir", "config_hash",
    "results_dir_from_env", "cache_dir", "library_hash", "tree_hash",
]

#: Environment variable naming the folder of stored results (``<dir>/<experiment>/<scale>/``).
RESULTS_DIR_ENV = "INFOFLOW_RESULTS_DIR"
#: Environment variable that disables the run cache when ``0``, ``false``, ``no`` or ``off``.
CACHE_ENV = "INFOFLOW_CACHE"
#: Environment variable naming the run cache's folder.
CACHE_DIR_ENV = "INFOFLOW_CACHE_DIR"
#: Entries of the run cache not read or written for this long are removed (when another is written).
CACHE_MAX_AGE_S = 30 * 24 * 3600
_CACHE_KEY_FILE = "cache_key.json"


class StaleResultsError(ValueError):
    """A stored run was made with another configuration than the one asked for."""


@dataclass
class Provenance:
    """Where a results object comes from.

    Attributes
    ----------
    device : str
        What it was computed on (``cpu``, a GPU's name).
    wall_time_s : float
        Seconds the run took.
    date, version, torch, python : str
        When (UTC, ISO 8601) and with which package, torch and Python versions.
    path : str or None
        The folder of stored results it was loaded from; ``None`` when computed.
    cache : str or None
        The run cache folder of a computed run (see :func:`load_or_run`); ``None``
        when the cache was not used.
    """

    device: str = "cpu"
    wall_time_s: float = 0.0
    date: str = ""
    version: str = ""
    torch: str = ""
    python: str = ""
    path: str | None = None
    cache: str | None = None

    @classmethod
    def now(cls, device, wall_time_s: float) -> "Provenance":
        """Provenance of a run that just finished on ``device``."""
        import torch

        from . import __version__

        dev = str(device)
        if dev.startswith("cuda") and torch.cuda.is_available():
            dev = f"{dev} ({torch.cuda.get_device_name(torch.device(dev))})"
        return cls(device=dev, wall_time_s=float(wall_time_s), version=__version__, torch=torch.__version__,
                   python=platform.python_version(),
                   date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def describe(self) -> str:
        """One line for a chapter: stored or computed, on what, how long."""
        if self.cache and not self.path:
            when = f", {self.date}" if self.date else ""
            ver = f", infoflow_core {self.version}" if self.version else ""
            return f"computed on {self.device} in {self.wall_time_s:.0f} s{when}{ver} (run cache {self.cache})"
        where = f"stored run {self.path}" if self.path else "computed in this session"
        when = f", written {self.date}" if self.path and self.date else ""
        ver = f", infoflow_core {self.version}" if self.version else ""
        return f"{where} on {self.device} in {self.wall_time_s:.0f} s{when}{ver}"


@dataclass(kw_only=True)
class ExperimentResults:
    """Base of every experiment's results.

    Subclasses are dataclasses that set the class attributes ``experiment`` (the name
    of the stored folder) and ``config_type`` (their configuration class), declare
    their array fields and list them in ``ARRAYS``. They override :meth:`summary` to
    add headline numbers, and :meth:`from_arrays` when they hold more than ``ARRAYS``.

    Attributes
    ----------
    config : ExperimentConfig
    provenance : Provenance
    """

    experiment: ClassVar[str] = ""
    config_type: ClassVar[type] = ExperimentConfig
    ARRAYS: ClassVar[tuple[str, ...]] = ()

    config: ExperimentConfig
    provenance: Provenance = field(default_factory=Provenance)

    # ----------------------------------------------------------- what is stored
    def arrays(self) -> dict[str, np.ndarray]:
        """Every array to store in ``arrays.npz``."""
        return {name: np.asarray(getattr(self, name)) for name in self.ARRAYS}

    def summary(self) -> dict:
        """Headline numbers for ``summary.json`` (JSON-serialisable)."""
        return {}

    @classmethod
    def from_arrays(cls, config: ExperimentConfig, arrays: dict, summary: dict, provenance: Provenance):
        """Rebuild from what :meth:`save` wrote (override when more than ``ARRAYS`` is stored)."""
        missing = [k for k in cls.ARRAYS if k not in arrays]
        if missing:
            raise ValueError(f"stored arrays lack {missing} for {cls.__name__}")
        return cls(config=config, provenance=provenance, **{k: arrays[k] for k in cls.ARRAYS})

    def describe(self) -> str:
        """Where these numbers come from: scale, provenance."""
        return f"{self.config.scale} scale, {self.provenance.describe()}"

    # ----------------------------------------------------------- disk
    def save(self, out_dir, *, overwrite: bool = False) -> Path:
        """Write ``summary.json`` and ``arrays.npz`` into ``out_dir``.

        Files are written to a temporary folder first and moved in place, so an
        interrupted save never leaves half a run. An existing run in ``out_dir`` is
        replaced only with ``overwrite=True`` (see :func:`check_output_dir`).
        """
        out = check_output_dir(out_dir, overwrite=overwrite)
        p = self.provenance
        summary = {"experiment": self.experiment, "config": self.config.to_dict(), "config_hash": self.config.hash,
                   "version": p.version, "torch": p.torch, "python": p.python, "device": p.device, "date": p.date,
                   "wall_time_s": round(p.wall_time_s, 1)}
        summary.update(self.summary())
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".saving-") as tmp:
            tmp = Path(tmp)
            (tmp / "summary.json").write_text(json.dumps(summary, indent=1, default=_json_default) + "\n")
            np.savez_compressed(tmp / "arrays.npz", **self.arrays())
            for name in ("arrays.npz", "summary.json"):
                os.replace(tmp / name, out / name)
        return out

    @classmethod
    def load(cls, path, *, expected_config: ExperimentConfig | None = None, allow_part: bool = False):
        """Read a folder written by :meth:`save`.

        With ``expected_config``, a stored configuration hash that differs raises
        :class:`StaleResultsError`; with ``allow_part`` too, a stored run of fewer seeds of
        it (:meth:`~infoflow_core.experiments.ExperimentConfig.part_of`: a long run's
        finished seeds) is read.
        """
        path = Path(path)
        summary_file = path / "summary.json"
        if not summary_file.is_file():
            raise ValueError(f"path {str(path)!r} holds no summary.json")
        summary = json.loads(summary_file.read_text())
        if summary.get("experiment") != cls.experiment:
            raise ValueError(f"{summary_file} holds experiment {summary.get('experiment')!r}, "
                             f"not {cls.experiment!r}")
        config = cls.config_type.from_dict(summary["config"])
        if config.hash != summary.get("config_hash"):
            raise StaleResultsError(f"{summary_file}: config_hash {summary.get('config_hash')} does not match "
                                    f"its own config (hash {config.hash}); the file was edited by hand")
        if (expected_config is not None and expected_config.hash != config.hash
                and not (allow_part and config.part_of(expected_config))):
            diff = _config_diff(config.to_dict(), expected_config.to_dict())
            raise StaleResultsError(
                f"stored {cls.experiment} results in {path} were made with another configuration than "
                f"the code's {expected_config.scale!r} scale (hash {config.hash} vs {expected_config.hash}; "
                f"differs in {diff}). Regenerate them with `python -m infoflow_core {cls.experiment} --scale "
                f"{expected_config.scale} --out {path} --overwrite`, or pass recompute=True to compute here.")
        with np.load(path / "arrays.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        provenance = Provenance(device=summary.get("device", "?"), wall_time_s=summary.get("wall_time_s", 0.0),
                                date=summary.get("date", ""), version=summary.get("version", ""),
                                torch=summary.get("torch", ""), python=summary.get("python", ""),
                                path=_display_path(path))
        return cls.from_arrays(config, arrays, summary, provenance)


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when below it, else absolute."""
    path = path.resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _config_diff(a: dict, b: dict) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [k for k in keys if a.get(k) != b.get(k)] or ["(nothing visible)"]


def _json_default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def check_output_dir(out_dir, *, overwrite: bool = False, config: ExperimentConfig | None = None) -> Path:
    """Check, before any computing, that results can be written to ``out_dir``.

    Raises ``ValueError`` when ``out_dir`` is an existing file, when it already holds
    a stored run (``summary.json``) and ``overwrite`` is False, or when the nearest
    existing parent is not writable. A stored run of fewer seeds of ``config``
    (:func:`holds_part_of`) is not in the way: the run it is part of replaces it.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} is an existing file, not a folder")
    if (out / "summary.json").exists() and not overwrite and not holds_part_of(out, config):
        raise ValueError(f"out_dir {str(out)!r} already holds stored results (summary.json); "
                         "pass overwrite=True (--overwrite) to replace them")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"out_dir {str(out)!r} cannot be created: {str(parent)!r} is not a writable folder")
    return out


def holds_part_of(out_dir, config: ExperimentConfig | None) -> bool:
    """Whether folder ``out_dir`` holds stored results of ``config`` with fewer seeds
    (:meth:`~infoflow_core.experiments.ExperimentConfig.part_of`), which a later sitting
    of the same long run may replace."""
    summary_file = Path(out_dir) / "summary.json"
    if config is None or not summary_file.is_file():
        return False
    try:
        stored = type(config).from_dict(json.loads(summary_file.read_text())["config"])
    except (ValueError, KeyError, TypeError):
        return False
    return stored.part_of(config)


def results_dir_from_env() -> Path | None:
    """The folder named by ``INFOFLOW_RESULTS_DIR``, or ``None``."""
    value = os.environ.get(RESULTS_DIR_ENV, "").strip()
    return Path(value) if value else None


def cache_dir() -> Path | None:
    """The run cache's folder, or ``None`` when ``INFOFLOW_CACHE`` disables it.

    ``$INFOFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/infoflow/runs``, else
    ``~/.cache/infoflow/runs``. Anything in it may be deleted at any time.
    """
    if os.environ.get(CACHE_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    value = os.environ.get(CACHE_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or (Path.home() / ".cache")
    return Path(base) / "infoflow" / "runs"


def tree_hash(folder) -> str:
    """SHA-256 (hex) of every file below ``folder``: relative names and contents,
    ``__pycache__`` folders and compiled ``.pyc`` files left out."""
    folder = Path(folder)
    h = hashlib.sha256()
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))
    for rel in files:
        data = (folder / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def library_hash() -> str:
    """:func:`tree_hash` of the ``infoflow_core`` package as it is on disk now (every
    module and data file): part of every run cache key, so that no change to the code
    is ever answered with numbers computed by another version of it."""
    return tree_hash(Path(__file__).resolve().parent)


def _cache_key(experiment, config: ExperimentConfig, device) -> dict:
    """Everything a computed run depends on, besides the code's own randomness."""
    import torch

    dev = resolve_device(device)
    name = dev.type
    if dev.type == "cuda":
        name += f" ({torch.cuda.get_device_name(dev)})"
    return {"experiment": experiment.name, "config_hash": config.hash, "library": library_hash(),
            "device": name, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "triton": os.environ.get("INFOFLOW_TRITON", "1")}


def _cache_display(path: Path) -> str:
    """``path`` with the home folder written ``~``."""
    try:
        return "~/" + path.resolve().relative_to(Path.home().resolve()).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def _cache_load(experiment, config: ExperimentConfig, entry: Path, key: dict):
    """The run in cache folder ``entry``, or ``None`` when there is none or it cannot be
    read whole (missing or damaged files, another key): such an entry counts as absent."""
    if not (entry / "summary.json").is_file():
        return None
    try:
        if json.loads((entry / _CACHE_KEY_FILE).read_text()) != key:
            return None
        results = experiment.results_type.load(entry, expected_config=config)
    except Exception:  # noqa: BLE001 -- whatever is wrong with an entry, it is recomputed
        return None
    results.provenance.path = None
    results.provenance.cache = _cache_display(entry)
    try:
        os.utime(entry)  # last use, for the pruning of unused entries
    except OSError:
        pass
    return results


def _remove_entry(entry: Path) -> None:
    """Delete a cache folder: renamed aside first, so no reader sees it half removed."""
    try:
        aside = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".old-"))
        os.rename(entry, aside / "entry")
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _cache_store(results, experiment, config: ExperimentConfig, entry: Path, key: dict) -> bool:
    """Write ``results`` to cache folder ``entry`` atomically; whether an entry is there after.

    The run is saved into a temporary folder beside ``entry`` that is then renamed to
    it: readers see a whole entry or none. When two processes store the same run, the
    first rename wins and the other copy is dropped; a damaged entry is replaced.
    Failure to write (read-only or full disk) is a warning, never an error.
    """
    parent = entry.parent
    tmp = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=".tmp-"))
        results.save(tmp, overwrite=True)
        (tmp / _CACHE_KEY_FILE).write_text(json.dumps(key, indent=1) + "\n")
        try:
            os.rename(tmp, entry)
        except OSError:  # an entry is there already: another writer's, or a damaged one
            if _cache_load(experiment, config, entry, key) is None:
                _remove_entry(entry)
                os.rename(tmp, entry)
        _prune(parent)
        return True
    except Exception as err:  # noqa: BLE001 -- the cache is an optimisation
        warnings.warn(f"could not write the run cache {str(entry)!r} ({err}); the results are computed but "
                      f"not cached", RuntimeWarning, stacklevel=3)
        return (entry / "summary.json").is_file()
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _prune(folder: Path) -> None:
    """Remove cache entries of ``folder`` unused for :data:`CACHE_MAX_AGE_S` (runs of old
    commits), and temporary folders a killed writer left there a day ago or more."""
    now = time.time()
    for path in folder.iterdir():
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if path.name.startswith("."):
            if age > 24 * 3600:
                shutil.rmtree(path, ignore_errors=True)
        elif age > CACHE_MAX_AGE_S:
            _remove_entry(path)


def _compute(experiment, config: ExperimentConfig, *, device, progress: bool, use_cache: bool):
    """``experiment.run(config)`` through the run cache (when enabled and ``use_cache``)."""
    root = cache_dir() if use_cache else None
    if root is None:
        return experiment.run(config, device=device, progress=progress)
    key = _cache_key(experiment, config, device)
    entry = root / experiment.name / f"{config.hash}-{config_hash(key)}"
    cached = _cache_load(experiment, config, entry, key)
    if cached is not None:
        return cached
    results = experiment.run(config, device=device, progress=progress)
    if _cache_store(results, experiment, config, entry, key):
        cached = _cache_load(experiment, config, entry, key)
        if cached is not None:  # the stored form, as a later call will load it
            return cached
    return results


def load_or_run(experiment, config: ExperimentConfig, *, results_dir=None, recompute: bool = False,
                device=None, progress: bool = True):
    """Stored results for ``config`` if there are any, else ``experiment.run(config)``
    (through the run cache).

    Parameters
    ----------
    experiment : Experiment
        The experiment record (name, config and results types, run function).
    config : ExperimentConfig
    results_dir : str or Path, optional
        Folder holding ``<experiment>/<scale>/``; default ``INFOFLOW_RESULTS_DIR``;
        with neither, the experiment is run.
    recompute : bool
        Run even when stored or cached results exist, and leave the run cache alone
        (also the way past a stale stored run).
    device, progress
        Passed to the run.

    Notes
    -----
    Stored results are used only when ``config`` is a scale's preset
    (:meth:`~infoflow_core.experiments.ExperimentConfig.is_preset`) and its scale is not
    ``quick`` (CI always computes). At the ``book`` scale a stored ``full`` run is
    preferred to the stored ``book`` run. A stored folder whose configuration hash
    differs from the preset's raises :class:`StaleResultsError`: the code changed and
    the numbers on disk no longer follow from it. A stored run of the preset with fewer
    seeds (a long run's finished seeds, ``python -m infoflow_core szt --assemble``) is
    read as it is; its ``describe()`` says so.

    A run that is computed goes through the run cache (:func:`cache_dir`): keyed by the
    configuration's hash, :func:`library_hash`, the torch, NumPy and Python versions
    and the device; a hit is loaded (``provenance.cache`` names the folder), a miss is
    computed, saved there atomically and returned as read back, so a hit and the miss
    before it give identical arrays and summaries. ``INFOFLOW_CACHE=0`` disables the
    cache, ``recompute=True`` bypasses it.
    """
    if results_dir is None:
        results_dir = results_dir_from_env()
    compute = dict(device=device, progress=progress, use_cache=not recompute)
    if recompute or results_dir is None or config.scale == "quick" or not config.is_preset():
        return _compute(experiment, config, **compute)
    root = Path(results_dir) / experiment.name
    order = ["full", "book"] if config.scale == "book" else [config.scale]
    for scale in order:
        folder = root / scale
        if (folder / "summary.json").is_file():
            expected = experiment.config_type.for_scale(scale)
            return experiment.results_type.load(folder, expected_config=expected, allow_part=True)
    return _compute(experiment, config, **compute)
