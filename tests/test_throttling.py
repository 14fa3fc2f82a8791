"""Backing off when the API throttles: the bound on requests in flight (Slots) halves on
HTTP 429 and grows back, against a sandbox enforcing a concurrency limit the way API
gateways do per key."""

from __future__ import annotations

import threading
import time

import pytest

import imgframe
from imgframe import sandbox
from imgframe.errors import RateLimitError
from imgframe.sandbox import Faults
from imgframe.transport import RetryPolicy, Slots

from .helpers import client_kwargs, inventory_rows, plain_rows


def test_slots_halve_once_per_window_and_grow_back_one_per_bound_answers() -> None:
    slots = Slots(8)
    with slots as first, slots as second:
        assert first == second == 0
    slots.answered(throttled=True, ticket=first)
    slots.answered(throttled=True, ticket=second)  # entered before the cut: no second cut
    assert (slots.bound, slots.cuts) == (4, 1)
    with slots as later:
        assert later == 1
    slots.answered(throttled=True, ticket=later)
    assert (slots.bound, slots.lowest, slots.cuts) == (2, 2, 2)
    for _ in range(3):
        slots.answered(throttled=True)  # no ticket: every one cuts
    assert (slots.bound, slots.lowest) == (1, 1)  # never below one
    bounds = []
    for _ in range(1 + 2 + 3 + 4 + 5 + 6 + 7):
        slots.answered(throttled=False)
        bounds.append(slots.bound)
    # One more after `bound` answers in a row: 1 -> 2 after 1, 2 -> 3 after 2 more, ...
    assert [bounds[i] for i in (0, 2, 5, 9, 14, 20, 27)] == [2, 3, 4, 5, 6, 7, 8]
    for _ in range(50):
        slots.answered(throttled=False)
    assert slots.bound == 8  # never above the maximum


def test_no_more_than_the_bound_enter_at_once() -> None:
    slots = Slots(3)
    inside, peak = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with slots:
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3


def test_a_fetch_settles_under_a_gateways_concurrency_limit() -> None:
    limit = Faults(max_in_flight=2, retry_after=0.05)
    with sandbox.running(images=3000, seed=7, latency_ms=20, faults=limit) as server:
        retry = RetryPolicy(max_attempts=8, base_delay=0.02, max_delay=0.2, max_total=30)
        with imgframe.Client(**client_kwargs(server, retry=retry), max_concurrency=8) as client:
            frame = client.fetch_images(page_size=100, progress=False)
            slots = client.slots
        statuses = [r.status for r in server.requests]
    expected = [
        {k: v for k, v in row.items() if k not in ("profile", "regionIdList",
         "resourceGroupId", "resourceGroupName", "instanceCount")}
        for row in inventory_rows(server.catalog)
    ]  # fmt: skip
    assert plain_rows(frame.drop(columns="fetchedAt")) == expected
    assert slots.lowest <= 2
    assert slots.cuts >= 2
    throttled = statuses.count(429)
    answered = statuses.count(200)
    assert answered == 1 + sum(
        -(-len(server.catalog.images(z)) // 100) for z in server.catalog.zone_ids
    )
    # Backing off keeps the throttled share small: without it, 6 of every 8 requests in
    # flight would be refused for the whole fetch.
    assert throttled < answered, (throttled, answered)
    assert frame.attrs["imgframe"]["throttled"] == throttled


def test_a_storm_that_outlasts_the_retries_is_a_rate_limit_error() -> None:
    with sandbox.running(images=300, faults=Faults(throttle_seconds=60)) as server:
        retry = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, max_total=5)
        with imgframe.Client(**client_kwargs(server, retry=retry)) as client:
            with pytest.raises(RateLimitError) as caught:
                client.fetch_images("asia-east-1a", progress=False)
            assert client.slots.bound == 1 or client.slots.cuts >= 1
    assert "REQUEST_LIMIT_EXCEEDED (HTTP 429)" in str(caught.value)
    assert "[after 3 attempts]" in str(caught.value)
