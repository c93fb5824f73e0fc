"""Atomic checkpoints: write, find the newest complete one, load safely.

A checkpoint is one ``torch.save`` file holding tensors, numbers, strings,
lists and dicts only, so it loads with ``torch.load(weights_only=True)``,
which refuses to run arbitrary pickled code.

The folder is a local path or a URI of any fsspec filesystem
(``hdfs://``, ``s3://``, ``gs://``, ``abfs://``, ...), so that every
executor of a Spark job can reach it. Writes never leave a partial file
under a checkpoint's name:

- on a local disk the file is written under a temporary name, flushed to
  disk, then renamed; a crash mid-write leaves the previous checkpoint as
  the newest complete one;
- on HDFS-like filesystems the temporary file is renamed the same way,
  because a rename there is atomic;
- on object stores (S3, GCS, Azure Blob) the object is uploaded under its
  final name, because an object becomes visible only once its upload
  completes, while a "rename" there is a copy that is not atomic.
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
from pathlib import Path
from typing import Any, Union

import fsspec
import numpy as np
import torch

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
_NAME = re.compile(r"^step-(\d{9})\.pt$")
# Filesystems whose rename is atomic; all other remote filesystems are
# treated as object stores.
_ATOMIC_RENAME = frozenset({"hdfs", "viewfs", "arrow_hdfs", "webhdfs", "sftp", "ssh"})

# A local checkpoint path is a Path; a remote one is the URI string.
CheckpointPath = Union[Path, str]


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or from an incompatible run."""


def is_remote(folder: str | os.PathLike) -> bool:
    """Tell whether a checkpoint folder is a URI of a non-local filesystem."""
    text = os.fspath(folder)
    return "://" in text and not text.startswith("file://")


def filesystem(folder: str | os.PathLike) -> tuple[fsspec.AbstractFileSystem, str]:
    """Return the fsspec filesystem of a folder and the folder's path on it.

    Raises:
        CheckpointError: when the URI's filesystem is unknown or its package
            (such as s3fs or gcsfs) is not installed.
    """
    try:
        return fsspec.core.url_to_fs(os.fspath(folder))
    except (ImportError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0][:300]
        raise CheckpointError(
            f"cannot open checkpoint folder {os.fspath(folder)}: {reason}. "
            "Install the fsspec filesystem of that URI (for example s3fs for s3://, gcsfs for gs://) "
            "or set train.checkpoint_dir to a path every executor reaches"
        ) from exc


def checkpoint_path(folder: str | os.PathLike, step: int) -> CheckpointPath:
    name = f"step-{step:09d}.pt"
    if is_remote(folder):
        return os.fspath(folder).rstrip("/") + "/" + name
    return Path(_local(folder)) / name


def list_checkpoints(folder: str | os.PathLike) -> list[tuple[int, CheckpointPath]]:
    """Return ``(step, path)`` of complete checkpoints in a folder, oldest first."""
    if not is_remote(folder):
        local = Path(_local(folder))
        if not local.is_dir():
            return []
        names = [path.name for path in local.iterdir()]
    else:
        fs, root = filesystem(folder)
        try:
            names = [entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(root, detail=False)]
        except FileNotFoundError:
            return []
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            step = int(match.group(1))
            found.append((step, checkpoint_path(folder, step)))
    return sorted(found)


def latest_checkpoint(folder: str | os.PathLike) -> CheckpointPath | None:
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def save_checkpoint(state: dict[str, Any], folder: str | os.PathLike, step: int, keep: int) -> CheckpointPath:
    """Write ``state`` as the checkpoint of ``step`` and prune all but the newest ``keep``."""
    final = checkpoint_path(folder, step)
    _write(state, folder, final)
    for _, old in list_checkpoints(folder)[:-keep]:
        _remove(old)
    return final


def healthy_path(folder: str | os.PathLike) -> CheckpointPath:
    """Return where the state of the last passing collapse check is kept."""
    if is_remote(folder):
        return os.fspath(folder).rstrip("/") + "/healthy.pt"
    return Path(_local(folder)) / "healthy.pt"


def save_healthy_checkpoint(state: dict[str, Any], folder: str | os.PathLike) -> CheckpointPath:
    """Write the state of the last collapse check that passed, for ``collapse.action=rollback``."""
    final = healthy_path(folder)
    _write(state, folder, final)
    return final


def healthy_checkpoint(folder: str | os.PathLike) -> CheckpointPath | None:
    path = healthy_path(folder)
    if isinstance(path, Path):
        return path if path.exists() else None
    fs, target = filesystem(path)
    return path if fs.exists(target) else None


def _write(state: dict[str, Any], folder: str | os.PathLike, final: CheckpointPath) -> None:
    payload = {"format": CHECKPOINT_FORMAT, **state}
    if is_remote(folder):
        _save_remote(payload, folder, final)
        return
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)


def _save_remote(payload: dict[str, Any], folder: str | os.PathLike, final: str) -> None:
    fs, root = filesystem(folder)
    fs.makedirs(root, exist_ok=True)
    _, final_path = filesystem(final)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & _ATOMIC_RENAME:
        tmp = final_path + ".tmp"
        fs.pipe_file(tmp, buffer.getvalue())
        fs.mv(tmp, final_path)
    else:
        fs.pipe_file(final_path, buffer.getvalue())


def remove_checkpoint(path: CheckpointPath) -> None:
    """Delete a checkpoint file, local or remote; a missing file is fine."""
    _remove(path)


def _remove(path: CheckpointPath) -> None:
    if isinstance(path, Path):
        path.unlink(missing_ok=True)
        return
    fs, target = filesystem(path)
    try:
        fs.rm_file(target)
    except FileNotFoundError:
        pass


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint (a local path or a URI) without unpickling arbitrary objects.

    Raises:
        CheckpointError: when the file is missing, corrupt or of another format.
    """
    source: Any = path
    if is_remote(path):
        fs, target = filesystem(path)
        try:
            source = io.BytesIO(fs.cat_file(target))
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint not found: {path}") from None
    else:
        path = Path(_local(path))
        source = path
    try:
        state = torch.load(source, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a sparkgan checkpoint of format {CHECKPOINT_FORMAT}")
    return state


def _local(path: str | os.PathLike) -> str:
    """Strip a ``file://`` prefix, which local paths may carry."""
    text = os.fspath(path)
    return text[len("file://"):] if text.startswith("file://") else text


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
