"""JSON Lines: one object per image and line."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ..errors import DataError
from ..frame import empty_frame
from ..schema import CATEGORICAL_COLUMNS, INTEGER_COLUMNS
from ..storage import Location, location
from ..text import is_missing
from .base import (
    LIST_TYPES,
    TEXT,
    TEXT_COLUMNS,
    WrittenFile,
    all_leaves,
    arrow_values,
    as_categorical,
    categorical_of,
    check_columns,
    check_mode,
    check_same_columns,
    decode_timestamps,
    flat_column,
    json_default,
    json_encodable,
    json_text,
    python_values,
    text_bytes,
    text_scalar,
    utc_stamps,
    utc_text,
)
from .csv import in_batches


def write_jsonl(
    df: pd.DataFrame, path: str | os.PathLike[str] | Location, *, mode: str = "error"
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
    target = location(path)
    check_mode(target, mode)
    check_columns(df)
    appending = mode == "append" and target.is_file()
    rows = len(df)
    if appending:
        keys, existing_rows = jsonl_shape(target)
        if keys is not None:
            check_same_columns(keys, [str(c) for c in df.columns], target)
        rows += existing_rows
    with target.atomic_write(copy_existing=appending) as fh:
        _write_jsonl_rows(df, fh)
    return WrittenFile(target.public(), rows, target.size(), "jsonl")


def _write_jsonl_rows(df: pd.DataFrame, sink: IO[bytes]) -> None:
    """Encode each row of ``df`` as one line of JSON into ``sink``.

    The lines are what ``json.dumps(row_dict, ensure_ascii=False)`` writes, built column by
    column with Arrow kernels (see :func:`~imgframe.export.base.json_text`) in batches that
    worker threads encode while the previous batch is written.
    """
    columns = [_jsonl_column(df[name]) for name in df.columns]
    # '{"name": value, "other": value}\n' as literal pieces around each column's text.
    pieces: list[pa.Scalar] = []
    for i, name in enumerate(df.columns):
        opening = "{" if i == 0 else ", "
        pieces.append(text_scalar(opening + json.dumps(str(name), ensure_ascii=False) + ": "))
    closing = text_scalar("}\n" if columns else "{}\n")

    def lines(start: int, length: int) -> pa.Buffer | bytes:
        texts = [encode(values.slice(start, length)) for values, encode in columns]
        if not texts:
            return closing.as_py().encode() * len(range(start, min(start + length, len(df))))
        parts: list[Any] = [p for pair in zip(pieces, texts, strict=True) for p in pair]
        joined = pc.binary_join_element_wise(*parts, closing, text_scalar(""))
        return text_bytes(joined)

    for data in in_batches(lines, len(df)):
        sink.write(data)


def _jsonl_column(
    series: pd.Series,
) -> tuple[pa.Array | pa.ChunkedArray, Callable[[Any], pa.Array]]:
    """A column's Arrow values and the step giving a batch of them as JSON text, each as
    ``json.dumps`` writes the value the per-row encoder put in its dict."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        # The categories' text, as flat_column gives it (categories of numbers print as
        # pandas prints them, "1.0", hence the plain path).
        array = pa.array(series.array)
        value_type = array.type.value_type
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            array = flat_column(series)
        return array, _json_batch
    if isinstance(dtype, pd.DatetimeTZDtype):
        return utc_text(utc_stamps(series)), _json_batch
    if isinstance(dtype, pd.StringDtype) or (
        pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ):
        return flat_column(series), _json_batch
    array = arrow_values(series)
    if array is not None and json_encodable(array.type):
        return array, _json_batch
    if pd.api.types.is_float_dtype(dtype):
        values = [None if is_missing(v) else float(v) for v in series.tolist()]
    else:
        values = python_values(series)
    texts = [json.dumps(v, ensure_ascii=False, default=json_default) for v in values]
    return pa.array(texts, type=TEXT), _as_text


