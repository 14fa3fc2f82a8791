"""Listings that change while they are paged: a consistent result, or a warning with numbers."""

from __future__ import annotations

import warnings

import pytest

import imgframe
from imgframe import sandbox
from imgframe.errors import ConsistencyWarning

from .helpers import client_kwargs

PAGE = 10


def busiest_zone(sb: sandbox.Sandbox) -> str:
    return max(sb.catalog.zone_ids, key=lambda z: len(sb.catalog.images(z)))


def fetch(sb: sandbox.Sandbox, zone: str, **kwargs: object) -> list[str]:
    df = imgframe.fetch_images(zone, page_size=PAGE, **client_kwargs(sb), **kwargs)  # type: ignore[arg-type]
    return df["imageId"].tolist()


@pytest.mark.parametrize("mode", ["create", "delete"])
def test_churn_that_moves_total_count_is_repaged_to_the_final_listing(
    fresh_sb: sandbox.Sandbox, mode: str
) -> None:
    zone = busiest_zone(fresh_sb)
    fresh_sb.faults.churn_per_request = 2
    fresh_sb.faults.churn_mode = mode
    fresh_sb.faults.churn_requests = 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConsistencyWarning)
        got = fetch(fresh_sb, zone)
    assert got == [r["imageId"] for r in fresh_sb.catalog.images(zone)]
    pages = -(-len(got) // PAGE)
    described = [r for r in fresh_sb.requests if r.action == "DescribeImages"]
    assert len(described) > pages  # the churned pass was thrown away and paged again


def test_balanced_churn_needs_verify_and_verify_finds_the_final_listing(
    fresh_sb: sandbox.Sandbox,
) -> None:
    zone = busiest_zone(fresh_sb)
    pages = -(-len(fresh_sb.catalog.images(zone)) // PAGE)
    fresh_sb.faults.churn_per_request = 1
    fresh_sb.faults.churn_requests = pages  # the whole first pass churns, then it settles
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConsistencyWarning)
        got = fetch(fresh_sb, zone, verify=True)
    final = [r["imageId"] for r in fresh_sb.catalog.images(zone)]
    assert got == final
    described = [r for r in fresh_sb.requests if r.action == "DescribeImages"]
    assert len(described) == 3 * pages  # churned pass, then two passes that agree


def test_endless_churn_warns_with_numbers_and_never_duplicates(
    fresh_sb: sandbox.Sandbox,
) -> None:
    zone = busiest_zone(fresh_sb)
    seen_ever = {r["imageId"] for r in fresh_sb.catalog.images(zone)}
    fresh_sb.faults.churn_per_request = 1
    fresh_sb.faults.churn_mode = "create"
    with pytest.warns(ConsistencyWarning) as caught:
        got = fetch(fresh_sb, zone, max_repages=1)
    message = str(caught[0].message)
    assert message.startswith(
        f"zone {zone}: the listing changed while it was paged and did not settle after 2 passes: totalCount "
    )
    assert "distinct images kept" in message
    assert len(got) == len(set(got))
    # Every image returned existed at some point: the original ones or ones churn created.
    assert seen_ever - set(got) == set()  # create-only churn removes nothing


def test_endless_balanced_churn_with_verify_warns(fresh_sb: sandbox.Sandbox) -> None:
    zone = busiest_zone(fresh_sb)
    fresh_sb.faults.churn_per_request = 1
    with pytest.warns(ConsistencyWarning, match=f"zone {zone}: the listing changed"):
        got = fetch(fresh_sb, zone, verify=True)
    assert len(got) == len(set(got))


def test_verify_costs_nothing_for_single_page_zones(fresh_sb: sandbox.Sandbox) -> None:
    zone = busiest_zone(fresh_sb)
    imgframe.fetch_images(zone, page_size=1000, verify=True, **client_kwargs(fresh_sb))
    assert len([r for r in fresh_sb.requests if r.action == "DescribeImages"]) == 1
