"""The function that every rank of a distributed training job runs.

TorchDistributor starts :func:`train_rank` once per rank, in a process of
its own that torchrun launches with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. The same function
runs in plain processes in tests. Every rank resumes from the newest
complete checkpoint when there is one, so a relaunched job continues where
the previous attempt stopped.

Nothing here imports pyspark.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from sparkgan.config import Config
from sparkgan.data.seeds import stream_seed
from sparkgan.spark import runfiles
from sparkgan.spark.ddp import data_parallel_wrapper, init_process_group, is_communication_error
from sparkgan.spark.reports import ReportClient
from sparkgan.spark.shard import PartitionSource
from sparkgan.train import Trainer, Worker
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.schedule import Hook

log = logging.getLogger(__name__)

# Longest time between progress reports of rank 0, in seconds.
_PROGRESS_INTERVAL_S = 1.0


@dataclass(frozen=True)
class RankJob:
    """Everything a rank needs, pickled by TorchDistributor into each task."""

    config: Config
    run_dir: str
    token: str
    attempt: int
    report_address: tuple[str, int] | None = None
    data_from_spark: bool = False


def train_rank(job: RankJob) -> dict[str, Any]:
    """Train as one rank of the job; rank 0 returns a summary of the run.

    Raises:
        Whatever stopped the rank, after reporting it to the driver.
    """
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    _configure_logging(rank)
    _stop_with_parent()
    reporter = ReportClient(job.report_address, job.token, job.attempt, rank)
    reporter.started()

    trainer: Trainer | None = None
    try:
        device = _pick_device(job.config)
        init_process_group("nccl" if device.type == "cuda" else "gloo", job.config.spark.timeout_s)
        trainer, mirror = _build_trainer(job, rank, world_size, device, reporter)
        try:
            trainer.run()
        finally:
            if mirror is not None:
                mirror.push()
                shutil.rmtree(mirror.local_dir, ignore_errors=True)
        reporter.send("finished", step=trainer.step)
        summary = {"step": trainer.step, "world_size": world_size}
    except BaseException as error:
        step = trainer.step if trainer is not None else None
        reporter.failed(error, step, is_communication_error(error))
        raise
    # A peer that failed leaves the group unusable, so only a clean run
    # tears it down; a failed rank's process exits right after raising.
    dist.destroy_process_group()
    return summary


def _build_trainer(
    job: RankJob, rank: int, world_size: int, device: torch.device, reporter: ReportClient
) -> tuple[Trainer, runfiles.RunFilesMirror | None]:
    config = job.config
    source = None
    if job.data_from_spark:
        shape = (2,) if config.data.kind == "points" else (config.data.channels, config.data.resolution, config.data.resolution)
        source = PartitionSource.from_environment(shape, config.data.kind, config.train.seed, rank, world_size)

    run_dir, mirror = Path(job.run_dir), None
    if rank == 0 and not runfiles.sees_run_folder(run_dir, job.token):
        run_dir, mirror = _staging_folder(job)

    trainer = Trainer(
        config, run_dir, source=source, worker=Worker(rank, world_size), wrap=data_parallel_wrapper(device),
        progress=False,
    )
    latest = ckpt.latest_checkpoint(trainer.checkpoint_dir)
    if latest is not None:
        trainer.load_state_dict(ckpt.load_checkpoint(latest, map_location=device))
        if rank == 0:
            log.info("resumed from %s at step %d", latest, trainer.step)
    _seed_global_generators(config.train.seed, rank, trainer.step)

    if rank == 0:
        report = _progress_reporter(reporter, config.train.log_every, config.train.steps)
        trainer.hooks.append(Hook("report", report, every=1))
        if mirror is not None:
            trainer.hooks.append(Hook("mirror", lambda _: mirror.push(), every=config.train.checkpoint_every))
    return trainer, mirror


def _staging_folder(job: RankJob) -> tuple[Path, runfiles.RunFilesMirror]:
    staging = Path(tempfile.mkdtemp(prefix="sparkgan-run-"))
    remote = runfiles.remote_folder(job.config.train.checkpoint_dir)
    mirror = runfiles.RunFilesMirror(staging, remote)
    mirror.pull()
    log.warning(
        "rank 0 does not see the run folder %s; it writes run files to %s and copies them to %s",
        job.run_dir, staging, remote,
    )
    return staging, mirror


def _progress_reporter(reporter: ReportClient, every: int, last: int):
    """Report every ``every`` steps, at the last step, and at least once a second while steps complete."""
    sent = [0.0]

    def report(completed: int) -> None:
        now = time.monotonic()
        if completed % every == 0 or completed == last or now - sent[0] >= _PROGRESS_INTERVAL_S:
            sent[0] = now
            reporter.send("progress", step=completed)

    return report


def _pick_device(config: Config) -> torch.device:
    if config.train.device != "cpu" and torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _seed_global_generators(seed: int, rank: int, step: int) -> None:
    # sparkgan's own draws use per-step streams, but code that draws from
    # the global generators (dropout, user hooks) must not draw the same
    # numbers on every rank.
    value = stream_seed(seed, "global", rank, step)
    torch.manual_seed(value)
    np.random.seed(value % 2**32)


def _configure_logging(rank: int) -> None:
    # Rank 0 speaks; the other ranks warn only. Output goes to the task's
    # log, which TorchDistributor also streams to the driver.
    level = logging.INFO if rank == 0 else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[rank {rank}] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _stop_with_parent() -> None:
    # When Spark kills a barrier task, the launchers above this process can
    # die before they stop it, and a rank left behind keeps its port and
    # memory. On Linux the kernel kills this process when its parent dies.
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except OSError:
        log.debug("prctl(PR_SET_PDEATHSIG) is unavailable")

