"""2-D Gaussian mixtures, the standard mode-collapse benchmarks.

Defaults follow the PacGAN experiments (Lin et al. 2018): ``grid`` has 25
modes on {-4, -2, 0, 2, 4}^2 with standard deviation 0.05, and ``ring`` has 8
modes evenly spaced on the unit circle with standard deviation 0.01.
"""

from __future__ import annotations

import math

import numpy as np


def ring_centers(modes: int, radius: float) -> np.ndarray:
    """Return ``modes`` points evenly spaced on a circle, starting at angle 0."""
    angles = 2 * math.pi * np.arange(modes) / modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def grid_centers(modes: int, spacing: float) -> np.ndarray:
    """Return a square grid of ``modes`` points centred on the origin.

    Raises:
        ValueError: when ``modes`` is not a perfect square.
    """
    side = math.isqrt(modes)
    if side * side != modes:
        raise ValueError(f"a grid needs a square number of modes, got {modes}")
    axis = (np.arange(side) - (side - 1) / 2) * spacing
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)
