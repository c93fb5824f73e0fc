import math

import numpy as np
import pytest

from sparkgan.config import load_config
from sparkgan.data import build_source
from sparkgan.data.seeds import torch_stream
from sparkgan.eval.evaluate import stacked_digits_metrics
from sparkgan.metrics.digits import stacked_mode_ids
from sparkgan.train import resolve_config


@pytest.fixture(scope="module")
def stacked_source():
    config = resolve_config(load_config(overrides=["data.name=stacked-digits"]))
    return build_source(config.data, config.train.seed)


def test_mode_ids_weight_channels_by_powers_of_ten():
    assert stacked_mode_ids(np.array([[3, 0, 7], [9, 9, 9]])).tolist() == [703, 999]


def test_real_stacks_score_at_the_sampling_floor(stacked_source):
    count = 5000
    real = stacked_source.sample(count, torch_stream(11, "test")).numpy()
    metrics = stacked_digits_metrics(real, stacked_source, seed=0)
    # KL of an empirical histogram of N uniform draws over M modes is about (M - 1) / (2N).
    floor = 999 / (2 * count)
    assert metrics["mode_kl"] == pytest.approx(floor, rel=0.2)
    assert metrics["mode_kl_real"] == pytest.approx(floor, rel=0.2)
    assert metrics["modes_covered"] > 980
    assert metrics["modes_total"] == 1000


def test_collapsed_stacks_cover_one_mode(stacked_source):
    one = stacked_source.sample(1, torch_stream(0, "one")).numpy()
    metrics = stacked_digits_metrics(np.repeat(one, 300, axis=0), stacked_source, seed=0)
    assert metrics["modes_covered"] == 1
    assert metrics["mode_kl"] == pytest.approx(math.log(1000))


def test_shard_statistics_merge_to_local_metrics(tmp_path):
    """Stacked-digit metrics from two merged shards equal the one-process metrics."""
    from sparkgan import api
    from sparkgan.eval import shards
    from sparkgan.eval.evaluate import evaluate_samples
    from sparkgan.eval.generate import generate, load_generator

    run = tmp_path / "stacked"
    api.train(overrides=["data.name=stacked-digits", "model.width=8", "train.steps=2", "train.batch_size=16",
                         "eval.at_end=false", "collapse.every=0", "train.threads=1"], out=str(run), progress=False)
    G, config, _ = load_generator(run)
    local = evaluate_samples(config, generate(G, 600, 4, 128))

    payload = shards.make_payload(G, config)
    parts = [shards.load_statistics(shards.shard_statistics(payload, start, 300, 4, 128)) for start in (0, 300)]
    merged = shards.metrics_from_statistics(config, shards.merge_statistics(parts), payload)
    assert merged["modes_covered"] == local["modes_covered"]
    assert merged["mode_kl"] == pytest.approx(local["mode_kl"], rel=1e-9)
    assert merged["mode_kl_real"] == pytest.approx(local["mode_kl_real"], rel=1e-9)
