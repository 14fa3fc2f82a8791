"""Comparing the days of a store: the diff of two days, and images per day and status."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..diff import SnapshotDiff, diff_snapshots
from ..errors import DataError, InvalidArgument
from ..schema import IMAGE_STATUSES
from .layout import DateLike, StorePath, as_date, existing_store
from .read import File, columns_of, consistently, each, list_snapshots, read_table, to_frame

__all__ = ["diff_store", "status_trend"]

#: Images per (date, status); ``None`` is an image without a status.
_Tally = dict[tuple[date, str | None], int]


def diff_store(
    store: StorePath, *, from_date: DateLike | None = None, to_date: DateLike | None = None
) -> SnapshotDiff:
    """Diff two snapshots of a store; by default the last two.

    ``to_date`` defaults to the latest snapshot, ``from_date`` to the one before ``to_date``.
    Both must be dates the store has. Raises :class:`DataError` when the store has fewer
    than two snapshots to compare, or lacks a date asked for.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> from imgframe.history import write_snapshot
    >>> store = tempfile.mkdtemp()
    >>> _ = write_snapshot(frame_from_records([{"imageId": "a"}], zone_id="z"), store,
    ...                    snapshot_date="2025-06-01")
    >>> _ = write_snapshot(frame_from_records([{"imageId": "a"}, {"imageId": "b"}], zone_id="z"),
    ...                    store, snapshot_date="2025-06-02")
    >>> d = diff_store(store)
    >>> (str(d.old_date), str(d.new_date), d.summary()["added"])
    ('2025-06-01', '2025-06-02', 1)
    """
    root = existing_store(store)
    days = list_snapshots(root)
    to_day = as_date(to_date, "to_date") if to_date is not None else None
    from_day = as_date(from_date, "from_date") if from_date is not None else None
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
    old, new = (
        to_frame(read_table(root, day, day, None, None, required=day), None)
        for day in (from_day, to_day)
    )
    return replace(diff_snapshots(old, new), old_date=from_day, new_date=to_day)


def status_trend(store_or_frame: StorePath | pd.DataFrame) -> pd.DataFrame:
    """Images per snapshot date and status, for a trend chart.

    Takes a store or a :func:`~imgframe.history.read_snapshots` frame. One row per (date,
    status) for every date and every status seen on any date (zero where a date has none of
    it); images with no status count under NA. ``imageStatus`` is a categorical in the API's
    documented order (unknown statuses after, sorted). A store is counted in Arrow, file by
    file, from its ``imageStatus`` column alone.

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
        return _trend_frame([], _tally_frame(frame["snapshot_date"], frame["imageStatus"]))
    root = existing_store(store_or_frame)
    dates = list_snapshots(root)  # days without images still get their zeros
    return _trend_frame(dates, consistently(root, None, None, None, _tally_files))


def _tally_files(files: list[File]) -> _Tally:
    """Each file's statuses counted by Arrow as it is read (its date is in its path): only
    the ``imageStatus`` column is read, and only the counts come to Python."""
    tally: _Tally = {}
    for file, counts in zip(files, each(files, _status_counts), strict=True):
        for status, n in zip(
            counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True
        ):
            tally[(file.day, status)] = tally.get((file.day, status), 0) + n
    return tally


def _status_counts(file: File) -> pa.StructArray:
    table = columns_of(file, ["imageStatus"])
    if "imageStatus" not in table.column_names:  # a file without the column: all NA
        return pc.value_counts(pa.nulls(table.num_rows, pa.string()))
    statuses = table["imageStatus"]
    if pa.types.is_dictionary(statuses.type):
        statuses = statuses.unify_dictionaries()
    return cast(pa.StructArray, pc.value_counts(statuses))


def _tally_frame(dates: pd.Series, statuses: pd.Series) -> _Tally:
    """Counted over the codes of each column's distinct values, whatever their dtypes (a
    frame's dates may be dates, strings or timestamps)."""
    day_codes, day_values = pd.factorize(dates)
    status_codes, status_values = pd.factorize(statuses)
    width = len(status_values) + 1  # code 0: no status
    valid = day_codes >= 0
    cells = np.bincount(
        day_codes[valid].astype(np.int64) * width + status_codes[valid] + 1,
        minlength=len(day_values) * width,
    )
    labels = [None, *(None if pd.isna(s) else str(s) for s in status_values)]
    tally: _Tally = {}
    for cell in np.flatnonzero(cells):
        key = (as_date(day_values[int(cell) // width], "snapshot_date"), labels[cell % width])
        tally[key] = tally.get(key, 0) + int(cells[cell])
    return tally


def _trend_frame(dates: list[date], tally: _Tally) -> pd.DataFrame:
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
