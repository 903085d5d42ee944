"""infoflow_core: estimating information flow in deep neural networks.

The library behind the book on Goldfeld et al., *Estimating Information Flow in Deep
Neural Networks* (ICML 2019). Entropies and informations are in nats; β is the
standard deviation of the Gaussian noise added to every hidden neuron.
"""

__version__ = "0.1.0"

from .binning import binned_entropy, binned_entropy_per_unit  # noqa: E402
from .clustering import cosine_similarities, pairwise_distance_histograms, pairwise_distances_by_class  # noqa: E402
from .entropy import EntropyBounds, Estimate, gaussian_entropy, gm_density, gm_entropy, gm_entropy_1d, gm_entropy_bounds  # noqa: E402
from .mutual_information import MIEstimate, sp_mutual_information  # noqa: E402
from .noise import GaussianNoise, noise_sampling, sample_representations  # noqa: E402
from .scales import current_scale  # noqa: E402

__all__ = [
    # noise (Section 2)
    "GaussianNoise",
    "sample_representations",
    "noise_sampling",
    # entropy and mutual information (Section 3)
    "Estimate",
    "EntropyBounds",
    "gaussian_entropy",
    "gm_density",
    "gm_entropy",
    "gm_entropy_bounds",
    "gm_entropy_1d",
    "MIEstimate",
    "sp_mutual_information",
    # binning and clustering (Sections 1, 2, 5)
    "binned_entropy",
    "binned_entropy_per_unit",
    "pairwise_distances_by_class",
    "pairwise_distance_histograms",
    "cosine_similarities",
    # scales
    "current_scale",
]
