import json
import logging
import shutil

import numpy as np
import pytest
import torch

import sparkgan.metrics.digit_classifier as digit_module
from sparkgan.metrics.digit_classifier import (
    FEATURE_DIM,
    MODEL_VERSION,
    digits_as_images,
    load_digit_classifier,
)
from sparkgan.metrics.errors import MetricError

WEIGHTS_NAME = f"digit_classifier-{MODEL_VERSION}.safetensors"
METADATA_NAME = f"digit_classifier-{MODEL_VERSION}.json"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A cache folder in which the classifier has been trained once for this module."""
    directory = tmp_path_factory.mktemp("digit_cache")
    load_digit_classifier(directory)
    return directory


@pytest.fixture(scope="module")
def classifier(cache_dir):
    return load_digit_classifier(cache_dir)


@pytest.fixture(scope="module")
def digits():
    return digits_as_images()


def _copy_cache(source, destination):
    destination.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS_NAME, METADATA_NAME):
        shutil.copy(source / name, destination / name)


def test_held_out_accuracy(classifier):
    assert classifier.held_out_accuracy >= 0.98


def test_cache_files_written(cache_dir):
    assert (cache_dir / WEIGHTS_NAME).is_file()
    metadata = json.loads((cache_dir / METADATA_NAME).read_text())
    assert metadata["version"] == MODEL_VERSION
    assert metadata["held_out_accuracy"] >= 0.98
    assert not list(cache_dir.glob("*.tmp"))


def test_cached_load_gives_identical_predictions(cache_dir, classifier, digits, caplog):
    images, _ = digits
    with caplog.at_level(logging.INFO, logger="sparkgan.metrics.digit_classifier"):
        reloaded = load_digit_classifier(cache_dir)
    assert "Training" not in caplog.text
    assert reloaded.held_out_accuracy == classifier.held_out_accuracy
    np.testing.assert_array_equal(reloaded.predict(images), classifier.predict(images))


def test_predictions_on_real_digits_near_uniform(classifier, digits):
    images, labels = digits
    predicted = classifier.predict(images)
    assert predicted.dtype == np.int64
    counts = np.bincount(predicted, minlength=10)
    # Each digit has 174 to 183 real images, and accuracy over all 1,797 is above 98 %.
    assert counts.min() >= 165
    assert counts.max() <= 195
    assert np.mean(predicted == labels) >= 0.98


def test_features_shape_and_dtype(classifier, digits):
    images, _ = digits
    features = classifier.features(images[:50])
    assert features.shape == (50, FEATURE_DIM)
    assert features.dtype == np.float64
    assert np.all(np.isfinite(features))


def test_features_of_same_image_identical(classifier, digits):
    images, _ = digits
    batch = np.concatenate([np.repeat(images[:1], 4, axis=0), images[1:20]])
    features = classifier.features(batch)
    for row in features[1:4]:
        np.testing.assert_array_equal(row, features[0])
    np.testing.assert_array_equal(classifier.features(batch), features)


def test_features_nearly_independent_of_batch(classifier, digits):
    # BLAS may pick other kernels for other batch shapes, so only the last float32 bits may differ.
    images, _ = digits
    alone = classifier.features(images[:1])[0]
    in_batch = classifier.features(images[:300])[0]
    np.testing.assert_allclose(alone, in_batch, rtol=1e-5, atol=1e-5)


def test_features_differ_between_digits(classifier, digits):
    images, labels = digits
    zero = images[np.flatnonzero(labels == 0)[0]][None]
    one = images[np.flatnonzero(labels == 1)[0]][None]
    assert not np.allclose(classifier.features(zero), classifier.features(one))


def test_tensor_and_array_inputs_agree(classifier, digits):
    images, _ = digits
    batch = images[:64]
    np.testing.assert_array_equal(classifier.predict(torch.from_numpy(batch)), classifier.predict(batch))
    np.testing.assert_array_equal(
        classifier.features(torch.from_numpy(batch), batch_size=10),
        classifier.features(batch, batch_size=10),
    )


def test_small_batches_cover_all_images(classifier, digits):
    images, _ = digits
    assert classifier.predict(images[:25], batch_size=7).shape == (25,)


def test_empty_input(classifier):
    empty = np.zeros((0, 1, 8, 8), dtype=np.float32)
    assert classifier.predict(empty).shape == (0,)
    assert classifier.features(empty).shape == (0, FEATURE_DIM)


def test_wrong_image_shape_raises(classifier):
    with pytest.raises(MetricError, match=r"images must be N x 1 x 8 x 8, got shape \(2, 8, 8\)"):
        classifier.predict(np.zeros((2, 8, 8), dtype=np.float32))


def test_cache_dir_from_environment(cache_dir, tmp_path, monkeypatch, caplog):
    _copy_cache(cache_dir, tmp_path / "from_env")
    monkeypatch.setenv("SPARKGAN_CACHE", str(tmp_path / "from_env"))
    with caplog.at_level(logging.INFO, logger="sparkgan.metrics.digit_classifier"):
        loaded = load_digit_classifier()
    assert "Training" not in caplog.text
    assert loaded.held_out_accuracy >= 0.98


def test_corrupted_cache_retrains_with_warning(cache_dir, classifier, digits, tmp_path, caplog):
    _copy_cache(cache_dir, tmp_path)
    (tmp_path / WEIGHTS_NAME).write_bytes(b"not a safetensors file")
    rng_state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()

    with caplog.at_level(logging.INFO, logger="sparkgan.metrics.digit_classifier"):
        retrained = load_digit_classifier(tmp_path)

    assert any(record.levelno == logging.WARNING and "invalid" in record.message for record in caplog.records)
    assert "Training the digit classifier" in caplog.text
    images, _ = digits
    # Training is seeded and single-threaded, so it reproduces the cached weights.
    np.testing.assert_array_equal(retrained.predict(images), classifier.predict(images))
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    # The rewritten cache loads without another warning.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sparkgan.metrics.digit_classifier"):
        load_digit_classifier(tmp_path)
    assert not caplog.records


@pytest.mark.parametrize("stored_accuracy", [0.5, None])
def test_metadata_mismatch_retrains(cache_dir, tmp_path, caplog, monkeypatch, stored_accuracy):
    # One epoch is enough to test the retraining path and keeps the test fast.
    monkeypatch.setattr(digit_module, "_EPOCHS", 1)
    _copy_cache(cache_dir, tmp_path)
    metadata_path = tmp_path / METADATA_NAME
    metadata = json.loads(metadata_path.read_text())
    metadata["held_out_accuracy"] = stored_accuracy
    metadata_path.write_text(json.dumps(metadata))
    with caplog.at_level(logging.WARNING, logger="sparkgan.metrics.digit_classifier"):
        retrained = load_digit_classifier(tmp_path)
    assert "invalid" in caplog.text
    assert json.loads(metadata_path.read_text())["held_out_accuracy"] == retrained.held_out_accuracy


def test_unwritable_cache_still_returns_classifier(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(digit_module, "_EPOCHS", 1)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="sparkgan.metrics.digit_classifier"):
        classifier = load_digit_classifier(blocker / "cache")
    assert "Failed to write the digit classifier cache" in caplog.text
    assert 0.0 < classifier.held_out_accuracy <= 1.0
