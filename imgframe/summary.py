"""Counts per group, headline figures, and tables that are safe to print.

:func:`summarize` turns the frame into a small count table; :func:`format_table` renders any
small frame as an aligned terminal table, CSV, JSON or Markdown. Values come from the API,
so every text cell is made safe for where it goes: terminal escape sequences, control
characters and bidirectional overrides are removed (:func:`display_text`), Markdown cells
are escaped (:func:`markdown_cell`), and CSV cells are formula-neutralised as in
:mod:`imgframe.export`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import InvalidArgument

__all__ = [
    "NONE_LABEL",
    "display_text",
    "display_width",
    "format_table",
    "headline",
    "markdown_cell",
    "summarize",
]

#: The group label of rows whose key is missing.
NONE_LABEL = "(none)"

_FORMATS = ("table", "csv", "json", "markdown")

# ESC-introduced sequences: CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by
# BEL or ESC \), and the two-character forms. Removed whole so no fragment reaches a terminal.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]+")
# The same rule as imgframe.export.neutralize_formula, for Python strings.
_FORMULA = re.compile(r"^('*[=+\-@\t\r])")


def display_text(value: Any) -> str:
    """``value`` as one line of text that is safe to show in a terminal, a chart or HTML.

    Escape sequences are removed whole; tabs, newlines and other line breaks become one
    space; other control characters and invisible format characters (bidirectional
    overrides such as U+202E, zero-width characters) are dropped. Missing values give ``""``.

    >>> display_text("\\x1b[31mred\\x1b[0m line\\nbreak \\u202eevil")
    'red line break evil'
    """
    text = _cell_text(value)
    text = _ESCAPES.sub("", text)
    text = _WHITESPACE_CONTROLS.sub(" ", text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide East Asian characters and most emoji take
    two, combining marks none.

    >>> display_width("abc"), display_width("日本"), display_width("é")
    (3, 4, 1)
    """
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def markdown_cell(value: Any) -> str:
    """``value`` as the text of a Markdown table cell: made safe with :func:`display_text`,
    then Markdown and inline-HTML punctuation backslash-escaped (so ``|`` cannot end the
    cell and ``<script>`` stays text).

    >>> markdown_cell("a|b <i>x</i> *y*")
    'a\\\\|b \\\\<i\\\\>x\\\\</i\\\\> \\\\*y\\\\*'
    """
    return re.sub(r"([\\`*_\[\]<>|&#!~])", r"\\\1", display_text(value))


def _cell_text(value: Any) -> str:
    """Any cell value as text, before sanitising."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"key", "value"}:
        return f"{_cell_text(value['key'])}={_cell_text(value['value'])}"
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(_cell_text(v) for v in value)
    if _is_na(value):
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# Summaries


def summarize(
    df: pd.DataFrame, by: str | Sequence[str] = ("category",), *, sizes: bool = True
) -> pd.DataFrame:
    """Image counts per group: the ``by`` columns (as text, a missing key as ``(none)``),
    ``images``, and with ``sizes`` the total ``sizeGiB`` (missing sizes count as 0; left out
    when the frame has no ``imageSize``). Sorted by ``images`` descending, then by the keys;
    only groups that have rows are shown.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "category": "Ubuntu", "imageSize": "20"},
    ...     {"imageId": "b", "category": "Ubuntu", "imageSize": "30"},
    ...     {"imageId": "c", "category": None, "imageSize": "5"}], zone_id="z")
    >>> summarize(df).to_dict("records")
    [{'category': 'Ubuntu', 'images': 2, 'sizeGiB': 50}, {'category': '(none)', 'images': 1, \
'sizeGiB': 5}]
    """
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise InvalidArgument("summarize: `by` needs at least one column")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidArgument(
            f"summarize: no column(s) {', '.join(missing)}; the frame has "
            f"{', '.join(map(str, df.columns))}"
        )
    for name in columns:
        dtype = df[name].dtype
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype):
            raise InvalidArgument(f"summarize: cannot group by list column {name!r}")
    keys = pd.DataFrame(
        {c: df[c].astype("string").fillna(NONE_LABEL) for c in columns}, index=df.index
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
        "size_gib": int(size) if not _is_na(size) else 0,
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
    if fmt not in _FORMATS:
        raise InvalidArgument(f"format must be one of {', '.join(_FORMATS)}, not {fmt!r}")
    names = [str(c) for c in summary_df.columns]
    numeric = [_is_numeric(summary_df[c].dtype) for c in summary_df.columns]
    rows = [list(row) for row in summary_df.itertuples(index=False, name=None)]
    if fmt == "json":
        records = [{n: _json_value(v) for n, v in zip(names, row, strict=True)} for row in rows]
        return json.dumps(records, ensure_ascii=True, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([_FORMULA.sub(r"'\1", n) for n in names])
        for row in rows:
            writer.writerow([_FORMULA.sub(r"'\1", _cell_text(v)) for v in row])
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
    if value is None or _is_na(value):
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
