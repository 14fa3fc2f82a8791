"""The transport: one signed ZEC request at a time, pooled, retried, with readable errors.

A :class:`Transport` sends one action at a time (``call``) and is safe to share between the
threads that fetch pages concurrently: ``requests.Session`` keeps a pool of keep-alive
connections sized for them. Every attempt is signed afresh (the timestamp is part of the
signature), with the clock injectable so tests can pin exact headers.

Retries are written here rather than delegated to urllib3's ``Retry``: the decision depends on
the JSON error ``code`` in the body (``REQUEST_LIMIT_EXCEEDED`` and friends) and on whether the
200 body parses, which urllib3 never sees. Backoff is exponential with full jitter, honours
``Retry-After``, and is bounded both in attempts and in total time. Every action imgframe
sends is read-only (Describe*), so retrying them is always safe.

What a hostile or broken server cannot do to a request:

- hold it past :attr:`Timeouts.total`: every byte read or written, status line and headers
  included, keeps to that deadline (:mod:`imgframe.connections`);
- make it read without end: an answer larger than :attr:`Transport.max_answer_bytes` is
  refused;
- send it elsewhere: redirects are never followed (the signed request would go to another
  host), and a loopback endpoint (the sandbox) is never sent through ``HTTP_PROXY``;
- put control characters or a secret on the user's terminal: API messages and body previews
  are cleaned (:func:`~imgframe.text.clean_text`) and redacted before they reach an error.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import requests
import requests.auth
import requests.utils

from ._version import __version__
from .connections import DeadlineAdapter, deadline, deadline_passed
from .credentials import Credentials, is_loopback, without_userinfo
from .errors import (
    ApiError,
    AuthError,
    BadResponseError,
    BlockedError,
    ImgframeError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TransportError,
)
from .schema import API_VERSION, SERVICE
from .signing import SIGNATURE_METHOD, sign
from .text import clean_text

__all__ = ["CONTENT_TYPE", "RetryPolicy", "Slots", "Timeouts", "Transport", "TransportStats"]

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
#: The largest answer read (a page of 1,000 images is about 0.5 MB).
MAX_ANSWER_BYTES = 64 << 20

T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect, to wait for each read, and for one whole answer.

    ``total`` bounds every byte of one attempt, from sending the request to the last byte of
    the answer: it catches a server that trickles its headers or body slowly enough to dodge
    ``read``.
    """

    connect: float = 5.0
    read: float = 30.0
    total: float = 120.0


class Slots:
    """The bound on requests in flight, shared by every listing (and account) of a run, that
    backs off when the API throttles.

    It starts at ``maximum``. A throttled answer (HTTP 429) halves the bound, not below 1,
    once per window: only an attempt that entered after the last cut can cut again, so a
    burst of 429s from one overload halves it once (as TCP cuts once per round trip). Each
    run of ``bound`` answers without throttling raises it by one, back up to ``maximum``:
    additive increase, multiplicative decrease, as TCP and the AWS SDKs' adaptive retry
    mode do. A slot is held for one attempt, never across a retry's wait.

    >>> slots = Slots(8)
    >>> with slots as ticket: pass
    >>> slots.answered(throttled=True, ticket=ticket); slots.bound
    4
    >>> slots.answered(throttled=True, ticket=ticket); slots.bound  # the same window
    4
    >>> for _ in range(4): slots.answered(throttled=False)
    >>> slots.bound
    5
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._bound = maximum
        self._busy = 0
        self._streak = 0
        self._window = 0
        self._ready = threading.Condition()
        #: The lowest the bound went, and how many times it was cut (for the fetch record).
        self.lowest = maximum
        self.cuts = 0

    @property
    def bound(self) -> int:
        """How many requests may be in flight now."""
        return self._bound

    def __enter__(self) -> int:
        """Wait for a slot; returns the window the attempt entered in (its ticket)."""
        with self._ready:
            while self._busy >= self._bound:
                self._ready.wait()
            self._busy += 1
            return self._window

    def __exit__(self, *exc: object) -> None:
        with self._ready:
            self._busy -= 1
            self._ready.notify()

    def answered(self, *, throttled: bool, ticket: int | None = None) -> None:
        """Learn from one attempt's answer (``ticket``: what entering gave it)."""
        with self._ready:
            if throttled:
                self._streak = 0
                if (ticket is None or ticket == self._window) and self._bound > 1:
                    self._bound = max(1, self._bound // 2)
                    self._window += 1
                    self.lowest = min(self.lowest, self._bound)
                    self.cuts += 1
                return
            self._streak += 1
            if self._streak >= self._bound and self._bound < self.maximum:
                self._bound += 1
                self._streak = 0
                self._ready.notify()


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


class TransportStats:
    """What a transport did, for metrics: requests per action, retries, throttled answers
    (429 / REQUEST_LIMIT_EXCEEDED) and bytes received. Safe to update from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.retries = 0
        self.throttled = 0
        self.bytes_received = 0

    def count(self, action: str, received: int, *, throttled: bool) -> None:
        """Record one attempt."""
        with self._lock:
            self.requests[action] += 1
            self.bytes_received += received
            self.throttled += throttled

    def retried(self) -> None:
        """Record one retry."""
        with self._lock:
            self.retries += 1

    def snapshot(self) -> dict[str, Any]:
        """The counts so far: ``requests`` (per action), ``retries``, ``throttled``,
        ``bytesReceived``."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "retries": self.retries,
                "throttled": self.throttled,
                "bytesReceived": self.bytes_received,
            }

    def since(self, before: Mapping[str, Any]) -> dict[str, Any]:
        """What was counted since ``before`` (an earlier :meth:`snapshot`)."""
        now = self.snapshot()
        requests = {
            action: count - before["requests"].get(action, 0)
            for action, count in now["requests"].items()
            if count - before["requests"].get(action, 0)
        }
        return {"requests": requests} | {
            key: now[key] - before[key] for key in ("retries", "throttled", "bytesReceived")
        }


