"""Input checks shared by the metric functions."""

from __future__ import annotations

import numpy as np

from sparkgan.metrics.errors import MetricError


def as_feature_matrix(features: np.ndarray, name: str) -> np.ndarray:
    """Return ``features`` as a finite N x D float64 array, or raise MetricError naming ``name``."""
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2:
        raise MetricError(f"{name} must be an N x D array, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise MetricError(f"{name} contains NaN or infinite values")
    return matrix


def check_same_dimensions(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise MetricError unless two N x D arrays have the same D."""
    if a.shape[1] != b.shape[1]:
        raise MetricError(
            f"{name_a} has {a.shape[1]} dimensions but {name_b} has {b.shape[1]}: "
            "both sets must come from the same feature extractor"
        )
