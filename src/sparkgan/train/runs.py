"""Run folders: start a new run, resume one, refuse to clobber or to drift.

A run folder holds ``config.yaml`` (the resolved config), ``events.jsonl``,
``tensorboard/``, ``samples/``, ``checkpoints/`` and ``metrics.json``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
import yaml

from sparkgan.config import Config, ConfigError, config_from_dict, config_to_dict, diff_configs, load_config, save_config
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.resolve import resolve_config

log = logging.getLogger(__name__)

# Keys that may change on resume without --allow-config-change: raising
# train.steps trains an existing run for longer and changes nothing else, and
# the spark section says where the same training runs, not what it computes.
RESUMABLE_KEYS = frozenset({"train.steps"})
RESUMABLE_PREFIXES = ("spark.",)


@dataclass(frozen=True)
class RunPlan:
    """What a training call will do: which config, which folder, which checkpoint."""

    config: Config
    run_dir: Path
    checkpoint: Path | None


def default_run_dir(config: Config) -> Path:
    return Path("runs") / f"{config.data.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def read_run_config(run_dir: str | os.PathLike) -> Config:
    """Load the resolved config saved in a run folder.

    Raises:
        ConfigError: when the folder has no readable ``config.yaml``.
    """
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a sparkgan run folder: {path.name} not found")
    try:
        saved = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return config_from_dict(saved or {})


def checkpoint_folder(config: Config, run_dir: Path) -> Path | str:
    """Return the run's checkpoint folder: a Path, or the URI of remote storage."""
    folder = config.train.checkpoint_dir
    if not folder:
        return Path(run_dir) / "checkpoints"
    return folder if ckpt.is_remote(folder) else Path(folder.removeprefix("file://"))


def plan_new_run(config_file: str | None, overrides: list[str], out: str | None) -> RunPlan:
    """Resolve the config of a new run and pick its folder.

    Raises:
        ConfigError: for an invalid config, or an output folder that already
            holds a run (it is never overwritten).
    """
    config = resolve_config(load_config(config_file, overrides))
    run_dir = Path(out) if out else default_run_dir(config)
    if (run_dir / "config.yaml").exists():
        raise ConfigError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another --out folder"
        )
    return RunPlan(config, run_dir, None)


def plan_resume(
    run_dir: str | os.PathLike, config_file: str | None, overrides: list[str], allow_config_change: bool
) -> RunPlan:
    """Load a run's saved config, apply any new settings and find its newest checkpoint.

    Raises:
        ConfigError: when the new settings differ from the saved ones (other
            than a longer ``train.steps``) and ``allow_config_change`` is false;
            the message lists every differing key.
    """
    run_dir = Path(run_dir)
    saved = read_run_config(run_dir)
    config = saved
    if config_file or overrides:
        config = resolve_config(load_config(config_file, overrides, base=config_to_dict(saved)))
    changes = [
        row for row in diff_configs(saved, config)
        if row[0] not in RESUMABLE_KEYS and not row[0].startswith(RESUMABLE_PREFIXES)
    ]
    if changes and not allow_config_change:
        lines = "\n".join(f"  {key}: {old!r} -> {new!r}" for key, old, new in changes)
        raise ConfigError(
            f"the config differs from the one {run_dir} was trained with:\n{lines}\n"
            "Pass --allow-config-change to resume anyway, or drop these settings"
        )
    if config.train.steps < saved.train.steps:
        log.info("train.steps lowered from %d to %d", saved.train.steps, config.train.steps)
    return RunPlan(config, run_dir, ckpt.latest_checkpoint(checkpoint_folder(config, run_dir)))


def prepare_run_dir(plan: RunPlan) -> None:
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    save_config(plan.config, plan.run_dir / "config.yaml")