def _json_batch(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return json_text(values)


def _as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def jsonl_shape(path: Location) -> tuple[list[str] | None, int]:
    """The first object's keys (``None`` for an empty file) and the number of lines."""
    keys: list[str] | None = None
    count = 0
    with path.local_copy() as local, local.open("rb") as fh:
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
    """The frame of a JSONL file (see :mod:`imgframe.export` for the dtypes).

    Arrow's JSON reader reads the file when it can give exactly what reading each line
    with ``json.loads`` gives: every line one object, the first line holding every key,
    known columns in their types and extra ones in types Python's reading would infer.
    Anything else (a malformed line included, for its error message) is read line by line.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    frame = _frame_by_arrow(data)
    return frame if frame is not None else _read_jsonl_lines(path)


def _frame_by_arrow(data: bytes) -> pd.DataFrame | None:
    """The frame read by ``pyarrow.json``, or ``None`` when the line-by-line reading might
    read it otherwise (or fail)."""
    first_line = data[: data.find(b"\n")] if b"\n" in data else data
    try:
        first = json.loads(first_line)
    except ValueError:
        return None
    if not isinstance(first, dict) or not first:
        return None
    known = {name: _known_type(name) for name in first}
    schema = pa.schema([(n, t) for n, t in known.items() if t is not None])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    with ThreadPoolExecutor(2) as pool:
        # Lines are counted while Arrow parses (which releases the GIL).
        newlines = pool.submit(data.count, b"\n")
        try:
            table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            return None
        # One row per line (a blank line, or two objects on one, would tell otherwise), and
        # no key that the first line lacks (it would change the column order).
        lines = newlines.result() + (0 if data.endswith(b"\n") else 1)
        if table.num_rows != lines or set(table.column_names) != set(first):
            return None
        if any(known[n] is None and not _inferred_alike(table.schema.field(n).type) for n in first):
            return None

        def typed(name: str) -> Any:
            column = table.column(name).combine_chunks()
            return _typed_extra(column) if known[name] is None else _typed_known(column, name)

        # Arrow kernels release the GIL: two columns convert at a time.
        out = dict(zip(first, pool.map(typed, first), strict=True))
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows))


def _known_type(name: str) -> pa.DataType | None:
    """The Arrow type a known column is read as (``None``: an extra column)."""
    if name in LIST_TYPES:
        return LIST_TYPES[name]
    if name in INTEGER_COLUMNS:
        return pa.int64()
    if name in ("fetchedAt", *CATEGORICAL_COLUMNS) or name in TEXT_COLUMNS:
        return pa.string()
    return pa.string() if name.startswith("tag:") else None


def _inferred_alike(arrow_type: pa.DataType) -> bool:
    """Types that Arrow's JSON reader and ``pa.array`` of the parsed values infer alike (not
    timestamps, which the JSON reader guesses from text)."""
    return all_leaves(arrow_type, _alike_leaf)


def _alike_leaf(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_int64(t)
        or pa.types.is_float64(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
    )


def _typed_known(column: pa.Array, name: str) -> Any:
    if name in LIST_TYPES:
        return pd.array(column, dtype=pd.ArrowDtype(LIST_TYPES[name]))
    if name in INTEGER_COLUMNS:
        return column.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array
    if name == "fetchedAt":
        return decode_timestamps(column, name)
    if name in CATEGORICAL_COLUMNS:
        return categorical_of(column)
    return pd.array(column, dtype="string[pyarrow]")


def _read_jsonl_lines(path: Path) -> pd.DataFrame:
    """Each line by ``json.loads``: the reference reading, and its error messages."""
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
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError) as exc:  # lone surrogates
        raise DataError(
            f"{path}: column {name!r} does not hold {arrow_type} values ({exc})"
        ) from None


def _typed_extra(array: pa.Array) -> Any:
    """An extra column's Arrow values in the dtype the frame gives such a column."""
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


def _inferred(values: list[Any]) -> Any:
    """An extra column's values in the dtype the frame gives such a column."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(
            [None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string()
        )
    return _typed_extra(array)
