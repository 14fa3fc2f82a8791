"""Write image frames to Parquet, CSV and JSONL, atomically, and read them back exactly.

Every writer goes through the same steps: refuse an existing target unless ``mode`` says
otherwise, write into a hidden temporary file (or directory) beside the target, flush and
``fsync`` it, then ``os.replace`` it into place. Any failure removes the temporary file and
raises :class:`~imgframe.errors.ExportError` naming the target and the cause on one line; the
previous file is left byte-for-byte intact. Missing parent directories are created.

``mode``:

- ``"error"`` (default): an existing target is refused before anything is written.
- ``"overwrite"``: the target is replaced atomically.
- ``"append"``: rows are added. A Parquet file is read, extended and rewritten atomically; a
  partitioned dataset gets new files (each appears whole, the dataset's ``_common_metadata``
  is updated last); a CSV or JSONL file is copied to the temporary file, extended and swapped
  in. The new rows must have the same columns (and dtypes, for Parquet) as the target, else
  :class:`~imgframe.errors.ExportError`. Appending to a target that does not exist creates it.

Parquet
    Arrow types are kept (dictionary, list, struct, timestamp) along with pandas' own metadata,
    and a JSON document under the schema metadata key ``imgframe``: ``imgframeVersion``,
    ``rows``, ``zones``, ``fetchedAt`` (the latest), ``filters`` (``{}`` unless the caller
    passes them), ``categories`` (each categorical's categories, in order) and, for datasets,
    ``partitionBy``; plus every key of the caller's ``metadata``. ``partition_by`` writes a
    hive-partitioned dataset directory (``zoneId=asia-east-1a/part-...parquet``) with a
    ``_common_metadata`` file holding the full schema; :func:`read_export` returns its rows
    sorted by ``zoneId`` then ``imageId`` (compared as text, missing values last; a stable
    sort, so duplicates keep file order), since a dataset has no row order of its own.

CSV (``.csv``, or gzip-compressed ``.csv.gz``)
    UTF-8 without a byte order mark, one header row, ``\\n`` line ends. Every text value is
    quoted and a missing value is an empty, unquoted cell, so ``""`` (an empty string) and
    a missing value stay distinct. Timestamps are ISO-8601 in UTC with microseconds
    (``2025-03-01T08:00:00.000000Z``); integers are plain digits; list cells
    (``nicNetworkType``, ``tags``) are compact JSON arrays, tags as
    ``[{"key":"env","value":"prod"}]``; other non-text extra columns are JSON text.

    ``tags="long"`` writes one row per tag with ``tagKey``/``tagValue`` columns instead of
    ``tags`` (an untagged image keeps one row with empty cells, see
    :func:`~imgframe.frame.explode_tags`); ``tags="wide"`` writes one ``tag:<key>`` column per
    key instead of ``tags`` (see :func:`~imgframe.frame.tag_columns`).

    No sidecar file describes the dtypes: :func:`read_export` derives them from the column
    names it knows (:mod:`imgframe.schema`: categoricals, strings, integers, the two list
    columns, ``fetchedAt``, the joined zone columns, ``tagKey``/``tagValue`` and ``tag:*``
    columns) and reads every other column as ``string[pyarrow]``. A categorical's categories
    are rebuilt in order of first appearance, which is how the frame builds them. So a
    list-mode CSV reads back equal to the frame written when the frame's extra columns are
    strings and its categoricals have no unused categories (true of every fetched frame; a
    filtered frame may keep unused categories, which only Parquet stores).

    Formula neutralisation (default on, OWASP's advice for CSV injection): a text cell (or
    column name) starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading ``'``, so a spreadsheet shows it as text. To keep this reversible, a value that
    already starts with one or more ``'`` followed by one of those characters gets one more
    ``'``. Reading strips one ``'`` from exactly the values that start with ``'``s followed by
    one of those characters, which undoes the writing step for every string. The tradeoff:
    a file written with ``neutralize_formulas=False`` that holds such a value (say ``'=x``)
    must be read with ``read_export(path, neutralized_formulas=False)``, or it loses a quote.

JSONL
    One JSON object per image and line, UTF-8, keys in column order, missing values ``null``,
    lists as arrays, tags as ``[{"key": ..., "value": ...}]``, timestamps as in CSV. Known
    columns get their dtypes from the schema as for CSV; extra columns keep their JSON types
    (text, integer, boolean, float, lists). A file with no rows reads as
    :func:`~imgframe.frame.empty_frame`.

The index is never written: frames are read back with a fresh ``RangeIndex``.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import string
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ._version import __version__
from .errors import DataError, ExportError, InvalidArgument
from .frame import IMAGE_SCHEMA, empty_frame, explode_tags, tag_columns
from .schema import (
    CATEGORICAL_COLUMNS,
    INTEGER_COLUMNS,
    STRING_COLUMNS,
    ZONE_JOIN_COLUMNS,
)

__all__ = [
    "FORMATS",
    "METADATA_KEY",
    "WrittenFile",
    "atomic_file",
    "expand_placeholders",
    "neutralize_formula",
    "read_export",
    "read_export_metadata",
    "restore_formula",
    "write_csv",
    "write_export",
    "write_jsonl",
    "write_manifest",
    "write_parquet",
]

#: The export formats :func:`write_export` knows, by name.
FORMATS = ("parquet", "csv", "csv.gz", "jsonl")
#: The Parquet schema metadata key holding imgframe's JSON document.
METADATA_KEY = "imgframe"

_MODES = ("error", "overwrite", "append")
_TAGS_MODES = ("list", "long", "wide")
_COMMON_METADATA = "_common_metadata"
_CATEGORICAL = pa.dictionary(pa.int32(), pa.string())
_NIC_TYPE = IMAGE_SCHEMA.field("nicNetworkType").type
_TAGS_TYPE = IMAGE_SCHEMA.field("tags").type
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow prints the microseconds with %S
_LIST_TYPES = {"nicNetworkType": _NIC_TYPE, "tags": _TAGS_TYPE}
_TEXT_COLUMNS = frozenset((*STRING_COLUMNS, *ZONE_JOIN_COLUMNS, "tagKey", "tagValue"))
# Keys that must describe the file itself: a caller's metadata cannot replace them.
_INTEGRITY_KEYS = ("imgframeVersion", "rows", "categories", "partitionBy")


@dataclass(frozen=True)
class WrittenFile:
    """What a writer produced: the target, the rows it now holds, its size on disk in bytes
    (a dataset's: all its files), and the format (one of :data:`FORMATS`)."""

    path: Path
    rows: int
    bytes: int
    format: str


# --------------------------------------------------------------------------------------------
# Paths


def expand_placeholders(
    path_template: str | os.PathLike[str], *, now: datetime, zones: Sequence[str] | None
) -> str:
    """Fill ``{date}``, ``{time}`` and ``{zone}`` in an output path.

    ``{date}`` is ``now`` as ``YYYY-MM-DD`` in UTC and ``{time}`` as ``HHMMSS`` in UTC (``now``
    must be timezone-aware). ``{zone}`` is the zone id when ``zones`` holds exactly one,
    ``multi`` when it holds several, and ``all`` when it is ``None`` or empty (every zone was
    fetched). Characters other than letters, digits, ``.``, ``_`` and ``-`` in a zone id become
    ``_``. ``{{`` and ``}}`` are literal braces; any other placeholder is an
    :class:`~imgframe.errors.InvalidArgument`.

    >>> when = datetime(2025, 3, 1, 8, 30, 5, tzinfo=UTC)
    >>> expand_placeholders("out/{date}/images-{zone}-{time}.parquet", now=when,
    ...                     zones=["asia-east-1a"])
    'out/2025-03-01/images-asia-east-1a-083005.parquet'
    >>> expand_placeholders("images-{zone}.csv", now=when, zones=["a", "b"])
    'images-multi.csv'
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument("expand_placeholders: `now` must be timezone-aware")
    template = os.fspath(path_template)
    utc = now.astimezone(UTC)
    unique = list(dict.fromkeys(zones or ()))
    if not unique:
        zone = "all"
    elif len(unique) == 1:
        zone = re.sub(r"[^A-Za-z0-9._-]", "_", unique[0]) or "_"
    else:
        zone = "multi"
    values = {"date": utc.strftime("%Y-%m-%d"), "time": utc.strftime("%H%M%S"), "zone": zone}
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidArgument(f"bad output path template {template!r}: {exc}") from None
    for _, name, spec, conversion in fields:
        if name is not None and (name not in values or spec or conversion):
            raise InvalidArgument(
                f"unknown placeholder {{{name}}} in {template!r}; use {{date}}, {{time}}, "
                "{zone} (and {{ }} for literal braces)"
            )
    return template.format_map(values)


# --------------------------------------------------------------------------------------------
# Atomic writes


@contextlib.contextmanager
def atomic_file(
    target: str | os.PathLike[str], *, copy_existing: bool = False
) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``target`` only when the ``with`` block ends without error.

    The data goes to a hidden temporary file in the target's directory (so the final rename
    never crosses file systems), is flushed and fsynced, then renamed over the target. On any
    error the temporary file is removed and :class:`~imgframe.errors.ExportError` is raised;
    the target is untouched. ``copy_existing`` starts the temporary file as a copy of the
    target (for appends).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with atomic_file(Path(tmp) / "note.txt") as fh:
    ...         _ = fh.write(b"hello")
    ...     (Path(tmp) / "note.txt").read_bytes()
    b'hello'
    """
    path = Path(target)
    temp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        temp = Path(name)
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
        _fsync_directory(path.parent)
    except Exception as exc:
        raise _export_error(path, exc) from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()


def _export_error(target: Path, exc: BaseException) -> ExportError:
    if isinstance(exc, ExportError):
        return exc
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(cause) > 300:
        cause = cause[:297] + "..."
    return ExportError(f"cannot write {target}: {cause}")


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


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_mode(target: Path, mode: str) -> None:
    if mode not in _MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
    if mode == "error" and (target.exists() or target.is_symlink()):
        raise ExportError(
            f"cannot write {target}: it already exists (use mode='overwrite' or 'append')"
        )


def _size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# Parquet


def write_parquet(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    partition_by: Sequence[str] | None = None,
    mode: str = "error",
) -> WrittenFile:
    """Write the frame to one Parquet file, or to a hive-partitioned dataset directory.

    ``metadata`` (JSON-serialisable, e.g. ``{"filters": {...}, "requestIds": [...]}``) is
    stored with imgframe's own keys; see the module docstring.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageSize": "20"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_parquet(df, Path(tmp) / "images.parquet")
    ...     read_export(written.path).equals(df)
    True
    """
    target = Path(path)
    _check_mode(target, mode)
    if partition_by:
        return _write_dataset(df, target, list(partition_by), metadata=metadata, mode=mode)
    if mode == "append" and target.exists():
        if target.is_dir():
            raise ExportError(
                f"cannot append to {target}: it is a dataset directory; pass partition_by"
            )
        old_info = read_export_metadata(target)
        df = _concat_for_append(_read_parquet_file(target), df, target)
        document = _merged_document(old_info, _metadata_document(df, metadata, ()))
        # The rows are all in the new file, so these count it, not the sum of two documents.
        document.update(rows=len(df), categories=_categories_of(df))
        table = _to_arrow(df, target, document=document)
    else:
        table = _to_arrow(df, target, document=_metadata_document(df, metadata, ()))
    with atomic_file(target) as fh:
        _write_parquet_table(table, fh)
    return WrittenFile(target, table.num_rows, _size_on_disk(target), "parquet")


def _write_parquet_table(table: pa.Table, sink: IO[bytes]) -> None:
    """Encode ``table`` as Parquet into ``sink`` (the one place Parquet bytes are produced)."""
    pq.write_table(table, sink, compression="zstd")


def _to_arrow(df: pd.DataFrame, target: Path, *, document: Mapping[str, Any]) -> pa.Table:
    """The frame as Arrow, categoricals as ``dictionary<int32, string>``, with imgframe's
    metadata document beside pandas' own."""
    _check_columns(df)
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        cause = ValueError(f"the frame cannot be converted to Arrow: {exc}")
        raise _export_error(target, cause) from exc
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) and field.type != _CATEGORICAL:
            # pandas picks int8 codes and, for all-NA columns, a null dictionary; use the
            # frame's own type so every file of a dataset agrees.
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                table = table.set_column(
                    index,
                    pa.field(field.name, _CATEGORICAL),
                    table.column(index).cast(_CATEGORICAL),
                )
    schema_metadata = dict(table.schema.metadata or {})
    schema_metadata[METADATA_KEY.encode()] = _encode_document(document)
    if b"pandas" in schema_metadata:
        schema_metadata[b"pandas"] = _readable_pandas_metadata(schema_metadata[b"pandas"])
    return table.replace_schema_metadata(schema_metadata)


