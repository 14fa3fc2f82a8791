"""Exports: exact round trips, the CSV encoding, datasets, modes, atomicity, manifests."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imgframe
import imgframe.export as export
from imgframe.errors import DataError, ExportError, InvalidArgument
from imgframe.export import (
    atomic_file,
    expand_placeholders,
    neutralize_formula,
    read_export,
    read_export_metadata,
    restore_formula,
    write_csv,
    write_export,
    write_jsonl,
    write_manifest,
    write_parquet,
)
from imgframe.frame import empty_frame, explode_tags, frame_from_records, tag_columns

from .frames import FETCHED_AT, fixture_frame, small_frame

SUFFIXES = ("images.parquet", "images.csv", "images.csv.gz", "images.jsonl")


def by_zone_then_id(frame: pd.DataFrame) -> pd.DataFrame:
    """The row order read_export gives a dataset: zoneId, then imageId, as text."""
    keys = pd.DataFrame({k: frame[k].astype("string") for k in ("zoneId", "imageId")})
    order = keys.sort_values(["zoneId", "imageId"], kind="stable", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def leftovers(directory: Path) -> list[str]:
    """Hidden temporary files or directories an interrupted write could leave."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("name", SUFFIXES)
@pytest.mark.parametrize("zones", [False, True], ids=["one-zone-columns", "joined-zones"])
def test_every_format_round_trips_the_fixture_frame_exactly(
    tmp_path: Path, name: str, zones: bool
) -> None:
    df = fixture_frame(zones=zones)
    written = write_export(df, tmp_path / name)
    assert written.rows == len(df)
    assert written.bytes == (tmp_path / name).stat().st_size
    pd.testing.assert_frame_equal(read_export(written.path), df)


@pytest.mark.parametrize("name", ["images.parquet", "images.csv", "images.csv.gz"])
def test_an_empty_frame_round_trips(tmp_path: Path, name: str) -> None:
    df = empty_frame(fetched_at=FETCHED_AT)
    pd.testing.assert_frame_equal(read_export(write_export(df, tmp_path / name).path), df)


def test_an_empty_jsonl_file_reads_as_the_empty_frame(tmp_path: Path) -> None:
    written = write_jsonl(empty_frame(), tmp_path / "images.jsonl")
    assert written.path.read_bytes() == b""
    pd.testing.assert_frame_equal(read_export(written.path), empty_frame(), check_exact=False)


def test_parquet_keeps_arrow_types_and_the_unused_categories_of_a_filtered_frame(
    tmp_path: Path,
) -> None:
    df = fixture_frame()
    filtered = df[df["imageType"] == "PUBLIC_IMAGE"].reset_index(drop=True)
    written = write_parquet(filtered, tmp_path / "public.parquet")
    schema = pq.read_schema(written.path)
    assert schema.field("zoneId").type == pa.dictionary(pa.int32(), pa.string())
    assert pa.types.is_list(schema.field("nicNetworkType").type)
    assert schema.field("tags").type.value_type == pa.struct(
        [("key", pa.string()), ("value", pa.string())]
    )
    assert schema.field("fetchedAt").type == pa.timestamp("us", tz="UTC")
    back = read_export(written.path)
    assert list(back["category"].cat.categories) == list(df["category"].cat.categories)
    pd.testing.assert_frame_equal(back, filtered)


def test_parquet_and_jsonl_keep_typed_extra_columns(tmp_path: Path) -> None:
    df = frame_from_records(
        [
            {"imageId": "a", "encrypted": True, "shareCount": 3, "ratio": 0.5, "regions": ["x"]},
            {"imageId": "b", "encrypted": None, "shareCount": None, "ratio": None, "regions": []},
        ],
        zone_id="z1",
        fetched_at=FETCHED_AT,
    )
    assert str(df["encrypted"].dtype) == "boolean"
    assert str(df["shareCount"].dtype) == "Int64"
    for name in ("x.parquet", "x.jsonl"):
        pd.testing.assert_frame_equal(read_export(write_export(df, tmp_path / name).path), df)


def test_csv_reads_non_text_extra_columns_back_as_their_json_text(tmp_path: Path) -> None:
    df = frame_from_records([{"imageId": "a", "encrypted": True, "shareCount": -3}], zone_id="z1")
    back = read_export(write_csv(df, tmp_path / "x.csv").path)
    assert back["encrypted"].tolist() == ["true"]
    assert back["shareCount"].tolist() == ["-3"]
    assert str(back["shareCount"].dtype) == "string"


