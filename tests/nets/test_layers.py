import pytest
import torch

from sparkgan.config import load_config
from sparkgan.nets import MinibatchStd, build_discriminator, pack
from sparkgan.train import resolve_config


def test_minibatch_std_hand_computed():
    x = torch.tensor([[1.0], [10.0], [3.0], [10.0]])
    # Group size 2 pairs samples (0, 2) and (1, 3): population stds 1 and 0.
    out = MinibatchStd(2)(x)
    assert out.shape == (4, 2)
    expected = torch.tensor([1.0, 1e-4, 1.0, 1e-4])
    torch.testing.assert_close(out[:, 1], expected, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(out[:, 0], x[:, 0])


def test_minibatch_std_group_of_one_is_finite():
    out = MinibatchStd(1)(torch.randn(3, 2, 4, 4))
    assert out.shape == (3, 3, 4, 4)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 2], torch.full((3, 4, 4), 1e-4))


def test_minibatch_std_group_divides_batch():
    # Batch 6 with group size 4 uses groups of 3.
    x = torch.arange(6, dtype=torch.float32).view(6, 1)
    feature = MinibatchStd(4)(x)[:, 1]
    # Groups are samples (0, 2, 4) and (1, 3, 5): both have population std sqrt(8/3).
    torch.testing.assert_close(feature, torch.full((6,), (8 / 3) ** 0.5))


def test_pack_joins_consecutive_samples():
    x = torch.arange(16, dtype=torch.float32).view(4, 1, 2, 2)
    packed = pack(x, 2)
    assert packed.shape == (2, 2, 2, 2)
    assert torch.equal(packed[1, 0], x[2, 0])
    assert torch.equal(packed[1, 1], x[3, 0])
    assert pack(torch.zeros(6, 2), 3).shape == (2, 6)
    assert pack(x, 1) is x


def remedied(*overrides):
    return resolve_config(load_config(overrides=["model.width=8", *overrides]))


@pytest.mark.parametrize("name, shape", [("digits", (16, 1, 8, 8)), ("ring", (16, 2))])
def test_discriminator_with_packing_and_minibatch_std(name, shape):
    D = build_discriminator(remedied(f"data.name={name}", "remedies.pack=4", "remedies.minibatch_std=2"))
    assert D(pack(torch.randn(shape), 4)).shape == (4,)


def test_spectral_norm_bounds_every_layer():
    D = build_discriminator(remedied("remedies.spectral_norm=true"))
    for _ in range(30):  # power iterations run on each training-mode forward pass
        D(torch.randn(8, 1, 8, 8))
    layers = [m for m in D.modules() if hasattr(m, "parametrizations")]
    assert len(layers) == 3
    for layer in layers:
        weight = layer.weight.flatten(1)
        assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_pack_must_divide_batch():
    from sparkgan.config import ConfigError

    with pytest.raises(ConfigError, match="remedies.pack"):
        remedied("train.batch_size=10", "remedies.pack=4")
