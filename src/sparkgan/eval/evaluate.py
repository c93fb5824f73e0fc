"""Score a trained generator and write ``RUN/metrics.json``."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from sparkgan.config import Config
from sparkgan.data import StackedDigitsSource, build_source, mixture_of
from sparkgan.data.seeds import numpy_stream, torch_stream
from sparkgan.eval.generate import generate, load_generator
from sparkgan.metrics.digit_classifier import load_digit_classifier
from sparkgan.metrics.frechet import frechet_distance
from sparkgan.metrics.modes import class_mode_stats, mixture_mode_stats
from sparkgan.metrics.digits import classify_stacked, digit_inputs, stacked_mode_ids

log = logging.getLogger(__name__)


def digits_metrics(samples: np.ndarray, real: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, Any]:
    """Mode coverage, mode KL and Frechet distance of generated digits.

    ``fd_real`` is the distance between two random halves of the real data:
    the floor that the finite real set sets for ``fd``.
    """
    classifier = load_digit_classifier()
    fake_x, real_x = digit_inputs(samples), digit_inputs(real)
    reference = np.bincount(labels, minlength=10).astype(np.float64)
    stats = class_mode_stats(classifier.predict(fake_x), 10, reference)

    fake_features, real_features = classifier.features(fake_x), classifier.features(real_x)
    order = numpy_stream(seed, "fd_real_split").permutation(len(real_features))
    half = len(order) // 2
    return {
        **stats,
        "fd": frechet_distance(fake_features, real_features),
        "fd_real": frechet_distance(real_features[order[:half]], real_features[order[half:2 * half]]),
        "classifier_accuracy": classifier.held_out_accuracy,
    }


def real_stacked_modes(source: StackedDigitsSource, count: int, seed: int) -> np.ndarray:
    """Classifier mode ids of ``count`` real stacked samples.

    Real stacks reuse the digit set's images, so each digit image is
    classified once and the stacks look their labels up: the same labels
    as classifying every channel, at a small fraction of the cost.
    """
    picks = source.sample_picks(count, torch_stream(seed, "eval_real")).numpy()
    digit_predictions = load_digit_classifier().predict(digit_inputs(source.digits[:, None].numpy()))
    return stacked_mode_ids(digit_predictions[picks])


def stacked_digits_metrics(samples: np.ndarray, source: StackedDigitsSource, seed: int) -> dict[str, Any]:
    """Modes covered and KL to uniform over the 10 ** channels digit combinations.

    The same count on as many real stacked samples is reported as
    ``modes_covered_real`` and ``mode_kl_real``: the floor that classifier
    errors and sampling noise set.
    """
    num_modes = 10 ** source.channels
    uniform = np.ones(num_modes)
    fake_stats = class_mode_stats(classify_stacked(load_digit_classifier(), samples), num_modes, uniform)
    real_stats = class_mode_stats(real_stacked_modes(source, len(samples), seed), num_modes, uniform)
    return {**fake_stats, "modes_covered_real": real_stats["modes_covered"], "mode_kl_real": real_stats["mode_kl"]}


def evaluate_samples(config: Config, samples: np.ndarray) -> dict[str, Any]:
    """Compute the metrics that fit the run's dataset."""
    name = config.data.name
    if name in ("ring", "grid"):
        mixture = mixture_of(config.data)
        return mixture_mode_stats(samples, mixture.centers, mixture.std)
    if name == "digits":
        source = build_source(config.data, config.train.seed)
        return digits_metrics(samples, source.reference().numpy(), source.labels, config.train.seed)
    if name.startswith("stacked-digits"):
        return stacked_digits_metrics(samples, build_source(config.data, config.train.seed), config.train.seed)
    # NOTE: faces, folder and parquet data have no built-in feature extractor
    # or known modes yet, so only the sample count is reported for them.
    log.warning("no built-in metrics for data.name=%s; metrics.json records the sample count only", name)
    return {}


def evaluate_run(run_dir: str | os.PathLike, num_samples: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Generate samples from the run's G_ema, score them and write ``metrics.json``."""
    run_dir = Path(run_dir)
    G, config, step = load_generator(run_dir)
    count = num_samples or config.eval.num_samples
    seed = config.train.seed if seed is None else seed
    log.info("evaluating %s at step %d on %d samples", run_dir, step, count)
    samples = generate(G, count, seed, config.eval.batch_size)
    metrics = {"step": step, "dataset": config.data.name, "num_samples": count, "seed": seed}
    metrics.update(evaluate_samples(config, samples))
    # This process generated and scored every sample; sparkgan.cluster records its Spark counterpart.
    metrics.update({"world_size": 1, "spark_master": None})
    write_metrics(run_dir, metrics)
    return metrics


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    path = run_dir / "metrics.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    tmp.replace(path)