def test_csv_long_tags_round_trip_to_explode_tags(tmp_path: Path) -> None:
    df = fixture_frame(zones=True)
    written = write_csv(df, tmp_path / "long.csv", tags="long")
    long = explode_tags(df)
    assert written.rows == len(long)
    pd.testing.assert_frame_equal(read_export(written.path), long)
    untagged = read_export(written.path).query("imageId == 'img-failed'")
    assert len(untagged) == 1
    assert untagged["tagKey"].isna().all()


def test_csv_wide_tags_round_trip_to_tag_columns(tmp_path: Path) -> None:
    df = fixture_frame()
    written = write_csv(df, tmp_path / "wide.csv.gz", tags="wide")
    back = read_export(written.path)
    assert "tags" not in back.columns
    assert back["tag:owner"].iloc[2] == "ops"
    pd.testing.assert_frame_equal(back, tag_columns(df).drop(columns=["tags"]))


# --------------------------------------------------------------------------------------------
# The CSV encoding


def test_csv_text_is_exactly_the_documented_encoding(tmp_path: Path) -> None:
    df = frame_from_records(
        [
            {
                "imageId": "img-1",
                "imageName": "=SUM(A1)",
                "imageDescription": "",
                "imageSize": "20",
                "minDiskSize": None,
                "nicNetworkType": ["FailOver", "VirtioOnly"],
                "tags": {"tags": [{"key": "env", "value": 'say "hi"'}]},
            },
            {"imageId": "img-2", "imageName": None, "nicNetworkType": None, "tags": None},
        ],
        zone_id="asia-east-1a",
        fetched_at=datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
    )
    text = write_csv(df, tmp_path / "x.csv").path.read_text(encoding="utf-8")
    assert text == (
        '"zoneId","imageId","imageName","imageType","imageSource","imageSize","minDiskSize",'
        '"imageDescription","imageVersion","imageStatus","nicNetworkType","category","osType",'
        '"tags","fetchedAt"\n'
        '"asia-east-1a","img-1","\'=SUM(A1)",,,20,,"",,,"[""FailOver"",""VirtioOnly""]",,,'
        '"[{""key"":""env"",""value"":""say \\""hi\\""""}]","2025-03-01T08:00:00.000000Z"\n'
        '"asia-east-1a","img-2",,,,,,,,,,,,"[]","2025-03-01T08:00:00.000000Z"\n'
    )


def test_csv_neutralises_every_formula_trigger_and_reads_back_the_original(
    tmp_path: Path,
) -> None:
    df = fixture_frame()
    written = write_csv(df, tmp_path / "x.csv")
    raw = pd.read_csv(written.path, dtype=str, keep_default_na=False)
    for value in raw["imageName"]:
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert "'=SUM(A1)" in raw["imageName"].tolist()
    assert "''=already quoted" in raw["imageName"].tolist()  # one more quote, reversibly
    assert '\'=HYPERLINK("http://x")' in raw["category"].tolist()
    assert read_export(written.path)["imageName"].tolist() == df["imageName"].tolist()


def test_csv_without_neutralisation_writes_raw_values(tmp_path: Path) -> None:
    df = fixture_frame()
    written = write_csv(df, tmp_path / "raw.csv", neutralize_formulas=False)
    raw = pd.read_csv(written.path, dtype=str, keep_default_na=False)
    assert "=SUM(A1)" in raw["imageName"].tolist()
    assert "'=already quoted" in raw["imageName"].tolist()
    # Such a file must be read as raw: otherwise "'=already quoted" would lose its quote.
    pd.testing.assert_frame_equal(read_export(written.path, neutralized_formulas=False), df)
    assert "=already quoted" in read_export(written.path)["imageName"].tolist()


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM", "'@SUM"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),
        ("''-x", "'''-x"),
        ("'x", "'x"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralize_formula_cases(value: str, written: str) -> None:
    assert neutralize_formula(pa.array([value])).to_pylist() == [written]
    assert restore_formula(pa.array([written])).to_pylist() == [value]


@given(st.text(alphabet=st.sampled_from("'=+-@\t\rab\n,\" "), max_size=8))
def test_neutralisation_is_reversible_for_every_string(value: str) -> None:
    assert restore_formula(neutralize_formula(pa.array([value]))).to_pylist() == [value]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(max_size=12)),
        min_size=1,
        max_size=4,
    )
)
def test_csv_round_trips_arbitrary_text(names: list[str | None]) -> None:
    import tempfile

    df = frame_from_records(
        [{"imageId": f"i{i}", "imageName": n} for i, n in enumerate(names)],
        zone_id="z",
        fetched_at=FETCHED_AT,
    )
    with tempfile.TemporaryDirectory() as tmp:
        back = read_export(write_csv(df, Path(tmp) / "x.csv").path)
    pd.testing.assert_frame_equal(back, df)


