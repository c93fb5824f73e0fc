"""DCGAN-style convolutional generator and discriminator for any power-of-two size.

Both networks are built from the image resolution, the channel count and a
width, so one class serves 8 x 8 digits and 256 x 256 photos alike. Layer
widths double as the resolution halves, from ``width`` at full resolution up
to ``max_width`` (Radford et al. 2016, with a 3 x 3 convolution at the image
end in place of a stride-2 one so 8 x 8 images keep a full-resolution layer).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sparkgan.nets.layers import MinibatchStd


def stage_widths(resolution: int, width: int, max_width: int) -> list[int]:
    """Return the channel width of each stage from 4 x 4 up to ``resolution``."""
    stages = int(math.log2(resolution)) - 1
    return [min(width * 2 ** (stages - 1 - i), max_width) for i in range(stages)]


def image_norm(kind: str, channels: int) -> nn.Module:
    """Return a normalisation layer for feature maps: batch, layer or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # GroupNorm with one group normalises each sample over (C, H, W): layer norm.
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def init_dcgan_weights(module: nn.Module) -> None:
    """Initialise weights as DCGAN does: N(0, 0.02), and N(1, 0.02) for norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """Map latents ``z`` (N x z_dim) to images (N x C x H x W) in [-1, 1]."""

    def __init__(self, z_dim: int, resolution: int, channels: int, width: int, max_width: int = 512, norm: str = "batch"):
        super().__init__()
        widths = stage_widths(resolution, width, max_width)
        self.z_dim = z_dim
        self.output_shape = (channels, resolution, resolution)

        self.project = nn.Linear(z_dim, widths[0] * 16, bias=norm != "batch")
        self.project_norm = nn.Sequential(image_norm(norm, widths[0]), nn.ReLU(inplace=True))
        blocks = []
        for w_in, w_out in zip(widths, widths[1:]):
            blocks += [
                nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1, bias=norm != "batch"),
                image_norm(norm, w_out),
                nn.ReLU(inplace=True),
            ]
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], channels, 3, padding=1), nn.Tanh())
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], -1, 4, 4)
        return self.to_image(self.blocks(self.project_norm(x)))


class DCGANDiscriminator(nn.Module):
    """Score images (N x C x H x W); higher means more real. Returns N raw scores.

    ``minibatch_std`` > 0 appends a minibatch standard deviation feature map
    (that group size) before the final layer.
    """

    def __init__(
        self,
        resolution: int,
        channels: int,
        width: int,
        max_width: int = 512,
        norm: str = "none",
        minibatch_std: int = 0,
    ):
        super().__init__()
        widths = stage_widths(resolution, width, max_width)[::-1]
        self.input_shape = (channels, resolution, resolution)

        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [
                nn.Conv2d(w_in, w_out, 4, stride=2, padding=1, bias=norm != "batch"),
                image_norm(norm, w_out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        extra = 0
        if minibatch_std:
            layers.append(MinibatchStd(minibatch_std))
            extra = 1
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear((widths[-1] + extra) * 16, 1)
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x).flatten(1)).squeeze(1)
