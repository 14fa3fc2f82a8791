"""The hostile server does exactly what each knob says, checked byte by byte over raw sockets
(and ``http.client`` where a real parser is the point), never through imgframe."""

from __future__ import annotations

import contextlib
import doctest
import http.client
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests import hostile
from tests.hostile import (
    ABSENT,
    API_PATH,
    CHALLENGE_HTML,
    CONTENT_TYPES,
    GARBAGE_CHUNK_SIZES,
    GATEWAY_HTML,
    HOSTILE,
    HOSTILE_HEADERS,
    HOSTILE_ZONE_IDS,
    HUGE_FLOAT,
    MIB,
    NAN,
    Delivery,
    HostileServer,
    Pairs,
    Raw,
    RawAnswer,
    When,
    by_page,
    custom_images,
    drop,
    duplicate_key,
    echo,
    hostile_variants,
    image,
    images,
    in_turn,
    instances,
    json_answer,
    mutate,
    zone,
)

AUTH = "ZC2-HMAC-SHA256 Credential=AK-TEST, SignedHeaders=content-type;host, Signature=deadbeef"
EAST, SOUTHEAST = "asia-east-1a", "asia-southeast-1a"


@pytest.fixture
def srv() -> Iterator[HostileServer]:
    """45 images in asia-east-1a, 3 in asia-southeast-1a."""
    data = {EAST: images(45), SOUTHEAST: images(3, prefix="sea-")}
    with HostileServer(zones=[zone(EAST), zone(SOUTHEAST)], images=data) as server:
        yield server


@dataclass
class Reply:
    """Everything a raw socket read until the server closed."""

    raw: bytes

    @property
    def head(self) -> bytes:
        return self.raw.partition(b"\r\n\r\n")[0]

    @property
    def body(self) -> bytes:
        return self.raw.partition(b"\r\n\r\n")[2]

    @property
    def status_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    @property
    def lines(self) -> list[bytes]:
        return self.head.split(b"\r\n")[1:]

    def values(self, name: bytes) -> list[bytes]:
        return [
            line.split(b":", 1)[1].strip()
            for line in self.lines
            if line.split(b":", 1)[0].strip().lower() == name.lower()
        ]

    def json(self) -> Any:
        return json.loads(self.body)


def request_bytes(
    port: int,
    action: str | None = "DescribeImages",
    body: object = None,
    *,
    payload: bytes | None = None,
    method: str = "POST",
    target: str = API_PATH,
    keep_alive: bool = False,
) -> bytes:
    data = payload if payload is not None else json.dumps({} if body is None else body).encode()
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Authorization: {AUTH}",
        f"Content-Length: {len(data)}",
    ]
    lines += [] if action is None else [f"X-ZC-Action: {action}"]
    lines += [] if keep_alive else ["Connection: close"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + data


def connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # a small buffer turns off autotuning, so backpressure is real
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def read_to_eof(sock: socket.socket) -> bytes:
    parts = []
    while chunk := sock.recv(1 << 20):
        parts.append(chunk)
    return b"".join(parts)


def exchange(
    port: int, action: str | None = "DescribeImages", body: object = None, **kw: Any
) -> Reply:
    with connect(port) as sock:
        sock.sendall(request_bytes(port, action, body, **kw))
        return Reply(read_to_eof(sock))


def timeline(port: int, request: bytes) -> tuple[float, list[tuple[float, int]], bytes]:
    """Send ``request``; the time it went, (time, bytes so far) after every recv, all bytes."""
    with connect(port) as sock:
        sent_at = time.monotonic()
        sock.sendall(request)
        samples: list[tuple[float, int]] = []
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            samples.append((time.monotonic(), len(data)))
        return sent_at, samples, data


def images_page(port: int, page: int, size: int = 20, zone_id: object = EAST) -> Reply:
    return exchange(port, "DescribeImages", {"zoneId": zone_id, "pageNum": page, "pageSize": size})


def ids(reply: Reply) -> list[object]:
    return [item.get("imageId") for item in reply.json()["response"]["dataSet"]]


def numbered(*numbers: int, prefix: str = "img-") -> list[object]:
    return [f"{prefix}{n:04d}" for n in numbers]


# The correct API


def test_describe_zones_answers_the_zone_set_in_an_exact_success_envelope(
    srv: HostileServer,
) -> None:
    reply = exchange(srv.port, "DescribeZones")
    assert reply.head == (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        b"Content-Length: %d" % len(reply.body)
    )
    assert reply.json() == {
        "requestId": "HOSTILE-00000000",
        "response": {"requestId": "HOSTILE-00000000", "zoneSet": [zone(EAST), zone(SOUTHEAST)]},
    }


def test_describe_zones_filters_by_zone_ids(srv: HostileServer) -> None:
    reply = exchange(srv.port, "DescribeZones", {"zoneIds": [SOUTHEAST]})
    assert reply.json()["response"]["zoneSet"] == [zone(SOUTHEAST)]


@pytest.mark.parametrize(
    ("page", "size", "expected"),
    [
        (1, 20, numbered(*range(1, 21))),
        (2, 20, numbered(*range(21, 41))),
        (3, 20, numbered(41, 42, 43, 44, 45)),
        (4, 20, []),
        (2, 7, numbered(*range(8, 15))),
        (1, 1000, numbered(*range(1, 46))),
    ],
)
def test_describe_images_pages_correctly(
    srv: HostileServer, page: int, size: int, expected: list[object]
) -> None:
    reply = images_page(srv.port, page, size)
    assert reply.json()["response"]["totalCount"] == 45
    assert ids(reply) == expected


def test_describe_images_defaults_to_page_1_of_20(srv: HostileServer) -> None:
    reply = exchange(srv.port, "DescribeImages", {"zoneId": EAST})
    assert ids(reply) == numbered(*range(1, 21))


def test_describe_images_serves_each_zone_its_own_records(srv: HostileServer) -> None:
    reply = images_page(srv.port, 1, zone_id=SOUTHEAST)
    assert (reply.json()["response"]["totalCount"], ids(reply)) == (
        3,
        numbered(1, 2, 3, prefix="sea-"),
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"osType": "windows"}, ["win-1", "win-2"]),
        ({"imageIds": ["lin-1", "win-2", "nope"]}, ["lin-1", "win-2"]),
        ({"imageName": "SERVER"}, ["win-2"]),
        ({"category": "Ubuntu", "imageStatus": "CREATING"}, ["lin-2"]),
        ({"imageIds": []}, ["lin-1", "lin-2", "win-1", "win-2"]),
    ],
)
def test_describe_images_applies_the_documented_filters(
    query: dict[str, object], expected: list[str]
) -> None:
    records = [
        image("lin-1"),
        image("lin-2", imageStatus="CREATING"),
        image("win-1", osType="windows", category="Windows"),
        image("win-2", osType="windows", category="Windows", imageName="Windows Server 2022"),
    ]
    with HostileServer(images={EAST: records}) as server:
        reply = exchange(server.port, "DescribeImages", {"zoneId": EAST, **query})
    assert ids(reply) == expected
    assert reply.json()["response"]["totalCount"] == len(expected)


