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

from ..defaults import EXPORT_FORMATS as FORMATS
from ..durable import atomic_file
from .base import METADATA_KEY, WrittenFile, zones_of
from .csv import neutralize_formula, restore_formula, write_csv
from .formats import detect_format, read_export, read_export_metadata, write_export
from .jsonl import write_jsonl
from .manifest import write_manifest
from .parquet import write_parquet
from .paths import expand_placeholders
from .run import ExportPlan, ExportResult, Output, plan_exports, write_exports

__all__ = [
    "FORMATS",
    "METADATA_KEY",
    "ExportPlan",
    "ExportResult",
    "Output",
    "WrittenFile",
    "atomic_file",
    "detect_format",
    "expand_placeholders",
    "neutralize_formula",
    "plan_exports",
    "read_export",
    "read_export_metadata",
    "restore_formula",
    "write_csv",
    "write_export",
    "write_exports",
    "write_jsonl",
    "write_manifest",
    "write_parquet",
    "zones_of",
]
