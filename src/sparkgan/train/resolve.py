"""Fill every "dataset's default" (None) setting and check settings that depend on each other."""

from __future__ import annotations

from sparkgan.config import Config, ConfigError, replace
from sparkgan.data import dataset_info, resolve_data_defaults
from sparkgan.data.registry import is_uri


def resolve_config(config: Config) -> Config:
    """Return the config with no unset values, ready to run and to save.

    Raises:
        ConfigError: when settings contradict each other or the dataset.
    """
    data = resolve_data_defaults(config.data)
    info = dataset_info(data.name)
    kind = data.kind
    default_width = info.model_width or (128 if kind == "points" else 64)
    model, loss, train, evaluation = config.model, config.loss, config.train, config.eval
    wasserstein = loss.objective == "wasserstein"

    points = kind == "points"
    changes = {
        "data": data,
        "model.arch": _unless_set(model.arch if model.arch != "auto" else None, "mlp" if points else "dcgan"),
        "model.z_dim": _unless_set(model.z_dim, 2 if points else 64),
        "model.width": _unless_set(model.width, default_width),
        "loss.gp_weight": _unless_set(loss.gp_weight, 10.0 if wasserstein else 0.0),
        "train.d_steps": _unless_set(train.d_steps, 5 if wasserstein else 1),
        "eval.num_samples": _unless_set(evaluation.num_samples, info.eval_samples or (2500 if points else 10000)),
    }
    resolved = replace(config, **changes)
    _check_combinations(resolved, kind)
    return resolved


def _unless_set(value, default):
    return default if value is None else value


def _check_combinations(config: Config, kind: str) -> None:
    arch = config.model.arch
    if kind == "points" and arch != "mlp":
        raise ConfigError(f"invalid value {arch!r} for 'model.arch': 2-D data '{config.data.name}' needs 'mlp'")
    if kind == "image" and arch != "dcgan":
        raise ConfigError(f"invalid value {arch!r} for 'model.arch': image data '{config.data.name}' needs 'dcgan'")
    batch, packed, workers = config.train.batch_size, config.remedies.pack, config.spark.num_workers
    if (batch // workers) % packed:
        raise ConfigError(
            f"invalid value {packed} for 'remedies.pack': each worker's batch, train.batch_size={batch} "
            f"over spark.num_workers={workers}, must be a multiple of it"
        )
    if config.remedies.mode_seeking > 0 and batch < 2:
        raise ConfigError("remedies.mode_seeking compares pairs of samples, so train.batch_size must be at least 2")
    _check_spark(config)
    if config.model.d_norm == "batch" and (config.loss.gp_weight > 0 or config.loss.r1_gamma > 0):
        raise ConfigError(
            "model.d_norm=batch cannot be combined with a gradient penalty (loss.gp_weight) or R1 "
            "(loss.r1_gamma): both penalise per-sample gradients, which batch statistics mix. "
            "Set model.d_norm to 'none' or 'layer'"
        )


def _check_spark(config: Config) -> None:
    spark, data = config.spark, config.data
    if config.train.batch_size % spark.num_workers:
        raise ConfigError(
            f"invalid value {config.train.batch_size} for 'train.batch_size': the global batch must split evenly "
            f"over spark.num_workers={spark.num_workers}; choose a multiple of {spark.num_workers}"
        )
    if spark.master:
        return
    if spark.num_workers > 1:
        raise ConfigError(
            f"spark.num_workers={spark.num_workers} needs 'spark.master' (for example --spark-master 'local[2]'); "
            "without a master, training runs in this process"
        )
    if data.table:
        raise ConfigError(f"data.table={data.table!r} is a Spark table, so it needs 'spark.master'")
    if data.name == "folder" and is_uri(data.path):
        raise ConfigError(
            f"data.path={data.path!r} is remote storage: an image folder there is read through Spark, "
            "so set 'spark.master', or copy the folder to a local path"
        )
