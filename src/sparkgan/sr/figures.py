"""Side-by-side figures: bicubic, one or more models, and the original, on detailed crops."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import uniform_filter

from sparkgan.sr.data import SRImage
from sparkgan.sr.evaluate import bicubic_baseline, low_resolution_input
from sparkgan.sr.model_io import SRModel
from sparkgan.sr.resize import quantize
from sparkgan.sr.upscale import TileSettings, upscale_rgb

_PADDING = 4
_HEADER = 16


def detailed_window(lr: np.ndarray, size: int) -> tuple[int, int]:
    """Return the top-left corner of the ``size`` x ``size`` window with the most gradient energy."""
    gray = lr.mean(axis=2)
    energy = np.abs(np.diff(gray, axis=0, append=gray[-1:])) + np.abs(np.diff(gray, axis=1, append=gray[:, -1:]))
    size = min(size, *gray.shape)
    # uniform_filter centres the window; shift back to corners and keep windows inside the image.
    mean = uniform_filter(energy, size=size, mode="constant")
    half = size // 2
    valid = mean[half:gray.shape[0] - size + half + 1, half:gray.shape[1] - size + half + 1]
    top, left = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(top), int(left)


def side_by_side(models: dict[str, SRModel], images: list[SRImage], tile: int, crop: int = 48, max_images: int = 4) -> np.ndarray:
    """Draw one row per image: bicubic, each model, then the original, as H x W x 3 uint8.

    Each row shows the ``crop`` x ``crop`` low-resolution window with the most
    detail, upscaled. The models upscale the whole image so the crop has its
    real context.
    """
    scale = next(iter(models.values())).scale
    labels = ["bicubic", *models, "original"]
    rows = []
    for image in images[:max_images]:
        lr, bits = low_resolution_input(image, scale)
        top, left = detailed_window(lr, crop)
        size = min(crop, *lr.shape[:2])
        window = (slice(top * scale, (top + size) * scale), slice(left * scale, (left + size) * scale))
        panels = [bicubic_baseline(lr, scale, bits)[window]]
        for model in models.values():
            output = upscale_rgb(model, lr, TileSettings(tile=tile), progress=False)
            panels.append(quantize(torch.from_numpy(output), bits).numpy()[window])
        panels.append(image.hr_float()[window])
        rows.append(panels)
    return _grid(rows, labels)


def _grid(rows: list[list[np.ndarray]], labels: list[str]) -> np.ndarray:
    side = max(panel.shape[0] for row in rows for panel in row)
    columns = len(labels)
    height = _HEADER + len(rows) * (side + _PADDING) + _PADDING
    width = columns * (side + _PADDING) + _PADDING
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            top, left = _HEADER + _PADDING + r * (side + _PADDING), _PADDING + c * (side + _PADDING)
            pixels = np.rint(np.clip(panel, 0.0, 1.0) * 255).astype(np.uint8)
            canvas[top:top + pixels.shape[0], left:left + pixels.shape[1]] = pixels
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default()
    for c, label in enumerate(labels):
        draw.text((_PADDING + c * (side + _PADDING), 2), label, fill=(0, 0, 0), font=font)
    return np.asarray(picture)
