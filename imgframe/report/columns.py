"""The frame's columns as Arrow arrays and as small dictionaries of codes, without a pass over
the rows in Python.

A report of a million images must not turn a million cells into Python objects: each column
it needs is taken from pandas as Arrow (no copy for the Arrow-backed text columns, the codes
and categories for categoricals), and a column with few distinct values becomes a
:class:`Coded`: one integer per row and a short list of labels, cleaned or relabelled once per
label instead of once per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema.arrow import ARROW_ERRORS

_INT32_MAX = (1 << 31) - 1
_NEEDS_CLEANING = r"[\p{Cc}\p{Cf}\x{2028}\x{2029}]"
_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x{9b}[0-?]*[ -/]*[@-~]"
)
_LINE_BREAKS = r"[\t\n\r\x0b\x0c\x{85}\x{2028}\x{2029}]+"
_INVISIBLE = r"[\p{Cc}\p{Cf}]"


def clean_text_array(values: pa.Array) -> pa.Array:
    """:func:`imgframe.text.clean_text` as Arrow kernels over a whole string array: escape
    sequences removed whole, line breaks made one space, control and invisible format
    characters (bidi overrides, zero-width) dropped. Nulls stay null.

    >>> clean_text_array(pa.array(["a\\u202eb", "x\\ny", None])).to_pylist()
    ['ab', 'x y', None]
    """
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    data = text_bytes(values)
    if not len(data):
        return values
    control = bool(np.any((data < 0x20) | (data == 0x7F)))
    if not control and not np.any(data >= 0x80):  # the usual case: plain ASCII text
        return values
    # Only rows with a control or format character change (every pattern below starts
    # with one), so only they are cleaned.
    suspect = values if control else values.filter(pc.invert(pc.string_is_ascii(values)))
    if not pc.any(pc.match_substring_regex(suspect, _NEEDS_CLEANING)).as_py():
        return values
    dirty = pc.match_substring_regex(values, _NEEDS_CLEANING).fill_null(False)
    part = values.filter(dirty)
    part = pc.replace_substring_regex(part, _ESCAPES, "")
    part = pc.replace_substring_regex(part, _LINE_BREAKS, " ")
    part = pc.replace_substring_regex(part, _INVISIBLE, "")
    return pc.replace_with_mask(values, dirty, part)


def text_bytes(values: pa.Array) -> np.ndarray[Any, Any]:
    """The UTF-8 bytes a string array's values span (nulls included), without a copy.

    >>> text_bytes(pa.array(["ab", None, "c"]).slice(1)).tobytes()
    b'c'
    """
    if not len(values):
        return np.zeros(0, dtype=np.uint8)
    _, offsets, data = values.buffers()
    if data is None or offsets is None:
        return np.zeros(0, dtype=np.uint8)
    wide = pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)
    kind = np.int64 if wide else np.int32
    ends = np.frombuffer(
        offsets, dtype=kind, count=len(values) + 1, offset=values.offset * np.dtype(kind).itemsize
    )
    return np.frombuffer(data, dtype=np.uint8)[int(ends[0]) : int(ends[-1])]


def arrow_column(df: pd.DataFrame, name: str) -> pa.Array | None:
    """The column as one Arrow array (None when the frame has no such column): Arrow-backed
    columns without a copy, categoricals as dictionary arrays, anything else converted."""
    if name not in df.columns:
        return None
    series = df[name]
    dtype = series.dtype
    try:
        if isinstance(dtype, pd.ArrowDtype | pd.StringDtype):
            array = pa.array(series.array)
        else:
            array = pa.array(series, from_pandas=True)
    except ARROW_ERRORS:
        array = pa.array(series.astype("string").array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def text_array(df: pd.DataFrame, name: str) -> pa.Array:
    """The column as an Arrow string array (nulls where missing; all null when the frame
    lacks the column), the same text as ``df[name].astype("string")``."""
    array = arrow_column(df, name)
    if array is None:
        return pa.nulls(len(df), pa.string())
    if pa.types.is_dictionary(array.type):
        if _is_text(array.type.value_type):
            return array.dictionary_decode()
    elif _is_text(array.type):
        return array
    # Numbers, dates, mixed objects: pandas decides how they read as text.
    return pa.array(df[name].astype("string").array, pa.string())


def int_column(df: pd.DataFrame, name: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(values as int64 with 0 where missing, a bool mask of the known values), as
    ``pd.to_numeric(df[name], errors="coerce")`` reads them."""
    n = len(df)
    array = arrow_column(df, name)
    if array is None:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    if pa.types.is_integer(array.type):
        known = (
            np.ones(n, dtype=bool)
            if not array.null_count
            else pc.is_valid(array).to_numpy(zero_copy_only=False)
        )
        values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.int64), known
    numbers = pd.to_numeric(df[name], errors="coerce")
    known = numbers.notna().to_numpy(dtype=bool)
    return numbers.fillna(0).to_numpy(dtype=np.int64), known


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def dictionary_codes(array: pa.Array) -> tuple[np.ndarray[Any, Any], pa.Array]:
    """(one int64 code per row, -1 where null; the distinct values as a string array) of a
    text or dictionary array. Codes follow the first appearance of each value, as
    :func:`pandas.factorize` numbers them, for arrays that are not dictionaries already."""
    if pa.types.is_dictionary(array.type):
        indices, dictionary = array.indices, array.dictionary
        if not _is_text(dictionary.type):
            dictionary = dictionary.cast(pa.string())
    else:
        if pa.types.is_large_string(array.type) and _fits_int32(array):
            array = array.cast(pa.string())  # hashing is faster with 32-bit offsets
        elif not _is_text(array.type):
            array = array.cast(pa.string())
        encoded = pc.dictionary_encode(array)
        indices, dictionary = encoded.indices, encoded.dictionary
    codes = indices.fill_null(-1) if indices.null_count else indices
    values = np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)
    return values, dictionary


