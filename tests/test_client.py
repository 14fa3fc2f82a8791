"""The client under injected faults: retries, clean errors, and no secret anywhere."""

from __future__ import annotations

import logging
import os
import random
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

import imgframe
from imgframe import sandbox
from imgframe.credentials import Credentials
from imgframe.errors import (
    ApiError,
    AuthError,
    BadResponseError,
    BlockedError,
    NetworkError,
    RateLimitError,
)
from imgframe.parse import parse_page
from imgframe.transport import RetryPolicy, Timeouts, Transport

from .helpers import FAST_RETRY, FAST_TIMEOUTS, client_kwargs


def describe(client: Transport, zone: str = "asia-east-1a", page: int = 1) -> Any:
    return client.call(
        "DescribeImages",
        {"zoneId": zone, "pageNum": page, "pageSize": 10},
        parse=parse_page,
        context=f"zone {zone} page {page}",
    )


def zec(sb: sandbox.Sandbox, **kwargs: Any) -> Transport:
    options: dict[str, Any] = {"retry": FAST_RETRY, "timeouts": FAST_TIMEOUTS}
    options.update(kwargs)
    creds = options.pop("credentials", Credentials(sb.access_key_id, sb.access_key_secret))
    return Transport(creds, sb.endpoint, **options)


RETRIED = ["429", "500-json", "502-html", "503-empty", "504-json", "drop", "truncated",
           "malformed", "no-dataset", "slow"]  # fmt: skip


@pytest.mark.parametrize("fault", RETRIED)
def test_transient_faults_are_retried(
    fresh_sb: sandbox.Sandbox, debug_logs: pytest.LogCaptureFixture, fault: str
) -> None:
    fresh_sb.inject(fault, fault, action="DescribeImages")
    # A stalled body is retried once the read times out: a short read timeout keeps it quick.
    timeouts = Timeouts(connect=2.0, read=0.3, total=5.0) if fault == "slow" else FAST_TIMEOUTS
    with zec(fresh_sb, timeouts=timeouts) as client:
        parsed = describe(client, page=2)
    assert parsed.records.num_rows == 10
    statuses = [r.status for r in fresh_sb.requests if r.action == "DescribeImages"]
    assert len(statuses) == 3
    retries = [r.getMessage() for r in debug_logs.records if r.name == "imgframe.transport"]
    assert len(retries) == 2
    assert retries[0].startswith(
        "retrying DescribeImages zone asia-east-1a page 2 (attempt 2 of 4)"
    )


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ("429", RateLimitError, "DescribeImages failed: REQUEST_LIMIT_EXCEEDED (HTTP 429): "),
        ("500-json", ApiError, "DescribeImages failed: INTERNAL_SERVER_ERROR (HTTP 500): "),
        ("502-html", BadResponseError, "DescribeImages: HTTP 502 Bad Gateway with a non-JSON body (text/html"),
        ("503-empty", BadResponseError, "DescribeImages: HTTP 503 Service Unavailable with an empty body"),
        ("drop", NetworkError, "DescribeImages: the connection failed or was dropped"),
        ("malformed", BadResponseError, "DescribeImages answered HTTP 200 with a body that is not valid JSON"),
        ("no-dataset", BadResponseError, "DescribeImages answered HTTP 200 without a 'dataSet' list"),
    ],
)  # fmt: skip
def test_exhausted_retries_give_one_clear_error(
    fresh_sb: sandbox.Sandbox, fault: str, error: type[Exception], message: str
) -> None:
    fresh_sb.inject(*[fault] * 4, action="DescribeImages")
    with zec(fresh_sb) as client, pytest.raises(error) as info:
        describe(client)
    text = str(info.value)
    assert text.startswith(message), text
    assert "after 4 attempts" in text
    assert "\n" not in text
    assert getattr(info.value, "attempts", None) == 4
    assert len([r for r in fresh_sb.requests if r.action == "DescribeImages"]) == 4


def test_api_error_carries_its_context(fresh_sb: sandbox.Sandbox) -> None:
    fresh_sb.inject(*["429"] * 4)
    with zec(fresh_sb) as client, pytest.raises(RateLimitError) as info:
        describe(client)
    err = info.value
    assert (err.code, err.http_status, err.action, err.attempts) == (
        "REQUEST_LIMIT_EXCEEDED", 429, "DescribeImages", 4,
    )  # fmt: skip
    assert err.request_id == fresh_sb.requests[-1].request_id


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [
        ("403-challenge", 403, "HTTP 403 security challenge from the network in front of the API"),
        ("451", 451, "HTTP 451, the request was blocked by a security policy"),
    ],
)
def test_network_blocks_are_not_retried(
    fresh_sb: sandbox.Sandbox, fault: str, status: int, message: str
) -> None:
    fresh_sb.inject(fault)
    with zec(fresh_sb) as client, pytest.raises(BlockedError, match=message) as info:
        describe(client)
    assert info.value.http_status == status
    assert len(fresh_sb.requests) == 1


def test_retry_after_is_honoured(fresh_sb: sandbox.Sandbox) -> None:
    fresh_sb.faults.retry_after = 0.25
    fresh_sb.inject("429", "429")
    waits: list[float] = []
    with zec(fresh_sb, sleep=waits.append, retry=RetryPolicy(max_attempts=3, max_delay=5)) as c:
        describe(c)
    assert waits == [0.25, 0.25]


