import logging

import numpy as np
import pytest
import torch
from sr_helpers import tiny_generator

from sparkgan.sr.tiling import min_overlap, tile_starts, upscale_tiled


def _whole(generator, image):
    with torch.no_grad():
        return generator(image[None])[0].numpy()


@pytest.mark.parametrize("length, tile, overlap", [(10, 16, 4), (100, 32, 10), (101, 40, 18), (64, 33, 32)])
def test_tile_starts_cover_with_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0
    assert min(starts[-1] + tile, length) == length
    for previous, current in zip(starts, starts[1:]):
        assert previous + tile - current >= overlap


@pytest.mark.parametrize("scale", [2, 4])
def test_tiled_equals_whole_when_overlap_covers_receptive_field(scale):
    generator = tiny_generator(scale, blocks=2)
    radius = generator.receptive_radius
    image = torch.rand(3, 45, 61, generator=torch.Generator().manual_seed(1))
    tile = min_overlap(radius) + 14
    tiled = upscale_tiled(generator, image, scale=scale, receptive_radius=radius, tile=tile, progress=False)
    whole = _whole(generator, image)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).max() < 1e-4


def test_larger_overlap_also_exact():
    generator = tiny_generator(4, blocks=1)
    radius = generator.receptive_radius
    image = torch.rand(3, 50, 37, generator=torch.Generator().manual_seed(2))
    tiled = upscale_tiled(generator, image, scale=4, receptive_radius=radius, tile=40,
                          overlap=min_overlap(radius) + 9, progress=False)
    assert np.abs(tiled - _whole(generator, image)).max() < 1e-4


def test_too_small_overlap_warns_and_differs(caplog):
    generator = tiny_generator(4, blocks=2)
    radius = generator.receptive_radius
    image = torch.rand(3, 45, 61, generator=torch.Generator().manual_seed(1))
    with caplog.at_level(logging.WARNING, logger="sparkgan.sr.tiling"):
        tiled = upscale_tiled(generator, image, scale=4, receptive_radius=radius, tile=24, overlap=2,
                              progress=False)
    assert "tile overlap 2 is below" in caplog.text
    assert np.abs(tiled - _whole(generator, image)).max() > 1e-3


def test_generator_never_sees_more_than_a_tile():
    generator = tiny_generator(4, blocks=1)
    sizes = []
    generator.register_forward_pre_hook(lambda module, inputs: sizes.append(tuple(inputs[0].shape)))
    image = torch.rand(3, 50, 60)
    upscale_tiled(generator, image, scale=4, receptive_radius=generator.receptive_radius, tile=32, progress=False)
    assert len(sizes) > 1
    assert max(size[2] for size in sizes) <= 32
    assert max(size[3] for size in sizes) <= 32


def test_tile_not_larger_than_overlap_rejected():
    generator = tiny_generator(4, blocks=1)
    with pytest.raises(ValueError, match="invalid tile size 10"):
        upscale_tiled(generator, torch.rand(3, 40, 40), scale=4, receptive_radius=generator.receptive_radius,
                      tile=10, progress=False)


def test_small_image_in_one_tile():
    generator = tiny_generator(2, blocks=1)
    image = torch.rand(3, 9, 11)
    tiled = upscale_tiled(generator, image, scale=2, receptive_radius=generator.receptive_radius, tile=12,
                          progress=False)
    np.testing.assert_allclose(tiled, _whole(generator, image), atol=1e-6)
