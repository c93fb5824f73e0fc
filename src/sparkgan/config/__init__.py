"""Configuration: typed frozen dataclasses, one loader, one error type."""

from sparkgan.config.loader import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    config_to_yaml,
    diff_configs,
    load_config,
    replace,
    save_config,
)
from sparkgan.config.schema import Config, DataConfig, EvalConfig, LossConfig, ModelConfig, SparkConfig, TrainConfig

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "LossConfig",
    "ModelConfig",
    "SparkConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "config_to_yaml",
    "diff_configs",
    "load_config",
    "replace",
    "save_config",
]
