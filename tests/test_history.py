"""Inventory history: snapshots in a hive-partitioned Parquet store, and diffs between them."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgframe.diff import diff_snapshots
from imgframe.errors import DataError, ExportError, InvalidArgument
from imgframe.frame import empty_frame, frame_from_records, frame_from_tables, join_zones
from imgframe.history import (
    SnapshotInfo,
    diff_store,
    list_snapshots,
    read_snapshots,
    status_trend,
    write_snapshot,
)
from imgframe.schema import IMAGE_FIELDS, ZONE_JOIN_COLUMNS
from imgframe.schema.arrow import TAGS_TYPE

FETCHED = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
WRITTEN = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
DAY1, DAY2, DAY3 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)
STRING = pd.StringDtype("pyarrow")
DATE = pd.ArrowDtype(pa.date32())


def image(image_id: str = "img-1", **fields: Any) -> dict[str, Any]:
    """An API-shaped image with every documented field set."""
    record: dict[str, Any] = {
        "imageId": image_id,
        "imageName": "ubuntu-22.04",
        "imageType": "CUSTOM_IMAGE",
        "imageSource": "CUSTOM",
        "imageSize": "20",
        "minDiskSize": 20,
        "imageDescription": "base image",
        "imageVersion": "22.04",
        "imageStatus": "AVAILABLE",
        "nicNetworkType": ["IPv4"],
        "category": "Ubuntu",
        "osType": "linux",
        "tags": {"tags": [{"key": "env", "value": "prod"}]},
    }
    record.update(fields)
    return record


def frame(*records: dict[str, Any], zone: str = "asia-east-1a", **kw: Any) -> pd.DataFrame:
    kw.setdefault("fetched_at", FETCHED)
    return frame_from_records(records, zone_id=zone, **kw)


def awkward_frame() -> pd.DataFrame:
    """Two zones, nulls, empty lists, unicode and hostile text, an extra column."""
    return frame(
        image("img-1", licence="BYOL"),
        image(
            "img-2",
            imageName='naïve "quoted",\nname; DROP TABLE',
            imageSize=None,
            minDiskSize=None,
            nicNetworkType=[],
            tags=None,
            imageStatus=None,
        ),
        image("img-3", zoneId="na-west-1a", tags={"tags": [{"key": "ключ", "value": None}]}),
        image("img-4", zoneId="na-west-1a", nicNetworkType=None, imageDescription="🚀"),
    )


def as_stored(df: pd.DataFrame, day: date, written: datetime = WRITTEN) -> pd.DataFrame:
    """``df`` as read_snapshots gives it back: ``snapshot_date`` first, ``snapshotAt`` last."""
    out = df.reset_index(drop=True).copy()
    out.insert(0, "snapshot_date", pd.array([day] * len(out), dtype=DATE))
    out["snapshotAt"] = pd.Series([pd.Timestamp(written)] * len(out), dtype="datetime64[us, UTC]")
    return out


def files_of(store: Path) -> list[str]:
    return sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())


def changed(*rows: tuple[str | None, ...], key: tuple[str, ...] = ("zoneId", "imageId")):
    columns = [*key, "field", "old", "new"]
    return pd.DataFrame(
        {c: pd.array([r[i] for r in rows], dtype=STRING) for i, c in enumerate(columns)}
    )


# --------------------------------------------------------------------------------------------
# Writing and the layout


def test_write_snapshot_lays_out_one_file_per_day_and_zone(tmp_path: Path) -> None:
    info = write_snapshot(awkward_frame(), tmp_path, snapshot_at=WRITTEN)

    assert info == SnapshotInfo(
        tmp_path / "snapshot_date=2025-06-01", DAY1, 4, ("asia-east-1a", "na-west-1a")
    )
    assert files_of(tmp_path) == [
        ".imgframe.lock",
        "snapshot_date=2025-06-01/zoneId=asia-east-1a/part-0.parquet",
        "snapshot_date=2025-06-01/zoneId=na-west-1a/part-0.parquet",
    ]


def test_snapshot_round_trips_every_column_and_dtype(tmp_path: Path) -> None:
    df = awkward_frame()
    zones = pd.DataFrame(
        {
            "zoneId": ["asia-east-1a", "na-west-1a"],
            "regionId": ["asia-east-1", "na-west-1"],
            "zoneName": ["Hong Kong A", "Los Angeles A"],
            "cityName": ["Hong Kong", "Los Angeles"],
            "countryCode": ["HK", "US"],
        }
    ).astype(STRING)
    df = join_zones(df, zones)
    write_snapshot(df, tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)

    pd.testing.assert_frame_equal(read_snapshots(tmp_path), as_stored(df, DAY1))


def test_files_keep_arrow_types_and_leave_zone_to_the_path(tmp_path: Path) -> None:
    write_snapshot(awkward_frame(), tmp_path, snapshot_at=WRITTEN)

    schema = pq.read_schema(tmp_path / "snapshot_date=2025-06-01/zoneId=na-west-1a/part-0.parquet")
    assert "zoneId" not in schema.names
    assert schema.field("tags").type == TAGS_TYPE
    assert schema.field("nicNetworkType").type == pa.list_(pa.string())
    assert schema.field("imageSize").type == pa.int64()
    assert schema.field("imageStatus").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("fetchedAt").type == pa.timestamp("us", tz="UTC")
    assert schema.field("snapshotAt").type == pa.timestamp("us", tz="UTC")
    assert schema.names[-2:] == ["fetchedAt", "snapshotAt"]


def test_same_day_twice_replaces_the_day(tmp_path: Path) -> None:
    write_snapshot(awkward_frame(), tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    again = frame(image("img-1", imageName="renamed"), image("img-9"))
    later = datetime(2025, 6, 1, 18, tzinfo=UTC)

    info = write_snapshot(again, tmp_path, snapshot_date=DAY1, snapshot_at=later)
    write_snapshot(again, tmp_path, snapshot_date=DAY1, snapshot_at=later)

    assert info.rows == 2
    assert files_of(tmp_path) == [
        ".imgframe.lock",
        "snapshot_date=2025-06-01/zoneId=asia-east-1a/part-0.parquet",
    ]
    pd.testing.assert_frame_equal(read_snapshots(tmp_path), as_stored(again, DAY1, later))


def test_other_days_are_untouched_by_a_rewrite(tmp_path: Path) -> None:
    first = frame(image("img-1"))
    write_snapshot(first, tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    write_snapshot(first, tmp_path, snapshot_date=DAY2, snapshot_at=WRITTEN)
    write_snapshot(frame(image("img-2")), tmp_path, snapshot_date=DAY2, snapshot_at=WRITTEN)

    assert read_snapshots(tmp_path, until=DAY1)["imageId"].tolist() == ["img-1"]
    assert read_snapshots(tmp_path, since=DAY2)["imageId"].tolist() == ["img-2"]


@pytest.mark.parametrize(
    ("fetched_at", "expected"),
    [
        (datetime(2025, 6, 1, 23, 59, tzinfo=UTC), date(2025, 6, 1)),
        # 20:30 in New York on June 1st is June 2nd in UTC
        (datetime.fromisoformat("2025-06-01T20:30:00-04:00"), date(2025, 6, 2)),
    ],
)
def test_default_snapshot_date_is_the_utc_date_of_fetched_at(
    tmp_path: Path, fetched_at: datetime, expected: date
) -> None:
    info = write_snapshot(frame(image(), fetched_at=fetched_at), tmp_path)
    assert info.snapshot_date == expected
    assert list_snapshots(tmp_path) == [expected]


def test_frame_without_fetched_at_is_dated_today(tmp_path: Path) -> None:
    before = datetime.now(UTC).date()
    info = write_snapshot(frame(image()).drop(columns="fetchedAt"), tmp_path)
    assert before <= info.snapshot_date <= datetime.now(UTC).date()


def test_snapshot_at_defaults_to_now(tmp_path: Path) -> None:
    before = pd.Timestamp.now(tz="UTC")
    write_snapshot(frame(image()), tmp_path)
    stamp = read_snapshots(tmp_path)["snapshotAt"].iloc[0]
    assert before.floor("us") <= stamp <= pd.Timestamp.now(tz="UTC")


def test_empty_frame_is_a_snapshot_of_nothing(tmp_path: Path) -> None:
    write_snapshot(frame(image()), tmp_path, snapshot_date=DAY1)
    info = write_snapshot(empty_frame(fetched_at=FETCHED), tmp_path, snapshot_date=DAY2)

    assert (info.rows, info.zones) == (0, ())
    assert info.path.is_dir()
    assert list_snapshots(tmp_path) == [DAY1, DAY2]
    assert len(read_snapshots(tmp_path, since=DAY2)) == 0
    assert diff_store(tmp_path).summary()["removed"] == 1


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (frame(image()).drop(columns="zoneId"), "no zoneId column"),
        (frame(image()).drop(columns="imageId"), "no imageId column"),
        (frame(image(), zone="../etc"), "cannot be a directory name"),
        (frame(image(), zone=".hidden"), "cannot be a directory name"),
        (frame(image("img-1"), image("img-1")), "more than once"),
    ],
    ids=["no-zone", "no-image-id", "path-zone", "hidden-zone", "duplicate"],
)
def test_write_snapshot_rejects_frames_it_cannot_store(
    tmp_path: Path, df: pd.DataFrame, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        write_snapshot(df, tmp_path / "store")
    assert not (tmp_path / "store").exists() or files_of(tmp_path / "store") == []


def test_write_snapshot_rejects_rows_without_zone(tmp_path: Path) -> None:
    df = frame(image())
    df["zoneId"] = pd.Categorical([None], categories=["asia-east-1a"])
    with pytest.raises(InvalidArgument, match="no zoneId"):
        write_snapshot(df, tmp_path)


def test_store_that_is_a_file_is_an_export_error(tmp_path: Path) -> None:
    target = tmp_path / "store"
    target.write_text("not a directory")
    with pytest.raises(ExportError, match="store"):
        write_snapshot(frame(image()), target)


# --------------------------------------------------------------------------------------------
# Reading, by imgframe and by other engines


def write_three_days(store: Path) -> dict[date, pd.DataFrame]:
    days = {
        DAY1: frame(image("img-1"), image("img-2", zoneId="na-west-1a")),
        DAY2: frame(image("img-1"), image("img-3", zoneId="na-west-1a")),
        DAY3: frame(image("img-1", imageStatus="FAILED"), image("img-4", imageStatus="FAILED")),
    }
    for day, df in days.items():
        write_snapshot(df, store, snapshot_date=day, snapshot_at=WRITTEN)
    return days


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, [DAY1, DAY1, DAY2, DAY2, DAY3, DAY3]),
        (DAY2, None, [DAY2, DAY2, DAY3, DAY3]),
        (None, "2025-06-02", [DAY1, DAY1, DAY2, DAY2]),
        ("2025-06-02", "2025-06-02", [DAY2, DAY2]),
        (
            datetime(2025, 6, 2, 23, 59),
            datetime(2025, 6, 3, 0, 1, tzinfo=UTC),
            [DAY2] * 2 + [DAY3] * 2,
        ),
        ("2025-06-04", None, []),
    ],
)
def test_read_snapshots_takes_an_inclusive_date_range(
    tmp_path: Path, since: Any, until: Any, expected: list[date]
) -> None:
    write_three_days(tmp_path)
    got = read_snapshots(tmp_path, since=since, until=until)
    assert got["snapshot_date"].tolist() == expected
    assert got["snapshot_date"].dtype == DATE


def test_read_snapshots_returns_rows_by_date_then_zone(tmp_path: Path) -> None:
    days = write_three_days(tmp_path)
    expected = pd.concat([as_stored(days[d], d) for d in (DAY2, DAY3)], ignore_index=True)
    expected["zoneId"] = expected["zoneId"].astype(str).astype("category")
    expected["imageStatus"] = pd.Categorical(
        expected["imageStatus"].astype(str), categories=["AVAILABLE", "FAILED"]
    )
    got = read_snapshots(tmp_path, since=DAY2)
    pd.testing.assert_frame_equal(got, expected)


def test_read_snapshots_never_opens_files_outside_the_range(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    broken = tmp_path / "snapshot_date=2025-06-01/zoneId=asia-east-1a/part-0.parquet"
    broken.write_bytes(b"not parquet")

    assert read_snapshots(tmp_path, since=DAY2)["imageId"].tolist() == [
        "img-1", "img-3", "img-1", "img-4",
    ]  # fmt: skip
    assert read_snapshots(tmp_path, zones=["na-west-1a"])["imageId"].tolist() == [
        "img-2", "img-3",
    ]  # fmt: skip
    with pytest.raises(DataError, match="snapshot_date=2025-06-01/zoneId=asia-east-1a"):
        read_snapshots(tmp_path, until=DAY1)


def test_read_snapshots_filters_zones(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    got = read_snapshots(tmp_path, zones="na-west-1a")
    assert got[["snapshot_date", "imageId"]].astype(str).values.tolist() == [
        ["2025-06-01", "img-2"],
        ["2025-06-02", "img-3"],
    ]
    assert got["zoneId"].cat.categories.tolist() == ["na-west-1a"]


def test_empty_range_gives_an_empty_frame_with_the_schema(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    got = read_snapshots(tmp_path, since="2030-01-01")
    # The snapshots were written without zone columns, so the empty range has none either.
    pd.testing.assert_frame_equal(
        got, as_stored(empty_frame().drop(columns=list(ZONE_JOIN_COLUMNS)), DAY1)
    )


def test_read_snapshots_selects_columns(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    got = read_snapshots(tmp_path, since=DAY3, columns=["imageId", "imageStatus"])
    expected = pd.DataFrame(
        {
            "snapshot_date": pd.array([DAY3, DAY3], dtype=DATE),
            "imageId": pd.array(["img-1", "img-4"], dtype=STRING),
            "imageStatus": pd.Categorical(["FAILED", "FAILED"]),
        }
    )
    expected["imageStatus"] = expected["imageStatus"].cat.set_categories(
        pd.Index(["FAILED"], dtype="str")
    )
    pd.testing.assert_frame_equal(got, expected)


def test_snapshots_with_different_extra_columns_read_together(tmp_path: Path) -> None:
    write_snapshot(frame(image("img-1")), tmp_path, snapshot_date=DAY1)
    write_snapshot(frame(image("img-1", licence="BYOL")), tmp_path, snapshot_date=DAY2)

    got = read_snapshots(tmp_path)
    assert got.columns[-3:].tolist() == ["licence", "fetchedAt", "snapshotAt"]
    assert got["licence"].tolist() == [pd.NA, "BYOL"]
    assert got["licence"].dtype == STRING


def test_frame_columns_missing_from_a_snapshot_come_back_as_na(tmp_path: Path) -> None:
    write_snapshot(frame(image()).drop(columns=["imageVersion", "tags"]), tmp_path)
    got = read_snapshots(tmp_path)
    assert got["imageVersion"].tolist() == [pd.NA]
    assert got["tags"].tolist() == [[]]  # as in the frame: no tags is an empty list
    assert got.dtypes["tags"] == pd.ArrowDtype(TAGS_TYPE)


def test_pyarrow_dataset_reads_the_store_with_hive_partitioning(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()

    assert table.num_rows == 6
    assert table.schema.field("tags").type == TAGS_TYPE
    assert table.schema.field("snapshotAt").type == pa.timestamp("us", tz="UTC")
    counts = table.group_by(["snapshot_date", "zoneId"]).aggregate([([], "count_all")])
    assert sorted(counts.to_pylist(), key=lambda r: (r["snapshot_date"], r["zoneId"])) == [
        {"snapshot_date": "2025-06-01", "zoneId": "asia-east-1a", "count_all": 1},
        {"snapshot_date": "2025-06-01", "zoneId": "na-west-1a", "count_all": 1},
        {"snapshot_date": "2025-06-02", "zoneId": "asia-east-1a", "count_all": 1},
        {"snapshot_date": "2025-06-02", "zoneId": "na-west-1a", "count_all": 1},
        {"snapshot_date": "2025-06-03", "zoneId": "asia-east-1a", "count_all": 2},
    ]


def test_work_directories_are_invisible_to_readers(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    for work in (".tmp-abc", ".trash-abc"):
        leftover = tmp_path / work / "snapshot_date=2025-06-09/zoneId=asia-east-1a"
        leftover.mkdir(parents=True)
        (leftover / "part-0.parquet").write_bytes(b"half written")

    assert ds.dataset(tmp_path, format="parquet", partitioning="hive").count_rows() == 6
    assert list_snapshots(tmp_path) == [DAY1, DAY2, DAY3]
    assert len(read_snapshots(tmp_path)) == 6


def test_duckdb_reads_the_store(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    write_three_days(tmp_path)
    leftover = tmp_path / ".tmp-abc" / "snapshot_date=2025-06-09/zoneId=asia-east-1a"
    leftover.mkdir(parents=True)
    (leftover / "part-0.parquet").write_bytes(b"half written")

    con = duckdb.connect()
    try:
        # The query of the module docstring.
        rows = con.sql(
            f"""SELECT snapshot_date, imageStatus, count(*) AS images
            FROM read_parquet('{tmp_path.as_posix()}/*/*/*.parquet',
                              hive_partitioning = true, union_by_name = true)
            GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
        one = con.sql(
            f"""SELECT zoneId, imageSize, nicNetworkType, tags, snapshotAt
            FROM read_parquet('{tmp_path.as_posix()}/*/*/*.parquet', hive_partitioning = true)
            WHERE snapshot_date = DATE '2025-06-01' AND imageId = 'img-2'"""
        ).fetchall()
    finally:
        con.close()
    assert rows == [(DAY1, "AVAILABLE", 2), (DAY2, "AVAILABLE", 2), (DAY3, "FAILED", 2)]
    assert one == [("na-west-1a", 20, ["IPv4"], [{"key": "env", "value": "prod"}], WRITTEN)]


