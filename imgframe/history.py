"""Inventory history: dated snapshots in a Parquet store, read back, diffed and trended.

A store is a plain hive-partitioned Parquet dataset, one directory per snapshot day and zone::

    store/
      snapshot_date=2025-06-01/
        zoneId=asia-east-1a/part-0.parquet
        zoneId=na-west-1a/part-0.parquet
      snapshot_date=2025-06-02/
        ...

Each file holds the frame's columns except ``zoneId`` (it is in the path, as hive layouts
expect), with their Arrow types (lists, structs, UTC timestamps), plus ``snapshotAt``: when the
snapshot was written. Any Parquet engine reads the store; in DuckDB::

    SELECT snapshot_date, imageStatus, count(*) AS images
    FROM read_parquet('store/*/*/*.parquet', hive_partitioning = true, union_by_name = true)
    GROUP BY ALL ORDER BY ALL;

(``union_by_name`` only matters once the API adds a field, so that snapshots differ in columns),
in pyarrow ``pyarrow.dataset.dataset("store", partitioning="hive")``, and in Spark
``spark.read.parquet("store")``.

Writing a day again replaces that day: the new day is written under ``store/.tmp-<uuid>/``,
then the old day directory is moved into ``store/.trash-<uuid>/``, the new one is moved into
place and the old one deleted. If the move fails the old day is put back. A reader sees the
old day or the new day (or, for the instant between the two moves, neither), never half of one
and never both. Work directories start with a dot and
hold the day one level deeper than live days, so neither pyarrow (which skips dot names) nor a
``*/*/*.parquet`` glob (DuckDB's glob does not skip them) ever reads them. A process killed
between the two moves leaves the day in ``.trash-*``; the next :func:`write_snapshot` on the
store puts it back. One writer per store at a time: writes are not locked against each other.

:func:`read_snapshots` gives the frame's columns in the frame's dtypes, after a
``snapshot_date`` column of ``date32[pyarrow]`` (values are :class:`datetime.date`, so
``df[df.snapshot_date == date(2025, 6, 1)]`` works) and followed by ``snapshotAt``.

:func:`diff_store` compares two days of a store with the diff engine of :mod:`imgframe.diff`;
:func:`status_trend` counts images per day and status.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .diff import SnapshotDiff, check_unique, diff_snapshots
from .durable import fsync_directory, replace_directory, write_durably
from .errors import DataError, ExportError, InvalidArgument
from .schema import CATEGORICAL_COLUMNS, IMAGE_FIELDS, IMAGE_STATUSES, ZONE_JOIN_COLUMNS
from .schema.arrow import (
    ARROW_ERRORS,
    CATEGORY_TYPE,
    IMAGE_SCHEMA,
    STRING,
    decoded_dictionary,
    pandas_dtype,
    small_offsets,
)

__all__ = [
    "SnapshotInfo",
    "diff_store",
    "list_snapshots",
    "read_snapshots",
    "status_trend",
    "write_snapshot",
]


DateLike = date | datetime | str
StorePath = str | os.PathLike[str]
_DAY_PREFIX = "snapshot_date="
_ZONE_PREFIX = "zoneId="
_PART_NAME = "part-0.parquet"
_PARTITION_SCHEMA = pa.schema([("snapshot_date", pa.date32()), ("zoneId", pa.string())])
_PARTITIONING = ds.partitioning(_PARTITION_SCHEMA, flavor="hive")
_SNAPSHOT_AT = pa.field("snapshotAt", pa.timestamp("us", tz="UTC"))
#: The type of every column the frame documents, as stored (``zoneId`` lives in the path).
_KNOWN_TYPES: dict[str, pa.DataType] = {f.name: f.type for f in IMAGE_SCHEMA} | {
    **{name: pa.string() for name in ZONE_JOIN_COLUMNS},
    "snapshotAt": _SNAPSHOT_AT.type,
}
#: Zone ids become directory names: keep them to characters every filesystem and engine takes
#: as-is (no escaping), and never hidden (a leading dot or underscore is skipped by readers).
_SAFE_ZONE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class SnapshotInfo:
    """What :func:`write_snapshot` wrote: the day directory, its date, row count and zones."""

    path: Path
    snapshot_date: date
    rows: int
    zones: tuple[str, ...]

    def describe(self) -> str:
        """One line: ``snapshot 2025-06-01: 120 images in 3 zones``."""
        zones = f"{len(self.zones)} zone" + ("" if len(self.zones) == 1 else "s")
        return f"snapshot {self.snapshot_date.isoformat()}: {self.rows} images in {zones}"


def write_snapshot(
    df: pd.DataFrame,
    store: StorePath,
    *,
    snapshot_date: DateLike | None = None,
    snapshot_at: datetime | None = None,
) -> SnapshotInfo:
    """Store ``df`` as the snapshot of one day, replacing that day if it was written before.

    ``snapshot_date`` defaults to the UTC date of the frame's (latest) ``fetchedAt``, or today
    (UTC) for a frame without one; ``snapshot_at`` (default: now) fills ``snapshotAt``. A naive
    ``snapshot_at`` is local time, as everywhere in imgframe. An empty frame is a valid
    snapshot (an inventory with no images): its day directory holds no files.

    Raises :class:`InvalidArgument` for a frame without ``zoneId``/``imageId``, with a missing
    or path-unsafe zone id, or with an image twice; :class:`ExportError` when the store cannot
    be written (the day as it was before is then intact).

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageSize": "20"}], zone_id="asia-east-1a")
    >>> info = write_snapshot(df, tempfile.mkdtemp(), snapshot_date="2025-06-01")
    >>> (info.snapshot_date.isoformat(), info.rows, info.zones)
    ('2025-06-01', 1, ('asia-east-1a',))
    >>> info.path.name
    'snapshot_date=2025-06-01'
    """
    _check_snapshot_frame(df)
    day = _as_date(snapshot_date, "snapshot_date") if snapshot_date is not None else None
    day = day or _default_date(df)
    when = (snapshot_at or datetime.now(UTC)).astimezone(UTC)
    table = _file_table(df, when)
    zone_text = df["zoneId"].astype(STRING)
    groups = pd.Series(np.arange(len(df)), index=zone_text.array).groupby(level=0, sort=True)

    root = Path(store)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the snapshot store {root}: {exc}") from exc
    if not root.is_dir():
        raise ExportError(f"the snapshot store {root} is not a directory")
    token = uuid.uuid4().hex
    staging, trash = root / f".tmp-{token}", root / f".trash-{token}"
    day_name = f"{_DAY_PREFIX}{day.isoformat()}"
    zones: list[str] = []
    try:
        _recover(root)
        new_day = staging / day_name
        new_day.mkdir(parents=True)
        for zone, positions in groups:
            zone_dir = new_day / f"{_ZONE_PREFIX}{zone}"
            zone_dir.mkdir()
            part = table.take(pa.array(positions.to_numpy()))
            write_durably(zone_dir / _PART_NAME, functools.partial(pq.write_table, part))
            fsync_directory(zone_dir)
            zones.append(str(zone))
        fsync_directory(new_day)
        # An older copy of the day waits in the trash until the new one is in; a writer
        # killed in between leaves it there for _recover to put back.
        replace_directory(new_day, root / day_name, aside=trash / day_name)
    except (OSError, *ARROW_ERRORS) as exc:
        raise ExportError(f"cannot write the snapshot of {day} to {root}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(trash, ignore_errors=True)
    return SnapshotInfo(root / day_name, day, len(df), tuple(zones))


def _check_snapshot_frame(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgument(f"write_snapshot: expected a DataFrame, got {type(df).__name__}")
    missing = [c for c in ("zoneId", "imageId") if c not in df.columns]
    if missing:
        raise InvalidArgument(f"write_snapshot: the frame has no {', '.join(missing)} column")
    zones = df["zoneId"].astype(STRING)
    if zones.isna().any():
        raise InvalidArgument(
            f"write_snapshot: {int(zones.isna().sum())} row(s) have no zoneId; "
            "a snapshot is partitioned by zone"
        )
    bad = [z for z in zones.unique() if not _SAFE_ZONE.fullmatch(str(z))]
    if bad:
        raise InvalidArgument(
            f"write_snapshot: zone id(s) {sorted(map(str, bad))[:5]} cannot be a directory name "
            "(allowed: letters, digits, '.', '_', '-'; not starting with '.', '_' or '-')"
        )
    check_unique(df, ("zoneId", "imageId"), InvalidArgument, "write_snapshot")


def _default_date(df: pd.DataFrame) -> date:
    if "fetchedAt" in df.columns and len(df):
        latest = pd.to_datetime(df["fetchedAt"]).max()
        if not pd.isna(latest):
            stamp = pd.Timestamp(latest)
            stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
            return stamp.date()
    return datetime.now(UTC).date()


def _file_table(df: pd.DataFrame, when: datetime) -> pa.Table:
    """The rows as stored: no ``zoneId`` (the path holds it), plain Arrow types, ``snapshotAt``."""
    frame = df.drop(columns=[c for c in ("zoneId", "snapshot_date", "snapshotAt") if c in df])
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except ARROW_ERRORS as exc:
        raise ExportError(f"write_snapshot: a column cannot be stored in Parquet: {exc}") from exc
    # pandas' own metadata would make readers rebuild pandas dtypes from one file's view of
    # them; read_snapshots restores the frame's dtypes by column name instead.
    table = table.replace_schema_metadata(None)
    columns = [_storable(table.column(i)) for i in range(table.num_columns)]
    fields = [
        pa.field(name, col.type) for name, col in zip(table.column_names, columns, strict=True)
    ]
    table = pa.Table.from_arrays(columns, schema=pa.schema(fields))
    micros = int(when.timestamp() * 1_000_000)
    stamp = pa.array(np.full(table.num_rows, micros, dtype=np.int64)).cast(_SNAPSHOT_AT.type)
    return table.append_column(_SNAPSHOT_AT, stamp)


def _storable(column: pa.ChunkedArray) -> pa.Array:
    """One Arrow type per column across all files, whatever pandas chose for this frame."""
    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        # pandas picks int8/int16 indices by category count (and a null dictionary for an
        # all-NA column); files of different days must agree, so always int32 -> string.
        return decoded_dictionary(array).dictionary_encode().cast(CATEGORY_TYPE)
    small = small_offsets(array.type)
    return array if small == array.type else array.cast(small)


def _recover(root: Path) -> None:
    """Finish what a killed writer left: put back a day moved aside, drop half-written days."""
    for trash in root.glob(".trash-*"):
        for day in trash.iterdir():
            if day.name.startswith(_DAY_PREFIX) and not (root / day.name).exists():
                os.rename(day, root / day.name)
        shutil.rmtree(trash, ignore_errors=True)
    for staging in root.glob(".tmp-*"):
        shutil.rmtree(staging, ignore_errors=True)


def list_snapshots(store: StorePath) -> list[date]:
    """The dates of the snapshots in ``store``, oldest first.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> store = tempfile.mkdtemp()
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="asia-east-1a")
    >>> for day in ("2025-06-02", "2025-06-01"):
    ...     _ = write_snapshot(df, store, snapshot_date=day)
    >>> [d.isoformat() for d in list_snapshots(store)]
    ['2025-06-01', '2025-06-02']
    """
    root = _existing_store(store)
    return sorted(_day_of(path) for path in root.glob(f"{_DAY_PREFIX}*") if path.is_dir())


def read_snapshots(
    store: StorePath,
    *,
    since: DateLike | None = None,
    until: DateLike | None = None,
    zones: str | Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every row of the snapshots dated ``since`` to ``until`` (both inclusive), oldest first.

    Columns: ``snapshot_date`` (``date32[pyarrow]``: plain :class:`datetime.date` values that
    compare with dates), then the frame's columns in the frame's dtypes (``zoneId`` and the
    other categoricals have the categories present, in order of appearance), extras, then
    ``fetchedAt`` and ``snapshotAt``. Every frame column is present even if a snapshot lacked
    it (as NA). ``columns`` reads only those frame columns (``snapshot_date`` always comes).

    The date and zone filters select files by their partition directories, so snapshots
    outside the range are never opened. A range without snapshots gives an empty frame with
    all the columns. Raises :class:`DataError` if ``store`` does not exist or a file in the
    range cannot be read.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> store = tempfile.mkdtemp()
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="asia-east-1a")
    >>> for day in ("2025-06-01", "2025-06-02", "2025-06-03"):
    ...     _ = write_snapshot(df, store, snapshot_date=day)
    >>> read_snapshots(store, since="2025-06-02")[["snapshot_date", "imageId"]].astype(str)
      snapshot_date imageId
    0    2025-06-02   img-1
    1    2025-06-03   img-1
    """
    root = _existing_store(store)
    first = _as_date(since, "since") if since is not None else None
    last = _as_date(until, "until") if until is not None else None
    if first and last and first > last:
        raise InvalidArgument(f"read_snapshots: since ({first}) is after until ({last})")
    wanted_zones = [zones] if isinstance(zones, str) else None if zones is None else list(zones)
    if columns is not None and isinstance(columns, str):
        columns = [columns]
    table = _read_table(root, _partition_filter(first, last, wanted_zones), columns)
    return _to_frame(table, columns)


