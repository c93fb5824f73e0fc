import pytest
import torch
from torch import nn

from sparkgan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from sparkgan.nets.dcgan import stage_widths


@pytest.mark.parametrize("resolution, stages", [(8, 2), (16, 3), (32, 4), (64, 5)])
def test_dcgan_built_from_resolution(resolution, stages):
    G = DCGANGenerator(z_dim=8, resolution=resolution, channels=3, width=4, max_width=16)
    D = DCGANDiscriminator(resolution=resolution, channels=3, width=4, max_width=16)
    images = G(torch.randn(5, 8))
    assert images.shape == (5, 3, resolution, resolution)
    assert images.abs().max() <= 1.0
    assert D(images).shape == (5,)
    upsamplers = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    downsamplers = [m for m in D.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert len(upsamplers) == stages - 1
    assert len(downsamplers) == stages - 1


def test_stage_widths_double_until_cap():
    assert stage_widths(64, 16, 64) == [64, 64, 64, 32, 16]
    assert stage_widths(8, 64, 512) == [128, 64]


@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_discriminator_norms_run(norm):
    D = DCGANDiscriminator(resolution=16, channels=1, width=4, norm=norm)
    norms = [m for m in D.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
    assert len(norms) == (0 if norm == "none" else 2)
    assert torch.isfinite(D(torch.randn(4, 1, 16, 16))).all()


def test_mlp_pair_for_points():
    G, D = MLPGenerator(z_dim=2, width=16, depth=2), MLPDiscriminator(width=16, depth=2)
    points = G(torch.randn(7, 2))
    assert points.shape == (7, 2)
    assert D(points).shape == (7,)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == 3


def test_generator_learns_to_fit_a_target():
    # A few Adam steps on an L2 target must reduce the error: the nets are trainable end to end.
    torch.manual_seed(0)
    G = DCGANGenerator(z_dim=4, resolution=8, channels=1, width=8)
    z, target = torch.randn(16, 4), torch.zeros(16, 1, 8, 8)
    optimiser = torch.optim.Adam(G.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = (G(z) - target).pow(2).mean()
        first = first if first is not None else loss.item()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.2 * first
