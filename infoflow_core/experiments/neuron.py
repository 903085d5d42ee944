"""A single noisy tanh neuron (Section 4, Fig. 4 of the paper) and the two-neuron
leaky-ReLU chain that the paper's extended version mentions.

The neuron is ``T(k) = tanh(w_k X + b_k) + Z`` with ``X`` uniform on
``{-3, -1, 1, 3}`` (labels ``-1, -1, -1, 1``) and ``Z ~ N(0, β²)``. Because ``S(k) =
tanh(w_k X + b_k)`` is a deterministic function of ``X``, ``T(k)`` is a Gaussian mixture
with four equally weighted components of width ``β`` and

    I(X; T(k)) = h(T(k)) - h(Z),    h(Z) = ½ ln(2πeβ²),

which 1-D quadrature gives exactly (:func:`infoflow_core.entropy.gm_entropy_1d`).

Training (chapter ``book/02_noisy_neuron.ipynb``). The paper trains with mean squared
error and plain gradient descent, learning rate 0.01, from ``w = b = 0``. We take the
gradient of the *noiseless* loss ``L(w, b) = ¼ Σ_i (tanh(w x_i + b) - y_i)²``: the
noise is added after the tanh, so the noisy loss has the same gradient in expectation
(its mean differs from ``L`` by the constant ``β²``), and at ``β = 0.01`` the difference
in any single step is negligible. Two parameters and four points: the loop runs in
plain Python floats (float64), about one microsecond per epoch, so 10⁶ epochs take
about a second.

The experiment (:func:`run_neuron`, configuration :class:`NeuronConfig`, results
:class:`NeuronResults`) trains both networks and measures their information along
training; ``python -m infoflow_core neuron`` runs it from the command line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from .._validation import check_beta, check_positive, check_positive_int
from ..entropy import gaussian_entropy, gm_density, gm_entropy_1d
from ..mutual_information import sp_mutual_information
from ..noise import GaussianNoise, sample_representations
from ..results import ExperimentResults, Provenance, load_or_run
from ._common import Experiment, ExperimentConfig, log_epochs, progress_iter, resolve_device

__all__ = [
    "NEURON_INPUTS",
    "NEURON_LABELS",
    "NeuronConfig",
    "NeuronTrajectory",
    "NeuronResults",
    "leaky_relu",
    "tanh_neuron_loss_and_gradient",
    "train_tanh_neuron",
    "leaky_chain_loss_and_gradient",
    "train_leaky_chain",
    "mixture_information",
    "falling_epochs",
    "run_neuron",
    "neuron_results",
    "EXPERIMENT",
]

#: The input alphabet of Section 4 (uniform).
NEURON_INPUTS = (-3.0, -1.0, 1.0, 3.0)
#: Their labels: ``{-3, -1, 1}`` is class -1, ``{3}`` is class 1.
NEURON_LABELS = (-1.0, -1.0, -1.0, 1.0)

_BETAS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


# --------------------------------------------------------------------------- configuration

def _points_per_decade(n_epochs: int, per_decade: int) -> int:
    """Points of :func:`~infoflow_core.experiments.log_epochs` over ``[1, n_epochs]``
    that give ``per_decade`` of them per decade: ``floor(per_decade·log10 n_epochs) + 1``
    (for ``n_epochs`` a power of 10 the grid is ``round(10^(j / per_decade))``)."""
    return math.floor(per_decade * math.log10(n_epochs) + 1e-9) + 1


@dataclass(frozen=True, kw_only=True)
class NeuronConfig(ExperimentConfig):
    """Everything that defines a run of :func:`run_neuron`.

    Every scale trains the neuron for 10⁶ epochs and the chain for 10⁵ (a few seconds
    of CPU); they differ in how densely epochs are recorded, at which β the SP
    estimator runs and with how many Monte Carlo samples.

    Attributes
    ----------
    seed : int
        Seed of the one generator of the SP estimator's noise and Monte Carlo
        samples (the neuron first, then the chain, from the same generator).
    n_epochs : int
        Gradient-descent epochs of the tanh neuron.
    lr : float
        Learning rate of both networks (the paper: 0.01).
    betas : tuple of float
        Noise levels β of the exact ``I(X; T(k))`` and of the densities.
    per_decade : int
        Recorded epochs per decade (:meth:`record_epochs`).
    density_points : int
        Points of the grid of ``t`` on which densities are tabulated.
    sp_betas : tuple of float
        The β (among ``betas``) at which the SP estimator also runs.
    sp_every : int
        The SP estimator runs at every ``sp_every``-th recorded epoch.
    n_mc : int
        Monte Carlo samples of each SP estimate.
    chain_epochs, chain_per_decade : int
        Epochs and recorded epochs per decade of the leaky-ReLU chain.
    chain_betas : tuple of float
        Noise levels of the chain.
    chain_quantiles : int
        Normal quantiles of ``Z1`` that represent the law of ``S2`` given ``X``.
    chain_sp_n_x, chain_sp_every : int
        Noise draws per input and recorded-epoch stride of the chain's SP estimates.
    chain_slope : float
        Slope of the leaky ReLU for negative inputs.

    Examples
    --------
    >>> c = NeuronConfig.for_scale("quick")
    >>> c.n_epochs, c.per_decade, c.sp_betas, len(c.record_epochs())
    (1000000, 20, (0.01,), 111)
    """

    PRESETS: ClassVar[dict] = {
        "quick": dict(per_decade=20, sp_betas=(0.01,), sp_every=3, n_mc=1000, chain_per_decade=8,
                      chain_quantiles=32, chain_sp_n_x=50, chain_sp_every=3),
        "book": {},
        "full": dict(sp_betas=_BETAS, sp_every=1, n_mc=20000, chain_sp_n_x=1000, chain_sp_every=1),
    }

    seed: int = 2019
    n_epochs: int = 1_000_000
    lr: float = 0.01
    betas: tuple = _BETAS
    per_decade: int = 40
    density_points: int = 401
    sp_betas: tuple = (0.01, 0.1, 0.5)
    sp_every: int = 2
    n_mc: int = 4000
    chain_epochs: int = 100_000
    chain_betas: tuple = (0.01, 0.05, 0.1, 0.3)
    chain_per_decade: int = 20
    chain_quantiles: int = 64
    chain_sp_n_x: int = 200
    chain_sp_every: int = 2
    chain_slope: float = 0.1

    def validate(self) -> None:
        for name in ("n_epochs", "per_decade", "sp_every", "n_mc", "chain_epochs", "chain_per_decade",
                     "chain_quantiles", "chain_sp_n_x", "chain_sp_every"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.density_points, "density_points", minimum=2)
        check_positive(self.lr, "lr")
        for name in ("betas", "sp_betas", "chain_betas"):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"{name} must hold at least one β, got {values!r}")
            for beta in values:
                check_beta(beta, name)
        missing = [b for b in self.sp_betas if not any(math.isclose(b, a, rel_tol=1e-9) for a in self.betas)]
        if missing:
            raise ValueError(f"sp_betas must be among betas {self.betas}, got {missing}")
        if not 0 < self.chain_slope <= 1:
            raise ValueError(f"chain_slope must lie in (0, 1], got {self.chain_slope!r}")

    def record_epochs(self) -> tuple[int, ...]:
        """The neuron's recorded epochs: 0 and ``round(10^(j / per_decade))`` up to
        ``n_epochs``, i.e. ``log_epochs(n_epochs, floor(per_decade·log10 n_epochs) + 1,
        include_zero=True)``.

        >>> NeuronConfig.for_scale("book", n_epochs=100, per_decade=2).record_epochs()
        (0, 1, 3, 10, 32, 100)
        """
        return log_epochs(self.n_epochs, _points_per_decade(self.n_epochs, self.per_decade), include_zero=True)

    def chain_record_epochs(self) -> tuple[int, ...]:
        """The chain's recorded epochs (as :meth:`record_epochs`, with ``chain_*``)."""
        return log_epochs(self.chain_epochs, _points_per_decade(self.chain_epochs, self.chain_per_decade),
                          include_zero=True)


