"""Tiny super-resolution model files shared by the SR tests."""

import pytest
from sr_helpers import tiny_generator

from sparkgan.sr.model_io import save_model


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny-x4.safetensors"
    return save_model(tiny_generator(4), path, stage="psnr")


@pytest.fixture(scope="session")
def tiny_model_file_x2(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny-x2.safetensors"
    return save_model(tiny_generator(2), path, stage="psnr")
