"""The library's DescribeCustomImages and DescribeInstances listings against the sandbox's
ground truth, over real HTTP: every filter reaches the API under its documented name and
narrows the rows exactly as the catalog says; paging; the frames' types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import imgframe
from imgframe import sandbox

from .helpers import client_kwargs

IMAGES = 3000
ZONE = "asia-east-1a"


@pytest.fixture(scope="module")
def server() -> Iterator[sandbox.Sandbox]:
    with sandbox.running(images=IMAGES, seed=7) as running:
        yield running


@pytest.fixture
def client(server: sandbox.Sandbox) -> Iterator[imgframe.Client]:
    server.clear_requests()
    with imgframe.Client(**client_kwargs(server)) as c:
        yield c


def bodies(server: sandbox.Sandbox, action: str) -> list[dict[str, Any]]:
    return [r.body or {} for r in server.requests if r.action == action]


# --------------------------------------------------------------------------------------------
# DescribeCustomImages


def custom_filters(catalog: sandbox.Catalog) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(library keywords, the same filter in API names) for every filter, with values that
    select something in this catalog."""
    held = catalog.custom_images()
    first = held[0]
    tagged = next(r for r in held if (r.get("tags") or {}).get("tags"))
    tag = tagged["tags"]["tags"][0]
    return [
        ({"region_id": "eu-west-1"}, {"regionId": "eu-west-1"}),
        ({"image_ids": [held[3]["imageId"], held[1]["imageId"]]},
         {"imageIds": [held[3]["imageId"], held[1]["imageId"]]}),
        ({"image_name": "prod"}, {"imageName": "prod"}),
        ({"category": "Ubuntu"}, {"category": "Ubuntu"}),
        ({"os_type": "windows"}, {"osType": "windows"}),
        ({"image_status": "FAILED"}, {"imageStatus": "FAILED"}),
        ({"resource_group_id": first["resourceGroupId"]},
         {"resourceGroupId": first["resourceGroupId"]}),
        ({"tag_keys": [tag["key"]]}, {"tagKeys": [tag["key"]]}),
        ({"tags": {tag["key"]: tag["value"]}}, {"tags": [tag]}),
    ]  # fmt: skip


def test_every_custom_image_filter_narrows_as_the_catalog_does(
    server: sandbox.Sandbox, client: imgframe.Client
) -> None:
    for given, api in custom_filters(server.catalog):
        server.clear_requests()
        frame = client.fetch_custom_images(progress=False, page_size=200, **given)
        expected = server.catalog.custom_images(**api)
        assert 0 < len(expected) < len(server.catalog.custom_images()), given
        assert frame["imageId"].tolist() == [r["imageId"] for r in expected], given
        assert [list(r) for r in frame["regionIdList"]] == [r["regionIdList"] for r in expected]
        sent = bodies(server, "DescribeCustomImages")
        assert sent[0] == {**api, "pageNum": 1, "pageSize": 200}, given
        assert len(sent) == -(-len(expected) // 200)


def test_custom_images_are_typed_like_the_image_frame(
    server: sandbox.Sandbox, client: imgframe.Client
) -> None:
    frame = client.fetch_custom_images(progress=False)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "imageId": "string", "imageName": "string", "imageType": "category",
        "imageSource": "category", "imageSize": "Int64", "minDiskSize": "Int64",
        "imageDescription": "string", "imageVersion": "string", "imageStatus": "category",
        "nicNetworkType": "list<item: string>[pyarrow]", "category": "category",
        "osType": "category", "tags": "list<item: struct<key: string, value: string>>[pyarrow]",
        "regionIdList": "list<item: string>[pyarrow]", "resourceGroupId": "string",
        "resourceGroupName": "string", "fetchedAt": "datetime64[us, UTC]",
    }  # fmt: skip
    held = server.catalog.custom_images()
    assert len(frame) == len(held) == 2_837
    assert set(frame["imageType"].astype(str)) == {"CUSTOM_IMAGE"}
    # Account-wide: no zone is sent, and the region shortcut is the first argument.
    sent = sorted(bodies(server, "DescribeCustomImages"), key=lambda b: b["pageNum"])
    assert sent == [{"pageNum": n, "pageSize": 1000} for n in (1, 2, 3)]
    in_region = client.fetch_custom_images("na-west-1", progress=False)
    assert in_region["imageId"].tolist() == [
        r["imageId"] for r in server.catalog.custom_images(regionId="na-west-1")
    ]


# --------------------------------------------------------------------------------------------
# DescribeInstances


