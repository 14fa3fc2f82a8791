"""The report's sections that summarise the frame: scope, headline, owners and unused images
(availability is in :mod:`imgframe.report.availability`). Each is a small dataclass of
display-ready text and small frames, computed from the :class:`~imgframe.report.facts.Facts`
with integer codes and ``bincount``: only the rows shown become text."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._version import __version__
from ..text import cell_text, display_text
from .columns import (
    Coded,
    clean_text_array,
    coded,
    text_array,
    text_codes,
    text_values,
    top_rows,
)
from .facts import (
    GROUPS,
    IN_PROGRESS,
    MISSING_TAGS,
    NO_OWNER,
    OWNER_KEYS,
    UNUSED,
    Facts,
    unused_images,
)

# The whitespace a regular expression's \s matches (RE2): what may follow a name's date.
_SPACE = " \t\n\f\r"


@dataclass(frozen=True)
class Scope:
    """What the report covers: (label, value) lines, warnings, and the headline's date."""

    title: str
    lines: list[tuple[str, str]]
    warnings: list[str]
    fetched: str  # "2025-03-01 08:30 UTC", or "" when unknown
    source: str  # one line: "fetched by imgframe 0.4.0" or "from exports/x.parquet"


@dataclass(frozen=True)
class Card:
    """One headline figure; ``status`` names the status colour it wears, if any."""

    key: str
    label: str
    value: int
    detail: str = ""
    tone: str = ""  # "", "bad", "warn", "good", "muted"
    status: str = ""


@dataclass(frozen=True)
class Owners:
    """Custom images per owner (and per resource group when the frame has them)."""

    key: str | None
    how: str
    table: pd.DataFrame
    groups: pd.DataFrame | None


@dataclass(frozen=True)
class Unused:
    """Custom images nothing runs: totals and the list, largest first."""

    known: bool
    note: str
    images: int = 0
    listings: int = 0
    gib: int = 0
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    age_note: str = ""


@dataclass(frozen=True)
class Matrix:
    """Images down, zones or regions across, a status (or a gap) in each cell."""

    key: str
    title: str
    summary: str
    columns: list[str]
    table: pd.DataFrame  # "Image" then one column per zone/region
    total: int
    note: str = ""


# --------------------------------------------------------------------------------------------
# Scope


def scope_of(
    df: pd.DataFrame, facts: Facts, *, title: str, source: str | os.PathLike[str] | None
) -> Scope:
    """The header: profiles, zones, filters, endpoint host, fetch time, version, source."""
    meta = df.attrs.get("imgframe")
    meta = meta if isinstance(meta, Mapping) else {}
    lines: list[tuple[str, str]] = []
    profiles = _texts(meta.get("profiles"))
    if not profiles and "profile" in df.columns:
        profiles = sorted({display_text(p) for p in text_codes(df, "profile").labels})
    if profiles:
        lines.append(("Profiles", ", ".join(profiles)))
    zones = _texts(meta.get("zones"))
    if not zones and "zoneId" in df.columns:
        zones = sorted({display_text(z) for z in facts.zone.labels})
    lines.append(("Zones", f"{len(zones)}" + (f": {_short(zones, 12)}" if zones else "")))
    filters = meta.get("filters")
    if isinstance(filters, Mapping):
        shown = [f"{display_text(k)}={display_text(cell_text(v))}" for k, v in filters.items()]
        lines.append(("Filters", ", ".join(shown) if shown else "none (every image)"))
    host = _host(meta.get("endpoint"))
    if host:
        lines.append(("Endpoint", host))
    fetched = _fetched(df, meta)
    if fetched:
        lines.append(("Fetched", fetched))
    usage = meta.get("usage")
    if "instanceCount" in df.columns:
        lines.append(("Usage", "instances per image fetched"))
    elif usage == "not permitted":
        lines.append(("Usage", "not permitted (the key may not call DescribeInstances)"))
    else:
        lines.append(("Usage", "not fetched (no instance counts: unused images unknown)"))
    if source is not None:
        origin = f"from {display_text(os.fspath(source))}"
    elif meta:
        origin = "fetched from the API"
    else:
        origin = "a frame without fetch metadata (read from a file?)"
    lines.append(("Source", origin))
    lines.append(("imgframe", display_text(meta.get("imgframeVersion") or __version__)))
    warnings = [display_text(w) for w in meta.get("warnings") or [] if w]
    if meta.get("complete") is False and not warnings:
        warnings.append("The fetch was incomplete: some zones returned fewer images than listed.")
    return Scope(display_text(title), lines, warnings, fetched, origin)


