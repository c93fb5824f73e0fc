"""The training data of one rank: its own Spark partition, read from local disk.

TorchDistributor's DataFrame input streams each barrier task's partition
into an Arrow IPC stream file on the executor's local disk and names the
file in ``SPARK_PARTITION_ARROW_DATA_FILE``. The file is memory-mapped, so a
partition larger than the rank's memory pages in from disk as batches need
it. Rows hold training arrays already converted on the executors (see
:mod:`sparkgan.spark.data`): a ``key`` and the float32 bytes ``x``.

Nothing here imports pyspark.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from sparkgan.data import DataError, DataSource
from sparkgan.data.seeds import torch_stream

# pyspark.ml.torch.distributor.SPARK_PARTITION_ARROW_DATA_FILE, the variable
# that TorchDistributor._train_on_dataframe sets in each task (pyspark 4.3.0).
PARTITION_FILE_VARIABLE = "SPARK_PARTITION_ARROW_DATA_FILE"


class PartitionSource(DataSource):
    """Batches drawn from this rank's rows only, reshuffled every epoch.

    Each step takes ``batch_size / world_size`` rows from the rank's
    partition in an order drawn from (seed, epoch, rank), without
    replacement within an epoch. Unlike an in-memory source, rank r's rows
    are not a slice of one global batch, so a run on Spark data does not
    repeat an in-process run batch for batch; it samples the same table.
    When a task runs several processes (several GPUs per task), they split
    the partition's rows between them.
    """

    def __init__(
        self,
        path: str,
        sample_shape: tuple[int, ...],
        kind: str,
        seed: int,
        rank: int,
        world_size: int,
        local_rank: int = 0,
        local_world_size: int = 1,
        name: str = "spark",
    ):
        import pyarrow as pa

        self.name = name
        self.kind = kind
        self.sample_shape = tuple(sample_shape)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        with pa.memory_map(path, "r") as source:
            table = pa.ipc.open_stream(source).read_all()
        self._table = table  # keeps the memory map alive for the views below
        self._chunks = [self._rows_of(chunk) for chunk in table.column("x").chunks]
        sizes = [len(chunk) for chunk in self._chunks]
        self._starts = np.cumsum([0] + sizes)
        total = int(self._starts[-1])
        self._rows = np.arange(local_rank, total, local_world_size)
        self._cached_epoch: int | None = None
        self._cached_order: np.ndarray | None = None

    @classmethod
    def from_environment(cls, sample_shape, kind: str, seed: int, rank: int, world_size: int) -> "PartitionSource":
        path = os.environ.get(PARTITION_FILE_VARIABLE)
        if not path:
            raise DataError(
                f"{PARTITION_FILE_VARIABLE} is not set: this rank was not started by TorchDistributor "
                "with a DataFrame, so it has no partition to read"
            )
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        return cls(path, sample_shape, kind, seed, rank, world_size, local_rank, local_world_size)

    def _rows_of(self, chunk) -> np.ndarray:
        """View a chunk of equal-length binary cells as an N x sample_shape float32 array, without a copy."""
        import pyarrow as pa

        width = int(np.prod(self.sample_shape)) * 4
        offset_type = np.int64 if pa.types.is_large_binary(chunk.type) else np.int32
        offsets = np.frombuffer(
            chunk.buffers()[1], dtype=offset_type, count=len(chunk) + 1, offset=chunk.offset * np.dtype(offset_type).itemsize
        )
        if len(chunk) and not np.all(np.diff(offsets) == width):
            raise DataError(
                f"rank {self.rank} received rows of another size than {self.sample_shape}: "
                "the partition was prepared for other data settings"
            )
        data = chunk.buffers()[2]
        start = int(offsets[0]) if len(chunk) else 0
        return np.frombuffer(data, dtype=np.float32, count=len(chunk) * width // 4, offset=start).reshape(
            (len(chunk),) + self.sample_shape
        )

    def __len__(self) -> int:
        return len(self._rows)

    def check_batch_size(self, batch_size: int) -> None:
        per_rank = batch_size // self.world_size
        if len(self) < per_rank:
            raise DataError(
                f"rank {self.rank} holds {len(self)} rows of the training data, fewer than its share of a batch "
                f"({per_rank} = train.batch_size / spark.num_workers); add data or lower train.batch_size"
            )

    def _order(self, epoch: int) -> np.ndarray:
        if epoch != self._cached_epoch:
            generator = torch_stream(self.seed, "data", epoch, self.rank)
            self._cached_order = self._rows[torch.randperm(len(self._rows), generator=generator).numpy()]
            self._cached_epoch = epoch
        return self._cached_order

    def batch(self, step: int, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        per_rank = batch_size // world_size
        self.check_batch_size(batch_size)
        epoch, position = divmod(step, len(self) // per_rank)
        rows = self._order(epoch)[position * per_rank:(position + 1) * per_rank]
        return torch.from_numpy(self._gather(rows))

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        chunk_of = np.searchsorted(self._starts, rows, side="right") - 1
        out = np.empty((len(rows),) + self.sample_shape, np.float32)
        for i, (row, chunk) in enumerate(zip(rows, chunk_of)):
            out[i] = self._chunks[chunk][row - self._starts[chunk]]
        return out

    def reference(self) -> torch.Tensor:
        """Return up to 10,000 of this rank's rows, for sample pictures of 2-D data."""
        return torch.from_numpy(self._gather(self._rows[:10000]))
