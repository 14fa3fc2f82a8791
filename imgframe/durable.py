"""Durable file operations: a file or a directory appears whole, or not at all.

Every writer in imgframe (exports, the snapshot store, charts, the report) goes through these
few functions, so they share one meaning of "written":

- :func:`atomic_file` writes into a hidden temporary file beside the target, flushes and
  ``fsync``\\ s it, renames it over the target and ``fsync``\\ s the directory. On any error
  the temporary file is removed and the target is untouched.
- :func:`write_durably` writes one file inside a directory that is not yet published (the
  directory's own rename publishes it, so the file needs no rename of its own).
- :func:`staging_directory` makes a hidden directory beside a target to build it in, and
  removes it unless it was published; :func:`replace_directory` publishes it, putting any
  previous directory aside first and back if the swap fails.

Temporary names start with a dot, so neither pyarrow nor a glob of the published layout ever
reads them, and carry the writer's process id (``.<name>.<pid>-<random>.tmp``): a run that
was killed outright (SIGKILL, a power cut) leaves its temporary file behind, and the next
write of the same target removes it once that process is gone. SIGINT and SIGTERM remove
their own on the way out (the command line turns both into exceptions).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from .errors import ExportError

__all__ = [
    "atomic_file",
    "export_error",
    "fix_tree_modes",
    "fsync_directory",
    "remove_stale",
    "replace_directory",
    "size_on_disk",
    "staging_directory",
    "write_durably",
]


@contextlib.contextmanager
def atomic_file(
    target: str | os.PathLike[str], *, copy_existing: bool = False
) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``target`` only when the ``with`` block ends without error.

    The data goes to a hidden temporary file in the target's directory (so the final rename
    never crosses file systems), is flushed and fsynced, then renamed over the target. On any
    error the temporary file is removed and :class:`~imgframe.errors.ExportError` is raised;
    the target is untouched. ``copy_existing`` starts the temporary file as a copy of the
    target (for appends). Missing parent directories are created.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with atomic_file(Path(tmp) / "note.txt") as fh:
    ...         _ = fh.write(b"hello")
    ...     (Path(tmp) / "note.txt").read_bytes()
    b'hello'
    """
    path = Path(target)
    _check_file_target(path)
    temp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
        temp = Path(name)
        _ACTIVE.add(temp)
        with os.fdopen(fd, "w+b") as fh:
            if copy_existing and path.exists():
                with path.open("rb") as existing:
                    shutil.copyfileobj(existing, fh)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(temp, _existing_mode(path) or (0o666 & ~_umask()))
        os.replace(temp, path)
        temp = None
        fsync_directory(path.parent)
    except Exception as exc:
        raise export_error(path, exc) from exc
    finally:
        if temp is not None:
            _ACTIVE.discard(temp)
            with contextlib.suppress(OSError):
                temp.unlink()


def _check_file_target(path: Path) -> None:
    """A target that is a directory, or under a file, named as such (not an OS errno)."""
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ExportError(f"cannot write {path}: {parent} is a file, not a directory")
            return


def export_error(target: object, exc: BaseException) -> ExportError:
    """``exc`` as the one-line :class:`~imgframe.errors.ExportError` of writing ``target``."""
    if isinstance(exc, ExportError):
        return exc
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(cause) > 300:
        cause = cause[:297] + "..."
    return ExportError(f"cannot write {target}: {cause}")


def write_durably(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Create ``path`` with what ``write`` puts into it, flushed and fsynced.

    For files inside a directory that is published afterwards as a whole: fsync before the
    rename that publishes it, or a power cut could leave a published directory whose files
    are still empty.
    """
    with open(path, "wb") as sink:
        write(sink)
        sink.flush()
        os.fsync(sink.fileno())


def fsync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable (best effort: not every platform can open a
    directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def staging_directory(target: Path) -> Iterator[Path]:
    """A fresh hidden directory beside ``target`` to build it in; removed when the block
    ends unless it was moved away (published) meanwhile."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temp_prefix(target), suffix=".tmp"))
    _ACTIVE.add(staging)
    try:
        yield staging
    finally:
        _ACTIVE.discard(staging)
        shutil.rmtree(staging, ignore_errors=True)


def replace_directory(staging: Path, target: Path, *, aside: Path | None = None) -> None:
    """Publish ``staging`` as ``target``: an existing target is moved to ``aside`` (default:
    a hidden name beside it), the new one moved in, then the old one deleted. If moving the
    new one in fails, the old one goes back, so ``target`` is never left without data.

    Between the two renames a reader sees neither; a process killed there leaves the old
    directory at ``aside``, where its owner can find and restore it.
    """
    moved: Path | None = None
    if target.exists() or target.is_symlink():
        moved = aside or target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        moved.parent.mkdir(parents=True, exist_ok=True)
        os.rename(target, moved)
    try:
        os.rename(staging, target)
    except BaseException:
        if moved is not None:
            os.rename(moved, target)
        raise
    fsync_directory(target.parent)
    if moved is not None:
        if moved.is_dir() and not moved.is_symlink():
            shutil.rmtree(moved, ignore_errors=True)
        else:
            moved.unlink(missing_ok=True)


#: The temporary files and directories this process is writing right now.
_ACTIVE: set[Path] = set()


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}-"


def remove_stale(target: Path) -> list[Path]:
    """Remove the temporary files and directories earlier runs left beside ``target``:
    those of processes that are gone, and this process's own that it is not writing
    (a restarted container often reuses its process id). Returns what was removed.
    """
    removed: list[Path] = []
    prefix = f".{target.name}."
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")) or entry in _ACTIVE:
            continue
        pid_text = name[len(prefix) :].partition("-")[0]
        if not pid_text.isdigit():
            continue  # not one of ours
        pid = int(pid_text)
        if pid != os.getpid() and _alive(pid):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process (or not ours to judge): leave it
    return True


def fix_tree_modes(root: Path) -> None:
    """Give a staged tree the modes plain ``mkdir``/``open`` would (``mkdtemp`` makes 0700)."""
    umask = _umask()
    os.chmod(root, 0o777 & ~umask)
    for path in root.rglob("*"):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def size_on_disk(path: Path) -> int:
    """Bytes of a file, or of every file under a directory."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _existing_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return None


def _umask() -> int:
    # Reading the umask with os.umask() briefly changes it for every thread; Linux shows it.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current
