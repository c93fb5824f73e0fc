import warnings

import numpy as np
import pytest
import scipy.linalg

from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.frechet import frechet_distance, frechet_distance_from_stats


def _features_with_exact_stats(mu, sigma, samples, seed):
    """Draw samples, then transform them so their sample mean and covariance equal mu and sigma exactly."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(samples, len(mu)))
    z -= z.mean(axis=0)
    whitening = np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)))
    white = z @ whitening.T
    return white @ np.linalg.cholesky(sigma).T + mu


def test_diagonal_gaussians_hand_computed():
    mu_a = np.array([1.0, 2.0, 0.0])
    mu_b = np.array([0.0, 0.0, 3.0])
    sigma_a = np.diag([4.0, 9.0, 1.0])
    sigma_b = np.diag([1.0, 4.0, 16.0])
    # |mu_a - mu_b|^2 = 1 + 4 + 9 = 14; sum (sqrt(s_a) - sqrt(s_b))^2 = 1 + 1 + 9 = 11.
    assert frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(25.0, abs=1e-12)


def test_one_dimensional_hand_computed():
    # (3 - (-1))^2 + (sqrt(2.25) - sqrt(0.25))^2 = 16 + 1 = 17.
    assert frechet_distance_from_stats([3.0], [[2.25]], [-1.0], [[0.25]]) == pytest.approx(17.0, abs=1e-12)


def test_features_match_hand_computed_stats():
    mu_a, sigma_a = np.array([1.0, 2.0, 0.0]), np.diag([4.0, 9.0, 1.0])
    mu_b, sigma_b = np.array([0.0, 0.0, 3.0]), np.diag([1.0, 4.0, 16.0])
    features_a = _features_with_exact_stats(mu_a, sigma_a, samples=50, seed=1)
    features_b = _features_with_exact_stats(mu_b, sigma_b, samples=70, seed=2)
    assert frechet_distance(features_a, features_b) == pytest.approx(25.0, abs=1e-9)


def test_full_covariances_agree_with_sqrtm():
    # For well-conditioned covariances scipy's sqrtm is accurate and serves as the reference.
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 6))
    b = rng.normal(size=(6, 6))
    sigma_a = a @ a.T + np.eye(6)
    sigma_b = b @ b.T + np.eye(6)
    mu_a, mu_b = rng.normal(size=6), rng.normal(size=6)
    expected = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(sigma_a)
        + np.trace(sigma_b)
        - 2.0 * np.trace(scipy.linalg.sqrtm(sigma_a @ sigma_b)).real
    )
    assert frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b) == pytest.approx(expected, rel=1e-10)


def test_identical_sets_give_zero():
    rng = np.random.default_rng(4)
    features = rng.normal(loc=50.0, scale=3.0, size=(400, 32))
    distance = frechet_distance(features, features.copy())
    assert distance >= 0.0
    assert distance < 1e-6


def test_singular_covariances_where_sqrtm_is_complex():
    # sigma_a = A A^T has rank 2 and sigma_b = w w^T has rank 1, so
    # tr(sqrt(sigma_a sigma_b)) = |A^T w| = |(-3, -2)| = sqrt(13),
    # tr(sigma_a) = 8, tr(sigma_b) = 6, and the distance is 14 - 2 sqrt(13).
    a = np.array([[-2.0, -1.0], [-1.0, 1.0], [0.0, 1.0]])
    w = np.array([[1.0], [1.0], [-2.0]])
    sigma_a = a @ a.T
    sigma_b = w @ w.T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        scipy_root = scipy.linalg.sqrtm(sigma_a @ sigma_b)
    assert np.iscomplexobj(scipy_root), "scipy's sqrtm returned a real matrix: this case no longer tests the complex path"
    assert np.abs(scipy_root.imag).max() > 1.0

    distance = frechet_distance_from_stats(np.zeros(3), sigma_a, np.zeros(3), sigma_b)
    assert isinstance(distance, float)
    assert distance == pytest.approx(14.0 - 2.0 * np.sqrt(13.0), abs=1e-9)


def test_rank_deficient_sample_covariances_are_real():
    # As many samples as dimensions leaves each sample covariance with rank D - 1.
    rng = np.random.default_rng(5)
    features_a = rng.normal(size=(8, 8))
    features_b = rng.normal(size=(8, 8))
    distance = frechet_distance(features_a, features_b)
    assert isinstance(distance, float)
    assert np.isfinite(distance)
    assert distance > 0.0


@pytest.mark.parametrize("samples", [0, 1])
def test_fewer_than_two_samples_raise(samples):
    features = np.zeros((samples, 1))
    with pytest.raises(MetricError, match=f"has {samples} samples in 1 dimensions"):
        frechet_distance(features, np.random.default_rng(0).normal(size=(10, 1)))


def test_fewer_samples_than_dimensions_raise():
    rng = np.random.default_rng(6)
    with pytest.raises(MetricError, match=r"features_b has 5 samples in 10 dimensions.*\(here 10\)"):
        frechet_distance(rng.normal(size=(20, 10)), rng.normal(size=(5, 10)))


def test_metric_error_is_value_error():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros((1, 1)), np.zeros((1, 1)))


def test_mismatched_dimensions_raise():
    rng = np.random.default_rng(7)
    with pytest.raises(MetricError, match="features_a has 3 dimensions but features_b has 4"):
        frechet_distance(rng.normal(size=(10, 3)), rng.normal(size=(10, 4)))


def test_non_matrix_features_raise():
    with pytest.raises(MetricError, match="N x D array"):
        frechet_distance(np.zeros(10), np.zeros((10, 1)))


def test_non_finite_features_raise():
    features = np.random.default_rng(8).normal(size=(10, 2))
    features[3, 1] = np.nan
    with pytest.raises(MetricError, match="NaN or infinite"):
        frechet_distance(features, np.ones((10, 2)))


def test_mismatched_stats_shapes_raise():
    with pytest.raises(MetricError, match="sigma_b must be 2 x 2"):
        frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
