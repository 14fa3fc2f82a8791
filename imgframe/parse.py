"""DescribeImages answers, as received, to Arrow record tables.

The fast path hands the response bytes straight to ``pyarrow.json`` with an explicit schema
for the whole envelope, so no Python object is built per image and parsing runs outside the
GIL (pages parse in parallel). Shapes the fast path cannot read (a bare-list ``tags``, a number
where a string is documented, a field whose type changes between images) go through a slower
per-page Python path that produces the same Arrow table, so every page ends up in one schema
(:data:`~imgframe.schema.arrow.RECORD_SCHEMA`, after :func:`conform`).

Raw pages can be saved as received and replayed offline (:func:`save_pages`,
:func:`load_pages`, :func:`imgframe.frame.normalize_pages`).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from .errors import BadResponseError, DataError, InvalidArgument, ResponseDataError
from .schema.arrow import (
    CUSTOM_IMAGE_RECORD_SCHEMA,
    INSTANCE_RECORD_SCHEMA,
    RECORD_SCHEMA,
    TAGS_TYPE,
)

__all__ = [
    "CUSTOM_IMAGES",
    "IMAGES",
    "INSTANCES",
    "ZONE_ID",
    "PageSpec",
    "ParsedPage",
    "RawPage",
    "conform",
    "load_pages",
    "nesting_depth",
    "parse_page",
    "parse_pages",
    "parse_zones",
    "records_from_dicts",
    "save_pages",
]

#: What a zone id the API returns must look like: it becomes a file and directory name.
ZONE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

#: How deep a page with unknown fields may nest to be inferred by pyarrow (a real page: 6).
MAX_INFERRED_DEPTH = 64


class PageSpec:
    """How one action's pages are read: the action, its records' documented fields with
    their Arrow types (``tags`` arriving as the SDK models' ``{"tags": [...]}`` wrapper), and
    the field that identifies a record.

    Fields the API adds later are inferred, but pyarrow infers them recursively and crashes
    (a native stack overflow) on nesting a few thousand deep. So pages are read refusing
    unknown fields, which never recurses; only a page that has some, and whose nesting
    :func:`nesting_depth` finds shallow, is read again inferring them.
    """

    def __init__(
        self, action: str, records: pa.Schema, id_column: str, noun: str, *, narrow: bool = False
    ) -> None:
        self.action = action
        #: What the records are, for messages: "images", "instances".
        self.noun = noun
        self.records = records
        self.id_column = id_column
        #: Only ``records``' fields are read; the others are skipped (see :meth:`narrowed`).
        self.narrow = narrow
        wire = pa.struct(
            [
                f if f.name != "tags" else pa.field("tags", pa.struct([("tags", TAGS_TYPE)]))
                for f in records
            ]
        )
        response = pa.struct(
            [("requestId", pa.string()), ("totalCount", pa.int64()), ("dataSet", pa.list_(wire))]
        )
        envelope = pa.schema([("requestId", pa.string()), ("response", response)])
        self.known_only = pj.ParseOptions(
            explicit_schema=envelope, unexpected_field_behavior="ignore" if narrow else "error"
        )
        self.infer_new = pj.ParseOptions(
            explicit_schema=envelope, unexpected_field_behavior="infer"
        )

    def narrowed(self, fields: Sequence[str]) -> PageSpec:
        """This spec reading only ``fields`` (and the id): the parser skips the rest of each
        record instead of building columns for it (skipping never recurses: a skipped value
        nested millions deep is read safely). Unknown names are an
        :class:`~imgframe.errors.InvalidArgument`.

        >>> INSTANCES.narrowed(["zoneId", "imageId"]).records.names
        ['instanceId', 'zoneId', 'imageId']
        """
        wanted = set(fields) | {self.id_column}
        unknown = sorted(wanted - set(self.records.names))
        if unknown:
            known = ", ".join(self.records.names)
            raise InvalidArgument(
                f"{self.action} has no field(s) {', '.join(unknown)}; its fields: {known}"
            )
        schema = pa.schema([f for f in self.records if f.name in wanted])
        return PageSpec(self.action, schema, self.id_column, self.noun, narrow=True)

    def __repr__(self) -> str:
        return f"PageSpec({self.action!r})"


IMAGES = PageSpec("DescribeImages", RECORD_SCHEMA, "imageId", "images")
CUSTOM_IMAGES = PageSpec(
    "DescribeCustomImages", CUSTOM_IMAGE_RECORD_SCHEMA, "imageId", "custom images"
)
INSTANCES = PageSpec("DescribeInstances", INSTANCE_RECORD_SCHEMA, "instanceId", "instances")


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


def parse_page(body: bytes, spec: PageSpec = IMAGES) -> ParsedPage:
    """Read one response body of ``spec``'s action (DescribeImages by default) into Arrow.

    Raises :class:`BadResponseError` when the body is not the documented envelope (malformed
    JSON, no ``response``, no ``dataSet``), never a parser's own exception.
    """
    try:
        return _parse_fast(body, spec)
    except (pa.ArrowInvalid, pa.ArrowTypeError, _NotFastPath):
        return _parse_slow(body, spec)


class _NotFastPath(Exception):
    """The fast path read the bytes but cannot vouch for the shape; use the slow path."""


def _parse_fast(body: bytes, spec: PageSpec) -> ParsedPage:
    if b"\n" in body or b"\r" in body:
        raise _NotFastPath  # pretty-printed JSON: the line-delimited reader would split it
    # Pages are parsed in many threads at once (max_concurrency of them while fetching). The
    # default pool (mimalloc) keeps each thread's freed pages: measured, 0.5 (concurrency 4)
    # to 2.4 (concurrency 16) frames more peak RSS than with the system allocator.
    read = pj.ReadOptions(use_threads=False, block_size=len(body) + 64)
    try:
        table = pj.read_json(
            io.BytesIO(body),
            read_options=read,
            parse_options=spec.known_only,
            memory_pool=pa.system_memory_pool(),
        )
    except pa.ArrowInvalid as exc:
        if "unexpected field" not in str(exc) or nesting_depth(body) > MAX_INFERRED_DEPTH:
            raise
        table = pj.read_json(
            io.BytesIO(body),
            read_options=read,
            parse_options=spec.infer_new,
            memory_pool=pa.system_memory_pool(),
        )
    # pyarrow's JSON reader does not check that strings are UTF-8; a full validation does
    # (about 2% of the parse), and sends a bad page to the slow path, which refuses it.
    table.validate(full=True)
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


def nesting_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings, and
    escaped quotes, do not count). Works on the positions of quotes and brackets only, so it
    takes about a millisecond for a page.

    >>> nesting_depth(b'{"a": [{"b": "]]"}, []]}')
    3
    """
    a = np.frombuffer(body, dtype=np.uint8)
    quotes = np.flatnonzero(a == 0x22)
    if len(quotes):
        # A quote is escaped when an odd run of backslashes precedes it; few quotes have
        # a backslash just before them, so those few are looked at one by one.
        escaped = np.zeros(len(quotes), dtype=bool)
        for k in np.flatnonzero(a[np.maximum(quotes - 1, 0)] == 0x5C):
            run, at = 0, int(quotes[k]) - 1
            while at >= 0 and a[at] == 0x5C:
                run, at = run + 1, at - 1
            escaped[k] = run % 2 == 1
        quotes = quotes[~escaped]
    brackets = np.flatnonzero((a == 0x7B) | (a == 0x5B) | (a == 0x7D) | (a == 0x5D))
    # Outside a string when an even number of real quotes comes before.
    outside = brackets[np.searchsorted(quotes, brackets) % 2 == 0]
    steps = np.where((a[outside] == 0x7B) | (a[outside] == 0x5B), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


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


def _parse_slow(body: bytes, spec: PageSpec) -> ParsedPage:
    action = spec.action
    document = load_json(body, action)
    response = document.get("response") if isinstance(document, dict) else None
    if not isinstance(response, dict):
        raise BadResponseError(
            f"{action} answered HTTP 200 without a 'response' object",
            action=action,
            http_status=200,
        )
    data_set = response.get("dataSet")
    if not isinstance(data_set, list):
        raise BadResponseError(
            f"{action} answered HTTP 200 without a 'dataSet' list", action=action, http_status=200
        )
    total = response.get("totalCount")
    if not isinstance(total, int) or isinstance(total, bool):
        raise BadResponseError(
            f"{action} answered HTTP 200 without an integer 'totalCount'",
            action=action,
            http_status=200,
        )
    request_id = response.get("requestId") or document.get("requestId")
    records = [r if isinstance(r, dict) else {} for r in data_set]
    return ParsedPage(
        records_from_dicts(records, spec.records),
        total,
        request_id if isinstance(request_id, str) else None,
    )


def load_json(body: bytes, action: str) -> Any:
    """``json.loads`` of an answer, or :class:`BadResponseError` whatever went wrong (not
    UTF-8, not JSON, nested too deep for the parser)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        kind = "UTF-8 JSON" if isinstance(exc, UnicodeDecodeError) else "JSON"
        raise BadResponseError(
            f"{action} answered HTTP 200 with a body that is not valid {kind} "
            f"({exc.__class__.__name__}, {len(body)} bytes: {_preview(body)})",
            action=action,
            http_status=200,
        ) from None


def records_from_dicts(
    records: Sequence[Mapping[str, Any]], schema: pa.Schema = RECORD_SCHEMA
) -> pa.Table:
    """The slow path: coerce each documented field of ``schema``, infer the rest."""
    columns: dict[str, pa.Array] = {}
    for field in schema:
        coerce = _coercer(field)
        values = [r.get(field.name) for r in records]
        columns[field.name] = pa.array([coerce(v) for v in values], type=field.type)
    extra_names: dict[str, None] = {}
    for record in records:
        extra_names.update((k, None) for k in record if k not in columns)
    for name in extra_names:
        values = [r.get(name) for r in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError):
            # Mixed shapes (or values Arrow cannot hold) in a field nobody documented: keep
            # it, as JSON text.
            columns[name] = pa.array([_as_text(v) for v in values], type=pa.string())
    return pa.table(columns)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _encodable(value)
    try:
        return _encodable(json.dumps(value, ensure_ascii=False))
    except (ValueError, RecursionError):  # a circular or absurdly deep value
        return None


def _encodable(text: str) -> str:
    """``text`` as UTF-8 can hold it: a lone surrogate (JSON allows ``"\\ud800"``) is kept
    as its escape, visibly, rather than crashing the conversion."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _as_size_text(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _as_text(value)


_INT64 = range(-(2**63), 2**63)


def _as_int(value: Any) -> int | None:
    number: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 19:
        number = int(value.strip())
    return number if number is not None and number in _INT64 else None


def _as_str_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [_encodable(value)]
    if isinstance(value, list):
        return [text for v in value if (text := _as_text(v)) is not None]
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


#: Fields read other than their Arrow type says: imageSize is text holding whole GiB.
_BY_NAME: dict[str, Callable[[Any], Any]] = {"imageSize": _as_size_text}


def _coercer(field: pa.Field) -> Callable[[Any], Any]:
    """How the slow path reads a documented field's JSON value: by its Arrow type."""
    if field.name in _BY_NAME:
        return _BY_NAME[field.name]
    kind = field.type
    if field.name == "tags" or kind == TAGS_TYPE:
        return _as_tags
    if pa.types.is_integer(kind):
        return _as_int
    if pa.types.is_list(kind) and pa.types.is_string(kind.value_type):
        return _as_str_list
    return _as_text


def _preview(body: bytes, limit: int = 120) -> str:
    text = " ".join(body[:limit].decode("utf-8", "replace").split())
    return repr(text + ("..." if len(body) > limit else ""))


# --------------------------------------------------------------------------------------------
# Zones


def parse_zones(body: bytes) -> list[dict[str, Any]]:
    """The ``zoneSet`` of a DescribeZones answer, each zone checked: a zone without a
    ``zoneId``, listed twice, or whose id is not a plain name (letters, digits, ``.``, ``_``,
    ``-``: it becomes a file and directory name) is a :class:`ResponseDataError`, since
    dropping or merging it would silently lose or double its images. Text fields are made
    encodable."""
    document = load_json(body, "DescribeZones")
    response = document.get("response") if isinstance(document, dict) else None
    zone_set = response.get("zoneSet") if isinstance(response, dict) else None
    if not isinstance(zone_set, list):
        raise BadResponseError(
            "DescribeZones answered HTTP 200 without a 'zoneSet' list",
            action="DescribeZones",
            http_status=200,
        )
    zones: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, entry in enumerate(zone_set, start=1):
        zone_id = entry.get("zoneId") if isinstance(entry, dict) else None
        if not isinstance(zone_id, str) or not zone_id:
            raise ResponseDataError(
                f"DescribeZones: zone {number} of {len(zone_set)} has no zoneId "
                f"(got {type(zone_id).__name__}); its images cannot be listed"
            )
        if not ZONE_ID.fullmatch(zone_id):
            raise ResponseDataError(
                f"DescribeZones: zone id {_encodable(zone_id)[:60]!r} is not a plain name "
                "(letters, digits, '.', '_', '-', starting with a letter or digit)"
            )
        if zone_id in seen:
            raise ResponseDataError(f"DescribeZones listed zone {zone_id!r} twice")
        seen.add(zone_id)
        assert isinstance(entry, dict)
        zones.append({k: _encodable(v) if isinstance(v, str) else v for k, v in entry.items()})
    return zones


# --------------------------------------------------------------------------------------------
# Many pages


def parse_pages(bodies: Sequence[bytes], *, max_workers: int | None = None) -> list[ParsedPage]:
    """Parse many bodies in parallel threads (pyarrow releases the GIL while parsing)."""
    if len(bodies) <= 1:
        return [parse_page(b) for b in bodies]
    workers = max_workers or min(len(bodies), os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="imgframe-parse") as pool:
        return list(pool.map(parse_page, bodies))


def conform(table: pa.Table, schema: pa.Schema = RECORD_SCHEMA) -> pa.Table:
    """Give a record table every documented column of ``schema``, in the documented type."""
    for field in schema:
        index = table.schema.get_field_index(field.name)
        if index < 0:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        elif table.schema.field(index).type != field.type:
            column = table.column(index)
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                coerce = _coercer(field)
                column = pa.array([coerce(v) for v in column.to_pylist()], field.type)
            table = table.set_column(index, field, column)
    return table


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
