"""Record tables to the typed, Arrow-backed pandas DataFrame, and reshaping its tags.

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
``fetchedAt``. Pages are read into record tables by :mod:`imgframe.parse`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import lists  # noqa: F401  (registers the .imgframe accessors on every frame)
from .errors import DataQualityWarning, InvalidArgument
from .parse import RawPage, conform, load_pages, parse_pages, records_from_dicts
from .schema import CATEGORICAL_COLUMNS, IMAGE_FIELDS, ZONE_FIELDS, ZONE_JOIN_COLUMNS
from .schema.arrow import (
    ARROW_ERRORS,
    CATEGORY_TYPE,
    RECORD_SCHEMA,
    TAGS_TYPE,
    TIMESTAMP_TYPE,
    decoded_dictionary,
    pandas_dtype,
)

__all__ = [
    "concat_frames",
    "empty_frame",
    "explode_tags",
    "frame_from_records",
    "frame_from_tables",
    "join_zones",
    "listing_frame",
    "normalize_pages",
    "tables_to_arrow",
    "tag_columns",
    "tag_values",
    "zones_frame",
]


def frame_from_tables(
    tables: list[pa.Table],
    zone_ids: Sequence[str],
    *,
    fetched_at: datetime | None = None,
    zones: pd.DataFrame | None = None,
    release: bool = False,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Join per-page (or per-zone) record tables into the typed frame.

    ``zone_ids[i]`` is the zone of every row of ``tables[i]``. ``zones`` (a
    :func:`~imgframe.fetch_zones` frame) adds the zone columns after ``zoneId`` (a fetch
    always passes it, so every fetched frame has the same columns in the same order). With
    ``release=True`` the caller gives the tables up: ``tables`` is emptied and each column's
    pages are let go as soon as the column is copied (see :func:`tables_to_arrow`).
    ``notes``, when given, also receives the text of every warning the build gives.
    """
    if len(tables) != len(zone_ids):
        raise InvalidArgument("frame_from_tables: one zone id is needed per table")
    table = tables_to_arrow(tables, zone_ids, fetched_at=fetched_at, release=release, notes=notes)
    frame: pd.DataFrame = table.to_pandas(types_mapper=pandas_dtype)
    return join_zones(frame, zones) if zones is not None else frame


def tables_to_arrow(
    tables: list[pa.Table],
    zone_ids: Sequence[str],
    *,
    fetched_at: datetime | None = None,
    release: bool = False,
    notes: list[str] | None = None,
) -> pa.Table:
    """The frame as an Arrow table (the columns of
    :data:`~imgframe.schema.arrow.IMAGE_SCHEMA` plus extras).

    ``release=True`` empties ``tables`` and builds the table letting go of each column's
    chunks once they are copied, so the pages' memory is freed along the way (a fetch's peak
    RSS drops by about a fifth of the frame); only for a caller that keeps no other
    reference to the tables.
    """
    given = [conform(t) for t in tables] or [RECORD_SCHEMA.empty_table()]
    if release:
        tables.clear()
    lengths = np.fromiter((t.num_rows for t in given), dtype=np.int64, count=len(given))
    # No copy yet: one chunk per table. Below, each column is copied into one array and
    # converted on its own, and then its chunks are let go: with released tables, nothing
    # else holds them, so each page's memory is freed on the way instead of at the end.
    records = pa.concat_tables(given, promote_options="permissive")
    del given
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
    fetched = pa.array(np.full(n, micros, dtype=np.int64)).cast(TIMESTAMP_TYPE)

    unreadable_sizes = 0

    def convert(name: str) -> pa.Array:
        nonlocal unreadable_sizes
        column = pending.pop(name).combine_chunks()
        if name == "imageSize":
            column, unreadable_sizes = _parse_sizes(column)
        elif name == "tags":
            column = _empty_if_null(column)
        elif name in CATEGORICAL_COLUMNS:
            column = column.dictionary_encode().cast(CATEGORY_TYPE)
        return column

    # Copying and converting the columns is Arrow work outside the GIL, so columns go in
    # parallel (1M rows on two cores: 0.28 s -> 0.21 s, more when memory is fresh).
    columns: dict[str, pa.Array] = {"zoneId": zone_column}
    with ThreadPoolExecutor(min(len(IMAGE_FIELDS), os.cpu_count() or 1)) as pool:
        columns.update(zip(IMAGE_FIELDS, pool.map(convert, IMAGE_FIELDS), strict=True))
    if unreadable_sizes:
        message = (
            f"imageSize: {unreadable_sizes} value(s) were not a whole number of GiB and became NA"
        )
        warnings.warn(message, DataQualityWarning, stacklevel=3)
        if notes is not None:
            notes.append(message)
    for name in list(pending):  # fields the API added later
        if name not in columns:
            columns[name] = pending.pop(name).combine_chunks()
    columns["fetchedAt"] = fetched
    return pa.table(columns)


