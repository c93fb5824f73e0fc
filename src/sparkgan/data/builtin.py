"""Built-in datasets: files that scikit-learn and scikit-image ship.

Nothing here downloads: every array comes from a package already installed.
"""

from __future__ import annotations

import numpy as np
import torch

from sparkgan.data.images import DecodedImage, to_training_array


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's UCI handwritten digits as N x 8 x 8 in [0, 1] and labels.

    The 1,797 images hold integer intensities 0..16.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float32) / 16.0, bunch.target.astype(np.int64)


def load_faces_images() -> np.ndarray:
    """Return the 100 face crops of scikit-image's LFW subset, N x 25 x 25 in [0, 1].

    ``skimage.data.lfw_subset`` holds 100 faces followed by 100 non-face
    patches; only the faces are kept.
    """
    from skimage.data import lfw_subset

    return lfw_subset()[:100].astype(np.float32)


def grayscale_to_tensor(images: np.ndarray, *, name: str, channels: int, resolution: int) -> torch.Tensor:
    """Convert N x H x W grayscale arrays in [0, 1] by the folder conversion rule."""
    converted = [
        to_training_array(DecodedImage(image[:, :, None], 8, f"{name}[{i}]"), channels=channels, resolution=resolution)
        for i, image in enumerate(images)
    ]
    return torch.from_numpy(np.stack(converted))
