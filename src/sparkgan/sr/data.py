"""Training pairs for super-resolution: built-in photos, image folders, paired folders.

A pair is a random crop of a high-resolution (HR) image and its low-resolution
(LR) counterpart. Unless the LR images are given (``data.name=paired``), each
whole HR image is downscaled once by bicubic resampling
(:mod:`sparkgan.sr.resize`) and rounded to its bit depth, exactly as
evaluation makes its LR inputs, and the LR crop is the matching window of that
image. Downscaling each HR crop instead would give other values in the outer
two LR pixels of every crop, where the bicubic kernel is cut off. Every HR
image is first cropped at the bottom and right to sides that are multiples of
the scale, so that it is exactly ``scale`` times its LR image.

The built-in ``photos`` are natural photographs that scikit-image and
scikit-learn install (nothing is downloaded). :data:`PHOTOS_HELD_OUT` never
enters training: they are the validation and evaluation images.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from sparkgan.data.images import DataError, DecodedImage, list_image_files
from sparkgan.data.seeds import torch_stream
from sparkgan.sr.images import read_image
from sparkgan.sr.resize import crop_to_multiple, downscale, quantize

log = logging.getLogger(__name__)

# Natural photographs in scikit-image 0.26 and scikit-learn 1.9 that load without a
# download. Left out: cat (the same photo as chelsea), microscopy, retina and telescope
# images (immunohistochemistry, cell, microaneurysms, retina, hubble_deep_field), and
# synthetic pictures (colorwheel, logo, checkerboard, horse, binary_blobs).
PHOTOS_TRAIN: tuple[str, ...] = (
    "coffee", "rocket", "china", "flower",
    "camera", "coins", "moon", "brick", "grass", "gravel", "clock", "page", "text",
)
# The two colour photographs of living subjects, the kind of content of the Set5
# benchmark (a face, a bird), are held out.
PHOTOS_HELD_OUT: tuple[str, ...] = ("astronaut", "chelsea")
_SKLEARN_PHOTOS = ("china", "flower")
_FILES_NAMED_IN_ERRORS = 5


@dataclass(frozen=True)
class SRImage:
    """One training or validation image, stored compactly as integers.

    ``hr`` is H x W x 3 uint8 or uint16 with H and W multiples of the scale.
    ``lr`` is the given low-resolution image (paired data) or None.
    """

    name: str
    hr: np.ndarray
    lr: np.ndarray | None = None

    def hr_float(self) -> np.ndarray:
        return _to_float(self.hr)


# Loading ------------------------------------------------------------------------

def load_photo(name: str) -> np.ndarray:
    """Return a built-in photo as H x W x 3 uint8 (grayscale photos repeated to three channels).

    Raises:
        DataError: for a name that is not a built-in photo.
    """
    if name in _SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_images

        bunch = load_sample_images()
        by_name = {Path(path).stem: image for path, image in zip(bunch.filenames, bunch.images)}
        pixels = by_name[name]
    elif name in PHOTOS_TRAIN or name in PHOTOS_HELD_OUT:
        import skimage.data

        pixels = getattr(skimage.data, name)()
    else:
        known = ", ".join(PHOTOS_TRAIN + PHOTOS_HELD_OUT)
        raise DataError(f"unknown built-in photo {name!r}: expected one of {known}")
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def low_resolution_input(image: SRImage, scale: int, quantize_lr: bool = True) -> tuple[np.ndarray, int]:
    """Return the LR input (H/s x W/s x 3 floats) of an image and its bit depth.

    A given LR image is used as it is. Otherwise the HR image is downscaled by
    bicubic resampling and, with ``quantize_lr``, rounded to its bit depth as
    an image file would store it. Training crops and evaluation inputs both
    come from here.
    """
    bits = 16 if image.hr.dtype == np.uint16 else 8
    if image.lr is not None:
        return _to_float(image.lr), bits
    hr = torch.from_numpy(image.hr_float().transpose(2, 0, 1))[None]
    lr = downscale(hr, scale)
    if quantize_lr:
        lr = quantize(lr, bits)
    return lr[0].numpy().transpose(1, 2, 0), bits


def photos(names: tuple[str, ...], scale: int) -> list[SRImage]:
    """Return built-in photos as images cropped to multiples of ``scale``."""
    return [SRImage(f"photos:{name}", crop_to_multiple(load_photo(name), scale)) for name in names]


def load_folder(folder: str | os.PathLike, setting: str, skip_bad: bool = False) -> dict[str, SRImage]:
    """Decode every image under ``folder`` to RGB integers, keyed by relative path without suffix.

    Alpha is composited over white and gray is repeated to three channels, as
    in GAN training; the bit depth of each file is kept.

    Raises:
        DataError: for an undecodable file (unless ``skip_bad``) or two files
            that differ only in their suffix.
    """
    root = Path(folder)
    images: dict[str, SRImage] = {}
    skipped = []
    for path in tqdm(list_image_files(root, setting), desc=f"Loading {root}", unit="image", disable=None):
        key = path.relative_to(root).with_suffix("").as_posix()
        if key in images:
            raise DataError(f"{images[key].name} and {path} differ only in their suffix: rename or remove one")
        try:
            decoded = read_image(path)
        except DataError as error:
            if not skip_bad:
                raise DataError(f"{error} Or set data.skip_bad=true to skip undecodable files.") from error
            skipped.append(str(path))
            continue
        images[key] = SRImage(str(path), _to_rgb_integers(decoded))
    if skipped:
        log.warning("skipped %d undecodable files under %s: %s", len(skipped), root, ", ".join(skipped[:_FILES_NAMED_IN_ERRORS]))
    if not images:
        raise DataError(f"none of the image files under {root} could be decoded")
    return images


def _to_rgb_integers(decoded: DecodedImage) -> np.ndarray:
    pixels = decoded.pixels
    if pixels.shape[2] in (2, 4):
        colour, alpha = pixels[:, :, :-1], pixels[:, :, -1:]
        pixels = colour * alpha + (1.0 - alpha)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    if decoded.bit_depth == 16:
        return np.rint(pixels * 65535.0).astype(np.uint16)
    return np.rint(pixels * 255.0).astype(np.uint8)


def _to_float(pixels: np.ndarray) -> np.ndarray:
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    return pixels.astype(np.float32) / scale


def folder_images(folder: str, scale: int, patch_size: int, skip_bad: bool = False, setting: str = "data.path") -> list[SRImage]:
    """Load a folder of HR images for training, cropped to multiples of ``scale``.

    Raises:
        DataError: naming every image smaller than ``patch_size``.
    """
    images = [
        SRImage(image.name, crop_to_multiple(image.hr, scale)) for image in load_folder(folder, setting, skip_bad).values()
    ]
    small = [f"{image.name} ({image.hr.shape[1]}x{image.hr.shape[0]})" for image in images if min(image.hr.shape[:2]) < patch_size]
    if small:
        raise DataError(
            f"{len(small)} images under {folder} are smaller than data.patch_size={patch_size}: "
            f"{_first_names(small)}. Remove them or lower data.patch_size"
        )
    return images


def paired_images(hr_folder: str, lr_folder: str, scale: int, patch_size: int, skip_bad: bool = False) -> list[SRImage]:
    """Load matching HR and LR images, paired by relative path without suffix.

    The HR image, cropped to multiples of ``scale``, must be exactly ``scale``
    times its LR image, and the LR image must hold an LR crop of
    ``patch_size / scale`` pixels.

    Raises:
        DataError: naming every file without a partner, every pair whose sizes
            disagree and every LR image smaller than the crop, all at once.
    """
    hr = load_folder(hr_folder, "data.path", skip_bad)
    lr = load_folder(lr_folder, "data.lr_path", skip_bad)
    lr_patch = patch_size // scale
    problems = []
    missing_lr = sorted(set(hr) - set(lr))
    missing_hr = sorted(set(lr) - set(hr))
    if missing_lr:
        problems.append(f"no low-resolution image under {lr_folder} for {_first_names([hr[k].name for k in missing_lr])}")
    if missing_hr:
        problems.append(f"no high-resolution image under {hr_folder} for {_first_names([lr[k].name for k in missing_hr])}")

    pairs, mismatched, small = [], [], []
    for key in sorted(set(hr) & set(lr)):
        high, low = crop_to_multiple(hr[key].hr, scale), lr[key].hr
        if high.shape[:2] != (low.shape[0] * scale, low.shape[1] * scale):
            mismatched.append(
                f"{hr[key].name} ({hr[key].hr.shape[1]}x{hr[key].hr.shape[0]}) and "
                f"{lr[key].name} ({low.shape[1]}x{low.shape[0]})"
            )
        elif min(low.shape[:2]) < lr_patch:
            small.append(f"{lr[key].name} ({low.shape[1]}x{low.shape[0]})")
        else:
            pairs.append(SRImage(hr[key].name, high, low))
    if mismatched:
        problems.append(
            f"{len(mismatched)} pairs whose sizes disagree with data.scale={scale} (the HR image, cropped to "
            f"multiples of the scale, must be {scale} times the LR image): {_first_names(mismatched)}"
        )
    if small:
        problems.append(
            f"{len(small)} low-resolution images smaller than the {lr_patch}-pixel crop that "
            f"data.patch_size={patch_size} needs: {_first_names(small)}"
        )
    if problems:
        raise DataError("invalid paired data:\n  " + "\n  ".join(problems))
    return pairs


def _first_names(names: list[str]) -> str:
    shown = ", ".join(names[:_FILES_NAMED_IN_ERRORS])
    more = len(names) - _FILES_NAMED_IN_ERRORS
    return shown + (f" and {more} more" if more > 0 else "")


# Sampling -----------------------------------------------------------------------

class PatchSource:
    """Random (LR, HR) crop pairs, a pure function of (seed, step).

    An image is picked with probability proportional to its number of crop
    positions, so every HR pixel is about equally likely to be seen. The crop
    position and the choice among the eight flips and rotations are uniform.
    """

    def __init__(
        self,
        images: list[SRImage],
        scale: int,
        patch_size: int,
        seed: int,
        augment: bool = True,
        quantize_lr: bool = True,
    ):
        if not images:
            raise DataError("no training images")
        self.images, self.scale, self.patch_size = images, scale, patch_size
        self.seed, self.augment, self.quantize_lr = seed, augment, quantize_lr
        positions = np.array([_crop_positions(image.hr, patch_size) for image in images], dtype=np.float64)
        self._weights = torch.from_numpy(positions / positions.sum())
        self._lr_images = [self._low_resolution(image) for image in images]

    def _low_resolution(self, image: SRImage) -> torch.Tensor:
        """Return the whole LR image (3 x H/s x W/s floats) that crops are cut from."""
        lr, _ = low_resolution_input(image, self.scale, self.quantize_lr)
        return torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))

    def batch(self, step: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the LR (N x 3 x p/s x p/s) and HR (N x 3 x p x p) crops of ``step``, in [0, 1]."""
        generator = torch_stream(self.seed, "patches", step)
        picks = torch.multinomial(self._weights, batch_size, replacement=True, generator=generator).tolist()
        lr_patch = self.patch_size // self.scale
        hr_crops, lr_crops = [], []
        for index in picks:
            image = self.images[index]
            rows, cols = image.hr.shape[0] // self.scale - lr_patch + 1, image.hr.shape[1] // self.scale - lr_patch + 1
            # Crops start on the LR grid so that a given LR crop lines up with its HR crop.
            top = int(torch.randint(rows, (1,), generator=generator)) * self.scale
            left = int(torch.randint(cols, (1,), generator=generator)) * self.scale
            hr = torch.from_numpy(_to_float(image.hr[top:top + self.patch_size, left:left + self.patch_size]))
            hr_crops.append(hr.permute(2, 0, 1))
            y, x = top // self.scale, left // self.scale
            lr_crops.append(self._lr_images[index][:, y:y + lr_patch, x:x + lr_patch])
        transforms = torch.randint(8, (batch_size,), generator=generator).tolist()

        hr = torch.stack(hr_crops)
        lr = torch.stack(lr_crops)
        if self.augment:
            hr = torch.stack([dihedral(crop, k) for crop, k in zip(hr, transforms)])
            lr = torch.stack([dihedral(crop, k) for crop, k in zip(lr, transforms)])
        return lr.contiguous(), hr.contiguous()


def dihedral(image: torch.Tensor, k: int) -> torch.Tensor:
    """Apply the k-th (0..7) of the eight flips and rotations of a square C x H x W image."""
    if k & 1:
        image = image.flip(-1)
    if k & 2:
        image = image.flip(-2)
    if k & 4:
        image = image.transpose(-1, -2)
    return image


def _crop_positions(hr: np.ndarray, patch_size: int) -> int:
    return max(hr.shape[0] - patch_size + 1, 1) * max(hr.shape[1] - patch_size + 1, 1)
