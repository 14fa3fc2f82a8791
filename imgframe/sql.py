"""SQL over the frame and the snapshot store, in DuckDB (the ``sql`` extra).

:func:`sql` runs one query in a fresh in-memory DuckDB with these views:

==============  ============================================================================
``images``      the frame (``frame=``), as :func:`~imgframe.to_arrow` gives it: no copy
``image_tags``  one row per (image, tag): the frame's columns without ``tags``, then
                ``tagKey`` and ``tagValue``; an untagged image keeps one row with NULLs
                (as :func:`~imgframe.explode_tags`)
``zones``       the distinct zone columns of the frame (``zoneId``, ``regionId``,
                ``zoneName``, ``cityName``, ``countryCode``), by ``zoneId``
``snapshots``   the store (``store=``): every snapshot, ``snapshot_date`` (DATE) and
                ``zoneId`` from the directory names first, then the columns of
                :data:`STORE_SCHEMA` (what :func:`~imgframe.write_snapshot` stores), a day
                without a column giving NULLs. A filter on ``snapshot_date`` or ``zoneId``
                with constant values opens only the files of the matching directories
==============  ============================================================================

Columns the API adds later (stored as extras) are not in ``snapshots``; a query can read
them with DuckDB's own ``read_parquet('<store>/snapshot_date=*/zoneId=*/*.parquet',
hive_partitioning = true, union_by_name = true)``, which reads every file's footer first.

The answer comes back in the frame's dtypes (:func:`~imgframe.from_arrow`): text
``string[pyarrow]``, integers ``Int64`` (``count(*)`` and ``sum`` too), lists and structs as
``pd.ArrowDtype``, UTC timestamps ``datetime64[us, UTC]``, dates ``date32[pyarrow]``; a column
named like one of the frame's categoricals (``zoneId``, ``imageStatus``, ...) is a
categorical again. Timestamps are computed in UTC (``SET TimeZone = 'UTC'``).

The row key of the inventory is (``zoneId``, ``imageId``): a public image has the same id in
every zone, so join and count distinct on both.

:func:`run_sql` is the command line's: the same query, printed by
:func:`~imgframe.summary.format_table`. :func:`connect` gives the connection with the views
for several queries.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import types
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from .errors import ConfigError, DataError, InvalidArgument
from .interop import from_arrow, to_arrow
from .schema import CATEGORICAL_COLUMNS, ZONE_JOIN_COLUMNS
from .schema.arrow import ARROW_ERRORS, CATEGORY_TYPE, IMAGE_SCHEMA
from .summary import format_table

__all__ = ["STORE_SCHEMA", "VIEWS", "connect", "run_sql", "sql"]

#: The views :func:`sql` defines, and what each needs.
VIEWS = {"images": "frame", "image_tags": "frame", "zones": "frame", "snapshots": "store"}

StorePath = str | os.PathLike[str]
_DAY_PREFIX = "snapshot_date="
_GLOB = f"{_DAY_PREFIX}*/zoneId=*/*.parquet"
_PARTITIONS = pa.schema([("snapshot_date", pa.date32()), ("zoneId", pa.string())])
_PARTITIONING = ds.partitioning(_PARTITIONS, flavor="hive")
#: The columns of the ``snapshots`` view: the partition fields, then every column
#: :func:`~imgframe.write_snapshot` stores, in :func:`~imgframe.read_snapshots`' order.
STORE_SCHEMA = pa.schema(
    [
        *_PARTITIONS,
        *[pa.field(name, pa.string()) for name in ZONE_JOIN_COLUMNS],
        *[field for field in IMAGE_SCHEMA if field.name != "zoneId"],
        pa.field("snapshotAt", pa.timestamp("us", tz="UTC")),
    ]
)
_MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist", re.IGNORECASE)


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise ConfigError("imgframe.sql needs DuckDB: pip install 'imgframe[sql]'") from None
    return duckdb


def connect(*, frame: pd.DataFrame | None = None, store: StorePath | None = None) -> Any:
    """An in-memory ``duckdb.DuckDBPyConnection`` with the views of :func:`sql` (``images``,
    ``image_tags`` and ``zones`` for ``frame``, ``snapshots`` for ``store``). Close it when
    done (it is a context manager).
    """
    duckdb = _duckdb()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        if frame is not None:
            _frame_views(con, frame)
        if store is not None:
            _store_view(con, store)
    except BaseException:
        con.close()
        raise
    return con


def sql(
    query: str, *, frame: pd.DataFrame | None = None, store: StorePath | None = None
) -> pd.DataFrame:
    """Run one SQL query (DuckDB's dialect) over the frame and/or the snapshot store.

    Raises :class:`~imgframe.errors.InvalidArgument` for a query DuckDB rejects (the message
    is DuckDB's, and names the argument a missing view needs),
    :class:`~imgframe.errors.DataError` when a snapshot file cannot be read, and
    :class:`~imgframe.errors.ConfigError` without DuckDB (``pip install 'imgframe[sql]'``).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "imageStatus": "AVAILABLE", "imageSize": "20"},
    ...     {"imageId": "b", "imageStatus": "AVAILABLE", "imageSize": "40"},
    ...     {"imageId": "c", "imageStatus": "FAILED"}], zone_id="asia-east-1a")
    >>> out = sql("SELECT imageStatus, count(*) AS images, sum(imageSize) AS gib "
    ...           "FROM images GROUP BY ALL ORDER BY imageStatus", frame=df)
    >>> out
      imageStatus  images   gib
    0   AVAILABLE       2    60
    1      FAILED       1  <NA>
    >>> out.dtypes.astype(str).tolist()
    ['category', 'Int64', 'Int64']
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgument("sql: the query is empty")
    duckdb = _duckdb()
    con = connect(frame=frame, store=store)
    try:
        try:
            result = con.sql(query)
            if result is None:
                raise InvalidArgument("sql: the statement returns no rows (give a SELECT)")
            table = result.arrow()
            if isinstance(table, pa.RecordBatchReader):
                table = table.read_all()
        except duckdb.IOException as exc:
            raise DataError(f"sql: cannot read the snapshots: {_first_line(exc)}") from exc
        except duckdb.InvalidInputException as exc:
            if store is not None and "parquet" in str(exc).lower():
                raise DataError(f"sql: cannot read the snapshots: {_first_line(exc)}") from exc
            raise InvalidArgument(f"sql: {_first_line(exc)}") from exc
        except duckdb.Error as exc:
            raise InvalidArgument(f"sql: {_first_line(exc)}{_hint(exc)}") from exc
    finally:
        con.close()
    return _result_frame(table)


