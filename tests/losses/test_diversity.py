import pytest
import torch

from sparkgan.losses import mode_seeking_term


def test_mode_seeking_hand_computed():
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [1.0, 3.0]])
    z = torch.tensor([[0.0], [0.0], [1.0], [2.0]])
    # Pairs (0, 2) and (1, 3): output distance mean(|.|) = (2 + 0 + 0 + 2) / 4 = 1,
    # latent distance mean = (1 + 2) / 2 = 1.5, so the loss is 1 / (1 / 1.5 + 1e-5).
    assert mode_seeking_term(fake, z).item() == pytest.approx(1 / (1 / 1.5 + 1e-5))


def test_mode_seeking_pushes_outputs_apart():
    fake = torch.zeros(4, 3, requires_grad=True)
    z = torch.randn(4, 2)
    with torch.no_grad():
        fake += torch.tensor([[0.1], [0.2], [0.3], [0.4]])
    mode_seeking_term(fake, z).backward()
    # Lower loss means farther apart: the gradient pushes the first half down and the second up.
    assert (fake.grad[:2] > 0).all()
    assert (fake.grad[2:] < 0).all()
