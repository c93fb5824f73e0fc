"""Table columns as training arrays: encoded images, or 2-D points.

The in-process Parquet reader here and the Spark executors
(:mod:`sparkgan.spark.data`) convert cells with the same two functions, so a
table trains on the same arrays on a laptop and on a cluster. Images go
through :func:`sparkgan.data.images.decode_image` and
:func:`sparkgan.data.images.to_training_array`, the one conversion rule of
every image source.
"""

from __future__ import annotations

import logging
import math
from typing import Iterable, Literal, Sequence

import numpy as np
from tqdm.auto import tqdm

from sparkgan.data.images import DataError, decode_image, to_training_array

log = logging.getLogger(__name__)

_SKIPPED_LOGGED = 5


def convert_images(
    values: Sequence[bytes | bytearray | memoryview | None],
    names: Sequence[str],
    *,
    channels: int,
    resolution: int,
    skip_bad: bool,
) -> tuple[np.ndarray, list[int], list[DataError]]:
    """Decode encoded image cells into training arrays.

    Returns ``(arrays, kept, errors)``: an N x C x H x W float32 array of the
    decodable cells, their positions in ``values``, and one error per skipped
    cell. A null or undecodable cell raises DataError naming ``names[i]``
    unless ``skip_bad``.
    """
    arrays: list[np.ndarray] = []
    kept: list[int] = []
    errors: list[DataError] = []
    for index, (value, name) in enumerate(zip(values, names)):
        try:
            if value is None:
                raise DataError(f"image {name} is null. Remove the row or fill it with image bytes.")
            array = to_training_array(decode_image(bytes(value), name=name), channels=channels, resolution=resolution)
        except DataError as error:
            if not skip_bad:
                raise DataError(f"{error} Or set data.skip_bad=true to skip undecodable images.") from error
            errors.append(error)
            continue
        arrays.append(array)
        kept.append(index)
    stacked = np.stack(arrays) if arrays else np.zeros((0, channels, resolution, resolution), np.float32)
    return stacked, kept, errors


def convert_points(values: Sequence[Iterable[float] | None], names: Sequence[str]) -> np.ndarray:
    """Convert cells of 2 finite numbers each into an N x 2 float32 array.

    Raises:
        DataError: naming the first cell that is null, of another length or not finite.
    """
    points = np.zeros((len(values), 2), np.float32)
    for index, (value, name) in enumerate(zip(values, names)):
        cell = None if value is None else np.asarray(value, dtype=np.float64).reshape(-1)
        if cell is None or cell.shape != (2,) or not all(math.isfinite(v) for v in cell):
            shown = "null" if value is None else np.asarray(value).tolist()
            raise DataError(
                f"point {name} is {shown}: data.kind=points needs arrays of 2 finite numbers. Fix or remove the row."
            )
        points[index] = cell
    return points


def load_parquet_column(
    path: str,
    column: str,
    *,
    kind: Literal["image", "points"],
    channels: int,
    resolution: int,
    skip_bad: bool = False,
    progress: bool = True,
) -> np.ndarray:
    """Read one column of a Parquet file or folder (a local path or a URI) into memory.

    Returns N x C x H x W float32 images in [-1, 1] for ``kind="image"`` and
    N x 2 float32 points for ``kind="points"``. Rows are read in file order,
    one record batch at a time.

    Raises:
        DataError: for a missing path or column, a column of the wrong type,
            an empty table, or a bad cell (see :func:`convert_images`).
    """
    try:
        import pyarrow as pa
        import pyarrow.dataset as ds
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise DataError("data.name=parquet needs pyarrow: pip install 'sparkgan[spark]'") from None

    try:
        dataset = ds.dataset(path, format="parquet")
    except (FileNotFoundError, OSError, pa.ArrowInvalid) as error:
        raise DataError(f"cannot read Parquet data.path={path!r}: {error}") from None
    check_column_type(dataset.schema, column, kind, where=f"Parquet data {path}")

    parts: list[np.ndarray] = []
    skipped: list[DataError] = []
    row = 0
    bar = tqdm(total=dataset.count_rows(), desc=f"Loading {path}", unit="row", disable=None if progress else True)
    with bar:
        for batch in dataset.to_batches(columns=[column]):
            values = batch.column(0).to_pylist()
            names = [f"row {row + i} of column '{column}' in {path}" for i in range(len(values))]
            if kind == "points":
                parts.append(convert_points(values, names))
            else:
                arrays, _, errors = convert_images(
                    values, names, channels=channels, resolution=resolution, skip_bad=skip_bad
                )
                parts.append(arrays)
                skipped += errors
            row += len(values)
            bar.update(len(values))

    if skipped:
        log.warning(
            "Skipped %d of %d rows of %s that could not be decoded. First %d: %s",
            len(skipped), row, path, min(len(skipped), _SKIPPED_LOGGED),
            " | ".join(str(error) for error in skipped[:_SKIPPED_LOGGED]),
        )
    total = sum(len(part) for part in parts)
    if total == 0:
        raise DataError(f"Parquet data {path} has no usable rows in column '{column}'")
    return np.concatenate(parts)


def check_column_type(schema, column: str, kind: str, where: str) -> None:
    """Check that an Arrow schema has ``column`` of the type that ``kind`` needs.

    Raises:
        DataError: naming the column, the type found and the settings to change.
    """
    import pyarrow as pa

    if column not in schema.names:
        raise DataError(
            f"{where} has no column '{column}' (data.column); its columns are {', '.join(schema.names)}"
        )
    field_type = schema.field(column).type
    if kind == "image" and not (pa.types.is_binary(field_type) or pa.types.is_large_binary(field_type)):
        raise DataError(
            f"column '{column}' of {where} is {field_type}, but data.kind=image needs encoded image bytes (binary). "
            "Set data.column to the image bytes column, or data.kind=points for arrays of 2 numbers"
        )
    if kind == "points":
        is_list = pa.types.is_list(field_type) or pa.types.is_large_list(field_type) or pa.types.is_fixed_size_list(field_type)
        if not is_list or not (pa.types.is_integer(field_type.value_type) or pa.types.is_floating(field_type.value_type)):
            raise DataError(
                f"column '{column}' of {where} is {field_type}, but data.kind=points needs arrays of 2 numbers. "
                "Set data.column to such a column, or data.kind=image for encoded image bytes"
            )
