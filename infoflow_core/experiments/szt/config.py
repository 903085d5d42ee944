"""Configuration of the SZT experiments: the family's sizes per scale and the settings
of each network (Section 5.1 of the paper).

:class:`SZTConfig` is what a run, the command line and the stored results share: the
scale's sizes (epochs, measured epochs, SP estimator sizes, histogram bins, DPI
realizations), which networks to run, the noise levels and the seed.
:meth:`SZTConfig.network` turns it into the :class:`NetworkConfig` of one network
(activation, β, α, epochs to measure...), which training and measuring take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..._validation import check_beta, check_positive, check_positive_int
from .._common import ExperimentConfig, log_epochs

__all__ = ["NETWORKS", "NETWORK_ACTIVATIONS", "DETERMINISTIC_BIN_SIZES", "QUICK_SEED", "NetworkConfig",
           "SZTConfig", "snapshot_subset"]

#: The noisy networks of Section 5.1, in the order the chapters show them.
NETWORKS = ("tanh", "orthonormal", "linear", "relu")

#: Hidden activation of each network (``"deterministic"``: Fig. 1's network, β = 0).
NETWORK_ACTIVATIONS = {"tanh": "tanh", "orthonormal": "tanh", "linear": "linear", "relu": "relu",
                       "deterministic": "tanh"}

#: Bin sizes of Fig. 1 (deterministic network, tanh units in [−1, 1]).
DETERMINISTIC_BIN_SIZES = (0.5, 0.1, 0.01, 0.001, 0.0001)

#: Seed of the quick scale: the one the chapters used to draw from a generator seeded
#: 2019 (``int(torch.randint(0, 2**31 - 1, (1,), generator=torch.Generator().manual_seed(2019)))``).
#: The stored book run used seed 0, the default.
QUICK_SEED = 1_781_244_421


def snapshot_subset(epochs, k: int) -> tuple[int, ...]:
    """About ``k`` of ``epochs``, evenly spread over their positions (first and last kept).

    >>> snapshot_subset((1, 2, 4, 8, 15, 30, 60, 119), 3)
    (1, 15, 119)
    """
    epochs = list(epochs)
    if k >= len(epochs):
        return tuple(epochs)
    pos = np.unique(np.round(np.linspace(0, len(epochs) - 1, k)).astype(int))
    return tuple(epochs[i] for i in pos)


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that defines the training and measuring of one SZT network.

    Built by :meth:`SZTConfig.network`; not stored on its own (the family's
    :class:`SZTConfig` is).

    Attributes
    ----------
    name : str
        ``"tanh"``, ``"orthonormal"``, ``"linear"``, ``"relu"`` or ``"deterministic"``.
    activation : {"tanh", "relu", "linear"}
    beta : float
        Noise standard deviation β (0: the deterministic network).
    alpha : float
        Orthonormality (Parseval) step size α, 0 for none.
    n_epochs, batch_size, lr : int, int, float
        Training: Adam, full passes over the 3277 training inputs.
    epochs : tuple of int
        Epochs after which everything is measured.
    n_x, n_mc, n_mc_given_x : int
        SP estimator sizes: realizations per input, Monte Carlo samples for h(T_ℓ)
        (at most, with ``target_stderr``) and for each h(T_ℓ | X = x).
    target_stderr : float
        When > 0, I(X; T_ℓ) and I(T_ℓ; Y) jointly from just enough samples, at most
        ``n_mc``, for about this standard error (nats;
        :func:`~.measure.estimate_information_jointly`); 0: each entropy from ``n_mc``.
    bin_factor : float
        H(Bin(T_ℓ)) of a noisy network uses bins of ``bin_factor · β``.
    bin_sizes : tuple of float
        Bin sizes of the deterministic network (Fig. 1); empty for noisy ones.
    histograms : bool
        Record pairwise-distance histograms (Fig. 6) at the snapshot epochs.
    hist_bins : int
        Bins of those histograms, log-spaced over ``[hist_min, 2√d_ℓ]``.
    hist_min : float
        Lower edge of the histograms (distances in nats-free units of T_ℓ).
    snapshot_epochs : tuple of int
        Epochs at which the last hidden layer is stored for the scatter plots (and,
        when ``histograms``, the distance histograms); empty: none stored.
    seed : int
        Seed of the initial weights, batches and all noise of this run.
    data_seed : int
        Seed of the train/test split (the family's ``seed``: every seed of a network
        trains on the same split).
    """

    name: str
    activation: str
    beta: float
    alpha: float
    n_epochs: int
    batch_size: int
    lr: float
    epochs: tuple
    n_x: int
    n_mc: int
    n_mc_given_x: int
    target_stderr: float
    bin_factor: float
    bin_sizes: tuple
    histograms: bool
    hist_bins: int
    hist_min: float
    snapshot_epochs: tuple
    seed: int
    data_seed: int = 0


