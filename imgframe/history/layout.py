"""Where things are in a snapshot store, shared by its writer and its readers.

Names of the day and zone directories, of the work directories and the lock file (all hidden
names, see :mod:`imgframe.history`), the types of the stored columns, and the dates and store
paths the public functions take.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import DataError, InvalidArgument
from ..schema import ZONE_JOIN_COLUMNS
from ..schema.arrow import CATEGORY_TYPE, IMAGE_SCHEMA
from ..storage import Location, location

DateLike = date | datetime | str
StorePath = str | os.PathLike[str] | Location

DAY_PREFIX = "snapshot_date="
ZONE_PREFIX = "zoneId="
PART_NAME = "part-0.parquet"
#: The writers' lock (:mod:`imgframe.history.lock`).
LOCK_NAME = ".imgframe.lock"
#: Work directories of a writer: the new day is built in one, the old day moved to the other.
STAGING_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
#: In an object store, the days' commits (see :mod:`imgframe.history.objects`): one
#: ``snapshot_date=YYYY-MM-DD/manifest.json`` per day, in a directory every Parquet reader
#: of the store skips (its name starts with ``_``) yet readable as JSON by every engine
#: (no name below it starts with ``_`` or ``.``, which Spark and Hive would skip).
COMMITS_DIR = "_imgframe/days"
DAY_MANIFEST = "manifest.json"


def commit_key(day: date) -> str:
    """Where the commit of ``day`` is, under the store."""
    return f"{COMMITS_DIR}/{DAY_PREFIX}{day.isoformat()}/{DAY_MANIFEST}"


SNAPSHOT_AT = pa.field("snapshotAt", pa.timestamp("us", tz="UTC"))
#: Partition columns as read: ``zoneId`` a dictionary, so that it costs a code per row.
PARTITION_SCHEMA = pa.schema([("snapshot_date", pa.date32()), ("zoneId", CATEGORY_TYPE)])
#: The type of every column the frame documents, as stored (``zoneId`` lives in the path).
KNOWN_TYPES: dict[str, pa.DataType] = {f.name: f.type for f in IMAGE_SCHEMA} | {
    **{name: pa.string() for name in ZONE_JOIN_COLUMNS},
    "snapshotAt": SNAPSHOT_AT.type,
}


def existing_store(store: StorePath) -> Location:
    """The store's location; :class:`DataError` when there is none (a local path that is
    not a directory, a key prefix holding no object)."""
    root = location(store)
    if not root.is_dir():
        what = "it is not a directory" if root.is_local else "no object under that prefix"
        raise DataError(f"no snapshot store at {root}: {what}")
    return root


def day_of(path: Path | str) -> date:
    name = path.name if isinstance(path, Path) else path.rstrip("/").rpartition("/")[2]
    try:
        return date.fromisoformat(name.removeprefix(DAY_PREFIX))
    except ValueError:
        raise DataError(
            f"not a snapshot day directory (want {DAY_PREFIX}YYYY-MM-DD): {path}"
        ) from None


def as_date(value: Any, name: str) -> date:
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
            return as_date(datetime.fromisoformat(value), name)
        except ValueError:
            pass
    raise InvalidArgument(f"{name}: expected a date, a datetime or YYYY-MM-DD, got {value!r}")
