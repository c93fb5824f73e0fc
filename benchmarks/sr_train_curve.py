"""Held-out PSNR gain of the PSNR stage against training time, on the built-in photos.

The script trains the pixel-loss stage of ``sparkgan sr train`` for a wall-clock
budget and measures G_ema on the held-out photos (Y channel, border = scale)
at each time mark; the measurements are not counted as training time. The
cosine learning-rate decay runs over the time budget instead of a step count
(the only change from ``sparkgan sr train``), so the schedule ends with the
budget however busy the machine is. It prints one line per mark and the
machine's load average, because other processes on a shared machine slow
training down.

    python benchmarks/sr_train_curve.py [--minutes 15] [--marks 5,10,15] [--save-model FILE] [key=value ...]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import tempfile
import time

from sparkgan.sr.config import load_sr_config
from sparkgan.sr.evaluate import evaluate_model
from sparkgan.sr.model_io import SRModel, save_model
from sparkgan.sr.runs import build_data
from sparkgan.sr.trainer import SRTrainer


class TimeBudgetTrainer(SRTrainer):
    """An SR trainer whose cosine learning-rate decay follows the training time spent."""

    def __init__(self, *args, budget_seconds: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget_seconds = budget_seconds
        self.trained_seconds = 0.0

    def learning_rate(self, base, stage, step):
        progress = min(self.trained_seconds / self.budget_seconds, 1.0)
        return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget in minutes")
    parser.add_argument("--marks", default="5,10,15", help="minutes at which to measure, comma-separated")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--save-model", help="save the final G_ema as this .safetensors model file")
    parser.add_argument("overrides", nargs="*", help="SR config overrides, key=value")
    args = parser.parse_args()
    budget = args.minutes * 60
    marks = sorted(float(m) * 60 for m in args.marks.split(","))

    # Bookkeeping hooks are pushed past the end: the script measures and saves nothing itself.
    quiet = ["train.gan_steps=0", "train.psnr_steps=100000000", "train.log_every=100000000",
             "train.validate_every=100000000", "train.sample_every=100000000", "train.checkpoint_every=100000000"]
    config = load_sr_config(overrides=quiet + args.overrides)
    source, held_out = build_data(config)
    load_before = os.getloadavg()
    print(f"load average before: {load_before}", flush=True)

    results = []
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = TimeBudgetTrainer(config, run_dir, source, [], progress=False, budget_seconds=budget)
        while marks:
            started = time.perf_counter()
            trainer.run_step()
            trainer.trained_seconds += time.perf_counter() - started
            if trainer.trained_seconds < marks[0]:
                continue
            mark = marks.pop(0)
            model = SRModel(copy.deepcopy(trainer.G_ema), trainer.run_dir, "psnr")
            evaluation = evaluate_model(model, held_out, channel="y", border=config.data.scale)
            row = {"minutes": round(trainer.trained_seconds / 60, 2), "mark": mark / 60, "step": trainer.step,
                   "gain_db": evaluation.mean("psnr_gain"), "psnr_db": evaluation.mean("psnr_model"),
                   "bicubic_db": evaluation.mean("psnr_bicubic"), "ssim": evaluation.mean("ssim_model"),
                   "ssim_bicubic": evaluation.mean("ssim_bicubic"),
                   "per_image_gain_db": {i.name: round(i.psnr_gain, 3) for i in evaluation.images},
                   "load_average": os.getloadavg()}
            results.append(row)
            print(json.dumps(row), flush=True)
        if args.save_model:
            save_model(trainer.G_ema, args.save_model, stage="psnr", extra={"step": trainer.step})
    load_after = os.getloadavg()
    print(f"load average after: {load_after} (2 cores: above 2 means other processes competed)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"overrides": args.overrides, "results": results, "load_before": load_before,
                       "load_after": load_after}, handle, indent=2)


if __name__ == "__main__":
    main()
