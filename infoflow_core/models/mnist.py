"""The MNIST CNN of Sections 2 and 5.2 of the paper, alone and as a stack of many
models trained together.

The network (the paper calls it a "four-layer CNN"; the layout follows the lead in
the project's notes, with batch norm)::

    x (1×28×28) ─ conv 5×5, 1→16, pad 2 ─ BN ─ tanh ─ noise|dropout ─ max-pool 2  → T_1 (16×14×14 = 3136)
                ─ conv 5×5, 16→32, pad 2 ─ BN ─ tanh ─ noise|dropout ─ max-pool 2 → T_2 (32×7×7 = 1568)
                ─ linear 1568→128 ─ BN ─ tanh ─ noise|dropout                      → T_3 (128)
                ─ linear 128→10                                                   → T_4 (10, the logits)

``noise`` is :class:`~infoflow_core.noise.GaussianNoise` (``T = S + βZ``); ``dropout``
is inverted dropout with probability ``p``; the deterministic model has neither.
Weights are Xavier-uniform, biases zero.

With ``dense2 = k > 0`` a second dense hidden layer ``linear 128→k ─ BN ─ tanh ─
noise|dropout`` becomes T_4 and the logits (``linear k→10``) are no longer one of the
four measured layers. The reason is the paper's Fig. 7: with two bins per unit a layer
of d units carries at most d ln 2 nats, so 10 logits stay ≤ ln 1024 = 6.93 nats, yet the
paper's four layers all sit near ln 10,000 = 9.21 nats: its fourth layer has ≥ 14 units
(2¹⁴ > 10,000), a hidden layer before the output. :func:`layer_dims` gives the widths.

Where dropout sits in the two convolutional blocks is a choice
(``dropout_placement``): ``"before_pool"`` (the layout above, the lead's) or
``"after_pool"`` (``tanh ─ max-pool 2 ─ dropout``). Inverted dropout keeps the mean of
each unit, but the *maximum* of inverted-dropout values does not: a 2×2 window of four
tanh values at −0.5 with p = 0.2 has an expected max-pooled value of −0.256 instead of
−0.5 (:func:`expected_max_inverted_dropout`), so before pooling, dropout shifts the mean
that the next layer's batch norm sees in training away from the one it sees at
evaluation. After pooling, the mean is kept (only the variance shift remains, which
re-estimating batch norm without dropout removes). Gaussian noise stays before the
pooling in both placements (the noisy network is evaluated with its noise on).

:class:`MnistCNN` is one model (an ordinary ``nn.Module``; the SP estimator's
:func:`~infoflow_core.sample_representations` works on it).
:class:`StackedMnistCNN` holds ``M`` such models in one module: the convolutions are
grouped convolutions with ``groups = M``, the linear layers batched matrix products, and
batch norm over ``M × channels`` channels is exactly per-model batch norm. Each model
reads its own mini-batch, so Table 1's 48 models (6 variants × 8 seeds) train in one
forward/backward pass per step.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_beta, check_positive_int
from ..noise import GaussianNoise

__all__ = ["MnistCNN", "StackedMnistCNN", "LAYER_DIMS", "LAYER_NAMES", "DROPOUT_PLACEMENTS", "layer_dims",
           "expected_max_inverted_dropout"]

#: Width of each representation T_1 … T_4 (flattened).
LAYER_DIMS = (16 * 14 * 14, 32 * 7 * 7, 128, 10)
#: Short names of the representations, in order.
LAYER_NAMES = ("T1 (conv 1)", "T2 (conv 2)", "T3 (dense)", "T4 (logits)")


def layer_dims(dense2: int = 0) -> tuple:
    """Widths of the four measured layers T_1 … T_4: T_4 is the 10 logits, or the second
    dense hidden layer of ``dense2`` units when ``dense2 > 0``.

    >>> layer_dims(), layer_dims(64)
    ((3136, 1568, 128, 10), (3136, 1568, 128, 64))
    """
    return LAYER_DIMS[:3] + (dense2 if dense2 else 10,)


def _check_dense2(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"dense2 must be an integer >= 0 (0: no second dense layer), got {value!r}")
    return value


#: Where dropout sits in the convolutional blocks: before or after the max-pooling.
DROPOUT_PLACEMENTS = ("before_pool", "after_pool")


def _check_placement(value) -> str:
    if value not in DROPOUT_PLACEMENTS:
        raise ValueError(f"dropout_placement must be one of {DROPOUT_PLACEMENTS}, got {value!r}")
    return value


def expected_max_inverted_dropout(values: torch.Tensor, p: float) -> torch.Tensor:
    """Exact expectation of ``max_i m_i v_i / (1 − p)`` over independent masks
    ``m_i ~ Bernoulli(1 − p)``: what max-pooling returns on average when inverted
    dropout comes before it (a dropped value becomes 0 and still takes part in the max).

    Computed by enumerating the ``2^k`` masks of the last axis (k ≤ 16).

    Parameters
    ----------
    values : Tensor, shape (..., k)
        The values of one pooling window in the last axis (k = 4 for 2×2 pooling).
    p : float
        Dropout probability in [0, 1).

    Returns
    -------
    Tensor, shape (...)
        The expected maximum, in the units of ``values`` (float64). With ``p = 0`` it
        is ``values.max(-1)``.

    Examples
    --------
    Four tanh values at −0.5: kept with probability 0.8⁴ = 0.41 (max −0.625), else a 0
    wins, so the mean moves from −0.5 to −0.256:

    >>> round(float(expected_max_inverted_dropout(torch.full((4,), -0.5), 0.2)), 4)
    -0.256
    """
    p = _check_p(p)
    values = torch.as_tensor(values, dtype=torch.float64)
    if values.dim() == 0 or values.shape[-1] == 0:
        raise ValueError(f"values must have shape (..., k) with k >= 1, got {tuple(values.shape)}")
    k = values.shape[-1]
    if k > 16:
        raise ValueError(f"values must have at most 16 entries in the last axis (2^k masks), got {k}")
    q = 1.0 - p
    masks = ((torch.arange(2 ** k)[:, None] >> torch.arange(k)) & 1).to(torch.float64)  # (2^k, k)
    n_kept = masks.sum(1)
    prob = q ** n_kept * p ** (k - n_kept)  # (2^k,)
    outcomes = (values[..., None, :] * masks / q).amax(-1)  # (..., 2^k)
    return (outcomes * prob).sum(-1)


def _check_p(p, name: str = "p") -> float:
    """``p`` as a float after checking it is a dropout probability in [0, 1)."""
    if isinstance(p, bool):
        raise ValueError(f"{name} must be a number in [0, 1), got {p!r}")
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {p!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (a dropout probability), got {value}")
    return value


def _init_weights_(weights: Sequence[torch.Tensor], generator: torch.Generator | None) -> None:
    """Xavier-uniform ``weights`` in order, from ``generator`` (one model's layers)."""
    for w in weights:
        nn.init.xavier_uniform_(w, generator=generator)


class MnistCNN(nn.Module):
    """One MNIST CNN (Section 2 of the paper).

    Parameters
    ----------
    beta : float
        Standard deviation β of the Gaussian noise after each hidden tanh (0: none).
    p : float
        Dropout probability after each hidden tanh (0: none). Use β or p, not both.
    batch_norm : bool
        Batch norm before each hidden tanh (our choice; the paper is silent).
    generator : torch.Generator, optional
        Source of the initial weights (Xavier-uniform, zero biases) and of the noise.
    dropout_placement : {"before_pool", "after_pool"}
        Dropout in the convolutional blocks before (default) or after the max-pooling
        (see the module's docstring). Noise always comes before the pooling.
    dense2 : int
        Units of a second dense hidden layer (T_4) before the output; 0 (default): none,
        T_4 is the logits.

    Shape
    -----
    Input ``(n, 1, 28, 28)`` or ``(n, 28, 28)``; output logits ``(n, 10)``.

    Examples
    --------
    >>> net = MnistCNN(beta=0.1, generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(2, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, beta: float = 0.0, p: float = 0.0, *, batch_norm: bool = True,
                 generator: torch.Generator | None = None, dropout_placement: str = "before_pool",
                 dense2: int = 0):
        super().__init__()
        self.dropout_placement = _check_placement(dropout_placement)
        self.dense2 = _check_dense2(dense2)
        self.beta = check_beta(beta, "beta", allow_zero=True)
        self.p = _check_p(p)
        if self.beta > 0 and self.p > 0:
            raise ValueError(f"use noise (beta={beta}) or dropout (p={p}), not both")
        self.batch_norm = bool(batch_norm)
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        if dense2:
            self.fch = nn.Linear(128, dense2)
        self.fc2 = nn.Linear(dense2 or 128, 10)
        norm = (lambda c, two_d: (nn.BatchNorm2d(c) if two_d else nn.BatchNorm1d(c))) if batch_norm \
            else (lambda c, two_d: nn.Identity())
        self.bn1, self.bn2, self.bn3 = norm(16, True), norm(32, True), norm(128, False)

        def regulariser():
            if self.p > 0:
                return nn.Dropout(self.p)
            return GaussianNoise(self.beta, generator=generator)

        self.reg1, self.reg2, self.reg3 = regulariser(), regulariser(), regulariser()
        if dense2:
            self.bn4, self.reg4 = norm(dense2, False), regulariser()
        hidden = [self.fch] if dense2 else []
        with torch.no_grad():
            _init_weights_([self.conv1.weight, self.conv2.weight, self.fc1.weight] + [h.weight for h in hidden]
                           + [self.fc2.weight], generator)
            for layer in [self.conv1, self.conv2, self.fc1] + hidden + [self.fc2]:
                layer.bias.zero_()

    def extra_repr(self) -> str:
        after = ", dropout_placement='after_pool'" if self.dropout_placement == "after_pool" else ""
        after += f", dense2={self.dense2}" if self.dense2 else ""
        return f"beta={self.beta}, p={self.p}, batch_norm={self.batch_norm}{after}"

    def _layers_and_logits(self, x: torch.Tensor) -> tuple:
        """``([T_1, T_2, T_3, T_4], logits)`` in the module's current mode."""
        if x.dim() == 3:
            x = x.unsqueeze(1)  # (n, 1, 28, 28)
        if self.p > 0 and self.dropout_placement == "after_pool":
            t1 = self.reg1(F.max_pool2d(torch.tanh(self.bn1(self.conv1(x))), 2))  # (n, 16, 14, 14)
            t2 = self.reg2(F.max_pool2d(torch.tanh(self.bn2(self.conv2(t1))), 2))  # (n, 32, 7, 7)
        else:
            t1 = F.max_pool2d(self.reg1(torch.tanh(self.bn1(self.conv1(x)))), 2)  # (n, 16, 14, 14)
            t2 = F.max_pool2d(self.reg2(torch.tanh(self.bn2(self.conv2(t1)))), 2)  # (n, 32, 7, 7)
        t3 = self.reg3(torch.tanh(self.bn3(self.fc1(t2.flatten(1)))))  # (n, 128)
        if self.dense2:
            t4 = self.reg4(torch.tanh(self.bn4(self.fch(t3))))  # (n, dense2)
            logits = self.fc2(t4)  # (n, 10)
        else:
            t4 = logits = self.fc2(t3)  # (n, 10)
        return [t1.flatten(1), t2.flatten(1), t3, t4], logits

    def representations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[T_1, T_2, T_3, T_4]``, each flattened to ``(n, d_ℓ)`` (dims :func:`layer_dims`),
        in the module's current mode (noise/dropout on in training mode only)."""
        return self._layers_and_logits(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._layers_and_logits(x)[1]


class StackedMnistCNN(nn.Module):
    """``M`` MNIST CNNs held and run as one module (grouped convolutions).

    Model ``m`` has noise level ``betas[m]`` and dropout probability ``ps[m]``; its
    parameters are slices of the stacked ones (``conv1.weight[16m:16m+16]`` …).
    Build it from single models with :meth:`from_models` and take one back out with
    :meth:`model`.

    Parameters
    ----------
    betas, ps : sequence of float, length M
        Noise standard deviations and dropout probabilities (per model).
    batch_norm : bool
        Per-model batch norm before each hidden tanh.
    generator : torch.Generator, optional
        Source of the initial weights: model by model, Xavier-uniform as in
        :class:`MnistCNN` (per model's fan-in and fan-out), biases zero. Model ``m`` of
        a stack built with a generator seeded ``s`` has the weights of the ``m``-th
        :class:`MnistCNN` built one after the other from one generator seeded ``s``.
    dropout_placement : {"before_pool", "after_pool"}
        As in :class:`MnistCNN`, for every model of the stack.
    dense2 : int
        As in :class:`MnistCNN`: units of the second dense hidden layer (0: none).

    Shape
    -----
    Input ``(n, M, 28, 28)`` (model ``m`` reads ``x[:, m]``) or ``(n, 28, 28)`` (every
    model reads the same images); output logits ``(n, M, 10)``.

    Examples
    --------
    >>> stack = StackedMnistCNN([0.0, 0.1], [0.0, 0.0], generator=torch.Generator().manual_seed(0))
    >>> stack.eval()(torch.zeros(3, 28, 28)).shape
    torch.Size([3, 2, 10])
    """

    def __init__(self, betas: Sequence[float], ps: Sequence[float] | None = None, *,
                 batch_norm: bool = True, generator: torch.Generator | None = None,
                 dropout_placement: str = "before_pool", dense2: int = 0):
        super().__init__()
        self.dropout_placement = _check_placement(dropout_placement)
        self.dense2 = h2 = _check_dense2(dense2)
        betas = [check_beta(b, f"betas[{i}]", allow_zero=True) for i, b in enumerate(betas)]
        m = check_positive_int(len(betas), "len(betas)")
        ps = [0.0] * m if ps is None else [_check_p(p, f"ps[{i}]") for i, p in enumerate(ps)]
        if len(ps) != m:
            raise ValueError(f"ps must have one entry per model ({m}), got {len(ps)}")
        self.n_models = m
        self.batch_norm = bool(batch_norm)
        self.register_buffer("betas", torch.tensor(betas))
        self.register_buffer("ps", torch.tensor(ps))
        self.conv1 = nn.Conv2d(m, 16 * m, 5, padding=2, groups=m)
        self.conv2 = nn.Conv2d(16 * m, 32 * m, 5, padding=2, groups=m)
        self.fc1_weight = nn.Parameter(torch.empty(m, 128, 32 * 7 * 7))  # (M, 128, 1568)
        self.fc1_bias = nn.Parameter(torch.zeros(m, 128))
        if h2:
            self.fch_weight = nn.Parameter(torch.empty(m, h2, 128))  # (M, dense2, 128)
            self.fch_bias = nn.Parameter(torch.zeros(m, h2))
        self.fc2_weight = nn.Parameter(torch.empty(m, 10, h2 or 128))  # (M, 10, dense2 or 128)
        self.fc2_bias = nn.Parameter(torch.zeros(m, 10))
        with torch.no_grad():
            for k in range(m):  # per-model slices: the fans of one model's layers
                hidden = [self.fch_weight[k]] if h2 else []
                _init_weights_([self.conv1.weight[16 * k:16 * (k + 1)], self.conv2.weight[32 * k:32 * (k + 1)],
                                self.fc1_weight[k]] + hidden + [self.fc2_weight[k]], generator)
            self.conv1.bias.zero_()
            self.conv2.bias.zero_()
        if batch_norm:
            self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(16 * m), nn.BatchNorm2d(32 * m), nn.BatchNorm1d(128 * m)
            if h2:
                self.bn4 = nn.BatchNorm1d(h2 * m)
        else:
            self.bn1 = self.bn2 = self.bn3 = nn.Identity()
            if h2:
                self.bn4 = nn.Identity()
        #: While True, Gaussian noise is added in eval mode as well (dropout stays off).
        self.noisy_eval = False
        #: While False, dropout is off even in training mode (used to re-estimate batch norm).
        self.dropout_enabled = True

    @classmethod
    def from_models(cls, models: Sequence[MnistCNN]) -> "StackedMnistCNN":
        """Stack copies of the parameters and batch-norm statistics of ``models``."""
        if not models:
            raise ValueError("models must not be empty")
        bn = models[0].batch_norm
        if any(mdl.batch_norm != bn for mdl in models):
            raise ValueError("models must all use batch norm or all not")
        placement, h2 = models[0].dropout_placement, models[0].dense2
        if any(mdl.dropout_placement != placement for mdl in models):
            raise ValueError("models must all have the same dropout_placement")
        if any(mdl.dense2 != h2 for mdl in models):
            raise ValueError("models must all have the same dense2")
        first = next(models[0].parameters())
        # every parameter is overwritten below; a fixed generator keeps the global RNG untouched
        stack = cls([mdl.beta for mdl in models], [mdl.p for mdl in models], batch_norm=bn,
                    generator=torch.Generator().manual_seed(0), dropout_placement=placement, dense2=h2)
        stack = stack.to(device=first.device, dtype=first.dtype)
        with torch.no_grad():
            stack.conv1.weight.copy_(torch.cat([mdl.conv1.weight for mdl in models]))  # (16M, 1, 5, 5)
            stack.conv1.bias.copy_(torch.cat([mdl.conv1.bias for mdl in models]))
            stack.conv2.weight.copy_(torch.cat([mdl.conv2.weight for mdl in models]))  # (32M, 16, 5, 5)
            stack.conv2.bias.copy_(torch.cat([mdl.conv2.bias for mdl in models]))
            stack.fc1_weight.copy_(torch.stack([mdl.fc1.weight for mdl in models]))  # (M, 128, 1568)
            stack.fc1_bias.copy_(torch.stack([mdl.fc1.bias for mdl in models]))
            stack.fc2_weight.copy_(torch.stack([mdl.fc2.weight for mdl in models]))  # (M, 10, dense2 or 128)
            stack.fc2_bias.copy_(torch.stack([mdl.fc2.bias for mdl in models]))
            if h2:
                stack.fch_weight.copy_(torch.stack([mdl.fch.weight for mdl in models]))  # (M, dense2, 128)
                stack.fch_bias.copy_(torch.stack([mdl.fch.bias for mdl in models]))
            if bn:
                for name in ("bn1", "bn2", "bn3") + (("bn4",) if h2 else ()):
                    dst = getattr(stack, name)
                    srcs = [getattr(mdl, name) for mdl in models]
                    for attr in ("weight", "bias", "running_mean", "running_var"):
                        getattr(dst, attr).copy_(torch.cat([getattr(s, attr) for s in srcs]))
                    dst.num_batches_tracked.copy_(srcs[0].num_batches_tracked)
        return stack

    def model(self, m: int) -> MnistCNN:
        """A standalone :class:`MnistCNN` with model ``m``'s parameters (a copy)."""
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < self.n_models:
            raise ValueError(f"m must be an integer in [0, {self.n_models}), got {m!r}")
        ref = self.fc1_weight
        net = MnistCNN(float(self.betas[m]), float(self.ps[m]), batch_norm=self.batch_norm,
                       dropout_placement=self.dropout_placement, dense2=self.dense2)
        net = net.to(device=ref.device, dtype=ref.dtype)
        with torch.no_grad():
            net.conv1.weight.copy_(self.conv1.weight[16 * m:16 * (m + 1)])
            net.conv1.bias.copy_(self.conv1.bias[16 * m:16 * (m + 1)])
            net.conv2.weight.copy_(self.conv2.weight[32 * m:32 * (m + 1)])
            net.conv2.bias.copy_(self.conv2.bias[32 * m:32 * (m + 1)])
            net.fc1.weight.copy_(self.fc1_weight[m]), net.fc1.bias.copy_(self.fc1_bias[m])
            net.fc2.weight.copy_(self.fc2_weight[m]), net.fc2.bias.copy_(self.fc2_bias[m])
            if self.dense2:
                net.fch.weight.copy_(self.fch_weight[m]), net.fch.bias.copy_(self.fch_bias[m])
            if self.batch_norm:
                for name, c in (("bn1", 16), ("bn2", 32), ("bn3", 128)) + ((("bn4", self.dense2),) if self.dense2 else ()):
                    src, dst = getattr(self, name), getattr(net, name)
                    for attr in ("weight", "bias", "running_mean", "running_var"):
                        getattr(dst, attr).copy_(getattr(src, attr)[c * m:c * (m + 1)])
                    dst.num_batches_tracked.copy_(src.num_batches_tracked)
        return net.train(self.training)

    @torch.no_grad()
    def recalibrate_batch_norm(self, x: torch.Tensor, *, noise: bool = True, generator: torch.Generator | None = None,
                               chunk_size: int = 250) -> "StackedMnistCNN":
        """Re-estimate every batch-norm running mean and variance on the inputs ``x``
        (shape ``(n, 28, 28)``) in the *evaluation* configuration: dropout off, Gaussian
        noise on (``noise=True``, as with ``noisy_eval``) or off. The statistics are
        plain averages over the chunks. Training with dropout (or noise) makes the
        stored statistics describe the noisy activations; evaluating without it then
        feeds batch norm a different variance (the "variance shift" of Li et al., 2019).
        ``chunk_size`` images go through at a time. Each batch-norm module keeps its own
        ``momentum`` afterwards. Returns ``self`` in eval mode."""
        if x.dim() != 3 or tuple(x.shape[1:]) != (28, 28) or x.shape[0] == 0:
            raise ValueError(f"x must have shape (n, 28, 28) with n >= 1, got {tuple(x.shape)}")
        chunk_size = check_positive_int(chunk_size, "chunk_size")
        if not self.batch_norm:
            return self.eval()
        norms = (self.bn1, self.bn2, self.bn3) + ((self.bn4,) if self.dense2 else ())
        saved_momenta = [bn.momentum for bn in norms]
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the chunks
        saved_betas = self.betas.clone()
        if not noise:
            self.betas.zero_()
        self.train()
        self.dropout_enabled = False
        try:
            for start in range(0, x.shape[0], chunk_size):
                self(x[start:start + chunk_size], generator)
        finally:
            self.dropout_enabled = True
            self.betas.copy_(saved_betas)
            for bn, momentum in zip(norms, saved_momenta):
                bn.momentum = momentum
        return self.eval()

    def _regularise(self, h: torch.Tensor, channels: int, generator: torch.Generator | None, *,
                    dropout: bool = True, noise: bool = True) -> torch.Tensor:
        """Dropout (training only) then Gaussian noise (training, or eval with
        ``noisy_eval``) on ``h`` of shape ``(n, M*channels, ...)``; ``dropout=False`` or
        ``noise=False`` leaves that one out."""
        n = h.shape[0]
        extra = (1,) * (h.dim() - 2)
        per_channel = (1, self.n_models, 1) + extra  # broadcast over (n, M, channels, ...)
        hm = h.reshape(n, self.n_models, channels, *h.shape[2:])  # (n, M, c, ...)
        if dropout and self.training and self.dropout_enabled and bool((self.ps > 0).any()):
            keep = 1.0 - self.ps.to(h.dtype).reshape(per_channel)
            u = torch.rand(hm.shape, generator=generator, device=h.device, dtype=h.dtype)
            hm = hm * (u < keep) / keep
        if noise and (self.training or self.noisy_eval) and bool((self.betas > 0).any()):
            z = torch.randn(hm.shape, generator=generator, device=h.device, dtype=h.dtype)
            hm = hm + self.betas.to(h.dtype).reshape(per_channel) * z
        return hm.reshape(h.shape)

    def _conv_block(self, h: torch.Tensor, channels: int, generator: torch.Generator | None) -> torch.Tensor:
        """Regularise and max-pool the tanh outputs ``h`` (n, M*channels, H, W) ->
        (n, M*channels, H/2, W/2): dropout and noise before the pooling, or noise before
        and dropout after it (``dropout_placement="after_pool"``)."""
        if self.dropout_placement == "before_pool":
            return F.max_pool2d(self._regularise(h, channels, generator), 2)
        pooled = F.max_pool2d(self._regularise(h, channels, generator, dropout=False), 2)
        return self._regularise(pooled, channels, generator, noise=False)

    def representations(self, x: torch.Tensor, generator: torch.Generator | None = None, *,
                        _upto: int = 4) -> list[torch.Tensor]:
        """``[T_1, T_2, T_3, T_4]`` of every model, each of shape ``(n, M, d_ℓ)``
        (:func:`layer_dims`)."""
        m = self.n_models
        if x.dim() == 3:
            x = x.unsqueeze(1).expand(-1, m, -1, -1)  # (n, M, 28, 28)
        if x.dim() != 4 or x.shape[1] != m:
            raise ValueError(f"x must have shape (n, {m}, 28, 28) or (n, 28, 28), got {tuple(x.shape)}")
        n = x.shape[0]
        t1 = self._conv_block(torch.tanh(self.bn1(self.conv1(x))), 16, generator)  # (n, 16M, 14, 14)
        t2 = self._conv_block(torch.tanh(self.bn2(self.conv2(t1))), 32, generator)  # (n, 32M, 7, 7)
        t2f = t2.reshape(n, m, 32 * 7 * 7)  # (n, M, 1568)
        a3 = torch.einsum("nmi,moi->nmo", t2f, self.fc1_weight) + self.fc1_bias  # (n, M, 128)
        h = torch.tanh(self.bn3(a3.reshape(n, m * 128)))  # (n, 128M)
        t3 = self._regularise(h, 128, generator).reshape(n, m, 128)  # (n, M, 128)
        if _upto == 3:
            return t3
        return [t1.reshape(n, m, -1), t2f, t3, self._top(t3, generator)[0]]

    def _top(self, t3: torch.Tensor, generator: torch.Generator | None) -> tuple:
        """``(T_4, logits)`` from ``t3`` (n, M, 128): T_4 is the logits (n, M, 10) or the
        second dense layer (n, M, dense2)."""
        n, m = t3.shape[:2]
        if not self.dense2:
            t4 = torch.einsum("nmi,moi->nmo", t3, self.fc2_weight) + self.fc2_bias  # (n, M, 10)
            return t4, t4
        a4 = torch.einsum("nmi,moi->nmo", t3, self.fch_weight) + self.fch_bias  # (n, M, dense2)
        h = torch.tanh(self.bn4(a4.reshape(n, m * self.dense2)))  # (n, dense2 M)
        t4 = self._regularise(h, self.dense2, generator).reshape(n, m, self.dense2)  # (n, M, dense2)
        return t4, torch.einsum("nmi,moi->nmo", t4, self.fc2_weight) + self.fc2_bias  # (n, M, 10)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        t3 = self.representations(x, generator, _upto=3)
        return self._top(t3, generator)[1]
