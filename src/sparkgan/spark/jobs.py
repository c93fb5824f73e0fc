"""Spark jobs over index ranges: run a function on each slice of 0 .. total on executors.

Generation and evaluation split a sample stream into contiguous ranges, one
per partition. A payload (a generator's weights, for example) travels once
per executor as a broadcast variable. The functions come from the caller,
so this module has no GAN-specific code.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator

import pandas as pd
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def index_ranges(total: int, partitions: int) -> list[tuple[int, int]]:
    """Split 0 .. total into ``partitions`` contiguous ``(start, count)`` ranges, sizes differing by at most 1."""
    partitions = max(1, min(partitions, total))
    base, extra = divmod(total, partitions)
    ranges, start = [], 0
    for index in range(partitions):
        count = base + (1 if index < extra else 0)
        ranges.append((start, count))
        start += count
    return ranges


def _ranges_frame(
    spark: SparkSession,
    total: int,
    partitions: int,
    function: Callable[[bytes, int, int], pd.DataFrame],
    payload: bytes,
    schema: str,
) -> DataFrame:
    ranges = index_ranges(total, partitions)
    shared = spark.sparkContext.broadcast(payload)

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for index in batch["id"]:
                start, count = ranges[int(index)]
                yield function(shared.value, start, count)

    return spark.range(0, len(ranges), numPartitions=len(ranges)).mapInPandas(run, schema=schema)


def map_index_ranges(
    spark: SparkSession,
    total: int,
    partitions: int,
    function: Callable[[bytes, int, int], bytes],
    payload: bytes,
) -> list[bytes]:
    """Return ``function(payload, start, count)`` of every range, in range order.

    Each result travels to the driver, so it should be small (statistics,
    not samples).
    """

    def as_row(shared: bytes, start: int, count: int) -> pd.DataFrame:
        return pd.DataFrame({"start": [start], "result": [function(shared, start, count)]})

    frame = _ranges_frame(spark, total, partitions, as_row, payload, "start long, result binary")
    rows = frame.collect()
    return [row["result"] for row in sorted(rows, key=lambda row: row["start"])]


def write_index_ranges(
    spark: SparkSession,
    total: int,
    partitions: int,
    function: Callable[[bytes, int, int], pd.DataFrame],
    payload: bytes,
    schema: str,
    output: str,
) -> None:
    """Write the rows that ``function(payload, start, count)`` returns for every range as Parquet.

    Raises:
        FileExistsError: when ``output`` already exists; nothing is overwritten.
    """
    frame = _ranges_frame(spark, total, partitions, function, payload, schema)
    try:
        frame.write.mode("errorifexists").parquet(output)
    except AnalysisException as error:
        if "PATH_ALREADY_EXISTS" in str(error) or "already exists" in str(error):
            raise FileExistsError(f"cannot write samples to {output}: it already exists; choose another -o") from None
        raise
