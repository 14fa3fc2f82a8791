"""imgframe.sql: DuckDB views over a frame fetched from the session sandbox and over a store
written with write_snapshot; answers in the frame's dtypes; snapshot days pruned unopened."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import imgframe
from imgframe import sandbox
from imgframe.errors import ConfigError, DataError, InvalidArgument
from imgframe.sql import run_sql, sql

from .helpers import client_kwargs
from .test_interop import without_module

ZONE_COUNTS = {
    "asia-east-1a": 324,
    "asia-north-1a": 338,
    "asia-south-1a": 234,
    "asia-southeast-1a": 777,
    "asia-southwest-1a": 100,
    "eu-west-1a": 447,
    "na-west-1a": 611,
    "sa-north-1a": 169,
}


@pytest.fixture(scope="module")
def df(sb: sandbox.Sandbox) -> pd.DataFrame:
    return imgframe.fetch_images("all", **client_kwargs(sb))


@pytest.fixture(scope="module")
def store(df: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days: the whole catalog, then its first 1,000 rows, then its last 500."""
    root = tmp_path_factory.mktemp("store") / "snapshots [v1]"  # glob characters in the path
    imgframe.write_snapshot(df, root, snapshot_date="2025-06-01")
    imgframe.write_snapshot(df.iloc[:1000], root, snapshot_date="2025-06-02")
    imgframe.write_snapshot(df.iloc[2500:], root, snapshot_date="2025-06-03")
    return root


def test_images_view_counts_match_the_api(df: pd.DataFrame) -> None:
    out = sql(
        "SELECT zoneId, count(*) AS images FROM images GROUP BY ALL ORDER BY zoneId", frame=df
    )
    assert dict(zip(out["zoneId"], out["images"], strict=True)) == ZONE_COUNTS
    assert df.attrs["imgframe"]["totalCounts"] == ZONE_COUNTS  # what the API announced
    assert out.dtypes.astype(str).to_dict() == {"zoneId": "category", "images": "Int64"}


def test_the_row_key_is_zone_and_image_id(df: pd.DataFrame) -> None:
    out = sql(
        "SELECT count(DISTINCT imageId) AS ids, count(DISTINCT (zoneId, imageId)) AS keys "
        "FROM images",
        frame=df,
    )
    assert out.to_dict("records") == [{"ids": 2861, "keys": 3000}]


def test_answers_come_back_in_the_frames_dtypes(df: pd.DataFrame) -> None:
    out = sql(
        "SELECT nicNetworkType, imageStatus, count(*) AS n, sum(imageSize) AS gib, "
        "avg(imageSize) AS mean, max(fetchedAt) AS fetched, any_value(tags) AS tags, "
        "DATE '2025-06-01' AS day "
        "FROM images WHERE imageStatus = 'SYNCING' GROUP BY ALL ORDER BY nicNetworkType",
        frame=df,
    )
    assert out.dtypes.astype(str).to_dict() == {
        "nicNetworkType": "list<item: string>[pyarrow]",
        "imageStatus": "category",
        "n": "Int64",
        "gib": "Int64",
        "mean": "Float64",
        "fetched": "datetime64[us, UTC]",
        "tags": "list<item: struct<key: string, value: string>>[pyarrow]",
        "day": "date32[day][pyarrow]",
    }
    assert out[["n", "gib"]].to_dict("records") == [
        {"n": 8, "gib": 420},
        {"n": 86, "gib": 5330},
        {"n": 1, "gib": 10},
    ]
    assert out["nicNetworkType"].tolist() == [
        ["FailOver"],
        ["FailOver", "VirtioOnly"],
        ["VirtioOnly"],
    ]
    assert out["fetched"].iloc[0] == df["fetchedAt"].max()


def test_select_star_is_the_frame(df: pd.DataFrame) -> None:
    out = sql("SELECT * FROM images", frame=df)
    pd.testing.assert_frame_equal(out, df, check_categorical=False)
    assert list(out["zoneId"].cat.categories) == list(df["zoneId"].cat.categories)


