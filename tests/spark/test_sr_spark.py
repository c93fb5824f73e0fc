"""Upscaling image tables on Spark: the SuperResolver stage and the table job."""

import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

pytest.importorskip("pyspark")

import torch  # noqa: E402
from pyspark.ml import Pipeline, PipelineModel  # noqa: E402

from sparkgan.data.images import DataError  # noqa: E402
from sparkgan.sr.images import read_image  # noqa: E402
from sparkgan.sr.model_io import load_model, save_model  # noqa: E402
from sparkgan.sr.nets import SRResNet  # noqa: E402
from sparkgan.sr.upscale import TileSettings, upscale_bytes  # noqa: E402
from sparkgan.spark.session import spark_session  # noqa: E402
from sparkgan.spark.sr import SparkUpscaleError, SuperResolver, upscale_table  # noqa: E402

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
                                         "spark.sql.execution.arrow.maxRecordsPerBatch": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    torch.manual_seed(0)
    generator = SRResNet(4, width=8, blocks=1, upsample_width=4)
    torch.nn.init.normal_(generator.tail.weight, std=0.2)
    return save_model(generator, tmp_path_factory.mktemp("model") / "tiny.safetensors", stage="psnr")


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _images():
    rng = np.random.default_rng(0)
    return {
        "rgb.png": _png(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)),
        "gray.png": _png(rng.integers(0, 256, (8, 7), dtype=np.uint8)),
        "rgba.png": _png(rng.integers(0, 256, (6, 10, 4), dtype=np.uint8)),
        "photo.jpg": _png(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)),
    }


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "in"
    for name, data in _images().items():
        path = folder / ("sub" if name == "photo.jpg" else "") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (folder / "notes.txt").write_text("not an image")
    return folder


def _local(model_file, data, name="x"):
    return read_image(upscale_bytes(load_model(model_file), data, name, TileSettings()))


def test_super_resolver_adds_upscaled_column(spark, tiny_model_file):
    images = _images()
    frame = pd.DataFrame({"path": list(images) + ["missing"], "content": list(images.values()) + [None]})
    table = spark.createDataFrame(frame)
    out = SuperResolver(modelPath=str(tiny_model_file)).transform(table).toPandas()
    assert list(out.columns) == ["path", "content", "upscaled"]
    for name, data, upscaled in zip(out["path"], out["content"], out["upscaled"]):
        if data is None:
            assert upscaled is None
            continue
        result, expected = read_image(bytes(upscaled)), _local(tiny_model_file, bytes(data))
        assert result.pixels.shape == expected.pixels.shape
        np.testing.assert_array_equal(result.pixels, expected.pixels)
    shapes = {name: read_image(bytes(up)).pixels.shape for name, up in zip(out["path"], out["upscaled"]) if up}
    assert shapes["gray.png"] == (32, 28, 1)
    assert shapes["rgba.png"] == (24, 40, 4)


def test_super_resolver_in_saved_pipeline(spark, tiny_model_file, tmp_path):
    table = spark.createDataFrame(pd.DataFrame({"image": [_images()["rgb.png"]]}))
    stage = SuperResolver(modelPath=str(tiny_model_file), inputCol="image", outputCol="big", tileSize=16)
    model = Pipeline(stages=[stage]).fit(table)
    model.write().save(str(tmp_path / "pipeline"))
    loaded = PipelineModel.load(str(tmp_path / "pipeline"))
    restored = loaded.stages[0]
    assert restored.getModelPath() == str(tiny_model_file)
    assert restored.getOrDefault("tileSize") == 16
    row = loaded.transform(table).collect()[0]
    assert read_image(bytes(row["big"])).pixels.shape == (36, 44, 3)


