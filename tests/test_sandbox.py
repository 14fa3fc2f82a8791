"""The sandbox speaks the Zenlayer API faithfully: real HTTP on 127.0.0.1, raw signed requests
and the official SDK, exact answers checked against the catalog and against hand-computed
expectations."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from imgframe import sandbox
from imgframe.errors import InvalidArgument
from imgframe.sandbox.auth import authenticate
from imgframe.sandbox.filters import ImageFilter
from imgframe.schema import (
    CATEGORIES,
    IMAGE_FIELDS,
    IMAGE_SOURCES,
    IMAGE_STATUSES,
    IMAGE_TYPES,
    OS_TYPES,
    ZONE_FIELDS,
)
from tests.sandbox_helpers import (
    bearer_headers,
    call,
    encode,
    list_all,
    page,
    raw_exchange,
    raw_request,
    read_response,
    signed_headers,
)

REQUEST_ID = re.compile(r"^T[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
BIG_ZONE = "asia-southeast-1a"
HK = "asia-east-1a"

#: The API reference's seed example, field for field.
SEED_EXAMPLE = [
    {
        "imageId": f"ubuntu{v.replace('.', '')}_20240712",
        "imageName": f"Ubuntu Server {v} LTS",
        "imageType": "PUBLIC_IMAGE",
        "imageSource": source,
        "imageSize": "20",
        "imageDescription": None,
        "imageVersion": f"Server {v} LTS",
        "imageStatus": "AVAILABLE",
        "nicNetworkType": ["FailOver", "VirtioOnly"],
        "category": "Ubuntu",
        "osType": "linux",
        "tags": None,
    }
    for v, source in (("24.04", "OFFICIAL"), ("22.04", "OFFICIAL"), ("20.04", "MARKETING"))
]


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.Sandbox]:
    with sandbox.running(images=2000, seed=7) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests may inject faults, churn or change the day: undo it after each one."""
    yield
    if "sb" in request.fixturenames:
        request.getfixturevalue("sb").reset()


@pytest.fixture
def s() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def tag_pairs(tags: Any) -> set[tuple[str, str]]:
    """Tags in any served shape (wrapper, bare list, null) as (key, value) pairs."""
    if tags is None:
        return set()
    items = tags["tags"] if isinstance(tags, dict) else tags
    return {(t["key"], t["value"]) for t in items}


def by_hand(records: list[dict[str, Any]], **f: Any) -> list[dict[str, Any]]:
    """The documented filter semantics, written out independently of the sandbox."""
    out = []
    for r in records:
        pairs = tag_pairs(r["tags"])
        if f.get("imageIds") and r["imageId"] not in f["imageIds"]:
            continue
        if f.get("imageName") and f["imageName"].lower() not in r["imageName"].lower():
            continue
        enums = ("category", "imageType", "imageSource", "osType", "imageStatus")
        if any(k in f and r[k] != f[k] for k in enums):
            continue
        if not set(f.get("tagKeys", [])) <= {k for k, _ in pairs}:
            continue
        if not {(t["key"], t["value"]) for t in f.get("tags", [])} <= pairs:
            continue
        out.append(r)
    return out


# -- the seed example, raw and through the official SDK -----------------------------------


def test_seed_example_answers_exactly_as_documented(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    r = call(s, sb, {"zoneId": HK, "osType": "linux", "pageSize": 3})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(r.headers["Content-Length"]) == len(r.content)
    answer = r.json()
    assert list(answer) == ["requestId", "response"]
    assert REQUEST_ID.match(answer["requestId"])
    assert answer["response"] == {
        "requestId": answer["requestId"],
        "dataSet": SEED_EXAMPLE,
        "totalCount": 16,
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns on supportSecurityGroup
@pytest.mark.parametrize("kind", ["access key", "token"])
def test_official_sdk_is_accepted(sb: sandbox.Sandbox, kind: str) -> None:
    from zenlayercloud.common.config import Config
    from zenlayercloud.common.credential import Credential, TokenCredential
    from zenlayercloud.zec.v20250901 import models
    from zenlayercloud.zec.v20250901.zec_client import ZecClient

    credential = (
        Credential(sb.access_key_id, sb.access_key_secret)
        if kind == "access key"
        else TokenCredential(sb.token)
    )
    client = ZecClient(credential, Config(scheme="http", domain=f"127.0.0.1:{sb.port}"))
    req = models.DescribeImagesRequest()
    req.zoneId, req.osType, req.pageSize = HK, "linux", 3
    images = client.DescribeImages(req)
    assert images.totalCount == 16
    # The SDK's models leave unset attributes out: compare every documented field.
    assert [{f: getattr(im, f, None) for f in IMAGE_FIELDS} for im in images.dataSet] == [
        {f: record.get(f) for f in IMAGE_FIELDS} for record in SEED_EXAMPLE
    ]
    assert REQUEST_ID.match(images.requestId)

    zones = client.DescribeZones(models.DescribeZonesRequest())
    assert [z.serialize(allow_none=True) for z in zones.zoneSet] == sb.catalog.zones
    only = models.DescribeZonesRequest()
    only.zoneIds = ["sa-north-1a", "nowhere-1a"]
    assert [z.cityName for z in client.DescribeZones(only).zoneSet] == ["São Paulo"]

    statuses = [(r.action, r.status) for r in sb.requests[-3:]]
    assert statuses == [("DescribeImages", 200), ("DescribeZones", 200), ("DescribeZones", 200)]


# -- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        ({"sign_body": b'{"zoneId":"asia-east-1a","pageSize":4}'}, "signature does not match"),
        ({"sign_host": "127.0.0.1:1"}, "signature does not match"),
        ({"sign_host": "127.0.0.1"}, "signature does not match"),
        (
            {
                "content_type": "application/json; charset=utf-8",
                "sign_content_type": "application/json",
            },
            "signature does not match",
        ),
        ({"secret": "not-the-secret"}, "signature does not match"),
        ({"key_id": "nobody"}, "access key id does not exist"),
    ],
)
def test_tampered_or_foreign_signatures_are_rejected(
    sb: sandbox.Sandbox, s: requests.Session, tamper: dict[str, Any], fragment: str
) -> None:
    r = call(s, sb, {"zoneId": HK, "pageSize": 3}, **tamper)
    assert r.status_code == 401
    body = r.json()
    assert set(body) == {"requestId", "code", "message"}
    assert body["code"] == "AUTHFAILURE_SIGNATURE_FAILURE"
    assert fragment in body["message"]


