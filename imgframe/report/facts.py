"""What the report knows about every row, computed once, column-wise, for every section.

Nothing here loops over rows in Python: statuses, tags, owners, sizes and usage come out of
Arrow and NumPy kernels, and text columns with few distinct values are kept as codes into a
short list of labels (:class:`~imgframe.report.columns.Coded`), so a million images cost
about as much as a few column scans. Columns the frame lacks (a plain ``fetch_images`` frame
has no ``instanceCount``; a frame read from a file has no ``attrs``) come out as "unknown",
never as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema.arrow import TAGS_TYPE
from .columns import (
    Coded,
    clean_text_array,
    coded,
    dictionary_codes,
    first_rows,
    int_column,
    merge_labels,
    text_array,
    text_codes,
)

__all__ = [
    "FAILED",
    "GROUPS",
    "GROUP_LABELS",
    "IN_PROGRESS",
    "IN_PROGRESS_FLAG",
    "IN_USE_BROKEN",
    "MISSING_TAGS",
    "NO_OWNER",
    "OWNER_KEYS",
    "PROBLEM_LABELS",
    "UNAVAILABLE",
    "UNTAGGED",
    "UNUSED",
    "Facts",
    "clean_series",
    "clean_text_array",
    "facts_of",
    "status_groups",
    "tags_array",
    "tags_text",
    "text_column",
]

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
_GROUP_OF = {"AVAILABLE": 0, "FAILED": 3, "UNAVAILABLE": 2, **dict.fromkeys(IN_PROGRESS, 1)}
_UNKNOWN = GROUPS.index("unknown")


@dataclass(frozen=True)
class Facts:
    """Per-row vectors (positions as in the frame) and what the frame could tell."""

    rows: int
    status: Coded  # the status as given (not cleaned); -1 where missing
    zone: Coded  # the zone id as given
    group: np.ndarray[Any, Any]  # index into GROUPS
    custom: np.ndarray[Any, Any]  # bool
    public: np.ndarray[Any, Any]  # bool
    size: np.ndarray[Any, Any]  # int64 GiB, 0 when missing
    size_known: np.ndarray[Any, Any]  # bool
    tag_count: np.ndarray[Any, Any]
    owner_key: str | None
    owner: Coded  # cleaned tag value; NO_OWNER where the image lacks the owner tag
    instances: np.ndarray[Any, Any] | None  # int64, 0 where unknown; None: usage not fetched
    instances_known: np.ndarray[Any, Any] | None  # bool
    ids: np.ndarray[Any, Any] | None  # imageId codes (-1 where missing); None: no imageId
    id_labels: pa.Array  # the distinct image ids, by code
    unused: np.ndarray[Any, Any]  # bool: custom, settled, no instance in any zone listed
    required: tuple[str, ...]
    lacking: np.ndarray[Any, Any] | None  # bool (required, rows): the tag keys a row lacks
    problems: np.ndarray[Any, Any]  # int bit mask per row

    @property
    def usage_known(self) -> bool:
        return self.instances is not None

    @cached_property
    def unused_images(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(the unused rows' positions; each one's image, numbered by first appearance):
        the headline and the unused section both need it."""
        rows = np.flatnonzero(self.unused)
        if self.ids is None:
            return rows, np.arange(len(rows))
        ranks, _ = first_rows(self.ids[rows], len(self.id_labels))
        return rows, ranks

    def missing_text(self, rows: np.ndarray[Any, Any]) -> list[str]:
        """The required tag keys each of ``rows`` lacks, comma-separated ("" when none)."""
        if self.lacking is None:
            return [""] * len(rows)
        return [
            ", ".join(k for k, lacks in zip(self.required, row, strict=True) if lacks)
            for row in self.lacking[:, rows].T.tolist()
        ]

    def instances_array(self, rows: np.ndarray[Any, Any]) -> pd.api.extensions.ExtensionArray:
        """``instanceCount`` of ``rows`` as pandas Int64 (NA where unknown)."""
        assert self.instances is not None
        assert self.instances_known is not None
        return pd.arrays.IntegerArray(self.instances[rows], ~self.instances_known[rows])