def test_custom_images_page_and_filter_by_region() -> None:
    records = [*custom_images(3), *custom_images(2, prefix="other-", regionIdList=["eu-west-1"])]
    with HostileServer(custom_images=records) as server:
        all_pages = exchange(server.port, "DescribeCustomImages", {"pageSize": 2, "pageNum": 3})
        regional = exchange(server.port, "DescribeCustomImages", {"regionId": "eu-west-1"})
    assert all_pages.json()["response"]["totalCount"] == 5
    assert ids(all_pages) == ["other-0002"]
    assert ids(regional) == ["other-0001", "other-0002"]


def test_instances_page_and_filter_by_zone() -> None:
    with HostileServer(
        instances=[*instances(3, EAST), *instances(4, SOUTHEAST, prefix="s-")]
    ) as server:
        reply = exchange(
            server.port, "DescribeInstances", {"zoneId": SOUTHEAST, "pageSize": 3, "pageNum": 2}
        )
    response = reply.json()["response"]
    assert response["totalCount"] == 4
    assert [item["instanceId"] for item in response["dataSet"]] == ["s-0004"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"body": {}}, 400, "INVALID_PARAMETER"),
        ({"body": {"zoneId": "mars-1a"}}, 404, "INVALID_ZONE_NOT_FOUND"),
        ({"body": {"zoneId": EAST, "pageSize": 1001}}, 400, "INVALID_PARAMETER"),
        ({"body": {"zoneId": EAST, "pageSize": "20"}}, 400, "INVALID_PARAMETER"),
        ({"body": {"zoneId": EAST, "pageNum": 0}}, 400, "INVALID_PARAMETER"),
        ({"body": {"zoneId": EAST, "pageNum": True}}, 400, "INVALID_PARAMETER"),
        ({"payload": b"not json"}, 400, "INVALID_PARAMETER"),
        ({"payload": b"[1]"}, 400, "INVALID_PARAMETER"),
        ({"action": "RunInstances"}, 400, "INVALID_ACTION"),
        ({"action": None}, 400, "INVALID_ACTION"),
        ({"method": "GET"}, 405, "METHOD_NOT_ALLOWED"),
        ({"target": "/api/v2/vm"}, 404, "NOT_FOUND"),
    ],
)
def test_bad_requests_get_a_flat_error_envelope(
    srv: HostileServer, kwargs: dict[str, Any], status: int, code: str
) -> None:
    action = kwargs.pop("action", "DescribeImages")
    reply = exchange(srv.port, action, **kwargs)
    assert reply.status_line.startswith(b"HTTP/1.1 %d " % status)
    document = reply.json()
    assert sorted(document) == ["code", "message", "requestId"]
    assert (document["code"], document["requestId"]) == (code, "HOSTILE-00000000")


def test_every_request_is_recorded_with_headers_body_and_time(srv: HostileServer) -> None:
    before = time.time()
    exchange(srv.port, "DescribeImages", {"zoneId": EAST, "pageNum": 2})
    exchange(srv.port, "DescribeZones", payload=b"\xff not json")
    after = time.time()
    first, second = srv.requests
    assert (first.index, first.listener, first.method, first.target, first.version) == (
        0,
        "main",
        "POST",
        API_PATH,
        "HTTP/1.1",
    )
    assert first.action == "DescribeImages"
    assert first.authorization == AUTH
    assert first.header("content-type") == "application/json"
    assert first.json_body == {"zoneId": EAST, "pageNum": 2}
    assert (first.zone, first.page_num, first.page_size) == (EAST, 2, 20)
    assert before <= first.time <= second.time <= after
    assert (second.body, second.json_body) == (b"\xff not json", None)
    assert srv.counts() == {"DescribeImages": 1, "DescribeZones": 1}
    assert srv.count("DescribeZones") == 1


def test_reset_forgets_requests_and_knobs(srv: HostileServer) -> None:
    srv.paging(total_count=-1)
    images_page(srv.port, 1)
    srv.reset()
    reply = images_page(srv.port, 1)
    assert reply.json()["response"]["totalCount"] == 45
    assert [request.index for request in srv.requests] == [0]


def test_wait_for_sees_requests_arrive(srv: HostileServer) -> None:
    assert not srv.wait_for(1, timeout=0.01)
    threading.Thread(target=images_page, args=(srv.port, 1), daemon=True).start()
    assert srv.wait_for(1)


