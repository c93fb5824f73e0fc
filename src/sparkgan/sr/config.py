"""Typed settings of a super-resolution run: ``sparkgan sr train key=value ...``.

The root :class:`SRConfig` loads with the project's config loader
(``load_config(path, overrides, schema=SRConfig)``), so unknown keys, wrong
types and out-of-range values are reported together. Settings that depend on
each other are checked by :meth:`SRConfig.config_problems`, which the loader
calls once every key is valid: a patch size that is not a multiple of the
scale is rejected when the config loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sparkgan.config import load_config
from sparkgan.config.schema import setting

SUPPORTED_SCALES = (2, 4)
# Smallest low-resolution crop: below it, zero padding dominates what the
# generator's residual blocks see.
MIN_LR_PATCH = 8


@dataclass(frozen=True)
class SRDataConfig:
    name: Literal["photos", "folder", "paired"] = setting(
        "photos",
        "training images: the built-in natural photos, a folder of high-resolution images, "
        "or paired high- and low-resolution folders",
    )
    path: str = setting("", "folder of high-resolution training images (data.name=folder or paired)")
    lr_path: str = setting("", "folder of the matching low-resolution images (data.name=paired)")
    val_path: str = setting(
        "", "folder of held-out high-resolution images to validate on (default for photos: the held-out photos)"
    )
    scale: int = setting(4, "upscaling factor, 2 or 4", min=2, max=4)
    patch_size: int = setting(128, "side of the high-resolution training crops in pixels, a multiple of the scale", min=8)
    augment: bool = setting(True, "flip and rotate crops by multiples of 90 degrees")
    quantize_lr: bool = setting(
        True, "round low-resolution inputs to the bit depth of their image (8 or 16), as image files store them"
    )
    skip_bad: bool = setting(False, "skip image files that cannot be decoded instead of stopping")


@dataclass(frozen=True)
class SRModelConfig:
    width: int = setting(32, "channels of the generator's residual blocks", min=1, max=1024)
    blocks: int = setting(8, "residual blocks of the generator", min=0, max=64)
    upsample_width: int = setting(16, "channels of the generator's pixel-shuffle upsampling stages", min=1, max=1024)
    bicubic_skip: bool = setting(
        True, "add the bicubic upscale of the input to the output, so the network learns the residual"
    )
    d_width: int = setting(32, "channels of the discriminator's first stage, doubled per stage", min=1, max=1024)
    d_stages: int = setting(3, "stride-2 stages of the patch discriminator", min=1, max=6)
    d_max_width: int = setting(256, "channel cap of the discriminator's stages", min=1, max=4096)
    d_norm: Literal["spectral", "none"] = setting("spectral", "normalisation of the discriminator's convolutions")


@dataclass(frozen=True)
class SRLossConfig:
    pixel: Literal["l1", "mse"] = setting("l1", "pixel loss of both stages")
    adversarial: Literal["relativistic", "nonsaturating"] = setting(
        "relativistic", "GAN-stage objective: the relativistic average GAN of ESRGAN, or the standard one"
    )
    # The GAN-stage weights are ESRGAN's (pixel 1e-2, adversarial 5e-3); feature matching
    # stands in for its perceptual loss when no VGG weights file is given.
    pixel_weight: float = setting(1e-2, "weight of the pixel loss in the GAN stage", min=0.0)
    adversarial_weight: float = setting(5e-3, "weight of the adversarial loss in the GAN stage", min=0.0)
    feature_matching_weight: float = setting(
        1.0, "weight of the discriminator feature-matching loss in the GAN stage", min=0.0
    )
    perceptual_weights: str = setting(
        "", "VGG16 or VGG19 weights file (.pth or .safetensors, torchvision's key names) for the perceptual loss"
    )
    perceptual_layer: str = setting("conv5_4", "VGG layer whose features (before activation) the perceptual loss compares")
    perceptual_weight: float = setting(1.0, "weight of the perceptual loss in the GAN stage", min=0.0)


@dataclass(frozen=True)
class SRTrainConfig:
    psnr_steps: int = setting(2000, "steps of the pixel-loss stage", min=0)
    gan_steps: int = setting(1000, "steps of the GAN stage", min=0)
    init_from: str = setting(
        "", "model file or SR run folder whose generator weights start training (same model.* architecture)"
    )
    batch_size: int = setting(16, "crops per step", min=1)
    lr_psnr: float = setting(1e-3, "generator Adam learning rate of the pixel-loss stage", min=0.0, min_exclusive=True)
    lr_G: float = setting(1e-4, "generator Adam learning rate of the GAN stage", min=0.0, min_exclusive=True)
    lr_D: float = setting(1e-4, "discriminator Adam learning rate", min=0.0, min_exclusive=True)
    lr_schedule: Literal["cosine", "constant"] = setting(
        "cosine", "learning rate over each stage: cosine decay to 0, or constant"
    )
    beta1: float = setting(0.9, "Adam beta1", min=0.0, max=1.0)
    beta2: float = setting(0.99, "Adam beta2", min=0.0, max=1.0)
    ema_half_life: float = setting(
        50.0, "half-life of the generator's exponential moving average in steps, 0 copies G each step", min=0.0
    )
    seed: int = setting(0, "seed of every random stream in the run", min=0)
    deterministic: bool = setting(True, "use deterministic torch kernels so runs and resumes repeat exactly")
    threads: int | None = setting(None, "torch CPU threads (default: torch's choice)", min=1, max=1024)
    device: Literal["auto", "cpu", "cuda"] = setting("auto", "torch device; auto picks cuda when present")
    log_every: int = setting(50, "steps between event log lines", min=1)
    validate_every: int = setting(500, "steps between PSNR measurements on the validation images", min=1)
    sample_every: int = setting(500, "steps between side-by-side sample figures", min=1)
    checkpoint_every: int = setting(500, "steps between checkpoints", min=1)
    keep_checkpoints: int = setting(3, "newest checkpoints kept on disk", min=1)


@dataclass(frozen=True)
class SREvalConfig:
    at_end: bool = setting(True, "measure both stages on the validation images when training ends")
    channel: Literal["y", "rgb"] = setting("y", "channel that PSNR and SSIM measure")
    border: int | None = setting(None, "pixels cropped from each side before measuring (default: the scale)", min=0)
    tile: int = setting(256, "side of the low-resolution tiles that evaluation upscales at once", min=8)


@dataclass(frozen=True)
class SRConfig:
    data: SRDataConfig = field(default_factory=SRDataConfig)
    model: SRModelConfig = field(default_factory=SRModelConfig)
    loss: SRLossConfig = field(default_factory=SRLossConfig)
    train: SRTrainConfig = field(default_factory=SRTrainConfig)
    eval: SREvalConfig = field(default_factory=SREvalConfig)

    def config_problems(self) -> list[str]:
        """List the settings that contradict each other, each naming its keys."""
        data = self.data
        problems = []
        if data.scale not in SUPPORTED_SCALES:
            problems.append(f"invalid value {data.scale} for 'data.scale': expected 2 or 4")
        elif data.patch_size % data.scale:
            lower = data.patch_size // data.scale * data.scale
            problems.append(
                f"invalid value {data.patch_size} for 'data.patch_size': it must be a multiple of "
                f"data.scale={data.scale}, such as {max(lower, data.scale * MIN_LR_PATCH)} or {lower + data.scale}"
            )
        elif data.patch_size // data.scale < MIN_LR_PATCH:
            problems.append(
                f"invalid value {data.patch_size} for 'data.patch_size': the low-resolution crop "
                f"(patch_size / scale) must be at least {MIN_LR_PATCH} pixels, so use at least "
                f"{MIN_LR_PATCH * data.scale}"
            )
        if data.patch_size < 2**self.model.d_stages:
            problems.append(
                f"'data.patch_size' {data.patch_size} is smaller than the {2**self.model.d_stages} pixels that "
                f"model.d_stages={self.model.d_stages} stride-2 stages reduce to one score: "
                "raise data.patch_size or lower model.d_stages"
            )
        if data.name in ("folder", "paired") and not data.path:
            problems.append(f"data.name={data.name} needs 'data.path' set to a folder of high-resolution images")
        if data.name == "paired" and not data.lr_path:
            problems.append("data.name=paired needs 'data.lr_path' set to the folder of low-resolution images")
        if data.name != "paired" and data.lr_path:
            problems.append(f"'data.lr_path' is only used with data.name=paired, not {data.name}")
        if data.scale in SUPPORTED_SCALES:
            from sparkgan.sr.nets import receptive_radius

            overlap = 2 * receptive_radius(data.scale, self.model.blocks, self.model.bicubic_skip)
            if self.eval.tile <= overlap:
                problems.append(
                    f"invalid value {self.eval.tile} for 'eval.tile': tiles must be larger than their overlap of "
                    f"{overlap} pixels (twice the generator's receptive radius), so use at least {overlap + 1}"
                )
        if self.train.psnr_steps + self.train.gan_steps == 0:
            problems.append("'train.psnr_steps' and 'train.gan_steps' are both 0: there is nothing to train")
        return problems

    @property
    def border(self) -> int:
        """Pixels that evaluation crops from each side: ``eval.border`` or the scale."""
        return self.data.scale if self.eval.border is None else self.eval.border


def load_sr_config(path=None, overrides=(), base=None) -> SRConfig:
    """Load an :class:`SRConfig` from an optional YAML file and ``key=value`` overrides.

    Raises:
        ConfigError: naming every invalid key and every contradiction.
    """
    return load_config(path, overrides, base=base, schema=SRConfig)
