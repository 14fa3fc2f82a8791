"""Fetching at the round-trip floor: default settings at 20k and 100k images, spread over
every zone and in one zone, against the least time the round trips allow, and against the
official SDK's loop.

Run as ``python benchmarks/cases_fetch.py [--quick]``. The sandbox runs in its own process
(``python -m imgframe.sandbox --latency-ms 50``) so it takes neither the client's GIL nor its
memory. The floor of a fetch of P pages at concurrency C with round trip R:

- every zone: ``R`` for DescribeZones, then ``R x ceil(P / C)`` for the pages;
- one zone: its DescribeZones record goes alongside page 1, and the other pages need page 1's
  totalCount: ``R x (1 + ceil((P - 1) / C))``;

plus imgframe's own normalize of the same pages (measured in the same run): the parse of a
page happens while other pages wait, so a fetch can come in under this floor.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from harness import CaseResult, Target, interleaved, log, md_table, ratio_target, seconds
from run import LATENCY_MS, client_for, imgframe_normalize, sandbox_process, sdk_fetch

import imgframe
from imgframe import sandbox
from imgframe.defaults import DEFAULT_CONCURRENCY

FLOOR_LIMIT = 1.25
SDK_LIMIT = 5.0


def _fetch(endpoint: str, zone: str) -> Callable[[], object]:
    def fetch() -> object:
        # What the README shows: one call, default settings.
        return imgframe.fetch_images(
            zone,
            endpoint=endpoint,
            access_key_id=sandbox.DEMO_ACCESS_KEY_ID,
            access_key_secret=sandbox.DEMO_ACCESS_KEY_SECRET,
            progress=False,
        )

    return fetch


def _floor(pages: int, one_zone: bool, normalize_s: float) -> float:
    rtt = LATENCY_MS / 1000
    c = DEFAULT_CONCURRENCY
    trips = 1 + math.ceil((pages - 1) / c) if one_zone else 1 + math.ceil(pages / c)
    return rtt * trips + normalize_s


def _one(images: int, one_zone: bool, rounds: int, with_sdk: bool) -> dict[str, Any]:
    # One zone of about `images`: the largest zone of a catalog scaled to hold that many.
    size = images
    if one_zone:
        probe = sandbox.Catalog(images=20_000, seed=7)
        share = max(probe.count(z) for z in probe.zone_ids) / len(probe)
        size = round(images / share)
    built = sandbox.Catalog(images=size, seed=7)
    sizes = {z: built.count(z) for z in built.zone_ids}
    zone = max(sizes, key=lambda z: sizes[z]) if one_zone else "all"
    expected = sizes[zone] if one_zone else sum(sizes.values())
    del built
    where = f"one zone ({zone})" if one_zone else "every zone"
    with sandbox_process(size, LATENCY_MS) as sb:
        with client_for(sb.endpoint, max_concurrency=8) as client:
            pages = client.fetch_images_raw(zone, progress=False)
        normalize = interleaved({"normalize": lambda: imgframe_normalize(pages)}, 3)
        contenders: dict[str, Callable[[], object]] = {"imgframe": _fetch(sb.endpoint, zone)}
        if with_sdk:
            contenders["sdk"] = lambda: sdk_fetch(sb.endpoint)

        def check(name: str, result: object) -> None:
            assert len(result) == expected, f"{name}: {len(result)} of {expected}"  # type: ignore[arg-type]

        log(f"fetch {expected:,} images, {where}: {rounds} rounds")
        timings = interleaved(contenders, rounds, limits={"sdk": 2}, check=check)
    floor = _floor(len(pages), one_zone, normalize.median("normalize"))
    return {
        "images": expected,
        "where": where,
        "pages": len(pages),
        "normalize_s": round(normalize.median("normalize"), 4),
        "floor_s": round(floor, 4),
        "timings": timings.summaries(),
        "over_floor": round(timings.median("imgframe") / floor, 3),
        "sdk_over_imgframe": round(timings.ratio("sdk", "imgframe"), 2) if with_sdk else None,
    }


def run(quick: bool) -> CaseResult:
    sizes = (20_000,) if quick else (20_000, 100_000)
    rounds = 3 if quick else 5
    points = [
        _one(images, one_zone, rounds, with_sdk=not one_zone and images == sizes[-1])
        for images in sizes
        for one_zone in (False, True)
    ]
    targets: list[Target] = []
    rows = []
    for p in points:
        label = f"{p['images']:,} images, {p['where']}, {p['pages']} pages"
        targets.append(
            ratio_target(
                "fetch",
                f"default settings within {FLOOR_LIMIT:g}x of the round-trip floor: {label}",
                p["over_floor"],
                FLOOR_LIMIT,
            )
        )
        sdk = p["sdk_over_imgframe"]
        if sdk is not None:
            targets.append(
                Target("fetch", f"at least {SDK_LIMIT:g}x the official SDK loop: {label}",
                       f"{sdk:.2f}x", sdk >= SDK_LIMIT)
            )  # fmt: skip
        rows.append(
            [label, seconds(p["timings"]["imgframe"]), f"{p['floor_s']:.3f} s",
             f"{p['over_floor']:.2f}x",
             seconds(p["timings"]["sdk"]) if sdk is not None else "",
             f"{sdk:.2f}x" if sdk is not None else ""]
        )  # fmt: skip
    markdown = (
        f"### Fetch at the floor ({LATENCY_MS:.0f} ms per request, default concurrency "
        f"{DEFAULT_CONCURRENCY})\n\n"
        + md_table(
            ["fetch", "imgframe", "floor", "vs floor", "official SDK", "SDK / imgframe"], rows
        )
    )
    return CaseResult("fetch_floor", {"points": points}, targets, markdown)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    result = run(parser.parse_args().quick)
    print(result.markdown)
    for t in result.targets:
        print(f"{'PASS' if t.passed else 'MISS'}  {t.goal}: {t.measured}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