def _existing_store(store: StorePath) -> Path:
    root = Path(store)
    if not root.is_dir():
        raise DataError(f"no snapshot store at {root}: it is not a directory")
    return root


def _day_of(path: Path) -> date:
    try:
        return date.fromisoformat(path.name.removeprefix(_DAY_PREFIX))
    except ValueError:
        raise DataError(
            f"not a snapshot day directory (want {_DAY_PREFIX}YYYY-MM-DD): {path}"
        ) from None


def _partition_filter(
    first: date | None, last: date | None, zones: list[str] | None
) -> pc.Expression | None:
    terms = []
    if first is not None:
        terms.append(pc.field("snapshot_date") >= pa.scalar(first, pa.date32()))
    if last is not None:
        terms.append(pc.field("snapshot_date") <= pa.scalar(last, pa.date32()))
    if zones is not None:
        terms.append(pc.field("zoneId").isin(pa.array(zones, pa.string())))
    if not terms:
        return None
    expression = terms[0]
    for term in terms[1:]:
        expression = expression & term
    return expression


def _read_table(
    root: Path, expression: pc.Expression | None, columns: Sequence[str] | None
) -> pa.Table:
    for day in root.glob(f"{_DAY_PREFIX}*"):
        _day_of(day)  # a malformed day name is a broken store, not a day to skip silently
    files = sorted(
        root.glob(f"{_DAY_PREFIX}*/{_ZONE_PREFIX}*/*.parquet"),
        key=lambda p: (p.parent.parent.name, p.parent.name, p.name),
    )
    # Only the partition fields are declared here, so discovery reads no file; the filter
    # then drops fragments by their path's partition values before any file is opened.
    everything = ds.dataset(
        [str(p) for p in files],
        schema=_PARTITION_SCHEMA,
        format="parquet",
        partitioning=_PARTITIONING,
        partition_base_dir=str(root),
    )
    fragments = list(everything.get_fragments(filter=expression))
    schemas = [_PARTITION_SCHEMA]
    for fragment in fragments:
        try:
            schemas.append(fragment.physical_schema)
        except (OSError, *ARROW_ERRORS) as exc:
            raise DataError(f"cannot read snapshot file {fragment.path}: {exc}") from exc
    try:
        # Days written before the API grew a field lack it: the union has every column.
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except ARROW_ERRORS as exc:
        raise DataError(f"the snapshot files in {root} disagree on column types: {exc}") from exc
    dataset = ds.FileSystemDataset(
        fragments, schema, ds.ParquetFileFormat(), filesystem=everything.filesystem
    )
    names = None
    if columns is not None:
        names = ["snapshot_date", *[c for c in columns if c in schema.names]]
    try:
        return dataset.to_table(columns=names)
    except (OSError, *ARROW_ERRORS) as exc:
        raise DataError(f"cannot read the snapshots in {root}: {exc}") from exc


