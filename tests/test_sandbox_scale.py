"""Scale: a million-image catalog (and its 200,000-instance fleet) builds, pages and evolves.

A benchmark in the shape of a test: it prints what it measured (run with ``-s`` to see it)
and asserts only what the catalog answers, never how fast (timings depend on the machine)."""

from __future__ import annotations

import time

import pytest

from imgframe import sandbox
from imgframe.sandbox.filters import parse_custom_image_filter, parse_filter, parse_instance_filter


def timed(label: str, started: float, lines: list[str]) -> float:
    elapsed = time.perf_counter() - started
    lines.append(f"{label}: {elapsed:.2f} s")
    return elapsed


@pytest.mark.slow
def test_a_million_images_build_page_and_evolve() -> None:
    lines: list[str] = []
    started = time.perf_counter()
    catalog = sandbox.Catalog(images=1_000_000, seed=7)
    timed("1M images + 200k instances built", started, lines)
    assert len(catalog) == 1_000_000

    zone = max(catalog.zone_ids, key=catalog.count)
    everything = parse_filter({})
    for attempt in ("first", "second"):
        started = time.perf_counter()
        pages, served, num = 0, 0, 1
        while True:
            data, total = catalog.page_json(zone, everything, num, 1000)
            served += data.count(b'"imageId"')
            pages += 1
            if num * 1000 >= total:
                break
            num += 1
        elapsed = timed(f"{attempt} pass over {zone}: {pages} pages of 1000", started, lines)
        lines.append(f"  {elapsed / pages * 1000:.2f} ms a page")
        assert served == total == catalog.count(zone)

    started = time.perf_counter()
    linux = catalog.count(zone, osType="linux", imageStatus="AVAILABLE")
    timed("first filtered count", started, lines)
    assert 0 < linux < total

    started = time.perf_counter()
    data, custom_total = catalog.custom_images_page(parse_custom_image_filter({}), 1, 1000)
    timed("first DescribeCustomImages page (account-wide listing built)", started, lines)
    assert custom_total == 1_000_000 - sum(
        catalog.count(z, imageType="PUBLIC_IMAGE") for z in catalog.zone_ids
    )

    started = time.perf_counter()
    data, instances = catalog.instances_page(parse_instance_filter({"status": "RUNNING"}), 1, 1000)
    timed("first DescribeInstances page (status=RUNNING)", started, lines)
    assert data.count(b'{"instanceId"') == 1000 < instances  # each row starts so

    started = time.perf_counter()
    catalog.set_day(1)
    timed("set_day(1) on 1M", started, lines)
    assert catalog.day == 1

    started = time.perf_counter()
    hundred_k = sandbox.Catalog(images=100_000, seed=7)
    timed("100k images + 20k instances built", started, lines)
    started = time.perf_counter()
    hundred_k.set_day(30)
    timed("set_day(30) on 100k", started, lines)
    started = time.perf_counter()
    hundred_k.set_day(0)
    timed("back to day 0", started, lines)
    assert len(hundred_k) == 100_000
    print("\n" + "\n".join(lines))