def test_backoff_is_full_jitter_and_bounded() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for retry in range(1, 8):
        ceiling = min(4.0, 0.5 * 2 ** (retry - 1))
        draws = [policy.delay(retry, rng, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # the whole range is used, not a fixed delay
    assert policy.delay(1, rng, 99.0) == 4.0


def test_total_retry_time_is_bounded(fresh_sb: sandbox.Sandbox) -> None:
    fresh_sb.inject(*["503-empty"] * 10)
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=1.0, max_total=2.5)
    # Every wait is uniform in [0, 1]; the retries stop at the first wait that would take
    # the total past 2.5 s, long before the 10 attempts.
    draws = random.Random(3)
    expected: list[float] = []
    while sum(expected) + (wait := draws.uniform(0.0, 1.0)) <= 2.5:
        expected.append(wait)
    assert len(expected) + 1 < policy.max_attempts
    with (
        zec(fresh_sb, retry=policy, sleep=waits.append, rng=random.Random(3)) as client,
        pytest.raises(BadResponseError) as info,
    ):
        describe(client)
    assert waits == expected
    assert info.value.attempts == len(expected) + 1
    assert len(fresh_sb.requests) == len(expected) + 1


def test_read_timeout_is_retried_then_reported(fresh_sb: sandbox.Sandbox) -> None:
    fresh_sb.faults.slow_body_seconds = 3.0
    fresh_sb.inject(*["slow"] * 2)
    timeouts = Timeouts(connect=1.0, read=0.3, total=1.0)
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01)
    with (
        zec(fresh_sb, timeouts=timeouts, retry=policy) as client,
        pytest.raises(NetworkError) as info,
    ):
        describe(client)
    assert "after 2 attempts" in str(info.value)


def test_connection_refused_is_a_network_error() -> None:
    creds = Credentials("ak", "sk")
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01)
    client = Transport(creds, "http://127.0.0.1:9", retry=policy)
    with client, pytest.raises(NetworkError, match="connection refused") as info:
        describe(client)
    assert info.value.attempts == 2


@pytest.mark.parametrize(
    ("credentials", "fragment"),
    [
        (Credentials(sandbox.DEMO_ACCESS_KEY_ID, "wrong-secret-value"), "signature"),
        (Credentials("unknown-key", "whatever-secret"), "key"),
        (Credentials(token="bad-token-value"), "token"),
    ],
)
def test_auth_failures_are_one_clear_error_without_retries(
    fresh_sb: sandbox.Sandbox, credentials: Credentials, fragment: str
) -> None:
    with zec(fresh_sb, credentials=credentials) as client, pytest.raises(AuthError) as info:
        describe(client)
    err = info.value
    assert err.code == "AUTHFAILURE_SIGNATURE_FAILURE"
    assert err.http_status == 401
    assert fragment in err.message.lower()
    assert "clock" in str(err)
    assert len(fresh_sb.requests) == 1


def test_clock_skew_is_an_auth_error_that_mentions_the_clock(fresh_sb: sandbox.Sandbox) -> None:
    with (
        zec(fresh_sb, clock=lambda: time.time() - 3600) as client,
        pytest.raises(AuthError) as info,
    ):
        describe(client)
    assert "clock" in str(info.value)
    assert len(fresh_sb.requests) == 1


def test_no_secret_in_logs_errors_or_tracebacks(
    fresh_sb: sandbox.Sandbox, debug_logs: pytest.LogCaptureFixture
) -> None:
    secret = "Very-Recognisable-Secret-0042"
    fresh_sb.inject("429", "502-html", "drop")
    bad = Credentials(sandbox.DEMO_ACCESS_KEY_ID, secret)
    texts: list[str] = []
    for creds in (bad, Credentials(token=secret)):
        with zec(fresh_sb, credentials=creds) as client:
            texts.append(repr(client))
            try:
                describe(client)
            except imgframe.ImgframeError as exc:
                texts.append(str(exc))
                texts.append("".join(traceback.format_exception(exc)))
    texts.extend(r.getMessage() for r in debug_logs.records)
    assert len(texts) > 4
    for text in texts:
        assert secret not in text


def test_high_level_client_repr_hides_secrets(sb: sandbox.Sandbox) -> None:
    with imgframe.Client(**client_kwargs(sb)) as client:
        assert repr(client) == (
            f"Client(endpoint={sb.endpoint!r}, credentials=Credentials("
            f"access_key_id={sb.access_key_id!r}, secret=***, source='arguments'))"
        )


def test_fetch_survives_a_storm_of_faults(
    fresh_sb: sandbox.Sandbox, debug_logs: pytest.LogCaptureFixture
) -> None:
    expected = [r["imageId"] for r in fresh_sb.catalog.images("asia-east-1a")]
    fresh_sb.inject(
        "429", "502-html", "drop", "503-empty", "malformed", "truncated", action="DescribeImages"
    )
    # Page 1 is alone in flight at first, so it may meet all six faults in a row.
    patient = RetryPolicy(max_attempts=7, base_delay=0.01, max_delay=0.05)
    df = imgframe.fetch_images("asia-east-1a", page_size=20, max_concurrency=4,
                               **client_kwargs(fresh_sb, retry=patient))  # fmt: skip
    assert df["imageId"].tolist() == expected
    messages = [r.getMessage() for r in debug_logs.records if r.name == "imgframe.transport"]
    assert len(messages) == 6
    assert all(" zone asia-east-1a page " in m for m in messages)


def test_logging_is_quiet_by_default(
    fresh_sb: sandbox.Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    imgframe.fetch_images("asia-east-1a", **client_kwargs(fresh_sb))
    assert caplog.records == []


def test_netrc_never_replaces_the_signature(fresh_sb: sandbox.Sandbox) -> None:
    netrc = Path(os.environ["HOME"]) / ".netrc"
    netrc.parent.mkdir(parents=True, exist_ok=True)
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    netrc.chmod(0o600)
    with zec(fresh_sb) as client:
        assert describe(client).records.num_rows == 10
    assert fresh_sb.requests[-1].status == 200
