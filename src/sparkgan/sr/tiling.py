"""Upscale an image of any size tile by tile, with overlap and blending.

Tiles of ``tile`` x ``tile`` low-resolution pixels are placed so that
neighbours share at least ``overlap`` pixels. Each tile's output is weighted
by a window that is 0 within the model's receptive radius ``r`` of an edge it
shares with a neighbour. The window rises linearly across the rest of the
shared strip and is 1 elsewhere, and the weights are normalised to sum to 1.

An output pixel within ``r`` low-resolution pixels of a tile's inner edge depends on
padding instead of the image, so it differs from the whole-image result; every
other pixel of the tile is exact. When ``overlap >= 2 r``, every output pixel
has a positive weight only from tiles in which it is exact, so the tiled
result equals the whole-image result up to floating-point rounding. With a
smaller overlap the zero band shrinks to half the overlap, seams stay blended
but are no longer exact, and a warning is logged.

Memory: the network only ever sees one tile, so the memory of its activations
is bounded by the tile size; the output image is the only whole-image buffer.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

# Above this many tiles an image gets its own progress bar.
_TILES_FOR_PROGRESS = 16


def min_overlap(receptive_radius: int) -> int:
    """Return the smallest overlap (low-resolution pixels) that makes tiling exact."""
    return 2 * receptive_radius


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Return tile start positions along one axis: evenly spread, neighbours sharing >= ``overlap``."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    count = math.ceil((length - tile) / stride) + 1
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _axis_weights(starts: list[int], tile: int, length: int, scale: int, margin: float) -> list[np.ndarray]:
    """Return each tile's normalised 1-D blending window in output (high-resolution) pixels."""
    windows = []
    for index, start in enumerate(starts):
        end = min(start + tile, length)
        window = np.ones((end - start) * scale, dtype=np.float64)
        position = np.arange(start * scale, end * scale) + 0.5
        if index > 0:
            shared_end = (starts[index - 1] + tile) * scale
            window *= _ramp(position, start * scale + margin * scale, shared_end - margin * scale)
        if index < len(starts) - 1:
            shared_start = starts[index + 1] * scale
            window *= _ramp(-position, -(end * scale - margin * scale), -(shared_start + margin * scale))
        windows.append(window)

    total = np.zeros(length * scale, dtype=np.float64)
    for start, window in zip(starts, windows):
        total[start * scale:start * scale + len(window)] += window
    return [window / total[start * scale:start * scale + len(window)] for start, window in zip(starts, windows)]


def _ramp(position: np.ndarray, zero_until: float, one_from: float) -> np.ndarray:
    """0 before ``zero_until``, 1 from ``one_from`` on, linear in between."""
    if one_from <= zero_until:
        return (position >= zero_until).astype(np.float64)
    return np.clip((position - zero_until) / (one_from - zero_until), 0.0, 1.0)


@torch.no_grad()
def upscale_tiled(
    generator: nn.Module,
    image: torch.Tensor,
    *,
    scale: int,
    receptive_radius: int,
    tile: int,
    overlap: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Upscale a 3 x h x w float tensor to a 3 x (h * scale) x (w * scale) float32 array.

    ``overlap`` defaults to :func:`min_overlap`. The generator runs on the
    device its parameters are on, one tile at a time.

    Raises:
        ValueError: when ``tile`` is not larger than ``overlap``.
    """
    overlap = min_overlap(receptive_radius) if overlap is None else overlap
    height, width = image.shape[-2:]
    if tile <= overlap and (height > tile or width > tile):
        raise ValueError(
            f"invalid tile size {tile}: it must be larger than the overlap of {overlap} pixels "
            f"(the model's receptive radius is {receptive_radius}, so exact tiling needs an overlap of "
            f"{min_overlap(receptive_radius)}); raise the tile size"
        )
    rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    if overlap < min_overlap(receptive_radius) and (len(rows) > 1 or len(cols) > 1):
        log.warning(
            "tile overlap %d is below %d, twice the model's receptive radius: pixels near tile seams "
            "will differ from upscaling the whole image",
            overlap,
            min_overlap(receptive_radius),
        )
    margin = min(receptive_radius, overlap / 2)
    row_weights = _axis_weights(rows, tile, height, scale, margin)
    col_weights = _axis_weights(cols, tile, width, scale, margin)

    device = next(generator.parameters()).device
    output = np.zeros((image.shape[0], height * scale, width * scale), dtype=np.float32)
    show = progress and len(rows) * len(cols) > _TILES_FOR_PROGRESS
    with tqdm(total=len(rows) * len(cols), desc="tiles", unit="tile", disable=not show or None, leave=False) as bar:
        for top, row_weight in zip(rows, row_weights):
            for left, col_weight in zip(cols, col_weights):
                part = image[None, :, top:top + tile, left:left + tile].to(device)
                upscaled = generator(part)[0].float().cpu().numpy()
                weight = (row_weight[:, None] * col_weight[None, :]).astype(np.float32)
                output[:, top * scale:top * scale + upscaled.shape[1], left * scale:left * scale + upscaled.shape[2]] += (
                    upscaled * weight
                )
                bar.update(1)
    return output
