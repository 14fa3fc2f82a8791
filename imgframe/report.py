"""The inventory report: one self-contained HTML page and the same content as Markdown.

The HTML file stands alone: CSS inline, charts embedded as ``data:image/png;base64`` PNGs,
no ``<script>`` and no external URL, and a Content-Security-Policy that forbids both even
if a value slipped through. Every value from the API is cleaned with
:func:`~imgframe.summary.display_text` (escape sequences, control and bidi-override
characters removed) and then HTML-escaped, or Markdown-escaped with
:func:`~imgframe.summary.markdown_cell`.

Sections: headline figures, charts (HTML only), counts by category, OS type, status and
zone, hygiene findings, the changes since the previous snapshot and the trend (when
given), and the image list (capped at ``max_rows``).

Hygiene findings:

- custom images without tags;
- images whose status is not AVAILABLE (FAILED, UNAVAILABLE, CREATING, ... or missing);
- with ``require_tags``: custom images missing any of those tag keys. Public images are
  left out: their tags are Zenlayer's, not something an account can fix.
"""

from __future__ import annotations

import base64
import html
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._version import __version__
from .charts import figure_bytes, summary_charts, trend_chart, trend_table
from .durable import atomic_file
from .errors import InvalidArgument
from .history import diff_store, list_snapshots, status_trend
from .summary import headline, summarize
from .text import display_text, markdown_cell

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "HTML_NAME",
    "MARKDOWN_NAME",
    "Finding",
    "ReportPaths",
    "build_report",
    "build_report_html",
    "build_report_markdown",
    "hygiene_findings",
]

HTML_NAME = "inventory-report.html"
MARKDOWN_NAME = "inventory-report.md"
DEFAULT_TITLE = "Zenlayer image inventory"

# Finding and change lists longer than this start folded.
_OPEN_ROWS = 20
# Longest cell text shown in a table (names, descriptions), in characters.
_CELL_CHARS = 120
_IMAGE_COLUMNS = (
    "zoneId",
    "imageId",
    "imageName",
    "imageType",
    "category",
    "osType",
    "imageStatus",
    "imageSize",
    "tags",
)
_FINDING_COLUMNS = ("zoneId", "imageId", "imageName", "imageStatus")
_CHANGE_COLUMNS = ("zoneId", "imageId", "imageName", "imageType", "imageStatus")
_CHANGED_COLUMNS = ("zoneId", "imageId", "field", "old", "new")
_COUNT_TABLES = (
    ("category", "By category"),
    ("osType", "By OS type"),
    ("imageStatus", "By status"),
    ("zoneId", "By zone"),
)
# Identifiers and enum values read best unbroken; names and tags wrap.
_CELL_CLASSES = {
    "imageId": ' class="id"',
    "imageName": ' class="name"',
    "tags": ' class="tags"',
    **dict.fromkeys(
        ("zoneId", "imageType", "imageSource", "category", "osType", "imageStatus"), ' class="key"'
    ),
}
_HEADERS = {
    "zoneId": "Zone",
    "imageId": "Image ID",
    "imageName": "Name",
    "imageType": "Type",
    "imageSource": "Source",
    "category": "Category",
    "osType": "OS type",
    "imageStatus": "Status",
    "imageSize": "Size (GiB)",
    "sizeGiB": "Size (GiB)",
    "images": "Images",
    "tags": "Tags",
    "missing": "Missing tag keys",
    "field": "Field",
    "old": "Before",
    "new": "After",
    "snapshot_date": "Date",
}


@dataclass(frozen=True)
class ReportPaths:
    """The two files :func:`build_report` wrote."""

    html: Path
    markdown: Path


@dataclass(frozen=True)
class Finding:
    """One hygiene check: what it looks for, and the images it found (possibly none)."""

    key: str
    title: str
    description: str
    images: pd.DataFrame


# --------------------------------------------------------------------------------------------
# Content


