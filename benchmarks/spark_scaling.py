"""Images per second of training on Spark with 1 and 2 single-core workers, against one in-process thread.

All three runs train the same networks in one script run, one after the
other, on ``local-cluster[2,1,1024]`` (two executor processes of one core
each, so every rank runs in its own executor):

- in-process: the training loop in this process on one torch thread, at
  the per-worker batch size;
- 1 worker and 2 workers: the same loop as a TorchDistributor job, each
  rank on one thread at the per-worker batch size, so the global batch of 2
  workers is twice as large (weak scaling).

Throughput is measured between rank 0's progress reports after the warm-up
steps, so it excludes start-up. Start-up is the time from launching the job
to rank 0's report of step 1: Spark tasks, torchrun, Python and torch
imports, data loading, process group and DDP set-up. Creating the Spark
session is timed apart, because it happens once per driver.

    python benchmarks/spark_scaling.py [--steps 120] [--warmup 20] [key=value ...]

It prints images per second and the ratios, in a table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

from sparkgan.spark.launch import train_on_spark  # noqa: E402
from sparkgan.spark.session import spark_session  # noqa: E402
from sparkgan.train import Trainer, plan_new_run  # noqa: E402

MASTER = "local-cluster[2,1,1024]"
# Large enough that a step's compute dwarfs its gradient all-reduce on
# loopback, small enough for a run of a few minutes on two cores.
WORKLOAD = ["data.name=digits", "data.resolution=16", "model.width=32", "model.z_dim=64", "train.threads=1",
            "train.sample_every=100000", "train.checkpoint_every=100000", "eval.at_end=false"]


def in_process(folder: Path, per_worker: int, steps: int, warmup: int, extra: list[str]) -> float:
    plan = plan_new_run(None, WORKLOAD + extra + [f"train.batch_size={per_worker}", f"train.steps={steps}"],
                        str(folder / "in-process"))
    trainer = Trainer(plan.config, plan.run_dir, progress=False)
    torch.set_num_threads(1)
    trainer.run(stop_at=warmup)
    started = time.perf_counter()
    trainer.run()
    return (steps - warmup) * per_worker / (time.perf_counter() - started)


def on_spark(spark, folder: Path, workers: int, per_worker: int, steps: int, warmup: int,
             extra: list[str]) -> tuple[float, float]:
    """Return (images per second after warm-up, start-up seconds) of one job."""
    plan = plan_new_run(
        None,
        WORKLOAD + extra + [f"train.batch_size={per_worker * workers}", f"train.steps={steps}",
                            f"spark.master={MASTER}", f"spark.num_workers={workers}", "train.log_every=5"],
        str(folder / f"spark-{workers}"),
    )
    reports: list[tuple[float, int]] = []

    def observe(report):
        if report.kind == "progress" and report.rank == 0:
            reports.append((time.perf_counter(), int(report.fields["step"])))

    launched = time.perf_counter()
    train_on_spark(plan, spark=spark, progress=False, observer=observe)
    reports.sort(key=lambda item: item[1])
    startup = reports[0][0] - launched
    measured = [item for item in reports if item[1] >= warmup]
    (t0, s0), (t1, s1) = measured[0], measured[-1]
    return (s1 - s0) * per_worker * workers / (t1 - t0), startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120, help="training steps of each run")
    parser.add_argument("--warmup", type=int, default=20, help="steps left out of the throughput")
    parser.add_argument("--batch", type=int, default=64, help="images per worker per step")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides for every run")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="spark-scaling-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        spark = spark_session(MASTER, {"spark.ui.enabled": "false"})
        session_s = time.perf_counter() - started

        local = in_process(folder, args.batch, args.steps, args.warmup, args.overrides)
        one, startup_one = on_spark(spark, folder, 1, args.batch, args.steps, args.warmup, args.overrides)
        two, startup_two = on_spark(spark, folder, 2, args.batch, args.steps, args.warmup, args.overrides)
        spark.stop()

    print(f"workload: {' '.join(WORKLOAD + args.overrides)}, {args.batch} images per worker per step, "
          f"{args.steps} steps ({args.warmup} warm-up), master {MASTER}, 1 torch thread per process")
    # Other processes on the machine take cores from the workers; the load
    # average shows how busy it was.
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before and "
          f"{os.getloadavg()[0]:.1f} after the runs")
    print(f"{'run':<28}{'images/s':>10}{'start-up s':>12}")
    print(f"{'in-process, 1 thread':<28}{local:>10.0f}{'-':>12}")
    print(f"{'Spark, 1 worker':<28}{one:>10.0f}{startup_one:>12.1f}")
    print(f"{'Spark, 2 workers':<28}{two:>10.0f}{startup_two:>12.1f}")
    print(f"Spark session start: {session_s:.1f} s")
    print(f"ratio 1 worker / in-process: {one / local:.2f}")
    print(f"ratio 2 workers / 1 worker: {two / one:.2f} (goal >= 1.6)")
    print(f"start-up, 2 workers: {startup_two:.1f} s (goal <= 15 s)")


if __name__ == "__main__":
    main()
