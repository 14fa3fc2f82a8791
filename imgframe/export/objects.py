"""Partitioned datasets in object stores: committed by a manifest, since a bucket has no rename.

A dataset at ``s3://bucket/exports/images`` is laid out as it is on disk
(``zoneId=asia-east-1a/part-<stamp>-0.parquet`` and ``_common_metadata``) plus
``_manifest.json``, the commit: the list of the dataset's files, its schema and rows.

Writing one: the new data files are put under fresh names (a time-ordered stamp and a random
part), then ``_manifest.json`` is put last, with a conditional put (``If-None-Match: *`` for a
new dataset, ``If-Match: <etag read at the start>`` to replace or extend one), and only then
are the files of the replaced version deleted and ``_common_metadata`` updated. So:

- :func:`~imgframe.export.read_export` (and any reader following the manifest) sees the old
  version or the new one, never a mix, and never a run that failed or was killed (its files
  are in no manifest; the next overwrite of the dataset deletes them).
- Two writers of one dataset cannot lose each other's rows: the one whose manifest lands
  second finds the etag changed, deletes its own files and fails with
  :class:`~imgframe.storage.WriteConflict` (exit code 75: run it again).

Engines listing the prefix (Athena, Spark, DuckDB globs) do not read the manifest: they see
new files as they arrive, and for the moment between an overwrite's commit and its clean-up
both versions. The snapshot store's ``imgframe ddl`` statements follow the manifests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._version import __version__
from ..errors import DataError, ExportError
from ..storage import Location, WriteConflict, run_concurrently
from .arrow import (
    encode_document,
    frame_to_arrow,
    from_arrow,
    merged_document,
    metadata_document,
)
from .base import METADATA_KEY, WrittenFile
from .dataset import (
    COMMON_METADATA,
    DATASET_MANIFEST,
    check_replaceable,
    check_same_schema,
    sorted_rows,
    write_dataset_files,
)

__all__ = ["DATASET_MANIFEST", "read_object_dataset", "versioned_manifest", "write_object_dataset"]

_FORMAT = "imgframe-dataset"
_ATTEMPTS = 5


def write_object_dataset(
    df: pd.DataFrame,
    target: Location,
    partition_by: list[str],
    *,
    metadata: Mapping[str, Any] | None,
    mode: str,
) -> WrittenFile:
    """Write (``mode`` error/overwrite) or extend (append) the dataset at ``target``."""
    committed, etag = read_manifest(target)
    appending = mode == "append" and (committed is not None or target.is_dir())
    if appending and committed is None:
        raise ExportError(f"cannot append to {target}: it is not a dataset written by imgframe")
    if not appending:
        check_replaceable(target)
    document = metadata_document(df, metadata, partition_by)
    table = frame_to_arrow(df, target, document=document)
    kept: list[dict[str, Any]] = []
    if appending and committed is not None:
        old_schema = schema_of(committed, target)
        old_info = json.loads((old_schema.metadata or {})[METADATA_KEY.encode()])
        if old_info.get("partitionBy") != partition_by:
            raise ExportError(
                f"cannot append to {target}: it is partitioned by "
                f"{old_info.get('partitionBy')}, not {partition_by}"
            )
        check_same_schema(old_schema, table.schema, target)
        merged = merged_document(old_info, document)
        new_metadata = dict(old_schema.metadata or {})
        new_metadata[METADATA_KEY.encode()] = encode_document(merged)
        schema = old_schema.with_metadata(new_metadata)
        kept = list(committed["files"])
        rows = int(merged["rows"])
    else:
        schema = table.schema
        rows = table.num_rows
    with tempfile.TemporaryDirectory(prefix="imgframe-dataset-") as tmp:
        staging = Path(tmp)
        try:
            write_dataset_files(table, staging, partition_by)
        except (OSError, pa.ArrowException) as exc:
            raise ExportError(f"cannot write {target}: {exc}") from exc
        sizes = {p.relative_to(staging).as_posix(): p.stat().st_size for p in staging.rglob("*")}
        added = target.upload_tree(staging)
    files = kept + [{"path": name, "bytes": sizes[name]} for name in added]
    manifest = {
        "format": _FORMAT,
        "imgframeVersion": __version__,
        "committedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
        "partitionBy": partition_by,
        "schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
        "files": files,
    }
    commit(target, manifest, etag, added)
    if not appending:
        listed = {f["path"] for f in files}
        stale = [
            o.path for o in target.walk() if o.path.endswith(".parquet") and o.path not in listed
        ]
        target.delete(stale)
    sink = pa.BufferOutputStream()
    pq.write_metadata(schema, sink)
    target.child(COMMON_METADATA).put(sink.getvalue().to_pybytes())
    return WrittenFile(str(target), rows, sum(int(f["bytes"]) for f in files), "parquet")


def commit(
    target: Location, manifest: Mapping[str, Any], etag: str | None, added: list[str]
) -> str | None:
    """Put ``target``'s manifest only if it is still the version read (``etag``; ``None``:
    there was none). A writer that lost the race deletes the files it added."""
    body = json.dumps(manifest, indent=1).encode() + b"\n"
    try:
        return target.child(DATASET_MANIFEST).put(body, mode=etag or "create")
    except WriteConflict:
        target.delete(added)
        raise WriteConflict(
            f"cannot write {target}: another writer committed it meanwhile; nothing of this "
            "run was kept (run it again)"
        ) from None
    except BaseException:
        target.delete(added)
        raise


def read_manifest(target: Location) -> tuple[dict[str, Any] | None, str | None]:
    """The dataset's committed manifest and its etag (``None, None`` without one)."""
    place = target.child(DATASET_MANIFEST)
    if place.head() is None:
        return None, None
    return versioned_manifest(place, _FORMAT, "dataset")