def test_csv_gz_is_gzip_and_repeatable(tmp_path: Path) -> None:
    df = fixture_frame()
    first = write_export(df, tmp_path / "a.csv.gz")
    second = write_export(df, tmp_path / "b.csv.gz")
    assert first.format == "csv.gz"
    assert first.path.read_bytes() == second.path.read_bytes()  # no timestamp, no name inside
    plain = write_csv(df, tmp_path / "a.csv").path.read_bytes()
    assert gzip.decompress(first.path.read_bytes()) == plain


def test_jsonl_is_one_object_per_image_with_lists_as_arrays(tmp_path: Path) -> None:
    df = fixture_frame()
    lines = write_jsonl(df, tmp_path / "x.jsonl").path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    objects = [json.loads(line) for line in lines[:-1]]
    assert len(objects) == len(df)
    assert list(objects[0]) == list(df.columns)
    assert objects[0]["nicNetworkType"] == ["FailOver", "VirtioOnly"]
    assert objects[0]["tags"] == []
    assert objects[0]["imageSize"] == 20
    assert objects[0]["fetchedAt"] == "2025-03-01T08:30:05.123456Z"
    assert objects[2]["tags"] == [
        {"key": "owner", "value": "ops"},
        {"key": "env", "value": "prod"},
    ]


# --------------------------------------------------------------------------------------------
# Metadata


def test_parquet_metadata_records_the_fetch_and_the_callers_keys(tmp_path: Path) -> None:
    df = fixture_frame()
    written = write_parquet(
        df,
        tmp_path / "x.parquet",
        metadata={"filters": {"osType": "linux"}, "requestIds": ["r-1"], "rows": 999},
    )
    meta = read_export_metadata(written.path)
    assert meta["rows"] == len(df)  # a caller cannot make the file lie about itself
    assert meta["zones"] == ["asia-east-1a", "eu-central-1a", "na-west-1a"]
    assert meta["fetchedAt"] == "2025-03-01T08:30:05.123456Z"
    assert meta["filters"] == {"osType": "linux"}
    assert meta["requestIds"] == ["r-1"]
    assert meta["imgframeVersion"] == imgframe.__version__
    raw = pq.read_schema(written.path).metadata[b"imgframe"]
    assert json.loads(raw) == meta


def test_callers_zones_and_fetch_time_replace_the_computed_ones(tmp_path: Path) -> None:
    written = write_parquet(
        small_frame(),
        tmp_path / "x.parquet",
        metadata={"zones": ["asia-east-1a", "empty-zone"], "fetchedAt": "2025-03-02T00:00:00Z"},
    )
    meta = read_export_metadata(written.path)
    assert meta["zones"] == ["asia-east-1a", "empty-zone"]
    assert meta["fetchedAt"] == "2025-03-02T00:00:00Z"


def test_metadata_of_csv_and_jsonl_is_derived_from_the_rows(tmp_path: Path) -> None:
    df = fixture_frame()
    for name, kind in (("x.csv", "csv"), ("x.jsonl", "jsonl")):
        meta = read_export_metadata(write_export(df, tmp_path / name).path)
        assert meta == {
            "format": kind,
            "rows": len(df),
            "zones": ["asia-east-1a", "eu-central-1a", "na-west-1a"],
            "fetchedAt": "2025-03-01T08:30:05.123456Z",
        }


def test_unserialisable_metadata_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="JSON"):
        write_parquet(small_frame(), tmp_path / "x.parquet", metadata={"bad": object()})
    assert not (tmp_path / "x.parquet").exists()


# --------------------------------------------------------------------------------------------
# Partitioned datasets