def hygiene_findings(df: pd.DataFrame, *, require_tags: Sequence[str] = ()) -> list[Finding]:
    """The hygiene checks of the report, each with the images it flags.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "imageType": "CUSTOM_IMAGE", "imageStatus": "AVAILABLE"},
    ...     {"imageId": "b", "imageType": "PUBLIC_IMAGE", "imageStatus": "FAILED"}], zone_id="z")
    >>> [(f.key, len(f.images)) for f in hygiene_findings(df, require_tags=["owner"])]
    [('untagged', 1), ('not_available', 1), ('missing_tags', 1)]
    """
    tag_count = _tag_counts(df)
    custom = (_text(df, "imageType") == "CUSTOM_IMAGE").fillna(False).astype(bool)
    status = _text(df, "imageStatus")
    untagged = df[custom & (tag_count == 0)]
    not_available = df[(status != "AVAILABLE").fillna(True).astype(bool)]
    findings = [
        Finding(
            "untagged",
            "Custom images without tags",
            "Custom images that carry no tag at all, so nobody can tell who owns them.",
            _sorted(untagged),
        ),
        Finding(
            "not_available",
            "Images not available",
            "Images whose status is anything but AVAILABLE (or missing).",
            _sorted(not_available),
        ),
    ]
    keys = [k for k in dict.fromkeys(require_tags) if k]
    if keys:
        missing = _missing_keys(df, keys)
        flagged = df[custom & (missing != "")].copy()
        flagged["missing"] = missing[flagged.index]
        findings.append(
            Finding(
                "missing_tags",
                "Custom images missing required tags",
                "Custom images without every required tag key: "
                + ", ".join(display_text(k) for k in keys)
                + ".",
                _sorted(flagged),
            )
        )
    return findings


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    return df[column].astype("string")


def _tag_counts(df: pd.DataFrame) -> pd.Series:
    if "tags" not in df.columns:
        return pd.Series(0, index=df.index)
    return pd.Series([len(t) if isinstance(t, list) else 0 for t in df["tags"]], index=df.index)