def test_missing_store_is_a_data_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    for call in (read_snapshots, list_snapshots, diff_store, status_trend):
        with pytest.raises(DataError, match="nowhere"):
            call(missing)


def test_list_snapshots_is_sorted_and_skips_other_entries(tmp_path: Path) -> None:
    for day in (DAY3, DAY1, DAY2):
        write_snapshot(frame(image()), tmp_path, snapshot_date=day)
    (tmp_path / "README.txt").write_text("notes")
    (tmp_path / ".tmp-x").mkdir()
    assert list_snapshots(tmp_path) == [DAY1, DAY2, DAY3]


def test_malformed_day_directory_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "snapshot_date=yesterday").mkdir()
    with pytest.raises(DataError, match="snapshot_date=yesterday"):
        list_snapshots(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": DAY2, "until": DAY1}, "after until"),
        ({"since": "June 1st"}, "since"),
        ({"until": 20250601}, "until"),
    ],
)
def test_bad_read_arguments_are_invalid(tmp_path: Path, kwargs: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        read_snapshots(tmp_path, **kwargs)


# --------------------------------------------------------------------------------------------
# Crash safety


def test_failure_publishing_a_day_keeps_the_old_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = awkward_frame()
    write_snapshot(old, tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(src).parent.name.startswith(".tmp-"):  # moving the new day into place
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(ExportError, match="No space left"):
        write_snapshot(frame(image("img-9")), tmp_path, snapshot_date=DAY1)

    pd.testing.assert_frame_equal(read_snapshots(tmp_path), as_stored(old, DAY1))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".imgframe.lock",
        "snapshot_date=2025-06-01",
    ]


def test_failure_writing_a_zone_keeps_the_old_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = awkward_frame()
    write_snapshot(old, tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    real_write = pq.write_table
    calls = []

    def write_table(table: pa.Table, where: Any, **kw: Any) -> None:
        calls.append(where)
        if len(calls) == 2:  # the second zone of the new day
            raise OSError(5, "Input/output error")
        real_write(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", write_table)
    with pytest.raises(ExportError, match="Input/output error"):
        write_snapshot(awkward_frame().iloc[::-1], tmp_path, snapshot_date=DAY1)

    pd.testing.assert_frame_equal(read_snapshots(tmp_path), as_stored(old, DAY1))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".imgframe.lock",
        "snapshot_date=2025-06-01",
    ]


def test_writer_killed_between_the_two_moves_is_recovered(tmp_path: Path) -> None:
    old = awkward_frame()
    write_snapshot(old, tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    write_snapshot(frame(image()), tmp_path, snapshot_date=DAY2, snapshot_at=WRITTEN)
    # What a kill -9 leaves: the old day moved aside, the new day half written.
    (tmp_path / ".trash-dead").mkdir()
    os.rename(
        tmp_path / "snapshot_date=2025-06-01", tmp_path / ".trash-dead/snapshot_date=2025-06-01"
    )
    half = tmp_path / ".tmp-dead/snapshot_date=2025-06-01/zoneId=asia-east-1a"
    half.mkdir(parents=True)
    (half / "part-0.parquet").write_bytes(b"PAR1 truncat")

    # Readers see whole days only: the interrupted day is absent, never half there.
    assert list_snapshots(tmp_path) == [DAY2]
    assert read_snapshots(tmp_path)["snapshot_date"].tolist() == [DAY2]

    write_snapshot(frame(image()), tmp_path, snapshot_date=DAY3, snapshot_at=WRITTEN)

    assert list_snapshots(tmp_path) == [DAY1, DAY2, DAY3]
    pd.testing.assert_frame_equal(read_snapshots(tmp_path, until=DAY1), as_stored(old, DAY1))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [".imgframe.lock"]


# --------------------------------------------------------------------------------------------
# Diffs


def test_diff_finds_added_and_removed_images() -> None:
    old = frame(image("img-1"), image("img-2"), image("img-3", zoneId="na-west-1a"))
    new = frame(image("img-4"), image("img-2"), image("img-1", zoneId="na-west-1a"))

    d = diff_snapshots(old, new)

    pd.testing.assert_frame_equal(d.added, new.iloc[[0, 2]].reset_index(drop=True))
    pd.testing.assert_frame_equal(d.removed, old.iloc[[0, 2]].reset_index(drop=True))
    pd.testing.assert_frame_equal(d.changed, changed())
    assert d.summary() == {
        "added": 2, "removed": 2, "changed": 0, "unchanged": 1, "changed_fields": 0,
    }  # fmt: skip


#: (field, value in the old image, value in the new image, old text, new text)
FIELD_CHANGES = [
    ("imageName", "ubuntu", "ubuntu-2", "ubuntu", "ubuntu-2"),
    ("imageType", "CUSTOM_IMAGE", "PUBLIC_IMAGE", "CUSTOM_IMAGE", "PUBLIC_IMAGE"),
    ("imageSource", "CUSTOM", "OFFICIAL", "CUSTOM", "OFFICIAL"),
    ("imageSize", "20", "40", "20", "40"),
    ("minDiskSize", 20, 40, "20", "40"),
    ("imageDescription", "base", 'naïve "quoted"\n', "base", 'naïve "quoted"\n'),
    ("imageVersion", "22.04", "24.04", "22.04", "24.04"),
    ("imageStatus", "CREATING", "AVAILABLE", "CREATING", "AVAILABLE"),
    ("nicNetworkType", ["IPv4"], ["IPv4", "IPv6"], '["IPv4"]', '["IPv4", "IPv6"]'),
    ("category", "Ubuntu", "Debian", "Ubuntu", "Debian"),
    ("osType", "linux", "windows", "linux", "windows"),
    (
        "tags",
        {"tags": [{"key": "env", "value": "prod"}]},
        {"tags": [{"key": "env", "value": "dev"}]},
        '[{"key": "env", "value": "prod"}]',
        '[{"key": "env", "value": "dev"}]',
    ),
    ("licence", "BYOL", "PAYG", "BYOL", "PAYG"),  # a field the API added later
]


def test_field_cases_cover_every_image_field() -> None:
    assert {case[0] for case in FIELD_CHANGES} >= set(IMAGE_FIELDS) - {"imageId"}


@pytest.mark.parametrize(
    ("field", "before", "after", "old_text", "new_text"),
    FIELD_CHANGES,
    ids=[case[0] for case in FIELD_CHANGES],
)
def test_diff_reports_each_changed_field(
    field: str, before: Any, after: Any, old_text: str, new_text: str
) -> None:
    old = frame(image("img-1", **{field: before}), image("img-2"))
    new = frame(image("img-1", **{field: after}), image("img-2"))

    d = diff_snapshots(old, new)

    pd.testing.assert_frame_equal(
        d.changed, changed(("asia-east-1a", "img-1", field, old_text, new_text))
    )
    assert d.summary()["unchanged"] == 1
    assert d.by_field().to_dict() == {field: 1}


def test_diff_reports_changed_zone_columns() -> None:
    def zones(region: str) -> pd.DataFrame:
        return pd.DataFrame({"zoneId": ["asia-east-1a"], "regionId": [region]}).astype(STRING)

    old = join_zones(frame(image()), zones("asia-east-1"))
    new = join_zones(frame(image()), zones("asia-east-2"))
    pd.testing.assert_frame_equal(
        diff_snapshots(old, new).changed,
        changed(("asia-east-1a", "img-1", "regionId", "asia-east-1", "asia-east-2")),
    )


def test_diff_lists_every_changed_field_of_an_image_in_column_order() -> None:
    old = frame(image("img-1"), image("img-2"))
    new = frame(image("img-2", imageStatus="FAILED", imageName="x"), image("img-1", osType="any"))
    pd.testing.assert_frame_equal(
        diff_snapshots(old, new).changed,
        changed(
            ("asia-east-1a", "img-2", "imageName", "ubuntu-22.04", "x"),
            ("asia-east-1a", "img-2", "imageStatus", "AVAILABLE", "FAILED"),
            ("asia-east-1a", "img-1", "osType", "linux", "any"),
        ),
    )


@pytest.mark.parametrize(
    ("field", "before", "after"),
    [
        (
            "tags",
            {"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "core"}]},
            {"tags": [{"key": "team", "value": "core"}, {"key": "env", "value": "prod"}]},
        ),
        ("tags", None, {"tags": []}),
        (
            "tags",
            {"tags": [{"key": "env", "value": "prod"}]},
            {"tags": [{"key": "env", "value": "prod"}, {"key": "env", "value": "prod"}]},
        ),
        ("nicNetworkType", ["IPv4", "IPv6"], ["IPv6", "IPv4"]),
        ("nicNetworkType", ["IPv4"], ["IPv4", "IPv4"]),
        ("nicNetworkType", None, None),
        ("imageName", None, None),
        ("imageSize", None, "not a size"),  # both unreadable: NA and NA
    ],
    ids=[
        "tags-reordered",
        "tags-null-is-empty",
        "tags-repeated",
        "nic-reordered",
        "nic-repeated",
        "nic-na-na",
        "name-na-na",
        "size-na-na",
    ],
)
@pytest.mark.filterwarnings("ignore::imgframe.errors.DataQualityWarning")
def test_diff_compares_values_not_order(field: str, before: Any, after: Any) -> None:
    old = frame(image(**{field: before}))
    new = frame(image(**{field: after}))
    assert diff_snapshots(old, new).summary()["changed"] == 0


@pytest.mark.parametrize(
    ("field", "before", "after", "old_text", "new_text"),
    [
        ("imageName", None, "ubuntu", None, "ubuntu"),
        ("imageName", "ubuntu", None, "ubuntu", None),
        ("imageSize", None, "20", None, "20"),
        ("minDiskSize", 20, None, "20", None),
        ("imageStatus", None, "AVAILABLE", None, "AVAILABLE"),
        ("nicNetworkType", None, [], None, "[]"),
        ("nicNetworkType", ["IPv4"], None, '["IPv4"]', None),
        (
            "tags",
            {"tags": [{"key": "k", "value": None}]},
            None,
            '[{"key": "k", "value": null}]',
            "[]",
        ),
    ],
)
def test_diff_counts_na_against_a_value_as_a_change(
    field: str, before: Any, after: Any, old_text: str | None, new_text: str | None
) -> None:
    d = diff_snapshots(frame(image(**{field: before})), frame(image(**{field: after})))
    pd.testing.assert_frame_equal(
        d.changed, changed(("asia-east-1a", "img-1", field, old_text, new_text))
    )


def test_diff_ignores_fetch_and_snapshot_times(tmp_path: Path) -> None:
    df = frame(image("img-1"), image("img-2"))
    write_snapshot(df, tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN)
    refetched = frame(image("img-1"), image("img-2"), fetched_at=datetime(2025, 6, 2, tzinfo=UTC))
    write_snapshot(refetched, tmp_path, snapshot_date=DAY2)

    d = diff_store(tmp_path)
    assert d.summary() == {
        "added": 0, "removed": 0, "changed": 0, "unchanged": 2, "changed_fields": 0,
    }  # fmt: skip


def test_diff_of_frames_with_different_extra_columns() -> None:
    # The old snapshot predates the field; the new one has it on one image of three.
    old = frame(image("img-1"), image("img-2"), image("img-3"))
    new = frame(image("img-1", licence="BYOL"), image("img-2"), image("img-3", licence=None))
    assert "licence" not in old
    assert new["licence"].isna().tolist() == [False, True, True]

    d = diff_snapshots(old, new)

    pd.testing.assert_frame_equal(
        d.changed, changed(("asia-east-1a", "img-1", "licence", None, "BYOL"))
    )
    reverse = diff_snapshots(new, old)
    pd.testing.assert_frame_equal(
        reverse.changed, changed(("asia-east-1a", "img-1", "licence", "BYOL", None))
    )


def test_diff_of_a_column_with_different_types_on_each_side() -> None:
    old = frame(image("img-1", build=7), image("img-2", build=8))
    new = frame(image("img-1", build="7"), image("img-2", build="8b"))
    pd.testing.assert_frame_equal(
        diff_snapshots(old, new).changed, changed(("asia-east-1a", "img-2", "build", "8", "8b"))
    )


def test_diff_matches_categorical_keys_by_value() -> None:
    old = frame(image("img-1"), image("img-2", zoneId="na-west-1a"))
    new = frame(image("img-2", zoneId="na-west-1a"), image("img-1", imageName="x"))
    assert old["zoneId"].cat.categories.tolist() != new["zoneId"].cat.categories.tolist()
    d = diff_snapshots(old, new)
    assert (len(d.added), len(d.removed), d.changed["imageId"].tolist()) == (0, 0, ["img-1"])


def test_diff_limited_to_some_fields() -> None:
    old = frame(image(imageName="a", imageStatus="CREATING"))
    new = frame(image(imageName="b", imageStatus="AVAILABLE"))
    d = diff_snapshots(old, new, fields=["imageStatus"])
    assert d.changed["field"].tolist() == ["imageStatus"]


def test_diff_with_another_key() -> None:
    old = frame(image("img-1", imageName="ubuntu"))
    new = frame(image("img-1", imageName="ubuntu", zoneId="na-west-1a"))
    d = diff_snapshots(old, new, key=["imageName"])
    pd.testing.assert_frame_equal(
        d.changed,
        changed(("ubuntu", "zoneId", "asia-east-1a", "na-west-1a"), key=("imageName",)),
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"key": ["imageId", "nope"]}, InvalidArgument, "no key column"),
        ({"key": []}, InvalidArgument, "at least one"),
        ({"fields": ["nope"]}, InvalidArgument, "neither frame"),
        ({"fields": ["imageId"]}, InvalidArgument, "key columns"),
        ({"key": ["imageName"]}, DataError, "more than once"),
    ],
)
def test_bad_diff_arguments(kwargs: Any, error: type[Exception], message: str) -> None:
    df = frame(image("img-1"), image("img-2"))
    with pytest.raises(error, match=message):
        diff_snapshots(df, df, **kwargs)


@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations(range(5)),
    tag_order=st.permutations(range(3)),
    names=st.lists(st.text(max_size=4) | st.none(), min_size=5, max_size=5),
)
def test_diff_of_a_reshuffled_snapshot_is_empty(
    order: list[int], tag_order: list[int], names: list[str | None]
) -> None:
    tags = [{"key": k, "value": v} for k, v in [("a", "1"), ("b", None), ("a", "2")]]
    records = [
        image(f"img-{i}", imageName=names[i], tags={"tags": tags}, nicNetworkType=["x", "y"])
        for i in range(5)
    ]
    shuffled = [
        records[i] | {"tags": {"tags": [tags[t] for t in tag_order]}, "nicNetworkType": ["y", "x"]}
        for i in order
    ]
    d = diff_snapshots(frame(*records), frame(*shuffled))
    assert d.summary() == {
        "added": 0, "removed": 0, "changed": 0, "unchanged": 5, "changed_fields": 0,
    }  # fmt: skip


