"""The frame to Arrow and Polars and back (equal), to Excel (openpyxl), and concatenated with
its dtypes kept, on frames fetched from the session sandbox."""

from __future__ import annotations

import builtins
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import imgframe
from imgframe import sandbox
from imgframe.errors import ConfigError, InvalidArgument
from imgframe.frame import frame_from_records
from imgframe.schema.arrow import CATEGORY_TYPE, IMAGE_SCHEMA, NIC_TYPE, TAGS_TYPE

from .helpers import FETCHED_DTYPES, client_kwargs


@pytest.fixture(scope="module")
def df(sb: sandbox.Sandbox) -> pd.DataFrame:
    return imgframe.fetch_images("all", **client_kwargs(sb))


@pytest.fixture(scope="module")
def one_zone(sb: sandbox.Sandbox) -> pd.DataFrame:
    return imgframe.fetch_images("asia-east-1a", **client_kwargs(sb))


#: The Arrow types of a fetched frame, written out.
FETCHED_ARROW = {
    "zoneId": CATEGORY_TYPE,
    **dict.fromkeys(("regionId", "zoneName", "cityName", "countryCode"), pa.string()),
    "imageId": pa.string(),
    "imageName": pa.string(),
    "imageType": CATEGORY_TYPE,
    "imageSource": CATEGORY_TYPE,
    "imageSize": pa.int64(),
    "minDiskSize": pa.int64(),
    "imageDescription": pa.string(),
    "imageVersion": pa.string(),
    "imageStatus": CATEGORY_TYPE,
    "nicNetworkType": pa.list_(pa.string()),
    "category": CATEGORY_TYPE,
    "osType": CATEGORY_TYPE,
    "tags": pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())])),
    "fetchedAt": pa.timestamp("us", tz="UTC"),
}


def test_to_arrow_gives_the_documented_types(df: pd.DataFrame) -> None:
    table = imgframe.to_arrow(df)
    assert {f.name: f.type for f in table.schema} == FETCHED_ARROW
    assert [str(f.type) for f in table.schema] == [str(t) for t in FETCHED_ARROW.values()]
    assert table.num_rows == 3000
    # Categories in the frame's order, unused ones kept.
    assert table.column("zoneId").chunk(0).dictionary.to_pylist() == list(
        df["zoneId"].cat.categories
    )
    assert table.select(list(IMAGE_SCHEMA.names)).schema.equals(IMAGE_SCHEMA)


def test_to_arrow_shares_the_list_columns_memory(df: pd.DataFrame) -> None:
    table = imgframe.to_arrow(df)
    for name in ("nicNetworkType", "tags"):
        ours = pa.array(df[name].array)
        ours = ours.chunk(0) if isinstance(ours, pa.ChunkedArray) else ours
        theirs = table.column(name).chunk(0)
        assert theirs.offsets.buffers()[1].address == ours.offsets.buffers()[1].address


def test_arrow_round_trip_is_equal(df: pd.DataFrame) -> None:
    back = imgframe.from_arrow(imgframe.to_arrow(df))
    pd.testing.assert_frame_equal(back, df)
    assert back.dtypes.astype(str).to_dict() == FETCHED_DTYPES


def test_polars_round_trip_is_equal(df: pd.DataFrame) -> None:
    frame = imgframe.to_polars(df)
    assert isinstance(frame, pl.DataFrame)
    assert frame.schema == pl.Schema(
        {
            "zoneId": pl.Categorical(),
            **dict.fromkeys(("regionId", "zoneName", "cityName", "countryCode"), pl.String()),
            "imageId": pl.String(),
            "imageName": pl.String(),
            "imageType": pl.Categorical(),
            "imageSource": pl.Categorical(),
            "imageSize": pl.Int64(),
            "minDiskSize": pl.Int64(),
            "imageDescription": pl.String(),
            "imageVersion": pl.String(),
            "imageStatus": pl.Categorical(),
            "nicNetworkType": pl.List(pl.String()),
            "category": pl.Categorical(),
            "osType": pl.Categorical(),
            "tags": pl.List(pl.Struct({"key": pl.String(), "value": pl.String()})),
            "fetchedAt": pl.Datetime("us", "UTC"),
        }
    )
    assert frame.group_by("imageStatus").len().sort("imageStatus").rows() == [
        ("AVAILABLE", 2566),
        ("CREATING", 100),
        ("DELETING", 49),
        ("FAILED", 66),
        ("PROCESSING", 67),
        ("SYNCING", 95),
        ("UNAVAILABLE", 57),
    ]
    pd.testing.assert_frame_equal(imgframe.from_polars(frame), df)


