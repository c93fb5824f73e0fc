"""Fréchet distance between two sets of features (FID when the features are Inception's).

The Fréchet distance between the Gaussians N(mu_a, sigma_a) and N(mu_b, sigma_b) is

    |mu_a - mu_b|^2 + tr(sigma_a) + tr(sigma_b) - 2 tr(sqrt(sigma_a sigma_b))

(Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
Nash Equilibrium"). All arithmetic is in float64.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from sparkgan.metrics._arrays import as_feature_matrix, check_same_dimensions
from sparkgan.metrics.errors import MetricError


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Compute the Fréchet distance between the Gaussians fitted to two N x D feature sets.

    Each set needs at least 2 samples and at least as many samples as feature dimensions,
    otherwise MetricError is raised. Covariances are unbiased (divided by N - 1).
    """
    a = _check_sample_count(as_feature_matrix(features_a, "features_a"), "features_a")
    b = _check_sample_count(as_feature_matrix(features_b, "features_b"), "features_b")
    check_same_dimensions(a, b, "features_a", "features_b")
    mu_a, sigma_a = _mean_and_covariance(a)
    mu_b, sigma_b = _mean_and_covariance(b)
    return frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b)


def frechet_distance_from_stats(
    mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray
) -> float:
    """Compute the Fréchet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b).

    Covariances must be symmetric positive semi-definite D x D matrices. The result is
    never negative: rounding can push the exact value 0 of identical inputs slightly
    below zero, and such values are returned as 0.0.
    """
    mu_a, sigma_a = _check_stats(mu_a, sigma_a, "a")
    mu_b, sigma_b = _check_stats(mu_b, sigma_b, "b")
    if mu_a.shape != mu_b.shape:
        raise MetricError(f"mu_a has {mu_a.shape[0]} dimensions but mu_b has {mu_b.shape[0]}")

    mean_term = float(np.sum((mu_a - mu_b) ** 2))
    trace_term = float(np.trace(sigma_a) + np.trace(sigma_b))
    distance = mean_term + trace_term - 2.0 * trace_sqrt_product(sigma_a, sigma_b)
    return max(distance, 0.0)


def trace_sqrt_product(sigma_a: np.ndarray, sigma_b: np.ndarray) -> float:
    """Compute tr(sqrt(sigma_a sigma_b)) for symmetric positive semi-definite matrices.

    sigma_a sigma_b is similar to the symmetric PSD matrix sqrt(sigma_a) sigma_b sqrt(sigma_a),
    so both have the same non-negative eigenvalues, and the trace is the sum of their
    square roots. scipy.linalg.sqrtm(sigma_a @ sigma_b) works on the non-symmetric product
    and returns complex values for singular covariances. This route uses symmetric
    eigendecompositions only, so the result is real. Eigenvalues that rounding makes
    slightly negative are clipped to 0.
    """
    sqrt_a = _psd_sqrt(sigma_a)
    product = sqrt_a @ sigma_b @ sqrt_a
    # Symmetrise away rounding asymmetry, because eigh reads only one triangle.
    product = (product + product.T) / 2.0
    eigenvalues = scipy.linalg.eigh(product, eigvals_only=True)
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Return the symmetric square root of a PSD matrix, clipping negative eigenvalues to 0."""
    eigenvalues, eigenvectors = scipy.linalg.eigh(matrix)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def _check_sample_count(matrix: np.ndarray, name: str) -> np.ndarray:
    samples, dimensions = matrix.shape
    if samples < 2 or samples < dimensions:
        raise MetricError(
            f"{name} has {samples} samples in {dimensions} dimensions, but the Fréchet "
            f"distance needs at least 2 samples and at least as many samples as dimensions "
            f"(here {max(2, dimensions)}) to estimate a covariance"
        )
    return matrix


def _mean_and_covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # np.cov returns a 0-d array for a single feature, hence atleast_2d.
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def _check_stats(mu: np.ndarray, sigma: np.ndarray, suffix: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1:
        raise MetricError(f"mu_{suffix} must be a vector, got shape {mu.shape}")
    dimensions = mu.shape[0]
    if sigma.shape != (dimensions, dimensions):
        raise MetricError(
            f"sigma_{suffix} must be {dimensions} x {dimensions} to match mu_{suffix}, "
            f"got shape {sigma.shape}"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise MetricError(f"mu_{suffix} or sigma_{suffix} contains NaN or infinite values")
    return mu, sigma
