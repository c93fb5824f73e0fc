"""The one bicubic resampling that makes low-resolution inputs and the bicubic baseline.

Both use Keys cubic convolution with a = -0.5, antialiased when shrinking
(the kernel widens by the downscaling factor), and pixel centres aligned
(``align_corners=False``): ``torch.nn.functional.interpolate(mode="bicubic",
antialias=True)``. Pillow's ``Image.resize(..., BICUBIC)`` on float images
computes the same values to within 1e-6. Near the borders both renormalise the
truncated kernel. Implementations that mirror the image there instead give
other values within a few pixels of the border, which the border crop of the
metrics removes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def bicubic_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize N x C x H x W float images to ``size`` (height, width)."""
    return F.interpolate(images, size=size, mode="bicubic", antialias=True, align_corners=False)


def downscale(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Shrink N x C x H x W images whose sides are multiples of ``scale`` by ``scale``."""
    height, width = images.shape[-2:]
    return bicubic_resize(images, (height // scale, width // scale))


def upscale_bicubic(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Enlarge N x C x h x w images by ``scale``: the bicubic baseline."""
    height, width = images.shape[-2:]
    return bicubic_resize(images, (height * scale, width * scale))


def quantize(images: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Clip to [0, 1] and round to ``bits`` per channel, as an image file stores values."""
    levels = 2**bits - 1
    return torch.round(images.clamp(0.0, 1.0) * levels) / levels


def crop_to_multiple(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Crop an H x W x C array at the bottom and right so both sides are multiples of ``scale``."""
    height, width = pixels.shape[0] // scale * scale, pixels.shape[1] // scale * scale
    return pixels[:height, :width]
