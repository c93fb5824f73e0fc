import numpy as np
import pytest
import torch
from PIL import Image

from sparkgan.data.images import DataError
from sparkgan.sr.data import (
    PHOTOS_HELD_OUT,
    PHOTOS_TRAIN,
    PatchSource,
    SRImage,
    dihedral,
    folder_images,
    load_photo,
    paired_images,
    photos,
)
from sparkgan.sr.evaluate import low_resolution_input
from sparkgan.sr.resize import downscale, quantize


def _save(path, height, width, seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8)).save(path)


def test_held_out_photos_never_in_training():
    assert set(PHOTOS_TRAIN).isdisjoint(PHOTOS_HELD_OUT)
    assert "cat" not in PHOTOS_TRAIN  # skimage's cat is chelsea, a held-out photo
    held_out = [load_photo(name) for name in PHOTOS_HELD_OUT]
    for name in PHOTOS_TRAIN:
        train = load_photo(name)
        assert not any(train.shape == other.shape and np.array_equal(train, other) for other in held_out), name


def test_photos_are_rgb_and_cropped_to_scale():
    images = photos(("chelsea", "camera"), 4)
    assert [image.hr.shape for image in images] == [(300, 448, 3), (512, 512, 3)]
    assert all(image.hr.dtype == np.uint8 for image in images)
    gray = images[1].hr
    assert np.array_equal(gray[:, :, 0], gray[:, :, 2])


def test_sklearn_photos_load():
    assert load_photo("china").shape == (427, 640, 3)
    assert load_photo("flower").shape == (427, 640, 3)


def test_unknown_photo_named():
    with pytest.raises(DataError, match="'lena'"):
        load_photo("lena")


def test_patches_align_and_repeat():
    image = SRImage("x", np.random.default_rng(0).integers(0, 256, size=(64, 80, 3), dtype=np.uint8))
    source = PatchSource([image], scale=4, patch_size=32, seed=3, augment=False)
    lr, hr = source.batch(step=5, batch_size=6)
    assert lr.shape == (6, 3, 8, 8)
    assert hr.shape == (6, 3, 32, 32)
    # Away from the crop's edges, where the bicubic kernel is not cut off, the LR crop is the HR crop downscaled.
    torch.testing.assert_close(lr[:, :, 2:-2, 2:-2], quantize(downscale(hr, 4))[:, :, 2:-2, 2:-2])
    again_lr, again_hr = source.batch(step=5, batch_size=6)
    assert torch.equal(lr, again_lr)
    assert torch.equal(hr, again_hr)
    other_lr, _ = source.batch(step=6, batch_size=6)
    assert not torch.equal(lr, other_lr)


