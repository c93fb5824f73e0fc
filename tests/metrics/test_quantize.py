import numpy as np
import pytest
import torch
from PIL import Image

from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.quantize import from_uint8, quantize_8bit, to_uint8


def _live_images(seed=0):
    """Random N x C x H x W float32 images, some outside [-1, 1], with 0 (pixel 127.5) among them."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(4, 3, 8, 8, generator=generator) * 2.4 - 1.2
    images[0, 0, 0, :5] = torch.tensor([-1.0, 1.0, -1.5, 1.5, 0.0])
    return images


def test_numpy_matches_reference_formula():
    images = _live_images().numpy()
    expected = np.round(np.clip((images + 1) * 127.5, 0, 255)) / np.float32(127.5) - np.float32(1.0)
    result = quantize_8bit(images)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)


def test_tensor_matches_numpy():
    images = _live_images()
    result = quantize_8bit(images)
    assert isinstance(result, torch.Tensor)
    assert result.dtype == torch.float32
    np.testing.assert_array_equal(result.numpy(), quantize_8bit(images.numpy()))


def test_float64_keeps_dtype():
    images = _live_images().double()
    assert quantize_8bit(images).dtype == torch.float64
    assert quantize_8bit(images.numpy()).dtype == np.float64


def test_values_are_the_256_levels():
    values = np.linspace(-1.3, 1.3, 100_001, dtype=np.float32)
    levels = np.unique(quantize_8bit(values))
    expected = np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)
    np.testing.assert_array_equal(levels, expected)


def test_quantize_is_idempotent():
    once = quantize_8bit(_live_images())
    assert torch.equal(quantize_8bit(once), once)


def test_known_pixel_values():
    # 0 maps to exactly 127.5, which rounds to the even 128.
    pixels = to_uint8(np.array([-1.0, 0.0, 1.0, -2.0, 2.0, 0.5]))
    assert pixels.tolist() == [0, 128, 255, 0, 255, 191]


def test_png_round_trip_equals_live_quantization(tmp_path):
    live = _live_images()
    pixels = to_uint8(live)  # N x C x H x W uint8
    for index, image in enumerate(pixels):
        Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)), mode="RGB").save(tmp_path / f"{index}.png")

    reloaded_pixels = np.stack(
        [np.asarray(Image.open(tmp_path / f"{index}.png")).transpose(2, 0, 1) for index in range(len(live))]
    )
    reloaded = from_uint8(reloaded_pixels)
    np.testing.assert_array_equal(reloaded, quantize_8bit(live).numpy())


def test_grayscale_png_round_trip(tmp_path):
    live = _live_images(seed=1)[:, :1]
    Image.fromarray(to_uint8(live)[0, 0], mode="L").save(tmp_path / "gray.png")
    reloaded = from_uint8(np.asarray(Image.open(tmp_path / "gray.png")))
    np.testing.assert_array_equal(reloaded, quantize_8bit(live)[0, 0].numpy())


def test_non_finite_raises():
    images = np.zeros((2, 2), dtype=np.float32)
    images[1, 0] = np.nan
    with pytest.raises(MetricError, match="1 NaN or infinite values"):
        quantize_8bit(images)
    with pytest.raises(MetricError, match="1 NaN or infinite values"):
        quantize_8bit(torch.from_numpy(images))


def test_integer_images_raise():
    with pytest.raises(MetricError, match="must be floating point"):
        quantize_8bit(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(MetricError, match="must be floating point"):
        quantize_8bit(torch.zeros(2, 2, dtype=torch.uint8))


def test_from_uint8_rejects_other_dtypes():
    with pytest.raises(MetricError, match="pixels must be uint8"):
        from_uint8(np.zeros(3, dtype=np.int32))
