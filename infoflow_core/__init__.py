"""infoflow_core: estimating information flow in deep neural networks.

The library behind the book on Goldfeld et al., *Estimating Information Flow in Deep
Neural Networks* (ICML 2019). Entropies and informations are in nats; β is the
standard deviation of the Gaussian noise added to every hidden neuron.
"""

__version__ = "0.1.0"

from .binning import bin_edges, bin_indices, binned_entropy, binned_entropy_per_unit  # noqa: E402
from .clustering import cosine_similarities, pairwise_distance_histograms, pairwise_distances_by_class  # noqa: E402
from .entropy import (EntropyBounds, Estimate, gaussian_entropy, gm_density, gm_entropy, gm_entropy_1d,  # noqa: E402
                      gm_entropy_bounds)
from .mutual_information import (Information, InformationBounds, LabelMIEstimate, MIBounds, MIEstimate,  # noqa: E402
                                 mutual_information_bounds, sp_information, sp_label_information,
                                 sp_mutual_information)
from .network import LayerInformation, NetworkInformation, network_information  # noqa: E402
from .noise import GaussianNoise, add_noise, noise_sampling, sample_representations  # noqa: E402
from .scales import current_scale  # noqa: E402

__all__ = [
    # noise (Section 2)
    "GaussianNoise",
    "add_noise",
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
    "LabelMIEstimate",
    "sp_label_information",
    "Information",
    "sp_information",
    "MIBounds",
    "InformationBounds",
    "mutual_information_bounds",
    # binning and clustering (Sections 1, 2, 5)
    "bin_edges",
    "bin_indices",
    "binned_entropy",
    "binned_entropy_per_unit",
    "pairwise_distances_by_class",
    "pairwise_distance_histograms",
    "cosine_similarities",
    # whole networks
    "network_information",
    "NetworkInformation",
    "LayerInformation",
    # scales
    "current_scale",
]
