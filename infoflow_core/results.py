"""Stored experiment results: a folder with ``summary.json`` (configuration,
package version, device, date, wall time and the headline numbers) and
``arrays.npz`` (curves, histograms, snapshots).

Chapters read stored results from ``book/results/<experiment>/<scale>/`` when they
exist (``full`` first, then ``book``) and compute otherwise; the quick scale always
computes. The command ``python -m infoflow_core <experiment> --scale S --out DIR``
regenerates them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["StoredRun", "config_hash", "save_run", "load_run", "stored_results_dir", "find_stored_run"]

#: The repository's folder of stored results (``book/results``).
RESULTS_ROOT = Path(__file__).resolve().parent.parent / "book" / "results"


def config_hash(config: dict) -> str:
    """A short, stable hash of a JSON-serialisable configuration."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


@dataclass
class StoredRun:
    """One experiment run as stored on disk.

    Attributes
    ----------
    summary : dict
        Everything in ``summary.json``: ``config``, ``version``, ``device``,
        ``date``, ``wall_time_s`` and the experiment's own numbers.
    arrays : dict of str to numpy.ndarray
        Everything in ``arrays.npz``.
    path : Path or None
        Where it was loaded from (None when computed in this session).
    """

    summary: dict
    arrays: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def config(self) -> dict:
        return self.summary.get("config", {})

    @property
    def scale(self) -> str:
        return self.summary.get("config", {}).get("scale", "?")


def _environment(device: str | None) -> dict:
    import torch

    from . import __version__

    return {
        "version": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device or "cpu",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def save_run(out_dir, summary: dict, arrays: dict | None = None, *, device: str | None = None) -> Path:
    """Write ``summary.json`` (with the environment added) and ``arrays.npz`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    full = dict(_environment(device))
    full.update(summary)
    if "config" in full:
        full["config_hash"] = config_hash(full["config"])
    (out / "summary.json").write_text(json.dumps(full, indent=1, sort_keys=False, default=_json_default) + "\n")
    if arrays:
        np.savez_compressed(out / "arrays.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    return out


def _json_default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_run(path) -> StoredRun:
    """Read a folder written by :func:`save_run`."""
    path = Path(path)
    summary_file = path / "summary.json"
    if not summary_file.exists():
        raise ValueError(f"path {str(path)!r} holds no summary.json")
    summary = json.loads(summary_file.read_text())
    arrays = {}
    if (path / "arrays.npz").exists():
        with np.load(path / "arrays.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    return StoredRun(summary=summary, arrays=arrays, path=path)


def stored_results_dir(experiment: str, scale: str) -> Path:
    """``book/results/<experiment>/<scale>``."""
    return RESULTS_ROOT / experiment / scale


def find_stored_run(experiment: str, scale: str) -> StoredRun | None:
    """The stored run a chapter should show at ``scale``: never for ``quick``
    (it always computes); otherwise ``full`` if stored, else ``book`` if stored."""
    if scale == "quick":
        return None
    order = ["full", "book"] if scale in ("book", "full") else [scale]
    for name in order:
        d = stored_results_dir(experiment, name)
        if (d / "summary.json").exists():
            return load_run(d)
    return None


def stored_or_run(experiment: str, scale: str, run: Callable[[], StoredRun]) -> StoredRun:
    """Load the stored run for ``scale`` (see :func:`find_stored_run`) or call ``run()``."""
    stored = find_stored_run(experiment, scale)
    return stored if stored is not None else run()


__all__.append("stored_or_run")
