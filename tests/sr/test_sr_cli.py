"""The ``sparkgan sr`` commands: training in a subprocess as a user runs it, the rest in-process."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from sparkgan.cli.main import main
from sparkgan.sr.images import read_image
from sparkgan.sr.model_io import load_model

TINY = ["model.width=8", "model.blocks=1", "model.upsample_width=4", "model.d_width=8", "model.d_stages=2",
        "data.patch_size=32", "train.batch_size=4", "train.threads=1", "train.psnr_steps=3", "train.gan_steps=2",
        "train.log_every=1", "train.validate_every=5", "train.sample_every=5", "train.checkpoint_every=5"]


def sparkgan(*args, cwd=None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "sparkgan", *args], capture_output=True, text=True, cwd=cwd, env=env)


class Done:
    """Exit status and output of one in-process command."""

    def __init__(self, returncode, captured):
        self.returncode, self.stdout, self.stderr = returncode, captured.out, captured.err


@pytest.fixture
def run_cli(capsys):
    def run(*args):
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code
        return Done(code, capsys.readouterr())

    return run


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    done = sparkgan("sr", "train", *TINY, "--out", str(run))
    assert done.returncode == 0, done.stderr
    return run, done


def test_train_prints_both_stages(trained_run):
    run, done = trained_run
    assert f"run folder: {run} (step 5)" in done.stdout
    assert "psnr_stage: PSNR" in done.stdout
    assert "GAN stage PSNR below the PSNR stage" in done.stdout
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["patch_size"] == 32


def test_bad_patch_size_exits_2_before_work(run_cli, tmp_path):
    done = run_cli("sr", "train", "data.patch_size=30", "--out", str(tmp_path / "run"))
    assert done.returncode == 2
    assert "'data.patch_size'" in done.stderr
    assert "multiple of data.scale=4" in done.stderr
    assert not (tmp_path / "run").exists()


def test_dry_run_prints_config(run_cli, tmp_path):
    done = run_cli("sr", "train", "data.scale=2", "data.patch_size=64", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["data"]["scale"] == 2


def test_blend_then_evaluate(run_cli, trained_run, tmp_path):
    run, _ = trained_run
    blended = tmp_path / "blend.safetensors"
    done = run_cli("sr", "blend", str(run / "model-psnr.safetensors"), str(run / "model-gan.safetensors"),
                    "--alpha", "0.3", "-o", str(blended))
    assert done.returncode == 0, done.stderr
    assert load_model(blended).stage == "blend"

    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 52, 3), dtype=np.uint8)).save(folder / "noise.png")
    scores = tmp_path / "scores.json"
    done = run_cli("sr", "evaluate", str(blended), str(folder), "--json", str(scores))
    assert done.returncode == 0, done.stderr
    assert "noise.png" in done.stdout
    assert "mean" in done.stdout
    report = json.loads(scores.read_text())
    assert report["protocol"]["border"] == 4
    assert report["images"][0]["psnr_gain"] == pytest.approx(
        report["images"][0]["psnr_model"] - report["images"][0]["psnr_bicubic"]
    )


def test_blend_alpha_out_of_range_exits_1(run_cli, trained_run, tmp_path):
    run, _ = trained_run
    done = run_cli("sr", "blend", str(run), str(run), "--alpha", "2", "-o", str(tmp_path / "c.safetensors"))
    assert done.returncode == 1
    assert "invalid alpha 2.0" in done.stderr


def test_upscale_files_and_modes(run_cli, trained_run, tmp_path):
    run, _ = trained_run
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(np.full((10, 12), 128, np.uint8)).save(inputs / "gray.png")
    Image.fromarray(np.full((10, 12, 4), 200, np.uint8)).save(inputs / "rgba.png")
    done = run_cli("sr", "upscale", str(run), str(inputs), "-o", str(tmp_path / "out"), "--tile", "16")
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "out" / "gray.png").mode == "L"
    assert Image.open(tmp_path / "out" / "rgba.png").mode == "RGBA"
    assert read_image(tmp_path / "out" / "gray.png").pixels.shape == (40, 48, 1)

    again = run_cli("sr", "upscale", str(run), str(inputs), "-o", str(tmp_path / "out"))
    assert again.returncode == 1
    assert "--skip-existing" in again.stderr
    resumed = run_cli("sr", "upscale", str(run), str(inputs), "-o", str(tmp_path / "out"), "--skip-existing")
    assert resumed.returncode == 0, resumed.stderr
    assert "upscaled 0 images" in resumed.stdout


def test_upscale_usage_errors(run_cli, trained_run, tmp_path):
    run, _ = trained_run
    missing = run_cli("sr", "upscale", str(run))
    assert missing.returncode == 2
    assert "-o OUT" in missing.stderr
    no_master = run_cli("sr", "upscale", str(run), "--input", str(tmp_path), "-o", str(tmp_path / "o"))
    assert no_master.returncode == 2
    assert "--spark-master" in no_master.stderr


def test_missing_model_exits_1(run_cli, tmp_path):
    done = run_cli("sr", "evaluate", str(tmp_path / "none.safetensors"))
    assert done.returncode == 1
    assert "none.safetensors not found" in done.stderr
