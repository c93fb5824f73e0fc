"""One training loop, its schedule, checkpoints, events and run folders."""

from sparkgan.train.resolve import resolve_config
from sparkgan.train.runs import RunPlan, plan_new_run, plan_resume, prepare_run_dir, read_run_config
from sparkgan.train.trainer import Trainer, Worker

__all__ = [
    "RunPlan",
    "Trainer",
    "Worker",
    "plan_new_run",
    "plan_resume",
    "prepare_run_dir",
    "read_run_config",
    "resolve_config",
]
