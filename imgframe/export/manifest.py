"""The manifest: one JSON document describing the files of an export run."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from .._version import __version__
from ..errors import InvalidArgument
from ..storage import Location, location
from .base import WrittenFile, json_default


def write_manifest(
    path: str | os.PathLike[str] | Location,
    files: Sequence[WrittenFile],
    *,
    schema: pd.DataFrame | pa.Schema | Mapping[str, str] | None = None,
    request_ids: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> Path | str:
    """Write a JSON manifest describing the files of one export run (atomically; an existing
    manifest is replaced).

    Each file is listed with its path (relative to the manifest when it is beside or under
    it), format, rows, bytes and its SHA-256; a dataset directory lists every file in it
    under ``parts`` (path within the dataset, bytes, SHA-256). ``schema`` (a frame, an Arrow
    schema or a name-to-dtype mapping) is stored as ``{"column": "dtype"}``; ``extra`` keys
    are added at the top level (an export run adds what the fetch recorded: filters, zones,
    ``totalCounts`` and ``rows`` per zone, ``complete``, ``warnings``, requests and retries).

    >>> import tempfile
    >>> from imgframe.export import write_export
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_export(df, Path(tmp) / "x.jsonl")
    ...     manifest = write_manifest(Path(tmp) / "manifest.json", [written], schema=df,
    ...                               request_ids=["req-1"])
    ...     json.loads(manifest.read_text())["files"][0]["path"]
    'x.jsonl'
    """
    target = location(path)
    document: dict[str, Any] = {
        "imgframeVersion": __version__,
        "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "files": [_manifest_entry(f, target.parent) for f in files],
        "schema": _schema_mapping(schema),
        "requestIds": list(request_ids),
    }
    for key, value in (extra or {}).items():
        if key in document:
            raise InvalidArgument(f"write_manifest: extra key {key!r} is set by imgframe itself")
        document[key] = value
    try:
        text = json.dumps(document, ensure_ascii=False, indent=2, default=json_default)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"write_manifest: extra is not JSON-serialisable: {exc}") from None
    with target.atomic_write() as fh:
        fh.write(text.encode() + b"\n")
    return target.public()


def _manifest_entry(written: WrittenFile, base: Location) -> dict[str, Any]:
    where = location(written.path)
    if not where.is_local:
        return _object_entry(written, where, base)
    path = where.path
    try:
        shown = path.resolve().relative_to(base.path.resolve()).as_posix() if base.is_local else ""
    except ValueError:
        shown = ""
    entry: dict[str, Any] = {
        "path": shown or str(path.resolve()),
        "format": written.format,
        "rows": written.rows,
        "bytes": written.bytes,
    }
    if path.is_file():
        entry["sha256"] = _sha256(path)
    elif path.is_dir():
        entry["parts"] = [
            {"path": part.relative_to(path).as_posix(), "bytes": part.stat().st_size,
             "sha256": _sha256(part)}
            for part in sorted(p for p in path.rglob("*") if p.is_file())
        ]  # fmt: skip
    return entry


def _object_entry(written: WrittenFile, where: Location, base: Location) -> dict[str, Any]:
    """A file or dataset in an object store: its path relative to the manifest's when both
    are in one bucket below it, else its URI; digests of what this process wrote are known
    from the upload, others are read back."""
    from ..storage.remote import digest_of

    prefix = str(base).rstrip("/") + "/"
    shown = str(where)
    if not base.is_local and shown.startswith(prefix):
        shown = posixpath.normpath(shown[len(prefix) :])

    def sha256(place: Location) -> str:
        known = digest_of(str(place))
        return known[1] if known else hashlib.sha256(place.read_bytes()).hexdigest()

    entry: dict[str, Any] = {
        "path": shown,
        "format": written.format,
        "rows": written.rows,
        "bytes": written.bytes,
    }
    if where.is_file():
        entry["sha256"] = sha256(where)
    else:
        entry["parts"] = [
            {"path": o.path, "bytes": o.size, "sha256": sha256(where.child(o.path))}
            for o in where.walk()
        ]
    return entry


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _schema_mapping(schema: pd.DataFrame | pa.Schema | Mapping[str, str] | None) -> dict[str, str]:
    if schema is None:
        return {}
    if isinstance(schema, pd.DataFrame):
        return {str(name): str(dtype) for name, dtype in schema.dtypes.items()}
    if isinstance(schema, pa.Schema):
        return {field.name: str(field.type) for field in schema}
    return {str(k): str(v) for k, v in schema.items()}
