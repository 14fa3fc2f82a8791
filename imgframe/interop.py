"""The frame handed to other tools (Arrow, Polars, Excel).

- :func:`to_arrow` / :func:`from_arrow`: the frame as a ``pyarrow.Table`` in the documented
  types (:data:`~imgframe.schema.arrow.IMAGE_SCHEMA`: categoricals as
  ``dictionary<int32, string>``, ``fetchedAt`` as ``timestamp[us, UTC]``, lists and structs
  as they are) and back, equal to the frame;
- :func:`to_polars` / :func:`from_polars`: the same through Polars (the ``polars`` extra);
- :func:`for_excel`: a copy ``DataFrame.to_excel`` can write (Excel has no time zones and
  no lists);

Frames are put together with :func:`imgframe.frame.concat_frames`, not ``pd.concat``: see
there why.
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ConfigError, DataError, InvalidArgument
from .lists import ListAccessor, is_list_column
from .schema.arrow import ARROW_ERRORS, IMAGE_SCHEMA, pandas_dtype
from .text import FORMULA_PATTERN

__all__ = [
    "EXCEL_CELL_LIMIT",
    "for_excel",
    "from_arrow",
    "from_polars",
    "to_arrow",
    "to_polars",
]

#: The most characters an Excel cell holds.
EXCEL_CELL_LIMIT = 32_767
#: Characters XML 1.0 (so .xlsx) cannot hold; openpyxl refuses them.
_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_KNOWN = {field.name: field.type for field in IMAGE_SCHEMA}


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """The frame as a ``pyarrow.Table`` in its documented Arrow types.

    Arrow-backed columns are handed over without copying their values (list and struct
    columns as they are); text comes as ``string`` (pandas holds ``large_string``: only the
    offsets are rewritten), categoricals as ``dictionary<int32, string>`` with their
    categories in order, ``fetchedAt`` as ``timestamp[us, tz=UTC]``. The index is not kept.
    pandas' schema metadata is, so ``table.to_pandas()`` alone restores ``Int64`` and
    ``string`` columns; :func:`from_arrow` gives the frame back exactly.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "tags": None}], zone_id="asia-east-1a")
    >>> table = to_arrow(df)
    >>> table.schema.field("zoneId").type
    DictionaryType(dictionary<values=string, indices=int32, ordered=0>)
    >>> table.schema.field("tags").type == IMAGE_SCHEMA.field("tags").type
    True
    >>> from_arrow(table).equals(df)
    True
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgument(f"to_arrow: expected a DataFrame, got {type(df).__name__}")
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (*ARROW_ERRORS, TypeError, ValueError) as exc:
        raise DataError(f"to_arrow: a column cannot be converted to Arrow: {exc}") from exc
    return _conformed(table)


def from_arrow(table: pa.Table | pa.RecordBatchReader) -> pd.DataFrame:
    """An Arrow table (from :func:`to_arrow`, Polars, DuckDB, a Parquet file...) as a frame
    in the frame's dtypes: dictionaries as categoricals, text as ``string[pyarrow]``,
    integers as ``Int64``, lists and structs as ``pd.ArrowDtype``, UTC timestamps as
    ``datetime64[us, UTC]``. Large and view types (``large_string``, ``string_view``,
    ``large_list``) are read as the frame's.
    """
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    if not isinstance(table, pa.Table):
        raise InvalidArgument(f"from_arrow: expected a pyarrow Table, got {type(table).__name__}")
    conformed = _conformed(table)
    return cast(pd.DataFrame, conformed.to_pandas(types_mapper=pandas_dtype))


