"""Live mode-collapse detection: diversity of G's samples against the real data's own.

At each check the detector draws a fixed latent batch through G_ema (G
itself when the EMA is off) and measures, in a feature space that fits the data:
- the effective number of modes, exp(entropy of the mode histogram), where
  modes are known (digit classes, stacked-digit combinations, mixture
  centres);
- recall (k = 3) and coverage (k = 5) against held-out real samples;
- the spread, the mean pairwise distance between samples.
Each is divided by the same statistic of real data (a second real set for
recall and coverage), so 1 means "as diverse as the data". A ratio below
its threshold is an alarm.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sparkgan.config import Config
from sparkgan.data import DataSource, dataset_info, mixture_of
from sparkgan.data.seeds import numpy_stream, torch_stream
from sparkgan.metrics.digit_classifier import load_digit_classifier
from sparkgan.metrics.digits import classify_stacked, digit_inputs, stacked_features
from sparkgan.metrics.prdc import density_coverage, precision_recall
from sparkgan.metrics.quantize import quantize_8bit

log = logging.getLogger(__name__)

# Advice printed with an alarm: the remedies that address each statistic.
ADVICE = (
    "Try packing (remedies.pack=2), minibatch standard deviation (remedies.minibatch_std=4), "
    "a mode-seeking term (remedies.mode_seeking=1) or an R1 penalty (loss.r1_gamma); "
    "collapse.action=rollback switches collapse.remedy on automatically."
)


# The collapse setting that bounds each statistic's ratio. Coverage also falls
# when samples are diverse but imprecise, as early in training, so its default
# bound is lower.
THRESHOLD_KEYS = {
    "modes": "min_mode_ratio",
    "recall": "min_ratio",
    "spread": "min_ratio",
    "coverage": "min_coverage_ratio",
}


@dataclass(frozen=True)
class Probe:
    """Feature map and, where known, mode labels (-1 for none) that the detector measures samples with."""

    features: Callable[[np.ndarray], np.ndarray]
    modes: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class CollapseReport:
    """One check: raw statistics, their ratios to the real data's, and the alarms raised."""

    step: int
    values: dict[str, float]
    alarms: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.alarms


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Quantise to 8 bits and average-pool to at most 16 x 16: a cheap, generic image feature."""
    x = torch.from_numpy(quantize_8bit(np.asarray(images, dtype=np.float32)))
    if x.shape[-1] > 16:
        x = F.adaptive_avg_pool2d(x, 16)
    return x.flatten(1).double().numpy()


def build_probe(config: Config) -> Probe:
    """Pick the feature space and mode labels that fit the run's dataset."""
    name = config.data.name
    if dataset_info(name).kind == "points":
        mixture = mixture_of(config.data)
        centers = torch.as_tensor(mixture.centers)

        def mixture_modes(points: np.ndarray) -> np.ndarray:
            distances = torch.cdist(torch.as_tensor(points, dtype=torch.float64), centers)
            nearest, index = distances.min(dim=1)
            # Samples farther than 3 std from every mode have no mode, as in the PacGAN scoring.
            return torch.where(nearest <= 3 * mixture.std, index, -1).numpy()

        return Probe(lambda points: np.asarray(points, dtype=np.float64), mixture_modes)
    if name == "digits":
        classifier = load_digit_classifier()
        return Probe(
            lambda images: classifier.features(digit_inputs(images)),
            lambda images: classifier.predict(digit_inputs(images)),
        )
    if name.startswith("stacked-digits"):
        classifier = load_digit_classifier()
        return Probe(lambda images: stacked_features(classifier, images), lambda images: classify_stacked(classifier, images))
    return Probe(pixel_features)


def effective_modes(labels: np.ndarray) -> float:
    """Return exp(entropy) of the histogram of labels >= 0: the number of equally likely modes it equals."""
    labels = labels[labels >= 0]
    if labels.size == 0:
        return 0.0
    p = np.bincount(labels) / labels.size
    p = p[p > 0]
    return float(math.exp(-(p * np.log(p)).sum()))


def mean_pairwise_distance(features: np.ndarray) -> float:
    x = torch.as_tensor(features, dtype=torch.float64)
    count = x.shape[0]
    return float(torch.pdist(x).sum() * 2 / (count * (count - 1)))


class CollapseDetector:
    """Measure G's diversity on a fixed latent batch and compare it with real data."""

    def __init__(self, config: Config, source: DataSource, device: torch.device, probe: Probe | None = None):
        self.config = config
        self.device = device
        self.probe = probe or build_probe(config)
        settings = config.collapse

        reference = source.reference().numpy()
        order = numpy_stream(config.train.seed, "collapse_real").permutation(len(reference))
        self.count = min(settings.samples, len(reference) // 2)
        real_a = reference[order[:self.count]]
        real_b = reference[order[self.count:2 * self.count]]
        self.z = torch.randn(
            self.count, config.model.z_dim, generator=torch_stream(config.train.seed, "collapse_z")
        )

        # Coverage needs the 5 nearest neighbours of each real sample besides itself.
        self.with_neighbours = self.count > 5
        if not self.with_neighbours:
            log.warning(
                "only %d real samples for collapse checks: recall and coverage are left out, spread and modes remain",
                len(reference),
            )
        self.real_features = self.probe.features(real_a)
        self.real = self._statistics(real_b, self.probe.features(real_b))

    def _statistics(self, samples: np.ndarray, features: np.ndarray) -> dict[str, float]:
        stats = {"spread": mean_pairwise_distance(features)}
        if self.with_neighbours:
            stats["recall"] = precision_recall(self.real_features, features, k=3)[1]
            stats["coverage"] = density_coverage(self.real_features, features, k=5)[1]
        if self.probe.modes is not None:
            stats["modes"] = effective_modes(self.probe.modes(samples))
        return stats

    @torch.no_grad()
    def check(self, G: nn.Module, step: int) -> CollapseReport:
        """Measure G (in eval mode, then back to its previous mode) and compare with the real data."""
        was_training = G.training
        G.eval()
        try:
            samples = G(self.z.to(self.device)).float().cpu().numpy()
        finally:
            G.train(was_training)
        fake = self._statistics(samples, self.probe.features(samples))

        values: dict[str, float] = {}
        alarms: list[str] = []
        settings = self.config.collapse
        for name, value in fake.items():
            reference = self.real[name]
            ratio = value / reference if reference > 0 else 1.0
            values[name] = value
            values[f"{name}_real"] = reference
            values[f"{name}_ratio"] = ratio
            key = THRESHOLD_KEYS[name]
            threshold = getattr(settings, key)
            if step >= settings.start and ratio < threshold:
                alarms.append(
                    f"{name} {value:.4g} is {ratio:.2f} of the real data's {reference:.4g} (below collapse.{key}={threshold})"
                )
        return CollapseReport(step, values, alarms)


def alarm_message(report: CollapseReport) -> str:
    return f"mode collapse suspected at step {report.step}: " + "; ".join(report.alarms) + ". " + ADVICE
