"""Evaluation and sampling on Spark executors, and training followed by evaluation.

:mod:`sparkgan.eval.shards` defines what to compute on a slice of a sample
stream; :mod:`sparkgan.spark.jobs` runs it over index ranges on executors.
This module sits beside :mod:`sparkgan.api`, above both packages, and
imports pyspark only inside its functions, so importing it needs no Spark.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkgan.eval import load_generator
from sparkgan.eval.evaluate import write_metrics
from sparkgan.train import RunPlan

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def _session(master: str | None, conf: dict, spark: SparkSession | None) -> SparkSession:
    from sparkgan.spark.session import spark_session

    if spark is not None:
        return spark
    if not master:
        raise ValueError("a Spark master is needed: pass --spark-master, for example 'local[2]'")
    return spark_session(master, conf)


def train_and_evaluate_on_spark(plan: RunPlan, progress: bool = True) -> tuple[Path, int, dict[str, Any] | None]:
    """Train the planned run on Spark, then evaluate it there when ``eval.at_end`` is set.

    Returns ``(run folder, step reached, metrics or None)``.
    """
    from sparkgan.spark.launch import train_on_spark

    config = plan.config
    session = _session(config.spark.master, config.spark.conf, None)
    result = train_on_spark(plan, spark=session, progress=progress)
    metrics = None
    if result.step >= config.train.steps and config.eval.at_end:
        metrics = evaluate_on_spark(result.run_dir, spark=session)
    return result.run_dir, result.step, metrics


def evaluate_on_spark(
    run_dir: str | os.PathLike,
    master: str | None = None,
    num_samples: int | None = None,
    seed: int | None = None,
    spark: SparkSession | None = None,
) -> dict[str, Any]:
    """Score a run's G_ema on executors and write ``RUN/metrics.json``.

    The metrics equal those of :func:`sparkgan.eval.evaluate_run` for the
    same samples and seed, up to floating-point rounding.
    """
    from sparkgan.eval import shards
    from sparkgan.spark.jobs import index_ranges, map_index_ranges

    run_dir = Path(run_dir)
    G, config, step = load_generator(run_dir)
    count = num_samples or config.eval.num_samples
    seed = config.train.seed if seed is None else seed
    session = _session(master, config.spark.conf, spark)
    partitions = config.spark.partitions or session.sparkContext.defaultParallelism
    used = len(index_ranges(count, partitions))
    log.info("evaluating %s at step %d on %d samples in %d Spark partitions", run_dir, step, count, used)

    payload = shards.make_payload(G, config)
    work = functools.partial(shards.shard_statistics, seed=seed, batch_size=config.eval.batch_size)
    parts = [shards.load_statistics(data) for data in map_index_ranges(session, count, partitions, work, payload)]
    stats = shards.merge_statistics(parts)

    metrics: dict[str, Any] = {"step": step, "dataset": config.data.name, "num_samples": count, "seed": seed}
    scores = shards.metrics_from_statistics(config, stats, payload)
    if not scores:
        log.warning("no built-in metrics for data.name=%s; metrics.json records the sample count only",
                    config.data.name)
    metrics.update(scores)
    metrics.update({"world_size": used, "spark_master": session.sparkContext.master})
    write_metrics(run_dir, metrics)
    return metrics


def sample_on_spark(
    run_dir: str | os.PathLike,
    count: int,
    output: str,
    master: str | None = None,
    seed: int = 0,
    spark: SparkSession | None = None,
) -> str:
    """Generate ``count`` samples of a run's G_ema on executors into a Parquet folder.

    Row i contains sample i of ``seed``, the same sample as ``sparkgan sample``
    writes: columns ``index``, ``seed`` and ``image`` (PNG bytes) or
    ``point`` (two floats).

    Raises:
        FileExistsError: when ``output`` exists.
    """
    from sparkgan.eval import shards
    from sparkgan.spark.jobs import write_index_ranges

    G, config, _ = load_generator(run_dir)
    session = _session(master, config.spark.conf, spark)
    partitions = config.spark.partitions or session.sparkContext.defaultParallelism
    column = "point array<float>" if config.data.kind == "points" else "image binary"
    work = functools.partial(shards.sample_rows, seed=seed, batch_size=config.eval.batch_size)
    write_index_ranges(session, count, partitions, work, shards.make_payload(G, config, for_metrics=False),
                       f"index long, seed long, {column}", output)
    return output

