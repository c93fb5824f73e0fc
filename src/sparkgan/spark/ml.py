"""Spark ML stages: GANEstimator trains on a DataFrame, GANModel generates a column.

``GANEstimator(trainSteps=2000, numWorkers=4).fit(df)`` trains on the
image-bytes column ``inputCol`` (or a column of 2-D arrays with
``dataKind="points"``) through the same data-parallel job as ``sparkgan
train --spark-master``, and returns a :class:`GANModel`. ``model.transform(df)``
adds ``outputCol``: for each row's ``seedCol`` value s, the PNG bytes of
sample 0 of seed s (what ``sparkgan sample --seed s -n 1`` draws), or two
floats for 2-D data. Both stages save and load through Spark ML's writers
and readers, so they work inside a Pipeline.

Params mirror the config: one Param per config key, named by section and
field in camel case (``train.batch_size`` is ``trainBatchSize``,
``model.z_dim`` is ``modelZDim``, ``spark.num_workers`` is ``numWorkers``).
Unset Params keep the config's defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import tempfile
import typing
import uuid
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from pyspark import keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import (
    DefaultParamsReadable,
    DefaultParamsReader,
    DefaultParamsWritable,
    DefaultParamsWriter,
    MLReadable,
    MLReader,
    MLWritable,
    MLWriter,
)
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparkgan.config import Config, config_from_dict, config_to_dict
from sparkgan.data.images import png_bytes
from sparkgan.data.seeds import sample_latents
from sparkgan.nets import build_generator
from sparkgan.spark.launch import train_on_spark
from sparkgan.train import checkpoint as ckpt
from sparkgan.train import plan_new_run
from sparkgan.train.runs import checkpoint_folder

# Config keys that the DataFrame, the session or the stage itself decide.
_NOT_PARAMS = {"data.name", "data.path", "data.table", "data.column", "spark.master", "spark.conf", "eval.at_end"}
_RENAMED = {"spark.num_workers": "numWorkers", "spark.max_attempts": "maxAttempts"}


def _param_name(key: str) -> str:
    if key in _RENAMED:
        return _RENAMED[key]
    words = key.replace(".", "_").split("_")
    return words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])


def _converter(field_type):
    inner = field_type
    if typing.get_origin(field_type) is typing.Union:
        inner = next(arg for arg in typing.get_args(field_type) if arg is not type(None))
    if inner is bool:
        return TypeConverters.toBoolean
    if inner is int:
        return TypeConverters.toInt
    if inner is float:
        return TypeConverters.toFloat
    return TypeConverters.toString


def _config_params() -> tuple[dict[str, tuple[str, Param]], dict[str, Any]]:
    """Build one Param per config key: ``{param name: (config key, Param)}`` and their defaults."""
    params, defaults = {}, {}
    for section_name, section in typing.get_type_hints(Config).items():
        hints = typing.get_type_hints(section)
        for field in dataclasses.fields(section):
            key = f"{section_name}.{field.name}"
            if key in _NOT_PARAMS:
                continue
            name = _param_name(key)
            doc = f"{field.metadata.get('help', key)} (config key {key})"
            params[name] = (key, Param(Params._dummy(), name, doc, typeConverter=_converter(hints[field.name])))
            if field.default is not None and field.default is not dataclasses.MISSING:
                defaults[name] = field.default
    return params, defaults


CONFIG_PARAMS, CONFIG_DEFAULTS = _config_params()


class _ConfigParams(HasInputCol):
    """The Params of GANEstimator; the config-mirroring ones are added below the class."""

    runDir = Param(Params._dummy(), "runDir", "run folder of the training job (default: a new temporary folder)",
                   typeConverter=TypeConverters.toString)

    def config_overrides(self) -> list[str]:
        """Return ``key=value`` overrides for every config Param that is set."""
        overrides = []
        for name, (key, _) in CONFIG_PARAMS.items():
            param = getattr(self, name)
            if self.isSet(param):
                value = self.getOrDefault(param)
                overrides.append(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
        return overrides


for _name, (_key, _param) in CONFIG_PARAMS.items():
    setattr(_ConfigParams, _name, _param)


class GANEstimator(Estimator, _ConfigParams, DefaultParamsReadable, DefaultParamsWritable):
    """Train a GAN on a DataFrame column with data-parallel training on the session's executors."""

    @keyword_only
    def __init__(self, **params: Any):
        super().__init__()
        self._setDefault(inputCol="image", runDir="", **CONFIG_DEFAULTS)
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, **params: Any) -> "GANEstimator":
        """Set Params by name, such as ``setParams(trainSteps=500, numWorkers=2)``.

        Raises:
            ValueError: for a name that is not a Param, with the closest names.
        """
        known = {param.name for param in self.params}
        for name in self._input_kwargs:
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ValueError(
                    f"GANEstimator has no Param '{name}'{hint} (config key train.batch_size is Param trainBatchSize)"
                )
        return self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> "GANModel":
        spark = dataset.sparkSession
        view = f"sparkgan_fit_{uuid.uuid4().hex}"
        dataset.createOrReplaceTempView(view)
        run_dir = self.getOrDefault(self.runDir) or tempfile.mkdtemp(prefix="sparkgan-fit-")
        overrides = [
            "data.name=parquet",
            f"data.table={view}",
            f"data.column={self.getInputCol()}",
            f"spark.master={spark.sparkContext.master}",
            *self.config_overrides(),
        ]
        try:
            plan = plan_new_run(None, overrides, run_dir)
            train_on_spark(plan, spark=spark, progress=False)
        finally:
            spark.catalog.dropTempView(view)

        state = ckpt.load_checkpoint(ckpt.latest_checkpoint(checkpoint_folder(plan.config, plan.run_dir)))
        model = GANModel(config_to_dict(plan.config), state["G_ema"], int(state["step"]))
        model._resetUid(f"GANModel_{uuid.uuid4().hex[:12]}")
        return self._copyValues(model)


