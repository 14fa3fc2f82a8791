"""fetch_images / fetch_zones against the sandbox over real HTTP: results equal ground truth."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import imgframe
from imgframe import sandbox
from imgframe.errors import InvalidArgument, NotFoundError, NotListedError
from imgframe.frame import normalize_pages

from .helpers import FETCHED_DTYPES, client_kwargs


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["imageId"].tolist()


def truth(sb: sandbox.Sandbox, zone: str, **filters: Any) -> list[str]:
    return [r["imageId"] for r in sb.catalog.query(zone, **filters)]


def test_seed_example_from_the_docs(sb: sandbox.Sandbox) -> None:
    df = imgframe.fetch_images("asia-east-1a", os_type="linux", image_type="PUBLIC_IMAGE",
                               **client_kwargs(sb))  # fmt: skip
    assert len(df) == 16
    assert ids(df)[:3] == ["ubuntu2404_20240712", "ubuntu2204_20240712", "ubuntu2004_20240712"]
    first = df.iloc[0]
    assert (first["imageName"], first["imageSize"], first["imageSource"]) == (
        "Ubuntu Server 24.04 LTS", 20, "OFFICIAL",
    )  # fmt: skip
    assert first["nicNetworkType"] == ["FailOver", "VirtioOnly"]
    assert df["imageSource"].tolist()[2] == "MARKETING"


def test_whole_zone_equals_the_catalog(sb: sandbox.Sandbox, client: imgframe.Client) -> None:
    zone = sb.catalog.zone_ids[0]
    df = client.fetch_images(zone)
    assert ids(df) == truth(sb, zone)
    assert set(df["zoneId"]) == {zone}
    expected = sb.catalog.images(zone)
    sizes = [None if r.get("imageSize") is None else int(r["imageSize"]) for r in expected]
    assert [None if pd.isna(v) else int(v) for v in df["imageSize"]] == sizes
    assert list(df["tags"]) == [(r.get("tags") or {}).get("tags") or [] for r in expected]


@pytest.mark.parametrize("page_size", [1000, 97, 7])
def test_multi_page_fetch_returns_every_image_once(sb: sandbox.Sandbox, page_size: int) -> None:
    zone = max(sb.catalog.zone_ids, key=lambda z: len(sb.catalog.images(z)))
    expected = truth(sb, zone)
    sb.clear_requests()
    df = imgframe.fetch_images(zone, page_size=page_size, max_concurrency=3, **client_kwargs(sb))
    assert ids(df) == expected
    pages = [r for r in sb.requests if r.action == "DescribeImages"]
    assert len(pages) == -(-len(expected) // page_size)
    assert sorted(r.page_num for r in pages) == list(range(1, len(pages) + 1))
    assert {r.body["pageSize"] for r in pages} == {page_size}


@pytest.mark.parametrize(
    "filters",
    [
        {"os_type": "windows"},
        {"os_type": "bsd"},
        {"category": "Rocky"},
        {"image_type": "CUSTOM_IMAGE"},
        {"image_source": "MARKETING"},
        {"image_status": "FAILED"},
        {"image_status": "CREATING"},
        {"image_name": "UBUNTU"},
        {"image_name": "prod"},
        {"tag_keys": ["env"]},
        {"tag_keys": ["env", "team"]},
        {"tags": {"env": "prod"}},
        {"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]},
        {"os_type": "linux", "image_type": "CUSTOM_IMAGE", "image_status": "AVAILABLE"},
    ],
    ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()),
)
def test_every_filter_is_applied_by_the_api(
    sb: sandbox.Sandbox, client: imgframe.Client, filters: dict[str, Any]
) -> None:
    api_names = {
        "os_type": "osType", "category": "category", "image_type": "imageType",
        "image_source": "imageSource", "image_status": "imageStatus",
        "image_name": "imageName", "tag_keys": "tagKeys", "tags": "tags",
    }  # fmt: skip
    api_filters = {api_names[k]: v for k, v in filters.items()}
    if isinstance(api_filters.get("tags"), dict):
        api_filters["tags"] = [{"key": k, "value": v} for k, v in api_filters["tags"].items()]
    zone = sb.catalog.zone_ids[1]
    sb.clear_requests()
    df = client.fetch_images(zone, page_size=50, **filters)
    assert ids(df) == truth(sb, zone, **api_filters)
    sent = [r.body for r in sb.requests if r.action == "DescribeImages"]
    for body in sent:
        assert {k: body[k] for k in api_filters} == api_filters


def test_image_ids_filter(sb: sandbox.Sandbox, client: imgframe.Client) -> None:
    zone = sb.catalog.zone_ids[0]
    wanted = [*truth(sb, zone)[5:9], "img-does-not-exist"]
    df = client.fetch_images(zone, image_ids=wanted)
    assert ids(df) == truth(sb, zone, imageIds=wanted)
    assert len(df) == 4


def test_no_match_is_an_empty_frame_with_the_schema(client: imgframe.Client) -> None:
    df = client.fetch_images("asia-east-1a", image_name="no-such-image-anywhere")
    assert len(df) == 0
    assert {c: str(t) for c, t in df.dtypes.items()} == FETCHED_DTYPES
    assert list(df.columns) == list(FETCHED_DTYPES)


def test_all_zones_joins_zone_columns(sb: sandbox.Sandbox, client: imgframe.Client) -> None:
    df = client.fetch_images("all")
    assert len(df) == len(sb.catalog)
    assert list(df.columns[:6]) == [
        "zoneId", "regionId", "zoneName", "cityName", "countryCode", "imageId",
    ]  # fmt: skip
    zones = {z["zoneId"]: z for z in sb.catalog.zones}
    for row in df.drop_duplicates("zoneId").itertuples():
        assert (row.regionId, row.cityName, row.countryCode) == (
            zones[row.zoneId]["regionId"],
            zones[row.zoneId]["cityName"],
            zones[row.zoneId]["countryCode"],
        )
    per_zone = df.groupby("zoneId", observed=True).size().to_dict()
    assert per_zone == {
        z: len(sb.catalog.images(z)) for z in sb.catalog.zone_ids if sb.catalog.images(z)
    }
    assert df.attrs["imgframe"]["zones"] == sorted(sb.catalog.zone_ids)


def test_zone_list_keeps_order_and_checks_names(
    sb: sandbox.Sandbox, client: imgframe.Client
) -> None:
    pair = [sb.catalog.zone_ids[2], sb.catalog.zone_ids[0]]
    df = client.fetch_images(pair, os_type="linux")
    assert ids(df) == truth(sb, pair[0], osType="linux") + truth(sb, pair[1], osType="linux")
    assert "regionId" in df.columns
    sb.clear_requests()
    with pytest.raises(
        NotListedError, match="unknown zone\\(s\\) mars-north-1a; DescribeZones lists"
    ):
        client.fetch_images([pair[0], "mars-north-1a"])
    assert [r.action for r in sb.requests] == ["DescribeZones"]


def test_unknown_single_zone_is_the_api_404(sb: sandbox.Sandbox, client: imgframe.Client) -> None:
    sb.clear_requests()
    with pytest.raises(NotFoundError) as info:
        client.fetch_images("mars-north-1a")
    err = info.value
    assert (err.code, err.http_status, err.action, err.attempts) == (
        "INVALID_ZONE_NOT_FOUND", 404, "DescribeImages", 1,
    )  # fmt: skip
    (request,) = [r for r in sb.requests if r.action == "DescribeImages"]
    assert (request.status, err.request_id) == (404, request.request_id)
    assert str(err).startswith("DescribeImages failed: INVALID_ZONE_NOT_FOUND (HTTP 404): ")


def test_concurrency_does_not_change_the_result(sb: sandbox.Sandbox) -> None:
    expected = [(z, i) for z in sorted(sb.catalog.zone_ids) for i in truth(sb, z)]
    results = [
        imgframe.fetch_images("all", page_size=100, max_concurrency=n, **client_kwargs(sb))
        for n in (1, 8)
    ]
    for df in results:
        assert list(zip(df["zoneId"].astype(str), ids(df), strict=True)) == expected
    pd.testing.assert_frame_equal(
        results[0].drop(columns="fetchedAt"), results[1].drop(columns="fetchedAt")
    )


def test_bad_arguments_fail_before_any_request(
    sb: sandbox.Sandbox, client: imgframe.Client
) -> None:
    sb.clear_requests()
    for call, message in (
        (lambda: client.fetch_images("asia-east-1a", page_size=0),
         "page_size must be between 1 and 1000, got 0"),
        (lambda: client.fetch_images("asia-east-1a", page_size=1001),
         "page_size must be between 1 and 1000, got 1001"),
        (lambda: client.fetch_images("asia-east-1a", os_type="Linux"),
         "osType 'Linux' is not one of: linux, bsd, windows, android, any"),
        (lambda: client.fetch_images("asia-east-1a", tags={f"k{i}": "v" for i in range(21)}),
         "tags holds 21 tags; at most 20"),
        (lambda: client.fetch_images("", os_type="linux"),
         "zone_id must be a non-empty string, not ''"),
        (lambda: client.fetch_images([]),
         "zone_id is an empty list; give at least one zone or 'all'"),
    ):  # fmt: skip
        with pytest.raises(InvalidArgument) as info:
            call()
        assert str(info.value) == message
    assert sb.requests == []


def test_fetch_zones(sb: sandbox.Sandbox, client: imgframe.Client) -> None:
    zones = client.fetch_zones()
    assert zones["zoneId"].tolist() == sorted(sb.catalog.zone_ids)
    assert str(zones["zoneId"].dtype) == "string"
    assert str(zones["supportHaVip"].dtype) == "boolean"
    hk = zones.set_index("zoneId").loc["asia-east-1a"]
    assert (hk["regionId"], hk["countryCode"]) == ("asia-east-1", "HK")
    assert client.fetch_zones(["asia-east-1a"])["zoneId"].tolist() == ["asia-east-1a"]


def test_bearer_token_works(sb: sandbox.Sandbox) -> None:
    df = imgframe.fetch_images("asia-east-1a", endpoint=sb.endpoint, token=sb.token)
    assert ids(df) == truth(sb, "asia-east-1a")


def test_credentials_from_the_environment(
    sb: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZENLAYER_ENDPOINT", sb.endpoint)
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_ID", sb.access_key_id)
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", sb.access_key_secret)
    assert imgframe.fetch_zones()["zoneId"].tolist() == sorted(sb.catalog.zone_ids)


def test_raw_pages_replay_to_the_same_frame(
    sb: sandbox.Sandbox, client: imgframe.Client, tmp_path: Path
) -> None:
    df = client.fetch_images(["asia-east-1a", sb.catalog.zone_ids[1]], page_size=64,
                             raw_dir=tmp_path / "raw")  # fmt: skip
    replayed = normalize_pages(tmp_path / "raw", fetched_at=df["fetchedAt"].iloc[0])
    pd.testing.assert_frame_equal(
        replayed, df.drop(columns=["regionId", "zoneName", "cityName", "countryCode"])
    )
    pages = client.fetch_images_raw("asia-east-1a", page_size=64)
    assert [p.page_num for p in pages] == list(range(1, len(pages) + 1))


def test_metadata_in_attrs(sb: sandbox.Sandbox, client: imgframe.Client) -> None:
    tags = [{"key": "env", "value": "prod"}]
    total = sb.catalog.count("asia-east-1a", osType="windows", tags=tags)
    assert total > 20  # several pages of 20
    sb.clear_requests()
    df = client.fetch_images("asia-east-1a", os_type="windows", tags={"env": "prod"}, page_size=20)
    meta = df.attrs["imgframe"]
    assert meta["filters"] == {"osType": "windows", "tags": tags}
    assert meta["zones"] == ["asia-east-1a"]
    assert meta["totalCounts"] == {"asia-east-1a": total}
    pages = [r for r in sb.requests if r.action == "DescribeImages"]
    assert sorted(meta["requestIds"]) == sorted(r.request_id for r in pages)
    assert len(meta["requestIds"]) == -(-total // 20)


def test_progress_bar_only_when_asked(
    sb: sandbox.Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    images = sum(sb.catalog.count(z) for z in sb.catalog.zone_ids)
    imgframe.fetch_images("all", page_size=100, progress=True, **client_kwargs(sb))
    # Images, not pages: estimated (~) until every zone's first page has come, then exact.
    shown = capsys.readouterr().err
    assert re.search(r"DescribeImages, 8 zones:   0%\|[ ]+\| 0/~[\d,]+ \[", shown), shown
    assert f"100%|██████████| {images:,}/{images:,} [" in shown
    imgframe.fetch_images("all", page_size=100, **client_kwargs(sb))  # not a TTY: silent
    assert capsys.readouterr().err == ""
