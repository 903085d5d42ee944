"""Section 5.1 of the paper: the noisy SZT networks (Figs. 1, 5 and 6).

One run, :func:`run_szt`, does all of it for an :class:`SZTConfig`:

* each noisy 12-10-7-5-4-3-2 network of ``config.networks`` (tanh, tanh with
  orthonormality regularization, linear, ReLU) is trained and, at log-spaced epochs,
  measured: I(X; T_ℓ) for every hidden layer by the SP estimator (equation (1)),
  H(Bin(T_ℓ)) with bins of 10β, within/between-class distance histograms and
  layer-5 snapshots (Fig. 5(a, b, c), the ReLU network, Fig. 6);
* the deterministic network (β = 0): H(Bin(T_ℓ)) for several bin sizes (Fig. 1);
* the data-processing inequality as a check: I per layer of the final tanh network
  against the number of noise realizations per input.

Chapters call :func:`szt_results` (stored results at the book scale, a run at the
quick scale); ``python -m infoflow_core szt --scale S --out DIR`` stores a run.

Modules: :mod:`.config` (configuration, presets, per-network settings),
:mod:`.training` (train loop), :mod:`.measure` (information, binning, histograms),
:mod:`.analysis` (numbers and the checked report), :mod:`.results` (results types),
:mod:`.status` (where a long run stands).

>>> EXPERIMENT.name, EXPERIMENT.config_type is SZTConfig
('szt', True)
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ...data.szt import szt_data
from ...results import Provenance, load_or_run
from .._common import Experiment, resolve_device, run_sharded
from .._jobs import IncompleteRun
from .analysis import (bin_centres, compression_over_seeds, compression_summary, describe_network, describe_seeds, distance_summary,
                       dpi_check, hbin_correlations, information_phases, label_entropy, linear_conditional_entropy, overfitting_onset,
                       phases_over_seeds, plane_phases, binned_plane_phases, report, REPORT_PARTS)
from .config import (DETERMINISTIC_BIN_SIZES, NETWORK_ACTIVATIONS, NETWORKS, QUICK_SEED, NetworkConfig, SZTConfig,
                     snapshot_subset)
from .measure import (choose_n_mc, choose_n_mc_given_x, collapse_realizations, dpi_realizations, estimate_information, estimate_information_jointly,
                      estimate_label_information,
                      histogram_edges, measure_deterministic, measure_noisy)
from .results import DeterministicResults, DPIResults, NetworkResults, SZTResults
from .status import describe_job, job_type, run_jobs, run_status
from .training import build_model, train_network

__all__ = [
    "SZTConfig", "NetworkConfig", "NETWORKS", "NETWORK_ACTIVATIONS", "DETERMINISTIC_BIN_SIZES", "QUICK_SEED",
    "snapshot_subset", "SZTResults", "NetworkResults", "DeterministicResults", "DPIResults",
    "build_model", "train_network", "estimate_information", "estimate_information_jointly",
    "estimate_label_information", "collapse_realizations", "choose_n_mc", "choose_n_mc_given_x",
    "dpi_epochs_of", "histogram_edges", "measure_noisy",
    "measure_deterministic", "dpi_realizations", "compression_summary", "compression_over_seeds", "overfitting_onset", "hbin_correlations",
    "bin_centres", "distance_summary", "dpi_check", "plane_phases", "information_phases", "phases_over_seeds", "binned_plane_phases", "label_entropy", "linear_conditional_entropy", "describe_network", "describe_seeds", "report", "REPORT_PARTS",
    "run_szt", "szt_results", "run_jobs", "run_status", "describe_job", "EXPERIMENT",
]


def dpi_epochs_of(result: NetworkResults, k: int) -> list[int | None]:
    """The epochs of ``result`` that the realization check re-estimates (``k`` of them):
    None (the final network) first; then the end of the first fall of I(X; T_L) of the
    last hidden layer (:func:`information_phases`: clustered inputs, where a small n_x
    biases most), else its smallest value before the last measured epoch; then the first
    measured epoch (the most crowded layers); then measured epochs evenly spread over the
    grid. Each at most once, and never the last measured epoch (the final network's
    neighbour).

    >>> cfg = SZTConfig.for_scale("quick", n_epochs=100)
    >>> r = NetworkResults(config=cfg.network("tanh"), epochs=np.arange(1, 7),
    ...                    mi=np.array([[3.0], [5.0], [4.0], [2.0], [4.0], [1.0]]), mi_stderr=np.full((6, 1), 0.01),
    ...                    **{f: None for f in ("h_t", "h_t_given_x", "h_bin", "mi_y", "mi_y_stderr", "loss_epochs",
    ...                                         "train_loss", "test_loss", "train_acc", "test_acc", "hist_edges",
    ...                                         "hist_within", "hist_between", "snapshot_epochs", "snapshots",
    ...                                         "labels")})
    >>> dpi_epochs_of(r, 3)  # the first fall ends at epoch 4; epoch 6 is the last measured one
    [None, 4, 1]
    """
    epochs = [int(e) for e in result.epochs]
    falls = [p for p in information_phases(result, result.mi.shape[1]) if p["kind"] == "fall"]
    low = int(np.argmin(result.mi[:-1, -1])) if len(epochs) > 1 else 0
    candidates = [falls[0]["to_epoch"] if falls else epochs[low], epochs[0]]
    candidates += [epochs[i] for i in np.linspace(0, len(epochs) - 1, max(k, 2)).round().astype(int)]
    picks: list = [None]
    for e in candidates:
        if len(picks) >= k:
            break
        if e not in picks and e != epochs[-1] and e != int(result.config.n_epochs):
            picks.append(e)
    return picks[:k]


def run_szt(config: SZTConfig, *, device=None, progress: bool = True, checkpoints=None, jobs=None,
            budget=None, commit: bool = False) -> SZTResults:
    """Run the SZT experiments of ``config``.

    Every network (and the deterministic one) is trained ``config.n_seeds`` times on
    the split of ``szt_data(config.seed)``, with the seeds of :meth:`SZTConfig.network`;
    the realization check re-estimates the first seed's ``"tanh"`` network at
    ``config.dpi_epochs`` epochs (:func:`dpi_epochs_of`) with seed ``config.seed + 4``.

    The jobs run in the order of :func:`run_jobs` (seed, then ``config.networks``, then
    ``"deterministic"``), with the realization check right after the first seed's jobs:
    a run stopped by its ``budget`` completes the first seed before it starts another.
    Under ``torchrun`` (a default ``torch.distributed`` process group with more than one
    rank, as ``python -m infoflow_core`` sets up) the first seed's jobs, then the other
    seeds' jobs, are spread over the ranks
    (:func:`~infoflow_core.experiments._common.run_sharded`: rank r trains jobs r,
    r + world, …), gathered on every rank, and the realization check runs on rank 0
    between the two and is shared; every rank returns the same results, equal to a
    one-process run's (every run seeds its own generators).

    Parameters
    ----------
    config : SZTConfig
    device : str or torch.device, optional
        Default: CUDA when available, else the CPU.
    progress : bool
        Progress bars.
    checkpoints : Checkpoints, optional
        Save each run after every measured epoch (keys ``<network>/seed<seed>``) and
        each realization check when done (``dpi/<epoch>``); continue from them. A
        :class:`~infoflow_core.experiments._jobs.CommittedCheckpoints` also commits
        the running job's state now and then.
    jobs : JobStore, optional
        Finished jobs (keys ``<network>/seed<k>``, ``deterministic/seed<k>``,
        ``dpi/<epoch or final>``, k the seed index): loaded instead of run, and every
        job run here is saved there when it finishes (the files a long run commits).
    budget : JobBudget, optional
        How many jobs this call may run (with ``jobs``): when jobs are left,
        :class:`~infoflow_core.experiments._jobs.IncompleteRun` is raised after the
        budget's jobs are saved.
    commit : bool
        ``git commit`` each job file as it is saved (:meth:`JobStore.commit`), deleting
        the job's committed checkpoint in the same commit.

    Returns
    -------
    SZTResults
    """
    t0 = time.perf_counter()
    dev = resolve_device(device)
    data = szt_data(config.seed)

    def stored_or_run(key, cls, cfg, run, checkpoint_key):
        """The job's stored result, else its run when the budget allows (saved), else None."""
        if jobs is not None:
            found = jobs.load(key, cls, config=cfg)
            if found is not None:
                return found
            if budget is not None:
                if not budget.allows():
                    return None
                budget.start()
        result = run()
        if jobs is not None:
            jobs.save(key, result)
            if commit:
                jobs.commit(key, unfinished=checkpoint_key)
        return result

    def job(item):
        name, k = item
        measure = measure_deterministic if name == "deterministic" else measure_noisy
        cfg = config.network(name, k)
        ck = f"{name}/seed{cfg.seed}"
        return stored_or_run(f"{name}/seed{k}", job_type(name), cfg,
                             lambda: measure(cfg, data, dev, progress=progress, checkpoints=checkpoints, key=ck), ck)

    def realization_check(tanh):
        """The realization check of the first seed's tanh network (None per epoch not run)."""
        def check(epoch):
            key = f"dpi/{'final' if epoch is None else epoch}"
            stored = checkpoints.load(key) if checkpoints is not None else None
            if stored is not None:
                return DPIResults(**{k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in stored.items()})
            res = dpi_realizations(tanh, config.dpi_n_x, n_mc=config.n_mc, n_mc_given_x=config.n_mc_given_x,
                                   seed=config.seed + 4, epoch=epoch, target_stderr=config.target_stderr, device=dev,
                                   progress=progress)
            if checkpoints is not None:
                checkpoints.save(key, {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                                       for k, v in vars(res).items()})
            return res

        epochs = dpi_epochs_of(tanh, config.dpi_epochs)
        found = run_sharded([epochs], lambda es: [
            stored_or_run(f"dpi/{'final' if e is None else e}", DPIResults, None, lambda e=e: check(e),
                          f"dpi/{'final' if e is None else e}") for e in es])[0]
        return epochs, found

    # The jobs (run_jobs): the first seed's networks, then its realization check (it needs
    # only the trained tanh network), then the other seeds, so that a sitting completes
    # one seed before it starts the next. Each job seeds its own generators
    # (measure_noisy, measure_deterministic), so under torchrun run_sharded spreads each
    # phase's jobs over the ranks and gathers the same results in this order; the
    # realization check runs on rank 0 after the first phase's gather and is shared.
    job_list = run_jobs(config)
    first = [item for item in job_list if item[1] == 0]
    done = dict(zip(first, run_sharded(first, job)))
    realizations, left = [], []
    if config.dpi:
        if done.get(("tanh", 0)) is None:
            left.append("dpi (after tanh/seed0)")
        else:
            epochs, realizations = realization_check(done[("tanh", 0)])
            left = [f"dpi/{'final' if e is None else e}" for e, r in zip(epochs, realizations) if r is None]
    rest = [item for item in job_list if item[1] > 0]
    done.update(zip(rest, run_sharded(rest, job)))
    missing = [f"{name}/seed{k}" for (name, k), r in done.items() if r is None] + left

    def results(n_seeds):
        seed_runs = {name: [done[(name, k)] for k in range(n_seeds)] for name in config.networks}
        deterministic_runs = [done[("deterministic", k)] for k in range(n_seeds)] if config.deterministic else []
        # Wall time: this call's, or the jobs' own when they ran in earlier sittings (the
        # realization check's not recorded).
        jobs_s = sum(r.wall_time_s for runs in [*seed_runs.values(), deterministic_runs] for r in runs)
        return SZTResults(config=config if n_seeds == config.n_seeds else config.replace(n_seeds=n_seeds),
                          seed_runs=seed_runs, deterministic_runs=deterministic_runs, realizations=realizations,
                          provenance=Provenance.now(dev, max(time.perf_counter() - t0, jobs_s)))

    if missing:
        # The seeds whose jobs are all in (and the realization check): results of their own.
        complete = next((k for k in range(config.n_seeds) if any(done[item] is None for item in job_list
                                                                  if item[1] == k)), config.n_seeds)
        raise IncompleteRun([f"{name}/seed{k}" for (name, k), r in done.items() if r is not None], missing,
                            partial=results(complete) if complete > 0 and not left else None)
    return results(config.n_seeds)


def szt_results(scale: str | None = None, *, results_dir=None, recompute: bool = False, device=None,
                progress: bool = True) -> SZTResults:
    """The SZT results a chapter shows at ``scale`` (default ``INFOFLOW_SCALE``, else book).

    Stored results under ``<results_dir>/szt/<scale>/`` when they match
    ``SZTConfig.for_scale(scale)`` (a stale stored run raises
    :class:`~infoflow_core.results.StaleResultsError`), else a run; the quick scale
    always runs. See :func:`~infoflow_core.results.load_or_run`.
    """
    return load_or_run(EXPERIMENT, SZTConfig.for_scale(scale), results_dir=results_dir, recompute=recompute,
                       device=device, progress=progress)


#: The record the command line ``python -m infoflow_core szt`` uses.
EXPERIMENT = Experiment("szt", "Section 5.1: the noisy SZT networks (Figs. 1, 5, 6)", SZTConfig, SZTResults, run_szt,
                        status=run_status)
