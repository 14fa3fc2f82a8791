"""The report's count tables and chart data, from integer codes.

:func:`count_table` gives what :func:`imgframe.summary.summarize` gives for one column
(images and GiB per value, most images first, then by value; a missing value is ``(none)``),
but it counts dictionary codes with ``bincount`` instead of grouping a million strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ..charts import OTHER_COLOUR, status_order
from ..summary import NONE_LABEL, summarize
from .columns import Coded, arrow_column, coded
from .facts import Facts
from .svg import Bar, Series, plain_colour, status_colour

__all__ = ["MAX_BARS", "bars_of", "count_table", "zone_status", "zone_status_series"]

#: Bars per chart; the smallest groups beyond this are folded into one "N others" bar.
MAX_BARS = 20


def count_table(df: pd.DataFrame, by: str, facts: Facts) -> pd.DataFrame:
    """``summarize(df, by=(by,))``, counted from the column's codes.

    >>> from imgframe.frame import frame_from_records
    >>> from imgframe.report.facts import facts_of
    >>> df = frame_from_records([{"imageId": "a", "category": "Ubuntu", "imageSize": "20"},
    ...     {"imageId": "b", "category": None, "imageSize": "5"}], zone_id="z")
    >>> count_table(df, "category", facts_of(df)).to_dict("records")
    [{'category': '(none)', 'images': 1, 'sizeGiB': 5}, {'category': 'Ubuntu', 'images': 1, \
'sizeGiB': 20}]
    """
    keys = _keys(df, by, facts)
    if keys is None:  # not text: let pandas say how the values read
        return summarize(df, by=(by,))
    labels, images = _merged(keys, np.bincount(keys.codes + 1, minlength=len(keys.labels) + 1))
    order = sorted(
        (i for i in range(len(labels)) if images[i]), key=lambda i: (-images[i], labels[i])
    )
    table = pd.DataFrame(
        {
            by: pd.array([labels[i] for i in order], dtype="string"),
            "images": np.array([images[i] for i in order], dtype=np.int64),
        }
    )
    if "imageSize" in df.columns:
        weights = np.bincount(keys.codes + 1, weights=facts.size, minlength=len(keys.labels) + 1)
        _, sizes = _merged(keys, weights)
        table["sizeGiB"] = np.array([sizes[i] for i in order], dtype=np.int64)
    return table


def _merged(keys: Coded, per_code: np.ndarray) -> tuple[list[str], list[int]]:
    """Totals per label of values counted per code + 1 (0: missing, shown ``(none)``),
    labels that read the same added up."""
    totals: dict[str, int] = {}
    for label, value in zip([NONE_LABEL, *keys.labels], per_code.tolist(), strict=True):
        totals[label] = totals.get(label, 0) + int(value)
    return list(totals), list(totals.values())


def _keys(df: pd.DataFrame, by: str, facts: Facts) -> Coded | None:
    """The column's values as codes (-1 missing)."""
    if by == "imageStatus":
        return facts.status
    if by == "zoneId":
        return facts.zone
    array = arrow_column(df, by)
    if array is None:
        return None
    kind = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    return coded(array)  # a categorical's own codes: no row decoded


def bars_of(table: pd.DataFrame, by: str, *, max_bars: int = MAX_BARS) -> list[Bar]:
    """A count table's bars, largest first; groups beyond ``max_bars`` folded into one
    "N others" bar. Status bars wear their status colour."""
    labels = [str(v) for v in table[by]]
    counts = [int(n) for n in table["images"]]
    colour = status_colour if by == "imageStatus" else plain_colour
    bars = [Bar(label, n, colour(label)) for label, n in zip(labels, counts, strict=True)]
    if len(bars) > max_bars:
        kept = max_bars - 1
        rest = bars[kept:]
        bars = [*bars[:kept], Bar(f"{len(rest)} others", sum(b.value for b in rest), OTHER_COLOUR)]
    return bars


def zone_status(facts: Facts) -> pd.DataFrame:
    """Images per zone and status: columns zoneId, imageStatus, images (no zero rows)."""
    zones = [NONE_LABEL, *facts.zone.labels]
    statuses = [NONE_LABEL, *facts.status.labels]
    width = len(statuses)
    cells = np.bincount(
        (facts.zone.codes + 1) * width + facts.status.codes + 1, minlength=len(zones) * width
    )
    totals: dict[tuple[str, str], int] = {}
    for cell in np.flatnonzero(cells).tolist():
        key = (zones[cell // width], statuses[cell % width])
        totals[key] = totals.get(key, 0) + int(cells[cell])
    return pd.DataFrame(
        {
            "zoneId": pd.array([z for z, _ in totals], dtype="string"),
            "imageStatus": pd.array([s for _, s in totals], dtype="string"),
            "images": np.array(list(totals.values()), dtype=np.int64),
        }
    )


def zone_status_series(
    table: pd.DataFrame, *, max_bars: int = MAX_BARS
) -> tuple[list[str], list[Series]]:
    """Zones (most images first, then by name; beyond ``max_bars`` folded into "N others")
    and one series per status (in :func:`~imgframe.charts.status_order`)."""
    totals: dict[str, int] = {}
    for zone, n in zip(table["zoneId"], table["images"], strict=True):
        totals[str(zone)] = totals.get(str(zone), 0) + int(n)
    groups = sorted(totals, key=lambda g: (-totals[g], g))
    fold = len(groups) > max_bars
    kept = groups[: max_bars - 1] if fold else groups
    shown = [*kept, f"{len(groups) - len(kept)} others"] if fold else kept
    where = {g: i for i, g in enumerate(kept)}
    values: dict[str, list[int]] = {}
    for zone, status, n in zip(table["zoneId"], table["imageStatus"], table["images"], strict=True):
        row = values.setdefault(str(status), [0] * len(shown))
        row[where.get(str(zone), len(shown) - 1)] += int(n)
    series = [Series(s, status_colour(s), values[s]) for s in status_order(values)]
    return shown, series
