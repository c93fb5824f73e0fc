import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.image_quality import psnr, rgb_to_y, ssim


def _pair(seed=0):
    """A natural photo and a degraded copy of it, both in [0, 1]."""
    reference = data.astronaut()[100:228, 150:310].astype(np.float64) / 255
    rng = np.random.default_rng(seed)
    test = np.clip(reference + rng.normal(0, 0.04, reference.shape), 0, 1)
    return reference, test


def test_y_of_pure_colours():
    colours = np.array([[[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=np.float64)
    np.testing.assert_allclose(rgb_to_y(colours)[0], [16.0, 235.0, 81.481, 144.553, 40.966], atol=1e-9)


def test_y_of_gray_image():
    gray = np.full((2, 3), 0.5)
    np.testing.assert_allclose(rgb_to_y(gray), 16.0 + 219.0 * 0.5)


def test_psnr_hand_computed_rgb():
    reference = np.zeros((8, 8, 3))
    test = np.full((8, 8, 3), 0.1)
    # Every error is 25.5 on the 0..255 scale: 20 log10(255 / 25.5) = 20 dB.
    assert psnr(reference, test, channel="rgb", border=0) == pytest.approx(20.0, abs=1e-9)


def test_psnr_hand_computed_y():
    reference = np.zeros((8, 8, 3))
    test = np.full((8, 8, 3), 0.1)
    # Y differs by (65.481 + 128.553 + 24.966) * 0.1 = 21.9.
    assert psnr(reference, test, channel="y", border=0) == pytest.approx(20 * np.log10(255 / 21.9), abs=1e-9)


def test_border_removes_edge_errors():
    reference = np.zeros((16, 16, 3))
    test = reference.copy()
    test[:2] = 1.0
    test[:, -2:] = 1.0
    assert psnr(reference, test, channel="y", border=2) == float("inf")
    assert psnr(reference, test, channel="y", border=1) < 10.0


@pytest.mark.parametrize("seed", [0, 1])
def test_psnr_matches_skimage_on_y(seed):
    reference, test = _pair(seed)
    expected = peak_signal_noise_ratio(rgb_to_y(reference)[4:-4, 4:-4], rgb_to_y(test)[4:-4, 4:-4], data_range=255)
    assert psnr(reference, test, channel="y", border=4) == pytest.approx(expected, abs=0.01)


def test_psnr_matches_skimage_on_rgb():
    reference, test = _pair()
    expected = peak_signal_noise_ratio(reference[2:-2, 2:-2], test[2:-2, 2:-2], data_range=1.0)
    assert psnr(reference, test, channel="rgb", border=2) == pytest.approx(expected, abs=0.01)


def _skimage_ssim(a, b, channel_axis=None):
    return structural_similarity(
        a, b, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=channel_axis
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_matches_skimage_on_y(seed):
    reference, test = _pair(seed)
    expected = _skimage_ssim(rgb_to_y(reference)[4:-4, 4:-4], rgb_to_y(test)[4:-4, 4:-4])
    assert ssim(reference, test, channel="y", border=4) == pytest.approx(expected, abs=0.001)


def test_ssim_matches_skimage_on_rgb():
    reference, test = _pair()
    expected = _skimage_ssim(reference[4:-4, 4:-4] * 255, test[4:-4, 4:-4] * 255, channel_axis=2)
    assert ssim(reference, test, channel="rgb", border=4) == pytest.approx(expected, abs=0.001)


def test_ssim_matches_skimage_on_blur():
    # A structural change rather than noise: a shifted copy.
    reference, _ = _pair()
    test = np.roll(reference, 1, axis=1)
    expected = _skimage_ssim(rgb_to_y(reference)[2:-2, 2:-2], rgb_to_y(test)[2:-2, 2:-2])
    result = ssim(reference, test, channel="y", border=2)
    assert result == pytest.approx(expected, abs=0.001)
    assert result < 0.95


def test_ssim_of_identical_images_is_one():
    reference, _ = _pair()
    assert ssim(reference, reference, channel="rgb", border=0) == pytest.approx(1.0, abs=1e-12)


def test_shape_mismatch_rejected():
    with pytest.raises(MetricError, match="shape"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)), channel="y", border=0)


def test_border_too_large_rejected():
    with pytest.raises(MetricError, match="border of 4"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), channel="y", border=4)
    with pytest.raises(MetricError, match="11 x 11"):
        ssim(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)), channel="y", border=3)


def test_unknown_channel_rejected():
    with pytest.raises(MetricError, match="'ycbcr'"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), channel="ycbcr", border=0)


def test_nan_rejected():
    test = np.zeros((8, 8, 3))
    test[0, 0, 0] = np.nan
    with pytest.raises(MetricError, match="NaN"):
        psnr(np.zeros((8, 8, 3)), test, channel="rgb", border=0)
