import numpy as np
import pytest
import torch
from torch import nn

from sparkgan.sr.config import load_sr_config
from sparkgan.sr.nets import PatchDiscriminator, SRResNet, build_discriminator, build_generator
from sparkgan.sr.resize import upscale_bicubic


@pytest.mark.parametrize("scale", [2, 4])
def test_generator_upscales_by_scale(scale):
    generator = SRResNet(scale, width=8, blocks=2, upsample_width=4)
    out = generator(torch.rand(2, 3, 10, 7))
    assert out.shape == (2, 3, 10 * scale, 7 * scale)


def test_generator_has_no_batch_norm():
    generator = build_generator(load_sr_config().model, 4)
    norms = [m for m in generator.modules() if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm))]
    assert norms == []


def test_generator_built_from_settings():
    config = load_sr_config(overrides=["model.width=12", "model.blocks=3", "model.upsample_width=6"])
    generator = build_generator(config.model, 2)
    assert generator.head.out_channels == 12
    assert generator.blocks == 3
    assert len([m for m in generator.upsample if isinstance(m, nn.PixelShuffle)]) == 1
    assert generator.tail.in_channels == 6


@pytest.mark.parametrize("scale, blocks, expected", [(4, 8, 21), (4, 1, 7), (2, 8, 20), (2, 0, 4)])
def test_receptive_radius_formula(scale, blocks, expected):
    # Head, 2 per block, body end and first upsampling conv at low resolution,
    # then one conv per further level (log2(scale) of them).
    assert SRResNet(scale, width=4, blocks=blocks, upsample_width=4).receptive_radius == expected


@pytest.mark.parametrize("scale", [2, 4])
def test_receptive_radius_bounds_gradient(scale):
    torch.manual_seed(0)
    generator = SRResNet(scale, width=4, blocks=2, upsample_width=4)
    torch.nn.init.normal_(generator.tail.weight)
    image = torch.rand(1, 3, 40, 40, requires_grad=True)
    output = generator(image)
    radius = generator.receptive_radius
    for position in (40, 41, 43, 79):
        image.grad = None
        output[0, :, position, position].sum().backward(retain_graph=True)
        rows, cols = np.nonzero(image.grad[0].abs().sum(0).numpy())
        source = position // scale
        assert rows.min() >= source - radius
        assert rows.max() <= source + radius
        assert cols.min() >= source - radius
        assert cols.max() <= source + radius


def test_untrained_generator_is_bicubic():
    generator = SRResNet(4, width=4, blocks=1, upsample_width=4)
    image = torch.rand(1, 3, 12, 9)
    torch.testing.assert_close(generator(image), upscale_bicubic(image, 4))


def test_generator_without_skip_has_random_last_layer():
    generator = SRResNet(4, width=4, blocks=1, upsample_width=4, bicubic_skip=False)
    assert generator.tail.weight.abs().sum() > 0


def test_discriminator_scores_patches_and_returns_features():
    discriminator = PatchDiscriminator(width=8, stages=3, max_width=16)
    scores, features = discriminator(torch.rand(2, 3, 64, 48))
    assert scores.shape == (2, 1, 8, 6)
    assert [f.shape[1] for f in features] == [8, 16, 16]
    assert [f.shape[2] for f in features] == [32, 16, 8]


def test_discriminator_spectral_norm_setting():
    config = load_sr_config(overrides=["model.d_norm=spectral"])
    normed = build_discriminator(config.model)
    plain = build_discriminator(load_sr_config(overrides=["model.d_norm=none"]).model)
    assert any("parametrizations" in name for name, _ in normed.named_parameters())
    assert not any("parametrizations" in name for name, _ in plain.named_parameters())