def _to_frame(table: pa.Table, columns: Sequence[str] | None) -> pd.DataFrame:
    """Arrow rows of the store as the frame's dtypes, in the frame's column order."""
    present = {name: table.column(name).combine_chunks() for name in table.column_names}
    if columns is None:
        extras = [c for c in table.column_names if c not in _KNOWN_TYPES and c != "snapshot_date"]
        zone_columns = [c for c in ZONE_JOIN_COLUMNS if c in present]
        order = [
            "snapshot_date",
            "zoneId",
            *zone_columns,
            *IMAGE_FIELDS,
            *extras,
            "fetchedAt",
            "snapshotAt",
        ]
    else:
        order = ["snapshot_date", *[c for c in columns if c != "snapshot_date"]]
    arrays = []
    for name in order:
        array = present.get(name)
        known = _KNOWN_TYPES.get(name)
        if array is None:
            if known is None:
                raise InvalidArgument(f"read_snapshots: no column {name!r} in the snapshots")
            array = pa.nulls(table.num_rows, known)
            if name == "tags":  # the frame never has NA tags, only empty lists
                array = pc.if_else(pc.is_null(array), pa.scalar([], known), array)
        try:
            array = _as_frame_type(name, array)
        except ARROW_ERRORS as exc:
            raise DataError(
                f"snapshot column {name!r} cannot be read as the frame's: {exc}"
            ) from exc
        arrays.append(array)
    table = pa.Table.from_arrays(arrays, names=order)
    return cast(pd.DataFrame, table.to_pandas(types_mapper=pandas_dtype))


