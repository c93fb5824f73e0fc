"""The ``sparkgan sr`` command group: argument parsing and printing only.

Every subcommand calls a function of :mod:`sparkgan.sr.api` (or, with
``--spark-master``, :mod:`sparkgan.spark.sr`). Heavy modules are imported
inside the commands, so ``sparkgan --help`` stays fast and works without
PySpark.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_sr_commands(subparsers) -> None:
    """Register ``sparkgan sr`` and its subcommands."""
    group = subparsers.add_parser(
        "sr",
        help="GAN super-resolution: train, blend, evaluate, upscale",
        description="Train SRResNet/ESRGAN-style super-resolution models, measure them against bicubic "
        "upscaling, and upscale images or whole tables over Spark.",
    )
    commands = group.add_subparsers(dest="sr_command", metavar="SUBCOMMAND", required=True)
    _add_train(commands)
    _add_blend(commands)
    _add_evaluate(commands)
    _add_upscale(commands)


def _add_train(commands) -> None:
    p = commands.add_parser(
        "train",
        help="train the PSNR stage, then the GAN stage (default: x4 on the built-in photos)",
        description="Train a super-resolution model in two stages. Settings come from --config FILE.yaml, "
        "then key=value overrides such as data.scale=2 or train.psnr_steps=3000.",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="setting overrides, applied after --config")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings")
    p.add_argument("--out", metavar="RUN", help="run folder (default: runs/sr-<data>-x<scale>-<date>-<time>)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its newest checkpoint")
    p.add_argument("--allow-config-change", action="store_true", help="resume even if settings differ from the saved ones")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.set_defaults(command=cmd_train)


def _add_blend(commands) -> None:
    p = commands.add_parser(
        "blend",
        help="interpolate two models' weights: a dial between fidelity and realism",
        description="Write (1 - alpha) * A + alpha * B, weight by weight. With A the PSNR-stage model and "
        "B the GAN-stage model, alpha 0 gives fidelity and alpha 1 realism.",
    )
    p.add_argument("first", metavar="A", help="model file or run folder (alpha 0)")
    p.add_argument("second", metavar="B", help="model file or run folder (alpha 1)")
    p.add_argument("--alpha", type=float, required=True, help="weight of B, from 0 to 1")
    p.add_argument("-o", "--output", required=True, metavar="C.safetensors", help="blended model file")
    p.set_defaults(command=cmd_blend)


def _add_evaluate(commands) -> None:
    p = commands.add_parser(
        "evaluate",
        help="PSNR and SSIM of a model and of bicubic upscaling, per image and on average",
        description="Downscale each high-resolution image by bicubic interpolation (or read its "
        "low-resolution partner from --lr-dir), upscale it with bicubic and with the model, and compare both "
        "with the original.",
    )
    p.add_argument("model", metavar="MODEL", help="model file (.safetensors) or SR run folder")
    p.add_argument("folder", metavar="DIR", nargs="?", help="folder of high-resolution images (default: the held-out built-in photos)")
    p.add_argument("--lr-dir", metavar="DIR", help="folder of matching low-resolution images (paired by file name)")
    p.add_argument("--channel", choices=("y", "rgb"), default="y", help="channel measured: BT.601 luma (default) or RGB")
    p.add_argument("--border", type=int, help="pixels cropped from each side before measuring (default: the scale)")
    p.add_argument("--tile", type=int, default=256, help="low-resolution tile side in pixels (default: 256)")
    p.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    p.set_defaults(command=cmd_evaluate)


def _add_upscale(commands) -> None:
    p = commands.add_parser(
        "upscale",
        help="upscale image files or folders, or a whole table over Spark",
        description="Upscale images of any size by overlapping tiles. Gray stays gray, alpha is upscaled "
        "separately, 16-bit images stay 16-bit, EXIF orientation is applied; outputs are PNG. "
        "With --spark-master, upscale a folder or Parquet table on Spark executors.",
    )
    p.add_argument("model", metavar="MODEL", help="model file (.safetensors) or SR run folder")
    p.add_argument("inputs", metavar="IN", nargs="*", help="image files or folders (local mode)")
    p.add_argument("-o", "--output", metavar="OUT", help="output .png file or folder; with --spark-master, a folder or .parquet table")
    p.add_argument("--tile", type=int, help="low-resolution tile side in pixels (default: 192)")
    p.add_argument("--overlap", type=int, help="tile overlap in pixels (default: twice the model's receptive radius, the least for exact tiling)")
    p.add_argument("--alpha-method", choices=("model", "bicubic"), default="model", help="how the alpha channel is upscaled")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="skip images whose output exists (resume)")
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    spark = p.add_argument_group("Spark")
    spark.add_argument("--spark-master", metavar="MASTER", help="Spark master URL, such as local[4] or spark://host:7077")
    spark.add_argument("--input", metavar="DIR_OR_PARQUET", help="folder of images or Parquet table to upscale")
    spark.add_argument("--input-column", default="content", help="binary column of encoded images in a Parquet input")
    spark.add_argument("--output-column", default="upscaled", help="column of PNG bytes added to a Parquet output")
    spark.add_argument("--partitions", type=int, help="minimum number of Spark tasks (default: the default parallelism)")
    spark.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE", help="Spark setting, repeatable")
    p.set_defaults(command=cmd_upscale)


# Commands ----------------------------------------------------------------------

def cmd_train(args: argparse.Namespace) -> int:
    from sparkgan.config import config_to_yaml
    from sparkgan.sr import api
    from sparkgan.sr.runs import run_sr_training

    plan = api.plan_sr_training(args.config, args.overrides, args.out, args.resume, args.allow_config_change)
    if args.dry_run:
        print(config_to_yaml(plan.config), end="")
        return 0
    result = run_sr_training(plan)
    print(f"run folder: {result.run_dir} (step {result.step})")
    if result.metrics:
        for stage in ("psnr_stage", "gan_stage"):
            if stage in result.metrics:
                mean = result.metrics[stage]["mean"]
                print(f"  {stage}: PSNR {mean['psnr_model']:.2f} dB ({mean['psnr_gain']:+.2f} dB over bicubic), "
                      f"SSIM {mean['ssim_model']:.4f}")
        if "gan_psnr_loss" in result.metrics:
            print(f"  GAN stage PSNR below the PSNR stage: {result.metrics['gan_psnr_loss']:.2f} dB")
    return 0


def cmd_blend(args: argparse.Namespace) -> int:
    from sparkgan.sr import api

    path = api.blend(args.first, args.second, args.alpha, args.output)
    print(f"wrote {path} ({1 - args.alpha:g} x {args.first} + {args.alpha:g} x {args.second})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sparkgan.sr import api
    from sparkgan.sr.evaluate import write_json

    if args.lr_dir and not args.folder:
        return _usage_error("--lr-dir needs DIR, the folder of high-resolution images")
    evaluation = api.evaluate(args.model, args.folder, lr_folder=args.lr_dir, channel=args.channel,
                              border=args.border, tile=args.tile)
    print(format_evaluation(evaluation))
    if args.json:
        write_json(evaluation.as_dict(), args.json)
    return 0


def format_evaluation(evaluation) -> str:
    """Render per-image and mean scores as a table."""
    name_width = max(8, *(len(image.name) for image in evaluation.images))
    header = (f"{'image':<{name_width}}  {'bicubic dB':>10}  {'model dB':>9}  {'gain dB':>8}  "
              f"{'bicubic SSIM':>12}  {'model SSIM':>10}  {'gain':>7}")
    lines = [f"channel {evaluation.channel}, border {evaluation.border}, x{evaluation.scale}", header]
    rows = [(image.name, image.psnr_bicubic, image.psnr_model, image.psnr_gain, image.ssim_bicubic,
             image.ssim_model, image.ssim_gain) for image in evaluation.images]
    rows.append(("mean", *(evaluation.mean(key) for key in ("psnr_bicubic", "psnr_model", "psnr_gain",
                                                             "ssim_bicubic", "ssim_model", "ssim_gain"))))
    for name, pb, pm, pg, sb, sm, sg in rows:
        lines.append(f"{name:<{name_width}}  {pb:>10.2f}  {pm:>9.2f}  {pg:>+8.2f}  {sb:>12.4f}  {sm:>10.4f}  {sg:>+7.4f}")
    return "\n".join(lines)


def cmd_upscale(args: argparse.Namespace) -> int:
    from sparkgan.sr.upscale import DEFAULT_TILE, TileSettings

    for name, value in (("--tile", args.tile), ("--overlap", args.overlap), ("--partitions", args.partitions)):
        if value is not None and value < (0 if name == "--overlap" else 1):
            return _usage_error(f"invalid value {value} for {name}: expected a positive number of pixels")
    settings = TileSettings(args.tile or DEFAULT_TILE, args.overlap, args.alpha_method)
    existing = "error"
    if args.skip_existing:
        existing = "skip"
    elif args.overwrite:
        existing = "overwrite"
    if args.spark_master:
        return _upscale_on_spark(args, settings, existing)
    if args.input:
        return _usage_error("--input needs --spark-master; to upscale files give IN... -o OUT")
    if not args.inputs or not args.output:
        return _usage_error("give image files or folders and -o OUT, or --spark-master with --input and --output")

    from sparkgan.sr import api

    done = api.upscale(args.model, args.inputs, args.output, settings, existing)
    print(f"upscaled {len(done)} images into {args.output}")
    return 0


def _upscale_on_spark(args: argparse.Namespace, settings, existing: str) -> int:
    if args.inputs:
        return _usage_error("with --spark-master give the input as --input DIR_OR_PARQUET, not as IN...")
    output = args.output
    if not args.input or not output:
        return _usage_error("--spark-master needs --input DIR_OR_PARQUET and --output DIR_OR_PARQUET")
    conf = {"spark.sql.execution.arrow.maxRecordsPerBatch": "64"}
    for item in args.spark_conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            return _usage_error(f"invalid --spark-conf {item!r}: write it as KEY=VALUE")
        conf[key] = value

    from sparkgan.spark.session import spark_session
    from sparkgan.spark.sr import SparkUpscaleError, upscale_table

    spark = spark_session(args.spark_master, conf, app_name="sparkgan-sr-upscale")
    try:
        report = upscale_table(spark, args.model, args.input, output, settings=settings, input_col=args.input_column,
                               output_col=args.output_column, partitions=args.partitions, existing=existing)
    except SparkUpscaleError as error:
        print(f"sparkgan: error: {error}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    print(json.dumps({"rows": report.rows, "written": report.written, "skipped": report.skipped,
                      "model_loads": report.model_loads, "seconds": round(report.seconds, 2),
                      "output": report.output}))
    return 0


def _usage_error(message: str) -> int:
    print(f"sparkgan sr: error: {message}", file=sys.stderr)
    return 2
