"""A long run that advances in git: finished jobs stored one file each (DIR/jobs),
a budget per sitting, the rest in the next sitting, and results equal to one
uninterrupted run (infoflow_core.experiments._jobs, run_szt(jobs=..., budget=...))."""

import json
import math
import subprocess

import numpy as np
import pytest
import torch

from infoflow_core.experiments import szt as ex
from infoflow_core.experiments._jobs import IncompleteRun, JobBudget, JobStore
from infoflow_core.experiments.szt import SZTConfig

TINY = dict(n_epochs=4, n_points=2, det_points=2, n_snapshots=1, n_x=2, n_mc=256, n_mc_given_x=4, hist_bins=10,
            networks=("tanh",), histograms=("tanh",), dpi_n_x=(1, 2), bin_sizes=(0.1, 1e-4), n_seeds=2,
            dpi_epochs=1)


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _no_walls(tree):
    """The summary without its wall times (which differ from run to run)."""
    if isinstance(tree, dict):
        return {k: _no_walls(v) for k, v in tree.items() if not k.startswith("wall_time")}
    if isinstance(tree, list):
        return [_no_walls(v) for v in tree]
    return tree


def test_sittings_give_the_uninterrupted_run(tmp_path):
    cfg = SZTConfig.for_scale("quick", **TINY)
    ref = ex.run_szt(cfg, device="cpu", progress=False)
    store = JobStore(tmp_path / "jobs", cfg)
    with pytest.raises(IncompleteRun) as first:
        ex.run_szt(cfg, device="cpu", progress=False, jobs=store, budget=JobBudget(max_jobs=2))
    assert len(first.value.finished) == 2 and "deterministic/seed1" in first.value.missing
    assert store.keys() == ["deterministic/seed0", "tanh/seed0"]
    # the next sitting: a new store object on the same folder, one more job at a time
    sittings, added = 1, []
    while True:
        before = set(store.keys())
        try:
            done = ex.run_szt(cfg, device="cpu", progress=False, jobs=JobStore(tmp_path / "jobs", cfg),
                              budget=JobBudget(max_jobs=1))
            break
        except IncompleteRun:
            sittings += 1
        finally:
            added += sorted(set(store.keys()) - before)
    assert added == ["dpi/final", "tanh/seed1", "deterministic/seed1"]  # seed 0 complete first
    assert sittings == 3  # the realization check (after seed 0), tanh/seed1, deterministic/seed1
    assert JobStore(tmp_path / "jobs", cfg).keys() == ["deterministic/seed0", "deterministic/seed1", "dpi/final",
                                                       "tanh/seed0", "tanh/seed1"]
    a, b = ref.arrays(), done.arrays()
    assert a.keys() == b.keys() and len(a) > 50
    # the same bit for bit, but the measured seconds (timings)
    assert [k for k in a if not k.endswith("measure_seconds") and not np.array_equal(a[k], b[k])] == []
    same = lambda r: json.dumps(_no_walls(r.summary()), sort_keys=True, default=str)  # noqa: E731  (NaN == NaN)
    assert same(done) == same(ref)
    with pytest.raises(ValueError, match="config hash"):
        JobStore(tmp_path / "jobs", cfg.replace(n_x=3))


def test_paths_are_recorded_per_epoch_and_layer(tmp_path):
    cfg = SZTConfig.for_scale("quick", **{**TINY, "n_seeds": 1, "dpi": False, "deterministic": False})
    run = ex.run_szt(cfg, device="cpu", progress=False)
    r = run.networks["tanh"]
    assert r.mi_path.shape == r.mi.shape and r.mi_y_path.shape == r.mi.shape
    assert set(np.unique(r.mi_path)) <= {0}  # 4096·2 centres: far below the nested path's minimum
    assert r.measure_seconds.shape == r.epochs.shape and r.measure_seconds.dtype == np.float32
    assert np.isfinite(r.measure_seconds).all() and (r.measure_seconds > 0).all()
    back = ex.SZTResults.load(run.save(tmp_path / "run"))
    assert np.array_equal(back.networks["tanh"].mi_path, r.mi_path)
    assert np.array_equal(back.networks["tanh"].measure_seconds, r.measure_seconds)
    store = JobStore(tmp_path / "jobs", cfg)  # a job file keeps them too
    store.save("tanh/seed0", r)
    job = store.load("tanh/seed0", ex.NetworkResults, config=cfg.network("tanh", 0))
    assert np.array_equal(job.measure_seconds, r.measure_seconds)


