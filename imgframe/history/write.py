"""Writing a day of the store: the frame's rows as files, published whole, under the lock.

See :mod:`imgframe.history` for the layout, the two moves that replace a day, and what the
next writer recovers of one killed in the middle.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..diff import check_unique
from ..durable import fsync_directory, replace_directory, write_durably
from ..errors import ExportError, InvalidArgument
from ..schema.arrow import ARROW_ERRORS, CATEGORY_TYPE, STRING, decoded_dictionary, small_offsets
from ..storage import location
from .layout import (
    DAY_PREFIX,
    PART_NAME,
    SNAPSHOT_AT,
    STAGING_PREFIX,
    TRASH_PREFIX,
    ZONE_PREFIX,
    DateLike,
    StorePath,
    as_date,
)
from .lock import DEFAULT_LOCK_TIMEOUT, check_timeout, writer_lock

__all__ = ["SnapshotInfo", "write_snapshot"]

#: Zone ids become directory names: keep them to characters every filesystem and engine takes
#: as-is (no escaping), and never hidden (a leading dot or underscore is skipped by readers).
_SAFE_ZONE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class SnapshotInfo:
    """What :func:`write_snapshot` wrote: the day directory (a :class:`~pathlib.Path`, or
    the URI of the day's prefix in an object store), its date, row count and zones."""

    path: Path | str
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
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> SnapshotInfo:
    """Store ``df`` as the snapshot of one day, replacing that day if it was written before.

    ``snapshot_date`` defaults to the UTC date of the frame's (latest) ``fetchedAt``, or today
    (UTC) for a frame without one; ``snapshot_at`` (default: now) fills ``snapshotAt``. A naive
    ``snapshot_at`` is local time, as everywhere in imgframe. An empty frame is a valid
    snapshot (an inventory with no images): its day directory holds no files.

    Writers of one store take turns (its lock, see :mod:`imgframe.history`): this one
    waits up to ``lock_timeout`` seconds for another to finish (``0``: not at all), and first
    recovers whatever a killed writer left behind.

    Raises :class:`InvalidArgument` for a frame without ``zoneId``/``imageId``, with a missing
    or path-unsafe zone id, or with an image twice; :class:`StoreBusyError` when another
    writer still holds the store after ``lock_timeout``; :class:`ExportError` when the store
    cannot be written (the day as it was before is then intact).

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
    timeout = check_timeout(lock_timeout)
    day = as_date(snapshot_date, "snapshot_date") if snapshot_date is not None else None
    day = day or _default_date(df)
    when = (snapshot_at or datetime.now(UTC)).astimezone(UTC)
    table = _file_table(df, when)
    zone_text = df["zoneId"].astype(STRING)
    groups = pd.Series(np.arange(len(df)), index=zone_text.array).groupby(level=0, sort=True)

    where = location(store)
    day_name = f"{DAY_PREFIX}{day.isoformat()}"
    if not where.is_local:
        from .objects import write_object_day

        try:
            written = write_object_day(where, day, table, groups, timeout=timeout)
        except ARROW_ERRORS as exc:
            raise ExportError(f"cannot write the snapshot of {day} to {where}: {exc}") from exc
        return SnapshotInfo(str(where.child(day_name)), day, len(df), tuple(written))
    root = where.path
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the snapshot store {root}: {exc}") from exc
    if not root.is_dir():
        raise ExportError(f"the snapshot store {root} is not a directory")
    token = uuid.uuid4().hex
    staging, trash = root / f"{STAGING_PREFIX}{token}", root / f"{TRASH_PREFIX}{token}"
    zones: list[str] = []
    with writer_lock(root, timeout, day):
        try:
            _recover(root)
            new_day = staging / day_name
            new_day.mkdir(parents=True)
            for zone, positions in groups:
                zone_dir = new_day / f"{ZONE_PREFIX}{zone}"
                zone_dir.mkdir()
                part = table.take(pa.array(positions.to_numpy()))
                write_durably(zone_dir / PART_NAME, functools.partial(pq.write_table, part))
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
    stamp = pa.array(np.full(table.num_rows, micros, dtype=np.int64)).cast(SNAPSHOT_AT.type)
    return table.append_column(SNAPSHOT_AT, stamp)


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
    """Finish what writers killed mid-write left. Only called with the lock held, so no live
    writer owns a work directory: a day moved aside goes back if its place is still empty
    (its writer died between the two moves); everything else in them is deleted."""
    with os.scandir(root) as entries:
        work = sorted(
            Path(e.path) for e in entries if e.name.startswith((STAGING_PREFIX, TRASH_PREFIX))
        )
    for path in work:
        if path.name.startswith(TRASH_PREFIX) and path.is_dir() and not path.is_symlink():
            for aside in sorted(path.iterdir()):
                live = root / aside.name
                if (
                    aside.name.startswith(DAY_PREFIX)
                    and aside.is_dir()
                    and not (live.exists() or live.is_symlink())
                ):
                    os.rename(aside, live)
                    fsync_directory(root)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
