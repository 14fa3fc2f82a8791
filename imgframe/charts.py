"""Bar charts of the inventory: image counts per category, OS type, status and zone.

Charts are :class:`matplotlib.figure.Figure` objects drawn with the Agg canvas, never through
pyplot's global state, so they are safe in threads, servers and notebooks alike and nothing
opens a window. matplotlib is imported on first use, so ``import imgframe`` stays fast.

Every label comes from the API, so it is cleaned with
:func:`~imgframe.summary.display_text`, cut to :data:`LABEL_CHARS` characters with ``…``, and
its ``$`` signs escaped so matplotlib never reads it as mathtext.

These figures are for files (``save_charts``, ``imgframe charts``) and notebooks. The HTML
report draws its own charts as plain SVG (:mod:`imgframe.report.svg`) in the same colours
(:data:`STATUS_COLOURS`, :data:`BAR_COLOUR`, :data:`OTHER_COLOUR`) and never imports
matplotlib.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .durable import atomic_file
from .errors import InvalidArgument
from .summary import NONE_LABEL, summarize
from .text import display_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BAR_COLOUR",
    "LABEL_CHARS",
    "OTHER_COLOUR",
    "STATUS_COLOURS",
    "chart_caption",
    "figure_bytes",
    "save_charts",
    "status_breakdown_chart",
    "status_order",
    "summary_chart",
    "summary_charts",
    "trend_chart",
    "trend_table",
]

#: Longest group label shown on a chart, in characters (longer ones end in ``…``).
LABEL_CHARS = 28
#: Bars shown per chart; the smallest groups beyond this are folded into one "others" bar.
MAX_BARS = 20

#: One colour per image status, the same in every chart and in the report's tables: the
#: Okabe-Ito palette, which stays distinguishable with the common colour-vision deficiencies.
#: Green is fine, vermillion is broken, orange is unavailable, the blues and purple are work
#: in progress, yellow is on its way out; a missing status is grey. Charts and tables always
#: print the status name as well, so colour is never the only label.
STATUS_COLOURS = {
    "AVAILABLE": "#009E73",
    "CREATING": "#56B4E9",
    "SYNCING": "#0072B2",
    "PROCESSING": "#CC79A7",
    "DELETING": "#F0E442",
    "UNAVAILABLE": "#E69F00",
    "FAILED": "#D55E00",
    NONE_LABEL: "#999999",
}
#: Bars of charts that are not by status: a slate no status uses.
BAR_COLOUR = "#4A5D73"
_BAR_COLOUR = BAR_COLOUR
#: Bars of a missing key, and the "N others" bar: a light grey.
OTHER_COLOUR = "#B8C2CC"
_OTHER_COLOUR = OTHER_COLOUR
_TEXT_COLOUR = "#1a202c"
_MUTED_COLOUR = "#4a5568"
_EDGE = "#2d3748"
_GRID_COLOUR = "#e2e8f0"
#: Chart width in inches: at 120 dpi a PNG chart is 960 px wide.
FIGURE_WIDTH = 8.0
_DPI = 120

_NAMES = {
    "category": "Category",
    "osType": "OS type",
    "imageStatus": "Status",
    "imageType": "Image type",
    "imageSource": "Source",
    "zoneId": "Zone",
    "zoneName": "Zone",
    "regionId": "Region",
    "cityName": "City",
    "countryCode": "Country",
}


def summary_chart(
    df: pd.DataFrame,
    by: str,
    *,
    title: str | None = None,
    max_bars: int = MAX_BARS,
    caption: str | None = None,
    width: float = FIGURE_WIDTH,
    table: pd.DataFrame | None = None,
) -> Figure:
    """A horizontal bar chart of image counts per value of ``by``, largest first, each bar
    labelled with its count.

    Groups beyond ``max_bars`` are folded into one grey "N others" bar at the bottom. Bars
    are coloured by status when ``by="imageStatus"`` (:data:`STATUS_COLOURS`), else one slate
    (:data:`BAR_COLOUR`). ``caption`` is the footer line saying where the data comes from and
    when (default: :func:`chart_caption` of ``df``; ``""`` for none). ``width`` is in inches
    (a narrower figure shown at the same size has larger text). ``table``: the
    :func:`~imgframe.summary.summarize` result of ``df`` by ``by``, when the caller has it
    already (the report does), so the frame is not counted twice.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "category": "Ubuntu"},
    ...                          {"imageId": "b", "category": "Debian"}], zone_id="z")
    >>> fig = summary_chart(df, "category")
    >>> fig.get_suptitle()
    'Images by category'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    if max_bars < 2:
        raise InvalidArgument("summary_chart: max_bars must be at least 2")
    if table is None:
        table = summarize(df, by=(by,), sizes=False)
    labels = [str(v) for v in table[by]]
    counts = [int(n) for n in table["images"]]
    if by == "imageStatus":
        colours = [STATUS_COLOURS.get(label, _BAR_COLOUR) for label in labels]
    else:
        colours = [_OTHER_COLOUR if label == NONE_LABEL else _BAR_COLOUR for label in labels]
    if len(labels) > max_bars:
        kept = max_bars - 1
        rest = len(labels) - kept
        labels = [*labels[:kept], f"{rest} others"]
        counts = [*counts[:kept], sum(counts[kept:])]
        colours = [*colours[:kept], _OTHER_COLOUR]

    name = _NAMES.get(by, by)
    # "OS type" keeps its capitals; "Category" reads as "Images by category".
    phrase = name if name[:2].isupper() or by not in _NAMES else name.lower()
    heading = title if title is not None else f"Images by {phrase}"
    height = max(2.6, 1.3 + 0.36 * max(len(labels), 1))
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _heading(fig, heading)
    _footer(fig, chart_caption(df) if caption is None else caption)
    if not counts:
        _nothing_to_draw(ax, "No images")
        return fig

    positions = list(range(len(labels)))
    # A thin dark edge keeps light bars (DELETING's yellow) visible on white.
    bars = ax.barh(
        positions, counts, color=colours, height=0.68, zorder=2, edgecolor=_EDGE, linewidth=0.4
    )
    ax.set_yticks(positions, labels=[_label(v, LABEL_CHARS) for v in labels], fontsize=10)
    ax.invert_yaxis()  # largest group on top, as it is read
    ax.bar_label(bars, labels=[f"{n:,}" for n in counts], padding=4, fontsize=9, color=_TEXT_COLOUR)
    ax.set_xlim(0, max(counts) * 1.14 + 0.5)  # room for the count after the longest bar
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("Images", fontsize=10, color=_TEXT_COLOUR)
    ax.set_ylabel(_label(name, 40), fontsize=10, color=_TEXT_COLOUR)
    _tidy(ax)
    ax.grid(axis="x", color=_GRID_COLOUR, linewidth=0.8, zorder=0)
    return fig