def test_exact_content_type_signs_and_is_accepted(sb: sandbox.Sandbox, s: requests.Session) -> None:
    r = call(s, sb, {"zoneId": HK, "pageSize": 1}, content_type="application/json; charset=utf-8")
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "no credentials"),
        ({"Authorization": "Bearer wrong-token"}, "bearer token is not valid"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "well-formed"),
        ({"Authorization": "ZC2-HMAC-SHA256 Credential=imgframe-demo"}, "well-formed"),
    ],
)
def test_missing_or_bad_credentials_are_rejected(
    sb: sandbox.Sandbox, s: requests.Session, headers: dict[str, str], fragment: str
) -> None:
    base = {"Content-Type": "application/json", "X-ZC-Action": "DescribeImages"}
    base["X-ZC-Version"] = "2025-09-01"
    r = s.post(sb.api_url, data=b'{"zoneId":"asia-east-1a"}', headers={**base, **headers})
    assert (r.status_code, r.json()["code"]) == (401, "AUTHFAILURE_SIGNATURE_FAILURE")
    assert fragment in r.json()["message"]


def test_signature_method_and_signed_headers_are_checked(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    body = b'{"zoneId":"asia-east-1a"}'
    headers = signed_headers(sb, body)
    wrong_method = {**headers, "X-ZC-Signature-Method": "HMAC-SHA1"}
    r = s.post(sb.api_url, data=body, headers=wrong_method)
    assert r.status_code == 401
    assert "X-ZC-Signature-Method must be ZC2-HMAC-SHA256" in r.json()["message"]
    more_headers = headers["Authorization"].replace("content-type;host", "content-type;host;x")
    r = s.post(sb.api_url, data=body, headers={**headers, "Authorization": more_headers})
    assert r.status_code == 401
    assert "SignedHeaders must be content-type;host" in r.json()["message"]


@pytest.mark.parametrize(("offset", "status"), [(-301, 401), (301, 401), (-300, 200), (300, 200)])
def test_timestamp_skew_beyond_300_seconds_is_rejected_with_a_clock_message(
    s: requests.Session, offset: int, status: int
) -> None:
    now = 1_750_000_000
    with sandbox.running(images=0, clock=lambda: now + 0.9) as box:
        r = call(s, box, {"zoneId": HK, "pageSize": 1}, timestamp=str(now + offset))
    assert r.status_code == status
    if status == 401:
        message = r.json()["message"]
        assert message.startswith(f"The request timestamp is expired: it is {offset:+d} s from")
        assert "clock" in message


def test_extra_credentials_and_tokens_are_accepted(s: requests.Session) -> None:
    with sandbox.running(images=0, credentials={"ak-2": "sk-2"}, tokens=["tok-2"]) as box:
        assert call(s, box, {"zoneId": HK}, key_id="ak-2", secret="sk-2").status_code == 200
        assert call(s, box, {"zoneId": HK}).status_code == 200  # the demo key still works
        r = s.post(box.api_url, data=b'{"zoneId":"asia-east-1a"}', headers=bearer_headers("tok-2"))
        assert r.status_code == 200
        r = s.post(
            box.api_url, data=b'{"zoneId":"asia-east-1a"}', headers=bearer_headers(box.token)
        )
        assert r.status_code == 200


def test_published_signature_vectors_verify() -> None:
    path = Path(__file__).parent / "data" / "signature-vectors.json"
    for case in json.loads(path.read_text(encoding="utf-8"))["cases"]:
        headers = {
            "host": case["host"],
            "content-type": case["contentType"],
            "x-zc-timestamp": case["timestamp"],
            "x-zc-signature-method": "ZC2-HMAC-SHA256",
            "authorization": case["authorization"],
        }
        keys = {case["accessKeyId"]: case["accessKeyPassword"]}
        body = case["body"].encode()
        now = int(case["timestamp"])
        assert authenticate(headers, body, credentials=keys, tokens=(), now=now) is None
        tampered = authenticate(headers, body + b" ", credentials=keys, tokens=(), now=now)
        assert tampered is not None
        assert "signature does not match" in tampered


# -- errors ---------------------------------------------------------------------------------

ENUM_VALUES = {
    "category": CATEGORIES,
    "imageType": IMAGE_TYPES,
    "imageSource": IMAGE_SOURCES,
    "osType": OS_TYPES,
    "imageStatus": IMAGE_STATUSES,
}


@pytest.mark.parametrize(
    ("payload", "status", "code", "fragment"),
    [
        ({}, 400, "MISSING_PARAMETER", "zoneId is missing"),
        ({"zoneId": None}, 400, "MISSING_PARAMETER", "zoneId is missing"),
        ({"zoneId": 7}, 400, "INVALID_PARAMETER", "zoneId must be a string"),
        ({"zoneId": "mars-1a"}, 404, "INVALID_ZONE_NOT_FOUND", "Region does not exist."),
        ({"zoneId": HK, "pageNum": 0}, 400, "INVALID_PARAMETER_VALUE", "pageNum must be >= 1"),
        ({"zoneId": HK, "pageSize": 0}, 400, "INVALID_PARAMETER_VALUE", "between 1 and 1000"),
        ({"zoneId": HK, "pageSize": 1001}, 400, "INVALID_PARAMETER_VALUE", "got 1001"),
        ({"zoneId": HK, "pageNum": "2"}, 400, "INVALID_PARAMETER", "pageNum must be an integer"),
        ({"zoneId": HK, "pageSize": True}, 400, "INVALID_PARAMETER", "pageSize must be an int"),
        ({"zoneId": HK, "pageSize": 20.0}, 400, "INVALID_PARAMETER", "pageSize must be an int"),
        ({"zoneId": HK, "imageName": 5}, 400, "INVALID_PARAMETER", "imageName must be a string"),
        (
            {"zoneId": HK, "imageIds": "img-1"},
            400,
            "INVALID_PARAMETER",
            "imageIds must be an array",
        ),
        ({"zoneId": HK, "imageIds": [1]}, 400, "INVALID_PARAMETER", "array of strings"),
        (
            {"zoneId": HK, "tagKeys": [f"k{i}" for i in range(21)]},
            400,
            "INVALID_PARAMETER_VALUE",
            "tagKeys accepts at most 20 items, got 21",
        ),
        (
            {"zoneId": HK, "tags": [{"key": f"k{i}", "value": "v"} for i in range(21)]},
            400,
            "INVALID_PARAMETER_VALUE",
            "tags accepts at most 20 items, got 21",
        ),
        (
            {"zoneId": HK, "tags": [{"key": "k" * 65, "value": "v"}]},
            400,
            "INVALID_PARAMETER_VALUE",
            "tags.key must be 1 to 64 characters, got 65",
        ),
        (
            {"zoneId": HK, "tags": [{"key": "env", "value": ""}]},
            400,
            "INVALID_PARAMETER_VALUE",
            "tags.value must be 1 to 64 characters, got 0",
        ),
        ({"zoneId": HK, "tagKeys": [""]}, 400, "INVALID_PARAMETER_VALUE", "tagKeys must be 1"),
        ({"zoneId": HK, "tags": ["env=prod"]}, 400, "INVALID_PARAMETER", "tags must be an array"),
        ({"zoneId": HK, "tags": [{"key": 1, "value": "x"}]}, 400, "INVALID_PARAMETER", "string"),
        *[
            (
                {"zoneId": HK, field: "nope"},
                400,
                "INVALID_PARAMETER_VALUE",
                f"{field} 'nope' is not valid; valid values: {', '.join(values)}.",
            )
            for field, values in ENUM_VALUES.items()
        ],
        ({"zoneId": HK, "osType": "Linux"}, 400, "INVALID_PARAMETER_VALUE", "osType 'Linux'"),
        (b"{zoneId:", 400, "INVALID_PARAMETER", "not valid JSON"),
        (b"", 400, "INVALID_PARAMETER", "not valid JSON"),
        (b'{"zoneId":"asia-east-1a","pageSize":NaN}', 400, "INVALID_PARAMETER", "not valid JSON"),
        (b"[]", 400, "INVALID_PARAMETER", "must be a JSON object"),
        (b'{"zoneId":"\xff"}', 400, "INVALID_PARAMETER", "not UTF-8"),
    ],
)
def test_invalid_describe_images_requests_get_the_documented_error(
    sb: sandbox.Sandbox,
    s: requests.Session,
    payload: dict[str, Any] | bytes,
    status: int,
    code: str,
    fragment: str,
) -> None:
    r = call(s, sb, payload)
    body = r.json()
    assert (r.status_code, body["code"]) == (status, code)
    assert list(body) == ["requestId", "code", "message"]
    assert REQUEST_ID.match(body["requestId"])
    assert fragment in body["message"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"X-ZC-Action": "RunInstances"}, 400, "UNSUPPORTED_ACTION"),
        ({"X-ZC-Action": None}, 400, "MISSING_PARAMETER"),
        ({"X-ZC-Version": "2022-11-20"}, 400, "UNSUPPORTED_VERSION"),
        ({"X-ZC-Version": None}, 400, "UNSUPPORTED_VERSION"),
        ({"X-ZC-Service": "bmc"}, 400, "UNSUPPORTED_SERVICE"),
        ({"X-ZC-Service": None}, 200, None),  # optional
    ],
)
def test_protocol_headers_are_validated(
    sb: sandbox.Sandbox,
    s: requests.Session,
    change: dict[str, str | None],
    status: int,
    code: str | None,
) -> None:
    body = b'{"zoneId":"asia-east-1a"}'
    headers: dict[str, str | None] = {**signed_headers(sb, body), **change}
    r = s.post(sb.api_url, data=body, headers=headers)  # requests drops None headers
    assert r.status_code == status
    assert r.json().get("code") == code


