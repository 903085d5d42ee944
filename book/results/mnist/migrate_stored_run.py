"""Rewrite a stored MNIST run of the old format in the format of
:class:`infoflow_core.results.ExperimentResults`, without recomputing anything.

Usage (from the repository root)::

    .venv/bin/python book/results/mnist/migrate_stored_run.py book/results/mnist/book

Before writing, it checks that the old configuration equals the code's preset of the
same scale field by field (the old ``device`` field, which left the configuration, is
ignored), that the arrays are exactly the new ``MnistResults.ARRAYS`` and that the
headline numbers recomputed from the arrays by the new ``summary()`` equal the old
summary's. After writing, it loads the folder back with the preset as the expected
configuration and checks every array bit for bit. A folder already migrated is left
alone. The old files stay in git history.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from infoflow_core.experiments.mnist import MnistConfig, MnistResults
from infoflow_core.results import Provenance

_ENVIRONMENT = ("version", "torch", "python", "device", "date")


def _fail(message: str) -> None:
    raise SystemExit(f"migration refused: {message}")


def migrate(folder: Path) -> None:
    summary_file = folder / "summary.json"
    old = json.loads(summary_file.read_text())
    if "migrated" in old:
        print(f"{folder}: already migrated ({old['migrated']}); nothing to do")
        return
    old_config = {k: v for k, v in old["config"].items() if k != "device"}
    preset = MnistConfig.for_scale(old_config.get("scale"))
    want = preset.to_dict()
    if set(old_config) != set(want):
        _fail(f"fields differ: old only {sorted(set(old_config) - set(want))}, "
              f"new only {sorted(set(want) - set(old_config))}")
    for name, value in want.items():
        if old_config[name] != value:
            _fail(f"config field {name}: stored {old_config[name]!r}, preset {value!r}")
        print(f"  config {name:<17} {old_config[name]!r:<32} == preset")
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if set(arrays) != set(MnistResults.ARRAYS):
        _fail(f"array keys {sorted(arrays)} are not MnistResults.ARRAYS {sorted(MnistResults.ARRAYS)}")
    timings = dict(old.get("timings", {}))
    wall = timings.pop("wall_s", old["wall_time_s"])
    if wall != old["wall_time_s"]:
        _fail(f"timings.wall_s {wall} differs from wall_time_s {old['wall_time_s']}")
    provenance = Provenance(device=old["device"], wall_time_s=float(old["wall_time_s"]), date=old["date"],
                            version=old["version"], torch=old["torch"], python=old["python"])
    results = MnistResults.from_arrays(preset, arrays, {"variants": old["variants"], "timings": timings}, provenance)
    new_summary = results.summary()
    for key in ("table1", "slopes", "two_bin_entropy_ceiling", "variants"):
        if new_summary[key] != old[key]:
            _fail(f"summary {key!r} recomputed from the arrays differs from the stored one")
        print(f"  summary {key:<24} identical")

    today = _dt.date.today().isoformat()
    note = (f"{today}: summary.json rewritten in the ExperimentResults format (experiment, config = "
            f"MnistConfig.for_scale({preset.scale!r}).to_dict() without the old device field, config_hash, "
            f"timings without wall_s, which is wall_time_s) and arrays.npz re-saved with the same keys and "
            f"values; numbers unchanged, nothing recomputed")
    with tempfile.TemporaryDirectory() as tmp:
        out = results.save(Path(tmp) / "run")
        summary = json.loads((out / "summary.json").read_text())
        for key in _ENVIRONMENT:
            if summary[key] != old[key]:
                _fail(f"environment field {key} would change: {old[key]!r} -> {summary[key]!r}")
        summary["migrated"] = note
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        for name in ("arrays.npz", "summary.json"):
            (out / name).replace(folder / name)

    back = MnistResults.load(folder, expected_config=preset)
    for key, value in arrays.items():
        got = getattr(back, key)
        if got.dtype != value.dtype or got.shape != value.shape or not np.array_equal(got, value, equal_nan=True):
            _fail(f"array {key} changed on the way (the files were already written: restore them from git)")
    if back.summary() != new_summary:
        _fail("summary changed on the way (the files were already written: restore them from git)")
    print(f"{folder}: migrated; config hash {preset.hash}; {len(arrays)} arrays identical")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    migrate(Path(sys.argv[1]))
