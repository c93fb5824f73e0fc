"""Pictures of samples: image grids and 2-D scatter plots as uint8 arrays.

Drawn with NumPy and Pillow so the core needs neither torchvision nor
matplotlib.
"""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image, ImageDraw


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 1, min_tile: int = 32) -> np.ndarray:
    """Tile N x C x H x W images in [-1, 1] into one H' x W' x 3 uint8 picture.

    Images smaller than ``min_tile`` pixels are enlarged by an integer factor
    (nearest neighbour) so that 8 x 8 digits stay legible.
    """
    factor = max(1, -(-min_tile // images.shape[-1]))
    if factor > 1:
        images = images.repeat(factor, axis=2).repeat(factor, axis=3)
    count, channels, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    pixels = np.round(np.clip((images + 1) * 127.5, 0, 255)).astype(np.uint8)
    if channels == 1:
        pixels = np.repeat(pixels, 3, axis=1)
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding, 3), np.uint8)
    for index in range(count):
        row, col = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        grid[top:top + height, left:left + width] = pixels[index, :3].transpose(1, 2, 0)
    return grid


def scatter_plot(points: np.ndarray, reference: np.ndarray | None = None, size: int = 512) -> np.ndarray:
    """Draw generated 2-D points (orange) over reference points (grey) as H x W x 3 uint8."""
    shown = points if reference is None else np.concatenate([points, reference])
    low, high = np.percentile(shown, 0.5, axis=0), np.percentile(shown, 99.5, axis=0)
    span = float(max(high - low)) * 1.1 or 1.0
    centre = (low + high) / 2

    def to_pixels(xy: np.ndarray) -> np.ndarray:
        scaled = (xy - centre) / span + 0.5
        return np.stack([scaled[:, 0] * size, (1 - scaled[:, 1]) * size], axis=1)

    picture = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(picture)
    for layer, colour in ((reference, (170, 170, 170)), (points, (230, 110, 0))):
        if layer is None:
            continue
        for x, y in to_pixels(layer):
            draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)
    return np.asarray(picture)


def save_png(picture: np.ndarray, path: str | os.PathLike) -> None:
    """Write an H x W x 3 uint8 array as PNG, atomically."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    Image.fromarray(picture).save(tmp, format="PNG")
    os.replace(tmp, path)
