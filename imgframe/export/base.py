"""What the export formats share: the result type, mode and column checks, the text form of
columns, and the restoring of dtypes on reading."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..defaults import WRITE_MODES
from ..errors import DataError, ExportError, InvalidArgument
from ..schema import STRING_COLUMNS, ZONE_JOIN_COLUMNS
from ..schema.arrow import NIC_TYPE, TAGS_TYPE
from ..text import is_missing


@dataclass(frozen=True)
class WrittenFile:
    """What a writer produced: the target, the rows it now holds, its size on disk in bytes
    (a dataset's: all its files), and the format (one of :data:`FORMATS`)."""

    path: Path
    rows: int
    bytes: int
    format: str


#: The Parquet schema metadata key holding imgframe's JSON document.
METADATA_KEY = "imgframe"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow prints the microseconds with %S
LIST_TYPES = {"nicNetworkType": NIC_TYPE, "tags": TAGS_TYPE, "regionIdList": NIC_TYPE}
TEXT_COLUMNS = frozenset((*STRING_COLUMNS, *ZONE_JOIN_COLUMNS, "tagKey", "tagValue"))


def check_mode(target: Path, mode: str) -> None:
    if mode not in WRITE_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(WRITE_MODES)}, not {mode!r}")
    if mode == "error" and (target.exists() or target.is_symlink()):
        raise ExportError(
            f"cannot write {target}: it already exists (use mode='overwrite' or 'append')"
        )


def check_columns(df: pd.DataFrame) -> None:
    names = list(df.columns)
    if not all(isinstance(n, str) for n in names):
        raise InvalidArgument("export: every column name must be a string")
    if len(set(names)) != len(names):
        raise InvalidArgument("export: column names must be unique")


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def zones_of(df: pd.DataFrame) -> list[str]:
    """The distinct zone ids of a frame, sorted."""
    if "zoneId" not in df.columns:
        return []
    return sorted({str(z) for z in df["zoneId"].dropna().unique()})


def latest_fetch(df: pd.DataFrame) -> str | None:
    if "fetchedAt" not in df.columns or not df["fetchedAt"].notna().any():
        return None
    latest = pd.Timestamp(df["fetchedAt"].max())
    if latest.tzinfo is None:
        latest = latest.tz_localize(UTC)
    return str(latest.tz_convert(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def as_categorical(values: pd.Series, categories: Sequence[str]) -> pd.Series:
    """``values`` as a categorical with ``categories`` first, in order, then any others in
    order of appearance (a hand-edited dataset may hold values the metadata never saw)."""
    known = list(categories)
    seen = set(known)
    text = values.astype("string[pyarrow]")
    for value in text.dropna().unique():
        if value not in seen:
            seen.add(value)
            known.append(value)
    # An empty category list gives an object Index, as the frame's all-NA columns have.
    dtype = pd.CategoricalDtype(categories=known)
    return pd.Series(pd.Categorical(text, dtype=dtype), index=values.index, name=values.name)


def check_same_columns(old: Sequence[str], new: Sequence[str], target: Path) -> None:
    """Appending needs the same columns in the same order; say what differs."""
    if list(old) == list(new):
        return
    problems = []
    if only_old := [n for n in old if n not in new]:
        problems.append(f"only in the file: {short_list(only_old)}")
    if only_new := [n for n in new if n not in old]:
        problems.append(f"only in the frame: {short_list(only_new)}")
    if not problems:
        problems.append("the columns are in another order")
    raise ExportError(f"cannot append to {target}: its columns differ ({'; '.join(problems)})")


def short_list(names: Iterable[Any], limit: int = 8) -> str:
    items = [str(n) for n in names]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def flat_column(series: pd.Series) -> pa.Array:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and is_text(dtype)
    ):
        return pa.array(series.astype("string[pyarrow]").array, type=pa.string())
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pa.array(series.astype("Int64").array, type=pa.int64())
    if isinstance(dtype, pd.DatetimeTZDtype):
        arrow = pa.array(series.dt.tz_convert(UTC).astype("datetime64[us, UTC]").array)
        return pc.strftime(arrow, format=TIMESTAMP_FORMAT)
    if pd.api.types.is_datetime64_dtype(dtype):
        arrow = pa.array(series.astype("datetime64[us]").array)
        return pc.strftime(arrow, format="%Y-%m-%dT%H:%M:%S")
    return pa.array([json_cell(v) for v in python_values(series)], type=pa.string())


def python_values(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.ArrowDtype):
        return list(pa.array(series.array).to_pylist())
    return [None if is_missing(v) else v for v in series.tolist()]


def json_cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default)


def decode_timestamps(column: pa.Array, name: str) -> pd.api.extensions.ExtensionArray:
    try:
        stamps = pc.cast(column, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"column {name!r}: a cell is not an ISO-8601 timestamp ({exc})") from None
    return pd.Series(stamps.to_pandas()).astype("datetime64[us, UTC]").array


def is_text(dtype: Any) -> bool:
    """True for columns holding text: strings, categoricals, objects."""
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return bool(
            pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
        )
    return bool(pd.api.types.is_object_dtype(dtype))
