"""Super-resolution networks: an SRResNet-style generator and a VGG-style patch discriminator.

The generator follows SRResNet (Ledig et al. 2017, "Photo-Realistic Single
Image Super-Resolution Using a Generative Adversarial Network") with the
changes of ESRGAN (Wang et al. 2018): no batch normalisation, so a tile of an
image gives the same pixels as the whole image, and residual branches whose
last convolution starts at a tenth of its default scale. Upsampling is one
convolution and a 2x pixel shuffle per factor of two. With ``bicubic_skip``
the network adds its output to the bicubic upscale of the input (global
residual learning as in VDSR, Kim et al. 2016), and its last convolution
starts at zero, so the untrained generator is the bicubic baseline and
training learns only the missing detail.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from sparkgan.sr.resize import bicubic_resize

# Keys cubic convolution (a = -0.5) reaches two input pixels to each side.
BICUBIC_RADIUS = 2


def receptive_radius(scale: int, blocks: int, bicubic_skip: bool) -> int:
    """Return the low-resolution pixels on each side of an output pixel's source pixel that it depends on.

    An output pixel at high-resolution position X comes from the input pixel
    floor(X / scale) and its neighbours up to this distance. Every 3 x 3
    convolution reaches one pixel at its own resolution, which is at most one
    low-resolution pixel at the upsampled levels.
    """
    low_resolution_convs = 1 + 2 * blocks + 1 + 1  # head, blocks, body end, first upsampling conv
    upsampled_convs = int(math.log2(scale))  # later upsampling convs and the tail
    network = low_resolution_convs + upsampled_convs
    return max(network, BICUBIC_RADIUS) if bicubic_skip else network


class ResidualBlock(nn.Module):
    """conv3x3, LeakyReLU, conv3x3, added to the input."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        with torch.no_grad():
            # ESRGAN scales the residual branch's initial weights down so that deep
            # stacks start close to the identity.
            self.conv2.weight.mul_(0.1)
            self.conv2.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class SRResNet(nn.Module):
    """Generator mapping N x C x h x w images in [0, 1] to N x C x (h * scale) x (w * scale)."""

    def __init__(
        self,
        scale: int,
        width: int = 32,
        blocks: int = 8,
        upsample_width: int = 16,
        bicubic_skip: bool = True,
        channels: int = 3,
    ):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"invalid scale {scale}: SRResNet upscales by 2 or 4")
        self.scale = scale
        self.blocks = blocks
        self.bicubic_skip = bicubic_skip
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)], nn.Conv2d(width, width, 3, padding=1))
        stages: list[nn.Module] = []
        in_width = width
        for _ in range(int(math.log2(scale))):
            stages += [nn.Conv2d(in_width, 4 * upsample_width, 3, padding=1), nn.PixelShuffle(2), nn.LeakyReLU(0.2)]
            in_width = upsample_width
        self.upsample = nn.Sequential(*stages)
        self.tail = nn.Conv2d(upsample_width, channels, 3, padding=1)
        if bicubic_skip:
            # A zero last layer makes the untrained generator exactly the bicubic
            # baseline instead of bicubic plus random noise.
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        """Low-resolution pixels on each side of an output pixel's source pixel that it depends on."""
        return receptive_radius(self.scale, self.blocks, self.bicubic_skip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        features = features + self.body(features)
        out = self.tail(self.upsample(features))
        if self.bicubic_skip:
            out = out + bicubic_resize(x, (x.shape[2] * self.scale, x.shape[3] * self.scale))
        return out


class PatchDiscriminator(nn.Module):
    """VGG-style discriminator that scores every patch of its input.

    Each stage is a 3x3 convolution and a stride-2 4x4 convolution with
    LeakyReLU(0.2), as in ESRGAN's VGG discriminator, and the width doubles
    per stage up to ``max_width``. A final 3x3 convolution gives one raw score
    per patch instead of a fully connected layer, so any input size works.
    ``forward`` returns the score map and each stage's features, which the
    feature-matching loss compares.
    """

    def __init__(self, width: int = 32, stages: int = 3, max_width: int = 256, norm: str = "spectral", channels: int = 3):
        super().__init__()
        if norm not in ("spectral", "none"):
            raise ValueError(f"invalid discriminator norm {norm!r}: expected 'spectral' or 'none'")
        wrap = spectral_norm if norm == "spectral" else (lambda module: module)
        layers = []
        in_width = channels
        for index in range(stages):
            out_width = min(width * 2**index, max_width)
            layers.append(
                nn.Sequential(
                    wrap(nn.Conv2d(in_width, out_width, 3, padding=1)),
                    nn.LeakyReLU(0.2),
                    wrap(nn.Conv2d(out_width, out_width, 4, stride=2, padding=1)),
                    nn.LeakyReLU(0.2),
                )
            )
            in_width = out_width
        self.stages = nn.ModuleList(layers)
        self.score = wrap(nn.Conv2d(in_width, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return self.score(x), features


def build_generator(model, scale: int) -> SRResNet:
    """Build the generator of an :class:`~sparkgan.sr.config.SRModelConfig`."""
    return SRResNet(scale, model.width, model.blocks, model.upsample_width, model.bicubic_skip)


def build_discriminator(model) -> PatchDiscriminator:
    """Build the discriminator of an :class:`~sparkgan.sr.config.SRModelConfig`."""
    return PatchDiscriminator(model.d_width, model.d_stages, model.d_max_width, model.d_norm)