def test_keep_alive_serves_several_requests_on_one_connection(srv: HostileServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    answers = []
    for page in (1, 2):
        conn.request(
            "POST",
            API_PATH,
            json.dumps({"zoneId": EAST, "pageNum": page}),
            {"X-ZC-Action": "DescribeImages"},
        )
        answers.append(json.loads(conn.getresponse().read())["response"]["dataSet"][0]["imageId"])
    assert conn.sock is not None
    host, port = conn.sock.getsockname()[:2]
    client = f"{host}:{port}"
    conn.close()
    assert answers == ["img-0001", "img-0021"]
    assert [request.peer for request in srv.requests] == [client, client]


# Paging lies


@pytest.mark.parametrize(
    ("total", "literal"),
    [
        (10**9, b'"totalCount":1000000000,'),
        (10**18, b'"totalCount":1000000000000000000,'),
        (2**70, b'"totalCount":1180591620717411303424,'),
        (-1, b'"totalCount":-1,'),
        (NAN, b'"totalCount":NaN,'),
        (HUGE_FLOAT, b'"totalCount":1e400,'),
        (45.5, b'"totalCount":45.5,'),
        ("45", b'"totalCount":"45",'),
        (None, b'"totalCount":null,'),
    ],
)
def test_total_count_lies_are_sent_literally(
    srv: HostileServer, total: object, literal: bytes
) -> None:
    srv.paging(total_count=total)
    reply = images_page(srv.port, 1)
    assert literal in reply.body
    assert len(ids(reply)) == 20


def test_total_count_can_be_left_out(srv: HostileServer) -> None:
    srv.paging(total_count=ABSENT)
    assert b"totalCount" not in images_page(srv.port, 1).body


def test_total_count_changes_between_pages(srv: HostileServer) -> None:
    srv.paging(total_count=by_page({1: 45, 2: 90, 3: 10}))
    totals = [images_page(srv.port, page).json()["response"]["totalCount"] for page in (1, 2, 3, 4)]
    assert totals == [45, 90, 10, None]


def test_total_count_changes_from_answer_to_answer(srv: HostileServer) -> None:
    srv.paging(total_count=in_turn(40, 20))
    totals = [images_page(srv.port, 1).json()["response"]["totalCount"] for _ in range(3)]
    assert totals == [40, 20, 20]


def test_serve_page_ignores_page_num(srv: HostileServer) -> None:
    srv.paging(serve_page=1)
    assert ids(images_page(srv.port, 2)) == ids(images_page(srv.port, 1)) == numbered(*range(1, 21))


def test_max_items_clamps_page_size_like_a_server_with_a_lower_limit(srv: HostileServer) -> None:
    srv.paging(max_items=5)
    assert ids(images_page(srv.port, 1)) == numbered(1, 2, 3, 4, 5)
    assert ids(images_page(srv.port, 2)) == numbered(6, 7, 8, 9, 10)
    assert images_page(srv.port, 2).json()["response"]["totalCount"] == 45


def test_max_pages_answers_empty_pages_after_the_kth(srv: HostileServer) -> None:
    srv.paging(max_pages=1)
    assert len(ids(images_page(srv.port, 1))) == 20
    second = images_page(srv.port, 2).json()["response"]
    assert (second["dataSet"], second["totalCount"]) == ([], 45)


def test_overfill_makes_the_data_set_longer_than_page_size(srv: HostileServer) -> None:
    srv.paging(overfill=3)
    assert ids(images_page(srv.port, 1, 10)) == numbered(*range(1, 14))
    assert ids(images_page(srv.port, 3)) == numbered(41, 42, 43, 44, 45, 1, 2, 3)


def test_a_knob_can_target_one_page_of_one_zone_once(srv: HostileServer) -> None:
    knob = srv.paging(total_count=10**18, when=When("DescribeImages", zone=EAST, page=2, nth=1))
    totals = [
        images_page(srv.port, 2, zone_id=SOUTHEAST),
        images_page(srv.port, 1),
        images_page(srv.port, 2),
        images_page(srv.port, 2),
    ]
    assert [reply.json()["response"]["totalCount"] for reply in totals] == [3, 45, 10**18, 45]
    assert (knob.seen, knob.hits) == (2, 1)


def test_times_limits_a_knob_to_the_first_matches(srv: HostileServer) -> None:
    srv.paging(total_count=-7, when=When(times=2))
    totals = [images_page(srv.port, 1).json()["response"]["totalCount"] for _ in range(3)]
    assert totals == [-7, -7, 45]


def test_paging_knobs_compose_later_fields_on_top(srv: HostileServer) -> None:
    srv.paging(total_count=1, max_items=2)
    srv.paging(total_count=2)
    response = images_page(srv.port, 1).json()["response"]
    assert (response["totalCount"], len(response["dataSet"])) == (2, 2)


# Malformed values

LITERALS: dict[str, bytes] = {
    "null": b"null",
    "true": b"true",
    "false": b"false",
    "zero": b"0",
    "number": b"42",
    "negative": b"-1",
    "float": b"1.5",
    "negative_float": b"-0.5",
    "int64_overflow": b"9223372036854775808",
    "huge_int": b"99999999999999999999999",
    "huge_float": b"1e400",
    "tiny_float": b"1e-400",
    "nan": b"NaN",
    "infinity": b"Infinity",
    "negative_infinity": b"-Infinity",
    "numeric_string": b'"20"',
    "string": b'"hostile"',
    "empty_string": b'""',
    "whitespace": b'" \\t "',
    "list": b'[1,"two",null]',
    "empty_list": b"[]",
    "object": b'{"nested":true}',
    "empty_object": b"{}",
    "control_chars": b'"a\\u0000b\\u0007c\\bd\x7fe"',
    "ansi": b'"\\u001b[31mred\\u001b[0m\\u001b]0;pwned\\u0007\\u001b[2J"',
    "bidi": b'"\xe2\x80\xaeexe.txt\xe2\x80\xac \xe2\x81\xa6isolate\xe2\x81\xa9"',
    "nul": b'"\\u0000"',
    "newlines": b'"one\\r\\ntwo\\nthree\\r"',
    "lone_surrogate": b'"\\ud800"',
    "raw_control": b'"tab\there\x01"',
    "non_utf8": b'"\xff\xfe\xc3("',
    "formula": b'"=HYPERLINK(\\"http://evil.invalid\\",\\"x\\")"',
    "html": b'"<script>alert(1)</script>"',
    "path_traversal": b'"../../etc/passwd"',
    "duplicate_keys": b'{"key":"first","key":"second"}',
}
BIG_VALUES = {"absent", "long_string", "deep_array", "deep_object"}


def test_every_hostile_value_has_a_byte_level_test() -> None:
    assert set(HOSTILE) == set(LITERALS) | BIG_VALUES


@pytest.mark.parametrize("name", sorted(LITERALS))
def test_each_hostile_value_replaces_a_field_literally(srv: HostileServer, name: str) -> None:
    srv.mutate(mutate("imageSize", HOSTILE[name]))
    body = images_page(srv.port, 1, 2).body
    assert body.count(b'"imageSize":' + LITERALS[name] + b',"minDiskSize":20') == 2


def test_an_absent_field_is_left_out(srv: HostileServer) -> None:
    srv.mutate(mutate("imageSize", HOSTILE["absent"]))
    body = images_page(srv.port, 1).body
    assert b"imageSize" not in body
    assert body.count(b'"minDiskSize":20') == 20


def test_the_long_string_is_one_megabyte(srv: HostileServer) -> None:
    srv.mutate(mutate("imageDescription", HOSTILE["long_string"]), item=0)
    reply = images_page(srv.port, 1, 1)
    assert b'"imageDescription":"' + b"L" * 1_000_000 + b'",' in reply.body
    assert reply.values(b"Content-Length") == [b"%d" % len(reply.body)]


@pytest.mark.parametrize(
    ("name", "opening", "closing"),
    [("deep_array", b"[", b"]"), ("deep_object", b'{"a":', b"}")],
)
def test_deep_nesting_is_exactly_100k_levels(
    srv: HostileServer, name: str, opening: bytes, closing: bytes
) -> None:
    srv.mutate(mutate("tags", HOSTILE[name]), item=0)
    body = images_page(srv.port, 1, 1).body
    value = body.split(b'"tags":', 1)[1].removesuffix(b"}]}}")
    middle = b"" if name == "deep_array" else b"null"
    assert value == opening * 100_000 + middle + closing * 100_000


def test_item_mutates_one_record_only(srv: HostileServer) -> None:
    srv.mutate(drop("imageId"), item=0)
    srv.mutate(mutate("imageId", None), item=-1)
    assert ids(images_page(srv.port, 1, 3)) == [None, "img-0002", None]
    assert b'"imageId":null' in images_page(srv.port, 1, 3).body


def test_duplicate_key_writes_the_key_twice(srv: HostileServer) -> None:
    srv.mutate(duplicate_key("imageId", "twin"), item=0)
    body = images_page(srv.port, 1, 1).body
    assert body.count(b'"imageId":') == 2
    assert b'"imageId":"img-0001","imageName"' in body
    assert b'"tags":null,"imageId":"twin"}' in body


def test_a_dotted_path_reaches_inside_a_record() -> None:
    tagged = image("x", tags={"tags": [{"key": "env", "value": "prod"}]})
    with HostileServer(images={EAST: [tagged]}) as server:
        server.mutate(mutate("tags.tags.0.key", HOSTILE["ansi"]))
        body = images_page(server.port, 1).body
    assert b'"tags":{"tags":[{"key":"\\u001b[31mred' in body


def test_a_mutation_can_echo_the_request(srv: HostileServer) -> None:
    srv.mutate(mutate("imageName", echo("Authorization", "leak {}")), item=0)
    assert images_page(srv.port, 1).json()["response"]["dataSet"][0]["imageName"] == f"leak {AUTH}"


def test_zone_records_are_mutated_too(srv: HostileServer) -> None:
    srv.mutate(mutate("regionId", HUGE_FLOAT), when=When("DescribeZones"))
    assert exchange(srv.port, "DescribeZones").body.count(b'"regionId":1e400') == 2


@pytest.mark.parametrize(
    ("mutation", "level", "expected"),
    [
        (drop("response"), "outer", b'{"requestId":"HOSTILE-00000000"}'),
        (mutate("requestId", None), "outer", b'{"requestId":null,"response":{'),
        (
            mutate("response", "oops"),
            "outer",
            b'{"requestId":"HOSTILE-00000000","response":"oops"}',
        ),
        (mutate("dataSet", {"not": "a list"}), "response", b'"dataSet":{"not":"a list"}}}'),
        (drop("dataSet"), "response", b'"totalCount":45}}'),
        (duplicate_key("totalCount", 0), "response", b'"totalCount":45,"dataSet":['),
        (duplicate_key("totalCount", 0), "response", b'],"totalCount":0}}'),
    ],
)
def test_envelope_mutations(
    srv: HostileServer, mutation: hostile.Mutation, level: Any, expected: bytes
) -> None:
    srv.envelope(mutation, level=level)
    body = images_page(srv.port, 1, 2).body
    assert expected in body


def test_a_body_edit_can_inject_non_utf8_bytes(srv: HostileServer) -> None:
    srv.body(lambda body: body.replace(b'"AVAILABLE"', b'"\xff\xfe"', 1))
    reply = images_page(srv.port, 1, 1)
    assert b'"imageStatus":"\xff\xfe"' in reply.body
    assert reply.values(b"Content-Length") == [b"%d" % len(reply.body)]


def test_hostile_records_can_be_built_into_the_data() -> None:
    records = [
        image("a", imageSize=NAN),
        Pairs((("imageId", "b"), ("imageId", "c"))),
        None,
        *hostile_variants(image("v"), "minDiskSize", ["huge_int", "negative"]).values(),
    ]
    with HostileServer(images={EAST: records}) as server:
        body = images_page(server.port, 1).body
    assert b'"imageSize":NaN' in body
    assert b',{"imageId":"b","imageId":"c"},null,' in body
    assert b'"minDiskSize":99999999999999999999999' in body
    assert b'"minDiskSize":-1' in body


def test_hostile_variants_gives_one_record_per_value() -> None:
    variants = hostile_variants(image("x"), "imageSize")
    assert set(variants) == set(HOSTILE)
    assert variants["nan"] == {**image("x"), "imageSize": NAN}
    assert "imageSize" not in variants["absent"]  # type: ignore[operator]


def test_module_examples_hold() -> None:
    result = doctest.testmod(hostile)
    assert (result.failed, result.attempted > 3) == (0, True)


# Zones and ids


def test_a_zone_listed_twice_is_sent_twice() -> None:
    with HostileServer(zones=[zone(EAST), zone(EAST), zone(SOUTHEAST)]) as server:
        body = exchange(server.port, "DescribeZones").body
    assert body.count(b'"zoneId":"asia-east-1a"') == 2


@pytest.mark.parametrize("name", sorted(HOSTILE_ZONE_IDS))
def test_hostile_zone_ids_are_sent_as_given(name: str) -> None:
    zone_id = HOSTILE_ZONE_IDS[name]
    with HostileServer(zones=[zone(zone_id)]) as server:
        zone_set = exchange(server.port, "DescribeZones").json()["response"]["zoneSet"]
    assert [record["zoneId"] for record in zone_set] == [zone_id]


def test_zone_ids_differing_by_a_nul_are_distinct_zones() -> None:
    data = {EAST: [image("plain")], EAST + "\x00": [image("nul")]}
    with HostileServer(zones=[zone(EAST), zone(EAST + "\x00")], images=data) as server:
        zone_body = exchange(server.port, "DescribeZones").body
        plain, nul = (images_page(server.port, 1, zone_id=key) for key in data)
    assert b'"zoneId":"asia-east-1a\\u0000"' in zone_body
    assert (ids(plain), ids(nul)) == (["plain"], ["nul"])


def test_zone_ids_match_by_type_as_well_as_value() -> None:
    with HostileServer(zones=[zone(7)], images={7: [image("seven")]}) as server:
        number = images_page(server.port, 1, zone_id=7)
        text = images_page(server.port, 1, zone_id="7")
    assert ids(number) == ["seven"]
    assert text.json()["code"] == "INVALID_ZONE_NOT_FOUND"


def test_a_zone_without_images_answers_an_empty_page() -> None:
    with HostileServer(zones=[zone("empty-1a")], images={}) as server:
        response = images_page(server.port, 1, zone_id="empty-1a").json()["response"]
    assert (response["totalCount"], response["dataSet"]) == (0, [])


def test_images_with_null_missing_and_duplicate_ids_are_served_as_given() -> None:
    records = [image(None), drop("imageId").apply(image("gone")), image("twin"), image("twin")]
    with HostileServer(images={EAST: records}) as server:
        reply = images_page(server.port, 1)
    assert ids(reply) == [None, None, "twin", "twin"]
    assert reply.body.count(b'"imageId":') == 3


# Delivery


def test_trickled_head_arrives_no_faster_than_one_byte_per_interval(srv: HostileServer) -> None:
    delay = 0.01
    srv.headers(remove=["Content-Type"])
    srv.deliver(Delivery(head_byte_delay=delay))
    sent_at, samples, data = timeline(srv.port, request_bytes(srv.port, "DescribeZones"))
    head_length = data.index(b"\r\n\r\n") + 4
    assert data[:head_length] == b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (
        len(data) - head_length
    )
    for at, received in samples:
        assert min(received, head_length) <= 2 + (at - sent_at) / delay
    head_done = next(at for at, received in samples if received >= head_length)
    assert head_done - sent_at >= 0.9 * (head_length - 1) * delay


def test_head_step_trickles_several_bytes_at_a_time(srv: HostileServer) -> None:
    delay, step = 0.02, 8
    srv.answer(
        RawAnswer(
            b"HTTP/1.1 200 OK",
            [b"Content-Length: 2"],
            b"{}",
            Delivery(head_byte_delay=delay, head_step=step),
        )
    )
    sent_at, samples, data = timeline(srv.port, request_bytes(srv.port))
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    for at, received in samples:
        assert received <= step * (2 + (at - sent_at) / delay)
    assert samples[-1][0] - sent_at >= 0.9 * 4 * delay  # 38 head bytes: 5 pieces, 4 waits


def test_trickled_body_arrives_no_faster_than_its_interval(srv: HostileServer) -> None:
    delay, step, body = 0.02, 3, b"0123456789" * 3
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"
    plan = Delivery(body_byte_delay=delay, body_step=step)
    srv.answer(RawAnswer(b"HTTP/1.1 200 OK", [b"Content-Length: 30"], body, plan))
    sent_at, samples, data = timeline(srv.port, request_bytes(srv.port))
    assert data == head + body
    for at, received in samples:
        assert received - len(head) <= step * (1 + (at - sent_at) / delay)
    assert samples[-1][0] - sent_at >= 0.9 * 10 * delay


def test_stall_after_head_sends_the_head_then_waits(srv: HostileServer) -> None:
    srv.deliver(Delivery(stall_after_head=0.2))
    sent_at, samples, data = timeline(srv.port, request_bytes(srv.port, "DescribeZones"))
    head_length = data.index(b"\r\n\r\n") + 4
    first_body = next(at for at, received in samples if received > head_length)
    assert first_body - sent_at >= 0.2
    assert json.loads(data[head_length:])["response"]["zoneSet"][0]["zoneId"] == EAST


def test_an_endless_stall_sends_the_head_and_never_the_body(srv: HostileServer) -> None:
    srv.deliver(Delivery(stall_after_head=math.inf))
    with connect(srv.port) as sock:
        sock.sendall(request_bytes(srv.port, "DescribeZones"))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += sock.recv(1)
        sock.settimeout(0.1)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    (sent,) = srv.transmissions
    assert (sent.head_sent, sent.body_sent) == (len(head), 0)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")


def test_delay_before_holds_every_byte_back(srv: HostileServer) -> None:
    srv.deliver(Delivery(delay_before=0.2))
    sent_at, samples, data = timeline(srv.port, request_bytes(srv.port, "DescribeZones"))
    assert samples[0][0] - sent_at >= 0.2
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_cut_after_closes_mid_body(srv: HostileServer) -> None:
    full = images_page(srv.port, 1)
    srv.deliver(Delivery(cut_after=10))
    cut = exchange(
        srv.port, "DescribeImages", {"zoneId": EAST, "pageNum": 1, "pageSize": 20}, keep_alive=True
    )
    assert cut.body == b'{"requestI'
    assert cut.values(b"Content-Length") == full.values(b"Content-Length") != [b"10"]
    assert srv.transmissions[1].body_sent == 10
    assert not srv.transmissions[1].complete


def test_close_ends_a_keep_alive_connection_after_the_answer(srv: HostileServer) -> None:
    srv.deliver(Delivery(close=True))
    reply = exchange(srv.port, "DescribeZones", keep_alive=True)  # reads to EOF: the server closed
    assert len(reply.body) == int(reply.values(b"Content-Length")[0])


def test_reset_closes_with_a_tcp_rst(srv: HostileServer) -> None:
    srv.answer(
        RawAnswer(b"HTTP/1.1 200 OK", [b"Content-Length: 0"], b"", Delivery(close=True, reset=True))
    )
    with connect(srv.port) as sock:
        sock.sendall(request_bytes(srv.port, keep_alive=True))
        assert srv.wait_for(1)
        time.sleep(0.1)
        with pytest.raises(ConnectionResetError):
            read_to_eof(sock)


@pytest.mark.parametrize("delta", [100, -10])
def test_content_length_can_lie_by_a_delta(srv: HostileServer, delta: int) -> None:
    srv.headers(content_length_delta=delta)
    reply = exchange(srv.port, "DescribeZones")
    assert reply.values(b"Content-Length") == [b"%d" % (len(reply.body) + delta)]
    assert reply.body.endswith(b"}]}}")


def test_content_length_can_be_duplicated_with_different_values(srv: HostileServer) -> None:
    srv.headers(content_length_values=[b"10", 99, b"abc"])
    reply = exchange(srv.port, "DescribeZones")
    assert [line for line in reply.lines if line.startswith(b"Content-Length")] == [
        b"Content-Length: 10",
        b"Content-Length: 99",
        b"Content-Length: abc",
    ]


def test_content_length_can_be_omitted_with_the_body_ended_by_close(srv: HostileServer) -> None:
    srv.headers(omit_content_length=True)
    srv.deliver(Delivery(close=True))
    reply = exchange(srv.port, "DescribeZones", keep_alive=True)
    assert reply.values(b"Content-Length") == []
    assert reply.json()["response"]["zoneSet"][0]["zoneId"] == EAST


def test_chunked_framing_with_garbage_sizes(srv: HostileServer) -> None:
    srv.chunked(size_lines=GARBAGE_CHUNK_SIZES, chunk_len=10)
    reply = exchange(srv.port, "DescribeZones")
    assert reply.values(b"Transfer-Encoding") == [b"chunked"]
    assert reply.values(b"Content-Length") == []
    assert reply.body.startswith(
        b'zz\r\n{"requestI\r\n-5\r\nd":"HOSTIL\r\nfffffffffffffffffffffff\r\n'
    )
    assert reply.body.endswith(b"\r\n0\r\n\r\n")


def test_honest_chunked_framing_decodes_to_the_same_json(srv: HostileServer) -> None:
    srv.chunked(chunk_len=7)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("POST", API_PATH, "{}", {"X-ZC-Action": "DescribeZones"})
    response = conn.getresponse()
    document = json.loads(response.read())
    conn.close()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert document["response"]["zoneSet"] == [zone(EAST), zone(SOUTHEAST)]


def test_gzip_content_encoding_on_a_plain_body(srv: HostileServer) -> None:
    srv.headers(HOSTILE_HEADERS["gzip_lie"])
    reply = exchange(srv.port, "DescribeZones")
    assert reply.values(b"Content-Encoding") == [b"gzip"]
    assert reply.body.startswith(b'{"requestId":"HOSTILE-00000000"')


def test_enormous_body_is_streamed_under_backpressure(srv: HostileServer) -> None:
    total = 32 * MIB
    srv.enormous(total)
    with connect(srv.port, rcvbuf=65536) as sock:
        sock.sendall(request_bytes(srv.port))
        start = sock.recv(65536)
        time.sleep(0.3)
        (sent,) = srv.transmissions
        assert 0 < sent.body_sent < total  # the client stopped reading, so the server waits
        assert not sent.complete
        reply = Reply(start + read_to_eof(sock))
    assert reply.values(b"Content-Length") == [b"33554432"]
    assert len(reply.body) == total
    assert srv.transmissions[0].complete  # set before the server closed
    item = reply.json()["response"]["dataSet"][0]
    assert len(item["imageName"]) > total - 200


def test_enormous_body_without_a_length_ends_at_close(srv: HostileServer) -> None:
    srv.enormous(MIB, declare_length=False)
    reply = exchange(srv.port, keep_alive=True)
    assert reply.values(b"Content-Length") == []
    assert len(reply.body) == MIB


@pytest.mark.parametrize(
    "delivery",
    [
        Delivery(delay_before=math.inf),
        Delivery(stall_after_head=math.inf),
        Delivery(head_byte_delay=30),
        Delivery(body_byte_delay=30),
        Delivery(),
    ],
    ids=["delay_before", "stall_after_head", "head_trickle", "body_trickle", "idle_keep_alive"],
)
def test_stop_interrupts_every_delay_and_closes_live_connections(delivery: Delivery) -> None:
    server = HostileServer().start()
    server.deliver(delivery)
    with connect(server.port) as sock:
        sock.sendall(request_bytes(server.port, "DescribeZones", keep_alive=True))
        assert server.wait_for(1)
        time.sleep(0.05)
        server.stop()
        with contextlib.suppress(ConnectionResetError):
            read_to_eof(sock)
    assert all(thread.daemon for thread in server.threads)
    assert not any(thread.is_alive() for thread in server.threads)


# Headers


@pytest.mark.parametrize("name", sorted(HOSTILE_HEADERS))
def test_each_hostile_header_preset_is_sent_verbatim(srv: HostileServer, name: str) -> None:
    srv.headers(HOSTILE_HEADERS[name])
    reply = exchange(srv.port, "DescribeZones")
    expected = b"".join(b"\r\n" + line for line in HOSTILE_HEADERS[name])
    assert reply.head.endswith(expected)
    assert reply.body.startswith(b'{"requestId"')


def test_header_presets_have_the_promised_shape() -> None:
    assert len(HOSTILE_HEADERS["many_headers"]) == 1000
    assert len(set(HOSTILE_HEADERS["many_headers"])) == 1000
    (huge,) = HOSTILE_HEADERS["huge_header"]
    assert len(huge) == len(b"X-Huge: ") + 100_000
    assert HOSTILE_HEADERS["obs_fold"] == (b"X-Folded: first part\r\n  continued on a folded line",)


@pytest.mark.parametrize("name", ["html", "plain", "garbage", "octet"])
def test_content_type_lies_about_a_json_body(srv: HostileServer, name: str) -> None:
    srv.headers(content_type=CONTENT_TYPES[name])
    reply = exchange(srv.port, "DescribeZones")
    assert reply.values(b"Content-Type") == [CONTENT_TYPES[name]]
    assert reply.json()["requestId"] == "HOSTILE-00000000"


def test_json_content_type_on_an_html_body(srv: HostileServer) -> None:
    srv.error(502, body=GATEWAY_HTML, content_type=CONTENT_TYPES["json"])
    reply = exchange(srv.port)
    assert reply.values(b"Content-Type") == [b"application/json; charset=utf-8"]
    assert reply.body == GATEWAY_HTML


def test_headers_can_be_removed_and_the_status_line_replaced(srv: HostileServer) -> None:
    srv.headers(remove=["content-type"], status_line=b"HTTP/1.1 200")
    reply = exchange(srv.port, "DescribeZones")
    assert reply.head == b"HTTP/1.1 200\r\nContent-Length: %d" % len(reply.body)


def test_header_edits_compose_in_order(srv: HostileServer) -> None:
    srv.headers([b"X-One: 1"])
    srv.headers([b"X-Two: 2"], remove=["X-One"])
    assert exchange(srv.port, "DescribeZones").lines[-1:] == [b"X-Two: 2"]
    assert b"X-One" not in exchange(srv.port, "DescribeZones").head


# Redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_points_at_the_other_listener(srv: HostileServer, status: int) -> None:
    srv.redirect(status)
    reply = exchange(srv.port)
    phrase = {
        301: b"Moved Permanently",
        302: b"Found",
        303: b"See Other",
        307: b"Temporary Redirect",
        308: b"Permanent Redirect",
    }
    assert reply.status_line == b"HTTP/1.1 %d %s" % (status, phrase[status])
    other = srv.start_other()
    assert other != srv.endpoint
    assert reply.values(b"Location") == [(other + API_PATH).encode()]
    assert reply.body == b""
    assert srv.requests_to("other") == []


def test_the_other_listener_serves_the_clean_api_and_is_recorded_apart(srv: HostileServer) -> None:
    srv.redirect(302)
    other_port = int(srv.start_other().rsplit(":", 1)[1])
    reply = exchange(other_port, "DescribeZones")
    assert reply.status_line == b"HTTP/1.1 200 OK"
    (followed,) = srv.requests_to("other")
    assert (followed.action, followed.authorization) == ("DescribeZones", AUTH)
    assert srv.count() == 0
    assert srv.count(listener="other") == 1


@pytest.mark.parametrize(
    "location",
    ["self", "/api/v2/elsewhere", "http://127.0.0.1:9/api/v2/zec", b"https://\xff\xfe/"],
)
def test_redirect_location_is_sent_exactly(srv: HostileServer, location: str | bytes) -> None:
    wanted = srv.url if location == "self" else location
    srv.redirect(307, location=wanted)
    reply = exchange(srv.port)
    assert reply.values(b"Location") == [wanted if isinstance(wanted, bytes) else wanted.encode()]


def test_a_tls_hello_to_the_other_listener_is_recorded(srv: HostileServer) -> None:
    other_port = int(srv.start_other().rsplit(":", 1)[1])
    with connect(other_port) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        assert read_to_eof(sock) == b""
    (hello,) = srv.requests_to("other")
    assert (hello.method, hello.body, hello.json_body) == (
        "TLS",
        b"\x16\x03\x01\x00\x05hello",
        None,
    )


# Errors


@pytest.mark.parametrize("status", [400, 401, 404, 418, 451, 500, 502, 503, 504, 599])
def test_errors_answer_any_status_with_a_flat_envelope(srv: HostileServer, status: int) -> None:
    srv.error(status, "SOME_CODE", "some message")
    reply = exchange(srv.port)
    assert reply.status_line.startswith(b"HTTP/1.1 %d " % status)
    assert (
        reply.body
        == b'{"requestId":"HOSTILE-00000000","code":"SOME_CODE","message":"some message"}'
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(GATEWAY_HTML, CONTENT_TYPES["html"]), (b"", None), (b"\x00\xff", CONTENT_TYPES["octet"])],
)
def test_error_bodies_can_be_anything(
    srv: HostileServer, body: bytes, content_type: bytes | None
) -> None:
    srv.error(503, body=body, content_type=content_type)
    reply = exchange(srv.port)
    assert reply.body == body
    assert reply.values(b"Content-Type") == ([] if content_type is None else [content_type])
    assert reply.values(b"Content-Length") == [b"%d" % len(body)]


