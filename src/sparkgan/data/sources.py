"""Training data sources: in-memory image sets and 2-D Gaussian mixtures.

A source hands out the global batch of a step, or one worker's slice of it,
as a pure function of (seed, step): see :mod:`sparkgan.data.seeds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from sparkgan.data.images import DataError
from sparkgan.data.seeds import rank_slice, torch_stream


class DataSource:
    """Base of every training data source.

    Attributes:
        kind: ``"image"`` (C x H x W tensors in [-1, 1]) or ``"points"`` (2-D).
        sample_shape: shape of one sample.
        name: dataset name, for messages and metrics.
    """

    kind: Literal["image", "points"]
    sample_shape: tuple[int, ...]
    name: str

    def batch(self, step: int, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        raise NotImplementedError

    def reference(self) -> torch.Tensor:
        """Return the real samples that evaluation compares against."""
        raise NotImplementedError


class TensorSource(DataSource):
    """A finite image set (or point set) held in memory, shuffled anew each epoch.

    Batches never straddle epochs: an epoch has ``len // batch_size`` batches
    and the remainder of its permutation is left out, as with
    ``DataLoader(drop_last=True)``.
    """

    def __init__(
        self,
        name: str,
        images: torch.Tensor,
        seed: int,
        labels: np.ndarray | None = None,
        kind: Literal["image", "points"] = "image",
    ):
        self.name = name
        self.kind = kind
        self.images = images.contiguous()
        self.labels = labels
        self.sample_shape = tuple(images.shape[1:])
        self.seed = seed
        self._cached_epoch: int | None = None
        self._cached_order: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    def check_batch_size(self, batch_size: int) -> None:
        if len(self) < batch_size:
            raise DataError(
                f"dataset '{self.name}' has {len(self)} images, fewer than one batch of "
                f"train.batch_size={batch_size}; lower train.batch_size or add images"
            )

    def _order(self, epoch: int) -> torch.Tensor:
        if epoch != self._cached_epoch:
            self._cached_order = torch.randperm(len(self), generator=torch_stream(self.seed, "data", epoch))
            self._cached_epoch = epoch
        return self._cached_order

    def batch(self, step: int, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        self.check_batch_size(batch_size)
        epoch, position = divmod(step, len(self) // batch_size)
        indices = self._order(epoch)[position * batch_size:(position + 1) * batch_size]
        return self.images[indices[rank_slice(batch_size, rank, world_size)]]

    def reference(self) -> torch.Tensor:
        return self.images


@dataclass(frozen=True)
class Mixture:
    """Centres and spread of a Gaussian mixture with equal weights."""

    centers: np.ndarray
    std: float


class MixtureSource(DataSource):
    """An endless stream of points from a 2-D Gaussian mixture."""

    def __init__(self, name: str, mixture: Mixture, seed: int, reference_size: int = 2500):
        self.name = name
        self.kind = "points"
        self.mixture = mixture
        self.sample_shape = (2,)
        self.seed = seed
        self.reference_size = reference_size
        self._centers = torch.as_tensor(mixture.centers, dtype=torch.float32)

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        modes = torch.randint(len(self._centers), (count,), generator=generator)
        noise = torch.randn(count, 2, generator=generator)
        return self._centers[modes] + self.mixture.std * noise

    def batch(self, step: int, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        points = self.sample(batch_size, torch_stream(self.seed, "data", step))
        return points[rank_slice(batch_size, rank, world_size)]

    def reference(self) -> torch.Tensor:
        return self.sample(self.reference_size, torch_stream(self.seed, "reference"))


class StackedDigitsSource(DataSource):
    """Random digits stacked as channels: the stand-in for Stacked MNIST.

    Each sample stacks ``channels`` digits drawn independently and uniformly
    from the digit set, so ``10 ** channels`` modes (digit combinations)
    appear about equally often. Batches are drawn fresh at every step.
    ``digit_labels`` keeps the label of each digit image for mode counts.
    """

    def __init__(self, name: str, digits: torch.Tensor, labels: np.ndarray, channels: int, seed: int):
        self.name = name
        self.kind = "image"
        self.digits = digits[:, 0].contiguous()
        self.digit_labels = torch.as_tensor(labels)
        self.channels = channels
        self.sample_shape = (channels, *self.digits.shape[1:])
        self.seed = seed

    def sample_picks(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``count`` x channels indices into the digit set."""
        return torch.randint(len(self.digits), (count, self.channels), generator=generator)

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Return ``count`` stacked images."""
        return self.digits[self.sample_picks(count, generator)]

    def batch(self, step: int, batch_size: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        images = self.sample(batch_size, torch_stream(self.seed, "data", step))
        return images[rank_slice(batch_size, rank, world_size)]

    def reference(self, count: int = 10000) -> torch.Tensor:
        return self.sample(count, torch_stream(self.seed, "reference"))
