"""The training loop: one loop, its schedule built from the config."""

from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sparkgan.config import Config, config_to_dict
from sparkgan.data import DataSource, build_source
from sparkgan.data.seeds import rank_slice, torch_stream
from sparkgan.losses import OBJECTIVES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from sparkgan.nets import build_discriminator, build_generator
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.events import EventLog
from sparkgan.train.runs import checkpoint_folder
from sparkgan.train.schedule import Hook, Phase, ScalarMeter
from sparkgan.viz import image_grid, save_png, scatter_plot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Worker:
    """This process's place in a data-parallel run; rank 0 alone writes files."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def configure_torch(config: Config) -> None:
    """Apply the thread count and determinism settings before any work."""
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    if config.train.deterministic:
        # cuBLAS needs this workspace setting for deterministic matrix products.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(config.train.seed)
    np.random.seed(config.train.seed % 2**32)


class Trainer:
    """Train G and D on one data source; checkpoint, log and sample as scheduled.

    ``wrap`` turns a network into its training form (for example a
    DistributedDataParallel wrapper); ``self.G`` and ``self.D`` stay the plain
    modules that checkpoints hold.
    """

    def __init__(
        self,
        config: Config,
        run_dir: str | os.PathLike,
        *,
        source: DataSource | None = None,
        worker: Worker = Worker(),
        wrap: Callable[[nn.Module], nn.Module] = lambda module: module,
        progress: bool = True,
    ):
        self.config = config
        self.run_dir = Path(run_dir)
        self.worker = worker
        self.progress = progress
        self.device = pick_device(config.train.device)
        configure_torch(config)

        train = config.train
        self.source = source if source is not None else build_source(config.data, train.seed)
        if hasattr(self.source, "check_batch_size"):
            self.source.check_batch_size(train.batch_size)
        self.G = build_generator(config).to(self.device)
        self.D = build_discriminator(config).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_train, self.D_train = wrap(self.G), wrap(self.D)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=train.lr_G, betas=(train.beta1, train.beta2))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=train.lr_D, betas=(train.beta1, train.beta2))
        self.objective = OBJECTIVES[config.loss.objective]
        self.step = 0

        self.checkpoint_dir = checkpoint_folder(config, self.run_dir)
        self.z_fixed = self.latents("grid", 0, count=train.grid_size, sliced=False)
        self.phases = self.build_phases()
        self.hooks = self.build_hooks()
        self.meter = ScalarMeter()
        self.events: EventLog | None = None

    # Schedule ------------------------------------------------------------------

    def build_phases(self) -> list[Phase]:
        loss, train = self.config.loss, self.config.train
        phases = [Phase("D", self.d_phase, repeat=train.d_steps)]
        if loss.r1_gamma > 0:
            phases.append(Phase("D_r1", self.r1_phase, every=loss.r1_interval))
        phases += [Phase("G", self.g_phase), Phase("G_ema", self.ema_phase)]
        return phases

    def build_hooks(self) -> list[Hook]:
        train = self.config.train
        hooks = [Hook("log", self.log_hook, train.log_every)]
        if self.worker.is_main:
            hooks += [
                Hook("sample", self.sample_hook, train.sample_every),
                Hook("checkpoint", self.checkpoint_hook, train.checkpoint_every),
            ]
        return hooks

    # Random draws --------------------------------------------------------------

    def latents(self, purpose: str, step: int, repeat: int = 0, count: int | None = None, sliced: bool = True) -> torch.Tensor:
        """Draw the global latent batch of a step and return this worker's slice."""
        count = count or self.config.train.batch_size
        z = torch.randn(count, self.config.model.z_dim, generator=torch_stream(self.config.train.seed, purpose, step, repeat))
        if sliced:
            z = z[rank_slice(count, self.worker.rank, self.worker.world_size)]
        return z.to(self.device)

    def real_batch(self, step: int, repeat: int) -> torch.Tensor:
        index = step * self.config.train.d_steps + repeat
        batch = self.source.batch(index, self.config.train.batch_size, self.worker.rank, self.worker.world_size)
        return batch.to(self.device, non_blocking=True)

    # Phases --------------------------------------------------------------------

    def d_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        real = self.real_batch(step, repeat)
        with torch.no_grad():
            fake = self.G_train(self.latents("z_D", step, repeat))
        real_scores, fake_scores = self.D_train(real), self.D_train(fake)
        terms = discriminator_loss(self.objective, real_scores, fake_scores)
        loss = terms["loss_D"]

        gp_weight = self.config.loss.gp_weight
        if gp_weight > 0:
            # Draw the global batch's weights and keep this worker's slice, as with latents.
            count = self.config.train.batch_size
            mix = torch.rand(count, generator=torch_stream(self.config.train.seed, "gp", step, repeat))
            mix = mix[rank_slice(count, self.worker.rank, self.worker.world_size)]
            terms["penalty_gp"] = gradient_penalty(self.D_train, real, fake, mix.to(self.device))
            loss = loss + gp_weight * terms["penalty_gp"]

        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        return {**terms, "D_real": real_scores.mean(), "D_fake": fake_scores.mean()}

    def r1_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        loss_cfg = self.config.loss
        penalty = r1_penalty(self.D_train, self.real_batch(step, 0))
        # Lazy regularisation: scale by the interval so the penalty's average strength is unchanged.
        self.opt_D.zero_grad(set_to_none=True)
        (penalty * (loss_cfg.r1_gamma / 2) * loss_cfg.r1_interval).backward()
        self.opt_D.step()
        return {"penalty_r1": penalty}

    def g_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        self.D.requires_grad_(False)
        fake = self.G_train(self.latents("z_G", step, repeat))
        loss_G = generator_loss(self.objective, self.D_train(fake))
        self.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        self.opt_G.step()
        self.D.requires_grad_(True)
        return {"loss_G": loss_G}

    @torch.no_grad()
    def ema_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        # Half-life in images (Karras et al. 2020): beta ** images_per_step = 0.5 ** (images / half-life).
        half_life = self.config.train.ema_kimg * 1000
        beta = 0.5 ** (self.config.train.batch_size / half_life) if half_life > 0 else 0.0
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p, 1 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)
        return {}

    # Hooks ---------------------------------------------------------------------

    def log_hook(self, completed: int) -> None:
        values = self.meter.means()
        self.meter.reset()
        values["kimg"] = completed * self.config.train.batch_size / 1000
        if self.events is not None:
            self.events.scalars(completed, values)
        if self._bar is not None:
            shown = {k: f"{v:.3g}" for k, v in values.items() if k in ("loss_D", "loss_G", "D_real", "D_fake")}
            self._bar.set_postfix(shown, refresh=False)

    def sample_hook(self, completed: int) -> None:
        picture = self.sample_picture()
        folder = self.run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        save_png(picture, folder / f"step-{completed:09d}.png")
        if self.events is not None:
            self.events.image(completed, "samples", picture)

    def checkpoint_hook(self, completed: int) -> None:
        ckpt.save_checkpoint(self.state_dict(), self.checkpoint_dir, completed, self.config.train.keep_checkpoints)

    @torch.no_grad()
    def sample_picture(self) -> np.ndarray:
        fake = self.G_ema(self.z_fixed).float().cpu().numpy()
        if self.source.kind == "points":
            return scatter_plot(fake, self.source.reference()[:1000].numpy())
        return image_grid(fake)

    # State ---------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "rng": ckpt.capture_rng_state(),
            "config": config_to_dict(self.config),
        }

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        ckpt.restore_rng_state(state["rng"])
        self.step = int(state["step"])

    # Loop ----------------------------------------------------------------------

    def run(self, stop_at: int | None = None) -> None:
        """Train from ``self.step`` to ``train.steps`` (or ``stop_at``, if earlier).

        An interrupt (Ctrl-C) writes a checkpoint of the last completed step
        before it propagates, so no finished work is lost.
        """
        last = self.config.train.steps
        end = last if stop_at is None else min(stop_at, last)
        main = self.worker.is_main
        if main:
            self.events = EventLog(self.run_dir, resume_step=self.step)
        self._bar = tqdm(total=last, initial=self.step, desc="train", unit="step", disable=not (main and self.progress), dynamic_ncols=True)
        try:
            while self.step < end:
                started = time.perf_counter()
                for phase in self.phases:
                    if phase.due(self.step):
                        for repeat in range(phase.repeat):
                            self.meter.add(phase.run(self.step, repeat))
                self.step += 1
                self.meter.add({"step_time": time.perf_counter() - started})
                for hook in self.hooks:
                    if hook.due(self.step, last):
                        hook.run(self.step)
                self._bar.update(1)
        except KeyboardInterrupt:
            if main and self.step > 0:
                path = ckpt.save_checkpoint(self.state_dict(), self.checkpoint_dir, self.step, self.config.train.keep_checkpoints)
                log.warning("interrupted at step %d; saved %s, continue with --resume", self.step, path)
            raise
        finally:
            self._bar.close()
            self._bar = None
            if self.events is not None:
                self.events.close()
                self.events = None

    _bar = None
