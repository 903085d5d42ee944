"""The MNIST CNN experiments (Sections 2 and 5.2 of the paper): Table 1, Fig. 3,
Fig. 7, the per-unit binned-entropy slopes and Fig. 8, from one training run.

One call of :func:`run_mnist` trains the six variants of Table 1 (deterministic,
Gaussian noise β ∈ {0.05, 0.1, 0.2, 0.5}, dropout p = 0.2) for every seed, *together*:
models are stacked (:class:`~infoflow_core.models.mnist.StackedMnistCNN`, grouped
convolutions) ``models_per_stack`` at a time, with the training images held on the
device. Variants that share a seed share their initial weights and the order of their
mini-batches, so they differ only by their noise or dropout.

After training, each model's validation errors are counted three ways: Table 1's
protocol (noise on, dropout off), with the noise off, and with the batch-norm
statistics re-estimated on the training images with dropout off (a copy of the stack),
which removes the variance shift between training with dropout and evaluating without.

While training, the dropout model of the first seed (the paper's "deterministic model
trained with dropout", evaluated without dropout) is measured on the analysis images
after every epoch: H(Bin(T_ℓ)) with two bins per unit (Fig. 7), H(Bin(T_3(k))) per unit
k for several bin sizes (the slopes of Section 5.2), and at a few epochs the within-
and between-class pairwise-distance histograms (Fig. 8).

The chapter calls :func:`mnist_results` (stored results when they match the code's
configuration, else a run); the command line
``python -m infoflow_core mnist --scale {quick,book,full} --out DIR`` writes
``summary.json`` and ``arrays.npz`` (see :mod:`infoflow_core.results`).

The ``full`` preset is a CPU protocol in the paper's regime: all 60,000 training images,
Table 1 on the 10,000 validation images, the analysis on all 10,000, 4 seeds × 6
models, :data:`FULL_EPOCHS` = 6 epochs with batch 64, a cosine learning rate from 0.1
to near 0, and every training image shifted by up to 2 pixels (``shift=2``), dropout
after the max-pooling, the analysis on batch norm re-estimated without dropout, and a
64-unit second dense layer as Fig. 7's T_4 (``dense2``). The protocol was chosen with
pilots (``benchmarks/mnist_pilot.py``: the deterministic model of seed 0 alone; errors
per 10,000 after the last epoch, ``benchmarks/results/mnist_pilot_cpu.md``): lr 10⁻²
without shifts plateaus near 90 (89–94 after epochs 8–11 of 16); lr 0.05 with shifts
gives 69 after 6 or 8 epochs (70 with weight decay 5·10⁻⁴); lr 0.1 with shifts gives
51 after 6 epochs. Throughput measured with ``benchmarks/mnist_throughput.py`` (one
thread, a shared 2-core machine), in model-images per second: one model alone 1270
(batch 32); stacks of 6 models 821 (batch 32), 921 (batch 32, channels-last), 1006
(batch 64), 957 (batch 128). At 1006, one model-epoch on 60,000 images takes 60 s:
24 models × 6 epochs ≈ 2.4 CPU hours, in 4 stacks of one seed each
(``models_per_stack=6``) spread over two processes, resumable (the stored run: 4930 s,
82 minutes, on 2 cores, of which 8119 CPU-s training and 1361 s evaluation)::

    INFOFLOW_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 \
        torchrun --standalone --nproc_per_node 2 -m infoflow_core mnist --scale full --out book/results/mnist/full

(run the same command again to continue; without ``torchrun`` the stacks run one after
another in one process). The paper's protocol, for a GPU, is one flag away:
``--scale full --set n_seeds=8 --set epochs=128`` (Fig. 8's epochs follow: 0, 1, 32, 128;
add ``--set models_per_stack=48`` to train all 48 models in one stack).

>>> MnistConfig.for_scale("quick").n_train, MnistConfig.for_scale("book").n_train
(640, 8000)
>>> MnistConfig.for_scale("full", n_seeds=8, epochs=128).fig8_epochs
(0, 1, 32, 128)
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_positive, check_positive_int
from ..binning import binned_entropy, binned_entropy_per_unit
from ..clustering import cosine_similarities, pairwise_distance_histograms
from ..data.mnist import MNIST, load_mnist, random_shift
from ..models.mnist import (DROPOUT_PLACEMENTS, LAYER_DIMS, MnistCNN, StackedMnistCNN,
                            expected_max_inverted_dropout, layer_dims)
from ..results import ExperimentResults, Provenance, StaleResultsError, load_or_run
from ._common import (Checkpoints, Experiment, ExperimentConfig, from_state, progress_bar, resolve_device, run_sharded,
                      to_state)

__all__ = ["MnistConfig", "MnistResults", "run_mnist", "mnist_results", "EXPERIMENT", "PAPER_TABLE1",
           "VARIANTS", "two_bin_entropy", "regression_slopes", "fig8_default", "dropout_pool_means", "FULL_EPOCHS"]

#: (name, β, dropout p) of the six models of Table 1, in the paper's order.
VARIANTS = (
    ("Deterministic", 0.0, 0.0),
    ("Noisy (β = 0.05)", 0.05, 0.0),
    ("Noisy (β = 0.1)", 0.1, 0.0),
    ("Noisy (β = 0.2)", 0.2, 0.0),
    ("Noisy (β = 0.5)", 0.5, 0.0),
    ("Dropout (p = 0.2)", 0.0, 0.2),
)
_VARIANT_NAMES = tuple(v[0] for v in VARIANTS)

#: Table 1 of the paper: validation errors out of 10,000, mean and std over 8 seeds.
PAPER_TABLE1 = {
    "Deterministic": (50, 4.6),
    "Noisy (β = 0.05)": (50, 5.0),
    "Noisy (β = 0.1)": (51, 6.9),
    "Noisy (β = 0.2)": (86, 9.8),
    "Noisy (β = 0.5)": (2200, 520),
    "Dropout (p = 0.2)": (39, 3.9),
}

_DROPOUT = len(VARIANTS) - 1  # index of the dropout variant
#: Learning-rate schedules (:meth:`MnistConfig.lr_at`) and batch-norm statistics of the analysis.
LR_SCHEDULES = ("constant", "cosine")
ANALYSIS_BN = ("as_trained", "recalibrated")
#: Epochs of the ``full`` (CPU) protocol; the paper trains 128.
FULL_EPOCHS = 6
_N_TRAIN_MAX, _N_VAL_MAX = 60000, 10000  # MNIST's training and t10k sets


@dataclass(frozen=True, kw_only=True)
class MnistConfig(ExperimentConfig):
    """Everything that defines an MNIST run; the defaults are the ``book`` scale.

    Build it with ``MnistConfig.for_scale(scale, **overrides)``: ``quick`` (CI, seconds
    on a CPU), ``book`` (~30 min on one CPU core), ``full`` (the CPU protocol that
    reaches the paper's regime, a few CPU hours; see the module docstring). ``quick``
    and ``book`` differ only in sizes; ``full`` also in the protocol.

    Attributes
    ----------
    scale : {"quick", "book", "full"}
    seed : int
        Root of every generator (subsets, initial weights, batch order, noise).
    n_train : int
        Training images (a random subset of the 60,000 unless all are used).
    n_val : int
        Validation (t10k) images for Table 1; errors are rescaled to per 10,000.
    n_analysis : int
        Validation images for Figs. 3, 7, 8 and the per-unit slopes (the first
        ``n_analysis`` of the Table 1 subset).
    epochs : int
        Training epochs (the paper: 128).
    n_seeds : int
        Seeds per variant (the paper: 8). Variants with the same seed start equal.
    dtype : {"float32", "float64"}
        Precision of training and analysis.
    batch_size, lr, momentum : int, float, float
        Mini-batch SGD on the cross entropy (our choice: batch 32, lr 5·10⁻³,
        momentum 0.9; the paper is silent).
    batch_norm : bool
        Batch norm before each hidden tanh (our choice).
    noisy_eval : bool
        Evaluate Table 1 with the Gaussian noise on (the noisy network *is* the model;
        dropout is off at evaluation as usual). Errors with the noise off are kept too.
    bin_sizes : tuple of float
        Bin sizes for the per-unit entropies H(Bin(T_3(k))).
    n_hist_bins : int
        Bins of the cosine-similarity and distance histograms.
    fig8_epochs : tuple of int
        Increasing epochs in ``[0, epochs]`` of the pairwise-distance histograms (the
        paper: 0, 1, 32, 128).
    models_per_stack : int
        Models trained together in one stacked module (48 on a GPU: all of Table 1).
        On a CPU one thread trains a stack of 6 more slowly per model than one model
        alone (``benchmarks/mnist_throughput.py``): the grouped convolutions are slower.
    lr_schedule : {"constant", "cosine"}
        ``"constant"``: ``lr`` throughout (the book run). ``"cosine"``: epoch e (1-based)
        uses ``lr · (1 + cos(π (e − 1) / epochs)) / 2``, from ``lr`` down to near 0 in
        the last epoch (SGD's noise shrinks as the run ends, so a short run ends in a
        minimum instead of bouncing around one). A function of the epoch only: nothing
        to store to resume.
    dropout_placement : {"before_pool", "after_pool"}
        Dropout in the convolutional blocks before the max-pooling (the book run) or
        after it. Before, the max of inverted-dropout values is not mean-preserving
        (:func:`~infoflow_core.models.mnist.expected_max_inverted_dropout`; measured on
        the trained dropout model in :attr:`MnistResults.dropout_pool_means`); after,
        dropout keeps each unit's mean.
    analysis_bn : {"as_trained", "recalibrated"}
        Batch-norm statistics of the models that Figs. 3, 7, 8 and the per-unit slopes
        measure: as trained (the book run) or re-estimated on the training images with
        dropout off (noise as in ``noisy_eval`` for the cosines; the dropout model has no
        noise), the model Table 1's ``errors_bn_recalibrated`` column evaluates.
    dense2 : int
        Units of a second dense hidden layer before the output (0: none, the book run).
        Which four layers Fig. 7 (and Figs. 3, 8) measure follows from it: T_1, T_2
        (convolutional, max-pooled), T_3 (dense, 128) and T_4 = the 10 logits when 0,
        else this layer. Two bins per unit cap a layer of d units at d ln 2 nats: 10
        logits at ln 1024 = 6.93 < ln 10,000 = 9.21, where the paper's Fig. 7 has *every*
        layer (our stored book run: T_4 at 3.8–4.9 nats, T_1–T_3 at ln 2000); so the
        paper's fourth layer is a hidden layer of ≥ 14 units (2¹⁴ > 10,000), and the
        ``full`` preset adds one of 64 units.
    shift : int
        Training-time augmentation: every training image is translated by a random
        offset of up to ``shift`` pixels in each direction
        (:func:`~infoflow_core.data.mnist.random_shift`), drawn per seed so that the
        variants of a seed still see the same inputs. 0: none (the book run).
    weight_decay : float
        L2 penalty of SGD (``torch.optim.SGD(weight_decay=...)``) on every parameter.
        0: none (the book run).

    Notes
    -----
    An empty ``fig8_epochs`` means ``(0, 1, epochs // 4, epochs)`` (the paper's 0, 1,
    32, 128 for 128 epochs); it is filled in on construction, so ``--set epochs=128``
    moves Fig. 8's epochs along. The paper's protocol from the ``full`` preset is
    ``python -m infoflow_core mnist --scale full --set n_seeds=8 --set epochs=128``.
    """

    PRESETS: ClassVar[dict] = {
        "quick": dict(n_train=640, n_val=400, n_analysis=250, epochs=2, n_seeds=2, fig8_epochs=(0, 1, 2)),
        "book": {},  # the class defaults
        # The CPU protocol (see the module docstring); the paper's: --set n_seeds=8 --set epochs=128.
        "full": dict(n_train=60000, n_val=10000, n_analysis=10000, epochs=FULL_EPOCHS, n_seeds=4, fig8_epochs=(),
                     batch_size=64, lr=0.1, lr_schedule="cosine", models_per_stack=6, shift=2,
                     dropout_placement="after_pool", analysis_bn="recalibrated", dense2=64),
    }

    n_train: int = 8000
    n_val: int = 10000
    n_analysis: int = 2000
    epochs: int = 6
    n_seeds: int = 3
    dtype: str = "float32"
    batch_size: int = 32
    lr: float = 5e-3
    momentum: float = 0.9
    batch_norm: bool = True
    noisy_eval: bool = True
    bin_sizes: tuple = (1e-4, 1e-3, 1e-2, 1e-1)
    n_hist_bins: int = 100
    fig8_epochs: tuple = (0, 1, 2, 6)
    models_per_stack: int = 6
    lr_schedule: str = "constant"
    dropout_placement: str = "before_pool"
    analysis_bn: str = "as_trained"
    dense2: int = 0
    shift: int = 0
    weight_decay: float = 0.0

    def __post_init__(self):
        if self.fig8_epochs == () and isinstance(self.epochs, int) and not isinstance(self.epochs, bool):
            object.__setattr__(self, "fig8_epochs", fig8_default(self.epochs))
        super().__post_init__()

    def lr_at(self, epoch: int) -> float:
        """The learning rate of (1-based) ``epoch`` under :attr:`lr_schedule`.

        >>> c = MnistConfig.for_scale("quick", epochs=4, lr_schedule="cosine")
        >>> [round(c.lr_at(e) / c.lr, 4) for e in (1, 2, 3, 4)]
        [1.0, 0.8536, 0.5, 0.1464]
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= self.epochs:
            raise ValueError(f"epoch must be an integer in [1, epochs = {self.epochs}], got {epoch!r}")
        if self.lr_schedule == "constant":
            return self.lr
        return self.lr * (1.0 + math.cos(math.pi * (epoch - 1) / self.epochs)) / 2.0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field out of range."""
        for name in ("n_train", "n_val", "n_analysis", "epochs", "n_seeds", "batch_size", "models_per_stack",
                     "n_hist_bins"):
            check_positive_int(getattr(self, name), name)
        if self.n_train > _N_TRAIN_MAX:
            raise ValueError(f"n_train must be <= {_N_TRAIN_MAX} (MNIST's training set), got {self.n_train}")
        if self.n_val > _N_VAL_MAX:
            raise ValueError(f"n_val must be <= {_N_VAL_MAX} (MNIST's validation set), got {self.n_val}")
        if self.n_analysis > self.n_val:
            raise ValueError(f"n_analysis must be <= n_val ({self.n_val}), got {self.n_analysis}")
        check_positive(self.lr, "lr")
        check_positive(self.momentum, "momentum", allow_zero=True)
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        for name in ("batch_norm", "noisy_eval"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not self.bin_sizes:
            raise ValueError("bin_sizes must hold at least one bin size, got ()")
        for i, b in enumerate(self.bin_sizes):
            check_positive(b, f"bin_sizes[{i}]")
        for i, e in enumerate(self.fig8_epochs):
            if isinstance(e, bool) or not isinstance(e, int) or not 0 <= e <= self.epochs:
                raise ValueError(f"fig8_epochs[{i}] must be an integer in [0, epochs = {self.epochs}], got {e!r}")
        if list(self.fig8_epochs) != sorted(set(self.fig8_epochs)):
            raise ValueError(f"fig8_epochs must be increasing, got {self.fig8_epochs}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        for name, allowed in (("lr_schedule", LR_SCHEDULES), ("dropout_placement", DROPOUT_PLACEMENTS),
                              ("analysis_bn", ANALYSIS_BN)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if isinstance(self.shift, bool) or not isinstance(self.shift, int) or not 0 <= self.shift <= 8:
            raise ValueError(f"shift must be an integer in [0, 8] (pixels; 0: no augmentation), got {self.shift!r}")
        if isinstance(self.dense2, bool) or not isinstance(self.dense2, int) or self.dense2 < 0:
            raise ValueError(f"dense2 must be an integer >= 0 (0: no second dense layer), got {self.dense2!r}")
        if self.analysis_bn == "recalibrated" and not self.batch_norm:
            raise ValueError("analysis_bn must be 'as_trained' when batch_norm is False (no statistics to re-estimate)")


def fig8_default(epochs: int) -> tuple:
    """Fig. 8's epochs for a run of ``epochs`` epochs: 0, 1, ``epochs // 4`` (``epochs // 2``
    when ``epochs // 4`` is not past 1) and the last (the paper: 0, 1, 32, 128), without
    repeats.

    >>> fig8_default(128), fig8_default(16), fig8_default(6), fig8_default(2)
    ((0, 1, 32, 128), (0, 1, 4, 16), (0, 1, 3, 6), (0, 1, 2))
    """
    check_positive_int(epochs, "epochs")
    middle = epochs // 4 if epochs // 4 > 1 else epochs // 2
    return tuple(sorted({0, 1, middle, epochs}))


# ----------------------------------------------------------------------------- measures

#: The smallest positive float64. Two bins with edges 0, ε, 2ε (everything beyond
#: clipped to the first or last bin) are exactly ``t <= 0`` and ``t > 0``:
#: :func:`~infoflow_core.binning.bin_indices` compares values with its edges exactly.
_EPS = math.ulp(0.0)
_TWO_BINS = dict(bin_size=_EPS, value_range=(0.0, 2 * _EPS))


def two_bin_entropy(t: torch.Tensor) -> float:
    """H(Bin(T)) in nats with two bins per unit, [−1, 0] and (0, 1] for tanh units
    (Fig. 7): the entropy of the empirical distribution of the sign patterns ``t > 0``.

    This is :func:`~infoflow_core.binning.binned_entropy` with bins ``(−∞, 0]`` and
    ``(0, ∞)`` per unit (so the logits of layer 4 are split at 0 as well).

    Parameters
    ----------
    t : Tensor, shape (n, d)
        Representations of n inputs (float32 or float64).

    Returns
    -------
    float
        Between 0 and ln n (ln n when all n patterns differ: the map is injective).

    Examples
    --------
    >>> round(two_bin_entropy(torch.tensor([[0.5, -0.5], [0.5, 0.5], [0.0, 0.2], [-0.3, -0.9]])), 6)  # 4 patterns
    1.386294
    """
    return binned_entropy(t, **_TWO_BINS)


def regression_slopes(values: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """Least-squares slopes of ``values[:, ...]`` against ``epochs`` (per column).

    Parameters
    ----------
    values : array, shape (n_epochs, ...)
    epochs : array, shape (n_epochs,)

    Returns
    -------
    array, shape (...)
        Slope per column, in units of ``values`` per epoch.

    Examples
    --------
    >>> regression_slopes(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]), np.array([1, 2, 3]))
    array([1., 0.])
    """
    x = np.asarray(epochs, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"epochs must be 1-D with at least 2 entries, got shape {x.shape}")
    if y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"values must have one row per epoch ({x.shape[0]}), got shape {y.shape}")
    xc = x - x.mean()
    yc = y - y.mean(axis=0)
    return np.tensordot(xc, yc, axes=(0, 0)) / (xc @ xc)


# ----------------------------------------------------------------------------- results

@dataclass(kw_only=True)
class MnistResults(ExperimentResults):
    """Everything the MNIST chapter shows, from :func:`run_mnist` or a stored run.

    Errors are counts per 10,000 validation images (rescaled when fewer were used);
    entropies in nats. Shapes: V = 6 variants, S seeds, E epochs, K bin sizes,
    F = len(fig8_epochs), B = histogram bins.

    Attributes
    ----------
    config : MnistConfig
    provenance : Provenance
        Device, wall time, date, versions; the folder when loaded.
    variants : tuple of str, length V
        The names of :data:`VARIANTS`, in the order of the arrays' variant axis.
    timings : dict
        Seconds spent training (``train_s``), measuring the dropout model every epoch
        (``analysis_s``), evaluating (``eval_s``), and ``train_s_per_model_epoch``.
    errors, errors_noise_off, errors_bn_recalibrated : ndarray, shape (V, S)
        Validation errors per 10,000 of each model and seed: Table 1's protocol (noise
        on when ``noisy_eval``, dropout off), the same weights with the noise off, and
        with batch norm re-estimated on the training images without dropout. The paper
        does not state whether its noisy models were evaluated with the noise on; for
        β = 0.5 the two differ most, so both are kept per seed.
    cosine_counts, cosine_mean : ndarray, shapes (V−1, 4, B) and (V−1, 4)
        Fig. 3. Pairing: the same validation image (the ``n_analysis`` analysis images),
        the same layer T_ℓ, the deterministic model of seed s against variant v of the
        same seed s (same initial weights, same mini-batches), cosine over the layer's
        units, noise and dropout off (batch norm as in ``analysis_bn``); histograms and
        means pooled over seeds and images.
    two_bin_entropy : ndarray, shape (E+1, 4)
        Fig. 7: H(Bin(T_ℓ)) in nats of the dropout model of seed 0 (batch norm as in
        ``analysis_bn``) with two bins per unit, for T_1 (3136 units), T_2 (1568),
        T_3 (128) and T_4, the 10 logits. Two bins per unit cap a d-unit layer at
        min(ln n, d ln 2) nats: T_4 at ln 1024 = 6.93 < ln 10,000 = 9.21, so the paper's
        fourth layer, which sits near ln 10,000, cannot be a 10-unit output layer; it must
        have ≥ 14 units (2¹⁴ > 10,000). Our network has no such layer; see
        :meth:`two_bin_ceiling`.
    dropout_pool_means : ndarray, shape (2, 2)
        For convolutional blocks 1 and 2 of the trained dropout model of seed 0, with
        dropout before the pooling: ``[:, 0]`` the mean max-pooled tanh value, ``[:, 1]``
        its expectation with dropout before the pooling
        (:func:`dropout_pool_means`); NaN when dropout came after the pooling or the
        run predates the measure.
    """

    experiment: ClassVar[str] = "mnist"
    config_type: ClassVar[type] = MnistConfig
    ARRAYS: ClassVar[tuple] = ("errors", "errors_noise_off", "errors_bn_recalibrated", "train_loss",
                               "two_bin_entropy", "unit_entropy", "slopes", "cosine_edges", "cosine_counts",
                               "cosine_mean", "dist_edges", "dist_within", "dist_between", "dropout_pool_means")
    #: Arrays that runs stored before they existed lack: shape of the NaN they load as.
    OPTIONAL_ARRAYS: ClassVar[dict] = {"dropout_pool_means": (2, 2)}

    config: MnistConfig
    variants: tuple = _VARIANT_NAMES
    errors: np.ndarray              # (V, S) Table 1, noise on at evaluation
    errors_noise_off: np.ndarray    # (V, S) the same models with the noise off
    errors_bn_recalibrated: np.ndarray  # (V, S) noise as in `errors`, batch norm re-estimated without dropout
    train_loss: np.ndarray          # (E, V, S) mean training cross entropy per epoch (nats)
    two_bin_entropy: np.ndarray     # (E+1, 4) Fig. 7, epochs 0..E (nats)
    unit_entropy: np.ndarray        # (E+1, K, 128) H(Bin(T_3(k))) (nats)
    slopes: np.ndarray              # (K, 128) nats/epoch, epochs 1..E
    cosine_edges: np.ndarray        # (B+1,)
    cosine_counts: np.ndarray       # (V-1, 4, B) deterministic vs each other variant, pairing below
    cosine_mean: np.ndarray         # (V-1, 4)
    dist_edges: np.ndarray          # (F, 5, B+1) pixel space then T_1..T_4; distances / sqrt(d)
    dist_within: np.ndarray         # (F, 5, B)
    dist_between: np.ndarray        # (F, 5, B)
    dropout_pool_means: np.ndarray = field(default_factory=lambda: np.full((2, 2), np.nan))  # (2, 2), see below
    timings: dict = field(default_factory=dict)

    @property
    def epochs(self) -> np.ndarray:
        """Epochs 0..E of the per-epoch measurements, shape (E+1,)."""
        return np.arange(self.two_bin_entropy.shape[0])

    def two_bin_ceiling(self) -> np.ndarray:
        """The largest H(Bin(T_ℓ)) two bins per unit allow, ``min(ln n_analysis, d_ℓ ln 2)``
        nats per layer, shape (4,): ln n for T_1–T_3, ln 2¹⁰ = 6.93 for the 10 logits
        (T_4 when ``dense2`` is 0)."""
        return np.minimum(math.log(self.config.n_analysis),
                          np.asarray(layer_dims(self.config.dense2), dtype=float) * math.log(2))

    def errors_per_seed(self) -> dict:
        """Per model, the validation errors per 10,000 of every seed: ``{"noise_on":
        [...], "noise_off": [...], "bn_recalibrated": [...]}`` (lists of length S;
        ``noise_on`` is Table 1's protocol when ``noisy_eval``)."""
        return {name: {"noise_on": [float(e) for e in self.errors[v]],
                       "noise_off": [float(e) for e in self.errors_noise_off[v]],
                       "bn_recalibrated": [float(e) for e in self.errors_bn_recalibrated[v]]}
                for v, name in enumerate(self.variants)}

    def table1(self) -> list[dict]:
        """Rows of Table 1: ours (mean, std over seeds) beside the paper's."""
        rows = []
        for v, name in enumerate(self.variants):
            e, off = self.errors[v], self.errors_noise_off[v]
            rows.append({"model": name, "mean": float(e.mean()),
                         "std": float(e.std(ddof=1)) if e.size > 1 else float("nan"),
                         "mean_noise_off": float(off.mean()),
                         "mean_bn_recalibrated": float(np.mean(self.errors_bn_recalibrated[v])),
                         "paper_mean": PAPER_TABLE1[name][0], "paper_std": PAPER_TABLE1[name][1]})
        return rows

    def slope_summary(self) -> list[dict]:
        """Per bin size: the least-squares slopes of H(Bin(T_3(k))) against the epoch
        over the whole run (epochs 1..E, as the paper's 1–128), one per unit k of layer 3:
        their mean, std (ddof 1), 10th/50th/90th percentiles (nats/epoch) and the fraction
        of units with a negative slope (the paper: every mean ≤ −0.002, std ≤ 0.001)."""
        return [{"bin_size": float(b), "mean": float(s.mean()), "std": float(s.std(ddof=1)),
                 "fraction_negative": float((s < 0).mean()), "q10": float(np.quantile(s, 0.1)),
                 "median": float(np.median(s)), "q90": float(np.quantile(s, 0.9))}
                for b, s in zip(self.config.bin_sizes, self.slopes)]

    def distance_overlap(self) -> np.ndarray:
        """Overlap ``Σ_b min(p_within(b), p_between(b))`` of the normalised within- and
        between-class distance histograms, shape (F, 5) (pixels, T_1..T_4): 1 when the
        two distributions coincide, 0 when they are separated."""
        w = self.dist_within / np.maximum(self.dist_within.sum(-1, keepdims=True), 1)  # (F, 5, B)
        b = self.dist_between / np.maximum(self.dist_between.sum(-1, keepdims=True), 1)
        return np.minimum(w, b).sum(-1)

    def summary(self) -> dict:
        """Headline numbers: Table 1, the slope summary, the Fig. 7 ceiling, timings."""
        return {"variants": list(self.variants), "table1": self.table1(), "errors_per_seed": self.errors_per_seed(),
                "slopes": self.slope_summary(), "two_bin_entropy_ceiling": math.log(self.config.n_analysis),
                "two_bin_ceiling_per_layer": [float(v) for v in self.two_bin_ceiling()],
                "dropout_pool_means": [[None if math.isnan(v) else float(v) for v in row]
                                       for row in np.asarray(self.dropout_pool_means, dtype=float)],
                "timings": dict(self.timings)}

    @classmethod
    def from_arrays(cls, config: MnistConfig, arrays: dict, summary: dict, provenance: Provenance):
        """Rebuild from a stored run: the arrays, plus ``variants`` and ``timings`` from
        the summary. A run whose variants differ from :data:`VARIANTS` was made by
        other code: :class:`~infoflow_core.results.StaleResultsError`."""
        variants = tuple(summary.get("variants", ()))
        if variants != _VARIANT_NAMES:
            raise StaleResultsError(f"stored mnist results have variants {list(variants)}, "
                                    f"the code has {list(_VARIANT_NAMES)}")
        arrays = dict(arrays)
        for k, shape in cls.OPTIONAL_ARRAYS.items():
            arrays.setdefault(k, np.full(shape, np.nan))
        missing = [k for k in cls.ARRAYS if k not in arrays]
        if missing:
            raise ValueError(f"stored arrays lack {missing} for {cls.__name__}")
        return cls(config=config, provenance=provenance, variants=variants, timings=dict(summary.get("timings", {})),
                   **{k: arrays[k] for k in cls.ARRAYS})

    def describe(self) -> str:
        """Where these numbers come from: scale, sizes, provenance and the time spent training."""
        c = self.config
        train = self.timings.get("train_s")
        training = f" (training {train:.0f} s)" if train is not None else ""
        schedule = "" if c.lr_schedule == "constant" else f", {c.lr_schedule} learning rate from {c.lr:g}"
        schedule += f", images shifted by up to {c.shift} px" if c.shift else ""
        return (f"{c.scale} scale: {c.n_seeds} seeds × {len(self.variants)} variants, {c.n_train} training "
                f"images, {c.epochs} epochs, batch {c.batch_size}{schedule}, Table 1 on {c.n_val} validation images, "
                f"analysis on {c.n_analysis}; {self.provenance.describe()}{training}")


# ----------------------------------------------------------------------------- training

@torch.no_grad()
def _eval_errors(stack: StackedMnistCNN, x: torch.Tensor, y: torch.Tensor, generator,
                 chunk_size: int = 250) -> torch.Tensor:
    """Misclassified counts per model, shape (M,), for images ``x`` (n, 28, 28), labels ``y`` (n,)."""
    wrong = torch.zeros(stack.n_models, dtype=torch.long, device=x.device)
    for start in range(0, x.shape[0], chunk_size):
        logits = stack(x[start:start + chunk_size], generator)  # (c, M, 10)
        wrong += (logits.argmax(-1) != y[start:start + chunk_size, None]).sum(0)
    return wrong.cpu()


@torch.no_grad()
def _layers(net: MnistCNN, x: torch.Tensor, chunk_size: int = 500) -> list[torch.Tensor]:
    """[T_1..T_4] of one model in its current mode, each (n, d_ℓ)."""
    parts = [net.representations(x[s:s + chunk_size]) for s in range(0, x.shape[0], chunk_size)]
    return [torch.cat([p[k] for p in parts]) for k in range(4)]


def _dist_edges(t: torch.Tensor, kind: str, n_bins: int) -> torch.Tensor:
    """Histogram edges for the RMS distances ``‖t_i − t_j‖ / sqrt(d)`` of ``t`` (n, d),
    already divided by sqrt(d): [0, 1] for pixels in [0, 1], [0, 2] for tanh layers, and
    [0, 2 max_i ‖t_i − mean‖] (a bound by the triangle inequality) for the logits."""
    if kind == "pixels":
        top = 1.0
    elif kind == "tanh":
        top = 2.0
    else:
        top = 2.0 * float((t - t.mean(0)).norm(dim=1).max()) * 1.0001 + 1e-12
    return torch.linspace(0.0, top, n_bins + 1, dtype=torch.float64)


class _Analysis:
    """The per-epoch measurements of the tracked (dropout) model: Fig. 7, the per-unit
    entropies and, at ``fig8_epochs``, the Fig. 8 histograms. Arrays as in
    :class:`MnistResults`."""

    def __init__(self, config: MnistConfig, x: torch.Tensor, y: torch.Tensor, pixels: torch.Tensor):
        self.config, self.x, self.y, self.pixels = config, x, y, pixels  # (n, 28, 28), (n,), (n, 784)
        E, K, B, F8 = config.epochs, len(config.bin_sizes), config.n_hist_bins, len(config.fig8_epochs)
        self.two_bin = np.zeros((E + 1, 4))
        self.unit_entropy = np.zeros((E + 1, K, LAYER_DIMS[2]))
        self.dist_edges = np.zeros((F8, 5, B + 1))
        self.dist_within = np.zeros((F8, 5, B))
        self.dist_between = np.zeros((F8, 5, B))
        self.seconds = 0.0

    #: What the stack job of seed 0 hands back (:func:`run_mnist` under torchrun).
    STATE = ("two_bin", "unit_entropy", "dist_edges", "dist_within", "dist_between", "seconds")

    def __call__(self, net: MnistCNN, epoch: int) -> None:
        t0 = time.perf_counter()
        c = self.config
        net.eval()
        layers = _layers(net, self.x)  # [T_1..T_4], each (n, d_ℓ)
        for ell, t in enumerate(layers):
            self.two_bin[epoch, ell] = two_bin_entropy(t)
        for k, b in enumerate(c.bin_sizes):
            self.unit_entropy[epoch, k] = binned_entropy_per_unit(layers[2], bin_size=b).cpu().numpy()  # (128,)
        if epoch in c.fig8_epochs:
            f = c.fig8_epochs.index(epoch)
            kinds = ["pixels", "tanh", "tanh", "tanh", "tanh" if c.dense2 else "logits"]
            for j, (t, kind) in enumerate(zip([self.pixels] + layers, kinds)):
                t = t.double() / math.sqrt(t.shape[1])  # (n, d): distances become RMS per unit
                edges = _dist_edges(t, kind, c.n_hist_bins).to(t.device)  # (B+1,)
                # float64 Gram distances: 15x faster for the wide layers, errors ~1e-12 in d².
                w, btw = pairwise_distance_histograms(t, self.y, edges, method="gram")  # (B,), (B,)
                self.dist_edges[f, j] = edges.cpu().numpy()
                self.dist_within[f, j], self.dist_between[f, j] = w.cpu().numpy(), btw.cpu().numpy()
        self.seconds += time.perf_counter() - t0


def _subset(n_all: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """A random subset of ``n`` of ``range(n_all)`` (all, in order, when ``n == n_all``)."""
    return torch.randperm(n_all, generator=generator)[:n] if n < n_all else torch.arange(n_all)


@torch.no_grad()
def dropout_pool_means(net: MnistCNN, x: torch.Tensor, p: float | None = None, *,
                       chunk_size: int = 250) -> np.ndarray:
    """How much inverted dropout *before* max-pooling moves the mean of the pooled
    convolutional units of ``net``, measured exactly on its activations.

    For each image of ``x`` and each 2×2 pooling window of the tanh outputs of
    convolutional blocks 1 and 2 (``net`` in eval mode: no dropout, batch norm as
    stored), the max-pooled value ``max_i h_i`` and the expected max-pooled value with
    inverted dropout before the pooling, ``E max_i m_i h_i / (1 − p)``
    (:func:`~infoflow_core.models.mnist.expected_max_inverted_dropout`, exact over the 16
    masks), averaged over images, channels and windows. Block 2 reads block 1's
    dropout-free output.

    Parameters
    ----------
    net : MnistCNN
    x : Tensor, shape (n, 28, 28)
    p : float, optional
        Dropout probability (default ``net.p``; must be > 0).

    Returns
    -------
    ndarray, shape (2, 2)
        ``[block, 0]``: mean max-pooled tanh value without dropout; ``[block, 1]``: its
        expectation with dropout before pooling (units of the tanh outputs, in [−1, 1]).
        The difference is the mean shift that the next layer sees in training only.
    """
    p = net.p if p is None else p
    if not 0.0 < float(p) < 1.0:
        raise ValueError(f"p must be in (0, 1) (a dropout probability), got {p!r}")
    if x.dim() != 3 or tuple(x.shape[1:]) != (28, 28) or x.shape[0] == 0:
        raise ValueError(f"x must have shape (n, 28, 28) with n >= 1, got {tuple(x.shape)}")
    was_training = net.training
    net.eval()
    sums = np.zeros((2, 2))
    counts = np.zeros(2)
    try:
        for start in range(0, x.shape[0], chunk_size):
            t = x[start:start + chunk_size].unsqueeze(1)  # (c, 1, 28, 28)
            for block, (conv, bn) in enumerate(((net.conv1, net.bn1), (net.conv2, net.bn2))):
                h = torch.tanh(bn(conv(t))).double()  # (c, C, H, W)
                c, C, H, W = h.shape
                win = h.reshape(c, C, H // 2, 2, W // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(c, C, H // 2, W // 2, 4)
                sums[block, 0] += float(win.amax(-1).sum())
                sums[block, 1] += float(expected_max_inverted_dropout(win, float(p)).sum())
                counts[block] += win[..., 0].numel()
                t = F.max_pool2d(torch.tanh(bn(conv(t))), 2)  # block 2 reads block 1's pooled output
    finally:
        net.train(was_training)
    return sums / counts[:, None]


def _recalibrated(net: MnistCNN, x: torch.Tensor) -> MnistCNN:
    """A copy of ``net`` (eval mode) with its batch-norm statistics re-estimated on ``x``
    (n, 28, 28) with dropout and noise off (:meth:`StackedMnistCNN.recalibrate_batch_norm`)."""
    return StackedMnistCNN.from_models([net]).recalibrate_batch_norm(x, noise=False).model(0).eval()


def run_mnist(config: MnistConfig, *, data: MNIST | None = None, device=None, progress: bool = True,
              checkpoints: Checkpoints | None = None) -> MnistResults:
    """Train the models of Table 1 and measure everything the chapter shows.

    Parameters
    ----------
    config : MnistConfig
        Every random draw comes from generators seeded by ``config.seed``: subsets,
        initial weights (one per seed, shared by the six variants), batch order (one
        per seed) and noise/dropout (one per stack).
    data : MNIST, optional
        The data set (default: :func:`~infoflow_core.data.mnist.load_mnist`).
    device : str or torch.device, optional
        ``None``/``"auto"``: CUDA when available, else the CPU.
    progress : bool
        Show progress bars (training with the time left, the per-epoch analysis, the
        evaluation).
    checkpoints : Checkpoints, optional
        Where to keep the progress (``python -m infoflow_core mnist`` passes
        ``DIR/checkpoints``). After every epoch of a stack of seeds (key
        ``stack<first seed>``) it holds the stack's weights and batch-norm statistics,
        the optimizer's momentum, the states of the batch-order and noise generators,
        the training losses and timings so far and, for the stack of seed 0, the
        per-epoch analysis so far; once a stack is evaluated, its finished results. Run
        again with the same configuration, a finished stack is not trained again and an
        unfinished one continues after its last saved epoch: the arrays equal those of
        an uninterrupted run bit for bit (same device type and thread count; the
        learning-rate schedule is a function of the epoch). Only the timings differ.

    Returns
    -------
    MnistResults

    Notes
    -----
    Under ``torchrun`` (a default ``torch.distributed`` process group with more than one
    rank, as ``python -m infoflow_core`` sets up) the stacks of seeds are spread over the
    ranks (:func:`~infoflow_core.experiments._common.run_sharded`: rank r trains stacks r,
    r + world, …) and gathered on every rank; every stack seeds its own generators, so
    every rank returns the one-process results (the cosine sums are added in the
    one-process order). ``n_seeds / (models_per_stack // 6)`` stacks (one seed per stack
    when ``models_per_stack < 6``): lower ``models_per_stack`` to have at least one stack
    per rank. The timings add up the ranks' seconds.
    """
    if not isinstance(config, MnistConfig):
        raise ValueError(f"config must be an MnistConfig (MnistConfig.for_scale(...)), got {type(config).__name__}")
    if checkpoints is not None and not isinstance(checkpoints, Checkpoints):
        raise ValueError(f"checkpoints must be a Checkpoints or None, got {type(checkpoints).__name__}")
    t_start = time.perf_counter()
    device = resolve_device(device)
    dtype = getattr(torch, config.dtype)
    data = load_mnist() if data is None else data
    root = torch.Generator().manual_seed(config.seed)
    n_train_all, n_val_all = data.train_images.shape[0], data.test_images.shape[0]
    if config.n_train > n_train_all or config.n_val > n_val_all:
        raise ValueError(f"config asks for {config.n_train} training and {config.n_val} validation images; "
                         f"the data has {n_train_all} and {n_val_all}")
    train_idx = _subset(n_train_all, config.n_train, root)  # (N,)
    val_idx = _subset(n_val_all, config.n_val, root)  # (n_val,)
    x_train = MNIST.normalise(data.train_images[train_idx], dtype=dtype).to(device)  # (N, 28, 28)
    y_train = data.train_labels[train_idx].to(device)  # (N,)
    x_val = MNIST.normalise(data.test_images[val_idx], dtype=dtype).to(device)  # (n_val, 28, 28)
    y_val = data.test_labels[val_idx].to(device)  # (n_val,)
    x_ana, y_ana = x_val[:config.n_analysis], y_val[:config.n_analysis]
    pixels_ana = MNIST.pixels(data.test_images[val_idx[:config.n_analysis]], dtype=dtype).to(device).flatten(1)

    n_var, n_seeds, n_epochs = len(VARIANTS), config.n_seeds, config.epochs
    seeds_per_stack = max(1, config.models_per_stack // n_var)
    firsts = list(range(0, n_seeds, seeds_per_stack))
    seed_values = [config.seed * 1000 + s + 1 for s in range(n_seeds)]
    B = config.n_hist_bins
    recal_analysis = config.analysis_bn == "recalibrated"

    errors = np.zeros((n_var, n_seeds))
    errors_off = np.zeros((n_var, n_seeds))
    errors_bn = np.full((n_var, n_seeds), np.nan)
    train_loss = np.zeros((n_epochs, n_var, n_seeds))
    cos_edges = torch.linspace(-1.0, 1.0, B + 1, dtype=torch.float64)
    cos_counts = np.zeros((n_var - 1, 4, B))
    cos_sum = np.zeros((n_var - 1, 4))
    pool_means = np.full((2, 2), np.nan)
    analysis = _Analysis(config, x_ana, y_ana, pixels_ana)
    train_s = eval_s = 0.0
    scale10k = 10000.0 / config.n_val

    # What the checkpoints already hold: epochs done per stack (all of them when finished).
    saved = {first: checkpoints.load(f"stack{first}") if checkpoints is not None else None for first in firsts}
    epochs_done = {first: (n_epochs if s.get("done") else int(s["epoch"])) if s is not None else 0
                   for first, s in saved.items()}

    def stack_seeds(first: int) -> list:
        return list(range(first, min(n_seeds, first + seeds_per_stack)))

    n_steps = math.ceil(config.n_train / config.batch_size)
    todo_steps = sum(len(stack_seeds(f)) * (n_epochs - epochs_done[f]) * n_steps for f in firsts)
    todo_epochs = n_epochs + 1 - (min(epochs_done[0] + 1, n_epochs + 1) if saved[0] is not None else 0)
    bar = progress_bar(todo_steps, progress, "MNIST: training (seed-batches)", leave=False)
    bar_analysis = progress_bar(todo_epochs, progress, "MNIST: analysis of the dropout model", leave=False,
                                unit="epoch")
    eval_phases = 4 if config.batch_norm else 3  # errors, noise off, (batch norm re-estimated), cosines
    n_todo_eval = sum(1 for f in firsts if not (saved[f] or {}).get("done"))
    bar_eval = progress_bar(n_todo_eval * eval_phases, progress, "MNIST: evaluation", leave=False, unit="phase")

    def analysed_model(stack: StackedMnistCNN) -> MnistCNN:
        net = stack.model(_DROPOUT)
        return _recalibrated(net, x_train) if recal_analysis else net

    def analyse(stack: StackedMnistCNN, epoch: int) -> None:
        analysis(analysed_model(stack), epoch)
        if bar_analysis is not None:
            bar_analysis.update(1)

    def eval_done() -> None:
        if bar_eval is not None:
            bar_eval.update(1)

    def stack_job(first: int) -> dict:
        """Train and evaluate the stack of seeds first, first + 1, …: its own generators
        (initial weights and batch order per seed, noise from ``first``), so the result
        does not depend on the other stacks; returned as numpy arrays and floats.
        Resumed from / saved to ``checkpoints`` under ``stack<first>``."""
        key = f"stack{first}"
        state = saved.pop(first)
        tracked = first == 0  # the dropout model of seed 0 is measured every epoch
        if state is not None and state.get("done"):
            out = from_state(state["out"])
            out["chunk_seeds"] = list(out["chunk_seeds"])
            if tracked:
                for k, value in out["analysis"].items():
                    setattr(analysis, k, value)
            return out
        chunk_seeds = stack_seeds(first)
        out = {"chunk_seeds": chunk_seeds, "train_loss": np.zeros((n_epochs, n_var, len(chunk_seeds))),
               "cos_counts": np.zeros((n_var - 1, 4, B)), "cos_sums": [], "train_s": 0.0, "analysis": None}
        models = []
        for s in chunk_seeds:
            for _, beta, p in VARIANTS:  # same initial weights for every variant of seed s
                g = torch.Generator().manual_seed(seed_values[s])
                models.append(MnistCNN(beta, p, batch_norm=config.batch_norm, generator=g,
                                       dropout_placement=config.dropout_placement, dense2=config.dense2).to(dtype))
        stack = StackedMnistCNN.from_models(models).to(device)
        stack.train()
        m_total = stack.n_models  # models ordered seed-major: m = i * V + v
        opt = torch.optim.SGD(stack.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay)
        order_gens = [torch.Generator().manual_seed(seed_values[s] + 7919) for s in chunk_seeds]
        noise_gen = torch.Generator(device=device).manual_seed(config.seed * 1000 + 104729 + first)
        shift_gen = torch.Generator().manual_seed(config.seed * 1000 + 15485863 + first)  # augmentation offsets
        start = 1
        if state is not None:  # continue after the last saved epoch
            stack.load_state_dict(state["stack"])
            opt.load_state_dict(state["optimizer"])
            for g, g_state in zip(order_gens, state["order_gens"]):
                g.set_state(g_state)
            noise_gen.set_state(state["noise_gen"])
            if state.get("shift_gen") is not None:
                shift_gen.set_state(state["shift_gen"])
            out["train_loss"] = state["train_loss"].numpy().copy()
            out["train_s"] = float(state["train_s"])
            if tracked:
                for k, value in from_state(state["analysis"]).items():
                    setattr(analysis, k, value)
            start = int(state["epoch"]) + 1
        elif tracked:
            analyse(stack, 0)
        for epoch in range(start, n_epochs + 1):
            t0 = time.perf_counter()
            for group in opt.param_groups:
                group["lr"] = config.lr_at(epoch)
            perms_seed = torch.stack([torch.randperm(config.n_train, generator=g) for g in order_gens])  # (S_c, N)
            perms_seed = perms_seed.to(device)
            perms = perms_seed.repeat_interleave(n_var, dim=0)  # (M, N)
            loss_sum = torch.zeros(m_total, dtype=torch.float64, device=device)
            for step in range(n_steps):
                idx = perms[:, step * config.batch_size:(step + 1) * config.batch_size]  # (M, b)
                if config.shift:  # one offset per image and seed, shared by the seed's variants
                    xs = random_shift(x_train[perms_seed[:, step * config.batch_size:(step + 1) * config.batch_size]],
                                      config.shift, shift_gen)  # (S_c, b, 28, 28)
                    xb = xs.repeat_interleave(n_var, dim=0).transpose(0, 1)  # (b, M, 28, 28)
                else:
                    xb = x_train[idx].transpose(0, 1)  # (b, M, 28, 28)
                yb = y_train[idx].transpose(0, 1)  # (b, M)
                logits = stack(xb, noise_gen)  # (b, M, 10)
                per_model = F.cross_entropy(logits.reshape(-1, 10), yb.reshape(-1),
                                            reduction="none").reshape(yb.shape).mean(0)  # (M,)
                opt.zero_grad(set_to_none=True)
                per_model.sum().backward()  # parameters are disjoint: each model gets its own gradient
                opt.step()
                loss_sum += per_model.detach().double() * idx.shape[1]
                if bar is not None:
                    bar.update(len(chunk_seeds))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            out["train_s"] += time.perf_counter() - t0
            losses = (loss_sum / config.n_train).cpu().numpy().reshape(len(chunk_seeds), n_var)  # (S_c, V)
            out["train_loss"][epoch - 1] = losses.T
            if tracked:
                analyse(stack, epoch)
            if checkpoints is not None:
                checkpoints.save(key, {
                    "epoch": epoch, "stack": stack.state_dict(), "optimizer": opt.state_dict(),
                    "order_gens": [g.get_state() for g in order_gens], "noise_gen": noise_gen.get_state(),
                    "shift_gen": shift_gen.get_state(),
                    "train_loss": torch.from_numpy(out["train_loss"].copy()), "train_s": out["train_s"],
                    "analysis": to_state({k: getattr(analysis, k) for k in _Analysis.STATE}) if tracked else None})
        # Table 1 and Fig. 3 for this stack.
        t0 = time.perf_counter()
        stack.eval()
        stack.noisy_eval = config.noisy_eval
        wrong = _eval_errors(stack, x_val, y_val, noise_gen).numpy().reshape(len(chunk_seeds), n_var)  # (S_c, V)
        out["errors"] = wrong.T * scale10k
        eval_done()
        stack.noisy_eval = False
        wrong_off = _eval_errors(stack, x_val, y_val, noise_gen).numpy().reshape(len(chunk_seeds), n_var)
        out["errors_off"] = wrong_off.T * scale10k
        eval_done()
        recal = None
        if config.batch_norm:  # the same weights, batch norm re-estimated without dropout (a copy)
            recal = copy.deepcopy(stack).recalibrate_batch_norm(x_train, noise=config.noisy_eval, generator=noise_gen)
            recal.noisy_eval = config.noisy_eval
            wrong_bn = _eval_errors(recal, x_val, y_val, noise_gen).numpy().reshape(len(chunk_seeds), n_var)
            out["errors_bn"] = wrong_bn.T * scale10k
            eval_done()
        measured = recal if recal_analysis else stack  # Fig. 3 on the models the analysis measures
        measured.noisy_eval = False  # noise off: no random draws
        for start_img in range(0, config.n_analysis, 250):  # chunks: 48 models × 10,000 images would not fit at once
            with torch.no_grad():
                reps = measured.representations(x_ana[start_img:start_img + 250])  # 4 × (c, M, d_ℓ), noise, dropout off
            for i in range(len(chunk_seeds)):
                for v in range(1, n_var):
                    for ell, r in enumerate(reps):
                        c = cosine_similarities(r[:, i * n_var], r[:, i * n_var + v]).double().cpu()  # (c,)
                        out["cos_counts"][v - 1, ell] += torch.histc(c, B, -1.0, 1.0).numpy()
                        out["cos_sums"].append((v - 1, ell, float(c.sum())))
        del recal
        eval_done()
        out["eval_s"] = time.perf_counter() - t0
        if tracked:  # the analysis of the dropout model of seed 0, for every rank
            if config.dropout_placement == "before_pool":  # the shift this placement causes, on the trained model
                out["pool_means"] = dropout_pool_means(analysed_model(stack), x_ana[:1000])
            out["analysis"] = {k: getattr(analysis, k) for k in _Analysis.STATE}
        if checkpoints is not None:
            checkpoints.save(key, {"done": True, "out": to_state(out)})
        return out

    # The stacks are independent: under torchrun run_sharded spreads them over the ranks
    # and gathers them in order; the cosine sums are added in the one-process order.
    for res in run_sharded(firsts, stack_job):
        chunk_seeds = res["chunk_seeds"]
        errors[:, chunk_seeds] = res["errors"]
        errors_off[:, chunk_seeds] = res["errors_off"]
        if "errors_bn" in res:
            errors_bn[:, chunk_seeds] = res["errors_bn"]
        if "pool_means" in res:
            pool_means = res["pool_means"]
        train_loss[:, :, chunk_seeds] = res["train_loss"]
        cos_counts += res["cos_counts"]  # integer counts: exact in any order
        for v, ell, value in res["cos_sums"]:
            cos_sum[int(v), int(ell)] += value
        train_s += res["train_s"]
        eval_s += res["eval_s"]
        if res["analysis"] is not None:
            for k, value in res["analysis"].items():
                setattr(analysis, k, value)
    for b in (bar, bar_analysis, bar_eval):
        if b is not None:
            b.close()

    ep = np.arange(1, n_epochs + 1)
    K = len(config.bin_sizes)
    slopes = regression_slopes(analysis.unit_entropy[1:], ep) if n_epochs >= 2 else np.zeros((K, LAYER_DIMS[2]))
    timings = {"train_s": round(train_s, 2), "analysis_s": round(analysis.seconds, 2), "eval_s": round(eval_s, 2),
               "train_s_per_model_epoch": round(train_s / (n_seeds * n_var * n_epochs), 4)}
    return MnistResults(
        config=config, provenance=Provenance.now(device, time.perf_counter() - t_start),
        variants=_VARIANT_NAMES, errors=errors, errors_noise_off=errors_off, errors_bn_recalibrated=errors_bn,
        train_loss=train_loss, two_bin_entropy=analysis.two_bin, unit_entropy=analysis.unit_entropy, slopes=slopes,
        cosine_edges=cos_edges.numpy(), cosine_counts=cos_counts, cosine_mean=cos_sum / (n_seeds * config.n_analysis),
        dist_edges=analysis.dist_edges, dist_within=analysis.dist_within, dist_between=analysis.dist_between,
        dropout_pool_means=pool_means, timings=timings,
    )


#: The record the command line ``python -m infoflow_core mnist`` and :func:`mnist_results` use.
EXPERIMENT = Experiment("mnist", "Sections 2, 5.2: the MNIST CNNs (Table 1, Figs. 3, 7, 8)", MnistConfig,
                        MnistResults, run_mnist)


def mnist_results(scale: str | None = None, *, results_dir=None, recompute: bool = False, device=None,
                  progress: bool = True) -> MnistResults:
    """The chapter's results at ``scale`` (default: ``INFOFLOW_SCALE``, else ``book``).

    Stored results under ``<results_dir>/mnist/{full,book}/`` when they were made with
    the code's preset (a stored run with another configuration raises
    :class:`~infoflow_core.results.StaleResultsError`); computed by :func:`run_mnist`
    at the ``quick`` scale, without stored results, or with ``recompute=True``. See
    :func:`~infoflow_core.results.load_or_run`.
    """
    return load_or_run(EXPERIMENT, MnistConfig.for_scale(scale), results_dir=results_dir, recompute=recompute,
                       device=device, progress=progress)
