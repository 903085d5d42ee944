"""The experiment skeleton: configurations, the results base type, storage,
load-or-run with stale-run refusal, the run cache, the epoch grid and the scale switch."""

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
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


@pytest.fixture(autouse=True)
def run_cache(tmp_path, monkeypatch):
    """Every test here has its own, empty run cache (never the user's)."""
    folder = tmp_path / "run-cache"
    monkeypatch.setenv("INFOFLOW_CACHE_DIR", str(folder))
    monkeypatch.delenv("INFOFLOW_CACHE", raising=False)
    return folder


def _entries(folder: Path, name: str = "toy") -> list[str]:
    """Every name in the cache folder of experiment ``name`` (temporary folders too)."""
    return sorted(p.name for p in (folder / name).iterdir()) if (folder / name).is_dir() else []


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


def test_run_cache_loads_the_second_computation(run_cache, monkeypatch):
    CALLS.clear()
    quick = ToyConfig.for_scale("quick")
    first = load_or_run(TOY, quick)
    second = load_or_run(TOY, quick, results_dir=run_cache.parent / "nothing-stored")
    assert len(CALLS) == 1  # the second call loaded
    [entry] = _entries(run_cache)
    assert entry.startswith(quick.hash + "-")
    assert sorted(p.name for p in (run_cache / "toy" / entry).iterdir()) == ["arrays.npz", "cache_key.json",
                                                                             "summary.json"]
    key = json.loads((run_cache / "toy" / entry / "cache_key.json").read_text())
    assert key["config_hash"] == quick.hash and key["library"] == results.library_hash()
    # loaded == computed: the same arrays, summary, provenance (what is returned after a
    # computation is the entry read back)
    raw = run_toy(quick)
    for got in (first, second):
        np.testing.assert_array_equal(got.values, raw.values)
        assert got.values.dtype == raw.values.dtype and got.summary() == raw.summary() and got.config == quick
    assert first.provenance == second.provenance and second.provenance.path is None
    assert second.provenance.cache.endswith(f"toy/{entry}") and "run cache" in second.describe()
    # another configuration misses
    CALLS.clear()
    load_or_run(TOY, quick.replace(seed=1))
    load_or_run(TOY, ToyConfig.for_scale("book"))
    assert len(CALLS) == 2 and len(_entries(run_cache)) == 3
    # another library source misses (and does not disturb the first entry)
    real_hash = results.library_hash
    monkeypatch.setattr(results, "library_hash", lambda: "0" * 64)
    load_or_run(TOY, quick)
    assert len(CALLS) == 3 and len(_entries(run_cache)) == 4
    monkeypatch.setattr(results, "library_hash", real_hash)
    load_or_run(TOY, quick)
    assert len(CALLS) == 3


def test_library_hash_covers_every_source_file(tmp_path):
    import infoflow_core

    pkg = Path(infoflow_core.__file__).resolve().parent
    assert results.library_hash() == results.tree_hash(pkg) and len(results.library_hash()) == 64
    tree = tmp_path / "pkg"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.py").write_text("x = 1\n")
    (tree / "sub" / "b.py").write_text("y = 2\n")
    h0 = results.tree_hash(tree)
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"compiled")
    assert results.tree_hash(tree) == h0  # compiled files do not count
    (tree / "sub" / "b.py").write_text("y = 3\n")
    assert results.tree_hash(tree) != h0
    (tree / "sub" / "b.py").write_text("y = 2\n")
    assert results.tree_hash(tree) == h0
    (tree / "sub" / "b.py").rename(tree / "sub" / "c.py")
    assert results.tree_hash(tree) != h0


