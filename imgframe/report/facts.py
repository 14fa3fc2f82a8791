"""What the report knows about every row, computed once, column-wise, for every section.

Nothing here loops over rows in Python: statuses, tags, owners, sizes and usage come out of
Arrow and NumPy kernels, so a million images cost about as much as a few column scans.
Columns the frame lacks (a plain ``fetch_images`` frame has no ``instanceCount``; a frame
read from a file has no ``attrs``) come out as "unknown", never as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema.arrow import TAGS_TYPE
from ..summary import NONE_LABEL

#: The statuses of images on their way somewhere: neither usable nor broken yet.
IN_PROGRESS = ("CREATING", "SYNCING", "PROCESSING", "DELETING")
#: Status groups, in the order the headline shows them.
GROUPS = ("available", "in_progress", "unavailable", "failed", "unknown")
GROUP_LABELS = {
    "available": "Available",
    "in_progress": "In progress",
    "unavailable": "Unavailable",
    "failed": "Failed",
    "unknown": "No status",
}
#: The owner shown for images without the owner tag.
NO_OWNER = "(no owner tag)"
#: Tag keys tried, in order, when no owner tag is named.
OWNER_KEYS = ("owner", "team")

# Problem flags of one row (a bit mask, as the embedded list carries them).
FAILED, UNAVAILABLE, IN_PROGRESS_FLAG, UNUSED, UNTAGGED, MISSING_TAGS, IN_USE_BROKEN = (
    1 << i for i in range(7)
)
PROBLEM_LABELS = {
    FAILED: "failed",
    IN_USE_BROKEN: "in use, not available",
    UNUSED: "unused",
    UNAVAILABLE: "unavailable",
    UNTAGGED: "untagged",
    MISSING_TAGS: "missing tags",
    IN_PROGRESS_FLAG: "in progress",
}

_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x{9b}[0-?]*[ -/]*[@-~]"
)
_LINE_BREAKS = r"[\t\n\r\x0b\x0c\x{85}\x{2028}\x{2029}]+"
_INVISIBLE = r"[\p{Cc}\p{Cf}]"
# Anything any of the three patterns would touch (they all start with a Cc, Cf or line break).
_NEEDS_CLEANING = r"[\p{Cc}\p{Cf}\x{2028}\x{2029}]"


@dataclass(frozen=True)
class Facts:
    """Per-row vectors (positions as in the frame) and what the frame could tell."""

    rows: int
    status: pd.Series  # text, NA when missing
    group: np.ndarray[Any, Any]  # index into GROUPS
    custom: np.ndarray[Any, Any]  # bool
    public: np.ndarray[Any, Any]  # bool
    size: np.ndarray[Any, Any]  # int64 GiB, 0 when missing
    tag_count: np.ndarray[Any, Any]
    owner_key: str | None
    owner: pd.Series  # text, NO_OWNER when the image lacks the owner tag
    instances: pd.Series | None  # Int64; None when the frame has no usage column
    unused: np.ndarray[Any, Any]  # bool: custom, settled, no instance in any zone listed
    missing_tags: pd.Series | None  # "env, owner" per row ("" when complete); None if unasked
    problems: np.ndarray[Any, Any]  # int bit mask per row

    @property
    def usage_known(self) -> bool:
        return self.instances is not None


def facts_of(
    df: pd.DataFrame, *, owner_tag: str | None = None, require_tags: Sequence[str] = ()
) -> Facts:
    """Every per-row fact the sections use, in one pass over the columns."""
    n = len(df)
    status = text_column(df, "imageStatus")
    group = status_groups(status)
    kind = text_column(df, "imageType")
    custom = (kind == "CUSTOM_IMAGE").fillna(False).to_numpy(dtype=bool)
    public = (kind == "PUBLIC_IMAGE").fillna(False).to_numpy(dtype=bool)
    size = sizes(df)
    tags = tags_array(df)
    keys, values, parents = _flat_tags(tags)
    tag_count = np.bincount(parents, minlength=n)[:n] if n else np.zeros(0, dtype=np.int64)
    present = set(pc.unique(keys).drop_null().to_pylist()) if len(keys) else set()
    key = owner_tag if owner_tag else next((k for k in OWNER_KEYS if k in present), None)
    owner = tag_values(keys, values, parents, n, key, index=df.index)
    instances = usage_column(df)
    # An image still being made (or deleted) is not "unused": it is not ready to be.
    settled = custom & (group != GROUPS.index("in_progress"))
    unused = unused_rows(df, settled, instances)
    wanted = [k for k in dict.fromkeys(require_tags) if k]
    missing = missing_keys(keys, parents, n, wanted, index=df.index) if wanted else None

    problems = np.zeros(n, dtype=np.int64)
    problems[group == GROUPS.index("failed")] |= FAILED
    problems[(group == GROUPS.index("unavailable")) | (group == GROUPS.index("unknown"))] |= (
        UNAVAILABLE
    )
    problems[group == GROUPS.index("in_progress")] |= IN_PROGRESS_FLAG
    problems[unused] |= UNUSED
    problems[custom & (tag_count == 0)] |= UNTAGGED
    if missing is not None:
        problems[custom & (missing != "").to_numpy(dtype=bool)] |= MISSING_TAGS
    if instances is not None:
        running = (instances.fillna(0) > 0).to_numpy(dtype=bool)
        problems[running & (group != GROUPS.index("available"))] |= IN_USE_BROKEN
    return Facts(
        rows=n,
        status=status,
        group=group,
        custom=custom,
        public=public,
        size=size,
        tag_count=tag_count,
        owner_key=key,
        owner=owner,
        instances=instances,
        unused=unused,
        missing_tags=missing,
        problems=problems,
    )


# --------------------------------------------------------------------------------------------
# Columns


def text_column(df: pd.DataFrame, column: str) -> pd.Series:
    """The column as pandas text (NA when missing or when the frame lacks the column)."""
    if column not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    series = df[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Decoding the dictionary in Arrow is ~10x faster than pandas' astype("string").
        array = pa.array(series, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if not pa.types.is_string(array.type):
            array = array.cast(pa.string())
        return pd.Series(pd.array(array, dtype="string"), index=series.index)
    return series.astype("string")


def status_groups(status: pd.Series) -> np.ndarray[Any, Any]:
    """Each status's index into :data:`GROUPS`; unknown statuses and NA are "unknown"."""
    mapping = {"AVAILABLE": 0, "FAILED": 3, "UNAVAILABLE": 2, **dict.fromkeys(IN_PROGRESS, 1)}
    codes = status.map(mapping).astype("Int64").fillna(GROUPS.index("unknown"))
    return codes.to_numpy(dtype=np.int64)


