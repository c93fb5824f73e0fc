"""Generators and discriminators built from a resolved config."""

from __future__ import annotations

from torch import nn

from sparkgan.config import Config
from sparkgan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from sparkgan.nets.layers import MinibatchStd, add_spectral_norm, pack
from sparkgan.nets.mlp import MLPDiscriminator, MLPGenerator


def build_generator(config: Config) -> nn.Module:
    """Build G for a resolved config (``model.arch`` is ``dcgan`` or ``mlp``)."""
    m, d = config.model, config.data
    if m.arch == "mlp":
        return MLPGenerator(m.z_dim, 2, m.width, m.depth, m.g_norm)
    return DCGANGenerator(m.z_dim, d.resolution, d.channels, m.width, m.max_width, m.g_norm)


def build_discriminator(config: Config) -> nn.Module:
    """Build D for a resolved config, with the remedies that change its shape.

    With packing of m samples, D takes m times the channels (or features)
    of one sample.
    """
    m, d, r = config.model, config.data, config.remedies
    if m.arch == "mlp":
        D = MLPDiscriminator(2 * r.pack, m.width, m.depth, m.d_norm, r.minibatch_std)
    else:
        D = DCGANDiscriminator(d.resolution, d.channels * r.pack, m.width, m.max_width, m.d_norm, r.minibatch_std)
    return add_spectral_norm(D) if r.spectral_norm else D


__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "MinibatchStd",
    "add_spectral_norm",
    "build_discriminator",
    "build_generator",
    "pack",
]