def test_patches_cut_from_evaluation_input():
    # The LR crop must be a window of the LR image that evaluation makes from the whole HR image.
    rng = np.random.default_rng(2)
    image = SRImage("x", rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8))
    whole_lr, _ = low_resolution_input(image, 4)
    lr, hr = PatchSource([image], 4, 32, seed=0, augment=False).batch(0, 8)
    for lr_patch, hr_patch in zip(lr, hr):
        values = np.rint(hr_patch.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
        top, left = next((y, x) for y in range(0, 17, 4) for x in range(0, 33, 4)
                         if np.array_equal(image.hr[y:y + 32, x:x + 32], values))
        expected = whole_lr[top // 4:top // 4 + 8, left // 4:left // 4 + 8]
        np.testing.assert_array_equal(lr_patch.numpy().transpose(1, 2, 0), expected)


def test_patches_start_on_low_resolution_grid():
    # A ramp whose value is the column: a crop's first column reveals where it started.
    ramp = np.tile(np.arange(80, dtype=np.uint8), (64, 1))
    image = SRImage("ramp", np.repeat(ramp[:, :, None], 3, axis=2))
    _, hr = PatchSource([image], 4, 32, seed=0, augment=False).batch(0, 16)
    starts = np.rint(hr[:, 0, 0, 0].numpy() * 255).astype(int)
    assert np.all(starts % 4 == 0)


def test_paired_patches_use_given_low_resolution():
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
    lr = rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    source = PatchSource([SRImage("pair", hr, lr)], scale=4, patch_size=32, seed=0, augment=False)
    lr_crop, hr_crop = source.batch(0, 4)
    for lr_patch, hr_patch in zip(lr_crop, hr_crop):
        # Locate the HR crop, then check the LR crop is the matching window of the LR image.
        values = np.rint(hr_patch.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
        top, left = next((y, x) for y in range(0, 9, 4) for x in range(0, 17, 4)
                         if np.array_equal(hr[y:y + 32, x:x + 32], values))
        expected = lr[top // 4:top // 4 + 8, left // 4:left // 4 + 8] / 255.0
        np.testing.assert_allclose(lr_patch.numpy().transpose(1, 2, 0), expected, atol=1e-6)


def test_dihedral_gives_eight_distinct_images():
    image = torch.arange(9.0).view(1, 3, 3)
    variants = {tuple(dihedral(image, k).flatten().tolist()) for k in range(8)}
    assert len(variants) == 8


def test_folder_crops_to_multiple_of_scale(tmp_path):
    _save(tmp_path / "a.png", 67, 70)
    _save(tmp_path / "sub" / "b.jpg", 64, 64, mode="L")
    images = folder_images(str(tmp_path), scale=4, patch_size=32)
    assert [image.hr.shape for image in images] == [(64, 68, 3), (64, 64, 3)]


def test_folder_rejects_small_images_by_name(tmp_path):
    _save(tmp_path / "big.png", 64, 64)
    _save(tmp_path / "tiny.png", 20, 64)
    with pytest.raises(DataError) as error:
        folder_images(str(tmp_path), scale=4, patch_size=32)
    assert "tiny.png (64x20)" in str(error.value)
    assert "big.png" not in str(error.value)


def test_folder_alpha_composited_over_white(tmp_path):
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    (image,) = folder_images(str(tmp_path), scale=4, patch_size=32)
    assert np.all(image.hr == 255)


def test_paired_accepts_matching_sizes(tmp_path):
    _save(tmp_path / "hr" / "a.png", 66, 64)  # cropped to 64 x 64
    _save(tmp_path / "lr" / "a.jpg", 16, 16)
    (pair,) = paired_images(str(tmp_path / "hr"), str(tmp_path / "lr"), scale=4, patch_size=32)
    assert pair.hr.shape == (64, 64, 3)
    assert pair.lr.shape == (16, 16, 3)


def test_paired_rejects_every_problem_by_name(tmp_path):
    hr, lr = tmp_path / "hr", tmp_path / "lr"
    _save(hr / "ok.png", 64, 64)
    _save(lr / "ok.png", 16, 16)
    _save(hr / "wrong.png", 64, 64)
    _save(lr / "wrong.png", 15, 16)
    _save(hr / "small.png", 24, 64)
    _save(lr / "small.png", 6, 16)
    _save(hr / "lonely.png", 64, 64)
    _save(lr / "orphan.png", 16, 16)
    with pytest.raises(DataError) as error:
        paired_images(str(hr), str(lr), scale=4, patch_size=32)
    message = str(error.value)
    assert "wrong.png (64x64)" in message
    assert "wrong.png (16x15)" in message
    assert "small.png (16x6)" in message
    assert "lonely.png" in message
    assert "orphan.png" in message
    assert "ok.png" not in message


def test_missing_folder_names_setting(tmp_path):
    with pytest.raises(DataError, match="'data.path'"):
        folder_images(str(tmp_path / "nope"), scale=4, patch_size=32)


def test_undecodable_file_named_or_skipped(tmp_path):
    _save(tmp_path / "good.png", 32, 32)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="bad.png"):
        folder_images(str(tmp_path), scale=4, patch_size=32)
    images = folder_images(str(tmp_path), scale=4, patch_size=32, skip_bad=True)
    assert [image.name.endswith("good.png") for image in images] == [True]
