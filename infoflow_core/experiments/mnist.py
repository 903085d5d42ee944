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

Command line (writes ``summary.json`` and ``arrays.npz``)::

    python -m infoflow_core mnist --scale {quick,book,full} --out DIR
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..binning import binned_entropy_per_unit
from ..clustering import cosine_similarities, pairwise_distance_histograms
from ._progress import progress_bar
from ..data.mnist import MNIST, load_mnist
from ..models.mnist import LAYER_DIMS, MnistCNN, StackedMnistCNN
from ..scales import SCALES

__all__ = ["MnistConfig", "MnistResults", "mnist_config", "run_mnist", "mnist_results", "PAPER_TABLE1",
           "VARIANTS", "two_bin_entropy", "regression_slopes", "main"]

#: (name, β, dropout p) of the six models of Table 1, in the paper's order.
VARIANTS = (
    ("Deterministic", 0.0, 0.0),
    ("Noisy (β = 0.05)", 0.05, 0.0),
    ("Noisy (β = 0.1)", 0.1, 0.0),
    ("Noisy (β = 0.2)", 0.2, 0.0),
    ("Noisy (β = 0.5)", 0.5, 0.0),
    ("Dropout (p = 0.2)", 0.0, 0.2),
)

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


@dataclass(frozen=True)
class MnistConfig:
    """Everything that defines an MNIST run.

    Attributes
    ----------
    scale : str
        ``quick``, ``book`` or ``full`` (only sizes differ).
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
    batch_size, lr, momentum : int, float, float
        Mini-batch SGD on the cross entropy (our choice: batch 32, lr 5·10⁻³,
        momentum 0.9; the paper is silent).
    batch_norm : bool
        Batch norm before each hidden tanh (our choice).
    noisy_eval : bool
        Evaluate Table 1 with the Gaussian noise on (the noisy network *is* the model;
        dropout is off at evaluation as usual). Errors with the noise off are kept too.
    models_per_stack : int
        Models trained together in one stacked module (48 on a GPU: all of Table 1).
    bin_sizes : tuple of float
        Bin sizes for the per-unit entropies H(Bin(T_3(k))).
    fig8_epochs : tuple of int
        Epochs of the pairwise-distance histograms (the paper: 0, 1, 32, 128).
    n_hist_bins : int
        Bins of the cosine-similarity and distance histograms.
    seed : int
        Root of every generator (subsets, initial weights, batch order, noise).
    device, dtype : str
        Where and in what precision to train.
    """

    scale: str = "quick"
    n_train: int = 1000
    n_val: int = 1000
    n_analysis: int = 500
    epochs: int = 2
    n_seeds: int = 2
    batch_size: int = 32
    lr: float = 5e-3
    momentum: float = 0.9
    batch_norm: bool = True
    noisy_eval: bool = True
    models_per_stack: int = 6
    bin_sizes: tuple = (1e-4, 1e-3, 1e-2, 1e-1)
    fig8_epochs: tuple = (0, 1, 2)
    n_hist_bins: int = 100
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        for name in ("n_train", "n_val", "n_analysis", "epochs", "n_seeds", "batch_size", "models_per_stack",
                     "n_hist_bins"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_train > 60000 or self.n_val > 10000:
            raise ValueError(f"n_train <= 60000 and n_val <= 10000, got {self.n_train}, {self.n_val}")
        if self.n_analysis > self.n_val:
            raise ValueError(f"n_analysis ({self.n_analysis}) must be <= n_val ({self.n_val})")
        if any(not 0 <= e <= self.epochs for e in self.fig8_epochs):
            raise ValueError(f"fig8_epochs must lie in [0, {self.epochs}], got {self.fig8_epochs}")


def mnist_config(scale: str, **overrides) -> MnistConfig:
    """The configuration of ``scale`` (``quick``: CI, ~20 s on a CPU; ``book``: ~20–30 min
    on one CPU core; ``full``: the paper's protocol, 48 models × 128 epochs on a GPU)."""
    cuda = "cuda" if torch.cuda.is_available() else "cpu"
    presets = {
        "quick": dict(n_train=640, n_val=400, n_analysis=250, epochs=2, n_seeds=2, fig8_epochs=(0, 1, 2)),
        "book": dict(n_train=8000, n_val=10000, n_analysis=2000, epochs=6, n_seeds=3, fig8_epochs=(0, 1, 2, 6)),
        "full": dict(n_train=60000, n_val=10000, n_analysis=10000, epochs=128, n_seeds=8,
                     fig8_epochs=(0, 1, 32, 128), models_per_stack=48, device=cuda),
    }
    if scale not in presets:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return MnistConfig(scale=scale, **{**presets[scale], **overrides})


# ----------------------------------------------------------------------------- measures

def two_bin_entropy(t: torch.Tensor) -> float:
    """H(Bin(T)) in nats with two bins per unit, [−1, 0] and (0, 1] (Fig. 7): the
    entropy of the empirical distribution of the sign patterns ``t > 0``.

    Parameters
    ----------
    t : Tensor, shape (n, d)

    Returns
    -------
    float
        Between 0 and ln n (ln n when all n patterns differ: the map is injective).
    """
    if t.dim() != 2 or t.shape[0] == 0:
        raise ValueError(f"t must have shape (n, d) with n >= 1, got {tuple(t.shape)}")
    codes = (t > 0).to(torch.uint8)  # (n, d) one bit per unit
    _, counts = torch.unique(codes, dim=0, return_counts=True)  # (k,)
    p = counts.double() / t.shape[0]
    return float(-(p * p.log()).sum())


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
    """
    x = np.asarray(epochs, dtype=float)
    y = np.asarray(values, dtype=float)
    if y.shape[0] != x.shape[0] or x.shape[0] < 2:
        raise ValueError(f"values must have one row per epoch (>= 2), got {y.shape} for {x.shape[0]} epochs")
    xc = x - x.mean()
    yc = y - y.mean(axis=0)
    return np.tensordot(xc, yc, axes=(0, 0)) / (xc @ xc)


# ----------------------------------------------------------------------------- results

@dataclass
class MnistResults:
    """Everything the MNIST chapter shows, from :func:`run_mnist` or a stored run.

    Errors are counts per 10,000 validation images (rescaled when fewer were used);
    entropies in nats. Shapes: V = 6 variants, S seeds, E epochs, K bin sizes,
    F = len(fig8_epochs), B = histogram bins.
    """

    config: dict
    variants: list
    errors: np.ndarray              # (V, S) Table 1, noise on at evaluation
    errors_noise_off: np.ndarray    # (V, S) the same models with the noise off
    errors_bn_recalibrated: np.ndarray  # (V, S) noise as in `errors`, batch norm re-estimated without dropout
    train_loss: np.ndarray          # (E, V, S) mean training cross entropy per epoch
    two_bin_entropy: np.ndarray     # (E+1, 4) Fig. 7, epochs 0..E
    unit_entropy: np.ndarray        # (E+1, K, 128) H(Bin(T_3(k)))
    slopes: np.ndarray              # (K, 128) nats/epoch, epochs 1..E
    cosine_edges: np.ndarray        # (B+1,)
    cosine_counts: np.ndarray       # (V-1, 4, B) deterministic vs each other variant
    cosine_mean: np.ndarray         # (V-1, 4)
    dist_edges: np.ndarray          # (F, 5, B+1) pixel space then T_1..T_4; distances / sqrt(d)
    dist_within: np.ndarray         # (F, 5, B)
    dist_between: np.ndarray        # (F, 5, B)
    timings: dict = field(default_factory=dict)
    device: str = "cpu"
    source: str = "computed in this session"

    @property
    def epochs(self) -> np.ndarray:
        return np.arange(self.two_bin_entropy.shape[0])

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
        """Per bin size: mean and std over the 128 units of the slope (nats/epoch)."""
        return [{"bin_size": float(b), "mean": float(s.mean()), "std": float(s.std(ddof=1)),
                 "fraction_negative": float((s < 0).mean())}
                for b, s in zip(self.config["bin_sizes"], self.slopes)]

    def distance_overlap(self) -> np.ndarray:
        """Overlap ``Σ_b min(p_within(b), p_between(b))`` of the normalised within- and
        between-class distance histograms, shape (F, 5) (pixels, T_1..T_4): 1 when the
        two distributions coincide, 0 when they are separated."""
        w = self.dist_within / np.maximum(self.dist_within.sum(-1, keepdims=True), 1)  # (F, 5, B)
        b = self.dist_between / np.maximum(self.dist_between.sum(-1, keepdims=True), 1)
        return np.minimum(w, b).sum(-1)

    def summary(self) -> dict:
        return {"config": self.config, "variants": list(self.variants), "table1": self.table1(),
                "slopes": self.slope_summary(),
                "two_bin_entropy_ceiling": math.log(self.config["n_analysis"]),
                "timings": self.timings, "wall_time_s": self.timings.get("wall_s")}

    _ARRAYS = ("errors", "errors_noise_off", "errors_bn_recalibrated", "train_loss", "two_bin_entropy", "unit_entropy", "slopes",
               "cosine_edges", "cosine_counts", "cosine_mean", "dist_edges", "dist_within", "dist_between")

    def arrays(self) -> dict:
        return {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}

    @classmethod
    def from_stored(cls, run) -> "MnistResults":
        """Rebuild from a :class:`~infoflow_core.results.StoredRun`."""
        s = run.summary
        where = run.path
        try:
            from ..results import RESULTS_ROOT

            where = Path(run.path).resolve().relative_to(RESULTS_ROOT.parent.parent)
        except (ValueError, TypeError):
            pass
        source = f"stored run {where} (written {s.get('date', '?')}, infoflow_core {s.get('version', '?')})"
        arrays = dict(run.arrays)
        arrays.setdefault("errors_bn_recalibrated", np.full_like(arrays["errors"], np.nan))  # older runs
        return cls(config=s["config"], variants=s["variants"], timings=s.get("timings", {}),
                   device=s.get("device", "cpu"), source=source, **{k: arrays[k] for k in cls._ARRAYS})

    def describe(self) -> str:
        """Where these numbers come from: scale, sizes, device, times."""
        c, t = self.config, self.timings
        return (f"{c['scale']} scale, {self.source}: {c['n_seeds']} seeds × {len(self.variants)} variants, "
                f"{c['n_train']} training images, {c['epochs']} epochs, batch {c['batch_size']}, "
                f"Table 1 on {c['n_val']} validation images, analysis on {c['n_analysis']}; "
                f"device {self.device}; training {t.get('train_s', float('nan')):.0f} s, "
                f"total {t.get('wall_s', float('nan')):.0f} s")


# ----------------------------------------------------------------------------- training

@torch.no_grad()
def _eval_errors(stack: StackedMnistCNN, x: torch.Tensor, y: torch.Tensor, generator, chunk: int = 250):
    """Misclassified counts per model, shape (M,)."""
    wrong = torch.zeros(stack.n_models, dtype=torch.long, device=x.device)
    for start in range(0, x.shape[0], chunk):
        logits = stack(x[start:start + chunk], generator)  # (c, M, 10)
        wrong += (logits.argmax(-1) != y[start:start + chunk, None]).sum(0)
    return wrong.cpu()


@torch.no_grad()
def _layers(net: MnistCNN, x: torch.Tensor, chunk: int = 500) -> list[torch.Tensor]:
    """[T_1..T_4] of one model in eval mode, each (n, d_ℓ)."""
    parts = [net.representations(x[s:s + chunk]) for s in range(0, x.shape[0], chunk)]
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


def run_mnist(config: MnistConfig, *, data: MNIST | None = None, progress: bool = True) -> MnistResults:
    """Train the models of Table 1 and measure everything the chapter shows.

    Parameters
    ----------
    config : MnistConfig
        See :func:`mnist_config`. Every random draw comes from generators seeded by
        ``config.seed``: subsets, initial weights (one per seed, shared by the six
        variants), batch order (one per seed) and noise/dropout (one per stack).
    data : MNIST, optional
        The data set (default: :func:`~infoflow_core.data.mnist.load_mnist`).
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    MnistResults
    """
    t_start = time.perf_counter()
    device = torch.device(config.device)
    dtype = getattr(torch, config.dtype)
    data = load_mnist() if data is None else data
    root = torch.Generator().manual_seed(config.seed)
    n_train_all, n_val_all = data.train_images.shape[0], data.test_images.shape[0]
    if config.n_train > n_train_all or config.n_val > n_val_all:
        raise ValueError(f"config asks for {config.n_train} training and {config.n_val} validation images; "
                         f"the data has {n_train_all} and {n_val_all}")
    train_idx = torch.randperm(n_train_all, generator=root)[:config.n_train] if config.n_train < n_train_all \
        else torch.arange(n_train_all)
    val_idx = torch.randperm(n_val_all, generator=root)[:config.n_val] if config.n_val < n_val_all \
        else torch.arange(n_val_all)
    x_train = MNIST.normalise(data.train_images[train_idx], dtype=dtype).to(device)  # (N, 28, 28)
    y_train = data.train_labels[train_idx].to(device)  # (N,)
    x_val = MNIST.normalise(data.test_images[val_idx], dtype=dtype).to(device)  # (n_val, 28, 28)
    y_val = data.test_labels[val_idx].to(device)
    x_ana, y_ana = x_val[:config.n_analysis], y_val[:config.n_analysis]
    pixels_ana = MNIST.pixels(data.test_images[val_idx[:config.n_analysis]], dtype=dtype).to(device).flatten(1)

    n_var, n_seeds, n_epochs = len(VARIANTS), config.n_seeds, config.epochs
    seeds_per_stack = max(1, config.models_per_stack // n_var)
    seed_values = [config.seed * 1000 + s + 1 for s in range(n_seeds)]
    K, B = len(config.bin_sizes), config.n_hist_bins

    errors = np.zeros((n_var, n_seeds))
    errors_off = np.zeros((n_var, n_seeds))
    errors_bn = np.full((n_var, n_seeds), np.nan)
    train_loss = np.zeros((n_epochs, n_var, n_seeds))
    two_bin = np.zeros((n_epochs + 1, 4))
    unit_ent = np.zeros((n_epochs + 1, K, LAYER_DIMS[2]))
    F8 = len(config.fig8_epochs)
    dist_edges = np.zeros((F8, 5, B + 1))
    dist_within = np.zeros((F8, 5, B))
    dist_between = np.zeros((F8, 5, B))
    cos_edges = torch.linspace(-1.0, 1.0, B + 1, dtype=torch.float64)
    cos_counts = np.zeros((n_var - 1, 4, B))
    cos_sum = np.zeros((n_var - 1, 4))
    train_s = analysis_s = eval_s = 0.0

    def analyse(net: MnistCNN, epoch: int):
        net.eval()
        layers = _layers(net, x_ana)  # [T_1..T_4], each (n, d_ℓ)
        for ell, t in enumerate(layers):
            two_bin[epoch, ell] = two_bin_entropy(t)
        for k, b in enumerate(config.bin_sizes):
            unit_ent[epoch, k] = binned_entropy_per_unit(layers[2], bin_size=b).cpu().numpy()  # (128,)
        if epoch in config.fig8_epochs:
            f = config.fig8_epochs.index(epoch)
            for j, (t, kind) in enumerate(zip([pixels_ana] + layers, ["pixels", "tanh", "tanh", "tanh", "logits"])):
                t = t.double() / math.sqrt(t.shape[1])  # (n, d): distances become RMS per unit
                edges = _dist_edges(t, kind, B).to(device)  # (B+1,)
                w, btw = pairwise_distance_histograms(t, y_ana, edges)
                dist_edges[f, j], dist_within[f, j], dist_between[f, j] = edges.cpu().numpy(), w.cpu().numpy(), btw.cpu().numpy()
        net.train()

    n_steps = math.ceil(config.n_train / config.batch_size)
    bar = progress_bar(n_seeds * n_epochs * n_steps, progress, "MNIST: training", leave=False)
    for first in range(0, n_seeds, seeds_per_stack):
        chunk_seeds = list(range(first, min(n_seeds, first + seeds_per_stack)))
        models = []
        for s in chunk_seeds:
            for _, beta, p in VARIANTS:  # same initial weights for every variant of seed s
                g = torch.Generator().manual_seed(seed_values[s])
                models.append(MnistCNN(beta, p, batch_norm=config.batch_norm, generator=g).to(dtype))
        stack = StackedMnistCNN.from_models(models).to(device)
        stack.train()
        m_total = stack.n_models  # models ordered seed-major: m = i * V + v
        opt = torch.optim.SGD(stack.parameters(), lr=config.lr, momentum=config.momentum)
        order_gens = [torch.Generator().manual_seed(seed_values[s] + 7919) for s in chunk_seeds]
        noise_gen = torch.Generator(device=device).manual_seed(config.seed * 1000 + 104729 + first)
        tracked = 0 in chunk_seeds  # the dropout model of seed 0 is measured every epoch
        if tracked:
            t0 = time.perf_counter()
            analyse(stack.model(_DROPOUT), 0)
            analysis_s += time.perf_counter() - t0
        for epoch in range(1, n_epochs + 1):
            t0 = time.perf_counter()
            perms = torch.stack([torch.randperm(config.n_train, generator=g) for g in order_gens])  # (S_c, N)
            perms = perms.repeat_interleave(n_var, dim=0).to(device)  # (M, N)
            loss_sum = torch.zeros(m_total, dtype=torch.float64, device=device)
            for step in range(n_steps):
                idx = perms[:, step * config.batch_size:(step + 1) * config.batch_size]  # (M, b)
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
            train_s += time.perf_counter() - t0
            losses = (loss_sum / config.n_train).cpu().numpy().reshape(len(chunk_seeds), n_var)  # (S_c, V)
            train_loss[epoch - 1][:, chunk_seeds] = losses.T
            if tracked:
                t0 = time.perf_counter()
                analyse(stack.model(_DROPOUT), epoch)
                analysis_s += time.perf_counter() - t0
        # Table 1 and Fig. 3 for this stack.
        t0 = time.perf_counter()
        stack.eval()
        stack.noisy_eval = config.noisy_eval
        wrong = _eval_errors(stack, x_val, y_val, noise_gen).numpy().reshape(len(chunk_seeds), n_var)  # (S_c, V)
        stack.noisy_eval = False
        wrong_off = _eval_errors(stack, x_val, y_val, noise_gen).numpy().reshape(len(chunk_seeds), n_var)
        scale10k = 10000.0 / config.n_val
        errors[:, chunk_seeds] = wrong.T * scale10k
        errors_off[:, chunk_seeds] = wrong_off.T * scale10k
        if config.batch_norm:  # the same weights, batch norm re-estimated without dropout (a copy)
            recal = copy.deepcopy(stack).recalibrate_batch_norm(x_train, noise=config.noisy_eval, generator=noise_gen)
            recal.noisy_eval = config.noisy_eval
            wrong_bn = _eval_errors(recal, x_val, y_val, noise_gen).numpy().reshape(len(chunk_seeds), n_var)
            errors_bn[:, chunk_seeds] = wrong_bn.T * scale10k
            del recal
        for start in range(0, config.n_analysis, 250):  # chunks: 48 models × 10,000 images would not fit at once
            with torch.no_grad():
                reps = stack.representations(x_ana[start:start + 250])  # 4 × (c, M, d_ℓ), noise and dropout off
            for i in range(len(chunk_seeds)):
                for v in range(1, n_var):
                    for ell, r in enumerate(reps):
                        c = cosine_similarities(r[:, i * n_var], r[:, i * n_var + v]).double().cpu()  # (c,)
                        cos_counts[v - 1, ell] += torch.histc(c, B, -1.0, 1.0).numpy()
                        cos_sum[v - 1, ell] += float(c.sum())
        eval_s += time.perf_counter() - t0
    if bar is not None:
        bar.close()

    ep = np.arange(1, n_epochs + 1)
    slopes = regression_slopes(unit_ent[1:], ep) if n_epochs >= 2 else np.zeros((K, LAYER_DIMS[2]))  # (K, 128)
    cfg = asdict(config)
    cfg["bin_sizes"] = list(config.bin_sizes)
    cfg["fig8_epochs"] = list(config.fig8_epochs)
    timings = {"train_s": round(train_s, 2), "analysis_s": round(analysis_s, 2), "eval_s": round(eval_s, 2),
               "wall_s": round(time.perf_counter() - t_start, 2),
               "train_s_per_model_epoch": round(train_s / (n_seeds * n_var * n_epochs), 4)}
    return MnistResults(
        config=cfg, variants=[v[0] for v in VARIANTS], errors=errors, errors_noise_off=errors_off,
        errors_bn_recalibrated=errors_bn,
        train_loss=train_loss, two_bin_entropy=two_bin, unit_entropy=unit_ent, slopes=slopes,
        cosine_edges=cos_edges.numpy(), cosine_counts=cos_counts, cosine_mean=cos_sum / (n_seeds * config.n_analysis),
        dist_edges=dist_edges, dist_within=dist_within, dist_between=dist_between, timings=timings,
        device=str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
    )


def mnist_results(scale: str, *, progress: bool = True, **overrides) -> MnistResults:
    """The chapter's results at ``scale``: stored ones (``full``, else ``book``) when
    present and ``scale`` is not ``quick``; otherwise computed by :func:`run_mnist`."""
    from ..results import find_stored_run

    stored = find_stored_run("mnist", scale) if not overrides else None
    if stored is not None:
        return MnistResults.from_stored(stored)
    return run_mnist(mnist_config(scale, **overrides), progress=progress)


def main(argv: list[str] | None = None) -> int:
    """``python -m infoflow_core mnist --scale S --out DIR``."""
    from ..results import save_run, stored_results_dir

    parser = argparse.ArgumentParser(prog="python -m infoflow_core mnist", description=(
        "Train the six MNIST CNNs of Table 1 for every seed and measure Figs. 3, 7, 8 and the per-unit slopes."))
    parser.add_argument("--scale", choices=SCALES, default="book")
    parser.add_argument("--out", default=None, help="output folder (default book/results/mnist/<scale>)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: the scale's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    overrides = {"seed": args.seed}
    if args.device:
        overrides["device"] = args.device
    config = mnist_config(args.scale, **overrides)
    results = run_mnist(config, progress=not args.no_progress)
    out = args.out or stored_results_dir("mnist", args.scale)
    save_run(out, results.summary(), results.arrays(), device=results.device)
    for row in results.table1():
        print(f"{row['model']:<20} {row['mean']:8.1f} ± {row['std']:6.1f}   (paper {row['paper_mean']} ± "
              f"{row['paper_std']})")
    print(f"wrote {out} in {results.timings['wall_s']:.0f} s")
    return 0
