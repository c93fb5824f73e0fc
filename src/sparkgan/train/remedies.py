"""Training-loop parts of the remedies against mode collapse: replay and unrolling.

The remedies that change the discriminator's shape (packing, minibatch
standard deviation, spectral norm) live in :mod:`sparkgan.nets`; the
mode-seeking term lives in :mod:`sparkgan.losses`.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn
from torch.func import functional_call

from sparkgan.losses import Objective, discriminator_loss


class ReplayBuffer:
    """Past generated samples shown to D again (Shrivastava et al. 2017).

    The buffer fills in order; once full, each new sample overwrites a
    random slot, so it keeps samples of many ages. All randomness comes from
    the caller's generator, which keeps resumed runs exact.
    """

    def __init__(self, capacity: int, sample_shape: tuple[int, ...]):
        self.samples = torch.zeros(capacity, *sample_shape)
        self.count = 0

    def mix(self, fake: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
        """Return ``fake`` with a ``fraction`` of its rows swapped for stored samples."""
        replaced = min(round(fraction * fake.shape[0]), fake.shape[0])
        if self.count == 0 or replaced == 0:
            return fake
        rows = torch.randperm(fake.shape[0], generator=generator)[:replaced]
        picks = torch.randint(self.count, (replaced,), generator=generator)
        mixed = fake.clone()
        mixed[rows.to(fake.device)] = self.samples[picks].to(fake.device, fake.dtype)
        return mixed

    def push(self, fake: torch.Tensor, generator: torch.Generator) -> None:
        fake = fake.detach().cpu()
        capacity = self.samples.shape[0]
        free = min(capacity - self.count, fake.shape[0])
        self.samples[self.count:self.count + free] = fake[:free]
        self.count += free
        rest = fake[free:]
        if len(rest):
            self.samples[torch.randint(capacity, (len(rest),), generator=generator)] = rest

    def state_dict(self) -> dict:
        return {"samples": self.samples[:self.count].clone(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        self.samples[:self.count] = state["samples"]


def unrolled_scores(
    D: nn.Module,
    objective: Objective,
    unroll_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    lr: float,
    inputs: torch.Tensor,
) -> torch.Tensor:
    """Score ``inputs`` with D after k differentiable update steps (Metz et al. 2017).

    Each ``(real, fake)`` pair drives one gradient-descent step of D's
    parameters, kept in the autograd graph (``create_graph=True``) so the
    generator's gradient includes how D would react to its samples. The fakes
    must not be detached. D itself is left unchanged.

    NOTE: the unrolled steps are plain gradient descent at ``lr``, not Adam as
    in the paper, which would need Adam's moments inside the graph too.
    """
    params = dict(D.named_parameters())
    buffers = dict(D.named_buffers())
    for real, fake in unroll_batches:
        terms = discriminator_loss(
            objective, functional_call(D, (params, buffers), (real,)), functional_call(D, (params, buffers), (fake,))
        )
        grads = torch.autograd.grad(terms["loss_D"], list(params.values()), create_graph=True)
        params = {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
    return functional_call(D, (params, buffers), (inputs,))
