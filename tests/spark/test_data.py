"""Training data through Spark: Parquet paths, tables and image folders split into rank partitions."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.sql import functions as F

from sparkgan.config import load_config
from sparkgan.data import DataError
from sparkgan.data.images import load_image_folder
from sparkgan.data.tables import load_parquet_column
from sparkgan.spark.data import training_frame
from sparkgan.train import resolve_config

pytestmark = pytest.mark.spark


def png(seed, size=(10, 12)):
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def data_config(*overrides):
    return resolve_config(load_config(overrides=list(overrides))).data


def rows_by_key(training):
    """Return {partition: [(key, array bytes), ...]} of a prepared frame, in partition order."""
    rows = training.frame.withColumn("partition", F.spark_partition_id()).collect()
    parts = {}
    for row in rows:
        parts.setdefault(row["partition"], []).append((row["key"], bytes(row["x"])))
    return parts


def test_parquet_path_splits_by_content(local_spark, tmp_path):
    images = [png(i) for i in range(12)]
    pq.write_table(pa.table({"image": images[:7]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"image": images[7:]}), tmp_path / "b.parquet")
    config = data_config("data.name=parquet", f"data.path={tmp_path}", "data.resolution=8", "data.channels=1")

    training = training_frame(local_spark, config, partitions=2, rows_per_partition=1)
    assert training.rows == 12
    parts = rows_by_key(training)
    # The planner's counts are the partitions' sizes, and each partition is sorted by key.
    assert [len(parts.get(p, [])) for p in range(2)] == training.rows_per_partition
    for rows in parts.values():
        assert [key for key, _ in rows] == sorted(key for key, _ in rows)

    # Executors convert by the one rule: the same arrays as the in-process reader.
    expected = load_parquet_column(str(tmp_path), "image", kind="image", channels=1, resolution=8, progress=False)
    converted = [np.frombuffer(x, np.float32).reshape(1, 8, 8) for rows in parts.values() for _, x in rows]
    assert sorted(a.tobytes() for a in converted) == sorted(a.tobytes() for a in expected)


def test_image_folder_through_binary_files(local_spark, tmp_path):
    (tmp_path / "nested").mkdir()
    for i in range(5):
        (tmp_path / ("nested" if i % 2 else ".") / f"img{i}.png").write_bytes(png(i))
    (tmp_path / "notes.txt").write_text("not an image")
    config = data_config("data.name=folder", f"data.path={tmp_path}", "data.resolution=8", "data.channels=3")

    training = training_frame(local_spark, config, partitions=2, rows_per_partition=1)
    assert training.rows == 5
    converted = [np.frombuffer(x, np.float32) for rows in rows_by_key(training).values() for _, x in rows]
    expected, _ = load_image_folder(tmp_path, channels=3, resolution=8, progress=False)
    assert sorted(a.tobytes() for a in converted) == sorted(a.reshape(-1).tobytes() for a in expected)


def test_table_of_points(local_spark, tmp_path):
    frame = local_spark.createDataFrame([([float(i), -float(i)],) for i in range(8)], "xy array<double>")
    frame.createOrReplaceTempView("points_for_test")
    config = data_config("data.name=parquet", "data.table=points_for_test", "data.column=xy", "data.kind=points",
                         "spark.master=local[2]")
    training = training_frame(local_spark, config, partitions=2, rows_per_partition=1)
    points = sorted(tuple(np.frombuffer(x, np.float32)) for rows in rows_by_key(training).values() for _, x in rows)
    assert points == [(float(i), -float(i)) for i in range(8)]


def test_bad_data_names_setting(local_spark, tmp_path):
    pq.write_table(pa.table({"image": [png(0), png(1)], "label": [1, 2]}), tmp_path / "t.parquet")
    base = ["data.name=parquet", f"data.path={tmp_path / 't.parquet'}", "data.resolution=8"]

    with pytest.raises(DataError, match="no column 'pixels'.*image, label"):
        training_frame(local_spark, data_config(*base, "data.column=pixels"), 2, 1)
    with pytest.raises(DataError, match="column 'label' .* is bigint, but data.kind=image"):
        training_frame(local_spark, data_config(*base, "data.column=label"), 2, 1)
    with pytest.raises(DataError, match=r"2 rows, split by content hash into 2 partitions of \[\d, \d\] rows; each needs "
                                        r"at least 4"):
        training_frame(local_spark, data_config(*base), 2, 4)
    with pytest.raises(DataError, match="cannot read data.table='absent_table'"):
        training_frame(local_spark, data_config("data.name=parquet", "data.table=absent_table",
                                                "spark.master=local[2]"), 2, 1)
