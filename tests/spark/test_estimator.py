"""GANEstimator and GANModel on local-cluster: fit on a table larger than the driver may receive."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pyspark.ml import Pipeline, PipelineModel

from sparkgan.data.images import decode_image, to_training_array
from sparkgan.data.seeds import sample_latents
from sparkgan.spark.ml import GANEstimator, GANModel

pytestmark = pytest.mark.spark

# Noise PNGs barely compress: 1,500 of 32 x 32 RGB make about 5 MB, more than
# the 2 MB spark.driver.maxResultSize of the test sessions.
IMAGES = 1500


def noise_png(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def big_table(cluster_spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    for part in range(4):
        ids = range(part, IMAGES, 4)
        table = pa.table({"id": list(ids), "photo": [noise_png(i) for i in ids]})
        pq.write_table(table, folder / f"part-{part}.parquet")
    return cluster_spark.read.parquet(str(folder))


def test_fit_transform_save_load(cluster_spark, big_table, tmp_path):
    # The driver cannot receive the table: a collect fails.
    with pytest.raises(Exception, match="maxResultSize"):
        big_table.select("photo").collect()

    estimator = GANEstimator(
        inputCol="photo", dataResolution=8, dataChannels=1, modelWidth=8, modelZDim=8, trainBatchSize=16,
        trainSteps=3, trainThreads=1, trainCheckpointEvery=3, numWorkers=2, runDir=str(tmp_path / "run"),
    )
    assert estimator.config_overrides()[:2] == ["data.resolution=8", "data.channels=1"]
    pipeline_model = Pipeline(stages=[estimator]).fit(big_table)
    model = pipeline_model.stages[0]
    assert isinstance(model, GANModel)
    assert model.step == 3
    assert model.getOrDefault(model.modelWidth) == 8

    seeds = cluster_spark.createDataFrame([(7,), (11,), (None,)], "seed long")
    generated = {row["seed"]: row["generated"] for row in model.transform(seeds).collect()}
    assert generated[None] is None
    G = model.generator()
    expected = G(sample_latents(7, 1, 8, 0)).detach().numpy()[0]
    decoded = to_training_array(decode_image(bytes(generated[7])), channels=1, resolution=8)
    np.testing.assert_allclose(decoded, expected, atol=1 / 127.5)
    assert generated[7] != generated[11]

    pipeline_model.write().save(str(tmp_path / "pipeline"))
    loaded = PipelineModel.load(str(tmp_path / "pipeline")).stages[0]
    assert loaded.uid == model.uid
    assert loaded.step == 3
    again = {row["seed"]: row["generated"] for row in loaded.transform(seeds).collect()}
    assert again == generated

    estimator.write().save(str(tmp_path / "estimator"))
    restored = GANEstimator.load(str(tmp_path / "estimator"))
    assert restored.config_overrides() == estimator.config_overrides()


def test_unknown_param_names_closest():
    with pytest.raises(ValueError, match="no Param 'trainStep'.*trainSteps"):
        GANEstimator(trainStep=5)
