"""Create or reuse the SparkSession that sparkgan's Spark commands run on."""

from __future__ import annotations

import os
import sys
from typing import Mapping

try:
    from pyspark.sql import SparkSession
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("sparkgan's Spark features need PySpark: pip install 'sparkgan[spark]'") from exc


def spark_session(master: str, conf: Mapping[str, str] | None = None, app_name: str = "sparkgan") -> SparkSession:
    """Return a SparkSession on ``master`` with ``conf`` applied.

    When ``SPARK_LOCAL_IP`` is set and ``conf`` does not name
    ``spark.driver.host``, the driver binds that address too, so a local
    session stays on the interface the user chose (tests use loopback).
    For local masters, executors run this same Python interpreter, which
    has sparkgan installed.
    """
    settings = dict(conf or {})
    local_ip = os.environ.get("SPARK_LOCAL_IP")
    if local_ip and "spark.driver.host" not in settings:
        settings["spark.driver.host"] = local_ip
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()
