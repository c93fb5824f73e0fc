"""Discriminator building blocks against mode collapse."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class MinibatchStd(nn.Module):
    """Append the average standard deviation across a group of samples as one more feature.

    Karras et al. 2018: a collapsed generator produces groups with little
    spread, which this feature lets the discriminator see. The group is the
    largest divisor of the batch size not above ``group_size``. The variance
    uses no Bessel correction and adds 1e-8 before the square root, so a
    group of one sample gives a constant feature instead of NaN.
    """

    def __init__(self, group_size: int):
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be at least 1, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        group = max(g for g in range(1, min(self.group_size, batch) + 1) if batch % g == 0)
        # Sample i joins group i % (batch // group), as in StyleGAN, so neighbours differ.
        grouped = x.reshape(group, batch // group, *x.shape[1:])
        std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt()
        per_group = std.flatten(1).mean(dim=1)
        feature = per_group.repeat(group)
        shape = (batch, 1, *x.shape[2:])
        return torch.cat([x, feature.view(-1, *([1] * (x.dim() - 1))).expand(shape)], dim=1)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Constrain every convolution and linear layer to spectral norm 1 (Miyato et al. 2018)."""
    for child in module.modules():
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            spectral_norm(child)
    return module


def pack(samples: torch.Tensor, size: int) -> torch.Tensor:
    """Join each run of ``size`` consecutive samples into one discriminator input (PacGAN).

    Lin et al. 2018: N x C x H x W becomes N/size x size*C x H x W, and
    N x F becomes N/size x size*F. The caller keeps N divisible by ``size``.
    """
    if size == 1:
        return samples
    return samples.reshape(samples.shape[0] // size, size * samples.shape[1], *samples.shape[2:])
