"""Launch data-parallel training as a Spark job through TorchDistributor.

One attempt is one barrier job: ``spark.num_workers`` tasks that start
together, each running :func:`sparkgan.spark.rank.train_rank` under
torchrun with DistributedDataParallel (gloo on CPUs, nccl on GPUs). When an
attempt fails, the driver names the rank that failed first and shows its
traceback. It launches the job up to ``spark.max_attempts`` times in all,
and every relaunch resumes from the newest complete checkpoint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pyspark.ml.torch.distributor import TorchDistributor
from pyspark.sql import SparkSession
from tqdm.auto import tqdm

from sparkgan.config import Config, ConfigError
from sparkgan.spark import runfiles
from sparkgan.spark.data import SPARK_DATASETS, TrainingFrame, training_frame
from sparkgan.spark.rank import RankJob, train_rank
from sparkgan.spark.reports import Report, ReportServer, TrainingFailedError, explain_failure
from sparkgan.spark.session import spark_session
from sparkgan.train import RunPlan, prepare_run_dir
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.runs import checkpoint_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkTrainResult:
    """The outcome of a distributed training job."""

    run_dir: Path
    step: int
    attempts: int
    world_size: int
    spark_master: str


def train_on_spark(
    plan: RunPlan,
    *,
    spark: SparkSession | None = None,
    progress: bool = True,
    observer: Callable[[Report], None] | None = None,
) -> SparkTrainResult:
    """Train the planned run on Spark, relaunching failed attempts from checkpoints.

    ``spark`` is an existing session to use; by default one is created from
    ``spark.master`` and ``spark.conf``. ``observer`` receives every rank
    report (start, progress, failure) as it arrives, from another thread.

    Raises:
        ConfigError: for settings the cluster cannot run (too few task
            slots, dynamic allocation, GPUs not configured, checkpoints that
            executors cannot share).
        DataError: for training data that cannot be read or split.
        TrainingFailedError: when the last attempt fails; the message names
            the rank that failed first and carries its traceback.
    """
    config = plan.config
    session = spark or spark_session(config.spark.master, config.spark.conf)
    master = session.sparkContext.master
    resuming = (plan.run_dir / "config.yaml").exists()
    _check_checkpoints(config, plan.run_dir, master, resuming)
    distributor = _distributor(config, session)
    _check_cluster(session, distributor.num_tasks, config)

    frame = None
    if config.data.name in SPARK_DATASETS:
        per_task = config.train.batch_size // distributor.num_tasks
        frame = training_frame(session, config.data, distributor.num_tasks, per_task)
        log.info("training data: %d rows in %d partitions", frame.rows, distributor.num_tasks)

    prepare_run_dir(plan)
    start_step = _newest_step(config, plan.run_dir)
    bar = tqdm(total=config.train.steps, initial=start_step, desc="train", unit="step",
               disable=not progress, dynamic_ncols=True)
    server = ReportServer(session.conf.get("spark.driver.host", "127.0.0.1"), observer=_watch(bar, observer))
    # The report token also marks the run folder, so rank 0 can tell whether it reads the driver's folder.
    runfiles.write_marker(plan.run_dir, server.token)
    try:
        summary, attempts = _attempts(session, distributor, frame, config, plan.run_dir, server)
    finally:
        server.close()
        bar.close()
        runfiles.remove_marker(plan.run_dir)
        _collect_run_files(config, plan.run_dir)
    if frame is not None and frame.skipped.value:
        log.warning("skipped %d undecodable images of the training data (data.skip_bad=true)", frame.skipped.value)
    return SparkTrainResult(plan.run_dir, int(summary["step"]), attempts, config.spark.num_workers, master)


def _attempts(
    session: SparkSession,
    distributor: TorchDistributor,
    frame: TrainingFrame | None,
    config: Config,
    run_dir: Path,
    server: ReportServer,
) -> tuple[dict, int]:
    context = session.sparkContext
    max_attempts = config.spark.max_attempts
    for attempt in range(1, max_attempts + 1):
        job = RankJob(config, str(run_dir), server.token, attempt, server.address, data_from_spark=frame is not None)
        group = f"sparkgan-{server.token[:8]}-{attempt}"
        context.setJobGroup(group, f"sparkgan training of {run_dir}, attempt {attempt}", interruptOnCancel=True)
        started = time.monotonic()
        try:
            if frame is None:
                summary = distributor.run(train_rank, job)
            else:
                summary = _train_on_frame(distributor, frame, job)
            log.info("training finished at step %d (attempt %d, %.0f s)", summary["step"], attempt,
                     time.monotonic() - started)
            return summary, attempt
        except KeyboardInterrupt:
            # Cancelling the job kills the barrier tasks, and with them the ranks.
            context.cancelJobGroup(group)
            raise
        except Exception as error:  # py4j and pyspark raise several types for a failed job
            message, rank = explain_failure(server.reports(attempt), config.spark.num_workers, attempt,
                                            max_attempts, str(error))
            if attempt == max_attempts:
                raise TrainingFailedError(message, rank, attempt) from None
            newest = _newest_step(config, run_dir)
            log.warning("%s\nRelaunching: attempt %d of %d resumes from step %d.", message, attempt + 1,
                        max_attempts, newest)
        finally:
            context.setJobGroup(None, None)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _train_on_frame(distributor: TorchDistributor, frame: TrainingFrame, job: RankJob) -> dict:
    # TorchDistributor.run has no DataFrame input; _train_on_dataframe is the
    # path that streams one partition to each barrier task (pyspark 4.3.0).
    train_on_dataframe = getattr(distributor, "_train_on_dataframe", None)
    if train_on_dataframe is None:
        import pyspark

        raise TrainingFailedError(
            f"pyspark {pyspark.__version__} lacks TorchDistributor's DataFrame input, which data.name="
            f"{job.config.data.name} needs on Spark; install pyspark 4.x ('pip install sparkgan[spark]')"
        )
    return train_on_dataframe(train_rank, frame.frame, job)


def _distributor(config: Config, session: SparkSession) -> TorchDistributor:
    gpu_amount = float(session.conf.get("spark.task.resource.gpu.amount", "0") or 0)
    use_gpu = config.train.device == "cuda" or (config.train.device == "auto" and gpu_amount > 0)
    if use_gpu and gpu_amount < 1:
        raise ConfigError(
            "train.device=cuda on Spark needs one GPU per task: set spark.conf.spark.task.resource.gpu.amount=1 "
            "and the executors' GPU resources (spark.executor.resource.gpu.amount, a discovery script)"
        )
    return TorchDistributor(num_processes=config.spark.num_workers, local_mode=False, use_gpu=use_gpu)


def task_slots(session: SparkSession) -> int:
    """Return how many tasks the registered executors can run at once."""
    context = session.sparkContext
    scala_context = context._jsc.sc()
    try:
        profile = scala_context.resourceProfileManager().defaultResourceProfile()
        return int(scala_context.maxNumConcurrentTasks(profile))
    except Exception:  # py4j raises Py4JError for a method that another Spark version lacks
        return int(context.defaultParallelism)


def _check_cluster(session: SparkSession, tasks: int, config: Config) -> None:
    if session.conf.get("spark.dynamicAllocation.enabled", "false").lower() == "true":
        raise ConfigError(
            "Spark barrier tasks, which data-parallel training needs, do not run with dynamic allocation: "
            "set spark.conf.spark.dynamicAllocation.enabled=false and a fixed spark.executor.instances"
        )
    # Executors register after the session starts; barrier stages need all
    # tasks at once, and Spark itself retries a too-large one for minutes.
    deadline = time.monotonic() + config.spark.start_timeout_s
    slots = task_slots(session)
    while slots < tasks and time.monotonic() < deadline:
        time.sleep(0.5)
        slots = task_slots(session)
    if slots < tasks:
        raise ConfigError(
            f"spark.num_workers={config.spark.num_workers} needs {tasks} task slots at once (a barrier stage), but "
            f"the executors of {session.sparkContext.master} offer {slots} after {config.spark.start_timeout_s:g} s "
            "(spark.start_timeout_s). Lower spark.num_workers, or add executors or cores "
            "(spark.executor.instances, spark.executor.cores; spark.task.cpus per task)"
        )


def _check_checkpoints(config: Config, run_dir: Path, master: str, resuming: bool) -> None:
    if not master.startswith("local") and not config.train.checkpoint_dir:
        raise ConfigError(
            f"on a cluster ({master}) every executor must reach the checkpoints: set train.checkpoint_dir to "
            "shared storage, such as hdfs://..., s3://... or a folder mounted on every node"
        )
    folder = checkpoint_folder(config, run_dir)
    existing = ckpt.latest_checkpoint(folder)
    if existing is not None and not resuming:
        raise ConfigError(
            f"train.checkpoint_dir={folder} already contains checkpoints ({existing}) of another run; a new run "
            "would resume from them. Choose an empty folder, or continue that run with --resume"
        )


def _newest_step(config: Config, run_dir: Path) -> int:
    found = ckpt.list_checkpoints(checkpoint_folder(config, run_dir))
    return found[-1][0] if found else 0


def _collect_run_files(config: Config, run_dir: Path) -> None:
    if not config.train.checkpoint_dir:
        return
    remote = runfiles.remote_folder(config.train.checkpoint_dir)
    copied = runfiles.copy_remote_to_local(remote, run_dir)
    if copied:
        log.info("copied %d run files of rank 0 from %s into %s", copied, remote, run_dir)


def _watch(bar: tqdm, observer: Callable[[Report], None] | None) -> Callable[[Report], None]:
    def on_report(report: Report) -> None:
        if report.kind == "progress" and report.rank == 0:
            step = int(report.fields.get("step", bar.n))
            bar.update(max(0, step - bar.n))
        elif report.kind == "started":
            log.debug("rank %d started (pid %s on %s)", report.rank, report.fields.get("pid"), report.fields.get("host"))
        if observer is not None:
            observer(report)

    return on_report
