"""Evaluation metrics for generative models: pure functions on feature arrays.

Inputs may be numpy arrays or torch tensors; everything is computed in float64 on the CPU.
Feature extraction (Inception, a classifier) is the caller's job, so these functions stay model-free.
"""
from .fidelity import fidelity, fidelity_per_image, mean_fidelity
from .frechet import StreamingStats, feature_stats, frechet_distance, frechet_distance_from_stats
from .inception_score import inception_score
from .kid import kid
from .manifold import density_coverage, precision_recall
from .memorisation import memorisation_fraction, nearest_neighbours
from .modes import class_histogram_report, mode_report
from .parzen import parzen_log_likelihood, parzen_log_likelihoods, parzen_select_sigma
from .tstr import tstr

__all__ = [
    "StreamingStats", "feature_stats", "frechet_distance", "frechet_distance_from_stats",
    "kid", "inception_score", "precision_recall", "density_coverage",
    "parzen_log_likelihood", "parzen_log_likelihoods", "parzen_select_sigma",
    "mode_report", "class_histogram_report", "nearest_neighbours", "memorisation_fraction", "tstr", "fidelity",
    "fidelity_per_image", "mean_fidelity",
]