def _readable_pandas_metadata(raw: bytes) -> bytes:
    """pandas records Arrow-backed nested columns as ``list<item: string>[pyarrow]``, a dtype
    string its own ``read_parquet`` cannot parse back (pandas issues 53011, 57411); call them
    ``object`` so plain ``pd.read_parquet`` opens the file. :func:`read_export` restores the
    Arrow dtypes from the Arrow schema itself."""
    document = json.loads(raw)
    for column in document.get("columns", []):
        numpy_type = str(column.get("numpy_type", ""))
        if numpy_type.endswith("[pyarrow]") and ("<" in numpy_type or "[" in numpy_type[:-9]):
            column["numpy_type"] = "object"
    return json.dumps(document).encode()


def _check_columns(df: pd.DataFrame) -> None:
    names = list(df.columns)
    if not all(isinstance(n, str) for n in names):
        raise InvalidArgument("export: every column name must be a string")
    if len(set(names)) != len(names):
        raise InvalidArgument("export: column names must be unique")


def _metadata_document(
    df: pd.DataFrame, metadata: Mapping[str, Any] | None, partition_by: Sequence[str]
) -> dict[str, Any]:
    """imgframe's document for ``df``: computed ``zones``/``fetchedAt`` unless the caller
    gives them (a fetch knows the zones it asked, even empty ones), the caller's keys, then
    the keys that describe the file itself."""
    document: dict[str, Any] = {
        "filters": {},
        "zones": _zones_of(df),
        "fetchedAt": _latest_fetch(df),
    }
    document.update((k, v) for k, v in (metadata or {}).items() if k not in _INTEGRITY_KEYS)
    document["imgframeVersion"] = __version__
    document["rows"] = len(df)
    document["categories"] = _categories_of(df)
    if partition_by:
        document["partitionBy"] = list(partition_by)
    return document


