"""The sandbox server: Zenlayer's ZEC API v2 (``DescribeImages``, ``DescribeZones``,
``DescribeCustomImages``, ``DescribeInstances``) over real HTTP on 127.0.0.1, answering each
account (:mod:`imgframe.sandbox.accounts`) from its :class:`~imgframe.sandbox.catalog.Catalog`.

It speaks the protocol of the real endpoint: ``POST /api/v2/zec`` with the action in
``X-ZC-Action``, ``X-ZC-Version: 2025-09-01``, bearer-token or ZC2-HMAC-SHA256 auth,
``{"requestId", "response": {...}}`` on success and the flat ``{"requestId", "code",
"message"}`` envelope on failure. HTTP/1.1 keep-alive with ``Content-Length`` on every answer,
so a client's connection pool is reused; every answer carries a fresh ``requestId``.

A request goes through these steps, in order:

1. routing: another path is 404, another method 405;
2. authentication (:mod:`imgframe.sandbox.auth`), so real auth failures are never masked, then
   the key's permissions: an action its account is denied is 403;
3. the body is decoded, then :class:`~imgframe.sandbox.faults.Faults` may replace or distort
   the answer (the request is recorded either way);
4. headers and parameters are validated and the action answers.

Status and code of every error the sandbox answers (clients should match on ``code``):

====  ==================================  ====================================================
400   ``INVALID_PARAMETER``               body not UTF-8 JSON or not an object, a field of the
                                          wrong type, a bad ``Content-Length``
400   ``MISSING_PARAMETER``               DescribeImages ``zoneId`` or the ``X-ZC-Action``
                                          header missing
400   ``INVALID_PARAMETER_VALUE``         ``pageNum`` < 1, ``pageSize`` outside 1..1000, an
                                          enum value that is not documented (instance
                                          ``status``: see ``data.INSTANCE_STATUSES``), more
                                          than 20 tags or tag keys, tag text outside 1..64
                                          characters, more than 100 ``instanceIds``, an
                                          ``ipv4Address`` / ``ipv6Address`` that is not one
400   ``UNSUPPORTED_ACTION``              ``X-ZC-Action`` is not DescribeImages, DescribeZones,
                                          DescribeCustomImages or DescribeInstances
400   ``UNSUPPORTED_VERSION``             ``X-ZC-Version`` missing or not ``2025-09-01``
400   ``UNSUPPORTED_SERVICE``             ``X-ZC-Service`` present and not ``zec``
401   ``AUTHFAILURE_SIGNATURE_FAILURE``   no or bad credentials, unknown key, altered request,
                                          timestamp more than 300 s off (the message says
                                          which)
403   ``AUTHFAILURE_UNAUTHORIZED_OPERATION``  the key's account is denied the action
                                          (``Account.denied_actions``; the real code is not
                                          documented, this one is the sandbox's choice)
404   ``INVALID_ZONE_NOT_FOUND``          DescribeImages or DescribeInstances ``zoneId`` is not
                                          a zone
404   ``INVALID_REGION_NOT_FOUND``        DescribeCustomImages ``regionId`` is not a region
404   ``NOT_FOUND``                       any path but ``/api/v2/zec``
405   ``METHOD_NOT_ALLOWED``              any method but POST (with ``Allow: POST``)
413   ``REQUEST_ENTITY_TOO_LARGE``        a body over 8 MiB
429   ``REQUEST_LIMIT_EXCEEDED``          faults: rate limit, storm, scripted ``429``
500   ``INTERNAL_SERVER_ERROR``           faults (``500-json``), or a bug in the sandbox
502   ``SERVICE_TEMPORARY_UNAVAILABLE``   faults (``502-json``)
503   ``SERVICE_TEMPORARY_UNAVAILABLE``   faults (``503-json``)
504   ``REQUEST_TIMED_OUT``               faults (``504-json``)
====  ==================================  ====================================================

Faults also produce answers that are not API errors at all: HTML and empty 5xx pages, 403
challenges, 451, dropped connections, stalled, truncated or malformed bodies (see
:mod:`imgframe.sandbox.faults`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from imgframe._version import __version__
from imgframe.errors import InvalidArgument
from imgframe.sandbox.accounts import UNAUTHORIZED, Account
from imgframe.sandbox.answers import (
    DELIVERY_FAULTS,
    PAGED,
    Answer,
    api_answer,
    error_answer,
    fault_answer,
)
from imgframe.sandbox.auth import (
    AUTH_FAILURE,
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_TOKEN,
    authenticate,
    principal,
)
from imgframe.sandbox.catalog import Catalog, TagsShape
from imgframe.sandbox.faults import Faults
from imgframe.sandbox.filters import (
    ParamError,
)

API_PATH = "/api/v2/zec"
MAX_BODY_BYTES = 8 * 1024 * 1024

_ALLOW = (("Allow", "POST"),)
# Kinds that change how an otherwise normal answer is delivered, not what it says.

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox saw it (appended before the answer is written)."""

    action: str | None  # the X-ZC-Action header
    body: dict[str, Any] | None  # None when the body was not a JSON object
    status: int  # 0 when the connection was dropped without an answer
    page_num: int | None  # pageNum of a paged action (1 when absent), else None
    headers: dict[str, str]  # as received, without Authorization
    time: float  # unix time the request arrived
    request_id: str = ""
    fault: str | None = None  # the fault kind applied, if any
    account: str | None = None  # the name of the account that made it, once authenticated


