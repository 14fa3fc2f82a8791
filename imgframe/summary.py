"""Counts per group, headline figures, and tables that are safe to print.

:func:`summarize` turns the frame into a small count table; :func:`format_table` renders any
small frame as an aligned terminal table, CSV, JSON or Markdown. Values come from the API,
so every text cell is made safe for where it goes with :mod:`imgframe.text`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .defaults import TABLE_FORMATS
from .errors import InvalidArgument
from .frame import tag_values
from .schema import LIST_COLUMNS
from .text import cell_text, display_text, display_width, is_missing, markdown_cell, neutralize_text

__all__ = [
    "NONE_LABEL",
    "TAG_PREFIX",
    "UNTAGGED_LABEL",
    "check_groups",
    "format_table",
    "headline",
    "summarize",
]

#: The group label of rows whose key is missing.
NONE_LABEL = "(none)"
#: ``by`` entries that group by a tag's value: ``tag:KEY``.
TAG_PREFIX = "tag:"
#: The group label of images without the tag grouped by.
UNTAGGED_LABEL = "(untagged)"


# --------------------------------------------------------------------------------------------
# Summaries


def summarize(
    df: pd.DataFrame, by: str | Sequence[str] = ("category",), *, sizes: bool = True
) -> pd.DataFrame:
    """Image counts per group: the ``by`` columns (as text, a missing key as ``(none)``),
    ``images``, and with ``sizes`` the total ``sizeGiB`` (missing sizes count as 0; left out
    when the frame has no ``imageSize``). Sorted by ``images`` descending, then by the keys;
    only groups that have rows are shown.

    ``tag:KEY`` groups by the value of tag ``KEY``, images without that tag as their own
    ``(untagged)`` group.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "category": "Ubuntu", "imageSize": "20"},
    ...     {"imageId": "b", "category": "Ubuntu", "imageSize": "30"},
    ...     {"imageId": "c", "category": None, "imageSize": "5"}], zone_id="z")
    >>> summarize(df).to_dict("records")
    [{'category': 'Ubuntu', 'images': 2, 'sizeGiB': 50}, {'category': '(none)', 'images': 1, \
'sizeGiB': 5}]
    """
    lists = [
        str(name)
        for name, dtype in df.dtypes.items()
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype)
    ]
    columns = check_groups(by, [str(c) for c in df.columns], lists)
    keys = pd.DataFrame(
        {
            c: tag_values(df, c.removeprefix(TAG_PREFIX)).fillna(UNTAGGED_LABEL)
            if c.startswith(TAG_PREFIX)
            else df[c].astype("string").fillna(NONE_LABEL)
            for c in columns
        },
        index=df.index,
    )
    keys["images"] = 1
    with_sizes = sizes and "imageSize" in df.columns
    if with_sizes:
        keys["sizeGiB"] = df["imageSize"].astype("Int64").fillna(0).astype("int64")
    aggregations: dict[str, tuple[str, str]] = {"images": ("images", "sum")}
    if with_sizes:
        aggregations["sizeGiB"] = ("sizeGiB", "sum")
    table = keys.groupby(columns, sort=False, dropna=False).agg(**aggregations).reset_index()
    table = table.sort_values(
        ["images", *columns], ascending=[False] + [True] * len(columns), kind="stable"
    ).reset_index(drop=True)
    for name in columns:
        table[name] = table[name].astype("string")
    for name in ("images", "sizeGiB"):
        if name in table.columns:
            table[name] = table[name].astype("int64")
    return table


def check_groups(
    by: str | Sequence[str], columns: Sequence[str], lists: Sequence[str] = LIST_COLUMNS
) -> list[str]:
    """``by`` as a list of columns to group by, checked against the ``columns`` there are
    (``lists`` cannot be grouped by; ``tag:KEY`` needs ``tags``); the command line checks a
    fetch's before fetching.

    >>> check_groups("category,tag:env".split(","), ["category", "osType", "tags"])
    ['category', 'tag:env']
    >>> check_groups(["tags"], ["category", "tags"])
    Traceback (most recent call last):
    imgframe.errors.InvalidArgument: summarize: cannot group by list column 'tags'
    """
    wanted = [by] if isinstance(by, str) else list(by)
    if not wanted:
        raise InvalidArgument("summarize: `by` needs at least one column")
    for name in wanted:
        if not name.startswith(TAG_PREFIX):
            continue
        if not name.removeprefix(TAG_PREFIX).strip():
            raise InvalidArgument(f"summarize: {name!r} names no tag key; use tag:KEY")
        if "tags" not in columns:
            raise InvalidArgument(f"summarize: cannot group by {name!r}: the frame has no tags")
    if len(set(wanted)) != len(wanted):
        raise InvalidArgument(f"summarize: `by` names a column twice: {', '.join(wanted)}")
    missing = [c for c in wanted if c not in columns and not c.startswith(TAG_PREFIX)]
    if missing:
        raise InvalidArgument(
            f"summarize: no column(s) {', '.join(missing)}; the frame has {', '.join(columns)}"
        )
    for name in wanted:
        if name in lists:
            raise InvalidArgument(f"summarize: cannot group by list column {name!r}")
    return wanted


def headline(df: pd.DataFrame) -> dict[str, int]:
    """The figures a report leads with.

    ``images``, ``zones`` (distinct zone ids), ``public`` and ``custom`` (by ``imageType``),
    ``available`` and ``not_available`` (``imageStatus`` other than AVAILABLE, missing
    included), and ``size_gib`` (total ``imageSize``).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "imageType": "PUBLIC_IMAGE", "imageStatus": "AVAILABLE",
    ...      "imageSize": "20"},
    ...     {"imageId": "b", "imageType": "CUSTOM_IMAGE", "imageStatus": "FAILED"}], zone_id="z")
    >>> headline(df)
    {'images': 2, 'zones': 1, 'public': 1, 'custom': 1, 'available': 1, 'not_available': 1, \
'size_gib': 20}
    """

    def count(column: str, value: str) -> int:
        if column not in df.columns:
            return 0
        return int((df[column].astype("string") == value).fillna(False).sum())

    images = len(df)
    available = count("imageStatus", "AVAILABLE")
    size = df["imageSize"].astype("Int64").sum() if "imageSize" in df.columns else 0
    return {
        "images": images,
        "zones": int(df["zoneId"].nunique(dropna=True)) if "zoneId" in df.columns else 0,
        "public": count("imageType", "PUBLIC_IMAGE"),
        "custom": count("imageType", "CUSTOM_IMAGE"),
        "available": available,
        "not_available": images - available,
        "size_gib": int(size) if not is_missing(size) else 0,
    }


# --------------------------------------------------------------------------------------------
# Rendering


def format_table(summary_df: pd.DataFrame, fmt: str = "table", *, max_width: int = 60) -> str:
    """Render a small frame (a :func:`summarize` result, a zone list...) as text.

    ``table``: aligned columns for a terminal, numbers right-aligned, cells cut to
    ``max_width`` columns with ``…``; ``csv``: a header row then rows, formula-neutralised;
    ``json``: a list of objects (ASCII-only, so nothing in it can drive a terminal);
    ``markdown``: a pipe table with escaped cells. Text is made safe with
    :func:`display_text` in ``table`` and ``markdown``. The result has no trailing newline.

    >>> table = pd.DataFrame({"category": ["Ubuntu", "Windows"], "images": [12, 3]})
    >>> print(format_table(table))
    category  images
    --------  ------
    Ubuntu        12
    Windows        3
    >>> print(format_table(table, "markdown"))
    | category | images |
    | --- | ---: |
    | Ubuntu | 12 |
    | Windows | 3 |
    """
    if fmt not in TABLE_FORMATS:
        raise InvalidArgument(f"format must be one of {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    names = [str(c) for c in summary_df.columns]
    numeric = [_is_numeric(summary_df[c].dtype) for c in summary_df.columns]
    rows = [list(row) for row in summary_df.itertuples(index=False, name=None)]
    if fmt == "json":
        records = [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in rows]
        return json.dumps(records, ensure_ascii=True, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([neutralize_text(n) for n in names])
        for row in rows:
            writer.writerow([neutralize_text(cell_text(v)) for v in row])
        return buffer.getvalue().rstrip("\n")
    if fmt == "markdown":
        lines = [
            "| " + " | ".join(markdown_cell(n) for n in names) + " |",
            "| " + " | ".join("---:" if num else "---" for num in numeric) + " |",
        ]
        lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in rows]
        return "\n".join(lines)
    return _plain_table(names, rows, numeric, max_width)


def _plain_table(
    names: list[str], rows: list[list[Any]], numeric: list[bool], max_width: int
) -> str:
    header = [_clip(display_text(n), max_width) for n in names]
    body = [[_clip(display_text(v), max_width) for v in row] for row in rows]
    widths = [
        max([display_width(header[i]), *(display_width(row[i]) for row in body)])
        for i in range(len(names))
    ]

    def line(cells: list[str], *, is_header: bool = False) -> str:
        parts = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - display_width(cell))
            parts.append(pad + cell if numeric[i] and not is_header else cell + pad)
        return "  ".join(parts).rstrip()

    lines = [line(header, is_header=True), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in body]
    return "\n".join(lines)


def _clip(text: str, max_width: int) -> str:
    if display_width(text) <= max_width:
        return text
    out = ""
    for ch in text:
        if display_width(out + ch) > max_width - 1:
            break
        out += ch
    return out + "…"


def _is_numeric(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)


def _json_value(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if value is None or is_missing(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)
