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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._validation import check_beta, check_positive_int
from ..entropy import gm_entropy_1d
from ..mutual_information import sp_mutual_information
from ..noise import GaussianNoise, sample_representations

__all__ = [
    "NEURON_INPUTS",
    "NEURON_LABELS",
    "NeuronTrajectory",
    "NoisyNeuronResults",
    "TwoNeuronResults",
    "neuron_config",
    "log_epochs",
    "tanh_neuron_loss_and_gradient",
    "train_tanh_neuron",
    "leaky_chain_loss_and_gradient",
    "train_leaky_chain",
    "mixture_information",
    "mixture_density",
    "falling_epochs",
    "run_noisy_neuron",
    "run_two_neuron",
]

#: The input alphabet of Section 4 (uniform).
NEURON_INPUTS = (-3.0, -1.0, 1.0, 3.0)
#: Their labels: ``{-3, -1, 1}`` is class -1, ``{3}`` is class 1.
NEURON_LABELS = (-1.0, -1.0, -1.0, 1.0)


# --------------------------------------------------------------------------- configuration

def neuron_config(scale: str) -> dict:
    """Sizes for the chapter at ``scale`` (``quick``, ``book`` or ``full``).

    Every scale trains the neuron for 10⁶ epochs (a second of CPU); they differ in how
    densely epochs are recorded, at which β the SP estimator runs and with how many
    Monte Carlo samples.
    """
    base = dict(
        n_epochs=1_000_000,
        lr=0.01,
        betas=[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
        density_points=401,
        two_neuron_epochs=100_000,
        two_neuron_betas=[0.01, 0.05, 0.1, 0.3],
        two_neuron_quantiles=64,
    )
    if scale == "quick":
        base.update(per_decade=20, sp_betas=[0.01], sp_every=3, n_mc=1000, two_neuron_per_decade=8,
                    two_neuron_quantiles=32, two_neuron_sp_n_x=50, two_neuron_sp_every=3)
    elif scale == "book":
        base.update(per_decade=40, sp_betas=[0.01, 0.1, 0.5], sp_every=2, n_mc=4000, two_neuron_per_decade=20,
                    two_neuron_sp_n_x=200, two_neuron_sp_every=2)
    elif scale == "full":
        base.update(per_decade=40, sp_betas=list(base["betas"]), sp_every=1, n_mc=20000, two_neuron_per_decade=20,
                    two_neuron_sp_n_x=1000, two_neuron_sp_every=1)
    else:
        raise ValueError(f"scale must be 'quick', 'book' or 'full', got {scale!r}")
    base["scale"] = scale
    return base


def log_epochs(n_epochs: int, per_decade: int = 20) -> np.ndarray:
    """Epochs ``0`` and ``round(10^(j / per_decade))`` up to ``n_epochs`` (distinct, sorted).

    >>> log_epochs(100, 2).tolist()
    [0, 1, 3, 10, 32, 100]
    """
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    per_decade = check_positive_int(per_decade, "per_decade")
    n = int(math.floor(per_decade * math.log10(n_epochs) + 1e-9))
    ks = np.round(10.0 ** (np.arange(n + 1) / per_decade)).astype(np.int64)
    ks = np.unique(np.concatenate([[0], ks, [n_epochs]]))
    return ks[ks <= n_epochs]


def _check_record_epochs(record_epochs, n_epochs: int) -> np.ndarray:
    if record_epochs is None:
        return log_epochs(n_epochs)
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
    ``∂L/∂b = (2/n) Σ_i (s_i − y_i)(1 − s_i²)``. Plain float64 arithmetic.

    Returns
    -------
    (loss, dL/dw, dL/db) : tuple of float
    """
    n = len(x)
    loss = gw = gb = 0.0
    for xi, yi in zip(x, y):
        s = math.tanh(w * xi + b)
        r = s - yi
        loss += r * r
        e = r * (1.0 - s * s)
        gw += e * xi
        gb += e
    return loss / n, 2.0 * gw / n, 2.0 * gb / n


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
        Epochs to record, increasing, within ``[0, n_epochs]``; default
        :func:`log_epochs` ``(n_epochs)``.

    Returns
    -------
    NeuronTrajectory
        With ``params[:, 0] = w`` and ``params[:, 1] = b``.

    Examples
    --------
    >>> tr = train_tanh_neuron(1000, record_epochs=[0, 1, 1000])
    >>> [round(v, 4) for v in tr.params[1]]
    [0.03, -0.01]
    """
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    lr = check_beta(lr, "lr")
    ks = _check_record_epochs(record_epochs, n_epochs)
    out = np.empty((len(ks), 2))
    loss = np.empty(len(ks))
    x, y = NEURON_INPUTS, NEURON_LABELS
    w, b = float(w0), float(b0)
    rec = ks.tolist()  # python ints: cheaper to compare in the loop
    j = 0
    for k in range(n_epochs + 1):
        # Inlined tanh_neuron_loss_and_gradient (a function call per step doubles the time).
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

def _lrelu(u: float, slope: float) -> float:
    return u if u > 0 else slope * u


def leaky_chain_loss_and_gradient(params, *, slope: float = 0.1, x=NEURON_INPUTS, y=NEURON_LABELS):
    """MSE and gradient of the two-neuron chain ``σ(w2 σ(w1 x + b1) + b2)``, σ = leaky ReLU.

    ``σ(u) = u`` for ``u > 0`` and ``slope·u`` otherwise (derivative ``slope`` at 0,
    as in torch). ``params = (w1, b1, w2, b2)``; the loss is ``(1/n) Σ (S2_i − y_i)²``
    on the noiseless output.

    Returns
    -------
    (loss, gradient) : (float, tuple of 4 floats)
    """
    w1, b1, w2, b2 = (float(p) for p in params)
    n = len(x)
    loss = g1 = g2 = g3 = g4 = 0.0
    for xi, yi in zip(x, y):
        u1 = w1 * xi + b1
        h = u1 if u1 > 0 else slope * u1
        u2 = w2 * h + b2
        o = u2 if u2 > 0 else slope * u2
        r = o - yi
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
    by the paper's authors (see ``NOTES.md``). Returns ``params`` of shape (K, 4).
    """
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    lr = check_beta(lr, "lr")
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
    """
    beta = check_beta(beta)
    c = torch.as_tensor(np.asarray(centers, dtype=np.float64))
    if c.dim() == 1:
        c = c[:, None]  # (n, 1)
    if c.dim() != 2 or c.numel() == 0:
        raise ValueError(f"centers must have shape (n,) or (n, m), got {tuple(c.shape)}")
    h_t = gm_entropy_1d(c.reshape(-1), beta)  # mixture of all n·m points
    if c.shape[1] == 1:
        h_cond = 0.5 * math.log(2 * math.pi * math.e * beta * beta)
    else:
        h_cond = float(np.mean([gm_entropy_1d(row, beta) for row in c]))
    return h_t - h_cond


def mixture_density(centers, beta: float, grid) -> np.ndarray:
    """Density of ``(1/n) Σ_i N(centers_i, β²)`` on ``grid``.

    Parameters
    ----------
    centers : array, shape (..., n)
    grid : array, shape (G,)

    Returns
    -------
    ndarray, shape (..., G)
    """
    beta = check_beta(beta)
    c = np.asarray(centers, dtype=np.float64)[..., None, :]  # (..., 1, n)
    t = np.asarray(grid, dtype=np.float64)[:, None]  # (G, 1)
    z = (t - c) / beta  # (..., G, n)
    return np.exp(-0.5 * z * z).mean(axis=-1) / (beta * math.sqrt(2 * math.pi))  # (..., G)


def falling_epochs(epochs, info, *, min_rate: float = 0.05) -> np.ndarray:
    """Epochs where ``I`` falls fastest: local minima of ``dI/d log10 k`` below
    ``-min_rate`` nats per decade (the paper's "dips"). ``epochs`` > 0 only.

    Returns the epochs, shape (m,), in increasing order.
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


# --------------------------------------------------------------------------- experiments

@dataclass
class NoisyNeuronResults:
    """Everything Fig. 4 draws (chapter ``02_noisy_neuron``).

    Attributes
    ----------
    config : dict
        The run's configuration (see :func:`neuron_config`).
    trajectory : NeuronTrajectory
        ``w_k, b_k`` at ``K`` recorded epochs.
    betas : ndarray, shape (B,)
        Noise levels.
    mi : ndarray, shape (B, K)
        Exact ``I(X; T(k))`` in nats (quadrature).
    grid : ndarray, shape (G,)
        Values of ``t`` where densities are tabulated.
    density : ndarray, shape (B, K, G)
        ``p_{T(k)}(t)`` for every β and recorded epoch.
    sp_betas : ndarray, shape (Bs,)
        The β at which the SP estimator also ran.
    sp_index : ndarray of int, shape (Ks,)
        Indices into ``trajectory.epochs`` where it ran.
    sp_mi, sp_stderr : ndarray, shape (Bs, Ks)
        SP estimates of ``I(X; T(k))`` and their Monte Carlo standard errors (nats).
    """

    config: dict
    trajectory: NeuronTrajectory
    betas: np.ndarray
    mi: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sp_betas: np.ndarray
    sp_index: np.ndarray
    sp_mi: np.ndarray
    sp_stderr: np.ndarray
    source: str = field(default="computed in this session")

    @property
    def epochs(self) -> np.ndarray:
        return self.trajectory.epochs

    @property
    def representations(self) -> np.ndarray:
        """``S(k) = tanh(w_k x + b_k)``, shape (K, 4) (columns follow ``NEURON_INPUTS``)."""
        x = np.asarray(NEURON_INPUTS)
        return np.tanh(self.trajectory.w[:, None] * x[None, :] + self.trajectory.b[:, None])  # (K, 4)

    def beta_index(self, beta: float) -> int:
        j = int(np.argmin(np.abs(self.betas - beta)))
        if not math.isclose(self.betas[j], beta, rel_tol=1e-9):
            raise ValueError(f"beta={beta} is not among the precomputed betas {self.betas.tolist()}")
        return j

    def to_arrays(self) -> dict:
        tr = self.trajectory
        return dict(epochs=tr.epochs, params=tr.params, loss=tr.loss, betas=self.betas, mi=self.mi,
                    grid=self.grid, density=self.density.astype(np.float32), sp_betas=self.sp_betas,
                    sp_index=self.sp_index, sp_mi=self.sp_mi, sp_stderr=self.sp_stderr)

    @classmethod
    def from_arrays(cls, config: dict, a: dict, source: str) -> "NoisyNeuronResults":
        tr = NeuronTrajectory(a["epochs"], a["params"], a["loss"], float(config["lr"]))
        return cls(config, tr, a["betas"], a["mi"], a["grid"], a["density"].astype(np.float64),
                   a["sp_betas"], a["sp_index"], a["sp_mi"], a["sp_stderr"], source)


def _tanh_neuron_model(w: float, b: float, beta: float, generator) -> nn.Module:
    lin = nn.Linear(1, 1).double()
    with torch.no_grad():
        lin.weight.fill_(w)
        lin.bias.fill_(b)
    return nn.Sequential(lin, nn.Tanh(), GaussianNoise(beta, generator=generator))


def run_noisy_neuron(config: dict, *, generator: torch.Generator | None = None,
                     progress: bool = True) -> NoisyNeuronResults:
    """Train the Section 4 neuron and measure ``I(X; T(k))`` along training.

    Exact information by quadrature at every recorded epoch and every β; the SP
    estimator (``n_x = 1``: ``S`` is deterministic given ``X``) at every
    ``config["sp_every"]``-th epoch for the β in ``config["sp_betas"]``, with
    ``config["n_mc"]`` Monte Carlo samples, drawn from ``generator``.
    """
    from tqdm.auto import tqdm

    tr = train_tanh_neuron(config["n_epochs"], lr=config["lr"],
                           record_epochs=log_epochs(config["n_epochs"], config["per_decade"]))
    betas = np.asarray(config["betas"], dtype=np.float64)
    x = np.asarray(NEURON_INPUTS)
    s = np.tanh(tr.w[:, None] * x[None, :] + tr.b[:, None])  # (K, 4)
    mi = np.array([[mixture_information(s_k, beta) for s_k in s] for beta in betas])  # (B, K)
    grid = np.linspace(-1.25, 1.25, int(config["density_points"]))
    density = np.stack([mixture_density(s, beta, grid) for beta in betas])  # (B, K, G)

    sp_betas = np.asarray(config["sp_betas"], dtype=np.float64)
    sp_index = np.arange(0, len(tr.epochs), int(config["sp_every"]))
    sp_mi = np.empty((len(sp_betas), len(sp_index)))
    sp_se = np.empty_like(sp_mi)
    xt = torch.tensor(x, dtype=torch.float64)[:, None]  # (4, 1)
    jobs = [(a, j) for a in range(len(sp_betas)) for j in range(len(sp_index))]
    for a, j in tqdm(jobs, desc="SP estimator", disable=not progress, leave=False):
        k = sp_index[j]
        model = _tanh_neuron_model(tr.w[k], tr.b[k], sp_betas[a], generator)
        (samples,) = sample_representations(model, xt, 1, generator=generator)  # (4, 1, 1)
        est = sp_mutual_information(samples, float(sp_betas[a]), n_mc=config["n_mc"], generator=generator)
        sp_mi[a, j], sp_se[a, j] = est.value, est.stderr
    return NoisyNeuronResults(config, tr, betas, mi, grid, density, sp_betas, sp_index, sp_mi, sp_se)


@dataclass
class TwoNeuronResults:
    """The two-neuron leaky-ReLU chain along training (chapter ``02_noisy_neuron``).

    Attributes
    ----------
    trajectory : NeuronTrajectory
        ``(w1, b1, w2, b2)`` at ``K`` recorded epochs.
    betas : ndarray, shape (B,)
    mi_t1 : ndarray, shape (B, K)
        ``I(X; T1)``, exact (four-component mixture, quadrature).
    mi_t2 : ndarray, shape (B, K)
        ``I(X; T2)`` with ``T2 = σ(w2 T1 + b2) + Z2``: the law of ``S2`` given ``X`` is
        represented by ``m = config["two_neuron_quantiles"]`` equally weighted normal
        quantiles of ``Z1`` (deterministic), then quadrature; 32 quantiles differ from
        512 by less than 10⁻³ nats along the default run (β = 0.01 and 0.3).
    sp_index : ndarray of int, shape (Ks,)
    sp_mi_t2, sp_stderr_t2 : ndarray, shape (B, Ks)
        The SP estimator (random ``n_x`` noise draws per input), for comparison.
    """

    config: dict
    trajectory: NeuronTrajectory
    betas: np.ndarray
    mi_t1: np.ndarray
    mi_t2: np.ndarray
    sp_index: np.ndarray
    sp_mi_t2: np.ndarray
    sp_stderr_t2: np.ndarray

    @property
    def epochs(self) -> np.ndarray:
        return self.trajectory.epochs

    def representations(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``S1`` and noiseless ``σ(w2 S1 + b2)`` at recorded epoch ``index``, each shape (4,)."""
        w1, b1, w2, b2 = self.trajectory.params[index]
        slope = self.config.get("slope", 0.1)
        x = np.asarray(NEURON_INPUTS)
        s1 = np.where(w1 * x + b1 > 0, w1 * x + b1, slope * (w1 * x + b1))
        u2 = w2 * s1 + b2
        return s1, np.where(u2 > 0, u2, slope * u2)


def _chain_model(params, slope: float, beta: float, generator) -> nn.Module:
    w1, b1, w2, b2 = (float(p) for p in params)
    l1, l2 = nn.Linear(1, 1).double(), nn.Linear(1, 1).double()
    with torch.no_grad():
        l1.weight.fill_(w1), l1.bias.fill_(b1), l2.weight.fill_(w2), l2.bias.fill_(b2)
    return nn.Sequential(l1, nn.LeakyReLU(slope), GaussianNoise(beta, generator=generator),
                         l2, nn.LeakyReLU(slope), GaussianNoise(beta, generator=generator))


def run_two_neuron(config: dict, *, generator: torch.Generator | None = None,
                   progress: bool = True) -> TwoNeuronResults:
    """Train the leaky-ReLU chain and measure ``I(X; T1)`` and ``I(X; T2)`` along training."""
    from scipy.stats import norm
    from tqdm.auto import tqdm

    slope = float(config.get("slope", 0.1))
    n = int(config["two_neuron_epochs"])
    tr = train_leaky_chain(n, lr=config["lr"], slope=slope,
                           record_epochs=log_epochs(n, int(config["two_neuron_per_decade"])))
    betas = np.asarray(config["two_neuron_betas"], dtype=np.float64)
    m = int(config["two_neuron_quantiles"])
    z = norm.ppf((np.arange(m) + 0.5) / m)  # (m,) equally weighted quantiles of N(0, 1)
    x = np.asarray(NEURON_INPUTS)

    def lrelu(u):
        return np.where(u > 0, u, slope * u)

    mi1 = np.empty((len(betas), len(tr.epochs)))
    mi2 = np.empty_like(mi1)
    for a, beta in enumerate(tqdm(betas, desc="I(X;T1), I(X;T2)", disable=not progress, leave=False)):
        for k, (w1, b1, w2, b2) in enumerate(tr.params):
            s1 = lrelu(w1 * x + b1)  # (4,)
            s2 = lrelu(w2 * (s1[:, None] + beta * z[None, :]) + b2)  # (4, m)
            mi1[a, k] = mixture_information(s1, beta)
            mi2[a, k] = mixture_information(s2, beta)

    sp_index = np.arange(0, len(tr.epochs), int(config["two_neuron_sp_every"]))
    sp = np.empty((len(betas), len(sp_index)))
    se = np.empty_like(sp)
    xt = torch.tensor(x, dtype=torch.float64)[:, None]  # (4, 1)
    jobs = [(a, j) for a in range(len(betas)) for j in range(len(sp_index))]
    for a, j in tqdm(jobs, desc="SP estimator", disable=not progress, leave=False):
        model = _chain_model(tr.params[sp_index[j]], slope, betas[a], generator)
        _, s2 = sample_representations(model, xt, int(config["two_neuron_sp_n_x"]), generator=generator)
        est = sp_mutual_information(s2, float(betas[a]), n_mc=config["n_mc"], generator=generator)
        sp[a, j], se[a, j] = est.value, est.stderr
    return TwoNeuronResults(config, tr, betas, mi1, mi2, sp_index, sp, se)
