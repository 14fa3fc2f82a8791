"""Raw pages to the typed frame: schema, both parsing paths, tags helpers, replay."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from imgframe import explode_tags, normalize_pages, tag_columns
from imgframe.errors import BadResponseError, DataQualityWarning, InvalidArgument
from imgframe.frame import empty_frame, frame_from_records
from imgframe.parse import RawPage, load_pages, parse_page, save_pages
from imgframe.schema import IMAGE_COLUMNS
from imgframe.schema.arrow import IMAGE_SCHEMA

from .helpers import FETCHED_DTYPES, IMAGE_DTYPES, plain_rows

WHEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

UBUNTU = {
    "imageId": "ubuntu2404_20240712",
    "imageName": "Ubuntu Server 24.04 LTS",
    "imageType": "PUBLIC_IMAGE",
    "imageSource": "OFFICIAL",
    "imageSize": "20",
    "imageDescription": None,
    "imageVersion": "Server 24.04 LTS",
    "imageStatus": "AVAILABLE",
    "nicNetworkType": ["FailOver", "VirtioOnly"],
    "category": "Ubuntu",
    "osType": "linux",
    "tags": None,
}
CUSTOM = {
    "imageId": "img-0123456789abcdef",
    "imageName": "web-prod-ubuntu2204-20260314",
    "imageType": "CUSTOM_IMAGE",
    "imageSource": "CUSTOM",
    "imageSize": "40",
    "minDiskSize": 40,
    "imageDescription": "nightly build é日",
    "imageVersion": "22.04",
    "imageStatus": "AVAILABLE",
    "nicNetworkType": ["VirtioOnly"],
    "category": "Ubuntu",
    "osType": "linux",
    "tags": {"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "web"}]},
}
CREATING = {**CUSTOM, "imageId": "img-creating", "imageStatus": "CREATING", "imageSize": None,
            "tags": {"tags": []}}  # fmt: skip


#: UBUNTU, CUSTOM and CREATING as a frame of zone asia-east-1a holds them, in plain Python.
ROWS = {
    "ubuntu2404_20240712": {
        "zoneId": "asia-east-1a", "imageId": "ubuntu2404_20240712",
        "imageName": "Ubuntu Server 24.04 LTS", "imageType": "PUBLIC_IMAGE",
        "imageSource": "OFFICIAL", "imageSize": 20, "minDiskSize": None,
        "imageDescription": None, "imageVersion": "Server 24.04 LTS", "imageStatus": "AVAILABLE",
        "nicNetworkType": ["FailOver", "VirtioOnly"], "category": "Ubuntu", "osType": "linux",
        "tags": [], "fetchedAt": pd.Timestamp(WHEN),
    },
    "img-0123456789abcdef": {
        "zoneId": "asia-east-1a", "imageId": "img-0123456789abcdef",
        "imageName": "web-prod-ubuntu2204-20260314", "imageType": "CUSTOM_IMAGE",
        "imageSource": "CUSTOM", "imageSize": 40, "minDiskSize": 40,
        "imageDescription": "nightly build é日", "imageVersion": "22.04",
        "imageStatus": "AVAILABLE", "nicNetworkType": ["VirtioOnly"], "category": "Ubuntu",
        "osType": "linux",
        "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "web"}],
        "fetchedAt": pd.Timestamp(WHEN),
    },
    "img-creating": {
        "zoneId": "asia-east-1a", "imageId": "img-creating",
        "imageName": "web-prod-ubuntu2204-20260314", "imageType": "CUSTOM_IMAGE",
        "imageSource": "CUSTOM", "imageSize": None, "minDiskSize": 40,
        "imageDescription": "nightly build é日", "imageVersion": "22.04",
        "imageStatus": "CREATING", "nicNetworkType": ["VirtioOnly"], "category": "Ubuntu",
        "osType": "linux", "tags": [], "fetchedAt": pd.Timestamp(WHEN),
    },
}  # fmt: skip


def page(records: list[dict[str, Any]], total: int | None = None, **extra: Any) -> bytes:
    response = {"requestId": "REQ-1", "dataSet": records, "totalCount": total or len(records)}
    return json.dumps({"requestId": "REQ-1", "response": response, **extra}).encode()


def test_frame_has_the_documented_columns_and_dtypes() -> None:
    df = normalize_pages(
        [page([UBUNTU, CUSTOM, CREATING])], zone_id="asia-east-1a", fetched_at=WHEN
    )
    assert list(df.columns) == list(IMAGE_COLUMNS) == list(IMAGE_DTYPES)
    assert {c: str(t) for c, t in df.dtypes.items()} == IMAGE_DTYPES
    assert plain_rows(df) == list(ROWS.values())
    assert df["imageSize"].tolist() == [20, 40, pd.NA]
    assert df["imageDescription"].tolist() == [pd.NA, "nightly build é日", "nightly build é日"]


def test_empty_result_has_full_schema() -> None:
    empty = normalize_pages([page([])], zone_id="z")
    assert len(empty) == 0
    assert {c: str(t) for c, t in empty.dtypes.items()} == IMAGE_DTYPES
    assert list(empty.columns) == list(IMAGE_DTYPES)
    schema = empty_frame()  # a fetched frame's schema: the zone columns too
    assert {c: str(t) for c, t in schema.dtypes.items()} == FETCHED_DTYPES
    assert list(schema.columns) == list(FETCHED_DTYPES)


def test_arrow_schema_of_known_columns() -> None:
    df = normalize_pages([page([CUSTOM])], zone_id="z")
    table = pa.Table.from_pandas(df, preserve_index=False)
    for field in IMAGE_SCHEMA:
        if field.name in (
            "zoneId",
            "imageType",
            "imageSource",
            "imageStatus",
            "category",
            "osType",
        ):
            assert pa.types.is_dictionary(table.schema.field(field.name).type)
        else:
            actual = table.schema.field(field.name).type
            # pandas' string[pyarrow] hands Arrow a large_string: the same values.
            assert actual == (pa.large_string() if field.type == pa.string() else field.type)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda r: {**r, "tags": r["tags"]["tags"] if r["tags"] else None}, id="bare-list-tags"),
        pytest.param(lambda r: {**r, "imageSize": int(r["imageSize"]) if r["imageSize"] else None}, id="numeric-size"),
        pytest.param(lambda r: {**r, "newField": {"nested": [1, 2]}}, id="new-nested-field"),
    ],
)  # fmt: skip
def test_slow_path_reads_shapes_the_fast_path_cannot(variant: Any) -> None:
    records = [CUSTOM, UBUNTU, CREATING]
    zone = "asia-east-1a"
    fast = normalize_pages([page(records)], zone_id=zone, fetched_at=WHEN)
    other = normalize_pages([page([variant(r) for r in records])], zone_id=zone, fetched_at=WHEN)
    assert plain_rows(other[list(IMAGE_DTYPES)]) == [ROWS[r["imageId"]] for r in records]
    pd.testing.assert_frame_equal(other[fast.columns], fast)  # categories and dtypes too


def test_pretty_printed_body_parses_the_same() -> None:
    compact = page([CUSTOM, UBUNTU])
    pretty = json.dumps(json.loads(compact), indent=2).encode()
    a = normalize_pages([compact], zone_id="asia-east-1a", fetched_at=WHEN)
    b = normalize_pages([pretty], zone_id="asia-east-1a", fetched_at=WHEN)
    assert plain_rows(b) == [ROWS[CUSTOM["imageId"]], ROWS[UBUNTU["imageId"]]]
    pd.testing.assert_frame_equal(a, b)


def test_new_api_fields_are_kept_as_columns() -> None:
    df = normalize_pages([page([{**CUSTOM, "imageArch": "x86_64"}, UBUNTU])], zone_id="z")
    assert df["imageArch"].tolist() == ["x86_64", pd.NA]
    assert list(df.columns)[-2:] == ["imageArch", "fetchedAt"]


def test_missing_fields_become_na_columns() -> None:
    df = normalize_pages([page([{"imageId": "only-id"}])], zone_id="z")
    assert df.loc[0, "imageId"] == "only-id"
    assert df.loc[0, "tags"] == []
    assert pd.isna(df.loc[0, "imageName"])
    assert df["nicNetworkType"].isna().all()


@pytest.mark.parametrize("garbage", ["twenty", "20GiB", "-5", "1.5", ""])
def test_unreadable_image_size_becomes_na_with_a_counted_warning(garbage: str) -> None:
    with pytest.warns(DataQualityWarning, match=r"imageSize: 2 value\(s\) were not a whole"):
        df = normalize_pages(
            [page([{**CUSTOM, "imageSize": garbage}, {**UBUNTU, "imageSize": garbage}, CUSTOM])],
            zone_id="z",
        )
    assert df["imageSize"].tolist() == [pd.NA, pd.NA, 40]


def test_null_sizes_are_not_warned_about() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = normalize_pages([page([CREATING, {**CUSTOM, "imageSize": " 30 "}])], zone_id="z")
    assert df["imageSize"].tolist() == [pd.NA, 30]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"requestId": "x", "response": {"totalCount": 3}}', "without a 'dataSet' list"),
        (b'{"requestId": "x"}', "without a 'response' object"),
        (b'{"response": {"dataSet": [], "totalCount": "3"}}', "without an integer 'totalCount'"),
        (b'{"response": {"dataSet": [{"imageId": "a"}', "not valid JSON"),
        (b"[1, 2]", "without a 'response' object"),
    ],
)
def test_bad_bodies_raise_a_clear_error(body: bytes, message: str) -> None:
    with pytest.raises(BadResponseError, match=message) as info:
        parse_page(body)
    assert info.value.http_status == 200


def test_parse_page_reports_total_and_request_id() -> None:
    parsed = parse_page(page([UBUNTU], total=16))
    assert (parsed.total_count, parsed.request_id, parsed.records.num_rows) == (16, "REQ-1", 1)


def test_explode_tags_keeps_untagged_images_unlike_json_normalize() -> None:
    df = normalize_pages([page([UBUNTU, CUSTOM, CREATING])], zone_id="z")
    long = explode_tags(df)
    assert long[["imageId", "tagKey", "tagValue"]].astype(object).where(long.notna(), None)[
        ["imageId", "tagKey", "tagValue"]
    ].values.tolist() == [
        ["ubuntu2404_20240712", None, None],
        ["img-0123456789abcdef", "env", "prod"],
        ["img-0123456789abcdef", "team", "web"],
        ["img-creating", None, None],
    ]
    assert "tags" not in long.columns
    assert str(long["tagKey"].dtype) == "string"
    # What a typical script does loses the untagged images entirely:
    records = [{**r, "tags": (r["tags"] or {}).get("tags", [])} for r in (UBUNTU, CUSTOM, CREATING)]
    naive = pd.json_normalize(records, record_path="tags", meta=["imageId"])
    assert naive["imageId"].tolist() == ["img-0123456789abcdef", "img-0123456789abcdef"]


def test_explode_tags_of_empty_frame() -> None:
    long = explode_tags(empty_frame())
    assert len(long) == 0
    assert list(long.columns) == [c for c in FETCHED_DTYPES if c != "tags"] + ["tagKey", "tagValue"]
    assert (str(long["tagKey"].dtype), str(long["tagValue"].dtype)) == ("string", "string")


def test_tag_columns() -> None:
    twice = {**CUSTOM, "imageId": "dup", "tags": {"tags": [{"key": "env", "value": "a"},
                                                          {"key": "env", "value": "b"}]}}  # fmt: skip
    df = normalize_pages([page([UBUNTU, CUSTOM, twice])], zone_id="z")
    wide = tag_columns(df)
    assert list(wide.columns[-2:]) == ["tag:env", "tag:team"]
    assert wide["tag:env"].tolist() == [pd.NA, "prod", "b"]
    assert wide["tag:team"].tolist() == [pd.NA, "web", pd.NA]
    assert str(wide["tag:env"].dtype) == "string"
    assert list(tag_columns(empty_frame()).columns) == list(FETCHED_DTYPES)


def test_save_and_replay_pages(tmp_path: Path) -> None:
    pages = [
        RawPage("asia-east-1a", 1, page([UBUNTU, CUSTOM], total=3)),
        RawPage("asia-east-1a", 2, page([CREATING], total=3)),
        RawPage("na-west-1a", 1, page([UBUNTU])),
    ]
    save_pages(pages, tmp_path / "raw")
    assert sorted(
        p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*.json")
    ) == [
        "asia-east-1a/page-00001.json",
        "asia-east-1a/page-00002.json",
        "na-west-1a/page-00001.json",
    ]
    assert load_pages(tmp_path / "raw") == pages
    replayed = normalize_pages(tmp_path / "raw", fetched_at=WHEN)
    direct = normalize_pages(pages, fetched_at=WHEN)
    pd.testing.assert_frame_equal(replayed, direct)
    assert replayed["zoneId"].tolist() == ["asia-east-1a"] * 3 + ["na-west-1a"]


def test_replay_errors() -> None:
    with pytest.raises(InvalidArgument, match="zone_id is needed"):
        normalize_pages([page([])])


def test_frame_from_records_per_record_zone() -> None:
    df = frame_from_records([{**UBUNTU, "zoneId": "a"}, {**CUSTOM, "zoneId": "b"}], fetched_at=WHEN)
    assert df["zoneId"].tolist() == ["a", "b"]
    with pytest.raises(InvalidArgument, match="has no zoneId"):
        frame_from_records([UBUNTU])
