"""Hive-partitioned Parquet datasets: written whole (staged, then swapped in), appended to, read."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..durable import (
    atomic_file,
    export_error,
    fix_tree_modes,
    replace_directory,
    size_on_disk,
    staging_directory,
)
from ..errors import DataError, ExportError, InvalidArgument
from ..storage import Location
from .arrow import (
    encode_document,
    frame_to_arrow,
    from_arrow,
    merged_document,
    metadata_document,
    metadata_of_schema,
)
from .base import METADATA_KEY, WrittenFile, check_same_columns, short_list

COMMON_METADATA = "_common_metadata"
#: The commit file of a dataset in an object store (see :mod:`imgframe.export.objects`).
DATASET_MANIFEST = "_manifest.json"


def write_dataset(
    df: pd.DataFrame,
    where: Location,
    partition_by: list[str],
    *,
    metadata: Mapping[str, Any] | None,
    mode: str,
) -> WrittenFile:
    for name in partition_by:
        if name not in df.columns:
            raise InvalidArgument(f"partition_by: no column {name!r} in the frame")
        dtype = df[name].dtype
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype):
            raise InvalidArgument(f"partition_by: cannot partition on nested column {name!r}")
    if not where.is_local:
        from .objects import write_object_dataset

        return write_object_dataset(df, where, partition_by, metadata=metadata, mode=mode)
    target = where.path
    if mode == "append" and target.exists():
        return append_dataset(df, target, partition_by, metadata)
    check_replaceable(where)
    table = frame_to_arrow(df, target, document=metadata_document(df, metadata, partition_by))
    try:
        with staging_directory(target) as staging:
            _write_dataset_files(table, staging, partition_by)
            pq.write_metadata(table.schema, staging / COMMON_METADATA)
            fix_tree_modes(staging)
            replace_directory(staging, target)
    except Exception as exc:
        raise export_error(target, exc) from exc
    return WrittenFile(target, table.num_rows, size_on_disk(target), "parquet")


def is_dataset(path: Location) -> bool:
    """True for a dataset directory imgframe wrote (its ``_common_metadata`` says so, or,
    in an object store, its manifest)."""
    if not path.is_local and path.child(DATASET_MANIFEST).is_file():
        return True
    common = path.child(COMMON_METADATA)
    if not common.is_file():
        return False
    try:
        schema = pq.read_schema(pa.BufferReader(common.read_bytes()))
        return METADATA_KEY.encode() in (schema.metadata or {})
    except (OSError, pa.ArrowInvalid, DataError):
        return False


def check_replaceable(target: Location) -> None:
    """Refuse to replace a directory imgframe did not write: ``mode="overwrite"`` of a
    dataset deletes the old directory, and it must never be somebody's own files."""
    symlink = target.is_local and target.path.is_symlink()
    if target.is_dir() and not symlink and not is_dataset(target):
        raise ExportError(
            f"refusing to replace {target}: it is a directory that is not an imgframe dataset "
            f"(no {COMMON_METADATA} written by imgframe); remove it or choose another path"
        )


def write_dataset_files(table: pa.Table, directory: Path, partition_by: Sequence[str]) -> None:
    """Write the data files of a hive-partitioned dataset into a local ``directory``."""
    _write_dataset_files(table, directory, partition_by)


def _write_dataset_files(table: pa.Table, directory: Path, partition_by: Sequence[str]) -> None:
    """Write the data files of a hive-partitioned dataset (partition columns as text)."""
    for name in partition_by:
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(index).cast(pa.string()))
    # The files carry no schema metadata: _common_metadata holds it, with the real types.
    table = table.replace_schema_metadata(None)
    partitioning = ds.partitioning(
        pa.schema([(name, pa.string()) for name in partition_by]), flavor="hive"
    )
    # A time-ordered, unique file name keeps appends after the files already there.
    stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    ds.write_dataset(
        table,
        directory,
        format="parquet",
        partitioning=partitioning,
        basename_template=f"part-{stamp}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        max_partitions=100_000,
        create_dir=True,
    )


def append_dataset(
    df: pd.DataFrame,
    target: Path,
    partition_by: list[str],
    metadata: Mapping[str, Any] | None,
) -> WrittenFile:
    if not (target / COMMON_METADATA).is_file():
        raise ExportError(f"cannot append to {target}: it is not a dataset written by imgframe")
    old_schema = pq.read_schema(target / COMMON_METADATA)
    old_info = metadata_of_schema(old_schema, target)
    if old_info.get("partitionBy") != partition_by:
        raise ExportError(
            f"cannot append to {target}: it is partitioned by {old_info.get('partitionBy')}, "
            f"not {partition_by}"
        )
    table = frame_to_arrow(df, target, document=metadata_document(df, metadata, partition_by))
    check_same_schema(old_schema, table.schema, target)
    document = merged_document(old_info, metadata_document(df, metadata, partition_by))
    rows = int(document["rows"])
    new_metadata = dict(old_schema.metadata or {})
    new_metadata[METADATA_KEY.encode()] = encode_document(document)

    try:
        with staging_directory(target) as staging:
            _write_dataset_files(table, staging, partition_by)
            fix_tree_modes(staging)
            for file in sorted(p for p in staging.rglob("*.parquet")):
                destination = target / file.relative_to(staging)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file, destination)
        with atomic_file(target / COMMON_METADATA) as fh:
            pq.write_metadata(old_schema.with_metadata(new_metadata), fh)
    except Exception as exc:
        raise export_error(target, exc) from exc
    return WrittenFile(target, rows, size_on_disk(target), "parquet")


def check_same_schema(old: pa.Schema, new: pa.Schema, target: object) -> None:
    check_same_columns(old.names, new.names, target)
    retyped = [f.name for f in new if old.field(f.name).type != f.type]
    if retyped:
        raise ExportError(
            f"cannot append to {target}: other types in the frame for {short_list(retyped)}"
        )


def read_dataset(where: Location) -> pd.DataFrame:
    if not where.is_local:
        from .objects import read_object_dataset

        return read_object_dataset(where)
    path = where.path
    common = path / COMMON_METADATA
    if not common.is_file():
        raise DataError(f"{path} is a directory without {COMMON_METADATA}: not an imgframe dataset")
    schema = pq.read_schema(common)
    info = metadata_of_schema(schema, path)
    partition_by = list(info.get("partitionBy", []))
    file_schema = pa.schema(
        [pa.field(f.name, pa.string()) if f.name in partition_by else f for f in schema]
    )
    partitioning = ds.partitioning(
        pa.schema([(name, pa.string()) for name in partition_by]), flavor="hive"
    )
    try:
        dataset = ds.dataset(path, format="parquet", partitioning=partitioning, schema=file_schema)
        table = dataset.to_table()
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read the dataset {path}: {exc}") from None
    table = table.select(schema.names).cast(schema)
    frame = from_arrow(table)
    return sorted_rows(frame)


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in ("zoneId", "imageId") if k in frame.columns]
    if not keys or frame.empty:
        return frame.reset_index(drop=True)
    order = pd.DataFrame({k: frame[k].astype("string[pyarrow]") for k in keys})
    index = order.sort_values(keys, kind="stable", na_position="last").index
    return frame.loc[index].reset_index(drop=True)
