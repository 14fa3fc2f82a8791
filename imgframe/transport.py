"""The transport: one signed ZEC request at a time, pooled, retried, with readable errors.

A :class:`Transport` sends one action at a time (``call``) and is safe to share between the
threads that fetch pages concurrently: ``requests.Session`` keeps a pool of keep-alive
connections sized for them. Every attempt is signed afresh (the timestamp is part of the
signature), with the clock injectable so tests can pin exact headers.

Retries are written here rather than delegated to urllib3's ``Retry``: the decision depends on
the JSON error ``code`` in the body (``REQUEST_LIMIT_EXCEEDED`` and friends) and on whether the
200 body parses, which urllib3 never sees. Backoff is exponential with full jitter, honours
``Retry-After``, and is bounded both in attempts and in total time. DescribeImages and
DescribeZones are read-only, so retrying them is always safe.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter

from ._version import __version__
from .credentials import Credentials
from .errors import (
    ApiError,
    AuthError,
    BadResponseError,
    BlockedError,
    ImgframeError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    TransportError,
)
from .schema import API_VERSION, SERVICE
from .signing import SIGNATURE_METHOD, sign

__all__ = ["CONTENT_TYPE", "RetryPolicy", "Timeouts", "Transport"]

log = logging.getLogger("imgframe.transport")

CONTENT_TYPE = "application/json"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_CODES = frozenset(
    {
        "REQUEST_LIMIT_EXCEEDED",
        "INTERNAL_SERVER_ERROR",
        "SERVICE_TEMPORARY_UNAVAILABLE",
        "REQUEST_TIMED_OUT",
    }
)
# X-ZC-Request-Client allows letters, digits and "-_ ,;." only, so no "/" in it.
REQUEST_CLIENT = f"imgframe-{__version__}"
USER_AGENT = f"imgframe/{__version__} python-requests/{requests.__version__}"
_BODY_PREVIEW = 160
_CHUNK = 1 << 16

T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect, to wait for each read, and for one whole answer.

    ``total`` catches a server that trickles a body slowly enough to dodge ``read``.
    """

    connect: float = 5.0
    read: float = 30.0
    total: float = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total waiting time.

    The wait before retry ``n`` (1-based) is uniform in ``[0, min(max_delay, base * 2**(n-1))]``,
    or the server's ``Retry-After`` when it sends one (capped by ``max_delay``).
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0
    max_total: float = 60.0

    def delay(self, retry: int, rng: random.Random, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry``."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


@dataclass
class _Attempt:
    """What one try produced: a value, or an error and whether retrying may help."""

    error: ImgframeError | None = None
    retryable: bool = False
    retry_after: float | None = None
    reason: str = ""
    value: Any = None


@dataclass
class Transport:
    """A client for the ZEC API (``POST <endpoint>/api/v2/zec``).

    >>> from imgframe.credentials import Credentials
    >>> transport = Transport(Credentials(token="t"), "http://127.0.0.1:9")
    >>> transport
    Transport(endpoint='http://127.0.0.1:9', credentials=Credentials(token, secret=***, \
source='arguments'))
    """

    credentials: Credentials
    endpoint: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    pool_size: int = 16
    verify: bool | str = field(default=True, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint)
        self._url = f"{parts.scheme}://{parts.netloc}/api/v2/{SERVICE}"
        # Signed exactly as sent: the Host header is set by us, port kept when not default.
        default_port = 443 if parts.scheme == "https" else 80
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        self._host = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.verify = self.verify
        # Proxies from the environment are honoured, but never ~/.netrc: requests would
        # replace the signed Authorization header with Basic auth for a matching host.
        self._session.trust_env = True
        self._session.auth = _KeepHeaders()

    def __repr__(self) -> str:
        return f"Transport(endpoint={self.endpoint!r}, credentials={self.credentials!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def headers(self, action: str, body: bytes) -> dict[str, str]:
        """The headers of one request, signed for this instant."""
        headers = {
            "Host": self._host,
            "Content-Type": CONTENT_TYPE,
            "X-ZC-Action": action,
            "X-ZC-Version": API_VERSION,
            "X-ZC-Service": SERVICE,
            "X-ZC-Request-Client": REQUEST_CLIENT,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        creds = self.credentials
        if creds.is_token:
            headers["Authorization"] = f"Bearer {creds.token}"
            return headers
        timestamp = str(int(self.clock()))
        headers["X-ZC-Timestamp"] = timestamp
        headers["X-ZC-Signature-Method"] = SIGNATURE_METHOD
        headers["Authorization"] = sign(
            access_key_id=creds.access_key_id or "",
            access_key_secret=creds.access_key_secret or "",
            host=self._host,
            content_type=CONTENT_TYPE,
            body=body,
            timestamp=timestamp,
        )
        return headers

    def call(
        self,
        action: str,
        params: Mapping[str, Any],
        *,
        parse: Callable[[bytes], T],
        context: str = "",
    ) -> T:
        """Send one action and return ``parse(body)`` of its 200 answer, retrying what is safe.

        ``parse`` may raise :class:`BadResponseError`; that answer is then retried like a 5xx.
        ``context`` (e.g. ``"zone asia-east-1a page 3"``) goes into retry logs and errors.
        """
        body = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        where = f"{action} {context}".strip()
        policy = self.retry
        deadline = time.monotonic() + policy.max_total
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            outcome = self._attempt(action, body, parse)
            if outcome.error is None:
                return outcome.value  # type: ignore[no-any-return]
            error = outcome.error
            wait = policy.delay(attempt, self.rng, outcome.retry_after)
            if (
                not outcome.retryable
                or attempt >= policy.max_attempts
                or time.monotonic() + wait > deadline
                or waited + wait > policy.max_total
            ):
                raise _with_attempts(error, attempt)
            log.debug(
                "retrying %s (attempt %d of %d) in %.2fs: %s",
                where,
                attempt + 1,
                policy.max_attempts,
                wait,
                outcome.reason,
            )
            self.sleep(wait)
            waited += wait

    def _attempt(self, action: str, body: bytes, parse: Callable[[bytes], Any]) -> _Attempt:
        started = time.monotonic()
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers=self.headers(action, body),
                timeout=(self.timeouts.connect, self.timeouts.read),
                stream=True,
                allow_redirects=False,
            )
            try:
                content = self._read_body(response, started)
            finally:
                response.close()
        except requests.exceptions.SSLError as exc:
            # Never retried and never silently downgraded: a TLS failure is a configuration
            # problem (or an attack), not a blip.
            return _Attempt(
                NetworkError(
                    f"{action}: TLS failed (certificate or handshake): {_short(exc)}", action=action
                )
            )
        except (requests.RequestException, TimeoutError) as exc:
            reason = _network_reason(exc)
            return _Attempt(
                NetworkError(f"{action}: {reason}", action=action), retryable=True, reason=reason
            )
        status = response.status_code
        if status == 200:
            try:
                return _Attempt(value=parse(content))
            except BadResponseError as exc:
                return _Attempt(exc, retryable=True, reason=str(exc))
        return _classify(action, status, response.headers, content, self.credentials.secrets())

    def _read_body(self, response: requests.Response, started: float) -> bytes:
        chunks = []
        for chunk in response.iter_content(_CHUNK):
            chunks.append(chunk)
            if time.monotonic() - started > self.timeouts.total:
                raise TimeoutError(f"the answer took longer than {self.timeouts.total:g}s in total")
        return b"".join(chunks)


class _KeepHeaders(requests.auth.AuthBase):
    """Session auth that changes nothing, so requests never falls back to ~/.netrc."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def _classify(
    action: str,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    secrets: tuple[str, ...],
) -> _Attempt:
    """Turn a non-200 answer into the right error, and say whether to retry."""
    retry_after = _retry_after(headers.get("Retry-After"))
    if status == 403 and headers.get("cf-mitigated", "").lower() == "challenge":
        return _Attempt(
            BlockedError(
                f"{action}: HTTP 403 security challenge from the network in front of the API "
                "(not an API error); retry later or contact Zenlayer support",
                action=action,
                http_status=403,
            )
        )
    if status == 451:
        return _Attempt(
            BlockedError(
                f"{action}: HTTP 451, the request was blocked by a security policy",
                action=action,
                http_status=451,
            )
        )
    document = _json_object(content)
    code = document.get("code") if document else None
    if not isinstance(code, str):
        content_type = headers.get("Content-Type", "no content type")
        shape = "an empty body" if not content.strip() else f"a non-JSON body ({content_type})"
        preview = "" if not content.strip() else f": {_preview(content, secrets)}"
        reason = f"HTTP {status} with {shape}"
        return _Attempt(
            BadResponseError(
                f"{action}: HTTP {status} {_reason_phrase(status)} with {shape}{preview}",
                action=action,
                http_status=status,
            ),
            retryable=status in RETRY_STATUSES,
            retry_after=retry_after,
            reason=reason,
        )
    assert document is not None
    message = _redact(str(document.get("message") or "(no message)"), secrets)[:400]
    request_id = document.get("requestId")
    kwargs: dict[str, Any] = {
        "code": code,
        "message": message,
        "request_id": request_id if isinstance(request_id, str) else None,
        "http_status": status,
        "action": action,
    }
    error: ApiError
    if code == "REQUEST_LIMIT_EXCEEDED" or status == 429:
        error = RateLimitError(**kwargs)
    elif code.startswith("AUTHFAILURE") or status == 401:
        error = AuthError(**kwargs)
    elif status == 404 or code.endswith("NOT_FOUND"):
        error = NotFoundError(**kwargs)
    else:
        error = ApiError(**kwargs)
    retryable = code in RETRY_CODES or status in RETRY_STATUSES
    return _Attempt(
        error, retryable=retryable, retry_after=retry_after, reason=f"HTTP {status} {code}"
    )


def _with_attempts(error: ImgframeError, attempts: int) -> ImgframeError:
    """The final error, saying how many attempts were made when there was more than one."""
    if attempts == 1:
        return error
    if isinstance(error, ApiError):
        state = dict(error.__dict__)
        state["attempts"] = attempts
        rebuilt = type(error).__new__(type(error))
        rebuilt.__dict__.update(state)
        Exception.__init__(rebuilt, rebuilt._describe())
        return rebuilt
    if isinstance(error, TransportError):
        error.attempts = attempts
        error.args = (f"{error.args[0]} [after {attempts} attempts]",)
    return error


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connecting timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "the server did not answer within the read timeout"
    if isinstance(exc, TimeoutError):
        return str(exc)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection closed before the whole answer arrived"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "timed out" in text.lower():
            return "the server did not answer within the read timeout"
        if "refused" in text.lower():
            return "connection refused"
        return "the connection failed or was dropped"
    return _short(exc)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _preview(content: bytes, secrets: tuple[str, ...]) -> str:
    text = " ".join(content[: _BODY_PREVIEW * 2].decode("utf-8", "replace").split())
    text = _redact(text, secrets)
    return repr(text[:_BODY_PREVIEW] + ("..." if len(text) > _BODY_PREVIEW else ""))


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
