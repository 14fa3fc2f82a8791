"""Objects in S3, GCS and Azure Blob Storage (and S3-compatible stores), through obstore.

Writes of data are streamed: the bytes go out as a multipart upload of
:data:`PART_SIZE` parts, :data:`UPLOAD_CONCURRENCY` at once, and the object exists only once
the upload completes (a small object is one PUT at the end). A writer that fails aborts the
upload, so nothing appears; a process killed outright leaves an incomplete multipart upload,
invisible to readers, that the bucket's ``AbortIncompleteMultipartUpload`` lifecycle rule
removes (see the README's "Scheduled exports to a bucket").
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ..errors import DataError, ExportError
from .base import Location, ObjectInfo, PutMode, WriteConflict
from .cloud import describe_error, is_not_found, make_store

__all__ = ["PART_SIZE", "UPLOAD_CONCURRENCY", "ObjectLocation", "digest_of"]

#: Bytes per multipart part (and the most a writer holds in memory per part in flight).
PART_SIZE = 10 * 2**20
#: Parts uploaded at once.
UPLOAD_CONCURRENCY = 8

#: Size and SHA-256 of the objects this process wrote, by URI (a manifest lists them
#: without downloading them again).
_DIGESTS: dict[str, tuple[int, str]] = {}
_DIGESTS_LOCK = threading.Lock()


def digest_of(uri: str) -> tuple[int, str] | None:
    """(size, SHA-256) of an object this process wrote, if it did."""
    with _DIGESTS_LOCK:
        return _DIGESTS.get(uri)


class ObjectLocation(Location):
    """An object, or a key prefix, in a bucket (container)."""

    is_local = False

    def __init__(self, scheme: str, bucket: str, key: str, store: Any) -> None:
        self.scheme, self.bucket, self.key = scheme, bucket, key.strip("/")
        self._store = store

    @classmethod
    def from_uri(cls, uri: str) -> ObjectLocation:
        scheme, rest = uri.split("://", 1)
        bucket, _, key = rest.partition("/")
        if not bucket:
            from ..errors import InvalidArgument

            raise InvalidArgument(f"{uri}: no bucket in the URI ({scheme}://BUCKET/KEY)")
        scheme = scheme.lower()
        return cls(scheme, bucket, key, make_store(scheme, bucket))

    def __str__(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]

    def child(self, *parts: str) -> ObjectLocation:
        tail = "/".join(p.strip("/") for p in parts if p.strip("/"))
        key = f"{self.key}/{tail}" if self.key and tail else self.key or tail
        return ObjectLocation(self.scheme, self.bucket, key, self._store)

    @property
    def parent(self) -> ObjectLocation:
        return ObjectLocation(self.scheme, self.bucket, self.key.rpartition("/")[0], self._store)

    # -- reading

    def head(self) -> ObjectInfo | None:
        import obstore

        if not self.key:
            return None
        try:
            meta = obstore.head(self._store, self.key)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise DataError(describe_error("cannot read", self, exc)) from None
        return ObjectInfo(self.name, int(meta["size"]), meta.get("e_tag"))

    def exists(self) -> bool:
        return self.is_file() or self.is_dir()

    def is_file(self) -> bool:
        return self.head() is not None

    def is_dir(self) -> bool:
        import obstore

        prefix = f"{self.key}/" if self.key else ""
        try:
            for batch in obstore.list(self._store, prefix, chunk_size=1):
                return len(batch) > 0
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise DataError(describe_error("cannot list", self, exc)) from None
        return False

    def read_bytes(self) -> bytes:
        return self.read_versioned()[0]

    def read_suffix(self, size: int) -> bytes:
        import obstore

        try:
            result = obstore.get(self._store, self.key, options={"range": {"suffix": size}})
            return bytes(result.bytes())
        except Exception as exc:
            raise DataError(describe_error("cannot read", self, exc)) from None

    def read_versioned(self) -> tuple[bytes, str | None]:
        import obstore

        try:
            result = obstore.get(self._store, self.key)
            data = bytes(result.bytes())
        except Exception as exc:
            raise DataError(describe_error("cannot read", self, exc)) from None
        return data, result.meta.get("e_tag")

    def walk(self) -> list[ObjectInfo]:
        import obstore

        prefix = f"{self.key}/" if self.key else ""
        found = []
        try:
            for batch in obstore.list(self._store, prefix, chunk_size=1000):
                found += [
                    ObjectInfo(m["path"][len(prefix) :], int(m["size"]), m.get("e_tag"))
                    for m in batch
                ]
        except Exception as exc:
            if is_not_found(exc):
                return []
            raise DataError(describe_error("cannot list", self, exc)) from None
        return sorted(found, key=lambda o: o.path)

    def list_dir(self) -> tuple[list[str], list[ObjectInfo]]:
        import obstore

        prefix = f"{self.key}/" if self.key else ""
        try:
            result = obstore.list_with_delimiter(self._store, prefix or None)
        except Exception as exc:
            if is_not_found(exc):
                return [], []
            raise DataError(describe_error("cannot list", self, exc)) from None
        directories = sorted(
            p.rstrip("/")[len(prefix) :] for p in result["common_prefixes"] if p.startswith(prefix)
        )
        files = [
            ObjectInfo(m["path"][len(prefix) :], int(m["size"]), m.get("e_tag"))
            for m in result["objects"]
        ]
        return directories, sorted(files, key=lambda o: o.path)

    @contextlib.contextmanager
    def local_copy(self) -> Iterator[Path]:
        data = self.read_bytes()
        with tempfile.TemporaryDirectory(prefix="imgframe-") as tmp:
            path = Path(tmp) / (self.name or "object")
            path.write_bytes(data)
            yield path

    # -- writing

    @contextlib.contextmanager
    def atomic_write(
        self, *, copy_existing: bool = False, seekable: bool = False
    ) -> Iterator[IO[bytes]]:
        existing = self.read_bytes() if copy_existing and self.is_file() else b""
        if seekable:
            with self._spooled(existing) as fh:
                yield fh
            return
        import obstore

        try:
            writer = obstore.open_writer(
                self._store, self.key, buffer_size=PART_SIZE, max_concurrency=UPLOAD_CONCURRENCY
            )
        except Exception as exc:
            raise ExportError(describe_error("cannot write", self, exc)) from None
        upload = _Upload(writer)
        try:
            if existing:
                upload.write(existing)
            yield upload  # type: ignore[misc]
        except BaseException as exc:
            upload.abort(exc)
            if isinstance(exc, Exception) and not isinstance(exc, ExportError):
                raise ExportError(describe_error("cannot write", self, exc)) from exc
            raise
        try:
            upload.complete()
        except Exception as exc:
            raise ExportError(describe_error("cannot write", self, exc)) from None
        self._remember(upload.size, upload.sha256.hexdigest())

    @contextlib.contextmanager
    def _spooled(self, existing: bytes) -> Iterator[IO[bytes]]:
        """A local temporary file, uploaded whole when the block ends without error."""
        with tempfile.TemporaryFile(prefix="imgframe-upload-") as spool:
            spool.write(existing)
            try:
                yield spool
            except Exception as exc:
                if isinstance(exc, ExportError):
                    raise
                raise ExportError(describe_error("cannot write", self, exc)) from exc
            spool.flush()
            spool.seek(0)
            digest = hashlib.sha256()
            while block := spool.read(1 << 20):
                digest.update(block)
            size = spool.tell()
            spool.seek(0)
            self._upload_file(spool, size)
            self._remember(size, digest.hexdigest())

    def _upload_file(self, source: IO[bytes], size: int) -> None:
        import obstore

        try:
            obstore.put(
                self._store,
                self.key,
                source,
                use_multipart=size > PART_SIZE,
                chunk_size=PART_SIZE,
                max_concurrency=UPLOAD_CONCURRENCY,
            )
        except Exception as exc:
            raise ExportError(describe_error("cannot write", self, exc)) from None

    def _remember(self, size: int, sha256: str) -> None:
        with _DIGESTS_LOCK:
            _DIGESTS[str(self)] = (size, sha256)

    def put(self, data: bytes, *, mode: PutMode = "overwrite") -> str | None:
        import obstore

        spec: Any = mode if mode in ("create", "overwrite") else {"e_tag": mode}
        try:
            result = obstore.put(self._store, self.key, data, mode=spec, use_multipart=False)
        except Exception as exc:
            kind = type(exc).__name__
            if kind in ("AlreadyExistsError", "PreconditionError") or (
                mode not in ("create", "overwrite") and is_not_found(exc)
            ):
                what = "created" if mode == "create" else "changed"
                raise WriteConflict(
                    f"cannot write {self}: another writer {what} it first (conditional write)"
                ) from None
            raise ExportError(describe_error("cannot write", self, exc)) from None
        self._remember(len(data), hashlib.sha256(data).hexdigest())
        return result.get("e_tag")

    def delete(self, paths: Sequence[str] = ()) -> int:
        import obstore

        keys = [self.child(p).key for p in paths] if paths else [self.key]
        try:
            for start in range(0, len(keys), 1000):
                obstore.delete(self._store, keys[start : start + 1000])
        except Exception as exc:
            if not is_not_found(exc):
                raise ExportError(describe_error("cannot delete", self, exc)) from None
        return len(keys)

    def delete_tree(self) -> int:
        items = self.walk()
        if items:
            self.delete([o.path for o in items])
        return len(items)

    def size(self) -> int:
        known = digest_of(str(self))
        if known is not None:
            return known[0]
        return super().size()


class _Upload(io.RawIOBase):
    """obstore's writer as a Python binary file (what pyarrow, gzip and csv write into),
    hashing what goes through."""

    def __init__(self, writer: Any) -> None:
        super().__init__()
        self._writer = writer
        self.size = 0
        self.sha256 = hashlib.sha256()
        self._done = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if not view.nbytes:
            return 0
        self.sha256.update(view)
        self._writer.write(view)
        self.size += view.nbytes
        return view.nbytes

    def flush(self) -> None:
        """Parts go out as they fill; nothing to force (and a flush would start a part)."""

    def close(self) -> None:
        """Closing the handle does not publish the object: :meth:`complete` does."""

    def complete(self) -> None:
        if not self._done:
            self._done = True
            self._writer.__exit__(None, None, None)  # completes the (multipart) upload
        super().close()

    def abort(self, exc: BaseException) -> None:
        if not self._done:
            self._done = True
            with contextlib.suppress(Exception):
                self._writer.__exit__(type(exc), exc, exc.__traceback__)  # aborts it
        super().close()