def test_partitioned_dataset_is_hive_readable_and_round_trips(tmp_path: Path) -> None:
    df = fixture_frame(zones=True)
    written = write_parquet(df, tmp_path / "dataset", partition_by=["zoneId"])
    assert written.rows == len(df)
    assert sorted(p.name for p in written.path.iterdir()) == [
        "_common_metadata",
        "zoneId=asia-east-1a",
        "zoneId=eu-central-1a",
        "zoneId=na-west-1a",
    ]
    table = ds.dataset(written.path, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(df)
    assert sorted(set(table.column("zoneId").to_pylist())) == sorted(set(df["zoneId"]))
    pd.testing.assert_frame_equal(read_export(written.path), by_zone_then_id(df))
    assert read_export_metadata(written.path)["partitionBy"] == ["zoneId"]


def test_dataset_partitioned_by_two_columns_keeps_missing_values(tmp_path: Path) -> None:
    df = fixture_frame()
    written = write_export(df, tmp_path / "ds", partition_by=["zoneId", "imageStatus"])
    assert written.format == "parquet"
    assert (
        written.path / "zoneId=eu-central-1a" / "imageStatus=__HIVE_DEFAULT_PARTITION__"
    ).is_dir()
    back = read_export(written.path)
    pd.testing.assert_frame_equal(back, by_zone_then_id(df))


def test_dataset_append_adds_files_and_reads_back_every_row(tmp_path: Path) -> None:
    first = small_frame(3)
    second = small_frame(2, zone="eu-central-1a", start=10)
    target = tmp_path / "ds"
    write_parquet(first, target, partition_by=["zoneId"])
    before = {p: p.read_bytes() for p in target.rglob("*.parquet")}
    written = write_parquet(second, target, partition_by=["zoneId"], mode="append")
    assert written.rows == 5
    after = {p: p.read_bytes() for p in target.rglob("*.parquet")}
    assert set(before) < set(after)
    assert {p: after[p] for p in before} == before  # old files untouched, byte for byte
    expected = pd.concat([first, second], ignore_index=True)
    expected["zoneId"] = expected["zoneId"].astype(
        pd.CategoricalDtype(["asia-east-1a", "eu-central-1a"])
    )
    pd.testing.assert_frame_equal(read_export(target), by_zone_then_id(expected))
    meta = read_export_metadata(target)
    assert meta["rows"] == 5
    assert meta["zones"] == ["asia-east-1a", "eu-central-1a"]
    assert leftovers(tmp_path) == []


def test_dataset_overwrite_replaces_the_directory_and_leaves_nothing_aside(
    tmp_path: Path,
) -> None:
    target = tmp_path / "ds"
    write_parquet(fixture_frame(), target, partition_by=["zoneId"])
    replacement = small_frame(2)
    write_parquet(replacement, target, partition_by=["zoneId"], mode="overwrite")
    pd.testing.assert_frame_equal(read_export(target), replacement)
    assert [p.name for p in target.iterdir() if p.is_dir()] == ["zoneId=asia-east-1a"]
    assert leftovers(tmp_path) == []


def test_dataset_append_with_other_partitioning_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "ds"
    write_parquet(small_frame(), target, partition_by=["zoneId"])
    with pytest.raises(ExportError, match="partitioned by"):
        write_parquet(small_frame(), target, partition_by=["imageStatus"], mode="append")


@pytest.mark.parametrize("column", ["nope", "tags"])
def test_partitioning_on_a_missing_or_list_column_is_invalid(tmp_path: Path, column: str) -> None:
    with pytest.raises(InvalidArgument, match=column):
        write_parquet(small_frame(), tmp_path / "ds", partition_by=[column])


# --------------------------------------------------------------------------------------------
# Placeholders


NOW = datetime(2025, 3, 1, 23, 59, 58, tzinfo=timezone(timedelta(hours=-2)))  # 01:59:58 UTC


@pytest.mark.parametrize(
    ("template", "zones", "expected"),
    [
        ("out/{date}/images.parquet", ["a"], "out/2025-03-02/images.parquet"),
        ("images-{time}.csv", None, "images-015958.csv"),
        ("images-{zone}.csv", ["asia-east-1a"], "images-asia-east-1a.csv"),
        ("images-{zone}.csv", ["a", "b"], "images-multi.csv"),
        ("images-{zone}.csv", ["a", "a"], "images-a.csv"),
        ("images-{zone}.csv", None, "images-all.csv"),
        ("images-{zone}.csv", [], "images-all.csv"),
        ("images-{zone}.csv", ["x/../y"], "images-x_.._y.csv"),
        ("{{literal}}-{date}.jsonl", None, "{literal}-2025-03-02.jsonl"),
        ("plain.parquet", None, "plain.parquet"),
    ],
)
def test_expand_placeholders(template: str, zones: list[str] | None, expected: str) -> None:
    assert expand_placeholders(template, now=NOW, zones=zones) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{user}.csv", "unknown placeholder {user} in '{user}.csv'; use {date}, {time}, {zone} (and {{ }} for literal braces)"),
        ("{.csv", "bad output path template '{.csv': expected '}' before end of string"),
    ],
)  # fmt: skip
def test_expand_placeholders_rejects_unknown_fields(template: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        expand_placeholders(template, now=NOW, zones=None)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("template", "written"), [("{date:%Y}.csv", "{date:%Y}"), ("{date!r}.csv", "{date!r}")]
)
def test_expand_placeholders_names_the_spec_it_refuses(template: str, written: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        expand_placeholders(template, now=NOW, zones=None)
    assert str(info.value) == (
        f"placeholder {written} in {template!r} takes no format: write {{date}}"
    )


@pytest.mark.parametrize("zone", ["..", ".", ".hidden", "...", "../etc/x"])
def test_a_zone_id_never_fills_zone_with_a_relative_or_hidden_part(zone: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        expand_placeholders("out/{zone}/images.csv", now=NOW, zones=[zone])
    assert str(info.value) == (
        f"zone id {zone!r} cannot fill {{zone}} in an output path (it would name a hidden "
        "or parent directory)"
    )
    # Separators cannot get in either: they become "_".
    assert expand_placeholders("{zone}.csv", now=NOW, zones=["a/../b"]) == "a_.._b.csv"


def test_expand_placeholders_needs_an_aware_time() -> None:
    with pytest.raises(InvalidArgument, match="timezone"):
        expand_placeholders("{date}", now=datetime(2025, 3, 1), zones=None)


# --------------------------------------------------------------------------------------------
# Modes


@pytest.mark.parametrize("name", [*SUFFIXES, "dataset"])
def test_error_mode_refuses_an_existing_target_before_writing(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    options: dict[str, Any] = {"partition_by": ["zoneId"]} if name == "dataset" else {}
    write_export(small_frame(), target, **options)
    snapshot = {p: p.read_bytes() for p in [target, *target.rglob("*")] if p.is_file()}
    with pytest.raises(ExportError, match="already exists"):
        write_export(fixture_frame(), target, **options)
    assert {p: p.read_bytes() for p in snapshot} == snapshot
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", SUFFIXES)
def test_overwrite_mode_replaces_the_file(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    write_export(fixture_frame(), target)
    replacement = small_frame(2)
    write_export(replacement, target, mode="overwrite")
    pd.testing.assert_frame_equal(read_export(target), replacement)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", SUFFIXES)
def test_append_mode_adds_rows(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    first, second = small_frame(3), small_frame(2, start=3)
    write_export(first, target, mode="append")  # creates
    written = write_export(second, target, mode="append")
    assert written.rows == 5
    pd.testing.assert_frame_equal(
        read_export(target), pd.concat([first, second], ignore_index=True)
    )


def test_csv_append_writes_the_header_once(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    write_csv(small_frame(1), target)
    write_csv(small_frame(1, start=1), target, mode="append")
    lines = target.read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith('"zoneId"')
    assert not lines[2].startswith('"zoneId"')


def test_parquet_append_merges_categories_and_metadata(tmp_path: Path) -> None:
    target = tmp_path / "x.parquet"
    write_parquet(small_frame(2), target, metadata={"requestIds": ["r-1"]})
    other = small_frame(1, zone="eu-central-1a", start=5)
    write_parquet(other, target, mode="append", metadata={"requestIds": ["r-2"]})
    back = read_export(target)
    assert list(back["zoneId"].cat.categories) == ["asia-east-1a", "eu-central-1a"]
    assert back["zoneId"].tolist() == ["asia-east-1a", "asia-east-1a", "eu-central-1a"]
    meta = read_export_metadata(target)
    assert (meta["rows"], meta["zones"], meta["requestIds"]) == (
        3,
        ["asia-east-1a", "eu-central-1a"],
        ["r-2"],
    )


@pytest.mark.parametrize("name", SUFFIXES)
def test_append_with_other_columns_is_refused_and_keeps_the_file(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    write_export(small_frame(), target)
    before = target.read_bytes()
    with pytest.raises(ExportError, match="cannot append"):
        write_export(small_frame().drop(columns=["imageVersion"]), target, mode="append")
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_unknown_mode_and_tags_are_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="mode"):
        write_export(small_frame(), tmp_path / "x.csv", mode="replace")
    with pytest.raises(InvalidArgument, match="tags"):
        write_csv(small_frame(), tmp_path / "x.csv", tags="flat")
    with pytest.raises(InvalidArgument, match="CSV only"):
        write_export(small_frame(), tmp_path / "x.parquet", tags="long")


# --------------------------------------------------------------------------------------------
# Atomicity


def _fail_after_some_bytes(*args: Any, **kwargs: Any) -> None:
    sink: IO[bytes] = next(a for a in args if hasattr(a, "write"))
    sink.write(b"PAR1 half a file")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("images.parquet", "parquet._write_parquet_table"),
        ("images.csv", "csv._write_csv_table"),
        ("images.csv.gz", "csv._write_csv_table"),
        ("images.jsonl", "jsonl._write_jsonl_rows"),
    ],
)
@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_a_failure_mid_write_keeps_the_previous_file_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, writer: str, mode: str
) -> None:
    target = tmp_path / name
    write_export(small_frame(), target)
    before = target.read_bytes()
    module, function = writer.split(".")
    monkeypatch.setattr(getattr(export, module), function, _fail_after_some_bytes)
    with pytest.raises(ExportError) as caught:
        write_export(small_frame(), target, mode=mode)
    message = str(caught.value)
    assert str(target) in message
    assert "No space left on device" in message
    assert "\n" not in message
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_a_failure_while_writing_a_dataset_keeps_the_previous_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ds"
    write_parquet(small_frame(), target, partition_by=["zoneId"])
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}

    def half_written(table: pa.Table, directory: Path, partition_by: list[str]) -> None:
        (directory / "zoneId=x").mkdir()
        (directory / "zoneId=x" / "part-0.parquet").write_bytes(b"PAR1")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(export.dataset, "_write_dataset_files", half_written)
    for mode in ("overwrite", "append"):
        with pytest.raises(ExportError, match="Input/output error"):
            write_parquet(small_frame(), target, partition_by=["zoneId"], mode=mode)
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before
    assert leftovers(tmp_path) == []


def test_a_frame_that_cannot_be_encoded_leaves_no_file(tmp_path: Path) -> None:
    df = small_frame()
    df["mixed"] = pd.Series([1, "two", 3.0], dtype=object)
    with pytest.raises(ExportError, match=r"cannot write .*x\.parquet: .*Arrow"):
        write_parquet(df, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_directory_is_an_export_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    for name in SUFFIXES:
        with pytest.raises(ExportError, match="not-a-directory"):
            write_export(small_frame(), blocker / name)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a read-only directory")
def test_a_read_only_directory_is_an_export_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ExportError, match="Permission denied"):
            write_export(small_frame(), locked / "x.parquet")
    finally:
        locked.chmod(0o700)


def test_atomic_file_gives_the_new_file_ordinary_permissions(tmp_path: Path) -> None:
    with atomic_file(tmp_path / "x.bin") as fh:
        fh.write(b"x")
    mode = (tmp_path / "x.bin").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_a_target_that_is_a_directory_or_under_a_file_is_named_so(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("keep\n")
    with pytest.raises(ExportError) as err:
        write_export(small_frame(), tmp_path, format="csv", mode="overwrite")
    assert str(err.value) == f"cannot write {tmp_path}: it is a directory"
    with pytest.raises(ExportError) as err:
        write_export(small_frame(), note / "deeper" / "x.csv")
    assert str(err.value) == (
        f"cannot write {note / 'deeper' / 'x.csv'}: {note} is a file, not a directory"
    )
    assert note.read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.txt"]


def test_parent_directories_are_created(tmp_path: Path) -> None:
    written = write_export(small_frame(), tmp_path / "a" / "b" / "x.jsonl")
    assert written.path == tmp_path / "a" / "b" / "x.jsonl"
    pd.testing.assert_frame_equal(read_export(written.path), small_frame())


# --------------------------------------------------------------------------------------------
# Dispatch, reading, manifest


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("x.parquet", None, "parquet"),
        ("X.CSV", None, "csv"),
        ("x.csv.gz", None, "csv.gz"),
        ("x.jsonl", None, "jsonl"),
        ("x.ndjson", None, "jsonl"),
        ("x.data", "csv.gz", "csv.gz"),
        ("x.data", "jsonl", "jsonl"),
    ],
)
def test_write_export_picks_the_format(
    tmp_path: Path, name: str, fmt: str | None, expected: str
) -> None:
    written = write_export(small_frame(), tmp_path / name, format=fmt)
    assert written.format == expected
    pd.testing.assert_frame_equal(read_export(written.path), small_frame())


def test_write_export_needs_a_known_suffix_or_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="suffix"):
        write_export(small_frame(), tmp_path / "x.ods")
    with pytest.raises(InvalidArgument, match="format"):
        write_export(small_frame(), tmp_path / "x.csv", format="ods")


