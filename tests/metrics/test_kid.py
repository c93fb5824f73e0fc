import numpy as np
import pytest

from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.kid import kernel_inception_distance


def _mmd2_by_double_loop(x, y):
    """Unbiased MMD^2 with k(u, v) = (u . v / d + 1)^3, written out term by term."""
    d = x.shape[1]
    m, n = len(x), len(y)

    def kernel(u, v):
        return (float(np.dot(u, v)) / d + 1.0) ** 3

    within_x = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    within_y = sum(kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    cross = sum(kernel(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return within_x + within_y - 2.0 * cross


def test_two_points_hand_computed():
    # d = 1, so k(u, v) = (u v + 1)^3. Within x = {0, 1}: k(0, 1) = 1, averaged over 2 ordered pairs = 1.
    # Within y = {2, 0}: k(2, 0) = 1, so 1 again. Cross: k(0, 2) = k(0, 0) = k(1, 0) = 1 and
    # k(1, 2) = 27, so 30 / 4 = 7.5. MMD^2 = 1 + 1 - 2 * 7.5 = -13.
    mean, std = kernel_inception_distance(np.array([[0.0], [1.0]]), np.array([[2.0], [0.0]]), subsets=1)
    assert mean == pytest.approx(-13.0, abs=1e-12)
    assert std == 0.0


def test_whole_set_subset_matches_double_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 4))
    y = rng.normal(loc=0.3, size=(6, 4))
    mean, std = kernel_inception_distance(x, y, subsets=1, subset_size=6)
    assert mean == pytest.approx(_mmd2_by_double_loop(x, y), rel=1e-12)
    assert std == 0.0


def test_whole_set_subsets_have_zero_spread():
    # Every subset is the whole set in another order, and MMD^2 does not depend on order.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3))
    y = rng.normal(size=(5, 3))
    mean, std = kernel_inception_distance(x, y, subsets=7, subset_size=5)
    assert mean == pytest.approx(_mmd2_by_double_loop(x, y), rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_subset_size_clipped_to_smaller_set():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 3))
    y = rng.normal(size=(9, 3))
    clipped = kernel_inception_distance(x, y, subsets=4, subset_size=1000, seed=3)
    explicit = kernel_inception_distance(x, y, subsets=4, subset_size=5, seed=3)
    assert clipped == explicit


def test_identical_distributions_near_zero():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(1000, 16))
    b = rng.normal(size=(1000, 16))
    mean, std = kernel_inception_distance(a, b, subsets=20, subset_size=500)
    assert abs(mean) < 0.02
    assert std < 0.02


def test_shifted_distribution_far_from_zero():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(1000, 16))
    b = rng.normal(loc=0.5, size=(1000, 16))
    mean, _ = kernel_inception_distance(a, b, subsets=20, subset_size=500)
    assert mean > 0.5


def test_same_seed_same_result():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(50, 4))
    b = rng.normal(size=(60, 4))
    first = kernel_inception_distance(a, b, subsets=5, subset_size=20, seed=11)
    second = kernel_inception_distance(a, b, subsets=5, subset_size=20, seed=11)
    assert first == second


def test_single_sample_raises():
    with pytest.raises(MetricError, match="at least 2 samples.*1 and 10 samples"):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((10, 3)))


def test_zero_subsets_raises():
    with pytest.raises(MetricError, match="subsets must be at least 1, got 0"):
        kernel_inception_distance(np.zeros((4, 3)), np.zeros((4, 3)), subsets=0)


def test_mismatched_dimensions_raise():
    with pytest.raises(MetricError, match="features_a has 3 dimensions but features_b has 2"):
        kernel_inception_distance(np.zeros((4, 3)), np.zeros((4, 2)))
