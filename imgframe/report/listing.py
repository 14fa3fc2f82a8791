"""The image list: every image, problems first, and the compact form the page embeds.

Order: failed, then in use although not available, unused, unavailable (or without a
status), untagged, missing required tags, in progress, then the rest; within each, largest
first, then in frame order. The order is an integer key per row, and only the rows shown are
sorted (``argpartition`` picks them), so a million rows never go through a string sort.

The page embeds at most ``max_list_rows`` rows (100,000 by default) as column arrays:
dictionary codes for the repeated columns (zone, type, category, OS, status, owner, resource
group, the tag line), plain arrays for ids, names, sizes and counts. That is about 60 bytes
per image, so the page stays near 6 MB however large the inventory; images past the cap are
left out with a note that points to the export, which holds every row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..charts import STATUS_COLOURS, status_order
from ..summary import NONE_LABEL
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
    text_column,
)

#: Rows the page embeds for the interactive list, unless the caller says otherwise.
DEFAULT_LIST_ROWS = 100_000
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
    priority = np.full(n, 7, dtype=np.int64)
    for flag, rank in _PRIORITY:
        priority[(facts.problems & flag) > 0] = rank
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
    part = df.iloc[rows]
    out = pd.DataFrame(
        {name: text_column(part, source).to_numpy() for name, source in columns.items()}
    )
    out["imageSize"] = pd.array(
        pd.to_numeric(part["imageSize"], errors="coerce").to_numpy()
        if "imageSize" in part.columns
        else [pd.NA] * len(rows),
        dtype="Int64",
    )
    if facts.owner_key is not None:
        out["owner"] = facts.owner.to_numpy()[rows]
    if facts.instances is not None:
        out["instanceCount"] = facts.instances.to_numpy()[rows]
    out["tags"] = tags_text(tags_array(df.iloc[rows])).to_pylist()
    out["problems"] = problem_text(facts.problems[rows])
    return out


# --------------------------------------------------------------------------------------------
# What the page embeds


def embedded_list(df: pd.DataFrame, facts: Facts, order: np.ndarray[Any, Any]) -> dict[str, Any]:
    """The listed rows as compact column arrays, with the dictionaries and labels the
    page's script needs (see the module docstring)."""
    columns: list[dict[str, str]] = []
    arrays: dict[str, Any] = {}
    dicts: dict[str, list[str]] = {}

    def add_dict(
        key: str, label: str, values: pd.Series, *, ranked: list[str] | None = None
    ) -> None:
        text = pd.Series(
            pd.array(clean_text_array(pa.array(values.astype("string").array, pa.string())),
                     dtype="string")
        ).fillna(NONE_LABEL).replace("", NONE_LABEL)  # fmt: skip
        labels = sorted(set(text.unique().tolist()), key=str.casefold)
        if ranked is not None:
            labels = [s for s in ranked if s in labels] + [s for s in labels if s not in ranked]
        codes = pd.Categorical(text, categories=labels).codes
        columns.append({"key": key, "label": label, "type": "dict"})
        dicts[key] = labels
        arrays[key] = codes.tolist()

    def add_text(key: str, label: str, values: pd.Series) -> None:
        array = clean_text_array(pa.array(values.astype("string").array, pa.string()))
        columns.append({"key": key, "label": label, "type": "text"})
        arrays[key] = array.fill_null("").to_pylist()

    def add_number(key: str, label: str, values: pd.Series) -> None:
        columns.append({"key": key, "label": label, "type": "number"})
        arrays[key] = pa.array(values.astype("Int64"), pa.int64(), from_pandas=True).to_pylist()

    rows = df.iloc[order]  # every column below converts only the listed rows
    sizes = (
        pd.to_numeric(rows["imageSize"], errors="coerce").astype("Int64")
        if "imageSize" in rows.columns
        else pd.Series([pd.NA] * len(order), dtype="Int64")
    )
    add_dict("z", "Zone", text_column(rows, "zoneId"))
    add_text("n", "Name", text_column(rows, "imageName"))
    add_dict("s", "Status", facts.status.iloc[order], ranked=status_order(STATUS_COLOURS))
    columns.append({"key": "p", "label": "Problems", "type": "flags"})
    arrays["p"] = facts.problems[order].tolist()
    add_number("g", "Size (GiB)", sizes)
    if facts.instances is not None:
        add_number("i", "Instances", facts.instances.iloc[order])
    if facts.owner_key is not None:
        add_dict("w", "Owner", facts.owner.iloc[order])
    add_text("id", "Image ID", text_column(rows, "imageId"))
    add_dict("c", "Category", text_column(rows, "category"))
    add_dict("o", "OS type", text_column(rows, "osType"))
    add_dict("t", "Type", text_column(rows, "imageType"))
    if "resourceGroupName" in rows.columns:
        add_dict("rg", "Resource group", rows["resourceGroupName"])
    tags = pd.Series(pd.array(tags_text(tags_array(rows)), dtype="string"))
    add_dict("tg", "Tags", tags.where(tags != "", "(untagged)"))
    return {
        "total": len(df),
        "rows": len(order),
        "columns": columns,
        "dicts": dicts,
        "data": arrays,
        "flags": [[bit, label] for bit, label in PROBLEM_LABELS.items()],
        "colours": dict(STATUS_COLOURS),
        "facets": [k for k in ("z", "s", "c", "w", "rg", "t") if k in dicts] + ["p"],
    }


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
