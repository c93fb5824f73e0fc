"""Image decoding and the conversion of images to GAN training arrays.

`decode_image` reads an image file with Pillow, and `to_training_array` converts
the decoded image for GAN training by this rule:

1. Alpha is composited over a white background, in float:
   ``colour * alpha + 1.0 * (1 - alpha)``.
2. Channels are converted. RGB becomes 1 channel with the ITU-R BT.601 luma
   ``0.299 R + 0.587 G + 0.114 B``, the weights that Pillow 13 documents for
   ``Image.convert("L")``. Gray becomes 3 channels by repeating it.
3. The image is resized so that its shorter side equals the resolution, with
   Pillow's antialiased bicubic filter on float32 data so that 16-bit precision
   survives. Then the centre resolution x resolution square is cropped and the
   values are clipped to [0, 1]. There is no resize when the shorter side
   already equals the resolution.
4. Values are mapped from [0, 1] to [-1, 1] by ``x * 2 - 1``.

The result is a float32 array of shape channels x resolution x resolution.
"""

from __future__ import annotations

import io
import logging
import numbers
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

logger = logging.getLogger(__name__)


class DataError(ValueError):
    """Bad input data. The message names the file or setting and what to do."""


IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"})

# Pillow reports broken files through all of these, depending on the format plugin.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError)
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_MODES_READ_DIRECTLY = frozenset({"L", "LA", "RGB", "RGBA"})
_SKIPPED_FILES_LOGGED = 5


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image before conversion to the training layout."""

    pixels: np.ndarray
    """float32, H x W x C in [0, 1]. C is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)."""
    bit_depth: int
    """Bits per channel of the decoded data: 8, or 16 for sources with more than 8 bits."""
    source: str
    """File path or the name the caller gave, used in messages."""


def decode_image(data: bytes | str | os.PathLike, *, name: str | None = None) -> DecodedImage:
    """Decode an image file or its bytes with Pillow into float32 pixels in [0, 1].

    EXIF orientation is applied, and animated GIF and WebP files give their first frame.
    Raises DataError, naming `name` (or else the path) and the reason, for any file
    that Pillow cannot decode or that has no pixels.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        source = name or "<bytes>"
        stream = io.BytesIO(data)
    else:
        source = name or os.fspath(data)
        stream = data

    try:
        with Image.open(stream) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            pixels, bit_depth = _pixels_from_pil(image)
    except _DECODE_ERRORS as error:
        raise DataError(
            f"failed to decode image {source}: {type(error).__name__}: {error}. "
            "Replace or remove the file."
        ) from error

    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise DataError(
            f"image {source} is empty ({pixels.shape[1]}x{pixels.shape[0]} pixels). Replace or remove the file."
        )
    return DecodedImage(pixels=pixels, bit_depth=bit_depth, source=source)


