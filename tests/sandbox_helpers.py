"""Protocol-level helpers for the sandbox tests: signed raw requests and a raw HTTP reader."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any

import requests

from imgframe import sandbox
from imgframe.signing import sign

JSON = "application/json"


def encode(payload: Any) -> bytes:
    """A request body as a client would send it (compact UTF-8 JSON)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    sb: sandbox.Sandbox,
    body: bytes,
    action: str | None = "DescribeImages",
    *,
    key_id: str | None = None,
    secret: str | None = None,
    content_type: str = JSON,
    timestamp: str | None = None,
    sign_host: str | None = None,
    sign_content_type: str | None = None,
    sign_body: bytes | None = None,
) -> dict[str, str]:
    """ZC2 headers for ``body``; the ``sign_*`` overrides sign something other than what is
    sent (to tamper)."""
    ts = timestamp if timestamp is not None else str(int(time.time()))
    headers = {
        "Content-Type": content_type,
        "X-ZC-Version": "2025-09-01",
        "X-ZC-Service": "zec",
        "X-ZC-Timestamp": ts,
        "X-ZC-Signature-Method": "ZC2-HMAC-SHA256",
        "Authorization": sign(
            access_key_id=key_id or sb.access_key_id,
            access_key_secret=secret or sb.access_key_secret,
            host=sign_host or f"127.0.0.1:{sb.port}",
            content_type=sign_content_type or content_type,
            body=sign_body if sign_body is not None else body,
            timestamp=ts,
        ),
    }
    if action is not None:
        headers["X-ZC-Action"] = action
    return headers


def bearer_headers(token: str, action: str = "DescribeImages") -> dict[str, str]:
    """Headers of a bearer-token request (no timestamp or signature method)."""
    return {
        "Content-Type": JSON,
        "X-ZC-Version": "2025-09-01",
        "X-ZC-Action": action,
        "Authorization": f"Bearer {token}",
    }


def call(
    session: requests.Session,
    sb: sandbox.Sandbox,
    payload: Any,
    action: str = "DescribeImages",
    **kwargs: Any,
) -> requests.Response:
    """POST a signed request; ``payload`` is encoded unless it is already bytes."""
    body = payload if isinstance(payload, bytes) else encode(payload)
    timeout = kwargs.pop("timeout", 5)
    headers = signed_headers(sb, body, action, **kwargs)
    return session.post(sb.api_url, data=body, headers=headers, timeout=timeout)


def page(session: requests.Session, sb: sandbox.Sandbox, **payload: Any) -> dict[str, Any]:
    """The ``response`` object of a successful DescribeImages call."""
    r = call(session, sb, payload)
    assert r.status_code == 200, r.text
    response: dict[str, Any] = r.json()["response"]
    return response


def list_all(
    session: requests.Session, sb: sandbox.Sandbox, page_size: int, **filters: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every page of a listing, concatenated, with the totalCount of the first page."""
    first = page(session, sb, pageNum=1, pageSize=page_size, **filters)
    total: int = first["totalCount"]
    records = list(first["dataSet"])
    for num in range(2, -(-total // page_size) + 1):
        records.extend(page(session, sb, pageNum=num, pageSize=page_size, **filters)["dataSet"])
    return records, total


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    closed: bool  # the server closed the connection after (or instead of) this answer


def raw_request(sb: sandbox.Sandbox, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one POST request to the API path."""
    lines = [f"POST {sandbox.API_PATH} HTTP/1.1", f"Host: 127.0.0.1:{sb.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_response(sock: socket.socket) -> RawResponse | None:
    """Read one answer; None when the server closed without a byte. The body is what arrived
    before the connection closed, even if shorter than Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None if not data else RawResponse(0, {}, data, True)
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    closed = False
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            closed = True
            break
        body += chunk
    if headers.get("connection", "").lower() == "close":
        closed = True
    return RawResponse(int(status_line.split()[1]), headers, body, closed)


def raw_exchange(sb: sandbox.Sandbox, request: bytes, timeout: float = 5) -> RawResponse | None:
    """Send raw request bytes on a fresh connection and read one answer."""
    with socket.create_connection(("127.0.0.1", sb.port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_response(sock)
