import numpy as np
import pytest
import torch

from sparkgan.config import ConfigError, load_config
from sparkgan.data import DataError, TensorSource, build_source, resolve_data_defaults
from sparkgan.data.mixtures import grid_centers, ring_centers
from sparkgan.data.seeds import rank_slice, stream_seed


def resolved(*overrides):
    return resolve_data_defaults(load_config(overrides=list(overrides)).data)


def test_digits_builtin():
    source = build_source(resolved("data.name=digits"), seed=0)
    images = source.reference()
    assert images.shape == (1797, 1, 8, 8)
    assert images.min().item() == pytest.approx(-1.0)
    assert images.max().item() == pytest.approx(1.0)
    assert np.bincount(source.labels).tolist()[:3] == [178, 182, 177]


def test_faces_builtin_keeps_only_faces():
    source = build_source(resolved("data.name=faces"), seed=0)
    assert source.reference().shape == (100, 1, 32, 32)


def test_ring_and_grid_defaults_follow_pacgan():
    ring = resolved("data.name=ring")
    grid = resolved("data.name=grid")
    assert (ring.modes, ring.radius, ring.std) == (8, 1.0, 0.01)
    assert (grid.modes, grid.spacing, grid.std) == (25, 2.0, 0.05)
    centers = grid_centers(grid.modes, grid.spacing)
    assert sorted(set(centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    np.testing.assert_allclose(ring_centers(4, 2.0), [[2, 0], [0, 2], [-2, 0], [0, -2]], atol=1e-12)


def test_mixture_samples_sit_on_modes():
    source = build_source(resolved("data.name=grid"), seed=3)
    points = source.batch(0, 4000).numpy()
    centers = grid_centers(25, 2.0)
    distances = np.linalg.norm(points[:, None] - centers[None], axis=2).min(axis=1)
    # For a 2-D Gaussian, the distance to the centre has mean std * sqrt(pi / 2).
    assert distances.mean() == pytest.approx(0.05 * np.sqrt(np.pi / 2), rel=0.05)


def test_grid_needs_square_mode_count():
    with pytest.raises(ConfigError, match="data.modes"):
        resolved("data.name=grid", "data.modes=10")


def test_batches_are_a_function_of_seed_and_step():
    images = torch.arange(10, dtype=torch.float32).view(10, 1)
    a, b = TensorSource("t", images, seed=5), TensorSource("t", images, seed=5)
    assert torch.equal(a.batch(7, 4), b.batch(7, 4))
    # An epoch of 10 images at batch 4 has 2 batches, each image at most once.
    epoch = torch.cat([a.batch(0, 4), a.batch(1, 4)]).flatten().tolist()
    assert len(set(epoch)) == 8


def test_rank_slices_reassemble_the_global_batch():
    images = torch.arange(32, dtype=torch.float32).view(32, 1)
    source = TensorSource("t", images, seed=1)
    parts = [source.batch(3, 8, rank, 2) for rank in range(2)]
    assert torch.equal(torch.cat(parts), source.batch(3, 8))
    with pytest.raises(ValueError, match="split evenly"):
        rank_slice(9, 0, 2)


def test_dataset_smaller_than_a_batch():
    source = TensorSource("tiny", torch.zeros(5, 1), seed=0)
    with pytest.raises(DataError, match="train.batch_size=8"):
        source.batch(0, 8)


def test_stream_seeds_differ_by_purpose_and_step():
    seeds = {stream_seed(0, "z", 0), stream_seed(0, "z", 1), stream_seed(0, "data", 0), stream_seed(1, "z", 0)}
    assert len(seeds) == 4


def test_folder_requires_an_existing_path(tmp_path):
    with pytest.raises(ConfigError, match="data.path"):
        resolved("data.name=folder")
    with pytest.raises(ConfigError, match="folder not found"):
        resolved("data.name=folder", f"data.path={tmp_path / 'missing'}")


def test_resolution_must_be_power_of_two():
    with pytest.raises(ConfigError, match="power of two"):
        resolved("data.resolution=24")
