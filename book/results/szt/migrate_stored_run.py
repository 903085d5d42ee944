"""Rewrite the stored book-scale SZT run (computed by the pre-skeleton code, 18 min on a
CPU) in the skeleton's format, without recomputing anything.

    .venv/bin/python book/results/szt/migrate_stored_run.py [--check]

It checks that every configuration value the old ``summary.json`` records equals the
value of ``SZTConfig.for_scale("book")`` (sizes, epoch grids, snapshot epochs, seeds,
β, α, activations, bin sizes, histogram settings, DPI realizations; ``n_mc_cond`` is
now ``n_mc_given_x``) and that the stored grids agree with the arrays, then writes
``summary.json`` with the new ``config``/``config_hash``, the environment fields of
the original run and the headline numbers of ``SZTResults.summary()`` computed from
the stored arrays, plus a ``"migrated"`` note. ``arrays.npz`` already uses the new
keys (``<network>__<field>``) and is left untouched (the script checks that saving
would write the same arrays). ``--check`` verifies without writing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from infoflow_core.experiments.szt import SZTConfig, SZTResults
from infoflow_core.results import Provenance

RUN = Path(__file__).resolve().parent / "book"
NOTE = ("summary.json rewritten from the stored arrays for the experiment skeleton (SZTConfig, SZTResults; "
        "n_mc_cond renamed n_mc_given_x; experiments -> networks); arrays.npz unchanged; 2026-12-01")


def _jsonable(value):
    return json.loads(json.dumps(value, default=list))


def check_config(old: dict, arrays: dict, config: SZTConfig) -> None:
    """Raise AssertionError naming the first old value that the new preset does not reproduce."""
    top = old["config"]
    assert top["scale"] == config.scale == "book"
    for key in ("n_epochs", "n_points", "n_x", "n_mc", "n_snapshots", "hist_bins", "det_points"):
        assert top[key] == getattr(config, key), key
    assert top["n_mc_cond"] == config.n_mc_given_x, "n_mc_cond"
    assert list(top["dpi_n_x"]) == list(config.dpi_n_x), "dpi_n_x"
    assert list(top["experiments"]) == list(config.networks), "networks"
    assert [n for n, c in top["experiments"].items() if c["histograms"]] == list(config.histograms), "histograms"
    assert "deterministic" in old and config.deterministic and "dpi_realizations" in old and config.dpi
    olds = dict(top["experiments"], deterministic=old["deterministic"]["config"])
    for name, cfg in olds.items():
        new = _jsonable(dataclasses.asdict(config.network(name)))
        new["n_mc_cond"] = new.pop("n_mc_given_x")
        assert set(cfg) == set(new), (name, set(cfg) ^ set(new))
        for key, value in cfg.items():
            assert value == new[key], f"{name}.{key}: stored {value!r}, preset {new[key]!r}"
        assert cfg["seed"] == config.seed, f"{name}.seed"
    for name in config.networks:
        assert arrays[f"{name}__epochs"].tolist() == list(config.epochs), f"{name}__epochs"
        assert arrays[f"{name}__snapshot_epochs"].tolist() == list(config.snapshot_epochs), f"{name}__snapshot_epochs"
    assert arrays["deterministic__epochs"].tolist() == list(config.det_epochs)
    assert arrays["deterministic__bin_sizes"].tolist() == list(config.bin_sizes)
    assert arrays["dpi__n_x"].tolist() == list(config.dpi_n_x)
    assert old["dpi_realizations"]["experiment"] == "tanh" and old["dpi_realizations"]["epoch"] == config.n_epochs


def main(argv: list[str]) -> int:
    old = json.loads((RUN / "summary.json").read_text())
    if "migrated" in old:
        print(f"{RUN / 'summary.json'} is already migrated: {old['migrated']}")
        return 0
    with np.load(RUN / "arrays.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    config = SZTConfig.for_scale("book")
    check_config(old, arrays, config)
    walls = {"networks": {n: {"wall_time_s": e.get("wall_time_s", 0.0)} for n, e in old["experiments"].items()},
             "deterministic": {"wall_time_s": old["deterministic"].get("wall_time_s", 0.0)}}
    provenance = Provenance(device=old["device"], wall_time_s=old["wall_time_s"], date=old["date"],
                            version=old["version"], torch=old["torch"], python=old["python"])
    results = SZTResults.from_arrays(config, arrays, walls, provenance)
    with tempfile.TemporaryDirectory() as tmp:
        out = results.save(Path(tmp) / "run")
        with np.load(out / "arrays.npz", allow_pickle=False) as data:
            assert sorted(data.files) == sorted(arrays), "array keys changed"
            for k in data.files:
                assert data[k].dtype == arrays[k].dtype and np.array_equal(data[k], arrays[k]), k
        summary = json.loads((out / "summary.json").read_text())
        summary["migrated"] = NOTE
        if "--check" in argv:
            print("configuration and arrays check out; nothing written (--check)")
            return 0
        (Path(tmp) / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        shutil.copyfile(Path(tmp) / "summary.json", RUN / "summary.json")
    print(f"rewrote {RUN / 'summary.json'} (config hash {config.hash})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
