"""Typed, frozen configuration of a sparkgan run.

Every setting is a field of one of the section dataclasses below. A field's
metadata carries its help text and, for numbers, its accepted range; the
loader in :mod:`sparkgan.config.loader` checks values against both. ``None``
means "the dataset's default": :func:`sparkgan.data.resolve_data_defaults`
fills such fields in before a run starts, so the ``config.yaml`` saved in a
run folder contains concrete values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

DatasetName = Literal[
    "digits", "stacked-digits", "stacked-digits-4", "faces", "ring", "grid", "folder", "parquet"
]
Objective = Literal["minimax", "nonsaturating", "wasserstein", "hinge", "least_squares"]


def setting(default, help: str, *, min=None, max=None, min_exclusive=False):
    """Declare a config field with its help text and accepted numeric range."""
    return field(
        default=default,
        metadata={"help": help, "min": min, "max": max, "min_exclusive": min_exclusive},
    )


@dataclass(frozen=True)
class DataConfig:
    name: DatasetName = setting("digits", "training data source")
    path: str = setting(
        "", "image folder for data.name=folder, Parquet file or folder for data.name=parquet (a local path or a URI)"
    )
    table: str = setting("", "Spark table or view that data.name=parquet reads instead of data.path (needs spark.master)")
    column: str = setting("image", "column of data.name=parquet with encoded image bytes, or arrays of 2 numbers")
    kind: Optional[Literal["image", "points"]] = setting(
        None, "what data.column holds: image (encoded image bytes) or points (2-D arrays) (default: the dataset's own)"
    )
    resolution: Optional[int] = setting(
        None, "image side in pixels, a power of two (default: the dataset's own)", min=8, max=1024
    )
    channels: Optional[int] = setting(
        None, "image channels, 1 (grayscale) or 3 (RGB); stacked digits fix it (default: the dataset's own)", min=1, max=4
    )
    skip_bad: bool = setting(False, "skip files that cannot be decoded instead of stopping")
    modes: Optional[int] = setting(None, "number of Gaussian modes for ring and grid", min=1, max=10000)
    radius: Optional[float] = setting(None, "ring radius", min=0.0, min_exclusive=True)
    spacing: Optional[float] = setting(None, "distance between neighbouring grid modes", min=0.0, min_exclusive=True)
    std: Optional[float] = setting(None, "standard deviation of each mixture mode", min=0.0, min_exclusive=True)


@dataclass(frozen=True)
class ModelConfig:
    arch: Literal["auto", "dcgan", "mlp"] = setting(
        "auto", "network family: dcgan for images, mlp for 2-D points, auto picks by data"
    )
    z_dim: Optional[int] = setting(None, "latent dimension (default: 64 for images, 2 for points)", min=1, max=4096)
    width: Optional[int] = setting(
        None,
        "channels of the widest-resolution conv layer (dcgan) or hidden units (mlp)",
        min=1,
        max=4096,
    )
    max_width: int = setting(512, "channel cap of the deepest dcgan layers", min=1, max=8192)
    depth: int = setting(3, "hidden layers of each mlp network", min=1, max=16)
    g_norm: Literal["batch", "none"] = setting("batch", "normalisation in the generator")
    d_norm: Literal["none", "batch", "layer"] = setting("none", "normalisation in the discriminator")


@dataclass(frozen=True)
class LossConfig:
    objective: Objective = setting("nonsaturating", "adversarial objective")
    gp_weight: Optional[float] = setting(
        None, "gradient penalty weight (default: 10 for wasserstein, 0 otherwise)", min=0.0
    )
    r1_gamma: float = setting(0.0, "R1 penalty weight gamma, 0 switches it off", min=0.0)
    r1_interval: int = setting(16, "steps between lazy R1 penalties", min=1)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = setting(3000, "generator steps to train for", min=1)
    batch_size: int = setting(64, "images per step over all workers", min=1)
    lr_G: float = setting(2e-4, "generator Adam learning rate", min=0.0, min_exclusive=True)
    lr_D: float = setting(2e-4, "discriminator Adam learning rate", min=0.0, min_exclusive=True)
    beta1: float = setting(0.5, "Adam beta1", min=0.0, max=1.0)
    beta2: float = setting(0.999, "Adam beta2", min=0.0, max=1.0)
    lr_decay: float = setting(
        0.0, "final fraction of train.steps over which both learning rates decay linearly to 0", min=0.0, max=1.0
    )
    d_steps: Optional[int] = setting(
        None, "discriminator steps per generator step (default: 5 for wasserstein, 1 otherwise)", min=1, max=100
    )
    ema_kimg: float = setting(
        10.0, "half-life of the generator EMA in thousands of images, 0 copies G each step", min=0.0
    )
    seed: int = setting(0, "seed of every random stream in the run", min=0)
    deterministic: bool = setting(True, "use deterministic torch kernels so runs and resumes repeat exactly")
    threads: Optional[int] = setting(None, "torch CPU threads (default: torch's choice)", min=1, max=1024)
    device: Literal["auto", "cpu", "cuda"] = setting("auto", "torch device; auto picks cuda when present")
    log_every: int = setting(50, "steps between event log lines", min=1)
    sample_every: int = setting(500, "steps between sample grids", min=1)
    checkpoint_every: int = setting(1000, "steps between checkpoints", min=1)
    keep_checkpoints: int = setting(3, "newest checkpoints kept on disk", min=1)
    checkpoint_dir: str = setting("", "checkpoint folder (default: RUN/checkpoints)")
    grid_size: int = setting(64, "samples in each fixed-noise sample grid", min=1, max=1024)


@dataclass(frozen=True)
class RemediesConfig:
    pack: int = setting(1, "samples packed into one discriminator input (PacGAN), 1 switches it off", min=1, max=16)
    minibatch_std: int = setting(0, "group size of the minibatch standard deviation feature in D, 0 switches it off", min=0, max=256)
    spectral_norm: bool = setting(False, "spectral normalisation of every D layer")
    unrolled: int = setting(0, "discriminator steps unrolled into each generator step, 0 switches it off", min=0, max=20)
    mode_seeking: float = setting(0.0, "weight of the mode-seeking (diversity-sensitive) term in the G loss", min=0.0)
    replay: float = setting(0.0, "fraction of each fake D batch drawn from past generated samples", min=0.0, max=1.0)
    replay_size: int = setting(4096, "past generated samples kept for replay", min=1)


@dataclass(frozen=True)
class CollapseConfig:
    every: int = setting(500, "steps between live collapse checks, 0 switches them off", min=0)
    start: int = setting(1000, "first step at which a collapse check may raise an alarm", min=0)
    samples: int = setting(2000, "generated and real samples compared at each check", min=50)
    min_mode_ratio: float = setting(
        0.8, "alarm when the effective mode count falls below this fraction of the real data's", min=0.0, max=1.0
    )
    min_ratio: float = setting(
        0.5, "alarm when recall or sample spread falls below this fraction of the real data's", min=0.0, max=1.0
    )
    min_coverage_ratio: float = setting(
        0.2, "alarm when coverage falls below this fraction of the real data's", min=0.0, max=1.0
    )
    action: Literal["warn", "stop", "rollback"] = setting("warn", "what an alarm does besides logging it")
    remedy: Literal["pack", "minibatch_std", "spectral_norm", "unrolled", "mode_seeking", "replay", "r1"] = setting(
        "pack", "remedy that collapse.action=rollback switches on"
    )
    max_rollbacks: int = setting(1, "rollbacks before an alarm stops the run", min=0)


@dataclass(frozen=True)
class EvalConfig:
    at_end: bool = setting(True, "evaluate G_ema when training ends")
    num_samples: Optional[int] = setting(
        None, "generated samples to score (default: 10000 for images, 2500 for points)", min=2
    )
    batch_size: int = setting(500, "samples generated per batch during evaluation", min=1)


@dataclass(frozen=True)
class SparkConfig:
    master: str = setting(
        "", "Spark master URL: local[N], local-cluster[N,C,MB], spark://HOST:PORT, yarn or k8s://URL; empty trains in-process"
    )
    num_workers: int = setting(1, "training processes (DDP ranks), each one Spark barrier task", min=1, max=4096)
    conf: dict[str, str] = field(
        default_factory=dict,
        metadata={"help": "Spark settings of the session, for example spark.conf.spark.executor.memory=4g"},
    )
    max_attempts: int = setting(
        1, "launches of the training job; each relaunch resumes from the newest complete checkpoint", min=1, max=100
    )
    timeout_s: float = setting(
        300.0,
        "seconds a rank waits for the others in a collective before all ranks stop; must exceed a checkpoint write",
        min=1.0,
    )
    start_timeout_s: float = setting(
        120.0, "seconds to wait for executors with enough task slots to run every rank at once", min=0.0
    )
    partitions: Optional[int] = setting(
        None, "Spark partitions of distributed evaluation and sampling (default: the session's parallelism)", min=1
    )


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    remedies: RemediesConfig = field(default_factory=RemediesConfig)
    collapse: CollapseConfig = field(default_factory=CollapseConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    spark: SparkConfig = field(default_factory=SparkConfig)
