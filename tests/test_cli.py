"""The ``imgframe`` command against the packaged sandbox over real HTTP: every command and
option, with exact output, and files read back and compared with the sandbox's catalog."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds
import pytest

import imgframe
from imgframe import sandbox
from imgframe.charts import save_charts, summary_charts
from imgframe.cli import cli
from imgframe.export import read_export, write_export
from imgframe.frame import explode_tags, tag_columns

from .cli_helpers import (
    SANDBOX,
    SMALL_IMAGES,
    SMALL_SEED,
    error_line,
    no_fetched_at,
    run,
    use_sandbox,
)
from .frames import fixture_frame
from .helpers import INVENTORY_DTYPES, client_kwargs, inventory_rows, plain_rows

ZONES = (
    "asia-east-1a",
    "asia-north-1a",
    "asia-south-1a",
    "asia-southeast-1a",
    "asia-southwest-1a",
    "eu-west-1a",
    "na-west-1a",
    "sa-north-1a",
)
SUMMARY_LINE = re.compile(r"exported (\d+) rows to (\d+) files?, (\d+) bytes, in \d+\.\d\ds")


@pytest.fixture(scope="module")
def small() -> Iterator[sandbox.Sandbox]:
    """The CLI tests' sandbox: the catalog ``--sandbox --sandbox-images 300`` serves."""
    with sandbox.running(images=SMALL_IMAGES, seed=SMALL_SEED) as server:
        yield server


@pytest.fixture(scope="module")
def fetched(small: sandbox.Sandbox) -> pd.DataFrame:
    """Every image of ``small``, fetched directly with the library as the commands do (the
    inventory): what an export of the whole catalog must hold (itself checked against the
    catalog by test_the_library_fetch_the_exports_are_compared_with_equals_the_catalog)."""
    with imgframe.Client(**client_kwargs(small)) as client:
        return imgframe.fetch_inventory("all", client=client)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, small: sandbox.Sandbox) -> sandbox.Sandbox:
    """``small``, set as the CLI's endpoint and credentials through the environment."""
    use_sandbox(monkeypatch, small)
    small.clear_requests()
    return small


ALL_ZONES_DTYPES = INVENTORY_DTYPES


def catalog_rows(
    server: sandbox.Sandbox, zones: Sequence[str] = ZONES, **filters: Any
) -> list[dict[str, Any]]:
    """What a fetch of ``zones`` with ``filters`` (API names) must give: the inventory of
    the sandbox's catalog (``fetchedAt`` left out)."""
    return inventory_rows(server.catalog, zones, **filters)


