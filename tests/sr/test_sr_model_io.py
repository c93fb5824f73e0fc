import json

import pytest
import torch
from safetensors.torch import save_file
from sr_helpers import tiny_generator

from sparkgan.sr.model_io import (
    GAN_MODEL,
    PSNR_MODEL,
    ModelFileError,
    architecture_of,
    blend_models,
    cached_model,
    load_model,
    resolve_model_path,
    save_model,
)
from sparkgan.sr.nets import SRResNet


def test_save_load_round_trip(tmp_path):
    generator = tiny_generator(2, blocks=2)
    path = save_model(generator, tmp_path / "m.safetensors", stage="gan", extra={"step": 7})
    loaded = load_model(path)
    assert loaded.stage == "gan"
    assert loaded.scale == 2
    assert architecture_of(loaded.generator) == architecture_of(generator)
    image = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(loaded.generator(image), generator(image))
    assert not any(p.requires_grad for p in loaded.generator.parameters())


def test_blend_interpolates_every_weight(tmp_path):
    first = save_model(tiny_generator(4, seed=1), tmp_path / "a.safetensors", "psnr")
    second = save_model(tiny_generator(4, seed=2), tmp_path / "b.safetensors", "gan")
    out = blend_models(first, second, 0.3, tmp_path / "c.safetensors")
    a, b, c = (load_model(p).generator.state_dict() for p in (first, second, out))
    for name in a:
        torch.testing.assert_close(c[name], 0.7 * a[name] + 0.3 * b[name])
    assert load_model(out).stage == "blend"


@pytest.mark.parametrize("alpha, expected", [(0.0, "a"), (1.0, "b")])
def test_blend_ends_are_the_inputs(tmp_path, alpha, expected):
    paths = {"a": save_model(tiny_generator(4, seed=1), tmp_path / "a.safetensors", "psnr"),
             "b": save_model(tiny_generator(4, seed=2), tmp_path / "b.safetensors", "gan")}
    out = load_model(blend_models(paths["a"], paths["b"], alpha, tmp_path / "c.safetensors")).generator
    reference = load_model(paths[expected]).generator
    for name, tensor in out.state_dict().items():
        torch.testing.assert_close(tensor, reference.state_dict()[name])


def test_blend_rejects_different_architectures(tmp_path):
    first = save_model(tiny_generator(4, blocks=1), tmp_path / "a.safetensors", "psnr")
    second = save_model(tiny_generator(4, blocks=2), tmp_path / "b.safetensors", "gan")
    with pytest.raises(ModelFileError, match="architectures differ"):
        blend_models(first, second, 0.5, tmp_path / "c.safetensors")


def test_blend_rejects_alpha_outside_unit_range(tmp_path):
    with pytest.raises(ValueError, match="invalid alpha 1.5"):
        blend_models(tmp_path / "a", tmp_path / "b", 1.5, tmp_path / "c")


def test_run_folder_resolves_to_newest_stage(tmp_path):
    with pytest.raises(ModelFileError, match="contains no trained model"):
        resolve_model_path(tmp_path)
    save_model(tiny_generator(), tmp_path / PSNR_MODEL, "psnr")
    assert resolve_model_path(tmp_path) == tmp_path / PSNR_MODEL
    save_model(tiny_generator(), tmp_path / GAN_MODEL, "gan")
    assert resolve_model_path(tmp_path) == tmp_path / GAN_MODEL


def test_missing_model_named(tmp_path):
    with pytest.raises(ModelFileError, match="nope.safetensors not found"):
        load_model(tmp_path / "nope.safetensors")


def test_foreign_safetensors_rejected(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ModelFileError, match="not a sparkgan super-resolution model"):
        load_model(path)


def test_non_safetensors_file_rejected(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"definitely not safetensors")
    with pytest.raises(ModelFileError, match="cannot read model file"):
        load_model(path)


def test_mismatched_tensors_rejected(tmp_path):
    path = save_model(tiny_generator(), tmp_path / "m.safetensors", "psnr")
    state = {k: v for k, v in SRResNet(4, width=16, blocks=1, upsample_width=4).state_dict().items()}
    metadata = {"format": "sparkgan-sr-generator-1", "stage": "psnr",
                "architecture": json.dumps(architecture_of(tiny_generator()))}
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(ModelFileError, match="damaged or from another version"):
        load_model(path)


def test_cache_loads_once_and_reloads_changed_file(tmp_path):
    path = save_model(tiny_generator(seed=1), tmp_path / "m.safetensors", "psnr")
    first, loaded_first = cached_model(path)
    second, loaded_second = cached_model(path)
    assert loaded_first is True
    assert loaded_second is False
    assert second is first
    save_model(tiny_generator(seed=2, blocks=2), path, "psnr")
    third, loaded_third = cached_model(path)
    assert loaded_third is True
    assert third.generator.blocks == 2
