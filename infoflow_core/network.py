"""Information flow of a whole network in one call: per noisy layer I(X; T_ℓ),
I(T_ℓ; Y) and H(Bin(T_ℓ)), with standard errors (Sections 3 and 5 of the paper).

Works on any model with :class:`~infoflow_core.noise.GaussianNoise` modules, for
instance one made by :func:`~infoflow_core.noise.add_noise`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch
from torch import nn

from ._validation import check_beta, check_generator
from .binning import binned_entropy
from .entropy import UNITS, check_unit
from .mutual_information import LabelMIEstimate, MIEstimate, _check_labels, sp_label_information, sp_mutual_information
from .noise import GaussianNoise, _sample_in_call_order

__all__ = ["LayerInformation", "NetworkInformation", "network_information"]


@dataclass(frozen=True)
class LayerInformation:
    """The measured quantities of one noisy layer (a row of :class:`NetworkInformation`).

    Attributes
    ----------
    layer : int
        Position in forward (call) order, from 1.
    name : str
        Qualified name of the layer's :class:`~infoflow_core.noise.GaussianNoise` module.
    width : int
        Neurons d_ℓ (the flattened size of S_ℓ).
    beta : float
        The noise standard deviation used.
    i_xt : MIEstimate
        I(X; T_ℓ).
    i_ty : LabelMIEstimate or None
        I(T_ℓ; Y) (None without labels).
    h_bin : float or None
        H(Bin(T_ℓ)) of one noisy realization per input (None without bins).
    unit : {"nats", "bits"}
    """

    layer: int
    name: str
    width: int
    beta: float
    i_xt: MIEstimate
    i_ty: LabelMIEstimate | None
    h_bin: float | None
    unit: str = "nats"

    def to(self, unit: str) -> "LayerInformation":
        """The same row in ``unit`` ("nats" or "bits")."""
        unit = check_unit(unit)
        factor = UNITS[self.unit] / UNITS[unit]
        return replace(self, unit=unit, i_xt=self.i_xt.to(unit),
                       i_ty=None if self.i_ty is None else self.i_ty.to(unit),
                       h_bin=None if self.h_bin is None else self.h_bin * factor)


@dataclass(frozen=True)
class NetworkInformation:
    """Per-layer results of :func:`network_information`, in forward order.

    Iterating, indexing and ``len`` go over the rows (:class:`LayerInformation`);
    ``str`` gives a table.

    Attributes
    ----------
    layers : tuple of LayerInformation
    unit : {"nats", "bits"}
    """

    layers: tuple[LayerInformation, ...]
    unit: str = "nats"

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, k) -> LayerInformation:
        return self.layers[k]

    def to(self, unit: str) -> "NetworkInformation":
        """The same results in ``unit`` ("nats" or "bits")."""
        unit = check_unit(unit)
        return NetworkInformation(tuple(row.to(unit) for row in self.layers), unit)

    def to_bits(self) -> "NetworkInformation":
        """The same results in bits (all values and errors divided by ln 2)."""
        return self.to("bits")

    def __str__(self) -> str:
        head = f"{'layer':>5}  {'name':<20} {'d':>5} {'beta':>7}  {'I(X;T)':>17}  {'I(T;Y)':>17}  {'H(Bin(T))':>9}"
        lines = [head + f"   [{self.unit}]"]
        for r in self.layers:
            ity = "—" if r.i_ty is None else f"{r.i_ty:.4f}"
            hb = "—" if r.h_bin is None else f"{r.h_bin:.4f}"
            lines.append(f"{r.layer:>5}  {r.name:<20} {r.width:>5} {r.beta:>7.4g}  {r.i_xt:.4f}"
                         f"  {ity:>17}  {hb:>9}")
        return "\n".join(lines)


@contextlib.contextmanager
def _betas_set_to(modules: list[GaussianNoise], beta: float | None):
    """Every module's β set to ``beta`` (unless None), restored on exit."""
    saved = [m.beta for m in modules]
    try:
        if beta is not None:
            for m in modules:
                m.beta = beta
        yield
    finally:
        for m, b in zip(modules, saved):
            m.beta = b


