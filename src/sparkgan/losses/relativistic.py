"""The relativistic average GAN objective (Jolicoeur-Martineau 2018), as ESRGAN uses it.

The discriminator estimates how much more realistic a real sample is than the
average fake one, and the reverse, instead of judging each sample alone:

    D_Ra(x_r, x_f) = sigmoid(C(x_r) - mean C(x_f))
    loss_D = -E[log D_Ra(x_r, x_f)] - E[log(1 - D_Ra(x_f, x_r))]
    loss_G = -E[log(1 - D_Ra(x_r, x_f))] - E[log D_Ra(x_f, x_r)]

Scores are raw (pre-sigmoid) and may be score maps of a patch discriminator;
the means run over every score in the batch. ``-log(sigmoid(x))`` is written
as ``softplus(-x)``, its stable form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def relativistic_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return ``loss_D`` and its real and fake parts; pass fake scores of detached fakes."""
    real_vs_fake = real_scores - fake_scores.mean()
    fake_vs_real = fake_scores - real_scores.mean()
    loss_real = F.softplus(-real_vs_fake).mean()
    loss_fake = F.softplus(fake_vs_real).mean()
    return {"loss_D": loss_real + loss_fake, "loss_D_real": loss_real, "loss_D_fake": loss_fake}


def relativistic_generator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Return the generator's loss; both terms carry gradient through the fake scores."""
    real_vs_fake = real_scores - fake_scores.mean()
    fake_vs_real = fake_scores - real_scores.mean()
    return F.softplus(real_vs_fake).mean() + F.softplus(-fake_vs_real).mean()