@dataclass
class _Outcome:
    """What the server decided for one request, and who asked."""

    answer: Answer
    fault: str | None = None
    body: dict[str, Any] | None = None
    account: Account | None = None


class _Reject(Exception):
    """A request the server answers with an error before looking further."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"imgframe-sandbox/{__version__}"
    sys_version = ""
    # Idle keep-alive connections give their thread back eventually.
    timeout = 120
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Whole answers go out in one write; no Nagle delay on the small ones.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines (the sandbox keeps RequestRecords instead)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer requests http.server rejects itself (bad request line, unknown method) with
        the API's flat JSON envelope instead of an HTML page."""
        self.close_connection = True  # the body, if any, was not read
        rid = self.server.sandbox.next_request_id()
        if code == 501:
            answer = error_answer(405, "METHOD_NOT_ALLOWED", "Only POST is supported.", rid, _ALLOW)
        else:
            answer = error_answer(code, "BAD_REQUEST", message or "Bad request.", rid)
        with contextlib.suppress(OSError):
            self._write(answer, "normal")

    def do_POST(self) -> None:
        """Serve one request (every method lands here; only POST gets past routing)."""
        sandbox = self.server.sandbox
        sandbox.arrived()
        try:
            self._serve()
        except OSError:
            self.close_connection = True  # the client went away mid-answer
        finally:
            sandbox.answered()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_POST

    # -- one request ----------------------------------------------------------------------

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        received = time.time()
        items = list(self.headers.items())
        lower = {k.lower(): v for k, v in items}
        action = lower.get("x-zc-action")
        rid = sandbox.next_request_id()
        try:
            raw = self._read_body(lower)
            outcome = self._decide(sandbox, lower, raw, action, rid)
        except _Reject as e:
            self.close_connection = True
            outcome = _Outcome(error_answer(e.status, e.code, e.message, rid))
        answer, fault, parsed = outcome.answer, outcome.fault, outcome.body
        mode = fault if fault in DELIVERY_FAULTS else "normal"
        page_num = None
        if action in PAGED and parsed is not None:
            value = parsed.get("pageNum", 1)
            page_num = value if isinstance(value, int) and not isinstance(value, bool) else None
        sandbox.record(
            RequestRecord(
                action=action,
                body=parsed,
                status=0 if mode == "drop" else answer.status,
                page_num=page_num,
                headers={k: v for k, v in items if k.lower() != "authorization"},
                time=received,
                request_id=rid,
                fault=fault,
                account=None if outcome.account is None else outcome.account.name,
            )
        )
        latency = sandbox.faults.latency_ms
        if latency > 0 and self.server.stopping.wait(latency / 1000):
            mode = "drop"  # shutting down
        self._write(answer, mode)

    def _decide(
        self,
        sandbox: Sandbox,
        lower: Mapping[str, str],
        raw: bytes,
        action: str | None,
        rid: str,
    ) -> _Outcome:
        path = urlsplit(self.path).path
        if path != API_PATH:
            message = f"No API at {path!r}: send POST {API_PATH}."
            return _Outcome(error_answer(404, "NOT_FOUND", message, rid))
        if self.command != "POST":
            message = f"{self.command} is not allowed: send POST {API_PATH}."
            return _Outcome(error_answer(405, "METHOD_NOT_ALLOWED", message, rid, _ALLOW))
        reason = authenticate(
            lower,
            raw,
            credentials=sandbox.credentials,
            tokens=sandbox.tokens,
            now=sandbox.clock(),
        )
        if reason is not None:
            return _Outcome(error_answer(401, AUTH_FAILURE, reason, rid))
        parsed, body_error = _json_object(raw)
        kind, credential = principal(lower)
        account = sandbox.account_for(kind, credential)
        if action is not None and not account.may_call(action):
            message = account.denial(action, by_token=kind == "token")
            return _Outcome(error_answer(403, UNAUTHORIZED, message, rid), None, parsed, account)
        fault = sandbox.faults.decide(action, time.monotonic(), sandbox.in_flight)
        answer = fault_answer(fault, sandbox.faults, rid)
        if answer is None:
            catalog = account.catalog
            assert catalog is not None  # every account the sandbox serves has its catalog
            try:
                answer = api_answer(sandbox, catalog, lower, action, parsed, body_error, rid, fault)
            except ParamError as e:
                answer = error_answer(e.status, e.code, e.message, rid)
            except Exception:  # a sandbox bug must not look like a dropped connection
                _log.exception("sandbox failed to answer %s", action)
                answer = error_answer(500, "INTERNAL_SERVER_ERROR", "Sandbox internal error.", rid)
        return _Outcome(answer, fault, parsed, account)

    def _read_body(self, lower: Mapping[str, str]) -> bytes:
        if "chunked" in lower.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = lower.get("content-length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise _Reject(400, "INVALID_PARAMETER", "Content-Length is not a number.")
        size = int(length)
        if size > MAX_BODY_BYTES:
            raise _Reject(
                413, "REQUEST_ENTITY_TOO_LARGE", f"The body exceeds {MAX_BODY_BYTES} bytes."
            )
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _Reject(400, "INVALID_PARAMETER", "Malformed chunked body.") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _Reject(
                    413, "REQUEST_ENTITY_TOO_LARGE", f"The body exceeds {MAX_BODY_BYTES} bytes."
                )
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    # -- writing --------------------------------------------------------------------------

    def _write(self, answer: Answer, mode: str) -> None:
        """Send ``answer``: normally, or stalled (``slow``), cut short (``truncated``), or not
        at all (``drop``)."""
        if mode == "drop":
            self.close_connection = True
            return
        body = b"" if getattr(self, "command", "") == "HEAD" else answer.body
        lines = [
            f"HTTP/1.1 {answer.status} {self.responses.get(answer.status, ('',))[0]}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        if answer.content_type is not None:
            lines.append(f"Content-Type: {answer.content_type}")
        lines.append(f"Content-Length: {len(answer.body)}")
        lines.extend(f"{name}: {value}" for name, value in answer.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if mode == "truncated":
            # Announce the whole body, send half of it, hang up.
            self.wfile.write(head + body[: len(body) // 2])
            self.close_connection = True
        elif mode == "slow":
            cut = min(len(body) // 2, 64)
            self.wfile.write(head + body[:cut])
            if self.server.stopping.wait(self.server.sandbox.faults.slow_seconds()):
                self.close_connection = True
                return
            self.wfile.write(body[cut:])
        else:
            self.wfile.write(head + body)


def _json_object(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the body as a JSON object, "") or (None, why not)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        return None, "The request body is not UTF-8."
    except (ValueError, RecursionError):
        return None, "The request body is not valid JSON."
    if not isinstance(value, dict):
        return None, "The request body must be a JSON object."
    return value, ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _register(found: dict[str, Account], credential: str, account: Account, what: str) -> None:
    owner = found.get(credential)
    if owner is not None and owner is not account:
        raise InvalidArgument(
            f"the same {what} is given to accounts {owner.name} and {account.name}"
        )
    found[credential] = account


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall on a machine
        # without DNS; the sandbox only needs the address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake and end every handler thread (keep-alive ones block reading)."""
        self.stopping.set()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Sandbox:
    """A running (or startable) fake Zenlayer API serving one or more accounts' catalogs.

    Use :func:`running` in tests and notebooks; ``start()``/``stop()`` or ``with Sandbox()``
    elsewhere, ``serve_forever()`` for a standalone server.

    By default it serves one account, ``demo``, whose key is the demo credentials
    (:attr:`access_key_id`, :attr:`access_key_secret`, :attr:`token`) and whose catalog is
    ``Catalog(images, seed, day, tags_shape, instances=instances, copies=copies)``, or
    ``catalog`` when given. ``accounts`` adds more (:class:`~imgframe.sandbox.accounts.
    Account`); one whose key is the demo key replaces ``demo``. Extra ``credentials`` (id ->
    secret) and ``tokens`` are accepted for the default account.

    >>> with Sandbox(images=300) as sb:
    ...     sb.endpoint.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        images: int = 2000,
        seed: int = 7,
        day: int = 0,
        latency_ms: float = 0,
        faults: Faults | None = None,
        tags_shape: TagsShape = "wrapper",
        clock: Callable[[], float] | None = None,
        credentials: Mapping[str, str] | None = None,
        tokens: Collection[str] | None = None,
        *,
        catalog: Catalog | None = None,
        accounts: Sequence[Account] = (),
        instances: int | None = None,
        copies: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        max_records: int = 100_000,
    ) -> None:
        def catalog_of(account: Account) -> Catalog:
            if account.catalog is not None:
                return account.catalog
            own_seed = seed if account.seed is None else account.seed
            return Catalog(images, own_seed, day, tags_shape, instances=instances, copies=copies)

        demo = Account("demo", DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)
        default = next((a for a in accounts if a.access_key_id == DEMO_ACCESS_KEY_ID), demo)
        default = dataclasses.replace(
            default,
            catalog=catalog if catalog is not None else catalog_of(default),
            tokens=(*dict.fromkeys([DEMO_TOKEN, *default.tokens, *(tokens or ())]),),
        )
        others = [
            dataclasses.replace(a, catalog=catalog_of(a))
            for a in accounts
            if a.access_key_id != DEMO_ACCESS_KEY_ID
        ]
        #: Every account served, the default one first (each with its catalog).
        self.accounts: tuple[Account, ...] = (default, *others)
        self._by_key: dict[str, Account] = {}
        self._by_token: dict[str, Account] = {}
        for account in self.accounts:
            _register(self._by_key, account.access_key_id, account, "access key id")
            for token in account.tokens:
                _register(self._by_token, token, account, "token")
        if len({a.name for a in self.accounts}) != len(self.accounts):
            raise InvalidArgument("account names must be unique")
        #: Accepted access keys (id -> secret) and bearer tokens, the demo ones included.
        self.credentials: dict[str, str] = {
            a.access_key_id: a.access_key_secret for a in self.accounts
        }
        for key_id, secret in (credentials or {}).items():
            _register(self._by_key, key_id, default, "access key id")
            self.credentials[key_id] = secret
        self.tokens: frozenset[str] = frozenset(self._by_token)
        #: The default account's catalog: the ground truth being served to the demo key.
        self.catalog: Catalog = default.catalog  # type: ignore[assignment]
        self.access_key_id = default.access_key_id
        self.access_key_secret = default.access_key_secret
        self.token = DEMO_TOKEN
        self.faults = faults if faults is not None else Faults()
        if latency_ms:
            self.faults.latency_ms = latency_ms
        self._initial_faults = dataclasses.replace(self.faults)
        self._initial_days = [a.catalog.day for a in self.accounts if a.catalog is not None]
        #: Server clock for timestamp checks: a callable returning unix seconds.
        self.clock: Callable[[], float] = clock if clock is not None else time.time
        self._initial_clock = self.clock
        self._bind = (host, port)
        self._records: deque[RequestRecord] = deque(maxlen=max_records)
        self._records_lock = threading.Lock()
        #: Requests being answered now, and the most there have been at once since the
        #: sandbox started (or :meth:`clear_requests`).
        self.in_flight = 0
        self.peak_in_flight = 0
        self._ids = random.Random(f"imgframe-request-ids:{self.catalog.seed}")
        self._ids_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def account(self, name: str) -> Account:
        """The account called ``name``.

        >>> Sandbox(images=0).account("demo").access_key_id
        'imgframe-demo'
        """
        for account in self.accounts:
            if account.name == name:
                return account
        names = ", ".join(a.name for a in self.accounts)
        raise InvalidArgument(f"unknown account {name!r}; accounts: {names}")

    def account_for(self, kind: str, credential: str) -> Account:
        """The account of an authenticated request's ``("key" | "token", credential)``."""
        found = (self._by_token if kind == "token" else self._by_key).get(credential)
        return self.accounts[0] if found is None else found

    def __repr__(self) -> str:
        where = self.endpoint if self._server is not None else "not started"
        return f"<Sandbox {where} images={len(self.catalog)} day={self.catalog.day}>"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind (port 0: a free port) and serve from a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._server = _Server(self._bind, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"imgframe-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (or :meth:`stop` from another thread), then stop.

        A command line would ``start()``, print :attr:`endpoint`, then call this.
        """
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where it listens -----------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._running().server_name

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return self._running().server_port

    @property
    def endpoint(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The one API URL: ``<endpoint>/api/v2/zec``."""
        return self.endpoint + API_PATH

    def _running(self) -> _Server:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._server

    # -- controlling it -------------------------------------------------------------------

    def inject(self, *kinds: str, action: str | None = None) -> None:
        """Queue scripted faults (FIFO), consumed by the next requests (of ``action``)."""
        self.faults.inject(*kinds, action=action)

    def start_storm(self, seconds: float) -> None:
        """Answer every request 429 for the next ``seconds``."""
        self.faults.start_storm(seconds)

    def set_day(self, day: int) -> None:
        """Serve the catalog as it is ``day`` days after day 0."""
        self.catalog.set_day(day)

    def reset(self) -> None:
        """Back to the state after construction: faults, scripted queue, clock, recorded
        requests and every account's catalog day (a churned catalog is rebuilt)."""
        self.faults = dataclasses.replace(self._initial_faults)
        self.clock = self._initial_clock
        self.clear_requests()
        for account, day in zip(self.accounts, self._initial_days, strict=True):
            catalog = account.catalog
            if catalog is not None and (catalog.day != day or catalog.churned):
                catalog.set_day(day)

    # -- what it saw ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far (up to ``max_records``), oldest first."""
        with self._records_lock:
            return list(self._records)

    def clear_requests(self) -> None:
        """Forget the recorded requests (and the peak of requests in flight)."""
        with self._records_lock:
            self._records.clear()
            self.peak_in_flight = self.in_flight

    def arrived(self) -> None:
        """Count a request being answered (the server calls this on arrival)."""
        with self._records_lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def answered(self) -> None:
        """Count a request answered (or dropped)."""
        with self._records_lock:
            self.in_flight -= 1

    def record(self, entry: RequestRecord) -> None:
        """Append one request record (the server calls this)."""
        with self._records_lock:
            self._records.append(entry)

    def next_request_id(self) -> str:
        """A fresh request id shaped like the API's (``T`` + an uppercase UUID)."""
        with self._ids_lock:
            h = f"{self._ids.getrandbits(128):032X}"
        return f"T{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@contextlib.contextmanager
def running(
    images: int = 2000,
    seed: int = 7,
    day: int = 0,
    latency_ms: float = 0,
    faults: Faults | None = None,
    tags_shape: TagsShape = "wrapper",
    clock: Callable[[], float] | None = None,
    credentials: Mapping[str, str] | None = None,
    tokens: Collection[str] | None = None,
    *,
    catalog: Catalog | None = None,
    accounts: Sequence[Account] = (),
    instances: int | None = None,
    copies: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Sandbox]:
    """A started :class:`Sandbox` for the duration of a ``with`` block.

    >>> from imgframe import sandbox
    >>> with sandbox.running(images=300) as sb:
    ...     len(sb.catalog.query("asia-east-1a", osType="linux"))
    16
    """
    sb = Sandbox(
        images, seed, day, latency_ms, faults, tags_shape, clock, credentials, tokens,
        catalog=catalog, accounts=accounts, instances=instances, copies=copies, host=host,
        port=port,
    )  # fmt: skip
    with sb:
        yield sb
