"""Measure a generator against bicubic upscaling on held-out images.

For each high-resolution (HR) image, cropped to multiples of the scale, the
low-resolution (LR) input is its bicubic downscale rounded to the image's bit
depth (or the given LR image, for paired data). The bicubic baseline and the
model's output are rounded the same way, as saved files would be, and both are
compared with the HR image by PSNR and SSIM on the chosen channel after
removing ``border`` pixels from each side.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from sparkgan.metrics.image_quality import psnr, ssim
from sparkgan.sr.data import SRImage, low_resolution_input
from sparkgan.sr.model_io import SRModel
from sparkgan.sr.resize import quantize, upscale_bicubic
from sparkgan.sr.upscale import TileSettings, upscale_rgb

_MEANS = ("psnr_bicubic", "psnr_model", "psnr_gain", "ssim_bicubic", "ssim_model", "ssim_gain")


@dataclass(frozen=True)
class ImageScores:
    """PSNR (dB) and SSIM of the bicubic baseline and the model on one image."""

    name: str
    psnr_bicubic: float
    psnr_model: float
    ssim_bicubic: float
    ssim_model: float

    @property
    def psnr_gain(self) -> float:
        return self.psnr_model - self.psnr_bicubic

    @property
    def ssim_gain(self) -> float:
        return self.ssim_model - self.ssim_bicubic

    def as_dict(self) -> dict:
        return {**asdict(self), "psnr_gain": self.psnr_gain, "ssim_gain": self.ssim_gain}


@dataclass(frozen=True)
class Evaluation:
    """Scores per image and their means, with the protocol that produced them."""

    images: list[ImageScores]
    channel: str
    border: int
    scale: int

    def mean(self, key: str) -> float:
        return float(np.mean([getattr(image, key) for image in self.images]))

    def as_dict(self) -> dict:
        return {
            "protocol": {"channel": self.channel, "border": self.border, "scale": self.scale,
                         "bicubic": "Keys a=-0.5, antialiased (torch / Pillow BICUBIC)"},
            "mean": {key: self.mean(key) for key in _MEANS},
            "images": [image.as_dict() for image in self.images],
        }


def bicubic_baseline(lr: np.ndarray, scale: int, bits: int) -> np.ndarray:
    """Upscale H x W x 3 floats by bicubic interpolation and round to ``bits``."""
    tensor = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))[None]
    return quantize(upscale_bicubic(tensor, scale), bits)[0].numpy().transpose(1, 2, 0)


def score_image(model: SRModel, image: SRImage, channel: str, border: int, tile: int) -> tuple[ImageScores, np.ndarray]:
    """Score one image; also return the model's output (rounded like a saved file)."""
    lr, bits = low_resolution_input(image, model.scale)
    hr = image.hr_float()
    bicubic = bicubic_baseline(lr, model.scale, bits)
    output = upscale_rgb(model, lr, TileSettings(tile=tile), progress=False)
    output = quantize(torch.from_numpy(output), bits).numpy()
    scores = ImageScores(
        image.name,
        psnr_bicubic=psnr(hr, bicubic, channel=channel, border=border),
        psnr_model=psnr(hr, output, channel=channel, border=border),
        ssim_bicubic=ssim(hr, bicubic, channel=channel, border=border),
        ssim_model=ssim(hr, output, channel=channel, border=border),
    )
    return scores, output


def evaluate_model(
    model: SRModel, images: list[SRImage], *, channel: str = "y", border: int | None = None, tile: int = 256
) -> Evaluation:
    """Score the model and the bicubic baseline on every image; ``border`` defaults to the scale.

    Raises:
        ValueError: when there are no images.
    """
    if not images:
        raise ValueError("no images to evaluate on")
    border = model.scale if border is None else border
    scores = [score_image(model, image, channel, border, tile)[0] for image in images]
    return Evaluation(scores, channel, border, model.scale)


def write_json(values: dict, path: str | os.PathLike) -> Path:
    """Write a dict as indented JSON, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(values, indent=2) + "\n")
    os.replace(tmp, path)
    return path
