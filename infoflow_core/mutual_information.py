"""The sample-propagation (SP) estimator of I(X; T_ℓ), equation (1) of the paper.

    Î_SP = h(p̂_{S_ℓ} ∗ φ_β) − (1/n) Σ_x h(p̂_{S_ℓ^(x)} ∗ φ_β)

Both terms are Gaussian-mixture entropies (:mod:`infoflow_core.entropy`): h(T_ℓ) has
one centre per (input, realization); h(T_ℓ | X = x) has the ``n_x`` realizations of
input x as its centres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._kernels import check_method
from ._validation import check_beta, check_chunk_size, check_generator, check_positive_int, check_tensor
from .entropy import _gm_entropy_batched, gaussian_entropy

__all__ = ["MIEstimate", "sp_mutual_information"]


@dataclass(frozen=True)
class MIEstimate:
    """An SP estimate of I(X; T_ℓ), all in nats.

    Attributes
    ----------
    value : float
        ``h_t − h_t_given_x``.
    stderr : float
        Monte Carlo standard error of ``value`` (both terms' errors combined).
    h_t : float
        Estimate of h(T_ℓ).
    h_t_given_x : float
        Estimate of h(T_ℓ | X) = mean over inputs of h(T_ℓ | X = x_i).
    h_t_stderr, h_t_given_x_stderr : float
        Their Monte Carlo standard errors.
    """

    value: float
    stderr: float
    h_t: float
    h_t_given_x: float
    h_t_stderr: float = 0.0
    h_t_given_x_stderr: float = 0.0

    def __float__(self) -> float:
        return self.value

    def __format__(self, spec: str) -> str:
        spec = spec or ".4f"
        return f"{format(self.value, spec)} ± {format(self.stderr, spec)}"


def sp_mutual_information(samples: torch.Tensor, beta: float, *, n_mc: int,
                          n_mc_given_x: int | None = None,
                          generator: torch.Generator | None = None,
                          chunk_size: int | str = "auto", method: str = "auto") -> MIEstimate:
    """The SP estimate of I(X; T_ℓ), equation (1) of the paper, in nats.

    Parameters
    ----------
    samples : Tensor, shape (n_inputs, n_x, d)
        ``samples[i, j]`` is the j-th realization of S_ℓ = f_ℓ(T_{ℓ−1}) for input
        x_i, e.g. from :func:`~infoflow_core.noise.sample_representations`. Inputs
        weigh equally (X uniform over them).
    beta : float
        Noise standard deviation β > 0 of the layer.
    n_mc : int
        Monte Carlo samples for h(T_ℓ), and (unless ``n_mc_given_x`` is given)
        again for *each* h(T_ℓ | X = x_i); ≥ 2.
    n_mc_given_x : int, optional
        Monte Carlo samples for each h(T_ℓ | X = x_i) when it should differ from
        ``n_mc`` (default: ``n_mc``); ≥ 2. The conditional term averages ``n_inputs``
        independent estimates, so its error shrinks like 1/√n_inputs and far
        fewer samples per input often suffice.
    generator : torch.Generator, optional
        Source of the Monte Carlo samples, on ``samples.device`` (a
        ``torch.Generator``, not a seed or a NumPy generator).
    chunk_size : int or "auto"
        Centres per block of pairwise work.
    method : {"auto", "dense", "pruned", "triton"}
        Kernel-sum path for every mixture entropy, as in
        :func:`~infoflow_core.entropy.gm_entropy` (the table is in
        :mod:`infoflow_core._kernels`). The ``n_inputs`` conditional mixtures are
        evaluated as one batch.

    Returns
    -------
    MIEstimate
        When ``n_x == 1`` (layer 1, or any deterministic map) the conditional
        entropy is exact, ``(d/2) ln(2πeβ²)``, with zero error.

    Examples
    --------
    Four far-apart inputs carry ln 4 nats:

    >>> s = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64).reshape(4, 1, 1)
    >>> mi = sp_mutual_information(s, 0.01, n_mc=4000, generator=torch.Generator().manual_seed(0))
    >>> abs(mi.value - math.log(4)) < 4 * mi.stderr, round(mi.stderr, 3)
    (True, 0.011)
    """
    samples = check_tensor(samples, "samples", ndim=3, shape="(n_inputs, n_x, d)")
    beta = check_beta(beta)
    n_mc = check_positive_int(n_mc, "n_mc", minimum=2)
    n_mc_given_x = n_mc if n_mc_given_x is None else check_positive_int(n_mc_given_x, "n_mc_given_x", minimum=2)
    generator = check_generator(generator, samples.device)
    chunk_size = check_chunk_size(chunk_size)
    method = check_method(method)
    n_inputs, n_x, d = samples.shape

    centers = samples.reshape(1, n_inputs * n_x, d)  # (1, n_inputs·n_x, d)
    h_t, se_t = _gm_entropy_batched(centers, beta, n_mc, generator, chunk_size, method)
    h_t, se_t = float(h_t[0]), float(se_t[0])
    if n_x == 1:
        h_cond, se_cond = gaussian_entropy(d, beta), 0.0
    else:
        values, stderrs = _gm_entropy_batched(samples, beta, n_mc_given_x, generator, chunk_size, method)  # (n_inputs,) each
        h_cond = float(values.mean())
        se_cond = float(torch.sqrt((stderrs ** 2).sum())) / n_inputs
    return MIEstimate(
        value=h_t - h_cond,
        stderr=math.sqrt(se_t ** 2 + se_cond ** 2),
        h_t=h_t,
        h_t_given_x=h_cond,
        h_t_stderr=se_t,
        h_t_given_x_stderr=se_cond,
    )
