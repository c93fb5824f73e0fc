"""Rank 0's run files when the driver's run folder is out of its reach.

Rank 0 writes ``events.jsonl``, ``tensorboard/`` and ``samples/`` into the
run folder. On local masters, and on clusters where the run folder is on a
shared mount, rank 0 sees the folder the driver created and writes there.
Otherwise rank 0 writes into a local staging folder and copies new and
changed files to ``<train.checkpoint_dir>/run-files`` after every
checkpoint and when it stops, and the driver copies them back into the run
folder after each attempt. A relaunched rank 0 first copies them down
again, so the event log continues where the checkpoint left it.

Nothing here imports pyspark.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sparkgan.train import checkpoint as ckpt

log = logging.getLogger(__name__)

MARKER_NAME = ".sparkgan-driver"
REMOTE_FOLDER = "run-files"


def write_marker(run_dir: Path, token: str) -> None:
    """Leave a file that tells rank 0 it sees the same run folder as the driver."""
    (run_dir / MARKER_NAME).write_text(token)


def remove_marker(run_dir: Path) -> None:
    (run_dir / MARKER_NAME).unlink(missing_ok=True)


def sees_run_folder(run_dir: Path, token: str) -> bool:
    """Tell whether this process sees the run folder the driver prepared for this job."""
    try:
        return (run_dir / MARKER_NAME).read_text() == token
    except OSError:
        return False


def remote_folder(checkpoint_dir: str | os.PathLike) -> str:
    return os.fspath(checkpoint_dir).rstrip("/") + "/" + REMOTE_FOLDER


class RunFilesMirror:
    """Copy the files of a local folder to a remote folder and back, newest only."""

    def __init__(self, local_dir: Path, remote: str):
        self.local_dir = Path(local_dir)
        self.remote = remote
        self._pushed: dict[str, tuple[int, float]] = {}

    def pull(self) -> int:
        """Copy every remote file into the local folder; return how many."""
        return copy_remote_to_local(self.remote, self.local_dir)

    def push(self) -> int:
        """Copy local files that are new or changed since the last push; return how many."""
        fs, root = ckpt.filesystem(self.remote)
        copied = 0
        for path in sorted(p for p in self.local_dir.rglob("*") if p.is_file()):
            relative = path.relative_to(self.local_dir).as_posix()
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime)
            if self._pushed.get(relative) == signature:
                continue
            target = f"{root.rstrip('/')}/{relative}"
            fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(path), target)
            self._pushed[relative] = signature
            copied += 1
        return copied


def copy_remote_to_local(remote: str, local_dir: Path) -> int:
    """Copy every file under ``remote`` into ``local_dir``; return how many."""
    fs, root = ckpt.filesystem(remote)
    if not fs.exists(root):
        return 0
    copied = 0
    for path in fs.find(root):
        relative = path[len(root.rstrip("/")) + 1:]
        target = Path(local_dir) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(target))
        copied += 1
    return copied
