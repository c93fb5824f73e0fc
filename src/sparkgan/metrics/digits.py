"""Digit-classifier views of generated images: inputs, stacked mode ids, features.

These are feature extractors in the sense of this package: arrays of images
in, labels or feature arrays out.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sparkgan.metrics.digit_classifier import DigitClassifier
from sparkgan.metrics.quantize import quantize_8bit


def digit_inputs(images: np.ndarray) -> torch.Tensor:
    """Bring N x C x H x W images in [-1, 1] to the classifier's input.

    Images are quantised to 8 bits (as a saved PNG would be), averaged to one
    channel and resized to 8 x 8 with antialiasing when they are another size.
    """
    x = torch.from_numpy(quantize_8bit(np.asarray(images, dtype=np.float32)))
    if x.shape[1] != 1:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-1] != 8:
        x = F.interpolate(x, size=(8, 8), mode="bilinear", antialias=True, align_corners=False)
    return x


def stacked_mode_ids(channel_digits: np.ndarray) -> np.ndarray:
    """Combine N x k per-channel digit labels into mode ids, the digit of channel i weighted by 10 ** i."""
    channel_digits = np.asarray(channel_digits, dtype=np.int64)
    return (channel_digits * 10 ** np.arange(channel_digits.shape[1])).sum(axis=1)


def _per_channel(images: np.ndarray) -> tuple[torch.Tensor, int, int]:
    images = np.asarray(images, dtype=np.float32)
    count, channels = images.shape[:2]
    return digit_inputs(images.reshape(count * channels, 1, *images.shape[2:])), count, channels


def classify_stacked(classifier: DigitClassifier, images: np.ndarray) -> np.ndarray:
    """Label each channel of N x k x H x W stacked digits; return their mode ids."""
    inputs, count, channels = _per_channel(images)
    return stacked_mode_ids(classifier.predict(inputs).reshape(count, channels))


def stacked_features(classifier: DigitClassifier, images: np.ndarray) -> np.ndarray:
    """Concatenate the classifier features of each channel: N x (k * 128)."""
    inputs, count, channels = _per_channel(images)
    return classifier.features(inputs).reshape(count, -1)
