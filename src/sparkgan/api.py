"""Library entry points behind the command line: train, evaluate, sample.

Each CLI command calls one function here, so a test or a notebook can do
exactly what the command does.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparkgan.eval import evaluate_run, generate, load_generator
from sparkgan.train import RunPlan, Trainer, plan_new_run, plan_resume, prepare_run_dir
from sparkgan.train import checkpoint as ckpt
from sparkgan.viz import image_grid, save_png, scatter_plot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    step: int
    metrics: dict[str, Any] | None
    stopped: str | None = None


def plan_training(
    config_file: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    out: str | None = None,
    resume: str | None = None,
    allow_config_change: bool = False,
) -> RunPlan:
    """Validate everything about a training request before any work starts."""
    if resume:
        return plan_resume(resume, config_file, list(overrides), allow_config_change)
    return plan_new_run(config_file, list(overrides), out)


def run_training(plan: RunPlan, *, stop_at: int | None = None, progress: bool = True) -> TrainResult:
    """Train as planned, then evaluate when ``eval.at_end`` is set.

    Training runs in this process, or data-parallel on Spark when the
    config names ``spark.master``.

    Raises:
        ValueError: for ``stop_at`` with a Spark master, which trains to ``train.steps``.
    """
    if plan.config.spark.master:
        if stop_at is not None:
            raise ValueError("stop_at is not available on Spark; lower train.steps instead")
        from sparkgan import cluster

        return TrainResult(*cluster.train_and_evaluate_on_spark(plan, progress=progress))
    prepare_run_dir(plan)
    trainer = Trainer(plan.config, plan.run_dir, progress=progress)
    if plan.checkpoint is not None:
        trainer.load_state_dict(ckpt.load_checkpoint(plan.checkpoint))
        log.info("resumed %s from step %d", plan.run_dir, trainer.step)
    trainer.run(stop_at=stop_at)

    metrics = None
    if trainer.stopped is None and trainer.step >= plan.config.train.steps and plan.config.eval.at_end:
        metrics = evaluate_run(plan.run_dir)
    return TrainResult(plan.run_dir, trainer.step, metrics, trainer.stopped)


def train(
    config_file: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    out: str | None = None,
    resume: str | None = None,
    allow_config_change: bool = False,
    stop_at: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Plan and run training; see :func:`plan_training` and :func:`run_training`."""
    plan = plan_training(config_file, overrides, out, resume, allow_config_change)
    return run_training(plan, stop_at=stop_at, progress=progress)


def evaluate(
    run_dir: str | os.PathLike, num_samples: int | None = None, seed: int | None = None, spark_master: str | None = None
) -> dict[str, Any]:
    """Score a run's G_ema and write ``RUN/metrics.json``, on Spark executors when ``spark_master`` is given."""
    if spark_master:
        from sparkgan import cluster

        return cluster.evaluate_on_spark(run_dir, spark_master, num_samples=num_samples, seed=seed)
    return evaluate_run(run_dir, num_samples=num_samples, seed=seed)


def sample(
    run_dir: str | os.PathLike, count: int, output: str | os.PathLike, seed: int = 0, spark_master: str | None = None
) -> Path | str:
    """Write ``count`` samples of a run's G_ema to a ``.png`` grid, a ``.npy`` array or a ``.parquet`` table.

    With ``spark_master``, executors generate the samples into a Parquet
    folder (a local path or a URI, returned as given), one row per sample;
    ``.parquet`` without a master writes one file in this process.

    Raises:
        ValueError: for an output suffix other than .png, .npy or .parquet,
            or other than .parquet with a Spark master.
        FileExistsError: for a Parquet output that exists.
    """
    target = os.fspath(output)  # a URI such as hdfs://... must keep its double slash for Spark
    output = Path(output)
    suffix = output.suffix.lower()
    if spark_master:
        if suffix != ".parquet":
            raise ValueError(f"cannot write samples to {output}: on Spark the output must be a .parquet folder")
        from sparkgan import cluster

        return cluster.sample_on_spark(run_dir, count, target, spark_master, seed=seed)
    if suffix not in (".png", ".npy", ".parquet"):
        raise ValueError(f"cannot write samples to {output}: the file name must end in .png, .npy or .parquet")
    if suffix == ".parquet":
        return _sample_parquet(run_dir, count, output, seed)
    G, config, _ = load_generator(run_dir)
    samples = generate(G, count, seed, config.eval.batch_size)
    output.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        tmp = output.with_name(output.name + ".tmp.npy")
        np.save(tmp, samples)
        os.replace(tmp, output)
    elif samples.ndim == 2:
        save_png(scatter_plot(samples), output)
    else:
        save_png(image_grid(samples), output)
    return output


def _sample_parquet(run_dir: str | os.PathLike, count: int, output: Path, seed: int) -> Path:
    try:
        from sparkgan.eval import shards
    except ImportError as exc:  # pandas and pyarrow come with the spark extra
        raise ValueError(f"writing {output} needs pandas and pyarrow: pip install 'sparkgan[spark]' ({exc})") from None

    if output.exists():
        raise FileExistsError(f"cannot write samples to {output}: it already exists; choose another -o")
    G, config, _ = load_generator(run_dir)
    rows = shards.sample_rows(shards.make_payload(G, config, for_metrics=False), 0, count, seed, config.eval.batch_size)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    rows.to_parquet(tmp, index=False)
    os.replace(tmp, output)
    return output
