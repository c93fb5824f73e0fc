"""Random streams derived from (seed, purpose, step).

Every random draw in a run (data order, latents, penalty mixing weights)
comes from a generator seeded by the run seed, a purpose name and the step.
A step's draws therefore do not depend on the steps before it: a resumed run
repeats the uninterrupted run exactly, and workers of a data-parallel run can
each take their slice of the same global batch.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch


def stream_seed(seed: int, purpose: str, *counters: int) -> int:
    """Derive a 63-bit seed from a run seed, a purpose name and counters."""
    key = [seed, zlib.crc32(purpose.encode()), *counters]
    state = np.random.SeedSequence(key).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 ^ int(state[1])


def torch_stream(seed: int, purpose: str, *counters: int) -> torch.Generator:
    """Return a CPU torch.Generator for one purpose at one step."""
    return torch.Generator().manual_seed(stream_seed(seed, purpose, *counters))


def numpy_stream(seed: int, purpose: str, *counters: int) -> np.random.Generator:
    return np.random.default_rng(stream_seed(seed, purpose, *counters))


def sample_latents(seed: int, count: int, z_dim: int, start: int = 0) -> torch.Tensor:
    """Return latents ``start .. start + count`` of the sample stream of ``seed``.

    Latent i depends only on (seed, i), so any slice of the stream, on any
    machine, matches the same slice of one long draw. The stream is drawn in
    blocks of 1024 latents, one generator per block.
    """
    block = 1024
    parts = []
    first_block, last_block = start // block, (start + count - 1) // block
    for index in range(first_block, last_block + 1):
        parts.append(torch.randn(block, z_dim, generator=torch_stream(seed, "samples", index)))
    z = torch.cat(parts)
    offset = start - first_block * block
    return z[offset:offset + count]


def rank_slice(total: int, rank: int, world_size: int) -> slice:
    """Return the part of a global batch of ``total`` rows that ``rank`` owns.

    Raises:
        ValueError: when ``total`` does not split evenly over the workers.
    """
    if total % world_size:
        raise ValueError(f"a batch of {total} does not split evenly over {world_size} workers")
    per_rank = total // world_size
    return slice(rank * per_rank, (rank + 1) * per_rank)
