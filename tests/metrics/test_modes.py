import math

import numpy as np
import pytest
import scipy.stats

from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.modes import class_mode_stats, kl_divergence, mixture_mode_stats, mode_histogram

CENTERS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def test_mode_histogram_counts():
    histogram = mode_histogram(np.array([0, 2, 2, 1, 2]), 4)
    assert histogram.tolist() == [1, 1, 3, 0]


def test_mode_histogram_empty_labels():
    assert mode_histogram(np.array([], dtype=np.int64), 3).tolist() == [0, 0, 0]


def test_mode_histogram_out_of_range_raises():
    with pytest.raises(MetricError, match=r"labels must lie in 0 .. 2, got values from 0 to 3"):
        mode_histogram(np.array([0, 3]), 3)


def test_mode_histogram_float_labels_raise():
    with pytest.raises(MetricError, match="labels must be integers"):
        mode_histogram(np.array([0.0, 1.0]), 3)


def test_kl_hand_computed():
    # p = (1/2, 1/2), q = (1/4, 3/4): 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3).
    assert kl_divergence(np.array([1, 1]), np.array([1, 3])) == pytest.approx(0.5 * math.log(4.0 / 3.0), rel=1e-12)


def test_kl_skips_zero_entries_of_p():
    # p = (1/2, 0, 1/2), q = (1/4, 1/4, 1/2): 1/2 ln 2 + 0 + 1/2 ln 1 = 1/2 ln 2.
    assert kl_divergence(np.array([2, 0, 2]), np.array([1, 1, 2])) == pytest.approx(0.5 * math.log(2.0), rel=1e-12)


def test_kl_matches_scipy_entropy():
    p = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    q = np.array([2.0, 7.0, 1.0, 8.0, 2.0])
    assert kl_divergence(p, q) == pytest.approx(scipy.stats.entropy(p, q), rel=1e-12)


def test_kl_of_identical_histograms_is_zero():
    assert kl_divergence(np.array([5, 0, 2]), np.array([10, 0, 4])) == 0.0


def test_kl_q_zero_where_p_positive_raises():
    with pytest.raises(MetricError, match=r"q is 0 at indices \[1\] where p is positive"):
        kl_divergence(np.array([1, 1, 0]), np.array([1, 0, 1]))


def test_kl_sizes_differ_raises():
    with pytest.raises(MetricError, match="p has 2 entries but q has 3"):
        kl_divergence(np.array([1, 1]), np.array([1, 1, 1]))


def test_kl_all_zero_histogram_raises():
    with pytest.raises(MetricError, match="p sums to 0"):
        kl_divergence(np.array([0, 0]), np.array([1, 1]))


def test_kl_negative_entry_raises():
    with pytest.raises(MetricError, match="q must contain only non-negative finite values"):
        kl_divergence(np.array([1, 1]), np.array([2, -1]))


def test_mixture_mode_stats_hand_computed():
    # std = 1, so a sample is high quality within distance 3 of its nearest centre.
    points = np.array(
        [
            [0.5, 0.0],  # mode 0, distance 0.5: high quality
            [0.0, 2.9],  # mode 0, distance 2.9: high quality
            [10.0, 1.0],  # mode 1, distance 1: high quality
            [5.0, 5.0],  # distance sqrt(50) to every mode: low quality
            [0.0, 13.5],  # mode 2, distance 3.5: low quality
        ]
    )
    stats = mixture_mode_stats(points, CENTERS, std=1.0)
    assert stats["modes_covered"] == 2
    assert stats["modes_total"] == 3
    assert stats["high_quality"] == pytest.approx(3 / 5)
    # High-quality histogram (2, 1, 0) against uniform: 2/3 ln(2) + 1/3 ln(1) + 0.
    assert stats["mode_kl"] == pytest.approx(2.0 / 3.0 * math.log(2.0), rel=1e-12)


def test_mixture_three_std_boundary_is_high_quality():
    # std = 0.5: the first two points lie exactly 1.5 = 3 std from modes 0 and 2, the last 1.51 from mode 1.
    points = np.array([[1.5, 0.0], [0.0, 8.5], [10.0, 1.51]])
    stats = mixture_mode_stats(points, CENTERS, std=0.5)
    assert stats["high_quality"] == pytest.approx(2 / 3)
    assert stats["modes_covered"] == 2


def test_mixture_all_modes_evenly_covered():
    offsets = np.array([[0.1, 0.0], [-0.1, 0.0]])
    points = np.concatenate([center + offsets for center in CENTERS])
    stats = mixture_mode_stats(points, CENTERS, std=0.2)
    assert stats["modes_covered"] == 3
    assert stats["high_quality"] == 1.0
    assert stats["mode_kl"] == pytest.approx(0.0, abs=1e-15)


def test_mixture_without_high_quality_samples():
    stats = mixture_mode_stats(np.array([[5.0, 5.0], [20.0, 20.0]]), CENTERS, std=1.0)
    assert stats["modes_covered"] == 0
    assert stats["high_quality"] == 0.0
    assert stats["mode_kl"] == math.inf


def test_mixture_invalid_std_raises():
    with pytest.raises(MetricError, match="std must be a positive finite number, got 0.0"):
        mixture_mode_stats(np.zeros((2, 2)), CENTERS, std=0.0)


def test_mixture_wrong_point_dimension_raises():
    with pytest.raises(MetricError, match=r"must be N x 2 and M x 2, got \(2, 3\)"):
        mixture_mode_stats(np.zeros((2, 3)), CENTERS, std=1.0)


def test_class_mode_stats_hand_computed():
    predicted = np.array([0, 0, 1, 1, 1, 3])
    stats = class_mode_stats(predicted, num_classes=4, reference_histogram=np.array([10, 10, 10, 10]))
    assert stats["modes_covered"] == 3
    assert stats["modes_total"] == 4
    # p = (1/3, 1/2, 0, 1/6) against uniform q = 1/4.
    expected = 1 / 3 * math.log(4 / 3) + 1 / 2 * math.log(2) + 1 / 6 * math.log(2 / 3)
    assert stats["mode_kl"] == pytest.approx(expected, rel=1e-12)


def test_class_mode_stats_reference_zero_raises():
    with pytest.raises(MetricError, match=r"q is 0 at indices \[3\]"):
        class_mode_stats(np.array([0, 3]), num_classes=4, reference_histogram=np.array([1, 1, 1, 0]))


def test_class_mode_stats_reference_size_raises():
    with pytest.raises(MetricError, match="reference_histogram must have num_classes=4 entries"):
        class_mode_stats(np.array([0, 1]), num_classes=4, reference_histogram=np.ones(3))
