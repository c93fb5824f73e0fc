"""The spark section: keys, overrides and the checks that tie it to training."""

import pytest

from sparkgan.config import ConfigError, load_config
from sparkgan.train import plan_new_run, plan_resume, prepare_run_dir, resolve_config


def test_spark_keys_and_free_form_conf():
    config = load_config(overrides=[
        "spark.master=local-cluster[2,1,1024]",
        "spark.num_workers=2",
        "spark.conf.spark.executor.memory=2g",
        "spark.conf.spark.task.cpus=1",
        "spark.max_attempts=3",
    ])
    assert config.spark.master == "local-cluster[2,1,1024]"
    assert config.spark.num_workers == 2
    assert config.spark.conf == {"spark.executor.memory": "2g", "spark.task.cpus": 1}
    assert config.spark.max_attempts == 3


def test_batch_must_split_over_workers():
    config = load_config(overrides=["spark.master=local[3]", "spark.num_workers=3", "train.batch_size=64"])
    with pytest.raises(ConfigError, match="train.batch_size.*spark.num_workers=3"):
        resolve_config(config)


def test_workers_need_a_master():
    with pytest.raises(ConfigError, match="spark.num_workers=2 needs 'spark.master'"):
        resolve_config(load_config(overrides=["spark.num_workers=2"]))


def test_table_needs_a_master():
    config = load_config(overrides=["data.name=parquet", "data.table=images"])
    with pytest.raises(ConfigError, match="data.table='images' is a Spark table"):
        resolve_config(config)


def test_parquet_needs_path_or_table(tmp_path):
    with pytest.raises(ConfigError, match="exactly one of 'data.path'"):
        resolve_config(load_config(overrides=["data.name=parquet"]))
    with pytest.raises(ConfigError, match="Parquet file or folder not found"):
        resolve_config(load_config(overrides=["data.name=parquet", f"data.path={tmp_path / 'absent.parquet'}"]))


def test_parquet_points_resolve_to_mlp(tmp_path):
    (tmp_path / "points.parquet").write_bytes(b"")
    config = resolve_config(load_config(overrides=[
        "data.name=parquet", f"data.path={tmp_path / 'points.parquet'}", "data.kind=points", "data.column=xy",
    ]))
    assert config.model.arch == "mlp"
    assert config.data.resolution is None


def test_kind_is_fixed_for_builtin_sets():
    with pytest.raises(ConfigError, match="data.kind"):
        resolve_config(load_config(overrides=["data.name=digits", "data.kind=points"]))
    assert resolve_config(load_config()).data.kind == "image"


def test_resume_may_change_spark_settings(tmp_path):
    plan = plan_new_run(None, ["train.steps=4", "train.batch_size=16"], str(tmp_path / "run"))
    prepare_run_dir(plan)
    resumed = plan_resume(
        tmp_path / "run", None, ["spark.master=local[2]", "spark.num_workers=2", "spark.conf.spark.ui.enabled=false"],
        allow_config_change=False,
    )
    assert resumed.config.spark.num_workers == 2
    with pytest.raises(ConfigError, match="model.width"):
        plan_resume(tmp_path / "run", None, ["model.width=9"], allow_config_change=False)
