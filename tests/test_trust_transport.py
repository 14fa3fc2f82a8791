"""The transport against a hostile server: no hang past the deadline, no redirect followed, no
secret or control character in an error, no proxy for loopback, bounded answers and waits."""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import imgframe
from imgframe.credentials import Credentials, resolve_credentials, resolve_endpoint
from imgframe.errors import (
    ApiError,
    BadResponseError,
    ConfigError,
    CredentialsError,
    NetworkError,
    PermissionDeniedError,
    RateLimitError,
)
from imgframe.parse import parse_zones
from imgframe.transport import RetryPolicy, Timeouts, Transport

from .hostile import (
    CONTENT_TYPES,
    GARBAGE_CHUNK_SIZES,
    HOSTILE_HEADERS,
    MIB,
    Delivery,
    HostileServer,
    When,
    echo,
)

SECRET = "s3cr3t-Passw0rd"
KEY = "AKIDHOSTILE"
NO_RETRY = RetryPolicy(max_attempts=1)
QUICK = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=2.0)


@pytest.fixture
def srv() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def transport(
    srv: HostileServer, *, retry: RetryPolicy = NO_RETRY, total: float = 2.0, **kwargs: object
) -> Transport:
    return Transport(
        Credentials(KEY, SECRET),
        srv.endpoint,
        timeouts=Timeouts(connect=1.0, read=1.0, total=total),
        retry=retry,
        **kwargs,  # type: ignore[arg-type]
    )


def zones(t: Transport) -> list[dict[str, object]]:
    return t.call("DescribeZones", {}, parse=parse_zones)


def signature(srv: HostileServer) -> str:
    """The signature part of the Authorization header the client sent last."""
    return (srv.requests[-1].authorization or "").rpartition("Signature=")[2]


# --------------------------------------------------------------------------------------------
# Deadlines on every byte


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "delivery",
    [
        Delivery(head_byte_delay=0.05),  # status line and headers trickle
        Delivery(body_byte_delay=0.05, body_step=1),  # the body trickles
        Delivery(stall_after_head=math.inf),  # headers, then silence below the read timeout
        Delivery(delay_before=math.inf),  # nothing at all
    ],
    ids=["trickled-headers", "trickled-body", "stall-after-headers", "silent"],
)
def test_no_answer_holds_a_request_past_its_total_deadline(
    srv: HostileServer, delivery: Delivery
) -> None:
    srv.deliver(delivery)
    with transport(srv, total=0.6) as t, pytest.raises(NetworkError) as caught:
        zones(t)
    message = str(caught.value)
    if delivery.delay_before == math.inf or delivery.stall_after_head == math.inf:
        # Silence trips the per-read timeout first (1 s) or the total (0.6 s), both bounded.
        assert "timeout" in message
    else:
        assert message == ("DescribeZones: the answer took longer than the total timeout of 0.6s")
    assert srv.count("DescribeZones") == 1


@pytest.mark.timeout(20)
def test_a_trickle_is_retried_and_each_attempt_keeps_its_own_deadline(srv: HostileServer) -> None:
    srv.deliver(Delivery(head_byte_delay=0.05), when=When("DescribeZones", times=2))
    with transport(srv, retry=QUICK, total=0.4) as t:
        assert [z["zoneId"] for z in zones(t)] == ["asia-east-1a", "asia-southeast-1a"]
        assert t.stats.requests["DescribeZones"] == 3
        assert t.stats.retries == 2


def test_an_enormous_answer_is_refused_not_read_to_the_end(srv: HostileServer) -> None:
    srv.enormous(20 * MIB)
    with transport(srv, max_answer_bytes=MIB) as t, pytest.raises(BadResponseError) as caught:
        zones(t)
    assert str(caught.value) == (
        "DescribeZones: the answer is larger than 1,048,576 bytes; refused (no page is that large)"
    )
    sent = srv.transmissions[-1]
    assert sent.body_sent < 20 * MIB  # the client hung up early


# --------------------------------------------------------------------------------------------
# Redirects, framing and headers


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_and_the_signature_goes_nowhere_else(
    srv: HostileServer, status: int
) -> None:
    srv.start_other()
    srv.redirect(status)
    with transport(srv, retry=QUICK) as t, pytest.raises(BadResponseError) as caught:
        zones(t)
    assert str(caught.value) == (
        f"DescribeZones: HTTP {status} redirect to http://127.0.0.1 was not followed (a signed "
        "request must not go anywhere but the endpoint); check the endpoint"
    )
    assert srv.requests_to("other") == []
    assert srv.count("DescribeZones") == 1  # not retried either


