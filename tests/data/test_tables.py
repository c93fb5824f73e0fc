"""Parquet columns as training data: images through the one conversion rule, and 2-D points."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sparkgan import api
from sparkgan.data import DataError
from sparkgan.data.images import decode_image, to_training_array
from sparkgan.data.tables import load_parquet_column


def png_bytes(seed, size=(12, 10), mode="RGB"):
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def write_images(path, count, extra=()):
    images = [png_bytes(i, mode="RGBA" if i % 2 else "RGB") for i in range(count)] + list(extra)
    pq.write_table(pa.table({"image": images, "label": list(range(len(images)))}), path, row_group_size=3)
    return images


def test_images_follow_the_conversion_rule(tmp_path):
    images = write_images(tmp_path / "t.parquet", 7)
    loaded = load_parquet_column(str(tmp_path / "t.parquet"), "image", kind="image", channels=1, resolution=8)
    expected = np.stack([to_training_array(decode_image(b), channels=1, resolution=8) for b in images])
    assert loaded.shape == (7, 1, 8, 8)
    np.testing.assert_array_equal(loaded, expected)


def test_folder_of_parquet_files(tmp_path):
    (tmp_path / "set").mkdir()
    write_images(tmp_path / "set" / "a.parquet", 3)
    write_images(tmp_path / "set" / "b.parquet", 4)
    loaded = load_parquet_column(str(tmp_path / "set"), "image", kind="image", channels=3, resolution=8)
    assert loaded.shape == (7, 3, 8, 8)


def test_bad_image_names_row_unless_skipped(tmp_path):
    write_images(tmp_path / "t.parquet", 4, extra=[b"not an image"])
    with pytest.raises(DataError, match="row 4 of column 'image'.*data.skip_bad=true"):
        load_parquet_column(str(tmp_path / "t.parquet"), "image", kind="image", channels=1, resolution=8)
    kept = load_parquet_column(str(tmp_path / "t.parquet"), "image", kind="image", channels=1, resolution=8, skip_bad=True)
    assert kept.shape[0] == 4


def test_points_column(tmp_path):
    pq.write_table(pa.table({"xy": [[0.5, -1.0], [2.0, 3.0]]}), tmp_path / "p.parquet")
    points = load_parquet_column(str(tmp_path / "p.parquet"), "xy", kind="points", channels=1, resolution=8)
    np.testing.assert_array_equal(points, np.array([[0.5, -1.0], [2.0, 3.0]], np.float32))

    pq.write_table(pa.table({"xy": [[0.5, -1.0], [2.0, 3.0, 4.0]]}), tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"row 1 .* is \[2.0, 3.0, 4.0\]"):
        load_parquet_column(str(tmp_path / "bad.parquet"), "xy", kind="points", channels=1, resolution=8)


def test_missing_or_mistyped_column(tmp_path):
    write_images(tmp_path / "t.parquet", 2)
    with pytest.raises(DataError, match="no column 'pixels'.*image, label"):
        load_parquet_column(str(tmp_path / "t.parquet"), "pixels", kind="image", channels=1, resolution=8)
    with pytest.raises(DataError, match="column 'label' .* needs encoded image bytes"):
        load_parquet_column(str(tmp_path / "t.parquet"), "label", kind="image", channels=1, resolution=8)
    with pytest.raises(DataError, match="column 'image' .* needs arrays of 2 numbers"):
        load_parquet_column(str(tmp_path / "t.parquet"), "image", kind="points", channels=1, resolution=8)


def test_trains_in_process_on_parquet(tmp_path):
    write_images(tmp_path / "t.parquet", 8)
    result = api.train(
        overrides=["data.name=parquet", f"data.path={tmp_path / 't.parquet'}", "data.resolution=8",
                   "model.width=4", "model.z_dim=4", "train.batch_size=4", "train.steps=2", "train.threads=1",
                   "eval.at_end=false"],
        out=str(tmp_path / "run"), progress=False,
    )
    assert result.step == 2
    assert (tmp_path / "run" / "checkpoints" / "step-000000002.pt").exists()
