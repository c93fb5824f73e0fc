"""The super-resolution training loop: a pixel-loss stage, then a GAN stage.

The PSNR stage trains G with the pixel loss alone and maximises PSNR. When it
ends, G_ema is saved as ``model-psnr.safetensors`` and becomes the starting
point of the GAN stage. As in ESRGAN, the GAN stage adds the adversarial loss,
discriminator feature matching and (with a VGG weights file) the perceptual
loss. Its G_ema is saved as ``model-gan.safetensors``. Both stages are lists of
phases, and the steps count on across them, so checkpoints, events and resume
work the same in either stage.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from sparkgan.config import config_to_dict
from sparkgan.losses.objectives import OBJECTIVES, discriminator_loss, generator_loss
from sparkgan.losses.relativistic import relativistic_discriminator_loss, relativistic_generator_loss
from sparkgan.sr.config import SRConfig
from sparkgan.sr.data import PatchSource, SRImage
from sparkgan.sr.evaluate import evaluate_model
from sparkgan.sr.figures import side_by_side
from sparkgan.sr.model_io import GAN_MODEL, PSNR_MODEL, ModelFileError, SRModel, architecture_of, load_model, save_model
from sparkgan.sr.nets import build_discriminator, build_generator
from sparkgan.sr.perceptual import VGGFeatures, perceptual_loss
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.events import EventLog
from sparkgan.train.schedule import Hook, Phase, ScalarMeter
from sparkgan.train.trainer import configure_torch, pick_device, write_sample

log = logging.getLogger(__name__)

PIXEL_LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss}


@dataclass(frozen=True)
class Stage:
    """Steps ``[start, end)`` that run ``phases``; ``on_end`` runs once after step ``end``."""

    name: str
    start: int
    end: int
    phases: list[Phase]
    on_end: Callable[[], None]


class SRTrainer:
    """Train an SR generator (and, in the GAN stage, a discriminator) from a patch source."""

    def __init__(
        self,
        config: SRConfig,
        run_dir: str | os.PathLike,
        source: PatchSource,
        val_images: list[SRImage],
        *,
        progress: bool = True,
    ):
        self.config = config
        self.run_dir = Path(run_dir)
        self.source = source
        self.val_images = val_images
        self.progress = progress
        self.device = pick_device(config.train.device)
        configure_torch(config)

        train, scale = config.train, config.data.scale
        self.G = build_generator(config.model, scale).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.D = build_discriminator(config.model).to(self.device)
        betas = (train.beta1, train.beta2)
        self.opt_psnr = torch.optim.Adam(self.G.parameters(), lr=train.lr_psnr, betas=betas)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=train.lr_G, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=train.lr_D, betas=betas)
        self.pixel_loss = PIXEL_LOSSES[config.loss.pixel]
        self.vgg = None
        if config.loss.perceptual_weights:
            self.vgg = VGGFeatures(config.loss.perceptual_weights, config.loss.perceptual_layer).to(self.device)
        self.step = 0

        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.stages = self.build_stages()
        self.hooks = self.build_hooks()
        self.meter = ScalarMeter()
        self.events: EventLog | None = None
        self._batch: tuple[int, torch.Tensor, torch.Tensor] | None = None
        self._bar = None
        self._stop_requested = False

    # Schedule ------------------------------------------------------------------

    @property
    def total_steps(self) -> int:
        return self.config.train.psnr_steps + self.config.train.gan_steps

    def build_stages(self) -> list[Stage]:
        psnr_steps = self.config.train.psnr_steps
        ema = Phase("G_ema", self.ema_phase)
        return [
            Stage("psnr", 0, psnr_steps, [Phase("G_pixel", self.pixel_phase), ema], self.end_psnr_stage),
            Stage("gan", psnr_steps, self.total_steps, [Phase("D", self.d_phase), Phase("G", self.g_phase), ema],
                  self.end_gan_stage),
        ]

    def build_hooks(self) -> list[Hook]:
        train = self.config.train
        hooks = [Hook("log", self.log_hook, train.log_every)]
        if self.val_images:
            hooks.append(Hook("validate", self.validate_hook, train.validate_every))
        hooks += [
            Hook("sample", self.sample_hook, train.sample_every),
            Hook("checkpoint", self.checkpoint_hook, train.checkpoint_every),
        ]
        return hooks

    def stage_at(self, step: int) -> Stage:
        return next(stage for stage in self.stages if stage.start <= step < stage.end)

    def learning_rate(self, base: float, stage: Stage, step: int) -> float:
        """Return the learning rate of ``step``: constant, or cosine decay over the stage."""
        if self.config.train.lr_schedule == "constant":
            return base
        progress = (step - stage.start) / max(stage.end - stage.start, 1)
        return base * 0.5 * (1.0 + math.cos(math.pi * progress))

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the step's (LR, HR) crops; both phases of a GAN step see the same crops."""
        if self._batch is None or self._batch[0] != step:
            lr, hr = self.source.batch(step, self.config.train.batch_size)
            self._batch = (step, lr.to(self.device, non_blocking=True), hr.to(self.device, non_blocking=True))
        return self._batch[1], self._batch[2]

    # Phases --------------------------------------------------------------------

    def pixel_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        lr, hr = self.batch(step)
        loss = self.pixel_loss(self.G(lr), hr)
        self._optimise(self.opt_psnr, loss, self.config.train.lr_psnr, step)
        return {"loss_pixel": loss}

    def d_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        lr, hr = self.batch(step)
        with torch.no_grad():
            fake = self.G(lr)
        real_scores, _ = self.D(hr)
        fake_scores, _ = self.D(fake)
        if self.config.loss.adversarial == "relativistic":
            terms = relativistic_discriminator_loss(real_scores, fake_scores)
        else:
            terms = discriminator_loss(OBJECTIVES["nonsaturating"], real_scores, fake_scores)
        self._optimise(self.opt_D, terms["loss_D"], self.config.train.lr_D, step)
        return {**terms, "D_real": real_scores.mean(), "D_fake": fake_scores.mean()}

    def g_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        weights = self.config.loss
        lr, hr = self.batch(step)
        self.D.requires_grad_(False)
        fake = self.G(lr)
        fake_scores, fake_features = self.D(fake)
        with torch.no_grad():
            real_scores, real_features = self.D(hr)
        if weights.adversarial == "relativistic":
            loss_adv = relativistic_generator_loss(real_scores, fake_scores)
        else:
            loss_adv = generator_loss(OBJECTIVES["nonsaturating"], fake_scores)
        # Feature matching on paired images: the crops line up, so features are compared position by position.
        loss_fm = torch.stack([F.l1_loss(f, r) for f, r in zip(fake_features, real_features)]).mean()
        loss_pixel = self.pixel_loss(fake, hr)
        terms = {"loss_pixel": loss_pixel, "loss_adv": loss_adv, "loss_fm": loss_fm}
        loss = weights.pixel_weight * loss_pixel + weights.adversarial_weight * loss_adv
        loss = loss + weights.feature_matching_weight * loss_fm
        if self.vgg is not None:
            terms["loss_perceptual"] = perceptual_loss(self.vgg, fake, hr)
            loss = loss + weights.perceptual_weight * terms["loss_perceptual"]
        self._optimise(self.opt_G, loss, self.config.train.lr_G, step)
        self.D.requires_grad_(True)
        return {**terms, "loss_G": loss}

    def _optimise(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, base_lr: float, step: int) -> None:
        lr = self.learning_rate(base_lr, self.stage_at(step), step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def ema_phase(self, step: int, repeat: int) -> dict[str, torch.Tensor]:
        half_life = self.config.train.ema_half_life
        beta = 0.5 ** (1.0 / half_life) if half_life > 0 else 0.0
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p, 1.0 - beta)
        return {}

    def start_from_model(self, model: str | os.PathLike) -> None:
        """Copy a trained generator's weights into G and G_ema before the first step.

        With ``train.psnr_steps=0`` the model is the PSNR-stage model of this
        run, so it is also saved as ``model-psnr.safetensors`` and the GAN
        stage starts from it.

        Raises:
            ModelFileError: when its architecture differs from ``model.*``.
        """
        loaded = load_model(model)
        if architecture_of(loaded.generator) != architecture_of(self.G):
            raise ModelFileError(
                f"invalid value {str(model)!r} for 'train.init_from': its architecture "
                f"{architecture_of(loaded.generator)} differs from the config's {architecture_of(self.G)}"
            )
        self.G.load_state_dict(loaded.generator.state_dict())
        self.G_ema.load_state_dict(loaded.generator.state_dict())
        if self.config.train.psnr_steps == 0:
            save_model(self.G_ema, self.run_dir / PSNR_MODEL, stage="psnr", extra={"init_from": str(loaded.path)})
        log.info("starting from the weights of %s", loaded.path)

    # Stage ends ----------------------------------------------------------------

    def end_psnr_stage(self) -> None:
        path = save_model(self.G_ema, self.run_dir / PSNR_MODEL, stage="psnr", extra={"step": self.step})
        log.info("PSNR stage finished at step %d; saved %s", self.step, path)
        # The GAN stage starts from the averaged PSNR-stage model that was just saved.
        self.G.load_state_dict(self.G_ema.state_dict())

    def end_gan_stage(self) -> None:
        path = save_model(self.G_ema, self.run_dir / GAN_MODEL, stage="gan", extra={"step": self.step})
        log.info("GAN stage finished at step %d; saved %s", self.step, path)

    # Hooks ---------------------------------------------------------------------

    def log_hook(self, completed: int) -> None:
        values = self.meter.means()
        self.meter.reset()
        stage = self.stage_at(completed - 1)
        base = self.config.train.lr_psnr if stage.name == "psnr" else self.config.train.lr_G
        values["lr_G"] = self.learning_rate(base, stage, completed - 1)
        values["kimg"] = completed * self.config.train.batch_size / 1000
        if self.events is not None:
            self.events.scalars(completed, values)
        if self._bar is not None:
            shown = {k: f"{v:.3g}" for k, v in values.items() if k in ("loss_pixel", "loss_G", "loss_D", "val_gain")}
            self._bar.set_postfix(shown, refresh=False)

    def current_model(self) -> SRModel:
        return SRModel(self.G_ema, self.run_dir, stage=self.stage_at(max(self.step - 1, 0)).name)

    def validate_hook(self, completed: int) -> None:
        cfg = self.config
        evaluation = evaluate_model(self.current_model(), self.val_images, channel=cfg.eval.channel,
                                    border=cfg.border, tile=cfg.eval.tile)
        values = {"val_psnr": evaluation.mean("psnr_model"), "val_psnr_bicubic": evaluation.mean("psnr_bicubic"),
                  "val_gain": evaluation.mean("psnr_gain"), "val_ssim": evaluation.mean("ssim_model")}
        if self.events is not None:
            self.events.scalars(completed, values)
        log.info("step %d: validation PSNR %.2f dB, %+.2f dB over bicubic", completed, values["val_psnr"], values["val_gain"])

    def sample_hook(self, completed: int) -> None:
        images = self.val_images or self.source.images
        picture = side_by_side({"G_ema": self.current_model()}, images, self.config.eval.tile)
        write_sample(self.run_dir, completed, picture, self.events)

    def checkpoint_hook(self, completed: int) -> None:
        ckpt.save_checkpoint(self.state_dict(), self.checkpoint_dir, completed, self.config.train.keep_checkpoints)

    # State ---------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "G": self.G.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "D": self.D.state_dict(),
            "opt_psnr": self.opt_psnr.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "rng": ckpt.capture_rng_state(),
            "config": config_to_dict(self.config),
        }

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.D.load_state_dict(state["D"])
        self.opt_psnr.load_state_dict(state["opt_psnr"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        ckpt.restore_rng_state(state["rng"])
        self.step = int(state["step"])

    # Loop ----------------------------------------------------------------------

    def run(self, stop_at: int | None = None) -> None:
        """Train from ``self.step`` to the end of the GAN stage (or ``stop_at``, if earlier).

        Ctrl-C lets the current step finish, writes a checkpoint and then
        raises KeyboardInterrupt, so no finished step is lost; a second Ctrl-C
        stops at once.
        """
        last = self.total_steps
        end = last if stop_at is None else min(stop_at, last)
        self.events = EventLog(self.run_dir, resume_step=self.step)
        self._bar = tqdm(total=last, initial=self.step, desc="sr train", unit="step",
                         disable=not self.progress or None, dynamic_ncols=True)
        previous_handler = self._catch_interrupt()
        try:
            while self.step < end and not self._stop_requested:
                self.run_step()
            if self._stop_requested:
                path = ckpt.save_checkpoint(self.state_dict(), self.checkpoint_dir, self.step,
                                            self.config.train.keep_checkpoints)
                log.warning("interrupted after step %d; saved %s, continue with --resume", self.step, path)
                raise KeyboardInterrupt
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
            self._bar.close()
            self._bar = None
            self.events.close()
            self.events = None

    def run_step(self) -> None:
        """Run every due phase of one step, then the stage end (if reached) and the due hooks."""
        stage = self.stage_at(self.step)
        started = time.perf_counter()
        self.batch(self.step)
        data_time = time.perf_counter() - started
        for phase in stage.phases:
            if phase.due(self.step):
                for repeat in range(phase.repeat):
                    self.meter.add(phase.run(self.step, repeat))
        self.step += 1
        self.meter.add({"step_time": time.perf_counter() - started, "data_time": data_time})
        if self.step == stage.end:
            stage.on_end()
        for hook in self.hooks:
            if hook.due(self.step, self.total_steps):
                hook.run(self.step)
        if self._bar is not None:
            self._bar.update(1)

    def _catch_interrupt(self):
        """Turn the first Ctrl-C into a request to stop after the current step."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def request_stop(signum, frame):
            self._stop_requested = True
            signal.signal(signal.SIGINT, previous)

        previous = signal.signal(signal.SIGINT, request_stop)
        return previous
