"""8-bit quantisation of images in [-1, 1], so saved PNGs and live tensors score alike.

Apply quantize_8bit to real and generated images alike before taking features. An image
saved as an 8-bit PNG with to_uint8 and loaded back with from_uint8 then equals
quantize_8bit of the live array exactly.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing
import torch

from sparkgan.metrics.errors import MetricError

ImageArray = TypeVar("ImageArray", np.ndarray, torch.Tensor)


def to_uint8(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Map floating-point images in [-1, 1] to uint8 pixel values 0 .. 255 (numpy array).

    The mapping is np.round(np.clip((x + 1) * 127.5, 0, 255)): values outside [-1, 1] are
    clipped, and halves round to even. Raises MetricError for non-floating or non-finite input.
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    return _pixel_values(np.asarray(images)).astype(np.uint8)


def from_uint8(pixels: np.ndarray, dtype: np.typing.DTypeLike = np.float32) -> np.ndarray:
    """Map uint8 pixel values 0 .. 255 back to [-1, 1] as p / 127.5 - 1 in ``dtype``."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise MetricError(f"pixels must be uint8, got dtype {pixels.dtype}")
    scalar = np.dtype(dtype).type
    return pixels.astype(dtype) / scalar(127.5) - scalar(1.0)


def quantize_8bit(images: ImageArray) -> ImageArray:
    """Round images in [-1, 1] to the 256 levels of an 8-bit image, keeping type, dtype and device.

    Equals from_uint8(to_uint8(images)) in the input's floating dtype, so values outside
    [-1, 1] are clipped to it. Accepts numpy arrays and torch tensors of any shape.
    """
    if isinstance(images, torch.Tensor):
        return _quantize_tensor(images)
    array = np.asarray(images)
    levels = _pixel_values(array)
    return levels / array.dtype.type(127.5) - array.dtype.type(1.0)


def _pixel_values(images: np.ndarray) -> np.ndarray:
    """Return np.round(np.clip((x + 1) * 127.5, 0, 255)) in the input's dtype."""
    if not np.issubdtype(images.dtype, np.floating):
        raise MetricError(f"images must be floating point in [-1, 1], got dtype {images.dtype}")
    if not np.all(np.isfinite(images)):
        raise MetricError(
            f"images contain {np.count_nonzero(~np.isfinite(images))} NaN or infinite values"
        )
    scale = images.dtype.type(127.5)
    return np.round(np.clip((images + images.dtype.type(1.0)) * scale, 0, 255))


def _quantize_tensor(images: torch.Tensor) -> torch.Tensor:
    # The same operations as _pixel_values in torch, so tensors on any device stay there.
    # torch.round also rounds halves to even, like np.round.
    if not images.is_floating_point():
        raise MetricError(f"images must be floating point in [-1, 1], got dtype {images.dtype}")
    finite = torch.isfinite(images)
    if not bool(finite.all()):
        raise MetricError(f"images contain {int((~finite).sum())} NaN or infinite values")
    levels = torch.round(torch.clamp((images + 1.0) * 127.5, 0.0, 255.0))
    return levels / 127.5 - 1.0
