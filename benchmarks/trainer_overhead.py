"""Throughput of sparkgan's training step against a minimal hand-written PyTorch loop.

Both sides train the same networks (built from the same config), with the
same objective, optimizers, batch size and EMA, on the same digits tensor,
in one process. They alternate in chunks so that machine noise hits both
alike, and the script prints images per second and their ratio.

    python benchmarks/trainer_overhead.py [--rounds 5] [--chunk 100] [key=value ...]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

import torch
import torch.nn.functional as F

from sparkgan.config import load_config
from sparkgan.nets import build_discriminator, build_generator
from sparkgan.train import Trainer, resolve_config


class HandLoop:
    """The loop a PyTorch user would write by hand for the non-saturating GAN."""

    def __init__(self, config, images: torch.Tensor):
        torch.manual_seed(config.train.seed)
        self.config, self.images = config, images
        self.G, self.D = build_generator(config), build_discriminator(config)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        t = config.train
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=t.lr_G, betas=(t.beta1, t.beta2))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=t.lr_D, betas=(t.beta1, t.beta2))
        self.beta = 0.5 ** (t.batch_size / (t.ema_kimg * 1000))
        self.order, self.position = torch.randperm(len(images)), 0

    def next_batch(self) -> torch.Tensor:
        batch_size = self.config.train.batch_size
        if self.position + batch_size > len(self.images):
            self.order, self.position = torch.randperm(len(self.images)), 0
        batch = self.images[self.order[self.position:self.position + batch_size]]
        self.position += batch_size
        return batch

    def step(self) -> None:
        batch_size, z_dim = self.config.train.batch_size, self.config.model.z_dim
        real = self.next_batch()
        with torch.no_grad():
            fake = self.G(torch.randn(batch_size, z_dim))
        loss_D = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake)).mean()
        self.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        self.opt_D.step()

        self.D.requires_grad_(False)
        loss_G = F.softplus(-self.D(self.G(torch.randn(batch_size, z_dim)))).mean()
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        self.opt_G.step()
        self.D.requires_grad_(True)

        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.lerp_(p, 1 - self.beta)
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=100, help="steps per side per round")
    parser.add_argument("overrides", nargs="*", help="config overrides, as for sparkgan train")
    args = parser.parse_args()

    config = resolve_config(load_config(overrides=["train.steps=1000000000", "train.sample_every=1000000",
                                                   "train.checkpoint_every=1000000", *args.overrides]))
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, run_dir, progress=False)
        hand = HandLoop(config, trainer.source.reference())
        for _ in range(10):  # warm-up of both sides: allocator, kernels
            hand.step()
        trainer.run(stop_at=10)

        seconds = {"sparkgan": 0.0, "hand": 0.0}
        for _ in range(args.rounds):
            started = time.perf_counter()
            trainer.run(stop_at=trainer.step + args.chunk)
            seconds["sparkgan"] += time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(args.chunk):
                hand.step()
            seconds["hand"] += time.perf_counter() - started

    images = args.rounds * args.chunk * config.train.batch_size
    rate = {side: images / s for side, s in seconds.items()}
    print(f"data={config.data.name} objective={config.loss.objective} batch={config.train.batch_size} "
          f"torch threads={torch.get_num_threads()} steps per side={args.rounds * args.chunk}")
    print(f"sparkgan trainer: {rate['sparkgan']:.0f} images/s")
    print(f"hand-written loop: {rate['hand']:.0f} images/s")
    print(f"throughput ratio sparkgan / hand-written: {rate['sparkgan'] / rate['hand']:.3f} (goal >= 0.97)")


if __name__ == "__main__":
    main()
