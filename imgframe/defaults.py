"""Defaults and choices the library and the command line share.

This module imports nothing, so the command line can build its options from it at start-up
without loading pandas, pyarrow or requests. Each name is defined here once; the modules
that use it import it from here.
"""

from __future__ import annotations

#: Images per DescribeImages page (the API's maximum).
DEFAULT_PAGE_SIZE = 1000
#: Requests in flight at once, across all zones (and accounts), unless the caller says
#: otherwise; halved while the API throttles (see :class:`imgframe.transport.Slots`).
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64

#: Export formats by name, as :func:`imgframe.write_export` takes them.
EXPORT_FORMATS = ("parquet", "csv", "csv.gz", "jsonl", "xlsx")
#: What a writer does when its target exists: refuse, replace it, or add the rows.
WRITE_MODES = ("error", "overwrite", "append")
#: How tags go into flat (CSV) exports: a JSON list, one row per tag, or a column per key.
TAG_LAYOUTS = ("list", "long", "wide")
#: How small tables are printed (:func:`imgframe.summary.format_table`).
TABLE_FORMATS = ("table", "csv", "json", "markdown")
#: Image formats of saved charts.
CHART_FORMATS = ("png", "svg")

#: Rows each table of the inventory report shows (and the list without JavaScript).
REPORT_MAX_ROWS = 500
#: Images the report's page embeds for its searchable list (problems first): bounds the
#: page at about 10 MB however large the inventory.
DEFAULT_LIST_ROWS = 100_000