@dataclass
class _Attempt:
    """What one try produced: a value, or an error and whether retrying may help."""

    error: ImgframeError | None = None
    retryable: bool = False
    retry_after: float | None = None
    reason: str = ""
    value: Any = None
    received: int = 0
    throttled: bool = False


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
    max_answer_bytes: int = field(default=MAX_ANSWER_BYTES, repr=False)

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
        self._adapter = DeadlineAdapter(
            pool_connections=1, pool_maxsize=self.pool_size, max_retries=0
        )
        self._session.mount("http://", self._adapter)
        self._session.mount("https://", self._adapter)
        self._session.verify = self.verify
        # Proxies from the environment are honoured, but never ~/.netrc: requests would
        # replace the signed Authorization header with Basic auth for a matching host.
        self._session.trust_env = True
        self._session.auth = _KeepHeaders()
        # Never a proxy for loopback (the sandbox): its plain-http traffic, signed headers
        # included, would leave the machine. Elsewhere the environment's proxy, named in
        # errors (without its credentials) so a proxy failure is not taken for the API's.
        proxy = None if is_loopback(host.strip("[]")) else _environment_proxy(self._url)
        self._proxies: dict[str, str | None] = dict.fromkeys(("http", "https", "all"), proxy)
        self._via = f" (via proxy {without_userinfo(proxy)})" if proxy else ""
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"Transport(endpoint={self.endpoint!r}, credentials={self.credentials!r})"

    @property
    def host(self) -> str:
        """The endpoint's host (and port), as sent in ``Host``."""
        return self._host

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def abort(self) -> None:
        """End every request in flight now (their threads see a dropped connection)."""
        self._adapter.abort()

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
        cancel: threading.Event | None = None,
        slots: Slots | None = None,
    ) -> T:
        """Send one action and return ``parse(body)`` of its 200 answer, retrying what is safe.

        ``parse`` may raise :class:`BadResponseError`; that answer is then retried like a 5xx.
        ``context`` (e.g. ``"zone asia-east-1a page 3"``) goes into retry logs and errors.
        Once ``cancel`` is set, no further attempt is made (the run it belongs to is over).
        Each attempt holds one of ``slots`` (when given) and tells it whether it was throttled.
        """
        body = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        where = f"{action} {context}".strip()
        policy = self.retry
        deadline = time.monotonic() + policy.max_total
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            if slots is None:
                outcome = self._attempt(action, body, parse)
            else:
                with slots as ticket:
                    outcome = self._attempt(action, body, parse)
                slots.answered(throttled=outcome.throttled, ticket=ticket)
            if outcome.error is None:
                return outcome.value  # type: ignore[no-any-return]
            error = outcome.error
            wait = policy.delay(attempt, self.rng, outcome.retry_after)
            if (
                (cancel is not None and cancel.is_set())
                or not outcome.retryable
                or attempt >= policy.max_attempts
                or time.monotonic() + wait > deadline
                or waited + wait > policy.max_total
            ):
                raise _with_attempts(error, attempt)
            self.stats.retried()
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
        received = 0
        throttled = False
        try:
            outcome = self._exchange(action, body, parse)
            received = outcome.received
            throttled = outcome.throttled
            return outcome
        finally:
            self.stats.count(action, received, throttled=throttled)

    def _exchange(self, action: str, body: bytes, parse: Callable[[bytes], Any]) -> _Attempt:
        headers = self.headers(action, body)
        # What must never be quoted back: the secrets, and what this request carried of them
        # (a server may echo the Authorization header; a signature can be replayed).
        secrets = (*self.credentials.secrets(), *_sent_secrets(headers["Authorization"]))
        with deadline(self.timeouts.total):
            try:
                response = self._session.post(
                    self._url,
                    data=body,
                    headers=headers,
                    timeout=(self.timeouts.connect, self.timeouts.read),
                    stream=True,
                    allow_redirects=False,
                    proxies=cast(dict[str, str], self._proxies),  # None: no proxy
                )
                try:
                    content = self._read_body(response, action)
                finally:
                    response.close()
            except requests.exceptions.SSLError as exc:
                # Never retried and never silently downgraded: a TLS failure is a
                # configuration problem (or an attack), not a blip.
                reason = f"TLS failed (certificate or handshake): {_short(exc)}"
                return _Attempt(NetworkError(f"{action}: {reason}{self._via}", action=action))
            except BadResponseError as exc:
                return _Attempt(exc)
            except (requests.RequestException, TimeoutError) as exc:
                reason = (
                    f"the answer took longer than the total timeout of {self.timeouts.total:g}s"
                    if deadline_passed()
                    else _network_reason(exc)
                )
                error = NetworkError(f"{action}: {reason}{self._via}", action=action)
                return _Attempt(error, retryable=True, reason=reason)
        status = response.status_code
        if status == 200:
            try:
                return _Attempt(value=parse(content), received=len(content))
            except BadResponseError as exc:
                document = _json_object(content)
                if (
                    document
                    and isinstance(document.get("code"), str)
                    and "response" not in document
                ):
                    # An error envelope sent with HTTP 200: the API's answer, not a bad body.
                    outcome = _api_error(action, status, document, self.credentials.secrets())
                else:
                    outcome = _Attempt(exc, retryable=True, reason=str(exc))
                outcome.received = len(content)
                return outcome
        outcome = _classify(action, status, response.headers, content, secrets)
        outcome.received = len(content)
        return outcome

    def _read_body(self, response: requests.Response, action: str) -> bytes:
        """The answer's bytes, refusing one larger than :attr:`max_answer_bytes`."""
        chunks = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > self.max_answer_bytes:
                raise BadResponseError(
                    f"{action}: the answer is larger than {self.max_answer_bytes:,} bytes; "
                    "refused (no page is that large)",
                    action=action,
                    http_status=response.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _sent_secrets(authorization: str) -> tuple[str, ...]:
    """The Authorization value sent, and its signature or token on their own."""
    signature = authorization.rpartition("Signature=")[2]
    token = authorization.removeprefix("Bearer ")
    return tuple(dict.fromkeys(v for v in (authorization, signature, token) if len(v) >= 8))


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment asks for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY``, minus
    ``NO_PROXY``), or None."""
    proxies = requests.utils.get_environ_proxies(url)
    scheme = urlsplit(url).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    return proxy or None


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
    if 300 <= status < 400:
        return _Attempt(
            BadResponseError(
                f"{action}: HTTP {status} redirect{_destination(headers.get('Location'))} was "
                "not followed (a signed request must not go anywhere but the endpoint); "
                "check the endpoint",
                action=action,
                http_status=status,
            )
        )
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
    return _api_error(action, status, document, secrets, retry_after)


def _api_error(
    action: str,
    status: int,
    document: Mapping[str, Any],
    secrets: tuple[str, ...],
    retry_after: float | None = None,
) -> _Attempt:
    """An API error envelope as the right :class:`ApiError`, every quoted value cleaned."""
    code = _quoted(str(document.get("code")), secrets, 80)
    request_id = document.get("requestId")
    kwargs: dict[str, Any] = {
        "code": code,
        "message": _quoted(str(document.get("message") or "(no message)"), secrets, 400),
        "request_id": _quoted(request_id, secrets, 100) if isinstance(request_id, str) else None,
        "http_status": status,
        "action": action,
    }
    error: ApiError
    if code == "REQUEST_LIMIT_EXCEEDED" or status == 429:
        error = RateLimitError(**kwargs)
    elif status == 403 or code.endswith("UNAUTHORIZED_OPERATION"):
        error = PermissionDeniedError(**kwargs)
    elif code.startswith("AUTHFAILURE") or status == 401:
        error = AuthError(**kwargs)
    elif status == 404 or code.endswith("NOT_FOUND"):
        error = NotFoundError(**kwargs)
    else:
        error = ApiError(**kwargs)
    retryable = code in RETRY_CODES or status in RETRY_STATUSES
    return _Attempt(
        error,
        retryable=retryable,
        retry_after=retry_after,
        reason=f"HTTP {status} {code}",
        throttled=isinstance(error, RateLimitError),
    )


def _quoted(text: str, secrets: tuple[str, ...], limit: int) -> str:
    """Server text fit to quote: secrets redacted, control characters and escape sequences
    removed, cut to ``limit`` characters."""
    clean = clean_text(_redact(text, secrets))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _destination(location: str | None) -> str:
    """`` to <scheme://host>`` of a redirect's Location, cleaned (nothing else of it)."""
    if not location:
        return ""
    parts = urlsplit(location.strip())
    host = parts.hostname or ""
    if not host:
        return " to another path"
    where = f"{parts.scheme}://{host}" if parts.scheme else host
    return f" to {clean_text(where)[:100]}"


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
    except (UnicodeDecodeError, ValueError, RecursionError):
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
    return " ".join(clean_text(str(exc)).split())[:200]


def _preview(content: bytes, secrets: tuple[str, ...]) -> str:
    text = clean_text(_redact(content[: _BODY_PREVIEW * 2].decode("utf-8", "replace"), secrets))
    text = " ".join(text.split())
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
