"""Fully connected generator and discriminator for 2-D point data."""

from __future__ import annotations

import torch
from torch import nn

from sparkgan.nets.layers import MinibatchStd


class MLPGenerator(nn.Module):
    """Map latents ``z`` (N x z_dim) to points (N x out_dim)."""

    def __init__(self, z_dim: int, out_dim: int = 2, width: int = 128, depth: int = 3, norm: str = "batch"):
        super().__init__()
        self.z_dim = z_dim
        self.output_shape = (out_dim,)
        layers: list[nn.Module] = []
        fan_in = z_dim
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.BatchNorm1d(width) if norm == "batch" else nn.Identity(), nn.ReLU()]
            fan_in = width
        layers.append(nn.Linear(fan_in, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """Score points (N x in_dim); returns N raw scores.

    ``minibatch_std`` > 0 appends a minibatch standard deviation feature
    (that group size) before the final layer.
    """

    def __init__(self, in_dim: int = 2, width: int = 128, depth: int = 3, norm: str = "none", minibatch_std: int = 0):
        super().__init__()
        self.input_shape = (in_dim,)
        layers: list[nn.Module] = []
        fan_in = in_dim
        for _ in range(depth):
            norm_layer = {"batch": nn.BatchNorm1d(width), "layer": nn.LayerNorm(width)}.get(norm, nn.Identity())
            layers += [nn.Linear(fan_in, width), norm_layer, nn.LeakyReLU(0.2)]
            fan_in = width
        if minibatch_std:
            layers.append(MinibatchStd(minibatch_std))
            fan_in += 1
        layers.append(nn.Linear(fan_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