def summary_charts(df: pd.DataFrame, *, caption: str | None = None) -> dict[str, Figure]:
    """The standard charts: ``by_category``, ``by_osType``, ``by_imageStatus``, and
    ``by_zone`` when the frame holds more than one zone (each zone's bar split by status).
    ``caption`` as for :func:`summary_chart`.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "zoneId": "z1"}, {"imageId": "b",
    ...                           "zoneId": "z2"}])
    >>> list(summary_charts(df))
    ['by_category', 'by_osType', 'by_imageStatus', 'by_zone']
    """
    line = chart_caption(df) if caption is None else caption
    figures = {
        "by_category": summary_chart(df, "category", caption=line),
        "by_osType": summary_chart(df, "osType", caption=line),
        "by_imageStatus": summary_chart(df, "imageStatus", caption=line),
    }
    if "zoneId" in df.columns and df["zoneId"].nunique(dropna=True) > 1:
        figures["by_zone"] = status_breakdown_chart(df, "zoneId", caption=line)
    return figures


def status_breakdown_chart(
    df: pd.DataFrame,
    by: str = "zoneId",
    *,
    title: str | None = None,
    max_bars: int = MAX_BARS,
    caption: str | None = None,
    width: float = FIGURE_WIDTH,
) -> Figure:
    """Horizontal bars of image counts per value of ``by`` (largest first), each split into
    its statuses in :data:`STATUS_COLOURS`, with a legend naming them and the total after
    each bar. Groups beyond ``max_bars`` are folded into one "N others" bar.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "zoneId": "z1", "imageStatus": "AVAILABLE"},
    ...     {"imageId": "b", "zoneId": "z1", "imageStatus": "FAILED"},
    ...     {"imageId": "c", "zoneId": "z2", "imageStatus": "AVAILABLE"}])
    >>> fig = status_breakdown_chart(df)
    >>> fig.get_suptitle(), [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ('Images by zone and status', ['AVAILABLE', 'FAILED'])
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    if max_bars < 2:
        raise InvalidArgument("status_breakdown_chart: max_bars must be at least 2")
    if by not in df.columns:
        raise InvalidArgument(f"status_breakdown_chart: the frame has no {by!r} column")
    status = df["imageStatus"] if "imageStatus" in df.columns else pd.Series(pd.NA, index=df.index)
    # Counted on the columns as they are (categoricals by code), labelled afterwards.
    pairs = pd.DataFrame({"group": df[by].to_numpy(), "status": status.to_numpy()})
    counted = pairs.value_counts(dropna=False).reset_index(name="images")
    counted["group"] = counted["group"].astype("string").fillna(NONE_LABEL)
    counted["status"] = counted["status"].astype("string").fillna(NONE_LABEL)
    totals = counted.groupby("group")["images"].sum().reset_index()
    totals = totals.sort_values(["images", "group"], ascending=[False, True], kind="stable")
    groups = [str(v) for v in totals["group"]]
    if len(groups) > max_bars:
        kept = groups[: max_bars - 1]
        label_of = {g: g for g in kept}
        other = f"{len(groups) - len(kept)} others"
        groups = [*kept, other]
    else:
        label_of = {g: g for g in groups}
        other = ""
    if other:
        counted["group"] = counted["group"].where(counted["group"].isin(list(label_of)), other)
    counts = (
        counted.pivot_table(
            index="group", columns="status", values="images", aggfunc="sum", fill_value=0
        )
        if len(counted)
        else pd.DataFrame()
    )
    name = _NAMES.get(by, by)
    phrase = name if name[:2].isupper() or by not in _NAMES else name.lower()
    heading = title if title is not None else f"Images by {phrase} and status"
    height = max(2.8, 1.7 + 0.36 * max(len(groups), 1))
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _heading(fig, heading)
    _footer(fig, chart_caption(df) if caption is None else caption)
    if counts.empty:
        _nothing_to_draw(ax, "No images")
        return fig
    counts = counts.reindex(groups, fill_value=0)
    positions = list(range(len(groups)))
    left = [0] * len(groups)
    for state in status_order(str(c) for c in counts.columns):
        values = [int(str(v)) for v in counts[state].tolist()]
        ax.barh(
            positions,
            values,
            left=left,
            height=0.68,
            zorder=2,
            color=STATUS_COLOURS.get(state, _BAR_COLOUR),
            edgecolor=_EDGE,
            linewidth=0.4,
            label=_label(state, LABEL_CHARS),
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(positions, labels=[_label(g, LABEL_CHARS) for g in groups], fontsize=10)
    ax.invert_yaxis()
    for y, total in zip(positions, left, strict=True):
        ax.text(total, y, f" {total:,}", va="center", fontsize=9, color=_TEXT_COLOUR)
    ax.set_xlim(0, max(left) * 1.16 + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("Images", fontsize=10, color=_TEXT_COLOUR)
    ax.set_ylabel(_label(name, 40), fontsize=10, color=_TEXT_COLOUR)
    ax.legend(
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncols=4,
        frameon=False,
        fontsize=9,
        handlelength=1.2,
        columnspacing=1.2,
    )
    _tidy(ax)
    ax.grid(axis="x", color=_GRID_COLOUR, linewidth=0.8, zorder=0)
    return fig


def chart_caption(df: pd.DataFrame, *, source: str = "Zenlayer image inventory") -> str:
    """The footer line of a chart: where its data comes from and when it was fetched.

    >>> from datetime import datetime, UTC
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a"}], zone_id="z",
    ...                         fetched_at=datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    >>> chart_caption(df)
    'Source: Zenlayer image inventory, 1 image, fetched 2025-03-01 08:30 UTC'
    """
    parts = [f"Source: {source}, {len(df):,} image" + ("" if len(df) == 1 else "s")]
    if "fetchedAt" in df.columns and len(df) and df["fetchedAt"].notna().any():
        latest = pd.Timestamp(df["fetchedAt"].max())
        latest = latest.tz_localize("UTC") if latest.tzinfo is None else latest.tz_convert("UTC")
        parts.append(f"fetched {latest.strftime('%Y-%m-%d %H:%M')} UTC")
    return ", ".join(parts)


def trend_chart(
    trend: pd.DataFrame, *, title: str | None = None, caption: str | None = None
) -> Figure:
    """Stacked bars of image counts per snapshot date, one colour per status.

    ``trend`` has columns ``snapshot_date``, ``imageStatus`` and ``images`` (one row per date
    and status, as the history module gives it). ``caption`` is the footer line (default:
    the dates it covers; ``""`` for none).

    >>> trend = pd.DataFrame({"snapshot_date": ["2025-03-01", "2025-03-01", "2025-03-02"],
    ...                       "imageStatus": ["AVAILABLE", "FAILED", "AVAILABLE"],
    ...                       "images": [10, 1, 12]})
    >>> trend_chart(trend).get_suptitle()
    'Images by status over time'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    table = trend_table(trend).set_index("snapshot_date")

    fig = Figure(figsize=(FIGURE_WIDTH, 3.8), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _heading(fig, title or "Images by status over time")
    if caption is None:
        caption = (
            f"Source: snapshot store, {len(table)} snapshot"
            + ("" if len(table) == 1 else "s")
            + (f", {table.index[0]} to {table.index[-1]}" if len(table) > 1 else "")
            if len(table)
            else ""
        )
    _footer(fig, caption)
    if table.empty:
        _nothing_to_draw(ax, "No snapshots")
        return fig
    positions = list(range(len(table)))
    bottom = [0] * len(table)
    for status in table.columns:
        values = [int(v) for v in table[status]]
        ax.bar(
            positions,
            values,
            bottom=bottom,
            width=0.7,
            zorder=2,
            color=STATUS_COLOURS.get(status, _BAR_COLOUR),
            edgecolor=_EDGE,
            linewidth=0.4,
            label=_label(status, LABEL_CHARS),
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    step = max(1, len(positions) // 12)  # at most ~12 date labels, however long the history
    ax.set_xticks(
        positions[::step],
        labels=[_label(d, 12) for d in table.index[::step]],
        fontsize=9,
        rotation=30 if len(positions) > 6 else 0,
        ha="right" if len(positions) > 6 else "center",
    )
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_ylabel("Images", fontsize=10, color=_TEXT_COLOUR)
    ax.set_xlabel("Snapshot date", fontsize=10, color=_TEXT_COLOUR)
    handles, names = ax.get_legend_handles_labels()
    # Listed top to bottom in the order the segments are stacked, so the legend reads
    # like the bars.
    ax.legend(
        handles[::-1],
        names[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )
    _tidy(ax)
    ax.grid(axis="y", color=_GRID_COLOUR, linewidth=0.8, zorder=0)
    return fig


def trend_table(trend: pd.DataFrame) -> pd.DataFrame:
    """A :func:`~imgframe.status_trend` frame pivoted for reading: dates down (as
    ``YYYY-MM-DD`` text), statuses across in :func:`status_order`, image counts in the cells.

    >>> trend = pd.DataFrame({"snapshot_date": ["2025-03-01", "2025-03-01", "2025-03-02"],
    ...                       "imageStatus": ["FAILED", "AVAILABLE", "AVAILABLE"],
    ...                       "images": [1, 10, 12]})
    >>> trend_table(trend).to_dict("records")
    [{'snapshot_date': '2025-03-01', 'AVAILABLE': 10, 'FAILED': 1}, \
{'snapshot_date': '2025-03-02', 'AVAILABLE': 12, 'FAILED': 0}]
    """
    missing = {"snapshot_date", "imageStatus", "images"} - set(trend.columns)
    if missing:
        raise InvalidArgument(f"trend: the trend frame has no {', '.join(sorted(missing))}")
    data = pd.DataFrame(
        {
            "snapshot_date": trend["snapshot_date"].map(_date_label),
            "status": trend["imageStatus"].astype("string").fillna(NONE_LABEL),
            "images": pd.to_numeric(trend["images"]).fillna(0).astype("int64"),
        }
    )
    table = data.pivot_table(
        index="snapshot_date", columns="status", values="images", aggfunc="sum", fill_value=0
    ).sort_index()
    table = table[status_order(table.columns)]
    table.columns = [str(c) for c in table.columns]
    return table.reset_index()


def status_order(statuses: Iterable[str]) -> list[str]:
    """Statuses in the order charts stack and list them: healthy first, as
    :data:`STATUS_COLOURS` lists them, then unknown ones alphabetically.

    >>> status_order(["FAILED", "NEW", "AVAILABLE"])
    ['AVAILABLE', 'FAILED', 'NEW']
    """
    present = list(dict.fromkeys(statuses))
    return [s for s in STATUS_COLOURS if s in present] + sorted(
        s for s in present if s not in STATUS_COLOURS
    )


def save_charts(
    figures: Mapping[str, Figure],
    directory: str | os.PathLike[str],
    format: str = "png",
) -> list[Path]:
    """Write each figure as ``images_<key>.<format>`` (``images_by_category.png``, ...) into
    ``directory`` (created), each file atomically. Returns the paths in the order given.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "category": "Ubuntu"}], zone_id="z")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in save_charts(summary_charts(df), tmp)]
    ['images_by_category.png', 'images_by_osType.png', 'images_by_imageStatus.png']
    """
    if format not in ("png", "svg"):
        raise InvalidArgument(f"format must be png or svg, not {format!r}")
    root = Path(directory)
    paths = []
    for key, figure in figures.items():
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", key)
        path = root / f"{stem if stem.startswith('images_') else 'images_' + stem}.{format}"
        with atomic_file(path) as fh:
            fh.write(figure_bytes(figure, format=format))
        paths.append(path)
    return paths


def figure_bytes(figure: Figure, *, format: str = "png", dpi: int = _DPI) -> bytes:
    """The figure encoded as PNG or SVG (no timestamps inside, so the bytes are repeatable).

    SVG keeps its text as ``<text>`` elements (``svg.fonttype: none``), so labels stay
    searchable and selectable, and the file small.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a"}], zone_id="z")
    >>> figure_bytes(summary_chart(df, "category"))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    if format not in ("png", "svg"):
        raise InvalidArgument(f"format must be png or svg, not {format!r}")
    buffer = io.BytesIO()
    metadata: dict[str, str | None] = (
        {"Software": None} if format == "png" else {"Date": None, "Creator": None}
    )
    import matplotlib

    # A fixed salt makes SVG element ids repeatable (matplotlib draws them at random).
    with (
        _quiet_glyphs(),
        matplotlib.rc_context({"svg.hashsalt": "imgframe", "svg.fonttype": "none"}),
    ):
        figure.savefig(buffer, format=format, dpi=dpi, metadata=metadata, facecolor="white")
    return buffer.getvalue()


@contextmanager
def _quiet_glyphs() -> Iterator[None]:
    # Fonts without CJK or emoji glyphs draw a box; one warning per glyph helps nobody.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def _label(value: object, limit: int) -> str:
    text = display_text(value)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    # A pair of "$" would make matplotlib typeset the label as mathtext.
    return text.replace("$", r"\$")


def _date_label(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return display_text(value)


def _nothing_to_draw(ax: Axes, text: str) -> None:
    ax.text(
        0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#718096",
        transform=ax.transAxes,
    )  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _heading(fig: Figure, text: str) -> None:
    # A figure title at the left edge lines up across charts, whatever their label widths.
    fig.suptitle(
        _label(text, 90), x=0.012, ha="left", fontsize=13, fontweight="bold", color=_TEXT_COLOUR
    )


def _footer(fig: Figure, text: str) -> None:
    if text:
        fig.text(0.012, 0.004, _label(text, 140), ha="left", va="bottom", fontsize=8,
                 color=_MUTED_COLOUR)  # fmt: skip
        # constrained layout ignores figure texts: keep the x label clear of the footer
        fig.get_layout_engine().set(rect=(0, 0.045, 1, 0.955))  # type: ignore[union-attr,call-arg]


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#a0aec0")
    ax.tick_params(colors=_TEXT_COLOUR, labelcolor=_TEXT_COLOUR)
