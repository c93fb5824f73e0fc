"""Adversarial objectives as tables of per-sample loss functions.

Each objective is three functions of the discriminator's raw scores: the
discriminator's loss on real samples, its loss on fake samples, and the
generator's loss on fake samples. Adding a GAN variant means adding a row.
Sigmoid objectives are written with softplus, the stable form of
``-log(sigmoid(x)) = softplus(-x)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Score = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """Per-sample losses of one GAN objective."""

    name: str
    d_real: Score
    d_fake: Score
    g_fake: Score


OBJECTIVES: dict[str, Objective] = {
    # Goodfellow et al. 2014, the saturating game: G minimises log(1 - D(G(z))).
    "minimax": Objective("minimax", lambda r: F.softplus(-r), lambda f: F.softplus(f), lambda f: -F.softplus(f)),
    # Goodfellow et al. 2014, the heuristic: G maximises log D(G(z)).
    "nonsaturating": Objective(
        "nonsaturating", lambda r: F.softplus(-r), lambda f: F.softplus(f), lambda f: F.softplus(-f)
    ),
    # Arjovsky et al. 2017; pair it with a gradient penalty (Gulrajani et al. 2017).
    "wasserstein": Objective("wasserstein", lambda r: -r, lambda f: f, lambda f: -f),
    # Lim and Ye 2017; Miyato et al. 2018.
    "hinge": Objective("hinge", lambda r: F.relu(1 - r), lambda f: F.relu(1 + f), lambda f: -f),
    # Mao et al. 2017 with targets a=0 (fake), b=1 (real), c=1 (what G wants).
    "least_squares": Objective(
        "least_squares", lambda r: 0.5 * (r - 1) ** 2, lambda f: 0.5 * f**2, lambda f: 0.5 * (f - 1) ** 2
    ),
}


def discriminator_loss(objective: Objective, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return ``loss_D`` and its real and fake parts, each a batch mean."""
    loss_real = objective.d_real(real_scores).mean()
    loss_fake = objective.d_fake(fake_scores).mean()
    return {"loss_D": loss_real + loss_fake, "loss_D_real": loss_real, "loss_D_fake": loss_fake}


def generator_loss(objective: Objective, fake_scores: torch.Tensor) -> torch.Tensor:
    """Return ``loss_G``, a batch mean."""
    return objective.g_fake(fake_scores).mean()