def _missing_keys(df: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Per image, the required keys it lacks, comma-separated ("" when it has them all)."""
    tags = df["tags"] if "tags" in df.columns else pd.Series([[]] * len(df), index=df.index)
    out = []
    for image_tags in tags:
        present = (
            {t.get("key") for t in image_tags if isinstance(t, dict)}
            if isinstance(image_tags, list)
            else set()
        )
        out.append(", ".join(k for k in keys if k not in present))
    return pd.Series(out, index=df.index, dtype="object")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("zoneId", "imageName", "imageId") if c in df.columns]
    if not keys or df.empty:
        return df.reset_index(drop=True)
    order = pd.DataFrame({k: df[k].astype("string") for k in keys})
    return df.loc[order.sort_values(keys, kind="stable").index].reset_index(drop=True)


def _fetched_line(df: pd.DataFrame) -> str:
    figures = headline(df)
    parts = [
        f"{figures['images']:,} images in {figures['zones']:,} zone"
        + ("" if figures["zones"] == 1 else "s")
    ]
    if "fetchedAt" in df.columns and df["fetchedAt"].notna().any():
        latest = pd.Timestamp(df["fetchedAt"].max())
        if latest.tzinfo is not None:
            latest = latest.tz_convert("UTC")
        parts.append(f"fetched {latest.strftime('%Y-%m-%d %H:%M')} UTC")
    parts.append(f"imgframe {__version__}")
    return " · ".join(parts)


def _headline_items(df: pd.DataFrame) -> list[tuple[str, int, str]]:
    """(label, value, tone) for each headline figure; tone is "" or "bad"."""
    figures = headline(df)
    return [
        ("Images", figures["images"], ""),
        ("Zones", figures["zones"], ""),
        ("Public", figures["public"], ""),
        ("Custom", figures["custom"], ""),
        ("Available", figures["available"], ""),
        ("Not available", figures["not_available"], "bad" if figures["not_available"] else ""),
        ("Total size (GiB)", figures["size_gib"], ""),
    ]


def _count_tables(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    return [(title, summarize(df, by=(by,))) for by, title in _COUNT_TABLES if by in df.columns]


def _image_table(df: pd.DataFrame) -> pd.DataFrame:
    return _sorted(df)[[c for c in _IMAGE_COLUMNS if c in df.columns]]


def _change_sections(
    changes: Mapping[str, pd.DataFrame | None] | None,
) -> list[tuple[str, str, pd.DataFrame]]:
    """(key, title, table) for the added, removed and changed images."""
    if changes is None:
        return []
    unknown = set(changes) - {"added", "removed", "changed"}
    if unknown:
        raise InvalidArgument(f"changes: unknown keys {sorted(unknown)}")
    sections = []
    for key, title, wanted in (
        ("added", "Added", _CHANGE_COLUMNS),
        ("removed", "Removed", _CHANGE_COLUMNS),
        ("changed", "Changed", _CHANGED_COLUMNS),
    ):
        frame = changes.get(key)
        if frame is None:
            frame = pd.DataFrame(columns=list(wanted))
        columns = [c for c in wanted if c in frame.columns] or list(frame.columns)
        sections.append((key, title, frame[columns].reset_index(drop=True)))
    return sections


def _images_in(key: str, frame: pd.DataFrame) -> int:
    """Images in a change section: "changed" has one row per changed field, so count keys."""
    keys = [c for c in ("zoneId", "imageId") if c in frame.columns]
    if key == "changed" and keys:
        return len(frame[keys].drop_duplicates())
    return len(frame)


def _check_trend(trend: pd.DataFrame | None) -> pd.DataFrame | None:
    if trend is None:
        return None
    missing = {"snapshot_date", "imageStatus", "images"} - set(trend.columns)
    if missing:
        raise InvalidArgument(f"trend: missing column(s) {', '.join(sorted(missing))}")
    return trend


def _check_max_rows(max_rows: int) -> None:
    if max_rows < 0:
        raise InvalidArgument("max_rows must be 0 or more")


# --------------------------------------------------------------------------------------------
# HTML


_CSS = """
:root { --ink: #1a202c; --muted: #4a5568; --line: #e2e8f0; --soft: #f7fafc;
        --blue: #3b6ea5; --green: #2f855a; --amber: #b7791f; --red: #c53030; }
* { box-sizing: border-box; }
body { margin: 0; background: #edf2f7; color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 32px 48px; background: #fff;
       min-height: 100vh; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 12px; padding-bottom: 6px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
p.meta { color: var(--muted); margin: 0 0 8px; }
nav { margin: 12px 0 4px; font-size: 14px; }
nav a { color: var(--blue); margin-right: 14px; text-decoration: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 12px;
         margin: 20px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
        background: var(--soft); }
.card .value { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 13px; }
.card.bad .value { color: var(--red); }
figure { margin: 8px 0 20px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 6px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 8px 28px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 4px 0 8px; }
th, td { text-align: left; padding: 5px 7px; border-bottom: 1px solid var(--line);
         vertical-align: top; overflow-wrap: anywhere; unicode-bidi: isolate; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { white-space: nowrap; }
td.name, td.tags { min-width: 11em; }
td.id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px;
        white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
.finding { border-left: 4px solid var(--green); padding: 2px 0 2px 14px; margin: 16px 0; }
.finding.warn { border-left-color: var(--amber); }
.finding h3 { margin-top: 4px; }
.count { display: inline-block; min-width: 28px; padding: 0 8px; border-radius: 10px;
         background: var(--green); color: #fff; font-size: 13px; text-align: center; }
.warn .count { background: var(--amber); }
.note { color: var(--muted); font-size: 13px; font-style: italic; }
details summary { cursor: pointer; color: var(--blue); margin: 4px 0 8px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


def build_report_html(
    df: pd.DataFrame,
    *,
    title: str = DEFAULT_TITLE,
    require_tags: Sequence[str] = (),
    max_rows: int = 500,
    changes: Mapping[str, pd.DataFrame | None] | None = None,
    trend: pd.DataFrame | None = None,
) -> str:
    """The report as one self-contained HTML document (see the module docstring).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "imageName": "<b>x</b>"}], zone_id="z")
    >>> page = build_report_html(df)
    >>> "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page and "<script" not in page
    True
    """
    _check_max_rows(max_rows)
    trend = _check_trend(trend)
    change_sections = _change_sections(changes)
    out: list[str] = []
    emit = out.append

    emit("<!DOCTYPE html>")
    emit('<html lang="en"><head><meta charset="utf-8">')
    emit('<meta name="viewport" content="width=device-width, initial-scale=1">')
    emit(
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
    )
    emit(f"<title>{_h(title)}</title>")
    emit(f"<style>{_CSS}</style></head><body><main>")
    emit(f"<header><h1>{_h(title)}</h1><p class='meta'>{_h(_fetched_line(df))}</p>")
    sections = [("charts", "Charts"), ("counts", "Counts"), ("findings", "Hygiene findings")]
    if change_sections:
        sections.append(("changes", "Changes"))
    if trend is not None:
        sections.append(("trend", "Trend"))
    sections.append(("images", "Images"))
    emit("<nav>" + "".join(f'<a href="#{key}">{name}</a>' for key, name in sections) + "</nav>")
    emit("</header>")

    emit('<section class="cards" aria-label="Headline figures">')
    for label, value, tone in _headline_items(df):
        emit(
            f'<div class="card {tone}"><div class="value">{value:,}</div>'
            f'<div class="label">{label}</div></div>'
        )
    emit("</section>")

    emit('<section id="charts"><h2>Charts</h2>')
    for key, figure in summary_charts(df).items():
        emit(_img(figure, alt=_chart_alt(key)))
    emit("</section>")

    emit('<section id="counts"><h2>Counts</h2><div class="grid">')
    for heading, table in _count_tables(df):
        emit(f"<div><h3>{_h(heading)}</h3>{_html_table(table, max_rows)}</div>")
    emit("</div></section>")

    emit('<section id="findings"><h2>Hygiene findings</h2>')
    for finding in hygiene_findings(df, require_tags=require_tags):
        count = len(finding.images)
        columns = [c for c in (*_FINDING_COLUMNS, "missing") if c in finding.images.columns]
        emit(f'<div class="finding{" warn" if count else ""}" id="finding-{finding.key}">')
        emit(f'<h3>{_h(finding.title)} <span class="count">{count:,}</span></h3>')
        emit(f"<p>{_h(finding.description)}</p>")
        if finding.key == "not_available" and count:
            by_status = summarize(finding.images, by=("imageStatus",), sizes=False)
            emit(
                "<p>"
                + " · ".join(
                    f"{_h(s)}: {n:,}"
                    for s, n in zip(by_status["imageStatus"], by_status["images"], strict=True)
                )
                + "</p>"
            )
        if count:
            emit(_collapsible(finding.images[columns], max_rows))
        else:
            emit('<p class="note">None found.</p>')
        emit("</div>")
    emit("</section>")

    if change_sections:
        emit('<section id="changes"><h2>Changes since the previous snapshot</h2>')
        emit(
            "<p>"
            + " · ".join(f"{name}: {_images_in(key, f):,}" for key, name, f in change_sections)
            + "</p>"
        )
        for key, name, frame in change_sections:
            emit(f"<h3>{name} ({_images_in(key, frame):,})</h3>")
            if len(frame):
                emit(_collapsible(frame, max_rows))
            else:
                emit('<p class="note">None.</p>')
        emit("</section>")

    if trend is not None:
        emit('<section id="trend"><h2>Trend</h2>')
        if len(trend):
            emit(_img(trend_chart(trend), alt="Images by status over time"))
            emit(_html_table(trend_table(trend), max_rows))
        else:
            emit('<p class="note">No snapshots yet.</p>')
        emit("</section>")

    emit('<section id="images"><h2>Images</h2>')
    emit(_html_table(_image_table(df), max_rows))
    emit("</section>")
    emit(f"<footer>Generated by imgframe {_h(__version__)}.</footer>")
    emit("</main></body></html>")
    return "\n".join(out) + "\n"


def _h(value: Any) -> str:
    """Cleaned and HTML-escaped text."""
    return html.escape(display_text(value), quote=True)


def _chart_alt(key: str) -> str:
    name = key.removeprefix("by_")
    nice = {"osType": "OS type", "imageStatus": "status"}.get(name, name)
    return f"Bar chart of images by {nice}"


def _img(figure: Figure, *, alt: str) -> str:
    png = figure_bytes(figure, format="png")
    # The pixel size from the PNG header (IHDR), so the page reserves exactly its space.
    width, height = struct.unpack(">II", png[16:24])
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{_h(alt)}" width="{width}" height="{height}" '
        f'src="data:image/png;base64,{data}"></figure>'
    )


def _collapsible(frame: pd.DataFrame, max_rows: int) -> str:
    """A table that starts folded when it is long, so the findings stay readable at a glance
    (``<details>`` needs no script)."""
    table = _html_table(frame, max_rows)
    if len(frame) <= _OPEN_ROWS:
        return table
    return f"<details><summary>Show {len(frame):,} images</summary>{table}</details>"


def _html_table(frame: pd.DataFrame, max_rows: int) -> str:
    numeric = [_is_number(frame[c].dtype) for c in frame.columns]
    head = "".join(
        f"<th{' class=num' if num else ''}>{_h(_HEADERS.get(str(c), c))}</th>"
        for c, num in zip(frame.columns, numeric, strict=True)
    )
    rows = []
    for row in frame.head(max_rows).itertuples(index=False, name=None):
        cells = []
        for column, value, num in zip(frame.columns, row, numeric, strict=True):
            if num:
                cells.append(f'<td class="num">{_number(value)}</td>')
            else:
                css = _CELL_CLASSES.get(str(column), "")
                cells.append(f"<td{css}>{_h(_clip(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = len(frame) - min(len(frame), max_rows)
    note = f'<p class="note">{more:,} more rows not shown.</p>' if more else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _is_number(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype)) and not pd.api.types.is_bool_dtype(dtype)


def _number(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def _clip(value: Any) -> str:
    text = display_text(value)
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


# --------------------------------------------------------------------------------------------
# Markdown


def build_report_markdown(
    df: pd.DataFrame,
    *,
    title: str = DEFAULT_TITLE,
    require_tags: Sequence[str] = (),
    max_rows: int = 500,
    changes: Mapping[str, pd.DataFrame | None] | None = None,
    trend: pd.DataFrame | None = None,
) -> str:
    """The report as Markdown: the HTML report's content without the charts.

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "imageName": "x|y"}], zone_id="z")
    >>> "x\\\\|y" in build_report_markdown(df)
    True
    """
    _check_max_rows(max_rows)
    trend = _check_trend(trend)
    change_sections = _change_sections(changes)
    out: list[str] = [f"# {markdown_cell(title)}", "", markdown_cell(_fetched_line(df)), ""]
    items = _headline_items(df)
    out += [
        "| " + " | ".join(label for label, _, _ in items) + " |",
        "| " + " | ".join("---:" for _ in items) + " |",
        "| " + " | ".join(f"{value:,}" for _, value, _ in items) + " |",
        "",
        "_Charts are in the HTML report._",
        "",
        "## Counts",
        "",
    ]
    for heading, table in _count_tables(df):
        out += [f"### {heading}", "", _md_table(table, max_rows), ""]

    out += ["## Hygiene findings", ""]
    for finding in hygiene_findings(df, require_tags=require_tags):
        count = len(finding.images)
        columns = [c for c in (*_FINDING_COLUMNS, "missing") if c in finding.images.columns]
        out += [f"### {finding.title}: {count:,}", "", markdown_cell(finding.description), ""]
        if finding.key == "not_available" and count:
            by_status = summarize(finding.images, by=("imageStatus",), sizes=False)
            pairs = zip(by_status["imageStatus"], by_status["images"], strict=True)
            out += [" · ".join(f"{markdown_cell(s)}: {n:,}" for s, n in pairs), ""]
        out += [_md_table(finding.images[columns], max_rows) if count else "None found.", ""]

    if change_sections:
        out += ["## Changes since the previous snapshot", ""]
        out += [
            " · ".join(f"{name}: {_images_in(key, f):,}" for key, name, f in change_sections),
            "",
        ]
        for key, name, frame in change_sections:
            out += [f"### {name} ({_images_in(key, frame):,})", ""]
            out += [_md_table(frame, max_rows) if len(frame) else "None.", ""]

    if trend is not None:
        out += ["## Trend", ""]
        out += [_md_table(trend_table(trend), max_rows) if len(trend) else "No snapshots yet.", ""]

    out += ["## Images", "", _md_table(_image_table(df), max_rows), ""]
    return "\n".join(out)


def _md_table(frame: pd.DataFrame, max_rows: int) -> str:
    numeric = [_is_number(frame[c].dtype) for c in frame.columns]
    lines = [
        "| " + " | ".join(markdown_cell(_HEADERS.get(str(c), c)) for c in frame.columns) + " |",
        "| " + " | ".join("---:" if num else "---" for num in numeric) + " |",
    ]
    for row in frame.head(max_rows).itertuples(index=False, name=None):
        cells = [
            _number(v) if num else markdown_cell(_clip(v))
            for v, num in zip(row, numeric, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    more = len(frame) - min(len(frame), max_rows)
    if more:
        lines += ["", f"_{more:,} more rows not shown._"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Files


def build_report(
    df: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    title: str = DEFAULT_TITLE,
    require_tags: Sequence[str] = (),
    max_rows: int = 500,
    changes: Mapping[str, pd.DataFrame | None] | None = None,
    trend: pd.DataFrame | None = None,
    store: str | os.PathLike[str] | None = None,
) -> ReportPaths:
    """Write ``inventory-report.html`` and ``inventory-report.md`` into ``out_dir`` (created),
    each atomically, replacing earlier ones.

    ``changes`` maps ``added``/``removed``/``changed`` to frames (``changed`` with columns
    zoneId, imageId, field, old, new); ``trend`` has columns snapshot_date, imageStatus,
    images. Either may be ``None`` to leave its section out. ``store`` (a snapshot store)
    fills both when they are not given: the changes between its last two snapshots (when it
    has two) and its status trend.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a"}], zone_id="z")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = build_report(df, tmp)
    ...     paths.html.name, paths.markdown.name
    ('inventory-report.html', 'inventory-report.md')
    """
    if store is not None:
        if changes is None and len(list_snapshots(store)) >= 2:
            changes = diff_store(store).as_dict()
        if trend is None:
            trend = status_trend(store)
    options: dict[str, Any] = {
        "title": title,
        "require_tags": require_tags,
        "max_rows": max_rows,
        "changes": changes,
        "trend": trend,
    }
    page = build_report_html(df, **options)
    text = build_report_markdown(df, **options)
    root = Path(out_dir)
    paths = ReportPaths(root / HTML_NAME, root / MARKDOWN_NAME)
    with atomic_file(paths.html) as fh:
        fh.write(page.encode("utf-8"))
    with atomic_file(paths.markdown) as fh:
        fh.write(text.encode("utf-8"))
    return paths