def _fits_int32(array: pa.Array) -> bool:
    offsets = array.buffers()[1]
    if offsets is None or not len(array):
        return True
    ends = np.frombuffer(offsets, dtype=np.int64, count=len(array) + 1, offset=array.offset * 8)
    return bool(ends[-1] - ends[0] <= _INT32_MAX)


@dataclass(frozen=True)
class Coded:
    """A column with few distinct values: ``codes`` (int64 per row, -1 where missing) into
    ``labels`` (distinct, in first-appearance order of the values they came from)."""

    codes: np.ndarray[Any, Any]
    labels: list[str]

    def text(self, rows: np.ndarray[Any, Any] | None = None, missing: str = "") -> list[str]:
        """The labels of ``rows`` (every row by default), ``missing`` where there is none."""
        codes = self.codes if rows is None else self.codes[rows]
        table = np.array([*self.labels, missing], dtype=object)
        return list(table[codes])  # code -1 picks the last entry, ``missing``

    def counts(self, mask: np.ndarray[Any, Any] | None = None) -> np.ndarray[Any, Any]:
        """Rows per label (rows without one are not counted), of the ``mask``ed rows."""
        codes = self.codes if mask is None else self.codes[mask]
        return np.bincount(codes[codes >= 0], minlength=len(self.labels))

    def label_of(self, label: str) -> int:
        """The code of ``label`` (-2, matching no row, when no row has it)."""
        return self.labels.index(label) if label in self.labels else -2


def coded(
    array: pa.Array,
    *,
    clean: bool = False,
    empty: str | None = None,
    missing: str | None = None,
) -> Coded:
    """``array`` (text or dictionary) as a :class:`Coded` column. ``clean``: labels cleaned
    with :func:`clean_text_array`; ``empty``: the label of ``""`` values; ``missing``: the
    label of nulls (else their code stays -1). Labels that become equal are merged.

    >>> c = coded(pa.array(["b", None, "a\\u202e", "a", ""]), clean=True, empty="(none)")
    >>> c.labels, c.codes.tolist()
    (['b', 'a', '(none)'], [0, -1, 1, 1, 2])
    """
    codes, dictionary = dictionary_codes(array)
    # A dictionary made here holds only values some row has; a categorical's may not.
    every = not pa.types.is_dictionary(array.type)
    values = clean_text_array(dictionary) if clean else dictionary
    labels: list[str | None] = values.to_pylist()
    if empty is not None:
        labels = [empty if v == "" else v for v in labels]
    if missing is not None:
        labels.append(missing)
        nulls = codes < 0
        every = every and bool(nulls.any())
        codes = np.where(nulls, len(labels) - 1, codes)
    return merge_labels(codes, labels, every_used=every)