def test_describe_zones_validates_zone_ids(sb: sandbox.Sandbox, s: requests.Session) -> None:
    r = call(s, sb, {"zoneIds": "asia-east-1a"}, action="DescribeZones")
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_PARAMETER")
    r = call(s, sb, {"zoneIds": ["eu-west-1a", HK]}, action="DescribeZones")
    zone_set = r.json()["response"]["zoneSet"]
    assert [z["zoneId"] for z in zone_set] == [HK, "eu-west-1a"]  # catalog order
    assert call(s, sb, {}, action="DescribeZones").json()["response"]["zoneSet"] == sb.catalog.zones


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD"])
def test_other_methods_are_405(sb: sandbox.Sandbox, s: requests.Session, method: str) -> None:
    r = s.request(method, sb.api_url)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    if method == "HEAD":
        assert r.content == b""
        assert int(r.headers["Content-Length"]) > 0
    else:
        assert r.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("path", ["/", "/api/v2/bmc", "/api/v2/zec/", "/api/v2/zec/DescribeImages"])
def test_other_paths_are_404(sb: sandbox.Sandbox, s: requests.Session, path: str) -> None:
    body = b'{"zoneId":"asia-east-1a"}'
    r = s.post(sb.endpoint + path, data=body, headers=signed_headers(sb, body))
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")