def test_super_resolver_rejects_bad_columns(spark, tiny_model_file):
    table = spark.createDataFrame(pd.DataFrame({"content": ["text, not bytes"]}))
    with pytest.raises(ValueError, match="must be binary"):
        SuperResolver(modelPath=str(tiny_model_file)).transform(table)
    with pytest.raises(ValueError, match="'pixels' not found"):
        SuperResolver(modelPath=str(tiny_model_file), inputCol="pixels").transform(table)
    with pytest.raises(ValueError, match="needs modelPath"):
        SuperResolver().transform(table)


def test_folder_to_folder_loads_model_once_per_worker(spark, tiny_model_file, image_folder, tmp_path):
    out = tmp_path / "out"
    report = upscale_table(spark, tiny_model_file, image_folder, out, partitions=4)
    assert (report.rows, report.written, report.skipped) == (4, 4, 0)
    # Four tasks ran on local[2]: each of the (at most two) Python workers loaded the model once.
    assert 1 <= report.model_loads <= 2
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert names == ["gray.png", "rgb.png", "rgba.png", "sub/photo.png"]
    for name, data in _images().items():
        target = out / ("sub/photo.png" if name == "photo.jpg" else name)
        np.testing.assert_array_equal(read_image(target).pixels, _local(tiny_model_file, data).pixels)

    with pytest.raises(DataError, match="--skip-existing"):
        upscale_table(spark, tiny_model_file, image_folder, out)
    (out / "rgb.png").unlink()
    resumed = upscale_table(spark, tiny_model_file, image_folder, out, existing="skip")
    assert (resumed.written, resumed.skipped) == (1, 3)
    assert (out / "rgb.png").is_file()


def test_folder_to_parquet_and_back(spark, tiny_model_file, image_folder, tmp_path):
    table = tmp_path / "big.parquet"
    report = upscale_table(spark, tiny_model_file, image_folder, table)
    assert report.rows == 4
    rows = pd.read_parquet(table)
    assert sorted(os.path.basename(p) for p in rows["path"]) == ["gray.png", "photo.jpg", "rgb.png", "rgba.png"]
    for path, upscaled in zip(rows["path"], rows["upscaled"]):
        expected = _local(tiny_model_file, _images()[os.path.basename(path)])
        np.testing.assert_array_equal(read_image(bytes(upscaled)).pixels, expected.pixels)

    with pytest.raises(DataError, match="--overwrite"):
        upscale_table(spark, tiny_model_file, image_folder, table)

    source = tmp_path / "source.parquet"
    pd.DataFrame({"path": ["a/one.png", "b/two.png"],
                  "content": [_images()["rgb.png"], _images()["gray.png"]]}).to_parquet(source)
    folder = tmp_path / "from-table"
    assert upscale_table(spark, tiny_model_file, source, folder).written == 2
    assert sorted(p.name for p in folder.iterdir()) == ["one.png", "two.png"]


def test_clashing_output_names_rejected(spark, tiny_model_file, tmp_path):
    source = tmp_path / "dupes.parquet"
    pd.DataFrame({"path": ["a/same.png", "b/same.jpg"],
                  "content": [_images()["rgb.png"], _images()["rgb.png"]]}).to_parquet(source)
    with pytest.raises(DataError, match="same.png"):
        upscale_table(spark, tiny_model_file, source, tmp_path / "out")


def test_bad_image_fails_job_with_its_name(spark, tiny_model_file, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(SparkUpscaleError, match="broken.png"):
        upscale_table(spark, tiny_model_file, folder, tmp_path / "out")


def test_cli_on_local_cluster(tiny_model_file, image_folder, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "sparkgan", "-q", "sr", "upscale", str(tiny_model_file), "--input", str(image_folder),
         "--output", str(out), "--spark-master", "local-cluster[2,1,1024]", "--partitions", "4",
         "--spark-conf", "spark.ui.enabled=false"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"rows": 4' in done.stdout
    # Two executors, each with its own Python worker: one load each.
    assert '"model_loads": 2' in done.stdout
    assert len(list(out.rglob("*.png"))) == 4
