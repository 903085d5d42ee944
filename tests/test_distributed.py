"""The estimators with ``group=``: 2 gloo processes on 127.0.0.1 (torch.multiprocessing
spawn), against closed forms and against the single-process estimator.

Each spawn runs a list of scenarios in both children; every child writes its results
to ``tmp_path/rank<k>.pt`` and the tests compare them. The process group has a 60 s
timeout and the parent kills the children after 120 s, so a hang ends by itself.
"""

from __future__ import annotations

import datetime
import math
import traceback

import pytest
import torch
import torch.distributed as dist

from infoflow_core.entropy import gaussian_entropy, gm_entropy, gm_entropy_1d
from infoflow_core.mutual_information import sp_label_information, sp_mutual_information
from _spawn import WORLD, free_port, spawn_and_wait




def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _far_apart(n: int, d: int) -> torch.Tensor:
    """n centres 100 apart along the first axis (β = 1: no overlap to e^{-1000})."""
    c = torch.zeros(n, d, dtype=torch.float64)
    c[:, 0] = 100.0 * torch.arange(n, dtype=torch.float64)
    return c


def _calibration_centers() -> torch.Tensor:
    """8 overlapping 1-D centres (β = 0.5): an entropy with no closed form."""
    return torch.tensor([-1.3, -0.9, -0.2, 0.0, 0.4, 1.1, 1.5, 2.8], dtype=torch.float64).unsqueeze(1)


CAL_BETA, CAL_N_MC, CAL_R = 0.5, 203, 300  # n_mc = 25·8 + 3: stratified, random remainder, odd split


def _scenarios(rank: int) -> dict:
    out = {}
    seed = 1000 + rank  # a different generator per rank
    # (a) closed forms; n_mc chosen to reach every branch: m ≥ 2 with remainder, m = 1, m = 0, n = 1
    for name, n, d, n_mc in [("far_m400_r1", 5, 2, 2001), ("far_m1", 20, 1, 30), ("far_m0", 50, 1, 31),
                             ("single", 1, 3, 1001)]:
        est = gm_entropy(_far_apart(n, d), 1.0, n_mc=n_mc, generator=_gen(seed), group=dist.group.WORLD)
        out[name] = (est.value, est.stderr, math.log(n) + gaussian_entropy(d, 1.0))
    est = gm_entropy(_far_apart(3, 2).float(), 1.0, n_mc=999, generator=_gen(seed), group=dist.group.WORLD,
                     method="dense")  # float32 centres follow the same path
    out["far_f32"] = (est.value, est.stderr, math.log(3) + gaussian_entropy(2, 1.0))
    # (e) sp_mutual_information / sp_label_information: 4 far-apart inputs of 3 realizations
    s = (100.0 * torch.arange(4, dtype=torch.float64)).reshape(4, 1, 1) + torch.tensor(
        [0.0, 0.3, -0.5], dtype=torch.float64).reshape(1, 3, 1)
    mi = sp_mutual_information(s, 0.2, n_mc=1001, n_mc_given_x=51, generator=_gen(seed), group=dist.group.WORLD)
    out["mi"] = (mi.value, mi.stderr, math.log(4), mi.h_t, mi.h_t_given_x, mi.h_t_stderr, mi.h_t_given_x_stderr)
    ly = sp_label_information(s, torch.tensor([0, 0, 1, 1]), 0.2, n_mc=1001, n_mc_given_y=301,
                              generator=_gen(seed), group=dist.group.WORLD)
    out["label"] = (ly.value, ly.stderr, math.log(2), ly.h_t, ly.h_t_given_y)
    # (d) the same seed on both ranks, and an argument that differs between ranks
    for name, kwargs in [("same_seed", dict(n_mc=100, generator=_gen(7))),
                         ("other_n_mc", dict(n_mc=100 + rank, generator=_gen(seed)))]:
        try:
            gm_entropy(_far_apart(2, 1), 1.0, group=dist.group.WORLD, **kwargs)
            out[name] = None
        except ValueError as err:
            out[name] = str(err)
    return out


def _calibration(rank: int) -> dict:
    c = _calibration_centers()
    dist_runs = [gm_entropy(c, CAL_BETA, n_mc=CAL_N_MC, generator=_gen(10_000 + 2 * i + rank),
                            group=dist.group.WORLD) for i in range(CAL_R)]
    out = {"dist": torch.tensor([(e.value, e.stderr) for e in dist_runs], dtype=torch.float64)}
    if rank == 0:
        single = [gm_entropy(c, CAL_BETA, n_mc=CAL_N_MC, generator=_gen(50_000 + i)) for i in range(CAL_R)]
        out["single"] = torch.tensor([(e.value, e.stderr) for e in single], dtype=torch.float64)
    return out


