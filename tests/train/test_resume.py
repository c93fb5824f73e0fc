"""Exact resume: N steps, a checkpoint, N more steps equal 2N steps straight."""

import json

import pytest
import torch

from sparkgan import api
from sparkgan.config import ConfigError
from sparkgan.train import checkpoint as ckpt

TINY = [
    "data.name=digits",
    "model.width=8",
    "model.z_dim=8",
    "train.batch_size=16",
    "train.log_every=2",
    "train.sample_every=5",
    "train.checkpoint_every=5",
    "train.threads=1",
    "eval.at_end=false",
]


def final_state(run_dir):
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run_dir / "checkpoints"))


def assert_same_weights(a, b):
    for part in ("G", "D", "G_ema", "opt_G", "opt_D"):
        flat_a, flat_b = _tensors(a[part]), _tensors(b[part])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            assert torch.equal(flat_a[key], flat_b[key]), f"{part}.{key} differs"


def _tensors(tree, prefix=""):
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_tensors(value, f"{prefix}.{key}"))
        return out
    if isinstance(tree, (list, tuple)):
        out = {}
        for i, value in enumerate(tree):
            out.update(_tensors(value, f"{prefix}[{i}]"))
        return out
    return {}


@pytest.mark.parametrize("objective", ["nonsaturating", "wasserstein"])
def test_resume_equals_straight_run(tmp_path, objective):
    overrides = TINY + ["train.steps=10", f"loss.objective={objective}", "loss.r1_gamma=0.1", "loss.r1_interval=3"]
    if objective == "wasserstein":
        overrides = [o for o in overrides if not o.startswith("loss.r1")] + ["train.d_steps=2"]
    straight = api.train(overrides=overrides, out=str(tmp_path / "straight"), progress=False)
    assert straight.step == 10

    first = api.train(overrides=overrides, out=str(tmp_path / "resumed"), stop_at=5, progress=False)
    assert first.step == 5
    second = api.train(resume=str(tmp_path / "resumed"), progress=False)
    assert second.step == 10

    assert_same_weights(final_state(tmp_path / "straight"), final_state(tmp_path / "resumed"))
    steps = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "events.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8, 10]


def test_resume_with_longer_steps(tmp_path):
    api.train(overrides=TINY + ["train.steps=5"], out=str(tmp_path / "run"), progress=False)
    result = api.train(overrides=["train.steps=10"], resume=str(tmp_path / "run"), progress=False)
    assert result.step == 10
    straight = api.train(overrides=TINY + ["train.steps=10"], out=str(tmp_path / "straight"), progress=False)
    assert straight.step == 10
    assert_same_weights(final_state(tmp_path / "straight"), final_state(tmp_path / "run"))


def test_changed_config_is_refused_with_diff(tmp_path):
    api.train(overrides=TINY + ["train.steps=5"], out=str(tmp_path / "run"), progress=False)
    with pytest.raises(ConfigError) as caught:
        api.train(overrides=["train.lr_G=0.001", "loss.objective=hinge"], resume=str(tmp_path / "run"), progress=False)
    message = str(caught.value)
    assert "train.lr_G: 0.0002 -> 0.001" in message
    assert "loss.objective: 'nonsaturating' -> 'hinge'" in message
    assert "--allow-config-change" in message

    result = api.train(
        overrides=["loss.objective=hinge", "train.steps=6"], resume=str(tmp_path / "run"),
        allow_config_change=True, progress=False,
    )
    assert result.step == 6


def test_existing_run_folder_is_not_overwritten(tmp_path):
    api.train(overrides=TINY + ["train.steps=2"], out=str(tmp_path / "run"), progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        api.train(overrides=TINY + ["train.steps=2"], out=str(tmp_path / "run"), progress=False)


def test_interrupt_saves_a_checkpoint(tmp_path, monkeypatch):
    from sparkgan.train.trainer import Trainer

    original = Trainer.g_phase

    def interrupt_at_step_three(self, step, repeat):
        if step == 3:
            raise KeyboardInterrupt
        return original(self, step, repeat)

    monkeypatch.setattr(Trainer, "g_phase", interrupt_at_step_three)
    with pytest.raises(KeyboardInterrupt):
        api.train(overrides=TINY + ["train.steps=10", "train.checkpoint_every=100"], out=str(tmp_path / "run"), progress=False)
    assert final_state(tmp_path / "run")["step"] == 3