def test_oversized_body_is_413_and_closes(sb: sandbox.Sandbox) -> None:
    head = f"POST /api/v2/zec HTTP/1.1\r\nHost: 127.0.0.1:{sb.port}\r\n"
    answer = raw_exchange(sb, (head + "Content-Length: 9000000\r\n\r\n").encode())
    assert answer is not None
    assert answer.status == 413
    assert answer.closed
    assert json.loads(answer.body)["code"] == "REQUEST_ENTITY_TOO_LARGE"


@pytest.mark.parametrize(
    ("request_line", "status", "code"),
    [
        ("BREW /api/v2/zec HTTP/1.1", 405, "METHOD_NOT_ALLOWED"),
        ("POST /api/v2/zec HTTP/9.9", 505, "BAD_REQUEST"),
        ("nonsense", 400, "BAD_REQUEST"),
    ],
)
def test_requests_http_server_rejects_itself_still_get_the_json_envelope(
    sb: sandbox.Sandbox, request_line: str, status: int, code: str
) -> None:
    answer = raw_exchange(sb, f"{request_line}\r\nHost: x\r\n\r\n".encode())
    assert answer is not None
    assert (answer.status, answer.closed) == (status, True)
    assert json.loads(answer.body)["code"] == code


def test_chunked_body_is_read(sb: sandbox.Sandbox, s: requests.Session) -> None:
    chunks = iter([b'{"zoneId":"asia-', b'east-1a","pageSize":2}'])
    r = s.post(sb.api_url, data=chunks, headers=bearer_headers(sb.token))
    assert r.status_code == 200
    assert len(r.json()["response"]["dataSet"]) == 2


# -- filters and paging ---------------------------------------------------------------------

FILTER_CASES: list[dict[str, Any]] = [
    {"osType": "windows"},
    {"osType": "bsd"},
    {"category": "Ubuntu", "imageStatus": "AVAILABLE"},
    {"imageType": "PUBLIC_IMAGE"},
    {"imageSource": "MARKETING"},
    {"imageStatus": "CREATING"},
    {"imageName": "UBUNTU"},
    {"imageName": "web-prod"},
    {"tagKeys": ["owner", "backup"]},
    {"tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]},
    {"tags": [{"key": "env", "value": "prod"}], "tagKeys": ["cost-center"], "osType": "linux"},
]


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: json.dumps(f)[:60])
def test_filters_match_ground_truth_and_hand_computation(
    sb: sandbox.Sandbox, s: requests.Session, filters: dict[str, Any]
) -> None:
    served, total = list_all(s, sb, 50, zoneId=BIG_ZONE, **filters)
    expected = by_hand(sb.catalog.images(BIG_ZONE), **filters)
    assert 0 < len(expected) < len(sb.catalog.images(BIG_ZONE))
    assert served == expected
    assert total == len(expected)
    assert sb.catalog.query(BIG_ZONE, **filters) == expected


