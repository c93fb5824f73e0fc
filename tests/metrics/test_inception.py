"""Tests of the optional Inception features. They run where the 'inception' extra is installed.

No real Inception weights can be downloaded in the test environment, so the tests save the
weights of a randomly initialised torch-fidelity extractor and load them through the same
feature_extractor_weights_path route that real weights take.
"""

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("torch_fidelity")

from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # noqa: E402

from sparkgan.metrics.errors import MetricError  # noqa: E402
from sparkgan.metrics.inception import INCEPTION_FEATURE_DIM, inception_features  # noqa: E402
from sparkgan.metrics.quantize import from_uint8, quantize_8bit, to_uint8  # noqa: E402


class _RandomInceptionV3(FeatureExtractorInceptionV3):
    """torch-fidelity's extractor with its random initialisation kept instead of loaded weights."""

    def load_state_dict(self, state_dict, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inception")
    # The constructor always loads a file, but the subclass ignores its contents.
    placeholder = directory / "placeholder.pth"
    torch.save({}, placeholder)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        extractor = _RandomInceptionV3("random-inception", ["2048"], feature_extractor_weights_path=str(placeholder))
        # With PyTorch's default conv initialisation the pool features came out below 1e-6.
        # He initialisation gives features of order 1.
        for module in extractor.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path = directory / "random_inception.pth"
    torch.save(extractor.state_dict(), path)
    return str(path)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(-1.0, 1.0, size=(4, 3, 16, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def features(images, weights_path):
    return inception_features(images, weights_path=weights_path)


def test_features_shape_and_values(features):
    assert features.shape == (4, INCEPTION_FEATURE_DIM)
    assert features.dtype == np.float64
    assert np.all(np.isfinite(features))
    assert np.abs(features).max() > 1e-3


def test_features_deterministic(images, weights_path, features):
    np.testing.assert_array_equal(inception_features(images, weights_path=weights_path), features)


def test_png_round_trip_gives_same_features(images, weights_path, features, tmp_path):
    for index, image in enumerate(to_uint8(images)):
        Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)), mode="RGB").save(tmp_path / f"{index}.png")
    reloaded = np.stack(
        [from_uint8(np.asarray(Image.open(tmp_path / f"{index}.png"))).transpose(2, 0, 1) for index in range(4)]
    )
    np.testing.assert_array_equal(inception_features(reloaded, weights_path=weights_path), features)


def test_live_images_are_quantized_first(images, weights_path, features):
    np.testing.assert_array_equal(inception_features(quantize_8bit(images), weights_path=weights_path), features)


def test_different_images_give_different_features(features):
    for index in range(1, len(features)):
        assert not np.allclose(features[index], features[0])


def test_grayscale_repeated_to_three_channels(images, weights_path):
    gray = images[:2, :1]
    as_rgb = np.repeat(gray, 3, axis=1)
    np.testing.assert_array_equal(
        inception_features(gray, weights_path=weights_path),
        inception_features(as_rgb, weights_path=weights_path),
    )


def test_wrong_channel_count_raises(weights_path):
    with pytest.raises(MetricError, match=r"C = 1 or 3, got shape \(2, 2, 8, 8\)"):
        inception_features(np.zeros((2, 2, 8, 8), dtype=np.float32), weights_path=weights_path)
