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
        empty_frame,
        explode_tags,
        frame_from_records,
        normalize_pages,
        tag_columns,
    )
    from .history import (
        diff_store,
        list_snapshots,
        read_snapshots,
        status_trend,
        write_snapshot,
    )
    from .inventory import fetch_custom_images, fetch_instances, fetch_inventory
    from .parse import RawPage, load_pages, save_pages
    from .report import build_report
    from .summary import summarize
    from .transport import RetryPolicy, Timeouts

_LAZY = {
    "Client": "client",
    "RawPage": "parse",
    "RetryPolicy": "transport",
    "Timeouts": "transport",
    "build_report": "report",
    "diff_snapshots": "diff",
    "diff_store": "history",
    "list_snapshots": "history",
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
    "frame_from_records",
    "list_snapshots",
    "load_pages",
    "normalize_pages",
    "read_export",
    "read_export_metadata",
    "read_snapshots",
    "sandbox",
    "save_charts",
    "save_pages",
    "status_trend",
    "summarize",
    "summary_chart",
    "summary_charts",
    "tag_columns",
    "trend_chart",
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
