"""Discriminator regularisers: the WGAN-GP gradient penalty and R1."""

from __future__ import annotations

from typing import Callable

import torch


def _input_gradients(D: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    inputs = inputs.detach().requires_grad_(True)
    scores = D(inputs)
    (gradients,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    return gradients.flatten(1)


def gradient_penalty(
    D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor
) -> torch.Tensor:
    """Return mean((||grad D(x_hat)||_2 - 1)^2) at x_hat = mix * real + (1 - mix) * fake.

    Gulrajani et al. 2017. ``mix`` holds one weight in [0, 1] per sample.
    """
    shape = (-1,) + (1,) * (real.dim() - 1)
    x_hat = mix.view(shape) * real.detach() + (1 - mix.view(shape)) * fake.detach()
    norms = _input_gradients(D, x_hat).norm(2, dim=1)
    return ((norms - 1) ** 2).mean()


def r1_penalty(D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """Return mean(||grad D(real)||_2^2) (Mescheder et al. 2018).

    The caller weighs it by gamma / 2 and, when the penalty runs lazily every
    k steps, by k as well (Karras et al. 2020).
    """
    return _input_gradients(D, real).pow(2).sum(dim=1).mean()
