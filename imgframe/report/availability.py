"""The availability section: public images zone by zone, multi-region custom images region by
region.

The public images are a few hundred rows at most, so their matrix is a pandas pivot. Custom
images can be a million rows: their regions are counted with integer codes, one region at a
time (each pass a few array operations over the images), and only the rows shown, at most
``max_rows`` images, are ever turned into text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columns import (
    Coded,
    arrow_column,
    clean_text_array,
    coded,
    first_rows,
    text_values,
    top_rows,
)
from .facts import GROUPS, Facts
from .sections import Matrix

__all__ = ["availability_of"]

_OK = "✓"


def availability_of(df: pd.DataFrame, facts: Facts, *, max_rows: int) -> list[Matrix]:
    """Where each public image is, zone by zone; where each multi-region custom image is,
    region by region."""
    out = [_public_matrix(df, facts, max_rows)]
    custom = _custom_matrix(df, facts, max_rows)
    if custom is not None:
        out.append(custom)
    return out


def _cells(facts: Facts, rows: np.ndarray[Any, Any]) -> list[str]:
    """The matrix cell of each row: ✓ for AVAILABLE, else the status ("(none)" if missing)."""
    return [_OK if s == "AVAILABLE" else s for s in facts.status.text(rows, "(none)")]


def _taken(array: pa.Array, rows: np.ndarray[Any, Any]) -> pa.Array:
    """``rows`` of the array; a dictionary array's codes are taken, then decoded."""
    taken = array.take(pa.array(rows, pa.int64()))
    return taken.dictionary_decode() if pa.types.is_dictionary(taken.type) else taken


def _public_matrix(df: pd.DataFrame, facts: Facts, max_rows: int) -> Matrix:
    zones = sorted(str(z) for z in facts.zone.labels)
    rows = np.flatnonzero(facts.public)
    title = "Public images by zone"
    if not len(rows) or not zones:
        return Matrix(
            "public", title, "No public images in this inventory.", zones, pd.DataFrame(), 0
        )
    names = clean_text_array(_taken(text_values(df, "imageName"), rows)).fill_null("")
    part = pd.DataFrame(
        {
            "imageId": np.array(_taken(text_values(df, "imageId"), rows).to_pylist(), object),
            "name": np.array(names.to_pylist(), dtype=object),
            "category": np.array(
                _taken(text_values(df, "category"), rows).fill_null("").to_pylist(), object
            ),
            "zone": np.array(facts.zone.text(rows), dtype=object),
            "cell": np.array(_cells(facts, rows), dtype=object),
        }
    )
    part["zone"] = part["zone"].where(facts.zone.codes[rows] >= 0, None)
    grid = part.pivot_table(index="imageId", columns="zone", values="cell", aggfunc="first")
    grid = grid.reindex(columns=zones)
    labels = part.drop_duplicates("imageId").set_index("imageId")
    missing = grid.isna().sum(axis=1)
    bad = (grid.notna() & (grid != _OK)).sum(axis=1)
    info = pd.DataFrame(
        {"name": labels["name"], "category": labels["category"], "missing": missing, "bad": bad}
    ).reindex(grid.index)
    info = info.sort_values(["category", "name"], kind="stable")
    grid = grid.loc[info.index].astype(object).fillna("—")
    gaps = info[info["missing"] > 0]
    everywhere, broken = len(info) - len(gaps), int((info["bad"] > 0).sum())
    summary = (
        f"{len(info):,} public images over {len(zones):,} zones: "
        f"{everywhere:,} {_are(everywhere)} listed in every zone"
        + (f", {len(gaps):,} {_are(len(gaps))} missing from some" if len(gaps) else "")
        + (f", {broken:,} {_are(broken)} not AVAILABLE somewhere" if broken else "")
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
            + (f"; and {len(gaps) - 5:,} more." if len(gaps) > 5 else ".")
        )
    table = pd.concat(
        [pd.DataFrame({"Image": [n or i for i, n in zip(info.index, info["name"], strict=True)]},
                      index=info.index), grid],
        axis=1,
    ).head(max_rows).reset_index(drop=True)  # fmt: skip
    note = "✓ AVAILABLE · — not listed in that zone · any other status by name."
    return Matrix("public", title, summary, zones, table, len(info), note)


class _Regions:
    """One code space for region names, whatever column they come from."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._index: dict[str, int] = {}

    def codes(self, column: Coded) -> np.ndarray[Any, Any]:
        """``column``'s codes in this space (-1 stays -1)."""
        table = [self._index.setdefault(label, len(self._index)) for label in column.labels]
        self.labels = list(self._index)
        return np.asarray(np.array([*table, -1], dtype=np.int64)[column.codes])


