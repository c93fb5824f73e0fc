import json

import pytest

from sparkgan.benchmark.modes import markdown_table, run_benchmark, summarise, variant_overrides
from sparkgan.config import ConfigError
from sparkgan.presets import PRESETS


def test_summary_of_hand_made_rows():
    rows = [
        {"benchmark": "grid", "variant": "pack", "seed": 0, "modes_covered": 25, "modes_total": 25,
         "high_quality": 0.9, "mode_kl": 0.02, "seconds": 10.0, "alarm_steps": []},
        {"benchmark": "grid", "variant": "pack", "seed": 1, "modes_covered": 23, "modes_total": 25,
         "high_quality": 0.8, "mode_kl": 0.06, "seconds": 20.0, "alarm_steps": [500]},
    ]
    (entry,) = summarise(rows)
    assert entry["modes_covered"] == pytest.approx(24.0)
    assert entry["modes_covered_std"] == pytest.approx(1.0)
    assert entry["modes_covered_min"] == 23
    assert entry["high_quality"] == pytest.approx(0.85)
    assert entry["mode_kl"] == pytest.approx(0.04)
    assert entry["runs_with_alarm"] == 1
    table = markdown_table([entry])
    assert "| sparkgan pack | 2 | 24.0 ± 1.0 (23) | 85.0 ± 5.0 | 0.040 ± 0.020 | 1/2 | 15 ± 5 |" in table
    assert "PacGAN4 (published)" in table


def test_baseline_keeps_preset_size_but_no_remedy():
    overrides = variant_overrides("grid", "baseline")
    assert "data.name=grid" in overrides
    assert "train.ema_kimg=0" in overrides
    assert not any(o.startswith(("remedies.", "loss.")) for o in overrides)
    # The detector checks the baseline on the preset's schedule.
    collapse = [o for o in PRESETS["grid"].overrides if o.startswith("collapse.")]
    assert collapse and all(o in overrides for o in collapse)
    assert "remedies.minibatch_std=4" in variant_overrides("grid", "minibatch_std")
    with pytest.raises(ConfigError, match="unknown variant"):
        variant_overrides("grid", "magic")


def test_tiny_benchmark_writes_table_json_plot_and_reuses_runs(tmp_path):
    extra = ["train.steps=30", "model.width=16", "train.batch_size=64", "collapse.every=0", "train.threads=1"]
    run_benchmark(["ring"], ["baseline", "pack"], seeds=2, out=tmp_path, extra=extra)
    saved = json.loads((tmp_path / "modes.json").read_text())
    assert len(saved["runs"]) == 4
    assert {r["variant"] for r in saved["runs"]} == {"baseline", "pack"}
    assert all(r["modes_total"] == 8 for r in saved["runs"])
    assert (tmp_path / "modes.png").stat().st_size > 0
    assert "### ring (8 modes)" in (tmp_path / "modes.md").read_text()

    result = tmp_path / "runs" / "ring" / "pack" / "seed-1" / "result.json"
    before = result.stat().st_mtime_ns
    run_benchmark(["ring"], ["pack"], seeds=2, out=tmp_path, extra=extra)
    assert result.stat().st_mtime_ns == before
