"""ZC2-HMAC-SHA256: the official vectors, and agreement with the official SDK's signer."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgframe.credentials import Credentials
from imgframe.signing import canonical_request, parse_authorization, sign
from imgframe.transport import Transport

from .helpers import signature_vectors


@pytest.mark.parametrize("case", signature_vectors(), ids=lambda c: c["note"][:40])
def test_signature_matches_official_vector(case: dict[str, str]) -> None:
    assert (
        sign(
            access_key_id=case["accessKeyId"],
            access_key_secret=case["accessKeyPassword"],
            host=case["host"],
            content_type=case["contentType"],
            body=case["body"].encode("utf-8"),
            timestamp=case["timestamp"],
        )
        == case["authorization"]
    )


def test_canonical_request_layout() -> None:
    assert canonical_request(host="h:1", content_type="application/json", body=b"{}") == (
        "POST\n/\n\ncontent-type:application/json\nhost:h:1\n\ncontent-type;host\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_parse_authorization_round_trip() -> None:
    value = sign(
        access_key_id="AK", access_key_secret="pw", host="h", content_type="c", body=b"",
        timestamp="1",
    )  # fmt: skip
    key_id, signed, sig = parse_authorization(value) or ("", "", "")
    assert (key_id, signed, len(sig)) == ("AK", "content-type;host", 64)
    assert parse_authorization("Bearer abc") is None
    assert parse_authorization("ZC2-HMAC-SHA256 Credential=AK") is None


def _sdk_authorization(
    key_id: str, secret: str, host: str, content_type: str, body: str, timestamp: str
) -> str:
    """The official SDK's own signing code, fed a request it built the way it sends one."""
    from zenlayercloud.common.abstract_client import AbstractClient
    from zenlayercloud.common.credential import Credential
    from zenlayercloud.common.request import BaseRequest

    client: Any = AbstractClient.__new__(AbstractClient)
    client.credential = Credential(key_id, secret)
    request = BaseRequest(host=host, method="POST", uri="/api/v2/zec", data=body)
    request.set_host(host)
    request.set_content_type(content_type)
    request.header["x-zc-timestamp"] = timestamp
    result: str = client._build_zc2_authorization(request)
    return result


_hosts = st.one_of(
    st.sampled_from(["console.zenlayer.com", "127.0.0.1", "localhost", "[::1]"]),
    st.text(string.ascii_lowercase + string.digits + "-.", min_size=1, max_size=40),
).flatmap(lambda h: st.one_of(st.just(h), st.integers(1, 65535).map(lambda p: f"{h}:{p}")))


@settings(max_examples=200, deadline=None)
@given(
    key_id=st.text(string.ascii_letters + string.digits, min_size=1, max_size=30),
    # The SDK strips surrounding whitespace from keys (imgframe's Credentials do too).
    secret=st.text(min_size=1, max_size=60).filter(lambda s: s == s.strip() and s != ""),
    host=_hosts,
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8"]),
    body=st.text(max_size=300),
    timestamp=st.integers(0, 2**33).map(str),
)
def test_signature_agrees_with_official_sdk(
    key_id: str, secret: str, host: str, content_type: str, body: str, timestamp: str
) -> None:
    ours = sign(
        access_key_id=key_id,
        access_key_secret=secret,
        host=host,
        content_type=content_type,
        body=body.encode("utf-8"),
        timestamp=timestamp,
    )
    assert ours == _sdk_authorization(key_id, secret, host, content_type, body, timestamp)


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("https://console.zenlayer.com", "console.zenlayer.com"),
        ("https://console.zenlayer.com:443", "console.zenlayer.com"),
        ("https://example.test:8443", "example.test:8443"),
        ("http://127.0.0.1:8765", "127.0.0.1:8765"),
        ("http://localhost:80", "localhost"),
        ("http://[::1]:9000", "[::1]:9000"),
    ],
)
def test_client_signs_the_host_header_it_sends(endpoint: str, host: str) -> None:
    creds = Credentials("AK", "pw")
    client = Transport(creds, endpoint, clock=lambda: 1764201600.9)
    headers = client.headers("DescribeImages", b"{}")
    assert headers["Host"] == host
    assert headers["X-ZC-Timestamp"] == "1764201600"
    # The official SDK's signature of the same request: the Host header sent is the one signed.
    assert headers["Authorization"] == _sdk_authorization(
        "AK", "pw", host, "application/json", "{}", "1764201600"
    )
    assert headers["X-ZC-Version"] == "2025-09-01"
    assert headers["X-ZC-Service"] == "zec"
    assert headers["X-ZC-Signature-Method"] == "ZC2-HMAC-SHA256"
    assert headers["X-ZC-Request-Client"].startswith("imgframe-")
    assert headers["User-Agent"].startswith("imgframe/")


def test_token_credentials_send_bearer_and_no_signature_headers() -> None:
    client = Transport(Credentials(token="tok-123"), "https://console.zenlayer.com")
    headers = client.headers("DescribeZones", b"{}")
    assert headers["Authorization"] == "Bearer tok-123"
    assert "X-ZC-Timestamp" not in headers
    assert "X-ZC-Signature-Method" not in headers
