"""Mode coverage and mode-histogram KL divergence of generated samples.

mixture_mode_stats scores samples of a 2-D Gaussian mixture (ring, grid), the benchmark
used by VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): a sample is high
quality when it lies within 3 standard deviations of its nearest mode. class_mode_stats
applies the same idea to class labels predicted by a classifier, as for stacked digits.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import rel_entr
from sklearn.metrics import pairwise_distances_argmin_min

from sparkgan.metrics._arrays import as_feature_matrix
from sparkgan.metrics.errors import MetricError

# A sample is high quality when its distance to the nearest mode is at most this many
# standard deviations.
HIGH_QUALITY_STDS = 3.0


def mode_histogram(labels: np.ndarray, num_modes: int) -> np.ndarray:
    """Count how many labels fall on each mode 0 .. num_modes - 1 (int64 array of num_modes)."""
    if num_modes < 1:
        raise MetricError(f"num_modes must be at least 1, got {num_modes}")
    labels = np.asarray(labels).reshape(-1)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise MetricError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_modes):
        raise MetricError(
            f"labels must lie in 0 .. {num_modes - 1}, got values from {labels.min()} to {labels.max()}"
        )
    return np.bincount(labels.astype(np.int64), minlength=num_modes)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Compute KL(p || q) = sum over p > 0 of p log(p / q), in nats.

    p and q are histograms or probability vectors of the same size. Each is normalised to
    sum to 1 first. Raises MetricError if the sizes differ, if either has negative or
    non-finite entries or sums to 0, or if q is 0 where p is positive (KL is infinite).
    """
    p = _as_distribution(p, "p")
    q = _as_distribution(q, "q")
    if p.shape != q.shape:
        raise MetricError(f"p has {p.size} entries but q has {q.size}")
    missing = np.flatnonzero((p > 0) & (q == 0))
    if missing.size:
        raise MetricError(
            f"q is 0 at indices {missing.tolist()} where p is positive, so KL(p || q) is infinite"
        )
    # rel_entr(p, q) is p log(p / q), with 0 where p = 0.
    return float(np.sum(rel_entr(p, q)))


def mixture_mode_stats(points: np.ndarray, centers: np.ndarray, std: float) -> dict:
    """Measure how well 2-D samples cover the modes of a Gaussian mixture.

    Returns a dict with:

    - ``modes_covered``: number of modes that are the nearest mode of at least one
      high-quality sample. NOTE: one sample is enough here. Published tables may use a
      higher count per mode, so compare such numbers only after checking their rule.
    - ``modes_total``: number of modes (rows of ``centers``).
    - ``high_quality``: fraction of samples whose Euclidean distance to the nearest mode
      is at most 3 * std.
    - ``mode_kl``: KL divergence of the high-quality samples' histogram over modes from the
      uniform distribution, in nats. It is math.inf when no sample is high quality,
      because the histogram is then empty and the divergence is undefined.
    """
    points = as_feature_matrix(points, "points")
    centers = as_feature_matrix(centers, "centers")
    if points.shape[1] != 2 or centers.shape[1] != 2:
        raise MetricError(
            f"points and centers must be N x 2 and M x 2, got {points.shape} and {centers.shape}"
        )
    if centers.shape[0] == 0:
        raise MetricError("centers is empty: the mixture needs at least one mode")
    if points.shape[0] == 0:
        raise MetricError("points is empty: there are no samples to evaluate")
    if not (math.isfinite(std) and std > 0):
        raise MetricError(f"std must be a positive finite number, got {std}")

    nearest, distance = pairwise_distances_argmin_min(points, centers)
    high_quality = distance <= HIGH_QUALITY_STDS * std
    histogram = mode_histogram(nearest[high_quality], centers.shape[0])

    if high_quality.any():
        mode_kl = kl_divergence(histogram, np.ones(centers.shape[0]))
    else:
        mode_kl = math.inf
    return {
        "modes_covered": int(np.count_nonzero(histogram)),
        "modes_total": int(centers.shape[0]),
        "high_quality": float(high_quality.mean()),
        "mode_kl": mode_kl,
    }


def class_mode_stats(predicted: np.ndarray, num_classes: int, reference_histogram: np.ndarray) -> dict:
    """Measure class coverage of generated samples from their predicted class labels.

    Returns a dict with ``modes_covered`` (classes predicted at least once),
    ``modes_total`` (num_classes) and ``mode_kl`` = KL(generated class histogram ||
    reference_histogram) in nats. The reference is typically the class histogram of the
    real data. kl_divergence raises MetricError when a generated class has reference
    frequency 0.
    """
    predicted = np.asarray(predicted).reshape(-1)
    if predicted.size == 0:
        raise MetricError("predicted is empty: there are no samples to evaluate")
    histogram = mode_histogram(predicted, num_classes)
    reference = np.asarray(reference_histogram)
    if reference.shape != (num_classes,):
        raise MetricError(
            f"reference_histogram must have num_classes={num_classes} entries, got shape {reference.shape}"
        )
    return {
        "modes_covered": int(np.count_nonzero(histogram)),
        "modes_total": int(num_classes),
        "mode_kl": kl_divergence(histogram, reference),
    }


def _as_distribution(histogram: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(histogram, dtype=np.float64)
    if values.ndim != 1:
        raise MetricError(f"{name} must be a 1-D histogram, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise MetricError(f"{name} must contain only non-negative finite values")
    total = values.sum()
    if total <= 0:
        raise MetricError(f"{name} sums to 0, so it cannot be normalised to a distribution")
    return values / total