def _data_or_one_clean_line(t: Transport) -> list[str] | str:
    """The zone ids, or the error's message after checking it is one clean line."""
    try:
        return [str(z["zoneId"]) for z in zones(t)]
    except imgframe.ImgframeError as exc:
        message = str(exc)
        assert message.startswith("DescribeZones")
        assert not any(ord(c) < 32 for c in message)
        assert "\x1b" not in message
        assert len(message) < 400
        return message


@pytest.mark.parametrize(
    "edit",
    [{"content_length_delta": 50}, {"content_length_delta": -5},
     {"content_length_values": [b"10", b"99"]}, {"omit_content_length": True}],
    ids=["length-too-long", "length-too-short", "two-lengths", "no-length"],
)  # fmt: skip
def test_broken_framing_ends_in_one_clean_line(srv: HostileServer, edit: dict[str, object]) -> None:
    srv.headers(**edit)  # type: ignore[arg-type]
    srv.deliver(Delivery(close=True))
    with transport(srv, retry=QUICK, total=1.0) as t:
        outcome = _data_or_one_clean_line(t)
    if edit.get("omit_content_length"):
        assert outcome == ["asia-east-1a", "asia-southeast-1a"]  # ended by the close: whole
    else:
        assert isinstance(outcome, str)


@pytest.mark.parametrize("name", sorted(HOSTILE_HEADERS))
def test_any_hostile_header_gives_the_data_or_one_clean_line(srv: HostileServer, name: str) -> None:
    srv.headers(add=HOSTILE_HEADERS[name])
    with transport(srv, retry=QUICK, total=1.0) as t:
        outcome = _data_or_one_clean_line(t)
    harmless = {"retry_after_garbage", "retry_after_negative", "retry_after_huge",
                "retry_after_float", "retry_after_nan", "retry_after_empty",
                "retry_after_far_date", "retry_after_past_date", "retry_after_twice",
                "non_latin1", "control_chars", "set_cookie", "location_on_200",
                "www_authenticate", "cf_challenge", "space_before_colon", "obs_fold"}  # fmt: skip
    if name in harmless:
        assert outcome == ["asia-east-1a", "asia-southeast-1a"]


def test_garbage_chunk_sizes_are_a_network_error_after_the_retries(srv: HostileServer) -> None:
    srv.chunked(size_lines=GARBAGE_CHUNK_SIZES)
    with transport(srv, retry=QUICK) as t, pytest.raises(NetworkError) as caught:
        zones(t)
    assert str(caught.value).startswith("DescribeZones: ")
    assert str(caught.value).endswith("[after 3 attempts]")


@pytest.mark.parametrize(
    "header",
    ["retry_after_garbage", "retry_after_negative", "retry_after_huge", "retry_after_far_date"],
)
def test_a_hostile_retry_after_never_waits_past_the_policy(srv: HostileServer, header: str) -> None:
    srv.error(429, "REQUEST_LIMIT_EXCEEDED", "slow down", headers=HOSTILE_HEADERS[header])
    waits: list[float] = []
    with transport(srv, retry=QUICK) as t:
        t.sleep = waits.append
        with pytest.raises(RateLimitError):
            zones(t)
    assert len(waits) == 2
    assert all(0 <= w <= QUICK.max_delay for w in waits)
    assert t.stats.throttled == 3


def test_an_error_envelope_sent_with_http_200_is_the_api_error(srv: HostileServer) -> None:
    srv.error(200, "INVALID_PARAMETER_VALUE", "zoneIds is wrong")
    with transport(srv) as t, pytest.raises(ApiError) as caught:
        zones(t)
    assert (caught.value.code, caught.value.http_status) == ("INVALID_PARAMETER_VALUE", 200)


def test_a_403_with_an_api_code_is_permission_denied(srv: HostileServer) -> None:
    srv.error(403, "AUTHFAILURE_UNAUTHORIZED_OPERATION", "not allowed: DescribeInstances")
    with transport(srv) as t, pytest.raises(PermissionDeniedError) as caught:
        zones(t)
    assert caught.value.code == "AUTHFAILURE_UNAUTHORIZED_OPERATION"


# --------------------------------------------------------------------------------------------
# What reaches an error line


def test_a_server_echoing_the_signature_and_escape_codes_gets_neither_printed(
    srv: HostileServer,
) -> None:
    srv.error(
        401,
        "AUTHFAILURE_SIGNATURE_FAILURE\x1b[2J",
        echo("Authorization", "\x1b[31mbad: {}\r\nSet-Cookie: x=1\x07"),
    )
    with transport(srv) as t, pytest.raises(ApiError) as caught:
        zones(t)
    message = str(caught.value)
    sent = signature(srv)
    assert len(sent) == 64
    assert sent not in message
    assert SECRET not in message
    assert not any(ord(c) < 32 for c in message)
    assert "\x1b" not in caught.value.code
    assert caught.value.code.startswith("AUTHFAILURE")


