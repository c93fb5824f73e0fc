"""Perceptual loss from a user-supplied VGG weights file.

sparkgan downloads nothing, so the VGG weights come from the user: a state
dict of torchvision's ``vgg16`` or ``vgg19`` (ImageNet weights, as
``torchvision.models.vgg19(weights="IMAGENET1K_V1").state_dict()`` saves them),
as a ``.pth`` file (loaded with ``weights_only=True``) or a ``.safetensors``
file. The layers are rebuilt here with torchvision's indices, so no torchvision
import is needed. Following ESRGAN, the loss is the L1 distance between VGG
features taken before the activation of the chosen layer (``conv5_4`` by
default), on inputs normalised with the ImageNet mean and standard deviation.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sparkgan.config import ConfigError

_SETTING = "loss.perceptual_weights"
# torchvision's configurations "D" (VGG16) and "E" (VGG19): channels per conv, M for max pooling.
_LAYOUTS = {
    13: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ConfigError(f"invalid value {str(path)!r} for '{_SETTING}': file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch and safetensors raise several types for foreign files
        raise ConfigError(f"invalid value {str(path)!r} for '{_SETTING}': cannot read it: {error}") from error
    if not isinstance(state, dict):
        raise ConfigError(f"invalid value {str(path)!r} for '{_SETTING}': expected a state dict of tensors")
    # A whole VGG's state dict prefixes the convolutional part with "features.".
    features = {key.removeprefix("features."): value for key, value in state.items() if not key.startswith("classifier.")}
    foreign = [key for key in features if not key.split(".")[0].isdigit()]
    if foreign:
        raise ConfigError(
            f"invalid value {str(path)!r} for '{_SETTING}': keys such as {foreign[0]!r} are not those of "
            "torchvision's vgg16 or vgg19"
        )
    return features


class VGGFeatures(nn.Module):
    """The convolutional part of VGG16 or VGG19 up to one convolution, without its activation."""

    def __init__(self, path: str | Path, layer: str = "conv5_4"):
        super().__init__()
        path = Path(path)
        state = _read_state(path)
        conv_keys = sorted((int(key.split(".")[0]) for key in state if key.endswith(".weight")))
        layout = _LAYOUTS.get(len(conv_keys))
        if layout is None:
            raise ConfigError(
                f"invalid value {str(path)!r} for '{_SETTING}': found {len(conv_keys)} convolutions, but "
                "VGG16 has 13 and VGG19 16 (batch-normalised VGGs are not supported)"
            )
        layers, index_of = self._build(layout)
        if layer not in index_of:
            raise ConfigError(
                f"invalid value {layer!r} for 'loss.perceptual_layer': expected one of {', '.join(index_of)}"
            )
        self.features = nn.Sequential(*layers[: index_of[layer] + 1])
        wanted = {key: value for key, value in state.items() if int(key.split(".")[0]) <= index_of[layer]}
        try:
            self.features.load_state_dict(wanted)
        except RuntimeError as error:
            raise ConfigError(
                f"invalid value {str(path)!r} for '{_SETTING}': its tensors do not fit torchvision's "
                f"VGG layout: {error}"
            ) from error
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False).eval()

    @staticmethod
    def _build(layout: list) -> tuple[list[nn.Module], dict[str, int]]:
        layers: list[nn.Module] = []
        index_of: dict[str, int] = {}
        block, conv, in_width = 1, 0, 3
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
                block, conv = block + 1, 0
                continue
            conv += 1
            index_of[f"conv{block}_{conv}"] = len(layers)
            layers += [nn.Conv2d(in_width, item, 3, padding=1), nn.ReLU()]
            in_width = item
        return layers, index_of

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features((images - self.mean) / self.std)


def perceptual_loss(vgg: VGGFeatures, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Return the mean L1 distance between the VGG features of ``fake`` and ``real`` images in [0, 1]."""
    return F.l1_loss(vgg(fake), vgg(real).detach())
