"""Spark integration: the only package that imports pyspark.

Install it with ``pip install 'sparkgan[spark]'``.
"""


def __getattr__(name: str):
    # Imported on first use so that `import sparkgan.spark` stays light.
    if name == "SuperResolver":
        from sparkgan.spark.sr import SuperResolver

        return SuperResolver
    raise AttributeError(f"module 'sparkgan.spark' has no attribute {name!r}")
