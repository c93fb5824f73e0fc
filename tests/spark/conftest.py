"""Spark sessions for the tests: one per master, kept while consecutive modules use it.

A process runs one SparkContext at a time, so a module that needs another
master stops the current session first. Test modules are ordered so that
each master starts once.
"""

import os

import pytest

# Every socket on loopback: Spark binds SPARK_LOCAL_IP, and the driver
# advertises spark.driver.host.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

LOCAL = "local[2]"
CLUSTER = "local-cluster[2,1,1024]"

CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    # The driver may receive no more than this from any job: training on a
    # larger table shows that the driver never collects the data.
    "spark.driver.maxResultSize": "2m",
    "spark.executor.memory": "512m",
}


def session_for(master):
    from pyspark.sql import SparkSession

    from sparkgan.spark.session import spark_session

    current = SparkSession.getActiveSession()
    if current is not None and current.sparkContext.master == master:
        return current
    if current is not None:
        current.stop()
    return spark_session(master, CONF)


@pytest.fixture(scope="module")
def local_spark():
    return session_for(LOCAL)


@pytest.fixture(scope="module")
def cluster_spark():
    return session_for(CLUSTER)


def pytest_sessionfinish(session, exitstatus):
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    current = SparkSession.getActiveSession()
    if current is not None:
        current.stop()