def test_image_tags_is_explode_tags(df: pd.DataFrame) -> None:
    out = sql("SELECT * FROM image_tags", frame=df)
    expected = imgframe.explode_tags(df)
    assert list(out.columns) == list(expected.columns)
    assert len(out) == 7582
    order = ["zoneId", "imageId", "tagKey", "tagValue"]
    pd.testing.assert_frame_equal(
        out.sort_values(order, kind="stable").reset_index(drop=True).astype({"zoneId": str}),
        expected.sort_values(order, kind="stable").reset_index(drop=True).astype({"zoneId": str}),
        check_categorical=False,
    )
    keys = sql(
        "SELECT tagKey, count(*) AS n FROM image_tags GROUP BY ALL "
        "ORDER BY n DESC, tagKey NULLS FIRST",
        frame=df,
    )
    assert keys.astype(object).where(keys.notna(), None).to_dict("records") == [
        {"tagKey": "env", "n": 1844},
        {"tagKey": "team", "n": 1541},
        {"tagKey": "app", "n": 1243},
        {"tagKey": None, "n": 933},  # the untagged images, kept
        {"tagKey": "owner", "n": 800},
        {"tagKey": "backup", "n": 615},
        {"tagKey": "cost-center", "n": 606},
    ]


def test_zones_view(df: pd.DataFrame) -> None:
    zones = sql("SELECT * FROM zones", frame=df)
    assert zones.astype(str).values.tolist() == [
        ["asia-east-1a", "asia-east-1", "Hong Kong A", "Hong Kong", "HK"],
        ["asia-north-1a", "asia-north-1", "Tokyo A", "Tokyo", "JP"],
        ["asia-south-1a", "asia-south-1", "Mumbai A", "Mumbai", "IN"],
        ["asia-southeast-1a", "asia-southeast-1", "Singapore A", "Singapore", "SG"],
        ["asia-southwest-1a", "asia-southwest-1", "Dubai A", "Dubai", "AE"],
        ["eu-west-1a", "eu-west-1", "Frankfurt A", "Frankfurt", "DE"],
        ["na-west-1a", "na-west-1", "Los Angeles A", "Los Angeles", "US"],
        ["sa-north-1a", "sa-north-1", "São Paulo A", "São Paulo", "BR"],
    ]
    by_country = sql(
        "SELECT z.countryCode, count(*) AS n FROM images JOIN zones z USING (zoneId) "
        "GROUP BY ALL ORDER BY ALL",
        frame=df,
    )
    assert dict(zip(by_country["countryCode"], by_country["n"], strict=True)) == {
        "AE": 100,
        "BR": 169,
        "DE": 447,
        "HK": 324,
        "IN": 234,
        "JP": 338,
        "SG": 777,
        "US": 611,
    }


# --------------------------------------------------------------------------------------------
# The store


def test_snapshots_view_reads_the_store(store: Path, df: pd.DataFrame) -> None:
    days = sql(
        "SELECT snapshot_date, count(*) AS images FROM snapshots GROUP BY ALL ORDER BY ALL",
        store=store,
    )
    assert days.astype(str).values.tolist() == [
        ["2025-06-01", "3000"],
        ["2025-06-02", "1000"],
        ["2025-06-03", "500"],
    ]
    one_day = sql("SELECT * FROM snapshots WHERE snapshot_date = '2025-06-02'", store=store)
    expected = imgframe.read_snapshots(store, since="2025-06-02", until="2025-06-02")
    assert list(one_day.columns) == list(expected.columns)
    assert one_day.dtypes.astype(str).to_dict() == expected.dtypes.astype(str).to_dict()
    order = ["zoneId", "imageId"]
    pd.testing.assert_frame_equal(
        one_day.sort_values(order).reset_index(drop=True).astype({"zoneId": str}),
        expected.sort_values(order).reset_index(drop=True).astype({"zoneId": str}),
        check_categorical=False,
    )