def run_sql(
    query: str,
    *,
    frame: pd.DataFrame | None = None,
    store: StorePath | None = None,
    format: str = "table",
    max_width: int = 60,
) -> str:
    """:func:`sql`, printed by :func:`~imgframe.summary.format_table` (``table``, ``csv``,
    ``json`` or ``markdown``); list cells as text (``FailOver, VirtioOnly``).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a"}, {"imageId": "b"}], zone_id="asia-east-1a")
    >>> print(run_sql("SELECT zoneId, count(*) AS images FROM images GROUP BY ALL", frame=df))
    zoneId        images
    ------------  ------
    asia-east-1a       2
    """
    result = sql(query, frame=frame, store=store)
    for name in result.columns:
        column = result[name]
        if isinstance(column.dtype, pd.ArrowDtype) and (
            pa.types.is_list(column.dtype.pyarrow_dtype)
        ):
            result[name] = column.imgframe.join()
    return format_table(result, format, max_width=max_width)


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split("\n")[:1]).strip()
    return text[:500]


def _hint(exc: BaseException) -> str:
    match = _MISSING_TABLE.search(str(exc))
    if match is None or match.group(1) not in VIEWS:
        return ""
    view = match.group(1)
    needs = VIEWS[view]
    example = "frame=df" if needs == "frame" else "store='path/to/store'"
    return f" (the {view} view needs {needs}=: imgframe.sql(query, {example}))"


def _frame_views(con: Any, frame: pd.DataFrame) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidArgument(f"sql: frame must be a DataFrame, got {type(frame).__name__}")
    table = to_arrow(frame)
    con.register("images", table)
    names = table.column_names
    if "tags" in names:
        tag_type = "STRUCT(key VARCHAR, value VARCHAR)"
        con.execute(
            "CREATE VIEW image_tags AS "
            'SELECT * EXCLUDE ("tags", "__tag"), "__tag".key AS "tagKey", '
            '"__tag".value AS "tagValue" FROM ('
            f'SELECT *, unnest(CASE WHEN coalesce(len("tags"), 0) = 0 THEN [NULL::{tag_type}] '
            'ELSE "tags" END) AS "__tag" FROM images)'
        )
    zone_columns = [c for c in ("zoneId", *ZONE_JOIN_COLUMNS) if c in names]
    if "zoneId" in zone_columns:
        columns = ", ".join(f'"{c}"' for c in zone_columns)
        con.execute(f'CREATE VIEW zones AS SELECT DISTINCT {columns} FROM images ORDER BY "zoneId"')


def _store_view(con: Any, store: StorePath) -> None:
    root = Path(store)
    if not root.is_dir():
        raise DataError(f"no snapshot store at {root}: it is not a directory")
    for day in root.glob(f"{_DAY_PREFIX}*"):
        try:
            date.fromisoformat(day.name.removeprefix(_DAY_PREFIX))
        except ValueError:
            raise DataError(
                f"not a snapshot day directory (want {_DAY_PREFIX}YYYY-MM-DD): {day}"
            ) from None
    files = sorted(str(f) for f in root.glob(_GLOB))
    # The schema is declared, not read from the files, and the partition fields come from
    # the paths: DuckDB hands its filters to the dataset, which drops every file whose
    # directories do not match them before opening any (read_parquet's union_by_name would
    # read every file's footer first).
    dataset = ds.dataset(
        files,
        schema=STORE_SCHEMA,
        format="parquet",
        partitioning=_PARTITIONING,
        partition_base_dir=str(root),
    )
    con.register("snapshots", dataset)


def _result_frame(table: pa.Table) -> pd.DataFrame:
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        array = column.combine_chunks()
        if pa.types.is_decimal(array.type) and array.type.scale == 0:
            # sum() of integers is a HUGEINT: an Int64 when it fits, as pandas would sum.
            with contextlib.suppress(*ARROW_ERRORS):
                array = array.cast(pa.int64())
        elif name in CATEGORICAL_COLUMNS and (
            pa.types.is_string(array.type)
            or pa.types.is_large_string(array.type)
            or pa.types.is_string_view(array.type)
        ):
            array = pc.dictionary_encode(array.cast(pa.string())).cast(CATEGORY_TYPE)
        columns.append(array)
    return from_arrow(pa.Table.from_arrays(columns, names=table.column_names))


class _CallableModule(types.ModuleType):
    """Importing ``imgframe.sql`` makes the package's ``sql`` attribute this module (Python
    sets a package's attribute to a submodule once it is imported), so the module calls
    :func:`sql`: ``imgframe.sql(query, frame=df)`` works either way."""

    def __call__(
        self, query: str, *, frame: pd.DataFrame | None = None, store: StorePath | None = None
    ) -> pd.DataFrame:
        return sql(query, frame=frame, store=store)


sys.modules[__name__].__class__ = _CallableModule
