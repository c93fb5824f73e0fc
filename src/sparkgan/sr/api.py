"""Library entry points behind ``sparkgan sr``: train, blend, evaluate, upscale.

Each subcommand calls one function here, so a test or a notebook can do
exactly what the command does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from sparkgan.sr.data import PHOTOS_HELD_OUT, folder_images, paired_images, photos
from sparkgan.sr.evaluate import Evaluation, evaluate_model
from sparkgan.sr.model_io import blend_models, load_model
from sparkgan.sr.runs import SRRunPlan, SRTrainResult, plan_sr_training, run_sr_training
from sparkgan.sr.upscale import TileSettings, UpscaleJob, plan_outputs, upscale_files

__all__ = ["SRRunPlan", "SRTrainResult", "blend", "evaluate", "plan_sr_training", "train", "upscale"]


def train(
    config_file: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    out: str | None = None,
    resume: str | None = None,
    allow_config_change: bool = False,
    stop_at: int | None = None,
    progress: bool = True,
) -> SRTrainResult:
    """Plan and run SR training; see :func:`plan_sr_training` and :func:`run_sr_training`."""
    plan = plan_sr_training(config_file, overrides, out, resume, allow_config_change)
    return run_sr_training(plan, stop_at=stop_at, progress=progress)


def blend(first: str | os.PathLike, second: str | os.PathLike, alpha: float, output: str | os.PathLike) -> Path:
    """Interpolate two models' weights; see :func:`sparkgan.sr.model_io.blend_models`."""
    return blend_models(first, second, alpha, output)


def evaluate(
    model: str | os.PathLike,
    folder: str | os.PathLike | None = None,
    *,
    lr_folder: str | os.PathLike | None = None,
    channel: Literal["y", "rgb"] = "y",
    border: int | None = None,
    tile: int = 256,
) -> Evaluation:
    """Score a model and bicubic upscaling on a folder of HR images (default: the held-out photos).

    With ``lr_folder``, the LR inputs are read from it (paired by file name)
    instead of made by bicubic downscaling.

    Raises:
        ModelFileError: for a missing or foreign model.
        DataError: naming unusable image files.
    """
    loaded = load_model(model)
    scale = loaded.scale
    if folder is None:
        images = photos(PHOTOS_HELD_OUT, scale)
    elif lr_folder is not None:
        images = paired_images(str(folder), str(lr_folder), scale, patch_size=scale)
    else:
        images = folder_images(str(folder), scale, patch_size=0, setting="DIR")
    return evaluate_model(loaded, images, channel=channel, border=border, tile=tile)


def upscale(
    model: str | os.PathLike,
    inputs: list[str | os.PathLike],
    output: str | os.PathLike,
    settings: TileSettings = TileSettings(),
    existing: Literal["error", "skip", "overwrite"] = "error",
    progress: bool = True,
) -> list[UpscaleJob]:
    """Upscale image files or folders into ``output`` (a .png file or a folder) and return the jobs done."""
    loaded = load_model(model)
    jobs = plan_outputs(list(inputs), output)
    return upscale_files(loaded, jobs, settings, existing, progress)