@pytest.mark.parametrize("name", ["control_chars", "ansi", "bidi", "long_string", "lone_surrogate"])
def test_error_messages_can_be_hostile(srv: HostileServer, name: str) -> None:
    srv.error(500, message=HOSTILE[name])
    assert exchange(srv.port).json()["message"] == HOSTILE[name]


def test_error_code_and_message_can_be_any_json_value(srv: HostileServer) -> None:
    srv.error(400, code=None, message=NAN)
    assert exchange(srv.port).body == b'{"requestId":"HOSTILE-00000000","code":null,"message":NaN}'


def test_an_error_message_can_echo_the_authorization_sent(srv: HostileServer) -> None:
    srv.error(
        401, "AUTHFAILURE_SIGNATURE_FAILURE", echo("Authorization", "signature mismatch for {}")
    )
    srv.headers(HOSTILE_HEADERS["www_authenticate"])
    reply = exchange(srv.port)
    assert reply.status_line == b"HTTP/1.1 401 Unauthorized"
    assert reply.json()["message"] == f"signature mismatch for {AUTH}"
    assert reply.values(b"WWW-Authenticate") == [b'Basic realm="hostile"']


def test_a_429_storm_with_hostile_retry_after_then_recovery(srv: HostileServer) -> None:
    srv.error(
        429,
        "REQUEST_LIMIT_EXCEEDED",
        headers=HOSTILE_HEADERS["retry_after_far_date"],
        when=When(times=2),
    )
    replies = [images_page(srv.port, 1) for _ in range(3)]
    assert [reply.status_line for reply in replies] == [b"HTTP/1.1 429 Too Many Requests"] * 2 + [
        b"HTTP/1.1 200 OK"
    ]
    assert replies[0].values(b"Retry-After") == [b"Fri, 31 Dec 9999 23:59:59 GMT"]
    assert replies[1].json()["code"] == "REQUEST_LIMIT_EXCEEDED"


