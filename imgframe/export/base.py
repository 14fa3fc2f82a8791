"""What the export formats share: the result type, mode and column checks, the text form of
columns (JSON text computed column-wise with Arrow kernels), and the restoring of dtypes on
reading."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ..defaults import WRITE_MODES
from ..errors import DataError, ExportError, InvalidArgument
from ..schema import STRING_COLUMNS, ZONE_JOIN_COLUMNS
from ..schema.arrow import NIC_TYPE, TAGS_TYPE
from ..storage import Location
from ..text import is_missing


@dataclass(frozen=True)
class WrittenFile:
    """What a writer produced: the target (a :class:`~pathlib.Path`, or the URI of an
    object), the rows it now holds, its size in bytes (a dataset's: all its files), and the
    format (one of :data:`FORMATS`)."""

    path: Path | str
    rows: int
    bytes: int
    format: str


#: The Parquet schema metadata key holding imgframe's JSON document.
METADATA_KEY = "imgframe"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow prints the microseconds with %S
LIST_TYPES = {"nicNetworkType": NIC_TYPE, "tags": TAGS_TYPE, "regionIdList": NIC_TYPE}
TEXT_COLUMNS = frozenset((*STRING_COLUMNS, *ZONE_JOIN_COLUMNS, "tagKey", "tagValue"))


def check_mode(target: Location, mode: str) -> None:
    if mode not in WRITE_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(WRITE_MODES)}, not {mode!r}")
    if mode == "error" and target.exists():
        raise ExportError(
            f"cannot write {target}: it already exists (use mode='overwrite' or 'append')"
        )


def check_columns(df: pd.DataFrame) -> None:
    names = list(df.columns)
    if not all(isinstance(n, str) for n in names):
        raise InvalidArgument("export: every column name must be a string")
    if len(set(names)) != len(names):
        raise InvalidArgument("export: column names must be unique")


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def zones_of(df: pd.DataFrame) -> list[str]:
    """The distinct zone ids of a frame, sorted."""
    if "zoneId" not in df.columns:
        return []
    return sorted({str(z) for z in df["zoneId"].dropna().unique()})


def latest_fetch(df: pd.DataFrame) -> str | None:
    if "fetchedAt" not in df.columns or not df["fetchedAt"].notna().any():
        return None
    latest = pd.Timestamp(df["fetchedAt"].max())
    if latest.tzinfo is None:
        latest = latest.tz_localize(UTC)
    return str(latest.tz_convert(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def as_categorical(values: pd.Series, categories: Sequence[str]) -> pd.Series:
    """``values`` as a categorical with ``categories`` first, in order, then any others in
    order of appearance (a hand-edited dataset may hold values the metadata never saw)."""
    known = list(categories)
    seen = set(known)
    text = values.astype("string[pyarrow]")
    for value in text.dropna().unique():
        if value not in seen:
            seen.add(value)
            known.append(value)
    # An empty category list gives an object Index, as the frame's all-NA columns have.
    dtype = pd.CategoricalDtype(categories=known)
    return pd.Series(pd.Categorical(text, dtype=dtype), index=values.index, name=values.name)


def categorical_of(text: pa.Array) -> pd.Categorical:
    """Text as a categorical whose categories are its values in order of first appearance
    (what :func:`as_categorical` gives with no known categories), by Arrow's hash kernel.

    >>> list(categorical_of(pa.array(["b", None, "a", "b"])).categories)
    ['b', 'a']
    """
    encoded = text.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int32, copy=False)
    dtype = pd.CategoricalDtype(categories=encoded.dictionary.to_pylist())
    return pd.Categorical.from_codes(codes, dtype=dtype)


def arrow_input(source: Location) -> str | pa.BufferReader:
    """What pyarrow's readers take for a file: its path, or an object's bytes in memory."""
    if source.is_local:
        return str(source.path)
    return pa.BufferReader(source.read_bytes())


def check_same_columns(old: Sequence[str], new: Sequence[str], target: object) -> None:
    """Appending needs the same columns in the same order; say what differs."""
    if list(old) == list(new):
        return
    problems = []
    if only_old := [n for n in old if n not in new]:
        problems.append(f"only in the file: {short_list(only_old)}")
    if only_new := [n for n in new if n not in old]:
        problems.append(f"only in the frame: {short_list(only_new)}")
    if not problems:
        problems.append("the columns are in another order")
    raise ExportError(f"cannot append to {target}: its columns differ ({'; '.join(problems)})")


def short_list(names: Iterable[Any], limit: int = 8) -> str:
    items = [str(n) for n in names]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def flat_column(series: pd.Series) -> pa.Array:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and is_text(dtype)
    ):
        return pa.array(series.astype("string[pyarrow]").array, type=pa.string())
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pa.array(series.astype("Int64").array, type=pa.int64())
    if isinstance(dtype, pd.DatetimeTZDtype):
        return utc_text(utc_stamps(series)).cast(pa.string())
    if pd.api.types.is_datetime64_dtype(dtype):
        arrow = pa.array(series.astype("datetime64[us]").array)
        return pc.strftime(arrow, format="%Y-%m-%dT%H:%M:%S")
    return pa.array([json_cell(v) for v in python_values(series)], type=pa.string())


def utc_stamps(series: pd.Series) -> pa.Array:
    """A timezone-aware column as Arrow timestamps in microseconds, UTC."""
    return pa.array(series.dt.tz_convert(UTC).astype("datetime64[us, UTC]").array)


def utc_text(stamps: pa.Array) -> pa.DictionaryArray:
    """Timestamps as ISO-8601 text (:data:`TIMESTAMP_FORMAT`), dictionary-encoded.

    A frame holds one ``fetchedAt`` per fetch, so each distinct value is formatted once
    (``strftime`` costs about 1.4 s per million values).

    >>> import datetime as dt
    >>> when = dt.datetime(2025, 3, 1, 8, tzinfo=UTC)
    >>> utc_text(pa.array([when, None, when], pa.timestamp("us", "UTC"))).to_pylist()
    ['2025-03-01T08:00:00.000000Z', None, '2025-03-01T08:00:00.000000Z']
    """
    encoded = stamps.dictionary_encode()
    return pa.DictionaryArray.from_arrays(
        encoded.indices, pc.strftime(encoded.dictionary, format=TIMESTAMP_FORMAT)
    )


def arrow_values(series: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow form of a column whose :func:`python_values` Arrow holds as well (Arrow
    dtypes and booleans), else ``None``."""
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return pa.array(series.array)
    if isinstance(dtype, pd.BooleanDtype) or pd.api.types.is_bool_dtype(dtype):
        return pa.array(series.array, type=pa.bool_())
    return None


def python_values(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.ArrowDtype):
        return list(pa.array(series.array).to_pylist())
    return [None if is_missing(v) else v for v in series.tolist()]


def json_cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default)