def test_round_trips_keep_awkward_values() -> None:
    with pytest.warns(imgframe.DataQualityWarning, match="imageSize: 1 value"):
        frame = frame_from_records(
            [
                {"imageId": "a", "imageName": "é日\u202e", "tags": None, "nicNetworkType": []},
                {
                    "imageId": "b",
                    "imageSize": "oops",
                    "nicNetworkType": None,
                    "tags": {"tags": [{"key": "k", "value": None}]},
                },
            ],
            zone_id="z",
            fetched_at=datetime(2025, 6, 1, 12, tzinfo=UTC),
        )
    for back in (
        imgframe.from_arrow(imgframe.to_arrow(frame)),
        imgframe.from_polars(imgframe.to_polars(frame)),
    ):
        pd.testing.assert_frame_equal(back, frame)


def test_from_arrow_reads_large_and_view_types() -> None:
    table = pa.table(
        {
            "zoneId": pa.array(["z", None])
            .dictionary_encode()
            .cast(pa.dictionary(pa.uint32(), pa.large_string())),
            "imageId": pa.array(["a", "b"], pa.string_view()),
            "nicNetworkType": pa.array([["FailOver"], []], pa.large_list(pa.large_string())),
            "tags": pa.array([[], None], pa.large_list(TAGS_TYPE.value_type)),
            "count": pa.array([1, None], pa.int32()),
        }
    )
    frame = imgframe.from_arrow(table)
    assert frame.dtypes.astype(str).to_dict() == {
        "zoneId": "category",
        "imageId": "string",
        "nicNetworkType": "list<item: string>[pyarrow]",
        "tags": "list<item: struct<key: string, value: string>>[pyarrow]",
        "count": "Int64",
    }
    assert frame["nicNetworkType"].dtype == pd.ArrowDtype(NIC_TYPE)


