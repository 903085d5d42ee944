"""The SZT network of Section 5.1: a fully connected 12-10-7-5-4-3-2 classifier whose
hidden neurons are noisy, ``T_ℓ = σ(W_ℓ T_{ℓ−1} + b_ℓ) + Z_ℓ``, ``Z_ℓ ~ N(0, β² I)``."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_beta
from ..noise import GaussianNoise

__all__ = ["SZT_WIDTHS", "ACTIVATIONS", "SZTNet", "orthonormalize_"]

#: Layer widths of the SZT network, input first.
SZT_WIDTHS = (12, 10, 7, 5, 4, 3, 2)

#: Hidden activations the paper tries (tanh in Fig. 5(a, b), linear in Fig. 5(c), ReLU in the text).
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "linear": nn.Identity}


class SZTNet(nn.Module):
    """The noisy SZT network: every hidden layer is ``Linear → activation → GaussianNoise(β)``;
    the output layer (2 logits) is linear without noise.

    Parameters
    ----------
    activation : {"tanh", "relu", "linear"}
        Hidden activation.
    beta : float
        Noise standard deviation β ≥ 0 (β = 0: the deterministic network).
    widths : sequence of int
        Layer widths, input first; default :data:`SZT_WIDTHS`.
    generator : torch.Generator, optional
        Source of the noise of every :class:`GaussianNoise` module (on the device the
        model will run on).
    init_generator : torch.Generator, optional
        Generator for the initial weights (PyTorch's default initialization, drawn
        from it on its own device, in ``dtype``, then moved); ``None`` uses torch's
        global generator, like ``nn.Linear``.
    dtype : torch.dtype, optional
        Parameter dtype (default: torch's default, float32). Give it here rather than
        calling ``.double()`` afterwards when ``init_generator`` is used: the initial
        weights are drawn in this dtype.
    device : torch.device or str, optional
        Where the parameters live (default: torch's default device).

    Attributes
    ----------
    hidden : nn.ModuleList of nn.Sequential
        ``hidden[ℓ-1] = Sequential(Linear, activation, GaussianNoise)`` makes ``T_ℓ``.
    out : nn.Linear
        The output layer.

    Shape
    -----
    Input ``(n, 12)``; output ``(n, 2)`` logits.

    Examples
    --------
    >>> net = SZTNet("tanh", 0.005)
    >>> [m.out_features for m in net.linears()]
    [10, 7, 5, 4, 3, 2]
    >>> det = SZTNet("tanh", 0.0, widths=(3, 4, 2), dtype=torch.float64,
    ...              init_generator=torch.Generator().manual_seed(0))
    >>> [tuple(t.shape) for t in det.hidden_values(torch.zeros(5, 3, dtype=torch.float64))]
    [(5, 4)]
    """

    def __init__(self, activation: str = "tanh", beta: float = 0.005, *, widths=SZT_WIDTHS,
                 generator: torch.Generator | None = None, init_generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None, device=None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        widths = tuple(int(w) for w in widths)
        if len(widths) < 3 or min(widths) < 1:
            raise ValueError(f"widths must hold >= 3 positive sizes (input, hidden..., output), got {widths}")
        self.activation = activation
        self.beta = check_beta(beta, "beta", allow_zero=True)
        self.widths = widths
        self.hidden = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b, dtype=dtype, device=device), ACTIVATIONS[activation](),
                          GaussianNoise(self.beta, generator))
            for a, b in zip(widths[:-2], widths[1:-1])
        )
        self.out = nn.Linear(widths[-2], widths[-1], dtype=dtype, device=device)
        if init_generator is not None:
            self.reset_parameters(init_generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """PyTorch's default ``nn.Linear`` initialization (uniform on ±1/√fan_in for
        weights and biases), drawn from ``generator`` in the parameters' dtype on the
        generator's device, layer by layer, weight before bias."""
        for lin in self.linears():
            bound = 1.0 / lin.in_features ** 0.5
            for p in (lin.weight, lin.bias):
                u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=generator.device)
                p.copy_(((2 * u - 1) * bound).to(p.device))

    def linears(self) -> list[nn.Linear]:
        """The affine maps in order, the output layer last."""
        return [block[0] for block in self.hidden] + [self.out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.hidden:
            x = block(x)  # (n, d_ℓ)
        return self.out(x)  # (n, 2)

    @torch.no_grad()
    def hidden_values(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The noiseless hidden representations ``f_ℓ(x)`` of the deterministic network
        (all noise off), a list of tensors of shape ``(n, d_ℓ)``, ℓ = 1…L−1."""
        outs = []
        for lin, act, _noise in self.hidden:
            x = act(lin(x))  # (n, d_ℓ)
            outs.append(x)
        return outs


@torch.no_grad()
def orthonormalize_(model: SZTNet, alpha: float) -> None:
    """One step of Parseval regularization (Cisse et al., 2017), in place, on every
    layer but the last: ``W ← (1 + α) W − α W Wᵀ W``.

    It pulls the singular values of each ``W`` (shape ``(d_out, d_in)``) towards 1:
    a singular value ``s`` becomes ``(1 + α) s − α s³`` (fixed point ``s = 1``).
    Used for Fig. 5(b) of the paper, after every optimizer step.
    """
    alpha = float(alpha)
    if not (alpha >= 0):
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    for lin in model.linears()[:-1]:
        w = lin.weight  # (d_out, d_in)
        w.copy_((1 + alpha) * w - alpha * (w @ w.T @ w))  # (d_out, d_out) @ (d_out, d_in)
