"""The statements that register a snapshot store as an external table in a warehouse.

:func:`store_ddl` reads the store's schema (the files of its latest day) and prints, for the
dialect asked for, the statement that makes the store a table: its columns in the engine's
types, ``snapshot_date`` (DATE) and ``zoneId`` as the partition columns taken from the
paths.

How each engine sees days being written (see :mod:`imgframe.history.objects`):

- **duckdb** and **spark** read a store in an object store through its days' commits (the
  view keeps only the files ``_imgframe/days/snapshot_date=D/manifest.json`` lists), so,
  like imgframe's own readers, they never see a day half-written or two writes of one day.
- **athena**, **trino** and **bigquery** list the partition directories and read every
  Parquet file there: a day being written shows up file by file, and a day written again
  shows both writes for the moment between its commit and the removal of the old files.
  Query days before today, or schedule queries away from the snapshot job.

A local store needs no manifests (a day appears whole, by one rename), so its statements
read the directories directly.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError, InvalidArgument
from ..schema.arrow import ARROW_ERRORS
from ..storage import Location, location
from .layout import COMMITS_DIR, DAY_MANIFEST, DAY_PREFIX, ZONE_PREFIX, StorePath, existing_store
from .read import File, consistently, each, list_snapshots

__all__ = ["DIALECTS", "store_ddl", "store_schema"]

DIALECTS = ("duckdb", "athena", "trino", "spark", "bigquery")
_PARTITIONS = (("snapshot_date", pa.date32()), ("zoneId", pa.string()))


def store_schema(store: StorePath) -> pa.Schema:
    """The columns of the store: the partition columns, then the stored columns of every
    day (unified, oldest day first: a column added or dropped on some day is there). One
    Parquet footer is read per day (the files of a day share one schema), by a ranged read
    in an object store."""
    root = existing_store(store)
    days = list_snapshots(root)
    if not days:
        raise DataError(f"the snapshot store {root} holds no snapshot yet: nothing to describe")

    def schemas(files: list[File]) -> list[pa.Schema]:
        first = {f.day: f for f in reversed(files)}  # a file of each day
        return each(sorted(first.values(), key=lambda f: f.day), _file_schema)

    found = consistently(root, None, None, None, schemas, required=days[-1])
    try:
        stored = pa.unify_schemas(found, promote_options="permissive") if found else pa.schema([])
    except ARROW_ERRORS as exc:
        raise DataError(f"the days of {root} disagree on column types: {exc}") from exc
    fields = [pa.field(n, t) for n, t in _PARTITIONS]
    names = {n for n, _ in _PARTITIONS}
    return pa.schema(fields + [f for f in stored if f.name not in names])


def _file_schema(file: File) -> pa.Schema:
    """The schema in a Parquet file's footer, read without its data."""
    where = file.path if isinstance(file.path, Location) else location(file.path)
    try:
        tail = where.read_suffix(1 << 16)
        size = int.from_bytes(tail[-8:-4], "little") + 8
        if tail[-4:] != b"PAR1" or len(tail) < 8:
            raise DataError(f"cannot read snapshot file {file.path}: not a Parquet file")
        if size > len(tail):
            tail = where.read_suffix(size)
        return pq.read_schema(pa.BufferReader(b"PAR1" + tail[-size:]))
    except ARROW_ERRORS as exc:
        raise DataError(f"cannot read snapshot file {file.path}: {exc}") from exc