def test_cli_sittings_and_commits(tmp_path, capsys):
    from infoflow_core.__main__ import main

    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True, text=True)  # noqa: E731
    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    cfg = {**TINY, "n_seeds": 1, "dpi": False}
    sets = [a for k, v in cfg.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    args = ["szt", "--scale", "quick", "--out", str(repo / "full"), "--device", "cpu", "--no-progress", *sets]
    assert main([*args, "--jobs", "1", "--commit"]) == 0
    assert not (repo / "full" / "summary.json").exists()
    assert "job tanh/seed0 finished" in git("log", "--format=%s").stdout
    assert main([*args, "--jobs", "0"]) == 0  # a sitting with no budget: nothing new, nothing lost
    capsys.readouterr()
    assert main([*args, "--status"]) == 0  # where the run stands, running nothing
    status = capsys.readouterr().out
    assert "tanh/seed0: finished, 2 measured epochs of 4;" in status and "nested path, h(T): none" in status
    assert "1 of 2 network jobs finished" in status and status.rstrip().endswith("left: deterministic/seed0")
    assert sorted(p.name for p in (repo / "full" / "jobs").iterdir()) == ["config.json", "tanh--seed0.npz"]
    with pytest.raises(SystemExit):  # the folder holds another configuration's jobs
        main([*args, "--status", "--set", "n_x=3"])
    assert main(args) == 0  # the jobs folder exists: used, the rest run, results assembled
    assert (repo / "full" / "summary.json").exists()
    assert sorted(p.name for p in (repo / "full" / "jobs").iterdir()) == [
        "config.json", "deterministic--seed0.npz", "tanh--seed0.npz"]
    with pytest.raises(SystemExit):
        main([*args, "--jobs", "-1"])


def test_budget_and_store_check_their_arguments(tmp_path):
    with pytest.raises(ValueError, match="max_jobs"):
        JobBudget(max_jobs=-1)
    with pytest.raises(ValueError, match="max_hours"):
        JobBudget(max_hours=0)
    store = JobStore(tmp_path, SZTConfig.for_scale("quick"))
    with pytest.raises(ValueError, match="key"):
        store.path("../x")
    assert store.load("tanh/seed0", dict, config=None) is None
    with pytest.raises(ValueError, match="key"):
        store.unfinished_path("a--b")
    assert store.load_unfinished("tanh/seed0") is None
    from infoflow_core.experiments._jobs import CommittedCheckpoints
    with pytest.raises(ValueError, match="every_s"):
        CommittedCheckpoints(tmp_path / "ck", SZTConfig.for_scale("quick"), jobs=store, every_s=-1)


def test_top_up_meets_the_target_and_stays_unbiased():
    """A deliberately small first sample: the second estimate brings the error of I(X;T)
    near the target and the combined h(T) agrees with a large reference run; with no room
    under n_mc_max nothing changes."""
    from infoflow_core.experiments.szt.measure import estimate_information

    g = torch.Generator().manual_seed(0)
    s = 0.02 * torch.randn(512, 1, 2, generator=g, dtype=torch.float64) \
        + 0.004 * torch.randn(512, 8, 2, generator=g, dtype=torch.float64)
    small = estimate_information([s], 0.005, n_mc=256, n_mc_given_x=16, generator=torch.Generator().manual_seed(1))[0]
    assert small.stderr > 0.02
    topped = estimate_information([s], 0.005, n_mc=256, n_mc_given_x=16, generator=torch.Generator().manual_seed(1),
                                  target_stderr=0.02, n_mc_max=1 << 15)[0]
    assert topped.stderr <= 0.02 * 1.3 and topped.h_t_given_x == small.h_t_given_x
    ref = estimate_information([s], 0.005, n_mc=1 << 15, n_mc_given_x=16, generator=torch.Generator().manual_seed(2))[0]
    assert abs(topped.h_t - ref.h_t) <= 4 * math.hypot(topped.h_t_stderr, ref.h_t_stderr)
    none = estimate_information([s], 0.005, n_mc=256, n_mc_given_x=16, generator=torch.Generator().manual_seed(1),
                                target_stderr=0.02, n_mc_max=256)[0]
    assert none == small  # no room left: unchanged


def test_status_names_finished_under_way_and_left(tmp_path):
    from infoflow_core.experiments import Checkpoints

    cfg = SZTConfig.for_scale("quick", **{**TINY, "dpi": False})
    assert ex.run_status(cfg, tmp_path).endswith("no finished jobs and no checkpoints yet")
    run = ex.run_szt(cfg.replace(n_seeds=1), device="cpu", progress=False)
    JobStore(tmp_path / "jobs", cfg).save("tanh/seed0", run.networks["tanh"])
    net = cfg.network("tanh", 1)
    Checkpoints(tmp_path / "checkpoints", cfg).save(f"tanh/seed{net.seed}", {"done": {"rows": [{}]}})
    lines = ex.run_status(cfg, tmp_path).splitlines()
    assert lines[1].startswith("tanh/seed0: finished, 2 measured epochs of 4; final test accuracy")
    assert "tanh/seed1: under way, 1 of 2 measured epochs in its checkpoint" in lines
    assert lines[-1].startswith("1 of 4 network jobs finished (")
    assert lines[-1].endswith("left: deterministic/seed0, tanh/seed1, deterministic/seed1")


def test_cli_assembles_the_finished_seeds(tmp_path, capsys):
    from infoflow_core.__main__ import main
    from infoflow_core.results import StaleResultsError

    cfg = {**TINY, "dpi": False}  # two seeds
    whole = SZTConfig.for_scale("quick", **cfg)
    sets = [a for k, v in cfg.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    out = tmp_path / "full"
    args = ["szt", "--scale", "quick", "--out", str(out), "--device", "cpu", "--no-progress", *sets]
    assert main([*args, "--jobs", "1"]) == 0
    assert main([*args, "--assemble"]) == 1  # seed 0 still lacks its deterministic network
    assert not (out / "summary.json").exists()
    assert main([*args, "--jobs", "2"]) == 0  # deterministic/seed0, tanh/seed1
    assert main([*args, "--assemble"]) == 0  # seed 0 is complete: its results, runs nothing
    part = ex.SZTResults.load(out, expected_config=whole, allow_part=True)
    assert part.config == whole.replace(n_seeds=1) and part.config.part_of(whole)
    assert [len(r) for r in part.seed_runs.values()] == [1] and len(part.deterministic_runs) == 1
    with pytest.raises(StaleResultsError):
        ex.SZTResults.load(out, expected_config=whole)
    assert sorted(p.name for p in (out / "jobs").iterdir()) == [
        "config.json", "deterministic--seed0.npz", "tanh--seed0.npz", "tanh--seed1.npz"]
    capsys.readouterr()
    assert main(args) == 0  # the rest; the partial results are replaced by the whole run's, no --overwrite
    full = ex.SZTResults.load(out, expected_config=whole)
    assert np.array_equal(full.networks["tanh"].mi, part.networks["tanh"].mi)
    assert len(full.seed_runs["tanh"]) == 2
    with pytest.raises(SystemExit):  # a whole run is not replaced without --overwrite
        main([*args, "--assemble"])


def test_describe_says_which_seeds_are_in():
    run = ex.run_szt(SZTConfig.for_scale("quick", **{**TINY, "n_seeds": 1, "dpi": False, "deterministic": False}),
                     device="cpu", progress=False)
    full = SZTConfig.for_scale("full")
    part = ex.SZTResults(config=full.replace(n_seeds=1), seed_runs=run.seed_runs, provenance=run.provenance)
    assert "full scale: 1 seed per network (root seed 0) (so far: 1 of the 3 seeds of the full run" in part.describe()
    assert "so far" not in run.describe()


def test_chapters_read_the_finished_seeds_of_the_full_run(tmp_path):
    # A stored full run with fewer seeds than the preset (what --assemble writes) is what
    # the chapters read at the book scale; another configuration is still refused.
    from infoflow_core.results import StaleResultsError, load_or_run

    run = ex.run_szt(SZTConfig.for_scale("quick", **{**TINY, "n_seeds": 1, "networks": ex.NETWORKS}),
                     device="cpu", progress=False)
    full = SZTConfig.for_scale("full")
    part = ex.SZTResults(config=full.replace(n_seeds=1), seed_runs=run.seed_runs,
                         deterministic_runs=run.deterministic_runs, realizations=run.realizations,
                         provenance=run.provenance)
    part.save(tmp_path / "szt" / "full")
    got = load_or_run(ex.EXPERIMENT, SZTConfig.for_scale("book"), results_dir=tmp_path)
    assert got.config == full.replace(n_seeds=1) and "so far: 1 of the 3 seeds" in got.describe()
    assert np.array_equal(got.networks["relu"].mi, run.networks["relu"].mi)
    stale = ex.SZTResults(config=full.replace(n_seeds=1, n_x=999), seed_runs=run.seed_runs,
                          deterministic_runs=run.deterministic_runs, realizations=run.realizations,
                          provenance=run.provenance)
    stale.save(tmp_path / "szt" / "full", overwrite=True)
    with pytest.raises(StaleResultsError):
        load_or_run(ex.EXPERIMENT, SZTConfig.for_scale("book"), results_dir=tmp_path)


def test_a_job_cut_off_goes_on_from_its_committed_checkpoint(tmp_path, capsys, monkeypatch):
    """--commit also commits the running job's checkpoint (every --commit-every minutes):
    a sitting killed after the job's first measured epoch leaves that state in git, a
    fresh clone's --status shows it, the next sitting resumes from it (not from the
    start), the result equals an uninterrupted run's, and the job's commit deletes it."""
    from infoflow_core.__main__ import main
    from infoflow_core.experiments._jobs import CommittedCheckpoints

    def repo_at(path):
        git = lambda *a: subprocess.run(["git", "-C", str(path), *a], check=True, capture_output=True,  # noqa: E731
                                        text=True)
        git("config", "user.email", "t@example.org")
        git("config", "user.name", "t")
        return git

    (tmp_path / "repo").mkdir()
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    git = repo_at(tmp_path / "repo")
    cfg = {**TINY, "n_seeds": 1, "dpi": False, "deterministic": False}
    sets = [a for k, v in cfg.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    args = lambda out: ["szt", "--scale", "quick", "--out", str(out), "--device", "cpu", "--no-progress", *sets]  # noqa: E731
    ck_key = f"tanh/seed{SZTConfig.for_scale('quick', **cfg).network('tanh', 0).seed}"
    committed = f"full/jobs/unfinished/{ck_key.replace('/', '--')}.pt"

    save = CommittedCheckpoints.save

    def save_then_die(self, key, state):  # the machine goes away after the first measured epoch
        save(self, key, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(CommittedCheckpoints, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        main([*args(tmp_path / "repo" / "full"), "--commit", "--commit-every", "1e-9"])
    monkeypatch.undo()
    assert git("ls-files").stdout.split() == ["full/jobs/config.json", committed]
    assert f"checkpoint {ck_key} of an unfinished job" in git("log", "--format=%s").stdout
    first_epoch_s = torch.load(tmp_path / "repo" / committed, weights_only=True)["done"]["rows"][0]["seconds"]

    subprocess.run(["git", "clone", "-q", str(tmp_path / "repo"), str(tmp_path / "clone")], check=True)
    clone = repo_at(tmp_path / "clone")
    assert not (tmp_path / "clone" / "full" / "checkpoints").exists()
    capsys.readouterr()
    assert main([*args(tmp_path / "clone" / "full"), "--status"]) == 0
    assert "tanh/seed0: under way, 1 of 2 measured epochs in its committed checkpoint" in capsys.readouterr().out
    assert main([*args(tmp_path / "clone" / "full"), "--commit"]) == 0
    assert "resuming from 1 checkpoint(s)" in capsys.readouterr().err
    assert clone("ls-files").stdout.split() == ["full/jobs/config.json", "full/jobs/tanh--seed0.npz"]
    assert clone("log", "-1", "--format=%s").stdout.startswith("SZTConfig run: job tanh/seed0 finished")
    assert clone("status", "--porcelain", "--", "full/jobs").stdout == ""
    assert not (tmp_path / "clone" / "full" / "jobs" / "unfinished").exists()

    resumed = ex.SZTResults.load(tmp_path / "clone" / "full")
    assert resumed.networks["tanh"].measure_seconds[0] == np.float32(first_epoch_s)  # not measured again

    assert main(args(tmp_path / "plain")) == 0  # one uninterrupted run
    a, b = ex.SZTResults.load(tmp_path / "plain").arrays(), resumed.arrays()
    assert a.keys() == b.keys()
    assert [k for k in a if not k.endswith("measure_seconds") and not np.array_equal(a[k], b[k])] == []
    with pytest.raises(SystemExit):
        main([*args(tmp_path / "x"), "--commit", "--commit-every", "0"])


def test_committed_checkpoints_commit_at_most_every_every_s(tmp_path, monkeypatch):
    """One commit per ``every_s`` seconds whatever the key: a job that starts right after
    another's commit waits its turn; a committed state is what load falls back on."""
    from infoflow_core.experiments import _jobs
    from infoflow_core.experiments._jobs import CommittedCheckpoints

    clock = [0.0]
    monkeypatch.setattr(_jobs.time, "monotonic", lambda: clock[0])
    cfg = SZTConfig.for_scale("quick")
    store = JobStore(tmp_path / "jobs", cfg)
    kept = []
    monkeypatch.setattr(store, "keep_unfinished", lambda key, path: kept.append((clock[0], key)))
    ck = CommittedCheckpoints(tmp_path / "ck", cfg, jobs=store, every_s=100.0)
    for t, key in [(50, "a/seed1"), (100, "a/seed1"), (150, "a/seed1"), (160, "b/seed1"), (210, "b/seed1")]:
        clock[0] = t
        ck.save(key, {"t": t})
    assert kept == [(100, "a/seed1"), (210, "b/seed1")]
    assert ck.load("b/seed1") == {"t": 210} and ck.load("c/seed1") is None
    torch.save({"t": 1}, tmp_path / "x.pt")
    (store.folder / "unfinished").mkdir()
    (tmp_path / "x.pt").rename(store.unfinished_path("c/seed1"))
    assert ck.load("c/seed1") == {"t": 1} and ck.keys() == ["a/seed1", "b/seed1", "c/seed1"]
