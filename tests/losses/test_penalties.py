import pytest
import torch

from sparkgan.losses import gradient_penalty, r1_penalty


def linear_critic(weights: torch.Tensor):
    return lambda x: (x.flatten(1) * weights).sum(dim=1)


def test_gradient_penalty_of_linear_critic():
    # grad D = w everywhere, so the penalty is (||w|| - 1)^2 = (5 - 1)^2.
    D = linear_critic(torch.tensor([3.0, 4.0]))
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    assert gradient_penalty(D, real, fake, torch.rand(6)).item() == pytest.approx(16.0)


def test_gradient_penalty_of_quadratic_critic_at_interpolates():
    # D(x) = sum(x^2) / 2 has gradient x; at x_hat = 0.25 real + 0.75 fake the norm is known.
    D = lambda x: 0.5 * x.pow(2).sum(dim=1)  # noqa: E731
    real = torch.tensor([[4.0, 0.0]])
    fake = torch.tensor([[0.0, 4.0]])
    x_hat_norm = torch.tensor([1.0, 3.0]).norm().item()
    assert gradient_penalty(D, real, fake, torch.tensor([0.25])).item() == pytest.approx((x_hat_norm - 1) ** 2)


def test_r1_is_squared_gradient_norm():
    D = lambda x: 0.5 * x.pow(2).sum(dim=1)  # noqa: E731
    real = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    # gradients are the inputs: squared norms 5 and 9, mean 7.
    assert r1_penalty(D, real).item() == pytest.approx(7.0)


def test_penalties_are_differentiable_in_critic_weights():
    weights = torch.tensor([1.0, 1.0], requires_grad=True)
    D = lambda x: (x * weights).sum(dim=1) ** 2  # noqa: E731
    r1_penalty(D, torch.ones(3, 2)).backward()
    assert weights.grad is not None
    assert weights.grad.abs().sum().item() > 0