def _merged_document(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The document after an append: the new write's keys, zones merged, the latest fetch,
    rows summed and categories merged (old first)."""
    merged = {**old, **new}
    merged["zones"] = sorted({*map(str, old.get("zones") or []), *map(str, new.get("zones") or [])})
    fetched = [f for f in (old.get("fetchedAt"), new.get("fetchedAt")) if f]
    merged["fetchedAt"] = max(fetched, key=_timestamp_key) if fetched else None
    merged["rows"] = int(old.get("rows", 0)) + int(new.get("rows", 0))
    old_categories: Mapping[str, list[str]] = old.get("categories") or {}
    merged["categories"] = {
        name: list(dict.fromkeys([*old_categories.get(name, []), *values]))
        for name, values in (new.get("categories") or {}).items()
    }
    return merged


def _timestamp_key(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return pd.Timestamp.min.tz_localize(UTC)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp


def _categories_of(df: pd.DataFrame) -> dict[str, list[str]]:
    return {
        str(name): [str(c) for c in df[name].cat.categories]
        for name in df.columns
        if isinstance(df[name].dtype, pd.CategoricalDtype)
    }


def _encode_document(document: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(document, ensure_ascii=False, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"metadata is not JSON-serialisable: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _zones_of(df: pd.DataFrame) -> list[str]:
    if "zoneId" not in df.columns:
        return []
    return sorted({str(z) for z in df["zoneId"].dropna().unique()})


def _latest_fetch(df: pd.DataFrame) -> str | None:
    if "fetchedAt" not in df.columns or not df["fetchedAt"].notna().any():
        return None
    latest = pd.Timestamp(df["fetchedAt"].max())
    if latest.tzinfo is None:
        latest = latest.tz_localize(UTC)
    return str(latest.tz_convert(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _read_parquet_file(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {path} as Parquet: {exc}") from None
    return _from_arrow(table)


def _from_arrow(table: pa.Table) -> pd.DataFrame:
    """Arrow back to the frame: pandas' metadata restores the extension dtypes, the mapper
    keeps list/struct columns Arrow-backed, imgframe's metadata restores the categories."""
    frame: pd.DataFrame = table.to_pandas(types_mapper=_nested_as_arrow)
    raw = (table.schema.metadata or {}).get(METADATA_KEY.encode())
    categories = json.loads(raw).get("categories", {}) if raw else {}
    for name, values in categories.items():
        if name in frame.columns:
            frame[name] = _as_categorical(frame[name], values)
    return frame


def _nested_as_arrow(arrow_type: pa.DataType) -> pd.ArrowDtype | None:
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_struct(arrow_type)
    ):
        return pd.ArrowDtype(_item_named(arrow_type))
    return None