def without_module(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``import <module>`` fail, as on a machine without that extra."""
    real_import = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == module or name.startswith(f"{module}."):
            raise ImportError(f"No module named {module!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


def test_a_missing_polars_is_one_line(monkeypatch: pytest.MonkeyPatch, df: pd.DataFrame) -> None:
    without_module(monkeypatch, "polars")
    with pytest.raises(ConfigError) as caught:
        imgframe.to_polars(df)
    assert str(caught.value) == "Polars is not installed: pip install 'imgframe[polars]'"


# --------------------------------------------------------------------------------------------
# Excel


def test_to_excel_fails_on_utc_timestamps_and_for_excel_writes(
    df: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="Excel does not support datetimes with timezones"):
        df.head().to_excel(tmp_path / "raw.xlsx")
    path = tmp_path / "images.xlsx"
    part = df.iloc[:400]  # (openpyxl writes about a thousand rows a second)
    imgframe.for_excel(part).to_excel(path, index=False)
    back = pd.read_excel(path, engine="openpyxl")
    assert len(back) == 400
    assert list(back.columns) == list(df.columns)
    first = back.iloc[0].to_dict()
    assert first["nicNetworkType"] == "FailOver, VirtioOnly"
    assert first["zoneId"] == "asia-east-1a"
    # Naive UTC wall time (Excel keeps milliseconds: the exact value is pinned below).
    stamp = df["fetchedAt"].iloc[0].tz_convert(None)
    assert abs(pd.Timestamp(first["fetchedAt"]) - stamp) <= pd.Timedelta("1ms")
    tagged = back["tags"].dropna()
    assert tagged.iloc[0] == "env=prod, team=platform, app=etl"
    assert back["imageId"].tolist() == part["imageId"].tolist()


def test_for_excel_neutralises_formulas_and_illegal_characters(tmp_path: Path) -> None:
    frame = frame_from_records(
        [
            {"imageId": '=HYPERLINK("http://x")', "imageName": "bell\x07name", "osType": "@os"},
            {"imageId": "plain", "imageName": "x" * 40_000, "osType": "linux"},
        ],
        zone_id="z",
        fetched_at=datetime(2025, 6, 1, 12, 30, tzinfo=UTC),
    )
    ready = imgframe.for_excel(frame)
    assert ready["imageId"].tolist() == ['\'=HYPERLINK("http://x")', "plain"]
    assert ready["imageName"].iloc[0] == "bellname"
    assert len(ready["imageName"].iloc[1]) == 32_767
    assert ready["osType"].tolist() == ["'@os", "linux"]
    assert str(ready["fetchedAt"].dtype) == "datetime64[us]"
    path = tmp_path / "hostile.xlsx"
    ready.to_excel(path, index=False)
    import openpyxl

    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    cell = sheet["B2"]  # imageId of the first row: text, not a formula
    assert (cell.value, cell.data_type) == ('\'=HYPERLINK("http://x")', "s")
    assert frame["imageId"].iloc[0].startswith("=")  # the frame itself is untouched
    back = pd.read_excel(path, engine="openpyxl")
    assert back["fetchedAt"].tolist() == [pd.Timestamp("2025-06-01 12:30:00")] * 2


# --------------------------------------------------------------------------------------------
# Concatenation


def test_pd_concat_mixes_missing_value_kinds(one_zone: pd.DataFrame, df: pd.DataFrame) -> None:
    mixed = pd.concat([one_zone, df], ignore_index=True)
    # Categoricals with other categories fall back to str (missing: NaN) beside string
    # columns (missing: pd.NA).
    assert str(mixed["zoneId"].dtype) == "str"
    assert mixed["zoneId"].dtype.na_value is not pd.NA
    assert mixed["imageId"].dtype.na_value is pd.NA
    records = frame_from_records([{"imageId": "x"}], zone_id="z")
    mixed = pd.concat([records, one_zone], ignore_index=True)
    assert str(mixed["imageStatus"].dtype) == "object"
    assert repr(mixed["imageStatus"].iloc[0]) == "nan"
    assert mixed["regionId"].iloc[0] is pd.NA


def test_concat_frames_keeps_the_dtypes(one_zone: pd.DataFrame, df: pd.DataFrame) -> None:
    both = imgframe.concat_frames([one_zone, df])
    assert len(both) == 324 + 3000
    assert both.dtypes.astype(str).to_dict() == FETCHED_DTYPES
    assert both.index.equals(pd.RangeIndex(3324))
    assert list(both["zoneId"].cat.categories) == list(df["zoneId"].cat.categories)
    assert both["zoneId"].value_counts().to_dict()["asia-east-1a"] == 324 * 2
    pd.testing.assert_frame_equal(
        both.iloc[324:].reset_index(drop=True), df, check_categorical=False
    )


def test_concat_frames_fills_missing_columns_with_na() -> None:
    records = frame_from_records(
        [{"imageId": "x", "imageStatus": "AVAILABLE"}],
        zone_id="z",
        fetched_at=datetime(2025, 6, 1, tzinfo=UTC),
    )
    with_zones = imgframe.empty_frame(fetched_at=datetime(2025, 6, 1, tzinfo=UTC))
    extra = records.assign(note=pd.array(["hello"], dtype="string[pyarrow]")).drop(columns="tags")
    both = imgframe.concat_frames([records, with_zones, extra])
    assert list(both.columns) == [*with_zones.columns, "note"]
    assert both["regionId"].tolist() == [pd.NA, pd.NA]
    assert both["note"].tolist() == [pd.NA, "hello"]
    assert both["tags"].tolist() == [[], []]  # never NA, as in any frame
    assert str(both["imageStatus"].dtype) == "category"
    assert both["imageStatus"].tolist() == ["AVAILABLE", "AVAILABLE"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: imgframe.concat_frames([]), "no frames given"),
        (lambda: imgframe.to_arrow([1, 2]), "expected a DataFrame"),
        (lambda: imgframe.for_excel("x"), "expected a DataFrame"),
        (
            lambda: imgframe.concat_frames(
                [pd.DataFrame({"a": [1]}), pd.DataFrame({"a": pd.array(["x"], dtype="string")})]
            ),
            "column 'a' is string in one frame and int64 in another",
        ),
    ],
    ids=["empty", "to_arrow", "for_excel", "types"],
)
def test_bad_arguments(call: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_import_imgframe_stays_light_with_the_new_names() -> None:
    code = (
        "import sys, imgframe; imgframe.to_arrow; "
        "assert 'polars' not in sys.modules; assert 'duckdb' not in sys.modules; "
        "assert 'openpyxl' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
