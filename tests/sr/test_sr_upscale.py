import io
import logging

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from sparkgan.data.images import DataError
from sparkgan.sr.images import encode_png, read_image
from sparkgan.sr.model_io import load_model
from sparkgan.sr.upscale import TileSettings, plan_outputs, upscale_files, upscale_pixels, upscale_rgb


@pytest.fixture(scope="module")
def model(tiny_model_file):
    return load_model(tiny_model_file)


def _rgb(height=12, width=10, seed=0):
    return np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)


def test_rgb_upscaled_by_scale(model):
    out = upscale_pixels(model, _rgb())
    assert out.shape == (48, 40, 3)
    assert out.min() >= 0.0
    assert out.max() <= 1.0


def test_gray_stays_gray(model):
    gray = _rgb()[:, :, :1]
    out = upscale_pixels(model, gray)
    assert out.shape == (48, 40, 1)
    expected = upscale_rgb(model, np.repeat(gray, 3, axis=2)) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    np.testing.assert_allclose(out[:, :, 0], expected, atol=1e-6)


def test_rgba_alpha_upscaled_separately(model):
    colour = _rgb(seed=1)
    alpha = np.random.default_rng(2).random((12, 10, 1)).astype(np.float32)
    out = upscale_pixels(model, np.concatenate([colour, alpha], axis=2))
    assert out.shape == (48, 40, 4)
    # Colour ignores alpha (no premultiplication), and alpha is upscaled as a gray image.
    np.testing.assert_allclose(out[:, :, :3], upscale_pixels(model, colour), atol=1e-6)
    np.testing.assert_allclose(out[:, :, 3:], upscale_pixels(model, alpha), atol=1e-6)


def test_alpha_bicubic_option(model):
    rgba = np.concatenate([_rgb(), np.ones((12, 10, 1), np.float32)], axis=2)
    out = upscale_pixels(model, rgba, TileSettings(alpha="bicubic"))
    np.testing.assert_allclose(out[:, :, 3], 1.0, atol=1e-6)


def test_gray_alpha_keeps_two_channels(model):
    out = upscale_pixels(model, np.random.default_rng(3).random((6, 7, 2)).astype(np.float32))
    assert out.shape == (24, 28, 2)


def _png_bytes(array, **save_args):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **save_args)
    return buffer.getvalue()


def test_16_bit_file_written_back_as_16_bit(model, tmp_path):
    values = np.random.default_rng(4).integers(0, 65536, size=(8, 9, 3), dtype=np.uint16)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "deep.png").write_bytes(encode_png(values / 65535.0, 16))
    jobs = plan_outputs([tmp_path / "in"], tmp_path / "out")
    upscale_files(model, jobs, progress=False)
    out = read_image(tmp_path / "out" / "deep.png")
    assert out.bit_depth == 16
    assert out.pixels.shape == (32, 36, 3)
    expected = upscale_pixels(model, values.astype(np.float32) / 65535.0)
    np.testing.assert_allclose(out.pixels, expected, atol=1 / 65535)


def test_exif_orientation_respected(model, tmp_path):
    pixels = (_rgb(6, 10) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    (tmp_path / "photo.png").write_bytes(_png_bytes(pixels, exif=exif))
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "photo.png"))).astype(np.float32) / 255
    jobs = plan_outputs([tmp_path / "photo.png"], tmp_path / "up.png")
    upscale_files(model, jobs, progress=False)
    out = Image.open(tmp_path / "up.png")
    assert out.size == (24, 40)
    assert out.getexif().get(0x0112) is None
    np.testing.assert_allclose(np.asarray(out) / 255.0, upscale_pixels(model, upright), atol=0.5 / 255 + 1e-6)


def test_outputs_keep_relative_names(tmp_path):
    for name in ("a.jpg", "sub/b.png"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(_png_bytes(np.zeros((4, 4, 3), np.uint8)))
    jobs = plan_outputs([tmp_path / "in"], tmp_path / "out")
    assert [job.target.relative_to(tmp_path / "out").as_posix() for job in jobs] == ["a.png", "sub/b.png"]


def test_clashing_outputs_rejected(tmp_path):
    for name in ("x.jpg", "x.png"):
        (tmp_path / name).write_bytes(_png_bytes(np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(DataError, match="would both be written"):
        plan_outputs([tmp_path / "x.jpg", tmp_path / "x.png"], tmp_path / "out")


def test_output_must_be_png_or_folder(tmp_path):
    (tmp_path / "x.png").write_bytes(_png_bytes(np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(DataError, match="must be a .png file or a folder"):
        plan_outputs([tmp_path / "x.png"], tmp_path / "x.jpg")


def test_missing_input_named(tmp_path):
    with pytest.raises(DataError, match="nope.png not found"):
        plan_outputs([tmp_path / "nope.png"], tmp_path / "out")


def test_existing_outputs_rejected_skipped_or_replaced(model, tmp_path, caplog):
    for name in ("a.png", "b.png"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_bytes(_png_bytes(np.zeros((4, 4, 3), np.uint8)))
    jobs = plan_outputs([tmp_path / "in"], tmp_path / "out")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"earlier result")
    with pytest.raises(DataError, match="--skip-existing"):
        upscale_files(model, jobs, progress=False)
    assert (tmp_path / "out" / "a.png").read_bytes() == b"earlier result"
    assert not (tmp_path / "out" / "b.png").exists()

    with caplog.at_level(logging.INFO, logger="sparkgan.sr.upscale"):
        done = upscale_files(model, jobs, existing="skip", progress=False)
    assert [job.target.name for job in done] == ["b.png"]
    assert (tmp_path / "out" / "a.png").read_bytes() == b"earlier result"

    upscale_files(model, jobs, existing="overwrite", progress=False)
    assert read_image(tmp_path / "out" / "a.png").pixels.shape == (16, 16, 3)


def test_undecodable_input_named(model, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match="broken.png"):
        upscale_files(model, plan_outputs([tmp_path / "broken.png"], tmp_path / "o.png"), progress=False)


def test_tiled_file_equals_whole_image(model):
    image = _rgb(40, 50, seed=5)
    whole = upscale_rgb(model, image, TileSettings(tile=64), progress=False)
    tiled = upscale_rgb(model, image, TileSettings(tile=2 * model.receptive_radius + 12), progress=False)
    assert np.abs(whole - tiled).max() < 1e-4
    with torch.no_grad():
        direct = model.generator(torch.from_numpy(image.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(whole, np.clip(direct, 0, 1), atol=1e-6)
