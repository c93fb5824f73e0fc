"""Tests for image decoding and the training-array conversion rule."""

import io
import logging

import numpy as np
import pytest
from PIL import Image

from sparkgan.data.images import (
    IMAGE_SUFFIXES,
    DataError,
    DecodedImage,
    decode_image,
    load_image_folder,
    to_training_array,
    to_uint8_image,
)

JPEG_TOLERANCE = 3 / 255
EXIF_ORIENTATION_TAG = 0x0112


def save(tmp_path, filename, image, **options):
    path = tmp_path / filename
    image.save(path, **options)
    return path


def flat_rgb(colour, size=(6, 4)):
    return Image.new("RGB", size, colour)


def palette_image():
    """4x2 palette image: index 0 (10, 20, 30) on the left half, index 1 (200, 100, 50) on the right."""
    image = Image.new("P", (4, 2), 0)
    image.putpalette([10, 20, 30, 200, 100, 50] + [0, 0, 0] * 254)
    for y in range(2):
        for x in (2, 3):
            image.putpixel((x, y), 1)
    return image


def decoded(pixels, bit_depth=8):
    return DecodedImage(pixels=np.asarray(pixels, dtype=np.float32), bit_depth=bit_depth, source="test")


# Decoding each file form.


def test_decode_png_gray(tmp_path):
    path = save(tmp_path, "gray.png", Image.new("L", (5, 3), 100))

    image = decode_image(path)

    assert image.pixels.dtype == np.float32
    assert image.pixels.shape == (3, 5, 1)
    assert image.bit_depth == 8
    assert image.source == str(path)
    np.testing.assert_allclose(image.pixels, 100 / 255, atol=1e-7)


def test_decode_png_palette_without_transparency(tmp_path):
    path = save(tmp_path, "palette.png", palette_image())

    image = decode_image(path)

    assert image.pixels.shape == (2, 4, 3)
    np.testing.assert_allclose(image.pixels[0, 0], np.array([10, 20, 30]) / 255, atol=1e-7)
    np.testing.assert_allclose(image.pixels[1, 3], np.array([200, 100, 50]) / 255, atol=1e-7)


def test_decode_png_palette_with_transparency(tmp_path):
    path = save(tmp_path, "palette_alpha.png", palette_image(), transparency=1)

    image = decode_image(path)

    assert image.pixels.shape == (2, 4, 4)
    np.testing.assert_allclose(image.pixels[0, 0], np.array([10, 20, 30, 255]) / 255, atol=1e-7)
    assert image.pixels[1, 3, 3] == 0.0


def test_decode_png_rgb(tmp_path):
    path = save(tmp_path, "rgb.png", flat_rgb((200, 100, 50)))

    image = decode_image(path)

    assert image.pixels.shape == (4, 6, 3)
    np.testing.assert_allclose(image.pixels[2, 3], np.array([200, 100, 50]) / 255, atol=1e-7)


def test_decode_png_rgba(tmp_path):
    path = save(tmp_path, "rgba.png", Image.new("RGBA", (3, 3), (1, 2, 3, 128)))

    image = decode_image(path)

    assert image.pixels.shape == (3, 3, 4)
    np.testing.assert_allclose(image.pixels[1, 1], np.array([1, 2, 3, 128]) / 255, atol=1e-7)


def test_decode_png_gray_alpha(tmp_path):
    path = save(tmp_path, "la.png", Image.new("LA", (3, 2), (90, 30)))

    image = decode_image(path)

    assert image.pixels.shape == (2, 3, 2)
    np.testing.assert_allclose(image.pixels[0, 0], np.array([90, 30]) / 255, atol=1e-7)


def test_decode_png_16bit_keeps_precision(tmp_path):
    values = np.array([[40000, 0], [65535, 1000]], dtype=np.uint16)
    path = save(tmp_path, "deep.png", Image.fromarray(values))

    image = decode_image(path)
    array = to_training_array(image, channels=1, resolution=2)

    assert image.bit_depth == 16
    assert image.pixels.shape == (2, 2, 1)
    expected = values / 65535
    # An 8-bit path would be off by about 1.4e-3 at 40000, so 1e-4 proves the 16 bits survive.
    assert abs(round(40000 / 65535 * 255) / 255 - 40000 / 65535) > 1e-3
    np.testing.assert_allclose(image.pixels[:, :, 0], expected, atol=1e-6)
    np.testing.assert_allclose(array[0], expected * 2 - 1, atol=1e-4)