def _pixels_from_pil(image: Image.Image) -> tuple[np.ndarray, int]:
    """Return (H x W x C float32 in [0, 1], bit depth) for a loaded Pillow image."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _as_channels(np.asarray(image).astype(np.float32) / 65535.0), 16
    if mode == "I":
        # NOTE: mode "I" is assumed to hold 16-bit samples, as Pillow gives for some
        # 16-bit grayscale files. Values above 65535 (32-bit sources) are clipped.
        values = np.asarray(image).astype(np.float64) / 65535.0
        return _as_channels(np.clip(values, 0.0, 1.0).astype(np.float32)), 16
    if mode == "F":
        return _as_channels(np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)), 16

    # NOTE: Pillow 13 reduces 16-bit RGB and gray + alpha PNGs to 8 bits per channel
    # when it opens them, so those files come out with bit_depth 8.
    if mode not in _MODES_READ_DIRECTLY:
        image = image.convert(_target_mode(image))
    return _as_channels(np.asarray(image).astype(np.float32) / 255.0), 8


def _target_mode(image: Image.Image) -> str:
    """Pick the 8-bit mode for an image whose mode sparkgan does not read directly."""
    if image.mode == "1":
        return "L"
    if image.mode == "La":
        return "LA"
    if image.mode in ("PA", "RGBa"):
        return "RGBA"
    if image.mode == "P" and image.has_transparency_data:
        return "RGBA"
    return "RGB"


def _as_channels(pixels: np.ndarray) -> np.ndarray:
    """Add the channel axis to H x W arrays."""
    return pixels[:, :, np.newaxis] if pixels.ndim == 2 else pixels


def to_training_array(image: DecodedImage, *, channels: int, resolution: int) -> np.ndarray:
    """Convert a decoded image to float32 C x H x W in [-1, 1] by the rule in the module docstring."""
    _check_settings(channels, resolution)
    colour = _composite_over_white(image.pixels)
    colour = _convert_channels(colour, channels)
    colour = _resize_shorter_side(colour, resolution)
    colour = _crop_centre(colour, resolution)
    colour = np.clip(colour, 0.0, 1.0)
    return np.ascontiguousarray((colour * 2.0 - 1.0).transpose(2, 0, 1), dtype=np.float32)


def _check_settings(channels: int, resolution: int) -> None:
    if channels not in (1, 3):
        raise DataError(f"data.channels is {channels!r}, but it must be 1 (grayscale) or 3 (RGB).")
    if not isinstance(resolution, numbers.Integral) or resolution < 1:
        raise DataError(f"data.resolution is {resolution!r}, but it must be a positive integer.")


def _composite_over_white(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape[2] not in (2, 4):
        return pixels
    colour = pixels[:, :, :-1]
    alpha = pixels[:, :, -1:]
    return colour * alpha + (1.0 - alpha)


def _convert_channels(colour: np.ndarray, channels: int) -> np.ndarray:
    if colour.shape[2] == channels:
        return colour
    if channels == 1:
        return (colour @ _LUMA_WEIGHTS)[:, :, np.newaxis].astype(np.float32)
    return np.repeat(colour, channels, axis=2)


def _resize_shorter_side(colour: np.ndarray, resolution: int) -> np.ndarray:
    height, width = colour.shape[:2]
    shorter = min(height, width)
    if shorter == resolution:
        return colour

    scale = resolution / shorter
    new_height = resolution if height == shorter else max(resolution, round(height * scale))
    new_width = resolution if width == shorter else max(resolution, round(width * scale))
    # Pillow's resize widens the bicubic kernel when shrinking, which antialiases.
    resized = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(colour[:, :, c], dtype=np.float32), mode="F").resize(
                (new_width, new_height), Image.Resampling.BICUBIC
            )
        )
        for c in range(colour.shape[2])
    ]
    return np.stack(resized, axis=2)


def _crop_centre(colour: np.ndarray, resolution: int) -> np.ndarray:
    height, width = colour.shape[:2]
    top = (height - resolution) // 2
    left = (width - resolution) // 2
    return colour[top : top + resolution, left : left + resolution]


def load_image_folder(
    root: str | os.PathLike,
    *,
    channels: int,
    resolution: int,
    skip_bad: bool = False,
    progress: bool = True,
) -> tuple[np.ndarray, int]:
    """Decode and convert every image under `root`, recursively, in sorted path order.

    Returns (N x C x H x W float32 array in [-1, 1], number of skipped files). An
    undecodable file raises DataError unless `skip_bad`, which skips it and logs a warning.
    Raises DataError for a missing or empty folder and when every file is undecodable.
    """
    _check_settings(channels, resolution)
    root = Path(root)
    files = list_image_files(root)

    output = np.empty((len(files), channels, resolution, resolution), dtype=np.float32)
    kept = 0
    failures: list[DataError] = []
    for path in tqdm(files, desc=f"Loading {root}", unit="image", disable=None if progress else True):
        try:
            image = decode_image(path)
        except DataError as error:
            if not skip_bad:
                raise DataError(f"{error} Or set data.skip_bad=true to skip undecodable files.") from error
            failures.append(error)
            continue
        output[kept] = to_training_array(image, channels=channels, resolution=resolution)
        kept += 1

    if kept == 0:
        raise DataError(
            f"none of the {len(files)} image files under {root} could be decoded. First error: {failures[0]}"
        )
    if failures:
        logger.warning(
            "Skipped %d of %d image files under %s that could not be decoded. First %d: %s",
            len(failures),
            len(files),
            root,
            min(len(failures), _SKIPPED_FILES_LOGGED),
            " | ".join(str(error) for error in failures[:_SKIPPED_FILES_LOGGED]),
        )
    return output[:kept], len(failures)


def list_image_files(folder: str | os.PathLike, setting: str = "data.path") -> list[Path]:
    """Return the image files under ``folder``, recursively, in sorted relative-path order.

    Raises:
        DataError: naming the folder and ``setting`` when the folder is missing,
            is not a directory or contains no image files.
    """
    root = Path(folder)
    accepted = ", ".join(sorted(IMAGE_SUFFIXES))
    if not root.exists():
        raise DataError(f"data folder {root} not found. Set '{setting}' to a folder of images ({accepted}).")
    if not root.is_dir():
        raise DataError(f"data folder {root} is not a directory. Set '{setting}' to a folder of images ({accepted}).")

    files = sorted(
        (path for path in root.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()),
        key=lambda path: path.relative_to(root).as_posix(),
    )
    if not files:
        raise DataError(f"no image files found under {root} (set by '{setting}'). Accepted suffixes: {accepted}.")
    return files


def to_uint8_image(array: np.ndarray) -> np.ndarray:
    """Convert C x H x W floats in [-1, 1] to H x W x C uint8 (H x W when C is 1).

    Values are mapped by (x + 1) / 2 * 255, clipped to [0, 255] and rounded.
    """
    if array.ndim != 3:
        raise ValueError(f"expected a C x H x W array, got shape {array.shape}")
    scaled = np.clip((np.asarray(array, dtype=np.float32) + 1.0) / 2.0 * 255.0, 0.0, 255.0)
    image = np.rint(scaled).astype(np.uint8).transpose(1, 2, 0)
    return image[:, :, 0] if image.shape[2] == 1 else np.ascontiguousarray(image)


def png_bytes(array: np.ndarray) -> bytes:
    """Encode C x H x W floats in [-1, 1] as an 8-bit PNG (gray for 1 channel, RGB for 3).

    Pixels are quantised by :func:`to_uint8_image`; ``decode_image`` reads
    the file back to the same 8-bit values.
    """
    buffer = io.BytesIO()
    Image.fromarray(to_uint8_image(array)).save(buffer, format="PNG")
    return buffer.getvalue()
