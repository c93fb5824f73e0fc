"""Read and write images for super-resolution without losing bit depth.

Reading goes through :func:`sparkgan.data.images.decode_image` (Pillow, EXIF
orientation applied) except for 16-bit colour PNG files. Pillow 13 reduces
16-bit RGB, RGBA and gray + alpha PNGs to 8 bits, so OpenCV reads those, and
Pillow's own transposes apply their EXIF orientation.
Values are divided by 65535 for 16-bit data and by 255 for 8-bit data.

Writing produces PNG: 8-bit data through Pillow, 16-bit data through OpenCV,
values rounded from [0, 1]. Neither library writes 16-bit gray + alpha PNGs
(Pillow has no such mode, OpenCV writes 1, 3 or 4 channels), so that case is
encoded here with zlib.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from sparkgan.data.images import DataError, DecodedImage, decode_image

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_GRAY_ALPHA, _PNG_RGB, _PNG_RGBA = 4, 2, 6
_EXIF_ORIENTATION = 0x0112
_PIL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def read_image(source: bytes | str | os.PathLike, *, name: str | None = None) -> DecodedImage:
    """Decode an image file or its bytes to float32 H x W x C pixels in [0, 1].

    C is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); ``bit_depth`` is 16
    for 16-bit sources and 8 otherwise.

    Raises:
        DataError: naming the file, when it is missing or cannot be decoded.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or "<bytes>"
    else:
        label = name or os.fspath(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise DataError(f"image file {label} not found") from None
        except OSError as error:
            raise DataError(f"failed to read image file {label}: {error}") from error
    if _is_16_bit_colour_png(data):
        return _decode_16_bit_colour_png(data, label)
    return decode_image(data, name=label)


def _is_16_bit_colour_png(data: bytes) -> bool:
    # IHDR is the first chunk: its bit depth is byte 24 and its colour type byte 25.
    return len(data) > 26 and data[:8] == _PNG_SIGNATURE and data[24] == 16 and data[25] in (
        _PNG_GRAY_ALPHA,
        _PNG_RGB,
        _PNG_RGBA,
    )


def _decode_16_bit_colour_png(data: bytes, label: str) -> DecodedImage:
    import cv2

    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint16:
        raise DataError(f"failed to decode 16-bit PNG {label}. Replace or remove the file.")
    if data[25] == _PNG_GRAY_ALPHA:
        # OpenCV expands gray + alpha to BGRA with the gray value repeated.
        pixels = pixels[:, :, [0, 3]]
    elif pixels.shape[2] == 3:
        pixels = pixels[:, :, ::-1]
    else:
        pixels = pixels[:, :, [2, 1, 0, 3]]
    pixels = _apply_exif_orientation(pixels, data, label)
    return DecodedImage(np.ascontiguousarray(pixels, dtype=np.float32) / 65535.0, 16, label)


def _apply_exif_orientation(pixels: np.ndarray, data: bytes, label: str) -> np.ndarray:
    """Rotate or flip decoded pixels by the file's EXIF orientation tag, with Pillow's transposes."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            orientation = opened.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"failed to read the metadata of {label}: {error}. Replace or remove the file.") from error
    if orientation == 1:
        return pixels
    # Let Pillow move an image of pixel indices, then gather: this reuses Pillow's
    # definition of each of the eight orientations instead of restating it.
    height, width = pixels.shape[:2]
    indices = Image.fromarray(np.arange(height * width, dtype=np.int32).reshape(height, width), mode="I")
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = orientation
    indices.info["exif"] = exif.tobytes()
    moved = np.asarray(ImageOps.exif_transpose(indices))
    return pixels.reshape(height * width, -1)[moved.ravel()].reshape(*moved.shape, pixels.shape[2])


def encode_png(pixels: np.ndarray, bit_depth: int) -> bytes:
    """Encode H x W x C float pixels in [0, 1] (C = 1, 2, 3 or 4) as 8- or 16-bit PNG bytes.

    Raises:
        ValueError: for another channel count or bit depth.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in _PIL_MODES:
        raise ValueError(f"cannot encode an image of shape {pixels.shape} as PNG: expected 1 to 4 channels")
    channels = pixels.shape[2]
    if bit_depth == 8:
        values = np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(values[:, :, 0] if channels == 1 else values, mode=_PIL_MODES[channels]).save(buffer, "PNG")
        return buffer.getvalue()
    if bit_depth == 16:
        values = np.rint(np.clip(pixels, 0.0, 1.0) * 65535.0).astype(np.uint16)
        if channels == 2:
            return _encode_png_16_bit_gray_alpha(values)
        return _encode_png_with_opencv(values)
    raise ValueError(f"cannot encode a bit depth of {bit_depth}: expected 8 or 16")


def _encode_png_with_opencv(values: np.ndarray) -> bytes:
    import cv2

    channels = values.shape[2]
    if channels == 3:
        values = values[:, :, ::-1]
    elif channels == 4:
        values = values[:, :, [2, 1, 0, 3]]
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(values))
    if not ok:
        raise ValueError(f"OpenCV failed to encode a {values.shape} 16-bit image as PNG")
    return encoded.tobytes()


def _encode_png_16_bit_gray_alpha(values: np.ndarray) -> bytes:
    height, width = values.shape[:2]
    # Each row starts with filter type 0 (none); samples are big-endian.
    rows = np.zeros((height, 1 + width * 4), dtype=np.uint8)
    rows[:, 1:] = values.astype(">u2").view(np.uint8).reshape(height, width * 4)
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_GRAY_ALPHA, 0, 0, 0)
    return _PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _png_chunk(b"IEND", b"")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_png(path: str | os.PathLike, pixels: np.ndarray, bit_depth: int) -> Path:
    """Write pixels as a PNG file atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encode_png(pixels, bit_depth))
    os.replace(tmp, path)
    return path
