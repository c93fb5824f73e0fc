"""Evaluation and sampling in shards: any slice of a sample stream, on any machine.

Sample i of a seed depends only on (seed, i), so workers can each generate
a contiguous range of the stream. For evaluation, each worker reduces its
samples to mergeable statistics: counts, histograms, and the mean and
centred scatter matrix of classifier features. Merging them gives the same
metrics as :func:`evaluate_samples` on all samples at once, up to
floating-point rounding, without shipping the samples.

A payload is the bytes of a ``torch.save`` of tensors and plain values
(G_ema's weights, the run config, the digit classifier's weights), so a
worker loads it with ``weights_only=True``.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import pairwise_distances_argmin_min

from sparkgan.config import Config, config_from_dict, config_to_dict
from sparkgan.data import build_source, mixture_of
from sparkgan.data.images import png_bytes
from sparkgan.data.seeds import numpy_stream
from sparkgan.eval.evaluate import real_stacked_modes
from sparkgan.eval.generate import generate
from sparkgan.metrics.digit_classifier import DigitClassifier, DigitNet, load_digit_classifier
from sparkgan.metrics.digits import classify_stacked, digit_inputs
from sparkgan.metrics.frechet import frechet_distance, frechet_distance_from_stats
from sparkgan.metrics.modes import HIGH_QUALITY_STDS, class_mode_stats, kl_divergence
from sparkgan.nets import build_generator


def make_payload(G: torch.nn.Module, config: Config, for_metrics: bool = True) -> bytes:
    """Pack G's weights, the config and, for digit metrics, the digit classifier into bytes."""
    payload: dict[str, Any] = {"config": config_to_dict(config), "G": G.state_dict()}
    if for_metrics and (config.data.name == "digits" or config.data.name.startswith("stacked-digits")):
        classifier = load_digit_classifier()
        payload["classifier"] = classifier.module.state_dict()
        payload["classifier_accuracy"] = classifier.held_out_accuracy
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def _unpack(payload: bytes) -> tuple[dict[str, Any], torch.nn.Module, Config]:
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    config = config_from_dict(state["config"])
    G = build_generator(config)
    G.load_state_dict(state["G"])
    return state, G.eval().requires_grad_(False), config


def _classifier(state: dict[str, Any]) -> DigitClassifier:
    module = DigitNet()
    module.load_state_dict(state["classifier"])
    return DigitClassifier(module.eval(), held_out_accuracy=float(state["classifier_accuracy"]))


def sample_rows(payload: bytes, start: int, count: int, seed: int, batch_size: int) -> pd.DataFrame:
    """Generate samples ``start .. start + count`` of ``seed`` as table rows.

    Columns: ``index``, ``seed`` and ``image`` (PNG bytes) for image data,
    or ``point`` (two floats) for 2-D data.
    """
    _, G, config = _unpack(payload)
    samples = generate(G, count, seed, batch_size, start)
    rows = {"index": np.arange(start, start + count, dtype=np.int64), "seed": np.full(count, seed, np.int64)}
    if config.data.kind == "points":
        rows["point"] = [sample.astype(np.float32) for sample in samples]
    else:
        rows["image"] = [png_bytes(sample) for sample in samples]
    return pd.DataFrame(rows)


def shard_statistics(payload: bytes, start: int, count: int, seed: int, batch_size: int) -> bytes:
    """Generate samples ``start .. start + count`` of ``seed`` and reduce them to mergeable statistics."""
    state, G, config = _unpack(payload)
    samples = generate(G, count, seed, batch_size, start)
    stats: dict[str, np.ndarray] = {"count": np.array(count, np.int64)}
    if config.data.name in ("ring", "grid"):
        mixture = mixture_of(config.data)
        nearest, distance = pairwise_distances_argmin_min(samples.astype(np.float64), mixture.centers)
        high_quality = distance <= HIGH_QUALITY_STDS * mixture.std
        stats["high_quality"] = np.array(int(high_quality.sum()), np.int64)
        stats["mode_histogram"] = np.bincount(nearest[high_quality], minlength=len(mixture.centers)).astype(np.int64)
    elif config.data.name == "digits":
        classifier = _classifier(state)
        inputs = digit_inputs(samples)
        stats["class_histogram"] = np.bincount(classifier.predict(inputs), minlength=10).astype(np.int64)
        features = classifier.features(inputs).astype(np.float64)
        stats["feature_mean"] = features.mean(axis=0)
        centred = features - stats["feature_mean"]
        stats["feature_scatter"] = centred.T @ centred
    elif config.data.name.startswith("stacked-digits"):
        modes = classify_stacked(_classifier(state), samples)
        stats["class_histogram"] = np.bincount(modes, minlength=10 ** config.data.channels).astype(np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **stats)
    return buffer.getvalue()


