"""Generation and evaluation on executors: the same samples and metrics as in one process."""

import io
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from sparkgan import api, cluster
from sparkgan.data.images import decode_image, to_training_array
from sparkgan.metrics.quantize import quantize_8bit
from sparkgan.spark.jobs import index_ranges

pytestmark = pytest.mark.spark

TINY = ["model.width=8", "model.z_dim=8", "train.batch_size=16", "train.steps=2", "train.threads=1",
        "eval.at_end=false", "eval.batch_size=128"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("jobs") / "digits"
    api.train(overrides=TINY, out=str(run), progress=False)
    return run


def test_index_ranges_cover_stream():
    assert index_ranges(10, 3) == [(0, 4), (4, 3), (7, 3)]
    assert index_ranges(2, 5) == [(0, 1), (1, 1)]
    assert index_ranges(7, 1) == [(0, 7)]


def assert_same_metrics(local, distributed):
    assert distributed.keys() == local.keys()
    for key, value in local.items():
        if key in ("world_size", "spark_master"):
            continue
        if isinstance(value, float) and math.isfinite(value):
            assert distributed[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
        else:
            assert distributed[key] == value, key


def test_digits_metrics_equal_local(local_spark, digits_run):
    local = api.evaluate(digits_run, num_samples=700, seed=5)
    distributed = cluster.evaluate_on_spark(digits_run, num_samples=700, seed=5, spark=local_spark)
    assert_same_metrics(local, distributed)
    assert local["world_size"] == 1
    assert local["spark_master"] is None
    assert distributed["world_size"] == 2
    assert distributed["spark_master"] == "local[2]"
    assert distributed["fd"] > 0


def test_ring_metrics_equal_local(local_spark, tmp_path):
    run = tmp_path / "ring"
    api.train(overrides=["data.name=ring", "model.width=16", "train.batch_size=64", "train.steps=20",
                         "train.threads=1", "eval.at_end=false"], out=str(run), progress=False)
    local = api.evaluate(run, num_samples=900, seed=1)
    distributed = cluster.evaluate_on_spark(run, num_samples=900, seed=1, spark=local_spark)
    assert_same_metrics(local, distributed)


def test_parquet_samples_equal_local(local_spark, digits_run, tmp_path):
    api.sample(digits_run, 9, tmp_path / "local.npy", seed=3)
    expected = quantize_8bit(np.load(tmp_path / "local.npy"))
    output = str(tmp_path / "samples.parquet")
    cluster.sample_on_spark(digits_run, 9, output, seed=3, spark=local_spark)

    table = pq.read_table(output).to_pandas().sort_values("index")
    assert table["index"].tolist() == list(range(9))
    assert set(table["seed"]) == {3}
    for index, image in zip(table["index"], table["image"]):
        decoded = to_training_array(decode_image(image), channels=1, resolution=8)
        np.testing.assert_allclose(decoded, expected[index], atol=1e-6)

    with pytest.raises(FileExistsError, match="already exists"):
        cluster.sample_on_spark(digits_run, 9, output, seed=3, spark=local_spark)


def test_local_parquet_samples(digits_run, tmp_path):
    path = api.sample(digits_run, 4, tmp_path / "rows.parquet", seed=3)
    table = pq.read_table(path).to_pandas()
    assert table["index"].tolist() == [0, 1, 2, 3]
    assert all(image[:8] == b"\x89PNG\r\n\x1a\n" for image in table["image"])
    with pytest.raises(ValueError, match="must be a .parquet folder"):
        api.sample(digits_run, 4, tmp_path / "grid.png", seed=3, spark_master="local[2]")