def side_requests(server: sandbox.Sandbox, page_size: int = 1000) -> dict[str, int]:
    """The account-wide requests an inventory adds: one DescribeCustomImages and one
    DescribeInstances listing, each paged at ``page_size``."""
    custom, fleet = len(server.catalog.custom_images()), len(server.catalog.instances())
    return {
        "DescribeCustomImages": max(1, -(-custom // page_size)),
        "DescribeInstances": max(1, -(-fleet // page_size)),
    }


def exported_rows(path: Path) -> list[dict[str, Any]]:
    """An export read back, as plain rows without ``fetchedAt``."""
    return plain_rows(no_fetched_at(read_export(path)))


def summary_of(result_stderr: str) -> tuple[int, int, int]:
    match = SUMMARY_LINE.fullmatch(result_stderr.rstrip("\n"))
    assert match, result_stderr
    rows, files, size = (int(g) for g in match.groups())
    return rows, files, size


def test_the_library_fetch_the_exports_are_compared_with_equals_the_catalog(
    small: sandbox.Sandbox, fetched: pd.DataFrame
) -> None:
    assert {c: str(t) for c, t in fetched.dtypes.items()} == ALL_ZONES_DTYPES
    assert plain_rows(no_fetched_at(fetched)) == catalog_rows(small)
    assert len(fetched) == SMALL_IMAGES


# --------------------------------------------------------------------------------------------
# Help, version, zones


def test_every_command_has_help_with_a_real_example() -> None:
    assert sorted(cli.commands) == [
        "cache", "charts", "ddl", "diff", "export", "prune", "report", "sandbox", "snapshot",
        "sql", "summary", "zones",
    ]  # fmt: skip
    for command in [None, *sorted(cli.commands)]:
        result = run(*([command] if command else []), "--help")
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().startswith("Example"))
        examples = [
            line.strip() for line in lines[start + 1 :] if line.lstrip().startswith("imgframe ")
        ]
        assert examples, f"{command}: no example in its help"
        for example in examples:
            words = shlex.split(example)
            if command is not None:
                assert command in words, example
            # Every option of the example exists: parsing it with --help added succeeds.
            parsed = run(*words[1:], "--help")
            assert parsed.exit_code == 0, f"{example}: {parsed.output}"


def test_version() -> None:
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, f"imgframe, version {imgframe.__version__}\n")


ZONES_TABLE = """\
zoneId             regionId          zoneName       cityName     countryCode  timeZone
-----------------  ----------------  -------------  -----------  -----------  -------------------
asia-east-1a       asia-east-1       Hong Kong A    Hong Kong    HK           Asia/Hong_Kong
asia-north-1a      asia-north-1      Tokyo A        Tokyo        JP           Asia/Tokyo
asia-south-1a      asia-south-1      Mumbai A       Mumbai       IN           Asia/Kolkata
asia-southeast-1a  asia-southeast-1  Singapore A    Singapore    SG           Asia/Singapore
asia-southwest-1a  asia-southwest-1  Dubai A        Dubai        AE           Asia/Dubai
eu-west-1a         eu-west-1         Frankfurt A    Frankfurt    DE           Europe/Berlin
na-west-1a         na-west-1         Los Angeles A  Los Angeles  US           America/Los_Angeles
sa-north-1a        sa-north-1        São Paulo A    São Paulo    BR           America/Sao_Paulo
"""


def test_zones_table() -> None:
    result = run(*SANDBOX, "zones")
    assert (result.exit_code, result.stdout, result.stderr) == (0, ZONES_TABLE, "")


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown"])
def test_zones_formats_hold_what_describe_zones_lists(api: sandbox.Sandbox, fmt: str) -> None:
    result = run("zones", "--format", fmt)
    assert result.exit_code == 0
    columns = ["zoneId", "regionId", "zoneName", "cityName", "countryCode", "timeZone"]
    zones = sorted(api.catalog.zones, key=lambda z: str(z["zoneId"]))
    expected = [{c: z[c] for c in columns} for z in zones]
    if fmt == "json":
        assert json.loads(result.stdout) == expected
    elif fmt == "csv":
        assert list(csv.DictReader(result.stdout.splitlines())) == expected
    else:
        lines = result.stdout.splitlines()
        assert lines[0] == "| " + " | ".join(columns) + " |"
        assert (
            lines[2]
            == "| asia-east-1a | asia-east-1 | Hong Kong A | Hong Kong | HK | Asia/Hong\\_Kong |"
        )
        assert len(lines) == 2 + len(ZONES)


# --------------------------------------------------------------------------------------------
# export: formats, tags, datasets, placeholders


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("images.parquet", []),
        ("images.csv", []),
        ("images.csv.gz", []),
        ("images.jsonl", []),
        ("images.data", ["--format", "csv"]),
        ("images.out", ["--format", "jsonl"]),
    ],
)
def test_export_round_trips_every_format(
    api: sandbox.Sandbox, fetched: pd.DataFrame, tmp_path: Path, name: str, extra: list[str]
) -> None:
    target = tmp_path / name
    result = run("export", "-o", target, *extra)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{target}\n"
    assert summary_of(result.stderr) == (SMALL_IMAGES, 1, target.stat().st_size)
    pd.testing.assert_frame_equal(no_fetched_at(read_export(target)), no_fetched_at(fetched))
    if name.endswith(".gz"):
        assert target.read_bytes()[:2] == b"\x1f\x8b"


def test_export_tags_long_and_wide_apply_to_csv_only(
    api: sandbox.Sandbox, fetched: pd.DataFrame, tmp_path: Path
) -> None:
    long_csv, wide_csv, parquet = (
        tmp_path / "long.csv",
        tmp_path / "wide.csv",
        tmp_path / "x.parquet",
    )
    assert run("export", "-o", long_csv, "--tags", "long").exit_code == 0
    assert run("export", "-o", wide_csv, "-o", parquet, "--tags", "wide").exit_code == 0
    expected = no_fetched_at(fetched)
    pd.testing.assert_frame_equal(no_fetched_at(read_export(long_csv)), explode_tags(expected))
    pd.testing.assert_frame_equal(
        no_fetched_at(read_export(wide_csv)), tag_columns(expected).drop(columns=["tags"])
    )
    # Parquet keeps the list column, whatever --tags says about the CSV beside it.
    pd.testing.assert_frame_equal(no_fetched_at(read_export(parquet)), expected)


def test_export_partitioned_dataset(
    api: sandbox.Sandbox, fetched: pd.DataFrame, tmp_path: Path
) -> None:
    target = tmp_path / "dataset"
    result = run("export", "--partition-by", "zoneId", "-o", target)
    assert result.exit_code == 0, result.output
    assert summary_of(result.stderr) == (
        SMALL_IMAGES,
        1,
        sum(p.stat().st_size for p in target.rglob("*") if p.is_file()),
    )
    assert sorted(p.name for p in target.iterdir()) == [
        "_common_metadata",
        *(f"zoneId={z}" for z in ZONES),
    ]
    table = ds.dataset(target, partitioning="hive").to_table()
    counts = table.group_by("zoneId").aggregate([("imageId", "count")]).to_pylist()
    per_zone = fetched["zoneId"].astype(str).value_counts().to_dict()
    assert {c["zoneId"]: c["imageId_count"] for c in counts} == per_zone
    assert sorted(table.column("imageId").to_pylist()) == sorted(fetched["imageId"])
    # read_export gives the rows sorted by zone then image id (a dataset has no row order).
    order = fetched.assign(_z=fetched["zoneId"].astype(str), _i=fetched["imageId"].astype(str))
    expected = order.sort_values(["_z", "_i"], kind="stable").drop(columns=["_z", "_i"])
    pd.testing.assert_frame_equal(
        no_fetched_at(read_export(target)), no_fetched_at(expected.reset_index(drop=True))
    )


