"""CSV (and gzip-compressed CSV): text cells quoted, list cells as JSON, formulas neutralised."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ..defaults import TAG_LAYOUTS
from ..durable import atomic_file, size_on_disk
from ..errors import DataError, InvalidArgument
from ..frame import explode_tags, tag_columns
from ..schema import CATEGORICAL_COLUMNS, INTEGER_COLUMNS
from ..text import FORMULA_PATTERN
from .base import (
    LIST_TYPES,
    WrittenFile,
    as_categorical,
    check_columns,
    check_mode,
    check_same_columns,
    decode_timestamps,
    flat_column,
    is_text,
)

# A neutralised value: one ``'`` in front of what FORMULA_PATTERN matches.
_RESTORE_PATTERN = "^'" + FORMULA_PATTERN.removeprefix("^")


def neutralize_formula(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Prefix ``'`` to text that a spreadsheet would run as a formula (reversibly).

    >>> neutralize_formula(pa.array(["=SUM(A1)", "'=x", "plain", None])).to_pylist()
    ["'=SUM(A1)", "''=x", 'plain', None]
    """
    return pc.replace_substring_regex(values, pattern=FORMULA_PATTERN, replacement=r"'\1")


def restore_formula(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Undo :func:`neutralize_formula`.

    >>> restore_formula(pa.array(["'=SUM(A1)", "''=x", "'plain", None])).to_pylist()
    ['=SUM(A1)', "'=x", "'plain", None]
    """
    return pc.replace_substring_regex(values, pattern=_RESTORE_PATTERN, replacement=r"\1")


def write_csv(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    tags: str = "list",
    neutralize_formulas: bool = True,
    mode: str = "error",
    compress: bool | None = None,
) -> WrittenFile:
    """Write the frame as CSV (gzip-compressed when the name ends in ``.gz`` or ``compress``).

    See the module docstring for the encoding. ``mode="append"`` adds rows without a header
    and refuses a file whose header differs.

    >>> import tempfile
    >>> from imgframe.export import read_export
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageName": "=cmd"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_csv(df, Path(tmp) / "images.csv")
    ...     "\\"'=cmd\\"" in written.path.read_text(), read_export(written.path).equals(df)
    (True, True)
    """
    target = Path(path)
    check_mode(target, mode)
    if tags not in TAG_LAYOUTS:
        raise InvalidArgument(f"tags must be one of {', '.join(TAG_LAYOUTS)}, not {tags!r}")
    gz = target.name.lower().endswith(".gz") if compress is None else compress
    table = csv_table(shape_tags(df, tags), neutralize=neutralize_formulas)
    appending = mode == "append" and target.exists()
    rows = table.num_rows
    if appending:
        # Compare the header as written, before any formula quote is taken off.
        existing = read_csv_strings(target, neutralized=False)
        check_same_columns(existing.column_names, table.column_names, target)
        rows += existing.num_rows
    with atomic_file(target, copy_existing=appending) as fh:
        if gz:
            # A new gzip member per write: readers decompress concatenated members as one.
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as zipped:
                _write_csv_table(table, zipped, header=not appending)
        else:
            _write_csv_table(table, fh, header=not appending)
    return WrittenFile(target, rows, size_on_disk(target), "csv.gz" if gz else "csv")


def _write_csv_table(table: pa.Table, sink: IO[bytes] | gzip.GzipFile, *, header: bool) -> None:
    """Encode ``table`` (text and integer columns only) as CSV into ``sink``."""
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
    pa_csv.write_csv(table, sink, write_options=options)


def shape_tags(df: pd.DataFrame, tags: str) -> pd.DataFrame:
    if tags == "list" or "tags" not in df.columns:
        return df
    if tags == "long":
        return explode_tags(df)
    return tag_columns(df).drop(columns=["tags"])


def csv_table(df: pd.DataFrame, *, neutralize: bool) -> pa.Table:
    """Every column as CSV-ready Arrow: integers stay integers, everything else is text."""
    check_columns(df)
    columns: list[pa.Array] = []
    names: list[str] = []
    for name in df.columns:
        values = flat_column(df[name])
        if neutralize and is_text(df[name].dtype):
            values = neutralize_formula(values)
        columns.append(values)
        names.append(name)
    if neutralize:
        names = neutralize_formula(pa.array(names, pa.string())).to_pylist()
    return pa.Table.from_arrays(columns, names=names)


def read_csv_strings(path: Path, *, neutralized: bool = True) -> pa.Table:
    """The CSV with every column as text (missing cells null, quoted empty cells "")."""
    try:
        data = gzip.decompress(path.read_bytes()) if _is_gzip(path) else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        header = next(csv.reader(io.StringIO(data.decode("utf-8"), newline="")), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path} as UTF-8 CSV: {exc}") from None
    if not header:
        raise DataError(f"{path} is empty: no CSV header row")
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {path} as CSV: {exc}") from None
    if neutralized:
        names = restore_formula(pa.array(table.column_names, pa.string())).to_pylist()
        table = table.rename_columns(names)
    return table


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def frame_from_text(table: pa.Table, *, neutralized: bool) -> pd.DataFrame:
    """Typed frame columns from text columns, by column name (see the module docstring)."""
    out: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if name in LIST_TYPES:
            out[name] = _decode_json_list(column, LIST_TYPES[name], name)
        elif name in INTEGER_COLUMNS:
            out[name] = _decode_integers(column, name)
        elif name == "fetchedAt":
            out[name] = decode_timestamps(column, name)
        else:
            if neutralized:
                column = restore_formula(column)
            if name in CATEGORICAL_COLUMNS:
                values = pd.Series(pd.array(column, dtype="string[pyarrow]"))
                out[name] = as_categorical(values, []).array
            else:
                out[name] = pd.array(column, dtype="string[pyarrow]")
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows))


def _decode_json_list(
    column: pa.Array, arrow_type: pa.DataType, name: str
) -> pd.api.extensions.ExtensionArray:
    try:
        values = [None if v is None else json.loads(v) for v in column.to_pylist()]
        array = pa.array(values, type=arrow_type)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"column {name!r}: a cell is not a JSON array of the expected shape ({exc})"
        ) from None
    return pd.arrays.ArrowExtensionArray(array)


def _decode_integers(column: pa.Array, name: str) -> pd.api.extensions.ExtensionArray:
    try:
        integers = pc.cast(column, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"column {name!r}: a cell is not an integer ({exc})") from None
    return pd.Series(integers, dtype="Int64").array
