import pytest
import yaml

from sparkgan.config import Config, ConfigError, config_to_dict, diff_configs, load_config, replace


def test_defaults_without_input():
    assert load_config() == Config()


def test_dotted_overrides_are_typed():
    config = load_config(overrides=["train.steps=500", "train.lr_G=1e-4", "data.name=faces", "train.deterministic=false"])
    assert config.train.steps == 500
    assert config.train.lr_G == pytest.approx(1e-4)
    assert config.data.name == "faces"
    assert config.train.deterministic is False


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"train": {"steps": 100, "batch_size": 32}, "loss": {"objective": "hinge"}}))
    config = load_config(path, ["train.steps=200"])
    assert (config.train.steps, config.train.batch_size, config.loss.objective) == (200, 32, "hinge")


def test_yaml_exponent_without_dot_is_a_number(tmp_path):
    # PyYAML reads 1e-4 as a string; the loader still accepts it for a float key.
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  lr_D: 1e-4\n")
    assert load_config(path).train.lr_D == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("train.stepz=5", ["unknown key 'train.stepz'", "did you mean 'train.steps'", "train.batch_size"]),
        ("train.steps=abc", ["'train.steps'", "expected an integer"]),
        ("train.steps=0", ["'train.steps'", "must be >= 1"]),
        ("train.lr_G=0", ["'train.lr_G'", "must be > 0.0"]),
        ("train.beta1=1.5", ["'train.beta1'", "<= 1.0"]),
        ("data.name=mnist", ["'data.name'", "'digits'", "'grid'"]),
        ("loss.objective=wgan", ["'loss.objective'", "'wasserstein'"]),
        ("train.deterministic=maybe", ["'train.deterministic'", "true or false"]),
        ("nosuch.key=1", ["unknown key 'nosuch.key'", "train"]),
        ("train=3", ["'train' is a section"]),
        ("justtext", ["key=value"]),
    ],
)
def test_invalid_override_names_key(override, fragments):
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=[override])
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_all_errors_in_one_message():
    with pytest.raises(ConfigError) as caught:
        load_config(overrides=["train.steps=-1", "model.width=0"])
    assert "train.steps" in str(caught.value)
    assert "model.width" in str(caught.value)


def test_wrong_type_in_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  steps: ten\n  deterministic: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "'train.steps'" in str(caught.value)
    assert "'train.deterministic'" in str(caught.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(scalar)


def test_round_trip_and_diff():
    config = load_config(overrides=["train.steps=7"])
    assert load_config(base=config_to_dict(config)) == config
    changed = replace(config, **{"train.steps": 9, "data.name": "grid"})
    assert diff_configs(config, changed) == [("data.name", "digits", "grid"), ("train.steps", 7, 9)]


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().train.steps = 3
