"""The paper's experiments, one module each, all on one skeleton (:mod:`._common`).

=================  ==========================================  ==============
module             what                                        paper
=================  ==========================================  ==============
:mod:`.binning`    binned entropy of a deterministic tanh net  Section 1
:mod:`.neuron`     the single noisy tanh neuron                Section 4
:mod:`.constellation`  I(S; S + Z) of clustered constellations Section 4
:mod:`.szt`        the noisy SZT networks                      Section 5.1
:mod:`.mnist`      the MNIST CNNs                              Sections 2, 5.2
=================  ==========================================  ==============

Each module defines a configuration class (``Config.for_scale(scale, **overrides)``),
a results class, one ``run_<name>(config, *, device=None, progress=True)`` function,
a ``<name>_results(scale, *, results_dir=None, ...)`` function for the chapters and
an :class:`Experiment` record named ``EXPERIMENT`` for the command line
``python -m infoflow_core <name>``. Submodules are imported on demand.
"""

from __future__ import annotations

import importlib

from ._common import (Checkpoints, Experiment, ExperimentConfig, config_hash, log_epochs, progress_bar, progress_iter,
                      resolve_device, single_thread)

__all__ = ["Checkpoints", "Experiment", "ExperimentConfig", "config_hash", "log_epochs", "progress_bar", "progress_iter",
           "resolve_device", "single_thread", "EXPERIMENT_MODULES", "get_experiment"]

#: Command-line name -> module defining ``EXPERIMENT``.
EXPERIMENT_MODULES = {
    "binning": "infoflow_core.experiments.binning",
    "neuron": "infoflow_core.experiments.neuron",
    "constellation": "infoflow_core.experiments.constellation",
    "szt": "infoflow_core.experiments.szt",
    "mnist": "infoflow_core.experiments.mnist",
    "your_network": "infoflow_core.experiments.your_network",
}


def get_experiment(name: str) -> Experiment:
    """The :class:`Experiment` record of ``name`` (a key of :data:`EXPERIMENT_MODULES`)."""
    if name not in EXPERIMENT_MODULES:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENT_MODULES)}, got {name!r}")
    return importlib.import_module(EXPERIMENT_MODULES[name]).EXPERIMENT
