"""The writers' lease of a snapshot store in an object store (which has no locks).

The lease is the object ``.imgframe.lock`` under the store, one line of JSON naming its
holder and when it expires::

    {"pid": 4242, "host": "job-7", "since": "2025-06-01T03:00:00+00:00",
     "snapshot_date": "2025-06-01", "expires": 1748747400.0, "token": "..."}

A writer takes it with a conditional put that succeeds only if no lease exists
(``If-None-Match: *``), or, once a lease has expired (its holder was killed), only if it is
still the expired one read (``If-Match: <etag>``): of two writers racing for it, exactly one
wins. The other polls up to ``lock_timeout`` seconds, then raises
:class:`~imgframe.errors.StoreBusyError` naming the holder. The holder deletes the lease when
it is done (only if the lease is still its own).

The lease only keeps writers from working in vain: what keeps them from losing data is the
day's commit, itself a conditional put (see :mod:`imgframe.history.objects`). A writer whose
lease expired while it wrote (a very slow run) and was taken over cannot overwrite the newer
commit: its conditional put fails and it removes its own files.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

from ..errors import StoreBusyError
from ..storage import Location, WriteConflict
from .layout import LOCK_NAME
from .lock import holder_text

__all__ = ["LEASE_SECONDS", "writer_lease"]

#: How long a lease holds before another writer may take it over (a snapshot of a large
#: inventory writes in seconds; this is the time a killed writer blocks the store).
LEASE_SECONDS = 900.0


@contextlib.contextmanager
def writer_lease(root: Location, timeout: float, day: date) -> Iterator[None]:
    """Hold the store's lease for the block (see the module docstring)."""
    lease = root.child(LOCK_NAME)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        etag = _try_take(lease, token, day)
        if etag is not None:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            raise StoreBusyError(_busy_message(root, lease, timeout))
        time.sleep(min(pause, left))
        pause = min(2 * pause, 0.5)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            current = lease.head()
            if current is not None and current.etag == etag:
                lease.delete()


def _record(token: str, day: date) -> bytes:
    now = time.time()
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot_date": day.isoformat(),
        "expires": now + LEASE_SECONDS,
        "token": token,
    }
    return (json.dumps(record) + "\n").encode()


def _try_take(lease: Location, token: str, day: date) -> str | None:
    """The etag of the lease taken, or ``None`` while someone else holds it."""
    try:
        return lease.put(_record(token, day), mode="create") or "taken"
    except WriteConflict:
        pass
    try:
        data, etag = lease.read_versioned()
    except Exception:  # released meanwhile: try again
        return None
    if _expires(data) > time.time() or etag is None:
        return None
    try:  # its holder is gone: take it over, unless another writer just did
        return lease.put(_record(token, day), mode=etag) or "taken"
    except WriteConflict:
        return None


def _expires(data: bytes) -> float:
    try:
        value = json.loads(data).get("expires")
    except (ValueError, AttributeError):
        return 0.0
    return float(value) if isinstance(value, int | float) else 0.0


def _busy_message(root: Location, lease: Location, timeout: float) -> str:
    waited = "without waiting (lock_timeout=0)" if timeout == 0 else f"after {timeout:g}s"
    return (
        f"the snapshot store {root} is busy: another writer holds its lease "
        f"{LOCK_NAME}{_holder(lease)}; gave up {waited}. Run again when it has finished, "
        "or wait longer (lock_timeout)"
    )


def _holder(lease: Location) -> str:
    try:
        return holder_text(lease.read_bytes())
    except Exception:  # the lease is gone, or unreadable: the message names no holder
        return ""
