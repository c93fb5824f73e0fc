"""SR run folders: plan a new run or a resume, train, and evaluate both stages.

An SR run folder contains ``config.yaml``, ``events.jsonl``, ``tensorboard/``,
``samples/``, ``checkpoints/``, ``model-psnr.safetensors`` and
``model-gan.safetensors`` (each written when its stage ends),
``comparison.png`` and ``metrics.json``. As for GAN runs, an existing run is
never overwritten, and a resume with other settings is rejected with the
differing keys unless the change is allowed.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sparkgan.config import ConfigError, config_from_dict, config_to_dict, diff_configs, save_config
from sparkgan.data.images import DataError
from sparkgan.sr.config import SRConfig, load_sr_config
from sparkgan.sr.data import PHOTOS_HELD_OUT, PHOTOS_TRAIN, PatchSource, SRImage, folder_images, paired_images, photos
from sparkgan.sr.evaluate import evaluate_model, write_json
from sparkgan.sr.figures import side_by_side
from sparkgan.sr.model_io import GAN_MODEL, PSNR_MODEL, load_model
from sparkgan.sr.trainer import SRTrainer
from sparkgan.train import checkpoint as ckpt
from sparkgan.viz import save_png

log = logging.getLogger(__name__)

# Settings that change how a run reports and saves, not what it trains, so a
# resume may change them without --allow-config-change.
BOOKKEEPING_KEYS = frozenset({
    "train.log_every", "train.validate_every", "train.sample_every", "train.checkpoint_every",
    "train.keep_checkpoints", "train.threads", "eval.at_end", "eval.tile",
})


@dataclass(frozen=True)
class SRRunPlan:
    """The config, run folder and checkpoint (None for a new run) of an SR training call."""

    config: SRConfig
    run_dir: Path
    checkpoint: Path | None


@dataclass(frozen=True)
class SRTrainResult:
    run_dir: Path
    step: int
    metrics: dict[str, Any] | None


def default_run_dir(config: SRConfig) -> Path:
    return Path("runs") / f"sr-{config.data.name}-x{config.data.scale}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_paths(config: SRConfig) -> None:
    """Check that every folder and file the config names exists.

    Raises:
        ConfigError: naming each setting whose path is missing.
    """
    problems = []
    for key, value, kind in (
        ("data.path", config.data.path, "folder"),
        ("data.lr_path", config.data.lr_path, "folder"),
        ("data.val_path", config.data.val_path, "folder"),
        ("loss.perceptual_weights", config.loss.perceptual_weights, "file"),
        ("train.init_from", config.train.init_from, "model"),
    ):
        found = Path(value).is_dir() if kind == "folder" else Path(value).exists()
        if value and not found:
            problems.append(f"invalid value {value!r} for '{key}': {kind} not found")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def read_sr_run_config(run_dir: str | os.PathLike) -> SRConfig:
    """Load the config saved in an SR run folder.

    Raises:
        ConfigError: when the folder has no readable SR ``config.yaml``.
    """
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a sparkgan run folder: {path.name} not found")
    try:
        saved = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if "scale" not in (saved.get("data") or {}):
        raise ConfigError(f"{run_dir} contains a GAN run, not a super-resolution run: use 'sparkgan train --resume'")
    return config_from_dict(saved, SRConfig)


def plan_new_sr_run(config_file: str | None, overrides: list[str], out: str | None) -> SRRunPlan:
    """Validate the config of a new SR run and pick its folder.

    Raises:
        ConfigError: for an invalid config, a missing path, or an output folder
            that already contains a run.
    """
    config = load_sr_config(config_file, overrides)
    check_paths(config)
    run_dir = Path(out) if out else default_run_dir(config)
    if (run_dir / "config.yaml").exists():
        raise ConfigError(f"{run_dir} already contains a run: continue it with --resume {run_dir} or choose another --out folder")
    return SRRunPlan(config, run_dir, None)


def plan_sr_resume(
    run_dir: str | os.PathLike, config_file: str | None, overrides: list[str], allow_config_change: bool
) -> SRRunPlan:
    """Load an SR run's config, apply new settings and find its newest checkpoint.

    Raises:
        ConfigError: when settings other than :data:`BOOKKEEPING_KEYS` differ
            from the saved ones and ``allow_config_change`` is false; the
            message lists every differing key.
    """
    run_dir = Path(run_dir)
    saved = read_sr_run_config(run_dir)
    config = saved
    if config_file or overrides:
        config = load_sr_config(config_file, overrides, base=config_to_dict(saved))
    changes = [row for row in diff_configs(saved, config) if row[0] not in BOOKKEEPING_KEYS]
    if changes and not allow_config_change:
        lines = "\n".join(f"  {key}: {old!r} -> {new!r}" for key, old, new in changes)
        raise ConfigError(
            f"the config differs from the one {run_dir} was trained with:\n{lines}\n"
            "Pass --allow-config-change to resume anyway, or drop these settings"
        )
    check_paths(config)
    return SRRunPlan(config, run_dir, ckpt.latest_checkpoint(run_dir / "checkpoints"))


def plan_sr_training(
    config_file: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    out: str | None = None,
    resume: str | None = None,
    allow_config_change: bool = False,
) -> SRRunPlan:
    """Validate everything about an SR training request before any work starts."""
    if resume:
        return plan_sr_resume(resume, config_file, list(overrides), allow_config_change)
    return plan_new_sr_run(config_file, list(overrides), out)


def build_data(config: SRConfig) -> tuple[PatchSource, list[SRImage]]:
    """Load the training crops' source and the validation images that a config names.

    Raises:
        DataError: naming the files that cannot be used.
    """
    data = config.data
    if data.name == "photos":
        train = photos(PHOTOS_TRAIN, data.scale)
    elif data.name == "folder":
        train = folder_images(data.path, data.scale, data.patch_size, data.skip_bad)
    else:
        train = paired_images(data.path, data.lr_path, data.scale, data.patch_size, data.skip_bad)
    if data.val_path:
        val = folder_images(data.val_path, data.scale, 0, data.skip_bad, setting="data.val_path")
        # SSIM needs its 11 x 11 window inside the image once the border is cropped.
        min_side = 2 * config.border + 11
        small = [image.name for image in val if min(image.hr.shape[:2]) < min_side]
        if small:
            raise DataError(
                f"validation images under {data.val_path} smaller than {min_side} pixels, the least that "
                f"SSIM needs with a border of {config.border}: {', '.join(small[:5])}. Remove them"
            )
    elif data.name == "photos":
        val = photos(PHOTOS_HELD_OUT, data.scale)
    else:
        val = []
    source = PatchSource(train, data.scale, data.patch_size, config.train.seed, data.augment, data.quantize_lr)
    return source, val


def run_sr_training(plan: SRRunPlan, *, stop_at: int | None = None, progress: bool = True) -> SRTrainResult:
    """Train as planned, then evaluate both stages on the validation images if ``eval.at_end`` is set."""
    source, val_images = build_data(plan.config)
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    save_config(plan.config, plan.run_dir / "config.yaml")
    trainer = SRTrainer(plan.config, plan.run_dir, source, val_images, progress=progress)
    if plan.checkpoint is not None:
        trainer.load_state_dict(ckpt.load_checkpoint(plan.checkpoint))
        log.info("resumed %s from step %d", plan.run_dir, trainer.step)
    elif plan.config.train.init_from:
        trainer.start_from_model(plan.config.train.init_from)
    trainer.run(stop_at=stop_at)

    metrics = None
    if trainer.step >= trainer.total_steps and plan.config.eval.at_end and val_images:
        metrics = evaluate_run(plan.run_dir, plan.config, val_images)
    return SRTrainResult(plan.run_dir, trainer.step, metrics)


def evaluate_run(run_dir: Path, config: SRConfig, images: list[SRImage]) -> dict[str, Any]:
    """Score each stage's model, write ``metrics.json`` and the side-by-side ``comparison.png``."""
    models = {stage: load_model(run_dir / name) for stage, name in (("psnr", PSNR_MODEL), ("gan", GAN_MODEL))
              if (run_dir / name).is_file()}
    metrics: dict[str, Any] = {}
    for stage, model in models.items():
        evaluation = evaluate_model(model, images, channel=config.eval.channel, border=config.border,
                                    tile=config.eval.tile)
        metrics[f"{stage}_stage"] = evaluation.as_dict()
    if len(models) == 2:
        # What the GAN stage gives up in PSNR for its detail, against the PSNR stage.
        metrics["gan_psnr_loss"] = metrics["psnr_stage"]["mean"]["psnr_model"] - metrics["gan_stage"]["mean"]["psnr_model"]
    write_json(metrics, run_dir / "metrics.json")
    if models:
        labels = {f"{stage} stage": model for stage, model in models.items()}
        save_png(side_by_side(labels, images, config.eval.tile), run_dir / "comparison.png")
    return metrics
