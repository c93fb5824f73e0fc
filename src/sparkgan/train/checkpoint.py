"""Atomic checkpoints: write, find the newest complete one, load safely.

A checkpoint is one ``torch.save`` file holding tensors, numbers, strings,
lists and dicts only, so it loads with ``torch.load(weights_only=True)``,
which refuses to run arbitrary pickled code. It is written to a temporary
name, flushed to disk, then renamed: a crash mid-write leaves the previous
checkpoint as the newest complete one.
"""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
_NAME = re.compile(r"^step-(\d{9})\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or from an incompatible run."""


def checkpoint_path(folder: Path, step: int) -> Path:
    return Path(folder) / f"step-{step:09d}.pt"


def list_checkpoints(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """Return ``(step, path)`` of complete checkpoints in a folder, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def save_checkpoint(state: dict[str, Any], folder: str | os.PathLike, step: int, keep: int) -> Path:
    """Write ``state`` as the checkpoint of ``step`` and prune all but the newest ``keep``."""
    folder = Path(folder)
    final = _write_atomically(state, checkpoint_path(folder, step))
    for _, old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return final


def save_healthy_checkpoint(state: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write the state of the last collapse check that passed, for ``collapse.action=rollback``."""
    return _write_atomically(state, Path(folder) / "healthy.pt")


def _write_atomically(state: dict[str, Any], final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "wb") as handle:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return final


def healthy_checkpoint(folder: str | os.PathLike) -> Path | None:
    path = Path(folder) / "healthy.pt"
    return path if path.exists() else None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint without unpickling arbitrary objects.

    Raises:
        CheckpointError: when the file is missing, corrupt or of another format.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a sparkgan checkpoint of format {CHECKPOINT_FORMAT}")
    return state


# Global random states ----------------------------------------------------------
# sparkgan's own draws come from per-step streams (sparkgan.data.seeds), but
# user code and libraries may draw from the global generators: their states
# travel with the checkpoint too.

def capture_rng_state() -> dict[str, Any]:
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, python_state, gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": position,
                  "has_gauss": has_gauss, "cached": cached},
        "python": {"version": version, "state": list(python_state), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["position"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
