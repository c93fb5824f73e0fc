"""End-to-end runs of the sparkgan command in a subprocess, as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

TINY = ["model.width=8", "train.batch_size=32", "train.steps=6", "train.log_every=2", "train.sample_every=3",
        "train.checkpoint_every=3", "eval.num_samples=500", "train.threads=1"]


def sparkgan(*args, cwd=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "sparkgan", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_train_sample_evaluate(tmp_path):
    run = tmp_path / "run"
    done = sparkgan("train", *TINY, "--out", str(run))
    assert done.returncode == 0, done.stderr

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["steps"] == 6
    assert saved["data"]["resolution"] == 8
    assert saved["model"]["arch"] == "dcgan"
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events] == [2, 4, 6]
    assert {"loss_D", "loss_G", "D_real", "D_fake", "step_time"} <= set(events[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000000003.png", "step-000000006.png"]
    assert list((run / "tensorboard").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["modes_total"] == 10
    assert 1 <= metrics["modes_covered"] <= 10
    assert metrics["fd"] >= 0 and metrics["fd_real"] >= 0
    assert "mode_kl" in done.stdout

    grid = sparkgan("sample", str(run), "-n", "16", "-o", str(tmp_path / "grid.png"), "--seed", "3")
    assert grid.returncode == 0, grid.stderr
    assert Image.open(tmp_path / "grid.png").mode == "RGB"
    raw = sparkgan("sample", str(run), "-n", "10", "-o", str(tmp_path / "raw.npy"), "--seed", "3")
    assert raw.returncode == 0, raw.stderr
    array = np.load(tmp_path / "raw.npy")
    assert array.shape == (10, 1, 8, 8)
    assert array.min() >= -1 and array.max() <= 1
    again = sparkgan("sample", str(run), "-n", "10", "-o", str(tmp_path / "again.npy"), "--seed", "3")
    assert again.returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), array)

    scored = sparkgan("evaluate", str(run))
    assert scored.returncode == 0, scored.stderr
    assert "modes_covered" in scored.stdout


def test_points_sample_as_npy(tmp_path):
    run = tmp_path / "ring"
    done = sparkgan("train", "data.name=ring", "train.steps=4", "train.batch_size=64", "--out", str(run))
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "metrics.json").read_text())["modes_total"] == 8
    sparkgan("sample", str(run), "-n", "50", "-o", str(tmp_path / "points.npy"))
    assert np.load(tmp_path / "points.npy").shape == (50, 2)


def test_dry_run_prints_resolved_config(tmp_path):
    done = sparkgan("train", "--dry-run", "data.name=grid", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = yaml.safe_load(done.stdout)
    assert printed["data"]["modes"] == 25
    assert printed["model"]["arch"] == "mlp"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train.stepz=3"], "unknown key 'train.stepz'"),
        (["train.batch_size=-4"], "'train.batch_size'"),
        (["loss.objective=wgan"], "'wasserstein'"),
    ],
)
def test_config_errors_exit_2_before_work(tmp_path, args, fragment):
    done = sparkgan("train", *args, "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_bad_folder_image_names_file(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        Image.new("RGB", (10, 10), (i * 40, 0, 0)).save(images / f"ok{i}.png")
    (images / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    common = ["data.name=folder", f"data.path={images}", "data.resolution=8", "train.batch_size=4",
              "train.steps=2", "model.width=4"]
    failed = sparkgan("train", *common, "--out", str(tmp_path / "a"))
    assert failed.returncode == 1
    assert "broken.jpg" in failed.stderr
    assert "data.skip_bad=true" in failed.stderr
    assert "Traceback" not in failed.stderr
    skipped = sparkgan("train", *common, "data.skip_bad=true", "--out", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert "1" in skipped.stderr and "broken.jpg" in skipped.stderr


def test_sample_rejects_unknown_suffix(tmp_path):
    run = tmp_path / "run"
    assert sparkgan("train", *TINY, "train.steps=3", "eval.at_end=false", "--out", str(run)).returncode == 0
    done = sparkgan("sample", str(run), "-o", str(tmp_path / "out.jpg"))
    assert done.returncode == 1
    assert ".png, .npy or .parquet" in done.stderr


def test_evaluate_on_missing_run(tmp_path):
    done = sparkgan("evaluate", str(tmp_path / "nothing"))
    assert done.returncode == 2
    assert "not a sparkgan run folder" in done.stderr


def test_presets_listed_and_applied(tmp_path):
    listed = sparkgan("presets")
    assert listed.returncode == 0
    assert "stacked-digits-4:" in listed.stdout
    dry = sparkgan("train", "--preset", "grid", "train.seed=3", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    printed = yaml.safe_load(dry.stdout)
    assert printed["data"]["name"] == "grid"
    assert printed["train"]["seed"] == 3
    unknown = sparkgan("train", "--preset", "nope", "--dry-run", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "unknown preset 'nope'" in unknown.stderr
