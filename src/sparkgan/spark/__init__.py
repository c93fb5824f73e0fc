"""Spark integration: the only package that imports pyspark.

Install it with ``pip install 'sparkgan[spark]'``.
"""
