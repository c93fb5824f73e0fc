"""Small CNN classifier for scikit-learn's 8 x 8 handwritten digits, used to score generated digits.

The classifier labels generated digits (mode coverage, also per channel for stacked
digits) and provides 128-d features for Fréchet distance, KID and PRDC. It trains in a
few seconds on CPU and is cached as safetensors weights plus a JSON file with its held-out
accuracy, so later runs load it instead of retraining.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from sparkgan.metrics.errors import MetricError

logger = logging.getLogger(__name__)

# Part of the cache file names. Change it whenever the architecture, the data split or the
# training recipe changes, so that old caches are ignored and the classifier retrains.
MODEL_VERSION = "cnn32-64-v1"
# Held-out accuracy below which training logs a warning.
MIN_HELD_OUT_ACCURACY = 0.98
FEATURE_DIM = 128

_SEED = 0
_EPOCHS = 20
_BATCH_SIZE = 64
_LEARNING_RATE = 2e-3


class DigitNet(nn.Module):
    """conv3x3(1->32)+ReLU, conv3x3(32->64)+ReLU, maxpool 2, dropout, linear(1024->128)+ReLU, linear(128->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(FEATURE_DIM, 10))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images))


class DigitClassifier:
    """A trained DigitNet in eval mode, with its accuracy on the held-out 20 % of the digits.

    Inputs are N x 1 x 8 x 8 images in [-1, 1] (numpy arrays or torch tensors on any
    device), that is load_digits pixel values v mapped to v / 16 * 2 - 1.
    """

    def __init__(self, module: DigitNet, held_out_accuracy: float) -> None:
        self.module = module.eval()
        self.held_out_accuracy = held_out_accuracy

    def predict(self, images: torch.Tensor | np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Return the predicted digit of each image as an int64 array of length N."""
        logits = self._run(self.module, images, batch_size)
        return logits.argmax(dim=1).numpy().astype(np.int64)

    def features(self, images: torch.Tensor | np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Return the 128-d penultimate-layer features as an N x 128 float64 array.

        The same images in the same batches give identical features. Other batch sizes can
        change the last float32 bits, because BLAS picks kernels by matrix shape.
        """
        return self._run(self.module.features, images, batch_size).numpy().astype(np.float64)

    def _run(self, function, images: torch.Tensor | np.ndarray, batch_size: int) -> torch.Tensor:
        batch = _as_image_tensor(images)
        if batch_size < 1:
            raise MetricError(f"batch_size must be at least 1, got {batch_size}")
        # An empty batch still goes through once, so the output has the right width.
        starts = range(0, len(batch), batch_size) if len(batch) else [0]
        with torch.inference_mode():
            outputs = [function(batch[start : start + batch_size]) for start in starts]
        return torch.cat(outputs)


def load_digit_classifier(cache_dir: str | os.PathLike | None = None) -> DigitClassifier:
    """Load the cached digit classifier, training and caching it first if needed.

    ``cache_dir`` defaults to $SPARKGAN_CACHE, or ~/.cache/sparkgan when that is unset.
    A cache that cannot be read, or whose weights do not reproduce the stored held-out
    accuracy, is retrained with a logged warning. If the new cache cannot be written, a
    warning is logged and the freshly trained classifier is returned anyway.
    """
    directory = _resolve_cache_dir(cache_dir)
    weights_path = directory / f"digit_classifier-{MODEL_VERSION}.safetensors"
    metadata_path = directory / f"digit_classifier-{MODEL_VERSION}.json"
    split = _digits_split()

    if weights_path.exists() or metadata_path.exists():
        try:
            return _load_cached(weights_path, metadata_path, split)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError, SafetensorError) as error:
            logger.warning(
                "Digit classifier cache %s is invalid (%s), so the classifier is retrained", weights_path, error
            )

    logger.info("Training the digit classifier %s (cache: %s)", MODEL_VERSION, directory)
    started = time.perf_counter()
    classifier = _train(split)
    logger.info(
        "Trained the digit classifier in %.1f s, held-out accuracy %.4f",
        time.perf_counter() - started,
        classifier.held_out_accuracy,
    )
    if classifier.held_out_accuracy < MIN_HELD_OUT_ACCURACY:
        logger.warning(
            "Digit classifier held-out accuracy %.4f is below %.2f: digit metrics will be less reliable",
            classifier.held_out_accuracy,
            MIN_HELD_OUT_ACCURACY,
        )

    try:
        _save_cache(classifier, weights_path, metadata_path)
    except OSError as error:
        logger.warning(
            "Failed to write the digit classifier cache to %s (%s), so the next load trains again", directory, error
        )
    return classifier


def digits_as_images() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's digits as N x 1 x 8 x 8 float32 images in [-1, 1] and int64 labels."""
    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0 * 2.0 - 1.0)[:, None, :, :]
    return images, digits.target.astype(np.int64)


