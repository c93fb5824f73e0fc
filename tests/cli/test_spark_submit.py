"""The sparkgan command on Spark: spark-submit, flags and the equivalence with in-process training."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from sparkgan import api
from sparkgan.spark import submit
from sparkgan.train import checkpoint as ckpt

TINY = ["model.width=8", "model.z_dim=8", "model.d_norm=batch", "train.batch_size=8", "train.steps=3",
        "train.log_every=1", "train.sample_every=3", "train.checkpoint_every=3", "train.threads=1",
        "eval.num_samples=300"]


def loopback_env():
    return {**os.environ, "PYTHONUNBUFFERED": "1", "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable}


@pytest.mark.spark
def test_spark_submit_trains_like_one_process(tmp_path):
    spark_submit = Path(sys.executable).parent / "spark-submit"
    run = tmp_path / "submitted"
    done = subprocess.run(
        [str(spark_submit), "--master", "local[2]", "--conf", "spark.driver.host=127.0.0.1",
         "--conf", "spark.ui.enabled=false", submit.__file__,
         "train", "--num-workers", "2", *TINY, "--out", str(run)],
        capture_output=True, text=True, env=loopback_env(), cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert f"run folder: {run} (step 3)" in done.stdout

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["spark"]["master"] == "local[2]"
    assert saved["spark"]["num_workers"] == 2
    # Rank 0 alone writes the run files: one event line per step, one sample grid.
    assert len((run / "events.jsonl").read_text().splitlines()) == 3
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000000003.png"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["spark_master"] == "local[2]"
    assert metrics["world_size"] == 2
    assert metrics["modes_total"] == 10

    # Two ranks at batch 4 each end where one process at batch 8 ends, BatchNorm in G and D included.
    api.train(overrides=TINY + ["eval.at_end=false"], out=str(tmp_path / "single"), progress=False)
    expected = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "single" / "checkpoints"))
    state = ckpt.load_checkpoint(ckpt.latest_checkpoint(run / "checkpoints"))
    for part in ("G", "D", "G_ema"):
        for key, value in expected[part].items():
            torch.testing.assert_close(state[part][key], value, atol=1e-5, rtol=1e-4, msg=f"{part}.{key}")


def test_spark_flags_become_settings(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sparkgan", "train", "--spark-master", "local[3]", "--num-workers", "3",
         "train.batch_size=64", "--dry-run"],
        capture_output=True, text=True, env=loopback_env(),
    )
    assert done.returncode == 2
    assert "train.batch_size" in done.stderr
    assert "spark.num_workers=3" in done.stderr

    done = subprocess.run(
        [sys.executable, "-m", "sparkgan", "train", "--spark-master", "local[3]", "--num-workers", "3",
         "train.batch_size=63", "--dry-run"],
        capture_output=True, text=True, env=loopback_env(),
    )
    assert done.returncode == 0, done.stderr
    printed = yaml.safe_load(done.stdout)
    assert printed["spark"]["master"] == "local[3]"
    assert printed["spark"]["num_workers"] == 3


def test_core_imports_without_pyspark():
    # The core, the CLI and the rank code must import where pyspark is missing.
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "import sparkgan.api, sparkgan.cli.main, sparkgan.cluster, sparkgan.spark.rank, sparkgan.spark.ddp\n"
        "print('imported')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"