def _worker(rank: int, port: int, folder: str, what: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))
    try:
        result = {"scenarios": _scenarios, "calibration": _calibration}[what](rank)
    except Exception:  # noqa: BLE001 -- reported to the parent through the file
        result = {"error": traceback.format_exc()}
    finally:
        dist.destroy_process_group()
    torch.save(result, f"{folder}/rank{rank}.pt")


def _run(tmp_path, what: str) -> list[dict]:
    spawn_and_wait(_worker, (free_port(), str(tmp_path), what))
    results = [torch.load(tmp_path / f"rank{k}.pt") for k in range(WORLD)]
    for k, r in enumerate(results):
        assert "error" not in r, f"rank {k}:\n{r['error']}"
    return results


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("dist"), "scenarios")


@pytest.mark.parametrize("name", ["far_m400_r1", "far_m1", "far_m0", "single", "far_f32"])
def test_gm_entropy_closed_forms(scenarios, name):
    """ln n + (d/2) ln(2πeβ²) for far-apart components, (d/2) ln(2πeβ²) for one, within 4.5 stderr
    (plus 1e-9 of rounding: with the own-component control variate both cases have no
    Monte Carlo variance left, so the stderr is at the float64 rounding level)."""
    value, stderr, exact = scenarios[0][name]
    assert 0 <= stderr < 0.2
    assert abs(value - exact) < 4.5 * stderr + 1e-9


def test_ranks_agree_exactly(scenarios):
    """Every rank returns bit-identical values and standard errors."""
    r0, r1 = scenarios
    for name in ["far_m400_r1", "far_m1", "far_m0", "single", "far_f32", "mi", "label"]:
        assert r0[name] == r1[name], name


def test_sp_mutual_information_and_label_information(scenarios):
    """Far-apart inputs: I(X;T) = ln 4, I(T;Y) = ln 2 (two far-apart classes), within 4.5 stderr."""
    value, stderr, exact, h_t, h_cond, se_t, se_cond = scenarios[0]["mi"]
    assert abs(value - exact) < 4.5 * stderr and se_t > 0 and se_cond > 0
    assert math.isclose(value, h_t - h_cond) and math.isclose(stderr, math.hypot(se_t, se_cond))
    value, stderr, exact, *_ = scenarios[0]["label"]
    assert abs(value - exact) < 4.5 * stderr


def test_same_seed_and_mismatched_arguments_raise_on_every_rank(scenarios):
    for r in scenarios:
        assert r["same_seed"] is not None and "generator must differ" in r["same_seed"]
        assert r["other_n_mc"] is not None and r["other_n_mc"].startswith("n_mc must be the same on every rank")


def test_group_without_init_is_a_value_error():
    """(``torch.distributed.group.WORLD`` is None before init_process_group: one process.)"""
    with pytest.raises(ValueError, match="group needs an initialized"):
        gm_entropy(torch.zeros(2, 1), 1.0, n_mc=10, group="WORLD")


def test_calibration_two_ranks_vs_one(tmp_path):
    """2 ranks with n_mc/2 samples each vs 1 process with n_mc, R = 300 repetitions each.

    - means agree with each other and with the quadrature value (gm_entropy_1d) within
      4 standard errors of the mean;
    - calibration: mean(stderr²) / var(value) ≈ 1 for each, within 4·sqrt(2/(R−1)) +
      4·(relative standard error of mean(stderr²)) (the sampling error of a variance);
    - the mean stderr² agree between the two ways within 4 standard errors.
    """
    r0, r1 = _run(tmp_path, "calibration")
    assert torch.equal(r0["dist"], r1["dist"])
    exact = gm_entropy_1d(_calibration_centers()[:, 0], CAL_BETA)
    R = CAL_R
    stats = {}
    for way in ("dist", "single"):
        v, se = r0[way][:, 0], r0[way][:, 1]
        stats[way] = (v.mean(), v.var(), (se ** 2).mean(), (se ** 2).var())
        mean, var, mse2, var_se2 = stats[way]
        assert abs(mean - exact) < 4 * math.sqrt(var / R), way
        tol = 4 * math.sqrt(2 / (R - 1)) + 4 * math.sqrt(var_se2 / R) / mse2
        assert abs(mse2 / var - 1) < tol, (way, float(mse2 / var), tol)
    (m_d, v_d, s_d, vs_d), (m_s, v_s, s_s, vs_s) = stats["dist"], stats["single"]
    assert abs(m_d - m_s) < 4 * math.sqrt((v_d + v_s) / R)
    assert abs(s_d - s_s) < 4 * math.sqrt((vs_d + vs_s) / R)
    assert abs(math.log(v_d / v_s)) < 4 * math.sqrt(4 / (R - 1))
