"""Reading the store: its days, the files of the days and zones asked for, and their rows.

Days and zones are chosen by their directory names before any file is opened; only the
columns asked for are read, a few files at a time; rows become the frame's dtypes in Arrow,
and only then pandas. Readers take no lock: see :func:`consistently`.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import DataError, InvalidArgument
from ..schema import CATEGORICAL_COLUMNS, IMAGE_FIELDS, ZONE_JOIN_COLUMNS
from ..schema.arrow import ARROW_ERRORS, CATEGORY_TYPE, decoded_dictionary, pandas_dtype
from ..storage import Location
from .layout import (
    DAY_PREFIX,
    KNOWN_TYPES,
    PARTITION_SCHEMA,
    ZONE_PREFIX,
    DateLike,
    StorePath,
    as_date,
    day_of,
    existing_store,
)

__all__ = ["list_snapshots", "read_snapshots"]

#: How often a reader reads again when writers keep replacing the days it reads.
_READ_ATTEMPTS = 5
#: Files read at once (reading a small file also waits on the file system, so a few more
#: than the cores: measured best at 4 on 2 cores).
_READERS = min(16, max(4, os.cpu_count() or 1))
_EPOCH = date(1970, 1, 1)
_T = TypeVar("_T")


def list_snapshots(store: StorePath) -> list[date]:
    """The dates of the snapshots in ``store``, oldest first.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> from imgframe.history import write_snapshot
    >>> store = tempfile.mkdtemp()
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="asia-east-1a")
    >>> for day in ("2025-06-02", "2025-06-01"):
    ...     _ = write_snapshot(df, store, snapshot_date=day)
    >>> [d.isoformat() for d in list_snapshots(store)]
    ['2025-06-01', '2025-06-02']
    """
    root = existing_store(store)
    if not root.is_local:
        from .objects import committed_days

        return [d.day for d in committed_days(root)]
    return [d.day for d in _day_dirs(root.path)]


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
    outside the range are never opened (nor their directories listed), and only the
    ``columns`` asked for are read from the files. A range without snapshots gives an empty
    frame with all the columns. Raises :class:`DataError` if ``store`` does not exist or a
    file in the range cannot be read.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> from imgframe.history import write_snapshot
    >>> store = tempfile.mkdtemp()
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="asia-east-1a")
    >>> for day in ("2025-06-01", "2025-06-02", "2025-06-03"):
    ...     _ = write_snapshot(df, store, snapshot_date=day)
    >>> read_snapshots(store, since="2025-06-02")[["snapshot_date", "imageId"]].astype(str)
      snapshot_date imageId
    0    2025-06-02   img-1
    1    2025-06-03   img-1
    """
    root = existing_store(store)
    first = as_date(since, "since") if since is not None else None
    last = as_date(until, "until") if until is not None else None
    if first and last and first > last:
        raise InvalidArgument(f"read_snapshots: since ({first}) is after until ({last})")
    wanted_zones = [zones] if isinstance(zones, str) else None if zones is None else list(zones)
    if columns is not None and isinstance(columns, str):
        columns = [columns]
    return to_frame(read_table(root, first, last, wanted_zones, columns), columns)


@dataclass(frozen=True)
class _Day:
    """A day directory as listed; ``identity`` changes when a writer replaces the day."""

    path: Path
    day: date
    identity: tuple[int, int, int]


def _identity(status: os.stat_result) -> tuple[int, int, int]:
    return (status.st_dev, status.st_ino, status.st_mtime_ns)


def _day_dirs(root: Path) -> list[_Day]:
    """Every day directory of the store, oldest first."""
    days = []
    try:
        with os.scandir(root) as entries:
            found = [Path(e.path) for e in entries if e.name.startswith(DAY_PREFIX)]
    except OSError as exc:
        raise DataError(f"cannot list the snapshot store {root}: {exc}") from exc
    for path in found:
        try:
            status = path.stat()
        except FileNotFoundError:  # moved aside this instant by a writer replacing it
            continue
        if stat.S_ISDIR(status.st_mode):
            days.append(_Day(path, day_of(path), _identity(status)))
    return sorted(days, key=lambda d: d.day)


def _unchanged(day: _Day) -> bool:
    try:
        return _identity(day.path.stat()) == day.identity
    except OSError:
        return False


def read_table(
    root: Location,
    first: date | None,
    last: date | None,
    zones: list[str] | None,
    columns: Sequence[str] | None,
    *,
    required: date | None = None,
) -> pa.Table:
    """The rows of the days ``first`` to ``last`` (of ``zones``) as one Arrow table: the
    partition columns, then the ``columns`` the files have (all by default), their types
    unified across files (days written before the API grew a field lack it)."""

    def read(files: list[File]) -> pa.Table:
        tables = each(files, functools.partial(columns_of, columns=columns))
        try:
            rows = pa.concat_tables(tables, promote_options="permissive") if tables else None
        except ARROW_ERRORS as exc:
            disagree = f"the snapshot files in {root} disagree on column types: {exc}"
            raise DataError(disagree) from exc
        sizes = [t.num_rows for t in tables]
        return _with_partitions(rows, files, sizes, zone=columns is None or "zoneId" in columns)

    return consistently(root, first, last, zones, read, required=required)