def test_empty_filters_mean_no_filter_and_contradictions_match_nothing(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    everything = len(sb.catalog.images(HK))
    empties: list[dict[str, Any]] = [
        {"tagKeys": []},
        {"tags": []},
        {"imageIds": []},
        {"imageName": ""},
    ]
    for empty in empties:
        assert page(s, sb, zoneId=HK, **empty)["totalCount"] == everything
    both = [{"key": "env", "value": "prod"}, {"key": "env", "value": "dev"}]
    assert page(s, sb, zoneId=BIG_ZONE, tags=both) == {
        "requestId": sb.requests[-1].request_id,
        "dataSet": [],
        "totalCount": 0,
    }


def test_image_ids_filter_is_exact_membership(sb: sandbox.Sandbox, s: requests.Session) -> None:
    records = sb.catalog.images(BIG_ZONE)
    wanted = [records[40]["imageId"], records[3]["imageId"], "img-0000000000000000"]
    wanted.append(records[40]["imageId"][:-1])  # a prefix is not a match
    served = page(s, sb, zoneId=BIG_ZONE, imageIds=wanted)
    assert served["dataSet"] == [records[3], records[40]]  # served order, not request order
    assert served["totalCount"] == 2


def test_paging_covers_every_image_exactly_once(sb: sandbox.Sandbox, s: requests.Session) -> None:
    served, total = list_all(s, sb, 7, zoneId=BIG_ZONE)
    ids = [r["imageId"] for r in served]
    assert total == len(sb.catalog.images(BIG_ZONE)) == len(ids) == len(set(ids))
    assert served == sb.catalog.images(BIG_ZONE)
    past_end = page(s, sb, zoneId=BIG_ZONE, pageNum=total // 7 + 2, pageSize=7)
    assert (past_end["dataSet"], past_end["totalCount"]) == ([], total)
    default = page(s, sb, zoneId=BIG_ZONE)
    assert default["dataSet"] == served[:20]
    page_nums = [r.page_num for r in sb.requests if r.action == "DescribeImages"]
    assert page_nums[: -(-total // 7)] == list(range(1, -(-total // 7) + 1))


def test_keep_alive_serves_many_requests_on_one_connection(sb: sandbox.Sandbox) -> None:
    with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as sock:
        for num in (1, 2, 3):
            body = encode({"zoneId": HK, "pageNum": num, "pageSize": 5})
            sock.sendall(raw_request(sb, body, signed_headers(sb, body)))
            answer = read_response(sock)
            assert answer is not None
            assert answer.status == 200
            assert not answer.closed
            records = json.loads(answer.body)["response"]["dataSet"]
            assert records == sb.catalog.images(HK)[(num - 1) * 5 : num * 5]


def test_concurrent_clients_get_consistent_answers(sb: sandbox.Sandbox) -> None:
    results: dict[str, list[dict[str, Any]]] = {}

    def fetch(zone: str) -> None:
        with requests.Session() as session:
            results[zone] = list_all(session, sb, 100, zoneId=zone)[0]

    threads = [threading.Thread(target=fetch, args=(z,)) for z in sb.catalog.zone_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {z: sb.catalog.images(z) for z in sb.catalog.zone_ids}


def test_requests_are_recorded_without_authorization(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    sb.clear_requests()
    before = time.time()
    r = call(s, sb, {"zoneId": HK, "pageNum": 3, "pageSize": 2})
    (record,) = sb.requests
    assert record.action == "DescribeImages"
    assert record.body == {"zoneId": HK, "pageNum": 3, "pageSize": 2}
    assert (record.status, record.page_num, record.fault) == (200, 3, None)
    assert record.request_id == r.json()["requestId"]
    assert before - 1 <= record.time <= time.time()
    assert record.headers["X-ZC-Action"] == "DescribeImages"
    assert not any(name.lower() == "authorization" for name in record.headers)
    call(s, sb, {"zoneId": HK}, action="DescribeZones")
    assert sb.requests[-1].page_num is None
    ids = [rec.request_id for rec in sb.requests]
    assert len(set(ids)) == 2
    sb.clear_requests()
    assert sb.requests == []


# -- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "code", "content_type"),
    [
        ("429", 429, "REQUEST_LIMIT_EXCEEDED", "application/json; charset=utf-8"),
        ("500-json", 500, "INTERNAL_SERVER_ERROR", "application/json; charset=utf-8"),
        ("503-json", 503, "SERVICE_TEMPORARY_UNAVAILABLE", "application/json; charset=utf-8"),
        ("504-json", 504, "REQUEST_TIMED_OUT", "application/json; charset=utf-8"),
        ("502-html", 502, None, "text/html; charset=utf-8"),
        ("503-empty", 503, None, None),
        ("403-challenge", 403, None, "text/html; charset=utf-8"),
        ("451", 451, None, "text/html; charset=utf-8"),
    ],
)
def test_scripted_error_faults(
    sb: sandbox.Sandbox,
    s: requests.Session,
    kind: str,
    status: int,
    code: str | None,
    content_type: str | None,
) -> None:
    sb.inject(kind)
    r = call(s, sb, {"zoneId": HK})
    assert r.status_code == status
    assert r.headers.get("Content-Type") == content_type
    if code is not None:
        assert r.json()["code"] == code
        assert r.json()["requestId"] == sb.requests[-1].request_id
    elif kind == "503-empty":
        assert r.content == b""
        assert r.headers["Content-Length"] == "0"
    elif kind == "502-html":
        assert b"<title>502 Bad Gateway</title>" in r.content
        assert b"nginx" in r.content
    elif kind == "403-challenge":
        assert r.headers["cf-mitigated"] == "challenge"
    assert "Retry-After" not in r.headers
    assert (sb.requests[-1].fault, sb.requests[-1].status) == (kind, status)
    assert call(s, sb, {"zoneId": HK}).status_code == 200  # consumed


def test_retry_after_is_sent_on_429s_when_configured(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    sb.faults.retry_after = 0.5
    sb.inject("429")
    assert call(s, sb, {"zoneId": HK}).headers["Retry-After"] == "0.5"
    sb.faults.retry_after = 2
    sb.inject("429")
    assert call(s, sb, {"zoneId": HK}).headers["Retry-After"] == "2"


def test_drop_closes_without_an_answer(sb: sandbox.Sandbox, s: requests.Session) -> None:
    sb.inject("drop")
    with pytest.raises(requests.ConnectionError):
        call(s, sb, {"zoneId": HK})
    assert (sb.requests[-1].status, sb.requests[-1].fault) == (0, "drop")
    body = encode({"zoneId": HK})
    sb.inject("drop")
    assert raw_exchange(sb, raw_request(sb, body, signed_headers(sb, body))) is None


def test_slow_body_outlasts_a_short_read_timeout(sb: sandbox.Sandbox, s: requests.Session) -> None:
    sb.faults.slow_body_seconds = 0.6
    sb.inject("slow")
    with pytest.raises((requests.ConnectionError, requests.Timeout)):
        call(s, sb, {"zoneId": HK, "pageSize": 5}, timeout=(2, 0.2))
    sb.inject("slow")
    started = time.monotonic()
    r = call(s, sb, {"zoneId": HK, "pageSize": 5}, timeout=(2, 3))
    assert time.monotonic() - started >= 0.6
    assert r.json()["response"]["dataSet"] == sb.catalog.images(HK)[:5]


def test_truncated_body_is_shorter_than_its_content_length(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    body = encode({"zoneId": HK, "pageSize": 10})
    sb.inject("truncated")
    answer = raw_exchange(sb, raw_request(sb, body, signed_headers(sb, body)))
    assert answer is not None
    assert answer.status == 200
    assert answer.closed
    assert 0 < len(answer.body) < int(answer.headers["content-length"])
    sb.inject("truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        call(s, sb, {"zoneId": HK, "pageSize": 10})


def test_malformed_and_no_dataset_answers(sb: sandbox.Sandbox, s: requests.Session) -> None:
    sb.inject("malformed")
    r = call(s, sb, {"zoneId": HK})
    assert (r.status_code, r.headers["Content-Type"]) == (200, "application/json; charset=utf-8")
    with pytest.raises(ValueError, match="Expecting"):
        r.json()
    sb.inject("no-dataset", "no-dataset")
    response = call(s, sb, {"zoneId": HK}).json()["response"]
    assert response == {
        "requestId": sb.requests[-1].request_id,
        "totalCount": len(sb.catalog.images(HK)),
    }
    response = call(s, sb, {}, action="DescribeZones").json()["response"]
    assert response == {"requestId": sb.requests[-1].request_id}


def test_scripted_faults_are_fifo_and_can_target_one_action(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    sb.inject("500-json", "502-html")
    sb.inject("429", action="DescribeZones")
    assert sb.faults.pending() == [
        ("500-json", None),
        ("502-html", None),
        ("429", "DescribeZones"),
    ]
    statuses = [call(s, sb, {"zoneId": HK}).status_code for _ in range(3)]
    assert statuses == [500, 502, 200]
    assert call(s, sb, {}, action="DescribeZones").status_code == 429
    assert sb.faults.pending() == []
    with pytest.raises(ValueError, match="unknown fault kind 'teapot'"):
        sb.inject("teapot")


def test_auth_failures_win_over_faults(sb: sandbox.Sandbox, s: requests.Session) -> None:
    sb.inject("429")
    assert call(s, sb, {"zoneId": HK}, secret="wrong").status_code == 401
    assert sb.faults.pending() == [("429", None)]  # not consumed by the rejected request
    assert call(s, sb, {"zoneId": HK}).status_code == 429


@pytest.mark.parametrize(
    ("knobs", "status"),
    [
        ({"rate_limit_rate": 1.0}, 429),
        ({"error_rate": 1.0, "error_status": 502, "error_body": "html"}, 502),
        ({"error_rate": 1.0, "error_status": 500}, 500),
    ],
)
def test_fault_rates_apply_to_every_request_at_rate_one(
    sb: sandbox.Sandbox, s: requests.Session, knobs: dict[str, Any], status: int
) -> None:
    for name, value in knobs.items():
        setattr(sb.faults, name, value)
    assert [call(s, sb, {"zoneId": HK}).status_code for _ in range(3)] == [status] * 3


def test_drop_rate_drops(sb: sandbox.Sandbox, s: requests.Session) -> None:
    sb.faults.drop_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        call(s, sb, {"zoneId": HK})


def test_fault_rates_repeat_with_the_seed() -> None:
    def run(seed: int) -> list[str | None]:
        faults = sandbox.Faults(rate_limit_rate=0.2, error_rate=0.2, drop_rate=0.1, seed=seed)
        return [faults.decide("DescribeImages", 0.0) for _ in range(200)]

    first = run(3)
    assert first == run(3)
    assert first != run(4)
    assert set(first) == {None, "429", "503-json", "drop"}


def test_storm_throttles_every_request_until_it_passes(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    sb.start_storm(0.4)
    assert [call(s, sb, {"zoneId": HK}).status_code for _ in range(3)] == [429] * 3
    time.sleep(0.45)
    assert call(s, sb, {"zoneId": HK}).status_code == 200
    sb.faults.throttle_seconds = 0.3  # a new value starts a new storm at the next request
    assert call(s, sb, {"zoneId": HK}).status_code == 429
    time.sleep(0.35)
    assert call(s, sb, {"zoneId": HK}).status_code == 200


def test_latency_delays_every_answer(sb: sandbox.Sandbox, s: requests.Session) -> None:
    sb.faults.latency_ms = 150
    started = time.monotonic()
    assert call(s, sb, {"zoneId": HK}).status_code == 200
    assert time.monotonic() - started >= 0.15


def test_churn_shifts_a_listing_while_it_is_paged(s: requests.Session) -> None:
    def page_through() -> tuple[list[str], list[int], list[list[str]]]:
        faults = sandbox.Faults(churn_per_request=4)
        with sandbox.running(images=1000, faults=faults) as box:
            before = [r["imageId"] for r in box.catalog.images(BIG_ZONE)]
            seen, totals, truth = [], [], []
            for num in range(1, 8):
                response = page(s, box, zoneId=BIG_ZONE, pageNum=num, pageSize=40)
                seen += [r["imageId"] for r in response["dataSet"]]
                totals.append(response["totalCount"])
                # The ground truth after a request is what that request was served from.
                truth.append([r["imageId"] for r in box.catalog.images(BIG_ZONE)])
                assert response["dataSet"] == box.catalog.images(BIG_ZONE)[(num - 1) * 40 :][:40]
            assert box.catalog.churned
            return before, totals, [seen, *truth]

    before, totals, observed = page_through()
    seen = observed[0]
    assert totals == [len(before)] * 7  # as many created as deleted
    assert len(seen) == len(before)
    assert seen != before  # the listing moved under the pager
    assert set(seen) - set(before)  # images created during paging were served
    assert page_through() == (before, totals, observed)  # deterministic


# -- the catalog ----------------------------------------------------------------------------


def test_zones_look_real() -> None:
    catalog = sandbox.Catalog(images=0)
    for zone in catalog.zones:
        assert tuple(zone) == ZONE_FIELDS
    assert catalog.zones[0] == {
        "zoneId": "asia-east-1a",
        "regionId": "asia-east-1",
        "zoneName": "Hong Kong A",
        "timeZone": "Asia/Hong_Kong",
        "cityName": "Hong Kong",
        "cityCode": "HKG",
        "countryCode": "HK",
        "countryName": "Hong Kong",
        "supportHaVip": True,
        "supportSecurityGroup": True,
    }
    cities = {z["zoneId"]: (z["cityName"], z["cityCode"]) for z in catalog.zones}
    assert cities == {
        "asia-east-1a": ("Hong Kong", "HKG"),
        "asia-southeast-1a": ("Singapore", "SIN"),
        "asia-south-1a": ("Mumbai", "BOM"),
        "asia-north-1a": ("Tokyo", "TYO"),
        "asia-southwest-1a": ("Dubai", "DXB"),
        "sa-north-1a": ("São Paulo", "SAO"),
        "na-west-1a": ("Los Angeles", "LAX"),
        "eu-west-1a": ("Frankfurt", "FRA"),
    }
    assert {z["supportHaVip"] for z in catalog.zones} == {True, False}


def test_public_images_are_the_same_core_set_in_every_zone() -> None:
    catalog = sandbox.Catalog(images=0)
    assert len(catalog) == sum(len(catalog.images(z)) for z in catalog.zone_ids)
    core = {"ubuntu2404_20240712", "debian12_20240715", "rocky94_20240605", "win2022dc_20240611"}
    sizes = {}
    for zone in catalog.zone_ids:
        records = catalog.images(zone)
        assert core <= {r["imageId"] for r in records}
        assert all(r["imageType"] == "PUBLIC_IMAGE" and r["tags"] is None for r in records)
        sizes.update({r["imageId"]: (r["imageSize"], r["osType"]) for r in records})
    assert sizes["win2022dc_20240611"] == ("40", "windows")
    assert sizes["freebsd141_20240604"] == ("20", "bsd")
    assert sizes["ubuntu2204_20240712"] == ("20", "linux")
    hk = catalog.images(HK)
    assert len(hk) == 20
    assert Counter(r["osType"] for r in hk) == {"linux": 16, "bsd": 2, "windows": 2}
    assert {len(catalog.images(z)) for z in catalog.zone_ids} != {20}  # zones differ a little


def test_custom_images_are_realistic() -> None:
    catalog = sandbox.Catalog(images=2000, seed=7)
    assert len(catalog) == 2000
    records = [r for z in catalog.zone_ids for r in catalog.images(z)]
    custom = [r for r in records if r["imageType"] == "CUSTOM_IMAGE"]
    assert len(custom) > 1800
    assert all(re.fullmatch(r"img-[0-9a-f]{16}", r["imageId"]) for r in custom)
    assert len({r["imageId"] for r in custom}) == len(custom)
    for zone in catalog.zone_ids:  # public images repeat across zones, never within one
        assert len({r["imageId"] for r in catalog.images(zone)}) == len(catalog.images(zone))
    named = [
        r
        for r in custom
        if re.fullmatch(r"[a-z-]+-(prod|staging|dev|qa)-\w+-\d{8}", r["imageName"])
    ]
    assert len(named) / len(custom) > 0.9
    assert all(r["imageSource"] == "CUSTOM" for r in custom)
    assert set(Counter(r["imageStatus"] for r in custom)) == set(IMAGE_STATUSES)
    assert Counter(r["imageStatus"] for r in custom).most_common(1)[0][0] == "AVAILABLE"
    assert all(r["imageSize"] is None for r in custom if r["imageStatus"] == "CREATING")
    assert all(isinstance(r["imageSize"], str | None) for r in records)
    untagged = sum(r["tags"] is None for r in custom) / len(custom)
    assert 0.2 < untagged < 0.3
    assert any(r["tags"] == {"tags": []} for r in custom)
    keys = {k for r in custom for k, _ in tag_pairs(r["tags"])}
    assert keys == {"env", "team", "app", "owner", "cost-center", "backup"}
    missing_min_disk = sum("minDiskSize" not in r for r in custom) / len(custom)
    assert 0.05 < missing_min_disk < 0.15
    assert all(isinstance(r.get("minDiskSize", 0), int) for r in records)
    assert any(r["imageDescription"] and not r["imageDescription"].isascii() for r in custom)
    for r in records:
        assert [f for f in IMAGE_FIELDS if f in r] == list(r)  # the API's field order
        assert r["category"] in CATEGORIES
        assert r["osType"] in OS_TYPES
        assert r["imageSource"] in IMAGE_SOURCES
    zone_sizes = sorted(len(catalog.images(z)) for z in catalog.zone_ids)
    assert zone_sizes[-1] > 4 * zone_sizes[0]  # spread unevenly
    hk_custom = [r for r in catalog.images(HK) if r["imageType"] == "CUSTOM_IMAGE"]
    assert hk_custom
    assert {r["osType"] for r in hk_custom} == {"windows"}  # keeps the seed example exact


@pytest.mark.parametrize("shape", ["wrapper", "list", "mixed"])
def test_served_bytes_are_compact_json_of_the_records(shape: str) -> None:
    catalog = sandbox.Catalog(images=1500, seed=3, day=2, tags_shape=shape)  # type: ignore[arg-type]
    for zone in catalog.zone_ids:
        data, total = catalog.page_json(zone, ImageFilter(), 1, 10**6)
        records = json.loads(data)
        assert total == len(records) == len(catalog.images(zone))
        assert json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode() == data
    kinds = Counter(type(r["tags"]).__name__ for z in catalog.zone_ids for r in catalog.images(z))
    expected = {"wrapper": {"NoneType", "dict"}, "list": {"NoneType", "list"}}
    assert set(kinds) == expected.get(shape, {"NoneType", "dict", "list"})


def test_tags_shape_is_served_and_filters_still_work(s: requests.Session) -> None:
    with sandbox.running(images=600, tags_shape="list") as box:
        filters = {"tags": [{"key": "env", "value": "prod"}]}
        served, _ = list_all(s, box, 100, zoneId=BIG_ZONE, **filters)
        assert served == by_hand(box.catalog.images(BIG_ZONE), **filters)
        assert served
        assert all(isinstance(r["tags"], list) for r in served)


def test_same_seed_same_bytes_different_seed_different_catalog(s: requests.Session) -> None:
    assert sandbox.Catalog(1500, seed=7).digest() == sandbox.Catalog(1500, seed=7).digest()
    assert sandbox.Catalog(1500, seed=7).digest() != sandbox.Catalog(1500, seed=8).digest()
    answers = []
    for _ in range(2):
        with sandbox.running(images=1500, seed=7) as box:
            answers.append(
                [call(s, box, {"zoneId": z, "pageSize": 50}).content for z in box.catalog.zone_ids]
            )
    assert answers[0] == answers[1]  # request ids included


def test_days_evolve_custom_images_deterministically() -> None:
    day0 = sandbox.Catalog(2000, seed=7)
    day3 = sandbox.Catalog(2000, seed=7, day=3)
    before = {r["imageId"]: r for z in day0.zone_ids for r in day0.images(z)}
    after = {r["imageId"]: r for z in day3.zone_ids for r in day3.images(z)}
    public = {k: v for k, v in before.items() if v["imageType"] == "PUBLIC_IMAGE"}
    assert {k: after[k] for k in public} == public  # public images stay
    assert after.keys() - before.keys()  # created
    assert before.keys() - after.keys()  # deleted, DELETING ones among them
    assert all(after.get(k) is None for k, v in before.items() if v["imageStatus"] == "DELETING")
    changed = Counter(
        field
        for k in before.keys() & after.keys()
        for field in IMAGE_FIELDS
        if before[k].get(field) != after[k].get(field)
    )
    assert {"imageStatus", "imageSize", "imageName", "tags"} <= set(changed)
    assert day3.day == 3
    walked = sandbox.Catalog(2000, seed=7)
    walked.set_day(1)
    walked.set_day(3)
    assert walked.digest() == day3.digest()
    walked.set_day(0)
    assert walked.digest() == day0.digest()


def test_set_day_changes_what_is_served(sb: sandbox.Sandbox, s: requests.Session) -> None:
    day0 = {z: page(s, sb, zoneId=z, pageSize=1)["totalCount"] for z in sb.catalog.zone_ids}
    sb.set_day(4)
    day4 = {z: page(s, sb, zoneId=z, pageSize=1)["totalCount"] for z in sb.catalog.zone_ids}
    assert day4 == {z: len(sb.catalog.images(z)) for z in sb.catalog.zone_ids}
    assert day4 != day0
    sb.reset()
    assert sb.catalog.day == 0
    assert {z: len(sb.catalog.images(z)) for z in sb.catalog.zone_ids} == day0


def test_count_agrees_with_query() -> None:
    catalog = sandbox.Catalog(images=1000)
    for zone in catalog.zone_ids:
        assert catalog.count(zone) == len(catalog.images(zone))
        filters = {"osType": "linux", "tagKeys": ["team"]}
        assert catalog.count(zone, **filters) == len(catalog.query(zone, **filters))
    assert catalog.count(HK, osType="linux") == 16


def test_query_rejects_unknown_filters_and_zones() -> None:
    catalog = sandbox.Catalog(images=0)
    with pytest.raises(InvalidArgument, match="unknown DescribeImages filters: os_type"):
        catalog.query(HK, os_type="linux")
    with pytest.raises(sandbox.ParamError, match="osType 'Linux' is not valid"):
        catalog.query(HK, osType="Linux")
    with pytest.raises(InvalidArgument, match="unknown zone 'mars-1a'"):
        catalog.images("mars-1a")


# -- the server object ----------------------------------------------------------------------


def test_lifecycle_start_stop_and_reset() -> None:
    box = sandbox.Sandbox(images=0)
    with pytest.raises(RuntimeError, match="not running"):
        _ = box.endpoint
    box.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", box.endpoint)
    assert (box.host, box.api_url) == ("127.0.0.1", box.endpoint + "/api/v2/zec")
    idle = socket.create_connection(("127.0.0.1", box.port), timeout=5)
    port = box.port
    box.stop()
    box.stop()  # twice is fine
    with idle, contextlib.suppress(ConnectionResetError):  # closed either way
        assert idle.recv(1) == b""  # idle keep-alive connections are closed too
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_public_surface_is_sorted_and_importable() -> None:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical.
    isort_style = sorted(sandbox.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert sandbox.__all__ == isort_style
    for name in sandbox.__all__:
        assert getattr(sandbox, name) is not None
    assert (sandbox.DEMO_ACCESS_KEY_ID, sandbox.DEMO_ACCESS_KEY_SECRET, sandbox.DEMO_TOKEN) == (
        "imgframe-demo",
        "imgframe-demo-secret",
        "imgframe-demo-token",
    )


def test_module_entry_point_serves_until_interrupted(s: requests.Session) -> None:
    import signal
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "imgframe.sandbox", "--images", "0"]
    root = Path(__file__).resolve().parent.parent
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=root) as proc:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        endpoint = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert endpoint, banner
        headers = bearer_headers(sandbox.DEMO_TOKEN, action="DescribeZones")
        r = s.post(endpoint.group() + sandbox.API_PATH, data=b"{}", headers=headers)
        assert len(r.json()["response"]["zoneSet"]) == 8
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


@pytest.mark.slow
def test_large_catalog_builds_and_pages(s: requests.Session) -> None:
    started = time.perf_counter()
    catalog = sandbox.Catalog(images=200_000, seed=7)
    built = time.perf_counter() - started
    zone = max(catalog.zone_ids, key=catalog.count)
    expected = [r["imageId"] for r in catalog.images(zone)]
    with sandbox.running(catalog=catalog) as box:
        started = time.perf_counter()
        served, total = list_all(s, box, 1000, zoneId=zone)
        paged = time.perf_counter() - started
        started = time.perf_counter()
        first = page(s, box, zoneId=zone, pageSize=1000, osType="linux", imageStatus="AVAILABLE")
        filtered = time.perf_counter() - started
        started = time.perf_counter()
        page(s, box, zoneId=zone, pageNum=2, pageSize=1000, osType="linux", imageStatus="AVAILABLE")
        cached = time.perf_counter() - started
    assert [r["imageId"] for r in served] == expected
    assert total == len(expected) > 40_000
    assert first["totalCount"] == catalog.count(zone, osType="linux", imageStatus="AVAILABLE")
    pages = -(-total // 1000)
    print(
        f"\n200k catalog: built in {built:.2f}s; {pages} pages of 1000 over HTTP in {paged:.2f}s "
        f"({paged / pages * 1000:.1f} ms/page incl. client JSON); first filtered page "
        f"{filtered * 1000:.1f} ms, next {cached * 1000:.1f} ms"
    )
