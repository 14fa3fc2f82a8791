"""Parquet files: written with every Arrow type kept, appended to, read back exactly."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError, ExportError
from ..storage import Location, location
from .arrow import (
    categories_of,
    frame_to_arrow,
    from_arrow,
    merged_document,
    metadata_document,
    metadata_of_schema,
)
from .base import WrittenFile, arrow_input, as_categorical, check_mode, check_same_columns
from .dataset import write_dataset


def write_parquet(
    df: pd.DataFrame,
    path: str | os.PathLike[str] | Location,
    *,
    metadata: Mapping[str, Any] | None = None,
    partition_by: Sequence[str] | None = None,
    mode: str = "error",
) -> WrittenFile:
    """Write the frame to one Parquet file, or to a hive-partitioned dataset directory.

    ``metadata`` (JSON-serialisable, e.g. ``{"filters": {...}, "requestIds": [...]}``) is
    stored with imgframe's own keys; see the module docstring.

    >>> import tempfile
    >>> from imgframe.export import read_export
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageSize": "20"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_parquet(df, Path(tmp) / "images.parquet")
    ...     read_export(written.path).equals(df)
    True
    """
    target = location(path)
    check_mode(target, mode)
    if partition_by:
        return write_dataset(df, target, list(partition_by), metadata=metadata, mode=mode)
    if mode == "append" and target.exists():
        if not target.is_file():
            raise ExportError(
                f"cannot append to {target}: it is a dataset directory; pass partition_by"
            )
        old_info = metadata_of_schema(read_schema(target), target)
        df = _concat_for_append(read_parquet_file(target), df, target)
        document = merged_document(old_info, metadata_document(df, metadata, ()))
        # The rows are all in the new file, so these count it, not the sum of two documents.
        document.update(rows=len(df), categories=categories_of(df))
        table = frame_to_arrow(df, target, document=document)
    else:
        table = frame_to_arrow(df, target, document=metadata_document(df, metadata, ()))
    with target.atomic_write() as fh:
        _write_parquet_table(table, fh)
    return WrittenFile(target.public(), table.num_rows, target.size(), "parquet")


def _write_parquet_table(table: pa.Table, sink: IO[bytes]) -> None:
    """Encode ``table`` as Parquet into ``sink`` (the one place Parquet bytes are produced)."""
    pq.write_table(table, sink, compression="zstd")


def read_parquet_file(path: Path | Location) -> pd.DataFrame:
    try:
        table = pq.read_table(arrow_input(location(path)))
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {path} as Parquet: {exc}") from None
    return from_arrow(table)


def _concat_for_append(old: pd.DataFrame, new: pd.DataFrame, target: Location) -> pd.DataFrame:
    """Old rows then new rows; categoricals get the union of their categories (old first)."""
    check_same_columns(list(old.columns), list(new.columns), target)
    old = old.copy()
    new = new.copy()
    for name in old.columns:
        left, right = old[name].dtype, new[name].dtype
        if isinstance(left, pd.CategoricalDtype) and isinstance(right, pd.CategoricalDtype):
            union = list(dict.fromkeys([*map(str, left.categories), *map(str, right.categories)]))
            old[name] = as_categorical(old[name], union)
            new[name] = as_categorical(new[name], union)
        elif left != right:
            raise ExportError(
                f"cannot append to {target}: column {name!r} is {left} in the file "
                f"but {right} in the frame"
            )
    return pd.concat([old, new], ignore_index=True)


def read_schema(path: Path | Location) -> pa.Schema:
    """The Arrow schema of a Parquet file, or :class:`DataError` when it is not one."""
    try:
        return pq.read_schema(arrow_input(location(path)))
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {path} as Parquet: {exc}") from None
