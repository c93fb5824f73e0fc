"""Data sources by name, one image decoding path, and seeded random streams."""

from sparkgan.data.images import DataError
from sparkgan.data.registry import DATASETS, build_source, dataset_info, mixture_of, resolve_data_defaults
from sparkgan.data.sources import DataSource, MixtureSource, StackedDigitsSource, TensorSource

__all__ = [
    "DATASETS",
    "DataError",
    "DataSource",
    "MixtureSource",
    "StackedDigitsSource",
    "TensorSource",
    "build_source",
    "dataset_info",
    "mixture_of",
    "resolve_data_defaults",
]