def _item_named(arrow_type: pa.DataType) -> pa.DataType:
    """Parquet calls a list's child ``element``; the frame (``pa.list_``) calls it ``item``."""
    if pa.types.is_list(arrow_type):
        return pa.list_(_item_named(arrow_type.value_type))
    if pa.types.is_large_list(arrow_type):
        return pa.large_list(_item_named(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return pa.struct(
            [
                arrow_type.field(i).with_type(_item_named(arrow_type.field(i).type))
                for i in range(arrow_type.num_fields)
            ]
        )
    return arrow_type


def _as_categorical(values: pd.Series, categories: Sequence[str]) -> pd.Series:
    """``values`` as a categorical with ``categories`` first, in order, then any others in
    order of appearance (a hand-edited dataset may hold values the metadata never saw)."""
    known = list(categories)
    seen = set(known)
    text = values.astype("string[pyarrow]")
    for value in text.dropna().unique():
        if value not in seen:
            seen.add(value)
            known.append(value)
    # An empty category list gives an object Index, as the frame's all-NA columns have.
    dtype = pd.CategoricalDtype(categories=known)
    return pd.Series(pd.Categorical(text, dtype=dtype), index=values.index, name=values.name)


def _concat_for_append(old: pd.DataFrame, new: pd.DataFrame, target: Path) -> pd.DataFrame:
    """Old rows then new rows; categoricals get the union of their categories (old first)."""
    _check_same_columns(list(old.columns), list(new.columns), target)
    old = old.copy()
    new = new.copy()
    for name in old.columns:
        left, right = old[name].dtype, new[name].dtype
        if isinstance(left, pd.CategoricalDtype) and isinstance(right, pd.CategoricalDtype):
            union = list(dict.fromkeys([*map(str, left.categories), *map(str, right.categories)]))
            old[name] = _as_categorical(old[name], union)
            new[name] = _as_categorical(new[name], union)
        elif left != right:
            raise ExportError(
                f"cannot append to {target}: column {name!r} is {left} in the file "
                f"but {right} in the frame"
            )
    return pd.concat([old, new], ignore_index=True)


def _check_same_columns(old: Sequence[str], new: Sequence[str], target: Path) -> None:
    """Appending needs the same columns in the same order; say what differs."""
    if list(old) == list(new):
        return
    problems = []
    if only_old := [n for n in old if n not in new]:
        problems.append(f"only in the file: {_short_list(only_old)}")
    if only_new := [n for n in new if n not in old]:
        problems.append(f"only in the frame: {_short_list(only_new)}")
    if not problems:
        problems.append("the columns are in another order")
    raise ExportError(f"cannot append to {target}: its columns differ ({'; '.join(problems)})")


def _short_list(names: Iterable[Any], limit: int = 8) -> str:
    items = [str(n) for n in names]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# --------------------------------------------------------------------------------------------
# Partitioned Parquet datasets


def _write_dataset(
    df: pd.DataFrame,
    target: Path,
    partition_by: list[str],
    *,
    metadata: Mapping[str, Any] | None,
    mode: str,
) -> WrittenFile:
    for name in partition_by:
        if name not in df.columns:
            raise InvalidArgument(f"partition_by: no column {name!r} in the frame")
        dtype = df[name].dtype
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype):
            raise InvalidArgument(f"partition_by: cannot partition on nested column {name!r}")
    if mode == "append" and target.exists():
        return _append_dataset(df, target, partition_by, metadata)
    table = _to_arrow(df, target, document=_metadata_document(df, metadata, partition_by))
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        )
        _write_dataset_files(table, staging, partition_by)
        pq.write_metadata(table.schema, staging / _COMMON_METADATA)
        _fix_tree_modes(staging)
        _swap_in(staging, target)
        staging = None
    except Exception as exc:
        raise _export_error(target, exc) from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return WrittenFile(target, table.num_rows, _size_on_disk(target), "parquet")


def _write_dataset_files(table: pa.Table, directory: Path, partition_by: Sequence[str]) -> None:
    """Write the data files of a hive-partitioned dataset (partition columns as text)."""
    for name in partition_by:
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(index).cast(pa.string()))
    # The files carry no schema metadata: _common_metadata holds it, with the real types.
    table = table.replace_schema_metadata(None)
    partitioning = ds.partitioning(
        pa.schema([(name, pa.string()) for name in partition_by]), flavor="hive"
    )
    # A time-ordered, unique file name keeps appends after the files already there.
    stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    ds.write_dataset(
        table,
        directory,
        format="parquet",
        partitioning=partitioning,
        basename_template=f"part-{stamp}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        max_partitions=100_000,
        create_dir=True,
    )


