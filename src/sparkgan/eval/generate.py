"""Load a trained generator from a run folder and draw samples from it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sparkgan.config import Config, config_from_dict
from sparkgan.data.seeds import sample_latents
from sparkgan.nets import build_generator
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.runs import checkpoint_folder, read_run_config


def find_run_checkpoint(run_dir: str | os.PathLike) -> Path:
    """Return the newest checkpoint of a run folder.

    Raises:
        CheckpointError: when the run has no checkpoint yet.
    """
    run_dir = Path(run_dir)
    folder = checkpoint_folder(read_run_config(run_dir), run_dir)
    path = ckpt.latest_checkpoint(folder)
    if path is None:
        raise ckpt.CheckpointError(f"no checkpoint in {folder}; train the run first (sparkgan train --out {run_dir})")
    return path


def load_generator(run_dir: str | os.PathLike, which: str = "G_ema", device: str = "cpu") -> tuple[nn.Module, Config, int]:
    """Return ``(G, config, step)`` from a run's newest checkpoint, G in eval mode."""
    state = ckpt.load_checkpoint(find_run_checkpoint(run_dir), map_location=device)
    config = config_from_dict(state["config"])
    G = build_generator(config).to(device)
    G.load_state_dict(state[which])
    return G.eval().requires_grad_(False), config, int(state["step"])


def latents_for(seed: int, count: int, z_dim: int, start: int = 0) -> torch.Tensor:
    """Return latents ``start .. start + count`` of the sample stream of ``seed``.

    Latent i depends only on (seed, i), so any slice of the stream, on any
    machine, matches the same slice of one long draw.
    """
    return sample_latents(seed, count, z_dim, start)


@torch.no_grad()
def generate(G: nn.Module, count: int, seed: int, batch_size: int = 500, start: int = 0, device: str = "cpu") -> np.ndarray:
    """Generate ``count`` samples as a float32 array (N x C x H x W in [-1, 1], or N x 2)."""
    outputs = []
    for offset in range(0, count, batch_size):
        size = min(batch_size, count - offset)
        z = latents_for(seed, size, G.z_dim, start + offset).to(device)
        outputs.append(G(z).float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, *G.output_shape), np.float32)
