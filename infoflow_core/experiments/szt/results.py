"""Results of the SZT experiments: one object per trained network, one for the
deterministic network, one for the DPI check, and the family :class:`SZTResults`
that is stored (``arrays.npz`` keys ``<network>__<field>``) and loaded.

All entropies and informations in nats; ``L`` = 5 hidden layers, ``E`` measured epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ...results import ExperimentResults, Provenance
from .analysis import compression_summary, dpi_check, hbin_correlations, overfitting_onset
from .config import NetworkConfig, SZTConfig

__all__ = ["TrainingCurves", "NetworkResults", "DeterministicResults", "DPIResults", "SZTResults"]


@dataclass(kw_only=True)
class TrainingCurves:
    """What every trained SZT network records: its configuration and, after every
    epoch, the loss and accuracy of the noiseless network (eval mode).

    Attributes
    ----------
    config : NetworkConfig
    loss_epochs : ndarray, shape (n_epochs,)
        Every epoch 1…n_epochs.
    train_loss, test_loss, train_acc, test_acc : ndarray, shape (n_epochs,)
        Cross-entropy in nats; accuracy in [0, 1].
    wall_time_s : float
        Training and measuring time.
    """

    config: NetworkConfig
    loss_epochs: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    wall_time_s: float = 0.0


@dataclass(kw_only=True)
class NetworkResults(TrainingCurves):
    """One noisy network trained and measured (Fig. 5 and Fig. 6).

    Attributes
    ----------
    config : NetworkConfig
    epochs : ndarray, shape (E,)
    mi, mi_stderr : ndarray, shape (E, L)
        SP estimate of I(X; T_ℓ) (equation (1)) and its Monte Carlo standard error.
    h_t, h_t_given_x : ndarray, shape (E, L)
        The two terms of equation (1).
    h_bin : ndarray, shape (E, L)
        H(Bin(T_ℓ)) of one noisy realization per input, bins of ``bin_factor·β``.
    mi_y, mi_y_stderr : ndarray, shape (E, L)
        SP estimate of I(T_ℓ; Y) (the information plane's other axis, at most
        H(Y) ≤ ln 2) and its Monte Carlo standard error.
    loss_epochs : ndarray, shape (n_epochs,)
        Every epoch 1…n_epochs.
    train_loss, test_loss, train_acc, test_acc : ndarray, shape (n_epochs,)
        Of the noiseless network (eval mode); cross-entropy in nats.
    hist_edges : ndarray, shape (L, B + 1)
    hist_within, hist_between : ndarray, shape (S, L, B)
        Counts of pairwise distances between T_ℓ of same- and different-label inputs
        at the snapshot epochs (S = 0 when ``config.histograms`` is False).
    snapshot_epochs : ndarray, shape (S',)
    snapshots : ndarray, shape (S', 4096, d_L)
        One noisy realization of the last hidden layer for every input.
    labels : ndarray, shape (4096,)
    mi_path, mi_y_path : ndarray of int8, shape (E, L), optional
        How h(T_ℓ) (``mi_path``) and the class-conditional entropies of I(T_ℓ; Y)
        (``mi_y_path``) were computed: 0 exact kernel sums, 1 the nested path
        (:mod:`infoflow_core._nested`); None in runs stored before it existed.
    measure_seconds : ndarray of float32, shape (E,), optional
        Wall seconds of each measured epoch's sampling and estimates (training excluded;
        any time the process was stopped included); NaN for epochs measured before it was
        recorded, None in runs stored before it existed.
    final_state : dict of str to ndarray
        The trained weights (to re-estimate, e.g. :func:`~.measure.dpi_realizations`).
    epoch_states : dict of str to ndarray, shape (E, ...)
        The weights after every measured epoch (float32).
    wall_time_s : float
    """

    ARRAYS: ClassVar[tuple[str, ...]] = (
        "epochs", "mi", "mi_stderr", "h_t", "h_t_given_x", "h_bin", "mi_y", "mi_y_stderr", "loss_epochs", "train_loss", "test_loss",
        "train_acc", "test_acc", "hist_edges", "hist_within", "hist_between", "snapshot_epochs", "snapshots",
        "labels")

    epochs: np.ndarray
    mi: np.ndarray
    mi_stderr: np.ndarray
    h_t: np.ndarray
    h_t_given_x: np.ndarray
    h_bin: np.ndarray
    mi_y: np.ndarray
    mi_y_stderr: np.ndarray
    hist_edges: np.ndarray
    hist_within: np.ndarray
    hist_between: np.ndarray
    snapshot_epochs: np.ndarray
    snapshots: np.ndarray
    labels: np.ndarray
    final_state: dict = field(default_factory=dict)
    epoch_states: dict = field(default_factory=dict)
    mi_path: np.ndarray | None = None
    mi_y_path: np.ndarray | None = None
    measure_seconds: np.ndarray | None = None

    #: Arrays stored when present (runs stored before them load without), and their dtypes.
    OPTIONAL_ARRAYS: ClassVar[tuple[str, ...]] = ("mi_path", "mi_y_path", "measure_seconds")
    OPTIONAL_DTYPES: ClassVar[dict] = {"mi_path": np.int8, "mi_y_path": np.int8, "measure_seconds": np.float32}

    @property
    def name(self) -> str:
        """The network's name (``"tanh"``, ...)."""
        return self.config.name

    @property
    def n_layers(self) -> int:
        """Number of hidden layers L."""
        return self.mi.shape[1]

    def summary(self) -> dict:
        """Headline numbers: accuracies, compression per layer, overfitting onset,
        H(Bin) correlations, the DPI check over epochs, and the curves per layer."""
        dpi = dpi_check(self.mi, self.mi_stderr)
        layers = {f"T{k + 1}": {name: np.round(getattr(self, attr)[:, k], 5).tolist()
                                for name, attr in (("I", "mi"), ("stderr", "mi_stderr"), ("h_T", "h_t"),
                                                   ("h_T_given_X", "h_t_given_x"), ("H_bin", "h_bin"),
                                                   ("I_TY", "mi_y"), ("I_TY_stderr", "mi_y_stderr"))}
                  for k in range(self.n_layers)}
        at = self.epochs - 1  # (E,) rows of the per-epoch losses
        return {"epochs": self.epochs.tolist(), "layers": layers,
                "losses": {"train_loss": np.round(self.train_loss[at], 5).tolist(),
                           "test_loss": np.round(self.test_loss[at], 5).tolist(),
                           "final_train_acc": float(self.train_acc[-1]), "final_test_acc": float(self.test_acc[-1])},
                "compression": [compression_summary(self, layer) for layer in range(1, self.n_layers + 1)],
                "overfitting_onset": overfitting_onset(self.loss_epochs, self.test_loss),
                "hbin_correlation": [round(float(c), 4) for c in hbin_correlations(self)],
                "dpi": {k: v for k, v in dpi.items() if k != "excess"},
                "wall_time_s": round(self.wall_time_s, 1)}


@dataclass(kw_only=True)
class DeterministicResults(TrainingCurves):
    """The deterministic network (β = 0), Fig. 1: H(Bin(T_ℓ)) = I(X; Bin(T_ℓ)).

    Attributes
    ----------
    epochs : ndarray, shape (E,)
        Its own grid of measured epochs (``det_points`` points).
    config : NetworkConfig
        ``SZTConfig.network("deterministic")``.
    bin_sizes : ndarray, shape (K,)
    h_bin : ndarray, shape (E, K, L)
        In nats; at most ln 4096 ≈ 8.318.
    h_bin_y : ndarray, shape (E, K, L)
        I(Bin(T_ℓ); Y) in nats (the binned information plane); at most H(Y) ≤ ln 2.
    loss_epochs, train_loss, test_loss, train_acc, test_acc : ndarray, shape (n_epochs,)
    wall_time_s : float
    """

    ARRAYS: ClassVar[tuple[str, ...]] = ("epochs", "bin_sizes", "h_bin", "h_bin_y", "loss_epochs", "train_loss",
                                         "test_loss", "train_acc", "test_acc")

    epochs: np.ndarray
    bin_sizes: np.ndarray
    h_bin: np.ndarray
    h_bin_y: np.ndarray

    @property
    def name(self) -> str:
        return self.config.name

    def summary(self) -> dict:
        """Final H(Bin(T_ℓ)) per bin size and layer (K, L), final test accuracy."""
        final = np.round(self.h_bin[-1], 4)  # (K, L)
        return dict(epochs=self.epochs.tolist(), bin_sizes=self.bin_sizes.tolist(), H_bin_final=final.tolist(),
                    I_bin_TY_final=np.round(self.h_bin_y[-1], 4).tolist(), final_test_acc=float(self.test_acc[-1]), wall_time_s=round(self.wall_time_s, 1))


@dataclass
class DPIResults:
    """I(X; T_ℓ) of one trained network against the realizations per input ``n_x``.

    Attributes
    ----------
    network : str
        Whose final weights were used.
    epoch : int
    beta : float
    n_x : ndarray, shape (M,)
    mi, mi_stderr, h_t, h_t_given_x : ndarray, shape (M, L)

    Examples
    --------
    >>> mi = np.array([[8.3, 8.2], [8.3, 8.4]])  # n_x = 1: fine; n_x = 2: T2 above T1 by 10 s.e.
    >>> DPIResults("tanh", 100, 0.005, np.array([1, 2]), mi, np.full((2, 2), 0.007), mi, 0 * mi).summary()["violations"]
    [(1, 1)]
    """

    ARRAYS: ClassVar[tuple[str, ...]] = ("n_x", "mi", "mi_stderr", "h_t", "h_t_given_x")

    network: str
    epoch: int
    beta: float
    n_x: np.ndarray
    mi: np.ndarray
    mi_stderr: np.ndarray
    h_t: np.ndarray
    h_t_given_x: np.ndarray

    def summary(self) -> dict:
        """The estimates per ``n_x`` and the DPI violations (> 3 s.e.)."""
        return {"network": self.network, "epoch": self.epoch, "n_x": self.n_x.tolist(),
                "I": np.round(self.mi, 5).tolist(), "stderr": np.round(self.mi_stderr, 5).tolist(),
                "violations": dpi_check(self.mi, self.mi_stderr)["violations"]}


@dataclass(kw_only=True)
class SZTResults(ExperimentResults):
    """All SZT experiments of one :class:`SZTConfig` (what is stored and loaded).

    Attributes
    ----------
    config : SZTConfig
    networks : dict of str to NetworkResults
        The first seed's run of each name in ``config.networks``, in that order.
    seed_runs : dict of str to list of NetworkResults
        All ``config.n_seeds`` runs of each network (``seed_runs[name][0]`` is
        ``networks[name]``).
    deterministic : DeterministicResults or None
        The first seed's deterministic network, when ``config.deterministic``.
    deterministic_runs : list of DeterministicResults
        All its seeds.
    dpi : DPIResults or None
        The final ``"tanh"`` network (first seed) against ``n_x``, when ``config.dpi``.
    realizations : list of DPIResults
        The same at each of the ``config.dpi_epochs`` epochs checked, ``dpi`` first.
    provenance : Provenance

    Notes
    -----
    ``arrays.npz`` holds ``<network>__<field>`` for every array of the first seed's run
    of each network (``snapshots`` as float16), ``<network>__state__<parameter>`` for
    its final weights and ``<network>__epoch_state__<parameter>`` for its weights at
    the measured epochs; ``<network>__s<k>__…`` the same for seed index k ≥ 1;
    ``deterministic__<field>`` (``deterministic__s<k>__<field>``), ``dpi__<field>``
    for the final network and ``dpi_e<epoch>__<field>`` for the other epochs checked.
    """

    experiment: ClassVar[str] = "szt"
    config_type: ClassVar[type] = SZTConfig

    config: SZTConfig
    networks: dict = field(default_factory=dict)
    seed_runs: dict = field(default_factory=dict)
    deterministic: DeterministicResults | None = None
    deterministic_runs: list = field(default_factory=list)
    dpi: DPIResults | None = None
    realizations: list = field(default_factory=list)

    def __post_init__(self):
        if not self.seed_runs:
            self.seed_runs = {name: [r] for name, r in self.networks.items()}
        if not self.networks:
            self.networks = {name: runs[0] for name, runs in self.seed_runs.items()}
        if self.deterministic is not None and not self.deterministic_runs:
            self.deterministic_runs = [self.deterministic]
        if self.deterministic is None and self.deterministic_runs:
            self.deterministic = self.deterministic_runs[0]
        if self.dpi is not None and not self.realizations:
            self.realizations = [self.dpi]
        if self.dpi is None and self.realizations:
            self.dpi = self.realizations[0]

    def describe(self) -> str:
        """Where these numbers come from: scale, the seeds every network's curves hold,
        n_x, provenance."""
        c = self.config
        n = len(next(iter(self.seed_runs.values()), []))
        seeds = ", ".join(str(s) for s in c.seeds[:n])
        plural = "s" if n != 1 else ""
        whole = type(c).for_scale(c.scale)
        so_far = (f" (so far: {n} of the {whole.n_seeds} seeds of the {c.scale} run; the others are under way)"
                  if c.part_of(whole) else "")
        return (f"{c.scale} scale: {n} seed{plural} per network (root seed{plural} {seeds}){so_far}, "
                f"{c.n_epochs} epochs, {len(c.epochs)} measured, n_x = {c.n_x}; {self.provenance.describe()}")

    @staticmethod
    def _prefix(name: str, k: int) -> str:
        return f"{name}__" if k == 0 else f"{name}__s{k}__"

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name, runs in self.seed_runs.items():
            for k, r in enumerate(runs):
                pre = self._prefix(name, k)
                for key in NetworkResults.ARRAYS:
                    value = np.asarray(getattr(r, key))
                    out[pre + key] = value.astype(np.float16) if key == "snapshots" else value
                for key in NetworkResults.OPTIONAL_ARRAYS:
                    if getattr(r, key) is not None:
                        out[pre + key] = np.asarray(getattr(r, key), dtype=NetworkResults.OPTIONAL_DTYPES[key])
                for key, value in r.final_state.items():
                    out[f"{pre}state__{key}"] = np.asarray(value)
                for key, value in r.epoch_states.items():
                    out[f"{pre}epoch_state__{key}"] = np.asarray(value, dtype=np.float32)
        for k, r in enumerate(self.deterministic_runs):
            for key in DeterministicResults.ARRAYS:
                out[self._prefix("deterministic", k) + key] = np.asarray(getattr(r, key))
        for k, d in enumerate(self.realizations):
            for key in DPIResults.ARRAYS:
                out[("dpi__" if k == 0 else f"dpi_e{d.epoch}__") + key] = np.asarray(getattr(d, key))
        return out

    @classmethod
    def from_arrays(cls, config: SZTConfig, arrays: dict, summary: dict, provenance: Provenance):
        walls = summary.get("wall_times_s", {})
        seed_runs = {}
        for name in config.networks:
            runs = []
            for k in range(config.n_seeds):
                pre = cls._prefix(name, k)
                missing = [key for key in NetworkResults.ARRAYS if pre + key not in arrays]
                if missing:
                    raise ValueError(f"stored arrays lack {pre}{missing[0]} (and {len(missing) - 1} more)")
                kw = {key: arrays[pre + key] for key in NetworkResults.ARRAYS + NetworkResults.OPTIONAL_ARRAYS
                      if pre + key in arrays}
                kw["snapshots"] = kw["snapshots"].astype(np.float32)
                state = {key[len(pre) + 7:]: v for key, v in arrays.items() if key.startswith(pre + "state__")}
                epoch_states = {key[len(pre) + 13:]: v for key, v in arrays.items()
                                if key.startswith(pre + "epoch_state__")}
                runs.append(NetworkResults(config=config.network(name, k), final_state=state,
                                           epoch_states=epoch_states,
                                           wall_time_s=float(walls.get(f"{name}/{k}", 0.0)), **kw))
            seed_runs[name] = runs
        deterministic_runs = []
        if config.deterministic:
            for k in range(config.n_seeds):
                pre = cls._prefix("deterministic", k)
                deterministic_runs.append(DeterministicResults(
                    config=config.network("deterministic", k),
                    **{key: arrays[pre + key] for key in DeterministicResults.ARRAYS},
                    wall_time_s=float(walls.get(f"deterministic/{k}", 0.0))))
        realizations = []
        if config.dpi:
            beta = config.network("tanh").beta
            realizations.append(DPIResults(network="tanh", epoch=config.n_epochs, beta=beta,
                                           **{key: arrays[f"dpi__{key}"] for key in DPIResults.ARRAYS}))
            extra = sorted({int(key[5:key.index("__")]) for key in arrays if key.startswith("dpi_e")})
            for epoch in extra:
                realizations.append(DPIResults(network="tanh", epoch=epoch, beta=beta,
                                               **{key: arrays[f"dpi_e{epoch}__{key}"] for key in DPIResults.ARRAYS}))
        return cls(config=config, provenance=provenance, seed_runs=seed_runs, deterministic_runs=deterministic_runs,
                   realizations=realizations)

    def summary(self) -> dict:
        """Per network :meth:`NetworkResults.summary` (first seed), the deterministic
        network's and the DPI check's; per network and seed the measured epochs, I(X; T_ℓ)
        and I(T_ℓ; Y) with their errors and the final test accuracy; wall times."""
        out: dict = {"networks": {name: r.summary() for name, r in self.networks.items()}}
        out["seeds"] = {name: [{"seed": r.config.seed, "epochs": r.epochs.tolist(),
                                "mi": np.round(r.mi, 5).tolist(), "mi_stderr": np.round(r.mi_stderr, 5).tolist(),
                                "mi_y": np.round(r.mi_y, 5).tolist(),
                                "mi_y_stderr": np.round(r.mi_y_stderr, 5).tolist(),
                                "final_test_acc": float(r.test_acc[-1])} for r in runs]
                        for name, runs in self.seed_runs.items()}
        if self.deterministic is not None:
            out["deterministic"] = self.deterministic.summary()
            out["deterministic_seeds"] = [{"seed": r.config.seed, "final_test_acc": float(r.test_acc[-1]),
                                           "H_bin_final": np.round(r.h_bin[-1], 4).tolist()}
                                          for r in self.deterministic_runs]
        if self.dpi is not None:
            out["dpi_realizations"] = self.dpi.summary()
            out["realizations"] = [d.summary() for d in self.realizations]
        out["wall_times_s"] = {**{f"{name}/{k}": round(r.wall_time_s, 1) for name, runs in self.seed_runs.items()
                                  for k, r in enumerate(runs)},
                               **{f"deterministic/{k}": round(r.wall_time_s, 1)
                                  for k, r in enumerate(self.deterministic_runs)}}
        return out
