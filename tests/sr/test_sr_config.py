import pytest
import yaml

from sparkgan.config import ConfigError, config_from_dict, config_to_dict
from sparkgan.sr.config import SRConfig, load_sr_config


def test_defaults_load():
    config = load_sr_config()
    assert config == SRConfig()
    assert config.data.scale == 4
    assert config.border == 4


def test_overrides_are_typed():
    config = load_sr_config(overrides=["data.scale=2", "data.patch_size=64", "loss.pixel=mse", "eval.border=0"])
    assert config.data.scale == 2
    assert config.data.patch_size == 64
    assert config.loss.pixel == "mse"
    assert config.border == 0


def test_patch_not_multiple_of_scale_rejected():
    with pytest.raises(ConfigError) as error:
        load_sr_config(overrides=["data.patch_size=130"])
    message = str(error.value)
    assert "'data.patch_size'" in message
    assert "multiple of data.scale=4" in message
    assert "128 or 132" in message


def test_patch_multiple_of_two_but_not_four():
    assert load_sr_config(overrides=["data.scale=2", "data.patch_size=66"]).data.patch_size == 66
    with pytest.raises(ConfigError, match="multiple of data.scale=4"):
        load_sr_config(overrides=["data.patch_size=66"])


def test_patch_too_small_rejected():
    with pytest.raises(ConfigError, match="at least 32"):
        load_sr_config(overrides=["data.patch_size=16"])


def test_scale_three_rejected():
    with pytest.raises(ConfigError, match="expected 2 or 4"):
        load_sr_config(overrides=["data.scale=3"])


def test_folder_needs_path():
    with pytest.raises(ConfigError, match="needs 'data.path'"):
        load_sr_config(overrides=["data.name=folder"])


def test_paired_needs_both_paths():
    with pytest.raises(ConfigError) as error:
        load_sr_config(overrides=["data.name=paired"])
    assert "data.path" in str(error.value)
    assert "data.lr_path" in str(error.value)


def test_unknown_key_and_bad_type_reported_together():
    with pytest.raises(ConfigError) as error:
        load_sr_config(overrides=["model.widht=8", "train.psnr_steps=abc"])
    assert "did you mean 'model.width'" in str(error.value)
    assert "'train.psnr_steps'" in str(error.value)


def test_yaml_file_checked_when_loaded(tmp_path):
    path = tmp_path / "sr.yaml"
    path.write_text(yaml.safe_dump({"data": {"scale": 4, "patch_size": 98}}))
    with pytest.raises(ConfigError, match="'data.patch_size'"):
        load_sr_config(path)


def test_saved_config_round_trip():
    config = load_sr_config(overrides=["model.width=16", "train.threads=2"])
    assert config_from_dict(config_to_dict(config), SRConfig) == config


def test_saved_config_with_bad_patch_rejected():
    values = config_to_dict(SRConfig())
    values["data"]["patch_size"] = 127
    with pytest.raises(ConfigError, match="'data.patch_size'"):
        config_from_dict(values, SRConfig)


def test_eval_tile_must_exceed_overlap():
    # The default x4 generator (8 blocks) has a receptive radius of 21, so tiles overlap by 42.
    with pytest.raises(ConfigError, match="at least 43"):
        load_sr_config(overrides=["eval.tile=42"])
    assert load_sr_config(overrides=["eval.tile=20", "model.blocks=1"]).eval.tile == 20
