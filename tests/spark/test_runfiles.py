"""Rank 0's run files: a shared folder is used directly, otherwise mirrored next to the checkpoints."""

import uuid

import fsspec

from sparkgan.spark import runfiles


def test_marker_tells_shared_folder(tmp_path):
    assert not runfiles.sees_run_folder(tmp_path, "token")
    runfiles.write_marker(tmp_path, "token")
    assert runfiles.sees_run_folder(tmp_path, "token")
    assert not runfiles.sees_run_folder(tmp_path, "other job")
    runfiles.remove_marker(tmp_path)
    assert not runfiles.sees_run_folder(tmp_path, "token")


def test_mirror_pushes_changes_and_pulls_back(tmp_path):
    remote = runfiles.remote_folder(f"memory://runfiles-{uuid.uuid4().hex}/checkpoints")
    staging = tmp_path / "staging"
    (staging / "samples").mkdir(parents=True)
    (staging / "events.jsonl").write_text('{"step": 1}\n')
    (staging / "samples" / "step-000000001.png").write_bytes(b"png")

    mirror = runfiles.RunFilesMirror(staging, remote)
    assert mirror.push() == 2
    assert mirror.push() == 0
    (staging / "events.jsonl").write_text('{"step": 1}\n{"step": 2}\n')
    assert mirror.push() == 1

    driver_run = tmp_path / "run"
    assert runfiles.copy_remote_to_local(remote, driver_run) == 2
    assert (driver_run / "events.jsonl").read_text() == '{"step": 1}\n{"step": 2}\n'
    assert (driver_run / "samples" / "step-000000001.png").read_bytes() == b"png"

    relaunched = runfiles.RunFilesMirror(tmp_path / "relaunched", remote)
    assert relaunched.pull() == 2
    fs, root = fsspec.core.url_to_fs(remote)
    fs.rm(root, recursive=True)
    assert runfiles.copy_remote_to_local(remote, tmp_path / "empty") == 0