def load_statistics(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def merge_statistics(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Combine shard statistics; means and scatter matrices merge by Chan et al.'s pairwise rule."""
    total = dict(parts[0])
    for part in parts[1:]:
        n_a, n_b = int(total["count"]), int(part["count"])
        merged = {"count": np.array(n_a + n_b, np.int64)}
        for key in ("high_quality", "mode_histogram", "class_histogram"):
            if key in total:
                merged[key] = total[key] + part[key]
        if "feature_mean" in total:
            delta = part["feature_mean"] - total["feature_mean"]
            n = n_a + n_b
            merged["feature_mean"] = total["feature_mean"] + delta * (n_b / n)
            merged["feature_scatter"] = (
                total["feature_scatter"] + part["feature_scatter"] + np.outer(delta, delta) * (n_a * n_b / n)
            )
        total = merged
    return total


def metrics_from_statistics(config: Config, stats: dict[str, np.ndarray], payload: bytes) -> dict[str, Any]:
    """Turn merged statistics into the metrics that :func:`evaluate_samples` reports."""
    count = int(stats["count"])
    if config.data.name in ("ring", "grid"):
        histogram = stats["mode_histogram"]
        high_quality = int(stats["high_quality"])
        return {
            "modes_covered": int(np.count_nonzero(histogram)),
            "modes_total": int(len(histogram)),
            "high_quality": high_quality / count,
            "mode_kl": kl_divergence(histogram, np.ones(len(histogram))) if high_quality else math.inf,
        }
    if config.data.name.startswith("stacked-digits"):
        histogram = stats["class_histogram"]
        uniform = np.ones(len(histogram))
        real = class_mode_stats(real_stacked_modes(build_source(config.data, config.train.seed), count, config.train.seed),
                                len(histogram), uniform)
        return {
            "modes_covered": int(np.count_nonzero(histogram)),
            "modes_total": int(len(histogram)),
            "mode_kl": kl_divergence(histogram, uniform),
            "modes_covered_real": real["modes_covered"],
            "mode_kl_real": real["mode_kl"],
        }
    if config.data.name != "digits":
        return {}

    state, _, _ = _unpack(payload)
    classifier = _classifier(state)
    source = build_source(config.data, config.train.seed)
    real_features = classifier.features(digit_inputs(source.reference().numpy()))
    reference = np.bincount(source.labels, minlength=10).astype(np.float64)
    # class_mode_stats takes labels; the histogram's labels in any order give the same result.
    predicted = np.repeat(np.arange(10), stats["class_histogram"])
    # evaluate_samples splits the real digits by the run's seed, not the sampling seed.
    order = numpy_stream(config.train.seed, "fd_real_split").permutation(len(real_features))
    half = len(order) // 2
    real_mean = real_features.mean(axis=0)
    real_covariance = np.atleast_2d(np.cov(real_features, rowvar=False))
    return {
        **class_mode_stats(predicted, 10, reference),
        "fd": frechet_distance_from_stats(
            stats["feature_mean"], stats["feature_scatter"] / (count - 1), real_mean, real_covariance
        ),
        "fd_real": frechet_distance(real_features[order[:half]], real_features[order[half:2 * half]]),
        "classifier_accuracy": classifier.held_out_accuracy,
    }
