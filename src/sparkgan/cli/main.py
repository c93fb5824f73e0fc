"""The ``sparkgan`` command: argument parsing and printing only.

Every command calls a function of :mod:`sparkgan.api`. Invalid settings exit
with status 2, other input errors with status 1, a training run stopped by
``collapse.action=stop`` with status 3, an interrupt with 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Callable, Sequence

from sparkgan import __version__
from sparkgan.cli.sr import add_sr_commands

log = logging.getLogger("sparkgan")

Command = Callable[[argparse.Namespace], int]


def _add_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a GAN (default: handwritten digits)",
        description="Train a GAN. Settings come from --config FILE.yaml, then key=value overrides "
        "with dotted keys such as train.steps=500 or data.name=faces.",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="setting overrides, applied after --config")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings")
    p.add_argument("--preset", metavar="NAME", help="start from a named preset (see sparkgan presets)")
    p.add_argument("--out", metavar="RUN", help="run folder (default: runs/<data>-<date>-<time>)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its newest checkpoint")
    p.add_argument("--allow-config-change", action="store_true", help="resume even if settings differ from the saved ones")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--spark-master", metavar="MASTER",
                   help="train data-parallel on this Spark master, such as 'local[2]' or spark://HOST:7077 "
                   "(sets spark.master)")
    p.add_argument("--num-workers", type=int, metavar="N", help="training processes on Spark (sets spark.num_workers)")
    p.set_defaults(command=cmd_train)


def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="score a trained run and write RUN/metrics.json")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("-n", "--num-samples", type=int, help="samples to score (default: eval.num_samples)")
    p.add_argument("--seed", type=int, help="seed of the sampled latents (default: train.seed)")
    p.add_argument("--spark-master", metavar="MASTER", help="generate and score the samples on this Spark master")
    p.set_defaults(command=cmd_evaluate)


def _add_sample(subparsers) -> None:
    p = subparsers.add_parser("sample", help="write samples of a trained run to .png or .npy")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("-n", "--num-samples", type=int, default=64, help="number of samples (default: 64)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help=".png for an image grid, .npy for the raw array, .parquet for one row per sample")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled latents (default: 0)")
    p.add_argument("--spark-master", metavar="MASTER",
                   help="generate the samples on this Spark master into a .parquet folder")
    p.set_defaults(command=cmd_sample)


def _add_presets(subparsers) -> None:
    p = subparsers.add_parser("presets", help="list the named presets for sparkgan train --preset")
    p.set_defaults(command=cmd_presets)


def _add_benchmark(subparsers) -> None:
    from sparkgan.benchmark.modes import BENCHMARKS, VARIANTS

    p = subparsers.add_parser("benchmark", help="run a built-in benchmark")
    kinds = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    modes = kinds.add_parser(
        "modes",
        help="train the baseline and each remedy over seeds on the mode-collapse benchmarks",
        description="Writes OUT/modes.md, OUT/modes.json and OUT/modes.png. Finished runs are reused.",
    )
    modes.add_argument("overrides", nargs="*", metavar="key=value", help="settings applied to every run")
    modes.add_argument("--benchmarks", default=",".join(BENCHMARKS), help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    modes.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {','.join(VARIANTS)}")
    modes.add_argument("--seeds", type=int, default=5, help="seeds per variant (default: 5)")
    modes.add_argument("--out", default="benchmark-modes", metavar="DIR", help="output folder (default: benchmark-modes)")
    modes.set_defaults(command=cmd_benchmark_modes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkgan", description="Train GANs that do not collapse, on a laptop or on Spark.")
    parser.add_argument("--version", action="version", version=f"sparkgan {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    subparsers = parser.add_subparsers(dest="name", metavar="COMMAND", required=True)
    for add in (_add_train, _add_evaluate, _add_sample, _add_presets, _add_benchmark, add_sr_commands):
        add(subparsers)
    return parser


# Commands ----------------------------------------------------------------------

def cmd_train(args: argparse.Namespace) -> int:
    from sparkgan import api
    from sparkgan.config import config_to_yaml

    from sparkgan.presets import preset_overrides

    overrides = [*preset_overrides(args.preset), *args.overrides]
    if args.spark_master:
        overrides.append(f"spark.master={args.spark_master}")
    if args.num_workers is not None:
        overrides.append(f"spark.num_workers={args.num_workers}")
    plan = api.plan_training(args.config, overrides, args.out, args.resume, args.allow_config_change)
    if args.dry_run:
        print(config_to_yaml(plan.config), end="")
        return 0
    result = api.run_training(plan)
    print(f"run folder: {result.run_dir} (step {result.step})")
    if result.stopped:
        print(f"stopped early: {result.stopped}")
        return 3
    if result.metrics:
        print(format_metrics(result.metrics))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sparkgan import api

    metrics = api.evaluate(args.run, num_samples=args.num_samples, seed=args.seed, spark_master=args.spark_master)
    print(format_metrics(metrics))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from sparkgan import api

    if args.num_samples < 1:
        print(f"sparkgan: error: invalid value {args.num_samples} for -n: expected a positive count", file=sys.stderr)
        return 2
    path = api.sample(args.run, args.num_samples, args.output, seed=args.seed, spark_master=args.spark_master)
    print(f"wrote {args.num_samples} samples to {path}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from sparkgan.presets import PRESETS

    for preset in PRESETS.values():
        print(f"{preset.name}: {preset.description}")
        print("  " + " ".join(preset.overrides))
    return 0


def cmd_benchmark_modes(args: argparse.Namespace) -> int:
    from sparkgan.benchmark.modes import markdown_table, run_benchmark

    if args.seeds < 1:
        print(f"sparkgan: error: invalid value {args.seeds} for --seeds: expected a positive count", file=sys.stderr)
        return 2
    summary = run_benchmark(
        [b for b in args.benchmarks.split(",") if b],
        [v for v in args.variants.split(",") if v],
        args.seeds,
        args.out,
        args.overrides,
    )
    print(markdown_table(summary))
    print(f"wrote {args.out}/modes.md, modes.json and modes.png")
    return 0


def format_metrics(metrics: dict) -> str:
    """Render metrics as one ``key: value`` line each, in the order written."""
    lines = []
    for key, value in metrics.items():
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, (list, dict)):
            text = json.dumps(value)
        else:
            text = str(value)
        lines.append(f"  {key}: {text}")
    return "metrics:\n" + "\n".join(lines)


# Entry point -------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    from sparkgan.config import ConfigError
    from sparkgan.data import DataError
    from sparkgan.spark.reports import TrainingFailedError
    from sparkgan.train.checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm():
            return args.command(args)
    except ConfigError as exc:
        print(f"sparkgan: error: {exc}", file=sys.stderr)
        return 2
    except (DataError, CheckpointError, TrainingFailedError, ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"sparkgan: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sparkgan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
