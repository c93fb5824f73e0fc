"""Entry point for spark-submit: the sparkgan command, on the master spark-submit chose.

spark-submit runs a Python file, so pass this module's file::

    spark-submit --master yarn ... "$(python -c 'import sparkgan.spark.submit as m; print(m.__file__)')" \\
        train --num-workers 4 data.name=parquet data.path=hdfs:///images

``train``, ``evaluate`` and ``sample`` run on the session that spark-submit
configured, unless ``--spark-master`` names another master.
"""

from __future__ import annotations

import sys
from typing import Sequence

SPARK_COMMANDS = ("train", "evaluate", "sample")


def main(argv: Sequence[str] | None = None) -> int:
    from pyspark.sql import SparkSession

    from sparkgan.cli.main import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    master = SparkSession.builder.getOrCreate().sparkContext.master
    if args and args[0] in SPARK_COMMANDS and "--spark-master" not in args:
        args[1:1] = ["--spark-master", master]
    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
