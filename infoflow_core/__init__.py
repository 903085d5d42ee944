"""infoflow_core: estimating information flow in deep neural networks.

The library behind the book on Goldfeld et al., *Estimating Information Flow in Deep
Neural Networks* (ICML 2019). Entropies and informations are in nats; β is the
standard deviation of the Gaussian noise added to every hidden neuron.
"""

__version__ = "0.1.0"

from .noise import GaussianNoise, sample_representations, noise_sampling  # noqa: E402

__all__ = [
    "GaussianNoise",
    "sample_representations",
    "noise_sampling",
]
