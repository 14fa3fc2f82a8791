"""Frames to and from Arrow tables, with imgframe's metadata document beside pandas' own."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

import pandas as pd
import pyarrow as pa

from .._version import __version__
from ..durable import export_error
from ..errors import DataError, InvalidArgument
from ..schema.arrow import CATEGORY_TYPE
from .base import METADATA_KEY, as_categorical, check_columns, json_default, latest_fetch, zones_of

# Keys that must describe the file itself: a caller's metadata cannot replace them.
_INTEGRITY_KEYS = ("imgframeVersion", "rows", "categories", "partitionBy")


def frame_to_arrow(df: pd.DataFrame, target: object, *, document: Mapping[str, Any]) -> pa.Table:
    """The frame as Arrow, categoricals as ``dictionary<int32, string>``, with imgframe's
    metadata document beside pandas' own."""
    check_columns(df)
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        cause = ValueError(f"the frame cannot be converted to Arrow: {exc}")
        raise export_error(target, cause) from exc
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) and field.type != CATEGORY_TYPE:
            # pandas picks int8 codes and, for all-NA columns, a null dictionary; use the
            # frame's own type so every file of a dataset agrees.
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                table = table.set_column(
                    index,
                    pa.field(field.name, CATEGORY_TYPE),
                    table.column(index).cast(CATEGORY_TYPE),
                )
    schema_metadata = dict(table.schema.metadata or {})
    schema_metadata[METADATA_KEY.encode()] = encode_document(document)
    if b"pandas" in schema_metadata:
        schema_metadata[b"pandas"] = _readable_pandas_metadata(schema_metadata[b"pandas"])
    return table.replace_schema_metadata(schema_metadata)


def _readable_pandas_metadata(raw: bytes) -> bytes:
    """pandas records Arrow-backed nested columns as ``list<item: string>[pyarrow]``, a dtype
    string its own ``read_parquet`` cannot parse back (pandas issues 53011, 57411); call them
    ``object`` so plain ``pd.read_parquet`` opens the file. :func:`read_export` restores the
    Arrow dtypes from the Arrow schema itself."""
    document = json.loads(raw)
    for column in document.get("columns", []):
        numpy_type = str(column.get("numpy_type", ""))
        if numpy_type.endswith("[pyarrow]") and ("<" in numpy_type or "[" in numpy_type[:-9]):
            column["numpy_type"] = "object"
    return json.dumps(document).encode()


def metadata_document(
    df: pd.DataFrame, metadata: Mapping[str, Any] | None, partition_by: Sequence[str]
) -> dict[str, Any]:
    """imgframe's document for ``df``: computed ``zones``/``fetchedAt`` unless the caller
    gives them (a fetch knows the zones it asked, even empty ones), the caller's keys, then
    the keys that describe the file itself."""
    document: dict[str, Any] = {
        "filters": {},
        "zones": zones_of(df),
        "fetchedAt": latest_fetch(df),
    }
    document.update((k, v) for k, v in (metadata or {}).items() if k not in _INTEGRITY_KEYS)
    document["imgframeVersion"] = __version__
    document["rows"] = len(df)
    document["categories"] = categories_of(df)
    if partition_by:
        document["partitionBy"] = list(partition_by)
    return document


def merged_document(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The document after an append: the new write's keys, zones merged, the latest fetch,
    rows summed and categories merged (old first)."""
    merged = {**old, **new}
    merged["zones"] = sorted({*map(str, old.get("zones") or []), *map(str, new.get("zones") or [])})
    fetched = [f for f in (old.get("fetchedAt"), new.get("fetchedAt")) if f]
    merged["fetchedAt"] = max(fetched, key=_timestamp_key) if fetched else None
    merged["rows"] = int(old.get("rows", 0)) + int(new.get("rows", 0))
    old_categories: Mapping[str, list[str]] = old.get("categories") or {}
    merged["categories"] = {
        name: list(dict.fromkeys([*old_categories.get(name, []), *values]))
        for name, values in (new.get("categories") or {}).items()
    }
    return merged


def _timestamp_key(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return pd.Timestamp.min.tz_localize(UTC)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp


def categories_of(df: pd.DataFrame) -> dict[str, list[str]]:
    return {
        str(name): [str(c) for c in df[name].cat.categories]
        for name in df.columns
        if isinstance(df[name].dtype, pd.CategoricalDtype)
    }


def encode_document(document: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(document, ensure_ascii=False, default=json_default).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"metadata is not JSON-serialisable: {exc}") from None


def metadata_of_schema(schema: pa.Schema, path: object) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise DataError(f"{path} has no imgframe metadata (not written by imgframe)")
    document: dict[str, Any] = json.loads(raw)
    return document


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """Arrow back to the frame: pandas' metadata restores the extension dtypes, the mapper
    keeps list/struct columns Arrow-backed, imgframe's metadata restores the categories."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_nested_as_arrow)
    raw = (table.schema.metadata or {}).get(METADATA_KEY.encode())
    categories = json.loads(raw).get("categories", {}) if raw else {}
    for name, values in categories.items():
        if name in frame.columns:
            frame[name] = as_categorical(frame[name], values)
    return frame


def _nested_as_arrow(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_struct(arrow_type)
    ):
        return pd.ArrowDtype(_item_named(arrow_type))
    return None


def _item_named(arrow_type: pa.DataType) -> pa.DataType:
    """Parquet calls a list's child ``element``; the frame (``pa.list_``) calls it ``item``."""
    if pa.types.is_list(arrow_type):
        return pa.list_(_item_named(arrow_type.value_type))
    if pa.types.is_large_list(arrow_type):
        return pa.large_list(_item_named(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return pa.struct(
            [
                arrow_type.field(i).with_type(_item_named(arrow_type.field(i).type))
                for i in range(arrow_type.num_fields)
            ]
        )
    return arrow_type
