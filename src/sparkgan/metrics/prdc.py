"""k-nearest-neighbour precision, recall, density and coverage of generated samples.

Precision and recall follow Kynkäänniemi et al. 2019 ("Improved Precision and Recall Metric
for Assessing Generative Models"), density and coverage follow Naeem et al. 2020 ("Reliable
Fidelity and Diversity Metrics for Generative Models"). Each sample gets a ball whose
radius is the distance to its k-th nearest neighbour in its own set, not counting itself.

- precision: fraction of fake samples inside at least one real ball.
- recall: fraction of real samples inside at least one fake ball.
- density: number of (fake sample, real ball containing it) pairs divided by k times the
  number of fake samples. It is about 1 when both sets come from the same distribution.
- coverage: fraction of real balls that contain at least one fake sample.

Balls are closed (distance <= radius), as in the reference code of Kynkäänniemi et al.
The reference code of Naeem et al. (clovaai/generative-evaluation-prdc) uses open balls
(distance < radius). The two differ only when a distance equals a radius exactly.

Distances are Euclidean, computed in float64 with torch.cdist in row blocks, so no full
N x M distance matrix is ever held: memory stays near _BLOCK_ELEMENTS * 8 bytes per block
plus the inputs.
"""

from __future__ import annotations

import numpy as np
import torch

from sparkgan.metrics._arrays import as_feature_matrix, check_same_dimensions
from sparkgan.metrics.errors import MetricError

# Distance-matrix entries per block: 16M float64 values are 128 MB.
_BLOCK_ELEMENTS = 16_000_000


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Compute (precision, recall) of ``fake`` against ``real`` with k-NN balls (N x D arrays)."""
    real_t, fake_t = _prepare(real, fake, k)
    real_radii = _knn_radii(real_t, k)
    fake_radii = _knn_radii(fake_t, k)
    counts = _count_ball_memberships(real_t, fake_t, real_radii, fake_radii)
    return counts.precision(), counts.recall()


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Compute (density, coverage) of ``fake`` against ``real`` with k-NN balls (N x D arrays)."""
    real_t, fake_t = _prepare(real, fake, k)
    real_radii = _knn_radii(real_t, k)
    counts = _count_ball_memberships(real_t, fake_t, real_radii, fake_radii=None)
    return counts.density(k), counts.coverage()


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Compute precision, recall, density and coverage with one k for all four.

    Returns a dict with the keys "precision", "recall", "density" and "coverage". Each set's
    k-NN radii and the real-to-fake distances are computed once.
    """
    real_t, fake_t = _prepare(real, fake, k)
    real_radii = _knn_radii(real_t, k)
    fake_radii = _knn_radii(fake_t, k)
    counts = _count_ball_memberships(real_t, fake_t, real_radii, fake_radii)
    return {
        "precision": counts.precision(),
        "recall": counts.recall(),
        "density": counts.density(k),
        "coverage": counts.coverage(),
    }


class _BallMemberships:
    """Per-sample results of comparing every real-fake distance with the ball radii."""

    def __init__(self, real_count: int, fake_count: int, with_recall: bool):
        # Number of real balls that contain each fake sample.
        self.real_balls_per_fake = torch.zeros(fake_count, dtype=torch.int64)
        # Whether each real ball contains at least one fake sample.
        self.real_ball_hit = torch.zeros(real_count, dtype=torch.bool)
        # Whether each real sample lies in at least one fake ball.
        self.real_in_fake_ball = torch.zeros(real_count, dtype=torch.bool) if with_recall else None

    def precision(self) -> float:
        return float((self.real_balls_per_fake > 0).double().mean())

    def recall(self) -> float:
        return float(self.real_in_fake_ball.double().mean())

    def density(self, k: int) -> float:
        return float(self.real_balls_per_fake.double().mean() / k)

    def coverage(self) -> float:
        return float(self.real_ball_hit.double().mean())


def _count_ball_memberships(
    real: torch.Tensor,
    fake: torch.Tensor,
    real_radii: torch.Tensor,
    fake_radii: torch.Tensor | None,
) -> _BallMemberships:
    """Compare all fake-to-real distances with both sets' radii, one block of fakes at a time."""
    counts = _BallMemberships(real.shape[0], fake.shape[0], with_recall=fake_radii is not None)
    block = _block_rows(real.shape[0])
    for start in range(0, fake.shape[0], block):
        stop = min(start + block, fake.shape[0])
        distances = _cdist(fake[start:stop], real)  # fakes in the block x all reals

        in_real_ball = distances <= real_radii[None, :]
        counts.real_balls_per_fake[start:stop] = in_real_ball.sum(dim=1)
        counts.real_ball_hit |= in_real_ball.any(dim=0)
        del in_real_ball

        if fake_radii is not None:
            in_fake_ball = distances <= fake_radii[start:stop, None]
            counts.real_in_fake_ball |= in_fake_ball.any(dim=0)
    return counts


def _knn_radii(points: torch.Tensor, k: int) -> torch.Tensor:
    """Return each point's distance to its k-th nearest other point in the same set."""
    count = points.shape[0]
    radii = torch.empty(count, dtype=torch.float64)
    block = _block_rows(count)
    for start in range(0, count, block):
        stop = min(start + block, count)
        distances = _cdist(points[start:stop], points)
        # Exclude each point from its own neighbours. Duplicates of a point still count.
        rows = torch.arange(stop - start)
        distances[rows, rows + start] = torch.inf
        # topk of a small k is several times faster than kthvalue on wide rows.
        radii[start:stop] = torch.topk(distances, k, dim=1, largest=False).values[:, -1]
    return radii


def _cdist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # The matrix-product form is several times faster than the difference form for wide
    # features. Its float64 rounding error is about 1e-16 of the squared norms, which is
    # up to about 1e-8 of the norms for nearly equal points. Only a distance and a radius
    # that close can compare the wrong way.
    return torch.cdist(x, y, compute_mode="use_mm_for_euclid_dist")


def _block_rows(columns: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(columns, 1))


def _prepare(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    real_matrix = as_feature_matrix(real, "real")
    fake_matrix = as_feature_matrix(fake, "fake")
    check_same_dimensions(real_matrix, fake_matrix, "real", "fake")
    if k < 1:
        raise MetricError(f"k must be at least 1, got {k}")
    for name, matrix in (("real", real_matrix), ("fake", fake_matrix)):
        if matrix.shape[0] <= k:
            raise MetricError(
                f"{name} has {matrix.shape[0]} samples, but k={k} nearest neighbours besides "
                f"the sample itself need at least {k + 1}"
            )
    return torch.from_numpy(real_matrix), torch.from_numpy(fake_matrix)
