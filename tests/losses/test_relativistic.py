import math

import pytest
import torch

from sparkgan.losses.relativistic import relativistic_discriminator_loss, relativistic_generator_loss


def _log_sigmoid(x):
    return math.log(1 / (1 + math.exp(-x)))


def test_discriminator_loss_hand_computed():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    # mean(fake) = 0, mean(real) = 1: real_vs_fake = [2, 0], fake_vs_real = [-2, 0].
    expected_real = -(_log_sigmoid(2.0) + _log_sigmoid(0.0)) / 2
    expected_fake = -(_log_sigmoid(2.0) + _log_sigmoid(0.0)) / 2  # log(1 - sigmoid(x)) = log sigmoid(-x)
    terms = relativistic_discriminator_loss(real, fake)
    assert terms["loss_D_real"].item() == pytest.approx(expected_real, abs=1e-6)
    assert terms["loss_D_fake"].item() == pytest.approx(expected_fake, abs=1e-6)
    assert terms["loss_D"].item() == pytest.approx(expected_real + expected_fake, abs=1e-6)


def test_generator_loss_hand_computed():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    # -log(1 - sigmoid([2, 0])) - log(sigmoid([-2, 0])), each averaged.
    expected = -(_log_sigmoid(-2.0) + _log_sigmoid(0.0)) / 2 - (_log_sigmoid(-2.0) + _log_sigmoid(0.0)) / 2
    assert relativistic_generator_loss(real, fake).item() == pytest.approx(expected, abs=1e-6)


def test_equal_scores_give_log_two():
    scores = torch.full((4, 1, 3, 3), 0.7)
    assert relativistic_discriminator_loss(scores, scores)["loss_D"].item() == pytest.approx(2 * math.log(2))
    assert relativistic_generator_loss(scores, scores).item() == pytest.approx(2 * math.log(2))


def test_generator_gradient_raises_fake_scores():
    real = torch.tensor([1.0, 2.0])
    fake = torch.tensor([0.0, -1.0], requires_grad=True)
    relativistic_generator_loss(real, fake).backward()
    assert torch.all(fake.grad < 0)
