"""Retention: :func:`prune_store` removes whole old days from a snapshot store.

A day goes whole or not at all, as readers see it:

- **local**: under the store's lock (writers wait), each old day directory is renamed into
  a hidden work directory (one rename: readers see the day or nothing), then deleted. A
  prune killed in between leaves only that work directory, which the next writer's
  recovery deletes.
- **object store**: under the store's lease, each old day's commit is deleted first (the day
  is gone for every reader that follows the commits: imgframe, and the DuckDB and Spark
  statements of ``imgframe ddl``), then its files. A prune killed in between leaves files
  no commit names, which the next prune deletes.

The newest snapshot is always kept, so a store that has not been written for a while is not
emptied by an age limit.
"""

from __future__ import annotations

import re
import shutil
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..errors import ExportError, InvalidArgument
from ..storage import Location
from .layout import DAY_PREFIX, STAGING_PREFIX, StorePath, commit_key, existing_store
from .lease import writer_lease
from .lock import DEFAULT_LOCK_TIMEOUT, check_timeout, writer_lock
from .read import list_snapshots

__all__ = ["PrunedDay", "parse_keep", "prune_store"]

_KEEP = re.compile(r"^\s*(\d+)\s*(d?)\s*$")


@dataclass(frozen=True)
class PrunedDay:
    """A day removed (or, on a dry run, that would be): its date, files and bytes."""

    snapshot_date: date
    files: int
    bytes: int


def parse_keep(keep: str | int) -> tuple[int, bool]:
    """``"90d"`` -> (90, by age); ``"30"`` or ``30`` -> (30, by count).

    >>> parse_keep("90d"), parse_keep(30)
    ((90, True), (30, False))
    """
    match = _KEEP.match(str(keep))
    if match is None or int(match.group(1)) < 1:
        raise InvalidArgument(
            f"keep must be a number of days (90d: the last 90 days) or of snapshots (30), "
            f"at least 1, not {keep!r}"
        )
    return int(match.group(1)), bool(match.group(2))


def prune_store(
    store: StorePath,
    *,
    keep: str | int,
    dry_run: bool = False,
    today: date | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> list[PrunedDay]:
    """Remove the days of ``store`` that ``keep`` does not keep, oldest first; returns them.

    ``keep`` is ``"90d"`` (the snapshots dated within the last 90 days, counted back from
    ``today``, default today in UTC) or ``30`` (the newest 30 snapshots). The newest snapshot
    is always kept. ``dry_run`` only says what would go.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> from imgframe.history import list_snapshots, write_snapshot
    >>> store = tempfile.mkdtemp()
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="asia-east-1a")
    >>> for day in ("2025-06-01", "2025-06-02", "2025-06-03"):
    ...     _ = write_snapshot(df, store, snapshot_date=day)
    >>> [d.snapshot_date.isoformat() for d in prune_store(store, keep=2)]
    ['2025-06-01']
    >>> [d.isoformat() for d in list_snapshots(store)]
    ['2025-06-02', '2025-06-03']
    """
    count, by_age = parse_keep(keep)
    timeout = check_timeout(lock_timeout)
    root = existing_store(store)
    newest = (list_snapshots(root) or [today or datetime.now(UTC).date()])[-1]
    with _exclusive(root, timeout, newest):
        days = list_snapshots(root)
        if by_age:
            cut = (today or datetime.now(UTC).date()) - timedelta(days=count)
            old = [d for d in days[:-1] if d <= cut]
        else:
            old = days[: max(len(days) - count, 0)]
        pruned = [_size(root, d) for d in old]
        if not dry_run:
            for day in old:
                _remove_day(root, day)
            if not root.is_local:
                _remove_uncommitted(root, days, old)
    return pruned


def _exclusive(root: Location, timeout: float, day: date) -> AbstractContextManager[None]:
    """The store's lock (local) or lease (object store): no writer runs meanwhile."""
    if root.is_local:
        return writer_lock(root.path, timeout, day)
    return writer_lease(root, timeout, day)


def _day_place(root: Location, day: date) -> Location:
    return root.child(f"{DAY_PREFIX}{day.isoformat()}")


def _size(root: Location, day: date) -> PrunedDay:
    items = _day_place(root, day).walk()
    return PrunedDay(day, len(items), sum(i.size for i in items))


def _remove_day(root: Location, day: date) -> None:
    place = _day_place(root, day)
    if root.is_local:
        doomed = root.path / f"{STAGING_PREFIX}prune-{uuid.uuid4().hex}"
        try:
            doomed.mkdir()
            place.path.rename(doomed / place.name)
        except OSError as exc:
            raise ExportError(f"cannot remove the snapshot of {day} from {root}: {exc}") from exc
        shutil.rmtree(doomed, ignore_errors=True)
        return
    root.child(commit_key(day)).delete()  # the day is gone for readers from here on
    place.delete_tree()


def _remove_uncommitted(root: Location, days: list[date], old: list[date]) -> None:
    """Files of days older than every day kept that no commit names: left by a prune or a
    writer that was killed (no writer runs now: the lease is held)."""
    kept = [d for d in days if d not in old]
    if not kept:
        return
    directories, _ = root.list_dir()
    for name in directories:
        if not name.startswith(DAY_PREFIX):
            continue
        try:
            day = date.fromisoformat(name.removeprefix(DAY_PREFIX))
        except ValueError:
            continue
        if day < kept[0] and day not in days:
            root.child(name).delete_tree()
