import json
import os
import signal

import pytest
import torch

from sparkgan.config import ConfigError
from sparkgan.sr import api
from sparkgan.sr.model_io import ModelFileError, load_model
from sparkgan.sr.runs import build_data, plan_sr_training
from sparkgan.sr.trainer import SRTrainer
from sparkgan.train import checkpoint as ckpt
from sparkgan.train.schedule import Hook

TINY = [
    "model.width=8", "model.blocks=1", "model.upsample_width=4", "model.d_width=8", "model.d_stages=2",
    "data.patch_size=32", "train.batch_size=4", "train.threads=1", "train.log_every=2",
    "train.validate_every=100", "train.sample_every=100", "train.checkpoint_every=2",
]


def _state(run_dir):
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run_dir / "checkpoints"))


def _assert_same(a, b):
    for part in ("G", "G_ema", "D"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"
    for part in ("opt_psnr", "opt_G", "opt_D"):
        for index, values in a[part]["state"].items():
            for key, tensor in values.items():
                assert torch.equal(tensor, b[part]["state"][index][key]), f"{part}[{index}].{key} differs"


def test_two_stages_write_models_events_and_metrics(tmp_path):
    run = tmp_path / "run"
    overrides = TINY + ["train.psnr_steps=4", "train.gan_steps=2", "train.validate_every=2", "train.sample_every=6"]
    result = api.train(overrides=overrides, out=str(run), progress=False)
    assert result.step == 6
    assert load_model(run / "model-psnr.safetensors").stage == "psnr"
    assert load_model(run / "model-gan.safetensors").stage == "gan"
    assert load_model(run).stage == "gan"
    assert (run / "comparison.png").is_file()
    assert (run / "samples" / "step-000000006.png").is_file()

    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    losses = [e for e in events if "loss_pixel" in e]
    assert [e["step"] for e in losses] == [2, 4, 6]
    assert "loss_D" not in losses[1]
    assert {"loss_D", "loss_G", "loss_adv", "loss_fm", "D_real", "D_fake"} <= set(losses[2])
    assert [e["step"] for e in events if "val_gain" in e] == [2, 4, 6]

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["gan_psnr_loss"] == pytest.approx(
        metrics["psnr_stage"]["mean"]["psnr_model"] - metrics["gan_stage"]["mean"]["psnr_model"]
    )
    assert [i["name"] for i in metrics["psnr_stage"]["images"]] == ["photos:astronaut", "photos:chelsea"]
    assert metrics["psnr_stage"]["protocol"] == {**metrics["psnr_stage"]["protocol"], "channel": "y", "border": 4}


def test_gan_stage_starts_from_psnr_model(tmp_path):
    config = plan_sr_training(overrides=TINY + ["train.psnr_steps=3", "train.gan_steps=1"]).config
    source, _ = build_data(config)
    trainer = SRTrainer(config, tmp_path, source, [], progress=False)
    trainer.run(stop_at=3)
    psnr_model = load_model(tmp_path / "model-psnr.safetensors").generator.state_dict()
    for key, tensor in trainer.G.state_dict().items():
        assert torch.equal(tensor, psnr_model[key])


@pytest.mark.parametrize("stop_at", [3, 5])
def test_resume_equals_straight_run(tmp_path, stop_at):
    overrides = TINY + ["train.psnr_steps=4", "train.gan_steps=2", "eval.at_end=false"]
    api.train(overrides=overrides, out=str(tmp_path / "straight"), progress=False)
    # checkpoint_every=2 leaves the last even step; stopping at an odd step saves nothing newer.
    first = api.train(overrides=overrides, out=str(tmp_path / "resumed"), stop_at=stop_at, progress=False)
    assert first.step == stop_at
    again = api.train(resume=str(tmp_path / "resumed"), progress=False)
    assert again.step == 6
    _assert_same(_state(tmp_path / "straight"), _state(tmp_path / "resumed"))
    assert _event_steps(tmp_path / "resumed") == _event_steps(tmp_path / "straight")
    assert _event_steps(tmp_path / "resumed")[:3] == [2, 4, 6]


def _event_steps(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_interrupt_saves_last_step(tmp_path):
    config = plan_sr_training(overrides=TINY + ["train.psnr_steps=6", "train.gan_steps=0",
                                                "train.checkpoint_every=100"]).config
    source, _ = build_data(config)
    trainer = SRTrainer(config, tmp_path, source, [], progress=False)
    trainer.hooks.append(Hook("ctrl-c", lambda step: os.kill(os.getpid(), signal.SIGINT), every=3, at_end=False))
    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert trainer.step == 3
    assert ckpt.latest_checkpoint(tmp_path / "checkpoints").name == "step-000000003.pt"
    assert signal.getsignal(signal.SIGINT) is handler_before


def test_existing_run_never_overwritten(tmp_path):
    run = tmp_path / "run"
    api.train(overrides=TINY + ["train.psnr_steps=2", "train.gan_steps=0", "eval.at_end=false"], out=str(run),
              progress=False)
    with pytest.raises(ConfigError, match="already contains a run"):
        plan_sr_training(overrides=TINY, out=str(run))


def test_resume_with_changed_settings_rejected(tmp_path):
    run = tmp_path / "run"
    api.train(overrides=TINY + ["train.psnr_steps=2", "train.gan_steps=0", "eval.at_end=false"], out=str(run),
              progress=False)
    with pytest.raises(ConfigError) as error:
        plan_sr_training(resume=str(run), overrides=["train.lr_psnr=0.01", "model.width=16"])
    assert "train.lr_psnr: 0.001 -> 0.01" in str(error.value)
    assert "model.width: 8 -> 16" in str(error.value)
    assert "--allow-config-change" in str(error.value)
    assert plan_sr_training(resume=str(run), overrides=["train.log_every=7"]).config.train.log_every == 7
    allowed = plan_sr_training(resume=str(run), overrides=["train.lr_psnr=0.01"], allow_config_change=True)
    assert allowed.config.train.lr_psnr == 0.01


def test_gan_run_folder_not_resumed_as_sr(tmp_path):
    (tmp_path / "config.yaml").write_text("data:\n  name: digits\n")
    with pytest.raises(ConfigError, match="contains a GAN run"):
        plan_sr_training(resume=str(tmp_path))


def test_missing_paths_named(tmp_path):
    with pytest.raises(ConfigError) as error:
        plan_sr_training(overrides=["data.name=folder", f"data.path={tmp_path / 'nope'}",
                                    f"loss.perceptual_weights={tmp_path / 'vgg.pth'}"])
    assert "'data.path'" in str(error.value)
    assert "'loss.perceptual_weights'" in str(error.value)


def test_gan_stage_from_given_model(tmp_path):
    first = api.train(overrides=TINY + ["train.psnr_steps=2", "train.gan_steps=0", "eval.at_end=false"],
                      out=str(tmp_path / "psnr"), progress=False)
    psnr_model = first.run_dir / "model-psnr.safetensors"
    second = api.train(overrides=TINY + ["train.psnr_steps=0", "train.gan_steps=2", "eval.at_end=false",
                                         f"train.init_from={psnr_model}"], out=str(tmp_path / "gan"), progress=False)
    copied = load_model(second.run_dir / "model-psnr.safetensors").generator.state_dict()
    for key, tensor in load_model(psnr_model).generator.state_dict().items():
        assert torch.equal(copied[key], tensor)
    assert load_model(second.run_dir).stage == "gan"


def test_init_from_other_architecture_rejected(tmp_path):
    first = api.train(overrides=TINY + ["train.psnr_steps=1", "train.gan_steps=0", "eval.at_end=false"],
                      out=str(tmp_path / "a"), progress=False)
    with pytest.raises(ModelFileError, match="'train.init_from'"):
        api.train(overrides=TINY + ["model.blocks=2", f"train.init_from={first.run_dir}", "train.psnr_steps=1",
                                    "train.gan_steps=0"], out=str(tmp_path / "b"), progress=False)
