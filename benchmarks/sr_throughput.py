"""Upscaling throughput: whole-image, tiled, and Spark on local-cluster, in one run.

All three read PNG files, upscale them with the same generator (the default
SR architecture, untrained weights: speed does not depend on their values)
and write PNG files:

- whole: one tile per image, 2 torch threads in this process;
- tiled: ``--tile`` tiles with the default overlap (twice the receptive
  radius), 2 torch threads in this process;
- spark: ``local-cluster[2,1,1024]``, two executors with one core each; PySpark
  sets ``OMP_NUM_THREADS`` to ``spark.task.cpus`` (1) in its Python workers,
  so each worker runs torch on one thread. A warm-up job on the same files
  starts the Python workers and loads the model first; the timed job reuses
  them.

It prints output megapixels per second for each and the ratios to whole-image.

    python benchmarks/sr_throughput.py [--images 4] [--lr-size 512] [--tile 192]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sparkgan.sr.config import SRConfig
from sparkgan.sr.data import PHOTOS_TRAIN, load_photo
from sparkgan.sr.images import write_png
from sparkgan.sr.model_io import load_model, save_model
from sparkgan.sr.nets import build_generator
from sparkgan.sr.upscale import TileSettings, plan_outputs, upscale_files


def make_inputs(folder: Path, count: int, size: int) -> None:
    for index, name in enumerate(PHOTOS_TRAIN[:count]):
        photo = load_photo(name)
        reps = (-(-size // photo.shape[0]), -(-size // photo.shape[1]), 1)
        pixels = np.tile(photo, reps)[:size, :size]
        write_png(folder / f"{index:02d}-{name}.png", pixels.astype(np.float32) / 255, 8)


def timed_local(model_file: Path, inputs: Path, output: Path, settings: TileSettings) -> float:
    model = load_model(model_file)
    jobs = plan_outputs([inputs], output)
    started = time.perf_counter()
    upscale_files(model, jobs, settings, existing="overwrite", progress=False)
    return time.perf_counter() - started


def timed_spark(model_file: Path, inputs: Path, output: Path, settings: TileSettings, partitions: int) -> tuple[float, int]:
    from sparkgan.spark.session import spark_session
    from sparkgan.spark.sr import upscale_table

    spark = spark_session("local-cluster[2,1,1024]", {"spark.ui.enabled": "false",
                                                      "spark.sql.execution.arrow.maxRecordsPerBatch": "1"})
    try:
        upscale_table(spark, model_file, inputs, output / "warm-up", settings=settings, partitions=partitions)
        report = upscale_table(spark, model_file, inputs, output / "timed", settings=settings, partitions=partitions)
        return report.seconds, report.model_loads
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="number of input images")
    parser.add_argument("--lr-size", type=int, default=512, help="side of each input image in pixels")
    parser.add_argument("--tile", type=int, default=192, help="tile side for the tiled run")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    torch.set_num_threads(2)

    config = SRConfig()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_file = save_model(build_generator(config.model, config.data.scale), tmp / "model.safetensors", "psnr")
        make_inputs(tmp / "in", args.images, args.lr_size)
        megapixels = args.images * (args.lr_size * config.data.scale) ** 2 / 1e6
        load_before = os.getloadavg()

        whole = timed_local(model_file, tmp / "in", tmp / "whole", TileSettings(tile=10**6))
        tiled = timed_local(model_file, tmp / "in", tmp / "tiled", TileSettings(tile=args.tile))
        spark, loads = timed_spark(model_file, tmp / "in", tmp / "spark", TileSettings(tile=10**6), args.images)
        load_after = os.getloadavg()

    print(f"{args.images} images of {args.lr_size}x{args.lr_size} -> x{config.data.scale}, "
          f"{megapixels:.1f} output megapixels; model width {config.model.width}, {config.model.blocks} blocks")
    for label, seconds in (("whole-image (2 threads)", whole), (f"tiled {args.tile} (2 threads)", tiled),
                           ("spark local-cluster[2,1,1024] (2 x 1 thread)", spark)):
        print(f"  {label:<46} {megapixels / seconds:6.3f} MP/s  ({seconds:.1f} s)")
    print(f"  ratio tiled / whole: {whole / tiled:.2f}")
    print(f"  ratio spark / whole: {whole / spark:.2f}  (model loaded {loads} times in the timed job)")
    print(f"  load average before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()