def _fix_tree_modes(root: Path) -> None:
    umask = _umask()
    os.chmod(root, 0o777 & ~umask)
    for path in root.rglob("*"):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def _swap_in(staging: Path, target: Path) -> None:
    """Put the staged directory at ``target``: old aside, new in, old deleted."""
    aside: Path | None = None
    if target.exists() or target.is_symlink():
        aside = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        os.rename(target, aside)
    try:
        os.rename(staging, target)
    except OSError:
        if aside is not None:
            os.rename(aside, target)
        raise
    if aside is not None:
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            aside.unlink(missing_ok=True)
    _fsync_directory(target.parent)


def _append_dataset(
    df: pd.DataFrame,
    target: Path,
    partition_by: list[str],
    metadata: Mapping[str, Any] | None,
) -> WrittenFile:
    if not (target / _COMMON_METADATA).is_file():
        raise ExportError(f"cannot append to {target}: it is not a dataset written by imgframe")
    old_schema = pq.read_schema(target / _COMMON_METADATA)
    old_info = _metadata_of_schema(old_schema, target)
    if old_info.get("partitionBy") != partition_by:
        raise ExportError(
            f"cannot append to {target}: it is partitioned by {old_info.get('partitionBy')}, "
            f"not {partition_by}"
        )
    table = _to_arrow(df, target, document=_metadata_document(df, metadata, partition_by))
    _check_same_schema(old_schema, table.schema, target)
    document = _merged_document(old_info, _metadata_document(df, metadata, partition_by))
    rows = int(document["rows"])
    new_metadata = dict(old_schema.metadata or {})
    new_metadata[METADATA_KEY.encode()] = _encode_document(document)

    staging: Path | None = None
    try:
        staging = Path(
            tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        )
        _write_dataset_files(table, staging, partition_by)
        _fix_tree_modes(staging)
        for file in sorted(p for p in staging.rglob("*.parquet")):
            destination = target / file.relative_to(staging)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, destination)
        with atomic_file(target / _COMMON_METADATA) as fh:
            pq.write_metadata(old_schema.with_metadata(new_metadata), fh)
    except Exception as exc:
        raise _export_error(target, exc) from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return WrittenFile(target, rows, _size_on_disk(target), "parquet")


def _check_same_schema(old: pa.Schema, new: pa.Schema, target: Path) -> None:
    _check_same_columns(old.names, new.names, target)
    retyped = [f.name for f in new if old.field(f.name).type != f.type]
    if retyped:
        raise ExportError(
            f"cannot append to {target}: other types in the frame for {_short_list(retyped)}"
        )


def _metadata_of_schema(schema: pa.Schema, path: Path) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY.encode())
    if raw is None:
        raise DataError(f"{path} has no imgframe metadata (not written by imgframe)")
    document: dict[str, Any] = json.loads(raw)
    return document


def _read_dataset(path: Path) -> pd.DataFrame:
    common = path / _COMMON_METADATA
    if not common.is_file():
        raise DataError(
            f"{path} is a directory without {_COMMON_METADATA}: not an imgframe dataset"
        )
    schema = pq.read_schema(common)
    info = _metadata_of_schema(schema, path)
    partition_by = list(info.get("partitionBy", []))
    file_schema = pa.schema(
        [pa.field(f.name, pa.string()) if f.name in partition_by else f for f in schema]
    )
    partitioning = ds.partitioning(
        pa.schema([(name, pa.string()) for name in partition_by]), flavor="hive"
    )
    try:
        dataset = ds.dataset(path, format="parquet", partitioning=partitioning, schema=file_schema)
        table = dataset.to_table()
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read the dataset {path}: {exc}") from None
    table = table.select(schema.names).cast(schema)
    frame = _from_arrow(table)
    return _sorted_rows(frame)


def _sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in ("zoneId", "imageId") if k in frame.columns]
    if not keys or frame.empty:
        return frame.reset_index(drop=True)
    order = pd.DataFrame({k: frame[k].astype("string[pyarrow]") for k in keys})
    index = order.sort_values(keys, kind="stable", na_position="last").index
    return frame.loc[index].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# CSV


