"""Choosing the format: by suffix or content on reading, by suffix or name on writing."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..defaults import EXPORT_FORMATS as FORMATS
from ..errors import DataError, InvalidArgument
from ..storage import Location, location
from .arrow import metadata_of_schema
from .base import WrittenFile, latest_fetch, zones_of
from .csv import frame_from_text, read_csv_strings, write_csv
from .dataset import COMMON_METADATA, read_dataset
from .jsonl import read_jsonl, write_jsonl
from .parquet import read_parquet_file, write_parquet
from .xlsx import write_xlsx


def write_export(
    df: pd.DataFrame,
    path: str | os.PathLike[str] | Location,
    *,
    format: str | None = None,
    tags: str = "list",
    partition_by: Sequence[str] | None = None,
    mode: str = "error",
    metadata: Mapping[str, Any] | None = None,
    neutralize_formulas: bool = True,
    bom: bool = False,
    changes: Any = None,
) -> WrittenFile:
    """Write the frame in the format its suffix names (``.parquet``, ``.csv``, ``.csv.gz``,
    ``.jsonl``, ``.xlsx``), or ``format`` (one of :data:`FORMATS`) when given.

    ``partition_by`` implies Parquet and writes a dataset directory. ``tags`` and ``bom``
    (a UTF-8 byte order mark, for Excel) apply to CSV only; ``metadata`` is stored in
    Parquet only (use :func:`write_manifest` beside CSV or JSONL files); ``changes`` (a
    :class:`~imgframe.diff.SnapshotDiff`) adds a Changes sheet to a workbook and is
    ignored by the other formats.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_export(df, Path(tmp) / "images.csv.gz").format
    'csv.gz'
    """
    target = location(path)
    chosen = detect_format(target, format, partition_by)
    if tags != "list" and not chosen.startswith("csv"):
        raise InvalidArgument(f"tags={tags!r} applies to CSV only, not {chosen}")
    if partition_by and chosen != "parquet":
        raise InvalidArgument(f"partition_by needs Parquet, not {chosen}")
    if chosen == "parquet":
        return write_parquet(df, target, metadata=metadata, partition_by=partition_by, mode=mode)
    if chosen == "jsonl":
        return write_jsonl(df, target, mode=mode)
    if chosen == "xlsx":
        return write_xlsx(df, target, mode=mode, changes=changes)
    return write_csv(
        df,
        target,
        tags=tags,
        neutralize_formulas=neutralize_formulas,
        mode=mode,
        compress=chosen == "csv.gz" or target.name.lower().endswith(".gz"),
        bom=bom,
    )


def detect_format(
    path: Path | Location, format: str | None, partition_by: Sequence[str] | None
) -> str:
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
        (".xlsx", "xlsx"),
    ):
        if name.endswith(suffix):
            return found
    if partition_by:
        return "parquet"
    raise InvalidArgument(
        f"cannot tell the export format of {path.name!r} from its suffix; "
        "use .parquet, .csv, .csv.gz, .jsonl or .xlsx, or pass format="
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
    where = location(path)
    if not where.is_local:
        return _read_object(where, neutralized_formulas)
    source = where.path
    if source.is_dir():
        return read_dataset(where)
    if not source.is_file():
        raise DataError(f"no export at {source}")
    kind = sniff(source)
    if kind == "parquet":
        return read_parquet_file(source)
    if kind == "jsonl":
        return read_jsonl(source)
    if kind == "xlsx":
        raise DataError(f"{source} is a workbook for spreadsheets; read a Parquet export instead")
    table = read_csv_strings(source, neutralized=neutralized_formulas)
    try:
        return frame_from_text(table, neutralized=neutralized_formulas)
    except DataError as exc:  # a cell of the wrong type: say which file
        raise DataError(f"cannot read {source}: {exc}") from None


def _read_object(where: Location, neutralized_formulas: bool) -> pd.DataFrame:
    """An export in an object store: a dataset (its manifest), else the object, read from
    a local copy (messages name the object, not the copy)."""
    if not where.is_file():
        if where.is_dir():
            return read_dataset(where)
        raise DataError(f"no export at {where}")
    with where.local_copy() as copy:
        try:
            return read_export(copy, neutralized_formulas=neutralized_formulas)
        except DataError as exc:
            raise DataError(str(exc).replace(str(copy), str(where))) from None


def sniff(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".xlsx"):
        return "xlsx"
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
    where = location(path)
    if not where.is_local:
        if where.is_file():
            with where.local_copy() as copy:
                return read_export_metadata(copy)
        common = where.child(COMMON_METADATA)
        if not common.is_file():
            raise DataError(f"no export at {where}")
        return metadata_of_schema(pq.read_schema(pa.BufferReader(common.read_bytes())), where)
    source = where.path
    if source.is_dir():
        return metadata_of_schema(pq.read_schema(source / COMMON_METADATA), source)
    if not source.is_file():
        raise DataError(f"no export at {source}")
    kind = sniff(source)
    if kind == "parquet":
        try:
            schema = pq.read_schema(source)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"cannot read {source} as Parquet: {exc}") from None
        return metadata_of_schema(schema, source)
    frame = read_export(source)
    return {
        "format": kind,
        "rows": len(frame),
        "zones": zones_of(frame),
        "fetchedAt": latest_fetch(frame),
    }
