"""The report's sections that summarise the frame: scope, headline, owners, unused images and
availability. Each is a small dataclass of display-ready text and small frames, computed
from the :class:`~imgframe.report.facts.Facts` with column kernels and group-bys."""

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
from .facts import (
    GROUP_LABELS,
    GROUPS,
    IN_PROGRESS,
    MISSING_TAGS,
    NO_OWNER,
    OWNER_KEYS,
    UNUSED,
    Facts,
    clean_series,
    clean_text_array,
    text_column,
)

# A date at the end of an image name: 20240712, 2024-07-12, 2024_07_12.
_NAME_DATE = r"(?P<y>(?:19|20)\d\d)[-_.]?(?P<m>0[1-9]|1[0-2])[-_.]?(?P<d>0[1-9]|[12]\d|3[01])\s*$"


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


def scope_of(df: pd.DataFrame, *, title: str, source: str | os.PathLike[str] | None) -> Scope:
    """The header: profiles, zones, filters, endpoint host, fetch time, version, source."""
    meta = df.attrs.get("imgframe")
    meta = meta if isinstance(meta, Mapping) else {}
    lines: list[tuple[str, str]] = []
    profiles = _texts(meta.get("profiles"))
    if not profiles and "profile" in df.columns:
        profiles = sorted({display_text(p) for p in df["profile"].dropna().unique()})
    if profiles:
        lines.append(("Profiles", ", ".join(profiles)))
    zones = _texts(meta.get("zones"))
    if not zones and "zoneId" in df.columns:
        zones = sorted({display_text(z) for z in df["zoneId"].dropna().unique()})
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
    zones = int(df["zoneId"].nunique(dropna=True)) if "zoneId" in df.columns else 0
    in_progress = facts.status.value_counts()
    progress = " · ".join(
        f"{int(in_progress[s]):,} {s.lower()}" for s in IN_PROGRESS if in_progress.get(s, 0)
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
        unused = facts.unused
        ids = _distinct(df, unused)
        gib = _gib_once(df, unused, facts)
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


def group_counts(facts: Facts) -> dict[str, int]:
    """Images per status group (:data:`GROUPS`)."""
    counts = np.bincount(facts.group, minlength=len(GROUPS))
    return {GROUP_LABELS[g]: int(n) for g, n in zip(GROUPS, counts, strict=True)}


def _distinct(df: pd.DataFrame, mask: np.ndarray[Any, Any]) -> int:
    if "imageId" not in df.columns:
        return int(mask.sum())
    return int(df["imageId"][mask].nunique(dropna=True))


def _gib_once(df: pd.DataFrame, mask: np.ndarray[Any, Any], facts: Facts) -> int:
    """Total size of the flagged images, each image id counted once."""
    if "imageId" not in df.columns:
        return int(facts.size[mask].sum())
    ids = df["imageId"].astype("string")[mask]
    first = ~ids.duplicated().to_numpy()
    return int(facts.size[mask][first].sum())


# --------------------------------------------------------------------------------------------
# Owners


def owners_of(df: pd.DataFrame, facts: Facts, *, owner_tag: str | None) -> Owners:
    """Custom images, GiB and problems per owner tag value (and per resource group)."""
    if owner_tag:
        how = f"Owner: the value of the tag {display_text(owner_tag)!r} (chosen)."
    elif facts.owner_key:
        how = (
            f"Owner: the value of the tag {facts.owner_key!r}, the first of "
            f"{', '.join(OWNER_KEYS)} that any image carries (choose with owner_tag=)."
        )
    else:
        how = (
            f"No image carries an {' or '.join(OWNER_KEYS)} tag, so every custom image is "
            f"{NO_OWNER!r} (choose a tag key with owner_tag=)."
        )
    table = _problem_table(facts.owner, facts, "owner")
    groups = None
    if "resourceGroupName" in df.columns:
        names = clean_series(df["resourceGroupName"]).mask(
            df["resourceGroupName"].isna(), "(no resource group)"
        )
        groups = _problem_table(names, facts, "resourceGroupName")
    return Owners(facts.owner_key, how, table, groups)


def _problem_table(keys: pd.Series, facts: Facts, name: str) -> pd.DataFrame:
    custom = facts.custom
    data: dict[str, Any] = {
        name: keys.to_numpy()[custom],
        "images": np.ones(int(custom.sum()), dtype=np.int64),
        "sizeGiB": facts.size[custom],
        "failed": (facts.group[custom] == GROUPS.index("failed")).astype(np.int64),
        "unavailable": np.isin(
            facts.group[custom], [GROUPS.index("unavailable"), GROUPS.index("unknown")]
        ).astype(np.int64),
        "in_progress": (facts.group[custom] == GROUPS.index("in_progress")).astype(np.int64),
    }
    if facts.instances is not None:
        data["unused"] = ((facts.problems[custom] & UNUSED) > 0).astype(np.int64)
    if facts.missing_tags is not None:
        data["missing_tags"] = ((facts.problems[custom] & MISSING_TAGS) > 0).astype(np.int64)
    frame = pd.DataFrame(data)
    table = frame.groupby(name, sort=False).sum().reset_index()
    table = table.sort_values(["images", name], ascending=[False, True], kind="stable")
    table[name] = table[name].astype("string")
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Unused


def unused_of(df: pd.DataFrame, facts: Facts, *, max_rows: int, note: str) -> Unused:
    """Unused custom images, one row per image id, largest first, with an age signal."""
    if facts.instances is None:
        return Unused(False, note)
    rows = np.flatnonzero(facts.unused)
    if not len(rows):
        return Unused(True, "")
    ids = text_column(df, "imageId").to_numpy()[rows]
    codes, uniques = pd.factorize(pd.Series(ids, dtype="string"))
    first = np.full(len(uniques), -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # each id's first listing
    zones = np.bincount(codes, minlength=len(uniques))
    size = facts.size[rows][first]
    order = _top(size, max_rows)
    picked = rows[first[order]]
    names = clean_series(text_column(df, "imageName").iloc[picked])
    dated = name_dates(text_column(df, "imageName").iloc[rows[first]])
    table = pd.DataFrame(
        {
            "imageId": clean_series(pd.Series(uniques[order], dtype="string")).to_numpy(),
            "imageName": names.to_numpy(),
            "owner": facts.owner.to_numpy()[picked],
            "zones": zones[order],
            "sizeGiB": size[order],
            "nameDate": dated.to_numpy()[order],
            "imageStatus": facts.status.fillna("").to_numpy()[picked],
        }
    )
    with_date = int(dated.ne("").sum())
    oldest = dated[dated.ne("")].min() if with_date else ""
    age = (
        f"Age: the date at the end of the image name (YYYYMMDD or YYYY-MM-DD), which "
        f"{with_date:,} of the {len(uniques):,} unused images carry"
        + (f"; the oldest is {oldest}" if oldest else "")
        + ". The API reports no creation time, so images without such a name have no age."
    )
    return Unused(
        True,
        "",
        images=len(uniques),
        listings=len(rows),
        gib=int(size.sum()),
        table=table,
        age_note=age,
    )


def name_dates(names: pd.Series) -> pd.Series:
    """The ``YYYY-MM-DD`` date at the end of each name ("" when there is none)."""
    array = pa.array(names.astype("string").array, pa.string())
    parts = pc.extract_regex(array.fill_null(""), _NAME_DATE)
    joined = pc.binary_join_element_wise(parts.field("y"), parts.field("m"), parts.field("d"), "-")
    out = pd.Series(pd.array(joined, dtype="string"), index=names.index).fillna("")
    return out.where(out.str.len() == 10, "")


def _top(values: np.ndarray[Any, Any], k: int) -> np.ndarray[Any, Any]:
    """Positions of the ``k`` largest values, largest first (ties in position order), without
    sorting everything."""
    n = len(values)
    if n == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    key = -values.astype(np.int64) * (n + 1) + np.arange(n)  # unique: ties by position
    if k < n:
        part = np.argpartition(key, k - 1)[:k]
        return part[np.argsort(key[part], kind="stable")]
    return np.argsort(key, kind="stable")


# --------------------------------------------------------------------------------------------
# Availability


def availability_of(df: pd.DataFrame, facts: Facts, *, max_rows: int) -> list[Matrix]:
    """Where each public image is, zone by zone; where each multi-region custom image is,
    region by region."""
    out = [_public_matrix(df, facts, max_rows)]
    custom = _custom_matrix(df, facts, max_rows)
    if custom is not None:
        out.append(custom)
    return out


def _cell(status: pd.Series) -> pd.Series:
    return status.fillna("(none)").where(status.fillna("") != "AVAILABLE", "✓")


def _public_matrix(df: pd.DataFrame, facts: Facts, max_rows: int) -> Matrix:
    zones = sorted({str(z) for z in df["zoneId"].dropna().unique()}) if "zoneId" in df else []
    rows = np.flatnonzero(facts.public)
    df = df.iloc[rows]  # from here on, only the public rows
    status = facts.status.iloc[rows]
    rows = np.arange(len(rows))
    title = "Public images by zone"
    if not len(rows) or not zones:
        return Matrix(
            "public", title, "No public images in this inventory.", zones, pd.DataFrame(), 0
        )
    part = pd.DataFrame(
        {
            "imageId": text_column(df, "imageId").to_numpy()[rows],
            "name": clean_series(text_column(df, "imageName").iloc[rows]).to_numpy(),
            "category": text_column(df, "category").fillna("").to_numpy()[rows],
            "zone": text_column(df, "zoneId").to_numpy()[rows],
            "cell": _cell(status).to_numpy(),
        }
    )
    grid = part.pivot_table(index="imageId", columns="zone", values="cell", aggfunc="first")
    grid = grid.reindex(columns=zones)
    labels = part.drop_duplicates("imageId").set_index("imageId")
    missing = grid.isna().sum(axis=1)
    bad = (grid.notna() & (grid != "✓")).sum(axis=1)
    info = pd.DataFrame(
        {"name": labels["name"], "category": labels["category"], "missing": missing, "bad": bad}
    ).reindex(grid.index)
    info = info.sort_values(["category", "name"], kind="stable")
    grid = grid.loc[info.index].astype(object).fillna("—")
    gaps = info[info["missing"] > 0]
    summary = (
        f"{len(info):,} public images over {len(zones):,} zones: "
        f"{len(info) - len(gaps):,} are listed in every zone"
        + (f", {len(gaps):,} are missing from some" if len(gaps) else "")
        + (
            f", {int((info['bad'] > 0).sum()):,} are not AVAILABLE somewhere"
            if (info["bad"] > 0).any()
            else ""
        )
        + "."
    )
    if len(gaps):
        worst = gaps.sort_values("missing", ascending=False, kind="stable").head(5)
        summary += (
            " Missing: "
            + "; ".join(
                f"{name or image} ({int(n)} zone{'s' if n != 1 else ''})"
                for image, name, n in zip(worst.index, worst["name"], worst["missing"], strict=True)
            )
            + ("; …" if len(gaps) > 5 else "")
            + "."
        )
    table = pd.concat(
        [pd.DataFrame({"Image": [n or i for i, n in zip(info.index, info["name"], strict=True)]},
                      index=info.index), grid],
        axis=1,
    ).head(max_rows).reset_index(drop=True)  # fmt: skip
    note = "✓ AVAILABLE · — not listed in that zone · any other status by name."
    return Matrix("public", title, summary, zones, table, len(info), note)


def _custom_matrix(df: pd.DataFrame, facts: Facts, max_rows: int) -> Matrix | None:
    rows = np.flatnonzero(facts.custom)
    if not len(rows) or "imageId" not in df.columns:
        return None
    df = df.iloc[rows]  # from here on, only the custom rows
    status = facts.status.iloc[rows]
    rows = np.arange(len(rows))
    zone = text_column(df, "zoneId").to_numpy()[rows]
    region = text_column(df, "regionId").to_numpy()[rows] if "regionId" in df.columns else zone
    region = np.where(pd.isna(region), zone, region)
    ids = text_column(df, "imageId").iloc[rows]
    codes, uniques = pd.factorize(ids)
    has_lists = "regionIdList" in df.columns
    listed = pd.DataFrame({"image": codes, "region": region, "cell": _cell(status).to_numpy()})
    listed = listed[listed["image"] >= 0]
    expected = pd.DataFrame(
        {"image": pd.Series([], dtype=np.int64), "region": pd.Series([], dtype=object)}
    )
    if has_lists:
        lists = pa.array(
            df["regionIdList"].iloc[rows].array
            if isinstance(df["regionIdList"].dtype, pd.ArrowDtype)
            else df["regionIdList"].iloc[rows].tolist()
        )
        if isinstance(lists, pa.ChunkedArray):
            lists = lists.combine_chunks()
        lists = lists.cast(pa.list_(pa.string()))
        parents = pc.list_parent_indices(lists).to_numpy()
        flat = clean_text_array(pc.list_flatten(lists)).to_numpy(zero_copy_only=False)
        expected = pd.DataFrame({"image": codes[parents], "region": flat}).drop_duplicates()
    fetched = set(region.tolist())
    pairs = listed.drop_duplicates(["image", "region"])
    everywhere = pd.concat([pairs[["image", "region"]], expected]).drop_duplicates()
    regions_per = np.bincount(everywhere["image"].to_numpy(dtype=np.int64), minlength=len(uniques))
    multi = np.flatnonzero(regions_per >= 2)
    title = "Custom images by region"
    if not len(multi):
        summary = "No custom image is in more than one region" + (
            "."
            if has_lists
            else " (regionIdList not fetched: regions are where images are listed)."
        )
        return Matrix("custom", title, summary, [], pd.DataFrame(), 0)
    merged = everywhere[everywhere["image"].isin(multi)].merge(
        pairs[["image", "region", "cell"]], on=["image", "region"], how="left"
    )
    gap = merged["cell"].isna()
    merged["cell"] = merged["cell"].where(
        ~gap, np.where(merged["region"].isin(fetched), "not listed", "not fetched")
    )
    trouble = (gap & merged["region"].isin(fetched)) | (~gap & (merged["cell"] != "✓"))
    score = np.bincount(
        merged["image"].to_numpy(dtype=np.int64),
        weights=trouble.to_numpy(dtype=np.int64),
        minlength=len(uniques),
    )
    rank = (
        score[multi] * (len(uniques) + 1) * 64
        + regions_per[multi] * (len(uniques) + 1)
        - np.arange(len(multi))
    )
    chosen = multi[_top(rank, max_rows)]
    troubled = int((score[multi] > 0).sum())
    sub = merged[merged["image"].isin(chosen)]
    grid = sub.pivot_table(index="image", columns="region", values="cell", aggfunc="first")
    columns = sorted(str(c) for c in grid.columns)
    grid = grid.reindex(index=chosen, columns=columns).fillna("")
    names = clean_series(text_column(df, "imageName").iloc[rows]).to_numpy()
    name_of = pd.Series(names[np.unique(codes, return_index=True)[1]], index=np.unique(codes))
    label = [f"{name_of.get(c, '') or uniques[c]}" for c in chosen]
    table = pd.concat(
        [
            pd.DataFrame(
                {"Image": label, "Image ID": [uniques[c] for c in chosen]}, index=grid.index
            ),
            grid,
        ],
        axis=1,
    ).reset_index(drop=True)
    summary = (
        f"{len(multi):,} custom images are in two or more regions; {troubled:,} of them are "
        "not AVAILABLE in, or not listed in, a region they should be in."
        + (
            ""
            if has_lists
            else " (regionIdList not fetched: regions are where the image is listed.)"
        )
    )
    note = (
        "✓ AVAILABLE · not listed: in regionIdList but absent from that region's zones · "
        "not fetched: no zone of that region was fetched."
    )
    return Matrix("custom", title, summary, columns, table, len(multi), note)
