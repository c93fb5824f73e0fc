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

from sparkgan.config import Config, config_to_dict, replace, save_config
from sparkgan.data import DataSource, build_source
from sparkgan.data.seeds import rank_slice, torch_stream
from sparkgan.losses import (
    OBJECTIVES,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    mode_seeking_term,
    r1_penalty,
)
from sparkgan.nets import build_discriminator, build_generator, pack
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.collapse import CollapseDetector, alarm_message
from sparkgan.train.events import EventLog
from sparkgan.train.remedies import ReplayBuffer, unrolled_scores
from sparkgan.train.runs import checkpoint_folder
from sparkgan.train.schedule import Hook, Phase, ScalarMeter
from sparkgan.progress import progress_bar
from sparkgan.viz import image_grid, save_png, scatter_plot

log = logging.getLogger(__name__)

COLLAPSE_DECISIONS = ("healthy", "warn", "stop", "rollback")

# Settings that each collapse.remedy switches on at a rollback.
REMEDY_SWITCHES: dict[str, dict] = {
    "pack": {"remedies.pack": 2},
    "minibatch_std": {"remedies.minibatch_std": 4},
    "spectral_norm": {"remedies.spectral_norm": True},
    "unrolled": {"remedies.unrolled": 5},
    "mode_seeking": {"remedies.mode_seeking": 1.0},
    "replay": {"remedies.replay": 0.5},
    "r1": {"loss.r1_gamma": 1.0},
}
# Remedies that change D's input or layers, so D cannot keep its weights.
RESHAPING_REMEDIES = frozenset({"pack", "minibatch_std", "spectral_norm"})


class CollapseStop(Exception):
    """Raised inside the loop when a collapse alarm stops training."""


def apply_remedy(config: Config, remedy: str) -> Config:
    return replace(config, **REMEDY_SWITCHES[remedy])


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


