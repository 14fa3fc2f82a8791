"""The store's life outside imgframe: ``imgframe ddl`` (the statement each warehouse needs,
DuckDB's run on real stores) and ``imgframe prune`` (whole old days removed, locally and in
a bucket)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from imgframe.errors import InvalidArgument
from imgframe.export import write_export
from imgframe.history import list_snapshots, read_snapshots, write_snapshot
from imgframe.history.ddl import store_ddl
from imgframe.history.prune import PrunedDay, prune_store

from .cli_helpers import run
from .frames import fixture_frame, small_frame
from .s3server import S3, moto_endpoint, s3

__all__ = ["moto_endpoint", "s3"]  # the fixtures, used by name

DAYS = ("2026-01-01", "2026-01-02", "2026-01-03")


def two_zones(day: int) -> pd.DataFrame:
    return pd.concat(
        [small_frame(2 + day), small_frame(1, zone="na-west-1a", start=10)], ignore_index=True
    )


def rows(table: pa.Table) -> list[dict[str, object]]:
    """Rows as plain values, in key order (what each engine returns, compared as values)."""
    found = table.to_pylist()
    return sorted(found, key=lambda r: (r["snapshot_date"], r["zoneId"], r["imageId"]))


def copy_of_bucket(s3: S3, directory: Path) -> Path:
    """Every object of the bucket as a file under ``directory`` (same relative paths)."""
    for key in s3.keys(""):
        (directory / key).parent.mkdir(parents=True, exist_ok=True)
        (directory / key).write_bytes(s3.get(key))
    return directory


def imgframes_rows(store: Path | str) -> list[dict[str, object]]:
    frame = read_snapshots(store)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return rows(table)


# --------------------------------------------------------------------------------------------
# ddl


def test_duckdb_statement_reads_what_read_snapshots_reads(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_snapshot(fixture_frame(zones=True), store, snapshot_date="2026-01-01")
    write_snapshot(two_zones(1), store, snapshot_date="2026-01-02")
    result = run("ddl", "--store", store, "--dialect", "duckdb")
    assert result.exit_code == 0, result.output
    connection = duckdb.connect()
    connection.execute(result.stdout)
    got = rows(connection.sql("SELECT * FROM snapshots").to_arrow_table())
    assert len(got) == len(read_snapshots(store)) == len(fixture_frame(zones=True)) + 4 == 25
    assert got == imgframes_rows(store)


def test_duckdb_statement_over_a_bucket_follows_the_commits(s3: S3, tmp_path: Path) -> None:
    """The statement for a bucket, run over a copy of the bucket's objects (DuckDB's httpfs
    is downloaded on first use, so not here): only the files the commits list are read."""
    store = s3.uri("store")
    write_snapshot(two_zones(0), store, snapshot_date="2026-01-01")
    write_snapshot(two_zones(1), store, snapshot_date="2026-01-02")
    write_snapshot(two_zones(2), store, snapshot_date="2026-01-02")  # the day written again
    statement = store_ddl(store, "duckdb")
    assert f"read_json('{store}/_imgframe/days/snapshot_date=*/manifest.json'" in statement
    # What a killed writer leaves: a day without its commit, a file no commit lists.
    stray = small_frame(1, start=99)
    for key in (
        "store/snapshot_date=2026-01-03/zoneId=asia-east-1a/part-killed.parquet",
        "store/snapshot_date=2026-01-02/zoneId=asia-east-1a/part-killed.parquet",
    ):
        write_export(stray, s3.uri(key))
    mirror = copy_of_bucket(s3, tmp_path / "mirror")
    connection = duckdb.connect()
    connection.execute(statement.replace(store, str(mirror / "store")))
    got = rows(connection.sql("SELECT * FROM snapshots").to_arrow_table())
    assert got == imgframes_rows(store)
    assert len(got) == len(two_zones(0)) + len(two_zones(2)) == 8
    every_file = f"'{mirror}/store/snapshot_date=*/zoneId=*/*.parquet'"
    listed = connection.execute(f"SELECT count(*) FROM read_parquet({every_file})").fetchone()
    assert listed == (8 + 2,)  # what an engine listing the directories reads


ATHENA = """\
-- imgframe snapshot store s3://imgframe-test/store as the Athena table inv.images, days and zones by
-- partition projection (no MSCK REPAIR); a new zone needs this statement again.
-- Athena reads every Parquet file of a day: see `imgframe ddl --help`.
CREATE EXTERNAL TABLE IF NOT EXISTS inv.images (
  `imageid` string,
  `imagename` string,
  `imagetype` string,
  `imagesource` string,
  `imagesize` bigint,
  `mindisksize` bigint,
  `imagedescription` string,
  `imageversion` string,
  `imagestatus` string,
  `nicnetworktype` array<string>,
  `category` string,
  `ostype` string,
  `tags` array<struct<key:string,value:string>>,
  `fetchedat` timestamp,
  `snapshotat` timestamp
)
PARTITIONED BY (`snapshot_date` date, `zoneid` string)
STORED AS PARQUET
LOCATION 's3://imgframe-test/store/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.snapshot_date.type' = 'date',
  'projection.snapshot_date.format' = 'yyyy-MM-dd',
  'projection.snapshot_date.range' = '2026-01-01,NOW',
  'projection.snapshot_date.interval' = '1',
  'projection.snapshot_date.interval.unit' = 'DAYS',
  'projection.zoneid.type' = 'enum',
  'projection.zoneid.values' = 'asia-east-1a,na-west-1a',
  'storage.location.template' = 's3://imgframe-test/store/snapshot_date=${snapshot_date}/zoneId=${zoneid}/'
);
"""

TRINO = """\
-- imgframe snapshot store s3://imgframe-test/store as the Trino (Hive connector) table inv.images
CREATE TABLE IF NOT EXISTS inv.images (
  "imageid" varchar,
  "imagename" varchar,
  "imagetype" varchar,
  "imagesource" varchar,
  "imagesize" bigint,
  "mindisksize" bigint,
  "imagedescription" varchar,
  "imageversion" varchar,
  "imagestatus" varchar,
  "nicnetworktype" array(varchar),
  "category" varchar,
  "ostype" varchar,
  "tags" array(row("key" varchar, "value" varchar)),
  "fetchedat" timestamp(6),
  "snapshotat" timestamp(6),
  "snapshot_date" date,
  "zoneid" varchar
)
WITH (
  external_location = 's3://imgframe-test/store/',
  format = 'PARQUET',
  partitioned_by = ARRAY['snapshot_date', 'zoneid']
);
-- after each snapshot, so the new day's partition is known:
CALL system.sync_partition_metadata('inv', 'images', 'ADD');
"""

BIGQUERY = """\
-- imgframe snapshot store s3://imgframe-test/store as the BigQuery external table inv.images
-- (gs:// directly; s3:// through BigQuery Omni: add WITH CONNECTION)
CREATE OR REPLACE EXTERNAL TABLE inv.images (
  `imageId` STRING,
  `imageName` STRING,
  `imageType` STRING,
  `imageSource` STRING,
  `imageSize` INT64,
  `minDiskSize` INT64,
  `imageDescription` STRING,
  `imageVersion` STRING,
  `imageStatus` STRING,
  `nicNetworkType` ARRAY<STRING>,
  `category` STRING,
  `osType` STRING,
  `tags` ARRAY<STRUCT<`key` STRING, `value` STRING>>,
  `fetchedAt` TIMESTAMP,
  `snapshotAt` TIMESTAMP
)
WITH PARTITION COLUMNS (
  `snapshot_date` DATE,
  `zoneId` STRING
)
OPTIONS (
  format = 'PARQUET',
  uris = ['s3://imgframe-test/store/snapshot_date=*.parquet'],
  hive_partition_uri_prefix = 's3://imgframe-test/store/',
  require_hive_partition_filter = false
);
"""


@pytest.mark.parametrize(
    ("dialect", "expected"), [("athena", ATHENA), ("trino", TRINO), ("bigquery", BIGQUERY)]
)
def test_warehouse_statements_for_a_small_store(s3: S3, dialect: str, expected: str) -> None:
    store = s3.uri("store")
    write_snapshot(two_zones(0), store, snapshot_date="2026-01-01")
    write_snapshot(two_zones(1), store, snapshot_date="2026-01-02")
    result = run("ddl", "--store", store, "--dialect", dialect, "--table", "inv.images")
    assert result.exit_code == 0, result.output
    assert result.stdout == expected


def test_ddl_of_an_empty_or_missing_store_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    empty = run("ddl", "--store", tmp_path / "empty", "--dialect", "athena")
    assert empty.exit_code == 1
    assert empty.stderr == (
        f"imgframe: error: the snapshot store {tmp_path / 'empty'} holds no snapshot yet: "
        "nothing to describe\n"
    )
    missing = run("ddl", "--store", tmp_path / "nothing", "--dialect", "athena")
    assert missing.exit_code == 2
    assert "no snapshot store at" in missing.stderr
    write_snapshot(small_frame(1), tmp_path / "s", snapshot_date="2026-01-01")
    with pytest.raises(InvalidArgument, match="table name 'a;drop'"):
        store_ddl(tmp_path / "s", "duckdb", table="a;drop")


# --------------------------------------------------------------------------------------------
# prune


def three_days(store: Path | str) -> None:
    for i, day in enumerate(DAYS):
        write_snapshot(two_zones(i), store, snapshot_date=day)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_prune_removes_whole_old_days_and_says_which(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: Path | str = tmp_path / "store"
    if where == "s3":
        bucket: S3 = request.getfixturevalue("s3")
        store = bucket.uri("store")
    three_days(store)
    last = read_snapshots(store, since="2026-01-03")
    dry = run("prune", "--store", store, "--keep", "1", "--dry-run")
    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "would remove 2026-01-01",
        "would remove 2026-01-02",
    ]
    assert lines[0].endswith(" (2 files, " + lines[0].split(", ")[1])
    assert list_snapshots(store) == [date.fromisoformat(d) for d in DAYS]  # nothing removed
    done = run("prune", "--store", store, "--keep", "1")
    assert done.exit_code == 0, done.output
    assert done.stdout == dry.stdout.replace("would remove", "removed")
    assert done.stderr.endswith(f"removed 2 snapshots ({_bytes(dry.stdout)} bytes) from {store}\n")
    assert list_snapshots(store) == [date(2026, 1, 3)]
    pd.testing.assert_frame_equal(read_snapshots(store), last)
    if where == "s3":
        assert [k for k in bucket.keys("store/") if "2026-01-01" in k or "2026-01-02" in k] == []
    else:
        assert sorted(p.name for p in Path(store).iterdir()) == [
            ".imgframe.lock",
            "snapshot_date=2026-01-03",
        ]
    again = run("prune", "--store", store, "--keep", "1")
    assert (again.exit_code, again.stdout) == (0, "")


def _bytes(listing: str) -> int:
    return sum(int(line.split(", ")[1].split(" ")[0]) for line in listing.splitlines())


def test_keep_by_age_counts_back_from_today_and_keeps_the_newest(tmp_path: Path) -> None:
    store = tmp_path / "store"
    three_days(store)
    kept = prune_store(store, keep="1d", today=date(2026, 1, 3), dry_run=True)
    assert [d.snapshot_date for d in kept] == [date(2026, 1, 1), date(2026, 1, 2)]
    assert prune_store(store, keep="2d", today=date(2026, 1, 3), dry_run=True) == kept[:1]
    # Long after the last run, an age limit still leaves the newest snapshot.
    gone = prune_store(store, keep="90d", today=date(2027, 1, 1))
    assert [d.snapshot_date for d in gone] == [date(2026, 1, 1), date(2026, 1, 2)]
    assert all(isinstance(d, PrunedDay) and d.files == 2 for d in gone)
    assert list_snapshots(store) == [date(2026, 1, 3)]


def test_an_object_store_day_is_gone_once_its_commit_is(s3: S3) -> None:
    """A prune killed after deleting a day's commit leaves files no reader sees; the next
    prune removes them."""
    store = s3.uri("store")
    three_days(store)
    s3.client.delete_object(
        Bucket=s3.bucket, Key="store/_imgframe/days/snapshot_date=2026-01-01/manifest.json"
    )
    assert list_snapshots(store) == [date(2026, 1, 2), date(2026, 1, 3)]
    assert any("snapshot_date=2026-01-01/" in k for k in s3.keys("store/"))
    prune_store(store, keep=2)
    assert not any("snapshot_date=2026-01-01/" in k for k in s3.keys("store/"))
    assert list_snapshots(store) == [date(2026, 1, 2), date(2026, 1, 3)]


@pytest.mark.parametrize("keep", ["0", "-1", "d", "10w", "1.5d"])
def test_a_bad_keep_is_a_usage_error(tmp_path: Path, keep: str) -> None:
    result = run("prune", "--store", tmp_path, "--keep", keep)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--keep': keep must be a number of days (90d: the last 90 "
        f"days) or of snapshots (30), at least 1, not {keep!r}"
    )


def test_the_readme_shows_what_ddl_prints(s3: S3) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    shown = dict(
        re.findall(r"--dialect (\w+)</code></summary>\n\n```sql\n(.*?)```", readme, flags=re.S)
    )
    assert sorted(shown) == ["athena", "bigquery", "duckdb", "spark", "trino"]
    s3.client.create_bucket(Bucket="acme-inventory")
    store = "s3://acme-inventory/imgframe/snapshots"
    for day, when in (("0", "2026-01-01"), ("1", "2026-01-02")):
        made = run("--sandbox", "--sandbox-day", day, "snapshot", "--store", store, "--date", when)
        assert made.exit_code == 0, made.output
    for dialect, statement in shown.items():
        assert run("ddl", "--store", store, "--dialect", dialect).stdout == statement, dialect


def naive_utc(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def spark_statements(text: str) -> list[str]:
    """The statements of ``imgframe ddl --dialect spark``, one per ``spark.sql`` call."""
    code = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


@pytest.mark.slow  # Spark's start-up alone takes half a minute
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_statements_read_what_read_snapshots_reads(s3: S3, tmp_path: Path) -> None:
    """Spark in local mode (when pyspark and Java are installed): the plain table over a
    local store, and the committed-files view over a copy of a bucket's objects."""
    sql = pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java: no java on PATH and no JAVA_HOME")
    local = tmp_path / "local"
    write_snapshot(fixture_frame(zones=True), local, snapshot_date="2026-01-01")
    write_snapshot(two_zones(1), local, snapshot_date="2026-01-02")
    store = s3.uri("store")
    write_snapshot(two_zones(0), store, snapshot_date="2026-01-01")
    write_snapshot(two_zones(2), store, snapshot_date="2026-01-02")
    write_export(
        small_frame(1, start=99), s3.uri("store/snapshot_date=2026-01-03/zoneId=x/p.parquet")
    )
    mirror = copy_of_bucket(s3, tmp_path / "mirror")
    spark = (
        sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp_path / "warehouse"))
        .getOrCreate()
    )
    try:
        for statement in spark_statements(store_ddl(local, "spark", table="plain")):
            spark.sql(statement)
        bucket = store_ddl(store, "spark", table="committed")
        for statement in spark_statements(
            bucket.replace("s3a://imgframe-test/store", f"file:{mirror}/store")
        ):
            spark.sql(statement)
        for table, where in (("plain", local), ("committed", store)):
            got = [r.asDict(recursive=True) for r in spark.sql(f"SELECT * FROM {table}").collect()]
            got = sorted(got, key=lambda r: (r["snapshot_date"], r["zoneId"], r["imageId"]))
            # Spark hands timestamps back naive, in the session's time zone (UTC).
            want = [{k: naive_utc(v) for k, v in r.items()} for r in imgframes_rows(where)]
            assert got == want, table
    finally:
        spark.stop()
