"""The inventory against the sandbox's ground truth: images joined with the account's custom
images and instance fleet, one account or several (profiles of the official CLI's
credentials file), permission-denied usage, failed profiles, and the CLI on top."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import imgframe
from imgframe import sandbox
from imgframe.cli import cli
from imgframe.errors import AuthError, CredentialsError, InvalidArgument
from imgframe.inventory import INVENTORY_COLUMNS, UsageWarning
from imgframe.sandbox import Account

from .helpers import FAST_RETRY, INVENTORY_DTYPES, client_kwargs, inventory_rows, plain_rows

ZONE = "asia-east-1a"

PROD = Account("prod", "AKPROD0000000001", "prod-secret-7f3a9c1e", seed=21)
DEV = Account("dev", "AKDEV00000000002", "dev-secret-0b44d2aa", seed=22)
#: An account whose key may list images but not instances.
OPS = Account(
    "ops", "AKOPS00000000003", "ops-secret-5e9c0d11", seed=23, denied_actions={"DescribeInstances"}
)


@pytest.fixture(scope="module")
def server() -> Iterator[sandbox.Sandbox]:
    """The demo account and three more, each with its own catalog and fleet."""
    with sandbox.running(images=300, seed=7, accounts=[PROD, DEV, OPS]) as running:
        yield running


@pytest.fixture
def demo(server: sandbox.Sandbox) -> Iterator[imgframe.Client]:
    server.clear_requests()
    with imgframe.Client(**client_kwargs(server)) as client:
        yield client


def no_fetched_at(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="fetchedAt")


def write_profiles(profiles: dict[str, Account | dict[str, str]]) -> Path:
    """Write ``~/.zenlayer/credentials.json`` (HOME is a temporary directory, see conftest)."""
    entries = {
        name: (
            {"access_key_id": a.access_key_id, "access_key_secret": a.access_key_secret}
            if isinstance(a, Account)
            else a
        )
        for name, a in profiles.items()
    }
    path = Path(os.environ["HOME"]) / ".zenlayer" / "credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries))
    return path


def catalog_of(server: sandbox.Sandbox, name: str) -> sandbox.Catalog:
    catalog = server.account(name).catalog
    assert catalog is not None
    return catalog


def pages(records: int, page_size: int = 1000) -> int:
    return max(1, -(-records // page_size))


# --------------------------------------------------------------------------------------------
# One account


def test_one_zone_is_the_catalog_joined_with_custom_images_and_the_fleet(
    server: sandbox.Sandbox, demo: imgframe.Client
) -> None:
    frame = imgframe.fetch_inventory(ZONE, client=demo)
    assert {c: str(t) for c, t in frame.dtypes.items()} == INVENTORY_DTYPES
    assert tuple(frame.columns) == INVENTORY_COLUMNS
    expected = inventory_rows(server.catalog, [ZONE])
    assert plain_rows(no_fetched_at(frame)) == expected
    # The sandbox's zone has custom images held in resource groups, and images in use.
    assert sum(r["resourceGroupId"] is not None for r in expected) == 13
    assert sum(r["instanceCount"] for r in expected) == 8
    record = frame.attrs["imgframe"]
    assert (record["profiles"], record["usage"], record["complete"]) == (
        ["default"],
        "fetched",
        True,
    )
    assert record["endpoint"] == server.endpoint.removeprefix("http://")
    # Instances of that zone only; custom images of the whole account (who holds them).
    assert Counter(r.action for r in server.requests) == {
        "DescribeZones": 1,
        "DescribeImages": 1,
        "DescribeCustomImages": 1,
        "DescribeInstances": 1,
    }
    assert record["requests"] == Counter(r.action for r in server.requests)
    instances = [r for r in server.requests if r.action == "DescribeInstances"]
    assert instances[0].body == {"zoneId": ZONE, "pageNum": 1, "pageSize": 1000}
    custom = [r for r in server.requests if r.action == "DescribeCustomImages"]
    assert custom[0].body == {"pageNum": 1, "pageSize": 1000}


def test_every_zone_counts_instances_of_images_no_zone_lists_any_more(
    server: sandbox.Sandbox, demo: imgframe.Client
) -> None:
    frame = imgframe.fetch_inventory(client=demo, page_size=40)
    catalog = server.catalog
    assert plain_rows(no_fetched_at(frame)) == inventory_rows(catalog)
    listed = {(z, r["imageId"]) for z in catalog.zone_ids for r in catalog.images(z)}
    gone = sorted((k, n) for k, n in catalog.usage().items() if k not in listed)
    assert gone == [(("na-west-1a", "img-e51dae7f0d6c8c30"), 1)]  # a deleted image, still run
    assert frame.attrs["imgframe"]["unlistedImagesInUse"] == [
        {"zoneId": "na-west-1a", "imageId": "img-e51dae7f0d6c8c30", "instances": 1}
    ]
    # The instances of every zone come in one account-wide listing, paged like the rest.
    fleet, held = len(catalog.instances()), len(catalog.custom_images())
    assert (fleet, held) == (60, 137)
    assert Counter(r.action for r in server.requests) == {
        "DescribeZones": 1,
        "DescribeImages": sum(pages(len(catalog.images(z)), 40) for z in catalog.zone_ids),
        "DescribeCustomImages": pages(held, 40),
        "DescribeInstances": pages(fleet, 40),
    }
    assert all("zoneId" not in r.body for r in server.requests if r.action == "DescribeInstances")


def test_image_filters_narrow_the_images_not_who_holds_them(
    server: sandbox.Sandbox, demo: imgframe.Client
) -> None:
    frame = imgframe.fetch_inventory(client=demo, os_type="windows", image_type="CUSTOM_IMAGE")
    expected = inventory_rows(server.catalog, osType="windows", imageType="CUSTOM_IMAGE")
    assert len(expected) == 22
    assert plain_rows(no_fetched_at(frame)) == expected
    assert all(r["resourceGroupName"] is not None for r in expected)
    # With images filtered out, "not listed" is no longer "gone": not reported.
    assert frame.attrs["imgframe"]["unlistedImagesInUse"] is None
    bodies = [r.body for r in server.requests if r.action == "DescribeCustomImages"]
    assert bodies == [{"pageNum": 1, "pageSize": 1000}]


def test_without_usage_no_instances_are_listed_and_counts_are_na(
    server: sandbox.Sandbox, demo: imgframe.Client
) -> None:
    frame = imgframe.fetch_inventory(ZONE, client=demo, usage=False)
    assert tuple(frame.columns) == INVENTORY_COLUMNS
    assert str(frame["instanceCount"].dtype) == "Int64"
    assert frame["instanceCount"].isna().all()
    assert len(frame) == len(server.catalog.images(ZONE))
    assert frame.attrs["imgframe"]["usage"] == "skipped"
    assert "DescribeInstances" not in {r.action for r in server.requests}


def test_a_key_denied_describe_instances_warns_and_keeps_the_images(
    server: sandbox.Sandbox,
) -> None:
    with (
        imgframe.Client(
            endpoint=server.endpoint,
            access_key_id=OPS.access_key_id,
            access_key_secret=OPS.access_key_secret,
            retry=FAST_RETRY,
        ) as client,
        pytest.warns(UsageWarning) as caught,
    ):
        frame = imgframe.fetch_inventory(ZONE, client=client)
    message = "usage not fetched: this key may not call DescribeInstances; instanceCount is NA"
    assert [str(w.message) for w in caught] == [message]
    truth = inventory_rows(catalog_of(server, "ops"), [ZONE])
    assert plain_rows(no_fetched_at(frame)) == [{**r, "instanceCount": None} for r in truth]
    record = frame.attrs["imgframe"]
    assert (record["usage"], record["warnings"], record["complete"]) == (
        "not permitted",
        [message],
        True,
    )
    denied = [r for r in server.requests if r.action == "DescribeInstances"]
    assert [r.status for r in denied][-1:] == [403]  # asked once: a 403 is never retried


# --------------------------------------------------------------------------------------------
# Several accounts


def test_two_profiles_in_one_frame_each_row_carrying_its_profile(
    server: sandbox.Sandbox,
) -> None:
    write_profiles({"prod": PROD, "dev": DEV})
    server.clear_requests()
    connection: imgframe.ConnectionArgs = {"endpoint": server.endpoint, "retry": FAST_RETRY}
    frame = imgframe.fetch_inventory(ZONE, profiles=["prod", "dev"], connection=connection)
    assert {c: str(t) for c, t in frame.dtypes.items()} == INVENTORY_DTYPES
    prod = inventory_rows(catalog_of(server, "prod"), [ZONE], profile="prod")
    dev = inventory_rows(catalog_of(server, "dev"), [ZONE], profile="dev")
    assert plain_rows(no_fetched_at(frame)) == prod + dev
    # Public images share ids across accounts: the key is (profile, zoneId, imageId).
    shared = {r["imageId"] for r in prod} & {r["imageId"] for r in dev}
    assert len(shared) == 20
    assert not frame.duplicated(["profile", "zoneId", "imageId"]).any()
    assert frame["profile"].cat.categories.tolist() == ["prod", "dev"]  # as asked

    record = frame.attrs["imgframe"]
    assert (record["profiles"], record["failedProfiles"], record["complete"]) == (
        ["prod", "dev"],
        {},
        True,
    )
    asked = Counter((r.account, r.action) for r in server.requests)
    assert asked == {
        (name, action): 1
        for name in ("prod", "dev")
        for action in (
            "DescribeZones",
            "DescribeImages",
            "DescribeCustomImages",
            "DescribeInstances",
        )
    }
    assert record["requests"] == {
        "DescribeZones": 2,
        "DescribeImages": 2,
        "DescribeCustomImages": 2,
        "DescribeInstances": 2,
    }
    assert set(record["perProfile"]) == {"prod", "dev"}
    assert record["rows"] == {f"prod/{ZONE}": len(prod), f"dev/{ZONE}": len(dev)}


def test_all_profiles_reads_every_profile_of_the_file_in_file_order(
    server: sandbox.Sandbox,
) -> None:
    write_profiles({"dev": DEV, "prod": PROD})
    connection: imgframe.ConnectionArgs = {"endpoint": server.endpoint, "retry": FAST_RETRY}
    frame = imgframe.fetch_inventory(ZONE, profiles="all", connection=connection, usage=False)
    assert frame["profile"].astype(str).drop_duplicates().tolist() == ["dev", "prod"]
    assert frame.attrs["imgframe"]["profiles"] == ["dev", "prod"]
    assert len(frame) == sum(len(catalog_of(server, n).images(ZONE)) for n in ("dev", "prod"))


def test_a_failing_profile_fails_the_run_naming_it_unless_partial_is_allowed(
    server: sandbox.Sandbox,
) -> None:
    wrong = {"access_key_id": PROD.access_key_id, "access_key_secret": "not-the-secret"}
    write_profiles({"prod": PROD, "broken": wrong})
    connection: imgframe.ConnectionArgs = {"endpoint": server.endpoint, "retry": FAST_RETRY}
    with pytest.raises(AuthError) as failed:
        imgframe.fetch_inventory(ZONE, profiles=["prod", "broken"], connection=connection)
    assert str(failed.value).startswith("profile broken: ")
    assert "not-the-secret" not in str(failed.value)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = imgframe.fetch_inventory(
            ZONE, profiles=["prod", "broken"], connection=connection, allow_partial=True
        )
    prod = inventory_rows(catalog_of(server, "prod"), [ZONE], profile="prod")
    assert plain_rows(no_fetched_at(frame)) == prod
    record = frame.attrs["imgframe"]
    assert list(record["failedProfiles"]) == ["broken"]
    assert re.match(
        r"Describe\w+ failed: AUTHFAILURE_SIGNATURE_FAILURE \(HTTP 401\)",
        record["failedProfiles"]["broken"],
    )
    assert record["complete"] is False
    assert record["warnings"] == [f"profile broken failed: {record['failedProfiles']['broken']}"]


def test_profiles_must_name_something(server: sandbox.Sandbox) -> None:
    with pytest.raises(InvalidArgument) as empty:
        imgframe.fetch_inventory(profiles=[])
    assert str(empty.value) == "profiles is empty; give profile names or 'all'"
    with pytest.raises(CredentialsError) as none:
        imgframe.fetch_inventory(profiles="all")
    home = Path(os.environ["HOME"])
    assert (
        str(none.value) == f"no profiles: {home / '.zenlayer' / 'credentials.json'} does not exist"
    )


# --------------------------------------------------------------------------------------------
# The CLI


def run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_exports_several_profiles_and_names_the_failed_one(
    server: sandbox.Sandbox, tmp_path: Path
) -> None:
    wrong = {"access_key_id": DEV.access_key_id, "access_key_secret": "wrong-secret-1234"}
    write_profiles({"prod": PROD, "dev": DEV, "broken": wrong})
    target = tmp_path / "inventory.parquet"
    common = ["--endpoint", server.endpoint]
    both = run(*common, "--profile", "prod,dev", "export", "--zone-id", ZONE, "-o", target)
    assert both.exit_code == 0, both.output
    rows = plain_rows(no_fetched_at(pd.read_parquet(target, dtype_backend="pyarrow")))
    assert [(r["profile"], r["imageId"]) for r in rows] == [
        (r["profile"], r["imageId"])
        for name in ("prod", "dev")
        for r in inventory_rows(catalog_of(server, name), [ZONE], profile=name)
    ]

    before = target.read_bytes()
    failed = run(
        *common, "--all-profiles", "export", "--zone-id", ZONE, "-o", target, "--mode", "overwrite"
    )
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[-1].startswith("imgframe: error: profile broken: ")
    assert target.read_bytes() == before  # nothing lost
    partial = run(
        *common, "--all-profiles", "export", "--zone-id", ZONE, "-o", target,
        "--mode", "overwrite", "--allow-partial",
    )  # fmt: skip
    assert partial.exit_code == 5
    last = partial.stderr.splitlines()[-1]
    assert last.startswith("imgframe: error: profile(s) failed, the others were written: broken: ")
    written = pd.read_parquet(target)
    assert written["profile"].astype(str).drop_duplicates().tolist() == ["prod", "dev"]
    for output in (both, failed, partial):
        for secret in ("wrong-secret-1234", PROD.access_key_secret, DEV.access_key_secret):
            assert secret not in output.output


def test_cli_profile_options_clash_with_each_other_and_the_sandbox() -> None:
    both = run("--profile", "a", "--all-profiles", "zones")
    assert both.exit_code == 2
    assert "--profile and --all-profiles cannot be used together" in both.stderr
    sandboxed = run("--sandbox", "--all-profiles", "zones")
    assert sandboxed.exit_code == 2
    assert "--sandbox cannot be combined with --all-profiles" in sandboxed.stderr


def test_cli_summary_by_tag_value_counts_untagged_images_as_their_own_group(
    server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_ID", server.access_key_id)
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", server.access_key_secret)
    result = run("--endpoint", server.endpoint, "summary", "--by", "tag:team", "--format", "json")
    assert result.exit_code == 0, result.output
    groups: dict[str, list[int]] = {}
    for zone in server.catalog.zone_ids:
        for image in server.catalog.images(zone):
            pairs = (image.get("tags") or {}).get("tags") or []
            team = next((t["value"] for t in reversed(pairs) if t["key"] == "team"), "(untagged)")
            group = groups.setdefault(team, [0, 0])
            group[0] += 1
            group[1] += int(image.get("imageSize") or 0)
    expected = [
        {"tag:team": team, "images": n, "sizeGiB": size}
        for team, (n, size) in sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    assert expected[0] == {"tag:team": "(untagged)", "images": 223, "sizeGiB": 6542}
    assert json.loads(result.stdout) == expected


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ("tag:", "summarize: 'tag:' names no tag key; use tag:KEY"),
        ("owner", "summarize: no column(s) owner; the frame has " + ", ".join(INVENTORY_COLUMNS)),
        ("regionIdList", "summarize: cannot group by list column 'regionIdList'"),
        ("profile,profile", "summarize: `by` names a column twice: profile, profile"),
    ],
)
def test_cli_summary_checks_by_before_any_request(
    server: sandbox.Sandbox, by: str, message: str
) -> None:
    server.clear_requests()
    result = run("--endpoint", server.endpoint, "summary", "--by", by)
    assert (result.exit_code, result.stderr) == (2, f"imgframe: error: {message}\n")
    assert server.requests == []


def test_cli_summary_by_the_inventory_columns(
    server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profiles({"prod": PROD, "dev": DEV})
    args = ["--endpoint", server.endpoint, "--profile", "prod,dev", "summary", "--zone-id", ZONE]
    result = run(*args, "--by", "profile,resourceGroupName", "--format", "json")
    assert result.exit_code == 0, result.output
    counts: Counter[tuple[str, str]] = Counter()
    for name in ("prod", "dev"):
        for row in inventory_rows(catalog_of(server, name), [ZONE], profile=name):
            counts[(name, row["resourceGroupName"] or "(none)")] += 1
    got = {(r["profile"], r["resourceGroupName"]): r["images"] for r in json.loads(result.stdout)}
    assert got == dict(counts)
    assert len(got) == 10


def test_cli_manifest_records_usage_and_instances_of_deleted_images(
    server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_ID", server.access_key_id)
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", server.access_key_secret)
    manifest = tmp_path / "manifest.json"
    target = tmp_path / "x.parquet"
    args = ["--endpoint", server.endpoint, "export", "-o", target, "--manifest", manifest]
    result = run(*args)
    assert result.exit_code == 0, result.output
    document = json.loads(manifest.read_text())
    assert (document["usage"], document["profiles"]) == ("fetched", ["default"])
    assert document["unlistedImagesInUse"] == [
        {"zoneId": "na-west-1a", "imageId": "img-e51dae7f0d6c8c30", "instances": 1}
    ]
    no_usage = run(*args, "--mode", "overwrite", "--no-usage")
    assert no_usage.exit_code == 0, no_usage.output
    document = json.loads(manifest.read_text())
    assert (document["usage"], document["unlistedImagesInUse"]) == ("skipped", None)
    assert "DescribeInstances" not in document["requests"]


# --------------------------------------------------------------------------------------------
# Diffs of inventories


def test_a_diff_of_two_days_reports_images_becoming_unused_not_every_count_change() -> None:
    with (
        sandbox.running(images=1000, seed=7) as two_days,
        imgframe.Client(**client_kwargs(two_days)) as client,
    ):
        day0 = imgframe.fetch_inventory(client=client, progress=False)
        two_days.set_day(1)
        day1 = imgframe.fetch_inventory(client=client, progress=False)
    truth = [
        {(r["zoneId"], r["imageId"]): r["instanceCount"] for r in inventory_rows(
            sandbox.Catalog(images=1000, seed=7, day=d))}
        for d in (0, 1)
    ]  # fmt: skip
    both = truth[0].keys() & truth[1].keys()
    moved = sorted(k for k in both if truth[0][k] != truth[1][k])
    flipped = sorted(k for k in moved if (truth[0][k] > 0) != (truth[1][k] > 0))
    assert (len(moved), len(flipped)) == (5, 2)  # the catalog's day: 5 counts move, 2 flip
    diff = imgframe.diff_snapshots(day0, day1)
    assert diff.key == ("profile", "zoneId", "imageId")
    usage = diff.changed[diff.changed["field"] == "instanceCount"]
    assert sorted(zip(usage["zoneId"], usage["imageId"], strict=True)) == flipped
    assert sorted(zip(usage["old"], usage["new"], strict=True)) == sorted(
        (str(truth[0][k]), str(truth[1][k])) for k in flipped
    )


def test_a_diff_names_the_resource_group_an_image_moved_to_and_its_first_use(
    server: sandbox.Sandbox, demo: imgframe.Client
) -> None:
    before = imgframe.fetch_inventory(ZONE, client=demo, progress=False)
    after = before.copy()
    unused = after.index[after["resourceGroupName"].notna() & (after["instanceCount"] == 0)]
    held = unused[0]
    image, old_id, old_group = after.loc[held, ["imageId", "resourceGroupId", "resourceGroupName"]]
    after.loc[held, ["resourceGroupId", "resourceGroupName"]] = ["rg-moved", "Payments"]
    after.loc[held, "instanceCount"] = 7
    used = after.index[after["instanceCount"] > 0][0]
    after.loc[used, "instanceCount"] = after.at[used, "instanceCount"] + 1  # still in use
    rows = imgframe.diff_snapshots(before, after).changed.astype(object).to_dict("records")
    where = {"profile": "default", "zoneId": ZONE, "imageId": image}
    assert rows == [
        {**where, "field": "resourceGroupId", "old": old_id, "new": "rg-moved"},
        {**where, "field": "resourceGroupName", "old": old_group, "new": "Payments"},
        {**where, "field": "instanceCount", "old": "0", "new": "7"},
    ]