def test_decode_16bit_bytes_mode_i16(tmp_path):
    image = Image.new("I;16", (3, 3))
    image.putpixel((1, 1), 40000)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")

    decoded_image = decode_image(buffer.getvalue(), name="deep-bytes.png")

    assert decoded_image.bit_depth == 16
    assert decoded_image.source == "deep-bytes.png"
    assert decoded_image.pixels[1, 1, 0] == pytest.approx(40000 / 65535, abs=1e-6)
    assert decoded_image.pixels[0, 0, 0] == 0.0


def test_decode_jpeg_rgb(tmp_path):
    path = save(tmp_path, "photo.jpg", flat_rgb((200, 100, 50), size=(16, 16)), quality=95)

    image = decode_image(path)

    assert image.pixels.shape == (16, 16, 3)
    np.testing.assert_allclose(image.pixels[8, 8], np.array([200, 100, 50]) / 255, atol=JPEG_TOLERANCE)


def test_decode_jpeg_gray(tmp_path):
    path = save(tmp_path, "gray.jpeg", Image.new("L", (16, 16), 77), quality=95)

    image = decode_image(path)

    assert image.pixels.shape == (16, 16, 1)
    np.testing.assert_allclose(image.pixels, 77 / 255, atol=JPEG_TOLERANCE)


def test_decode_bmp(tmp_path):
    path = save(tmp_path, "bitmap.bmp", flat_rgb((10, 250, 128)))

    image = decode_image(path)

    assert image.pixels.shape == (4, 6, 3)
    np.testing.assert_allclose(image.pixels[0, 0], np.array([10, 250, 128]) / 255, atol=1e-7)


def test_decode_webp_lossless(tmp_path):
    path = save(tmp_path, "lossless.webp", Image.new("RGBA", (5, 5), (40, 80, 120, 200)), lossless=True)

    image = decode_image(path)

    assert image.pixels.shape == (5, 5, 4)
    np.testing.assert_allclose(image.pixels[2, 2], np.array([40, 80, 120, 200]) / 255, atol=1e-7)


def test_decode_gif_palette(tmp_path):
    path = save(tmp_path, "palette.gif", palette_image())

    image = decode_image(path)

    assert image.pixels.shape == (2, 4, 3)
    np.testing.assert_allclose(image.pixels[0, 0], np.array([10, 20, 30]) / 255, atol=1e-7)
    np.testing.assert_allclose(image.pixels[0, 3], np.array([200, 100, 50]) / 255, atol=1e-7)