@pytest.mark.parametrize(
    ("args", "zone", "zones"),
    [
        ([], "all", ZONES),
        (["--all-zones"], "all", ZONES),
        (["--zone-id", "eu-west-1a"], "eu-west-1a", ("eu-west-1a",)),
        (["--zone-id", "eu-west-1a,na-west-1a"], "multi", ("eu-west-1a", "na-west-1a")),
        (
            ["--zone-id", "eu-west-1a", "--zone-id", "na-west-1a"],
            "multi",
            ("eu-west-1a", "na-west-1a"),
        ),
    ],
)
def test_export_placeholders(
    api: sandbox.Sandbox,
    tmp_path: Path,
    args: list[str],
    zone: str,
    zones: tuple[str, ...],
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = run("export", *args, "-o", tmp_path / "{date}" / "images-{zone}-{time}.csv")
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip())
    assert written.parent.parent == tmp_path
    match = re.fullmatch(rf"images-{zone}-(\d{{6}})\.csv", written.name)
    assert match, written.name
    stamp = datetime.strptime(f"{written.parent.name} {match[1]}", "%Y-%m-%d %H%M%S")
    assert before <= stamp.replace(tzinfo=UTC) <= after
    assert exported_rows(written) == catalog_rows(api, zones)


def test_export_writes_every_output_from_one_fetch(
    api: sandbox.Sandbox, fetched: pd.DataFrame, tmp_path: Path
) -> None:
    outputs = [tmp_path / "a.parquet", tmp_path / "b.csv", tmp_path / "c.jsonl"]
    result = run("export", *(x for o in outputs for x in ("-o", o)))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(o) for o in outputs]
    assert summary_of(result.stderr) == (SMALL_IMAGES, 3, sum(o.stat().st_size for o in outputs))
    assert Counter(r.action for r in api.requests) == {
        "DescribeZones": 1,
        "DescribeImages": len(ZONES),
        **side_requests(api),
    }
    for output in outputs:
        pd.testing.assert_frame_equal(no_fetched_at(read_export(output)), no_fetched_at(fetched))