def store_ddl(store: StorePath, dialect: str, *, table: str = "snapshots") -> str:
    """The statement(s) registering ``store`` as the table (view) ``table`` in ``dialect``
    (one of :data:`DIALECTS`), ending with a newline."""
    if dialect not in DIALECTS:
        raise InvalidArgument(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
    if not table.replace("_", "").replace(".", "").isalnum():
        raise InvalidArgument(f"table name {table!r}: use letters, digits, '_' and '.'")
    root = existing_store(store)
    schema = store_schema(root)
    # A warehouse resolves no relative path: a local store is named by its absolute path.
    base = str(root.path.resolve()) if root.is_local else str(root).rstrip("/")
    if dialect == "spark" and base.startswith("s3://"):
        base = "s3a://" + base[len("s3://") :]  # Hadoop's S3 connector
    writers: dict[str, Callable[[], str]] = {
        "duckdb": lambda: _duckdb(schema, base, table, manifests=not root.is_local),
        "spark": lambda: _spark(schema, base, table, manifests=not root.is_local),
        "athena": lambda: _athena(
            schema, base, table, sorted(_zones(root)), list_snapshots(root)[0].isoformat()
        ),
        "trino": lambda: _trino(schema, base, table),
        "bigquery": lambda: _bigquery(schema, base, table),
    }
    return writers[dialect]()


def _zones(root: Location) -> set[str]:
    """The zones of every day (from the listing: no file is read)."""
    return set(consistently(root, None, None, None, lambda files: [f.zone for f in files]))


# -- types


def _type(t: pa.DataType, dialect: str) -> str:
    if pa.types.is_dictionary(t):
        return _type(t.value_type, dialect)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = _type(t.value_type, dialect)
        return {
            "duckdb": f"{item}[]",
            "spark": f"ARRAY<{item}>",
            "bigquery": f"ARRAY<{item}>",
            "athena": f"array<{item}>",
            "trino": f"array({item})",
        }[dialect]
    if pa.types.is_struct(t):
        fields = [(f.name, _type(f.type, dialect)) for f in t]
        if dialect == "duckdb":
            return "STRUCT(" + ", ".join(f'"{n}" {ft}' for n, ft in fields) + ")"
        if dialect == "spark":
            return "STRUCT<" + ", ".join(f"`{n}`: {ft}" for n, ft in fields) + ">"
        if dialect == "bigquery":
            return "STRUCT<" + ", ".join(f"`{n}` {ft}" for n, ft in fields) + ">"
        if dialect == "athena":
            return "struct<" + ",".join(f"{n}:{ft}" for n, ft in fields) + ">"
        return "row(" + ", ".join(f'"{n}" {ft}' for n, ft in fields) + ")"
    return _scalar(t, dialect)


_SCALARS = {
    #           duckdb        spark        bigquery    athena       trino
    "string": ("VARCHAR", "STRING", "STRING", "string", "varchar"),
    "int64": ("BIGINT", "BIGINT", "INT64", "bigint", "bigint"),
    "int32": ("INTEGER", "INT", "INT64", "int", "integer"),
    "bool": ("BOOLEAN", "BOOLEAN", "BOOL", "boolean", "boolean"),
    "double": ("DOUBLE", "DOUBLE", "FLOAT64", "double", "double"),
    "date": ("DATE", "DATE", "DATE", "date", "date"),
    "timestamp": ("TIMESTAMPTZ", "TIMESTAMP", "TIMESTAMP", "timestamp", "timestamp(6)"),
}
_ORDER = ("duckdb", "spark", "bigquery", "athena", "trino")


def _scalar(t: pa.DataType, dialect: str) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        kind = "string"
    elif pa.types.is_int64(t) or pa.types.is_uint32(t) or pa.types.is_uint64(t):
        kind = "int64"
    elif pa.types.is_integer(t):
        kind = "int32"
    elif pa.types.is_boolean(t):
        kind = "bool"
    elif pa.types.is_floating(t):
        kind = "double"
    elif pa.types.is_date(t):
        kind = "date"
    elif pa.types.is_timestamp(t):
        kind = "timestamp"
    else:
        raise DataError(f"the store has a column of type {t}, which imgframe cannot map")
    return _SCALARS[kind][_ORDER.index(dialect)]


def _stored(schema: pa.Schema) -> list[pa.Field]:
    return [f for f in schema if f.name not in ("snapshot_date", "zoneId")]


# -- dialects


def _duckdb(schema: pa.Schema, base: str, table: str, *, manifests: bool) -> str:
    columns = ",\n  ".join(
        f'CAST("{f.name}" AS {_type(f.type, "duckdb")}) AS "{f.name}"' for f in schema
    )
    files = f"'{base}/{DAY_PREFIX}*/{ZONE_PREFIX}*/*.parquet'"
    source = (
        f"read_parquet({files}, hive_partitioning = true, union_by_name = true, "
        "hive_types = {'snapshot_date': DATE, 'zoneId': VARCHAR}"
        + (", filename = true)" if manifests else ")")
    )
    lines = [
        f"-- imgframe snapshot store {base} as the DuckDB view {table}",
        "-- (s3:// needs: INSTALL httpfs; LOAD httpfs; "
        "CREATE SECRET (TYPE s3, PROVIDER credential_chain);)",
        f"CREATE OR REPLACE VIEW {table} AS",
        f"SELECT\n  {columns}\nFROM {source}",
    ]
    if manifests:
        lines.append(
            "WHERE filename IN (\n"
            f"  SELECT '{base}/{DAY_PREFIX}' || CAST(m.snapshot_date AS VARCHAR) || '/' || "
            "f.path\n"
            f"  FROM read_json('{base}/{COMMITS_DIR}/{DAY_PREFIX}*/{DAY_MANIFEST}', "
            "hive_partitioning = true,"
            " hive_types = {'snapshot_date': DATE},\n"
            "                 columns = {'files': 'STRUCT(path VARCHAR, zone VARCHAR, "
            "rows BIGINT)[]'}) AS m,\n"
            "       unnest(m.files) AS u(f)\n)"
        )
    return "\n".join(lines) + ";\n"


def _spark(schema: pa.Schema, base: str, table: str, *, manifests: bool) -> str:
    stored = ",\n  ".join(f"`{f.name}` {_type(f.type, 'spark')}" for f in _stored(schema))
    files_table = f"{table}_files" if manifests else table
    out = [
        f"-- imgframe snapshot store {base} as the Spark table {files_table}"
        + (f" and the view {table} (committed files only)" if manifests else ""),
        f"CREATE TABLE IF NOT EXISTS {files_table} (\n  {stored},\n"
        "  `snapshot_date` DATE,\n  `zoneId` STRING\n)\nUSING parquet\n"
        "PARTITIONED BY (`snapshot_date`, `zoneId`)\n"
        f"LOCATION '{base}'\nOPTIONS (mergeSchema 'true');",
        f"-- after each snapshot, so the new day's partition is known:\nMSCK REPAIR TABLE "
        f"{files_table};",
    ]
    if manifests:
        names = ", ".join(f"`{f.name}`" for f in schema)
        out.append(
            f"CREATE OR REPLACE VIEW {table} AS\n"
            f"SELECT {names}\nFROM {files_table}\n"
            # The last three parts of the path: file_path spells the scheme its own way.
            "WHERE regexp_extract(_metadata.file_path, '[^/]+/[^/]+/[^/]+$', 0) IN (\n"
            f"  SELECT concat('{DAY_PREFIX}', m.snapshot_date, '/', f.path)\n"
            f"  FROM json.`{base}/{COMMITS_DIR}` AS m\n"
            "  LATERAL VIEW explode(m.files) AS f\n);"
        )
    return "\n".join(out) + "\n"


def _athena(schema: pa.Schema, base: str, table: str, zones: list[str], first: str) -> str:
    stored = ",\n  ".join(f"`{f.name.lower()}` {_type(f.type, 'athena')}" for f in _stored(schema))
    listed = ",".join(zones)
    return (
        f"-- imgframe snapshot store {base} as the Athena table {table}, days and zones by\n"
        "-- partition projection (no MSCK REPAIR); a new zone needs this statement again.\n"
        "-- Athena reads every Parquet file of a day: see `imgframe ddl --help`.\n"
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {table} (\n  {stored}\n)\n"
        "PARTITIONED BY (`snapshot_date` date, `zoneid` string)\n"
        f"STORED AS PARQUET\nLOCATION '{base}/'\nTBLPROPERTIES (\n"
        "  'projection.enabled' = 'true',\n"
        "  'projection.snapshot_date.type' = 'date',\n"
        "  'projection.snapshot_date.format' = 'yyyy-MM-dd',\n"
        f"  'projection.snapshot_date.range' = '{first},NOW',\n"
        "  'projection.snapshot_date.interval' = '1',\n"
        "  'projection.snapshot_date.interval.unit' = 'DAYS',\n"
        "  'projection.zoneid.type' = 'enum',\n"
        f"  'projection.zoneid.values' = '{listed}',\n"
        f"  'storage.location.template' = '{base}/{DAY_PREFIX}${{snapshot_date}}/"
        f"{ZONE_PREFIX}${{zoneid}}/'\n);\n"
    )


def _trino(schema: pa.Schema, base: str, table: str) -> str:
    stored = ",\n  ".join(f'"{f.name.lower()}" {_type(f.type, "trino")}' for f in _stored(schema))
    return (
        f"-- imgframe snapshot store {base} as the Trino (Hive connector) table {table}\n"
        f"CREATE TABLE IF NOT EXISTS {table} (\n  {stored},\n"
        '  "snapshot_date" date,\n  "zoneid" varchar\n)\nWITH (\n'
        f"  external_location = '{base}/',\n  format = 'PARQUET',\n"
        "  partitioned_by = ARRAY['snapshot_date', 'zoneid']\n);\n"
        "-- after each snapshot, so the new day's partition is known:\n"
        f"CALL system.sync_partition_metadata('{_schema_name(table)}', "
        f"'{table.rpartition('.')[2]}', 'ADD');\n"
    )


def _schema_name(table: str) -> str:
    head, dot, _ = table.rpartition(".")
    return head.rpartition(".")[2] if dot else "default"


def _bigquery(schema: pa.Schema, base: str, table: str) -> str:
    stored = ",\n  ".join(f"`{f.name}` {_type(f.type, 'bigquery')}" for f in _stored(schema))
    return (
        f"-- imgframe snapshot store {base} as the BigQuery external table {table}\n"
        "-- (gs:// directly; s3:// through BigQuery Omni: add WITH CONNECTION)\n"
        f"CREATE OR REPLACE EXTERNAL TABLE {table} (\n  {stored}\n)\n"
        "WITH PARTITION COLUMNS (\n  `snapshot_date` DATE,\n  `zoneId` STRING\n)\n"
        f"OPTIONS (\n  format = 'PARQUET',\n  uris = ['{base}/{DAY_PREFIX}*.parquet'],\n"
        f"  hive_partition_uri_prefix = '{base}/',\n"
        "  require_hive_partition_filter = false\n);\n"
    )
