import pytest
import torch
from torch import nn

from sparkgan.losses import OBJECTIVES
from sparkgan.train.remedies import ReplayBuffer, unrolled_scores


def test_replay_fills_then_replaces_and_round_trips():
    buffer = ReplayBuffer(4, (1,))
    generator = torch.Generator().manual_seed(0)
    buffer.push(torch.tensor([[1.0], [2.0], [3.0]]), generator)
    assert buffer.count == 3
    buffer.push(torch.tensor([[4.0], [5.0], [6.0]]), generator)
    assert buffer.count == 4
    # The fourth sample fills the last free slot; 5 and 6 overwrite random slots.
    stored = set(buffer.samples.flatten().tolist())
    assert stored <= {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}
    assert stored & {5.0, 6.0}

    copy = ReplayBuffer(4, (1,))
    copy.load_state_dict(buffer.state_dict())
    assert torch.equal(copy.samples, buffer.samples)


def test_replay_mix_swaps_the_fraction():
    buffer = ReplayBuffer(8, (1,))
    buffer.push(torch.full((8, 1), -1.0), torch.Generator().manual_seed(0))
    fake = torch.ones(10, 1)
    mixed = buffer.mix(fake, 0.3, torch.Generator().manual_seed(1))
    assert (mixed == -1).sum().item() == 3
    assert (fake == 1).all()
    assert torch.equal(ReplayBuffer(8, (1,)).mix(fake, 0.5, torch.Generator()), fake)


class Linear(nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(weight))

    def forward(self, x):
        return (x * self.w).sum(dim=1)


def test_unrolled_step_matches_hand_computed_update():
    D = Linear([1.0, -1.0])
    real = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    fake = torch.tensor([[1.0, 1.0], [3.0, 1.0]], requires_grad=True)
    inputs = torch.tensor([[1.0, 2.0]])
    # Wasserstein: loss_D = mean(w.f) - mean(w.r); gradient = mean(f) - mean(r) = (1, 0).
    # One step at lr 0.5 gives w' = (0.5, -1), so the score of (1, 2) is 0.5 - 2 = -1.5.
    scores = unrolled_scores(D, OBJECTIVES["wasserstein"], [(real, fake)], 0.5, inputs)
    assert scores.item() == pytest.approx(-1.5)
    assert D.w.tolist() == [1.0, -1.0]
    # The score depends on the fakes through the unrolled update: d score / d fake = -lr * x / N.
    scores.sum().backward()
    torch.testing.assert_close(fake.grad, torch.tensor([[-0.25, -0.5], [-0.25, -0.5]]))


def test_zero_unrolled_steps_is_plain_scoring():
    D = Linear([2.0, 1.0])
    x = torch.tensor([[1.0, 1.0]])
    assert unrolled_scores(D, OBJECTIVES["hinge"], [], 0.1, x).item() == pytest.approx(3.0)


def test_learning_rate_decays_linearly_at_the_end(tmp_path):
    from sparkgan.config import load_config
    from sparkgan.train import Trainer, resolve_config

    config = resolve_config(load_config(overrides=[
        "data.name=ring", "train.steps=10", "train.lr_decay=0.4", "train.lr_G=1e-3", "train.lr_D=2e-3",
        "collapse.every=0", "train.batch_size=16",
    ]))
    trainer = Trainer(config, tmp_path, progress=False)
    seen = []
    original = trainer.d_phase

    def record(step, repeat):
        seen.append((step, trainer.opt_G.param_groups[0]["lr"], trainer.opt_D.param_groups[0]["lr"]))
        return original(step, repeat)

    trainer.phases = [phase if phase.name != "D" else type(phase)("D", record) for phase in trainer.phases]
    trainer.run()
    # Decay over the last 4 of 10 steps: factors 1 up to step 6, then 4/4 ... 1/4 at steps 6..9.
    assert [round(lr_g, 6) for _, lr_g, _ in seen] == [1e-3] * 7 + [7.5e-4, 5e-4, 2.5e-4]
    assert seen[-1][2] == pytest.approx(5e-4)