def decode_timestamps(column: pa.Array, name: str) -> pd.api.extensions.ExtensionArray:
    try:
        stamps = pc.cast(column, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"column {name!r}: a cell is not an ISO-8601 timestamp ({exc})") from None
    return pd.Series(stamps.to_pandas()).astype("datetime64[us, UTC]").array


def is_text(dtype: Any) -> bool:
    """True for columns holding text: strings, categoricals, objects."""
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return bool(
            pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
        )
    return bool(pd.api.types.is_object_dtype(dtype))


# JSON text, column-wise: what ``json.dumps(value, ensure_ascii=False)`` writes for each value,
# computed with Arrow kernels (a million list cells: about 0.1 s, against 10 s per cell).

#: The working type of encoded text: 64-bit offsets, so a batch never overflows.
TEXT = pa.large_string()

#: What ``json.dumps`` writes for each byte a JSON string cannot hold as it is.
JSON_ESCAPES = {
    0x22: '\\"',
    0x5C: "\\\\",
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
} | {c: f"\\u{c:04x}" for c in range(0x20) if c not in (0x08, 0x09, 0x0A, 0x0C, 0x0D)}
_NEEDS_ESCAPE = np.zeros(256, dtype=bool)
_NEEDS_ESCAPE[list(JSON_ESCAPES)] = True


