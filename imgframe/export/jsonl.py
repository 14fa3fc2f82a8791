"""JSON Lines: one object per image and line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from ..durable import atomic_file, size_on_disk
from ..errors import DataError
from ..frame import empty_frame
from ..schema import CATEGORICAL_COLUMNS, INTEGER_COLUMNS
from ..text import is_missing
from .base import (
    LIST_TYPES,
    TEXT_COLUMNS,
    WrittenFile,
    as_categorical,
    check_columns,
    check_mode,
    check_same_columns,
    decode_timestamps,
    flat_column,
    json_default,
    python_values,
)


def write_jsonl(
    df: pd.DataFrame, path: str | os.PathLike[str], *, mode: str = "error"
) -> WrittenFile:
    """Write one JSON object per image and line.

    >>> import tempfile
    >>> from imgframe.export import read_export
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "nicNetworkType": ["VirtioOnly"]}],
    ...                         zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_jsonl(df, Path(tmp) / "images.jsonl")
    ...     read_export(written.path).equals(df)
    True
    """
    target = Path(path)
    check_mode(target, mode)
    check_columns(df)
    appending = mode == "append" and target.exists()
    rows = len(df)
    if appending:
        keys, existing_rows = jsonl_shape(target)
        if keys is not None:
            check_same_columns(keys, [str(c) for c in df.columns], target)
        rows += existing_rows
    with atomic_file(target, copy_existing=appending) as fh:
        _write_jsonl_rows(df, fh)
    return WrittenFile(target, rows, size_on_disk(target), "jsonl")


def _write_jsonl_rows(df: pd.DataFrame, sink: IO[bytes]) -> None:
    """Encode each row of ``df`` as one line of JSON into ``sink``."""
    names = [str(n) for n in df.columns]
    columns = [_jsonl_values(df[name]) for name in df.columns]
    buffer: list[str] = []
    for row in zip(*columns, strict=True):
        buffer.append(
            json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, default=json_default)
        )
        if len(buffer) >= 2000:
            sink.write(("\n".join(buffer) + "\n").encode())
            buffer.clear()
    if buffer:
        sink.write(("\n".join(buffer) + "\n").encode())


def _jsonl_values(series: pd.Series) -> list[Any]:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype | pd.CategoricalDtype | pd.StringDtype) or (
        pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ):
        return list(flat_column(series).to_pylist())
    if pd.api.types.is_float_dtype(dtype):
        return [None if is_missing(v) else float(v) for v in series.tolist()]
    return python_values(series)


def jsonl_shape(path: Path) -> tuple[list[str] | None, int]:
    """The first object's keys (``None`` for an empty file) and the number of lines."""
    keys: list[str] | None = None
    count = 0
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            if keys is None:
                try:
                    keys = list(json.loads(line))
                except ValueError as exc:
                    raise DataError(f"{path} line 1 is not JSON: {exc}") from None
            count += 1
    return keys, count


def read_jsonl(path: Path) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path} line {number} is not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise DataError(f"{path} line {number} is not a JSON object")
            records.append(record)
    if not records:
        return empty_frame()
    names = list(dict.fromkeys(k for r in records for k in r))
    out: dict[str, Any] = {}
    for name in names:
        values = [r.get(name) for r in records]
        if name in LIST_TYPES:
            out[name] = pd.array(
                _arrow(values, LIST_TYPES[name], name, path),
                dtype=pd.ArrowDtype(LIST_TYPES[name]),
            )
        elif name in INTEGER_COLUMNS:
            out[name] = pd.array(_arrow(values, pa.int64(), name, path), dtype="Int64")
        elif name == "fetchedAt":
            out[name] = decode_timestamps(_arrow(values, pa.string(), name, path), name)
        elif name in CATEGORICAL_COLUMNS:
            text = pd.Series(
                pd.array(_arrow(values, pa.string(), name, path), dtype="string[pyarrow]")
            )
            out[name] = as_categorical(text, []).array
        elif name in TEXT_COLUMNS or name.startswith("tag:"):
            out[name] = pd.array(_arrow(values, pa.string(), name, path), dtype="string[pyarrow]")
        else:
            out[name] = _inferred(values)
    return pd.DataFrame(out, index=pd.RangeIndex(len(records)))


def _arrow(values: list[Any], arrow_type: pa.DataType, name: str, path: Path) -> pa.Array:
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"{path}: column {name!r} does not hold {arrow_type} values ({exc})"
        ) from None


def _inferred(values: list[Any]) -> Any:
    """An extra column's values in the dtype the frame gives such a column."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(
            [None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string()
        )
    arrow_type = array.type
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_null(arrow_type)
    ):
        return pd.array(array.cast(pa.string()), dtype="string[pyarrow]")
    if pa.types.is_integer(arrow_type):
        return pd.array(array, dtype="Int64")
    if pa.types.is_boolean(arrow_type):
        return pd.array(array, dtype="boolean")
    if pa.types.is_floating(arrow_type):
        return pd.array(array, dtype="Float64")
    return pd.array(array, dtype=pd.ArrowDtype(arrow_type))