def test_run_cache_ignores_half_written_and_damaged_entries(run_cache, monkeypatch):
    quick = ToyConfig.for_scale("quick")
    load_or_run(TOY, quick)
    [name] = _entries(run_cache)
    entry = run_cache / "toy" / name
    good = (entry / "arrays.npz").read_bytes()
    CALLS.clear()
    for damage in ("truncate arrays", "no arrays", "no key", "other key", "bad summary"):
        if damage == "truncate arrays":
            (entry / "arrays.npz").write_bytes(good[: len(good) // 2])
        elif damage == "no arrays":
            (entry / "arrays.npz").unlink()
        elif damage == "no key":
            (entry / "cache_key.json").unlink()
        elif damage == "other key":
            key = json.loads((entry / "cache_key.json").read_text())
            (entry / "cache_key.json").write_text(json.dumps({**key, "library": "0" * 64}))
        else:
            (entry / "summary.json").write_text('{"experiment": "toy", "conf')
        n = len(CALLS)
        got = load_or_run(TOY, quick)
        assert len(CALLS) == n + 1, damage  # recomputed, not read
        np.testing.assert_array_equal(got.values, run_toy(quick).values)
        CALLS.pop()
        load_or_run(TOY, quick)
        assert len(CALLS) == n + 1, damage  # and the entry is whole again
        assert _entries(run_cache) == [name]
    # a writer that fails half-way (full disk, killed) leaves nothing that is read later
    CALLS.clear()
    config = quick.replace(seed=5)

    def savez_half(file, **arrays):
        Path(file).write_bytes(b"PK\x03\x04")
        raise OSError("no space left on device")

    with monkeypatch.context() as m, pytest.warns(RuntimeWarning, match="could not write the run cache"):
        m.setattr(results.np, "savez_compressed", savez_half)
        got = load_or_run(TOY, config)
    np.testing.assert_array_equal(got.values, run_toy(config).values)
    assert got.provenance.cache is None and _entries(run_cache) == [name]  # no entry, no temporary folder
    CALLS.clear()
    load_or_run(TOY, config)
    load_or_run(TOY, config)
    assert len(CALLS) == 1


def test_run_cache_two_writers_at_once(run_cache):
    barrier = threading.Barrier(2)

    def run_together(config, *, device=None, progress=True):
        barrier.wait(timeout=30)  # both have computed before either stores
        return run_toy(config, device=device, progress=progress)

    both = dataclasses.replace(TOY, run=run_together)
    quick = ToyConfig.for_scale("quick")
    CALLS.clear()
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: load_or_run(both, quick), range(2))
    assert len(CALLS) == 2
    np.testing.assert_array_equal(a.values, b.values)
    [name] = _entries(run_cache)  # one entry, no temporary folder left
    assert not name.startswith(".")
    load_or_run(TOY, quick)
    assert len(CALLS) == 2


def test_run_cache_disabled_or_bypassed(run_cache, monkeypatch, tmp_path):
    quick = ToyConfig.for_scale("quick")
    CALLS.clear()
    load_or_run(TOY, quick, recompute=True)
    load_or_run(TOY, quick, recompute=True)
    assert len(CALLS) == 2 and not run_cache.exists()  # recompute neither reads nor writes
    for off in ("0", "false", "OFF"):
        monkeypatch.setenv("INFOFLOW_CACHE", off)
        assert results.cache_dir() is None
        got = load_or_run(TOY, quick)
        assert got.provenance.cache is None and "computed in this session" in got.describe()
    assert len(CALLS) == 5 and not run_cache.exists()
    monkeypatch.delenv("INFOFLOW_CACHE")
    assert results.cache_dir() == run_cache
    load_or_run(TOY, quick)
    load_or_run(TOY, quick)
    assert len(CALLS) == 6
    got = load_or_run(TOY, quick, recompute=True)
    assert len(CALLS) == 7 and got.provenance.cache is None
    # stored results are loaded as before and never copied into the cache
    run_toy(ToyConfig.for_scale("book")).save(tmp_path / "stored" / "toy" / "book")
    CALLS.clear()
    assert load_or_run(TOY, ToyConfig.for_scale("book"), results_dir=tmp_path / "stored").provenance.path
    assert CALLS == [] and len(_entries(run_cache)) == 1
    # the default folder
    monkeypatch.delenv("INFOFLOW_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert results.cache_dir() == tmp_path / "xdg" / "infoflow" / "runs"


def test_run_cache_with_a_real_experiment_returns_what_was_computed(run_cache):
    from infoflow_core.experiments import binning

    config = binning.BinningConfig.for_scale("quick", epochs=60, n_records=4, widths=(9, 5, 3, 2))
    counted = []

    def run(config, **kw):
        counted.append(config)
        return binning.run_binning(config, **kw)

    exp = dataclasses.replace(binning.EXPERIMENT, run=run)
    raw = binning.run_binning(config, device="cpu", progress=False)
    first = load_or_run(exp, config, device="cpu", progress=False)
    second = load_or_run(exp, config, device="cpu", progress=False)
    assert len(counted) == 1 and second.provenance.cache and first.provenance == second.provenance
    arrays = raw.arrays()
    for got in (first, second):
        assert got.arrays().keys() == arrays.keys() and got.summary() == raw.summary()
        for k, v in arrays.items():
            np.testing.assert_array_equal(got.arrays()[k], v, err_msg=k)
            assert got.arrays()[k].dtype == v.dtype, k
    assert second.describe().startswith("quick scale, computed on cpu")


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