def test_diff_store_compares_the_last_two_snapshots_by_default(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    d = diff_store(tmp_path)
    assert (d.old_date, d.new_date) == (DAY2, DAY3)
    assert d.added["imageId"].tolist() == ["img-4"]
    assert d.removed["imageId"].tolist() == ["img-3"]
    pd.testing.assert_frame_equal(
        d.changed, changed(("asia-east-1a", "img-1", "imageStatus", "AVAILABLE", "FAILED"))
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"from_date": "2025-06-01", "to_date": "2025-06-03"}, (DAY1, DAY3)),
        ({"to_date": DAY2}, (DAY1, DAY2)),
        ({"from_date": DAY1}, (DAY1, DAY3)),
    ],
)
def test_diff_store_between_chosen_dates(
    tmp_path: Path, kwargs: Any, expected: tuple[date, date]
) -> None:
    write_three_days(tmp_path)
    d = diff_store(tmp_path, **kwargs)
    assert (d.old_date, d.new_date) == expected


def test_diff_store_needs_two_snapshots(tmp_path: Path) -> None:
    write_snapshot(frame(image()), tmp_path, snapshot_date=DAY1)
    with pytest.raises(DataError, match=r"needs two snapshots.*has 1 \(2025-06-01\)"):
        diff_store(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"to_date": "2025-06-09"}, "no snapshot dated 2025-06-09"),
        ({"to_date": DAY1}, "before 2025-06-01"),
    ],
)
def test_diff_store_dates_must_exist(tmp_path: Path, kwargs: Any, message: str) -> None:
    write_three_days(tmp_path)
    with pytest.raises(DataError, match=message):
        diff_store(tmp_path, **kwargs)


