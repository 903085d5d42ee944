"""The stored-results helpers and the scale switch."""

import json

import numpy as np
import pytest

from infoflow_core import results
from infoflow_core.scales import current_scale


def test_save_and_load_round_trip(tmp_path):
    config = {"scale": "quick", "beta": 0.005, "epochs": [1, 2, 3]}
    arrays = {"mi": np.arange(6.0).reshape(2, 3)}
    out = results.save_run(tmp_path / "run", {"config": config, "wall_time_s": 1.5}, arrays, device="cpu")
    run = results.load_run(out)
    assert run.config == config and run.scale == "quick"
    assert run.summary["device"] == "cpu" and run.summary["config_hash"] == results.config_hash(config)
    np.testing.assert_array_equal(run.arrays["mi"], arrays["mi"])
    assert json.loads((out / "summary.json").read_text())["wall_time_s"] == 1.5


def test_config_hash_is_order_independent():
    assert results.config_hash({"a": 1, "b": 2}) == results.config_hash({"b": 2, "a": 1})
    assert results.config_hash({"a": 1}) != results.config_hash({"a": 2})


def test_quick_scale_never_uses_stored_results(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS_ROOT", tmp_path)
    results.save_run(tmp_path / "exp" / "book", {"config": {"scale": "book"}})
    assert results.find_stored_run("exp", "quick") is None
    assert results.find_stored_run("exp", "book").scale == "book"
    results.save_run(tmp_path / "exp" / "full", {"config": {"scale": "full"}})
    assert results.find_stored_run("exp", "book").scale == "full"
    with pytest.raises(ValueError, match="summary.json"):
        results.load_run(tmp_path / "missing")


def test_scale_from_environment(monkeypatch):
    monkeypatch.setenv("INFOFLOW_SCALE", "Quick")
    assert current_scale() == "quick"
    monkeypatch.delenv("INFOFLOW_SCALE")
    assert current_scale() == "book"
    monkeypatch.setenv("INFOFLOW_SCALE", "huge")
    with pytest.raises(ValueError, match="INFOFLOW_SCALE"):
        current_scale()