def _conformed(table: pa.Table) -> pa.Table:
    columns = []
    fields = []
    for field, column in zip(table.schema, table.columns, strict=True):
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        try:
            array = _as_frame_array(field.name, array)
        except ARROW_ERRORS as exc:
            raise DataError(f"column {field.name!r} ({field.type}) cannot be read: {exc}") from exc
        columns.append(array)
        fields.append(pa.field(field.name, array.type, nullable=field.nullable))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def _as_frame_array(name: str, array: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(array.type):
        target = pa.dictionary(pa.int32(), pa.string(), ordered=array.type.ordered)
        if array.type == target:
            return array
        try:
            return array.cast(target)
        except ARROW_ERRORS:  # a dictionary of numbers, say: by its text
            return array.dictionary_decode().cast(pa.string()).dictionary_encode().cast(target)
    wanted = _frame_type(array.type)
    known = _KNOWN.get(name)
    if known is not None and not pa.types.is_dictionary(known) and str(wanted) != str(known):
        # The documented type when this one only differs in width (int32 for int64, say).
        try:
            return array.cast(known)
        except ARROW_ERRORS:
            pass
    # str(): type equality ignores the names of list items, the frame's dtypes do not.
    return array if str(wanted) == str(array.type) else array.cast(wanted)


def _frame_type(t: pa.DataType) -> pa.DataType:
    """``t`` with 32-bit offsets, no view types and list items named ``item`` (what the
    frame's columns hold)."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    ):
        # Items are "item", as pandas and the frame name them (Parquet: "element", DuckDB: "l").
        return pa.list_(pa.field("item", _frame_type(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _frame_type(f.type), f.nullable) for f in t])
    return t


# --------------------------------------------------------------------------------------------
# Polars


def _polars() -> Any:
    try:
        import polars
    except ImportError:
        raise ConfigError("Polars is not installed: pip install 'imgframe[polars]'") from None
    return polars


def to_polars(df: pd.DataFrame) -> Any:
    """The frame as a ``polars.DataFrame`` (through :func:`to_arrow`, so without copying
    the Arrow columns): categoricals as ``Categorical``, lists as ``List``, tags as
    ``List(Struct)``, ``fetchedAt`` as ``Datetime("us", "UTC")``.

    Needs the ``polars`` extra; without it, :class:`~imgframe.errors.ConfigError` says
    ``pip install 'imgframe[polars]'``.
    """
    return _polars().from_arrow(to_arrow(df))


def from_polars(frame: Any) -> pd.DataFrame:
    """A ``polars.DataFrame`` as a frame in the frame's dtypes (see :func:`from_arrow`)."""
    polars = _polars()
    if not isinstance(frame, polars.DataFrame):
        raise InvalidArgument(
            f"from_polars: expected a polars DataFrame, got {type(frame).__name__}"
        )
    return from_arrow(frame.to_arrow())


# --------------------------------------------------------------------------------------------
# Excel


def for_excel(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` that ``to_excel`` writes: ``df.pipe(imgframe.for_excel).to_excel(path)``.

    - time-zone-aware timestamps become naive **UTC** wall time (Excel has no time zones;
      ``fetchedAt`` keeps its name and its UTC value);
    - list columns become text (``FailOver, VirtioOnly``; tags ``env=prod, team=infra``);
    - text that Excel would run as a formula gets a ``'`` in front (as in the CSV export),
      characters an .xlsx file cannot hold are dropped, and cells are cut to Excel's 32,767
      characters.

    Writing needs openpyxl (the ``excel`` extra). Excel holds 1,048,576 rows a sheet.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "=1+1", "nicNetworkType": ["FailOver"]}],
    ...                         zone_id="z", fetched_at=pd.Timestamp("2025-06-01 12:00Z"))
    >>> row = for_excel(df).iloc[0]
    >>> row["imageId"], row["nicNetworkType"], str(row["fetchedAt"])
    ("'=1+1", 'FailOver', '2025-06-01 12:00:00')
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgument(f"for_excel: expected a DataFrame, got {type(df).__name__}")
    out = df.copy(deep=False)
    for name in out.columns:
        column = out[name]
        dtype = column.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[name] = column.dt.tz_convert("UTC").dt.tz_localize(None)
        elif isinstance(dtype, pd.ArrowDtype) and pa.types.is_timestamp(dtype.pyarrow_dtype):
            if dtype.pyarrow_dtype.tz is not None:
                out[name] = column.dt.tz_convert("UTC").dt.tz_localize(None)
        elif is_list_column(column):
            out[name] = _excel_text(ListAccessor(column).join())
        elif isinstance(dtype, pd.CategoricalDtype):
            categories = dtype.categories
            if pd.api.types.is_string_dtype(categories.dtype) or categories.dtype == object:
                text = column.astype("string[pyarrow]")
                out[name] = _excel_text(text)
        elif isinstance(dtype, pd.StringDtype) or (
            isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)
        ):
            out[name] = _excel_text(column.astype("string[pyarrow]"))
    return out


def _excel_text(column: pd.Series) -> pd.Series:
    """Text an .xlsx cell holds as text: no formula, no illegal character, not too long."""
    text = pa.array(column.array)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = text.cast(pa.string())
    text = pc.replace_substring_regex(text, _XML_ILLEGAL, "")
    text = pc.replace_substring_regex(text, FORMULA_PATTERN, r"'\1")
    text = pc.utf8_slice_codeunits(text, 0, EXCEL_CELL_LIMIT)
    return pd.Series(pd.array(text, dtype="string[pyarrow]"), index=column.index, name=column.name)
