"""Raw DescribeImages pages to a typed, Arrow-backed pandas DataFrame.

The fast path hands the response bytes straight to ``pyarrow.json`` with an explicit schema
for the whole envelope, so no Python object is built per image and parsing runs outside the
GIL (pages parse in parallel). Shapes the fast path cannot read (a bare-list ``tags``, a number
where a string is documented, a field whose type changes between images) go through a slower
per-page Python path that produces the same Arrow table, so every page ends up in one schema.

Columns and dtypes of the frame (API names kept):

===================  ==============================================================
``zoneId``           category
``imageId``          string[pyarrow] (also ``imageName``, ``imageDescription``,
                     ``imageVersion``)
``imageType``        category (also ``imageSource``, ``imageStatus``, ``category``,
                     ``osType``)
``imageSize``        Int64, GiB parsed from the API's string; unreadable values are NA
                     (with a :class:`~imgframe.errors.DataQualityWarning` counting them)
``minDiskSize``      Int64
``nicNetworkType``   list<string> (``pd.ArrowDtype``)
``tags``             list<struct<key: string, value: string>>; null becomes ``[]``
``fetchedAt``        datetime64[us, UTC]
===================  ==============================================================

Fields the API adds later are kept as extra columns, between ``osType``/``tags`` and
``fetchedAt``.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .errors import BadResponseError, DataError, DataQualityWarning, InvalidArgument
from .schema import (
    CATEGORICAL_COLUMNS,
    IMAGE_FIELDS,
    ZONE_JOIN_COLUMNS,
)

__all__ = [
    "IMAGE_SCHEMA",
    "TAG_TYPE",
    "ParsedPage",
    "RawPage",
    "empty_frame",
    "explode_tags",
    "frame_from_records",
    "frame_from_tables",
    "load_pages",
    "normalize_pages",
    "parse_page",
    "save_pages",
    "tag_columns",
    "to_arrow",
]

TAG_TYPE = pa.struct([("key", pa.string()), ("value", pa.string())])
TAGS_TYPE = pa.list_(TAG_TYPE)
NIC_TYPE = pa.list_(pa.string())

#: One image as it is read from a page, before the final type fixes.
RECORD_SCHEMA = pa.schema(
    [
        ("imageId", pa.string()),
        ("imageName", pa.string()),
        ("imageType", pa.string()),
        ("imageSource", pa.string()),
        ("imageSize", pa.string()),
        ("minDiskSize", pa.int64()),
        ("imageDescription", pa.string()),
        ("imageVersion", pa.string()),
        ("imageStatus", pa.string()),
        ("nicNetworkType", NIC_TYPE),
        ("category", pa.string()),
        ("osType", pa.string()),
        ("tags", TAGS_TYPE),
    ]
)

# The envelope as the fast path reads it: ``tags`` is the SDK models' wrapper object.
_WIRE_IMAGE = pa.struct(
    [
        f if f.name != "tags" else pa.field("tags", pa.struct([("tags", TAGS_TYPE)]))
        for f in RECORD_SCHEMA
    ]
)
_ENVELOPE_SCHEMA = pa.schema(
    [
        ("requestId", pa.string()),
        (
            "response",
            pa.struct(
                [
                    ("requestId", pa.string()),
                    ("totalCount", pa.int64()),
                    ("dataSet", pa.list_(_WIRE_IMAGE)),
                ]
            ),
        ),
    ]
)
_PARSE_OPTIONS = pj.ParseOptions(
    explicit_schema=_ENVELOPE_SCHEMA, unexpected_field_behavior="infer"
)

#: The Arrow schema of a frame's known columns (without joined zone columns or extras).
IMAGE_SCHEMA = pa.schema(
    [
        ("zoneId", pa.dictionary(pa.int32(), pa.string())),
        ("imageId", pa.string()),
        ("imageName", pa.string()),
        ("imageType", pa.dictionary(pa.int32(), pa.string())),
        ("imageSource", pa.dictionary(pa.int32(), pa.string())),
        ("imageSize", pa.int64()),
        ("minDiskSize", pa.int64()),
        ("imageDescription", pa.string()),
        ("imageVersion", pa.string()),
        ("imageStatus", pa.dictionary(pa.int32(), pa.string())),
        ("nicNetworkType", NIC_TYPE),
        ("category", pa.dictionary(pa.int32(), pa.string())),
        ("osType", pa.dictionary(pa.int32(), pa.string())),
        ("tags", TAGS_TYPE),
        ("fetchedAt", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class RawPage:
    """One DescribeImages answer exactly as received: the body bytes and where it came from."""

    zone_id: str
    page_num: int
    body: bytes
    request_id: str | None = None


@dataclass(frozen=True)
class ParsedPage:
    """One page read into Arrow: its images, the ``totalCount`` it reported, its requestId."""

    records: pa.Table
    total_count: int
    request_id: str | None


# --------------------------------------------------------------------------------------------
# One page


def parse_page(body: bytes) -> ParsedPage:
    """Read one DescribeImages response body into Arrow.

    Raises :class:`BadResponseError` when the body is not the documented envelope (malformed
    JSON, no ``response``, no ``dataSet``), never a parser's own exception.
    """
    try:
        return _parse_fast(body)
    except (pa.ArrowInvalid, pa.ArrowTypeError, _NotFastPath):
        return _parse_slow(body)


class _NotFastPath(Exception):
    """The fast path read the bytes but cannot vouch for the shape; use the slow path."""


def _parse_fast(body: bytes) -> ParsedPage:
    if b"\n" in body or b"\r" in body:
        raise _NotFastPath  # pretty-printed JSON: the line-delimited reader would split it
    # Pages are parsed in many threads at once (max_concurrency of them while fetching). The
    # default pool (mimalloc) keeps each thread's freed pages: measured, 0.5 (concurrency 4)
    # to 2.4 (concurrency 16) frames more peak RSS than with the system allocator.
    table = pj.read_json(
        io.BytesIO(body),
        read_options=pj.ReadOptions(use_threads=False, block_size=len(body) + 64),
        parse_options=_PARSE_OPTIONS,
        memory_pool=pa.system_memory_pool(),
    )
    if table.num_rows != 1:
        raise _NotFastPath
    column = table.column("response")
    # One block, so one chunk; combine_chunks would copy it anyway.
    response = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if not response.is_valid()[0].as_py():
        raise _NotFastPath
    data_set = response.field("dataSet")
    total = response.field("totalCount")[0].as_py()
    if not data_set.is_valid()[0].as_py() or total is None:
        raise _NotFastPath
    request_id = response.field("requestId")[0].as_py() or table.column("requestId")[0].as_py()
    images = data_set.flatten()
    return ParsedPage(_records_from_struct(images), int(total), request_id)


def _records_from_struct(images: pa.StructArray) -> pa.Table:
    """Columns of the wire struct, ``tags`` unwrapped to a plain list."""
    names = [images.type.field(i).name for i in range(images.type.num_fields)]
    columns = []
    for name in names:
        column = images.field(name)
        if name == "tags":
            column = column.field("tags")
        columns.append(column)
    return pa.Table.from_arrays(columns, names=names)


def _parse_slow(body: bytes) -> ParsedPage:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadResponseError(
            "DescribeImages answered HTTP 200 with a body that is not valid JSON "
            f"({exc.__class__.__name__}, {len(body)} bytes: {_preview(body)})",
            action="DescribeImages",
            http_status=200,
        ) from None
    response = document.get("response") if isinstance(document, dict) else None
    if not isinstance(response, dict):
        raise BadResponseError(
            "DescribeImages answered HTTP 200 without a 'response' object",
            action="DescribeImages",
            http_status=200,
        )
    data_set = response.get("dataSet")
    if not isinstance(data_set, list):
        raise BadResponseError(
            "DescribeImages answered HTTP 200 without a 'dataSet' list",
            action="DescribeImages",
            http_status=200,
        )
    total = response.get("totalCount")
    if not isinstance(total, int) or isinstance(total, bool):
        raise BadResponseError(
            "DescribeImages answered HTTP 200 without an integer 'totalCount'",
            action="DescribeImages",
            http_status=200,
        )
    request_id = response.get("requestId") or document.get("requestId")
    records = [r if isinstance(r, dict) else {} for r in data_set]
    return ParsedPage(_records_from_dicts(records), total, request_id)


def _records_from_dicts(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The slow path: coerce each documented field, infer the rest."""
    columns: dict[str, pa.Array] = {}
    for field in RECORD_SCHEMA:
        values = [r.get(field.name) for r in records]
        columns[field.name] = pa.array([_COERCE[field.name](v) for v in values], type=field.type)
    extra_names: dict[str, None] = {}
    for record in records:
        extra_names.update((k, None) for k in record if k not in columns)
    for name in extra_names:
        values = [r.get(name) for r in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed shapes in a field nobody documented: keep it, as JSON text.
            columns[name] = pa.array(
                [None if v is None else json.dumps(v, ensure_ascii=False) for v in values],
                type=pa.string(),
            )
    return pa.table(columns)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _as_size_text(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _as_text(value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _as_str_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in value if v is not None]
    return None


def _as_tags(value: Any) -> list[dict[str, str | None]]:
    if isinstance(value, dict):
        value = value.get("tags")
    if not isinstance(value, list):
        return []
    tags = []
    for tag in value:
        if isinstance(tag, dict):
            tags.append({"key": _as_text(tag.get("key")), "value": _as_text(tag.get("value"))})
    return tags


_COERCE: dict[str, Any] = dict.fromkeys(RECORD_SCHEMA.names, _as_text) | {
    "imageSize": _as_size_text,
    "minDiskSize": _as_int,
    "nicNetworkType": _as_str_list,
    "tags": _as_tags,
}


def _preview(body: bytes, limit: int = 120) -> str:
    text = " ".join(body[:limit].decode("utf-8", "replace").split())
    return repr(text + ("..." if len(body) > limit else ""))


# --------------------------------------------------------------------------------------------
# Many pages


def parse_pages(bodies: Sequence[bytes], *, max_workers: int | None = None) -> list[ParsedPage]:
    """Parse many bodies in parallel threads (pyarrow releases the GIL while parsing)."""
    if len(bodies) <= 1:
        return [parse_page(b) for b in bodies]
    workers = max_workers or min(len(bodies), os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="imgframe-parse") as pool:
        return list(pool.map(parse_page, bodies))


def frame_from_tables(
    tables: Sequence[pa.Table],
    zone_ids: Sequence[str],
    *,
    fetched_at: datetime | None = None,
    zones: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Join per-page (or per-zone) record tables into the typed frame.

    ``zone_ids[i]`` is the zone of every row of ``tables[i]``. ``zones`` (a
    :func:`~imgframe.fetch_zones` frame) adds the zone columns after ``zoneId``.
    """
    if len(tables) != len(zone_ids):
        raise InvalidArgument("frame_from_tables: one zone id is needed per table")
    table = to_arrow(tables, zone_ids, fetched_at=fetched_at)
    frame = _to_pandas(table)
    if zones is not None:
        frame = join_zones(frame, zones)
    return frame


def to_arrow(
    tables: Sequence[pa.Table], zone_ids: Sequence[str], *, fetched_at: datetime | None = None
) -> pa.Table:
    """The frame as an Arrow table (the columns of :data:`IMAGE_SCHEMA` plus extras).

    ``tables`` wrapped in :func:`handed_over` are released as the frame is built.
    """
    given = _take(tables)
    tables = [_conform(t) for t in given] or [RECORD_SCHEMA.empty_table()]
    del given
    lengths = np.fromiter((t.num_rows for t in tables), dtype=np.int64, count=len(tables))
    # No copy yet: one chunk per table. Below, each column is copied into one array and
    # converted on its own, and then its chunks are let go: with handed-over tables, nothing
    # else holds them, so each page's memory is freed on the way instead of at the end.
    records = pa.concat_tables(tables, promote_options="permissive")
    del tables
    n = records.num_rows
    pending = {name: records.column(name) for name in records.column_names}
    del records

    zone_dictionary = pa.array(list(dict.fromkeys(zone_ids)), type=pa.string())
    position = {z: i for i, z in enumerate(zone_dictionary.to_pylist())}
    codes = np.fromiter((position[z] for z in zone_ids), dtype=np.int32, count=len(zone_ids))
    zone_column = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(codes, lengths) if len(zone_ids) else np.empty(0, np.int32)),
        zone_dictionary,
    )
    when = (fetched_at or datetime.now(UTC)).astimezone(UTC)
    micros = int(when.timestamp() * 1_000_000)
    fetched = pa.array(np.full(n, micros, dtype=np.int64)).cast(pa.timestamp("us", tz="UTC"))

    unreadable_sizes = 0

    def convert(name: str) -> pa.Array:
        nonlocal unreadable_sizes
        column = pending.pop(name).combine_chunks()
        if name == "imageSize":
            column, unreadable_sizes = _parse_sizes(column)
        elif name == "tags":
            column = _empty_if_null(column)
        elif name in CATEGORICAL_COLUMNS:
            column = column.dictionary_encode().cast(pa.dictionary(pa.int32(), pa.string()))
        return column

    # Copying and converting the columns is Arrow work outside the GIL, so columns go in
    # parallel (1M rows on two cores: 0.28 s -> 0.21 s, more when memory is fresh).
    columns: dict[str, pa.Array] = {"zoneId": zone_column}
    with ThreadPoolExecutor(min(len(IMAGE_FIELDS), os.cpu_count() or 1)) as pool:
        columns.update(zip(IMAGE_FIELDS, pool.map(convert, IMAGE_FIELDS), strict=True))
    if unreadable_sizes:
        warnings.warn(
            f"imageSize: {unreadable_sizes} value(s) were not a whole number of GiB and became NA",
            DataQualityWarning,
            stacklevel=3,
        )
    for name in list(pending):  # fields the API added later
        if name not in columns:
            columns[name] = pending.pop(name).combine_chunks()
    columns["fetchedAt"] = fetched
    return pa.table(columns)


class _HandedOver(list[pa.Table]):
    """Record tables their caller gave up (see :func:`handed_over`)."""


def handed_over(tables: list[pa.Table]) -> list[pa.Table]:
    """Give ``tables`` to :func:`frame_from_tables` or :func:`to_arrow` for good.

    ``tables`` is emptied, and the frame is built letting go of each column's chunks once
    they are copied, so the pages' memory is freed along the way (a fetch's peak RSS drops
    by about a fifth of the frame). Only for a caller that keeps no other reference to them.
    """
    given = _HandedOver(tables)
    tables.clear()
    return given


def _take(tables: Sequence[pa.Table]) -> list[pa.Table]:
    """A list of the tables that we own; a handed-over list is emptied, leaving us the only
    references."""
    taken = list(tables)
    if isinstance(tables, _HandedOver):
        tables.clear()
    return taken


def _conform(table: pa.Table) -> pa.Table:
    """Give a record table every documented column, in the documented type."""
    for field in RECORD_SCHEMA:
        index = table.schema.get_field_index(field.name)
        if index < 0:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        elif table.schema.field(index).type != field.type:
            column = table.column(index)
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = pa.array([_COERCE[field.name](v) for v in column.to_pylist()], field.type)
            table = table.set_column(index, field, column)
    return table


def _parse_sizes(column: pa.Array) -> tuple[pa.Array, int]:
    """imageSize is a string of whole GiB ("20"); anything else becomes NA, and is counted:
    (sizes, how many were unreadable)."""
    if _plain_whole_numbers(column):
        return column.cast(pa.int64()), 0  # the usual case, about 1/7 of the general path
    text = pc.utf8_trim_whitespace(column)
    whole = pc.match_substring_regex(text, r"^[0-9]{1,18}(\.0+)?$")
    bad = pc.sum(pc.and_(pc.is_valid(text), pc.invert(whole))).as_py() or 0
    digits = pc.replace_substring_regex(text, r"\.0+$", "")
    return pc.if_else(whole, digits, pa.scalar(None, pa.string())).cast(pa.int64()), bad


def _plain_whole_numbers(column: pa.Array) -> bool:
    """True when every value is null or 1..18 ASCII digits, which a cast reads exactly as the
    general path of :func:`_parse_sizes` would (no whitespace, no ".0", nothing unreadable)."""
    if column.null_count == len(column):
        return True
    digits = pc.all(pc.ascii_is_decimal(column)).as_py()
    return bool(digits) and pc.max(pc.binary_length(column)).as_py() <= 18


def _empty_if_null(column: pa.ListArray) -> pa.Array:
    if column.null_count == 0:
        return column
    # A null list almost always spans no values: then the same offsets without the validity
    # bitmap turn it into [] and no value is copied (if_else copies the whole column).
    offsets = column.offsets
    spans = np.diff(offsets.to_numpy())
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    if not spans[nulls].any():
        return pa.ListArray.from_arrays(offsets, column.values, type=column.type)
    return pc.if_else(pc.is_null(column), pa.scalar([], column.type), column)


def pandas_dtype(arrow_type: pa.DataType) -> Any:
    """The frame's pandas dtype for an Arrow type (``None``: pandas' default)."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_dictionary(arrow_type) or pa.types.is_timestamp(arrow_type):
        return None  # pandas' own categorical and datetime64[us, UTC]
    return pd.ArrowDtype(arrow_type)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas(types_mapper=pandas_dtype)
    return frame


def join_zones(frame: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame:
    """Insert the zone columns (``regionId``, ``zoneName``, ...) right after ``zoneId``."""
    wanted = [c for c in ZONE_JOIN_COLUMNS if c in zones.columns and c not in frame.columns]
    if not wanted:
        return frame
    lookup = zones.drop_duplicates("zoneId").set_index("zoneId")[wanted]
    zone = frame["zoneId"]
    position = list(frame.columns).index("zoneId") + 1
    out = frame.copy(deep=False)
    if isinstance(zone.dtype, pd.CategoricalDtype):
        # Look each zone up once, then spread by the codes: no per-row strings.
        per_zone = lookup.reindex(np.asarray(zone.cat.categories, dtype=object))
        codes = zone.cat.codes.to_numpy()
        for offset, name in enumerate(wanted):
            column = pd.Series(per_zone[name].array.take(codes, allow_fill=True), index=out.index)
            if column.dtype != zones[name].dtype:
                column = column.astype(zones[name].dtype)
            out.insert(position + offset, name, column, allow_duplicates=False)
        return out
    keys = zone.astype("string[pyarrow]")
    joined = lookup.reindex(keys.to_numpy())
    for offset, name in enumerate(wanted):
        out.insert(position + offset, name, joined[name].to_numpy(), allow_duplicates=False)
        out[name] = out[name].astype(zones[name].dtype)
    return out


def frame_from_records(
    records: Iterable[Mapping[str, Any]],
    *,
    zone_id: str | None = None,
    fetched_at: datetime | None = None,
) -> pd.DataFrame:
    """A frame from API-shaped image dicts (each may carry its own ``zoneId``).

    Handy for tests and for data from elsewhere; the fetch path reads bytes instead.

    >>> frame_from_records([{"imageId": "img-1", "imageSize": "20"}], zone_id="asia-east-1a")[
    ...     ["zoneId", "imageId", "imageSize"]].to_dict("records")
    [{'zoneId': 'asia-east-1a', 'imageId': 'img-1', 'imageSize': 20}]
    """
    by_zone: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        rec = dict(record)
        zone = rec.pop("zoneId", None) or zone_id
        if zone is None:
            raise InvalidArgument("frame_from_records: a record has no zoneId and none was given")
        by_zone.setdefault(zone, []).append(rec)
    zones = list(by_zone)
    return frame_from_tables(
        [_records_from_dicts(by_zone[z]) for z in zones], zones, fetched_at=fetched_at
    )


def empty_frame(*, fetched_at: datetime | None = None) -> pd.DataFrame:
    """A frame with the full schema and zero rows."""
    return frame_from_tables([], [], fetched_at=fetched_at)


# --------------------------------------------------------------------------------------------
# Saved pages: replay a fetch offline


def normalize_pages(
    pages: Sequence[RawPage] | Sequence[bytes] | str | os.PathLike[str],
    *,
    zone_id: str | None = None,
    fetched_at: datetime | None = None,
) -> pd.DataFrame:
    """Normalize saved raw pages to the same frame a fetch returns.

    ``pages`` is a list of :class:`RawPage`, a list of response bodies (then ``zone_id``
    names their zone), or a directory written by :func:`save_pages` /
    ``fetch_images(raw_dir=...)``.

    >>> normalize_pages([b'{"response": {"dataSet": [], "totalCount": 0}}'], zone_id="z").shape
    (0, 15)
    """
    if isinstance(pages, str | os.PathLike):
        pages = load_pages(pages)
    raw: list[RawPage] = []
    for page in pages:
        if isinstance(page, RawPage):
            raw.append(page)
        elif zone_id is None:
            raise InvalidArgument("normalize_pages: zone_id is needed for pages given as bytes")
        else:
            raw.append(RawPage(zone_id=zone_id, page_num=len(raw) + 1, body=bytes(page)))
    tables = handed_over([p.records for p in parse_pages([p.body for p in raw])])
    return frame_from_tables(tables, [p.zone_id for p in raw], fetched_at=fetched_at)


def save_pages(pages: Iterable[RawPage], directory: str | os.PathLike[str]) -> list[Path]:
    """Write raw pages as ``<dir>/<zoneId>/page-00001.json`` (bytes exactly as received)."""
    root = Path(directory)
    written = []
    for page in pages:
        target = root / page.zone_id / f"page-{page.page_num:05d}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.body)
        written.append(target)
    return written


def load_pages(directory: str | os.PathLike[str]) -> list[RawPage]:
    """Read pages written by :func:`save_pages`."""
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"no saved pages: {root} is not a directory")
    pages = []
    for path in sorted(root.glob("*/page-*.json")):
        number = int(path.stem.removeprefix("page-"))
        pages.append(RawPage(zone_id=path.parent.name, page_num=number, body=path.read_bytes()))
    if not pages:
        raise DataError(f"no saved pages in {root} (expected <zoneId>/page-NNNNN.json files)")
    return pages


# --------------------------------------------------------------------------------------------
# Tags


def explode_tags(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (image, tag) with ``tagKey`` and ``tagValue``; untagged images keep one row
    with NA (``pd.json_normalize(record_path=...)`` would drop them).

    >>> df = frame_from_records([
    ...     {"imageId": "a", "tags": {"tags": [{"key": "env", "value": "prod"}]}},
    ...     {"imageId": "b", "tags": None}], zone_id="z")
    >>> explode_tags(df)[["imageId", "tagKey", "tagValue"]].to_dict("records")
    [{'imageId': 'a', 'tagKey': 'env', 'tagValue': 'prod'}, {'imageId': 'b', 'tagKey': <NA>, \
'tagValue': <NA>}]
    """
    parents, keys, values = _tag_pairs(frame, keep_untagged=True)
    out = frame.drop(columns=["tags"]).iloc[parents].reset_index(drop=True)
    out["tagKey"] = keys
    out["tagValue"] = values
    return out


def tag_columns(frame: pd.DataFrame, *, prefix: str = "tag:") -> pd.DataFrame:
    """The frame plus one ``tag:<key>`` column per tag key (NA where absent), keys sorted.

    >>> df = frame_from_records([
    ...     {"imageId": "a", "tags": {"tags": [{"key": "env", "value": "prod"}]}},
    ...     {"imageId": "b", "tags": None}], zone_id="z")
    >>> tag_columns(df)["tag:env"].tolist()
    ['prod', <NA>]
    """
    parents, keys, values = _tag_pairs(frame, keep_untagged=False)
    long = pd.DataFrame({"row": parents, "key": keys, "value": values})
    # A key given twice on one image: the last one wins, as a dict would.
    long = long.drop_duplicates(["row", "key"], keep="last")
    out = frame.copy(deep=False)
    for key, group in long.groupby("key", sort=True):
        column = pd.Series(pd.NA, index=range(len(frame)), dtype="string[pyarrow]")
        column.iloc[group["row"].to_numpy()] = group["value"].to_numpy()
        out[f"{prefix}{key}"] = column.array
    return out


def _tag_pairs(
    frame: pd.DataFrame, *, keep_untagged: bool
) -> tuple[
    np.ndarray[Any, Any], pd.api.extensions.ExtensionArray, pd.api.extensions.ExtensionArray
]:
    """(row position, tag key, tag value) for every tag; untagged rows once with NA if asked."""
    tags = pa.array(frame["tags"], type=TAGS_TYPE) if len(frame) else pa.array([], TAGS_TYPE)
    if keep_untagged:
        untagged = pc.equal(pc.list_value_length(tags).fill_null(0), 0)
        tags = pc.if_else(untagged, pa.scalar([None], TAGS_TYPE), tags)
    parents = pc.list_parent_indices(tags).to_numpy()
    flat = pc.list_flatten(tags)
    keys = pd.array(flat.field("key") if len(flat) else [], dtype="string[pyarrow]")
    values = pd.array(flat.field("value") if len(flat) else [], dtype="string[pyarrow]")
    return parents, keys, values
