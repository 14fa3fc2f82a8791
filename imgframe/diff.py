"""What changed between two frames: images added, removed, and each changed field.

Diffs key images by ``(profile, zoneId, imageId)`` (``(zoneId, imageId)`` for frames without
``profile``, or any ``key``) and compare values, not objects:
``tags`` as a set of (key, value) pairs (a missing ``tags`` is the same as no tags, as in the
frame), other list columns such as ``nicNetworkType`` as sets of their items, so reordering
is not a change; NA against NA is unchanged, NA against a value (an empty list included) is a
change. ``fetchedAt``, ``snapshotAt`` and ``snapshot_date`` are never compared. The
inventory's ``instanceCount`` changes only when an image becomes used or unused (0 against
more than 0; the counts are shown): usage moves every day, and a diff of the catalogue would
drown in it; an unknown count (NA: usage not fetched) is no change. Matching and comparing
run in Arrow, column by column, never row by row in Python.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError, InvalidArgument
from .schema.arrow import ARROW_ERRORS, STRING, decoded_dictionary, small_offsets

__all__ = ["SnapshotDiff", "check_unique", "diff_snapshots"]

_NOT_COMPARED = frozenset({"fetchedAt", "snapshotAt", "snapshot_date"})
#: Compared by whether anything uses the image, not by the count.
_USAGE = "instanceCount"


def check_unique(df: pd.DataFrame, key: Sequence[str], error: type[Exception], where: str) -> None:
    """Raise ``error`` naming a few of the rows whose ``key`` repeats, if any does."""
    if not _may_repeat(df, key):
        return
    dupes = df.duplicated(list(key), keep="first")
    if dupes.any():
        repeated = df.loc[dupes, list(key)].head(3).itertuples(index=False)
        sample = ["/".join(map(str, row)) for row in repeated]
        raise error(
            f"{where}: {int(dupes.sum())} image(s) appear more than once by "
            f"({', '.join(key)}), e.g. {sample}; drop the duplicates first"
        )


def _may_repeat(df: pd.DataFrame, key: Sequence[str]) -> bool:
    """False when no ``key`` repeats, by Arrow's hash group-by (several times faster than
    pandas' ``duplicated``, which then only names the repeats)."""
    try:
        keys = pa.table({name: _arrow(df[name]) for name in key})
    except ARROW_ERRORS:
        return True
    groups = keys.group_by(list(key), use_threads=False).aggregate([])
    return bool(groups.num_rows < keys.num_rows)


