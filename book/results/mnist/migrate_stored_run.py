"""Rewrite a stored MNIST run of the old format in the format of
:class:`infoflow_core.results.ExperimentResults`, without recomputing anything.

Usage (from the repository root)::

    .venv/bin/python book/results/mnist/migrate_stored_run.py book/results/mnist/book

Two steps, each done once: :func:`migrate` (the old format to the new one) and
:func:`add_fields` (configuration fields added to :class:`MnistConfig` after the run
was made, see :data:`NEW_FIELDS`).

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


#: Fields added to MnistConfig after the stored run, with the value that is exactly the
#: old code's behaviour (the old code had no such choice): constant learning rate,
#: dropout before the max-pooling, the analysis on the models as trained, no second
#: dense layer (T_4 = the logits).
NEW_FIELDS = {"lr_schedule": "constant", "dropout_placement": "before_pool", "analysis_bn": "as_trained", "dense2": 0,
              "shift": 0, "weight_decay": 0.0}
#: Summary keys computed from the arrays (rewritten); the rest (environment, timings) is kept.
_DERIVED = ("table1", "errors_per_seed", "slopes", "two_bin_entropy_ceiling", "two_bin_ceiling_per_layer",
            "dropout_pool_means")


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_fields(folder: Path) -> None:
    """Give a stored run the configuration fields of :data:`NEW_FIELDS` without touching
    ``arrays.npz``: every stored field must equal the code's preset, every new field's
    preset value must be the old behaviour; then ``config``, ``config_hash`` and the
    summary keys derived from the arrays are rewritten, with a note in
    ``migrated_fields``, and the folder is loaded back against the preset."""
    summary_file, arrays_file = folder / "summary.json", folder / "arrays.npz"
    old = json.loads(summary_file.read_text())
    preset = MnistConfig.for_scale(old["config"].get("scale"))
    want = preset.to_dict()
    if old["config"] == want and old.get("config_hash") == preset.hash:
        print(f"{folder}: configuration already has every field of the preset; nothing to do")
        return
    for name, value in old["config"].items():
        if name not in want:
            _fail(f"stored field {name} is not a field of MnistConfig")
        if want[name] != value:
            _fail(f"config field {name}: stored {value!r}, preset {want[name]!r}")
        print(f"  config {name:<17} {value!r:<32} == preset")
    for name in sorted(set(want) - set(old["config"])):
        if name not in NEW_FIELDS:
            _fail(f"preset field {name} is new but not in NEW_FIELDS (say which value is the old behaviour)")
        if want[name] != NEW_FIELDS[name]:
            _fail(f"new field {name}: preset {want[name]!r} is not the old behaviour {NEW_FIELDS[name]!r}")
        print(f"  config {name:<17} {want[name]!r:<32} (new field; the old code's behaviour)")
    digest = _sha256(arrays_file)
    with np.load(arrays_file, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    provenance = Provenance(device=old["device"], wall_time_s=float(old["wall_time_s"]), date=old["date"],
                            version=old["version"], torch=old["torch"], python=old["python"])
    results = MnistResults.from_arrays(preset, arrays, old, provenance)
    derived = results.summary()
    if derived["table1"] != old["table1"]:
        _fail("Table 1 recomputed from the arrays differs from the stored summary's")
    new = dict(old)
    new["config"], new["config_hash"] = want, preset.hash
    for key in _DERIVED:
        new[key] = derived[key]
    added = sorted(set(want) - set(old["config"]))
    note = (f"{_dt.date.today().isoformat()}: config fields {added} added with the "
            f"values that are the old code's behaviour ({', '.join(f'{k}={NEW_FIELDS[k]!r}' for k in added)}), "
            f"config_hash {old.get('config_hash')} -> {preset.hash}; summary keys {list(_DERIVED)} recomputed from "
            "the unchanged arrays.npz; nothing recomputed by training")
    new["migrated_fields"] = f"{old['migrated_fields']}. {note}" if old.get("migrated_fields") else note
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
        f.write(json.dumps(new, indent=1) + "\n")
    Path(f.name).replace(summary_file)
    if _sha256(arrays_file) != digest:
        _fail("arrays.npz changed (restore it from git)")
    back = MnistResults.load(folder, expected_config=preset)
    if back.table1() != old["table1"] or back.summary()["slopes"] != new["slopes"]:
        _fail("the folder loads back with other numbers (restore it from git)")
    print(f"{folder}: fields added; config hash {preset.hash}; arrays.npz byte-identical (sha256 {digest[:12]})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    migrate(Path(sys.argv[1]))
    add_fields(Path(sys.argv[1]))