def facts_of(
    df: pd.DataFrame, *, owner_tag: str | None = None, require_tags: Sequence[str] = ()
) -> Facts:
    """Every per-row fact the sections use, in one pass over the columns."""
    n = len(df)
    status = text_codes(df, "imageStatus")
    group = status_groups_of(status)
    kind = text_codes(df, "imageType")
    custom = kind.codes == kind.label_of("CUSTOM_IMAGE")
    public = kind.codes == kind.label_of("PUBLIC_IMAGE")
    size, size_known = int_column(df, "imageSize")
    tags = tags_array(df)
    keys, values, parents = _flat_tags(tags)
    tag_count = np.bincount(parents, minlength=n)[:n] if n else np.zeros(0, dtype=np.int64)
    hits = _KeyHits(keys)
    key = owner_tag if owner_tag else next((k for k in OWNER_KEYS if hits(k).any()), None)
    owner = _owner(hits, values, parents, n, key)
    instances: np.ndarray[Any, Any] | None = None
    known: np.ndarray[Any, Any] | None = None
    if "instanceCount" in df.columns:
        instances, known = int_column(df, "instanceCount")
    ids: np.ndarray[Any, Any] | None = None
    id_labels = pa.array([], pa.string())
    if "imageId" in df.columns:
        ids, id_labels = dictionary_codes(text_array(df, "imageId"))
    # An image still being made (or deleted) is not "unused": it is not ready to be.
    settled = custom & (group != GROUPS.index("in_progress"))
    unused = _unused(settled, ids, len(id_labels), instances, known)
    wanted = tuple(k for k in dict.fromkeys(require_tags) if k)
    lacking = _lacking(hits, parents, n, wanted) if wanted else None

    # Each problem's bit, from the group's (a table lookup) and the row flags.
    by_group = np.zeros(len(GROUPS), dtype=np.int64)
    by_group[GROUPS.index("failed")] = FAILED
    by_group[GROUPS.index("unavailable")] = by_group[_UNKNOWN] = UNAVAILABLE
    by_group[GROUPS.index("in_progress")] = IN_PROGRESS_FLAG
    problems = by_group[group]
    problems |= unused * UNUSED
    problems |= (custom & (tag_count == 0)) * UNTAGGED
    if lacking is not None:
        problems |= (custom & np.logical_or.reduce(lacking, axis=0)) * MISSING_TAGS
    if instances is not None:
        problems |= ((instances > 0) & (group != GROUPS.index("available"))) * IN_USE_BROKEN
    return Facts(
        rows=n,
        status=status,
        zone=text_codes(df, "zoneId"),
        group=group,
        custom=custom,
        public=public,
        size=size,
        size_known=size_known,
        tag_count=tag_count,
        owner_key=key,
        owner=owner,
        instances=instances,
        instances_known=known,
        ids=ids,
        id_labels=id_labels,
        unused=unused,
        required=wanted,
        lacking=lacking,
        problems=problems,
    )


# --------------------------------------------------------------------------------------------
# Columns


def text_column(df: pd.DataFrame, column: str) -> pd.Series:
    """The column as pandas text (NA when missing or when the frame lacks the column)."""
    return pd.Series(pd.array(text_array(df, column), dtype="string"), index=df.index)


def status_groups_of(status: Coded) -> np.ndarray[Any, Any]:
    """Each row's index into :data:`GROUPS`; unknown statuses and missing ones are
    "unknown"."""
    table = np.array([*(_GROUP_OF.get(s, _UNKNOWN) for s in status.labels), _UNKNOWN])
    return np.asarray(table[status.codes], dtype=np.int64)