class _ModelParams(HasOutputCol):
    seedCol = Param(Params._dummy(), "seedCol", "column of integer seeds; each row gets sample 0 of its seed",
                    typeConverter=TypeConverters.toString)


class GANModel(Model, _ModelParams, _ConfigParams, MLReadable, MLWritable):
    """A trained G_ema that adds a generated-sample column to a DataFrame of seeds."""

    def __init__(self, config: dict | None = None, weights: dict[str, torch.Tensor] | None = None, step: int = 0):
        super().__init__()
        self._setDefault(outputCol="generated", seedCol="seed", inputCol="image", runDir="")
        self.config_dict = config or {}
        self.weights = weights or {}
        self.step = step

    def setOutputCol(self, value: str) -> "GANModel":
        return self._set(outputCol=value)

    def setSeedCol(self, value: str) -> "GANModel":
        return self._set(seedCol=value)

    def generator(self) -> torch.nn.Module:
        """Return G_ema as a torch module in eval mode."""
        G = build_generator(config_from_dict(self.config_dict))
        G.load_state_dict(self.weights)
        return G.eval().requires_grad_(False)

    def _payload(self) -> bytes:
        buffer = io.BytesIO()
        torch.save({"config": self.config_dict, "G": self.weights}, buffer)
        return buffer.getvalue()

    def _transform(self, dataset: DataFrame) -> DataFrame:
        config = config_from_dict(self.config_dict)
        shared = dataset.sparkSession.sparkContext.broadcast(self._payload())
        points = config.data.kind == "points"
        batch_size = config.eval.batch_size

        def generate(seeds: pd.Series) -> pd.Series:
            return _generate_column(shared.value, seeds, points, batch_size)

        column_type = "array<float>" if points else "binary"
        udf = F.pandas_udf(generate, column_type)
        seeds = F.col(self.getOrDefault(self.seedCol)).cast("long")
        return dataset.withColumn(self.getOutputCol(), udf(seeds))

    @classmethod
    def read(cls) -> "GANModelReader":
        return GANModelReader()

    def write(self) -> "GANModelWriter":
        return GANModelWriter(self)


_GENERATORS: dict[int, torch.nn.Module] = {}


def _generate_column(payload: bytes, seeds: pd.Series, points: bool, batch_size: int) -> pd.Series:
    """Generate one sample per seed on an executor; a null seed gives a null sample."""
    # Python workers are reused between tasks, so each builds G once per payload.
    key = hash(payload)
    if key not in _GENERATORS:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        G = build_generator(config_from_dict(state["config"]))
        G.load_state_dict(state["G"])
        _GENERATORS.clear()
        _GENERATORS[key] = G.eval().requires_grad_(False)
    G = _GENERATORS[key]

    present = seeds.notna().to_numpy()
    values = seeds[present].astype(np.int64).tolist()
    outputs: list[Any] = []
    for start in range(0, len(values), batch_size):
        z = torch.cat([sample_latents(seed, 1, G.z_dim, 0) for seed in values[start:start + batch_size]])
        with torch.no_grad():
            samples = G(z).float().numpy()
        outputs += [sample.astype(np.float32) if points else png_bytes(sample) for sample in samples]
    result: list[Any] = [None] * len(seeds)
    for position, output in zip(np.flatnonzero(present), outputs):
        result[position] = output
    return pd.Series(result, dtype=object)


class GANModelWriter(MLWriter):
    """Save a GANModel: its Params as Spark ML metadata, its config and weights as a one-row Parquet table."""

    def __init__(self, instance: GANModel):
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sparkSession)
        buffer = io.BytesIO()
        torch.save(self.instance.weights, buffer)
        row = (yaml.safe_dump(self.instance.config_dict, sort_keys=False), buffer.getvalue(), self.instance.step)
        frame = self.sparkSession.createDataFrame([row], "config string, weights binary, step long")
        frame.coalesce(1).write.parquet(f"{path}/data")


class GANModelReader(MLReader):
    """Load a GANModel saved by GANModelWriter."""

    def load(self, path: str) -> GANModel:
        metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
        row = self.sparkSession.read.parquet(f"{path}/data").first()
        weights = torch.load(io.BytesIO(row["weights"]), map_location="cpu", weights_only=True)
        model = GANModel(yaml.safe_load(row["config"]), weights, int(row["step"]))
        model._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(model, metadata)
        return model