def _texts(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [display_text(v) for v in value if v is not None]
    return []


def _short(items: list[str], limit: int) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _host(value: Any) -> str:
    """The endpoint's host name only: never a scheme's user, password, path or query."""
    if not isinstance(value, str) or not value:
        return ""
    text = value if "//" in value else f"//{value}"
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    return display_text(host)


def _fetched(df: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    stamp: pd.Timestamp | None = None
    if isinstance(meta.get("fetchedAt"), str):
        try:
            stamp = pd.Timestamp(meta["fetchedAt"])
        except ValueError:
            stamp = None
    if stamp is None and "fetchedAt" in df.columns and df["fetchedAt"].notna().any():
        stamp = pd.Timestamp(df["fetchedAt"].max())
    if stamp is None or pd.isna(stamp):
        return ""
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return str(stamp.strftime("%Y-%m-%d %H:%M UTC"))


# --------------------------------------------------------------------------------------------
# Headline


def cards_of(df: pd.DataFrame, facts: Facts) -> list[Card]:
    """The headline cards: the inventory's size, then one card per status group."""
    counts = np.bincount(facts.group, minlength=len(GROUPS))
    zones = len(facts.zone.labels)
    in_progress = dict(zip(facts.status.labels, facts.status.counts().tolist(), strict=True))
    progress = " · ".join(
        f"{in_progress[s]:,} {s.lower()}" for s in IN_PROGRESS if in_progress.get(s, 0)
    )
    custom = int(facts.custom.sum())
    share = f"{counts[0] / facts.rows:.0%} of images" if facts.rows else ""
    cards = [
        Card("images", "Images", facts.rows,
             f"{int(facts.public.sum()):,} public · {custom:,} custom · {zones:,} zones"),
        Card("available", "Available", int(counts[0]), share, "good", "AVAILABLE"),
        Card("failed", "Failed", int(counts[3]), "broken: rebuild or delete",
             "bad" if counts[3] else "", "FAILED"),
        Card("unavailable", "Unavailable", int(counts[2]), "cannot be used now",
             "warn" if counts[2] else "", "UNAVAILABLE"),
        Card("in_progress", "In progress", int(counts[1]), progress or "none", "", "CREATING"),
    ]  # fmt: skip
    if counts[4]:
        cards.append(
            Card("unknown", "No status", int(counts[4]), "status missing", "warn", "(none)")
        )
    if facts.instances is not None:
        rows, images = unused_images(facts)
        ids = int(images.max()) + 1 if len(images) else 0
        gib = int(facts.size[rows[np.flatnonzero(_firsts(images))]].sum()) if ids else 0
        cards.append(
            Card("unused", "Unused custom", ids, f"{gib:,} GiB reclaimable", "warn" if ids else "")
        )
    else:
        cards.append(Card("unused", "Unused custom", 0, "usage not fetched", "muted"))
    untagged = int((facts.custom & (facts.tag_count == 0)).sum())
    cards.append(
        Card("untagged", "Untagged custom", untagged, "no tag at all", "warn" if untagged else "")
    )
    cards.append(Card("size", "Total size (GiB)", int(facts.size.sum()), "all images"))
    cards.append(Card("zones", "Zones", zones, "listed", "muted"))
    return cards


def _firsts(ranks: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """True at the first row of each rank (ranks number values by first appearance, so a
    row is a first one exactly when its rank is one more than every rank before it)."""
    if not len(ranks):
        return np.zeros(0, dtype=bool)
    seen = np.maximum.accumulate(ranks)
    out = np.empty(len(ranks), dtype=bool)
    out[0] = True
    out[1:] = seen[1:] > seen[:-1]
    return out


# --------------------------------------------------------------------------------------------
# Owners


def owners_of(df: pd.DataFrame, facts: Facts, *, owner_tag: str | None) -> Owners:
    """Custom images, GiB and problems per owner tag value (and per resource group)."""
    if owner_tag:
        how = f"Owner: the value of the tag {display_text(owner_tag)!r} (chosen)."
    elif facts.owner_key:
        how = (
            f"Owner: the value of the tag {facts.owner_key!r}, the first of "
            f"{', '.join(OWNER_KEYS)} that any image carries "
            "(choose with --owner-tag or owner_tag=)."
        )
    else:
        how = (
            f"No image carries an {' or '.join(OWNER_KEYS)} tag, so every custom image is "
            f"{NO_OWNER!r} (choose a tag key with --owner-tag or owner_tag=)."
        )
    table = _problem_table(facts.owner, facts, "owner")
    groups = None
    if "resourceGroupName" in df.columns:
        names = coded(
            text_values(df, "resourceGroupName"), clean=True, missing="(no resource group)"
        )
        groups = _problem_table(names, facts, "resourceGroupName")
    return Owners(facts.owner_key, how, table, groups)


def _problem_table(keys: Coded, facts: Facts, name: str) -> pd.DataFrame:
    """Per label of ``keys`` (every custom row has one): custom images, GiB and problems;
    most images first, then by label. Three ``bincount`` calls over the custom rows: label
    by status group, label by two problem flags, and the sizes."""
    custom = facts.custom
    codes = keys.codes[custom]
    width = len(keys.labels)
    groups = len(GROUPS)
    by_group = np.bincount(codes * groups + facts.group[custom], minlength=width * groups)
    by_group = by_group.reshape(width, groups)
    problems = facts.problems[custom]
    flags = ((problems & UNUSED) > 0).astype(np.int64) * 2 + ((problems & MISSING_TAGS) > 0)
    by_flag = np.bincount(codes * 4 + flags, minlength=width * 4).reshape(width, 4)
    columns: dict[str, np.ndarray[Any, Any]] = {
        "images": by_group.sum(axis=1),
        "sizeGiB": np.bincount(codes, weights=facts.size[custom], minlength=width),
        "failed": by_group[:, GROUPS.index("failed")],
        "unavailable": by_group[:, GROUPS.index("unavailable")]
        + by_group[:, GROUPS.index("unknown")],
        "in_progress": by_group[:, GROUPS.index("in_progress")],
    }
    if facts.instances is not None:
        columns["unused"] = by_flag[:, 2] + by_flag[:, 3]
    if facts.lacking is not None:
        columns["missing_tags"] = by_flag[:, 1] + by_flag[:, 3]
    images = columns["images"].tolist()
    order = sorted(
        (i for i in range(width) if images[i]), key=lambda i: (-images[i], keys.labels[i])
    )
    picked = np.array(order, dtype=np.int64)
    return pd.DataFrame(
        {
            name: pd.array([keys.labels[i] for i in order], dtype="string"),
            **{k: np.asarray(v[picked], dtype=np.int64) for k, v in columns.items()},
        }
    )


# --------------------------------------------------------------------------------------------
# Unused


def unused_of(df: pd.DataFrame, facts: Facts, *, max_rows: int, note: str) -> Unused:
    """Unused custom images, one row per image id, largest first, with an age signal."""
    if facts.instances is None:
        return Unused(False, note)
    rows, images = unused_images(facts)
    if not len(rows):
        return Unused(True, "")
    first = np.flatnonzero(_firsts(images))  # each image's first listing, in image order
    zones = np.bincount(images, minlength=len(first))
    size = facts.size[rows][first]
    order = top_rows([-size], max_rows)
    picked = rows[first[order]]
    names = text_array(df, "imageName")
    shown = clean_text_array(names.take(pa.array(picked))).fill_null("")
    dated = name_dates(names.take(pa.array(rows[first])))  # every unused image's date
    ids = clean_text_array(text_array(df, "imageId").take(pa.array(picked))).fill_null("")
    table = pd.DataFrame(
        {
            "imageId": np.array(ids.to_pylist(), dtype=object),
            "imageName": np.array(shown.to_pylist(), dtype=object),
            "owner": np.array(facts.owner.text(picked), dtype=object),
            "zones": zones[order],
            "sizeGiB": size[order],
            "nameDate": np.array([date_text(d) for d in dated[order].tolist()], dtype=object),
            "imageStatus": np.array(facts.status.text(picked), dtype=object),
        }
    )
    with_date = int(np.count_nonzero(dated))
    oldest = date_text(int(dated[dated > 0].min())) if with_date else ""
    age = (
        f"Age: the date at the end of the image name (YYYYMMDD or YYYY-MM-DD), which "
        f"{with_date:,} of the {len(first):,} unused images carry"
        + (f"; the oldest is {oldest}" if oldest else "")
        + ". The API reports no creation time, so images without such a name have no age."
    )
    return Unused(
        True,
        "",
        images=len(first),
        listings=len(rows),
        gib=int(size.sum()),
        table=table,
        age_note=age,
    )


def name_dates(names: pa.Array) -> np.ndarray[Any, Any]:
    """The date at the end of each name as a ``YYYYMMDD`` number (0 when there is none): the
    year (19xx or 20xx), month and day, each pair maybe separated by ``-``, ``_`` or ``.``,
    then only whitespace, as ``\\d{4}[-_.]?\\d\\d[-_.]?\\d\\d\\s*$`` finds it (the leftmost
    match, so the longest).

    Such a date is the last ten bytes at most, so each name's last ten bytes (after trailing
    whitespace) are checked as a matrix of byte codes: no regular expression runs per name.

    >>> name_dates(pa.array(["web 20240712", "db-2023_01_31 ", "v2", None, "x2019-1231"]))
    array([20240712, 20230131,        0,        0, 20191231])
    """
    n = len(names)
    out = np.zeros(n, dtype=np.int64)
    if not n:
        return out
    trimmed = pc.utf8_rtrim(names.fill_null(""), characters=_SPACE)
    wide = pa.types.is_large_string(trimmed.type)
    _, offsets_buffer, data_buffer = trimmed.buffers()
    offsets = np.frombuffer(
        offsets_buffer, dtype=np.int64 if wide else np.int32, count=n + 1, offset=trimmed.offset
        * (8 if wide else 4),
    ).astype(np.int64)  # fmt: skip
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else None
    if data is None or not len(data):
        return out
    step = 1 << 17  # rows per block: a block's byte matrix stays a few MB
    back = np.arange(10, dtype=np.int64)[:, None] - 10  # the last ten bytes, in order
    for lo in range(0, n, step):
        ends = offsets[lo + 1 : lo + step + 1]
        at = ends[None, :] + back  # one row per byte position: rows are contiguous
        inside = at >= offsets[lo : lo + len(ends)][None, :]
        window = np.where(inside, data[np.clip(at, 0, len(data) - 1)], 0)
        out[lo : lo + len(ends)] = _dates(window)
    return out


def _dates(c: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``YYYYMMDD`` (or 0) of each column of a (10, names) matrix of the names' last ten
    bytes."""
    v = c.astype(np.int16) - 48
    digit = (v >= 0) & (v <= 9)
    sep = (c == 45) | (c == 95) | (c == 46)  # - _ .

    def year(i: int) -> np.ndarray[Any, Any]:
        century = ((v[i] == 1) & (v[i + 1] == 9)) | ((v[i] == 2) & (v[i + 1] == 0))
        return np.asarray(century & digit[i + 2] & digit[i + 3])

    def month(i: int) -> np.ndarray[Any, Any]:
        one, two = v[i], v[i + 1]
        return np.asarray(digit[i + 1] & (((one == 0) & (two >= 1)) | ((one == 1) & (two <= 2))))

    tens, ones = v[8], v[9]
    day = digit[8] & digit[9]
    day &= ((tens == 0) & (ones >= 1)) | (tens == 1) | (tens == 2) | ((tens == 3) & (ones <= 1))

    def years(i: int) -> np.ndarray[Any, Any]:
        w = v[i : i + 4].astype(np.int32)
        return np.asarray(((w[0] * 10 + w[1]) * 10 + w[2]) * 10 + w[3])

    def months(i: int) -> np.ndarray[Any, Any]:
        return np.asarray(v[i].astype(np.int32) * 10 + v[i + 1])

    days = tens.astype(np.int32) * 10 + ones
    # Longest (leftmost) first: YYYY-MM-DD, then YYYY-MMDD or YYYYMM-DD, then YYYYMMDD.
    shapes = [
        day & year(0) & sep[4] & month(5) & sep[7],
        day & year(1) & sep[5] & month(6),
        day & year(1) & month(5) & sep[7],
        day & year(2) & month(6),
    ]
    y0, y1, y2, m5, m6 = years(0), years(1), years(2), months(5), months(6)
    values = [(y0 * 100 + m5), (y1 * 100 + m6), (y1 * 100 + m5), (y2 * 100 + m6)]
    picked = np.select(shapes, values, 0).astype(np.int64)
    return np.where(picked > 0, picked * 100 + days, 0)


def date_text(value: int) -> str:
    """``YYYY-MM-DD`` of a :func:`name_dates` number ("" for 0)."""
    return f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}" if value else ""
