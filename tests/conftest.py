"""Shared test settings: keep every socket on loopback and caches inside the test run."""

import os

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # One classifier cache per test session: trained once, never in the user's home.
    cache = tmp_path_factory.getbasetemp() / "sparkgan-cache"
    monkeypatch.setenv("SPARKGAN_CACHE", str(cache))
