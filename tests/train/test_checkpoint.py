import random

import numpy as np
import pytest
import torch

from sparkgan.train import checkpoint as ckpt


def test_round_trip_restores_tensors_and_rng(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    state = {"step": 12, "weights": {"w": torch.randn(3, 3)}, "rng": ckpt.capture_rng_state(), "config": {"a": {"b": 1}}}
    expected = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)])

    path = ckpt.save_checkpoint(state, tmp_path, step=12, keep=2)
    loaded = ckpt.load_checkpoint(path)
    assert loaded["step"] == 12
    assert torch.equal(loaded["weights"]["w"], state["weights"]["w"])
    assert loaded["config"] == {"a": {"b": 1}}

    ckpt.restore_rng_state(loaded["rng"])
    assert torch.equal(torch.rand(4), expected[0])
    np.testing.assert_array_equal(np.random.rand(4), expected[1])
    assert [random.random() for _ in range(4)] == expected[2]


def test_keeps_newest_and_ignores_partial_files(tmp_path):
    for step in (10, 20, 30):
        ckpt.save_checkpoint({"step": step}, tmp_path, step=step, keep=2)
    (tmp_path / "step-000000040.pt.tmp").write_bytes(b"half written")
    assert [step for step, _ in ckpt.list_checkpoints(tmp_path)] == [20, 30]
    assert ckpt.latest_checkpoint(tmp_path).name == "step-000000030.pt"


def test_corrupt_file_is_a_checkpoint_error(tmp_path):
    bad = tmp_path / "step-000000001.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match="cannot read checkpoint"):
        ckpt.load_checkpoint(bad)
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load_checkpoint(tmp_path / "absent.pt")


class Payload:
    def __reduce__(self):
        return (print, ("pickle ran",))


def test_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "step-000000001.pt"
    torch.save({"format": ckpt.CHECKPOINT_FORMAT, "payload": Payload()}, path)
    with pytest.raises(ckpt.CheckpointError):
        ckpt.load_checkpoint(path)
