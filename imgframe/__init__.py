"""imgframe: Zenlayer Cloud's image inventory as typed pandas DataFrames.

>>> import imgframe
>>> with imgframe.sandbox.running(images=500) as sb:
...     df = imgframe.fetch_images("all", endpoint=sb.endpoint,
...         access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret)
>>> len(df) == 500
True

Names load on first use, so ``import imgframe`` stays fast and never imports matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    ApiError,
    AuthError,
    BadResponseError,
    BlockedError,
    ConfigError,
    ConsistencyWarning,
    CredentialsError,
    DataError,
    DataQualityWarning,
    EmptyResultError,
    ExportError,
    ImgframeError,
    ImgframeWarning,
    IncompleteError,
    InvalidArgument,
    NetworkError,
    NotFoundError,
    NotListedError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDataError,
    StoreBusyError,
    TransportError,
)

if TYPE_CHECKING:
    from . import sandbox
    from .cache import PageCache
    from .charts import save_charts, summary_chart, summary_charts, trend_chart
    from .client import Client, fetch_images, fetch_images_raw, fetch_zones
    from .diff import diff_snapshots
    from .export import (
        read_export,
        read_export_metadata,
        write_csv,
        write_export,
        write_exports,
        write_jsonl,
        write_parquet,
    )
    from .frame import (
        concat_frames,
        empty_frame,
        explode_tags,
        frame_from_records,
        normalize_pages,
        tag_columns,
    )
    from .history import (
        diff_store,
        list_snapshots,
        prune_store,
        read_snapshots,
        status_trend,
        store_ddl,
        write_snapshot,
    )
    from .interop import (
        for_excel,
        from_arrow,
        from_polars,
        to_arrow,
        to_polars,
    )
    from .inventory import fetch_custom_images, fetch_instances, fetch_inventory
    from .lists import has_tag, list_labels, list_sort_key, tag_value, with_list_labels
    from .parse import RawPage, load_pages, save_pages
    from .report import build_report
    from .sql import run_sql, sql
    from .summary import summarize
    from .transport import RetryPolicy, Timeouts

_LAZY = {
    "PageCache": "cache",
    "concat_frames": "frame",
    "for_excel": "interop",
    "from_arrow": "interop",
    "from_polars": "interop",
    "to_arrow": "interop",
    "to_polars": "interop",
    "has_tag": "lists",
    "list_labels": "lists",
    "list_sort_key": "lists",
    "tag_value": "lists",
    "with_list_labels": "lists",
    "run_sql": "sql",
    "sql": "sql",
    "Client": "client",
    "RawPage": "parse",
    "RetryPolicy": "transport",
    "Timeouts": "transport",
    "build_report": "report",
    "diff_snapshots": "diff",
    "diff_store": "history",
    "list_snapshots": "history",
    "prune_store": "history",
    "store_ddl": "history",
    "status_trend": "history",
    "empty_frame": "frame",
    "explode_tags": "frame",
    "fetch_images": "client",
    "fetch_images_raw": "client",
    "fetch_zones": "client",
    "fetch_custom_images": "inventory",
    "fetch_instances": "inventory",
    "fetch_inventory": "inventory",
    "frame_from_records": "frame",
    "load_pages": "parse",
    "normalize_pages": "frame",
    "read_export": "export",
    "read_export_metadata": "export",
    "read_snapshots": "history",
    "save_charts": "charts",
    "save_pages": "parse",
    "summarize": "summary",
    "summary_chart": "charts",
    "summary_charts": "charts",
    "tag_columns": "frame",
    "trend_chart": "charts",
    "write_csv": "export",
    "write_export": "export",
    "write_exports": "export",
    "write_jsonl": "export",
    "write_parquet": "export",
    "write_snapshot": "history",
}

__all__ = [
    "ApiError",
    "AuthError",
    "BadResponseError",
    "BlockedError",
    "Client",
    "ConfigError",
    "ConsistencyWarning",
    "CredentialsError",
    "DataError",
    "DataQualityWarning",
    "EmptyResultError",
    "ExportError",
    "ImgframeError",
    "ImgframeWarning",
    "IncompleteError",
    "InvalidArgument",
    "NetworkError",
    "NotFoundError",
    "NotListedError",
    "PageCache",
    "PermissionDeniedError",
    "RateLimitError",
    "RawPage",
    "ResponseDataError",
    "RetryPolicy",
    "StoreBusyError",
    "Timeouts",
    "TransportError",
    "__version__",
    "build_report",
    "concat_frames",
    "diff_snapshots",
    "diff_store",
    "empty_frame",
    "explode_tags",
    "fetch_custom_images",
    "fetch_images",
    "fetch_images_raw",
    "fetch_instances",
    "fetch_inventory",
    "fetch_zones",
    "for_excel",
    "frame_from_records",
    "from_arrow",
    "from_polars",
    "has_tag",
    "list_labels",
    "list_snapshots",
    "list_sort_key",
    "load_pages",
    "normalize_pages",
    "prune_store",
    "read_export",
    "read_export_metadata",
    "read_snapshots",
    "run_sql",
    "sandbox",
    "save_charts",
    "save_pages",
    "sql",
    "status_trend",
    "store_ddl",
    "summarize",
    "summary_chart",
    "summary_charts",
    "tag_columns",
    "tag_value",
    "to_arrow",
    "to_polars",
    "trend_chart",
    "with_list_labels",
    "write_csv",
    "write_export",
    "write_exports",
    "write_jsonl",
    "write_parquet",
    "write_snapshot",
]


def __getattr__(name: str) -> Any:
    if name == "sandbox":
        return importlib.import_module(".sandbox", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imgframe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