def test_a_cloudflare_challenge(srv: HostileServer) -> None:
    srv.error(
        403,
        body=CHALLENGE_HTML,
        content_type=CONTENT_TYPES["html"],
        headers=HOSTILE_HEADERS["cf_challenge"],
    )
    reply = exchange(srv.port)
    assert reply.status_line == b"HTTP/1.1 403 Forbidden"
    assert reply.values(b"cf-mitigated") == [b"challenge"]
    assert reply.body == CHALLENGE_HTML


def test_an_error_envelope_with_http_200(srv: HostileServer) -> None:
    srv.error(200, "INTERNAL_SERVER_ERROR", "oops")
    reply = exchange(srv.port)
    assert reply.status_line == b"HTTP/1.1 200 OK"
    assert reply.json() == {
        "requestId": "HOSTILE-00000000",
        "code": "INTERNAL_SERVER_ERROR",
        "message": "oops",
    }


def test_an_error_with_an_unknown_status_and_a_hostile_reason(srv: HostileServer) -> None:
    srv.error(799, reason=b"\xff\x1b[31m")
    assert exchange(srv.port).status_line == b"HTTP/1.1 799 \xff\x1b[31m"


def test_the_first_matching_answer_knob_wins(srv: HostileServer) -> None:
    first = srv.error(500, when=When(times=1))
    srv.error(503)
    statuses = [exchange(srv.port).status_line[:12] for _ in range(2)]
    assert statuses == [b"HTTP/1.1 500", b"HTTP/1.1 503"]
    assert first.hits == 1