@dataclass(frozen=True, kw_only=True)
class SZTConfig(ExperimentConfig):
    """The SZT experiments of Section 5.1 at one scale (defaults: the ``book`` scale).

    Attributes
    ----------
    networks : tuple of str
        Noisy networks to train and measure, a subset of :data:`NETWORKS`.
    deterministic : bool
        Also train Fig. 1's deterministic network (β = 0) and bin it.
    dpi : bool
        Also re-estimate the final ``"tanh"`` network with each of ``dpi_n_x``
        realizations per input (the data-processing check and the realization-bias
        check).
    dpi_epochs : int
        Epochs of the first seed's ``"tanh"`` run re-estimated so: 1 is the last epoch;
        2 adds the most clustered one (the smallest I(X; T_L)); 3 or more add the
        first measured epoch and then evenly spread others.
    n_seeds : int
        Seeds per network (and for the deterministic network); seed k uses
        ``seed + 1000·k`` (:attr:`seeds`) for its weights, batches and noise, the data
        split stays that of ``seed``. Snapshots and histograms are kept for the first.
    histograms : tuple of str
        Networks whose Fig. 6 pairwise-distance histograms are recorded.
    n_epochs : int
        Training epochs; information is measured on ``log_epochs(n_epochs − 1, n_points)``
        (paper: 10⁴ epochs, 100 points, 84 distinct epochs).
    n_points, det_points : int
        Points of the log-spaced grid for the noisy and the deterministic networks.
    n_snapshots : int
        About this many of the measured epochs keep the last hidden layer and histograms.
    batch_size, lr : int, float
        Adam's mini-batch size and learning rate.
    n_x : int
        Noise realizations per input of the SP estimator (paper: 1000; full: 1000. Measured
        with the joint estimator on the stored tanh network, n_x = 300 reads 0.00-0.02 nats
        above n_x = 1000 in every layer at epochs 1, 97 and 4000, within about two combined
        standard errors: ``benchmarks/results/szt_epoch_cpu_book-e*-nx{300,1000}-joint.md``).
    n_mc, n_mc_given_x : int
        Monte Carlo samples for h(T_ℓ) and for each h(T_ℓ | X = x); each
        h(T_ℓ | Y = y) of I(T_ℓ; Y) takes as many as h(T_ℓ).
    target_stderr : float
        When > 0 (the full preset), I(X; T_ℓ) and I(T_ℓ; Y) are integrated jointly from
        one set of samples per layer, just enough of them, at most ``n_mc``, for about
        this standard error (nats; :func:`~.measure.estimate_information_jointly`); 0:
        each entropy of equation (1) from its own ``n_mc`` samples (quick, book).
    dpi_n_x : tuple of int
        Realizations per input tried in the DPI check.
    beta : float
        Noise standard deviation of the tanh, orthonormal and ReLU networks (paper: 0.005).
    beta_linear : float
        Noise standard deviation of the linear network (paper: 0.01).
    alpha : float
        Orthonormality step size of the ``"orthonormal"`` network (the paper gives none).
    bin_factor : float
        Noisy networks' H(Bin(T_ℓ)) uses bins of ``bin_factor · β`` (paper: 10).
    bin_sizes : tuple of float
        Bin sizes of the deterministic network (Fig. 1).
    hist_bins : int
        Bins of the pairwise-distance histograms.
    hist_min : float
        Lower edge of those histograms (a fifth of β = 0.005).
    seed : int
        Seeds the split, the initial weights, the batches and all noise (book: 0, the
        stored run's; quick: :data:`QUICK_SEED`).

    Examples
    --------
    >>> c = SZTConfig.for_scale("full")
    >>> len(c.epochs), c.epochs[-1], c.n_x, c.network("linear").beta, c.seeds
    (84, 9999, 1000, 0.01, (0, 1000, 2000))
    >>> SZTConfig.for_scale("quick").epochs
    (1, 2, 4, 8, 15, 30, 60, 119)
    """

    PRESETS: ClassVar[dict] = {
        "quick": dict(n_epochs=120, n_points=8, n_x=3, n_mc=512, n_mc_given_x=16, n_snapshots=2,
                      dpi_n_x=(1, 2, 4, 8), dpi_epochs=1, hist_bins=40, det_points=8, seed=QUICK_SEED),
        "book": {},
        "full": dict(n_epochs=10_000, n_points=100, n_x=1000, n_mc=32_768, target_stderr=0.008, n_mc_given_x=256,
                     n_snapshots=10,
                     dpi_n_x=(1, 3, 10, 30, 100, 300, 1000), hist_bins=60, det_points=100,
                     n_seeds=3),
    }

    # what runs
    networks: tuple = NETWORKS
    deterministic: bool = True
    dpi: bool = True
    dpi_epochs: int = 3
    n_seeds: int = 1
    histograms: tuple = ("tanh", "orthonormal")
    # training and the epoch grids
    n_epochs: int = 4000
    n_points: int = 30
    det_points: int = 40
    n_snapshots: int = 8
    """Snapshots and histograms at about this many measured epochs."""
    batch_size: int = 256
    lr: float = 4e-4
    # the SP estimator
    n_x: int = 10
    n_mc: int = 4096
    n_mc_given_x: int = 32
    target_stderr: float = 0.0
    dpi_n_x: tuple = (1, 2, 5, 10, 20, 50, 100)
    # the networks' noise and regularization
    beta: float = 0.005
    beta_linear: float = 0.01
    alpha: float = 1e-3
    # binning and histograms
    bin_factor: float = 10.0
    bin_sizes: tuple = DETERMINISTIC_BIN_SIZES
    hist_bins: int = 50
    hist_min: float = 1e-3

    def validate(self) -> None:
        for name in ("networks", "histograms"):
            unknown = [n for n in getattr(self, name) if n not in NETWORKS]
            if unknown:
                raise ValueError(f"{name} must be a subset of {NETWORKS}, got unknown {unknown}")
        if not self.networks and not self.deterministic:
            raise ValueError("networks must name at least one network (or deterministic must be True)")
        if self.dpi and "tanh" not in self.networks:
            raise ValueError("dpi=True re-estimates the 'tanh' network: networks must include 'tanh'")
        check_positive_int(self.n_epochs, "n_epochs", minimum=2)
        for name in ("n_points", "det_points", "n_snapshots", "batch_size", "n_x", "dpi_epochs", "n_seeds"):
            check_positive_int(getattr(self, name), name)
        for name in ("n_mc", "n_mc_given_x"):
            check_positive_int(getattr(self, name), name, minimum=2)
        check_positive_int(self.hist_bins, "hist_bins")
        for n_x in self.dpi_n_x:
            check_positive_int(n_x, "dpi_n_x")
        for name in ("lr", "bin_factor", "hist_min"):
            check_positive(getattr(self, name), name)
        check_positive(self.target_stderr, "target_stderr", allow_zero=True)
        check_beta(self.beta, "beta")
        check_beta(self.beta_linear, "beta_linear")
        check_positive(self.alpha, "alpha", allow_zero=True)
        if self.deterministic and not self.bin_sizes:
            raise ValueError("bin_sizes must list at least one bin size when deterministic=True")
        for size in self.bin_sizes:
            check_positive(size, "bin_sizes")

    # ------------------------------------------------------------ derived grids
    @property
    def epochs(self) -> tuple[int, ...]:
        """Measured epochs of the noisy networks, ``log_epochs(n_epochs − 1, n_points)``."""
        return log_epochs(self.n_epochs - 1, self.n_points)

    @property
    def det_epochs(self) -> tuple[int, ...]:
        """Measured epochs of the deterministic network, ``log_epochs(n_epochs − 1, det_points)``."""
        return log_epochs(self.n_epochs - 1, self.det_points)

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seed of each of the ``n_seeds`` runs of a network: ``seed + 1000·k``."""
        return tuple(self.seed + 1000 * k for k in range(self.n_seeds))

    @property
    def snapshot_epochs(self) -> tuple[int, ...]:
        """About ``n_snapshots`` of :attr:`epochs`, first and last included."""
        return snapshot_subset(self.epochs, self.n_snapshots)

    def network(self, name: str, seed_index: int = 0) -> NetworkConfig:
        """The settings of network ``name`` (a key of :data:`NETWORK_ACTIVATIONS`) in
        its ``seed_index``-th run (seed ``seeds[seed_index]``; only the first keeps
        snapshots and histograms).

        ``"tanh"``: tanh, β = ``beta``, Fig. 5(a); ``"orthonormal"``: the same with the
        orthonormality step α = ``alpha``, Fig. 5(b); ``"linear"``: β = ``beta_linear``,
        Fig. 5(c); ``"relu"``: β = ``beta`` (in the text); ``"deterministic"``: tanh,
        β = 0, binned at ``bin_sizes`` on its own epoch grid, Fig. 1.

        >>> n = SZTConfig.for_scale("book").network("orthonormal")
        >>> n.activation, n.beta, n.alpha, n.histograms
        ('tanh', 0.005, 0.001, True)
        """
        if name not in NETWORK_ACTIVATIONS:
            raise ValueError(f"network must be one of {sorted(NETWORK_ACTIVATIONS)}, got {name!r}")
        if isinstance(seed_index, bool) or not isinstance(seed_index, int) or not 0 <= seed_index < self.n_seeds:
            raise ValueError(f"seed_index must be an integer in [0, {self.n_seeds}), got {seed_index!r}")
        deterministic = name == "deterministic"
        first = seed_index == 0
        return NetworkConfig(
            name=name, activation=NETWORK_ACTIVATIONS[name],
            beta=0.0 if deterministic else (self.beta_linear if name == "linear" else self.beta),
            alpha=self.alpha if name == "orthonormal" else 0.0,
            n_epochs=self.n_epochs, batch_size=self.batch_size, lr=self.lr,
            epochs=self.det_epochs if deterministic else self.epochs,
            n_x=self.n_x, n_mc=self.n_mc, n_mc_given_x=self.n_mc_given_x, target_stderr=self.target_stderr,
            bin_factor=self.bin_factor,
            bin_sizes=self.bin_sizes if deterministic else (), histograms=first and name in self.histograms,
            hist_bins=self.hist_bins, hist_min=self.hist_min, snapshot_epochs=self.snapshot_epochs if first else (),
            seed=self.seeds[seed_index], data_seed=self.seed)