GARBAGE = {
    "bad.parquet": (b"not parquet", "cannot read {path} as Parquet: Could not open Parquet input source '{path}': Parquet magic bytes not found in footer."),
    "bad.jsonl": (b"{not json\n", "{path} line 1 is not JSON: Expecting property name enclosed in double quotes"),
    "bad.csv": (b'"imageSize"\n"twenty"\n', "cannot read {path}: column 'imageSize': a cell is not an integer (Failed to parse string: 'twenty'"),
    "missing.csv": (None, "no export at {path}"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(GARBAGE))
def test_read_export_of_garbage_is_a_data_error(tmp_path: Path, name: str) -> None:
    content, message = GARBAGE[name]
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as info:
        read_export(tmp_path / name)
    assert str(info.value).startswith(message.format(path=tmp_path / name)), str(info.value)


def test_an_unreadable_csv_cell_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text('"imageSize"\n"twenty"\n')
    with pytest.raises(DataError) as info:
        read_export(tmp_path / "bad.csv")
    assert str(info.value) == (
        f"cannot read {tmp_path / 'bad.csv'}: column 'imageSize': a cell is not an integer "
        "(Failed to parse string: 'twenty' as a scalar of type int64)"
    )


def test_write_manifest_lists_files_with_sizes_and_digests(tmp_path: Path) -> None:
    df = small_frame()
    files = [
        write_export(df, tmp_path / "x.parquet"),
        write_export(df, tmp_path / "sub" / "x.csv"),
        write_export(df, tmp_path / "ds", partition_by=["zoneId"]),
    ]
    path = write_manifest(
        tmp_path / "manifest.json",
        files,
        schema=df,
        request_ids=["r-1", "r-2"],
        extra={"filters": {"osType": "linux"}},
    )
    manifest = json.loads(path.read_text())
    assert [f["path"] for f in manifest["files"]] == ["x.parquet", "sub/x.csv", "ds"]
    assert [f["rows"] for f in manifest["files"]] == [3, 3, 3]
    assert manifest["files"][0]["sha256"] == hashlib.sha256(files[0].path.read_bytes()).hexdigest()
    assert manifest["files"][0]["bytes"] == files[0].path.stat().st_size
    assert "sha256" not in manifest["files"][2]
    assert manifest["schema"]["imageSize"] == "Int64"
    assert manifest["requestIds"] == ["r-1", "r-2"]
    assert manifest["filters"] == {"osType": "linux"}
    assert manifest["imgframeVersion"] == imgframe.__version__


def test_plain_pandas_read_parquet_opens_an_export(tmp_path: Path) -> None:
    """A colleague without imgframe gets the data: lists as Python lists, the rest typed."""
    df = fixture_frame(zones=True)
    write_parquet(df, tmp_path / "images.parquet")
    plain = pd.read_parquet(tmp_path / "images.parquet")
    assert plain["imageId"].tolist() == df["imageId"].tolist()
    assert [None if v is None else list(v) for v in plain["nicNetworkType"]] == [
        None if v is pd.NA else list(v) for v in df["nicNetworkType"].tolist()
    ]
    assert [[dict(t) for t in v] for v in plain["tags"]] == df["tags"].tolist()
    assert str(plain["imageSize"].dtype) == "Int64"
