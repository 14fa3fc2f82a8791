"""The snapshot store in an object store (S3, GCS, Azure): days committed by a manifest.

The layout is the local one plus one commit file per day and the writers' lease::

    s3://bucket/store/
      .imgframe.lock                                the writers' lease (imgframe.history.lease)
      snapshot_date=2025-06-01/
        zoneId=asia-east-1a/part-<run>.parquet
        zoneId=na-west-1a/part-<run>.parquet
      _imgframe/days/
        snapshot_date=2025-06-01/manifest.json      the day's commit, put last

A bucket has no rename, so a day cannot be built aside and moved in. Instead every write of
a day puts its files under names no other write uses (``<run>`` is a time-ordered stamp and a
random part), then the day's ``manifest.json`` listing exactly those files, with a
conditional put: ``If-None-Match: *`` for a new day, ``If-Match: <etag>`` of the manifest read
at the start for a day written again. Only after that are the files of the replaced write
(and any a killed writer left in the day) deleted.

Readers (:func:`~imgframe.history.read_snapshots`, ``diff``, ``status_trend``, the report,
``--from``, and the statements ``imgframe ddl`` prints) read a day through its manifest: a
day without one is not there yet (being written, or left by a killed writer), and a file not
in it is not part of the day. The commits live apart from the days so that Spark, Athena and
Trino, which skip names starting with ``_`` or ``.`` in a listing, can read them too. Files
named by a manifest never change, so a read that found all of a day's files read that commit
exactly; one that misses a file (the day was written again and the old files deleted
meanwhile) reads again.

Writers take the store's lease, and cannot lose data even without it: of two commits of one
day, the second finds the manifest changed and fails with
:class:`~imgframe.storage.WriteConflict` (exit code 75) after deleting its own files.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from .._version import __version__
from ..errors import DataError, ExportError
from ..export.objects import versioned_manifest
from ..storage import Location, WriteConflict, run_concurrently
from .layout import COMMITS_DIR, DAY_MANIFEST, DAY_PREFIX, ZONE_PREFIX, commit_key, day_of
from .lease import writer_lease

__all__ = ["CommittedDay", "committed_days", "object_consistently", "write_object_day"]

_T = TypeVar("_T")
_FORMAT = "imgframe-snapshot-day"
_READ_ATTEMPTS = 5


@dataclass(frozen=True)
class CommittedDay:
    """A day with a commit: its manifest and the manifest's etag (its identity)."""

    day: date
    manifest: Location
    etag: str | None


def committed_days(root: Location) -> list[CommittedDay]:
    """Every committed day of the store, oldest first (one listing of its commits)."""
    commits = root.child(COMMITS_DIR)
    found = []
    for item in commits.walk():
        head, _, tail = item.path.partition("/")
        if head.startswith(DAY_PREFIX) and tail == DAY_MANIFEST:
            found.append(CommittedDay(day_of(head), commits.child(item.path), item.etag))
    return sorted(found, key=lambda d: d.day)


def day_manifest(place: Location) -> tuple[dict[str, Any], str | None]:
    return versioned_manifest(place, _FORMAT, "snapshot")


def object_consistently(
    root: Location,
    first: date | None,
    last: date | None,
    zones: list[str] | None,
    read: Callable[[list[Any]], _T],
    *,
    required: date | None = None,
) -> _T:
    """``read`` over the committed files of the days ``first`` to ``last`` (of ``zones``),
    read again when a writer replaced a day meanwhile (see the module docstring)."""
    from .read import File

    problem = ""
    for attempt in range(_READ_ATTEMPTS):
        if attempt:
            time.sleep(0.05 * attempt)
        days = [
            d
            for d in committed_days(root)
            if (first is None or d.day >= first) and (last is None or d.day <= last)
        ]
        if required is not None and all(d.day != required for d in days):
            problem = f"no snapshot dated {required} in {root} any more"
            continue
        wanted = None if zones is None else set(zones)
        try:
            manifests = run_concurrently(lambda d: day_manifest(d.manifest)[0], days)
            files = [
                File(root.child(f"{DAY_PREFIX}{d.day.isoformat()}", f["path"]), d.day, f["zone"])
                for d, manifest in zip(days, manifests, strict=True)
                for f in manifest["files"]
                if wanted is None or f["zone"] in wanted
            ]
            return read(files)
        except DataError as exc:
            now = {d.day: d.etag for d in committed_days(root)}
            if all(now.get(d.day) == d.etag for d in days):
                raise
            problem = str(exc)
    raise DataError(f"{problem} (after {_READ_ATTEMPTS} attempts)")


def write_object_day(
    root: Location,
    day: date,
    table: pa.Table,
    groups: Any,
    *,
    timeout: float,
) -> list[str]:
    """Write ``table`` (``groups``: row positions per zone) as the day ``day`` and commit
    it; returns the zones written."""
    day_place = root.child(f"{DAY_PREFIX}{day.isoformat()}")
    commit_place = root.child(commit_key(day))
    run = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    parts = [(str(zone), positions.to_numpy()) for zone, positions in groups]

    def upload(item: tuple[str, Any]) -> dict[str, Any]:
        zone, positions = item
        name = f"{ZONE_PREFIX}{zone}/part-{run}.parquet"
        with day_place.child(name).atomic_write() as fh:
            pq.write_table(table.take(pa.array(positions)), fh)
        return {"path": name, "zone": zone, "rows": len(positions)}

    with writer_lease(root, timeout, day):
        old_etag = commit_place.head()
        etag = old_etag.etag if old_etag is not None else None
        try:
            files = run_concurrently(upload, parts)
        except BaseException:
            _remove_run(day_place, run)
            raise
        manifest = {
            "format": _FORMAT,
            "imgframeVersion": __version__,
            "snapshot_date": day.isoformat(),
            "run": run,
            "committedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": table.num_rows,
            "zones": [zone for zone, _ in parts],
            "files": files,
        }
        # One line: Spark and Athena read JSON Lines.
        body = (json.dumps(manifest, separators=(",", ":")) + "\n").encode()
        try:
            commit_place.put(body, mode=etag or "create")
        except WriteConflict:
            _remove_run(day_place, run)
            raise WriteConflict(
                f"cannot write the snapshot of {day} to {root}: another writer committed that "
                "day meanwhile; this run's files were removed (run it again)"
            ) from None
        except BaseException:
            _remove_run(day_place, run)
            raise
        keep = {f["path"] for f in files}
        with contextlib.suppress(ExportError, DataError):  # the commit stands either way
            day_place.delete([o.path for o in day_place.walk() if o.path not in keep])
    return [zone for zone, _ in parts]


def _remove_run(day_place: Location, run: str) -> None:
    """Delete the files a failed write put (best effort: they are in no manifest)."""
    with contextlib.suppress(Exception):
        mine = [o.path for o in day_place.walk() if f"part-{run}." in o.path]
        day_place.delete(mine)


def uncommitted_days(root: Location) -> list[str]:
    """Day prefixes holding files but no commit (left by writers that were killed)."""
    committed = {f"{DAY_PREFIX}{d.day.isoformat()}" for d in committed_days(root)}
    directories, _ = root.list_dir()
    return [d for d in directories if d.startswith(DAY_PREFIX) and d not in committed]