@pytest.mark.slow
def test_diff_of_100k_images_is_vectorised() -> None:
    n = 100_000
    ids = np.array([f"img-{i:07d}" for i in range(n + 1_000)], dtype=object)
    statuses = np.array(["AVAILABLE", "CREATING", "FAILED"], dtype=object)

    def snapshot(start: int, status_shift: int, reverse_nics: bool) -> pd.DataFrame:
        rows = np.arange(start, start + n)
        nic = [["IPv6", "IPv4"] if reverse_nics and i % 7 == 0 else ["IPv4", "IPv6"] for i in rows]
        tags = [
            [{"key": "env", "value": "prod"}, {"key": "team", "value": f"t{i % 20}"}] for i in rows
        ]
        table = pa.table(
            {
                "imageId": pa.array(ids[rows]),
                "imageName": pa.array([f"name {i}" for i in rows]),
                "imageSize": pa.array([str(20 + i % 50) for i in rows]),
                "imageStatus": pa.array(statuses[(rows + status_shift * (rows % 100 == 0)) % 3]),
                "nicNetworkType": pa.array(nic, pa.list_(pa.string())),
                "tags": pa.array(tags, TAGS_TYPE),
            }
        )
        return frame_from_tables([table], ["asia-east-1a"], fetched_at=FETCHED)

    old, new = snapshot(0, 0, False), snapshot(1_000, 1, True)
    started = time.perf_counter()
    d = diff_snapshots(old, new)
    elapsed = time.perf_counter() - started

    assert d.summary() == {
        "added": 1_000, "removed": 1_000, "changed": 990, "unchanged": 98_010,
        "changed_fields": 990,
    }  # fmt: skip
    assert elapsed < 5.0, f"diff of 100k images took {elapsed:.2f}s"