def versioned_manifest(
    place: Location, format: str, what: str
) -> tuple[dict[str, Any], str | None]:
    """The commit file at ``place`` (a JSON object whose ``format`` is ``format``) and its
    etag; a :class:`~imgframe.errors.DataError` naming it when it is anything else."""
    data, etag = place.read_versioned()
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise DataError(f"{place} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != format:
        raise DataError(f"{place} is not an imgframe {what} manifest")
    return manifest, etag


def schema_of(manifest: Mapping[str, Any], target: Location) -> pa.Schema:
    try:
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(manifest["schema"])))
    except (KeyError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"the manifest of {target} holds no readable schema: {exc}") from None


def read_object_dataset(target: Location) -> pd.DataFrame:
    """The rows of the committed version of the dataset at ``target``."""
    problem = ""
    for attempt in range(_ATTEMPTS):
        if attempt:
            time.sleep(0.05 * attempt)
        manifest, etag = read_manifest(target)
        if manifest is None:
            if not target.exists():
                raise DataError(f"no export at {target}")
            raise DataError(f"{target} has no {DATASET_MANIFEST}: not an imgframe dataset")
        schema = schema_of(manifest, target)
        partition_by = list(manifest.get("partitionBy", []))
        paths = [str(f["path"]) for f in manifest["files"]]
        try:
            tables = run_concurrently(
                functools.partial(_part, target, partition_by=partition_by), paths
            )
        except DataError as exc:
            if read_manifest(target)[1] == etag:
                raise
            problem = str(exc)  # replaced while read: read the new version
            continue
        file_schema = pa.schema(
            [pa.field(f.name, pa.string()) if f.name in partition_by else f for f in schema]
        )
        empty = file_schema.empty_table()
        try:
            table = pa.concat_tables([empty, *tables], promote_options="permissive")
            table = table.select(schema.names).cast(schema)
        except (pa.ArrowException, KeyError) as exc:
            raise DataError(f"cannot read the dataset {target}: {exc}") from None
        return sorted_rows(from_arrow(table.replace_schema_metadata(schema.metadata)))
    raise DataError(f"{problem} (the dataset kept changing: {_ATTEMPTS} attempts)")


def _part(target: Location, name: str, partition_by: list[str]) -> pa.Table:
    data = target.child(name).read_bytes()
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read {target.child(name)} as Parquet: {exc}") from None
    values = dict(
        part.split("=", 1) for part in name.split("/")[:-1] if "=" in part
    )  # hive: key=value directories
    for column in partition_by:
        raw = values.get(column)
        value = None if raw in (None, "__HIVE_DEFAULT_PARTITION__") else urllib.parse.unquote(raw)
        table = table.append_column(column, pa.array([value] * table.num_rows, pa.string()))
    return table.replace_schema_metadata(None)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
