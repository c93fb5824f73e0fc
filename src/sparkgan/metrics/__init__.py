"""Evaluation metrics: pure functions from arrays to numbers, plus feature extractors.

This package never imports sparkgan's train, data, nets or cli packages. The optional
Inception features live in :mod:`sparkgan.metrics.inception`, which is not imported here
because it needs the 'inception' extra (torch-fidelity).
"""

from sparkgan.metrics.digit_classifier import DigitClassifier, load_digit_classifier
from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.frechet import frechet_distance, frechet_distance_from_stats
from sparkgan.metrics.kid import kernel_inception_distance
from sparkgan.metrics.modes import class_mode_stats, kl_divergence, mixture_mode_stats, mode_histogram
from sparkgan.metrics.prdc import density_coverage, prdc, precision_recall
from sparkgan.metrics.quantize import from_uint8, quantize_8bit, to_uint8

__all__ = [
    "DigitClassifier",
    "MetricError",
    "class_mode_stats",
    "density_coverage",
    "frechet_distance",
    "frechet_distance_from_stats",
    "from_uint8",
    "kernel_inception_distance",
    "kl_divergence",
    "load_digit_classifier",
    "mixture_mode_stats",
    "mode_histogram",
    "prdc",
    "precision_recall",
    "quantize_8bit",
    "to_uint8",
]
