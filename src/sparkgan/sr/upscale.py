"""Upscale images and image files with a trained generator.

The generator takes and returns RGB. Other colour modes are converted around it:

- Gray (1 channel) is repeated to RGB, upscaled, and converted back to one
  channel with the ITU-R BT.601 luma weights (0.299, 0.587, 0.114), so
  grayscale stays grayscale.
- Alpha (gray + alpha, RGBA) is upscaled separately, as a gray image through
  the same generator (or bicubic, if asked), and recombined with the
  upscaled colour. Colour is not premultiplied by alpha.
- 16-bit files are read as values / 65535 and written back as 16-bit PNG;
  8-bit files are written as 8-bit PNG.
- EXIF orientation is applied when reading, so the output is upright and
  carries no orientation tag.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from sparkgan.data.images import IMAGE_SUFFIXES, DataError, DecodedImage
from sparkgan.sr.images import encode_png, read_image
from sparkgan.sr.model_io import SRModel
from sparkgan.sr.resize import upscale_bicubic
from sparkgan.sr.tiling import upscale_tiled

log = logging.getLogger(__name__)

AlphaMethod = Literal["model", "bicubic"]
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
DEFAULT_TILE = 192


@dataclass(frozen=True)
class TileSettings:
    """How to cut an image into tiles: sides and overlap in low-resolution pixels."""

    tile: int = DEFAULT_TILE
    overlap: int | None = None  # None: twice the model's receptive radius, the exact minimum
    alpha: AlphaMethod = "model"


def upscale_rgb(model: SRModel, rgb: np.ndarray, settings: TileSettings = TileSettings(), progress: bool = True) -> np.ndarray:
    """Upscale H x W x 3 floats in [0, 1] to (H * scale) x (W * scale) x 3, clipped to [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))
    upscaled = upscale_tiled(
        model.generator,
        tensor,
        scale=model.scale,
        receptive_radius=model.receptive_radius,
        tile=settings.tile,
        overlap=settings.overlap,
        progress=progress,
    )
    return np.clip(upscaled.transpose(1, 2, 0), 0.0, 1.0)


def _upscale_gray(model: SRModel, gray: np.ndarray, settings: TileSettings, method: AlphaMethod, progress: bool) -> np.ndarray:
    """Upscale H x W x 1 floats through the RGB generator (or bicubic) and return one channel."""
    if method == "bicubic":
        tensor = torch.from_numpy(np.ascontiguousarray(gray.transpose(2, 0, 1), dtype=np.float32))[None]
        return np.clip(upscale_bicubic(tensor, model.scale)[0].numpy().transpose(1, 2, 0), 0.0, 1.0)
    rgb = upscale_rgb(model, np.repeat(gray, 3, axis=2), settings, progress)
    return (rgb @ _LUMA)[:, :, None]


def upscale_pixels(model: SRModel, pixels: np.ndarray, settings: TileSettings = TileSettings(), progress: bool = True) -> np.ndarray:
    """Upscale H x W x C floats in [0, 1] (C = 1, 2, 3 or 4) keeping the channel layout.

    Raises:
        DataError: for another channel count.
    """
    channels = pixels.shape[2]
    if channels not in (1, 2, 3, 4):
        raise DataError(f"cannot upscale an image with {channels} channels: expected gray, gray + alpha, RGB or RGBA")
    has_alpha = channels in (2, 4)
    colour = pixels[:, :, :-1] if has_alpha else pixels
    if colour.shape[2] == 1:
        upscaled = _upscale_gray(model, colour, settings, "model", progress)
    else:
        upscaled = upscale_rgb(model, colour, settings, progress)
    if has_alpha:
        alpha = _upscale_gray(model, pixels[:, :, -1:], settings, settings.alpha, progress)
        upscaled = np.concatenate([upscaled, alpha], axis=2)
    return upscaled


def upscale_decoded(model: SRModel, image: DecodedImage, settings: TileSettings = TileSettings(), progress: bool = True) -> bytes:
    """Upscale a decoded image and return it as PNG bytes of the same bit depth and channels."""
    return encode_png(upscale_pixels(model, image.pixels, settings, progress), image.bit_depth)


def upscale_bytes(model: SRModel, data: bytes, name: str, settings: TileSettings = TileSettings()) -> bytes:
    """Decode image bytes, upscale them and return PNG bytes.

    Raises:
        DataError: naming ``name`` when the bytes are not a decodable image.
    """
    return upscale_decoded(model, read_image(data, name=name), settings, progress=False)


# Files --------------------------------------------------------------------------

@dataclass(frozen=True)
class UpscaleJob:
    """One input file and the PNG file it becomes."""

    source: Path
    target: Path


def plan_outputs(inputs: list[str | os.PathLike], output: str | os.PathLike) -> list[UpscaleJob]:
    """Pair every input image with its output path.

    Inputs are files or folders (searched recursively). An ``output`` ending
    in ``.png`` is the output file of a single input. Any other ``output`` is
    a folder, in which each image keeps its name (its path relative to an
    input folder) with the suffix ``.png``.

    Raises:
        DataError: for a missing input, an output file name that is not PNG,
            or two inputs that would write the same output.
    """
    output = Path(output)
    files: list[tuple[Path, Path]] = []  # (source, name relative to the output folder)
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"no image files found under {path}. Accepted suffixes: {', '.join(sorted(IMAGE_SUFFIXES))}")
            files += [(p, p.relative_to(path).with_suffix(".png")) for p in found]
        elif path.is_file():
            files.append((path, Path(path.name).with_suffix(".png")))
        else:
            raise DataError(f"input {path} not found: give image files or folders of images")

    if output.suffix.lower() == ".png":
        if len(files) != 1:
            raise DataError(f"output {output} is one PNG file, but there are {len(files)} inputs: give a folder as -o")
        return [UpscaleJob(files[0][0], output)]
    if output.suffix.lower() in IMAGE_SUFFIXES:
        raise DataError(f"output {output} must be a .png file or a folder: upscaled images are written as PNG")

    jobs, seen = [], {}
    for source, name in files:
        target = output / name
        if target in seen:
            raise DataError(f"{seen[target]} and {source} would both be written to {target}: upscale them separately")
        seen[target] = source
        jobs.append(UpscaleJob(source, target))
    return jobs


def upscale_files(
    model: SRModel,
    jobs: list[UpscaleJob],
    settings: TileSettings = TileSettings(),
    existing: Literal["error", "skip", "overwrite"] = "error",
    progress: bool = True,
) -> list[UpscaleJob]:
    """Upscale each job's source into its target PNG and return the jobs done.

    Outputs are written atomically, so an interrupted run leaves only complete
    files, and ``existing="skip"`` resumes it.

    Raises:
        DataError: when a target exists and ``existing`` is ``"error"`` (before
            any work), or an input cannot be decoded.
    """
    present = [job.target for job in jobs if job.target.exists()]
    if present and existing == "error":
        raise DataError(
            f"{len(present)} outputs exist already, such as {present[0]}: pass --skip-existing to resume "
            "or --overwrite to replace them"
        )
    todo = [job for job in jobs if not (existing == "skip" and job.target.exists())]
    if len(todo) < len(jobs):
        log.info("skipping %d images whose outputs exist", len(jobs) - len(todo))
    for job in tqdm(todo, desc="upscale", unit="image", disable=not progress or None):
        image = read_image(job.source)
        data = upscale_decoded(model, image, settings, progress)
        job.target.parent.mkdir(parents=True, exist_ok=True)
        tmp = job.target.with_name(job.target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, job.target)
    return todo
