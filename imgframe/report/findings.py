"""The hygiene checks: each a :class:`Finding` with the images (or instances) it flags.

- ``not_available``: images whose status is anything but AVAILABLE (FAILED first, then
  UNAVAILABLE, no status, and the ones in progress);
- ``in_use_not_available``: images instances run although they are not AVAILABLE (needs
  usage, ``instanceCount``);
- ``unlisted_in_use``: instances whose image no longer exists (from the fetch's
  ``attrs["imgframe"]["unlistedImagesInUse"]``);
- ``untagged``: custom images with no tag at all;
- ``missing_tags`` (with ``require_tags``): custom images missing any of those tag keys;
- ``unused``: custom images no instance runs in any zone they are listed in (needs usage).

Public images are left out of the tag checks: their tags are Zenlayer's, not something an
account can fix. A check whose data was not fetched says so (:attr:`Finding.known`) instead
of finding nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..summary import NONE_LABEL
from ..text import display_text
from .columns import top_rows
from .facts import GROUPS, MISSING_TAGS, UNUSED, Facts, facts_of, status_groups

__all__ = ["Finding", "hygiene_findings", "status_breakdown"]

_COLUMNS = ("zoneId", "imageId", "imageName", "imageStatus", "imageSize")
# FAILED first: broken beats unavailable beats unknown beats on its way.
_SEVERITY = np.array([4, 3, 1, 0, 2])  # by GROUPS index: available .. unknown


@dataclass(frozen=True)
class Finding:
    """One hygiene check: what it looks for, and the images it found (possibly none).

    ``known`` is False when the data the check needs was not fetched (then ``note`` says
    why and ``images`` is empty); ``section`` names the report section that lists the
    images when it is not the findings section. ``count`` is how many rows the check
    flagged: ``images`` holds them all, or the first of them when :func:`hygiene_findings`
    was given a ``limit``. ``breakdown`` (images not available only): (status, images) of
    every flagged row, as :func:`status_breakdown` counts them."""

    key: str
    title: str
    description: str
    images: pd.DataFrame
    known: bool = True
    note: str = ""
    section: str = "findings"
    count: int = -1  # -1: len(images)
    breakdown: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.count < 0:
            object.__setattr__(self, "count", len(self.images))


def hygiene_findings(
    df: pd.DataFrame,
    *,
    require_tags: Sequence[str] = (),
    owner_tag: str | None = None,
    facts: Facts | None = None,
    limit: int | None = None,
) -> list[Finding]:
    """The hygiene checks of the report, each with the images it flags (see the module
    docstring), most serious first within each; with ``limit``, only the first ``limit``
    of them (:attr:`Finding.count` has how many there are).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "imageType": "CUSTOM_IMAGE", "imageStatus": "AVAILABLE"},
    ...     {"imageId": "b", "imageType": "PUBLIC_IMAGE", "imageStatus": "FAILED"}], zone_id="z")
    >>> [(f.key, len(f.images), f.known) for f in hygiene_findings(df, require_tags=["owner"])]
    [('not_available', 1, True), ('in_use_not_available', 0, False), \
('unlisted_in_use', 0, False), ('untagged', 1, True), ('missing_tags', 1, True), \
('unused', 0, False)]
    """
    facts = facts or facts_of(df, owner_tag=owner_tag, require_tags=require_tags)
    usage = facts.instances
    extra = ["instanceCount"] if usage is not None else []
    available = facts.group == GROUPS.index("available")
    severity = _SEVERITY[facts.group]

    def rows(
        mask: np.ndarray[Any, Any], keys: tuple[np.ndarray[Any, Any], ...] = ()
    ) -> tuple[pd.DataFrame, int]:
        positions = _positions(mask, facts, keys, limit)
        return _rows(df, positions, facts, extra), int(np.count_nonzero(mask))

    images, count = rows(~available, (severity,))
    findings = [
        Finding(
            "not_available",
            "Images not available",
            "Images whose status is anything but AVAILABLE: FAILED ones are broken, "
            "UNAVAILABLE ones cannot be used, CREATING, SYNCING, PROCESSING and DELETING "
            "ones are on their way; a missing status is listed too.",
            images,
            count=count,
            breakdown=_breakdown(facts, ~available),
        )
    ]
    no_usage = _usage_note(df, usage)
    if usage is None:
        findings.append(
            Finding(
                "in_use_not_available",
                "Instances running an image that is not available",
                "Images that instances run although their status is not AVAILABLE.",
                _empty(df, ["instanceCount"]),
                known=False,
                note=no_usage,
            )
        )
    else:
        images, count = rows((usage > 0) & ~available, (-usage,))
        findings.append(
            Finding(
                "in_use_not_available",
                "Instances running an image that is not available",
                "Images that instances run although their status is not AVAILABLE: new "
                "instances cannot be made from them, and a rebuild would fail.",
                images,
                count=count,
            )
        )
    findings.append(_unlisted(df))
    images, count = rows(facts.custom & (facts.tag_count == 0))
    findings.append(
        Finding(
            "untagged",
            "Custom images without tags",
            "Custom images that carry no tag at all, so nobody can tell who owns them.",
            images,
            count=count,
        )
    )
    keys = [k for k in dict.fromkeys(require_tags) if k]
    if keys and facts.lacking is not None:
        positions = _positions((facts.problems & MISSING_TAGS) > 0, facts, (), limit)
        flagged = _rows(df, positions, facts, extra)
        count = int(np.count_nonzero(facts.problems & MISSING_TAGS))
        flagged["missing"] = np.array(facts.missing_text(positions), dtype=object)
        findings.append(
            Finding(
                "missing_tags",
                "Custom images missing required tags",
                "Custom images without every required tag key: "
                + ", ".join(display_text(k) for k in keys)
                + ".",
                flagged,
                count=count,
            )
        )
    unused = (facts.problems & UNUSED).astype(bool)
    images, count = rows(unused) if usage is not None else (_empty(df, extra), 0)
    findings.append(
        Finding(
            "unused",
            "Unused custom images",
            "Custom images no instance runs in any zone they are listed in, largest first. "
            "An image whose instance count is unknown in any zone is not counted, nor is one "
            "still in progress (CREATING, SYNCING, PROCESSING, DELETING).",
            images,
            known=usage is not None,
            note=no_usage,
            section="unused",
            count=count,
        )
    )
    return findings


def status_breakdown(images: pd.DataFrame) -> list[tuple[str, int]]:
    """(status, images) of a finding's rows, most serious first: FAILED, UNAVAILABLE, no
    status, then the statuses in progress.

    >>> status_breakdown(pd.DataFrame({"imageStatus": ["CREATING", "FAILED", None, "FAILED"]}))
    [('FAILED', 2), ('(none)', 1), ('CREATING', 1)]
    """
    if "imageStatus" not in images.columns or not len(images):
        return []
    status = images["imageStatus"].astype("string")
    counts = status.fillna(NONE_LABEL).value_counts()
    group = status_groups(status)
    rank = dict(zip(status.fillna(NONE_LABEL), _SEVERITY[group], strict=True))
    return sorted(
        ((str(s), int(n)) for s, n in counts.items()), key=lambda sn: (rank[sn[0]], -sn[1], sn[0])
    )


def _breakdown(facts: Facts, mask: np.ndarray[Any, Any]) -> tuple[tuple[str, int], ...]:
    """:func:`status_breakdown` of the ``mask``ed rows, from the status codes."""
    labels = [*facts.status.labels, NONE_LABEL]
    codes = facts.status.codes[mask]
    counts = np.bincount(np.where(codes < 0, len(labels) - 1, codes), minlength=len(labels))
    merged: dict[str, int] = {}
    for label, count in zip(labels, counts.tolist(), strict=True):
        if count:
            merged[label] = merged.get(label, 0) + count
    rank = dict(zip(merged, _SEVERITY[status_groups(pd.Series(list(merged)))], strict=True))
    return tuple(sorted(merged.items(), key=lambda sn: (rank[sn[0]], -sn[1], sn[0])))


def _positions(
    mask: np.ndarray[Any, Any],
    facts: Facts,
    keys: tuple[np.ndarray[Any, Any], ...],
    limit: int | None = None,
) -> np.ndarray[Any, Any]:
    """Positions of the flagged rows (the first ``limit`` of them): by ``keys``
    (ascending), then largest first, then in frame order; only the rows kept are sorted."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return rows
    order = top_rows(
        [*(k[rows] for k in keys), -facts.size[rows]], len(rows) if limit is None else limit
    )
    return np.asarray(rows[order])


