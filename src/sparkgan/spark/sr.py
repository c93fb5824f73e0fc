"""Upscale tables of images on Spark executors.

Two entry points share one pandas function run by ``mapInPandas``:

- :func:`upscale_table` reads a folder of images (Spark's ``binaryFile``
  source) or a Parquet table with a binary column of encoded images, and
  writes a folder of PNG files or a Parquet table with an added column of
  PNG bytes. ``sparkgan sr upscale --spark-master`` calls it.
- :class:`SuperResolver`, a Spark ML ``Transformer`` that adds a column of
  upscaled PNG bytes to any DataFrame with a column of encoded images, for use
  in a ``Pipeline``.

Each Python worker loads the model once (:func:`sparkgan.sr.model_io.cached_model`)
and reuses it for every task it runs. The model file is read by the executors,
so it must be on storage that every executor can reach (any path on a local or
``local-cluster`` master). Rows reach the function in Arrow batches of
``spark.sql.execution.arrow.maxRecordsPerBatch`` rows. The function returns
``rows_per_batch`` rows at a time, so a worker keeps at most that many
upscaled images in memory.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote, urlparse

import pandas as pd
from pyspark import keyword_only
from pyspark.errors import PySparkException
from pyspark.ml import Transformer
from pyspark.ml.param.shared import HasInputCol, HasOutputCol, Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, BooleanType, IntegerType, StringType, StructField, StructType

from sparkgan.data.images import IMAGE_SUFFIXES, DataError
from sparkgan.sr.upscale import DEFAULT_TILE, TileSettings

log = logging.getLogger(__name__)

ROWS_PER_BATCH = 8
# The Arrow batch size the table job sets, so a batch of encoded images stays small.
ARROW_RECORDS_PER_BATCH = 64
_SUFFIX_PATTERN = "(?i)\\.(" + "|".join(sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)) + ")$"


class SparkUpscaleError(RuntimeError):
    """A Spark upscaling job that failed; the message carries the worker's error."""


# The function that runs on the executors -------------------------------------------

