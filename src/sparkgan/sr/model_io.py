"""Trained generators as standalone safetensors files: save, load, cache, blend.

A model file holds the generator's tensors and, in the safetensors metadata,
the architecture (scale, width, blocks, upsampling width, bicubic skip) and
the stage it comes from (``psnr``, ``gan`` or ``blend``). Loading runs no
pickled code. A run folder stands for its newest stage model:
``model-gan.safetensors`` if the GAN stage has finished, else
``model-psnr.safetensors``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from sparkgan.sr.nets import SRResNet

MODEL_FORMAT = "sparkgan-sr-generator-1"
PSNR_MODEL = "model-psnr.safetensors"
GAN_MODEL = "model-gan.safetensors"
_ARCHITECTURE_KEYS = ("scale", "width", "blocks", "upsample_width", "bicubic_skip")


class ModelFileError(ValueError):
    """A model file or run folder that is missing, unreadable or of another format."""


@dataclass(frozen=True)
class SRModel:
    """A loaded generator in evaluation mode, with its file and training stage."""

    generator: SRResNet
    path: Path
    stage: str

    @property
    def scale(self) -> int:
        return self.generator.scale

    @property
    def receptive_radius(self) -> int:
        return self.generator.receptive_radius


def architecture_of(generator: SRResNet) -> dict:
    """Return the constructor arguments that rebuild ``generator``."""
    return {
        "scale": generator.scale,
        "width": generator.head.out_channels,
        "blocks": generator.blocks,
        "upsample_width": generator.tail.in_channels,
        "bicubic_skip": generator.bicubic_skip,
    }


def save_model(generator: SRResNet, path: str | os.PathLike, stage: str, extra: dict | None = None) -> Path:
    """Write the generator's weights and architecture to a safetensors file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": MODEL_FORMAT, "stage": stage, "architecture": json.dumps(architecture_of(generator))}
    metadata.update({key: json.dumps(value) for key, value in (extra or {}).items()})
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in generator.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def resolve_model_path(model: str | os.PathLike) -> Path:
    """Return the model file that ``model`` names: a .safetensors file or a run folder.

    Raises:
        ModelFileError: when neither a file nor a run folder with a stage model exists.
    """
    path = Path(model)
    if path.is_dir():
        for name in (GAN_MODEL, PSNR_MODEL):
            if (path / name).is_file():
                return path / name
        raise ModelFileError(
            f"{path} contains no trained model ({GAN_MODEL} or {PSNR_MODEL}): finish a stage of "
            f"'sparkgan sr train' first, or give a .safetensors model file"
        )
    if not path.is_file():
        raise ModelFileError(f"model {path} not found: give a .safetensors model file or an SR run folder")
    return path


def load_model(model: str | os.PathLike, device: str | torch.device = "cpu") -> SRModel:
    """Load a generator from a model file or a run folder.

    Raises:
        ModelFileError: naming the file when it is not a sparkgan SR model or
            its tensors do not fit its architecture.
    """
    path = resolve_model_path(model)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise ModelFileError(f"cannot read model file {path}: {error}") from error
    if metadata.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a sparkgan super-resolution model (format {MODEL_FORMAT})")
    try:
        architecture = json.loads(metadata["architecture"])
        generator = SRResNet(**{key: architecture[key] for key in _ARCHITECTURE_KEYS})
        generator.load_state_dict(tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"model file {path} is damaged or from another version: {error}") from error
    generator.eval().requires_grad_(False).to(device)
    return SRModel(generator, path, metadata.get("stage", "unknown"))


# One generator per file and Python process: Spark's Python workers run many
# tasks each, and loading once per worker keeps the per-task cost to the upscaling.
_CACHE: dict[tuple, SRModel] = {}
_CACHE_LOCK = threading.Lock()


def cached_model(model: str | os.PathLike) -> tuple[SRModel, bool]:
    """Return the loaded model for a path and whether this call loaded it.

    The cache key includes the file's modification time and size, so a
    rewritten file is loaded again.
    """
    path = resolve_model_path(model).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key], False
        loaded = load_model(path)
        _CACHE.clear()
        _CACHE[key] = loaded
        return loaded, True


def blend_models(first: str | os.PathLike, second: str | os.PathLike, alpha: float, output: str | os.PathLike) -> Path:
    """Write ``(1 - alpha) * first + alpha * second``, weight by weight (ESRGAN's network interpolation).

    With the PSNR-stage model first and the GAN-stage model second, ``alpha``
    moves from fidelity (0) to realism (1).

    Raises:
        ModelFileError: when the models' architectures differ.
        ValueError: when ``alpha`` is outside [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"invalid alpha {alpha}: expected a number from 0 (the first model) to 1 (the second)")
    a, b = load_model(first), load_model(second)
    if architecture_of(a.generator) != architecture_of(b.generator):
        raise ModelFileError(
            f"cannot blend {a.path} and {b.path}: their architectures differ "
            f"({architecture_of(a.generator)} and {architecture_of(b.generator)})"
        )
    blended = a.generator
    second_state = b.generator.state_dict()
    with torch.no_grad():
        for name, tensor in blended.state_dict().items():
            tensor.lerp_(second_state[name], alpha)
    source = {"first": str(a.path), "second": str(b.path), "alpha": alpha}
    return save_model(blended, output, stage="blend", extra={"blend": source})