@dataclass(frozen=True, eq=False)
class SnapshotDiff:
    """What changed between two snapshots.

    ``added``: rows of the new snapshot whose key the old one lacks (the new frame's columns
    and dtypes); ``removed``: rows of the old snapshot whose key the new one lacks; ``changed``:
    one row per changed field of an image in both, in long form: the key columns, ``field``,
    ``old`` and ``new`` (all ``string[pyarrow]``; lists and structs as JSON text, NA where the
    value is NA), ordered as the new snapshot's rows, then as the columns. ``compared`` counts
    the images in both snapshots; ``old_date``/``new_date`` are set by :func:`diff_store`.
    """

    added: pd.DataFrame
    removed: pd.DataFrame
    changed: pd.DataFrame
    key: tuple[str, ...]
    compared: int
    old_date: date | None = None
    new_date: date | None = None

    def summary(self) -> dict[str, int]:
        """Counts of images ``added``, ``removed``, ``changed``, ``unchanged``, and of
        ``changed_fields`` (rows of :attr:`changed`).

        >>> from imgframe.frame import frame_from_records
        >>> old = frame_from_records([{"imageId": "a"}, {"imageId": "b"}], zone_id="z")
        >>> new = frame_from_records([{"imageId": "b", "imageName": "x"}], zone_id="z")
        >>> diff_snapshots(old, new).summary()
        {'added': 0, 'removed': 1, 'changed': 1, 'unchanged': 0, 'changed_fields': 1}
        """
        images = len(self.changed.drop_duplicates(list(self.key))) if len(self.changed) else 0
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": images,
            "unchanged": self.compared - images,
            "changed_fields": len(self.changed),
        }

    def describe(self) -> str:
        """The diff in one line: the dates compared (when known) and the counts.

        >>> from imgframe.frame import frame_from_records
        >>> old = frame_from_records([{"imageId": "a"}, {"imageId": "b"}], zone_id="z")
        >>> new = frame_from_records([{"imageId": "b", "imageName": "x"}], zone_id="z")
        >>> diff_snapshots(old, new).describe()
        '0 added, 1 removed, 1 changed (1 fields), 0 unchanged'
        """
        counts = self.summary()
        line = (
            f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed "
            f"({counts['changed_fields']} fields), {counts['unchanged']} unchanged"
        )
        if self.old_date is not None and self.new_date is not None:
            line = f"{self.old_date} -> {self.new_date}: {line}"
        return line

    def by_field(self) -> pd.Series:
        """How many images changed in each field, most changed first."""
        counts = self.changed["field"].value_counts(sort=True)
        counts.name = "images"
        return counts

    def as_dict(self) -> dict[str, pd.DataFrame]:
        """``{"added": ..., "removed": ..., "changed": ...}``, the ``changes`` a report takes."""
        return {"added": self.added, "removed": self.removed, "changed": self.changed}

    def long_frame(self) -> pd.DataFrame:
        """Every change in one frame, for export: the key, ``change`` (``added``, ``removed``
        or ``changed``), then ``field``, ``old`` and ``new`` (NA for added and removed images).

        >>> from imgframe.frame import frame_from_records
        >>> old = frame_from_records([{"imageId": "a"}, {"imageId": "b"}], zone_id="z")
        >>> new = frame_from_records([{"imageId": "b", "imageName": "x"}], zone_id="z")
        >>> diff_snapshots(old, new).long_frame().astype(object).values.tolist()
        [['z', 'a', 'removed', <NA>, <NA>, <NA>], ['z', 'b', 'changed', 'imageName', <NA>, 'x']]
        """
        parts = []
        for change, rows in (("added", self.added), ("removed", self.removed)):
            part = pd.DataFrame({k: rows[k].astype(STRING).array for k in self.key})
            part["change"] = change
            parts.append(part)
        changed = self.changed.copy()
        changed.insert(len(self.key), "change", "changed")
        parts.append(changed)
        out = pd.concat(parts, ignore_index=True)
        for name in ("change", "field", "old", "new"):
            out[name] = out[name].astype(STRING)
        return out[[*self.key, "change", "field", "old", "new"]]


def diff_snapshots(
    old: pd.DataFrame,
    new: pd.DataFrame,
    *,
    key: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
) -> SnapshotDiff:
    """Compare two snapshots (frames, or one day each of :func:`read_snapshots`) image by image.

    ``key`` (default: ``profile``, ``zoneId``, ``imageId``, without ``profile`` unless both
    frames have it) identifies an image. ``fields`` limits the comparison (default: every
    column of either side except the key and ``fetchedAt``/``snapshotAt``/``snapshot_date``).
    A column only one side has is compared against NA. Raises :class:`InvalidArgument` for
    a key or field neither frame has and :class:`DataError` when a key repeats within a
    snapshot.

    >>> from imgframe.frame import frame_from_records
    >>> old = frame_from_records([
    ...     {"imageId": "a", "imageStatus": "CREATING", "nicNetworkType": ["v4", "v6"]},
    ...     {"imageId": "b"}], zone_id="z")
    >>> new = frame_from_records([
    ...     {"imageId": "a", "imageStatus": "AVAILABLE", "nicNetworkType": ["v6", "v4"]},
    ...     {"imageId": "c"}], zone_id="z")
    >>> d = diff_snapshots(old, new)
    >>> d.added["imageId"].tolist(), d.removed["imageId"].tolist()
    (['c'], ['b'])
    >>> d.changed.to_dict("records")
    [{'zoneId': 'z', 'imageId': 'a', 'field': 'imageStatus', 'old': 'CREATING', 'new': 'AVAILABLE'}]
    """
    if key is None:
        both = "profile" in old.columns and "profile" in new.columns
        key = ("profile", "zoneId", "imageId") if both else ("zoneId", "imageId")
    key = tuple(key)
    if not key:
        raise InvalidArgument("diff_snapshots: the key needs at least one column")
    for side, frame in (("old", old), ("new", new)):
        missing = [k for k in key if k not in frame.columns]
        if missing:
            raise InvalidArgument(f"diff_snapshots: the {side} frame has no key column {missing}")
        check_unique(frame, key, DataError, f"diff_snapshots ({side} snapshot)")
    compared_fields = _fields_to_compare(old, new, key, fields)

    old_rows, new_rows, only_old, only_new = _match_keys(old, new, key)
    added = new.iloc[only_new].reset_index(drop=True)
    removed = old.iloc[only_old].reset_index(drop=True)

    positions: list[np.ndarray[Any, Any]] = []
    field_numbers: list[np.ndarray[Any, Any]] = []
    olds: list[pa.Array] = []
    news: list[pa.Array] = []
    take_old, take_new = pa.array(old_rows), pa.array(new_rows)
    for number, name in enumerate(compared_fields):
        before, after = _aligned(old, new, name, take_old, take_new)
        rows = np.flatnonzero(_differs(before, after, name))
        if not len(rows):
            continue
        picked = pa.array(rows)
        positions.append(new_rows[rows])
        field_numbers.append(np.full(len(rows), number))
        olds.append(_display(before.take(picked)))
        news.append(_display(after.take(picked)))
    changed = _changed_frame(new, key, compared_fields, positions, field_numbers, olds, news)
    return SnapshotDiff(added, removed, changed, key, len(old_rows))


