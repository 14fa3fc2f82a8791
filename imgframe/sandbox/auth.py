"""Server-side authentication: bearer tokens and ZC2-HMAC-SHA256 signatures.

The signature is recomputed with :func:`imgframe.signing.signature` from the ``Host`` and
``Content-Type`` header values exactly as received and the raw body bytes, which is what the
real API signs, so a client that signs anything else (a normalised content type, a host
without its port, re-encoded JSON) is rejected here as it would be there. Every failure is
answered 401 ``AUTHFAILURE_SIGNATURE_FAILURE`` with a message saying which check failed.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping

from imgframe.signing import SIGNATURE_METHOD, SIGNED_HEADERS, parse_authorization, signature

DEMO_ACCESS_KEY_ID = "imgframe-demo"
DEMO_ACCESS_KEY_SECRET = "imgframe-demo-secret"  # published demo credential
DEMO_TOKEN = "imgframe-demo-token"  # published demo credential

#: How far X-ZC-Timestamp may be from the server clock (not documented by Zenlayer).
MAX_CLOCK_SKEW_SECONDS = 300

AUTH_FAILURE = "AUTHFAILURE_SIGNATURE_FAILURE"


def authenticate(
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: Mapping[str, str],
    tokens: Collection[str],
    now: float,
) -> str | None:
    """Check one request's credentials: None if accepted, else the reason (a message).

    ``headers`` maps lower-cased header names to values as received.

    >>> authenticate({"authorization": "Bearer t"}, b"{}", credentials={}, tokens=["t"], now=0)
    """
    authorization = headers.get("authorization", "").strip()
    if not authorization:
        return (
            "The request carries no credentials: send 'Authorization: Bearer <token>' or a "
            f"{SIGNATURE_METHOD} signature."
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer":
        # Compare against every token so the time taken does not tell which one was close.
        matched = False
        for known in tokens:
            matched |= hmac.compare_digest(token.strip().encode(), known.encode())
        return None if matched else "The bearer token is not valid."
    return _check_signature(headers, body, authorization, credentials, now)


def principal(headers: Mapping[str, str]) -> tuple[str, str]:
    """Who made a request :func:`authenticate` accepted: ``("token", token)`` or
    ``("key", access key id)``.

    >>> principal({"authorization": "Bearer t"})
    ('token', 't')
    """
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return "token", token.strip()
    parsed = parse_authorization(headers.get("authorization", "").strip())
    return "key", parsed[0] if parsed is not None else ""


def _check_signature(
    headers: Mapping[str, str],
    body: bytes,
    authorization: str,
    credentials: Mapping[str, str],
    now: float,
) -> str | None:
    parsed = parse_authorization(authorization)
    if parsed is None:
        return (
            f"The Authorization header is neither a bearer token nor a well-formed "
            f"{SIGNATURE_METHOD} credential."
        )
    key_id, signed_headers, sig = parsed
    method = headers.get("x-zc-signature-method")
    if method != SIGNATURE_METHOD:
        return f"X-ZC-Signature-Method must be {SIGNATURE_METHOD}, got {method!r}."
    if signed_headers != SIGNED_HEADERS:
        return f"SignedHeaders must be {SIGNED_HEADERS}, got {signed_headers!r}."
    secret = credentials.get(key_id)
    if secret is None:
        return "The access key id does not exist."
    timestamp = headers.get("x-zc-timestamp", "")
    if not timestamp.isdigit():
        return "X-ZC-Timestamp must be the Unix time in whole seconds."
    skew = int(timestamp) - int(now)
    if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
        return (
            f"The request timestamp is expired: it is {skew:+d} s from the server clock "
            f"(at most {MAX_CLOCK_SKEW_SECONDS} s of clock skew is allowed). "
            "Check the client's clock."
        )
    expected = signature(
        access_key_secret=secret,
        host=headers.get("host", ""),
        content_type=headers.get("content-type", ""),
        body=body,
        timestamp=timestamp,
    )
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        return (
            "The request signature does not match: check the access key secret and sign the "
            "body bytes, Host and Content-Type exactly as sent."
        )
    return None