def write_sample(run_dir: Path, step: int, picture: np.ndarray, events: EventLog | None) -> None:
    """Save a sample picture as RUN/samples/step-<step>.png and add it to the event log."""
    folder = run_dir / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    save_png(picture, folder / f"step-{step:09d}.png")
    if events is not None:
        events.image(step, "samples", picture)


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
        self.wrap = wrap
        self.G = build_generator(config).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_train = wrap(self.G)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=train.lr_G, betas=(train.beta1, train.beta2))
        self.build_D()
        self.objective = OBJECTIVES[config.loss.objective]
        self.step = 0
        self.rollbacks = 0
        self.stopped: str | None = None

        self.checkpoint_dir = checkpoint_folder(config, self.run_dir)
        self.z_fixed = self.latents("grid", 0, count=train.grid_size, sliced=False)
        self.detector = CollapseDetector(config, self.source, self.device) if config.collapse.every else None
        self.phases = self.build_phases()
        self.hooks = self.build_hooks()
        self.meter = ScalarMeter()
        self.events: EventLog | None = None

    def build_D(self) -> None:
        """Build D, its training form, its optimizer and the replay buffer from the current config."""
        train, remedies = self.config.train, self.config.remedies
        self.D = build_discriminator(self.config).to(self.device)
        self.D_train = self.wrap(self.D)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=train.lr_D, betas=(train.beta1, train.beta2))
        self.replay = ReplayBuffer(remedies.replay_size, self.source.sample_shape) if remedies.replay > 0 else None

    # Schedule ------------------------------------------------------------------

    def build_phases(self) -> list[Phase]:
        loss, train = self.config.loss, self.config.train
        phases = [Phase("D", self.d_phase, repeat=train.d_steps)]
        if train.lr_decay > 0:
            phases.insert(0, Phase("lr", self.lr_phase))
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
        if self.config.collapse.every:
            # Every rank runs this hook: rank 0 measures, and all ranks act on its decision.
            hooks.append(Hook("collapse", self.collapse_hook, self.config.collapse.every, at_end=False))
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

    def discriminate(self, samples: torch.Tensor) -> torch.Tensor:
        """Score a batch with D, packing ``remedies.pack`` samples per input."""
        return self.D_train(pack(samples, self.config.remedies.pack))

    def lr_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        """Set both learning rates for this step: constant, then a linear decay to 0."""
        train = self.config.train
        decay_steps = train.lr_decay * train.steps
        remaining = train.steps - step
        factor = min(1.0, remaining / decay_steps) if decay_steps else 1.0
        for optimizer, base in ((self.opt_G, train.lr_G), (self.opt_D, train.lr_D)):
            for group in optimizer.param_groups:
                group["lr"] = base * factor
        return {"lr_factor": torch.tensor(factor)}

    def d_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        seed, remedies = self.config.train.seed, self.config.remedies
        real = self.real_batch(step, repeat)
        with torch.no_grad():
            fake = self.G_train(self.latents("z_D", step, repeat))
        if self.replay is not None:
            new_fake = fake
            fake = self.replay.mix(fake, remedies.replay, torch_stream(seed, "replay_mix", step, repeat))
            self.replay.push(new_fake, torch_stream(seed, "replay_push", step, repeat))
        real_scores, fake_scores = self.discriminate(real), self.discriminate(fake)
        terms = discriminator_loss(self.objective, real_scores, fake_scores)
        loss = terms["loss_D"]

        gp_weight = self.config.loss.gp_weight
        if gp_weight > 0:
            packed_real, packed_fake = pack(real, remedies.pack), pack(fake, remedies.pack)
            # Draw the global batch's weights and keep this worker's slice, as with latents.
            count = self.config.train.batch_size // remedies.pack
            mix = torch.rand(count, generator=torch_stream(seed, "gp", step, repeat))
            mix = mix[rank_slice(count, self.worker.rank, self.worker.world_size)]
            terms["penalty_gp"] = gradient_penalty(self.D_train, packed_real, packed_fake, mix.to(self.device))
            loss = loss + gp_weight * terms["penalty_gp"]

        self.opt_D.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_D.step()
        return {**terms, "D_real": real_scores.mean(), "D_fake": fake_scores.mean()}

    def r1_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        loss_cfg = self.config.loss
        penalty = r1_penalty(self.D_train, pack(self.real_batch(step, 0), self.config.remedies.pack))
        # Lazy regularisation: scale by the interval so the penalty's average strength is unchanged.
        self.opt_D.zero_grad(set_to_none=True)
        (penalty * (loss_cfg.r1_gamma / 2) * loss_cfg.r1_interval).backward()
        self.opt_D.step()
        return {"penalty_r1": penalty}

    def g_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        remedies = self.config.remedies
        unrolled = remedies.unrolled > 0
        # D's own gradients are not needed here, unless unrolling differentiates through D's updates.
        self.D.requires_grad_(unrolled)
        z = self.latents("z_G", step, repeat)
        fake = self.G_train(z)
        if unrolled:
            fake_scores = unrolled_scores(
                self.D, self.objective, self.unroll_batches(step), self.config.train.lr_D, pack(fake, remedies.pack)
            )
        else:
            fake_scores = self.discriminate(fake)
        terms = {"loss_G": generator_loss(self.objective, fake_scores)}
        loss = terms["loss_G"]
        if remedies.mode_seeking > 0:
            terms["loss_G_mode_seeking"] = mode_seeking_term(fake, z)
            loss = loss + remedies.mode_seeking * terms["loss_G_mode_seeking"]

        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_G.step()
        self.D.requires_grad_(True)
        return terms

    def unroll_batches(self, step: int):
        """Yield the packed (real, fake) batches of the unrolled D steps; fakes keep their graph to G."""
        size = self.config.remedies.pack
        for k in range(self.config.remedies.unrolled):
            real = self.source.batch(
                step * self.config.remedies.unrolled + k, self.config.train.batch_size, self.worker.rank, self.worker.world_size
            ).to(self.device)
            fake = self.G_train(self.latents("z_unroll", step, k))
            yield pack(real, size), pack(fake, size)

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
        write_sample(self.run_dir, completed, self.sample_picture(), self.events)

    def checkpoint_hook(self, completed: int) -> None:
        ckpt.save_checkpoint(self.state_dict(), self.checkpoint_dir, completed, self.config.train.keep_checkpoints)

    def collapse_hook(self, completed: int) -> None:
        # G_ema is the generator users sample; with train.ema_kimg=0 it is G itself.
        report = self.detector.check(self.G_ema, completed) if self.worker.is_main else None
        action = self.config.collapse.action
        if report is not None and self.events is not None:
            self.events.event(completed, "collapse_check", **report.values, alarms=report.alarms)
        if report is not None and report.healthy and action == "rollback":
            ckpt.save_healthy_checkpoint(self.state_dict(), self.checkpoint_dir)

        decision = self.agree(COLLAPSE_DECISIONS.index("healthy" if report is None or report.healthy else action))
        if COLLAPSE_DECISIONS[decision] == "healthy":
            return
        message = alarm_message(report) if report is not None else "mode collapse detected on rank 0"
        if report is not None:
            log.warning(message)
            if self.events is not None:
                self.events.event(completed, "collapse_alarm", alarms=report.alarms, action=action)
        healthy = ckpt.healthy_checkpoint(self.checkpoint_dir)
        if COLLAPSE_DECISIONS[decision] == "rollback" and self.rollbacks < self.config.collapse.max_rollbacks and healthy:
            self.rollback(healthy)
        elif COLLAPSE_DECISIONS[decision] != "warn":
            raise CollapseStop(message)

    def agree(self, decision: int) -> int:
        """Return rank 0's decision on every rank of a data-parallel run."""
        if self.worker.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            code = torch.tensor([decision], device=self.device)
            torch.distributed.broadcast(code, src=0)
            return int(code.item())
        return decision

    def rollback(self, healthy: ckpt.CheckpointPath) -> None:
        """Return to the last healthy checkpoint and switch on ``collapse.remedy``."""
        remedy = self.config.collapse.remedy
        state = ckpt.load_checkpoint(healthy, map_location=self.device)
        from_step = self.step
        self.config = apply_remedy(self.config, remedy)
        self.load_state_dict(state, with_D=remedy not in RESHAPING_REMEDIES)
        if remedy in RESHAPING_REMEDIES:
            # D's shape changes, so it and its optimizer start afresh against the healthy G.
            self.build_D()
        self.rollbacks += 1
        self.phases = self.build_phases()
        if self.worker.is_main:
            for step, path in ckpt.list_checkpoints(self.checkpoint_dir):
                if step > self.step:
                    ckpt.remove_checkpoint(path)
            save_config(self.config, self.run_dir / "config.yaml")
            if self.events is not None:
                self.events.event(from_step, "collapse_rollback", remedy=remedy, to_step=self.step)
        log.warning("rolled back from step %d to healthy step %d with remedy %s", from_step, self.step, remedy)
        if self._bar is not None:
            self._bar.n = self.step
            self._bar.refresh()

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
            "replay": self.replay.state_dict() if self.replay is not None else {},
            "rollbacks": self.rollbacks,
        }

    def load_state_dict(self, state: dict, with_D: bool = True) -> None:
        self.G.load_state_dict(state["G"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        if with_D:
            self.D.load_state_dict(state["D"])
            self.opt_D.load_state_dict(state["opt_D"])
            if self.replay is not None and state.get("replay"):
                self.replay.load_state_dict(state["replay"])
        ckpt.restore_rng_state(state["rng"])
        self.step = int(state["step"])
        self.rollbacks = int(state.get("rollbacks", 0))

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
        self._bar = progress_bar(total=last, initial=self.step, desc="train", unit="step", disable=not (main and self.progress))
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
        except CollapseStop as stop:
            self.stopped = str(stop)
            if main:
                path = ckpt.save_checkpoint(self.state_dict(), self.checkpoint_dir, self.step, self.config.train.keep_checkpoints)
                log.warning("training stopped at step %d by collapse.action; saved %s", self.step, path)
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