def test_a_day_filter_opens_no_other_days_file(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    # Every file of the other days is garbage: a query that opened one would fail.
    for path in copy.rglob("*.parquet"):
        if path.parent.parent.name != "snapshot_date=2025-06-02":
            path.write_bytes(b"not parquet")
    answer = sql(
        "SELECT count(*) AS images FROM snapshots WHERE snapshot_date = DATE '2025-06-02'",
        store=copy,
    )
    assert answer["images"].tolist() == [1000]
    # The zone too: of the day asked for, only asia-south-1a's file is left readable.
    for path in (copy / "snapshot_date=2025-06-02").rglob("*.parquet"):
        if path.parent.name != "zoneId=asia-south-1a":
            path.write_bytes(b"not parquet")
    zone = sql(
        "SELECT count(*) AS images FROM snapshots "
        "WHERE snapshot_date BETWEEN '2025-06-02' AND '2025-06-02' AND zoneId = 'asia-south-1a'",
        store=copy,
    )
    assert zone["images"].tolist() == [234]
    # A query over every day does open them: the filter is what spared them.
    with pytest.raises(DataError, match=r"cannot read the snapshots: .*part-0\.parquet"):
        sql("SELECT count(*) FROM snapshots", store=copy)


def test_an_empty_store_is_a_view_without_rows(tmp_path: Path) -> None:
    out = sql("SELECT * FROM snapshots", store=tmp_path)
    assert len(out) == 0
    assert list(out.columns[:3]) == ["snapshot_date", "zoneId", "regionId"]
    assert list(out.columns[-2:]) == ["fetchedAt", "snapshotAt"]


def test_frame_and_store_together(store: Path, df: pd.DataFrame) -> None:
    out = sql(
        "SELECT count(*) AS gone FROM (SELECT zoneId, imageId FROM snapshots "
        "WHERE snapshot_date = '2025-06-01' EXCEPT SELECT zoneId::VARCHAR, imageId FROM images)",
        frame=df.iloc[:2000],
        store=store,
    )
    assert out["gone"].tolist() == [1000]


# --------------------------------------------------------------------------------------------
# For the command line, and errors


def test_run_sql_prints_a_table(df: pd.DataFrame) -> None:
    query = (
        "SELECT nicNetworkType, count(*) AS images FROM images GROUP BY ALL ORDER BY nicNetworkType"
    )
    assert run_sql(query, frame=df) == (
        "nicNetworkType        images\n"
        "--------------------  ------\n"
        "FailOver                 457\n"
        "FailOver, VirtioOnly    2459\n"
        "VirtioOnly                84"
    )
    assert json.loads(run_sql(query, frame=df, format="json")) == [
        {"nicNetworkType": "FailOver", "images": 457},
        {"nicNetworkType": "FailOver, VirtioOnly", "images": 2459},
        {"nicNetworkType": "VirtioOnly", "images": 84},
    ]
    assert run_sql("SELECT '=1+1' AS x", format="csv") == "x\n'=1+1"


@pytest.mark.parametrize(
    ("query", "kwargs", "error", "message"),
    [
        ("selec 1", {}, InvalidArgument, 'sql: Parser Error: syntax error at or near "selec"'),
        (
            "SELECT * FROM images",
            {},
            InvalidArgument,
            "sql: Catalog Error: Table with name images does not exist! (the images view "
            "needs frame=: imgframe.sql(query, frame=df))",
        ),
        (
            "SELECT * FROM snapshots",
            {},
            InvalidArgument,
            "sql: Catalog Error: Table with name snapshots does not exist! (the snapshots view "
            "needs store=: imgframe.sql(query, store='path/to/store'))",
        ),
        ("  ", {}, InvalidArgument, "sql: the query is empty"),
        ("SELECT 1", {"store": "/nonexistent/store"}, DataError, "no snapshot store at"),
    ],
    ids=["syntax", "no-frame", "no-store", "empty", "no-store-dir"],
)
def test_errors_are_one_line(
    query: str, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        sql(query, **kwargs)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_malformed_day_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "snapshot_date=June").mkdir()
    with pytest.raises(DataError, match="not a snapshot day directory"):
        sql("SELECT * FROM snapshots", store=tmp_path)


def test_a_missing_duckdb_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    without_module(monkeypatch, "duckdb")
    with pytest.raises(ConfigError) as caught:
        sql("SELECT 1")
    assert str(caught.value) == "imgframe.sql needs DuckDB: pip install 'imgframe[sql]'"


def test_imgframe_sql_is_callable_after_the_module_is_imported() -> None:
    module = importlib.import_module("imgframe.sql")
    assert imgframe.sql("SELECT 42 AS answer")["answer"].tolist() == [42]
    assert module("SELECT 1 AS one")["one"].tolist() == [1]
