"""The mode-collapse benchmark: baseline and each remedy, over seeds, on four benchmarks.

Each (benchmark, variant, seed) is an ordinary training run in
``OUT/runs/<benchmark>/<variant>/seed-<n>``. A run that already has its
``result.json`` is read instead of retrained, so an interrupted benchmark
picks up where it stopped. The summary goes to ``OUT/modes.json``,
``OUT/modes.md`` and ``OUT/modes.png``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sparkgan.config import ConfigError
from sparkgan.presets import PRESETS
from sparkgan.train.events import read_events

log = logging.getLogger(__name__)

BENCHMARKS = ("ring", "grid", "stacked-digits", "stacked-digits-4")

# The baseline is the plain GAN: non-saturating loss, no remedy, no EMA. It
# trains as long as the benchmark's preset, so that only the remedy differs.
BASELINE = ("train.ema_kimg=0",)

VARIANTS: dict[str, tuple[str, ...]] = {
    "baseline": (),
    "pack": ("remedies.pack=2",),
    "minibatch_std": ("remedies.minibatch_std=4",),
    "unrolled": ("remedies.unrolled=5",),
    "spectral_norm": ("remedies.spectral_norm=true",),
    "r1": ("loss.r1_gamma=0.1",),
    "wgan_gp": ("loss.objective=wasserstein",),
    "mode_seeking": ("remedies.mode_seeking=1",),
    "replay": ("remedies.replay=0.5",),
    "ema": ("train.ema_kimg=10",),
    "preset": (),
}

# Published results, with their source. Mode counts out of the benchmark's
# total; high quality in percent; KL to uniform in nats.
PUBLISHED: dict[str, list[dict[str, Any]]] = {
    "ring": [
        # NOTE: ring and grid figures are PacGAN's Table 1 (Lin et al. 2018) as
        # remembered by the authors of this table; check them against the paper.
        {"method": "GAN (PacGAN paper)", "modes": 6.3, "high_quality": 98.2, "kl": 0.45},
        {"method": "PacGAN2", "modes": 7.9, "high_quality": 95.6, "kl": 0.07},
    ],
    "grid": [
        {"method": "GAN (PacGAN paper)", "modes": 17.3, "high_quality": 94.8, "kl": 0.70},
        {"method": "PacGAN4", "modes": 24.8, "high_quality": 93.6, "kl": 0.04},
    ],
    "stacked-digits": [
        # Stacked MNIST, 1,000 modes (PacGAN and EnGAN papers).
        {"method": "PacGAN (Stacked MNIST)", "modes": 1000, "kl": 0.06},
        {"method": "EnGAN (Stacked MNIST)", "modes": 1000, "kl": 0.031},
        {"method": "WGAN-GP (Stacked MNIST)", "modes": 959, "kl": 0.73},
        {"method": "VEEGAN (Stacked MNIST)", "modes": 150, "kl": 2.95},
    ],
    "stacked-digits-4": [
        # Four-channel Stacked MNIST, 10,000 modes (EnGAN paper).
        {"method": "EnGAN (4-channel Stacked MNIST)", "modes": 10000, "kl": 0.048},
        {"method": "WGAN-GP (4-channel Stacked MNIST)", "modes": 9538, "kl": 0.91},
    ],
}


@dataclass(frozen=True)
class RunSpec:
    benchmark: str
    variant: str
    seed: int
    overrides: tuple[str, ...]
    run_dir: Path


def variant_overrides(benchmark: str, variant: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the settings of one benchmark run: the preset, or the baseline plus a remedy."""
    if benchmark not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {benchmark!r}; choose from {', '.join(BENCHMARKS)}")
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    preset = PRESETS[benchmark].overrides
    if variant == "preset":
        return (*preset, *extra)
    # The baseline keeps the preset's data, network size, length and collapse checks,
    # not its remedies, so the detector judges both by the same schedule.
    shared = tuple(
        o for o in preset if o.split("=")[0].split(".")[0] in ("data", "model", "train", "collapse") and "ema_kimg" not in o
    )
    return (*shared, *BASELINE, *VARIANTS[variant], *extra)