# --------------------------------------------------------------------------------------------
# Trends


def test_status_trend_counts_every_status_on_every_date(tmp_path: Path) -> None:
    write_three_days(tmp_path)
    write_snapshot(empty_frame(), tmp_path, snapshot_date="2025-06-04")

    expected = pd.DataFrame(
        {
            "snapshot_date": pd.array(
                [d for d in (DAY1, DAY2, DAY3, date(2025, 6, 4)) for _ in range(2)], dtype=DATE
            ),
            "imageStatus": pd.Categorical(
                ["AVAILABLE", "FAILED"] * 4, categories=["AVAILABLE", "FAILED"]
            ),
            "images": np.array([2, 0, 2, 0, 0, 2, 0, 0], dtype=np.int64),
        }
    )
    pd.testing.assert_frame_equal(status_trend(tmp_path), expected)


def test_status_trend_of_a_frame_orders_statuses_as_documented() -> None:
    df = pd.concat(
        [
            as_stored(frame(image("a", imageStatus="SYNCING"), image("b", imageStatus=None)), DAY1),
            as_stored(
                frame(image("a", imageStatus="NEW_ONE"), image("b", imageStatus="CREATING")), DAY2
            ),
        ],
        ignore_index=True,
    )
    got = status_trend(df)
    assert got["imageStatus"].cat.categories.tolist() == ["CREATING", "SYNCING", "NEW_ONE"]
    assert got.astype({"snapshot_date": str, "imageStatus": object}).values.tolist() == [
        ["2025-06-01", "CREATING", 0],
        ["2025-06-01", "SYNCING", 1],
        ["2025-06-01", "NEW_ONE", 0],
        ["2025-06-01", np.nan, 1],
        ["2025-06-02", "CREATING", 1],
        ["2025-06-02", "SYNCING", 0],
        ["2025-06-02", "NEW_ONE", 1],
        ["2025-06-02", np.nan, 0],
    ]


def test_status_trend_needs_the_snapshot_columns() -> None:
    with pytest.raises(InvalidArgument, match="snapshot_date"):
        status_trend(frame(image()))


def test_long_frame_lists_every_change_for_export() -> None:
    old = frame(image("img-1"), image("img-2"))
    new = frame(image("img-2", imageStatus="FAILED"), image("img-3", zoneId="na-west-1a"))
    d = diff_snapshots(old, new)

    expected = pd.DataFrame(
        {
            "zoneId": ["na-west-1a", "asia-east-1a", "asia-east-1a"],
            "imageId": ["img-3", "img-1", "img-2"],
            "change": ["added", "removed", "changed"],
            "field": [None, None, "imageStatus"],
            "old": [None, None, "AVAILABLE"],
            "new": [None, None, "FAILED"],
        }
    ).astype(STRING)
    pd.testing.assert_frame_equal(d.long_frame(), expected)
    assert {k: len(v) for k, v in d.as_dict().items()} == {"added": 1, "removed": 1, "changed": 1}