def _rows(
    df: pd.DataFrame, positions: np.ndarray[Any, Any], facts: Facts, extra: list[str]
) -> pd.DataFrame:
    columns = [c for c in (*_COLUMNS, *extra) if c in df.columns]
    picked = df[columns].iloc[positions].reset_index(drop=True)
    if facts.owner_key is not None and "owner" not in picked.columns:
        where = min(3, len(picked.columns))
        picked.insert(where, "owner", np.array(facts.owner.text(positions), dtype=object))
    return picked


def _empty(df: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    return (
        df[[c for c in _COLUMNS if c in df.columns]]
        .iloc[:0]
        .assign(**{c: pd.Series([], dtype="Int64") for c in extra})
    )


def _usage_note(df: pd.DataFrame, usage: np.ndarray[Any, Any] | None) -> str:
    if usage is not None:
        return ""
    meta = df.attrs.get("imgframe")
    state = meta.get("usage") if isinstance(meta, Mapping) else None
    if state == "not permitted":
        return "Usage not permitted: the key may not call DescribeInstances."
    return "Usage not fetched: the frame has no instanceCount column."


def _unlisted(df: pd.DataFrame) -> Finding:
    meta = df.attrs.get("imgframe")
    listed = meta.get("unlistedImagesInUse") if isinstance(meta, Mapping) else None
    title = "Instances running an image that no longer exists"
    description = (
        "Instances whose image is not listed any more (deleted): they run, but cannot be "
        "rebuilt or copied from it."
    )
    if not isinstance(listed, list):
        state = meta.get("usage") if isinstance(meta, Mapping) else None
        note = (
            "Usage not permitted: the key may not call DescribeInstances."
            if state == "not permitted"
            else "Usage not fetched: the frame records no instances of unlisted images."
        )
        return Finding("unlisted_in_use", title, description, _unlisted_frame([]), False, note)
    return Finding("unlisted_in_use", title, description, _unlisted_frame(listed))


def _unlisted_frame(items: list[Any]) -> pd.DataFrame:
    rows = [i for i in items if isinstance(i, Mapping)]
    frame = pd.DataFrame(
        {
            "zoneId": pd.array([r.get("zoneId") for r in rows], dtype="string"),
            "imageId": pd.array([r.get("imageId") for r in rows], dtype="string"),
            "instances": pd.to_numeric(
                pd.Series([r.get("instances") for r in rows], dtype=object), errors="coerce"
            ).astype("Int64"),
        }
    )
    if not len(frame):
        return frame
    order = np.lexsort(
        (frame["imageId"].fillna("").to_numpy(), frame["zoneId"].fillna("").to_numpy(),
         -frame["instances"].fillna(0).to_numpy())
    )  # fmt: skip
    return frame.iloc[order].reset_index(drop=True)