def plan_runs(benchmarks: Iterable[str], variants: Iterable[str], seeds: int, out: Path, extra: Iterable[str] = ()) -> list[RunSpec]:
    extra = tuple(extra)
    return [
        RunSpec(b, v, s, (*variant_overrides(b, v, extra), f"train.seed={s}"), out / "runs" / b / v / f"seed-{s}")
        for b in benchmarks
        for v in variants
        for s in range(seeds)
    ]


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Train one run (or read its finished result) and return its row."""
    from sparkgan import api

    result_path = spec.run_dir / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    if spec.run_dir.exists():
        # A run folder without a result is an interrupted run: start it again cleanly.
        shutil.rmtree(spec.run_dir)
    started = time.perf_counter()
    result = api.train(overrides=list(spec.overrides), out=str(spec.run_dir), progress=False)
    seconds = time.perf_counter() - started
    alarms = [e["step"] for e in read_events(spec.run_dir) if e.get("event") == "collapse_alarm"]
    row = {
        "benchmark": spec.benchmark,
        "variant": spec.variant,
        "seed": spec.seed,
        "seconds": round(seconds, 1),
        "alarm_steps": alarms,
        "stopped": result.stopped,
        **(result.metrics or {}),
    }
    tmp = result_path.with_name("result.json.tmp")
    tmp.write_text(json.dumps(row, indent=2))
    tmp.replace(result_path)
    return row


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group rows by (benchmark, variant): mean and std of each metric, worst seed, alarms."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["benchmark"], row["variant"]), []).append(row)
    summary = []
    for (benchmark, variant), group in groups.items():
        entry: dict[str, Any] = {"benchmark": benchmark, "variant": variant, "seeds": len(group)}
        for key in ("modes_covered", "high_quality", "mode_kl", "mode_kl_real", "seconds"):
            values = [r[key] for r in group if key in r and r[key] is not None and math.isfinite(r[key])]
            if values:
                entry[key] = statistics.fmean(values)
                entry[key + "_std"] = statistics.pstdev(values)
        if any("modes_covered" in r for r in group):
            entry["modes_covered_min"] = min(r.get("modes_covered", 0) for r in group)
            entry["modes_total"] = group[0].get("modes_total")
        entry["runs_with_alarm"] = sum(1 for r in group if r["alarm_steps"])
        summary.append(entry)
    return summary


def _cell(entry: dict[str, Any], key: str, digits: int, scale: float = 1.0) -> str:
    if key not in entry:
        return "-"
    return f"{entry[key] * scale:.{digits}f} ± {entry[key + '_std'] * scale:.{digits}f}"


def markdown_table(summary: list[dict[str, Any]]) -> str:
    """Render one table per benchmark, our variants first, then published figures."""
    lines = []
    for benchmark in BENCHMARKS:
        entries = [e for e in summary if e["benchmark"] == benchmark]
        if not entries:
            continue
        points = benchmark in ("ring", "grid")
        total = entries[0].get("modes_total", "?")
        lines += [f"### {benchmark} ({total} modes)", ""]
        header = "| method | seeds | modes covered (min) | " + ("high quality % | " if points else "") + "KL to uniform | runs with alarm | seconds per run |"
        lines += [header, "|" + "---|" * (header.count("|") - 1)]
        for e in entries:
            quality = f"{_cell(e, 'high_quality', 1, 100)} | " if points else ""
            lines.append(
                f"| sparkgan {e['variant']} | {e['seeds']} | {_cell(e, 'modes_covered', 1)} ({e.get('modes_covered_min', '-')}) | "
                f"{quality}{_cell(e, 'mode_kl', 3)} | {e['runs_with_alarm']}/{e['seeds']} | {_cell(e, 'seconds', 0)} |"
            )
        if not points and "mode_kl_real" in entries[0]:
            lines.append(f"| real data (floor) | - | - | {entries[0]['mode_kl_real']:.3f} | - | - |")
        for p in PUBLISHED.get(benchmark, []):
            quality = f"{p['high_quality']} | " if points else ""
            lines.append(f"| {p['method']} (published) | - | {p['modes']} | {quality}{p['kl']} | - | - |")
        lines.append("")
    return "\n".join(lines)


def plot(summary: list[dict[str, Any]], path: Path) -> None:
    """Bar chart of mean KL to uniform per variant, one panel per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benchmarks = [b for b in BENCHMARKS if any(e["benchmark"] == b for e in summary)]
    figure, axes = plt.subplots(1, len(benchmarks), figsize=(4.5 * len(benchmarks), 4), squeeze=False)
    for axis, benchmark in zip(axes[0], benchmarks):
        entries = [e for e in summary if e["benchmark"] == benchmark and "mode_kl" in e]
        axis.bar([e["variant"] for e in entries], [e["mode_kl"] for e in entries],
                 yerr=[e["mode_kl_std"] for e in entries], color="tab:orange")
        axis.set_title(benchmark)
        axis.set_ylabel("KL to uniform (nats, lower is better)")
        axis.tick_params(axis="x", rotation=60)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def run_benchmark(
    benchmarks: Iterable[str] = BENCHMARKS,
    variants: Iterable[str] = tuple(VARIANTS),
    seeds: int = 5,
    out: str | os.PathLike = "benchmark-modes",
    extra: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Train every planned run, then write the JSON, Markdown and plot summaries."""
    out = Path(out)
    specs = plan_runs(list(benchmarks), list(variants), seeds, out, extra)
    rows = []
    for index, spec in enumerate(specs, 1):
        log.info("benchmark run %d/%d: %s %s seed %d", index, len(specs), spec.benchmark, spec.variant, spec.seed)
        rows.append(run_one(spec))
    summary = summarise(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "modes.json").write_text(json.dumps({"runs": rows, "summary": summary, "published": PUBLISHED}, indent=2))
    (out / "modes.md").write_text(markdown_table(summary))
    plot(summary, out / "modes.png")
    return summary