def instance_filters(catalog: sandbox.Catalog) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    fleet = catalog.instances()
    one = next(r for r in fleet[5:] if r.get("instanceType") and r.get("privateIpAddresses"))
    tagged = next(r for r in fleet if (r.get("tags") or {}).get("tags"))
    tag = tagged["tags"]["tags"][0]
    v6 = next(n["primaryIpv6"] for r in fleet for n in r.get("nics") or [] if n.get("primaryIpv6"))
    return [
        ({"instance_ids": [fleet[2]["instanceId"], one["instanceId"]]},
         {"instanceIds": [fleet[2]["instanceId"], one["instanceId"]]}),
        ({"image_id": one["imageId"]}, {"imageId": one["imageId"]}),
        ({"instance_type": one["instanceType"]}, {"instanceType": one["instanceType"]}),
        ({"status": "STOPPED"}, {"status": "STOPPED"}),
        ({"name": one["instanceName"][:6]}, {"name": one["instanceName"][:6]}),
        ({"resource_group_id": one["resourceGroupId"]},
         {"resourceGroupId": one["resourceGroupId"]}),
        ({"ipv4_address": one["privateIpAddresses"][0]},
         {"ipv4Address": one["privateIpAddresses"][0]}),
        ({"ipv6_address": v6}, {"ipv6Address": v6}),
        ({"tag_keys": [tag["key"]]}, {"tagKeys": [tag["key"]]}),
        ({"tags": {tag["key"]: tag["value"]}}, {"tags": [tag]}),
    ]  # fmt: skip


def test_every_instance_filter_narrows_as_the_catalog_does(
    server: sandbox.Sandbox, client: imgframe.Client
) -> None:
    for given, api in instance_filters(server.catalog):
        server.clear_requests()
        frame = client.fetch_instances(progress=False, page_size=100, **given)
        expected = server.catalog.instances(**api)
        assert 0 < len(expected) < len(server.catalog.instances()), given
        assert frame["instanceId"].tolist() == [r["instanceId"] for r in expected], given
        sent = bodies(server, "DescribeInstances")
        assert sent[0] == {**api, "pageNum": 1, "pageSize": 100}, given
        assert len(sent) == max(1, -(-len(expected) // 100))


def test_instances_of_zones_are_one_listing_per_zone(
    server: sandbox.Sandbox, client: imgframe.Client
) -> None:
    zones = [ZONE, "eu-west-1a"]
    frame = client.fetch_instances(zones, progress=False)
    expected = [r for z in zones for r in server.catalog.instances(zoneId=z)]
    assert frame["instanceId"].tolist() == [r["instanceId"] for r in expected]
    assert sorted(b["zoneId"] for b in bodies(server, "DescribeInstances")) == sorted(zones)
    assert frame.attrs["imgframe"]["zones"] == zones


def test_instances_are_typed(server: sandbox.Sandbox, client: imgframe.Client) -> None:
    frame = client.fetch_instances(progress=False)
    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
    assert {c: dtypes[c] for c in (
        "instanceId", "zoneId", "instanceType", "status", "cpu", "memory", "createTime",
        "expiredTime", "publicIpAddresses", "enableAgent", "fetchedAt",
    )} == {
        "instanceId": "string", "zoneId": "category", "instanceType": "category",
        "status": "category", "cpu": "Int64", "memory": "Int64",
        "createTime": "datetime64[us, UTC]", "expiredTime": "datetime64[us, UTC]",
        "publicIpAddresses": "list<item: string>[pyarrow]", "enableAgent": "boolean",
        "fetchedAt": "datetime64[us, UTC]",
    }  # fmt: skip
    fleet = server.catalog.instances()
    assert len(frame) == len(fleet) == 600
    first = fleet[0]
    assert frame.loc[0, "createTime"] == pd.Timestamp(first["createTime"])
    assert frame["expiredTime"].isna().sum() == sum(r.get("expiredTime") is None for r in fleet)
    # SDK fields beyond the inventory's are typed too: read without inference.
    assert frame.loc[0, "systemDisk"]["diskSize"] == first["systemDisk"]["diskSize"]
    assert [n["nicId"] for n in frame.loc[0, "nics"]] == [n["nicId"] for n in first["nics"]]


def test_a_narrowed_read_skips_fields_however_deep_they_nest() -> None:
    from imgframe.errors import InvalidArgument
    from imgframe.parse import INSTANCES, parse_page

    bomb = b"[" * 1_000_000 + b"]" * 1_000_000
    body = (
        b'{"requestId":"r","response":{"requestId":"r","totalCount":1,"dataSet":[{"instanceId":'
        b'"i-1","zoneId":"asia-east-1a","imageId":"img-1","nics":' + bomb + b"}]}}"
    )
    page = parse_page(body, INSTANCES.narrowed(["zoneId", "imageId"]))
    assert page.records.to_pylist() == [
        {"instanceId": "i-1", "zoneId": "asia-east-1a", "imageId": "img-1"}
    ]
    with pytest.raises(InvalidArgument) as caught:
        INSTANCES.narrowed(["zoneId", "colour"])
    assert str(caught.value).startswith("DescribeInstances has no field(s) colour; its fields: ")
