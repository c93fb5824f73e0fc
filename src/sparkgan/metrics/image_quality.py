"""PSNR and SSIM of super-resolved images, by the protocol of the SR literature.

Images are H x W x C arrays (or H x W) with values in [0, 1]. Both metrics take
the channel and the border crop as required keywords because published
super-resolution figures depend on both:

- ``channel="y"`` measures the luma of ITU-R BT.601 in its studio range, the
  channel that SR papers such as SRGAN report:
  ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` for R, G, B in [0, 1], so Y lies
  in [16, 235]. Y is kept in floating point (no rounding to integers). A
  one-channel image is its own R, G and B.
- ``channel="rgb"`` measures every channel and averages (SSIM) or pools the
  squared errors (PSNR).
- ``border`` pixels are removed from each side before measuring; the
  convention is the upscaling factor.

Values are compared on the 0..255 scale with a data range of 255.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.ndimage import gaussian_filter

from sparkgan.metrics.errors import MetricError

Channel = Literal["y", "rgb"]

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])
_DATA_RANGE = 255.0
# Wang et al. 2004, "Image quality assessment: from error visibility to structural
# similarity": an 11 x 11 Gaussian window of standard deviation 1.5, K1 = 0.01, K2 = 0.03.
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5  # gaussian_filter's radius int(3.5 * 1.5 + 0.5) = 5 gives the 11 x 11 window
_SSIM_RADIUS = 5
_SSIM_C1 = (0.01 * _DATA_RANGE) ** 2
_SSIM_C2 = (0.03 * _DATA_RANGE) ** 2


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """Convert an H x W x 3 (or one-channel) image in [0, 1] to BT.601 luma Y in [16, 235]."""
    pixels = _as_hwc(image, "image")
    if pixels.shape[2] == 1:
        return 16.0 + _Y_WEIGHTS.sum() * pixels[:, :, 0]
    return 16.0 + pixels @ _Y_WEIGHTS


def psnr(reference: np.ndarray, test: np.ndarray, *, channel: Channel, border: int) -> float:
    """Compute the peak signal-to-noise ratio of ``test`` against ``reference`` in dB.

    Identical images give ``inf``.

    Raises:
        MetricError: for different shapes, non-finite values, an unknown channel,
            or a border that leaves no pixels.
    """
    a, b = _prepare(reference, test, channel, border, min_side=1)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return 10.0 * float(np.log10(_DATA_RANGE**2 / mse))


def ssim(reference: np.ndarray, test: np.ndarray, *, channel: Channel, border: int) -> float:
    """Compute the mean structural similarity of ``test`` against ``reference``.

    The statistics use Gaussian weights (sigma 1.5, an 11 x 11 window) and
    population covariances, and the map is averaged over the positions where
    the whole window fits inside the image.
    For ``channel="rgb"`` the result is the mean over the channels.

    Raises:
        MetricError: as :func:`psnr` does, and when the cropped image is smaller
            than the 11 x 11 window.
    """
    a, b = _prepare(reference, test, channel, border, min_side=2 * _SSIM_RADIUS + 1)
    return float(np.mean([_ssim_one_channel(a[:, :, c], b[:, :, c]) for c in range(a.shape[2])]))


def _ssim_one_channel(a: np.ndarray, b: np.ndarray) -> float:
    # Written out with scipy's Gaussian filter rather than delegated to
    # skimage.metrics.structural_similarity, whose defaults (a 7 x 7 uniform window,
    # sample covariances) are not the SR protocol: here the protocol is fixed in
    # one place. The tests compare it with skimage called with matching arguments.
    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, sigma=_SSIM_SIGMA, truncate=_SSIM_TRUNCATE, mode="reflect")

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + _SSIM_C1) * (2 * cov + _SSIM_C2)
    denominator = (mu_a**2 + mu_b**2 + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    ssim_map = numerator / denominator
    # Keep only positions where the window lies inside the image ("valid" filtering),
    # so the reflected padding never enters the mean.
    r = _SSIM_RADIUS
    return float(ssim_map[r:-r, r:-r].mean())


def _prepare(reference, test, channel: str, border: int, min_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Return both images as float64 H x W x C on the 0..255 scale (Y: 16..235), cropped."""
    a, b = _as_hwc(reference, "reference"), _as_hwc(test, "test")
    if a.shape != b.shape:
        raise MetricError(f"reference has shape {a.shape} but test has shape {b.shape}: the images must match")
    if channel == "y":
        a, b = rgb_to_y(a)[:, :, None], rgb_to_y(b)[:, :, None]
    elif channel == "rgb":
        a, b = a * _DATA_RANGE, b * _DATA_RANGE
    else:
        raise MetricError(f"invalid channel {channel!r}: expected 'y' or 'rgb'")

    if not isinstance(border, (int, np.integer)) or border < 0:
        raise MetricError(f"invalid border {border!r}: expected a whole number of pixels >= 0")
    height, width = a.shape[:2]
    if min(height, width) - 2 * border < min_side:
        raise MetricError(
            f"a border of {border} pixels leaves less than {min_side} x {min_side} pixels of a "
            f"{height} x {width} image: use a smaller border or a larger image"
        )
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return a, b


def _as_hwc(image, name: str) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise MetricError(f"{name} must be an H x W, H x W x 1 or H x W x 3 array, got shape {pixels.shape}")
    if not np.all(np.isfinite(pixels)):
        raise MetricError(f"{name} contains NaN or infinite values")
    return pixels
