"""The experiment sweep under torchrun: ``python -m infoflow_core szt`` with 2 gloo
processes on 127.0.0.1 stores the same results as one process.

The two children are started with ``torch.multiprocessing`` spawn and given the
environment ``torchrun`` would give them (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR=127.0.0.1``, ``MASTER_PORT``, gloo on the loopback interface); each calls
:func:`infoflow_core.__main__.main` and writes its exit status to ``tmp_path``. The
process group's timeout is 60 s and the parent kills the children after 120 s, so a hang
ends by itself. The configuration is the quick preset cut down to a few seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch

from infoflow_core.__main__ import main
from infoflow_core.experiments._common import run_sharded
from _spawn import WORLD, free_port, spawn_and_wait

TINY = ["--scale", "quick", "--no-progress", "--set", "n_epochs=4", "--set", "n_points=3", "--set", "det_points=3",
        "--set", 'networks=["tanh", "relu"]', "--set", 'histograms=["tanh"]', "--set", "n_mc=64",
        "--set", "n_mc_given_x=4", "--set", "dpi_n_x=[1, 2]", "--set", "n_snapshots=2", "--set", "n_x=2"]



def _worker(rank: int, port: int, folder: str, argv: list) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_WORLD_SIZE=str(WORLD),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo",
                      INFOFLOW_DIST_TIMEOUT_S="60", OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    except Exception:  # noqa: BLE001 -- reported to the parent through the file
        rc = traceback.format_exc()
    Path(folder, f"rank{rank}.json").write_text(json.dumps({"rc": rc}))


def _torchrun(tmp_path: Path, argv: list) -> list:
    """Run ``main(argv)`` as 2 ranks; their return codes."""
    status = tmp_path / "status"
    status.mkdir(exist_ok=True)
    spawn_and_wait(_worker, (free_port(), str(status), argv))
    rcs = [json.loads((status / f"rank{k}.json").read_text())["rc"] for k in range(WORLD)]
    for k, rc in enumerate(rcs):
        assert not isinstance(rc, str), f"rank {k}:\n{rc}"
    return rcs


def _summary_without_times(path: Path) -> dict:
    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k not in ("date", "wall_time_s") and not k.endswith("_s")}
        if isinstance(d, list):
            return [strip(v) for v in d]
        return d
    return strip(json.loads((path / "summary.json").read_text()))


def test_run_sharded_one_process_is_the_loop():
    """Without a process group: exactly ``[fn(job) for job in jobs]``, in order."""
    got = run_sharded(range(5), lambda j: j * 10)
    assert got == [0, 10, 20, 30, 40]
    assert run_sharded([], lambda j: j) == []


@pytest.mark.skipif(sys.platform != "linux", reason="gloo on the loopback interface 'lo'")
def test_szt_sweep_two_ranks_equals_one_process(tmp_path, monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["szt", "--out", str(one), "--device", "cpu", *TINY]) == 0
    assert _torchrun(tmp_path, ["szt", "--out", str(two), "--device", "cpu", *TINY]) == [0, 0]
    # one writer: exactly the two files, nothing left by rank 1
    assert sorted(p.name for p in two.iterdir()) == ["arrays.npz", "summary.json"]
    a, b = np.load(one / "arrays.npz"), np.load(two / "arrays.npz")
    assert sorted(a.files) == sorted(b.files)
    assert any(k.startswith("relu__") for k in a.files) and any(k.startswith("dpi__") for k in a.files)
    differ = [k for k in a.files  # the same but the measured seconds (timings)
              if not k.endswith("measure_seconds") and not np.array_equal(a[k], b[k], equal_nan=True)]
    assert differ == [], f"arrays differ between 1 and 2 processes: {differ}"  # each job seeds its own generators
    assert _summary_without_times(one) == _summary_without_times(two)

    # a stored run in --out: rank 0's check stops both ranks before any computing
    mtime = (two / "summary.json").stat().st_mtime_ns
    t0 = time.monotonic()
    assert _torchrun(tmp_path, ["szt", "--out", str(two), "--device", "cpu", *TINY]) == [2, 2]
    assert time.monotonic() - t0 < 60
    assert (two / "summary.json").stat().st_mtime_ns == mtime