def text_values(df: pd.DataFrame, name: str) -> pa.Array:
    """Like :func:`text_array`, but a categorical stays a dictionary array (codes and
    categories, no row decoded)."""
    array = arrow_column(df, name)
    if array is not None and pa.types.is_dictionary(array.type) and _is_text(array.type.value_type):
        return array
    return text_array(df, name)


def text_codes(df: pd.DataFrame, name: str) -> Coded:
    """``df[name]`` as text codes (labels as ``astype("string")`` reads them, not cleaned),
    from a categorical's own codes when it is one. All missing when the frame lacks the
    column."""
    return coded(text_values(df, name))


def merge_labels(
    codes: np.ndarray[Any, Any], labels: Sequence[str | None], *, every_used: bool = False
) -> Coded:
    """Codes renumbered so that equal labels share one code (a None label is missing), and
    labels no row uses dropped (``every_used``: the caller knows every label is used)."""
    unique = None not in labels and len(set(labels)) == len(labels)
    if every_used and unique:
        return Coded(codes, [str(label) for label in labels])
    used = np.bincount(codes[codes >= 0], minlength=len(labels)) > 0 if len(codes) else None
    if used is not None and used.all() and unique:
        return Coded(codes, [str(label) for label in labels])  # nothing to merge or drop
    distinct: dict[str, int] = {}
    mapping = np.full(len(labels) + 1, -1, dtype=np.int64)
    for i, label in enumerate(labels):
        if label is None or used is None or not used[i]:
            continue
        mapping[i] = distinct.setdefault(label, len(distinct))
    return Coded(mapping[codes], list(distinct))


def first_rows(
    codes: np.ndarray[Any, Any], space: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """For codes in ``range(space)`` (-1: none): (each row's rank among the distinct codes by
    first appearance, -1 for none; the position of each distinct code's first row, in that
    order), as :func:`pandas.factorize` would number them, in time linear in the rows.

    >>> ranks, first = first_rows(np.array([5, 2, 5, -1, 2, 0]), 6)
    >>> ranks.tolist(), first.tolist()
    ([0, 1, 0, -1, 1, 2], [0, 1, 5])
    """
    n = len(codes)
    valid = codes >= 0
    positions = np.flatnonzero(valid)
    first = np.full(space, n, dtype=np.int64)
    np.minimum.at(first, codes[positions], positions)
    is_first = np.zeros(n + 1, dtype=bool)
    is_first[first] = True
    starts = np.flatnonzero(is_first[:n])
    rank = np.full(space, -1, dtype=np.int64)
    rank[codes[starts]] = np.arange(len(starts))
    ranks = np.where(valid, rank[np.where(valid, codes, 0)], -1)
    return ranks, starts


def top_rows(keys: Sequence[np.ndarray[Any, Any]], limit: int) -> np.ndarray[Any, Any]:
    """Positions of the ``limit`` smallest rows by ``keys`` (the first key first; ties in
    position order), in that order, without sorting every row when it can be helped: the keys
    are packed into one integer and only the rows kept are sorted.

    >>> top_rows([np.array([2, 1, 2, 1]), np.array([0, 5, -3, 5])], 3).tolist()
    [1, 3, 2]
    """
    n = len(keys[0]) if keys else 0
    if n == 0 or limit <= 0:
        return np.zeros(0, dtype=np.int64)
    packed = np.zeros(n, dtype=np.int64)
    span = 1
    for key in keys:
        low, high = int(key.min()), int(key.max())
        width = high - low + 1
        span *= width
        if span * n >= 1 << 62:
            order = np.lexsort((np.arange(n), *reversed(list(keys))))
            return order[:limit]
        packed = packed * width + (key.astype(np.int64) - low)
    packed = packed * n + np.arange(n, dtype=np.int64)  # unique: ties by position
    if limit < n:
        part = np.argpartition(packed, limit - 1)[:limit]
        return part[np.argsort(packed[part])]
    return np.argsort(packed)