def status_groups(status: pd.Series) -> np.ndarray[Any, Any]:
    """Each status's index into :data:`GROUPS`; unknown statuses and NA are "unknown".

    >>> status_groups(pd.Series(["FAILED", None, "SYNCING", "NEW"])).tolist()
    [3, 4, 1, 4]
    """
    array = pa.array(status.astype("string").array, pa.string())
    return status_groups_of(coded(array))


def _unused(
    settled: np.ndarray[Any, Any],
    ids: np.ndarray[Any, Any] | None,
    space: int,
    instances: np.ndarray[Any, Any] | None,
    known: np.ndarray[Any, Any] | None,
) -> np.ndarray[Any, Any]:
    """Settled custom images no instance runs in any zone they are listed in. An unknown
    count (NA) in any of those zones makes the image unknown, never unused."""
    n = len(settled)
    if instances is None or known is None or ids is None or not n:
        return np.zeros(n, dtype=bool)
    valid = settled & (ids >= 0)
    # An image is blocked by any listing with instances, or with an unknown count.
    blocked = np.zeros(space + 1, dtype=bool)  # the extra slot: code -1, never read as valid
    blocked[ids[valid & ((instances != 0) | ~known)]] = True
    return np.asarray(valid & ~blocked[ids])


def unused_images(facts: Facts) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(the unused rows' positions; each one's image, numbered by first appearance)."""
    return facts.unused_images


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


class _KeyHits:
    """Which tags have a given key (a bool per tag), each key compared once."""

    def __init__(self, keys: pa.Array) -> None:
        self.keys = keys
        self._hits: dict[str, np.ndarray[Any, Any]] = {}

    def __call__(self, key: str) -> np.ndarray[Any, Any]:
        if key not in self._hits:
            found = pc.equal(self.keys, key).fill_null(False) if len(self.keys) else None
            self._hits[key] = (
                np.zeros(0, dtype=bool)
                if found is None
                else np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
            )
        return self._hits[key]


def _owner(
    hits: _KeyHits, values: pa.Array, parents: np.ndarray[Any, Any], n: int, key: str | None
) -> Coded:
    """Per row, the value of tag ``key``, cleaned; :data:`NO_OWNER` where the row lacks it
    (an empty value counts as lacking it). A key given twice on one image: the last one
    wins, as in :func:`imgframe.frame.tag_columns`."""
    if key is None or not len(values):
        return Coded(np.zeros(n, dtype=np.int64), [NO_OWNER] if n else [])
    positions = np.flatnonzero(hits(key))
    rows = parents[positions]  # in row order: a list's tags are contiguous
    last = np.ones(len(rows), dtype=bool)
    last[:-1] = rows[1:] != rows[:-1]
    picked = values.take(pa.array(positions[last]))
    found = coded(picked, clean=True, empty=NO_OWNER, missing=NO_OWNER)
    codes = np.full(n, len(found.labels), dtype=np.int64)
    codes[rows[last]] = found.codes
    return _with_no_owner(codes, found.labels)


def _with_no_owner(codes: np.ndarray[Any, Any], labels: list[str]) -> Coded:
    """Rows coded ``len(labels)`` get :data:`NO_OWNER` (merged with the label if present)."""
    return merge_labels(codes, [*labels, NO_OWNER])


def _lacking(
    hits: _KeyHits, parents: np.ndarray[Any, Any], n: int, wanted: Sequence[str]
) -> np.ndarray[Any, Any]:
    """One row per wanted key, one column per image: True where the image lacks the key."""
    out = np.ones((len(wanted), n), dtype=bool)
    for j, key in enumerate(wanted):
        if len(parents):
            out[j, parents[hits(key)]] = False
    return out


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


def clean_series(series: pd.Series) -> pd.Series:
    """A text column cleaned with :func:`clean_text_array`, as pandas text ("" for NA)."""
    array = pa.array(series.astype("string").array, pa.string())
    cleaned = clean_text_array(array).fill_null("")
    return pd.Series(pd.array(cleaned, dtype="string"), index=series.index)