def text_scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, TEXT)


_NULL = text_scalar("null")
_QUOTE = text_scalar('"')
_EMPTY = text_scalar("")


def text_bytes(values: pa.Array) -> pa.Buffer:
    """The UTF-8 bytes of a string array, all values end to end (a view, not a copy)."""
    if len(values) == 0:
        return pa.py_buffer(b"")
    offsets, _ = string_buffers(values)
    _, _, buffer = values.buffers()
    return buffer.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def string_buffers(values: pa.Array) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The offsets (one per value, plus one) and UTF-8 bytes of a non-empty string or
    large_string array, as NumPy views of its buffers (nothing is copied)."""
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[
        values.offset : values.offset + len(values) + 1
    ]
    if data_buffer is None:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(data_buffer, dtype=np.uint8)


def rows_with_bytes(
    values: pa.Array, wanted: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The rows of a string array holding a byte ``wanted`` (a 256-entry boolean table) marks,
    and which of those bytes occur: one vectorised pass over the bytes, no per-value work."""
    none = np.zeros(0, dtype=np.int64)
    if len(values) == 0:
        return none, none
    offsets, data = string_buffers(values)
    start, stop = int(offsets[0]), int(offsets[-1])
    hits = np.flatnonzero(wanted[data[start:stop]])
    if not hits.size:
        return none, none
    hits += start
    rows = np.unique(np.searchsorted(offsets, hits, side="right") - 1)
    return rows, np.unique(data[hits])


def replace_rows(values: pa.Array, rows: np.ndarray[Any, Any], new: pa.Array) -> pa.Array:
    """``values`` with ``values[rows]`` replaced by ``new`` (rows ascending)."""
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), new.cast(values.type))


def json_strings(values: pa.Array) -> pa.Array:
    """Each string as a JSON string literal, missing values as ``null``.

    Only the values holding a quote, a backslash or a control character are escaped.

    >>> json_strings(pa.array(['say "hi"', "tab\\there", None, "日本"])).to_pylist()
    ['"say \\\\"hi\\\\""', '"tab\\\\there"', 'null', '"日本"']
    """
    text = values.cast(TEXT)
    rows, found = rows_with_bytes(values, _NEEDS_ESCAPE)
    if rows.size:
        escaped = text.take(pa.array(rows))
        # The backslash first: the other escapes add backslashes of their own.
        for byte in sorted(found.tolist(), key=lambda b: (b != 0x5C, b)):
            escaped = pc.replace_substring(escaped, chr(byte), JSON_ESCAPES[byte])
        text = replace_rows(text, rows, escaped)
    return pc.binary_join_element_wise(_QUOTE, text, _QUOTE, _EMPTY).fill_null(_NULL)


def json_encodable(arrow_type: pa.DataType) -> bool:
    """True when :func:`json_text` encodes values of this type (else the caller needs Python:
    floats, timestamps, binary, maps...)."""
    if pa.types.is_dictionary(arrow_type):
        return json_encodable(arrow_type.value_type)
    return all_leaves(arrow_type, _json_leaf)


def _json_leaf(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
    )


def all_leaves(arrow_type: pa.DataType, leaf: Callable[[pa.DataType], bool]) -> bool:
    """Whether ``leaf`` holds for every non-list, non-struct type inside ``arrow_type``
    (structs with a repeated field name fail: their Python values are dicts)."""
    t = arrow_type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return all_leaves(t.value_type, leaf)
    if pa.types.is_struct(t):
        names = [f.name for f in t]
        return len(set(names)) == len(names) and all(all_leaves(f.type, leaf) for f in t)
    return leaf(t)


