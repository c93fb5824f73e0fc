"""The training schedule as data: phases inside a step, hooks between steps.

A phase runs on steps where ``step % every == 0``, ``repeat`` times in a row
(the discriminator phase repeats ``d_steps`` times; lazy R1 runs every
``r1_interval`` steps). A hook runs after every ``every``-th completed step
and, if ``at_end``, after the last one. Adding a technique means adding an
entry, not a branch in the loop.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import torch

PhaseFn = Callable[[int, int], dict[str, torch.Tensor]]
HookFn = Callable[[int], None]


@dataclass(frozen=True)
class Phase:
    """One optimisation phase: ``run(step, repeat_index)`` returns scalars to log."""

    name: str
    run: PhaseFn
    every: int = 1
    repeat: int = 1

    def due(self, step: int) -> bool:
        return step % self.every == 0


@dataclass(frozen=True)
class Hook:
    """An action between steps: ``run(completed_steps)``."""

    name: str
    run: HookFn
    every: int
    at_end: bool = True

    def due(self, completed: int, last: int) -> bool:
        return completed % self.every == 0 or (self.at_end and completed == last)


class ScalarMeter:
    """Averages logged scalars over the steps since the last read."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums: dict[str, torch.Tensor | float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def add(self, values: dict[str, torch.Tensor | float]) -> None:
        for key, value in values.items():
            self._sums[key] = self._sums[key] + (value.detach() if isinstance(value, torch.Tensor) else value)
            self._counts[key] += 1

    def means(self) -> dict[str, float]:
        return {key: float(total) / self._counts[key] for key, total in self._sums.items()}