def test_a_non_json_error_page_preview_is_clean_and_redacted(srv: HostileServer) -> None:
    srv.error(
        502,
        body=f"<h1>\x1b[5mgateway {SECRET}\x00</h1>".encode(),
        content_type=CONTENT_TYPES["html"],
    )
    with transport(srv) as t, pytest.raises(BadResponseError) as caught:
        zones(t)
    message = str(caught.value)
    assert SECRET not in message
    assert "***" in message
    assert not any(ord(c) < 32 for c in message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": "tok\nen"}, "the token from arguments holds a control or space character at "
         "position 4 (a pasted line break?); it cannot be sent in an HTTP header"),
        ({"token": "tokén€"}, "the token from arguments holds a non-Latin-1 character at position 6"),
        ({"access_key_id": "AK\r\nX-Evil: 1", "access_key_secret": "long-enough-secret"},
         "the access key id from arguments holds a control or space character at position 3"),
        ({"access_key_id": "AKID-long-enough", "access_key_secret": "pa\x00ss"},
         "the access key secret from arguments holds a control or space character at position 3"),
    ],
)  # fmt: skip
def test_credentials_that_cannot_be_sent_are_refused_when_read_without_echo(
    kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(CredentialsError) as caught:
        resolve_credentials(environ={}, **kwargs)
    assert str(caught.value).startswith(message)
    for value in kwargs.values():
        assert value not in str(caught.value)


def test_a_profile_file_with_wrong_types_or_bytes_is_one_clear_line(tmp_path: Path) -> None:
    zen = tmp_path / ".zenlayer"
    zen.mkdir()
    (zen / "credentials.json").write_text(
        '{"default": {"access_key_id": 7, "access_key_secret": []}}'
    )
    with pytest.raises(CredentialsError, match=r"the access key id from .* must be text, not int"):
        resolve_credentials(environ={}, home=tmp_path)
    (zen / "credentials.json").write_bytes(b'{"default": {"token": "\xff\xfe"}}')
    with pytest.raises(ConfigError, match=r"credentials.json is not UTF-8 text$"):
        resolve_credentials(environ={}, home=tmp_path)
    (zen / "credentials.json").write_text("[" * 100_000)
    with pytest.raises(ConfigError, match=r"credentials.json is not valid JSON$"):
        resolve_credentials(environ={}, home=tmp_path)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("https://user:hunter2@console.zenlayer.com", "endpoint must not hold credentials in the URL"),
        ("https://console.zenlayer.com/?token=hunter2", "endpoint 'https://console.zenlayer.com/' must be a base URL without a query"),
        ("https://exa mple.com", "endpoint 'https://exa?mple.com' holds spaces or control characters"),
        ("https://bad_host!.com", "endpoint 'https://bad_host!.com' does not name a valid host"),
        ("https://console.zenlayer.com\r\nX: 1", "endpoint 'https://console.zenlayer.com??X:?1' holds spaces or control"),
        ("ftp://console.zenlayer.com", "endpoint 'ftp://console.zenlayer.com' is not an http(s) URL"),
    ],
)  # fmt: skip
def test_malformed_endpoints_are_one_line_without_credentials(endpoint: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_endpoint(endpoint, environ={})
    assert str(caught.value).startswith(message)
    assert "hunter2" not in str(caught.value)


# --------------------------------------------------------------------------------------------
# Proxies


def _listener() -> tuple[socket.socket, list[bytes]]:
    """A TCP listener that records what connects to it (a stand-in proxy)."""
    sock = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    seen.append(conn.recv(4096))
                except OSError:
                    seen.append(b"")

    threading.Thread(target=accept, daemon=True).start()
    return sock, seen


def test_a_loopback_endpoint_never_goes_through_the_environment_proxy(
    srv: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy, seen = _listener()
    with proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with transport(srv) as t:
            assert len(zones(t)) == 2
    assert seen == []
    assert srv.count("DescribeZones") == 1


def test_errors_through_a_proxy_name_it_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("HTTPS_PROXY", f"http://me:hunter2@127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    t = Transport(
        Credentials(KEY, SECRET),
        "https://console.zenlayer.example",
        timeouts=Timeouts(connect=1, read=1, total=2),
        retry=NO_RETRY,
    )
    with t, pytest.raises(NetworkError) as caught:
        zones(t)
    assert str(caught.value) == (
        f"DescribeZones: connection refused (via proxy http://127.0.0.1:{port})"
    )
