"""What an analyst does from a notebook or a terminal: the page cache (a repeated fetch makes
no request), SQL over the frame and the store, history from the sandbox's days, and
``--from`` a store."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

import imgframe
from imgframe import sandbox
from imgframe.errors import DataError

from .cli_helpers import error_line, no_fetched_at, run, use_sandbox
from .helpers import client_kwargs, inventory_rows, plain_rows

ZONE = "asia-east-1a"


@pytest.fixture(scope="module")
def server() -> sandbox.Sandbox:
    with sandbox.running(images=300, seed=7) as running:
        yield running  # type: ignore[misc]


@pytest.fixture
def api(server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch) -> sandbox.Sandbox:
    use_sandbox(monkeypatch, server)
    server.clear_requests()
    return server


def cache_files() -> list[Path]:
    root = Path(os.environ["HOME"]) / ".cache" / "imgframe" / "pages"
    return sorted(root.glob("*.pages")) if root.exists() else []


# --------------------------------------------------------------------------------------------
# The cache


def test_a_cached_second_fetch_makes_no_request_and_force_asks_again(
    api: sandbox.Sandbox,
) -> None:
    with imgframe.Client(**client_kwargs(api)) as client:
        first = client.fetch_images(cache="15m", page_size=50, progress=False)
        asked = Counter(r.action for r in api.requests)
        api.clear_requests()
        second = client.fetch_images(cache="15m", page_size=50, progress=False)
        assert api.requests == []  # from the cache: not one request
        forced = client.fetch_images(cache="15m", refresh="force", page_size=50, progress=False)
        assert Counter(r.action for r in api.requests) == asked
        api.clear_requests()
        offline = client.fetch_images(refresh="offline", page_size=50, progress=False)
        assert api.requests == []
    pages = sum(-(-len(api.catalog.images(z)) // 50) for z in api.catalog.zone_ids)
    assert asked == {"DescribeZones": 1, "DescribeImages": pages}
    expected = no_fetched_at(first)
    for frame in (second, forced, offline):
        assert no_fetched_at(frame).equals(expected)
    # The cached frame is the frame of the first fetch, fetchedAt included; its age is said.
    assert second["fetchedAt"].equals(first["fetchedAt"])
    record = second.attrs["imgframe"]["cache"]
    assert record["fromCache"] is True
    assert 0 <= record["ageSeconds"] < 60
    assert first.attrs["imgframe"]["cache"]["fromCache"] is False
    assert forced.attrs["imgframe"]["cache"]["fromCache"] is False
    # One entry for the zones and one for the pages; files private to the user.
    files = cache_files()
    assert len(files) == 2
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
    assert oct(files[0].parent.stat().st_mode & 0o777) == "0o700"
    for f in files:
        assert api.access_key_secret.encode() not in f.read_bytes()


def test_the_cache_key_holds_the_filters_and_the_account(api: sandbox.Sandbox) -> None:
    with imgframe.Client(**client_kwargs(api)) as client:
        client.fetch_images(ZONE, cache="15m", os_type="linux", progress=False)
        api.clear_requests()
        client.fetch_images(ZONE, cache="15m", os_type="windows", progress=False)
        # Other filters: their pages are asked for (the zone's record is the same one).
        assert [r.action for r in api.requests] == ["DescribeImages"]
    # Another account (the same endpoint, another key): its own entries, asked anew.
    other = sandbox.Account("other", "AKOTHER000000001", "other-secret-1", seed=3)
    with sandbox.running(images=100, accounts=[other]) as two:
        kwargs = client_kwargs(two)
        with imgframe.Client(**kwargs) as demo:
            demo.fetch_images(ZONE, cache="15m", progress=False)
        kwargs.update(access_key_id=other.access_key_id, access_key_secret=other.access_key_secret)
        two.clear_requests()
        with imgframe.Client(**kwargs) as client:
            frame = client.fetch_images(ZONE, cache="15m", progress=False)
        assert {r.account for r in two.requests} == {"other"}
        other_catalog = two.account("other").catalog
        assert other_catalog is not None
        assert len(frame) == len(other_catalog.images(ZONE))


def test_offline_without_an_entry_is_one_clear_error(api: sandbox.Sandbox) -> None:
    with imgframe.Client(**client_kwargs(api)) as client, pytest.raises(DataError) as caught:
        client.fetch_images(ZONE, refresh="offline", progress=False)
    root = Path(os.environ["HOME"]) / ".cache" / "imgframe" / "pages"
    assert str(caught.value) == (
        f"offline: nothing is cached for this query in {root}; run it once online with a "
        "cache TTL (cache='15m', --cache 15m) first"
    )
    assert api.requests == []


def test_cli_cache_inventory_list_and_clear(api: sandbox.Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "x.parquet"
    first = run("export", "--cache", "15m", "-o", target)
    assert first.exit_code == 0, first.output
    asked = len(api.requests)
    api.clear_requests()
    again = run(
        "--log-level", "info", "export", "--cache", "15m", "--mode", "overwrite", "-o", target
    )
    assert again.exit_code == 0, again.output
    assert api.requests == []
    assert asked == 1 + 8 + 1 + 1  # zones, a page per zone, custom images, instances
    assert "DescribeImages: 8 cached pages from" in again.stderr
    listed = run("cache", "list")
    lines = listed.stdout.splitlines()
    assert len(lines) == 4
    assert sorted(line.split()[1] for line in lines) == [
        "DescribeCustomImages", "DescribeImages", "DescribeInstances", "DescribeZones",
    ]  # fmt: skip
    assert all(line.endswith("old") and "@ 127.0.0.1" in line for line in lines)
    cleared = run("cache", "clear")
    assert (cleared.exit_code, cleared.stderr) == (0, "removed 4 cache entries\n")
    assert run("cache", "list").stderr.startswith("the page cache is empty (")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cache", "soon"], "cache TTL 'soon'"),
        (["--refresh", "force"], "--refresh force needs --cache TTL (what to keep the pages for)"),
    ],
)
def test_cli_cache_options_are_checked_before_any_request(
    api: sandbox.Sandbox, args: list[str], message: str
) -> None:
    result = run("summary", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert api.requests == []


# --------------------------------------------------------------------------------------------
# SQL


def test_cli_sql_over_the_fetched_images(api: sandbox.Sandbox) -> None:
    query = "SELECT osType, count(*) AS images FROM images GROUP BY ALL ORDER BY images DESC"
    result = run("sql", query, "--format", "json")
    assert result.exit_code == 0, result.output
    counts = Counter(r["osType"] for r in inventory_rows(api.catalog))
    assert json.loads(result.stdout) == [
        {"osType": os_type, "images": n} for os_type, n in counts.most_common()
    ]


def test_cli_sql_over_the_store_alone_fetches_nothing(api: sandbox.Sandbox, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("snapshot", "--store", store, "--date", "2026-01-01").exit_code == 0
    api.clear_requests()
    query = "SELECT snapshot_date, count(*) AS images FROM snapshots GROUP BY ALL"
    result = run("sql", "--store", store, query, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"snapshot_date,images\n2026-01-01,{len(inventory_rows(api.catalog))}\n"
    assert api.requests == []


def test_cli_sql_store_is_a_local_directory_or_file_uri(
    api: sandbox.Sandbox, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert run("snapshot", "--store", store, "--date", "2026-01-01").exit_code == 0
    query = "SELECT count(*) AS images FROM snapshots"
    by_uri = run("sql", "--store", f"file://{store}", query, "--format", "csv")
    assert by_uri.stdout == f"images\n{len(inventory_rows(api.catalog))}\n"
    api.clear_requests()
    for value, message in (
        ("s3://bucket/store", "s3://bucket/store: imgframe sql reads a local store; for a store "
         "in a bucket, `imgframe ddl --dialect duckdb` prints the view to create in DuckDB with "
         "httpfs"),
        (str(tmp_path / "missing"), f"Directory {str(tmp_path / 'missing')!r} does not exist."),
    ):  # fmt: skip
        result = run("sql", "--store", value, query)
        assert result.exit_code == 2
        assert result.stderr.splitlines()[-1] == f"Error: Invalid value for '--store': {message}"
    assert api.requests == []


# --------------------------------------------------------------------------------------------
# History to try: --sandbox-day, and --from a store


def test_sandbox_days_give_real_changes_and_from_reads_a_stores_day(tmp_path: Path) -> None:
    store = tmp_path / "store"
    sb = ["--sandbox", "--sandbox-images", "300"]
    day0 = run(*sb, "snapshot", "--store", store, "--date", "2026-01-01")
    day1 = run(*sb, "--sandbox-day", "1", "snapshot", "--store", store, "--date", "2026-01-02")
    assert (day0.exit_code, day1.exit_code) == (0, 0), day1.output
    diff = run("diff", "--store", store)
    assert diff.exit_code == 0, diff.output
    old, new = (sandbox.Catalog(images=300, seed=7, day=d) for d in (0, 1))
    keys = [{(z, r["imageId"]) for z in c.zone_ids for r in c.images(z)} for c in (old, new)]
    added, removed = len(keys[1] - keys[0]), len(keys[0] - keys[1])
    assert (added, removed) != (0, 0)
    assert diff.stdout.splitlines()[0].startswith(
        f"2026-01-01 -> 2026-01-02: {added} added, {removed} removed, "
    )
    # --from the store: its latest day, or a day named.
    latest = run("summary", "--from", store, "--by", "osType", "--format", "json")
    first = run("summary", "--from", f"{store}@2026-01-01", "--by", "osType", "--format", "json")
    assert (latest.exit_code, first.exit_code) == (0, 0), first.output
    for result, catalog in ((latest, new), (first, old)):
        counts = Counter(r["osType"] for r in inventory_rows(catalog))
        got = {r["osType"]: r["images"] for r in json.loads(result.stdout)}
        assert got == dict(counts)
    missing = run("summary", "--from", f"{store}@2025-12-31")
    assert missing.exit_code == 1
    assert error_line(missing) == (
        f"the snapshot store {store} has no snapshot of 2025-12-31 (2 days, the latest: "
        "2026-01-01, 2026-01-02)"
    )
    bad = run("summary", "--from", f"{store}@yesterday")
    assert bad.exit_code == 2
    assert "'yesterday' is not a date (YYYY-MM-DD)" in bad.stderr


def test_from_a_store_day_equals_the_frame_that_was_stored(
    api: sandbox.Sandbox, tmp_path: Path
) -> None:
    store, export = tmp_path / "store", tmp_path / "day.parquet"
    assert run("snapshot", "--store", store, "--date", "2026-02-01").exit_code == 0
    result = run("export", "--from", f"{store}@2026-02-01", "-o", export)
    assert result.exit_code == 0, result.output
    rows = plain_rows(no_fetched_at(imgframe.read_export(export)))
    assert rows == inventory_rows(api.catalog)


def test_sandbox_options_need_the_sandbox() -> None:
    result = run("--sandbox-day", "2", "zones")
    assert result.exit_code == 2
    assert "--sandbox-day only apply with --sandbox" in result.stderr
