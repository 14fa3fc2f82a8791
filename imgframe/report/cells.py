"""How a table cell reads, in HTML and Markdown alike: column headers, numbers, clipped text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..text import display_text
from .columns import clean_text_array

#: Longest cell text shown in a table (names, descriptions), in characters.
CELL_CHARS = 120
HEADERS = {
    "zoneId": "Zone", "imageId": "Image ID", "imageName": "Name", "imageType": "Type",
    "imageSource": "Source", "category": "Category", "osType": "OS type",
    "imageStatus": "Status", "imageSize": "Size (GiB)", "sizeGiB": "Size (GiB)",
    "images": "Images", "tags": "Tags", "missing": "Missing tag keys", "field": "Field",
    "old": "Before", "new": "After", "snapshot_date": "Date", "owner": "Owner",
    "instanceCount": "Instances", "instances": "Instances", "problems": "Problems",
    "failed": "Failed", "unavailable": "Unavailable", "in_progress": "In progress",
    "unused": "Unused", "resourceGroupName": "Resource group", "zones": "Zones listed",
    "nameDate": "Date in name", "what": "What changed", "change": "Change",
    "missing_tags": "Missing required tags",
}  # fmt: skip


def header(column: Any) -> str:
    """The heading of a column: its name in words, or the name itself."""
    return HEADERS.get(str(column), str(column))


def is_number(dtype: Any) -> bool:
    """True for columns shown right-aligned as numbers (not booleans)."""
    return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)


def number(value: Any) -> str:
    """``1,234`` for whole numbers, ``1,234.50`` otherwise, "" when missing.

    >>> number(1234), number(2.5), number(None)
    ('1,234', '2.50', '')
    """
    if value is None or pd.isna(value):
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def number_cells(series: pd.Series) -> list[str]:
    """A numeric column's cells as :func:`number` writes them, integers without a call per
    cell.

    >>> number_cells(pd.Series([1234, None, 5], dtype="Int64"))
    ['1,234', '', '5']
    """
    dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype):
        values = series.to_numpy(dtype=np.int64, na_value=0)
        missing = series.isna().to_numpy(dtype=bool)
        cells = [f"{v:,}" for v in values.tolist()]
        if missing.any():
            for i in np.flatnonzero(missing).tolist():
                cells[i] = ""
        return cells
    return [number(v) for v in series.tolist()]


def text_cells(series: pd.Series, escape: str = "") -> list[str]:
    """A column's cells as clipped display text (:func:`clip`), and with ``escape``
    ("html" or "markdown") made safe for that markup. Text is cleaned, cut and escaped by
    Arrow kernels over the whole column; only values that are not text (lists, tags) are
    made text one by one."""
    array = _text(series)
    if array is None:
        cells = [clip(v) for v in series.tolist()]
        if not escape:
            return cells
        array = pa.array(cells, pa.string())
    array = clean_text_array(array).fill_null("")
    long = pc.greater(pc.utf8_length(array), CELL_CHARS)
    if pc.any(long).as_py():
        cut = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(array, 0, CELL_CHARS - 1), pa.scalar("…", array.type), ""
        )
        array = pc.if_else(long, cut, array)
    for char, escaped in _ESCAPES.get(escape, ()):
        array = pc.replace_substring(array, char, escaped)
    if escape == "markdown":
        array = pc.replace_substring_regex(array, _MARKDOWN_SPECIAL, r"\\\1")
    return list(array.to_pylist())


# What html.escape(quote=True) replaces, & first; Markdown: what markdown_cell escapes.
_ESCAPES = {
    "html": (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")),
}
_MARKDOWN_SPECIAL = r"([\\`*_\[\]<>|&#!~])"


def _text(series: pd.Series) -> pa.Array | None:
    """The column as an Arrow string array, when its values are text (or missing)."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)
    ):
        return pa.array(series.astype("string").array, pa.string())
    if pd.api.types.is_object_dtype(dtype):
        try:
            return pa.array(series.to_numpy(), pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    return None


def clip(value: Any) -> str:
    """The value as safe display text, cut to :data:`CELL_CHARS` characters with ``…``."""
    text = display_text(value)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"
