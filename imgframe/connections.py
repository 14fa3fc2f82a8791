"""HTTP connections that keep a whole answer to its deadline, on every byte.

urllib3 (under requests) bounds connecting and each single socket read. A server that sends
its headers or body one byte at a time never trips a 30-second read timeout while taking an
hour in all. Here every read and write of a connection is bounded by what is left of the
current request's *total* deadline too (:func:`deadline`, set per request, per thread), so a
trickling server costs at most the deadline, whether it trickles the status line, the
headers or the body.

:class:`DeadlineAdapter` is the ``requests`` adapter that builds such connections (direct or
through a proxy). :meth:`DeadlineAdapter.abort` shuts every live connection down at once, so
an interrupted run does not wait for answers nobody will read.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["DeadlineAdapter", "DeadlineExceeded", "deadline", "deadline_passed"]


class DeadlineExceeded(TimeoutError):
    """The request's total deadline passed while reading or writing."""


_current = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every socket operation of this thread's requests to ``seconds`` from now."""
    previous = getattr(_current, "at", None)
    _current.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _current.at = previous


def deadline_passed() -> bool:
    """True when this thread's current deadline is over."""
    at = getattr(_current, "at", None)
    return at is not None and time.monotonic() >= at


class _DeadlineSocket:
    """A connected socket whose reads and writes wait no longer than the deadline allows.

    It stands in for the socket urllib3 made (plain or TLS): ``makefile`` hands out readers
    over this object, and ``close`` waits for them as :class:`socket.socket` does, because
    ``http.client`` closes the connection's socket while the answer is still being read.
    """

    def __init__(self, sock: socket.socket, live: weakref.WeakSet[_DeadlineSocket]) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()
        self._io_refs = 0
        self._closed = False
        live.add(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def _arm(self) -> None:
        at = getattr(_current, "at", None)
        if at is None:
            self._sock.settimeout(self._timeout)
            return
        left = at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the answer took longer than the total timeout")
        self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))

    def _timed_out(self, exc: TimeoutError) -> TimeoutError:
        if deadline_passed():
            return DeadlineExceeded("the answer took longer than the total timeout")
        return exc

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        try:
            return self._sock.recv_into(buffer, nbytes, flags)
        except TimeoutError as exc:
            raise self._timed_out(exc) from None

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._arm()
        try:
            return self._sock.recv(bufsize, flags)
        except TimeoutError as exc:
            raise self._timed_out(exc) from None

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm()
        try:
            self._sock.sendall(data, flags)
        except TimeoutError as exc:
            raise self._timed_out(exc) from None

    def send(self, data: Any, flags: int = 0) -> int:
        self._arm()
        try:
            return self._sock.send(data, flags)
        except TimeoutError as exc:
            raise self._timed_out(exc) from None

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def makefile(self, mode: str = "r", buffering: int | None = None, **_: Any) -> Any:
        raw = socket.SocketIO(self, mode.replace("b", ""))  # type: ignore[arg-type]
        self._io_refs += 1
        if "w" in mode:
            return io.BufferedWriter(raw, buffering or io.DEFAULT_BUFFER_SIZE)
        return io.BufferedReader(raw, buffering or io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed and self._io_refs == 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs == 0:
            self._sock.close()

    def abort(self) -> None:
        """Wake any thread blocked on this socket: the connection is over."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


def _connection_classes(
    live: weakref.WeakSet[_DeadlineSocket],
) -> tuple[type[HTTPConnectionPool], type[HTTPSConnectionPool]]:
    class _HTTPConnection(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = _DeadlineSocket(self.sock, live)

    class _HTTPSConnection(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = _DeadlineSocket(self.sock, live)

    class _HTTPPool(HTTPConnectionPool):
        ConnectionCls = _HTTPConnection

    class _HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _HTTPSConnection

    return _HTTPPool, _HTTPSPool


class DeadlineAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections keep to :func:`deadline`."""

    def __init__(self, **kwargs: Any) -> None:
        self._live: weakref.WeakSet[_DeadlineSocket] = weakref.WeakSet()
        http_pool, https_pool = _connection_classes(self._live)
        self._pool_classes = {"http": http_pool, "https": https_pool}
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> urllib3.ProxyManager:
        manager: urllib3.ProxyManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pool_classes
        return manager

    def abort(self) -> None:
        """Shut down every live connection, waking the threads that wait on them."""
        for sock in list(self._live):
            sock.abort()
