"""DescribeCustomImages over real HTTP: every custom image once, consistent with DescribeImages,
every filter exact (checked against the documented semantics written out by hand)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from imgframe import sandbox
from imgframe.schema import IMAGE_FIELDS
from tests.sandbox_helpers import call
from tests.test_sandbox_paging import (  # noqa: F401 (fixtures)
    CUSTOM,
    answer,
    custom_by_hand,
    http_session,
    listing,
    reset_after_each_test,
)

HK = "asia-east-1a"
EXTRA = ("regionIdList", "resourceGroupId", "resourceGroupName")


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.Sandbox]:
    with sandbox.running(images=3000, seed=7, copies=0.12) as server:
        yield server


@pytest.fixture(scope="module")
def everything(sb: sandbox.Sandbox) -> list[dict[str, Any]]:
    with requests.Session() as session:
        return listing(session, sb, CUSTOM)[0]


def served_zones(catalog: sandbox.Catalog) -> dict[str, dict[str, dict[str, Any]]]:
    """Image id -> zone -> the DescribeImages record of that image in that zone."""
    where: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for zone in catalog.zone_ids:
        for record in catalog.images(zone):
            where[record["imageId"]][zone] = record
    return where


def check_consistent_with_describe_images(
    catalog: sandbox.Catalog, custom: list[dict[str, Any]]
) -> None:
    """Every custom image DescribeImages lists is listed once, with the same fields, available
    in the regions of exactly the zones that list it."""
    where = served_zones(catalog)
    listed = {
        i: z for i, z in where.items() if next(iter(z.values()))["imageType"] == "CUSTOM_IMAGE"
    }
    assert len(custom) == len({r["imageId"] for r in custom}) == len(listed)
    for record in custom:
        zones = listed[record["imageId"]]
        # Zones are "<region>a", one per region.
        assert record["regionIdList"] == [z[:-1] for z in catalog.zone_ids if z in zones]
        assert list(record)[-3:] == list(EXTRA)
        image = {k: v for k, v in record.items() if k not in EXTRA}
        assert all(image == served for served in zones.values())


def test_lists_every_custom_image_once_as_describe_images_serves_it(
    sb: sandbox.Sandbox, everything: list[dict[str, Any]]
) -> None:
    check_consistent_with_describe_images(sb.catalog, everything)
    assert {r["imageType"] for r in everything} == {"CUSTOM_IMAGE"}
    assert all([f for f in IMAGE_FIELDS if f in r] == list(r)[:-3] for r in everything)
    assert sb.catalog.custom_images() == everything


def test_copies_make_some_images_available_in_several_regions(
    sb: sandbox.Sandbox, everything: list[dict[str, Any]]
) -> None:
    spread = Counter(len(r["regionIdList"]) for r in everything)
    assert spread[1] > 0.8 * len(everything)
    assert {2, 3} <= set(spread)
    assert max(spread) <= 4
    # Copies into Hong Kong are Windows builds, so the API reference's example stays exact.
    into_hk = [r for r in everything if "asia-east-1" in r["regionIdList"]]
    assert {r["osType"] for r in into_hk} == {"windows"}
    assert len(sb.catalog.query(HK, osType="linux")) == 16


def test_without_copies_every_image_is_in_one_region() -> None:
    catalog = sandbox.Catalog(images=1500, seed=3)
    custom = catalog.custom_images()
    assert {len(r["regionIdList"]) for r in custom} == {1}
    check_consistent_with_describe_images(catalog, custom)


def test_resource_groups_are_a_handful_with_default_and_team_names(
    sb: sandbox.Sandbox, everything: list[dict[str, Any]]
) -> None:
    groups = sb.catalog.resource_groups
    assert groups[0]["resourceGroupName"] == "Default Resource Group"
    assert 4 <= len(groups) <= 7
    assert len({g["resourceGroupId"] for g in groups}) == len(groups)
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert all(re.fullmatch(uuid, g["resourceGroupId"]) for g in groups)
    pairs = {(g["resourceGroupId"], g["resourceGroupName"]) for g in groups}
    used = Counter((r["resourceGroupId"], r["resourceGroupName"]) for r in everything)
    assert set(used) == pairs  # every group holds images, and only these groups
    default = (groups[0]["resourceGroupId"], groups[0]["resourceGroupName"])
    assert 0.2 < used[default] / len(everything) < 0.7


#: The group each team's images go to when the account has it (written out for the test).
TEAM_GROUPS = {
    "platform": "Platform", "data": "Data Engineering", "web": "Web", "payments": "Payments",
    "infra": "Infrastructure", "ml": "ML Research", "security": "Security", "growth": "Growth",
}  # fmt: skip


def test_images_outside_the_default_group_sit_in_their_teams_group() -> None:
    catalog = sandbox.Catalog(images=4000, seed=7)
    names = {g["resourceGroupName"] for g in catalog.resource_groups}
    in_group, could_be = 0, 0
    for record in catalog.custom_images(tagKeys=["team"]):
        team = {t["key"]: t["value"] for t in record["tags"]["tags"]}["team"]
        if record["resourceGroupName"] != "Default Resource Group":
            assert record["resourceGroupName"] == TEAM_GROUPS[team]
            in_group += 1
        could_be += TEAM_GROUPS[team] in names
    assert 0.6 < in_group / could_be < 0.8  # the rest stay in the default group


FILTERS: list[dict[str, Any]] = [
    {"regionId": "eu-west-1"},
    {"regionId": "asia-east-1"},
    {"imageName": "WEB-PROD"},
    {"imageName": "golden"},
    {"category": "Ubuntu"},
    {"osType": "windows"},
    {"imageStatus": "CREATING"},
    {"tagKeys": ["owner", "backup"]},
    {"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]},
    {"regionId": "na-west-1", "osType": "linux", "imageStatus": "AVAILABLE", "tagKeys": ["app"]},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: str(f)[:60])
def test_filters_match_the_documented_semantics(
    sb: sandbox.Sandbox,
    s: requests.Session,
    everything: list[dict[str, Any]],
    filters: dict[str, Any],
) -> None:
    served, total = listing(s, sb, CUSTOM, 100, **filters)
    expected = custom_by_hand(everything, **filters)
    assert 0 < len(expected) < len(everything)
    assert served == expected
    assert total == len(expected)
    assert sb.catalog.custom_images(**filters) == expected


def test_resource_group_and_image_id_filters(
    sb: sandbox.Sandbox, s: requests.Session, everything: list[dict[str, Any]]
) -> None:
    for group in sb.catalog.resource_groups:
        wanted = {"resourceGroupId": group["resourceGroupId"]}
        served = listing(s, sb, CUSTOM, **wanted)[0]
        assert served == custom_by_hand(everything, **wanted)
        assert served
    assert answer(s, sb, CUSTOM, resourceGroupId="no-such-group")["totalCount"] == 0
    ids = [everything[50]["imageId"], everything[3]["imageId"], "img-0000000000000000"]
    served = answer(s, sb, CUSTOM, imageIds=ids)
    assert served["dataSet"] == [everything[3], everything[50]]  # listing order
    assert served["totalCount"] == 2
    public = answer(s, sb, CUSTOM, imageIds=["ubuntu2204_20240712"])
    assert public["totalCount"] == 0  # only custom images


def test_copies_stay_consistent_as_days_pass(sb: sandbox.Sandbox) -> None:
    for day in (1, 3):
        sb.set_day(day)
        check_consistent_with_describe_images(sb.catalog, sb.catalog.custom_images())
    sb.catalog.churn("eu-west-1a", 30)  # churn deletes copies in one zone only
    check_consistent_with_describe_images(sb.catalog, sb.catalog.custom_images())


def test_the_listing_follows_the_day(sb: sandbox.Sandbox, s: requests.Session) -> None:
    day0 = {r["imageId"] for r in listing(s, sb, CUSTOM)[0]}
    sb.set_day(2)
    day2 = {r["imageId"] for r in listing(s, sb, CUSTOM)[0]}
    assert day2 - day0  # created
    assert day0 - day2  # deleted
    sb.reset()
    assert {r["imageId"] for r in listing(s, sb, CUSTOM)[0]} == day0


def test_same_seed_same_answers_other_seed_other_images(s: requests.Session) -> None:
    def pages(seed: int) -> list[bytes]:
        with sandbox.running(images=800, seed=seed, copies=0.1) as box:
            return [_raw(s, box, pageNum=num, pageSize=50) for num in (1, 2, 3)]

    assert pages(4) == pages(4)  # request ids included
    with sandbox.running(images=800, seed=4) as a, sandbox.running(images=800, seed=5) as b:
        ids = [{r["imageId"] for r in box.catalog.custom_images()} for box in (a, b)]
    assert not ids[0] & ids[1]


def _raw(s: requests.Session, box: sandbox.Sandbox, **payload: Any) -> bytes:
    r = call(s, box, payload, action=CUSTOM)
    assert r.status_code == 200
    return r.content


def test_tiny_catalogs_answer_empty_or_tiny_listings() -> None:
    assert sandbox.Catalog(images=0).custom_images() == []
    assert sandbox.Catalog(images=0, copies=1.0).custom_images() == []
    everywhere = sandbox.Catalog(images=200, copies=1.0)
    custom = everywhere.custom_images()
    assert len(custom) == 200 - 163
    assert all(2 <= len(r["regionIdList"]) <= 4 for r in custom)  # every image copied
    check_consistent_with_describe_images(everywhere, custom)