def test_knobs_compose_on_one_answer(srv: HostileServer) -> None:
    delay = 0.005
    srv.paging(total_count=10**9)
    srv.mutate(mutate("imageSize", NAN), item=0)
    srv.headers(HOSTILE_HEADERS["retry_after_negative"])
    srv.deliver(Delivery(head_byte_delay=delay))
    sent_at, samples, data = timeline(
        srv.port, request_bytes(srv.port, "DescribeImages", {"zoneId": EAST, "pageSize": 1})
    )
    reply = Reply(data)
    assert reply.values(b"Retry-After") == [b"-30"]
    assert b'"totalCount":1000000000,' in reply.body
    assert b'"imageSize":NaN' in reply.body
    assert samples[-1][0] - sent_at >= 0.9 * (len(reply.head) + 3) * delay


# Escape hatches


def test_an_exact_answer_is_sent_byte_for_byte(srv: HostileServer) -> None:
    srv.answer(RawAnswer(raw_head=b"HTTP/1.0 200 OK\nContent-Length: 2\n\n", body=b"{}"))
    srv.headers([b"X-Not-Applied: 1"])
    assert exchange(srv.port).raw == b"HTTP/1.0 200 OK\nContent-Length: 2\n\n{}"


def test_a_script_targets_requests_and_falls_through_with_none(srv: HostileServer) -> None:
    def page_three(request: hostile.RecordedRequest) -> RawAnswer | None:
        if request.page_num != 3:
            return None
        return json_answer(
            200, {"scripted": request.param("zoneId")}, delivery=Delivery(close=True)
        )

    knob = srv.script(page_three)
    assert ids(images_page(srv.port, 1)) == numbered(*range(1, 21))
    assert images_page(srv.port, 3).raw == (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        b'Content-Length: 27\r\n\r\n{"scripted":"asia-east-1a"}'
    )
    assert knob.hits == 2


def test_raw_values_and_pairs_encode_verbatim() -> None:
    assert (
        hostile.encode_json({"a": Raw(b"\x00"), "b": Pairs((("k", 1), ("k", ABSENT)))})
        == b'{"a":\x00,"b":{"k":1}}'
    )
