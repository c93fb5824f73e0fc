import importlib

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.prdc import density_coverage, prdc, precision_recall

# The package attribute sparkgan.metrics.prdc is the re-exported function, so the module
# itself is fetched by its import path.
prdc_module = importlib.import_module("sparkgan.metrics.prdc")


def _column(values):
    return np.array(values, dtype=np.float64)[:, None]


def _prdc_from_full_matrices(real, fake, k):
    """Reference: the four metrics from full distance matrices, with closed balls."""
    real_self = pairwise_distances(real)
    fake_self = pairwise_distances(fake)
    np.fill_diagonal(real_self, np.inf)
    np.fill_diagonal(fake_self, np.inf)
    real_radii = np.sort(real_self, axis=1)[:, k - 1]
    fake_radii = np.sort(fake_self, axis=1)[:, k - 1]
    real_fake = pairwise_distances(real, fake)  # reals x fakes
    in_real_ball = real_fake <= real_radii[:, None]
    in_fake_ball = real_fake <= fake_radii[None, :]
    return {
        "precision": in_real_ball.any(axis=0).mean(),
        "recall": in_fake_ball.any(axis=1).mean(),
        "density": in_real_ball.sum(axis=0).mean() / k,
        "coverage": in_real_ball.any(axis=1).mean(),
    }


def test_one_dimensional_hand_computed():
    # k = 1. Real 0, 1, 3, 6 have radii 1, 1, 2, 3, so balls [-1, 1], [0, 2], [1, 5], [3, 9].
    # Fake 0.5, 2.5, 12, 13 have radii 2, 2, 1, 1, so balls [-1.5, 2.5], [0.5, 4.5], [11, 13], [12, 14].
    # Fake 0.5 lies in 2 real balls, 2.5 in 1, 12 and 13 in none:
    #   precision = 2 / 4, density = (2 + 1) / (1 * 4).
    # Reals 0, 1 and 3 lie in fake balls, 6 does not: recall = 3 / 4.
    # Real balls of 0, 1 and 3 contain a fake, the ball of 6 does not: coverage = 3 / 4.
    real = _column([0.0, 1.0, 3.0, 6.0])
    fake = _column([0.5, 2.5, 12.0, 13.0])
    result = prdc(real, fake, k=1)
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(0.75)
    assert result["density"] == pytest.approx(0.75)
    assert result["coverage"] == pytest.approx(0.75)


def test_ball_boundary_counts_as_inside():
    # k = 1. Real 0 and 2 both have radius 2. Fake 4 lies exactly on the boundary of the ball of 2,
    # so closed balls give precision, density and coverage 1 / 2 (open balls would give 0).
    # Fake radii are 6, and both reals lie within 6 of fake 4: recall = 1.
    result = prdc(_column([0.0, 2.0]), _column([4.0, 10.0]), k=1)
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(1.0)
    assert result["density"] == pytest.approx(0.5)
    assert result["coverage"] == pytest.approx(0.5)


def test_duplicates_count_as_neighbours():
    # k = 1. Real 0 appears twice, so both copies have radius 0, and reals 20 and 30 have
    # radius 10. Fake 0 lies in both zero-radius balls and fake 5 in no real ball:
    #   precision = 1 / 2, density = 2 / (1 * 2), coverage = 2 / 4.
    # Both fakes have radius 5, which reaches the two reals at 0 only: recall = 2 / 4.
    result = prdc(_column([0.0, 0.0, 20.0, 30.0]), _column([0.0, 5.0]), k=1)
    assert result["precision"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(0.5)
    assert result["density"] == pytest.approx(1.0)
    assert result["coverage"] == pytest.approx(0.5)


def test_blocked_computation_matches_full_matrices(monkeypatch):
    # Tiny blocks make every distance pass run over many blocks, with a ragged last block.
    monkeypatch.setattr(prdc_module, "_BLOCK_ELEMENTS", 1000)
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 20))
    fake = rng.normal(loc=0.2, size=(257, 20))
    expected = _prdc_from_full_matrices(real, fake, k=3)
    result = prdc(real, fake, k=3)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-12), name


def test_pair_functions_match_prdc():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(200, 8))
    fake = rng.normal(scale=1.3, size=(150, 8))
    combined = prdc(real, fake, k=4)
    assert precision_recall(real, fake, k=4) == (combined["precision"], combined["recall"])
    assert density_coverage(real, fake, k=4) == (combined["density"], combined["coverage"])


def test_default_k_values():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(120, 5))
    fake = rng.normal(size=(110, 5))
    expected_pr = _prdc_from_full_matrices(real, fake, k=3)
    expected_dc = _prdc_from_full_matrices(real, fake, k=5)
    assert precision_recall(real, fake) == pytest.approx((expected_pr["precision"], expected_pr["recall"]))
    assert density_coverage(real, fake) == pytest.approx((expected_dc["density"], expected_dc["coverage"]))


def test_standard_normal_matches_published_values():
    # Sanity example of the prdc package README (clovaai/generative-evaluation-prdc): two
    # independent sets of 10,000 samples of N(0, I) in 1,000 dimensions at k = 5 gave
    # precision 0.4772, recall 0.4705, density 1.0555, coverage 0.9735 for one unseeded draw.
    # The values move from draw to draw. Over default_rng seeds 0-8 this implementation gave
    # precision 0.456-0.497, recall 0.459-0.493, density 0.912-1.082 (standard deviation
    # about 0.057) and coverage 0.956-0.975. The tolerances cover that spread, so only
    # density's is wider than 0.02. Seed 0 was not chosen for its values.
    rng = np.random.default_rng(0)
    real = rng.normal(size=(10_000, 1_000))
    fake = rng.normal(size=(10_000, 1_000))
    result = prdc(real, fake, k=5)
    assert result["precision"] == pytest.approx(0.4772, abs=0.04)
    assert result["recall"] == pytest.approx(0.4705, abs=0.04)
    assert result["density"] == pytest.approx(1.0555, abs=0.15)
    assert result["coverage"] == pytest.approx(0.9735, abs=0.02)


def test_k_not_below_sample_count_raises():
    with pytest.raises(MetricError, match="fake has 3 samples, but k=3 nearest neighbours"):
        prdc(np.zeros((10, 2)), np.zeros((3, 2)), k=3)


def test_k_below_one_raises():
    with pytest.raises(MetricError, match="k must be at least 1, got 0"):
        prdc(np.zeros((10, 2)), np.zeros((10, 2)), k=0)


def test_mismatched_dimensions_raise():
    with pytest.raises(MetricError, match="real has 2 dimensions but fake has 3"):
        prdc(np.zeros((10, 2)), np.zeros((10, 3)))
