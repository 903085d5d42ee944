"""The experiment skeleton: configurations, the results base type, storage,
load-or-run with stale-run refusal, the epoch grid and the scale switch."""

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from infoflow_core import results
from infoflow_core.experiments import Experiment, ExperimentConfig, config_hash, log_epochs, resolve_device
from infoflow_core.results import ExperimentResults, Provenance, StaleResultsError, load_or_run
from infoflow_core.scales import current_scale


@dataclass(frozen=True, kw_only=True)
class ToyConfig(ExperimentConfig):
    PRESETS: ClassVar[dict] = {"quick": {"n": 3}, "full": {"n": 50, "betas": (0.1, 0.2, 0.3)}}
    n: int = 10
    betas: tuple = (0.1, 0.2)

    def validate(self):
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")


@dataclass(kw_only=True)
class ToyResults(ExperimentResults):
    experiment: ClassVar[str] = "toy"
    config_type: ClassVar[type] = ToyConfig
    ARRAYS: ClassVar[tuple] = ("values",)
    values: np.ndarray

    def summary(self):
        return {"total": float(self.values.sum())}


CALLS = []


def run_toy(config, *, device=None, progress=True):
    CALLS.append(config)
    return ToyResults(config=config, values=np.arange(config.n, dtype=np.float64) + config.seed,
                      provenance=Provenance.now(resolve_device(device), 0.1))


TOY = Experiment("toy", "a toy", ToyConfig, ToyResults, run_toy)


def test_config_presets_overrides_and_checks():
    assert ToyConfig.for_scale("quick").n == 3
    assert ToyConfig.for_scale("book").n == 10
    assert ToyConfig.for_scale("full", n=7).n == 7
    assert ToyConfig.for_scale("quick", betas=[0.5]).betas == (0.5,)  # lists become tuples
    assert ToyConfig.for_scale("book").is_preset() and not ToyConfig.for_scale("book", seed=1).is_preset()
    with pytest.raises(ValueError, match="unknown ToyConfig field"):
        ToyConfig.for_scale("book", m=1)
    with pytest.raises(ValueError, match="scale must be one of"):
        ToyConfig.for_scale("huge")
    with pytest.raises(ValueError, match="n must be >= 1"):
        ToyConfig.for_scale("book", n=0)
    with pytest.raises(ValueError, match="seed must be"):
        ToyConfig.for_scale("book", seed=-1)


def test_config_round_trip_and_hash():
    c = ToyConfig.for_scale("full", seed=4)
    d = json.loads(json.dumps(c.to_dict()))
    assert ToyConfig.from_dict(d) == c and ToyConfig.from_dict(d).hash == c.hash
    assert c.hash != c.replace(n=51).hash
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    with pytest.raises(ValueError, match="unknown ToyConfig"):
        ToyConfig.from_dict({**d, "extra": 1})


def test_save_and_load_round_trip(tmp_path):
    res = run_toy(ToyConfig.for_scale("book"))
    out = res.save(tmp_path / "run")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["experiment"] == "toy" and summary["config_hash"] == res.config.hash
    assert summary["total"] == 45.0 and summary["device"] == "cpu"
    back = ToyResults.load(out)
    np.testing.assert_array_equal(back.values, res.values)
    assert back.config == res.config and back.provenance.path is not None
    with pytest.raises(ValueError, match="already holds stored results"):
        res.save(out)
    res.save(out, overwrite=True)
    with pytest.raises(ValueError, match="summary.json"):
        ToyResults.load(tmp_path / "missing")


def test_output_dir_checked(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is an existing file"):
        results.check_output_dir(f)
    assert results.check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"


def test_load_or_run_uses_matching_stored_runs_and_refuses_stale_ones(tmp_path):
    CALLS.clear()
    book = ToyConfig.for_scale("book")
    # nothing stored: runs
    load_or_run(TOY, book, results_dir=tmp_path)
    assert len(CALLS) == 1
    # a matching stored book run is loaded, not recomputed
    run_toy(book).save(tmp_path / "toy" / "book")
    CALLS.clear()
    got = load_or_run(TOY, book, results_dir=tmp_path)
    assert CALLS == [] and got.provenance.path is not None
    # quick always computes; a non-preset configuration computes
    load_or_run(TOY, ToyConfig.for_scale("quick"), results_dir=tmp_path)
    load_or_run(TOY, book.replace(seed=3), results_dir=tmp_path)
    assert len(CALLS) == 2
    # a stored full run is preferred at the book scale
    CALLS.clear()
    run_toy(ToyConfig.for_scale("full")).save(tmp_path / "toy" / "full")
    CALLS.clear()
    assert load_or_run(TOY, book, results_dir=tmp_path).config.scale == "full" and CALLS == []
    # a stored run made with another configuration than the code's preset is refused
    run_toy(ToyConfig.for_scale("full", n=49)).save(tmp_path / "toy" / "full", overwrite=True)
    with pytest.raises(StaleResultsError, match="another configuration.*differs in \\['n'\\]"):
        load_or_run(TOY, book, results_dir=tmp_path)
    assert isinstance(StaleResultsError("x"), ValueError)
    # ... unless recompute is asked for
    CALLS.clear()
    load_or_run(TOY, book, results_dir=tmp_path, recompute=True)
    assert len(CALLS) == 1


def test_results_dir_from_environment(tmp_path, monkeypatch):
    run_toy(ToyConfig.for_scale("book")).save(tmp_path / "toy" / "book")
    CALLS.clear()
    monkeypatch.setenv("INFOFLOW_RESULTS_DIR", str(tmp_path))
    load_or_run(TOY, ToyConfig.for_scale("book"))
    assert CALLS == []
    monkeypatch.delenv("INFOFLOW_RESULTS_DIR")
    load_or_run(TOY, ToyConfig.for_scale("book"))
    assert len(CALLS) == 1


def test_hand_edited_summary_is_refused(tmp_path):
    out = run_toy(ToyConfig.for_scale("book")).save(tmp_path / "r")
    s = json.loads((out / "summary.json").read_text())
    s["config"]["n"] = 11
    (out / "summary.json").write_text(json.dumps(s))
    with pytest.raises(StaleResultsError, match="edited by hand"):
        ToyResults.load(out)


def test_log_epochs_grid():
    g = log_epochs(9999, 100)
    assert len(g) == 84 and g[0] == 1 and g[-1] == 9999 and list(g) == sorted(set(g))
    assert log_epochs(4000, 25, include_zero=True)[:2] == (0, 1)
    assert log_epochs(7, 1) == (7,)
    with pytest.raises(ValueError, match="last must be"):
        log_epochs(0, 5)
    with pytest.raises(ValueError, match="n_points must be"):
        log_epochs(10, 0)


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu-please")


def test_scale_from_environment(monkeypatch):
    monkeypatch.setenv("INFOFLOW_SCALE", "Quick")
    assert current_scale() == "quick"
    monkeypatch.delenv("INFOFLOW_SCALE")
    assert current_scale() == "book"
    monkeypatch.setenv("INFOFLOW_SCALE", "huge")
    with pytest.raises(ValueError, match="INFOFLOW_SCALE"):
        current_scale()
