"""The run's event record: ``events.jsonl`` plus TensorBoard event files.

Both receive the same scalars. On resume, lines newer than the checkpoint are
dropped from ``events.jsonl`` and TensorBoard is told to purge them, so a
resumed run's record reads like an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np


class EventLog:
    """Append-only structured events of one run."""

    def __init__(self, run_dir: str | os.PathLike, resume_step: int | None = None, tensorboard: bool = True):
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(run_dir) / "events.jsonl"
        if resume_step is not None:
            self._truncate_after(resume_step)
        self._file = open(self.path, "a", encoding="utf-8")
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step is not None else None
            self._writer = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=purge)

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        tmp.replace(self.path)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Record one logged step's scalars."""
        record = {"step": step, **{k: _finite_or_text(v) for k, v in values.items()}}
        self._write(record)
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(key, value, step)

    def event(self, step: int, kind: str, **fields: Any) -> None:
        """Record a non-scalar event, such as a collapse alarm or a resume."""
        self._write({"step": step, "event": kind, **fields})

    def image(self, step: int, tag: str, image_hwc: np.ndarray) -> None:
        if self._writer is not None:
            self._writer.add_image(tag, image_hwc, step, dataformats="HWC")

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()


def _finite_or_text(value: float) -> float | str:
    # JSON has no NaN or infinity; write them as strings rather than invalid JSON.
    value = float(value)
    return value if math.isfinite(value) else str(value)


def read_events(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
