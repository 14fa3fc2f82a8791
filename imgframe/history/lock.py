"""The writers' lock of a snapshot store: one writer at a time, and none blocked by the dead.

:func:`writer_lock` holds an exclusive advisory lock on the store's ``.imgframe.lock`` for a
``with`` block, polling for it up to a timeout, and records its holder in the file meanwhile
(the contract, file format included, is in :mod:`imgframe.history`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from ..errors import ExportError, InvalidArgument, StoreBusyError
from ..text import display_text
from .layout import LOCK_NAME

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

__all__ = ["DEFAULT_LOCK_TIMEOUT", "check_timeout", "holder_text", "writer_lock"]

#: Seconds :func:`~imgframe.history.write_snapshot` waits for another writer of the store.
DEFAULT_LOCK_TIMEOUT = 10.0


def check_timeout(value: object) -> float:
    """``lock_timeout`` as seconds: a number, at least 0 (``math.inf``: wait as long as it
    takes)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < 0
    ):
        raise InvalidArgument(
            f"write_snapshot: lock_timeout must be a number of seconds >= 0, got {value!r}"
        )
    return float(value)


# flock(2) locks belong to the open file, not to the process: two threads of one process
# exclude each other too, and the kernel drops the lock when the last descriptor closes,
# which a dying process always does (so does Windows for msvcrt's locks).
if sys.platform == "win32":
    #: msvcrt locks byte ranges that no other handle may then read: lock one byte far past
    #: the holder's record, so that a waiting writer can still read who holds the store.
    _LOCKED_BYTE = 1 << 20

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLOCK):  # another handle holds it
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another open file of the lock holds it
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def writer_lock(root: Path, timeout: float, day: date) -> Iterator[None]:
    """Hold the store's writer lock for the block, polling up to ``timeout`` seconds for it,
    and record who holds it (writing ``day``) in the lock file meanwhile."""
    path = root / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise ExportError(f"cannot open the lock file of the snapshot store {root}: {exc}") from exc
    try:
        deadline = time.monotonic() + timeout
        pause = 0.005
        while not _locked(fd, root):
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreBusyError(_busy_message(root, timeout))
            time.sleep(min(pause, left))
            pause = min(2 * pause, 0.1)
        try:
            _record_holder(fd, day)
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # an idle store names no holder
            with contextlib.suppress(OSError):
                _unlock(fd)  # closing unlocks too; this also covers a copy forked meanwhile
    finally:
        os.close(fd)


def _locked(fd: int, root: Path) -> bool:
    try:
        return _try_lock(fd)
    except OSError as exc:  # e.g. ENOLCK: a file system without locks
        raise ExportError(f"cannot lock the snapshot store {root}: {exc}") from exc


def _record_holder(fd: int, day: date) -> None:
    """Say who holds the lock, for the message of a writer that gives up waiting for it."""
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot_date": day.isoformat(),
    }
    with contextlib.suppress(OSError):  # only informative: the lock is what excludes
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(record) + "\n").encode())


def _busy_message(root: Path, timeout: float) -> str:
    waited = "without waiting (lock_timeout=0)" if timeout == 0 else f"after {timeout:g}s"
    return (
        f"the snapshot store {root} is busy: another writer holds its lock "
        f"{LOCK_NAME}{_holder(root / LOCK_NAME)}; gave up {waited}. Run again when it has "
        "finished, or wait longer (lock_timeout)"
    )


def _holder(lock: Path) -> str:
    """`` (pid 4242 on host-a, since ..., writing 2025-06-01)`` from the lock file, or ``""``
    when it names no holder (it is being released, or not yet written)."""
    try:
        with lock.open("rb") as fh:
            return holder_text(fh.read(4096))
    except OSError:
        return ""


def holder_text(data: bytes) -> str:
    """`` (pid 4242 on host-a, since ..., writing 2025-06-01)`` from a lock's or lease's
    record, or ``""`` when it names no holder; every value cleaned for the terminal.

    >>> holder_text(b'{"pid": 7, "host": "host-a", "snapshot_date": "2025-06-01"}')
    ' (pid 7 on host-a, writing 2025-06-01)'
    >>> holder_text(b"not json")
    ''
    """
    try:
        record = json.loads(data)
    except ValueError:
        return ""
    if not isinstance(record, dict):
        return ""

    def text(key: str) -> str:
        value = record.get(key)
        return display_text(value)[:64] if isinstance(value, str) else ""

    parts = []
    pid = record.get("pid")
    if isinstance(pid, int) and not isinstance(pid, bool):
        parts.append(f"pid {pid}" + (f" on {text('host')}" if text("host") else ""))
    if text("since"):
        parts.append(f"since {text('since')}")
    if text("snapshot_date"):
        parts.append(f"writing {text('snapshot_date')}")
    return f" ({', '.join(parts)})" if parts else ""