def _as_frame_type(name: str, array: pa.Array) -> pa.Array:
    if name in CATEGORICAL_COLUMNS:
        # Re-encoded over the rows read: categories are the values present, in order of
        # appearance, as in a fresh frame (each file's dictionary holds its whole frame's).
        if pa.types.is_dictionary(array.type):
            array = decoded_dictionary(array)
        return array.cast(pa.string()).dictionary_encode().cast(CATEGORY_TYPE)
    known = _KNOWN_TYPES.get(name)
    if known is None:
        return array
    # Parquet names list items "element", the frame "item": Arrow's type equality ignores the
    # name, pandas' dtype repr does not.
    return array.cast(known)


def diff_store(
    store: StorePath, *, from_date: DateLike | None = None, to_date: DateLike | None = None
) -> SnapshotDiff:
    """Diff two snapshots of a store; by default the last two.

    ``to_date`` defaults to the latest snapshot, ``from_date`` to the one before ``to_date``.
    Both must be dates the store has. Raises :class:`DataError` when the store has fewer
    than two snapshots to compare, or lacks a date asked for.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> store = tempfile.mkdtemp()
    >>> _ = write_snapshot(frame_from_records([{"imageId": "a"}], zone_id="z"), store,
    ...                    snapshot_date="2025-06-01")
    >>> _ = write_snapshot(frame_from_records([{"imageId": "a"}, {"imageId": "b"}], zone_id="z"),
    ...                    store, snapshot_date="2025-06-02")
    >>> d = diff_store(store)
    >>> (str(d.old_date), str(d.new_date), d.summary()["added"])
    ('2025-06-01', '2025-06-02', 1)
    """
    root = _existing_store(store)
    days = list_snapshots(root)
    to_day = _as_date(to_date, "to_date") if to_date is not None else None
    from_day = _as_date(from_date, "from_date") if from_date is not None else None
    if (to_day is None or from_day is None) and len(days) < 2:
        listed = ", ".join(d.isoformat() for d in days) or "none"
        raise DataError(
            f"diff_store needs two snapshots to compare; {root} has {len(days)} ({listed}). "
            "Write another day with write_snapshot (imgframe snapshot) first"
        )
    for asked, label in ((to_day, "to_date"), (from_day, "from_date")):
        if asked is not None and asked not in days:
            raise DataError(
                f"no snapshot dated {asked} ({label}) in {root}; it has "
                f"{', '.join(d.isoformat() for d in days)}"
            )
    if to_day is None:
        to_day = days[-1]
    if from_day is None:
        earlier = [d for d in days if d < to_day]
        if not earlier:
            raise DataError(f"no snapshot in {root} before {to_day} to compare it with")
        from_day = earlier[-1]
    old = read_snapshots(root, since=from_day, until=from_day)
    new = read_snapshots(root, since=to_day, until=to_day)
    return replace(diff_snapshots(old, new), old_date=from_day, new_date=to_day)