def test_decode_animated_gif_first_frame(tmp_path):
    frames = [flat_rgb((255, 0, 0)), flat_rgb((0, 0, 255)), flat_rgb((0, 255, 0))]
    path = save(tmp_path, "animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100)
    with Image.open(path) as reopened:
        assert reopened.n_frames == 3

    image = decode_image(path)

    np.testing.assert_allclose(image.pixels[:, :, :3], np.broadcast_to([1.0, 0.0, 0.0], (4, 6, 3)), atol=1e-7)


def test_decode_animated_webp_first_frame(tmp_path):
    frames = [flat_rgb((255, 0, 0)), flat_rgb((0, 0, 255))]
    path = save(
        tmp_path, "animated.webp", frames[0], save_all=True, append_images=frames[1:], duration=100, lossless=True
    )

    image = decode_image(path)

    np.testing.assert_allclose(image.pixels[0, 0, :3], [1.0, 0.0, 0.0], atol=1e-7)


def test_decode_one_bit_image(tmp_path):
    image = Image.new("1", (4, 2), 0)
    image.putpixel((3, 1), 1)
    path = save(tmp_path, "mask.png", image)

    pixels = decode_image(path).pixels

    assert pixels.shape == (2, 4, 1)
    assert pixels[1, 3, 0] == 1.0
    assert pixels[0, 0, 0] == 0.0


def test_decode_cmyk_becomes_rgb(tmp_path):
    path = save(tmp_path, "print.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0)), quality=95)

    pixels = decode_image(path).pixels

    assert pixels.shape == (8, 8, 3)
    np.testing.assert_allclose(pixels[4, 4], [1.0, 0.0, 0.0], atol=JPEG_TOLERANCE)


@pytest.mark.parametrize(
    ("orientation", "top_value", "bottom_value"),
    [
        # Tag 6: rotate 90 degrees clockwise to display, so the stored left edge becomes the top.
        (6, 0, 255),
        # Tag 8: rotate 90 degrees counter-clockwise, so the stored left edge becomes the bottom.
        (8, 255, 0),
    ],
)
def test_decode_exif_orientation(tmp_path, orientation, top_value, bottom_value):
    stored = Image.new("L", (40, 20), 0)
    stored.paste(255, (20, 0, 40, 20))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    path = save(tmp_path, f"rotated{orientation}.jpg", stored, exif=exif, quality=95)

    pixels = decode_image(path).pixels

    assert pixels.shape == (40, 20, 1)
    np.testing.assert_allclose(pixels[:15], top_value / 255, atol=JPEG_TOLERANCE)
    np.testing.assert_allclose(pixels[25:], bottom_value / 255, atol=JPEG_TOLERANCE)


# The conversion rule.


def test_training_array_red_to_luma():
    array = to_training_array(decoded(np.broadcast_to([1.0, 0.0, 0.0], (4, 4, 3))), channels=1, resolution=4)

    assert array.dtype == np.float32
    assert array.shape == (1, 4, 4)
    np.testing.assert_allclose(array, 0.299 * 2 - 1, atol=1e-6)


def test_training_array_luma_weights():
    pixels = np.broadcast_to([0.2, 0.4, 0.8], (2, 2, 3))

    array = to_training_array(decoded(pixels), channels=1, resolution=2)

    expected = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.8
    np.testing.assert_allclose(array, expected * 2 - 1, atol=1e-6)


def test_training_array_transparent_is_white():
    pixels = np.broadcast_to([0.1, 0.5, 0.9, 0.0], (3, 3, 4))

    array = to_training_array(decoded(pixels), channels=3, resolution=3)

    np.testing.assert_allclose(array, 1.0, atol=1e-6)


def test_training_array_half_alpha_over_white(tmp_path):
    path = save(tmp_path, "half.png", Image.new("RGBA", (2, 2), (100, 200, 0, 128)))

    array = to_training_array(decode_image(path), channels=3, resolution=2)

    alpha = 128 / 255
    expected = [c / 255 * alpha + (1 - alpha) for c in (100, 200, 0)]
    for channel in range(3):
        np.testing.assert_allclose(array[channel], expected[channel] * 2 - 1, atol=1e-6)


def test_training_array_gray_alpha_to_one_channel(tmp_path):
    path = save(tmp_path, "half.png", Image.new("LA", (2, 2), (0, 128)))

    array = to_training_array(decode_image(path), channels=1, resolution=2)

    np.testing.assert_allclose(array, (1 - 128 / 255) * 2 - 1, atol=1e-6)


def test_training_array_gray_repeats_to_rgb():
    pixels = np.array([[[0.25], [0.5]], [[0.75], [1.0]]])

    array = to_training_array(decoded(pixels), channels=3, resolution=2)

    assert array.shape == (3, 2, 2)
    for channel in range(3):
        np.testing.assert_allclose(array[channel], pixels[:, :, 0] * 2 - 1, atol=1e-6)


def test_training_array_native_size_unchanged():
    pixels = np.random.default_rng(0).random((8, 8, 3))

    array = to_training_array(decoded(pixels), channels=3, resolution=8)

    np.testing.assert_allclose(array, pixels.transpose(2, 0, 1) * 2 - 1, atol=1e-6)


def test_training_array_resize_and_centre_crop():
    # 20 wide x 10 high: black left half, white right half. Resized to 16 x 8, then
    # columns 4..11 are kept, so the crop is black on the left and white on the right.
    pixels = np.zeros((10, 20, 1))
    pixels[:, 10:] = 1.0

    array = to_training_array(decoded(pixels), channels=1, resolution=8)

    assert array.shape == (1, 8, 8)
    np.testing.assert_allclose(array[0, :, :2], -1.0, atol=1e-3)
    np.testing.assert_allclose(array[0, :, -2:], 1.0, atol=1e-3)
    np.testing.assert_allclose(array[0, :, :4].mean() + array[0, :, 4:].mean(), 0.0, atol=1e-3)
    np.testing.assert_allclose(array[0], np.broadcast_to(array[0, :1], (8, 8)), atol=1e-6)


def test_training_array_crops_tall_image_centre():
    # 6 wide x 18 high at resolution 6: no resize, rows 6..11 kept.
    pixels = np.zeros((18, 6, 1))
    pixels[6:12] = 0.5

    array = to_training_array(decoded(pixels), channels=1, resolution=6)

    assert array.shape == (1, 6, 6)
    np.testing.assert_allclose(array, 0.0, atol=1e-6)


def test_training_array_upscales_and_clips():
    pixels = np.zeros((4, 4, 1))
    pixels[:, 2:] = 1.0

    array = to_training_array(decoded(pixels), channels=1, resolution=16)

    assert array.shape == (1, 16, 16)
    # Bicubic overshoots at the edge, and the rule clips it back into range.
    assert array.min() == -1.0
    assert array.max() == 1.0


@pytest.mark.parametrize(("channels", "resolution"), [(2, 8), (4, 8), (3, 0), (1, -4)])
def test_training_array_bad_settings(channels, resolution):
    with pytest.raises(DataError, match=r"data\.(channels|resolution)"):
        to_training_array(decoded(np.zeros((8, 8, 3))), channels=channels, resolution=resolution)


# Decoding errors.


def write_truncated_png(path):
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def test_decode_truncated_png(tmp_path):
    path = write_truncated_png(tmp_path / "truncated.png")

    with pytest.raises(DataError, match="truncated.png") as raised:
        decode_image(path)

    assert "failed to decode image" in str(raised.value)


def test_decode_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")

    with pytest.raises(DataError, match="notes.png"):
        decode_image(path)


def test_decode_bad_bytes_uses_name():
    with pytest.raises(DataError, match="upload.png"):
        decode_image(b"not an image", name="upload.png")


def test_decode_missing_file(tmp_path):
    with pytest.raises(DataError, match="absent.png"):
        decode_image(tmp_path / "absent.png")


# Loading folders.


def make_folder(tmp_path):
    """Three good gray images in a nested layout, plus a .txt file that the suffix filter ignores."""
    root = tmp_path / "images"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    save(root / "b", "0.png", Image.new("L", (4, 4), 51))
    save(root / "a", "1.png", Image.new("L", (4, 4), 102))
    save(root, "c.PNG", Image.new("L", (4, 4), 204))
    (root / "notes.txt").write_text("ignored because of its suffix\n")
    return root


def add_bad_files(root):
    write_truncated_png(root / "a" / "broken.png")
    (root / "b" / "text.jpg").write_text("not a jpeg\n")


def test_image_suffixes():
    assert IMAGE_SUFFIXES == {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"}


def test_load_folder_sorted_order(tmp_path):
    root = make_folder(tmp_path)

    array, skipped = load_image_folder(root, channels=1, resolution=4, progress=False)

    assert array.dtype == np.float32
    assert array.shape == (3, 1, 4, 4)
    assert skipped == 0
    # Sorted by relative path: a/1.png, b/0.png, c.PNG.
    expected = [102 / 255 * 2 - 1, 51 / 255 * 2 - 1, 204 / 255 * 2 - 1]
    np.testing.assert_allclose(array[:, 0, 0, 0], expected, atol=1e-6)


def test_load_folder_converts_channels_and_size(tmp_path):
    root = make_folder(tmp_path)

    array, _ = load_image_folder(root, channels=3, resolution=2, progress=False)

    assert array.shape == (3, 3, 2, 2)
    np.testing.assert_allclose(array[0], 102 / 255 * 2 - 1, atol=1e-5)


def test_load_folder_bad_file_raises(tmp_path):
    root = make_folder(tmp_path)
    add_bad_files(root)

    with pytest.raises(DataError, match="set data.skip_bad=true to skip undecodable files") as raised:
        load_image_folder(root, channels=1, resolution=4, progress=False)

    assert "broken.png" in str(raised.value)


def test_load_folder_skip_bad(tmp_path, caplog):
    root = make_folder(tmp_path)
    add_bad_files(root)

    with caplog.at_level(logging.WARNING, logger="sparkgan.data.images"):
        array, skipped = load_image_folder(root, channels=1, resolution=4, skip_bad=True, progress=False)

    assert skipped == 2
    assert array.shape == (3, 1, 4, 4)
    np.testing.assert_allclose(array[:, 0, 0, 0], [102 / 255 * 2 - 1, 51 / 255 * 2 - 1, 204 / 255 * 2 - 1], atol=1e-6)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "Skipped 2 of 5" in message
    assert "broken.png" in message
    assert "text.jpg" in message


def test_load_folder_all_bad(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    for path in (root / "one.png", root / "two.gif"):
        path.write_text("not an image\n")

    with pytest.raises(DataError, match="none of the 2 image files"):
        load_image_folder(root, channels=1, resolution=4, skip_bad=True, progress=False)


def test_load_folder_missing(tmp_path):
    root = tmp_path / "nowhere"

    with pytest.raises(DataError, match="not found") as raised:
        load_image_folder(root, channels=1, resolution=4, progress=False)

    assert str(root) in str(raised.value)
    assert ".png" in str(raised.value)
    assert ".webp" in str(raised.value)


def test_load_folder_not_directory(tmp_path):
    path = save(tmp_path, "single.png", Image.new("L", (4, 4)))

    with pytest.raises(DataError, match="not a directory"):
        load_image_folder(path, channels=1, resolution=4, progress=False)


def test_load_folder_without_images(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "readme.txt").write_text("no images here\n")

    with pytest.raises(DataError, match="no image files found") as raised:
        load_image_folder(root, channels=1, resolution=4, progress=False)

    assert str(root) in str(raised.value)
    assert ".jpeg" in str(raised.value)


def test_load_folder_bad_setting_before_decoding(tmp_path):
    root = make_folder(tmp_path)

    with pytest.raises(DataError, match="data.channels"):
        load_image_folder(root, channels=2, resolution=4, progress=False)


# Converting back to uint8.


def test_uint8_round_trip_rgb():
    original = np.random.default_rng(2).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = decode_image(png_bytes(Image.fromarray(original)))

    # The shorter side is already 5, so the rule only crops columns 1..5.
    restored = to_uint8_image(to_training_array(image, channels=3, resolution=5))

    assert restored.dtype == np.uint8
    assert restored.shape == (5, 5, 3)
    np.testing.assert_array_equal(restored, original[:, 1:6])


def test_uint8_gray_drops_channel_axis():
    array = np.array([[[-1.0, 0.0, 1.0]]], dtype=np.float32)

    image = to_uint8_image(array)

    assert image.shape == (1, 3)
    np.testing.assert_array_equal(image, [[0, 128, 255]])


def test_uint8_clips_out_of_range():
    array = np.array([[[-3.0, 2.0]], [[0.5, -0.5]], [[1.0, -1.0]]], dtype=np.float32)

    image = to_uint8_image(array)

    assert image.shape == (1, 2, 3)
    np.testing.assert_array_equal(image[0, 0], [0, 191, 255])
    np.testing.assert_array_equal(image[0, 1], [255, 64, 0])


def test_uint8_rejects_flat_array():
    with pytest.raises(ValueError, match="C x H x W"):
        to_uint8_image(np.zeros((4, 4)))


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