def upscale_batches_function(
    model_path: str,
    input_col: str | None,
    output_col: str,
    settings: TileSettings,
    rows_per_batch: int = ROWS_PER_BATCH,
    name_col: str | None = None,
    model_loads=None,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Build the ``mapInPandas`` function that adds ``output_col`` (PNG bytes) to each row.

    The encoded image is the bytes in ``input_col``, or with ``input_col``
    None, the file that the ``path`` column names. A null input gives a null
    output. ``model_loads``, a Spark accumulator, counts the model loads over
    all workers.
    """

    def upscale_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from sparkgan.sr.model_io import cached_model
        from sparkgan.sr.upscale import upscale_bytes

        model, loaded = cached_model(model_path)
        if loaded and model_loads is not None:
            model_loads.add(1)
        for batch in batches:
            for start in range(0, len(batch), rows_per_batch):
                rows = batch.iloc[start:start + rows_per_batch].copy()
                names = rows[name_col] if name_col in rows else rows.index.astype(str)
                encoded = rows[input_col] if input_col else [read_file(path) for path in rows["path"]]
                rows[output_col] = [
                    None if data is None else upscale_bytes(model, bytes(data), str(name), settings)
                    for data, name in zip(encoded, names)
                ]
                yield rows

    return upscale_batches


def local_path(path: str) -> Path:
    """Return the file system path of a ``file:`` URI (as ``binaryFile`` gives) or a plain path."""
    if path.startswith("file:"):
        return Path(unquote(urlparse(path).path))
    return Path(path)


def read_file(path: str) -> bytes:
    """Read the file a ``path`` value names, raising DataError with the path if that fails."""
    try:
        return local_path(path).read_bytes()
    except OSError as error:
        raise DataError(f"failed to read image file {path}: {error}") from error


def write_files_function(
    model_path: str,
    output_dir: str,
    settings: TileSettings,
    skip_existing: bool,
    model_loads=None,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Build the ``mapInPandas`` function that writes each row's upscaled PNG under ``output_dir``.

    Input rows have ``path``, ``name`` (the output path relative to
    ``output_dir``) and ``content``, which is null when the file at ``path``
    is to be read. Output rows have ``path``, ``output`` and ``written``
    (false for a skipped existing file). Files are written atomically, so a
    retried task rewrites them safely.
    """

    def write_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from sparkgan.sr.model_io import cached_model
        from sparkgan.sr.upscale import upscale_bytes

        model, loaded = cached_model(model_path)
        if loaded and model_loads is not None:
            model_loads.add(1)
        for batch in batches:
            outputs, written = [], []
            for path, name, data in zip(batch["path"], batch["name"], batch["content"]):
                target = Path(output_dir) / name
                outputs.append(str(target))
                if skip_existing and target.exists():
                    written.append(False)
                    continue
                encoded = read_file(path) if data is None else bytes(data)
                png = upscale_bytes(model, encoded, str(path), settings)
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
                tmp.write_bytes(png)
                os.replace(tmp, target)
                written.append(True)
            yield pd.DataFrame({"path": batch["path"], "output": outputs, "written": written})

    return write_batches


# The table job -----------------------------------------------------------------------

@dataclass(frozen=True)
class TableUpscaleReport:
    """Counts and timing of one table job."""

    rows: int
    written: int
    skipped: int
    model_loads: int
    seconds: float
    output: str


def is_parquet(path: str | os.PathLike) -> bool:
    """Return whether ``path`` names a Parquet table: a ``.parquet`` path or a folder of Parquet parts."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return True
    return path.is_dir() and any(part.suffix == ".parquet" for part in path.iterdir() if part.is_file())


def _read_images(spark: SparkSession, source: str, input_col: str) -> DataFrame:
    """Read a Parquet table, or list a folder of images as rows of ``path``.

    Image files are read by the executors rather than by Spark's
    ``binaryFile`` source, so spreading rows over tasks moves paths, not image
    bytes.
    """
    if is_parquet(source):
        table = spark.read.parquet(source)
        if input_col not in table.columns:
            raise DataError(
                f"Parquet table {source} has no column {input_col!r} of encoded images "
                f"(columns: {', '.join(table.columns)}): name it with --input-column"
            )
        if not isinstance(table.schema[input_col].dataType, BinaryType):
            raise DataError(f"column {input_col!r} of {source} must be binary (encoded image files), "
                            f"not {table.schema[input_col].dataType.simpleString()}")
        return table
    if not Path(source).is_dir():
        raise DataError(f"input {source} not found: give a folder of images or a Parquet table")
    return (
        spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(source)
        .where(F.col("path").rlike(_SUFFIX_PATTERN))
        .select("path")
    )


def _relative_png_name(source_root: str, from_folder: bool) -> Callable[[str], str]:
    root = Path(source_root).resolve()

    # No type hints: PySpark's udf() warns when it cannot read postponed (string) annotations.
    def name(path):
        local = local_path(path)
        if from_folder:
            return local.relative_to(root).with_suffix(".png").as_posix()
        return local.with_suffix(".png").name

    return name


def upscale_table(
    spark: SparkSession,
    model_path: str | os.PathLike,
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    settings: TileSettings = TileSettings(),
    input_col: str = "content",
    output_col: str = "upscaled",
    partitions: int | None = None,
    existing: str = "error",
) -> TableUpscaleReport:
    """Upscale every image of a folder or Parquet table into a folder of PNGs or a Parquet table.

    A Parquet output keeps every column of a Parquet input (a folder input
    gives ``path``) and adds ``output_col`` with PNG bytes. A folder output
    gets one PNG per row, named by the row's path relative to the input
    folder (or the file name in a Parquet ``path`` column). ``partitions``
    (default: the session's default parallelism) is the minimum number of
    tasks that the rows are spread over.

    Raises:
        DataError: for missing inputs or columns, outputs that exist already
            (``existing="error"``), or two rows that would write the same file.
        SparkUpscaleError: when the Spark job fails, with the worker's error.
    """
    from sparkgan.sr.model_io import resolve_model_path

    model_file = str(resolve_model_path(model_path).resolve())
    source, output = str(source), str(output)
    started = time.perf_counter()
    from_folder = not is_parquet(source)
    rows = _read_images(spark, source, input_col)
    wanted = partitions or spark.sparkContext.defaultParallelism
    if rows.rdd.getNumPartitions() < wanted:
        rows = rows.repartition(wanted)
    loads = spark.sparkContext.accumulator(0)

    if Path(output).suffix.lower() == ".parquet":
        if Path(output).exists() and existing != "overwrite":
            raise DataError(f"output table {output} exists already: pass --overwrite to replace it")
        if output_col in rows.columns:
            raise DataError(f"input already has a column {output_col!r}: choose another output column")
        schema = StructType(rows.schema.fields + [StructField(output_col, BinaryType(), True)])
        function = upscale_batches_function(model_file, None if from_folder else input_col, output_col, settings,
                                            name_col="path", model_loads=loads)
        _run_job(lambda: rows.mapInPandas(function, schema).write.mode("overwrite").parquet(output))
        total = spark.read.parquet(output).count()
        return TableUpscaleReport(total, total, 0, loads.value, time.perf_counter() - started, output)

    _check_output_folder(output, existing)
    if "path" not in rows.columns:
        raise DataError(f"{source} has no 'path' column to name the output files: write to a .parquet output instead")
    namer = F.udf(_relative_png_name(source, from_folder), StringType())
    content = F.lit(None).cast(BinaryType()) if from_folder else F.col(input_col)
    named = rows.select("path", namer("path").alias("name"), content.alias("content"))
    _check_unique_names(named)
    schema = StructType([StructField("path", StringType()), StructField("output", StringType()),
                         StructField("written", BooleanType())])
    function = write_files_function(model_file, output, settings, existing == "skip", model_loads=loads)
    counts = _run_job(
        lambda: named.mapInPandas(function, schema)
        .agg(F.count("*").alias("rows"), F.sum(F.col("written").cast(IntegerType())).alias("written"))
        .collect()[0]
    )
    total, written = int(counts["rows"]), int(counts["written"] or 0)
    return TableUpscaleReport(total, written, total - written, loads.value, time.perf_counter() - started, output)


def _check_output_folder(output: str, existing: str) -> None:
    folder = Path(output)
    if existing == "error" and folder.is_dir() and any(folder.rglob("*.png")):
        raise DataError(
            f"output folder {output} contains PNG files already: pass --skip-existing to resume "
            "or --overwrite to replace them"
        )


def _check_unique_names(named: DataFrame) -> None:
    clashes = named.groupBy("name").agg(F.count("*").alias("n"), F.min("path").alias("example")).where("n > 1")
    found = clashes.limit(5).collect()
    if found:
        listed = ", ".join(f"{row['name']} ({row['n']} rows, such as {row['example']})" for row in found)
        raise DataError(f"several inputs would be written to the same output file: {listed}. Rename them")


def _run_job(job: Callable):
    """Run a Spark action; turn a failure into SparkUpscaleError with the worker's error message."""
    try:
        return job()
    except PySparkException as error:
        raise SparkUpscaleError(f"Spark upscaling job failed: {_worker_message(error)}") from error
    except Exception as error:  # py4j's Py4JJavaError, which PySparkException does not cover
        if type(error).__name__ != "Py4JJavaError":
            raise
        raise SparkUpscaleError(f"Spark upscaling job failed: {_worker_message(error)}") from error


def _worker_message(error: Exception) -> str:
    # Keep the Python worker's last error line (such as "DataError: failed to decode
    # image ..."); the rest of a Spark error is JVM stack frames.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    python_errors = [line for line in lines if line.startswith(("sparkgan.", "DataError", "ModelFileError"))
                     or "Error: " in line and not line.startswith("at ")]
    if python_errors:
        return python_errors[-1]
    return lines[0] if lines else type(error).__name__


# The Spark ML stage ------------------------------------------------------------------

class SuperResolver(Transformer, HasInputCol, HasOutputCol, DefaultParamsReadable, DefaultParamsWritable):
    """Spark ML ``Transformer`` that adds a column of upscaled images (PNG bytes).

    The input column contains encoded image files (binary), as Spark's
    ``binaryFile`` source gives in ``content``. Gray, gray + alpha, RGB and
    RGBA images and 16-bit PNGs keep their layout and bit depth; a null input
    gives a null output.
    """

    modelPath = Param(Params._dummy(), "modelPath", "SR model file (.safetensors) or run folder",
                      typeConverter=TypeConverters.toString)
    tileSize = Param(Params._dummy(), "tileSize", "side of the low-resolution tiles in pixels",
                     typeConverter=TypeConverters.toInt)
    tileOverlap = Param(Params._dummy(), "tileOverlap",
                        "overlap of neighbouring tiles in pixels; -1 for twice the model's receptive radius",
                        typeConverter=TypeConverters.toInt)
    alphaMethod = Param(Params._dummy(), "alphaMethod", "how alpha is upscaled: 'model' or 'bicubic'",
                        typeConverter=TypeConverters.toString)
    rowsPerBatch = Param(Params._dummy(), "rowsPerBatch", "rows upscaled before they are handed back to Spark",
                         typeConverter=TypeConverters.toInt)

    @keyword_only
    def __init__(self, *, modelPath: str | None = None, inputCol: str = "content", outputCol: str = "upscaled",
                 tileSize: int = DEFAULT_TILE, tileOverlap: int = -1, alphaMethod: str = "model",
                 rowsPerBatch: int = ROWS_PER_BATCH):
        super().__init__()
        self._setDefault(inputCol="content", outputCol="upscaled", tileSize=DEFAULT_TILE, tileOverlap=-1,
                         alphaMethod="model", rowsPerBatch=ROWS_PER_BATCH)
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, *, modelPath: str | None = None, inputCol: str = "content", outputCol: str = "upscaled",
                  tileSize: int = DEFAULT_TILE, tileOverlap: int = -1, alphaMethod: str = "model",
                  rowsPerBatch: int = ROWS_PER_BATCH) -> "SuperResolver":
        return self._set(**self._input_kwargs)

    def setModelPath(self, value: str) -> "SuperResolver":
        return self._set(modelPath=value)

    def getModelPath(self) -> str:
        return self.getOrDefault(self.modelPath)

    def _settings(self) -> TileSettings:
        overlap = self.getOrDefault(self.tileOverlap)
        alpha = self.getOrDefault(self.alphaMethod)
        if alpha not in ("model", "bicubic"):
            raise ValueError(f"invalid alphaMethod {alpha!r}: expected 'model' or 'bicubic'")
        return TileSettings(self.getOrDefault(self.tileSize), None if overlap < 0 else overlap, alpha)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from sparkgan.sr.model_io import resolve_model_path

        if not self.isDefined(self.modelPath):
            raise ValueError("SuperResolver needs modelPath: set it to an SR model file or run folder")
        input_col, output_col = self.getInputCol(), self.getOutputCol()
        if input_col not in dataset.columns:
            raise ValueError(f"input column {input_col!r} not found; columns: {', '.join(dataset.columns)}")
        if not isinstance(dataset.schema[input_col].dataType, BinaryType):
            raise ValueError(f"input column {input_col!r} must be binary (encoded image files)")
        if output_col in dataset.columns:
            raise ValueError(f"output column {output_col!r} exists already: choose another outputCol")
        model_file = str(resolve_model_path(self.getModelPath()).resolve())
        schema = StructType(dataset.schema.fields + [StructField(output_col, BinaryType(), True)])
        function = upscale_batches_function(model_file, input_col, output_col, self._settings(),
                                            self.getOrDefault(self.rowsPerBatch),
                                            name_col="path" if "path" in dataset.columns else None)
        return dataset.mapInPandas(function, schema)
