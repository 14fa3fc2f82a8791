"""A workbook for spreadsheet users: ``Summary``, ``Images``, ``Tags``, ``Zones`` (and
``Changes``, ``Unused`` when there is something to put there).

Written with XlsxWriter in constant-memory mode (rows stream to disk; an optional extra:
``pip install 'imgframe[xlsx]'``), into the handle of :func:`imgframe.durable.atomic_file`,
so a failed write leaves the previous file intact.

Every text cell is written as text (``write_string``): ``11.10`` stays ``11.10``, ``=cmd``
stays ``=cmd`` and never becomes a formula, a number or a date. Integers are numbers;
timestamps are real datetimes, naive UTC, and their column header says ``(UTC)``; list
cells are readable text (``a, b``; tags ``key=value, key=value``). A cell longer than the
32,767 characters a spreadsheet cell holds is cut, ends in a visible marker, and the
``Summary`` sheet counts them. Each sheet has its header row frozen, an autofilter, and
column widths from the header and the first rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ExportError, InvalidArgument
from ..frame import explode_tags
from ..storage import Location, location
from ..text import cell_text, display_text
from .base import WrittenFile, check_columns, check_mode

#: The longest text a spreadsheet cell holds.
CELL_LIMIT = 32_767
#: Rows a sheet holds, header included.
ROW_LIMIT = 1_048_576
_CUT = "… [cut at the cell limit]"
_WIDTH_SAMPLE = 500
_INSTALL = "writing .xlsx needs XlsxWriter: pip install 'imgframe[xlsx]'"
_IN_PROGRESS = ("CREATING", "SYNCING", "PROCESSING", "DELETING")


def write_xlsx(
    df: pd.DataFrame,
    path: str | os.PathLike[str] | Location,
    *,
    mode: str = "error",
    changes: Any = None,
) -> WrittenFile:
    """Write the frame as a workbook (see the module docstring). ``changes``: a
    :class:`~imgframe.diff.SnapshotDiff` (or its ``long_frame()``) adds a ``Changes`` sheet.
    ``mode`` is ``"error"`` or ``"overwrite"`` (a workbook cannot be appended to).

    >>> import tempfile
    >>> from imgframe.frame import frame_from_records
    >>> df = frame_from_records([{"imageId": "img-1", "imageName": "=cmd"}], zone_id="z1")
    >>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +SKIP
    ...     write_xlsx(df, Path(tmp) / "inventory.xlsx").rows
    1
    """
    try:
        import xlsxwriter
    except ImportError:
        raise ExportError(_INSTALL) from None
    target = location(path)
    if mode == "append":
        raise InvalidArgument("an .xlsx workbook cannot be appended to; use mode='overwrite'")
    check_mode(target, mode)
    check_columns(df)
    if len(df) >= ROW_LIMIT:
        raise ExportError(
            f"cannot write {target}: {len(df):,} rows do not fit a sheet "
            f"({ROW_LIMIT - 1:,} at most); export Parquet or CSV instead"
        )
    sheets = _sheets(df, changes)
    cuts = dict.fromkeys(sheets, 0)
    with target.atomic_write(seekable=True) as fh:
        book = xlsxwriter.Workbook(
            fh,
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "remove_timezone": True,
            },
        )
        formats = {
            "header": book.add_format({"bold": True, "bg_color": "#EEF1F5", "bottom": 1}),
            "date": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "text": book.add_format({"num_format": "@"}),
        }
        summary = book.add_worksheet("Summary")
        others = {name: book.add_worksheet(name) for name in sheets}
        for name, frame in sheets.items():
            cuts[name] = _write_sheet(others[name], frame, formats)
        _write_summary(summary, df, sheets, cuts, formats)
        try:
            book.close()
        except Exception as exc:  # XlsxWriter's own errors have no common base
            raise ExportError(f"cannot write {target}: {exc}") from exc
    return WrittenFile(target.public(), len(df), target.size(), "xlsx")


def _sheets(df: pd.DataFrame, changes: Any) -> dict[str, pd.DataFrame]:
    sheets = {"Images": df, "Tags": _tags(df), "Zones": _zones(df)}
    if changes is not None:
        sheets["Changes"] = _changes(changes)
    if "instanceCount" in df.columns:
        sheets["Unused"] = _unused(df)
    return sheets


def _tags(df: pd.DataFrame) -> pd.DataFrame:
    if "tags" not in df.columns:
        return pd.DataFrame({"zoneId": [], "imageId": [], "tagKey": [], "tagValue": []})
    long = explode_tags(df)
    keep = [c for c in ("zoneId", "imageId", "imageName", "tagKey", "tagValue") if c in long]
    return long[keep]


def _status(df: pd.DataFrame) -> pd.Series:
    if "imageStatus" not in df.columns:
        return pd.Series(pd.NA, index=df.index, dtype="string")
    return df["imageStatus"].astype("string")


def _zones(df: pd.DataFrame) -> pd.DataFrame:
    if "zoneId" not in df.columns:
        return pd.DataFrame({"zoneId": []})
    status = _status(df)
    sizes = pd.to_numeric(df["imageSize"], errors="coerce") if "imageSize" in df else 0
    data = pd.DataFrame(
        {
            "zoneId": df["zoneId"].astype("string"),
            "images": 1,
            "custom": (
                df.get("imageType", pd.Series(index=df.index)).astype("string") == "CUSTOM_IMAGE"
            )
            .fillna(False)
            .astype(int),
            "sizeGiB": pd.Series(sizes, index=df.index).fillna(0).astype("int64"),
            "available": (status == "AVAILABLE").fillna(False).astype(int),
            "failed": (status == "FAILED").fillna(False).astype(int),
            "unavailable": (status == "UNAVAILABLE").fillna(False).astype(int),
            "inProgress": status.isin(_IN_PROGRESS).fillna(False).astype(int),
        }
    )
    table = data.groupby("zoneId", sort=True).sum().reset_index()
    places = [c for c in ("regionId", "zoneName", "cityName", "countryCode") if c in df.columns]
    if places:
        where = df[["zoneId", *places]].astype("string").drop_duplicates("zoneId")
        table = where.merge(table, on="zoneId", how="right")
    return table


def _changes(changes: Any) -> pd.DataFrame:
    if hasattr(changes, "long_frame"):
        return pd.DataFrame(changes.long_frame())
    if isinstance(changes, pd.DataFrame):
        return changes
    if isinstance(changes, Mapping):
        parts = []
        for kind in ("added", "removed", "changed"):
            frame = changes.get(kind)
            if frame is None or not len(frame):
                continue
            keep = [
                c for c in ("zoneId", "imageId", "imageName", "field", "old", "new") if c in frame
            ]
            part = frame[keep].copy()
            part.insert(min(2, len(keep)), "change", kind)
            parts.append(part)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"change": []})
    raise InvalidArgument("changes must be a SnapshotDiff, a frame, or a mapping of frames")


def _unused(df: pd.DataFrame) -> pd.DataFrame:
    counts = pd.to_numeric(df["instanceCount"], errors="coerce")
    custom = df.get("imageType", pd.Series(index=df.index)).astype("string") == "CUSTOM_IMAGE"
    rows = df[(custom & (counts == 0)).fillna(False).to_numpy(dtype=bool)]
    keep = [c for c in ("zoneId", "imageId", "imageName", "imageStatus", "imageSize",
                        "resourceGroupName", "tags", "instanceCount") if c in rows]  # fmt: skip
    if "imageSize" in rows.columns:
        order = np.argsort(-pd.to_numeric(rows["imageSize"], errors="coerce").fillna(0).to_numpy(),
                           kind="stable")  # fmt: skip
        rows = rows.iloc[order]
    return rows[keep]


# --------------------------------------------------------------------------------------------
# Cells


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return "date"
    if pd.api.types.is_bool_dtype(dtype):
        return "text"
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return "number"
    return "text"


def _header(name: str, kind: str) -> str:
    return f"{name} (UTC)" if kind == "date" else name


def _column_values(series: pd.Series, kind: str) -> list[Any]:
    if kind == "date":
        stamps = pd.to_datetime(series)
        if isinstance(stamps.dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_convert(UTC).dt.tz_localize(None)
        return [None if pd.isna(v) else v.to_pydatetime() for v in stamps]
    if kind == "number":
        return [None if pd.isna(v) else v for v in series.astype(object).tolist()]
    text = series.astype(object).tolist()
    return [None if v is None or (not isinstance(v, list | dict | np.ndarray) and pd.isna(v))
            else v if isinstance(v, str) else cell_text(v) for v in text]  # fmt: skip


def _write_sheet(sheet: Any, frame: pd.DataFrame, formats: dict[str, Any]) -> int:
    """Write one sheet row by row (constant memory); returns how many cells were cut."""
    names = [str(c) for c in frame.columns]
    kinds = [_kind(frame[c]) for c in frame.columns]
    columns = [_column_values(frame[c], k) for c, k in zip(frame.columns, kinds, strict=True)]
    for i, (name, kind, values) in enumerate(zip(names, kinds, columns, strict=True)):
        sample = [len(str(v)) for v in values[:_WIDTH_SAMPLE] if v is not None]
        width = 19 if kind == "date" else min(60, max([len(_header(name, kind)), *sample]) + 2)
        sheet.set_column(i, i, width, formats["text"] if kind == "text" else None)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(frame), 1), max(len(names) - 1, 0))
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        sheet.write_string(0, i, _header(name, kind), formats["header"])
    cuts = 0
    for r in range(len(frame)):
        for c, kind in enumerate(kinds):
            value = columns[c][r]
            if value is None:
                continue
            if kind == "date":
                sheet.write_datetime(r + 1, c, value, formats["date"])
            elif kind == "number":
                sheet.write_number(r + 1, c, value)
            else:
                if len(value) > CELL_LIMIT:
                    value = value[: CELL_LIMIT - len(_CUT)] + _CUT
                    cuts += 1
                sheet.write_string(r + 1, c, value)
    return cuts


def _write_summary(
    sheet: Any,
    df: pd.DataFrame,
    sheets: dict[str, pd.DataFrame],
    cuts: dict[str, int],
    formats: dict[str, Any],
) -> None:
    meta = df.attrs.get("imgframe")
    meta = meta if isinstance(meta, Mapping) else {}
    status = _status(df)
    rows: list[tuple[str, Any]] = [
        ("Images", len(df)),
        ("Zones", int(df["zoneId"].nunique()) if "zoneId" in df.columns else 0),
    ]
    if "fetchedAt" in df.columns and df["fetchedAt"].notna().any():
        stamp = pd.Timestamp(df["fetchedAt"].max())
        stamp = stamp.tz_convert(UTC) if stamp.tzinfo else stamp.tz_localize(UTC)
        rows.append(("Fetched (UTC)", stamp.tz_localize(None).to_pydatetime()))
    for label in ("AVAILABLE", "FAILED", "UNAVAILABLE", *_IN_PROGRESS):
        rows.append((f"Status {label}", int((status == label).fillna(False).sum())))
    rows.append(("Status missing", int(status.isna().sum())))
    if "imageSize" in df.columns:
        rows.append(("Total size (GiB)", int(pd.to_numeric(df["imageSize"]).fillna(0).sum())))
    for key in ("profiles", "endpoint", "usage", "filters"):
        if key in meta:
            rows.append((key.capitalize(), display_text(cell_text(meta[key]))))
    if "Unused" in sheets:
        rows.append(("Unused custom listings (instanceCount 0)", len(sheets["Unused"])))
    for name, frame in sheets.items():
        rows.append((f"Rows in {name}", len(frame)))
    cut = sum(cuts.values())
    if cut:
        rows.append(("Cells cut", f"{cut:,} cells were longer than the {CELL_LIMIT:,} characters "
                     "a cell holds and were cut (they end in '… [cut at the cell limit]'); "
                     "a Parquet or CSV export keeps them whole."))  # fmt: skip
    sheet.set_column(0, 0, 42)
    sheet.set_column(1, 1, 60, formats["text"])
    sheet.freeze_panes(1, 0)
    sheet.write_string(0, 0, "Item", formats["header"])
    sheet.write_string(0, 1, "Value", formats["header"])
    for r, (label, value) in enumerate(rows, start=1):
        sheet.write_string(r, 0, label)
        if isinstance(value, int):
            sheet.write_number(r, 1, value)
        elif hasattr(value, "year"):
            sheet.write_datetime(r, 1, value, formats["date"])
        else:
            sheet.write_string(r, 1, str(value))
