import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from sparkgan.data.images import DataError
from sparkgan.sr.images import encode_png, read_image, write_png


def _png_16(pixels: np.ndarray, colour_type: int, exif: bytes | None = None) -> bytes:
    """Encode a 16-bit PNG chunk by chunk, the way a camera raw converter might write it."""
    height, width = pixels.shape[:2]
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    extra = chunk(b"eXIf", exif) if exif else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _values(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 65536, size=shape, dtype=np.uint16)


@pytest.mark.parametrize("colour_type, channels", [(2, 3), (6, 4), (4, 2)])
def test_16_bit_colour_png_keeps_every_bit(colour_type, channels):
    values = _values((5, 7, channels))
    decoded = read_image(_png_16(values, colour_type), name="deep.png")
    assert decoded.bit_depth == 16
    assert decoded.pixels.shape == (5, 7, channels)
    np.testing.assert_array_equal(np.rint(decoded.pixels * 65535).astype(np.uint16), values)


def test_16_bit_gray_png_read_by_pillow_path():
    values = _values((4, 6))
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, "PNG")
    decoded = read_image(buffer.getvalue())
    assert decoded.bit_depth == 16
    np.testing.assert_array_equal(np.rint(decoded.pixels[:, :, 0] * 65535).astype(np.uint16), values)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16_bit_encode_round_trip(channels):
    values = _values((6, 5, channels), seed=channels)
    decoded = read_image(encode_png(values / 65535.0, 16))
    assert decoded.bit_depth == 16
    assert decoded.pixels.shape == (6, 5, channels)
    np.testing.assert_array_equal(np.rint(decoded.pixels * 65535).astype(np.uint16), values)


@pytest.mark.parametrize("channels, mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_8_bit_encode_keeps_mode(channels, mode):
    values = np.random.default_rng(1).integers(0, 256, size=(3, 4, channels)).astype(np.float64) / 255
    data = encode_png(values, 8)
    assert Image.open(io.BytesIO(data)).mode == mode
    decoded = read_image(data)
    assert decoded.bit_depth == 8
    np.testing.assert_allclose(decoded.pixels, values, atol=1e-6)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_16_bit_png_exif_orientation_applied(orientation):
    values = _values((3, 5, 3))
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = read_image(_png_16(values, 2, exif.tobytes()))
    # The same orientation applied by Pillow to an 8-bit copy gives the reference layout.
    reference = Image.fromarray((values >> 8).astype(np.uint8))
    reference.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(reference))
    assert decoded.pixels.shape == expected.shape
    np.testing.assert_array_equal((np.rint(decoded.pixels * 65535).astype(np.uint16) >> 8), expected)


def test_write_png_is_atomic_and_readable(tmp_path):
    path = write_png(tmp_path / "sub" / "out.png", np.full((2, 3, 3), 0.5), 8)
    assert path.is_file()
    assert not (tmp_path / "sub" / "out.png.tmp").exists()
    assert read_image(path).pixels.shape == (2, 3, 3)


def test_missing_file_named(tmp_path):
    with pytest.raises(DataError, match="missing.png not found"):
        read_image(tmp_path / "missing.png")


def test_corrupt_16_bit_png_named():
    data = bytearray(_png_16(_values((4, 4, 3)), 2))
    data[40:60] = b"\x00" * 20
    with pytest.raises(DataError, match="broken.png"):
        read_image(bytes(data), name="broken.png")


def test_encode_rejects_five_channels():
    with pytest.raises(ValueError, match="1 to 4 channels"):
        encode_png(np.zeros((2, 2, 5)), 8)