def status_trend(store_or_frame: StorePath | pd.DataFrame) -> pd.DataFrame:
    """Images per snapshot date and status, for a trend chart.

    Takes a store or a :func:`read_snapshots` frame. One row per (date, status) for every
    date and every status seen on any date (zero where a date has none of it); images with
    no status count under NA. ``imageStatus`` is a categorical in the API's documented order
    (unknown statuses after, sorted).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "imageStatus": "AVAILABLE"},
    ...                          {"imageId": "b", "imageStatus": "FAILED"}], zone_id="z")
    >>> df.insert(0, "snapshot_date", "2025-06-01")
    >>> status_trend(df).astype({"snapshot_date": str}).to_dict("records")
    [{'snapshot_date': '2025-06-01', 'imageStatus': 'AVAILABLE', 'images': 1}, \
{'snapshot_date': '2025-06-01', 'imageStatus': 'FAILED', 'images': 1}]
    """
    if isinstance(store_or_frame, pd.DataFrame):
        frame = store_or_frame
        missing = [c for c in ("snapshot_date", "imageStatus") if c not in frame.columns]
        if missing:
            raise InvalidArgument(f"status_trend: the frame has no {', '.join(missing)} column")
        dates: list[date] = []
    else:
        dates = list_snapshots(store_or_frame)  # days without images still get their zeros
        frame = read_snapshots(store_or_frame, columns=["imageStatus"])
    keys = pd.DataFrame(
        {
            "snapshot_date": frame["snapshot_date"].astype(object).array,
            "imageStatus": frame["imageStatus"].astype(STRING).array,
        }
    )
    counts = keys.groupby(["snapshot_date", "imageStatus"], dropna=False, sort=False).size()
    tally: dict[tuple[date, str | None], int] = {}
    for index, n in counts.items():
        day, status = cast(tuple[Any, Any], index)
        if pd.isna(day):
            continue
        cell = (_as_date(day, "snapshot_date"), None if pd.isna(status) else str(status))
        tally[cell] = tally.get(cell, 0) + int(n)
    days = sorted({*dates, *(d for d, _ in tally)})
    seen = {s for _, s in tally if s is not None}
    documented = [s for s in IMAGE_STATUSES if s in seen]
    statuses: list[str | None] = [*documented, *sorted(seen - set(documented))]
    if any(s is None for _, s in tally):
        statuses.append(None)
    grid = [(d, s) for d in days for s in statuses]
    return pd.DataFrame(
        {
            "snapshot_date": pd.arrays.ArrowExtensionArray(
                pa.array([d for d, _ in grid], pa.date32())
            ),
            "imageStatus": pd.Categorical(
                [s for _, s in grid], categories=[s for s in statuses if s is not None]
            ),
            "images": np.array([tally.get(cell, 0) for cell in grid], dtype=np.int64),
        }
    )


def _as_date(value: Any, name: str) -> date:
    """A date from a ``date``, a ``datetime`` (aware ones in UTC) or an ISO string."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            return _as_date(datetime.fromisoformat(value), name)
        except ValueError:
            pass
    raise InvalidArgument(f"{name}: expected a date, a datetime or YYYY-MM-DD, got {value!r}")
