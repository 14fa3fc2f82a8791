"""The image list: every image, problems first, and the compact form the page embeds.

Order: failed, then in use although not available, unused, unavailable (or without a
status), untagged, missing required tags, in progress, then the rest; within each, largest
first, then in frame order. The order is an integer key per row, and only the rows shown are
sorted (``argpartition`` picks them), so a million rows never go through a string sort.

The page embeds at most ``max_list_rows`` rows (100,000 by default) as column arrays:
dictionary codes for the repeated columns (zone, type, category, OS, status, owner, resource
group, the tag line), plain arrays for ids, names, sizes and counts. That is about 60 bytes
per image, so the page stays near 6 MB however large the inventory; images past the cap are
left out with a note that points to the export, which holds every row. The JSON is written
column by column from the listed rows only: codes through a table of their digits, text
escaped by Arrow kernels, never a Python object per cell but the strings themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..charts import STATUS_COLOURS, status_order
from ..schema.arrow import ARROW_ERRORS, TAGS_TYPE
from ..summary import NONE_LABEL
from .columns import Coded, arrow_column, coded, text_array, text_bytes
from .facts import (
    FAILED,
    IN_PROGRESS_FLAG,
    IN_USE_BROKEN,
    MISSING_TAGS,
    PROBLEM_LABELS,
    UNAVAILABLE,
    UNTAGGED,
    UNUSED,
    Facts,
    clean_text_array,
    tags_array,
    tags_text,
)

#: Rows the page embeds for the interactive list, unless the caller says otherwise.
# Lowest priority first: later assignments win, so the most serious problem decides.
_PRIORITY = (
    (IN_PROGRESS_FLAG, 6),
    (MISSING_TAGS, 5),
    (UNTAGGED, 4),
    (UNAVAILABLE, 3),
    (UNUSED, 2),
    (IN_USE_BROKEN, 1),
    (FAILED, 0),
)
_SIZE_SPAN = 1 << 21  # sizes above 2 PiB sort as equal
_JSON_ESCAPES = (
    ("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
    ("\u2028", "\\u2028"), ("\u2029", "\\u2029"),
)  # fmt: skip


@dataclass(frozen=True)
class ImageList:
    """Which rows the list shows, in order, and the first of them as a display table."""

    total: int
    order: np.ndarray[Any, Any]  # frame positions of the listed rows, problems first
    first: pd.DataFrame  # the first rows, for pages without script and for Markdown
    capped: bool

    @property
    def listed(self) -> int:
        return len(self.order)


def problem_order(facts: Facts, limit: int) -> np.ndarray[Any, Any]:
    """Frame positions of the first ``limit`` rows in problems-first order."""
    n = facts.rows
    if n == 0 or limit <= 0:
        return np.zeros(0, dtype=np.int64)
    table = np.full(128, 7, dtype=np.int64)  # each bit mask's priority: its worst problem
    masks = np.arange(128)
    for flag, rank in _PRIORITY:
        table[(masks & flag) > 0] = rank
    priority = table[facts.problems & 127]
    size = np.clip(facts.size, 0, _SIZE_SPAN - 1)
    key = (priority * _SIZE_SPAN + (_SIZE_SPAN - 1 - size)) * n + np.arange(n, dtype=np.int64)
    if limit < n:
        part = np.argpartition(key, limit - 1)[:limit]
        return part[np.argsort(key[part])]
    return np.argsort(key)


def image_list(df: pd.DataFrame, facts: Facts, *, max_rows: int, max_list_rows: int) -> ImageList:
    order = problem_order(facts, max_list_rows)
    first = display_rows(df, facts, order[:max_rows])
    return ImageList(len(df), order, first, capped=len(order) < len(df))


def problem_text(mask: np.ndarray[Any, Any]) -> list[str]:
    """Each row's problems as words, most serious first ("" when none)."""
    out = []
    for value in mask.tolist():
        out.append(", ".join(label for bit, label in PROBLEM_LABELS.items() if value & bit))
    return out


