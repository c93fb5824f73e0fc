"""Inception-v3 pool features (2048-d) for FID, KID and PRDC, through torch-fidelity.

Needs the optional extra: pip install 'sparkgan[inception]'. The rest of the package
never imports this module, so sparkgan works without torch-fidelity.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import torch

from sparkgan.metrics.errors import MetricError
from sparkgan.metrics.quantize import to_uint8

INCEPTION_FEATURE_DIM = 2048
_FEATURE_NAME = "2048"
_MISSING_EXTRA_MESSAGE = (
    "Inception features need torch-fidelity, which is not installed. "
    "Install the extra with: pip install 'sparkgan[inception]'"
)


def inception_features(
    images: np.ndarray,
    *,
    weights_path: str | os.PathLike | None = None,
    batch_size: int = 64,
    device: str = "cpu",
) -> np.ndarray:
    """Compute Inception-v3 2048-d pool features of N x C x H x W images in [-1, 1].

    Images are rounded to 8 bits with the same mapping as quantize_8bit, so saved PNGs
    and live arrays give the same features. Grayscale (C = 1) is repeated to 3 channels.
    torch-fidelity's extractor then resizes to 299 x 299 itself.

    ``weights_path`` is a local copy of torch-fidelity's Inception weights. Without it,
    torch-fidelity downloads them on first use, which needs internet access. torch-fidelity
    0.4.0 opens the file with torch.load(weights_only=False), which unpickles it, so pass
    only trusted files. Returns an N x 2048 float64 array.
    """
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise MetricError(f"images must be N x C x H x W with C = 1 or 3, got shape {array.shape}")
    if batch_size < 1:
        raise MetricError(f"batch_size must be at least 1, got {batch_size}")

    pixels = to_uint8(array)
    if pixels.shape[1] == 1:
        pixels = np.repeat(pixels, 3, axis=1)

    extractor = _load_extractor(None if weights_path is None else os.fspath(weights_path), device)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            batch = torch.from_numpy(pixels[start : start + batch_size]).to(device)
            (features,) = extractor(batch)
            outputs.append(features.to("cpu", torch.float64).numpy())
    if not outputs:
        return np.zeros((0, INCEPTION_FEATURE_DIM), dtype=np.float64)
    return np.concatenate(outputs)


# Loading reads about 96 MB of weights and builds the network, so the last extractor is
# kept. The key is the path string, so a file replaced at the same path is not reloaded.
@functools.lru_cache(maxsize=1)
def _load_extractor(weights_path: str | None, device: str) -> torch.nn.Module:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as error:
        raise ImportError(_MISSING_EXTRA_MESSAGE) from error

    extractor = FeatureExtractorInceptionV3(
        "inception-v3-compat",
        [_FEATURE_NAME],
        feature_extractor_weights_path=weights_path,
    )
    return extractor.to(device).eval()
