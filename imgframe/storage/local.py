"""Local files, with imgframe's own durable writes (:mod:`imgframe.durable`)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from ..durable import atomic_file, size_on_disk
from ..errors import DataError, ExportError
from .base import Location, ObjectInfo, PutMode, WriteConflict

__all__ = ["LocalLocation"]


class LocalLocation(Location):
    """A path on the local file system (``file://`` URIs included)."""

    is_local = True

    def __init__(self, path: Path) -> None:
        self._path = path

    def __str__(self) -> str:
        return str(self._path)

    def __fspath__(self) -> str:
        return os.fspath(self._path)

    @property
    def path(self) -> Path:
        return self._path

    def public(self) -> Path | str:
        return self._path

    @property
    def name(self) -> str:
        return self._path.name

    def child(self, *parts: str) -> LocalLocation:
        return LocalLocation(self._path.joinpath(*parts))

    @property
    def parent(self) -> LocalLocation:
        return LocalLocation(self._path.parent)

    def exists(self) -> bool:
        return self._path.exists() or self._path.is_symlink()

    def is_file(self) -> bool:
        return self._path.is_file()

    def is_dir(self) -> bool:
        return self._path.is_dir()

    def head(self) -> ObjectInfo | None:
        try:
            status = self._path.stat()
        except OSError:
            return None
        if not self._path.is_file():
            return None
        return ObjectInfo(self._path.name, status.st_size, f"{status.st_mtime_ns}-{status.st_size}")

    def read_bytes(self) -> bytes:
        try:
            return self._path.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read {self._path}: {exc}") from None

    def read_suffix(self, size: int) -> bytes:
        try:
            with self._path.open("rb") as fh:
                fh.seek(max(fh.seek(0, os.SEEK_END) - size, 0))
                return fh.read()
        except OSError as exc:
            raise DataError(f"cannot read {self._path}: {exc}") from None

    def read_versioned(self) -> tuple[bytes, str | None]:
        found = self.head()
        return self.read_bytes(), found.etag if found else None

    @contextlib.contextmanager
    def atomic_write(
        self, *, copy_existing: bool = False, seekable: bool = False
    ) -> Iterator[IO[bytes]]:
        with atomic_file(self._path, copy_existing=copy_existing) as fh:
            yield fh

    def put(self, data: bytes, *, mode: PutMode = "overwrite") -> str | None:
        # Local writers exclude each other with the store's lock; this check is for
        # callers that share code with object stores.
        current = self.head()
        if mode == "create" and current is not None:
            raise WriteConflict(f"cannot write {self}: it already exists")
        if mode not in ("create", "overwrite") and (current is None or current.etag != mode):
            raise WriteConflict(f"cannot write {self}: another writer changed it meanwhile")
        with atomic_file(self._path) as fh:
            fh.write(data)
        found = self.head()
        return found.etag if found else None

    def walk(self) -> list[ObjectInfo]:
        if not self._path.is_dir():
            return []
        return [
            ObjectInfo(p.relative_to(self._path).as_posix(), p.stat().st_size)
            for p in sorted(self._path.rglob("*"))
            if p.is_file()
        ]

    def list_dir(self) -> tuple[list[str], list[ObjectInfo]]:
        try:
            entries = sorted(os.scandir(self._path), key=lambda e: e.name)
        except OSError:
            return [], []
        directories = [e.name for e in entries if e.is_dir()]
        files = [ObjectInfo(e.name, e.stat().st_size) for e in entries if e.is_file()]
        return directories, files

    def delete(self, paths: Sequence[str] = ()) -> int:
        targets = [self._path / p for p in paths] if paths else [self._path]
        try:
            for target in targets:
                target.unlink(missing_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot delete {target}: {exc}") from exc
        return len(targets)

    def delete_tree(self) -> int:
        count = len(self.walk())
        shutil.rmtree(self._path, ignore_errors=True)
        return count

    @contextlib.contextmanager
    def local_copy(self) -> Iterator[Path]:
        yield self._path

    def size(self) -> int:
        return size_on_disk(self._path)
