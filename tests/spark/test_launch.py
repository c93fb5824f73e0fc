"""Training as a Spark job on local-cluster: separate executor processes, failures, relaunches."""

import logging
import os
import signal

import pytest

from sparkgan.config import ConfigError
from sparkgan.spark.launch import train_on_spark
from sparkgan.spark.reports import TrainingFailedError
from sparkgan.train import checkpoint as ckpt
from sparkgan.train import plan_new_run

pytestmark = pytest.mark.spark

TINY = ["data.name=digits", "model.width=8", "model.z_dim=8", "train.batch_size=8", "train.threads=1",
        "train.log_every=1", "eval.at_end=false"]


def spark_plan(spark, tmp_path, *overrides, workers=2):
    master = spark.sparkContext.master
    return plan_new_run(None, TINY + list(overrides) + [f"spark.master={master}", f"spark.num_workers={workers}"],
                        str(tmp_path / "spark-run"))


def newest_state(folder):
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(folder))


def test_killed_worker_relaunches_from_checkpoint(cluster_spark, tmp_path, caplog):
    pids, first_steps, killed = {}, {}, []

    def observe(report):
        if report.kind == "started":
            pids[(report.attempt, report.rank)] = report.fields["pid"]
        if report.kind == "progress":
            first_steps.setdefault(report.attempt, report.fields["step"])
            if report.attempt == 1 and report.fields["step"] >= 12 and not killed:
                os.kill(pids[(1, 1)], signal.SIGKILL)
                killed.append(report.fields["step"])

    # train.log_every=1: rank 0 reports every step, so the kill lands mid-run.
    plan = spark_plan(cluster_spark, tmp_path, "train.steps=60", "train.checkpoint_every=10", "train.sample_every=1000",
                      "spark.max_attempts=2")
    with caplog.at_level(logging.WARNING, logger="sparkgan.spark.launch"):
        result = train_on_spark(plan, spark=cluster_spark, progress=False, observer=observe)

    assert killed, "rank 1 was never killed"
    assert (result.step, result.attempts) == (60, 2)
    failure = "\n".join(record.getMessage() for record in caplog.records)
    assert "rank 1 of 2" in failure
    assert "stopped without reporting an error" in failure
    assert "attempt 2 of 2 resumes from step" in failure
    # The relaunch resumed from a checkpoint written before the kill, not from step 0.
    resumed_from = first_steps[2] - 1
    assert resumed_from % 10 == 0
    assert 10 <= resumed_from <= killed[0] + 10
    assert pids[(2, 1)] != pids[(1, 1)]
    assert newest_state(tmp_path / "spark-run" / "checkpoints")["step"] == 60


def test_rank_error_reaches_driver(cluster_spark, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    plan = spark_plan(cluster_spark, tmp_path, "train.steps=6", "train.checkpoint_every=2",
                      f"train.checkpoint_dir={blocker / 'checkpoints'}")
    with pytest.raises(TrainingFailedError) as failure:
        train_on_spark(plan, spark=cluster_spark, progress=False)
    message = str(failure.value)
    assert failure.value.rank == 0
    assert message.startswith("training failed on rank 0 of 2")
    assert "attempt 1 of 1" in message
    assert "NotADirectoryError" in message or "FileExistsError" in message
    assert "save_checkpoint" in message


def test_too_few_task_slots(cluster_spark, tmp_path):
    plan = spark_plan(cluster_spark, tmp_path, "train.batch_size=9", "spark.start_timeout_s=1", workers=3)
    with pytest.raises(ConfigError, match="spark.num_workers=3 needs 3 task slots at once .* offer 2"):
        train_on_spark(plan, spark=cluster_spark, progress=False)