def neutralize_formula(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Prefix ``'`` to text that a spreadsheet would run as a formula (reversibly).

    >>> neutralize_formula(pa.array(["=SUM(A1)", "'=x", "plain", None])).to_pylist()
    ["'=SUM(A1)", "''=x", 'plain', None]
    """
    return pc.replace_substring_regex(values, pattern=r"^('*[=+\-@\t\r])", replacement=r"'\1")


def restore_formula(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Undo :func:`neutralize_formula`.

    >>> restore_formula(pa.array(["'=SUM(A1)", "''=x", "'plain", None])).to_pylist()
    ['=SUM(A1)', "'=x", "'plain", None]
    """
    return pc.replace_substring_regex(values, pattern=r"^'('*[=+\-@\t\r])", replacement=r"\1")


def write_csv(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    tags: str = "list",
    neutralize_formulas: bool = True,
    mode: str = "error",
    compress: bool | None = None,
) -> WrittenFile:
    """Write the frame as CSV (gzip-compressed when the name ends in ``.gz`` or ``compress``).

    See the module docstring for the encoding. ``mode="append"`` adds rows without a header
    and refuses a file whose header differs.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageName": "=cmd"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_csv(df, Path(tmp) / "images.csv")
    ...     "\\"'=cmd\\"" in written.path.read_text(), read_export(written.path).equals(df)
    (True, True)
    """
    target = Path(path)
    _check_mode(target, mode)
    if tags not in _TAGS_MODES:
        raise InvalidArgument(f"tags must be one of {', '.join(_TAGS_MODES)}, not {tags!r}")
    gz = target.name.lower().endswith(".gz") if compress is None else compress
    table = _csv_table(_shape_tags(df, tags), neutralize=neutralize_formulas)
    appending = mode == "append" and target.exists()
    rows = table.num_rows
    if appending:
        # Compare the header as written, before any formula quote is taken off.
        existing = _read_csv_strings(target, neutralized=False)
        _check_same_columns(existing.column_names, table.column_names, target)
        rows += existing.num_rows
    with atomic_file(target, copy_existing=appending) as fh:
        if gz:
            # A new gzip member per write: readers decompress concatenated members as one.
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as zipped:
                _write_csv_table(table, zipped, header=not appending)
        else:
            _write_csv_table(table, fh, header=not appending)
    return WrittenFile(target, rows, _size_on_disk(target), "csv.gz" if gz else "csv")


def _write_csv_table(table: pa.Table, sink: IO[bytes] | gzip.GzipFile, *, header: bool) -> None:
    """Encode ``table`` (text and integer columns only) as CSV into ``sink``."""
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
    pa_csv.write_csv(table, sink, write_options=options)


def _shape_tags(df: pd.DataFrame, tags: str) -> pd.DataFrame:
    if tags == "list" or "tags" not in df.columns:
        return df
    if tags == "long":
        return explode_tags(df)
    return tag_columns(df).drop(columns=["tags"])


def _csv_table(df: pd.DataFrame, *, neutralize: bool) -> pa.Table:
    """Every column as CSV-ready Arrow: integers stay integers, everything else is text."""
    _check_columns(df)
    columns: list[pa.Array] = []
    names: list[str] = []
    for name in df.columns:
        values = _csv_column(df[name])
        if neutralize and _is_text(df[name].dtype):
            values = neutralize_formula(values)
        columns.append(values)
        names.append(name)
    if neutralize:
        names = neutralize_formula(pa.array(names, pa.string())).to_pylist()
    return pa.Table.from_arrays(columns, names=names)


def _is_text(dtype: Any) -> bool:
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return bool(
            pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
        )
    return bool(pd.api.types.is_object_dtype(dtype))


def _csv_column(series: pd.Series) -> pa.Array:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and _is_text(dtype)
    ):
        return pa.array(series.astype("string[pyarrow]").array, type=pa.string())
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pa.array(series.astype("Int64").array, type=pa.int64())
    if isinstance(dtype, pd.DatetimeTZDtype):
        arrow = pa.array(series.dt.tz_convert(UTC).astype("datetime64[us, UTC]").array)
        return pc.strftime(arrow, format=_TIMESTAMP_FORMAT)
    if pd.api.types.is_datetime64_dtype(dtype):
        arrow = pa.array(series.astype("datetime64[us]").array)
        return pc.strftime(arrow, format="%Y-%m-%dT%H:%M:%S")
    return pa.array([_json_cell(v) for v in _python_values(series)], type=pa.string())


def _python_values(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.ArrowDtype):
        return list(pa.array(series.array).to_pylist())
    return [None if _is_missing(v) else v for v in series.tolist()]


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and arrays are never "missing" as a whole
        return False


def _json_cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _read_csv_strings(path: Path, *, neutralized: bool = True) -> pa.Table:
    """The CSV with every column as text (missing cells null, quoted empty cells "")."""
    try:
        data = gzip.decompress(path.read_bytes()) if _is_gzip(path) else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        header = next(csv.reader(io.StringIO(data.decode("utf-8"), newline="")), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path} as UTF-8 CSV: {exc}") from None
    if not header:
        raise DataError(f"{path} is empty: no CSV header row")
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {path} as CSV: {exc}") from None
    if neutralized:
        names = restore_formula(pa.array(table.column_names, pa.string())).to_pylist()
        table = table.rename_columns(names)
    return table


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _frame_from_text(table: pa.Table, *, neutralized: bool) -> pd.DataFrame:
    """Typed frame columns from text columns, by column name (see the module docstring)."""
    out: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if name in _LIST_TYPES:
            out[name] = _decode_json_list(column, _LIST_TYPES[name], name)
        elif name in INTEGER_COLUMNS:
            out[name] = _decode_integers(column, name)
        elif name == "fetchedAt":
            out[name] = _decode_timestamps(column, name)
        else:
            if neutralized:
                column = restore_formula(column)
            if name in CATEGORICAL_COLUMNS:
                values = pd.Series(pd.array(column, dtype="string[pyarrow]"))
                out[name] = _as_categorical(values, []).array
            else:
                out[name] = pd.array(column, dtype="string[pyarrow]")
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows))


def _decode_json_list(
    column: pa.Array, arrow_type: pa.DataType, name: str
) -> pd.api.extensions.ExtensionArray:
    try:
        values = [None if v is None else json.loads(v) for v in column.to_pylist()]
        array = pa.array(values, type=arrow_type)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"column {name!r}: a cell is not a JSON array of the expected shape ({exc})"
        ) from None
    return pd.arrays.ArrowExtensionArray(array)


def _decode_integers(column: pa.Array, name: str) -> pd.api.extensions.ExtensionArray:
    try:
        integers = pc.cast(column, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"column {name!r}: a cell is not an integer ({exc})") from None
    return pd.Series(integers, dtype="Int64").array


def _decode_timestamps(column: pa.Array, name: str) -> pd.api.extensions.ExtensionArray:
    try:
        stamps = pc.cast(column, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"column {name!r}: a cell is not an ISO-8601 timestamp ({exc})") from None
    return pd.Series(stamps.to_pandas()).astype("datetime64[us, UTC]").array


