"""CSV (and gzip-compressed CSV): text cells quoted, list cells as JSON, formulas neutralised."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ..defaults import TAG_LAYOUTS
from ..errors import DataError, InvalidArgument
from ..frame import explode_tags, tag_columns
from ..schema import CATEGORICAL_COLUMNS, INTEGER_COLUMNS
from ..storage import Location, location
from ..text import FORMULA_PATTERN
from .base import (
    LIST_TYPES,
    TEXT,
    WrittenFile,
    arrow_values,
    categorical_of,
    check_columns,
    check_mode,
    check_same_columns,
    decode_json_cells,
    decode_timestamps,
    flat_column,
    is_text,
    json_encodable,
    json_text,
    replace_rows,
    string_buffers,
    utc_stamps,
    utc_text,
)

_T = TypeVar("_T")

# A neutralised value: one ``'`` in front of what FORMULA_PATTERN matches.
_RESTORE_PATTERN = "^'" + FORMULA_PATTERN.removeprefix("^")

# First bytes that can start a formula or a neutralised one: only values starting with one of
# these go through the regular expression (a million plain names: 10 ms instead of 75 ms).
_FORMULA_STARTS = np.zeros(256, dtype=bool)
_FORMULA_STARTS[[ord(c) for c in "=+-@\t\r'"]] = True
_QUOTE_STARTS = np.zeros(256, dtype=bool)
_QUOTE_STARTS[ord("'")] = True

#: Rows encoded per batch: batches are encoded on worker threads while the previous one is
#: written, and bound the memory the text form of a column takes.
BATCH_ROWS = 65_536


def neutralize_formula(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Prefix ``'`` to text that a spreadsheet would run as a formula (reversibly).

    >>> neutralize_formula(pa.array(["=SUM(A1)", "'=x", "plain", None])).to_pylist()
    ["'=SUM(A1)", "''=x", 'plain', None]
    """
    return _replace_where_first_byte(values, _FORMULA_STARTS, FORMULA_PATTERN, r"'\1")


