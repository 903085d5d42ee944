"""Noisy neurons (Section 2 of the paper): ``T_ℓ = S_ℓ + Z_ℓ`` with
``Z_ℓ ~ N(0, β² I)``, and sampling of the ``S_ℓ`` that the SP estimator needs."""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

from ._validation import check_beta, check_chunk_size, check_generator, check_positive_int, check_tensor

__all__ = ["GaussianNoise", "sample_representations", "noise_sampling", "add_noise", "ACTIVATION_TYPES"]


class GaussianNoise(nn.Module):
    """Additive white Gaussian noise on every neuron: ``T = S + β·Z``, ``Z ~ N(0, I)``.

    Place it after any layer (linear, convolution, pooling, an activation). It adds
    noise in training mode and while representations are sampled for estimation
    (see :func:`sample_representations`); it is the identity in eval mode and when
    ``beta == 0`` (the deterministic network).

    Parameters
    ----------
    beta : float
        The noise standard deviation β ≥ 0 (same units as the layer's output).
    generator : torch.Generator, optional
        Source of the noise. ``None`` uses torch's default generator, like
        ``nn.Dropout``; pass one for reproducible training. It must live on the
        device of the inputs.

    Shape
    -----
    Input ``(*)``, output ``(*)``, same dtype and device.

    Examples
    --------
    >>> noise = GaussianNoise(0.1).eval()
    >>> noise(torch.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, beta: float, generator: torch.Generator | None = None):
        super().__init__()
        self.beta = check_beta(beta, "beta", allow_zero=True)
        self.generator = check_generator(generator)
        self.sampling = False  # set by noise_sampling(): noise on even in eval mode

    def extra_repr(self) -> str:
        return f"beta={self.beta}"

    @property
    def active(self) -> bool:
        """Whether the next forward pass adds noise."""
        return self.beta > 0 and (self.training or self.sampling)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return s
        z = torch.randn(s.shape, generator=self.generator, device=s.device, dtype=s.dtype)
        return s + self.beta * z


def _noise_modules(model: nn.Module) -> list[GaussianNoise]:
    return [m for m in model.modules() if isinstance(m, GaussianNoise)]


@contextlib.contextmanager
def noise_sampling(model: nn.Module, generator: torch.Generator | None = None):
    """Context: every :class:`GaussianNoise` in ``model`` adds noise (drawn from
    ``generator`` when given) while the rest of the model is in eval mode
    (no dropout, batch norm uses running statistics). Restores all flags on exit.

    >>> net = nn.Sequential(nn.Linear(1, 1), GaussianNoise(0.1)).eval()
    >>> with noise_sampling(net) as modules:
    ...     [m.active for m in modules]
    [True]
    >>> net[1].active
    False
    """
    generator = check_generator(generator)
    modules = _noise_modules(model)
    was_training = model.training
    saved = [(m.sampling, m.generator) for m in modules]
    model.eval()
    for m in modules:
        m.sampling = True
        if generator is not None:
            m.generator = generator
    try:
        yield modules
    finally:
        for m, (sampling, gen) in zip(modules, saved):
            m.sampling, m.generator = sampling, gen
        model.train(was_training)


def _auto_input_chunk(n_x: int, budget_rows: int = 1 << 16) -> int:
    return max(1, budget_rows // max(n_x, 1))


@torch.no_grad()
def sample_representations(model: nn.Module, x: torch.Tensor, n_x: int, *,
                           generator: torch.Generator | None = None,
                           chunk_size: int | str = "auto") -> list[torch.Tensor]:
    """Feed each input ``n_x`` times with the noise on and collect, for every
    :class:`GaussianNoise` module in forward order, the tensor ``S_ℓ`` entering it.

    Forward order is the order in which the modules are *called* in the first
    forward pass (which may differ from the order they are registered in). Every
    module must be called exactly once per pass: a module reused at two places,
    or one left out, raises a ``ValueError``.

    ``S_ℓ = f_ℓ(T_{ℓ−1})`` is the layer's value *before* its own noise: the centres of
    the Gaussian mixtures of equation (1) of the paper.

    Parameters
    ----------
    model : nn.Module
        A network containing :class:`GaussianNoise` modules. Its parameters' device
        is used; other layers run in eval mode (dropout off).
    x : Tensor, shape (n_inputs, ...)
        The inputs, on the model's device.
    n_x : int
        Noise realizations per input (``n_x`` in the paper).
    generator : torch.Generator, optional
        Source of all noise (on the model's device).
    chunk_size : int or "auto"
        Inputs per forward pass; "auto" keeps about 65,536 rows per pass.

    Returns
    -------
    list of Tensor, each of shape (n_inputs, n_x, d_ℓ)
        ``S_ℓ`` flattened per sample, in call order, on the model's device. Realizations of layer 1
        are identical (``S_1 = f_1(x)`` is deterministic); deeper layers differ.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(1, 2), nn.Tanh(), GaussianNoise(0.1))
    >>> [s.shape for s in sample_representations(net, torch.zeros(5, 1), 3)]
    [torch.Size([5, 3, 2])]
    """
    return _sample_in_call_order(model, x, n_x, generator, chunk_size)[1]


@torch.no_grad()
def _sample_in_call_order(model: nn.Module, x: torch.Tensor, n_x: int, generator,
                          chunk_size) -> tuple[list[int], list[torch.Tensor]]:
    """:func:`sample_representations`, also returning the call order as indices into
    ``_noise_modules(model)`` (registration order)."""
    n_x = check_positive_int(n_x, "n_x")
    generator = check_generator(generator)
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a non-empty first (input) axis, got shape {tuple(x.shape)}")
    if x.is_floating_point():
        check_tensor(x, "x", ndim=x.dim())
    modules = _noise_modules(model)
    if not modules:
        raise ValueError("model contains no GaussianNoise module: nothing to sample")
    chunk = _auto_input_chunk(n_x) if chunk_size == "auto" else check_chunk_size(chunk_size)

    captured: list[list[torch.Tensor]] = [[] for _ in modules]
    current: dict[int, torch.Tensor] = {}  # insertion order = call order

    def make_hook(k):
        def hook(_module, inputs):
            if k in current:
                raise ValueError(f"GaussianNoise module {k} ({_module}) was called more than once in one forward "
                                 "pass; each noisy layer needs its own GaussianNoise module")
            current[k] = inputs[0]
        return hook

    order: list[int] = []
    handles = [m.register_forward_pre_hook(make_hook(k)) for k, m in enumerate(modules)]
    try:
        with noise_sampling(model, generator):
            for start in range(0, x.shape[0], chunk):
                xb = x[start:start + chunk]  # (b, ...)
                b = xb.shape[0]
                xr = xb.repeat_interleave(n_x, dim=0)  # (b * n_x, ...)
                current.clear()
                model(xr)
                for k in range(len(modules)):
                    if k not in current:
                        raise ValueError(f"GaussianNoise module {k} was not called in the forward pass")
                    captured[k].append(current[k].reshape(b, n_x, -1))  # (b, n_x, d_k)
                if not order:
                    order = list(current)
    finally:
        for h in handles:
            h.remove()
    return order, [torch.cat(captured[k], dim=0) for k in order]  # each (n_inputs, n_x, d_k), in call order


#: The activation modules :func:`add_noise` puts noise after by default.
ACTIVATION_TYPES = (nn.Tanh, nn.ReLU, nn.Sigmoid, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU, nn.Softplus)


def _check_after(after) -> tuple[type, ...]:
    types = (after,) if isinstance(after, type) else after
    try:
        types = tuple(types)
    except TypeError:
        raise ValueError(f"after must be an nn.Module subclass or a tuple of them, got {after!r}") from None
    if not types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types):
        raise ValueError(f"after must be an nn.Module subclass or a non-empty tuple of them, got {after!r}")
    if any(issubclass(t, GaussianNoise) for t in types):
        raise ValueError("after must not include GaussianNoise (noise after noise)")
    return types


def add_noise(model: nn.Module, beta: float, *, after=ACTIVATION_TYPES,
              generator: torch.Generator | None = None) -> nn.Module:
    """A copy of ``model`` with Gaussian noise of standard deviation β after every
    submodule of the types ``after``: ``T = act(·) + βZ`` (Section 2 of the paper).

    Each matching submodule ``act`` is replaced, where it is registered, by
    ``nn.Sequential(act, GaussianNoise(beta, generator))``. The model's own
    ``forward`` therefore runs unchanged (``nn.Sequential`` containers, module
    lists or dicts, and custom ``forward`` methods that call their activations as
    submodules alike), and :func:`sample_representations` and the estimators work
    on the copy; it returns one ``S_ℓ`` per inserted module in the order they are
    called. ``model`` itself is not modified (it is deep-copied first).

    Limitations: activations applied as functions (``torch.tanh(x)``,
    ``F.relu(x)``) are not modules and cannot be found, so no noise goes there; a
    ``ValueError`` is raised when nothing matched at all. An activation module
    called at several places in ``forward`` gets one noise module, which
    :func:`sample_representations` refuses (give each place its own activation
    module). Existing :class:`GaussianNoise` modules are kept.

    Parameters
    ----------
    model : nn.Module
        Any network. Its training/eval mode is kept; like any
        :class:`GaussianNoise`, the inserted noise is on in training mode and the
        identity in eval mode (so in eval mode the copy computes exactly what
        ``model`` does).
    beta : float
        Noise standard deviation β ≥ 0, in the units of the activations' outputs
        (β = 0: the same network, noise modules in place).
    after : type or tuple of types
        ``nn.Module`` subclasses to put noise after (default
        :data:`ACTIVATION_TYPES`: Tanh, ReLU, Sigmoid, LeakyReLU, GELU, ELU, SiLU,
        Softplus); subclasses match too. If ``model`` itself matches, the result is
        ``nn.Sequential(copy, GaussianNoise)``.
    generator : torch.Generator, optional
        Noise source of every inserted module (shared, not copied).

    Returns
    -------
    nn.Module
        The noisy copy, of the same class as ``model`` (unless ``model`` itself matched).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2), nn.Tanh()))
    >>> noisy = add_noise(net, 0.1)
    >>> [type(m).__name__ for m in noisy.modules() if isinstance(m, GaussianNoise)], len(list(net.modules()))
    (['GaussianNoise', 'GaussianNoise'], 6)
    >>> [s.shape for s in sample_representations(noisy, torch.zeros(5, 3), 2)]
    [torch.Size([5, 2, 4]), torch.Size([5, 2, 2])]
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    beta = check_beta(beta, "beta", allow_zero=True)
    types = _check_after(after)
    generator = check_generator(generator)
    noisy = copy.deepcopy(model)

    def noisy_version(module):
        return nn.Sequential(module, GaussianNoise(beta, generator)).train(module.training)

    if isinstance(noisy, types):
        return noisy_version(noisy)
    # Every (parent, name) slot holding a match, found before any replacement; a module
    # registered in two slots gets noise in each.
    slots = [(parent, name) for parent in noisy.modules() for name, child in parent._modules.items()
             if isinstance(child, types)]
    if not slots:
        names = ", ".join(t.__name__ for t in types)
        raise ValueError(f"model has no submodule of the types after=({names}); activations applied as functions "
                         "(torch.tanh, F.relu) cannot be found: write them as modules (nn.Tanh(), nn.ReLU())")
    for parent, name in slots:
        setattr(parent, name, noisy_version(getattr(parent, name)))
    return noisy