def _custom_matrix(df: pd.DataFrame, facts: Facts, max_rows: int) -> Matrix | None:
    rows = np.flatnonzero(facts.custom)
    if not len(rows) or facts.ids is None:
        return None
    image, first = first_rows(facts.ids[rows], len(facts.id_labels))  # numbered in row order
    images = len(first)
    space = _Regions()
    zone = space.codes(facts.zone)[rows]
    region = zone
    if "regionId" in df.columns:
        given = space.codes(coded(text_values(df, "regionId")))[rows]
        region = np.where(given >= 0, given, zone)
    listed = (image >= 0) & (region >= 0)
    listed_image, listed_region = image[listed], region[listed]
    listed_row = np.flatnonzero(listed)  # positions among the custom rows
    has_lists = "regionIdList" in df.columns
    expected_image = expected_region = np.zeros(0, dtype=np.int64)
    if has_lists:
        expected_image, expected_region = _expected(df, rows, image, space)
    regions = len(space.labels)
    fetched = np.bincount(region[region >= 0], minlength=regions) > 0
    available = facts.group[rows] == GROUPS.index("available")  # the status is AVAILABLE
    # One pass per region over the images in it (listed or expected): count the region,
    # and whether it is a problem there. Scratch arrays are reset after each region, so the
    # work is the rows and list entries, not images x regions.
    count = np.zeros(images, dtype=np.int64)
    score = np.zeros(images, dtype=np.int64)
    none = len(rows)
    first_here = np.full(images, none, dtype=np.int64)
    expected = np.zeros(images, dtype=bool)
    by_listing = _split(listed_region, regions)
    by_expectation = _split(expected_region, regions)
    for r in range(regions):
        there, wanted = listed_image[by_listing[r]], expected_image[by_expectation[r]]
        np.minimum.at(first_here, there, listed_row[by_listing[r]])
        expected[wanted] = True
        touched = np.concatenate([there, wanted])
        here = first_here[touched] < none
        gap = expected[touched] & ~here
        bad = here & ~available[np.minimum(first_here[touched], none - 1)]
        # An image touched twice gets the same values twice: each write is the same.
        count[touched] += 1
        score[touched] += (gap & fetched[r]) | bad
        first_here[there] = none
        expected[wanted] = False
    multi = np.flatnonzero(count >= 2)
    title = "Custom images by region"
    if not len(multi):
        summary = "No custom image is in more than one region" + (
            "."
            if has_lists
            else " (regionIdList not fetched: regions are where images are listed)."
        )
        return Matrix("custom", title, summary, [], pd.DataFrame(), 0)
    chosen = multi[top_rows([-score[multi], -count[multi]], max_rows)]
    troubled = int((score[multi] > 0).sum())
    table, columns = _grid(
        df, facts, rows, chosen, image, first, region, fetched, space.labels,
        _pairs(chosen, expected_image, expected_region),
    )  # fmt: skip
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


def _expected(
    df: pd.DataFrame, rows: np.ndarray[Any, Any], image: np.ndarray[Any, Any], space: _Regions
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(image, region) of every region the custom rows' ``regionIdList`` names."""
    lists = arrow_column(df, "regionIdList")
    assert lists is not None
    try:
        lists = lists.cast(pa.list_(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        lists = pa.array(
            [v if isinstance(v, list) else None for v in df["regionIdList"].astype(object)],
            pa.list_(pa.string()),
        )
    per_row = np.full(len(df), -1, dtype=np.int64)
    per_row[rows] = image
    parents = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    named = space.codes(coded(pc.list_flatten(lists), clean=True))
    owner = per_row[parents]
    keep = (owner >= 0) & (named >= 0)
    return owner[keep], named[keep]


def _split(codes: np.ndarray[Any, Any], groups: int) -> list[np.ndarray[Any, Any]]:
    """The positions of each code's entries, in order, for codes in ``range(groups)``."""
    small = codes.astype(np.int32 if groups >= 1 << 15 else np.int16)
    order = np.argsort(small, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=groups))
    return np.split(order, ends[:-1]) if groups else []


def _pairs(
    chosen: np.ndarray[Any, Any], image: np.ndarray[Any, Any], region: np.ndarray[Any, Any]
) -> set[tuple[int, int]]:
    keep = np.isin(image, chosen)
    return set(zip(image[keep].tolist(), region[keep].tolist(), strict=True))


def _grid(
    df: pd.DataFrame,
    facts: Facts,
    rows: np.ndarray[Any, Any],
    chosen: np.ndarray[Any, Any],
    image: np.ndarray[Any, Any],
    first: np.ndarray[Any, Any],
    region: np.ndarray[Any, Any],
    fetched: np.ndarray[Any, Any],
    labels: list[str],
    expected: set[tuple[int, int]],
) -> tuple[pd.DataFrame, list[str]]:
    """The shown rows: each chosen image's name and id, and its cell in every region any of
    them is in."""
    mine = np.flatnonzero(np.isin(image, chosen) & (region >= 0))
    cells = _cells(facts, rows[mine])
    grid: dict[int, dict[int, str]] = {int(c): {} for c in chosen}
    for img, reg, cell in zip(image[mine].tolist(), region[mine].tolist(), cells, strict=True):
        grid[img].setdefault(reg, cell)  # the first listing in a region decides
    for img, reg in expected:
        if reg not in grid[img]:
            grid[img][reg] = "not listed" if fetched[reg] else "not fetched"
    shown = sorted({labels[r] for cells_of in grid.values() for r in cells_of})
    column_of = {labels[r]: r for cells_of in grid.values() for r in cells_of}
    at = rows[first[chosen]]
    names = clean_text_array(_taken(text_values(df, "imageName"), at)).fill_null("").to_pylist()
    ids = facts.id_labels.take(pa.array(facts.ids[at] if facts.ids is not None else [])).to_pylist()
    data: dict[str, list[str]] = {
        "Image": [name or i for name, i in zip(names, ids, strict=True)],
        "Image ID": ids,
    }
    for label in shown:
        r = column_of[label]
        data[label] = [grid[int(c)].get(r, "") for c in chosen]
    return pd.DataFrame(data), shown


def _are(count: int) -> str:
    return "is" if count == 1 else "are"