def json_text(values: pa.Array, *, compact: bool = False) -> pa.Array:
    """Each value as the JSON text ``json.dumps(value, ensure_ascii=False)`` gives for its
    Python value, ``null`` for a missing one; ``compact`` uses the separators ``,`` and
    ``:`` instead of ``, `` and ``: ``. The type must be :func:`json_encodable`.

    Lists (and text with few distinct values) are encoded once per distinct value: a frame's
    tags and NIC types repeat from image to image.

    >>> tags = pa.array([[{"key": "env", "value": None}], [], None],
    ...                 pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())])))
    >>> json_text(tags).to_pylist()
    ['[{"key": "env", "value": null}]', '[]', 'null']
    >>> json_text(tags, compact=True).to_pylist()[0]
    '[{"key":"env","value":null}]'
    """
    t = values.type
    if pa.types.is_dictionary(t):
        return json_text(values.dictionary, compact=compact).take(values.indices).fill_null(_NULL)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if _few_distinct(values):
            return json_text(values.dictionary_encode(), compact=compact)
        return json_strings(values)
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return values.cast(TEXT).fill_null(_NULL)
    if pa.types.is_null(t):
        return pa.nulls(len(values), TEXT).fill_null(_NULL)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = values.offsets.to_numpy().astype(np.int64)
        items = values.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        # The same lists without their nulls (a missing list is "null", set at the end).
        lists = pa.LargeListArray.from_arrays(pa.array(offsets - offsets[0]), items)
        text = _distinct_lists_text(lists, compact) or _lists_text(lists, compact)
    elif pa.types.is_struct(t):
        text = _structs_text(values, compact)
    else:
        raise TypeError(f"json_text: {t} needs Python (see json_encodable)")
    return pc.if_else(values.is_null(), _NULL, text) if values.null_count else text


def _lists_text(lists: pa.LargeListArray, compact: bool) -> pa.Array:
    """``[item, item]`` for every list (none missing)."""
    items = pa.LargeListArray.from_arrays(lists.offsets, json_text(lists.values, compact=compact))
    joined = pc.binary_join(items, text_scalar("," if compact else ", "))
    return pc.binary_join_element_wise(text_scalar("["), joined, text_scalar("]"), _EMPTY)


def _structs_text(values: pa.StructArray, compact: bool) -> pa.Array:
    """``{"name": value, ...}`` for every struct (missing ones are set by the caller)."""
    comma, colon = ("," if compact else ", "), (":" if compact else ": ")
    pieces: list[Any] = []
    for i, field in enumerate(values.type):
        opening = "{" if i == 0 else comma
        pieces.append(text_scalar(opening + json.dumps(field.name, ensure_ascii=False) + colon))
        pieces.append(json_text(pc.struct_field(values, [i]), compact=compact))
    if not pieces:
        return pa.nulls(len(values), TEXT).fill_null(text_scalar("{}"))
    return pc.binary_join_element_wise(*pieces, text_scalar("}"), _EMPTY)


def _few_distinct(values: pa.Array, sample: int = 2048) -> bool:
    """Whether a text column looks worth encoding once per distinct value (judged on its
    first values: a wrong guess costs one hash pass, never a wrong byte)."""
    head = values.slice(0, sample)
    return len(values) > 4 * sample and len(pc.unique(head)) * 16 <= len(head)


def _distinct_lists_text(lists: pa.LargeListArray, compact: bool) -> pa.Array | None:
    """The text of every list, each distinct list encoded once; ``None`` when the items
    cannot be given codes or most lists are distinct.

    Each list becomes the bytes of its items' codes (a binary view over the codes: nothing
    copied per list), which Arrow's hash kernel deduplicates exactly."""
    n = len(lists)
    coded = _item_codes(lists.values) if n >= 64 else None
    if coded is None:
        return None
    codes, _ = coded
    offsets = lists.offsets.to_numpy() * codes.itemsize
    cells = pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(codes)]
    )
    encoded = cells.dictionary_encode()
    distinct = len(encoded.dictionary)
    if distinct * 2 > n:
        return None
    indices = encoded.indices.to_numpy()
    first = np.empty(distinct, dtype=np.int64)
    first[indices[::-1]] = np.arange(n - 1, -1, -1)
    return _lists_text(lists.take(pa.array(first)), compact).take(encoded.indices)


