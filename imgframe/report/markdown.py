"""The report as Markdown: the HTML report's content, from the same model, without charts
or the interactive list. Cells are cleaned and escaped with
:func:`~imgframe.text.markdown_cell`, so ``|`` cannot end a cell and ``<script>`` stays text."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..charts import trend_table
from ..text import markdown_cell
from .cells import header, is_number, number_cells, text_cells
from .model import ReportModel

_COMPAT_HEADLINE = ("images", "zones", "public", "custom", "available", "not_available", "size")


def render_markdown(model: ReportModel) -> str:
    out: list[str] = [f"# {markdown_cell(model.scope.title)}", ""]
    out += [f"- **{markdown_cell(k)}**: {markdown_cell(v)}" for k, v in model.scope.lines]
    out += [""] + [f"> **Warning**: {markdown_cell(w)}" for w in model.scope.warnings]
    out += [
        "",
        *_headline(model),
        "",
        "_Charts and the sortable image list are in the HTML report._",
        "",
    ]
    out += _findings(model)
    out += _owners(model)
    out += _unused(model)
    out += _availability(model)
    out += _changes(model)
    if model.trend is not None:
        out += ["## Trend", ""]
        trend = model.trend
        out += [
            _md_table(trend_table(trend), model.max_rows) if len(trend) else "No snapshots yet.",
            "",
        ]
    out += ["## Counts", ""]
    for _, name, table in model.counts:
        out += [f"### {name}", "", _md_table(table, model.max_rows), ""]
    images = model.images
    out += [
        "## Images",
        "",
        _list_note(model),
        "",
        _md_table(images.first, len(images.first), total=images.total),
        "",
    ]
    return "\n".join(out)


def _headline(model: ReportModel) -> list[str]:
    cards = {c.key: c for c in model.cards}
    figures = model.facts
    available = cards["available"].value
    first = [
        ("Images", cards["images"].value), ("Zones", cards["zones"].value),
        ("Public", int(figures.public.sum())), ("Custom", int(figures.custom.sum())),
        ("Available", available), ("Not available", model.images.total - available),
        ("Total size (GiB)", cards["size"].value),
    ]  # fmt: skip
    second = [
        (c.label, c.value if c.detail != "usage not fetched" else None)
        for c in model.cards
        if c.key in ("failed", "unavailable", "in_progress", "unknown", "unused", "untagged")
    ]
    lines = [*_figures(first), "", *_figures(second)]
    progress = cards["in_progress"].detail
    if progress and progress != "none":
        lines += ["", f"In progress: {markdown_cell(progress)}."]
    if cards["unused"].detail:
        lines += ["", f"Unused custom images: {markdown_cell(cards['unused'].detail)}."]
    return lines


def _figures(items: Sequence[tuple[str, int | None]]) -> list[str]:
    return [
        "| " + " | ".join(label for label, _ in items) + " |",
        "| " + " | ".join("---:" for _ in items) + " |",
        "| " + " | ".join("?" if v is None else f"{v:,}" for _, v in items) + " |",
    ]


def _findings(model: ReportModel) -> list[str]:
    out = ["## Hygiene findings", ""]
    for finding in model.findings:
        count = finding.count
        shown = f"{count:,}" if finding.known else "unknown"
        out += [f"### {finding.title}: {shown}", "", markdown_cell(finding.description), ""]
        if not finding.known:
            out += [markdown_cell(finding.note), ""]
        elif not count:
            out += ["None found.", ""]
        elif finding.section != "findings":
            out += ["Listed in its own section below.", ""]
        else:
            if finding.key == "not_available":
                pairs = finding.breakdown
                out += [" · ".join(f"{markdown_cell(s)}: {n:,}" for s, n in pairs), ""]
            out += [_md_table(finding.images, model.max_rows, total=count), ""]
    return out


def _owners(model: ReportModel) -> list[str]:
    owners = model.owners
    out = ["## Owners", "", markdown_cell(owners.how) + " Custom images only.", ""]
    out += [_md_table(owners.table, model.max_rows), ""]
    if owners.groups is not None:
        out += ["### By resource group", "", _md_table(owners.groups, model.max_rows), ""]
    return out


def _unused(model: ReportModel) -> list[str]:
    unused = model.unused
    out = ["## Unused custom images", ""]
    if not unused.known:
        return [*out, markdown_cell(unused.note), ""]
    out += [
        f"**{unused.images:,}** custom images run no instance in any zone they are listed in "
        f"({unused.listings:,} zone listings): **{unused.gib:,} GiB** reclaimable, each "
        "image's size counted once.",
        "",
    ]
    if unused.images:
        out += [
            markdown_cell(unused.age_note),
            "",
            _md_table(unused.table, model.max_rows, total=unused.images),
            "",
        ]
    return out


def _availability(model: ReportModel) -> list[str]:
    out = ["## Availability", ""]
    for matrix in model.availability:
        out += [f"### {markdown_cell(matrix.title)}", "", markdown_cell(matrix.summary), ""]
        if not matrix.table.empty:
            out += [_md_table(matrix.table, len(matrix.table), total=matrix.total), "",
                    markdown_cell(matrix.note), ""]  # fmt: skip
    return out


def _changes(model: ReportModel) -> list[str]:
    changes = model.changes
    if changes is None:
        return []
    out = ["## Changes since the previous snapshot", "", markdown_cell(changes.line), ""]
    if not changes.compared:
        return out
    counts = changes.counts()
    out += [markdown_cell(changes.headline_note), ""]
    out += [" · ".join(f"{k.capitalize()}: {v:,}" for k, v in counts.items()) + " images", ""]
    if len(changes.transitions):
        out += ["### Status transitions", "", _md_table(changes.transitions, model.max_rows), ""]
    if len(changes.tag_changes):
        out += ["### Tag changes", "", _md_table(changes.tag_changes, model.max_rows), ""]
    for name, frame in (("Added", changes.added), ("Removed", changes.removed),
                        ("Changed", changes.changed)):  # fmt: skip
        out += [f"### {name} ({len(frame):,})", ""]
        out += [_md_table(frame, model.max_rows) if len(frame) else "None.", ""]
    return out


def _list_note(model: ReportModel) -> str:
    images = model.images
    return (
        f"Problems first (failed, in use although not available, unused, unavailable, "
        f"untagged, missing tags, in progress), largest first within each. Every image is in "
        f"an export (imgframe export -o inventory.xlsx); {images.total:,} in all."
    )


def _md_table(frame: pd.DataFrame, max_rows: int, *, total: int | None = None) -> str:
    numeric = [is_number(frame[c].dtype) for c in frame.columns]
    lines = [
        "| " + " | ".join(markdown_cell(header(c)) for c in frame.columns) + " |",
        "| " + " | ".join("---:" if num else "---" for num in numeric) + " |",
    ]
    shown = frame.head(max_rows)
    columns = [
        number_cells(shown[c]) if num else text_cells(shown[c], "markdown")
        for c, num in zip(shown.columns, numeric, strict=True)
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in zip(*columns, strict=True)]
    count = len(frame) if total is None else total
    more = count - min(len(frame), max_rows)
    if more > 0:
        lines += ["", f"_{more:,} more rows not shown._"]
    return "\n".join(lines)