def listing_frame(
    tables: list[pa.Table],
    schema: pa.Schema,
    *,
    categoricals: Sequence[str],
    timestamps: Sequence[str] = (),
    fetched_at: datetime | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """An account-wide listing (custom images, instances) as a typed frame, typed like the
    image frame: the documented fields of ``schema`` first (categoricals, ``imageSize`` in
    GiB, lists with null as ``[]``, ISO-8601 ``timestamps`` as UTC), fields the API adds later
    after them, then ``fetchedAt``.

    >>> from imgframe.parse import INSTANCES, records_from_dicts
    >>> rows = records_from_dicts([{"instanceId": "i-1", "status": "RUNNING",
    ...                             "createTime": "2025-11-04T07:08:28Z"}], INSTANCES.records)
    >>> df = listing_frame([rows], INSTANCES.records, categoricals=["status"],
    ...                    timestamps=["createTime"])
    >>> df.loc[0, "createTime"], str(df["status"].dtype)
    (Timestamp('2025-11-04 07:08:28+0000', tz='UTC'), 'category')
    """
    given = [conform(t, schema) for t in tables] or [schema.empty_table()]
    records = pa.concat_tables(given, promote_options="permissive")
    columns: dict[str, pa.Array] = {}
    for name in records.column_names:
        column = records.column(name).combine_chunks()
        if name == "imageSize":
            column, bad = _parse_sizes(column)
            _note(notes, bad, "imageSize", "a whole number of GiB")
        elif name in timestamps:
            stamps = pc.cast(
                pc.strptime(column, format="%Y-%m-%dT%H:%M:%SZ", unit="s", error_is_null=True),
                TIMESTAMP_TYPE,
            )
            _note(notes, stamps.null_count - column.null_count, name, "an ISO-8601 UTC time")
            column = stamps
        elif pa.types.is_list(column.type):
            column = _empty_if_null(column)
        elif name in categoricals:
            column = column.dictionary_encode().cast(CATEGORY_TYPE)
        columns[name] = column
    when = (fetched_at or datetime.now(UTC)).astimezone(UTC)
    micros = int(when.timestamp() * 1_000_000)
    columns["fetchedAt"] = pa.array(np.full(records.num_rows, micros, dtype=np.int64)).cast(
        TIMESTAMP_TYPE
    )
    frame: pd.DataFrame = pa.table(columns).to_pandas(types_mapper=pandas_dtype)
    return frame


def concat_frames(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` that keeps the frame's dtypes (several accounts, zones or days in one).

    ``pd.concat`` of two frames whose categoricals differ in categories (a one-zone frame and
    an all-zones frame: their ``zoneId``, ``imageStatus``... hold different values) falls
    back to ``str`` or ``object`` columns whose missing value is ``NaN``, beside ``string``
    and ``Int64`` columns whose missing value is ``pd.NA``. This puts frames one after the
    other in the frame's dtypes: categoricals with the union of the
    categories (in order of appearance), every missing value ``NA`` of its dtype, a fresh
    ``RangeIndex``. A column some frames lack is missing (``NA``) in their rows; ``tags`` is
    ``[]`` there, as in any frame. Columns come in the order of the frame that has the most,
    then any others by first appearance. ``attrs`` are not kept (they describe one fetch).

    >>> a = frame_from_records([{"imageId": "a", "imageStatus": "AVAILABLE"}], zone_id="z1")
    >>> b = frame_from_records([{"imageId": "b", "imageStatus": None}], zone_id="z2")
    >>> both = concat_frames([a, b])
    >>> str(both["zoneId"].dtype), list(both["zoneId"].cat.categories)
    ('category', ['z1', 'z2'])
    >>> both["imageStatus"].tolist()
    ['AVAILABLE', nan]
    """
    given = list(frames)
    if not given:
        raise InvalidArgument("concat_frames: no frames given")
    tables = [_plain_categories(pa.Table.from_pandas(f, preserve_index=False)) for f in given]
    widest = max(tables, key=lambda t: t.num_columns)
    order = list(
        dict.fromkeys([*widest.column_names, *(n for t in tables for n in t.column_names)])
    )
    types: dict[str, pa.DataType] = {}
    for table in tables:
        for field in table.schema:
            if not pa.types.is_null(field.type):
                types.setdefault(field.name, field.type)
    aligned = []
    for table in tables:
        columns = []
        for name in order:
            wanted = types.get(name, pa.null())
            if name in table.column_names:
                column = table.column(name)
                if column.type != wanted:
                    try:
                        column = column.cast(wanted)
                    except ARROW_ERRORS as exc:
                        raise InvalidArgument(
                            f"concat_frames: column {name!r} is {column.type} in one frame "
                            f"and {wanted} in another"
                        ) from exc
            elif name == "tags" and pa.types.is_list(wanted):
                empty = pa.ListArray.from_arrays(
                    pa.array(np.zeros(table.num_rows + 1, np.int32)),
                    pa.array([], wanted.value_type),
                    type=wanted,
                )
                column = pa.chunked_array([empty], type=wanted)
            else:
                column = pa.chunked_array([pa.nulls(table.num_rows, wanted)], type=wanted)
            columns.append(column)
        aligned.append(pa.Table.from_arrays(columns, names=order))
    combined = pa.concat_tables(aligned).unify_dictionaries()
    return cast(pd.DataFrame, combined.to_pandas(types_mapper=pandas_dtype))


def _plain_categories(table: pa.Table) -> pa.Table:
    """Every dictionary column as ``dictionary<int32, string>`` (pandas picks int8 codes, and
    a null dictionary for an all-NA column, which Arrow cannot unify), text as ``string``,
    no pandas metadata."""
    columns = [
        decoded_dictionary(column.combine_chunks()).dictionary_encode().cast(CATEGORY_TYPE)
        if pa.types.is_dictionary(column.type)
        else column.cast(pa.string())  # pandas' own str dtype arrives as large_string
        if pa.types.is_large_string(column.type)
        else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names)


def _note(notes: list[str] | None, bad: int, name: str, what: str) -> None:
    if not bad:
        return
    message = f"{name}: {bad} value(s) were not {what} and became NA"
    warnings.warn(message, DataQualityWarning, stacklevel=4)
    if notes is not None:
        notes.append(message)


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


def zones_frame(zone_set: list[dict[str, Any]]) -> pd.DataFrame:
    """DescribeZones records as a frame, one row per zone, sorted by ``zoneId``."""
    columns: dict[str, Any] = {}
    for name in ZONE_FIELDS:
        values = [z.get(name) for z in zone_set]
        if name in ("supportHaVip", "supportSecurityGroup"):
            columns[name] = pd.array(
                [v if isinstance(v, bool) else None for v in values], dtype="boolean"
            )
        else:
            columns[name] = pd.array(
                [None if v is None else str(v) for v in values], dtype="string[pyarrow]"
            )
    extra = dict.fromkeys(k for z in zone_set for k in z if k not in columns)
    for name in extra:
        columns[name] = [z.get(name) for z in zone_set]
    frame = pd.DataFrame(columns)
    return frame.sort_values("zoneId", kind="stable").reset_index(drop=True)


#: No zone records: joining it gives the zone columns, all NA.
_NO_ZONES = pd.DataFrame({name: pd.array([], dtype="string[pyarrow]") for name in ZONE_FIELDS})


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
        [records_from_dicts(by_zone[z]) for z in zones], zones, fetched_at=fetched_at
    )


def empty_frame(*, fetched_at: datetime | None = None) -> pd.DataFrame:
    """A frame with the full schema of a fetched frame (zone columns included) and zero rows.

    >>> list(empty_frame().columns[:3])
    ['zoneId', 'regionId', 'zoneName']
    """
    return frame_from_tables([], [], fetched_at=fetched_at, zones=_NO_ZONES)


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
    tables = [p.records for p in parse_pages([p.body for p in raw])]
    return frame_from_tables(tables, [p.zone_id for p in raw], fetched_at=fetched_at, release=True)


# --------------------------------------------------------------------------------------------
# Tags


def explode_tags(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (image, tag) with ``tagKey`` and ``tagValue``; untagged images keep one row
    with NA (``pd.json_normalize(record_path=...)`` would drop them).

    >>> df = frame_from_records([
    ...     {"imageId": "a", "tags": {"tags": [{"key": "env", "value": "prod"}]}},
    ...     {"imageId": "b", "tags": None}], zone_id="z")
    >>> explode_tags(df)[["imageId", "tagKey", "tagValue"]]
      imageId tagKey tagValue
    0       a    env     prod
    1       b   <NA>     <NA>
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


def tag_values(frame: pd.DataFrame, key: str) -> pd.Series:
    """The value of tag ``key`` on each image (NA where the image has no such tag; a key
    given twice: the last one, as in :func:`tag_columns`), aligned with ``frame``.

    >>> df = frame_from_records([
    ...     {"imageId": "a", "tags": {"tags": [{"key": "env", "value": "prod"}]}},
    ...     {"imageId": "b", "tags": {"tags": [{"key": "team", "value": "data"}]}},
    ...     {"imageId": "c", "tags": None}], zone_id="z")
    >>> tag_values(df, "env").tolist()
    ['prod', <NA>, <NA>]
    """
    parents, keys, values = _tag_pairs(frame, keep_untagged=False)
    hit = np.flatnonzero(pd.Series(keys).eq(key).fillna(False).to_numpy(dtype=bool))
    # A key given twice on an image: keep its last occurrence.
    rows = parents[hit]
    last = len(rows) - 1 - np.unique(rows[::-1], return_index=True)[1]
    column = pd.Series(pd.NA, index=range(len(frame)), dtype="string[pyarrow]")
    column.iloc[rows[last]] = values[hit[last]]
    return pd.Series(column.array, index=frame.index, name=f"tag:{key}")


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
