"""Training data through Spark: Parquet paths, tables and image folders, one partition per task.

The driver only plans: it reads the schema and counts rows per partition.
Executors read the data, decode every image with the one conversion rule
of :mod:`sparkgan.data.tables`, and TorchDistributor streams each partition
to its barrier task, so no row passes through the driver.

Rows go to partitions by a hash of their content (``xxhash64`` of the
image bytes or the point), and each partition is sorted by that hash. A
rank's rows and their order therefore do not depend on how the input is
split into files. Equal rows share a hash and are interchangeable.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
from pyspark import Accumulator
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkgan.config import DataConfig
from sparkgan.data import DataError
from sparkgan.data.images import IMAGE_SUFFIXES
from sparkgan.data.tables import convert_images, convert_points

log = logging.getLogger(__name__)

# Datasets that Spark reads; the others are built in and each rank builds its own copy.
SPARK_DATASETS = frozenset({"parquet", "folder"})


@dataclass(frozen=True)
class TrainingFrame:
    """The prepared training data of a job and what the driver learned while planning it."""

    frame: DataFrame
    rows_per_partition: list[int]
    skipped: Accumulator

    @property
    def rows(self) -> int:
        return sum(self.rows_per_partition)


def read_source(spark: SparkSession, data: DataConfig) -> tuple[DataFrame, str, Column]:
    """Return the source DataFrame, its value column and a row name for messages.

    Raises:
        DataError: for a missing path or table, or a column of the wrong type.
    """
    try:
        if data.name == "folder":
            frame = (
                spark.read.format("binaryFile")
                .option("recursiveFileLookup", "true")
                .load(data.path)
                .filter(F.lower(F.col("path")).rlike(_suffix_pattern()))
            )
            return frame, "content", F.concat(F.lit("file "), F.col("path"))
        frame = spark.table(data.table) if data.table else spark.read.parquet(data.path)
    except AnalysisException as error:
        where = f"data.table={data.table!r}" if data.table else f"data.path={data.path!r}"
        raise DataError(f"cannot read {where}: {str(error).splitlines()[0]}") from None

    where = f"table {data.table}" if data.table else f"Parquet data {data.path}"
    _check_column(frame.schema, data.column, data.kind, where)
    if data.table:
        name = F.lit(f"a row of column '{data.column}' in {where}")
    else:
        name = F.concat(F.lit(f"a row of column '{data.column}' in "), F.input_file_name())
    return frame, data.column, name


def _suffix_pattern() -> str:
    suffixes = "|".join(sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES))
    return rf"\.({suffixes})$"


def _check_column(schema: T.StructType, column: str, kind: str, where: str) -> None:
    if column not in schema.fieldNames():
        raise DataError(f"{where} has no column '{column}' (data.column); its columns are {', '.join(schema.fieldNames())}")
    data_type = schema[column].dataType
    if kind == "image" and not isinstance(data_type, T.BinaryType):
        raise DataError(
            f"column '{column}' of {where} is {data_type.simpleString()}, but data.kind=image needs encoded image "
            "bytes (binary). Set data.column to the image bytes column, or data.kind=points for arrays of 2 numbers"
        )
    if kind == "points" and not (
        isinstance(data_type, T.ArrayType) and isinstance(data_type.elementType, T.NumericType)
    ):
        raise DataError(
            f"column '{column}' of {where} is {data_type.simpleString()}, but data.kind=points needs arrays of 2 "
            "numbers. Set data.column to such a column, or data.kind=image for encoded image bytes"
        )


def training_frame(spark: SparkSession, data: DataConfig, partitions: int, rows_per_partition: int) -> TrainingFrame:
    """Plan the training DataFrame: ``partitions`` partitions of converted rows.

    ``rows_per_partition`` is the fewest rows one partition must have (its
    tasks' share of one global batch).

    Raises:
        DataError: for unreadable data, or a partition with fewer rows than
            it needs; the message gives every partition's row count.
    """
    source, column, name = read_source(spark, data)
    keyed = source.select(F.xxhash64(F.col(column)).alias("key"), F.col(column).alias("value"), name.alias("name"))

    # The partition of a row is pmod(hash(key), n), the expression behind
    # repartition(n, "key"), so these counts are those of the partitions below.
    partition = F.expr(f"pmod(hash(key), {partitions})").alias("partition")
    counted = {row["partition"]: row["count"] for row in keyed.groupBy(partition).count().collect()}
    counts = [int(counted.get(index, 0)) for index in range(partitions)]
    if sum(counts) == 0:
        raise DataError(f"the training data ({_describe(data)}) has no rows")
    if min(counts) < rows_per_partition:
        raise DataError(
            f"the training data ({_describe(data)}) has {sum(counts)} rows, split by content hash into "
            f"{partitions} partitions of {counts} rows; each needs at least {rows_per_partition} "
            "(its share of train.batch_size). Add data, or lower train.batch_size or spark.num_workers"
        )

    skipped = spark.sparkContext.accumulator(0)
    convert = functools.partial(_convert_partition, data.kind, data.channels, data.resolution, data.skip_bad, skipped)
    frame = (
        keyed.repartition(partitions, "key")
        .sortWithinPartitions("key")
        .mapInPandas(convert, schema="key long, x binary")
    )
    return TrainingFrame(frame, counts, skipped)


def _describe(data: DataConfig) -> str:
    if data.table:
        return f"data.table={data.table}"
    return f"data.path={data.path}"


def _convert_partition(
    kind: str,
    channels: int | None,
    resolution: int | None,
    skip_bad: bool,
    skipped: Accumulator,
    batches: Iterator[pd.DataFrame],
) -> Iterator[pd.DataFrame]:
    """Convert cells to float32 training arrays on an executor, keeping row order."""
    for batch in batches:
        names = batch["name"].tolist()
        keys = batch["key"].to_numpy()
        if kind == "points":
            arrays = convert_points(batch["value"].tolist(), names)
            kept = np.arange(len(batch))
        else:
            arrays, kept_list, errors = convert_images(
                batch["value"].tolist(), names, channels=channels, resolution=resolution, skip_bad=skip_bad
            )
            kept = np.asarray(kept_list, dtype=np.int64)
            if errors:
                skipped.add(len(errors))
                log.warning("skipped %d undecodable images, first: %s", len(errors), errors[0])
        yield pd.DataFrame({"key": keys[kept], "x": [array.tobytes() for array in arrays]})