def restore_formula(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Undo :func:`neutralize_formula`.

    >>> restore_formula(pa.array(["'=SUM(A1)", "''=x", "'plain", None])).to_pylist()
    ['=SUM(A1)', "'=x", "'plain", None]
    """
    return _replace_where_first_byte(values, _QUOTE_STARTS, _RESTORE_PATTERN, r"\1")


def _replace_where_first_byte(
    values: pa.Array | pa.ChunkedArray,
    starts: np.ndarray[Any, Any],
    pattern: str,
    replacement: str,
) -> pa.Array | pa.ChunkedArray:
    """``pc.replace_substring_regex`` of an anchored ``pattern``, run only on the values whose
    first byte ``starts`` marks (the others cannot match)."""
    if isinstance(values, pa.ChunkedArray):
        chunks = [_replace_where_first_byte(c, starts, pattern, replacement) for c in values.chunks]
        return pa.chunked_array(chunks, type=values.type)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return pc.replace_substring_regex(values, pattern=pattern, replacement=replacement)
    if len(values) == 0:
        return values
    offsets, data = string_buffers(values)
    first = np.zeros(len(values), dtype=np.uint8)
    filled = offsets[1:] > offsets[:-1]
    first[filled] = data[offsets[:-1][filled]]
    rows = np.flatnonzero(starts[first])
    if not rows.size:
        return values
    changed = pc.replace_substring_regex(
        values.take(pa.array(rows)), pattern=pattern, replacement=replacement
    )
    return replace_rows(values, rows, changed)


def write_csv(
    df: pd.DataFrame,
    path: str | os.PathLike[str] | Location,
    *,
    tags: str = "list",
    neutralize_formulas: bool = True,
    mode: str = "error",
    compress: bool | None = None,
    bom: bool = False,
) -> WrittenFile:
    """Write the frame as CSV (gzip-compressed when the name ends in ``.gz`` or ``compress``).

    See the module docstring for the encoding. ``mode="append"`` adds rows without a header
    and refuses a file whose header differs. ``bom=True`` starts a new file with the UTF-8
    byte order mark, which Excel needs to read the file as UTF-8 rather than the locale's
    code page (non-ASCII names turn to mojibake without it); imgframe's reader skips it.

    >>> import tempfile
    >>> from imgframe.export import read_export
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageName": "=cmd"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_csv(df, Path(tmp) / "images.csv")
    ...     "\\"'=cmd\\"" in written.path.read_text(), read_export(written.path).equals(df)
    (True, True)
    """
    target = location(path)
    check_mode(target, mode)
    if tags not in TAG_LAYOUTS:
        raise InvalidArgument(f"tags must be one of {', '.join(TAG_LAYOUTS)}, not {tags!r}")
    gz = target.name.lower().endswith(".gz") if compress is None else compress
    columns = CsvColumns.of(shape_tags(df, tags), neutralize=neutralize_formulas)
    appending = mode == "append" and target.is_file()
    rows = columns.rows
    if appending:
        # Compare the header as written, before any formula quote is taken off.
        existing = read_csv_strings(target, neutralized=False)
        check_same_columns(existing.column_names, columns.names, target)
        rows += existing.num_rows
    with target.atomic_write(copy_existing=appending) as fh:
        if gz:
            # A new gzip member per write: readers decompress concatenated members as one.
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as zipped:
                if bom and not appending:
                    zipped.write(codecs.BOM_UTF8)
                _write_csv_table(columns, zipped, header=not appending)
        else:
            if bom and not appending:
                fh.write(codecs.BOM_UTF8)
            _write_csv_table(columns, fh, header=not appending)
    return WrittenFile(target.public(), rows, target.size(), "csv.gz" if gz else "csv")


def _write_csv_table(columns: CsvColumns, sink: IO[bytes] | gzip.GzipFile, *, header: bool) -> None:
    """Encode the columns as CSV into ``sink``: worker threads prepare each batch while
    Arrow's CSV writer prints the previous one straight into the file."""
    if header:
        _write_batch(columns.batch(0, 0), sink, header=True)
    for table in in_batches(columns.batch, columns.rows):
        _write_batch(table, sink)


def _write_batch(table: pa.Table, sink: IO[bytes] | gzip.GzipFile, *, header: bool = False) -> None:
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
    pa_csv.write_csv(table, sink, write_options=options)


def in_batches(encode: Callable[[int, int], _T], rows: int) -> Iterator[_T]:
    """``encode(start, length)`` over the rows in :data:`BATCH_ROWS` batches, in order; two
    worker threads encode ahead while the caller writes (Arrow kernels release the GIL)."""
    starts = range(0, rows, BATCH_ROWS)
    if len(starts) <= 1:
        yield from (encode(start, BATCH_ROWS) for start in starts)
        return
    with ThreadPoolExecutor(2) as pool:
        ahead: deque[Future[_T]] = deque()
        for start in starts:
            ahead.append(pool.submit(encode, start, BATCH_ROWS))
            if len(ahead) > 2:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def shape_tags(df: pd.DataFrame, tags: str) -> pd.DataFrame:
    if tags == "list" or "tags" not in df.columns:
        return df
    if tags == "long":
        return explode_tags(df)
    return tag_columns(df).drop(columns=["tags"])


@dataclass(frozen=True)
class CsvColumns:
    """A frame's columns ready for CSV: each an Arrow column the CSV writer prints as it is
    (text, dictionary-encoded text, integers) or needs one more step per batch (neutralising
    text, rendering lists as JSON), and the header's names."""

    names: list[str]
    arrays: list[pa.Array | pa.ChunkedArray]
    steps: list[Callable[[pa.Array], pa.Array] | None]
    rows: int

    @classmethod
    def of(cls, df: pd.DataFrame, *, neutralize: bool) -> CsvColumns:
        check_columns(df)
        arrays: list[pa.Array | pa.ChunkedArray] = []
        steps: list[Callable[[pa.Array], pa.Array] | None] = []
        for name in df.columns:
            array, step = _csv_column(df[name], neutralize=neutralize)
            arrays.append(array)
            steps.append(step)
        names = [str(n) for n in df.columns]
        if neutralize:
            names = neutralize_formula(pa.array(names, pa.string())).to_pylist()
        return cls(names, arrays, steps, len(df))

    def batch(self, start: int, length: int) -> pa.Table:
        """Rows ``start`` to ``start + length`` in their CSV-ready form."""
        columns = []
        for array, step in zip(self.arrays, self.steps, strict=True):
            part = array.slice(start, length)
            if step is not None:
                part = step(part.combine_chunks() if isinstance(part, pa.ChunkedArray) else part)
            elif isinstance(part, pa.DictionaryArray):
                # Plain text prints faster, and this runs on a worker thread.
                part = part.dictionary.take(part.indices)
            columns.append(part)
        return pa.Table.from_arrays(columns, names=self.names)


def csv_table(df: pd.DataFrame, *, neutralize: bool) -> pa.Table:
    """Every column as CSV-ready Arrow: integers stay integers, everything else is text."""
    columns = CsvColumns.of(df, neutralize=neutralize)
    table = columns.batch(0, columns.rows)
    return pa.Table.from_arrays(
        [c if pa.types.is_integer(c.type) else c.cast(pa.string()) for c in table.columns],
        names=table.column_names,
    )


def _csv_column(
    series: pd.Series, *, neutralize: bool
) -> tuple[pa.Array | pa.ChunkedArray, Callable[[pa.Array], pa.Array] | None]:
    """One column as Arrow the CSV writer prints as :func:`flat_column` and
    :func:`neutralize_formula` would have it, and the step to finish it per batch, if any."""
    dtype = series.dtype
    neutralized = neutralize and is_text(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        array = pa.array(series.array)
        if _is_string_type(array.type.value_type):
            # Neutralise the categories once, not every cell.
            dictionary = array.dictionary
            if neutralized:
                dictionary = neutralize_formula(dictionary)
            return pa.DictionaryArray.from_arrays(array.indices, dictionary), None
    elif isinstance(dtype, pd.StringDtype) or (isinstance(dtype, pd.ArrowDtype) and is_text(dtype)):
        array = pa.array(series.astype("string[pyarrow]").array)
        if _is_string_type(array.type):
            return array, neutralize_formula if neutralized else None
    elif isinstance(dtype, pd.DatetimeTZDtype):
        return utc_text(utc_stamps(series)), None
    elif not pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_datetime64_dtype(dtype):
        array = arrow_values(series)
        if array is not None and _is_json_cell_type(array.type):
            return array, _json_cells
    values = flat_column(series)
    return (neutralize_formula(values) if neutralized else values), None


def _is_string_type(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def _is_json_cell_type(arrow_type: pa.DataType) -> bool:
    """Types whose Python values :func:`json_cell` writes as JSON (a ``str`` it would write
    bare, so text types stay on the Python path)."""
    t = arrow_type
    nested = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_struct(t)
    return bool(nested or pa.types.is_boolean(t)) and json_encodable(t)


def _json_cells(values: pa.Array) -> pa.Array:
    """Compact JSON of each value; a missing value stays missing (an empty cell)."""
    text = json_text(values, compact=True)
    return pc.if_else(values.is_null(), pa.scalar(None, TEXT), text) if values.null_count else text


def read_csv_strings(path: Path | Location, *, neutralized: bool = True) -> pa.Table:
    """The CSV with every column as text (missing cells null, quoted empty cells "")."""
    source = location(path)
    try:
        raw = source.path.read_bytes() if source.is_local else source.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        # Only the header row is decoded here; Arrow checks the rest is UTF-8 as it reads.
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
        header = next(csv.reader(text), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path} as UTF-8 CSV: {exc}") from None
    if not header:
        raise DataError(f"{path} is empty: no CSV header row")
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        kind = "UTF-8 CSV" if "UTF8" in str(exc) else "CSV"
        raise DataError(f"cannot read {path} as {kind}: {exc}") from None
    if neutralized:
        names = restore_formula(pa.array(table.column_names, pa.string())).to_pylist()
        table = table.rename_columns(names)
    return table


def frame_from_text(table: pa.Table, *, neutralized: bool) -> pd.DataFrame:
    """Typed frame columns from text columns, by column name (see the module docstring)."""

    def typed(name: str) -> Any:
        column = table.column(name).combine_chunks()
        if name in LIST_TYPES:
            return pd.arrays.ArrowExtensionArray(decode_json_cells(column, LIST_TYPES[name], name))
        if name in INTEGER_COLUMNS:
            return _decode_integers(column, name)
        if name == "fetchedAt":
            return decode_timestamps(column, name)
        if neutralized:
            column = restore_formula(column)
        if name in CATEGORICAL_COLUMNS:
            return categorical_of(column)
        return pd.array(column, dtype="string[pyarrow]")

    # Arrow kernels release the GIL: two columns convert at a time.
    with ThreadPoolExecutor(2) as pool:
        out = dict(zip(table.column_names, pool.map(typed, table.column_names), strict=True))
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows))


def _decode_integers(column: pa.Array, name: str) -> pd.api.extensions.ExtensionArray:
    try:
        integers = pc.cast(column, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"column {name!r}: a cell is not an integer ({exc})") from None
    # to_pandas keeps the buffers; pd.Series(arrow, dtype="Int64") goes value by value.
    series = integers.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return cast(pd.api.extensions.ExtensionArray, series.array)
