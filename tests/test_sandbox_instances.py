"""DescribeInstances over real HTTP: InstanceInfo rows shaped like the SDK's, a realistic fleet
that runs the catalog's images, every filter exact."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from imgframe import sandbox
from tests.test_sandbox_paging import (  # noqa: F401 (fixtures)
    INSTANCES,
    answer,
    http_session,
    instances_by_hand,
    listing,
    reset_after_each_test,
)

#: InstanceInfo fields in the order the sandbox serves them (the SDK model's order).
FIELDS = [
    "instanceId", "instanceName", "zoneId", "instanceType", "cpu", "memory", "imageId",
    "imageName", "timeZone", "nicNetworkType", "status", "systemDisk", "dataDisks",
    "publicIpAddresses", "privateIpAddresses", "keyId", "subnetId", "securityGroupId",
    "enableAgent", "enableAgentMonitor", "enableIpForward", "createTime", "expiredTime",
    "resourceGroupId", "resourceGroupName", "nics", "tags",
]  # fmt: skip
STATUSES = {
    "PENDING", "CREATING", "RUNNING", "STOPPING", "STOPPED", "BOOTING", "REBOOTING",
    "RELEASING", "RECYCLING", "RECYCLED", "CREATE_FAILED",
}  # fmt: skip
#: Statuses in which an instance has no public address (not assigned yet, or released).
UNADDRESSED = {"PENDING", "CREATING", "CREATE_FAILED", "RECYCLING", "RECYCLED"}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.Sandbox]:
    with sandbox.running(images=6000, seed=7, copies=0.1) as server:
        yield server


@pytest.fixture(scope="module")
def fleet(sb: sandbox.Sandbox) -> list[dict[str, Any]]:
    with requests.Session() as session:
        return listing(session, sb, INSTANCES)[0]


def test_rows_have_the_instance_info_shape(
    sb: sandbox.Sandbox, fleet: list[dict[str, Any]]
) -> None:
    assert len(fleet) == 6000 // 5  # the default fleet: a fifth of the images
    groups = {(g["resourceGroupId"], g["resourceGroupName"]) for g in sb.catalog.resource_groups}
    for r in fleet:
        assert list(r) == FIELDS
        assert re.fullmatch(r"[1-9]\d{18}", r["instanceId"])
        assert r["zoneId"] in sb.catalog.zone_ids
        assert r["status"] in STATUSES
        assert ISO.fullmatch(r["createTime"])
        assert r["expiredTime"] is None or r["expiredTime"] > "2026-03-14"
        assert (r["resourceGroupId"], r["resourceGroupName"]) in groups
        assert isinstance(r["cpu"], int)
        assert isinstance(r["memory"], int)
        gpu = (r["cpu"], r["memory"]) == (16, 128)  # GPU instances serve no instanceType
        assert (r["instanceType"] is None) == gpu
        assert set(r["systemDisk"]) == {"diskId", "diskSize", "diskCategory"}
        assert r["systemDisk"]["diskSize"] >= 20
        assert all(
            set(d) == {"diskId", "diskName", "diskSize", "diskCategory", "portable"}
            for d in r["dataDisks"]
        )
        assert r["nicNetworkType"] in {"VirtioOnly", "FailOver"}
        assert r["tags"] is None or set(r["tags"]) == {"tags"}
        (private,) = r["privateIpAddresses"]
        assert ipaddress.ip_address(private) in ipaddress.ip_network("10.0.0.0/8")
        for public in r["publicIpAddresses"]:
            assert ipaddress.ip_address(public) in ipaddress.ip_network("100.64.0.0/10")
        if r["status"] in UNADDRESSED:
            assert r["publicIpAddresses"] == []
        (nic,) = r["nics"]
        assert (nic["instanceId"], nic["privateIpList"], nic["publicIpList"]) == (
            r["instanceId"], r["privateIpAddresses"], r["publicIpAddresses"],
        )  # fmt: skip
        if nic["primaryIpv6"] is not None:
            assert ipaddress.ip_address(nic["primaryIpv6"]) in ipaddress.ip_network("2001:db8::/32")
            assert nic["primaryIpv6"] == ipaddress.ip_address(nic["primaryIpv6"]).compressed
    ids = [r["instanceId"] for r in fleet]
    assert len(set(ids)) == len(ids)
    assert [r["createTime"] for r in fleet] == sorted(
        r["createTime"] for r in fleet
    )  # oldest first
    assert ids == sorted(ids)  # ids grow with time
    disks = [d["diskId"] for r in fleet for d in [r["systemDisk"], *r["dataDisks"]]]
    assert len(set(disks + ids)) == len(disks) + len(ids)
    addresses = [a for r in fleet for a in r["privateIpAddresses"] + r["publicIpAddresses"]]
    assert len(set(addresses)) == len(addresses)


def test_instances_run_images_listed_in_their_zone_or_deleted_ones(
    sb: sandbox.Sandbox, fleet: list[dict[str, Any]]
) -> None:
    listed = {z: {r["imageId"]: r for r in sb.catalog.images(z)} for z in sb.catalog.zone_ids}
    anywhere = {i for images in listed.values() for i in images}
    dangling = []
    for r in fleet:
        image = listed[r["zoneId"]].get(r["imageId"])
        if image is None:
            assert r["imageId"] not in anywhere  # a deleted image: listed nowhere
            assert re.fullmatch(r"img-[0-9a-f]{16}", r["imageId"])
            dangling.append(r)
        else:
            assert r["imageName"] == image["imageName"]
            assert (
                r["createTime"][:10].replace("-", "") >= r["imageName"][-8:]
                or not r["imageName"][-8:].isdigit()
            )  # launched after the image was built
    assert 0 < len(dangling) < 0.05 * len(fleet)


def test_the_fleet_is_realistic() -> None:
    catalog = sandbox.Catalog(images=20000, seed=7)
    fleet = catalog.instances()
    runs = Counter(r["imageId"] for r in fleet)
    custom = {r["imageId"] for r in catalog.custom_images()}
    unused = custom - set(runs)
    assert len(unused) / len(custom) > 0.9  # most custom images run nothing
    busiest_custom = max(n for image, n in runs.items() if image in custom)
    assert busiest_custom >= 50  # and a few run many instances
    public = [image for image, _ in runs.most_common() if not image.startswith("img-")]
    assert public[:2] == ["ubuntu2204_20240712", "ubuntu2404_20240712"]
    assert set(Counter(r["status"] for r in fleet)) == STATUSES
    assert Counter(r["status"] for r in fleet).most_common(1)[0][0] == "RUNNING"
    windows = [r for r in fleet if r["imageName"].startswith("Windows")]
    assert windows
    assert all(r["keyId"] is None for r in windows)  # password login
    assert any(r["instanceType"] is None for r in fleet)  # GPU instances
    assert len({r["zoneId"] for r in fleet}) == 8


def test_usage_and_instance_count_count_the_served_rows(
    sb: sandbox.Sandbox, fleet: list[dict[str, Any]]
) -> None:
    by_hand = Counter((r["zoneId"], r["imageId"]) for r in fleet)
    assert sb.catalog.usage() == dict(by_hand)
    (zone, image), n = by_hand.most_common(1)[0]
    assert sb.catalog.instance_count(zone, image) == n > 5
    assert sb.catalog.instance_count(zone, "img-0000000000000000") == 0


FILTERS: list[dict[str, Any]] = [
    {"zoneId": "asia-southeast-1a"},
    {"imageId": "ubuntu2204_20240712"},
    {"instanceType": "z2a.cpu.2"},
    {"instanceTypeSeries": "z3i"},
    {"status": "STOPPED"},
    {"status": "RECYCLED"},
    {"name": "WEB-PROD"},
    {"tagKeys": ["team", "app"]},
    {"tags": [{"key": "env", "value": "prod"}]},
    {"zoneId": "na-west-1a", "status": "RUNNING", "tags": [{"key": "team", "value": "data"}]},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f)[:60])
def test_filters_match_the_documented_semantics(
    sb: sandbox.Sandbox, s: requests.Session, fleet: list[dict[str, Any]], filters: dict[str, Any]
) -> None:
    served, total = listing(s, sb, INSTANCES, 100, **filters)
    expected = instances_by_hand(fleet, **filters)
    assert 0 < len(expected) < len(fleet)
    assert served == expected
    assert total == len(expected)
    assert sb.catalog.instances(**filters) == expected


def test_id_image_and_group_filters(
    sb: sandbox.Sandbox, s: requests.Session, fleet: list[dict[str, Any]]
) -> None:
    ids = [fleet[40]["instanceId"], fleet[3]["instanceId"], "0" + fleet[5]["instanceId"], "abc"]
    served = answer(s, sb, INSTANCES, instanceIds=ids)
    assert served["dataSet"] == [fleet[3], fleet[40]]  # listing order; "0..." names none
    custom = Counter(r["imageId"] for r in fleet if r["imageId"].startswith("img-"))
    image, n = custom.most_common(1)[0]
    assert listing(s, sb, INSTANCES, imageId=image)[0] == instances_by_hand(fleet, imageId=image)
    assert n > 3
    for group in sb.catalog.resource_groups:
        wanted = {"resourceGroupId": group["resourceGroupId"]}
        assert listing(s, sb, INSTANCES, **wanted)[0] == instances_by_hand(fleet, **wanted)
    assert answer(s, sb, INSTANCES, resourceGroupId="nope")["totalCount"] == 0


def test_address_filters_match_any_spelling_of_an_address(
    sb: sandbox.Sandbox, s: requests.Session, fleet: list[dict[str, Any]]
) -> None:
    public = next(r for r in fleet if r["publicIpAddresses"])
    dual = next(r for r in fleet if r["nics"][0]["primaryIpv6"])
    cases = [
        ("ipv4Address", public["publicIpAddresses"][0], public),
        ("ipv4Address", public["privateIpAddresses"][0], public),
        ("ipv6Address", dual["nics"][0]["primaryIpv6"], dual),
        ("ipv6Address", ipaddress.ip_address(dual["nics"][0]["primaryIpv6"]).exploded, dual),
    ]
    for field, address, owner in cases:
        assert answer(s, sb, INSTANCES, **{field: address})["dataSet"] == [owner]
    released = next(r for r in fleet if r["status"] == "RECYCLED")
    for field, address in [
        ("ipv4Address", "8.8.8.8"),
        ("ipv4Address", "10.255.0.9"),
        ("ipv6Address", "2001:db8:9::1"),
        ("ipv6Address", "::1"),
    ]:
        assert answer(s, sb, INSTANCES, **{field: address})["totalCount"] == 0
    private = released["privateIpAddresses"][0]  # a released instance keeps its private address
    assert answer(s, sb, INSTANCES, ipv4Address=private)["dataSet"] == [released]


def test_days_evolve_the_fleet_and_keep_instances_of_deleted_images(sb: sandbox.Sandbox) -> None:
    def listed() -> dict[str, set[str]]:
        return {z: {r["imageId"] for r in sb.catalog.images(z)} for z in sb.catalog.zone_ids}

    day0, listed0 = sb.catalog.instances(), listed()
    sb.set_day(4)
    day4, listed4 = sb.catalog.instances(), listed()
    before, after = {r["instanceId"]: r for r in day0}, {r["instanceId"]: r for r in day4}
    assert after.keys() - before.keys()  # launched
    assert before.keys() - after.keys()  # recycled instances disappear
    launched = [after[i] for i in after.keys() - before.keys()]
    assert all(r["createTime"] >= "2026-03-15" for r in launched)
    assert all(r["imageId"] in listed4[r["zoneId"]] for r in launched)  # never a gone image
    kept = before.keys() & after.keys()
    assert any(before[i]["status"] != after[i]["status"] for i in kept)
    assert all(before[i]["imageId"] == after[i]["imageId"] for i in kept)
    # Images deleted since day 0 leave their instances pointing at them, as in life.
    orphaned = [
        after[i] for i in kept
        if before[i]["imageId"] in listed0[before[i]["zoneId"]]
        and after[i]["imageId"] not in listed4[after[i]["zoneId"]]
    ]  # fmt: skip
    assert orphaned
    walked = sandbox.Catalog(6000, 7, day=4, copies=0.1).instances()
    assert walked == day4  # deterministic: building day 4 and walking to it agree
    sb.set_day(0)
    assert sb.catalog.instances() == day0


def test_fleet_size_is_a_parameter() -> None:
    assert sandbox.Catalog(images=500, instances=0).instances() == []
    assert len(sandbox.Catalog(images=500, instances=321).instances()) == 321
    empty = sandbox.Catalog(images=500, instances=0)
    empty.set_day(2)
    assert empty.instances() == []
