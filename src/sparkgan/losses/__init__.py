"""Adversarial objectives and discriminator penalties as small pure functions."""

from sparkgan.losses.diversity import mode_seeking_term
from sparkgan.losses.objectives import OBJECTIVES, Objective, discriminator_loss, generator_loss
from sparkgan.losses.penalties import gradient_penalty, r1_penalty

__all__ = ["OBJECTIVES", "Objective", "discriminator_loss", "generator_loss", "gradient_penalty", "mode_seeking_term", "r1_penalty"]