def sizes(df: pd.DataFrame) -> np.ndarray[Any, Any]:
    """``imageSize`` in GiB as int64, 0 where missing."""
    if "imageSize" not in df.columns:
        return np.zeros(len(df), dtype=np.int64)
    return pd.to_numeric(df["imageSize"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)


def usage_column(df: pd.DataFrame) -> pd.Series | None:
    """``instanceCount`` as Int64, or None when usage was not fetched (no such column)."""
    if "instanceCount" not in df.columns:
        return None
    return pd.to_numeric(df["instanceCount"], errors="coerce").astype("Int64")


def unused_rows(
    df: pd.DataFrame, custom: np.ndarray[Any, Any], instances: pd.Series | None
) -> np.ndarray[Any, Any]:
    """Custom images no instance runs in any zone they are listed in. An unknown count (NA)
    in any of those zones makes the image unknown, never unused."""
    n = len(df)
    if instances is None or not n or "imageId" not in df.columns:
        return np.zeros(n, dtype=bool)
    ids = df["imageId"].astype("string")
    codes, _ = pd.factorize(ids.where(pd.Series(custom, index=df.index)), use_na_sentinel=True)
    valid = codes >= 0
    groups = int(codes.max()) + 1 if valid.any() else 0
    known = instances.notna().to_numpy(dtype=bool)
    count = instances.fillna(0).to_numpy(dtype=np.int64)
    running = np.bincount(codes[valid], weights=count[valid], minlength=groups)
    unknown = np.bincount(codes[valid], weights=(~known[valid]).astype(np.int64), minlength=groups)
    per_id = (running == 0) & (unknown == 0)
    out = np.zeros(n, dtype=bool)
    out[valid] = per_id[codes[valid]]
    return out


def tags_array(df: pd.DataFrame) -> pa.Array:
    """The ``tags`` column as one Arrow list<struct<key, value>> array (empty lists when the
    frame has no tags column)."""
    n = len(df)
    if "tags" not in df.columns or not n:
        return pa.array([[]] * n, TAGS_TYPE)
    column = df["tags"]
    try:
        array = pa.array(column.array if isinstance(column.dtype, pd.ArrowDtype) else column)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        return array.cast(TAGS_TYPE)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array(
            [v if isinstance(v, list) else None for v in column.astype(object)], TAGS_TYPE
        )


def _flat_tags(tags: pa.Array) -> tuple[pa.Array, pa.Array, np.ndarray[Any, Any]]:
    flat = pc.list_flatten(tags)
    parents = pc.list_parent_indices(tags).to_numpy().astype(np.int64)
    if not len(flat):
        empty = pa.array([], pa.string())
        return empty, empty, parents
    return flat.field("key"), flat.field("value"), parents


def tag_values(
    keys: pa.Array,
    values: pa.Array,
    parents: np.ndarray[Any, Any],
    n: int,
    key: str | None,
    *,
    index: pd.Index,
) -> pd.Series:
    """Per row, the value of tag ``key``, cleaned; :data:`NO_OWNER` where the row lacks it
    (an empty value counts as lacking it). A key given twice on one image: the last one
    wins, as in :func:`imgframe.frame.tag_columns`."""
    out = np.full(n, NO_OWNER, dtype=object)
    if key is not None and len(keys):
        hit = pc.equal(keys, key).fill_null(False).to_numpy(zero_copy_only=False)
        found = pd.Series(pd.array(clean_text_array(values.filter(pa.array(hit))), dtype="string"))
        rows = parents[hit]
        # Reversed, np.unique's first occurrence of a row is its last tag of the key.
        rows, last = np.unique(rows[::-1], return_index=True)
        picked = found.iloc[::-1].iloc[last]
        picked = picked.mask(picked.isna() | (picked == ""), NO_OWNER)
        out[rows] = picked.to_numpy(dtype=object)
    return pd.Series(out, index=index, dtype="string")


def missing_keys(
    keys: pa.Array, parents: np.ndarray[Any, Any], n: int, wanted: Sequence[str], *, index: pd.Index
) -> pd.Series:
    """Per row, the ``wanted`` tag keys it lacks, comma-separated ("" when it has them all)."""
    out = np.full(n, "", dtype=object)
    for key in wanted:
        has = np.zeros(n, dtype=bool)
        if len(keys):
            hit = pc.equal(keys, key).fill_null(False).to_numpy(zero_copy_only=False)
            has[parents[hit]] = True
        lacks = np.flatnonzero(~has)
        so_far = out[lacks]
        out[lacks] = np.where(so_far == "", key, so_far + ", " + key)
    return pd.Series(out, index=index, dtype="string")


def tags_text(tags: pa.Array) -> pa.Array:
    """Each row's tags as one cleaned line, ``key=value, key=value`` ("" when untagged)."""
    if tags.null_count:
        tags = pc.if_else(pc.is_null(tags), pa.scalar([], tags.type), tags)
    flat = pc.list_flatten(tags)
    if not len(flat):
        return pa.array([""] * len(tags), pa.string())
    keys = flat.field("key").fill_null("")
    values = flat.field("value").fill_null("")
    pairs = pc.binary_join_element_wise(keys, values, "=")
    offsets = tags.offsets
    lists = pa.ListArray.from_arrays(pc.subtract(offsets, offsets[0]), pairs)
    return clean_text_array(pc.binary_join(lists, ", ").fill_null(""))


def clean_text_array(values: pa.Array) -> pa.Array:
    """:func:`imgframe.text.clean_text` as Arrow kernels over a whole string array: escape
    sequences removed whole, line breaks made one space, control and invisible format
    characters (bidi overrides, zero-width) dropped. Nulls stay null."""
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    dirty = pc.match_substring_regex(values, _NEEDS_CLEANING)
    if not pc.any(dirty).as_py():  # the usual case: one scan, no copy
        return values
    values = pc.replace_substring_regex(values, _ESCAPES, "")
    values = pc.replace_substring_regex(values, _LINE_BREAKS, " ")
    return pc.replace_substring_regex(values, _INVISIBLE, "")


def clean_series(series: pd.Series) -> pd.Series:
    """A text column cleaned with :func:`clean_text_array`, as pandas text ("" for NA)."""
    array = pa.array(series.astype("string").array, pa.string())
    cleaned = clean_text_array(array).fill_null("")
    return pd.Series(pd.array(cleaned, dtype="string"), index=series.index)


def label_series(series: pd.Series) -> pd.Series:
    """A key column as group labels: cleaned text, :data:`NONE_LABEL` for missing."""
    cleaned = clean_series(series)
    return cleaned.where(series.notna(), NONE_LABEL)
