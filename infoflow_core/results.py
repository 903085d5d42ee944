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
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .experiments._common import ExperimentConfig, config_hash

__all__ = [
    "ExperimentResults", "Provenance", "StaleResultsError", "load_or_run", "check_output_dir", "config_hash",
    "results_dir_from_env",
]

#: Environment variable naming the folder of stored results (``<dir>/<experiment>/<scale>/``).
RESULTS_DIR_ENV = "INFOFLOW_RESULTS_DIR"


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
        The folder it was loaded from; ``None`` when computed in this session.
    """

    device: str = "cpu"
    wall_time_s: float = 0.0
    date: str = ""
    version: str = ""
    torch: str = ""
    python: str = ""
    path: str | None = None

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
    def load(cls, path, *, expected_config: ExperimentConfig | None = None):
        """Read a folder written by :meth:`save`.

        With ``expected_config``, a stored configuration hash that differs raises
        :class:`StaleResultsError`.
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
        if expected_config is not None and expected_config.hash != config.hash:
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


def check_output_dir(out_dir, *, overwrite: bool = False) -> Path:
    """Check, before any computing, that results can be written to ``out_dir``.

    Raises ``ValueError`` when ``out_dir`` is an existing file, when it already holds
    a stored run (``summary.json``) and ``overwrite`` is False, or when the nearest
    existing parent is not writable.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} is an existing file, not a folder")
    if (out / "summary.json").exists() and not overwrite:
        raise ValueError(f"out_dir {str(out)!r} already holds stored results (summary.json); "
                         "pass overwrite=True (--overwrite) to replace them")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"out_dir {str(out)!r} cannot be created: {str(parent)!r} is not a writable folder")
    return out


def results_dir_from_env() -> Path | None:
    """The folder named by ``INFOFLOW_RESULTS_DIR``, or ``None``."""
    value = os.environ.get(RESULTS_DIR_ENV, "").strip()
    return Path(value) if value else None


def load_or_run(experiment, config: ExperimentConfig, *, results_dir=None, recompute: bool = False,
                device=None, progress: bool = True):
    """Stored results for ``config`` if there are any, else ``experiment.run(config)``.

    Parameters
    ----------
    experiment : Experiment
        The experiment record (name, config and results types, run function).
    config : ExperimentConfig
    results_dir : str or Path, optional
        Folder holding ``<experiment>/<scale>/``; default ``INFOFLOW_RESULTS_DIR``;
        with neither, the experiment is run.
    recompute : bool
        Run even when stored results exist (also the way past a stale stored run).
    device, progress
        Passed to the run.

    Notes
    -----
    Stored results are used only when ``config`` is a scale's preset
    (:meth:`~infoflow_core.experiments.ExperimentConfig.is_preset`) and its scale is not
    ``quick`` (CI always computes). At the ``book`` scale a stored ``full`` run is
    preferred to the stored ``book`` run. A stored folder whose configuration hash
    differs from the preset's raises :class:`StaleResultsError`: the code changed and
    the numbers on disk no longer follow from it.
    """
    if results_dir is None:
        results_dir = results_dir_from_env()
    if recompute or results_dir is None or config.scale == "quick" or not config.is_preset():
        return experiment.run(config, device=device, progress=progress)
    root = Path(results_dir) / experiment.name
    order = ["full", "book"] if config.scale == "book" else [config.scale]
    for scale in order:
        folder = root / scale
        if (folder / "summary.json").is_file():
            expected = experiment.config_type.for_scale(scale)
            return experiment.results_type.load(folder, expected_config=expected)
    return experiment.run(config, device=device, progress=progress)
