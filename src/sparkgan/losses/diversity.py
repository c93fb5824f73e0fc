"""Generator terms that reward diverse outputs."""

from __future__ import annotations

import torch


def mode_seeking_term(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Return the mode-seeking loss of MSGAN (Mao et al. 2019), to be added to ``loss_G``.

    The batch's two halves form pairs. The ratio of mean absolute output
    distance to mean absolute latent distance is large when different
    latents give different outputs. The loss is its reciprocal, so
    minimising it pushes the generator to spread its outputs.
    """
    half = fake.shape[0] // 2
    output_distance = (fake[:half] - fake[half:2 * half]).abs().mean()
    latent_distance = (z[:half] - z[half:2 * half]).abs().mean()
    return 1.0 / (output_distance / latent_distance + eps)
