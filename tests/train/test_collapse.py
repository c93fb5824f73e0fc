import json
import math

import pytest
import torch
import yaml
from torch import nn

from sparkgan import api
from sparkgan.config import load_config
from sparkgan.data import build_source, mixture_of
from sparkgan.train import resolve_config
from sparkgan.train.collapse import CollapseDetector, CollapseReport, effective_modes, mean_pairwise_distance


def test_effective_modes_hand_computed():
    assert effective_modes(torch.tensor([0, 0, 1, 1]).numpy()) == pytest.approx(2.0)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert effective_modes(torch.tensor([0, 0, 0, 1, -1, -1]).numpy()) == pytest.approx(math.exp(entropy))
    assert effective_modes(torch.tensor([-1, -1]).numpy()) == 0.0


def test_mean_pairwise_distance_hand_computed():
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]]).numpy()
    assert mean_pairwise_distance(points) == pytest.approx(4.0)


class MixtureSampler(nn.Module):
    """A perfect generator for a mixture: z[0] picks the mode, z[1:] gives the noise."""

    def __init__(self, centers, std):
        super().__init__()
        self.register_buffer("centers", torch.as_tensor(centers, dtype=torch.float32))
        self.std = std

    def forward(self, z):
        uniform = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2)))
        mode = (uniform * len(self.centers)).long().clamp(max=len(self.centers) - 1)
        return self.centers[mode] + self.std * z[:, 1:3]


class Constant(nn.Module):
    def __init__(self, point):
        super().__init__()
        self.register_buffer("point", torch.tensor(point))

    def forward(self, z):
        return self.point.expand(z.shape[0], -1)


@pytest.fixture(scope="module")
def ring_detector():
    config = resolve_config(load_config(overrides=["data.name=ring", "model.z_dim=3", "collapse.start=0"]))
    source = build_source(config.data, config.train.seed)
    return config, CollapseDetector(config, source, torch.device("cpu"))


def test_detector_quiet_on_a_perfect_generator(ring_detector):
    config, detector = ring_detector
    mixture = mixture_of(config.data)
    report = detector.check(MixtureSampler(mixture.centers, mixture.std), step=10)
    assert report.healthy, report.alarms
    assert report.values["modes_ratio"] == pytest.approx(1.0, abs=0.05)
    assert report.values["coverage_ratio"] > 0.8


def test_detector_alarms_on_a_collapsed_generator(ring_detector):
    _, detector = ring_detector
    report = detector.check(Constant([1.0, 0.0]), step=10)
    assert report.values["modes"] == pytest.approx(1.0)
    assert report.values["modes_ratio"] == pytest.approx(1 / 8, abs=0.02)
    assert any(alarm.startswith("modes") for alarm in report.alarms)
    assert any(alarm.startswith("coverage") for alarm in report.alarms)
    assert any(alarm.startswith("spread") for alarm in report.alarms)


def test_detector_waits_for_start(ring_detector):
    config, _ = ring_detector
    late = resolve_config(load_config(overrides=["data.name=ring", "model.z_dim=3", "collapse.start=100"]))
    detector = CollapseDetector(late, build_source(late.data, 0), torch.device("cpu"))
    assert detector.check(Constant([1.0, 0.0]), step=50).healthy
    assert not detector.check(Constant([1.0, 0.0]), step=100).healthy


TINY = ["data.name=ring", "train.batch_size=32", "train.steps=8", "train.log_every=2", "train.checkpoint_every=2",
        "collapse.every=2", "collapse.start=0", "collapse.samples=100", "eval.at_end=false", "train.threads=1"]


@pytest.fixture
def alarm_once_at_step_4(monkeypatch):
    """Make the detector raise one alarm, the first time it checks step 4."""
    raised = []

    def check(self, G, step):
        if step == 4 and not raised:
            raised.append(step)
            return CollapseReport(step, {"modes_ratio": 0.1}, ["modes 1 is 0.10 of the real data's 8"])
        return CollapseReport(step, {"modes_ratio": 1.0})

    monkeypatch.setattr(CollapseDetector, "check", check)
    return raised


def events_of(run_dir, kind):
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("event") == kind]


def test_warn_records_and_continues(tmp_path, alarm_once_at_step_4):
    result = api.train(overrides=TINY, out=str(tmp_path / "run"), progress=False)
    assert result.step == 8
    assert result.stopped is None
    alarms = events_of(tmp_path / "run", "collapse_alarm")
    assert [a["step"] for a in alarms] == [4]
    assert alarms[0]["action"] == "warn"
    assert len(events_of(tmp_path / "run", "collapse_check")) == 4


def test_stop_ends_the_run_with_a_checkpoint(tmp_path, alarm_once_at_step_4):
    result = api.train(overrides=TINY + ["collapse.action=stop"], out=str(tmp_path / "run"), progress=False)
    assert result.step == 4
    assert "mode collapse suspected at step 4" in result.stopped
    assert "remedies.pack" in result.stopped
    assert (tmp_path / "run" / "checkpoints" / "step-000000004.pt").exists()


def test_rollback_restores_healthy_state_and_switches_remedy(tmp_path, alarm_once_at_step_4):
    result = api.train(
        overrides=TINY + ["collapse.action=rollback", "collapse.remedy=pack"], out=str(tmp_path / "run"), progress=False
    )
    assert result.step == 8
    assert result.stopped is None
    rollbacks = events_of(tmp_path / "run", "collapse_rollback")
    assert rollbacks == [{"step": 4, "event": "collapse_rollback", "remedy": "pack", "to_step": 2}]
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["remedies"]["pack"] == 2
    # The run can be resumed with its new config: D now takes two packed samples.
    resumed = api.train(overrides=["train.steps=10"], resume=str(tmp_path / "run"), progress=False)
    assert resumed.step == 10


def test_second_alarm_after_rollback_stops(tmp_path, monkeypatch):
    def always_alarm(self, G, step):
        return CollapseReport(step, {}, ["spread 0 is 0.00 of the real data's 1"]) if step >= 4 else CollapseReport(step, {})

    monkeypatch.setattr(CollapseDetector, "check", always_alarm)
    result = api.train(
        overrides=TINY + ["collapse.action=rollback", "collapse.remedy=mode_seeking"], out=str(tmp_path / "run"), progress=False
    )
    assert result.stopped is not None
    assert len(events_of(tmp_path / "run", "collapse_rollback")) == 1


def test_tiny_dataset_checks_spread_only(tmp_path):
    from sparkgan.data import TensorSource

    config = resolve_config(load_config(overrides=["model.width=8", "collapse.start=0", "train.batch_size=4"]))
    source = TensorSource("tiny", torch.rand(4, 1, 8, 8) * 2 - 1, seed=0)
    detector = CollapseDetector(config, source, torch.device("cpu"))
    assert detector.with_neighbours is False
    assert set(detector.real) == {"spread", "modes"}