def _item_codes(items: pa.Array) -> tuple[np.ndarray[Any, Any], int] | None:
    """A code per item, equal exactly when the items are equal (nulls included), and the
    number of codes; ``None`` for items other than text, integers, booleans and structs of
    those, or structs with too many combinations to code in 62 bits."""
    t = items.type
    if pa.types.is_struct(t):
        children = [pc.struct_field(items, [i]) for i in range(t.num_fields)]
        if items.null_count:
            children.insert(0, pc.is_valid(items))
        combined = np.zeros(len(items), dtype=np.int64)
        span = 1
        for child in children:
            coded = _item_codes(child)
            if coded is None or span * coded[1] >= 2**62:
                return None
            combined = combined * coded[1] + coded[0]
            span *= coded[1]
        return combined, span
    if not (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
    ):
        return None
    encoded = pc.dictionary_encode(items, null_encoding="encode")
    return encoded.indices.to_numpy().astype(np.int64), max(len(encoded.dictionary), 1)


# Decoding JSON text column-wise: cells as NDJSON, read by Arrow's JSON reader.

_LINE_BREAKS = np.zeros(256, dtype=bool)
_LINE_BREAKS[[0x0A, 0x0D]] = True


def decode_json_cells(cells: pa.Array, arrow_type: pa.DataType, name: str) -> pa.Array:
    """JSON text cells (missing cells null) as Arrow values of ``arrow_type``, exactly as
    ``pa.array([json.loads(cell) ...], arrow_type)`` reads them, with the same errors.

    Each distinct cell is decoded once, by ``pyarrow.json`` over the cells as NDJSON; a
    decoded value is kept only if it encodes back to its cell's exact text (always true of
    what the writers write), and every other cell is decoded by ``json.loads``, which also
    gives the error of a malformed one (:class:`~imgframe.errors.DataError`).

    >>> decode_json_cells(pa.array(['["a",null]', None, ' [ "b" ] ', '["a",null]']),
    ...                   pa.list_(pa.string()), "nics").to_pylist()
    [['a', None], None, ['b'], ['a', None]]
    """
    encoded = cells.dictionary_encode()
    distinct = encoded.dictionary.cast(TEXT)
    decoded = _fast_json_cells(distinct, arrow_type)
    if decoded is None:
        decoded = python_json_cells(distinct, arrow_type, name)
    else:
        canonical = pc.equal(json_text(decoded, compact=True), distinct).to_numpy(
            zero_copy_only=False
        )
        if not canonical.all():
            others = np.flatnonzero(~canonical)
            slow = python_json_cells(distinct.take(pa.array(others)), arrow_type, name)
            order = np.arange(len(distinct))
            order[others] = len(distinct) + np.arange(len(others))
            decoded = pa.concat_arrays([decoded, slow]).take(pa.array(order))
    return decoded.take(encoded.indices)


def _fast_json_cells(cells: pa.Array, arrow_type: pa.DataType) -> pa.Array | None:
    """The cells (none missing) read by ``pyarrow.json``, or ``None`` when it refuses them or
    they cannot be lines of NDJSON (a raw line break in a cell)."""
    if not len(cells) or rows_with_bytes(cells, _LINE_BREAKS)[0].size:
        return None
    lines = pc.binary_join_element_wise(
        text_scalar('{"v":'), cells, text_scalar("}\n"), text_scalar("")
    )
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema([("v", arrow_type)]), unexpected_field_behavior="error"
    )
    try:
        table = pa_json.read_json(pa.BufferReader(text_bytes(lines)), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return None
    if table.num_rows != len(cells):
        return None
    return table.column("v").combine_chunks()


def python_json_cells(cells: pa.Array, arrow_type: pa.DataType, name: str) -> pa.Array:
    """``json.loads`` of each cell, as Arrow values of ``arrow_type`` (the reference the
    column-wise decoder agrees with, and the source of its error messages)."""
    try:
        values = [None if v is None else json.loads(v) for v in cells.to_pylist()]
        return pa.array(values, type=arrow_type)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"column {name!r}: a cell is not a JSON array of the expected shape ({exc})"
        ) from None