def _digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split the digits 80 / 20, stratified by label, always the same way."""
    images, labels = digits_as_images()
    return train_test_split(images, labels, test_size=0.2, stratify=labels, random_state=_SEED)


def _train(split: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> DigitClassifier:
    train_images, test_images, train_labels, test_labels = split
    images = torch.from_numpy(train_images)
    labels = torch.from_numpy(train_labels)
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    previous_threads = torch.get_num_threads()
    # fork_rng keeps the caller's global torch RNG state, which seeding would overwrite.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        torch.use_deterministic_algorithms(True)
        # One thread makes the float reduction order, and so the weights, independent of
        # the core count. It is also faster for these tiny batches. On a 2-core machine
        # that another process kept busy (torch 2.13 CPU), an epoch took 9.3 s with
        # 2 threads and 0.23 s with 1.
        torch.set_num_threads(1)
        try:
            module = DigitNet()
            _fit(module, images, labels)
        finally:
            torch.set_num_threads(previous_threads)
            torch.use_deterministic_algorithms(previous_deterministic)
    module.eval()
    classifier = DigitClassifier(module, held_out_accuracy=0.0)
    classifier.held_out_accuracy = _accuracy(classifier, test_images, test_labels)
    return classifier


def _fit(module: DigitNet, images: torch.Tensor, labels: torch.Tensor) -> None:
    optimizer = torch.optim.Adam(module.parameters(), lr=_LEARNING_RATE)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=_EPOCHS)
    loss_function = nn.CrossEntropyLoss()
    module.train()
    for _ in range(_EPOCHS):
        order = torch.randperm(len(images))
        for start in range(0, len(images), _BATCH_SIZE):
            batch = order[start : start + _BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_function(module(_random_shift(images[batch])), labels[batch])
            loss.backward()
            optimizer.step()
        scheduler.step()


def _random_shift(images: torch.Tensor) -> torch.Tensor:
    """Shift each image by -1, 0 or 1 pixel along each axis, filling with the background -1."""
    count = images.shape[0]
    padded = nn.functional.pad(images, (1, 1, 1, 1), value=-1.0)
    row_offsets = torch.randint(0, 3, (count, 1, 1))
    column_offsets = torch.randint(0, 3, (count, 1, 1))
    rows = row_offsets + torch.arange(8).view(1, 8, 1)
    columns = column_offsets + torch.arange(8).view(1, 1, 8)
    samples = torch.arange(count).view(count, 1, 1)
    return padded[samples, 0, rows, columns].unsqueeze(1)


def _accuracy(classifier: DigitClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(classifier.predict(images) == labels))


def _load_cached(
    weights_path: Path, metadata_path: Path, split: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
) -> DigitClassifier:
    """Load the cache, or raise if it is missing, unreadable, of another version or gives another accuracy."""
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    if metadata["version"] != MODEL_VERSION:
        raise ValueError(f"metadata version {metadata['version']!r} is not {MODEL_VERSION!r}")
    # DigitNet's random initialisation would otherwise draw from the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        module = DigitNet()
    module.load_state_dict(load_file(weights_path))
    classifier = DigitClassifier(module, held_out_accuracy=0.0)

    # Recomputing the accuracy on the 360 held-out images takes milliseconds and catches
    # weights that load but do not belong to this metadata.
    _, test_images, _, test_labels = split
    accuracy = _accuracy(classifier, test_images, test_labels)
    stored = float(metadata["held_out_accuracy"])
    if abs(accuracy - stored) > 1.0 / len(test_labels):
        raise ValueError(f"weights give held-out accuracy {accuracy:.4f}, but the metadata records {stored:.4f}")
    classifier.held_out_accuracy = accuracy
    return classifier


def _save_cache(classifier: DigitClassifier, weights_path: Path, metadata_path: Path) -> None:
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous() for name, tensor in classifier.module.state_dict().items()}
    _write_atomically(weights_path, lambda path: save_file(state, path, metadata={"version": MODEL_VERSION}))
    metadata = {"version": MODEL_VERSION, "held_out_accuracy": classifier.held_out_accuracy}
    _write_atomically(metadata_path, lambda path: Path(path).write_text(json.dumps(metadata), encoding="utf-8"))


def _write_atomically(path: Path, write) -> None:
    """Call write(temporary_path) in path's folder, then rename the file onto path."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(descriptor)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from_environment = os.environ.get("SPARKGAN_CACHE")
    if from_environment:
        return Path(from_environment)
    return Path.home() / ".cache" / "sparkgan"


def _as_image_tensor(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        tensor = images.detach().to(device="cpu", dtype=torch.float32)
    else:
        tensor = torch.from_numpy(np.asarray(images, dtype=np.float32))
    if tensor.dim() != 4 or tuple(tensor.shape[1:]) != (1, 8, 8):
        raise MetricError(f"images must be N x 1 x 8 x 8, got shape {tuple(tensor.shape)}")
    return tensor