def _fields_to_compare(
    old: pd.DataFrame, new: pd.DataFrame, key: tuple[str, ...], fields: Sequence[str] | None
) -> list[str]:
    if fields is None:
        names = list(dict.fromkeys([*new.columns, *old.columns]))
        return [n for n in names if n not in key and n not in _NOT_COMPARED]
    fields = [fields] if isinstance(fields, str) else list(fields)
    unknown = [f for f in fields if f not in old.columns and f not in new.columns]
    if unknown:
        raise InvalidArgument(f"diff_snapshots: neither frame has the field(s) {unknown}")
    in_key = [f for f in fields if f in key]
    if in_key:
        raise InvalidArgument(f"diff_snapshots: {in_key} are key columns, not fields to compare")
    return list(dict.fromkeys(fields))


def _match_keys(
    old: pd.DataFrame, new: pd.DataFrame, key: tuple[str, ...]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Row positions of images in both (old, new, aligned), only in old, only in new."""
    # Arrow's hash join on the keys as plain strings: about 3x faster than pandas' merge at
    # 100k rows, and categoricals with different categories on each side match by value.
    # Like SQL, an NA key matches nothing: such an image shows as removed and added.
    left = pa.table({**_key_arrays(old, key, "old"), "__old_row__": np.arange(len(old))})
    right = pa.table({**_key_arrays(new, key, "new"), "__new_row__": np.arange(len(new))})
    joined = left.join(right, keys=list(key), join_type="full outer")
    old_row = joined["__old_row__"].fill_null(-1).to_numpy()
    new_row = joined["__new_row__"].fill_null(-1).to_numpy()
    both = (old_row >= 0) & (new_row >= 0)
    order = np.argsort(new_row[both], kind="stable")
    return (
        old_row[both][order],
        new_row[both][order],
        np.sort(old_row[new_row < 0]),
        np.sort(new_row[old_row < 0]),
    )


def _key_arrays(frame: pd.DataFrame, key: tuple[str, ...], side: str) -> dict[str, pa.Array]:
    arrays = {}
    for name in key:
        try:
            arrays[name] = _arrow(frame[name]).cast(pa.string())
        except ARROW_ERRORS as exc:
            raise InvalidArgument(
                f"diff_snapshots: key column {name!r} of the {side} frame is not text: {exc}"
            ) from exc
    return arrays


def _aligned(
    old: pd.DataFrame, new: pd.DataFrame, name: str, take_old: pa.Array, take_new: pa.Array
) -> tuple[pa.Array, pa.Array]:
    """The field's values for the images in both, old and new, as comparable Arrow arrays."""
    before = _arrow(old[name]).take(take_old) if name in old.columns else None
    after = _arrow(new[name]).take(take_new) if name in new.columns else None
    if before is None:
        assert after is not None
        before = pa.nulls(len(after), after.type)
    if after is None:
        after = pa.nulls(len(before), before.type)
    if before.type == after.type:
        return before, after
    if pa.types.is_null(before.type):
        return before.cast(after.type), after
    if pa.types.is_null(after.type):
        return before, after.cast(before.type)
    try:  # e.g. an extra field the API sent as a number one day and as text the next
        return before.cast(pa.string()), after.cast(pa.string())
    except ARROW_ERRORS:
        return _json_text(before), _json_text(after)


def _arrow(series: pd.Series) -> pa.Array:
    try:
        array = pa.array(series, from_pandas=True)
    except ARROW_ERRORS:  # an object column of mixed values: compare its JSON text
        return pa.array([_json_or_none(v) for v in series], pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        return decoded_dictionary(array)
    small = small_offsets(array.type)
    return array if small == array.type else array.cast(small)


def _differs(before: pa.Array, after: pa.Array, name: str) -> np.ndarray[Any, Any]:
    """True where the values differ; NA equals NA, NA differs from any value."""
    kind = before.type
    if name == _USAGE and pa.types.is_integer(kind):
        used_before, used_after = pc.greater(before, 0), pc.greater(after, 0)
        known = pc.and_(pc.is_valid(before), pc.is_valid(after))
        flipped = pc.and_(known, pc.not_equal(used_before, used_after))
        return np.array(flipped.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        try:
            return _lists_differ(before, after, null_is_empty=name == "tags")
        except ARROW_ERRORS:  # items Arrow cannot turn into text (lists of lists...)
            return _unequal(_json_text(before), _json_text(after))
    if pa.types.is_nested(kind):
        return _unequal(_json_text(before), _json_text(after))
    try:
        return _unequal(before, after)
    except ARROW_ERRORS:
        return _unequal(_json_text(before), _json_text(after))


def _unequal(before: pa.Array, after: pa.Array) -> np.ndarray[Any, Any]:
    floating = pa.types.is_floating(before.type)
    both_missing = pc.and_(
        pc.is_null(before, nan_is_null=floating), pc.is_null(after, nan_is_null=floating)
    )
    same = pc.or_(pc.equal(before, after).fill_null(False), both_missing)
    return np.array(pc.invert(same).to_numpy(zero_copy_only=False), dtype=bool)


def _lists_differ(
    before: pa.Array, after: pa.Array, *, null_is_empty: bool
) -> np.ndarray[Any, Any]:
    # Lists equal item for item are equal as sets too, and that check needs no sorting; only
    # the (usually few) lists that differ as written are compared as sets.
    try:
        differ = _differ_as_written(before, after, null_is_empty=null_is_empty)
    except ARROW_ERRORS:  # items that are not plain values or structs of them
        differ = _unequal(
            _list_text(before, as_set=False, null_is_empty=null_is_empty),
            _list_text(after, as_set=False, null_is_empty=null_is_empty),
        )
    rows = np.flatnonzero(differ)
    if len(rows):
        picked = pa.array(rows)
        differ[rows] = _unequal(
            _list_text(before.take(picked), as_set=True, null_is_empty=null_is_empty),
            _list_text(after.take(picked), as_set=True, null_is_empty=null_is_empty),
        )
    return differ


def _differ_as_written(
    before: pa.Array, after: pa.Array, *, null_is_empty: bool
) -> np.ndarray[Any, Any]:
    """True where two lists differ item for item (a null list differs from any list unless
    ``null_is_empty``): by their lengths, then by the items of lists of equal length, in
    Arrow and without building any text."""
    if null_is_empty:
        before, after = _null_as_empty(before), _null_as_empty(after)
    present, lengths = _valid(before), _lengths(before)
    differ: np.ndarray[Any, Any] = (present != _valid(after)) | (lengths != _lengths(after))
    rows = np.flatnonzero(~differ & present & (lengths > 0))
    if len(rows):
        picked = pa.array(rows)
        old_lists, new_lists = before.take(picked), after.take(picked)
        unequal = _items_unequal(pc.list_flatten(old_lists), pc.list_flatten(new_lists))
        parents = pc.list_parent_indices(old_lists).to_numpy()
        differ[rows] = np.bincount(parents, weights=unequal, minlength=len(rows)) > 0
    return differ


def _valid(array: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(pc.is_valid(array).to_numpy(zero_copy_only=False), dtype=bool)


def _lengths(lists: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(pc.list_value_length(lists).fill_null(0).to_numpy())


def _items_unequal(before: pa.Array, after: pa.Array) -> np.ndarray[Any, Any]:
    """Item for item: NA equals NA; a struct is equal when its fields all are."""
    if pa.types.is_dictionary(before.type):
        before, after = decoded_dictionary(before), decoded_dictionary(after)
    if pa.types.is_struct(before.type):
        present = _valid(before)
        unequal: np.ndarray[Any, Any] = present != _valid(after)
        both = present & ~unequal
        for i in range(before.type.num_fields):
            unequal |= both & _items_unequal(before.field(i), after.field(i))
        return unequal
    if pa.types.is_nested(before.type):
        raise pa.ArrowNotImplementedError(f"items of type {before.type} are compared as text")
    return _unequal(before, after)


def _null_as_empty(lists: pa.Array) -> pa.Array:
    if not lists.null_count:
        return lists
    return pc.if_else(pc.is_null(lists), pa.scalar([], lists.type), lists)


def _list_text(lists: pa.Array, *, as_set: bool, null_is_empty: bool) -> pa.Array:
    """Each list as one string: its items' self-delimiting encodings, concatenated, as
    written or (``as_set``) distinct and sorted, so that order and repeats do not count.
    A null list stays null unless ``null_is_empty``."""
    if null_is_empty:
        lists = _null_as_empty(lists)
    items = _item_text(pc.list_flatten(lists))
    if as_set:
        distinct = (
            pa.table({"parent": pc.list_parent_indices(lists), "item": items})
            .group_by(["parent", "item"], use_threads=False)
            .aggregate([])
            .sort_by([("parent", "ascending"), ("item", "ascending")])
        )
        counts = np.bincount(distinct["parent"].to_numpy(), minlength=len(lists))
        items = distinct["item"].combine_chunks()
    else:
        counts = pc.list_value_length(lists).fill_null(0).to_numpy()
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    joined = pa.ListArray.from_arrays(pa.array(offsets), items, mask=pc.is_null(lists))
    return pc.binary_join(joined, "")


def _item_text(items: pa.Array) -> pa.Array:
    """Every item as text that cannot run into its neighbour: ``<length>:<text>``, or ``~``
    for NA; a struct is its fields' encodings in order (``!`` for a null struct)."""
    if pa.types.is_struct(items.type):
        parts = [_item_text(items.field(i)) for i in range(items.type.num_fields)]
        joined = pc.binary_join_element_wise(*parts, "")
        return pc.if_else(pc.is_valid(items), joined, pa.scalar("!", pa.string()))
    if pa.types.is_dictionary(items.type):
        items = decoded_dictionary(items)
    text = items if pa.types.is_string(items.type) else items.cast(pa.string())
    length = pc.utf8_length(text).cast(pa.string())
    return pc.binary_join_element_wise(length, text, ":").fill_null("~")


def _json_or_none(value: Any) -> str | None:
    if value is None or (not isinstance(value, list | dict | tuple) and pd.isna(value)):
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _json_text(array: pa.Array) -> pa.Array:
    return pa.array([_json_or_none(v) for v in array.to_pylist()], pa.string())


def _display(values: pa.Array) -> pa.Array:
    """Changed values as the text shown in ``old``/``new``: lists and structs as JSON."""
    kind = values.type
    if pa.types.is_string(kind):
        return values
    if pa.types.is_nested(kind) or pa.types.is_temporal(kind):
        return pa.array([None if v is None else _shown(v) for v in values.to_pylist()], pa.string())
    try:
        return values.cast(pa.string())
    except ARROW_ERRORS:
        return _json_text(values)


def _shown(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def _changed_frame(
    new: pd.DataFrame,
    key: tuple[str, ...],
    fields: list[str],
    positions: list[np.ndarray[Any, Any]],
    field_numbers: list[np.ndarray[Any, Any]],
    olds: list[pa.Array],
    news: list[pa.Array],
) -> pd.DataFrame:
    columns = [*key, "field", "old", "new"]
    if not positions:
        return pd.DataFrame({c: pd.array([], dtype=STRING) for c in columns})
    rows = np.concatenate(positions)
    numbers = np.concatenate(field_numbers)
    order = np.lexsort((numbers, rows))  # the new snapshot's row order, then column order
    rows, numbers = rows[order], numbers[order]
    picked = pa.array(order)
    out: dict[str, Any] = {}
    for k in key:
        out[k] = new[k].astype(STRING).array.take(rows)
    names = pa.array(fields, pa.string())
    out["field"] = pd.array(names.take(pa.array(numbers)), dtype=STRING)
    out["old"] = pd.array(pa.concat_arrays(olds).take(picked), dtype=STRING)
    out["new"] = pd.array(pa.concat_arrays(news).take(picked), dtype=STRING)
    return pd.DataFrame(out, columns=columns)