def display_rows(df: pd.DataFrame, facts: Facts, rows: np.ndarray[Any, Any]) -> pd.DataFrame:
    """The list's columns for ``rows`` (a few hundred at most), as display text."""
    columns = {
        "zoneId": "zoneId", "imageId": "imageId", "imageName": "imageName",
        "imageType": "imageType", "category": "category", "osType": "osType",
        "imageStatus": "imageStatus",
    }  # fmt: skip
    out = pd.DataFrame(
        {
            name: np.array(_taken(df, source, rows).to_pylist(), dtype=object)
            for name, source in columns.items()
        }
    )
    out["imageSize"] = pd.arrays.IntegerArray(facts.size[rows], ~facts.size_known[rows])
    if facts.owner_key is not None:
        out["owner"] = np.array(facts.owner.text(rows), dtype=object)
    if facts.instances is not None:
        out["instanceCount"] = facts.instances_array(rows)
    out["tags"] = tags_text(_taken_tags(df, rows)).to_pylist()
    out["problems"] = problem_text(facts.problems[rows])
    return out


def _taken(df: pd.DataFrame, name: str, rows: np.ndarray[Any, Any]) -> pa.Array:
    """``rows`` of a column as text (dictionary arrays stay dictionaries: only the rows
    taken are decoded, never the whole column)."""
    array = arrow_column(df, name)
    if array is None:
        return pa.nulls(len(rows), pa.string())
    kind = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return text_array(df.iloc[rows], name)
    taken = array.take(pa.array(rows, pa.int64()))
    return taken.dictionary_decode() if pa.types.is_dictionary(taken.type) else taken


def _taken_tags(df: pd.DataFrame, rows: np.ndarray[Any, Any]) -> pa.Array:
    """``rows`` of the tags column as list<struct<key, value>> (empty lists without it)."""
    if "tags" not in df.columns or not len(rows):
        return pa.array([[]] * len(rows), TAGS_TYPE)
    array = arrow_column(df, "tags")
    if array is not None and pa.types.is_list(array.type):
        try:
            return array.take(pa.array(rows, pa.int64())).cast(TAGS_TYPE)
        except ARROW_ERRORS:
            pass
    return tags_array(df[["tags"]].iloc[rows])


# --------------------------------------------------------------------------------------------
# What the page embeds


def embedded_json(df: pd.DataFrame, facts: Facts, order: np.ndarray[Any, Any]) -> str:
    """The listed rows as compact column arrays, with the dictionaries and labels the
    page's script needs (see the module docstring), as JSON text that is safe inside a
    ``<script>`` element (:func:`json_for_script`).

    Each column's JSON is written at once: codes and numbers through a table of their
    digits, text with its two JSON escapes done by Arrow kernels, so no per-row Python
    object is made beyond the final join."""
    columns: list[dict[str, str]] = []
    arrays: dict[str, str] = {}
    dicts: dict[str, list[str]] = {}

    def add_dict(
        key: str,
        label: str,
        values: Coded,
        rows: np.ndarray[Any, Any] | None = order,
        *,
        ranked: list[str] | None = None,
    ) -> None:
        """A column of few values: codes into labels sorted (``ranked`` ones first), only
        the labels the listed rows use. ``rows``: None when ``values`` holds them only."""
        shown = [NONE_LABEL, *_display_labels(values.labels)]  # code -1 first
        codes = (values.codes if rows is None else values.codes[rows]) + 1
        used = np.flatnonzero(np.bincount(codes, minlength=len(shown))).tolist()
        present = {shown[i] for i in used}
        labels = sorted(sorted(present), key=str.casefold)  # ties: by the text itself
        if ranked is not None:
            labels = [t for t in ranked if t in present] + [t for t in labels if t not in ranked]
        position = {t: i for i, t in enumerate(labels)}
        table = np.array([position.get(t, 0) for t in shown], dtype=np.int64)
        columns.append({"key": key, "label": label, "type": "dict"})
        dicts[key] = labels
        arrays[key] = _json_ints(table[codes])

    def add_text(key: str, label: str, values: pa.Array) -> None:
        columns.append({"key": key, "label": label, "type": "text"})
        arrays[key] = _json_strings(clean_text_array(values).fill_null(""))

    def add_number(
        key: str, label: str, values: np.ndarray[Any, Any], known: np.ndarray[Any, Any]
    ) -> None:
        columns.append({"key": key, "label": label, "type": "number"})
        arrays[key] = _json_ints(values[order], known[order])

    add_dict("z", "Zone", facts.zone)
    add_text("n", "Name", _taken(df, "imageName", order))
    add_dict("s", "Status", facts.status, ranked=status_order(STATUS_COLOURS))
    columns.append({"key": "p", "label": "Problems", "type": "flags"})
    arrays["p"] = _json_ints(facts.problems[order])
    add_number("g", "Size (GiB)", facts.size, facts.size_known)
    if facts.instances is not None and facts.instances_known is not None:
        add_number("i", "Instances", facts.instances, facts.instances_known)
    if facts.owner_key is not None:
        add_dict("w", "Owner", facts.owner)
    add_text("id", "Image ID", _taken(df, "imageId", order))
    # Columns the facts do not hold: only the listed rows are taken, then coded.
    add_dict("c", "Category", coded(_taken(df, "category", order)), None)
    add_dict("o", "OS type", coded(_taken(df, "osType", order)), None)
    add_dict("t", "Type", coded(_taken(df, "imageType", order)), None)
    if "resourceGroupName" in df.columns:
        add_dict("rg", "Resource group", coded(_taken(df, "resourceGroupName", order)), None)
    tags = tags_text(_taken_tags(df, order))
    add_dict("tg", "Tags", coded(tags, empty="(untagged)"), None)
    head = {
        "total": len(df),
        "rows": len(order),
        "columns": columns,
        "dicts": dicts,
    }
    tail = {
        "flags": [[bit, label] for bit, label in PROBLEM_LABELS.items()],
        "colours": dict(STATUS_COLOURS),
        "facets": [k for k in ("z", "s", "c", "w", "rg", "t") if k in dicts] + ["p"],
    }
    # Every piece is script-safe on its own: the small ones through json_for_script, the
    # text columns escaped by _json_strings, the rest digits. One join: one copy of the text.
    pieces = [json_for_script(head)[:-1], ',"data":{']
    for i, (key, value) in enumerate(arrays.items()):
        pieces += ["," if i else "", json.dumps(key), ":", value]
    pieces += ["},", json_for_script(tail)[1:]]
    return "".join(pieces)