def test_export_filters_reach_the_api(api: sandbox.Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "x.parquet"
    args = [
        "--zone-id", "na-west-1a", "--os-type", "linux", "--image-type", "CUSTOM_IMAGE",
        "--image-source", "CUSTOM", "--category", "Ubuntu", "--image-status", "AVAILABLE",
        "--image-name", "prod", "--tag-keys", "team,env", "--tag", "env=prod", "--page-size", "5",
    ]  # fmt: skip
    assert run("export", *args, "-o", target).exit_code == 0
    filters = {
        "imageName": "prod",
        "category": "Ubuntu",
        "imageType": "CUSTOM_IMAGE",
        "imageSource": "CUSTOM",
        "osType": "linux",
        "imageStatus": "AVAILABLE",
        "tagKeys": ["team", "env"],
        "tags": [{"key": "env", "value": "prod"}],
    }
    bodies = [r.body for r in api.requests if r.action == "DescribeImages"]
    assert bodies == [
        {"zoneId": "na-west-1a", **filters, "pageNum": 1, "pageSize": 5},
        {"zoneId": "na-west-1a", **filters, "pageNum": 2, "pageSize": 5},
    ]
    expected = catalog_rows(api, ["na-west-1a"], **filters)
    assert len(expected) == 6  # two pages of 5
    assert exported_rows(target) == expected


def test_export_image_ids(api: sandbox.Sandbox, fetched: pd.DataFrame, tmp_path: Path) -> None:
    ids = sorted(fetched["imageId"].astype(str).unique())[:3]
    target = tmp_path / "x.jsonl"
    args = ["--image-ids", ",".join(ids[:2]), "--image-ids", ids[2]]
    assert run("export", *args, "-o", target).exit_code == 0
    assert exported_rows(target) == catalog_rows(api, imageIds=ids)
    assert sorted(set(read_export(target)["imageId"])) == ids


# --------------------------------------------------------------------------------------------
# export: modes and the manifest


def test_export_mode_error_refuses_before_fetching(api: sandbox.Sandbox, tmp_path: Path) -> None:
    existing, fresh = tmp_path / "images.csv", tmp_path / "new.parquet"
    assert run("export", "-o", existing).exit_code == 0
    before = existing.read_bytes()
    api.clear_requests()
    result = run("export", "-o", fresh, "-o", existing)
    assert result.exit_code == 1
    assert error_line(result) == (
        f"cannot write {existing}: it already exists (use --mode overwrite or append)"
    )
    assert existing.read_bytes() == before
    assert not fresh.exists()  # not even the output that could have been written
    assert api.requests == []


def test_export_mode_overwrite_replaces(api: sandbox.Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "images.parquet"
    assert run("export", "-o", target).exit_code == 0
    result = run("export", "--os-type", "windows", "--mode", "overwrite", "-o", target)
    assert result.exit_code == 0, result.output
    assert exported_rows(target) == catalog_rows(api, osType="windows")


@pytest.mark.parametrize("name", ["images.csv", "images.csv.gz", "images.jsonl", "images.parquet"])
def test_export_mode_append_adds_rows(api: sandbox.Sandbox, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    assert run("export", "--os-type", "windows", "-o", target).exit_code == 0
    result = run("export", "--os-type", "windows", "--mode", "append", "-o", target)
    assert result.exit_code == 0, result.output
    windows = catalog_rows(api, osType="windows")
    assert exported_rows(target) == windows + windows


def test_export_mode_append_to_a_dataset(api: sandbox.Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    for mode in ("error", "append"):
        args = ["--os-type", "bsd", "--partition-by", "zoneId", "--mode", mode]
        assert run("export", *args, "-o", target).exit_code == 0
    bsd = [r["imageId"] for r in catalog_rows(api, osType="bsd")]
    table = ds.dataset(target, partitioning="hive").to_table()
    assert sorted(table.column("imageId").to_pylist()) == sorted(bsd * 2)


def test_export_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with sandbox.running(images=400, seed=11) as server:
        use_sandbox(monkeypatch, server)
        outputs = [tmp_path / "out" / n for n in ("a.csv", "b.parquet", "c.jsonl")]
        manifest = tmp_path / "out" / "manifest.json"
        args = ["--os-type", "linux", "--page-size", "50", "--manifest", manifest]
        result = run("export", *args, *(x for o in outputs for x in ("-o", o)))
        assert result.exit_code == 0, result.output
        pages = [r for r in server.requests if r.action == "DescribeImages"]
        # Every page of every listing (DescribeZones is no page).
        every = [r.request_id for r in server.requests if r.action != "DescribeZones"]
        side = side_requests(server, 50)
        host = server.endpoint.removeprefix("http://")
    linux = {zone: server.catalog.count(zone, osType="linux") for zone in ZONES}
    document = json.loads(manifest.read_text())
    assert document["files"] == [
        {
            "path": o.name,
            "format": o.suffix[1:],
            "rows": sum(linux.values()),
            "bytes": o.stat().st_size,
            "sha256": hashlib.sha256(o.read_bytes()).hexdigest(),
        }
        for o in outputs
    ]
    assert document["schema"] == ALL_ZONES_DTYPES
    assert len(pages) > len(ZONES)  # several pages in some zones
    assert sorted(document["requestIds"]) == sorted(every)
    assert document["filters"] == {"osType": "linux"}
    assert document["zones"] == list(ZONES)
    assert document["totalCounts"] == linux
    assert document["rows"] == linux
    assert (document["complete"], document["incomplete"], document["warnings"]) == (True, {}, [])
    assert document["requests"] == {
        "DescribeZones": 1,
        "DescribeImages": len(pages),
        **side,
    }
    assert (document["retries"], document["throttled"]) == (0, 0)
    assert document["imgframeVersion"] == imgframe.__version__
    assert document["profiles"] == ["default"]
    assert document["endpoint"] == host
    # Usage was fetched; which instances run unlisted images is only known unfiltered.
    assert (document["usage"], document["unlistedImagesInUse"]) == ("fetched", None)
    assert set(document) == {
        "imgframeVersion", "createdAt", "files", "schema", "requestIds", "filters", "zones",
        "totalCounts", "rows", "complete", "incomplete", "warnings", "fetchedAt", "seconds",
        "requests", "retries", "throttled", "bytesReceived", "profiles", "endpoint", "usage",
        "unlistedImagesInUse",
    }  # fmt: skip


def test_export_manifest_of_a_dataset(api: sandbox.Sandbox, tmp_path: Path) -> None:
    target, manifest = tmp_path / "dataset", tmp_path / "manifest.json"
    result = run("export", "--partition-by", "zoneId", "-o", target, "--manifest", manifest)
    assert result.exit_code == 0, result.output
    parts = sorted(p for p in target.rglob("*") if p.is_file())
    files = json.loads(manifest.read_text())["files"]
    assert files == [
        {
            "path": "dataset",
            "format": "parquet",
            "rows": SMALL_IMAGES,
            "bytes": sum(p.stat().st_size for p in parts),
            "parts": [
                {
                    "path": p.relative_to(target).as_posix(),
                    "bytes": p.stat().st_size,
                    "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                }
                for p in parts
            ],
        }
    ]
    assert [p["path"] for p in files[0]["parts"]][:2] == [
        "_common_metadata",
        f"zoneId={ZONES[0]}/" + files[0]["parts"][1]["path"].split("/")[1],
    ]


# --------------------------------------------------------------------------------------------
# export: CSV formula neutralisation, and --from


def csv_cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_csv_formulas_are_neutralised_unless_asked(tmp_path: Path) -> None:
    source = write_export(fixture_frame(), tmp_path / "fixture.parquet").path
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    assert run("export", "--from", source, "-o", safe).exit_code == 0
    assert run("export", "--from", source, "-o", raw, "--no-neutralize-formulas").exit_code == 0
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    assert [c for c in csv_cells(safe) if c.startswith(dangerous)] == []
    assert {"'=SUM(A1)", "'+1", "'-2", "'@x", "''=already quoted"} <= set(csv_cells(safe))
    assert {"=SUM(A1)", "+1", "-2", "@x", "'=already quoted"} <= set(csv_cells(raw))

    # Read back through --from: the neutralised file by default, the raw one with its flag.
    expected = fixture_frame()
    for csv_file, flags in ((safe, []), (raw, ["--from-raw-formulas"])):
        back = tmp_path / f"back-{csv_file.stem}.parquet"
        assert run("export", "--from", csv_file, *flags, "-o", back).exit_code == 0
        pd.testing.assert_frame_equal(read_export(back), expected)
    # Without the flag, a raw file's "'=..." value loses its quote: why the flag exists.
    wrong = tmp_path / "wrong.parquet"
    assert run("export", "--from", raw, "-o", wrong).exit_code == 0
    assert "=already quoted" in set(read_export(wrong)["imageName"].dropna())


# --------------------------------------------------------------------------------------------
# summary


SUMMARY_BY_CATEGORY = """\
category   images  sizeGiB
---------  ------  -------
Ubuntu        103     4600
Windows        38     2020
Debian         35     1490
Rocky          24      610
AlmaLinux      20      460
CentOS         19      610
FreeBSD        16      340
Alpine         10      100
Fedora          9      200
Generic         8      160
openSUSE        7      140
ArchLinux       6      120
OTHERS          3       92
Gentoo          2       40
"""

SUMMARY_BY_OS_TYPE = {
    "csv": "osType,images,sizeGiB\nlinux,245,8590\nwindows,38,2020\nbsd,16,340\nandroid,1,32\n",
    "markdown": """\
| osType | images | sizeGiB |
| --- | ---: | ---: |
| linux | 245 | 8590 |
| windows | 38 | 2020 |
| bsd | 16 | 340 |
| android | 1 | 32 |
""",
}

SUMMARY_BY_TYPE_AND_STATUS = """\
imageType     imageStatus  images  sizeGiB
------------  -----------  ------  -------
PUBLIC_IMAGE  AVAILABLE       161     3522
CUSTOM_IMAGE  AVAILABLE       110     6790
CUSTOM_IMAGE  SYNCING           9      310
CUSTOM_IMAGE  CREATING          6        0
CUSTOM_IMAGE  DELETING          5      130
CUSTOM_IMAGE  UNAVAILABLE       3      100
CUSTOM_IMAGE  FAILED            2        0
CUSTOM_IMAGE  PROCESSING        2       90
PUBLIC_IMAGE  UNAVAILABLE       2       40
"""


def test_summary_table() -> None:
    result = run(*SANDBOX, "summary")
    assert (result.exit_code, result.stdout, result.stderr) == (0, SUMMARY_BY_CATEGORY, "")


@pytest.mark.parametrize("fmt", ["csv", "markdown", "json"])
def test_summary_formats(api: sandbox.Sandbox, fmt: str) -> None:
    result = run("summary", "--by", "osType", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.stdout) == [
            {"osType": "linux", "images": 245, "sizeGiB": 8590},
            {"osType": "windows", "images": 38, "sizeGiB": 2020},
            {"osType": "bsd", "images": 16, "sizeGiB": 340},
            {"osType": "android", "images": 1, "sizeGiB": 32},
        ]
    else:
        assert result.stdout == SUMMARY_BY_OS_TYPE[fmt]


@pytest.mark.parametrize(
    "by", [["--by", "imageType,imageStatus"], ["--by", "imageType", "--by", "imageStatus"]]
)
def test_summary_by_several_columns(api: sandbox.Sandbox, by: list[str]) -> None:
    result = run("summary", *by)
    assert (result.exit_code, result.stdout) == (0, SUMMARY_BY_TYPE_AND_STATUS)


@pytest.mark.parametrize("name", ["images.parquet", "images.csv", "images.jsonl", "dataset"])
def test_summary_from_an_export_matches_the_api(
    api: sandbox.Sandbox, tmp_path: Path, name: str
) -> None:
    target = tmp_path / name
    partition = ["--partition-by", "zoneId"] if name == "dataset" else []
    assert run("export", *partition, "-o", target).exit_code == 0
    api.clear_requests()
    result = run("summary", "--from", target)
    assert (result.exit_code, result.stdout) == (0, SUMMARY_BY_CATEGORY)
    assert api.requests == []  # --from needs no API (and no credentials)


# --------------------------------------------------------------------------------------------
# charts and report


def chart_bytes(path: Path) -> bytes:
    """A chart file's bytes; matplotlib's SVG element ids are random, so they are masked."""
    data = path.read_bytes()
    return re.sub(rb"\b[mp][0-9a-f]{10}\b", b"<id>", data) if path.suffix == ".svg" else data


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_charts_are_named_after_what_they_show(
    api: sandbox.Sandbox, fetched: pd.DataFrame, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "charts"
    for _ in range(2):  # once more if the run straddled a minute (the footer's precision)
        started = datetime.now(UTC).replace(second=0, microsecond=0)
        result = run("charts", "-o", out, "--format", fmt)
        if datetime.now(UTC).replace(second=0, microsecond=0) == started:
            break
    assert result.exit_code == 0, result.output
    names = ["category", "osType", "imageStatus", "zone"]
    assert result.stdout.splitlines() == [str(out / f"images_by_{n}.{fmt}") for n in names]
    # The same bytes the library draws from the same data (fetched in the same minute: the
    # footer says when).
    stamp = pd.Series(started, index=fetched.index, dtype=fetched["fetchedAt"].dtype)
    same_minute = fetched.assign(fetchedAt=stamp)
    library = save_charts(summary_charts(same_minute), tmp_path / "library", format=fmt)
    assert {p.name: chart_bytes(p) for p in out.iterdir()} == {
        p.name: chart_bytes(p) for p in library
    }
    start = b"\x89PNG\r\n\x1a\n" if fmt == "png" else b"<?xml"
    assert all(p.read_bytes().startswith(start) for p in out.iterdir())


def test_charts_of_one_zone_have_no_zone_chart(api: sandbox.Sandbox, tmp_path: Path) -> None:
    result = run("charts", "--zone-id", "eu-west-1a", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "images_by_category.png", "images_by_imageStatus.png", "images_by_osType.png",
    ]  # fmt: skip


@pytest.mark.parametrize(("command", "option"), [("charts", "-o"), ("report", "-o"),
                                                 ("snapshot", "--store")])  # fmt: skip
def test_an_output_directory_that_is_a_file_is_a_usage_error_before_any_request(
    api: sandbox.Sandbox, tmp_path: Path, command: str, option: str
) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me\n")
    api.clear_requests()
    result = run(command, option, taken)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '{option}': {taken} is a file, not a directory"
    )
    assert taken.read_text() == "keep me\n"
    assert api.requests == []


def markdown_section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start + 1 : end]


def test_report_headline_figures_match_the_data(api: sandbox.Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["--require-tag", "owner", "--max-rows", "5", "-o", out]
    result = run("report", *args)
    assert result.exit_code == 0, result.output
    html, md = out / "inventory-report.html", out / "inventory-report.md"
    assert result.stdout == f"{html}\n{md}\n"
    text = md.read_text()
    lines = text.splitlines()
    row = lines.index(
        "| Images | Zones | Public | Custom | Available | Not available | Total size (GiB) |"
    )
    # Counted from the catalog: 163 public images, 271 AVAILABLE, sizes summing to 10,982 GiB;
    # 40 custom images without tags, 92 without an owner tag.
    assert lines[row + 2] == "| 300 | 8 | 163 | 137 | 271 | 29 | 10,982 |"
    assert "### Custom images without tags: 40" in lines
    assert "### Images not available: 29" in lines
    assert "### Custom images missing required tags: 92" in lines
    assert f"_{SMALL_IMAGES - 5:,} more rows not shown._" in markdown_section(text, "## Images")
    page = html.read_text()
    assert f'<div class="value">{SMALL_IMAGES}</div><div class="label">Images</div>' in page
    assert page.count('<svg role="img"') == 4  # status, zone, category, OS type: inline SVG


def test_report_default_directory(
    api: sandbox.Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("report", "--zone-id", "eu-west-1a")
    assert result.exit_code == 0, result.output
    assert result.stdout == "reports/inventory-report.html\nreports/inventory-report.md\n"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "inventory-report.html", "inventory-report.md",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# snapshot and diff over two sandbox days


def catalog_by_key(catalog: sandbox.Catalog) -> dict[tuple[str, str], dict[str, Any]]:
    """Every image of ``catalog`` by (zoneId, imageId)."""
    return {(z, r["imageId"]): r for z in catalog.zone_ids for r in catalog.images(z)}


def cell_text(record: dict[str, Any], field: str) -> str | None:
    """A field as ``imgframe diff`` shows it: text, JSON for lists, no tags as ``[]``."""
    value = record.get(field)
    if field == "tags":
        return json.dumps((value or {}).get("tags") or [])
    if isinstance(value, list):
        return json.dumps(value)
    return None if value is None else str(value)


def test_snapshot_diff_and_report_over_two_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    with sandbox.running(images=400, seed=11, day=0) as server:
        use_sandbox(monkeypatch, server)
        first = run("snapshot", "--store", store, "--date", "2026-01-01")
        server.set_day(1)
        second = run("snapshot", "--store", store, "--date", "2026-01-02")
        report = run("report", "--store", store, "-o", tmp_path / "report")
    assert (first.exit_code, second.exit_code, report.exit_code) == (0, 0, 0)
    assert first.stdout == f"{store / 'snapshot_date=2026-01-01'}\n"
    assert first.stderr == "snapshot 2026-01-01: 400 images in 8 zones\n"
    assert second.stderr == "snapshot 2026-01-02: 399 images in 8 zones\n"

    # What changed overnight, from the catalog itself: every (zone, image, field, old, new).
    day0, day1 = (catalog_by_key(sandbox.Catalog(images=400, seed=11, day=d)) for d in (0, 1))
    added, removed = sorted(day1.keys() - day0.keys()), sorted(day0.keys() - day1.keys())
    changed = sorted(
        (*key, field, cell_text(day0[key], field), cell_text(day1[key], field))
        for key in day0.keys() & day1.keys()
        for field in sorted(day0[key].keys() | day1[key].keys())
        if day0[key].get(field) != day1[key].get(field)
    )
    assert (len(added), len(removed), len({c[:2] for c in changed}), len(changed)) == (2, 3, 24, 34)
    line = "2026-01-01 -> 2026-01-02: 2 added, 3 removed, 24 changed (34 fields), 373 unchanged"

    table = run("diff", "--store", store, "-o", tmp_path / "changes.parquet")
    assert table.exit_code == 0, table.output
    out = table.stdout.splitlines()
    assert out[:2] == [line, ""]
    assert len(out) == 2 + 2 + 39  # the line, a blank, the table's header and rule, rows
    assert out[2].split() == ["profile", "zoneId", "imageId", "change", "field", "old", "new"]
    assert table.stderr == f"wrote 39 changes to {tmp_path / 'changes.parquet'}\n"
    rows = plain_rows(read_export(tmp_path / "changes.parquet"))
    assert list(rows[0]) == ["profile", "zoneId", "imageId", "change", "field", "old", "new"]
    assert {r["profile"] for r in rows} == {"default"}
    by_change = {kind: [r for r in rows if r["change"] == kind] for kind in ("added", "removed")}
    assert sorted((r["zoneId"], r["imageId"]) for r in by_change["added"]) == added
    assert sorted((r["zoneId"], r["imageId"]) for r in by_change["removed"]) == removed
    assert (
        sorted(
            (r["zoneId"], r["imageId"], r["field"], r["old"], r["new"])
            for r in rows
            if r["change"] == "changed"
        )
        == changed
    )

    explicit = run("diff", "--store", store, "--from", "2026-01-01", "--to", "2026-01-02")
    assert explicit.stdout == table.stdout
    as_json = run("diff", "--store", store, "--format", "json")
    assert json.loads(as_json.stdout) == rows
    assert as_json.stderr == line + "\n"
    reverse = run("-q", "diff", "--store", store, "--from", "2026-01-02", "--to", "2026-01-01")
    assert reverse.stdout.splitlines()[0] == (
        "2026-01-02 -> 2026-01-01: 3 added, 2 removed, 24 changed (34 fields), 373 unchanged"
    )

    text = (tmp_path / "report" / "inventory-report.md").read_text()
    changes = markdown_section(text, "## Changes since the previous snapshot")
    assert "### Added (2)" in changes
    assert "### Removed (3)" in changes
    trend = markdown_section(text, "## Trend")
    assert sum(1 for t in trend if t.startswith("| 2026-01-0")) == 2


def test_snapshot_date_defaults_to_the_fetch_day(api: sandbox.Sandbox, tmp_path: Path) -> None:
    result = run("snapshot", "--store", tmp_path, "--zone-id", "eu-west-1a")
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC).date()
    assert result.stdout == f"{tmp_path / f'snapshot_date={today}'}\n"
    assert imgframe.list_snapshots(tmp_path) == [today]


def test_diff_needs_two_snapshots(api: sandbox.Sandbox, tmp_path: Path) -> None:
    assert run("snapshot", "--store", tmp_path, "--date", "2026-01-01").exit_code == 0
    result = run("diff", "--store", tmp_path)
    assert result.exit_code == 1
    assert error_line(result).startswith(
        f"diff_store needs two snapshots to compare; {tmp_path} has 1 (2026-01-01)."
    )
    result = run("diff", "--store", tmp_path, "--to", "2026-01-01", "--from", "2025-12-31")
    assert result.exit_code == 1
    assert error_line(result) == (
        f"no snapshot dated {date(2025, 12, 31)} (from_date) in {tmp_path}; it has 2026-01-01"
    )


@pytest.mark.parametrize(
    ("option", "command"),
    [("--manifest", "export"), ("--metrics-file", "export"), ("-o", "diff")],
)
def test_a_file_option_naming_a_directory_is_a_usage_error_before_any_work(
    api: sandbox.Sandbox, tmp_path: Path, option: str, command: str
) -> None:
    store = tmp_path / "store"
    for day in ("2026-01-01", "2026-01-02"):
        assert run("snapshot", "--store", store, "--date", day).exit_code == 0
    taken = tmp_path / "taken"
    taken.mkdir()
    api.clear_requests()
    if command == "export":
        result = run("export", "-o", tmp_path / "x.csv", option, taken)
    else:
        result = run("diff", "--store", store, option, taken)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '{option}': {taken} is a directory, not a file"
    )
    assert api.requests == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store", "taken"]


def test_diff_output_of_no_known_format_fails_before_printing_the_diff(
    api: sandbox.Sandbox, tmp_path: Path
) -> None:
    for day in ("2026-01-01", "2026-01-02"):
        assert run("snapshot", "--store", tmp_path, "--date", day).exit_code == 0
    result = run("diff", "--store", tmp_path, "-o", tmp_path / "changes.txt")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert error_line(result) == (
        "cannot tell the export format of 'changes.txt' from its suffix; use .parquet, .csv, "
        ".csv.gz, .jsonl or .xlsx, or pass format="
    )


# --------------------------------------------------------------------------------------------
# Logs, progress, quiet


def test_quiet_prints_nothing_at_all_on_success(api: sandbox.Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    loud = run("export", "--page-size", "20", "-o", target)
    assert loud.stdout == f"{target}\n"
    assert len(loud.stderr.splitlines()) == 1  # the summary line; no progress bar off a TTY
    quiet = run("--quiet", "export", "--page-size", "20", "--mode", "overwrite", "-o", target)
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    assert target.read_bytes() == tmp_path.joinpath("x.csv").read_bytes()
    for args in (["charts", "-o", tmp_path / "c"], ["report", "-o", tmp_path / "r"],
                 ["snapshot", "--store", tmp_path / "s"]):  # fmt: skip
        done = run("--quiet", *args)
        assert (done.exit_code, done.stdout, done.stderr) == (0, "", ""), args


def test_info_logs_go_to_stderr(api: sandbox.Sandbox, tmp_path: Path) -> None:
    result = run("--log-level", "info", "summary", "--zone-id", "eu-west-1a", "--by", "osType")
    assert result.exit_code == 0
    assert result.stdout == (
        "osType   images  sizeGiB\n"
        "-------  ------  -------\n"
        "linux        33     1240\n"
        "windows       3      120\n"
        "bsd           2       40\n"
    )
    custom = len(api.catalog.custom_images())
    fleet = len(api.catalog.instances(zoneId="eu-west-1a"))
    logged = sorted(re.sub(r"in \d+\.\d\ds$", "in Ns", line) for line in result.stderr.splitlines())
    assert logged == sorted(
        [
            "INFO imgframe.client: fetched 38 images from 1 zone(s) in Ns",
            f"INFO imgframe.client: fetched {custom} custom images from the account in Ns",
            f"INFO imgframe.client: fetched {fleet} instances from 1 zone(s) in Ns",
        ]
    )


def stderr_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run ``imgframe <args>`` in a child process whose stderr is a terminal (a pty)."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    # A new pty is 0 columns wide, and tqdm draws nothing in no room: make it 100 x 24.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    command = [sys.executable, "-c", "from imgframe.cli import main; main()", *args]
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=follower, env={**os.environ, **env}
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=30) == 0
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_unless_quiet(small: sandbox.Sandbox, tmp_path: Path) -> None:
    env = {
        "ZENLAYER_ENDPOINT": small.endpoint,
        "ZENLAYER_ACCESS_KEY_ID": small.access_key_id,
        "ZENLAYER_ACCESS_KEY_SECRET": small.access_key_secret,
    }
    target = tmp_path / "x.parquet"
    shown = stderr_on_a_terminal(["export", "--page-size", "10", "-o", str(target)], env)
    # The bar says what it fetches and counts images: 300 in the sandbox's 8 zones.
    assert re.search(r"DescribeImages, 8 zones: 100%\|[█ ]+\| 300/300 \[[^]]* image/s\]", shown)
    assert "exported 300 rows to 1 file" in shown
    quiet = ["--quiet", "export", "--page-size", "10", "--mode", "overwrite", "-o", str(target)]
    assert stderr_on_a_terminal(quiet, env) == ""


def test_profile_from_the_official_cli_credentials_file(
    small: sandbox.Sandbox, tmp_path: Path
) -> None:
    home = Path(os.environ["HOME"])  # a temporary home (see conftest)
    (home / ".zenlayer").mkdir(parents=True)
    profile = {"access_key_id": small.access_key_id, "access_key_secret": small.access_key_secret}
    (home / ".zenlayer" / "credentials.json").write_text(json.dumps({"cli-test": profile}))
    result = run("--profile", "cli-test", "--endpoint", small.endpoint, "zones")
    assert (result.exit_code, result.stdout) == (0, ZONES_TABLE)
    missing = run("--profile", "nobody", "--endpoint", small.endpoint, "zones")
    assert missing.exit_code == 1
    assert error_line(missing) == (
        f"profile 'nobody' (argument) is not in {home / '.zenlayer' / 'credentials.json'}"
    )


def test_export_verify_pages_twice_and_agrees(api: sandbox.Sandbox, tmp_path: Path) -> None:
    zone = max(ZONES, key=lambda z: len(api.catalog.images(z)))
    pages = -(-len(api.catalog.images(zone)) // 10)
    target = tmp_path / "v.parquet"
    result = run("export", "--zone-id", zone, "--page-size", "10", "--verify", "-o", target)
    assert result.exit_code == 0, result.output
    described = [r for r in api.requests if r.action == "DescribeImages"]
    assert len(described) == 2 * pages
    assert read_export(target)["imageId"].tolist() == [
        r["imageId"] for r in api.catalog.images(zone)
    ]