def _check_record_epochs(record_epochs, n_epochs: int) -> np.ndarray:
    if record_epochs is None:  # 20 per decade
        return np.asarray(log_epochs(n_epochs, _points_per_decade(n_epochs, 20), include_zero=True))
    ks = np.asarray(record_epochs, dtype=np.int64).reshape(-1)
    if ks.size == 0 or ks.min() < 0 or ks.max() > n_epochs or np.any(np.diff(ks) <= 0):
        raise ValueError("record_epochs must be a non-empty strictly increasing sequence of "
                         f"integers in [0, n_epochs={n_epochs}]")
    return ks


# --------------------------------------------------------------------------- single tanh neuron

def tanh_neuron_loss_and_gradient(w: float, b: float, x=NEURON_INPUTS, y=NEURON_LABELS):
    """Mean squared error of ``tanh(w x + b)`` against ``y`` and its gradient.

    ``L = (1/n) Σ_i (s_i − y_i)²`` with ``s_i = tanh(w x_i + b)``;
    ``∂L/∂w = (2/n) Σ_i (s_i − y_i)(1 − s_i²) x_i`` and
    ``∂L/∂b = (2/n) Σ_i (s_i − y_i)(1 − s_i²)``. Float64 NumPy. (The training loop of
    :func:`train_tanh_neuron` computes the same sums in scalar Python, inlined for
    speed; the tests hold both to autograd.)

    Returns
    -------
    (loss, dL/dw, dL/db) : tuple of float

    Examples
    --------
    >>> [round(v, 6) for v in tanh_neuron_loss_and_gradient(0.0, 0.0)]
    [1.0, -3.0, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)  # (n,)
    y = np.asarray(y, dtype=np.float64)  # (n,)
    s = np.tanh(w * x + b)  # (n,)
    r = s - y  # (n,)
    e = r * (1.0 - s * s)  # (n,) dL/du_i · n/2
    return float(np.mean(r * r)), float(2.0 * np.mean(e * x)), float(2.0 * np.mean(e))


@dataclass
class NeuronTrajectory:
    """Parameters of a trained network at recorded epochs.

    Attributes
    ----------
    epochs : ndarray of int, shape (K,)
        Recorded epochs (0 = initialization).
    params : ndarray of float64, shape (K, P)
        Parameters after each recorded epoch: ``(w, b)`` for the tanh neuron,
        ``(w1, b1, w2, b2)`` for the leaky-ReLU chain.
    loss : ndarray of float64, shape (K,)
        Training loss (noiseless MSE) at each recorded epoch.
    lr : float
        Learning rate.
    """

    epochs: np.ndarray
    params: np.ndarray
    loss: np.ndarray
    lr: float

    @property
    def w(self) -> np.ndarray:
        """Input weight at each recorded epoch, shape (K,)."""
        return self.params[:, 0]

    @property
    def b(self) -> np.ndarray:
        """Input bias at each recorded epoch, shape (K,)."""
        return self.params[:, 1]


def train_tanh_neuron(n_epochs: int, *, lr: float = 0.01, w0: float = 0.0, b0: float = 0.0,
                      record_epochs=None) -> NeuronTrajectory:
    """Full-batch gradient descent on the Section 4 neuron (noiseless MSE, float64).

    Parameters
    ----------
    n_epochs : int
        Number of gradient steps (one epoch = one step on all four points).
    lr : float
        Learning rate (the paper: 0.01).
    w0, b0 : float
        Initial weight and bias (the paper: 0, 0).
    record_epochs : sequence of int, optional
        Epochs to record, increasing, within ``[0, n_epochs]``; default 0 and 20
        log-spaced epochs per decade up to ``n_epochs``.

    Returns
    -------
    NeuronTrajectory
        With ``params[:, 0] = w`` and ``params[:, 1] = b``.

    Examples
    --------
    >>> tr = train_tanh_neuron(1000, record_epochs=[0, 1, 1000])
    >>> tr.params[1].round(4).tolist()
    [0.03, -0.01]
    """
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    lr = check_positive(lr, "lr")
    ks = _check_record_epochs(record_epochs, n_epochs)
    out = np.empty((len(ks), 2))
    loss = np.empty(len(ks))
    x, y = NEURON_INPUTS, NEURON_LABELS
    w, b = float(w0), float(b0)
    rec = ks.tolist()  # python ints: cheaper to compare in the loop
    j = 0
    for k in range(n_epochs + 1):
        # The sums of tanh_neuron_loss_and_gradient in scalar floats, inlined: a function
        # call (or NumPy on four numbers) per step would double or triple the time.
        gw = gb = l_k = 0.0
        for xi, yi in zip(x, y):
            s = math.tanh(w * xi + b)
            r = s - yi
            l_k += r * r
            e = r * (1.0 - s * s)
            gw += e * xi
            gb += e
        if j < len(rec) and k == rec[j]:
            out[j] = (w, b)
            loss[j] = l_k / 4.0
            j += 1
        if k == n_epochs:
            break
        w -= lr * 0.5 * gw  # dL/dw = (2/4) Σ e_i x_i
        b -= lr * 0.5 * gb
    return NeuronTrajectory(epochs=ks, params=out, loss=loss, lr=lr)


# --------------------------------------------------------------------------- leaky-ReLU chain

def leaky_relu(u, slope: float = 0.1):
    """``σ(u) = u`` for ``u > 0`` and ``slope·u`` otherwise.

    A Python float gives a float (cheap, for the training loop); anything else is
    treated as an array and gives an ndarray of the same shape.

    >>> leaky_relu(-2.0), leaky_relu(np.array([-1.0, 3.0])).tolist()
    (-0.2, [-0.1, 3.0])
    """
    if isinstance(u, float):
        return u if u > 0 else slope * u
    u = np.asarray(u, dtype=np.float64)
    return np.where(u > 0, u, slope * u)


def leaky_chain_loss_and_gradient(params, *, slope: float = 0.1, x=NEURON_INPUTS, y=NEURON_LABELS):
    """MSE and gradient of the two-neuron chain ``σ(w2 σ(w1 x + b1) + b2)``, σ = leaky ReLU.

    ``σ(u) = u`` for ``u > 0`` and ``slope·u`` otherwise (derivative ``slope`` at 0,
    as in torch). ``params = (w1, b1, w2, b2)``; the loss is ``(1/n) Σ (S2_i − y_i)²``
    on the noiseless output.

    Returns
    -------
    (loss, gradient) : (float, tuple of 4 floats)

    Examples
    --------
    >>> loss, grad = leaky_chain_loss_and_gradient((0.0, 4.5, -1.0, 0.0))
    >>> round(loss, 6), [round(g, 6) for g in grad]
    (0.7525, [0.3, -0.01, 0.045, 0.01])
    """
    w1, b1, w2, b2 = (float(p) for p in params)
    n = len(x)
    loss = g1 = g2 = g3 = g4 = 0.0
    for xi, yi in zip(x, y):
        u1 = w1 * xi + b1
        h = leaky_relu(u1, slope)
        u2 = w2 * h + b2
        r = leaky_relu(u2, slope) - yi
        loss += r * r
        e2 = 2.0 * r / n * (1.0 if u2 > 0 else slope)  # dL/du2
        g3 += e2 * h
        g4 += e2
        e1 = e2 * w2 * (1.0 if u1 > 0 else slope)  # dL/du1
        g1 += e1 * xi
        g2 += e1
    return loss / n, (g1, g2, g3, g4)


def train_leaky_chain(n_epochs: int, *, lr: float = 0.01, slope: float = 0.1,
                      init=(0.0, 4.5, -1.0, 0.0), record_epochs=None) -> NeuronTrajectory:
    """Gradient descent on the two-neuron leaky-ReLU chain (noiseless MSE, float64).

    ``T1 = σ(w1 X + b1) + Z1``, ``T2 = σ(w2 T1 + b2) + Z2``; the initialization
    ``(w1, b1, w2, b2) = (0, 4.5, −1, 0)`` and the slope 0.1 are those of a public script
    by the paper's authors. Returns ``params`` of shape (K, 4).

    Examples
    --------
    >>> train_leaky_chain(10, record_epochs=[0, 10]).params.shape
    (2, 4)
    """
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    lr = check_positive(lr, "lr")
    ks = _check_record_epochs(record_epochs, n_epochs)
    p = [float(v) for v in init]
    if len(p) != 4:
        raise ValueError(f"init must hold 4 numbers (w1, b1, w2, b2), got {len(p)}")
    out = np.empty((len(ks), 4))
    loss = np.empty(len(ks))
    rec = ks.tolist()
    j = 0
    for k in range(n_epochs + 1):
        l_k, g = leaky_chain_loss_and_gradient(p, slope=slope)
        if j < len(rec) and k == rec[j]:
            out[j] = p
            loss[j] = l_k
            j += 1
        if k == n_epochs:
            break
        p = [pi - lr * gi for pi, gi in zip(p, g)]
    return NeuronTrajectory(epochs=ks, params=out, loss=loss, lr=lr)


# --------------------------------------------------------------------------- information

def mixture_information(centers, beta: float) -> float:
    """``I(X; S + Z)`` in nats when ``S`` given ``X = x_i`` is spread over equally
    weighted points ``centers[i, :]`` (1-D), ``Z ~ N(0, β²)``, ``X`` uniform on the rows:

        I = h(T) − (1/n) Σ_i h(T | X = x_i),

    each entropy a 1-D Gaussian-mixture entropy by quadrature
    (:func:`~infoflow_core.entropy.gm_entropy_1d`). With one column the conditional
    entropy is exactly ``h(Z) = ½ ln(2πeβ²)``.

    Parameters
    ----------
    centers : array or Tensor, shape (n,) or (n, m)
        ``n`` inputs, ``m`` equally weighted (e.g. quantile) values of ``S`` per input.
    beta : float
        Noise standard deviation.

    Examples
    --------
    >>> round(mixture_information([-1.0, 1.0], 0.01), 6)  # two resolvable points: ln 2
    0.693147
    """
    beta = check_beta(beta)
    c = torch.as_tensor(np.asarray(centers, dtype=np.float64))
    if c.dim() == 1:
        c = c[:, None]  # (n, 1)
    if c.dim() != 2 or c.numel() == 0:
        raise ValueError(f"centers must have shape (n,) or (n, m), got {tuple(c.shape)}")
    h_t = gm_entropy_1d(c.reshape(-1), beta)  # mixture of all n·m points
    if c.shape[1] == 1:
        h_cond = gaussian_entropy(1, beta)
    else:
        h_cond = float(np.mean([gm_entropy_1d(row, beta) for row in c]))
    return h_t - h_cond


def falling_epochs(epochs, info, *, min_rate: float = 0.05) -> np.ndarray:
    """Epochs where ``I`` falls fastest: local minima of ``dI/d log10 k`` below
    ``-min_rate`` nats per decade (the paper's "dips"). ``epochs`` > 0 only.

    Returns the epochs, shape (m,), in increasing order.

    Examples
    --------
    >>> k = np.array([1, 10, 100, 1000, 10000])
    >>> falling_epochs(k, np.array([1.0, 1.0, 0.5, 0.45, 0.45])).tolist()
    [32]
    """
    k = np.asarray(epochs, dtype=np.float64)
    i = np.asarray(info, dtype=np.float64)
    keep = k > 0
    k, i = k[keep], i[keep]
    if len(k) < 3:
        return np.array([], dtype=np.int64)
    lk = np.log10(k)
    rate = np.diff(i) / np.diff(lk)  # (K-1,) slope between neighbours
    mid = 10 ** (0.5 * (lk[1:] + lk[:-1]))
    idx = [j for j in range(len(rate))
           if rate[j] < -min_rate
           and (j == 0 or rate[j] <= rate[j - 1])
           and (j == len(rate) - 1 or rate[j] < rate[j + 1])]
    return np.round(mid[idx]).astype(np.int64)


# --------------------------------------------------------------------------- the experiment

@dataclass(kw_only=True)
class NeuronResults(ExperimentResults):
    """Everything the chapter ``02_noisy_neuron`` draws: Fig. 4 for the tanh neuron,
    and the two-neuron leaky-ReLU chain.

    Attributes
    ----------
    config : NeuronConfig
    epochs : ndarray of int, shape (K,)
        The neuron's recorded epochs (:meth:`NeuronConfig.record_epochs`).
    params : ndarray, shape (K, 2)
        ``(w_k, b_k)`` at each recorded epoch.
    loss : ndarray, shape (K,)
        Noiseless MSE at each recorded epoch.
    betas : ndarray, shape (B,)
        Noise levels.
    mi : ndarray, shape (B, K)
        Exact ``I(X; T(k))`` in nats (quadrature).
    grid : ndarray, shape (G,)
        Values of ``t`` where densities are tabulated.
    density : ndarray of float32, shape (B, K, G)
        ``p_{T(k)}(t)`` for every β and recorded epoch (for figures).
    sp_betas : ndarray, shape (Bs,)
        The β at which the SP estimator also ran.
    sp_index : ndarray of int, shape (Ks,)
        Indices into ``epochs`` where it ran.
    sp_mi, sp_stderr : ndarray, shape (Bs, Ks)
        SP estimates of ``I(X; T(k))`` and their Monte Carlo standard errors (nats).
    chain_epochs : ndarray of int, shape (C,)
        The chain's recorded epochs.
    chain_params : ndarray, shape (C, 4)
        ``(w1, b1, w2, b2)`` at each of them.
    chain_loss : ndarray, shape (C,)
    chain_betas : ndarray, shape (Bc,)
    chain_mi_t1 : ndarray, shape (Bc, C)
        ``I(X; T1)``, exact (four-component mixture, quadrature).
    chain_mi_t2 : ndarray, shape (Bc, C)
        ``I(X; T2)`` with ``T2 = σ(w2 T1 + b2) + Z2``: the law of ``S2`` given ``X`` is
        represented by ``chain_quantiles`` equally weighted normal quantiles of ``Z1``
        (deterministic), then quadrature; 32 quantiles differ from 512 by less than
        10⁻³ nats along the default run (β = 0.01 and 0.3).
    chain_sp_index : ndarray of int, shape (Cs,)
    chain_sp_mi_t2, chain_sp_stderr_t2 : ndarray, shape (Bc, Cs)
        The SP estimator of ``I(X; T2)`` (random noise draws per input), for comparison.
    provenance : Provenance
    """

    experiment: ClassVar[str] = "neuron"
    config_type: ClassVar[type] = NeuronConfig
    ARRAYS: ClassVar[tuple[str, ...]] = (
        "epochs", "params", "loss", "betas", "mi", "grid", "density", "sp_betas", "sp_index", "sp_mi", "sp_stderr",
        "chain_epochs", "chain_params", "chain_loss", "chain_betas", "chain_mi_t1", "chain_mi_t2", "chain_sp_index",
        "chain_sp_mi_t2", "chain_sp_stderr_t2")

    epochs: np.ndarray
    params: np.ndarray
    loss: np.ndarray
    betas: np.ndarray
    mi: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sp_betas: np.ndarray
    sp_index: np.ndarray
    sp_mi: np.ndarray
    sp_stderr: np.ndarray
    chain_epochs: np.ndarray
    chain_params: np.ndarray
    chain_loss: np.ndarray
    chain_betas: np.ndarray
    chain_mi_t1: np.ndarray
    chain_mi_t2: np.ndarray
    chain_sp_index: np.ndarray
    chain_sp_mi_t2: np.ndarray
    chain_sp_stderr_t2: np.ndarray

    @property
    def trajectory(self) -> NeuronTrajectory:
        """The neuron's ``(w, b)`` along training."""
        return NeuronTrajectory(self.epochs, self.params, self.loss, self.config.lr)

    @property
    def chain_trajectory(self) -> NeuronTrajectory:
        """The chain's ``(w1, b1, w2, b2)`` along training."""
        return NeuronTrajectory(self.chain_epochs, self.chain_params, self.chain_loss, self.config.lr)

    @property
    def representations(self) -> np.ndarray:
        """``S(k) = tanh(w_k x + b_k)``, shape (K, 4) (columns follow ``NEURON_INPUTS``)."""
        x = np.asarray(NEURON_INPUTS)
        return np.tanh(self.params[:, :1] * x[None, :] + self.params[:, 1:2])  # (K, 4)

    def chain_representations(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``S1`` and noiseless ``σ(w2 S1 + b2)`` at the chain's recorded epoch ``index``,
        each of shape (4,)."""
        w1, b1, w2, b2 = self.chain_params[index]
        s1 = leaky_relu(w1 * np.asarray(NEURON_INPUTS) + b1, self.config.chain_slope)  # (4,)
        return s1, leaky_relu(w2 * s1 + b2, self.config.chain_slope)

    def beta_index(self, beta: float) -> int:
        """Index of ``beta`` in ``betas`` (``ValueError`` when it is not there)."""
        j = int(np.argmin(np.abs(self.betas - beta)))
        if not math.isclose(self.betas[j], beta, rel_tol=1e-9):
            raise ValueError(f"beta={beta} is not among the precomputed betas {self.betas.tolist()}")
        return j

    def summary(self) -> dict:
        """Headline numbers: the final parameters and information at each β."""
        return {
            "final_w": float(self.params[-1, 0]),
            "final_b": float(self.params[-1, 1]),
            "final_loss": float(self.loss[-1]),
            "mi_max": dict(zip(map(str, self.betas.tolist()), self.mi.max(axis=1).tolist())),
            "mi_last": dict(zip(map(str, self.betas.tolist()), self.mi[:, -1].tolist())),
            "chain_final_params": self.chain_params[-1].tolist(),
            "chain_mi_t2_last": dict(zip(map(str, self.chain_betas.tolist()), self.chain_mi_t2[:, -1].tolist())),
        }


def _sp_estimates(models_and_betas, n_x: int, n_mc: int, generator, device, progress: bool, desc: str):
    """SP estimates of the last noisy layer for each ``(model, β)`` (the four inputs,
    ``n_x`` noise draws each); returns (values, stderrs), each of shape (len,)."""
    xt = torch.tensor(NEURON_INPUTS, dtype=torch.float64, device=device)[:, None]  # (4, 1)
    values, errors = [], []
    for make_model, beta in progress_iter(models_and_betas, progress, desc=desc, leave=False):
        samples = sample_representations(make_model().to(device), xt, n_x, generator=generator)[-1]  # (4, n_x, 1)
        est = sp_mutual_information(samples, float(beta), n_mc=n_mc, generator=generator)
        values.append(est.value)
        errors.append(est.stderr)
    return np.array(values), np.array(errors)


def _linear(w: float, b: float) -> nn.Linear:
    lin = nn.Linear(1, 1).double()
    with torch.no_grad():
        lin.weight.fill_(float(w))
        lin.bias.fill_(float(b))
    return lin


def _run_tanh_neuron(config: NeuronConfig, generator, device, progress: bool) -> dict:
    """The tanh neuron's part of :class:`NeuronResults`."""
    tr = train_tanh_neuron(config.n_epochs, lr=config.lr, record_epochs=config.record_epochs())
    betas = np.asarray(config.betas, dtype=np.float64)
    x = np.asarray(NEURON_INPUTS)
    s = np.tanh(tr.w[:, None] * x[None, :] + tr.b[:, None])  # (K, 4)
    mi = np.array([[mixture_information(s_k, beta) for s_k in s] for beta in betas])  # (B, K)
    grid = np.linspace(-1.25, 1.25, int(config.density_points))  # (G,)
    grid_t = torch.from_numpy(grid)
    density = np.array([[gm_density(torch.from_numpy(s_k), float(beta), grid_t).numpy() for s_k in s]
                        for beta in betas], dtype=np.float32)  # (B, K, G)

    sp_betas = np.asarray(config.sp_betas, dtype=np.float64)
    sp_index = np.arange(0, len(tr.epochs), int(config.sp_every))
    jobs = [((lambda k=k, beta=beta: nn.Sequential(_linear(tr.w[k], tr.b[k]), nn.Tanh(),
                                                   GaussianNoise(beta, generator=generator))), beta)
            for beta in sp_betas for k in sp_index]
    sp_mi, sp_se = _sp_estimates(jobs, 1, config.n_mc, generator, device, progress, "SP estimator, neuron")
    return dict(epochs=tr.epochs, params=tr.params, loss=tr.loss, betas=betas, mi=mi, grid=grid, density=density,
                sp_betas=sp_betas, sp_index=sp_index, sp_mi=sp_mi.reshape(len(sp_betas), len(sp_index)),
                sp_stderr=sp_se.reshape(len(sp_betas), len(sp_index)))


def _run_leaky_chain(config: NeuronConfig, generator, device, progress: bool) -> dict:
    """The leaky-ReLU chain's part of :class:`NeuronResults`."""
    from scipy.stats import norm

    slope = float(config.chain_slope)
    tr = train_leaky_chain(config.chain_epochs, lr=config.lr, slope=slope,
                           record_epochs=config.chain_record_epochs())
    betas = np.asarray(config.chain_betas, dtype=np.float64)
    m = int(config.chain_quantiles)
    z = norm.ppf((np.arange(m) + 0.5) / m)  # (m,) equally weighted quantiles of N(0, 1)
    x = np.asarray(NEURON_INPUTS)
    mi1 = np.empty((len(betas), len(tr.epochs)))
    mi2 = np.empty_like(mi1)
    for a, beta in enumerate(progress_iter(betas, progress, desc="I(X;T1), I(X;T2)", leave=False)):
        for k, (w1, b1, w2, b2) in enumerate(tr.params):
            s1 = leaky_relu(w1 * x + b1, slope)  # (4,)
            s2 = leaky_relu(w2 * (s1[:, None] + beta * z[None, :]) + b2, slope)  # (4, m)
            mi1[a, k] = mixture_information(s1, beta)
            mi2[a, k] = mixture_information(s2, beta)

    sp_index = np.arange(0, len(tr.epochs), int(config.chain_sp_every))

    def chain(params, beta):
        w1, b1, w2, b2 = params
        return nn.Sequential(_linear(w1, b1), nn.LeakyReLU(slope), GaussianNoise(beta, generator=generator),
                             _linear(w2, b2), nn.LeakyReLU(slope), GaussianNoise(beta, generator=generator))

    jobs = [((lambda k=k, beta=beta: chain(tr.params[k], beta)), beta) for beta in betas for k in sp_index]
    sp, se = _sp_estimates(jobs, int(config.chain_sp_n_x), config.n_mc, generator, device, progress,
                           "SP estimator, chain")
    return dict(chain_epochs=tr.epochs, chain_params=tr.params, chain_loss=tr.loss, chain_betas=betas,
                chain_mi_t1=mi1, chain_mi_t2=mi2, chain_sp_index=sp_index,
                chain_sp_mi_t2=sp.reshape(len(betas), len(sp_index)),
                chain_sp_stderr_t2=se.reshape(len(betas), len(sp_index)))


def run_neuron(config: NeuronConfig, *, device=None, progress: bool = True) -> NeuronResults:
    """Train the Section 4 neuron and the leaky-ReLU chain; measure their information
    along training.

    The neuron: exact ``I(X; T(k))`` by quadrature at every recorded epoch and every
    β, the densities of ``T(k)``, and the SP estimator (``n_x = 1``: ``S`` is
    deterministic given ``X``) at every ``sp_every``-th recorded epoch for each β of
    ``sp_betas``. The chain: ``I(X; T1)`` exactly, ``I(X; T2)`` by quantiles and
    quadrature, and the SP estimate of ``I(X; T2)``. All randomness (the SP
    estimator's noise and Monte Carlo samples) comes from one generator seeded with
    ``config.seed``, used by the neuron first, then the chain.

    Parameters
    ----------
    config : NeuronConfig
    device : torch.device or str, optional
        Where the SP estimator runs (:func:`~infoflow_core.experiments.resolve_device`:
        ``None`` is CUDA when available); training and quadrature are scalar NumPy.
        The chapter uses the CPU: the same numbers on every machine.
    progress : bool
        Show progress bars.

    Returns
    -------
    NeuronResults

    Examples
    --------
    >>> cfg = NeuronConfig.for_scale("quick", n_epochs=100, per_decade=2, betas=(0.01,), sp_betas=(0.01,),
    ...                               n_mc=100, chain_epochs=10, chain_per_decade=1, chain_betas=(0.1,))
    >>> r = run_neuron(cfg, device="cpu", progress=False)
    >>> r.epochs.tolist(), r.mi.shape, r.density.shape, r.chain_epochs.tolist()
    ([0, 1, 3, 10, 32, 100], (1, 6), (1, 6, 401), [0, 1, 10])
    """
    if not isinstance(config, NeuronConfig):
        raise ValueError(f"config must be a NeuronConfig, got {type(config).__name__}")
    device = resolve_device(device)
    start = time.perf_counter()
    generator = torch.Generator(device=device).manual_seed(config.seed)
    parts = _run_tanh_neuron(config, generator, device, progress)
    parts.update(_run_leaky_chain(config, generator, device, progress))
    return NeuronResults(config=config, provenance=Provenance.now(device, time.perf_counter() - start), **parts)


EXPERIMENT = Experiment("neuron", "Section 4: the single noisy tanh neuron (Figs. 2, 4)", NeuronConfig,
                        NeuronResults, run_neuron)


def neuron_results(scale: str | None = None, *, results_dir=None, recompute: bool = False, device=None,
                   progress: bool = True) -> NeuronResults:
    """The chapter's :class:`NeuronResults` at ``scale`` (default ``INFOFLOW_SCALE``):
    stored under ``<results_dir>/neuron/`` when made with the code's configuration,
    else computed by :func:`run_neuron` (seconds at every scale;
    :func:`~infoflow_core.results.load_or_run`)."""
    return load_or_run(EXPERIMENT, NeuronConfig.for_scale(scale), results_dir=results_dir, recompute=recompute,
                       device=device, progress=progress)