def consistently(
    store: Location,
    first: date | None,
    last: date | None,
    zones: list[str] | None,
    read: Callable[[list[File]], _T],
    *,
    required: date | None = None,
) -> _T:
    """``read`` over the files of the days ``first`` to ``last`` (of ``zones``), never over a
    day that a writer replaced meanwhile.

    Readers take no lock: if a day directory read is not the one listed any more, what was
    read is thrown away and read again, so a result never mixes two writes of a day. A file
    that cannot be read is an error only if the store did not change meanwhile. ``required``
    names a day that must be there (a writer replacing it hides it for an instant).
    A store in an object store is read through its days' manifests instead
    (:func:`~imgframe.history.objects.object_consistently`).
    """
    if not store.is_local:
        from .objects import object_consistently

        return object_consistently(store, first, last, zones, read, required=required)
    root = store.path
    problem = ""
    for attempt in range(_READ_ATTEMPTS):
        if attempt:
            time.sleep(0.01 * attempt)
        days = [
            d
            for d in _day_dirs(root)
            if (first is None or d.day >= first) and (last is None or d.day <= last)
        ]
        if required is not None and all(d.day != required for d in days):
            problem = f"no snapshot dated {required} in {root} any more"
            continue
        try:
            result = read(_files(days, zones))
        except DataError as exc:
            if all(_unchanged(d) for d in days):
                raise
            problem = str(exc)
            continue
        if all(_unchanged(d) for d in days):
            return result
        problem = f"the snapshots in {root} were rewritten while they were read"
    raise DataError(f"{problem} (after {_READ_ATTEMPTS} attempts)")


@dataclass(frozen=True)
class File:
    """A Parquet file of the store (a path, or an object's location) and its partition
    values (from its path)."""

    path: Path | Location
    day: date
    zone: str


def _files(days: list[_Day], zones: list[str] | None) -> list[File]:
    """The files of the ``days`` and ``zones`` asked for: only their directories are listed,
    and no file is opened."""
    wanted = None if zones is None else set(zones)
    files = []
    for day in days:
        try:
            for zone_dir in _listing(day.path, directories=True):
                zone = zone_dir.name.removeprefix(ZONE_PREFIX)
                if zone_dir.name.startswith(ZONE_PREFIX) and (wanted is None or zone in wanted):
                    parts = _listing(zone_dir, directories=False)
                    files += [File(p, day.day, zone) for p in parts if p.suffix == ".parquet"]
        except OSError as exc:
            raise DataError(f"cannot list the snapshot directory {day.path}: {exc}") from exc
    return files


def _listing(directory: Path, *, directories: bool) -> list[Path]:
    """The visible directories (or files) in ``directory``, by name."""
    with os.scandir(directory) as entries:
        return sorted(
            Path(e.path)
            for e in entries
            if not e.name.startswith((".", "_")) and e.is_dir() == directories
        )


def each(files: list[File], read: Callable[[File], _T]) -> list[_T]:
    """``read`` of every file, in order, a few files at a time: pyarrow reads without the
    GIL, and a store of many days is many small files (handed out in runs of up to 8, so that
    handing them out costs less than reading them)."""
    if len(files) < 2:
        return [read(f) for f in files]
    # Objects wait on the network: more requests in flight than cores.
    readers = _READERS if isinstance(files[0].path, Path) else 16
    run = max(1, min(8, len(files) // (4 * readers)))
    runs = [files[i : i + run] for i in range(0, len(files), run)]
    with ThreadPoolExecutor(min(len(runs), readers)) as pool:
        return [out for done in pool.map(lambda r: [read(f) for f in r], runs) for out in done]


def columns_of(file: File, columns: Sequence[str] | None) -> pa.Table:
    """The ``columns`` (default: all) that ``file`` has, as they are stored."""
    wanted = None if columns is None else list(dict.fromkeys(columns))
    try:
        if isinstance(file.path, Path):
            # An open file, not a path: pyarrow then resolves no file system per file.
            with pa.OSFile(str(file.path)) as source:
                table = pq.ParquetFile(source).read(columns=wanted, use_threads=False)
        else:
            data = pa.BufferReader(file.path.read_bytes())
            table = pq.ParquetFile(data).read(columns=wanted, use_threads=False)
    except (OSError, *ARROW_ERRORS) as exc:
        raise DataError(f"cannot read snapshot file {file.path}: {exc}") from exc
    # pyarrow skips names a file lacks, and reads part of a nested column for a dotted name
    # (returned under the column's own name): keep exactly the columns asked for.
    keep = [
        n
        for n in table.column_names
        if n not in PARTITION_SCHEMA.names and (wanted is None or n in wanted)
    ]
    return table if len(keep) == table.num_columns else table.select(keep)


def _with_partitions(
    rows: pa.Table | None, files: list[File], sizes: list[int], *, zone: bool
) -> pa.Table:
    """The files' ``rows`` (file after file, ``sizes`` each) after their partition values:
    ``snapshot_date``, and ``zoneId`` if ``zone``, as a code per row into the zones' names."""
    counts = np.array(sizes, dtype=np.int64)
    days = np.array([(f.day - _EPOCH).days for f in files], dtype=np.int32)
    table = pa.table({}) if rows is None else rows
    dates = pa.array(np.repeat(days, counts)).cast(pa.date32())
    table = table.add_column(0, PARTITION_SCHEMA.field("snapshot_date"), dates)
    if zone:
        names = list(dict.fromkeys(f.zone for f in files))  # in order of appearance
        number = {name: i for i, name in enumerate(names)}
        codes = np.repeat(np.array([number[f.zone] for f in files], dtype=np.int32), counts)
        zones = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names, pa.string()))
        table = table.add_column(1, PARTITION_SCHEMA.field("zoneId"), zones)
    return table


