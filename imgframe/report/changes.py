"""The "Changes" section: what differs between two snapshots, told in images, not fields.

Sources never mix silently: the section names the two dates it compares and says which
fetch the headline shows. With a store of one snapshot it says history starts there.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..diff import SnapshotDiff
from ..errors import InvalidArgument
from ..history import diff_store, list_snapshots
from ..text import display_text
from .facts import clean_series, text_column

_IMAGE_COLUMNS = ("zoneId", "imageId", "imageName", "imageType", "imageStatus")
_CHANGED_COLUMNS = ("zoneId", "imageId", "field", "old", "new")
ChangesArg = Mapping[str, pd.DataFrame | None] | SnapshotDiff


@dataclass(frozen=True)
class Changes:
    """The changes between two snapshots, or a line saying why there are none."""

    compared: bool
    line: str  # what is compared, or why nothing is
    headline_note: str = ""
    old_date: str = ""
    new_date: str = ""
    added: pd.DataFrame = field(default_factory=pd.DataFrame)
    removed: pd.DataFrame = field(default_factory=pd.DataFrame)
    changed: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per image
    transitions: pd.DataFrame = field(default_factory=pd.DataFrame)  # change, images
    tag_changes: pd.DataFrame = field(default_factory=pd.DataFrame)  # change, images
    fields: pd.DataFrame = field(default_factory=pd.DataFrame)  # field, images

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
        }


def changes_of(
    df: pd.DataFrame,
    changes: ChangesArg | None,
    store: str | os.PathLike[str] | None,
    *,
    fetched: str,
) -> Changes | None:
    """The section from given changes, or from the store's last two snapshots."""
    if changes is None and store is None:
        return None
    old_date = new_date = ""
    if changes is None and store is not None:
        days = list_snapshots(store)
        if not days:
            return Changes(False, "The snapshot store holds no snapshot yet: history starts "
                           "with the first `imgframe snapshot`.")  # fmt: skip
        if len(days) == 1:
            return Changes(
                False,
                f"History starts on {days[0].isoformat()}: the store holds that one snapshot, "
                "so changes show from the next one.",
            )
        changes = diff_store(store)
    if isinstance(changes, SnapshotDiff):
        old_date, new_date = _day(changes.old_date), _day(changes.new_date)
        parts: Mapping[str, pd.DataFrame | None] = changes.as_dict()
    else:
        assert changes is not None
        unknown = set(changes) - {"added", "removed", "changed"}
        if unknown:
            raise InvalidArgument(f"changes: unknown keys {sorted(unknown)}")
        parts = changes
    added = _images(parts.get("added"))
    removed = _images(parts.get("removed"))
    rows = _changed_rows(parts.get("changed"))
    names = _names(df, rows)
    per_image, transitions, tags, fields = _summaries(rows, names)
    if old_date and new_date:
        line = f"Compared: the snapshot of {old_date} with the snapshot of {new_date}."
        note = (
            f"The headline, lists and counts above show the fetch of {fetched or 'unknown date'}"
            f"; these changes compare the store's snapshots of {old_date} and {new_date}."
        )
        if fetched and not fetched.startswith(new_date):
            note += " They are different days: the newest snapshot is not this fetch."
    else:
        line = "Compared: the two snapshots given (dates not recorded)."
        note = f"The headline above shows the fetch of {fetched or 'unknown date'}."
    return Changes(True, line, note, old_date, new_date, added, removed, per_image,
                   transitions, tags, fields)  # fmt: skip


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def _images(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({c: pd.Series([], dtype="string") for c in _IMAGE_COLUMNS})
    columns = [c for c in _IMAGE_COLUMNS if c in frame.columns] or list(frame.columns)
    return frame[columns].reset_index(drop=True)


def _changed_rows(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or not len(frame):
        return pd.DataFrame({c: pd.Series([], dtype="string") for c in _CHANGED_COLUMNS})
    missing = [c for c in ("imageId", "field") if c not in frame.columns]
    if missing:
        raise InvalidArgument(f"changes: the changed frame has no {', '.join(missing)} column")
    out = pd.DataFrame(
        {c: (frame[c].astype("string") if c in frame.columns else pd.NA) for c in _CHANGED_COLUMNS}
    )
    return out.reset_index(drop=True)


def _names(df: pd.DataFrame, rows: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The current name of every changed image: the new name when renamed, else the
    frame's (looked up for the changed ids only)."""
    names: dict[tuple[str, str], str] = {}
    if not len(rows):
        return names
    if "imageId" in df.columns and "imageName" in df.columns:
        hit = df["imageId"].astype("string").isin(set(rows["imageId"].dropna()))
        part = df.loc[hit.to_numpy(dtype=bool)]
        zone = text_column(part, "zoneId").fillna("")
        for key, name in zip(
            zip(zone, part["imageId"].astype("string"), strict=True),
            clean_series(part["imageName"]),
            strict=True,
        ):
            names[(str(key[0]), str(key[1]))] = str(name)
    renamed = rows[rows["field"] == "imageName"]
    for zone, image, new in zip(
        renamed["zoneId"].fillna(""), renamed["imageId"], renamed["new"], strict=True
    ):
        names[(str(zone), str(image))] = display_text(new)
    return names


def _summaries(
    rows: pd.DataFrame, names: dict[tuple[str, str], str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One line per changed image, the status transitions, tag changes and field counts."""
    described: dict[tuple[str, str], list[str]] = {}
    transitions: Counter[str] = Counter()
    tag_changes: Counter[str] = Counter()
    per_field: Counter[str] = Counter()
    for zone, image, name, old, new in zip(
        rows["zoneId"].fillna(""), rows["imageId"], rows["field"], rows["old"], rows["new"],
        strict=True,
    ):  # fmt: skip
        key = (str(zone), str(image))
        per_field[display_text(name)] += 1
        if name == "tags":
            delta = tag_delta(old, new)
            for item in delta.split():
                tag_changes[item] += 1
            text = f"tags {delta}" if delta else "tags reordered"
        elif name == "imageStatus":
            move = f"{_shown(old)} → {_shown(new)}"
            transitions[move] += 1
            text = f"status {move}"
        else:
            text = f"{display_text(name)}: {_shown(old)} → {_shown(new)}"
        described.setdefault(key, []).append(text)
    per_image = pd.DataFrame(
        {
            "zoneId": pd.array([k[0] for k in described], dtype="string"),
            "imageId": pd.array([k[1] for k in described], dtype="string"),
            "imageName": pd.array([names.get(k, "") for k in described], dtype="string"),
            "what": pd.array(["; ".join(v) for v in described.values()], dtype="string"),
        }
    )
    return (
        per_image,
        _counted(transitions, "change"),
        _counted(tag_changes, "change"),
        _counted(per_field, "field"),
    )


def _counted(counter: Counter[str], name: str) -> pd.DataFrame:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return pd.DataFrame(
        {
            name: pd.array([k for k, _ in items], dtype="string"),
            "images": np.array([v for _, v in items], dtype=np.int64),
        }
    )


def _shown(value: Any) -> str:
    text = display_text(value)
    return text if text else "(none)"


def tag_delta(old: Any, new: Any) -> str:
    """Tag changes as ``+key=value`` and ``-key=value`` items, removals first, from the diff
    engine's JSON text of the two tag lists.

    >>> tag_delta('[{"key": "env", "value": "dev"}]',
    ...           '[{"key": "env", "value": "prod"}, {"key": "team", "value": "ml"}]')
    '-env=dev +env=prod +team=ml'
    """
    before, after = _tag_set(old), _tag_set(new)
    removed = [f"-{t}" for t in sorted(before - after)]
    added = [f"+{t}" for t in sorted(after - before)]
    return " ".join(removed + added)


def _tag_set(value: Any) -> set[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return set()
    try:
        items = json.loads(str(value))
    except ValueError:
        return {display_text(value).replace(" ", "_")}
    out = set()
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            key = display_text(item.get("key")).replace(" ", "_")
            val = display_text(item.get("value")).replace(" ", "_")
            out.add(f"{key}={val}")
    return out