# --------------------------------------------------------------------------------------------
# JSONL


def write_jsonl(
    df: pd.DataFrame, path: str | os.PathLike[str], *, mode: str = "error"
) -> WrittenFile:
    """Write one JSON object per image and line.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "nicNetworkType": ["VirtioOnly"]}],
    ...                         zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_jsonl(df, Path(tmp) / "images.jsonl")
    ...     read_export(written.path).equals(df)
    True
    """
    target = Path(path)
    _check_mode(target, mode)
    _check_columns(df)
    appending = mode == "append" and target.exists()
    rows = len(df)
    if appending:
        keys, existing_rows = _jsonl_shape(target)
        if keys is not None:
            _check_same_columns(keys, [str(c) for c in df.columns], target)
        rows += existing_rows
    with atomic_file(target, copy_existing=appending) as fh:
        _write_jsonl_rows(df, fh)
    return WrittenFile(target, rows, _size_on_disk(target), "jsonl")


def _write_jsonl_rows(df: pd.DataFrame, sink: IO[bytes]) -> None:
    """Encode each row of ``df`` as one line of JSON into ``sink``."""
    names = [str(n) for n in df.columns]
    columns = [_jsonl_values(df[name]) for name in df.columns]
    buffer: list[str] = []
    for row in zip(*columns, strict=True):
        buffer.append(
            json.dumps(
                dict(zip(names, row, strict=True)), ensure_ascii=False, default=_json_default
            )
        )
        if len(buffer) >= 2000:
            sink.write(("\n".join(buffer) + "\n").encode())
            buffer.clear()
    if buffer:
        sink.write(("\n".join(buffer) + "\n").encode())


def _jsonl_values(series: pd.Series) -> list[Any]:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype | pd.CategoricalDtype | pd.StringDtype) or (
        pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ):
        return list(_csv_column(series).to_pylist())
    if pd.api.types.is_float_dtype(dtype):
        return [None if _is_missing(v) else float(v) for v in series.tolist()]
    return _python_values(series)


def _jsonl_shape(path: Path) -> tuple[list[str] | None, int]:
    """The first object's keys (``None`` for an empty file) and the number of lines."""
    keys: list[str] | None = None
    count = 0
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            if keys is None:
                try:
                    keys = list(json.loads(line))
                except ValueError as exc:
                    raise DataError(f"{path} line 1 is not JSON: {exc}") from None
            count += 1
    return keys, count


def _read_jsonl(path: Path) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path} line {number} is not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise DataError(f"{path} line {number} is not a JSON object")
            records.append(record)
    if not records:
        return empty_frame()
    names = list(dict.fromkeys(k for r in records for k in r))
    out: dict[str, Any] = {}
    for name in names:
        values = [r.get(name) for r in records]
        if name in _LIST_TYPES:
            out[name] = pd.array(
                _arrow(values, _LIST_TYPES[name], name, path),
                dtype=pd.ArrowDtype(_LIST_TYPES[name]),
            )
        elif name in INTEGER_COLUMNS:
            out[name] = pd.array(_arrow(values, pa.int64(), name, path), dtype="Int64")
        elif name == "fetchedAt":
            out[name] = _decode_timestamps(_arrow(values, pa.string(), name, path), name)
        elif name in CATEGORICAL_COLUMNS:
            text = pd.Series(
                pd.array(_arrow(values, pa.string(), name, path), dtype="string[pyarrow]")
            )
            out[name] = _as_categorical(text, []).array
        elif name in _TEXT_COLUMNS or name.startswith("tag:"):
            out[name] = pd.array(_arrow(values, pa.string(), name, path), dtype="string[pyarrow]")
        else:
            out[name] = _inferred(values)
    return pd.DataFrame(out, index=pd.RangeIndex(len(records)))


def _arrow(values: list[Any], arrow_type: pa.DataType, name: str, path: Path) -> pa.Array:
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"{path}: column {name!r} does not hold {arrow_type} values ({exc})"
        ) from None


