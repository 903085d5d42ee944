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
    final_state : dict of str to ndarray
        The trained weights (to re-estimate, e.g. :func:`~.measure.dpi_realizations`).
    wall_time_s : float
    """

    ARRAYS: ClassVar[tuple[str, ...]] = (
        "epochs", "mi", "mi_stderr", "h_t", "h_t_given_x", "h_bin", "loss_epochs", "train_loss", "test_loss",
        "train_acc", "test_acc", "hist_edges", "hist_within", "hist_between", "snapshot_epochs", "snapshots",
        "labels")

    epochs: np.ndarray
    mi: np.ndarray
    mi_stderr: np.ndarray
    h_t: np.ndarray
    h_t_given_x: np.ndarray
    h_bin: np.ndarray
    hist_edges: np.ndarray
    hist_within: np.ndarray
    hist_between: np.ndarray
    snapshot_epochs: np.ndarray
    snapshots: np.ndarray
    labels: np.ndarray
    final_state: dict = field(default_factory=dict)

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
                                                   ("h_T_given_X", "h_t_given_x"), ("H_bin", "h_bin"))}
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
    loss_epochs, train_loss, test_loss, train_acc, test_acc : ndarray, shape (n_epochs,)
    wall_time_s : float
    """

    ARRAYS: ClassVar[tuple[str, ...]] = ("epochs", "bin_sizes", "h_bin", "loss_epochs", "train_loss", "test_loss",
                                         "train_acc", "test_acc")

    epochs: np.ndarray
    bin_sizes: np.ndarray
    h_bin: np.ndarray

    def summary(self) -> dict:
        """Final H(Bin(T_ℓ)) per bin size and layer (K, L), final test accuracy."""
        final = np.round(self.h_bin[-1], 4)  # (K, L)
        return dict(epochs=self.epochs.tolist(), bin_sizes=self.bin_sizes.tolist(), H_bin_final=final.tolist(),
                    final_test_acc=float(self.test_acc[-1]), wall_time_s=round(self.wall_time_s, 1))


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
        One per name in ``config.networks``, in that order.
    deterministic : DeterministicResults or None
        When ``config.deterministic``.
    dpi : DPIResults or None
        When ``config.dpi``.
    provenance : Provenance

    Notes
    -----
    ``arrays.npz`` holds ``<network>__<field>`` for every array of each network
    (``snapshots`` as float16), ``<network>__state__<parameter>`` for its final
    weights, ``deterministic__<field>`` and ``dpi__<field>``.
    """

    experiment: ClassVar[str] = "szt"
    config_type: ClassVar[type] = SZTConfig

    config: SZTConfig
    networks: dict = field(default_factory=dict)
    deterministic: DeterministicResults | None = None
    dpi: DPIResults | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name, r in self.networks.items():
            for key in NetworkResults.ARRAYS:
                value = np.asarray(getattr(r, key))
                out[f"{name}__{key}"] = value.astype(np.float16) if key == "snapshots" else value
            for key, value in r.final_state.items():
                out[f"{name}__state__{key}"] = np.asarray(value)
        if self.deterministic is not None:
            for key in DeterministicResults.ARRAYS:
                out[f"deterministic__{key}"] = np.asarray(getattr(self.deterministic, key))
        if self.dpi is not None:
            for key in DPIResults.ARRAYS:
                out[f"dpi__{key}"] = np.asarray(getattr(self.dpi, key))
        return out

    @classmethod
    def from_arrays(cls, config: SZTConfig, arrays: dict, summary: dict, provenance: Provenance):
        wall = lambda part, name: float(summary.get(part, {}).get(name, {}).get("wall_time_s", 0.0))  # noqa: E731
        networks = {}
        for name in config.networks:
            missing = [k for k in NetworkResults.ARRAYS if f"{name}__{k}" not in arrays]
            if missing:
                raise ValueError(f"stored arrays lack {name}__{missing[0]} (and {len(missing) - 1} more)")
            kw = {key: arrays[f"{name}__{key}"] for key in NetworkResults.ARRAYS}
            kw["snapshots"] = kw["snapshots"].astype(np.float32)
            prefix = f"{name}__state__"
            state = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            networks[name] = NetworkResults(config=config.network(name), final_state=state,
                                            wall_time_s=wall("networks", name), **kw)
        deterministic = None
        if config.deterministic:
            deterministic = DeterministicResults(
                config=config.network("deterministic"),
                **{key: arrays[f"deterministic__{key}"] for key in DeterministicResults.ARRAYS},
                wall_time_s=float(summary.get("deterministic", {}).get("wall_time_s", 0.0)))
        dpi = None
        if config.dpi:
            dpi = DPIResults(network="tanh", epoch=config.n_epochs, beta=config.network("tanh").beta,
                             **{key: arrays[f"dpi__{key}"] for key in DPIResults.ARRAYS})
        return cls(config=config, provenance=provenance, networks=networks, deterministic=deterministic, dpi=dpi)

    def summary(self) -> dict:
        """Per network :meth:`NetworkResults.summary`, the deterministic network's and
        the DPI check's."""
        out: dict = {"networks": {name: r.summary() for name, r in self.networks.items()}}
        if self.deterministic is not None:
            out["deterministic"] = self.deterministic.summary()
        if self.dpi is not None:
            out["dpi_realizations"] = self.dpi.summary()
        return out
