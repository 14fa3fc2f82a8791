"""DescribeCustomImages and DescribeInstances page and validate like the API, over real HTTP.

Also home of the helpers the other ``test_sandbox_*`` modules of these actions share: signed
calls, whole listings, and the documented filter semantics written out by hand (never with the
sandbox's own filter code)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from imgframe import sandbox
from tests.sandbox_helpers import call

CUSTOM = "DescribeCustomImages"
INSTANCES = "DescribeInstances"


def answer(
    s: requests.Session, sb: sandbox.Sandbox, action: str, credentials: tuple[str, str] | None = None,
    **payload: Any,
) -> dict[str, Any]:  # fmt: skip
    """The ``response`` object of a successful call of ``action``."""
    keys = {} if credentials is None else {"key_id": credentials[0], "secret": credentials[1]}
    r = call(s, sb, payload, action=action, **keys)
    assert r.status_code == 200, r.text
    response: dict[str, Any] = r.json()["response"]
    return response


def listing(
    s: requests.Session,
    sb: sandbox.Sandbox,
    action: str,
    page_size: int = 1000,
    credentials: tuple[str, str] | None = None,
    **filters: Any,
) -> tuple[list[dict[str, Any]], int]:
    """Every page of a listing, concatenated, with the first page's totalCount."""
    first = answer(s, sb, action, credentials, pageNum=1, pageSize=page_size, **filters)
    records, total = list(first["dataSet"]), first["totalCount"]
    for num in range(2, -(-total // page_size) + 1):
        more = answer(s, sb, action, credentials, pageNum=num, pageSize=page_size, **filters)
        records += more["dataSet"]
    return records, total


def tag_pairs(tags: Any) -> set[tuple[str, str]]:
    if tags is None:
        return set()
    items = tags["tags"] if isinstance(tags, dict) else tags
    return {(t["key"], t["value"]) for t in items}


def _tags_hold(record: dict[str, Any], f: dict[str, Any]) -> bool:
    pairs = tag_pairs(record["tags"])
    if not set(f.get("tagKeys", [])) <= {k for k, _ in pairs}:
        return False
    return {(t["key"], t["value"]) for t in f.get("tags", [])} <= pairs


def custom_by_hand(records: list[dict[str, Any]], **f: Any) -> list[dict[str, Any]]:
    """DescribeCustomImages' documented filters, written out independently of the sandbox."""
    out = []
    for r in records:
        if "regionId" in f and f["regionId"] not in r["regionIdList"]:
            continue
        if "imageIds" in f and r["imageId"] not in f["imageIds"]:
            continue
        if "imageName" in f and f["imageName"].lower() not in r["imageName"].lower():
            continue
        exact = ("category", "osType", "imageStatus", "resourceGroupId")
        if any(k in f and r[k] != f[k] for k in exact):
            continue
        if _tags_hold(r, f):
            out.append(r)
    return out


def _addresses(record: dict[str, Any]) -> tuple[set[Any], set[Any]]:
    v4 = {
        ipaddress.ip_address(a) for a in record["publicIpAddresses"] + record["privateIpAddresses"]
    }
    v6 = {ipaddress.ip_address(n["primaryIpv6"]) for n in record["nics"] if n["primaryIpv6"]}
    return v4, v6


def instances_by_hand(records: list[dict[str, Any]], **f: Any) -> list[dict[str, Any]]:
    """DescribeInstances' documented filters, written out independently of the sandbox."""
    out = []
    for r in records:
        if "instanceIds" in f and r["instanceId"] not in f["instanceIds"]:
            continue
        if "name" in f and f["name"].lower() not in r["instanceName"].lower():
            continue
        exact = ("zoneId", "imageId", "instanceType", "status", "resourceGroupId")
        if any(k in f and r[k] != f[k] for k in exact):
            continue
        series = r["instanceType"].split(".")[0] if r["instanceType"] else None
        if "instanceTypeSeries" in f and series != f["instanceTypeSeries"]:
            continue
        v4, v6 = _addresses(r)
        if "ipv4Address" in f and ipaddress.ip_address(f["ipv4Address"]) not in v4:
            continue
        if "ipv6Address" in f and ipaddress.ip_address(f["ipv6Address"]) not in v6:
            continue
        if _tags_hold(r, f):
            out.append(r)
    return out


# -- paging ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.Sandbox]:
    with sandbox.running(images=1200, seed=5, copies=0.1) as server:
        yield server


@pytest.fixture(name="s")
def http_session() -> Iterator[requests.Session]:
    """A requests session (the other ``test_sandbox_*`` modules of these actions import it)."""
    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def reset_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests may inject faults or change the day: undo it after each one (modules that import
    this fixture get it too)."""
    yield
    if "sb" in request.fixturenames:
        request.getfixturevalue("sb").reset()


@pytest.mark.parametrize(
    ("action", "key", "filters"),
    [
        (CUSTOM, "imageId", {}),
        (CUSTOM, "imageId", {"osType": "linux"}),
        (INSTANCES, "instanceId", {}),
        (INSTANCES, "instanceId", {"status": "RUNNING"}),
    ],
)
def test_pages_cover_the_listing_once_with_a_partial_last_page(
    sb: sandbox.Sandbox, s: requests.Session, action: str, key: str, filters: dict[str, Any]
) -> None:
    whole, total = listing(s, sb, action, 1000, **filters)
    assert total == len(whole) > 7
    paged, totals = [], set()
    for num in range(1, -(-total // 7) + 1):
        response = answer(s, sb, action, pageNum=num, pageSize=7, **filters)
        assert list(response) == ["requestId", "dataSet", "totalCount"]
        totals.add(response["totalCount"])
        paged += response["dataSet"]
    assert paged == whole
    assert totals == {total}
    assert len({r[key] for r in paged}) == total  # no row twice
    last = answer(s, sb, action, pageNum=-(-total // 7), pageSize=7, **filters)["dataSet"]
    assert len(last) == total % 7 or (total % 7 == 0 and len(last) == 7)
    past = answer(s, sb, action, pageNum=total // 7 + 2, pageSize=7, **filters)
    assert (past["dataSet"], past["totalCount"]) == ([], total)
    assert answer(s, sb, action, **filters)["dataSet"] == whole[:20]  # default page size
    records = [r.page_num for r in sb.requests if r.action == action]
    assert records[-1] == 1  # pageNum absent: recorded as 1


ERRORS: list[tuple[str, dict[str, Any] | bytes, int, str, str]] = [
    *[
        (action, payload, 400, code, fragment)
        for action in (CUSTOM, INSTANCES)
        for payload, code, fragment in [
            ({"pageNum": 0}, "INVALID_PARAMETER_VALUE", "pageNum must be >= 1, got 0."),
            ({"pageSize": 1001}, "INVALID_PARAMETER_VALUE", "between 1 and 1000, got 1001."),
            ({"pageSize": 0}, "INVALID_PARAMETER_VALUE", "between 1 and 1000, got 0."),
            ({"pageNum": "2"}, "INVALID_PARAMETER", "pageNum must be an integer."),
            ({"pageSize": True}, "INVALID_PARAMETER", "pageSize must be an integer."),
            ({"tagKeys": "env"}, "INVALID_PARAMETER", "tagKeys must be an array."),
            ({"tagKeys": [""]}, "INVALID_PARAMETER_VALUE", "tagKeys must be 1 to 64"),
            (
                {"tags": [{"key": f"k{i}", "value": "v"} for i in range(21)]},
                "INVALID_PARAMETER_VALUE",
                "tags accepts at most 20 items, got 21.",
            ),
            ({"tags": [{"key": "env"}]}, "INVALID_PARAMETER", "string key and value"),
            ({"resourceGroupId": 7}, "INVALID_PARAMETER", "resourceGroupId must be a string."),
            (b"[]", "INVALID_PARAMETER", "must be a JSON object"),
        ]
    ],
    (CUSTOM, {"regionId": "mars-1"}, 404, "INVALID_REGION_NOT_FOUND", "'mars-1' does not exist"),
    (CUSTOM, {"regionId": 1}, 400, "INVALID_PARAMETER", "regionId must be a string."),
    (CUSTOM, {"osType": "Linux"}, 400, "INVALID_PARAMETER_VALUE", "osType 'Linux' is not valid"),
    (CUSTOM, {"imageStatus": "OK"}, 400, "INVALID_PARAMETER_VALUE", "imageStatus 'OK' is not"),
    (CUSTOM, {"category": "ubuntu"}, 400, "INVALID_PARAMETER_VALUE", "category 'ubuntu' is not"),
    (CUSTOM, {"imageIds": "img-1"}, 400, "INVALID_PARAMETER", "imageIds must be an array."),
    (CUSTOM, {"imageName": ["a"]}, 400, "INVALID_PARAMETER", "imageName must be a string."),
    (INSTANCES, {"zoneId": "mars-1a"}, 404, "INVALID_ZONE_NOT_FOUND", "Region does not exist."),
    (INSTANCES, {"zoneId": 3}, 400, "INVALID_PARAMETER", "zoneId must be a string."),
    (
        INSTANCES,
        {"status": "running"},
        400,
        "INVALID_PARAMETER_VALUE",
        "status 'running' is not valid; valid values: PENDING, CREATING, RUNNING, STOPPING, "
        "STOPPED, BOOTING, REBOOTING, RELEASING, RECYCLING, RECYCLED, CREATE_FAILED.",
    ),
    (
        INSTANCES,
        {"instanceIds": [str(i) for i in range(101)]},
        400,
        "INVALID_PARAMETER_VALUE",
        "instanceIds accepts at most 100 items, got 101.",
    ),
    (INSTANCES, {"instanceIds": [1]}, 400, "INVALID_PARAMETER", "array of strings"),
    (
        INSTANCES,
        {"ipv4Address": "10.0.0.300"},
        400,
        "INVALID_PARAMETER_VALUE",
        "ipv4Address '10.0.0.300' is not an IPv4 address.",
    ),
    (
        INSTANCES,
        {"ipv6Address": "10.0.0.1"},
        400,
        "INVALID_PARAMETER_VALUE",
        "ipv6Address '10.0.0.1' is not an IPv6 address.",
    ),
    (INSTANCES, {"name": 5}, 400, "INVALID_PARAMETER", "name must be a string."),
    (INSTANCES, {"imageId": ["x"]}, 400, "INVALID_PARAMETER", "imageId must be a string."),
]


@pytest.mark.parametrize(("action", "payload", "status", "code", "fragment"), ERRORS)
def test_invalid_requests_get_the_documented_error(
    sb: sandbox.Sandbox,
    s: requests.Session,
    action: str,
    payload: dict[str, Any] | bytes,
    status: int,
    code: str,
    fragment: str,
) -> None:
    r = call(s, sb, payload, action=action)
    body = r.json()
    assert (r.status_code, body["code"]) == (status, code)
    assert list(body) == ["requestId", "code", "message"]
    assert fragment in body["message"]


@pytest.mark.parametrize("action", [CUSTOM, INSTANCES])
def test_empty_filters_mean_no_filter_and_unknown_fields_are_ignored(
    sb: sandbox.Sandbox, s: requests.Session, action: str
) -> None:
    total = answer(s, sb, action, pageSize=1)["totalCount"]
    empties = [{"tagKeys": []}, {"tags": []}, {"resourceGroupId": ""}, {"imageType": "nope"}]
    empties += [{"zoneId": None}, {"unknownField": {"x": 1}}]
    for empty in empties:
        assert answer(s, sb, action, pageSize=1, **empty)["totalCount"] == total
    both = [{"key": "env", "value": "prod"}, {"key": "env", "value": "dev"}]
    assert answer(s, sb, action, tags=both)["totalCount"] == 0
