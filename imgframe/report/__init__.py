"""The inventory report: one self-contained HTML page and the same content as Markdown.

Both come from one computed :class:`~imgframe.report.model.ReportModel`
(:func:`report_model`), so they always agree. Sections, in order:

- the **scope**: profiles, zones, filters, endpoint host, fetch time, imgframe version, and
  where the frame came from ("from <file>" for an export);
- the **overview**: headline cards that keep FAILED (broken) apart from UNAVAILABLE and from
  the images in progress (CREATING, SYNCING, PROCESSING, DELETING), one colour per status
  (:data:`imgframe.charts.STATUS_COLOURS`, the same in every chart and table, always with
  the status name beside it), next to the status chart;
- **hygiene findings** (:func:`hygiene_findings`): images not available, instances running
  an image that is not available or no longer exists, untagged custom images, custom images
  missing required tags, unused custom images;
- **owners**: custom images, GiB and problems per owner tag value (``owner_tag``; default
  the first of ``owner``, ``team`` any image carries) and per resource group;
- **unused custom images**: no instance in any zone they are listed in (an unknown count is
  never "unused"), reclaimable GiB, largest first, with the date in the name as age;
- **availability**: public images by zone, multi-region custom images by region;
- **changes** (with ``changes`` or a ``store``): the two dates compared, images added,
  removed and changed, status transitions, tag changes; with a one-snapshot store, a line
  saying history starts there; the **trend** of statuses over the store's snapshots;
- **charts**, **counts**, and the **image list**: every image, problems first, sortable and
  filterable in the page (see :mod:`imgframe.report.html` for how that stays safe).

Works with or without the inventory columns (``instanceCount``, ``regionIdList``,
``resourceGroupName``, ``profile``) and with or without ``df.attrs`` (a frame read back
from a file has none): a missing fact is reported as unknown, never as zero.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..defaults import DEFAULT_LIST_ROWS, REPORT_MAX_ROWS
from ..durable import atomic_file
from .changes import ChangesArg
from .findings import Finding, hygiene_findings
from .html import render_html
from .markdown import render_markdown
from .model import DEFAULT_TITLE, ReportModel, report_model

__all__ = [
    "DEFAULT_LIST_ROWS",
    "HTML_NAME",
    "MARKDOWN_NAME",
    "Finding",
    "ReportModel",
    "ReportPaths",
    "build_report",
    "build_report_html",
    "build_report_markdown",
    "hygiene_findings",
    "report_model",
]

HTML_NAME = "inventory-report.html"
MARKDOWN_NAME = "inventory-report.md"


@dataclass(frozen=True)
class ReportPaths:
    """The two files :func:`build_report` wrote."""

    html: Path
    markdown: Path


def build_report_html(
    df: pd.DataFrame,
    *,
    title: str = DEFAULT_TITLE,
    require_tags: Sequence[str] = (),
    owner_tag: str | None = None,
    max_rows: int = REPORT_MAX_ROWS,
    max_list_rows: int = DEFAULT_LIST_ROWS,
    changes: ChangesArg | None = None,
    trend: pd.DataFrame | None = None,
    store: str | os.PathLike[str] | None = None,
    source: str | os.PathLike[str] | None = None,
) -> str:
    """The report as one self-contained HTML document (arguments as for
    :func:`build_report`).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "imageName": "<b>x</b>"}], zone_id="z")
    >>> page = build_report_html(df)
    >>> "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    True
    """
    model = report_model(
        df, title=title, require_tags=require_tags, owner_tag=owner_tag, max_rows=max_rows,
        max_list_rows=max_list_rows, changes=changes, trend=trend, store=store, source=source,
    )  # fmt: skip
    return render_html(model, df)


def build_report_markdown(
    df: pd.DataFrame,
    *,
    title: str = DEFAULT_TITLE,
    require_tags: Sequence[str] = (),
    owner_tag: str | None = None,
    max_rows: int = REPORT_MAX_ROWS,
    changes: ChangesArg | None = None,
    trend: pd.DataFrame | None = None,
    store: str | os.PathLike[str] | None = None,
    source: str | os.PathLike[str] | None = None,
) -> str:
    """The report as Markdown: the HTML report's content without the charts and the
    interactive list (arguments as for :func:`build_report`).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a", "imageName": "x|y"}], zone_id="z")
    >>> "x\\\\|y" in build_report_markdown(df)
    True
    """
    model = report_model(
        df, title=title, require_tags=require_tags, owner_tag=owner_tag, max_rows=max_rows,
        max_list_rows=max_rows, changes=changes, trend=trend, store=store, source=source,
    )  # fmt: skip
    return render_markdown(model)


def build_report(
    df: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    title: str = DEFAULT_TITLE,
    require_tags: Sequence[str] = (),
    owner_tag: str | None = None,
    max_rows: int = REPORT_MAX_ROWS,
    max_list_rows: int = DEFAULT_LIST_ROWS,
    changes: ChangesArg | None = None,
    trend: pd.DataFrame | None = None,
    store: str | os.PathLike[str] | None = None,
    source: str | os.PathLike[str] | None = None,
) -> ReportPaths:
    """Write ``inventory-report.html`` and ``inventory-report.md`` into ``out_dir`` (created),
    each atomically, replacing earlier ones. The model is computed once for both.

    ``require_tags``: tag keys every custom image should carry. ``owner_tag``: the tag key
    whose value names an image's owner (default: the first of ``owner``, ``team`` present).
    ``max_rows`` caps every table (and the list's rows shown without JavaScript);
    ``max_list_rows`` caps the rows the page embeds for its interactive list (problems
    first; the rest are counted and left to the exports). ``changes``: a
    :class:`~imgframe.diff.SnapshotDiff`, or a mapping of ``added``/``removed``/``changed``
    frames (``changed`` with columns zoneId, imageId, field, old, new); ``trend`` has columns
    snapshot_date, imageStatus, images. ``store`` (a snapshot store) fills both when they are
    not given: the changes between its last two snapshots and its status trend. ``source``:
    the file the frame was read from, named in the header.

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "a"}], zone_id="z")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = build_report(df, tmp)
    ...     paths.html.name, paths.markdown.name
    ('inventory-report.html', 'inventory-report.md')
    """
    model = report_model(
        df, title=title, require_tags=require_tags, owner_tag=owner_tag, max_rows=max_rows,
        max_list_rows=max_list_rows, changes=changes, trend=trend, store=store, source=source,
    )  # fmt: skip
    page = render_html(model, df)
    text = render_markdown(model)
    root = Path(out_dir)
    paths = ReportPaths(root / HTML_NAME, root / MARKDOWN_NAME)
    with atomic_file(paths.html) as fh:
        fh.write(page.encode("utf-8"))
    with atomic_file(paths.markdown) as fh:
        fh.write(text.encode("utf-8"))
    return paths