def _display_labels(labels: list[str]) -> list[str]:
    """Dictionary labels as the list shows them: cleaned, ``(none)`` for empty ones."""
    if not labels:
        return []
    cleaned = clean_text_array(pa.array(labels, pa.string())).to_pylist()
    return [t if t else NONE_LABEL for t in cleaned]


def _json_ints(values: np.ndarray[Any, Any], known: np.ndarray[Any, Any] | None = None) -> str:
    """A JSON array of integers (``null`` where not ``known``)."""
    if not len(values):
        return "[]"
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high < 1 << 16:  # digits by table lookup: ~10x faster than json.dumps
        table = np.array([str(i) for i in range(high + 1)] + ["null"], dtype=object)
        picked = values if known is None else np.where(known, values, high + 1)
        return "[" + ",".join(table[picked].tolist()) + "]"
    items = values.tolist()
    if known is not None:
        items = [v if k else None for v, k in zip(items, known.tolist(), strict=True)]
    return json_for_script(items)


def _json_strings(values: pa.Array) -> str:
    """A JSON array of the strings (no nulls), as :func:`json_for_script` writes it: each
    escape done over the whole column by an Arrow kernel, and only when some value needs it.
    """
    if not len(values):
        return "[]"
    data = text_bytes(values)
    if np.any(data < 0x20):
        return json_for_script(values.to_pylist())  # never after cleaning
    raw = data.tobytes()
    # JSON's own escapes first: the script ones add backslashes that must stay single.
    for char, escaped in (("\\", "\\\\"), ('"', '\\"'), *_JSON_ESCAPES):
        if char.encode() in raw:
            values = pc.replace_substring(values, char, escaped)
    return '["' + '","'.join(values.to_pylist()) + '"]'


def json_for_script(value: Any) -> str:
    """JSON text that cannot end or confuse the ``<script type="application/json">`` element
    holding it: ``<``, ``>``, ``&`` and the two JavaScript line separators are escaped.

    >>> json_for_script({"name": "</script><b>&\\u2028"})
    '{"name":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026\\\\u2028"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _JSON_ESCAPES:  # str.replace is C-fast; translate is not
        text = text.replace(char, escaped)
    return text
