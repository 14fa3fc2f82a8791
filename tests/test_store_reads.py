"""Store reads: readers take no lock yet never mix two writes of a day; what is read, how.

Rewrites during a read are injected at the exact point they would race (between listing a
day's files and reading them) by wrapping the reader's own steps.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from imgframe.errors import DataError
from imgframe.frame import empty_frame, frame_from_records
from imgframe.history import diff_store, read, read_snapshots, status_trend, write_snapshot

DAY1, DAY2, DAY3 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)
WRITTEN = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
DATE = pd.ArrowDtype(pa.date32())


def snapshot(tag: str, zones: tuple[str, ...], **fields: Any) -> pd.DataFrame:
    records = [
        {"imageId": f"img-{i}", "imageName": tag, "zoneId": zone, **fields}
        for zone in zones
        for i in range(3)
    ]
    return frame_from_records(records, fetched_at=WRITTEN)


def as_stored(df: pd.DataFrame, day: date) -> pd.DataFrame:
    out = df.reset_index(drop=True).copy()
    out.insert(0, "snapshot_date", pd.array([day] * len(out), dtype=DATE))
    out["snapshotAt"] = pd.Series([pd.Timestamp(WRITTEN)] * len(out), dtype="datetime64[us, UTC]")
    return out


def rewrite_during_reads(
    monkeypatch: pytest.MonkeyPatch, store: Path, frames: list[pd.DataFrame], day: date = DAY1
) -> list[str]:
    """After each of the first ``len(frames)`` file reads, write the next frame as ``day``:
    as if a writer replaced the day while the reader was between two of its files."""
    real = read.columns_of
    pending = list(frames)
    reads: list[str] = []
    guard = threading.Lock()  # files are read by several threads: one at a time here

    def columns_of(file: Any, columns: Any) -> pa.Table:
        with guard:
            table = real(file, columns)
            reads.append(file.path.parent.name)
            if pending:
                write_snapshot(pending.pop(0), store, snapshot_date=day, snapshot_at=WRITTEN)
            return table

    monkeypatch.setattr(read, "columns_of", columns_of)
    return reads


# --------------------------------------------------------------------------------------------
# Readers and a writer at the same time


def test_a_day_rewritten_while_it_is_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zones = ("asia-east-1a", "eu-west-1a", "na-west-1a")
    write_snapshot(snapshot("old", zones), tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    new = snapshot("new", zones)
    reads = rewrite_during_reads(monkeypatch, tmp_path, [new])

    got = read_snapshots(tmp_path)

    # The first pass read one zone of the old write and two of the new (the same file
    # names): it was thrown away.
    pd.testing.assert_frame_equal(got, as_stored(new, DAY1))
    assert len(reads) == 2 * len(zones)  # the whole day, twice


def test_a_file_gone_while_it_is_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(snapshot("old", ("asia-east-1a", "eu-west-1a")), tmp_path, snapshot_date=DAY1)
    new = snapshot("new", ("na-west-1a",))  # the zones listed first are gone
    rewrite_during_reads(monkeypatch, tmp_path, [new])

    pd.testing.assert_frame_equal(read_snapshots(tmp_path), as_stored(new, DAY1))
    assert status_trend(tmp_path)["images"].tolist() == [3]


def test_a_store_rewritten_at_every_attempt_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zones = ("asia-east-1a",)
    write_snapshot(snapshot("v0", zones), tmp_path, snapshot_date=DAY1)
    rewrite_during_reads(monkeypatch, tmp_path, [snapshot(f"v{i}", zones) for i in range(1, 9)])

    with pytest.raises(DataError, match=r"rewritten while they were read \(after 5 attempts\)"):
        read_snapshots(tmp_path)


def test_other_days_being_rewritten_do_not_disturb_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = snapshot("first", ("asia-east-1a",))
    write_snapshot(first, tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    write_snapshot(snapshot("x", ("asia-east-1a",)), tmp_path, snapshot_date=DAY2)
    reads = rewrite_during_reads(monkeypatch, tmp_path, [snapshot("y", ("eu-west-1a",))], DAY2)

    pd.testing.assert_frame_equal(read_snapshots(tmp_path, until=DAY1), as_stored(first, DAY1))
    assert reads == ["zoneId=asia-east-1a"]  # read once: the day read was not touched


def test_diff_store_waits_out_a_day_being_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(snapshot("a", ("asia-east-1a",)), tmp_path, snapshot_date=DAY1)
    write_snapshot(snapshot("b", ("asia-east-1a",)), tmp_path, snapshot_date=DAY2)
    real = read._day_dirs
    listings = []

    def day_dirs(root: Path) -> list[Any]:
        days = real(root)
        listings.append(len(days))
        if len(listings) == 2:  # the old day read is between a writer's two moves
            return [d for d in days if d.day != DAY1]
        return days

    monkeypatch.setattr(read, "_day_dirs", day_dirs)
    d = diff_store(tmp_path)

    assert d.summary()["changed"] == 3  # not "3 added": the missing instant was waited out
    assert listings == [2, 2, 2, 2]


# --------------------------------------------------------------------------------------------
# What is read


def test_a_broken_file_is_an_error_naming_it(tmp_path: Path) -> None:
    write_snapshot(snapshot("a", ("asia-east-1a", "na-west-1a")), tmp_path, snapshot_date=DAY1)
    broken = tmp_path / "snapshot_date=2025-06-01/zoneId=na-west-1a/part-0.parquet"
    broken.write_bytes(b"PAR1 not really")

    for call in (
        read_snapshots,
        status_trend,
        lambda store: read_snapshots(store, columns=["imageId"]),
    ):
        with pytest.raises(DataError, match=f"cannot read snapshot file {broken}: "):
            call(tmp_path)


def test_only_the_days_and_zones_asked_for_are_listed_or_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in (DAY1, DAY2, DAY3):
        write_snapshot(snapshot("a", ("asia-east-1a", "na-west-1a")), tmp_path, snapshot_date=day)
    listed: list[str] = []
    real = read._listing

    def listing(directory: Path, *, directories: bool) -> list[Path]:
        listed.append(directory.relative_to(tmp_path).as_posix())
        return real(directory, directories=directories)

    monkeypatch.setattr(read, "_listing", listing)
    read_snapshots(tmp_path, since=DAY2, until=DAY2, zones="na-west-1a", columns=["imageId"])
    assert listed == ["snapshot_date=2025-06-02", "snapshot_date=2025-06-02/zoneId=na-west-1a"]


def test_categories_are_the_values_read_in_order_of_appearance(tmp_path: Path) -> None:
    write_snapshot(
        frame_from_records(
            [
                {"imageId": "a", "zoneId": "na-west-1a", "imageStatus": "FAILED"},
                {"imageId": "b", "zoneId": "na-west-1a", "imageStatus": "AVAILABLE"},
                {"imageId": "c", "zoneId": "asia-east-1a", "imageStatus": "CREATING"},
            ]
        ),
        tmp_path,
        snapshot_date=DAY1,
    )
    write_snapshot(
        frame_from_records(
            [
                {"imageId": "a", "zoneId": "eu-west-1a", "imageStatus": "SYNCING"},
                {"imageId": "b", "zoneId": "eu-west-1a", "imageStatus": None},
            ]
        ),
        tmp_path,
        snapshot_date=DAY2,
    )

    got = read_snapshots(tmp_path, columns=["zoneId", "imageStatus"])
    # Rows come by day, then zone directory: asia-east-1a's image first on day 1.
    assert got["zoneId"].cat.categories.tolist() == ["asia-east-1a", "na-west-1a", "eu-west-1a"]
    assert got["imageStatus"].cat.categories.tolist() == [
        "CREATING",
        "FAILED",
        "AVAILABLE",
        "SYNCING",
    ]
    assert got["imageStatus"].tolist()[-1] is np.nan
    later = read_snapshots(tmp_path, since=DAY2, columns=["imageStatus", "zoneId"])
    assert later.columns.tolist() == ["snapshot_date", "imageStatus", "zoneId"]
    assert later["imageStatus"].cat.categories.tolist() == ["SYNCING"]
    assert later["zoneId"].cat.categories.tolist() == ["eu-west-1a"]


def test_status_trend_of_a_store_equals_that_of_its_frame(tmp_path: Path) -> None:
    days = {
        DAY1: snapshot("a", ("asia-east-1a", "na-west-1a"), imageStatus="AVAILABLE"),
        DAY2: frame_from_records(
            [
                {"imageId": "a", "zoneId": "asia-east-1a", "imageStatus": "NEW_ONE"},
                {"imageId": "b", "zoneId": "asia-east-1a", "imageStatus": None},
                {"imageId": "c", "zoneId": "na-west-1a", "imageStatus": "FAILED"},
            ]
        ),
        DAY3: empty_frame(),
    }
    for day, df in days.items():
        write_snapshot(df, tmp_path, snapshot_date=day)
    # A day written by something that predates imageStatus: all its images count under NA.
    write_snapshot(
        snapshot("old", ("asia-east-1a",)).drop(columns="imageStatus"),
        tmp_path,
        snapshot_date="2025-06-04",
    )

    trend = status_trend(tmp_path)

    assert trend.astype({"snapshot_date": str, "imageStatus": object}).values.tolist() == [
        [d, s, n]
        for d, counts in [
            ("2025-06-01", [6, 0, 0, 0]),
            ("2025-06-02", [0, 1, 1, 1]),
            ("2025-06-03", [0, 0, 0, 0]),
            ("2025-06-04", [0, 0, 0, 3]),
        ]
        for s, n in zip(["AVAILABLE", "FAILED", "NEW_ONE", np.nan], counts, strict=True)
    ]
    frame = read_snapshots(tmp_path)
    pd.testing.assert_frame_equal(
        status_trend(frame), trend[trend["snapshot_date"] != DAY3].reset_index(drop=True)
    )


@pytest.mark.parametrize(
    "dates",
    [
        ["2025-06-02", "2025-06-01", "2025-06-02"],
        [date(2025, 6, 2), date(2025, 6, 1), date(2025, 6, 2)],
        [pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-01"), pd.Timestamp("2025-06-02")],
        pd.array([DAY2, DAY1, DAY2], dtype=DATE),
    ],
    ids=["strings", "dates", "timestamps", "date32"],
)
def test_status_trend_of_a_frame_takes_any_date_dtype(dates: Any) -> None:
    df = pd.DataFrame(
        {
            "snapshot_date": dates,
            "imageStatus": pd.Categorical(["FAILED", "AVAILABLE", None]),
        }
    )
    trend = status_trend(df)
    assert trend.astype({"snapshot_date": str, "imageStatus": object}).values.tolist() == [
        ["2025-06-01", "AVAILABLE", 1],
        ["2025-06-01", "FAILED", 0],
        ["2025-06-01", np.nan, 0],
        ["2025-06-02", "AVAILABLE", 0],
        ["2025-06-02", "FAILED", 1],
        ["2025-06-02", np.nan, 1],
    ]
    assert trend["snapshot_date"].dtype == DATE


def test_categories_found_late_in_a_long_chunk_keep_their_place() -> None:
    codes = np.zeros(200_000, dtype=np.int32)
    codes[150_000] = 2  # "late" first appears here, long after the first slice
    codes[-1] = -1
    first = pa.DictionaryArray.from_arrays(
        pa.array(codes, mask=codes < 0), pa.array(["early", "unused", "late"])
    )
    second = pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int32()), pa.array(["late", "new"]))

    got = read._in_order_of_appearance(pa.chunked_array([first, second]))

    assert got.type == pa.dictionary(pa.int32(), pa.string())
    assert got.chunk(0).dictionary.to_pylist() == ["early", "late", "new"]
    assert got.to_pylist()[149_999:150_001] == ["early", "late"]
    assert got.to_pylist()[-3:] == [None, "new", "late"]
