"""ZC2-HMAC-SHA256 request signing, as a pure function.

The signature covers the body bytes exactly as sent and two headers, ``Content-Type`` and
``Host``, with their values exactly as sent (so ``127.0.0.1:8765`` keeps its port and
``application/json; charset=utf-8`` signs differently from ``application/json``). There is no
key derivation chain: the HMAC key is the access key password itself.

>>> sign(access_key_id="AK", access_key_secret="pw", host="console.zenlayer.com",
...      content_type="application/json", body=b"{}", timestamp="1700000000")[:40]
'ZC2-HMAC-SHA256 Credential=AK, SignedHea'
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_METHOD = "ZC2-HMAC-SHA256"
SIGNED_HEADERS = "content-type;host"


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_request(*, host: str, content_type: str, body: bytes) -> str:
    """The canonical request: method, ``/``, empty query, signed headers, payload hash."""
    headers = f"content-type:{content_type}\nhost:{host}\n"
    return "\n".join(("POST", "/", "", headers, SIGNED_HEADERS, _sha256_hex(body)))


def signature(
    *, access_key_secret: str, host: str, content_type: str, body: bytes, timestamp: str
) -> str:
    """Hex HMAC-SHA256 signature of one request."""
    hashed = _sha256_hex(
        canonical_request(host=host, content_type=content_type, body=body).encode()
    )
    string_to_sign = f"{SIGNATURE_METHOD}\n{timestamp}\n{hashed}"
    return hmac.new(
        access_key_secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def sign(
    *,
    access_key_id: str,
    access_key_secret: str,
    host: str,
    content_type: str,
    body: bytes,
    timestamp: str,
) -> str:
    """The ``Authorization`` header value for one request."""
    sig = signature(
        access_key_secret=access_key_secret,
        host=host,
        content_type=content_type,
        body=body,
        timestamp=timestamp,
    )
    return (
        f"{SIGNATURE_METHOD} Credential={access_key_id}, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={sig}"
    )


def parse_authorization(value: str) -> tuple[str, str, str] | None:
    """Split a ZC2 ``Authorization`` value into (access key id, signed headers, signature).

    Returns ``None`` when the value is not a well-formed ZC2 header.
    """
    prefix = SIGNATURE_METHOD + " "
    if not value.startswith(prefix):
        return None
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        name, sep, item = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = item
    try:
        return fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError:
        return None
