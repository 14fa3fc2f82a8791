"""The :class:`Location` interface and :func:`location`, which picks its implementation."""

from __future__ import annotations

import abc
import contextlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, TypeVar

from ..errors import ConfigError, InvalidArgument, StoreBusyError

__all__ = [
    "EXTRAS",
    "REMOTE_SCHEMES",
    "Location",
    "ObjectInfo",
    "PutMode",
    "WriteConflict",
    "is_uri",
    "location",
    "run_concurrently",
    "same_target",
]

#: The schemes an object store serves, and the extra that installs its client.
EXTRAS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "azure": "azure",
}
REMOTE_SCHEMES = frozenset(EXTRAS)
_T = TypeVar("_T")
_R = TypeVar("_R")
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

#: ``"create"`` (only if absent), ``"overwrite"``, or an etag the object must still have.
PutMode = Literal["create", "overwrite"] | str


class WriteConflict(StoreBusyError):
    """A conditional write lost: another writer created or changed the object first."""


@dataclass(frozen=True)
class ObjectInfo:
    """A file or object: its path relative to where it was listed, size, etag (objects)."""

    path: str
    size: int
    etag: str | None = None


class Location(abc.ABC):
    """A file or directory (local), or an object or key prefix (object store).

    ``str(location)`` is the path or URI as given (no secret is ever part of it).
    """

    #: True for the local file system (the location has a :attr:`path`).
    is_local: bool

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The last part of the path or key."""

    @abc.abstractmethod
    def child(self, *parts: str) -> Location:
        """The location ``parts`` below this one (``/``-separated parts allowed)."""

    @property
    @abc.abstractmethod
    def parent(self) -> Location:
        """The directory (key prefix) holding this location."""

    @property
    def path(self) -> Path:
        """The local path (only for local locations)."""
        raise InvalidArgument(f"{self} is not a local path")

    def public(self) -> Path | str:
        """What a result names: the :class:`~pathlib.Path` of a local file, else the URI."""
        return str(self)

    @abc.abstractmethod
    def exists(self) -> bool:
        """A file or object here, or a directory (a prefix holding objects)."""

    @abc.abstractmethod
    def is_file(self) -> bool:
        """A file (an object) is here."""

    @abc.abstractmethod
    def is_dir(self) -> bool:
        """A directory is here (on object stores: at least one object under the prefix)."""

    @abc.abstractmethod
    def head(self) -> ObjectInfo | None:
        """Size and etag of the file or object, ``None`` when there is none."""

    @abc.abstractmethod
    def read_bytes(self) -> bytes:
        """The whole file or object (:class:`~imgframe.errors.DataError` when unreadable)."""

    def read_suffix(self, size: int) -> bytes:
        """The last ``size`` bytes of the file or object (all of it, if smaller): one
        ranged request, as for a Parquet footer."""
        return self.read_bytes()[-size:]

    def read_versioned(self) -> tuple[bytes, str | None]:
        """The bytes and the etag they had (for a conditional write that follows)."""
        return self.read_bytes(), None

    @abc.abstractmethod
    def atomic_write(
        self, *, copy_existing: bool = False, seekable: bool = False
    ) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A binary file that becomes this location whole when the block ends without error.

        On any error nothing changes here (a local temporary file is removed, a multipart
        upload aborted) and :class:`~imgframe.errors.ExportError` is raised. ``copy_existing``
        starts with the current content (appending); ``seekable`` asks for a handle that can
        seek (an object store's upload is then spooled through a local temporary file).
        """

    @abc.abstractmethod
    def put(self, data: bytes, *, mode: PutMode = "overwrite") -> str | None:
        """Write ``data`` whole; ``mode`` ``"create"`` only if absent, an etag only if the
        object still has it (else :class:`WriteConflict`). Returns the new etag if known."""

    @abc.abstractmethod
    def walk(self) -> list[ObjectInfo]:
        """Every file under this directory (prefix), recursively, paths relative to it."""

    @abc.abstractmethod
    def list_dir(self) -> tuple[list[str], list[ObjectInfo]]:
        """The names of the directories directly in this one, and its files."""

    @abc.abstractmethod
    def delete(self, paths: Sequence[str] = ()) -> int:
        """Delete these files (relative paths), or this file when none are given; missing
        ones are no error. Returns how many were asked for."""

    @abc.abstractmethod
    def delete_tree(self) -> int:
        """Delete this directory and everything under it; returns the files removed."""

    @abc.abstractmethod
    def local_copy(self) -> contextlib.AbstractContextManager[Path]:
        """A local path holding this file's bytes (itself, if local) for readers that want
        a path; a downloaded copy is removed when the block ends."""

    def size(self) -> int:
        """Bytes of the file, or of every file under the directory."""
        found = self.head()
        if found is not None:
            return found.size
        return sum(item.size for item in self.walk())

    def upload_tree(self, directory: Path) -> list[str]:
        """Put every file under the local ``directory`` below this location, keeping their
        relative paths (each appears whole); returns those paths, in order."""
        names = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))
        files = [n for n in names if (directory / n).is_file()]

        def upload(name: str) -> None:
            with (directory / name).open("rb") as source, self.child(name).atomic_write() as fh:
                while block := source.read(1 << 20):
                    fh.write(block)

        run_concurrently(upload, files)
        return files

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


def is_uri(value: str | os.PathLike[str]) -> bool:
    """Whether ``value`` is written as a URI (``scheme://...``) rather than a plain path."""
    return isinstance(value, str) and _URI.match(value) is not None


def location(value: str | os.PathLike[str] | Location) -> Location:
    """The :class:`Location` of a path or URI (``s3://``, ``gs://``, ``az://``, ``file://``).

    >>> str(location("exports/a.csv")), location("s3://bucket/a.csv").name
    ('exports/a.csv', 'a.csv')
    >>> location("ftp://host/a.csv")
    Traceback (most recent call last):
    ...
    imgframe.errors.InvalidArgument: unsupported URI scheme 'ftp' in ftp://host/a.csv; use a \
local path, file://, s3://, gs:// or az://
    """
    if isinstance(value, Location):
        return value
    from .local import LocalLocation

    if not is_uri(value):
        return LocalLocation(Path(value))
    text = str(value)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "file":
        rest = text[len("file://") :]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost") :]
        if not rest.startswith("/"):
            raise InvalidArgument(f"{text}: a file:// URI needs an absolute path (file:///...)")
        return LocalLocation(Path(rest))
    if scheme not in REMOTE_SCHEMES:
        raise InvalidArgument(
            f"unsupported URI scheme {scheme!r} in {text}; use a local path, file://, s3://, "
            "gs:// or az://"
        )
    try:
        import obstore  # noqa: F401
    except ImportError:
        extra = EXTRAS[scheme]
        raise ConfigError(
            f"{scheme}:// paths need the optional '{extra}' extra: pip install 'imgframe[{extra}]'"
        ) from None
    from .remote import ObjectLocation

    return ObjectLocation.from_uri(text)


def same_target(a: Location, b: Location) -> bool:
    """Whether two locations name the same file or object."""
    if a.is_local and b.is_local:
        return a.path.resolve() == b.path.resolve()
    return not a.is_local and not b.is_local and str(a).rstrip("/") == str(b).rstrip("/")


def run_concurrently(work: Callable[[_T], _R], items: Sequence[_T], workers: int = 8) -> list[_R]:
    """``work`` of every item, in order, ``workers`` at a time (requests to an object store
    wait on the network, not on the GIL); the first error is raised."""
    if len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(work, items))


def iter_blocks(data: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    """``data`` in blocks of ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
