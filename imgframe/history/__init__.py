"""Inventory history: dated snapshots in a Parquet store, read back, diffed and trended.

A store is a plain hive-partitioned Parquet dataset, one directory per snapshot day and zone::

    store/
      .imgframe.lock                       the writers' lock (see below)
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
and never both. Work directories and the lock file start with a dot and work directories hold
the day one level deeper than live days, so neither pyarrow (which skips dot names), nor Spark,
nor a ``*/*/*.parquet`` glob (DuckDB's glob does not skip dot names) ever reads them.

Writers of one store exclude each other. :func:`write_snapshot` holds an exclusive advisory
lock on ``store/.imgframe.lock`` from before it first looks at the store until its work
directories are gone: ``flock`` where Python has :mod:`fcntl`, ``msvcrt.locking`` on Windows.
The file is created if absent and never deleted (deleting a lock file lets two writers each
lock a different file of the same name). A second writer polls for the lock for up to
``lock_timeout`` seconds (default :data:`DEFAULT_LOCK_TIMEOUT`; ``0`` tries once,
``math.inf`` waits as long as it takes), then raises :class:`~imgframe.errors.StoreBusyError`
naming the store and the holder. The holder is what the lock file says: one line of JSON,
``{"pid": ..., "host": ..., "since": ..., "snapshot_date": ...}`` (``since`` in UTC), written
once the lock is taken and emptied when it is released; nothing else is recorded in it.

The kernel drops the lock of a process however it ends (``kill -9`` included), so a crashed
writer never blocks the next one, and the writer holding the lock knows that every work
directory it finds was left by a writer that is gone. It recovers them before writing: a day
in ``.trash-*`` whose place is empty (the crash came between the two moves) is put back, and
everything else under ``.tmp-*`` and ``.trash-*`` is deleted.

Readers take no lock. A day written again while a reader reads it is read again (each day
directory is checked to be the one listed, after the read), so a reader never mixes the
zones of two writes of a day.

:func:`read_snapshots` gives the frame's columns in the frame's dtypes, after a
``snapshot_date`` column of ``date32[pyarrow]`` (values are :class:`datetime.date`, so
``df[df.snapshot_date == date(2025, 6, 1)]`` works) and followed by ``snapshotAt``. Days and
zones are chosen by their directory names before any file is opened, and only the columns
asked for are read.

:func:`diff_store` compares two days of a store with the diff engine of :mod:`imgframe.diff`;
:func:`status_trend` counts images per day and status (in Arrow, reading only ``imageStatus``).

The package, one concern a module: :mod:`~imgframe.history.layout` (the names on disk),
:mod:`~imgframe.history.lock` (the writers' lock), :mod:`~imgframe.history.write` (a day
written, a crash recovered), :mod:`~imgframe.history.read` (days, files, rows, frames) and
:mod:`~imgframe.history.compare` (diffs and trends across days); in object stores
:mod:`~imgframe.history.objects` (days committed by a manifest) and
:mod:`~imgframe.history.lease` (the writers' lease); :mod:`~imgframe.history.ddl` (the
statements that make the store a warehouse table: :func:`store_ddl`) and
:mod:`~imgframe.history.prune` (retention: :func:`prune_store`).
"""

from __future__ import annotations

from .compare import diff_store, status_trend
from .ddl import store_ddl
from .lock import DEFAULT_LOCK_TIMEOUT
from .prune import PrunedDay, prune_store
from .read import list_snapshots, read_snapshots
from .write import SnapshotInfo, write_snapshot

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "PrunedDay",
    "SnapshotInfo",
    "diff_store",
    "list_snapshots",
    "prune_store",
    "read_snapshots",
    "status_trend",
    "store_ddl",
    "write_snapshot",
]
