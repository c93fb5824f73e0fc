"""A rank's partition file: memory-mapped rows, per-rank batches, epochs without replacement."""

import numpy as np
import pyarrow as pa
import pytest

from sparkgan.data import DataError
from sparkgan.spark.shard import PartitionSource


def write_partition(path, rows, large=False, chunk=3):
    binary = pa.large_binary() if large else pa.binary()
    batches = []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        batches.append(pa.record_batch([pa.array(np.arange(start, start + len(part)), pa.int64()),
                                        pa.array([r.tobytes() for r in part], binary)], names=["key", "x"]))
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, batches[0].schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


@pytest.mark.parametrize("large", [False, True], ids=["binary", "large-binary"])
def test_batches_cover_rows_once_per_epoch(tmp_path, large):
    rows = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    write_partition(tmp_path / "part.arrow", rows, large=large)
    source = PartitionSource(str(tmp_path / "part.arrow"), (2,), "points", seed=3, rank=1, world_size=2)
    assert len(source) == 10
    # Per-rank share of a global batch of 4 over 2 ranks: 2 rows; 5 batches make an epoch.
    epoch = np.concatenate([source.batch(step, 4, 1, 2).numpy() for step in range(5)])
    assert sorted(epoch[:, 0].tolist()) == rows[:, 0].tolist()
    again = np.concatenate([source.batch(step, 4, 1, 2).numpy() for step in range(5)])
    np.testing.assert_array_equal(epoch, again)
    next_epoch = np.concatenate([source.batch(step, 4, 1, 2).numpy() for step in range(5, 10)])
    assert not np.array_equal(epoch, next_epoch)
    assert sorted(next_epoch[:, 0].tolist()) == rows[:, 0].tolist()


def test_images_keep_their_shape(tmp_path):
    rows = np.random.default_rng(0).standard_normal((4, 1, 2, 2)).astype(np.float32)
    write_partition(tmp_path / "part.arrow", rows)
    source = PartitionSource(str(tmp_path / "part.arrow"), (1, 2, 2), "image", seed=0, rank=0, world_size=1)
    batch = source.batch(0, 4).numpy()
    assert batch.shape == (4, 1, 2, 2)
    assert sorted(map(float, batch.sum(axis=(1, 2, 3)))) == sorted(map(float, rows.sum(axis=(1, 2, 3))))


def test_processes_of_one_task_split_rows(tmp_path):
    rows = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
    write_partition(tmp_path / "part.arrow", rows)
    halves = [PartitionSource(str(tmp_path / "part.arrow"), (2,), "points", 0, rank, 2, local_rank=rank,
                              local_world_size=2).reference().numpy() for rank in (0, 1)]
    np.testing.assert_array_equal(halves[0], rows[0::2])
    np.testing.assert_array_equal(halves[1], rows[1::2])


def test_too_few_rows_and_wrong_size(tmp_path):
    rows = np.zeros((3, 2), np.float32)
    write_partition(tmp_path / "part.arrow", rows)
    source = PartitionSource(str(tmp_path / "part.arrow"), (2,), "points", 0, rank=1, world_size=2)
    with pytest.raises(DataError, match="rank 1 holds 3 rows .* fewer than its share of a batch \\(4"):
        source.batch(0, 8, 1, 2)
    with pytest.raises(DataError, match="rows of another size"):
        PartitionSource(str(tmp_path / "part.arrow"), (1, 2, 2), "image", 0, rank=0, world_size=1)


def test_missing_partition_variable(monkeypatch):
    monkeypatch.delenv("SPARK_PARTITION_ARROW_DATA_FILE", raising=False)
    with pytest.raises(DataError, match="not started by TorchDistributor"):
        PartitionSource.from_environment((2,), "points", 0, 0, 1)
