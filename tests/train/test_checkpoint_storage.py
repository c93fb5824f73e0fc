"""Checkpoints on fsspec URIs: the same save, list, prune and load as on a local disk."""

import uuid

import fsspec
import pytest
import torch

from sparkgan.train import checkpoint as ckpt


@pytest.fixture
def memory_folder():
    folder = f"memory://ckpt-{uuid.uuid4().hex}/run"
    yield folder
    fs, root = fsspec.core.url_to_fs(folder)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_remote_round_trip_and_pruning(memory_folder):
    for step in (5, 10, 15):
        path = ckpt.save_checkpoint({"step": step, "w": torch.full((2,), float(step))}, memory_folder, step, keep=2)
        assert path == f"{memory_folder}/step-{step:09d}.pt"
    assert [step for step, _ in ckpt.list_checkpoints(memory_folder)] == [10, 15]
    latest = ckpt.latest_checkpoint(memory_folder)
    loaded = ckpt.load_checkpoint(latest)
    assert loaded["step"] == 15
    assert torch.equal(loaded["w"], torch.tensor([15.0, 15.0]))


def test_remote_ignores_partial_uploads(memory_folder):
    ckpt.save_checkpoint({"step": 1}, memory_folder, 1, keep=3)
    fs, root = fsspec.core.url_to_fs(memory_folder)
    fs.pipe_file(root + "/step-000000002.pt.tmp", b"half written")
    assert [step for step, _ in ckpt.list_checkpoints(memory_folder)] == [1]


def test_remote_missing_folder_and_file(memory_folder):
    assert ckpt.list_checkpoints(memory_folder + "/absent") == []
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load_checkpoint(memory_folder + "/step-000000009.pt")


def test_file_uri_is_a_local_folder(tmp_path):
    path = ckpt.save_checkpoint({"step": 3}, f"file://{tmp_path}", 3, keep=1)
    assert path == tmp_path / "step-000000003.pt"
    assert ckpt.load_checkpoint(f"file://{path}")["step"] == 3


def test_unknown_filesystem_names_the_fix():
    with pytest.raises(ckpt.CheckpointError, match="train.checkpoint_dir"):
        ckpt.list_checkpoints("nosuchfs://bucket/run")