def _inferred(values: list[Any]) -> Any:
    """An extra column's values in the dtype the frame gives such a column."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array(
            [None if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string()
        )
    arrow_type = array.type
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_null(arrow_type)
    ):
        return pd.array(array.cast(pa.string()), dtype="string[pyarrow]")
    if pa.types.is_integer(arrow_type):
        return pd.array(array, dtype="Int64")
    if pa.types.is_boolean(arrow_type):
        return pd.array(array, dtype="boolean")
    if pa.types.is_floating(arrow_type):
        return pd.array(array, dtype="Float64")
    return pd.array(array, dtype=pd.ArrowDtype(arrow_type))


# --------------------------------------------------------------------------------------------
# Dispatch and reading


def write_export(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    tags: str = "list",
    partition_by: Sequence[str] | None = None,
    mode: str = "error",
    metadata: Mapping[str, Any] | None = None,
    neutralize_formulas: bool = True,
) -> WrittenFile:
    """Write the frame in the format its suffix names (``.parquet``, ``.csv``, ``.csv.gz``,
    ``.jsonl``), or ``format`` (one of :data:`FORMATS`) when given.

    ``partition_by`` implies Parquet and writes a dataset directory. ``tags`` applies to CSV
    only; ``metadata`` is stored in Parquet only (use :func:`write_manifest` beside CSV or
    JSONL files).

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_export(df, Path(tmp) / "images.csv.gz").format
    'csv.gz'
    """
    target = Path(path)
    chosen = _format_for(target, format, partition_by)
    if tags != "list" and not chosen.startswith("csv"):
        raise InvalidArgument(f"tags={tags!r} applies to CSV only, not {chosen}")
    if partition_by and chosen != "parquet":
        raise InvalidArgument(f"partition_by needs Parquet, not {chosen}")
    if chosen == "parquet":
        return write_parquet(df, target, metadata=metadata, partition_by=partition_by, mode=mode)
    if chosen == "jsonl":
        return write_jsonl(df, target, mode=mode)
    return write_csv(
        df,
        target,
        tags=tags,
        neutralize_formulas=neutralize_formulas,
        mode=mode,
        compress=chosen == "csv.gz" or target.name.lower().endswith(".gz"),
    )


def _format_for(path: Path, format: str | None, partition_by: Sequence[str] | None) -> str:
    if format is not None:
        if format not in FORMATS:
            raise InvalidArgument(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        return format
    name = path.name.lower()
    for suffix, found in (
        (".csv.gz", "csv.gz"),
        (".csv", "csv"),
        (".parquet", "parquet"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
    ):
        if name.endswith(suffix):
            return found
    if partition_by:
        return "parquet"
    raise InvalidArgument(
        f"cannot tell the export format of {path.name!r} from its suffix; "
        "use .parquet, .csv, .csv.gz or .jsonl, or pass format="
    )


def read_export(path: str | os.PathLike[str], *, neutralized_formulas: bool = True) -> pd.DataFrame:
    """Read a file (or dataset directory) written by this module back into the frame.

    The format comes from the suffix, else from the first bytes. ``neutralized_formulas``
    (CSV only) undoes formula neutralisation; pass ``False`` for a CSV written with
    ``neutralize_formulas=False`` (see the module docstring).

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageName": "+1"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_export(df, Path(tmp) / "x.csv")
    ...     pd.testing.assert_frame_equal(read_export(written.path), df)
    """
    source = Path(path)
    if source.is_dir():
        return _read_dataset(source)
    if not source.is_file():
        raise DataError(f"no export at {source}")
    kind = _sniff(source)
    if kind == "parquet":
        return _read_parquet_file(source)
    if kind == "jsonl":
        return _read_jsonl(source)
    table = _read_csv_strings(source, neutralized=neutralized_formulas)
    return _frame_from_text(table, neutralized=neutralized_formulas)


def _sniff(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    with path.open("rb") as fh:
        start = fh.read(4)
    if start == b"PAR1":
        return "parquet"
    if start[:1] == b"{":
        return "jsonl"
    return "csv"


def read_export_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """imgframe's metadata document of an export.

    Parquet files and datasets return what was stored (see the module docstring). CSV and
    JSONL store none, so their document is derived from the rows: ``rows``, ``zones``,
    ``fetchedAt`` and ``format``.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_parquet(df, Path(tmp) / "x.parquet",
    ...                             metadata={"filters": {"osType": "linux"}})
    ...     meta = read_export_metadata(written.path)
    >>> meta["rows"], meta["zones"], meta["filters"]
    (1, ['z1'], {'osType': 'linux'})
    """
    source = Path(path)
    if source.is_dir():
        return _metadata_of_schema(pq.read_schema(source / _COMMON_METADATA), source)
    if not source.is_file():
        raise DataError(f"no export at {source}")
    kind = _sniff(source)
    if kind == "parquet":
        try:
            schema = pq.read_schema(source)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"cannot read {source} as Parquet: {exc}") from None
        return _metadata_of_schema(schema, source)
    frame = read_export(source)
    return {
        "format": kind,
        "rows": len(frame),
        "zones": _zones_of(frame),
        "fetchedAt": _latest_fetch(frame),
    }


# --------------------------------------------------------------------------------------------
# Manifest


def write_manifest(
    path: str | os.PathLike[str],
    files: Sequence[WrittenFile],
    *,
    schema: pd.DataFrame | pa.Schema | Mapping[str, str] | None = None,
    request_ids: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a JSON manifest describing the files of one export run (atomically; an existing
    manifest is replaced).

    Each file is listed with its path (relative to the manifest when it is beside or under
    it), format, rows, bytes and, for single files, its SHA-256. ``schema`` (a frame, an Arrow
    schema or a name-to-dtype mapping) is stored as ``{"column": "dtype"}``; ``extra`` keys
    are added at the top level.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_export(df, Path(tmp) / "x.jsonl")
    ...     manifest = write_manifest(Path(tmp) / "manifest.json", [written], schema=df,
    ...                               request_ids=["req-1"])
    ...     json.loads(manifest.read_text())["files"][0]["path"]
    'x.jsonl'
    """
    target = Path(path)
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
        text = json.dumps(document, ensure_ascii=False, indent=2, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"write_manifest: extra is not JSON-serialisable: {exc}") from None
    with atomic_file(target) as fh:
        fh.write(text.encode() + b"\n")
    return target


def _manifest_entry(written: WrittenFile, base: Path) -> dict[str, Any]:
    path = Path(written.path)
    try:
        shown = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        shown = str(path.resolve())
    entry: dict[str, Any] = {
        "path": shown,
        "format": written.format,
        "rows": written.rows,
        "bytes": written.bytes,
    }
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        entry["sha256"] = digest.hexdigest()
    return entry


def _schema_mapping(schema: pd.DataFrame | pa.Schema | Mapping[str, str] | None) -> dict[str, str]:
    if schema is None:
        return {}
    if isinstance(schema, pd.DataFrame):
        return {str(name): str(dtype) for name, dtype in schema.dtypes.items()}
    if isinstance(schema, pa.Schema):
        return {field.name: str(field.type) for field in schema}
    return {str(k): str(v) for k, v in schema.items()}
