"""Evaluate and sample trained runs."""

from sparkgan.eval.evaluate import evaluate_run, evaluate_samples
from sparkgan.eval.generate import generate, latents_for, load_generator

__all__ = ["evaluate_run", "evaluate_samples", "generate", "latents_for", "load_generator"]
