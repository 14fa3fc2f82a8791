"""One computed report: every section's figures and tables, built once from the frame.

:func:`report_model` is the only place the report looks at the data; the HTML and Markdown
renderers only format what it holds, so the two files can never disagree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..charts import chart_caption
from ..defaults import DEFAULT_LIST_ROWS, REPORT_MAX_ROWS
from ..errors import InvalidArgument
from ..history import status_trend
from .availability import availability_of
from .changes import Changes, ChangesArg, changes_of
from .counts import count_table, zone_status
from .facts import Facts, facts_of
from .findings import Finding, hygiene_findings
from .listing import ImageList, image_list
from .sections import (
    Card,
    Matrix,
    Owners,
    Scope,
    Unused,
    cards_of,
    owners_of,
    scope_of,
    unused_of,
)

DEFAULT_TITLE = "Zenlayer image inventory"
_COUNT_TABLES = (
    ("category", "By category"),
    ("osType", "By OS type"),
    ("imageStatus", "By status"),
    ("zoneId", "By zone"),
)


@dataclass(frozen=True)
class ReportModel:
    """Everything the report shows, in the order it shows it."""

    scope: Scope
    cards: list[Card]
    findings: list[Finding]
    owners: Owners
    unused: Unused
    availability: list[Matrix]
    changes: Changes | None
    trend: pd.DataFrame | None
    counts: list[tuple[str, str, pd.DataFrame]]  # (column, title, table)
    zone_status: pd.DataFrame | None  # zoneId, imageStatus, images; None: no zone column
    caption: str  # the charts' source line
    images: ImageList
    facts: Facts
    max_rows: int
    require_tags: tuple[str, ...]

    def finding(self, key: str) -> Finding:
        return next(f for f in self.findings if f.key == key)


def report_model(
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
) -> ReportModel:
    """Compute the report of ``df`` (see :func:`imgframe.report.build_report` for the
    arguments).

    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([
    ...     {"imageId": "a", "imageType": "CUSTOM_IMAGE", "imageStatus": "FAILED"},
    ...     {"imageId": "b", "imageType": "CUSTOM_IMAGE", "imageStatus": "AVAILABLE",
    ...      "tags": {"tags": [{"key": "owner", "value": "ops"}]}}], zone_id="z")
    >>> model = report_model(df)
    >>> [(c.label, c.value) for c in model.cards][1:3]
    [('Available', 1), ('Failed', 1)]
    >>> model.owners.table[["owner", "images", "failed"]].to_dict("records")
    [{'owner': '(no owner tag)', 'images': 1, 'failed': 1}, {'owner': 'ops', 'images': 1, \
'failed': 0}]
    """
    if max_rows < 0:
        raise InvalidArgument("max_rows must be 0 or more")
    if max_list_rows < 0:
        raise InvalidArgument("max_list_rows must be 0 or more")
    if owner_tag is not None and not isinstance(owner_tag, str):
        raise InvalidArgument("owner_tag must be a tag key (text)")
    required = tuple(k for k in dict.fromkeys(require_tags) if k)
    trend = _check_trend(trend)
    facts = facts_of(df, owner_tag=owner_tag, require_tags=required)
    scope = scope_of(df, facts, title=title, source=source)
    findings = hygiene_findings(df, require_tags=required, facts=facts, limit=max_rows)
    unused_note = next(f.note for f in findings if f.key == "unused")
    section = changes_of(df, changes, store, fetched=scope.fetched)
    if store is not None and trend is None:
        trend = status_trend(store)
    return ReportModel(
        scope=scope,
        cards=cards_of(df, facts),
        findings=findings,
        owners=owners_of(df, facts, owner_tag=owner_tag),
        unused=unused_of(df, facts, max_rows=max_rows, note=unused_note),
        availability=availability_of(df, facts, max_rows=max_rows),
        changes=section,
        trend=trend,
        counts=[(by, name, count_table(df, by, facts)) for by, name in _COUNT_TABLES if by in df],
        zone_status=zone_status(facts) if "zoneId" in df.columns else None,
        caption=chart_caption(df),
        images=image_list(df, facts, max_rows=max_rows, max_list_rows=max_list_rows),
        facts=facts,
        max_rows=max_rows,
        require_tags=required,
    )


def _check_trend(trend: pd.DataFrame | None) -> pd.DataFrame | None:
    if trend is None:
        return None
    missing = {"snapshot_date", "imageStatus", "images"} - set(trend.columns)
    if missing:
        raise InvalidArgument(f"trend: missing column(s) {', '.join(sorted(missing))}")
    return trend