def network_information(model: nn.Module, x: torch.Tensor, labels=None, beta: float | None = None, *,
                        n_x: int, n_mc: int, n_mc_given_x: int | None = None, n_mc_given_y: int | None = None,
                        bin_size: float | None = None, n_bins: int | None = None, value_range=(-1.0, 1.0),
                        generator: torch.Generator | None = None, chunk_size: int | str = "auto",
                        method: str = "auto", unit: str = "nats", progress: bool = True) -> NetworkInformation:
    """I(X; T_ℓ), I(T_ℓ; Y) and H(Bin(T_ℓ)) of every noisy layer of ``model``, in one call.

    With X uniform over the rows of ``x``: ``n_x`` noisy passes give the S_ℓ
    entering each :class:`~infoflow_core.noise.GaussianNoise` module
    (:func:`~infoflow_core.noise.sample_representations`, forward order); then,
    layer by layer and from the one ``generator``,

    * ``i_xt`` = :func:`~infoflow_core.mutual_information.sp_mutual_information` (equation (1));
    * ``i_ty`` = :func:`~infoflow_core.mutual_information.sp_label_information` (when ``labels`` are given);
    * ``h_bin`` = :func:`~infoflow_core.binning.binned_entropy` of one realization
      ``T_ℓ = S_ℓ + βZ`` per input (when ``bin_size`` or ``n_bins`` is given), as
      the book's SZT measurements do.

    The result equals those separate calls made in that order with the same
    generator (the tests check it).

    Parameters
    ----------
    model : nn.Module
        A network with GaussianNoise modules (e.g. from :func:`~infoflow_core.noise.add_noise`),
        each called once per forward pass.
    x : Tensor, shape (n_inputs, ...)
        The inputs, on the model's device.
    labels : Tensor or NumPy array of integers, shape (n_inputs,), optional
        Class of each input, for I(T_ℓ; Y).
    beta : float, optional
        None: each layer's own module β (all must be > 0). A number > 0: every
        noise module is set to it while measuring (restored afterwards), so the
        network is measured at that noise level.
    n_x : int
        Noise realizations per input.
    n_mc, n_mc_given_x, n_mc_given_y : int
        Monte Carlo samples, as in the two estimators.
    bin_size, n_bins : optional
        Bins for H(Bin(T_ℓ)), at most one of the two (see :func:`~infoflow_core.binning.bin_edges`);
        neither: no binning.
    value_range : (float, float)
        The range the bins cover (the range of the activation, (−1, 1) for tanh).
    generator : torch.Generator, optional
        The one source of randomness (noise and Monte Carlo), on the model's device.
    chunk_size, method
        Pairwise blocking and kernel path of the estimators.
    unit : {"nats", "bits"}
    progress : bool
        Show a ``tqdm`` bar (sampling, then one step per layer).

    Returns
    -------
    NetworkInformation
        One :class:`LayerInformation` per noisy layer, in forward order.

    Examples
    --------
    >>> from infoflow_core.noise import add_noise
    >>> _ = torch.manual_seed(0)  # nn.Linear's initialization
    >>> net = add_noise(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)), 0.1)
    >>> x, y = torch.randn(16, 2), torch.arange(16) % 2
    >>> res = network_information(net, x, y, n_x=4, n_mc=400, n_bins=10, unit="bits", progress=False,
    ...                           generator=torch.Generator().manual_seed(0))
    >>> row = res[0]
    >>> row.name, row.width, 0 <= row.i_ty.value <= row.i_xt.value + 4 * row.i_xt.stderr <= 4 + 1e-9
    ('1.1', 3, True)
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a torch.Tensor with a non-empty first (input) axis, got "
                         f"{type(x).__name__ if not isinstance(x, torch.Tensor) else tuple(x.shape)}")
    unit = check_unit(unit)
    generator = check_generator(generator, x.device)
    if labels is not None:
        labels = _check_labels(labels, x.shape[0], x.device)
    if bin_size is not None and n_bins is not None:
        raise ValueError(f"give at most one of bin_size and n_bins, got bin_size={bin_size!r}, n_bins={n_bins!r}")
    named = [(name, m) for name, m in model.named_modules() if isinstance(m, GaussianNoise)]
    if not named:
        raise ValueError("model contains no GaussianNoise module; add noise with infoflow_core.noise.add_noise")
    if beta is not None:
        beta = check_beta(beta)
    else:
        zero = [name for name, m in named if m.beta <= 0]
        if zero:
            raise ValueError(f"the GaussianNoise modules {zero} have beta = 0 (no noise: I(X; T) is not finite); "
                             "pass beta > 0 to measure the network at that noise level")
    from .experiments._common import progress_bar  # lazy: experiments imports the core

    bar = progress_bar(len(named) + 1, progress, "network_information", unit="step")
    rows = []
    with _betas_set_to([m for _, m in named], beta):
        try:
            order, samples = _sample_in_call_order(model, x, n_x, generator, "auto")
            if bar is not None:
                bar.update(1)
            for layer, (k, s) in enumerate(zip(order, samples), start=1):  # s: (n_inputs, n_x, d)
                name, module = named[k]
                b = module.beta
                i_xt = sp_mutual_information(s, b, n_mc=n_mc, n_mc_given_x=n_mc_given_x, generator=generator,
                                             chunk_size=chunk_size, method=method)
                i_ty = None if labels is None else sp_label_information(
                    s, labels, b, n_mc=n_mc, n_mc_given_y=n_mc_given_y, generator=generator,
                    chunk_size=chunk_size, method=method)
                h_bin = None
                if bin_size is not None or n_bins is not None:
                    s0 = s[:, 0]  # (n_inputs, d): one realization of S_ℓ
                    t = s0 + b * torch.randn(s0.shape, generator=generator, device=s0.device, dtype=s0.dtype)
                    h_bin = binned_entropy(t, bin_size=bin_size, n_bins=n_bins,
                                           value_range=value_range)
                rows.append(LayerInformation(layer, name, s.shape[2], b, i_xt, i_ty, h_bin))
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return NetworkInformation(tuple(rows)).to(unit)