def to_frame(table: pa.Table, columns: Sequence[str] | None) -> pd.DataFrame:
    """Arrow rows of the store as the frame's dtypes, in the frame's column order."""
    present = {name: table.column(name) for name in table.column_names}
    if columns is None:
        extras = [c for c in table.column_names if c not in KNOWN_TYPES and c != "snapshot_date"]
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
        column = present.get(name)
        known = KNOWN_TYPES.get(name)
        if column is None:
            if known is None:
                raise InvalidArgument(f"read_snapshots: no column {name!r} in the snapshots")
            column = pa.chunked_array([pa.nulls(table.num_rows, known)])
            if name == "tags":  # the frame never has NA tags, only empty lists
                column = pc.if_else(pc.is_null(column), pa.scalar([], known), column)
        try:
            column = _as_frame_type(name, column)
        except ARROW_ERRORS as exc:
            raise DataError(
                f"snapshot column {name!r} cannot be read as the frame's: {exc}"
            ) from exc
        arrays.append(column)
    table = pa.Table.from_arrays(arrays, names=order)
    return cast(pd.DataFrame, table.to_pandas(types_mapper=pandas_dtype))


def _as_frame_type(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    if name in CATEGORICAL_COLUMNS:
        return _in_order_of_appearance(column)
    known = KNOWN_TYPES.get(name)
    if known is None:
        return column
    # Parquet names list items "element", the frame "item": Arrow's type equality ignores the
    # name, pandas' dtype repr does not.
    return column.cast(known)


def _in_order_of_appearance(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` as one dictionary whose categories are the values present, in order of
    appearance, as in a fresh frame (each file's dictionary holds its whole frame's)."""
    kind = column.type
    if not (pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type)):
        if pa.types.is_dictionary(kind):
            plain = [decoded_dictionary(c).cast(pa.string()) for c in column.chunks]
            column = pa.chunked_array(plain, pa.string())
        return column.cast(pa.string()).dictionary_encode().cast(CATEGORY_TYPE)
    # Integer work on the codes, never a pass over the strings: the values in order of first
    # appearance (all found in the first rows, usually), then each chunk's codes mapped.
    chunks = column.chunks
    distinct = set().union(*(c.dictionary.to_pylist() for c in chunks)) - {None}
    position: dict[str, int] = {}
    for part in (c.slice(at, 1 << 16) for c in chunks for at in range(0, len(c), 1 << 16)):
        if len(position) == len(distinct):
            break
        for value in part.dictionary.take(pc.unique(part.indices)).to_pylist():
            if value is not None:
                position.setdefault(value, len(position))
    categories = pa.array(list(position), pa.string())
    mappings: dict[tuple[str | None, ...], pa.Array | None] = {}  # a day's files share one

    def renumbered(chunk: pa.DictionaryArray) -> pa.DictionaryArray:
        values = tuple(chunk.dictionary.to_pylist())
        if values not in mappings:
            in_order = values == tuple(position)
            codes = [position.get(v) for v in values]
            mappings[values] = None if in_order else pa.array(codes, pa.int32())
        mapping = mappings[values]
        if mapping is None:  # already the categories, in order
            return chunk.cast(CATEGORY_TYPE)
        return pa.DictionaryArray.from_arrays(pc.take(mapping, chunk.indices), categories)

    return pa.chunked_array([renumbered(c) for c in chunks], CATEGORY_TYPE)
