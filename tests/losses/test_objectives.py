import math

import pytest
import torch

from sparkgan.losses import OBJECTIVES, discriminator_loss, generator_loss

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def mean(values):
    return sum(values) / len(values)


# Hand-computed from the textbook definitions with D(x) = sigmoid(score).
EXPECTED = {
    "minimax": (
        mean([-math.log(1 / (1 + math.exp(-2.0))), -math.log(1 / (1 + math.exp(1.0)))]),
        mean([-math.log(1 - 1 / (1 + math.exp(-0.5))), -math.log(1 - 1 / (1 + math.exp(3.0)))]),
        mean([math.log(1 - 1 / (1 + math.exp(-0.5))), math.log(1 - 1 / (1 + math.exp(3.0)))]),
    ),
    "nonsaturating": (
        mean([softplus(-2.0), softplus(1.0)]),
        mean([softplus(0.5), softplus(-3.0)]),
        mean([-math.log(1 / (1 + math.exp(-0.5))), -math.log(1 / (1 + math.exp(3.0)))]),
    ),
    "wasserstein": (-0.5, -1.25, 1.25),
    "hinge": (mean([0.0, 2.0]), mean([1.5, 0.0]), 1.25),
    "least_squares": (mean([0.5 * 1.0, 0.5 * 4.0]), mean([0.5 * 0.25, 0.5 * 9.0]), mean([0.5 * 0.25, 0.5 * 16.0])),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_objective_matches_hand_computed(name):
    d_real, d_fake, g = EXPECTED[name]
    terms = discriminator_loss(OBJECTIVES[name], REAL, FAKE)
    assert terms["loss_D_real"].item() == pytest.approx(d_real, rel=1e-6)
    assert terms["loss_D_fake"].item() == pytest.approx(d_fake, rel=1e-6)
    assert terms["loss_D"].item() == pytest.approx(d_real + d_fake, rel=1e-6)
    assert generator_loss(OBJECTIVES[name], FAKE).item() == pytest.approx(g, rel=1e-6)


def test_minimax_generator_gradient_saturates():
    # The saturating game gives G almost no gradient where D confidently rejects fakes.
    fake = torch.tensor([-8.0], requires_grad=True)
    generator_loss(OBJECTIVES["minimax"], fake).backward()
    saturating = fake.grad.abs().item()
    fake.grad = None
    generator_loss(OBJECTIVES["nonsaturating"], fake).backward()
    assert saturating < 1e-3
    assert fake.grad.abs().item() > 0.99
