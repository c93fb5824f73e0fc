"""Generators and discriminators built from a resolved config."""

from __future__ import annotations

from torch import nn

from sparkgan.config import Config
from sparkgan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from sparkgan.nets.mlp import MLPDiscriminator, MLPGenerator


def build_generator(config: Config) -> nn.Module:
    """Build G for a resolved config (``model.arch`` is ``dcgan`` or ``mlp``)."""
    m, d = config.model, config.data
    if m.arch == "mlp":
        return MLPGenerator(m.z_dim, 2, m.width, m.depth, m.g_norm)
    return DCGANGenerator(m.z_dim, d.resolution, d.channels, m.width, m.max_width, m.g_norm)


def build_discriminator(config: Config) -> nn.Module:
    """Build D for a resolved config."""
    m, d = config.model, config.data
    if m.arch == "mlp":
        return MLPDiscriminator(2, m.width, m.depth, m.d_norm)
    return DCGANDiscriminator(d.resolution, d.channels, m.width, m.max_width, m.d_norm)


__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "build_discriminator",
    "build_generator",
]
