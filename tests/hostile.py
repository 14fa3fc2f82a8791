"""A hostile Zenlayer ZEC API server: what the real world sends a client on a bad day.

Written from the API spec alone (it shares nothing with ``imgframe.sandbox``), stdlib only, on
raw sockets so that every byte of the status line, the headers and the body is the test's to
choose. With no knobs set it is a small, correct ZEC API: ``POST /api/v2/zec`` with the action
in ``X-ZC-Action``, serving DescribeZones, DescribeImages (per zone), DescribeCustomImages and
DescribeInstances with correct paging (``pageNum``, ``pageSize``, ``totalCount``), success as
``{"requestId", "response": {...}}`` and failure as a flat ``{"requestId", "code", "message"}``.
Any Authorization is accepted and every request is recorded.

Knobs make it lie. They compose, and each takes a :class:`When` that narrows it to an action,
a zone, a page, the Nth matching request (``nth``), the first N (``times``), a listener or
any ``predicate(request)``::

    with HostileServer(zones=[zone("asia-east-1a")], images={"asia-east-1a": images(45)}) as srv:
        srv.paging(total_count=10**18, when=When("DescribeImages", page=2))
        ...  # point the client at srv.endpoint, then look at srv.requests

Every knob method returns a :class:`Knob` (``knob.hits`` counts the answers it shaped;
``srv.remove(knob)`` retires it). The knobs, one example each:

Paging lies, ``srv.paging(...)``
    ``total_count=10**9``                totalCount far beyond the pages (also -1, 2**70, NAN)
    ``total_count=by_page({1: 5, 2: 9})``  totalCount that changes between pages
    ``total_count=in_turn(40, 20)``      totalCount that changes from answer to answer
    ``serve_page=1``                     pageNum ignored: the same items on every page
    ``max_items=5``                      pageSize clamped to 5 whatever the client asks
    ``max_pages=2``                      pages after the 2nd have an empty dataSet
    ``overfill=3``                       dataSet holds pageSize + 3 items
Malformed values
    ``srv.mutate(mutate("imageSize", NAN))``           a field of every served record
    ``srv.mutate(drop("imageId"), item=0)``            the first record on the page only
    ``srv.mutate(duplicate_key("imageId", "b"))``      the key written twice
    ``srv.envelope(mutate("totalCount", HUGE_FLOAT))`` a field of ``response``
    ``srv.envelope(drop("response"), level="outer")``  a field of the outer envelope
    ``image("x", imageSize=HOSTILE["long_string"])``   hostile values built into the data
    ``hostile_variants(image("x"), "imageSize")``      one record per value in :data:`HOSTILE`
    ``srv.body(lambda b: b.replace(b"AVAILABLE", b"\\xff"))``  any edit of the encoded body
Zones and ids: the data is the knob
    ``HostileServer(zones=[zone("a"), zone("a"), zone(None), zone("a\\x00")])``
    ``images={"a": [image(None), image("x"), image("x")]}``  (see :data:`HOSTILE_ZONE_IDS`)
Delivery, ``srv.deliver(Delivery(...))``
    ``Delivery(delay_before=0.5)``          nothing for 0.5 s (``math.inf``: until stop())
    ``Delivery(head_byte_delay=0.05)``      status line and headers one byte per 0.05 s
    ``Delivery(head_byte_delay=0.05, head_step=8)``  ... eight bytes per 0.05 s
    ``Delivery(stall_after_head=math.inf)`` the headers, then silence
    ``Delivery(body_byte_delay=0.05)``      the body one byte (``body_step`` bytes) per 0.05 s
    ``Delivery(cut_after=10)``              close after 10 bytes of body
    ``Delivery(close=True, reset=True)``    close with a TCP RST after the answer
    ``srv.headers(content_length_delta=100)``  Content-Length larger (or, -100, smaller)
    ``srv.headers(content_length_values=[b"10", b"99"])``  conflicting Content-Length headers
    ``srv.headers(omit_content_length=True)``  no Content-Length (pair with ``close=True``)
    ``srv.chunked(size_lines=GARBAGE_CHUNK_SIZES)``  chunked framing with garbage sizes
    ``srv.chunked(chunk_len=7, trailer=b"X: y\\r\\n")``  honest chunked framing
    ``srv.headers(add=HOSTILE_HEADERS["gzip_lie"])``  Content-Encoding: gzip on plain JSON
    ``srv.enormous(50 * MIB)``              a 50 MiB JSON body, streamed in 64 KiB pieces
    ``srv.enormous(MIB, declare_length=False)``  ... with no Content-Length, ended by close
Headers, ``srv.headers(...)``
    ``add=HOSTILE_HEADERS["retry_after_far_date"]``  any preset of :data:`HOSTILE_HEADERS`
    ``content_type=CONTENT_TYPES["html"]``  a Content-Type lie
    ``remove=["Content-Type"]``             drop a header
    ``status_line=b"HTTP/1.1 200"``         any status line
Redirects, ``srv.redirect(...)``
    ``srv.redirect(307)``                   to the second listener (``srv.start_other()``)
    ``srv.redirect(302, location=srv.url)`` a loop; any str or bytes Location
Errors, ``srv.error(...)``
    ``srv.error(502, body=GATEWAY_HTML, content_type=CONTENT_TYPES["html"])``
    ``srv.error(401, "AUTHFAILURE_SIGNATURE_FAILURE", echo("Authorization"))``  secret echoed
    ``srv.error(429, "REQUEST_LIMIT_EXCEEDED", headers=HOSTILE_HEADERS["retry_after_huge"])``
    ``srv.error(403, body=CHALLENGE_HTML, headers=HOSTILE_HEADERS["cf_challenge"])``
    ``srv.error(200, "INTERNAL_SERVER_ERROR")``  an error envelope with HTTP 200
    ``srv.error(599, reason=b"\\xff", content_type=None, body=b"")``  any status line, no body
Escape hatches
    ``srv.answer(RawAnswer(b"HTTP/1.1 200 OK", [b"Content-Length: 2"], b"{}"))``
    ``srv.script(lambda req: RawAnswer(...) if req.page_num == 3 else None)``

Order of play for one request: scripts (first non-None answer wins); else the first matching
answer knob (``error``, ``redirect``, ``enormous``, ``answer``) or the API; then ``mutate`` and
``envelope`` (API answers only), ``body`` edits, ``chunked``, ``headers`` edits in the order
they were added; the last matching ``deliver`` decides how the bytes go out. A script's or
``answer``'s :class:`RawAnswer` is exact: no other knob touches it, its own ``delivery`` rules.
Knobs apply to the main listener unless ``When(listener=...)`` says otherwise.

Introspection: ``srv.endpoint``, ``srv.url``, ``srv.requests`` (:class:`RecordedRequest`),
``srv.requests_to("other")``, ``srv.count("DescribeImages")``, ``srv.counts()``,
``srv.transmissions`` (bytes actually written per answer), ``srv.wait_for(n)``, ``srv.reset()``.
``stop()`` interrupts every delay and closes every live connection; all threads are daemons.
"""

from __future__ import annotations

import contextlib
import enum
import http
import json
import math
import socket
import struct
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "ABSENT",
    "ACTIONS",
    "ANY",
    "API_PATH",
    "CHALLENGE_HTML",
    "CONTENT_TYPES",
    "DEFAULT_ZONES",
    "EVERYWHERE",
    "GARBAGE_CHUNK_SIZES",
    "GATEWAY_HTML",
    "HOSTILE",
    "HOSTILE_HEADERS",
    "HOSTILE_ZONE_IDS",
    "HUGE_FLOAT",
    "HUGE_INT",
    "INFINITY",
    "INT64_OVERFLOW",
    "JSON_TYPE",
    "KEEP",
    "MAIN",
    "MIB",
    "NAN",
    "NEG_INFINITY",
    "PROMPT",
    "BodyEdit",
    "Chunking",
    "Delivery",
    "EnvelopeEdit",
    "FromRequest",
    "HeaderEdit",
    "HostileServer",
    "Knob",
    "Mutation",
    "Paging",
    "Pairs",
    "Raw",
    "RawAnswer",
    "RecordEdit",
    "RecordedRequest",
    "Stream",
    "Transmission",
    "When",
    "by_page",
    "chunk_encode",
    "custom_image",
    "custom_images",
    "deep_array",
    "deep_object",
    "drop",
    "duplicate_key",
    "echo",
    "encode_json",
    "enormous_body",
    "header_line",
    "hostile_variants",
    "image",
    "images",
    "in_turn",
    "instance",
    "instances",
    "json_answer",
    "mutate",
    "mutated",
    "request_id",
    "status_line",
    "zone",
]

API_PATH: Final = "/api/v2/zec"
ACTIONS: Final = ("DescribeZones", "DescribeImages", "DescribeCustomImages", "DescribeInstances")
MIB: Final = 1 << 20
JSON_TYPE: Final = b"application/json; charset=utf-8"
_POLL: Final = 0.05  # how often blocked socket calls look at the stop flag
_MAX_HEAD: Final = 1 << 20
_MAX_BODY: Final = 64 * MIB
_PIECE: Final = 1 << 16


class _Marker(enum.Enum):
    ABSENT = "ABSENT"
    ANY = "ANY"
    KEEP = "KEEP"

    def __repr__(self) -> str:
        return self.value


#: As a value: leave the key out (in a list: leave the item out).
ABSENT: Final = _Marker.ABSENT
#: In a :class:`When`: match whatever the request holds.
ANY: Final = _Marker.ANY
#: In :class:`Paging`: keep the true totalCount.
KEEP: Final = _Marker.KEEP


@dataclass(frozen=True)
class Raw:
    """JSON text written verbatim: ``Raw(b"NaN")``, ``Raw(b"1e400")``, ``Raw(b'"\\xff"')``."""

    text: bytes

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 40 else self.text[:40] + b"..."
        return f"Raw({shown!r}, {len(self.text)} bytes)"


@dataclass(frozen=True)
class Pairs:
    """A JSON object written as these pairs, in order, duplicate keys kept.

    >>> encode_json(Pairs((("a", 1), ("a", 2))))
    b'{"a":1,"a":2}'
    """

    items: tuple[tuple[str, object], ...]

    def get(self, key: str, default: object = None) -> object:
        """The last value for ``key``, as most JSON parsers read a duplicated key."""
        found = default
        for name, value in self.items:
            if name == key:
                found = value
        return found


@dataclass(frozen=True)
class FromRequest:
    """A value computed from the request when the answer is encoded (see :func:`echo`)."""

    compute: Callable[[RecordedRequest], object]


def encode_json(value: object, request: RecordedRequest | None = None) -> bytes:
    """JSON bytes for ``value``, hostile values included: :class:`Raw` is written verbatim,
    :class:`Pairs` keeps duplicate keys, NaN and infinities are the bare literals, huge ints
    are written in full, :data:`ABSENT` leaves a key out, :class:`FromRequest` is computed.

    >>> encode_json({"a": float("nan"), "b": ABSENT, "c": Raw(b"1e400"), "d": 10**20})
    b'{"a":NaN,"c":1e400,"d":100000000000000000000}'
    """
    out: list[bytes] = []
    _encode(value, out, request)
    return b"".join(out)


def _encode(value: object, out: list[bytes], request: RecordedRequest | None) -> None:
    if isinstance(value, FromRequest):
        if request is None:
            raise TypeError("a FromRequest value needs the request to be encoded")
        _encode(value.compute(request), out, request)
    elif isinstance(value, Raw):
        out.append(value.text)
    elif value is None:
        out.append(b"null")
    elif isinstance(value, bool):
        out.append(b"true" if value else b"false")
    elif isinstance(value, int):
        out.append(str(value).encode("ascii"))
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif isinstance(value, str):
        out.append(_string_text(value))
    elif isinstance(value, Pairs):
        _encode_object(value.items, out, request)
    elif isinstance(value, Mapping):
        _encode_object(tuple(value.items()), out, request)
    elif isinstance(value, list | tuple):
        _encode_array(value, out, request)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _float_text(value: float) -> bytes:
    if math.isnan(value):
        return b"NaN"
    if math.isinf(value):
        return b"Infinity" if value > 0 else b"-Infinity"
    return repr(value).encode("ascii")


def _string_text(value: str) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only the \\uXXXX escape can carry it
        return json.dumps(value, ensure_ascii=True).encode("ascii")


def _encode_object(
    items: Sequence[tuple[object, object]], out: list[bytes], request: RecordedRequest | None
) -> None:
    out.append(b"{")
    first = True
    for key, item in items:
        if item is ABSENT:
            continue
        if not first:
            out.append(b",")
        first = False
        out.append(key.text if isinstance(key, Raw) else _string_text(str(key)))
        out.append(b":")
        _encode(item, out, request)
    out.append(b"}")


def _encode_array(
    items: Sequence[object], out: list[bytes], request: RecordedRequest | None
) -> None:
    out.append(b"[")
    first = True
    for item in items:
        if item is ABSENT:
            continue
        if not first:
            out.append(b",")
        first = False
        _encode(item, out, request)
    out.append(b"]")


def deep_array(depth: int) -> Raw:
    """``depth`` nested arrays, ``[[[...]]]``, to provoke a parser's RecursionError."""
    return Raw(b"[" * depth + b"]" * depth)


def deep_object(depth: int) -> Raw:
    """``depth`` nested objects, ``{"a":{"a":...null}}``."""
    return Raw(b'{"a":' * depth + b"null" + b"}" * depth)


NAN: Final = Raw(b"NaN")
INFINITY: Final = Raw(b"Infinity")
NEG_INFINITY: Final = Raw(b"-Infinity")
HUGE_FLOAT: Final = Raw(b"1e400")
HUGE_INT: Final = 99999999999999999999999
INT64_OVERFLOW: Final = 2**63

#: Named hostile values for any field. Big ones (1 MB string, 100k-deep nesting) included.
HOSTILE: Final[Mapping[str, object]] = {
    "null": None,
    "absent": ABSENT,
    "true": True,
    "false": False,
    "zero": 0,
    "number": 42,
    "negative": -1,
    "float": 1.5,
    "negative_float": -0.5,
    "int64_overflow": INT64_OVERFLOW,
    "huge_int": HUGE_INT,
    "huge_float": HUGE_FLOAT,
    "tiny_float": Raw(b"1e-400"),
    "nan": NAN,
    "infinity": INFINITY,
    "negative_infinity": NEG_INFINITY,
    "numeric_string": "20",
    "string": "hostile",
    "empty_string": "",
    "whitespace": " \t ",
    "list": [1, "two", None],
    "empty_list": [],
    "object": {"nested": True},
    "empty_object": {},
    "control_chars": "a\x00b\x07c\x08d\x7fe",
    "ansi": "\x1b[31mred\x1b[0m\x1b]0;pwned\x07\x1b[2J",
    "bidi": "\u202eexe.txt\u202c \u2066isolate\u2069",
    "nul": "\x00",
    "newlines": "one\r\ntwo\nthree\r",
    "lone_surrogate": "\ud800",
    "raw_control": Raw(b'"tab\there\x01"'),
    "non_utf8": Raw(b'"\xff\xfe\xc3("'),
    "formula": '=HYPERLINK("http://evil.invalid","x")',
    "html": "<script>alert(1)</script>",
    "path_traversal": "../../etc/passwd",
    "long_string": "L" * 1_000_000,
    "deep_array": deep_array(100_000),
    "deep_object": deep_object(100_000),
    "duplicate_keys": Pairs((("key", "first"), ("key", "second"))),
}

#: Hostile zone ids for :func:`zone` (and as keys of ``images``).
HOSTILE_ZONE_IDS: Final[Mapping[str, object]] = {
    "empty": "",
    "null": None,
    "dotdot": "..",
    "dotdot_slash": "../x",
    "slash": "asia/east-1a",
    "absolute": "/etc/passwd",
    "backslash": "..\\x",
    "nul_suffix": "asia-east-1a\x00",
    "control": "asia-east-1a\x1b[2J",
    "newline": "asia-east-1a\nforged: line",
    "space": " asia-east-1a ",
    "lookalike": "аsia-east-1a",  # Cyrillic а
    "long": "z" * 300,
    "number": 7,
    "bool": True,
    "list": ["asia-east-1a"],
    "object": {"zoneId": "asia-east-1a"},
}

PathPart: TypeAlias = str | int


@dataclass(frozen=True)
class Mutation:
    """Set (or, with :data:`ABSENT`, remove) the value at ``path`` in a record or envelope.

    ``duplicate=True`` writes the key a second time instead (the object becomes :class:`Pairs`).
    """

    path: tuple[PathPart, ...]
    value: object
    duplicate: bool = False

    def apply(self, target: object) -> object:
        """A copy of ``target`` with the change; ``target`` itself is left alone."""
        return _edit(target, self.path, self.value, self.duplicate)


def mutate(path: str | int | Sequence[PathPart], value: object) -> Mutation:
    """``mutate("imageSize", NAN)``; a dotted path reaches inside: ``mutate("tags.tags.0", 1)``."""
    return Mutation(_parse_path(path), value)


def drop(path: str | int | Sequence[PathPart]) -> Mutation:
    """Remove the key: ``drop("imageId")``."""
    return Mutation(_parse_path(path), ABSENT)


def duplicate_key(path: str | int | Sequence[PathPart], value: object) -> Mutation:
    """Write the key again with ``value``: ``{"imageId": "a", "imageId": "b"}``."""
    return Mutation(_parse_path(path), value, duplicate=True)


def mutated(record: object, *mutations: Mutation) -> object:
    """``record`` with each mutation applied in turn: ``mutated(image("x"), drop("imageId"))``."""
    for mutation in mutations:
        record = mutation.apply(record)
    return record


def hostile_variants(
    record: object, path: str | Sequence[PathPart], names: Sequence[str] | None = None
) -> dict[str, object]:
    """One copy of ``record`` per :data:`HOSTILE` value (or the ``names`` given) at ``path``.

    >>> sorted(hostile_variants(image("x"), "imageSize", ["nan", "null"]))
    ['nan', 'null']
    """
    chosen = HOSTILE.keys() if names is None else names
    return {name: mutate(path, HOSTILE[name]).apply(record) for name in chosen}


def _parse_path(path: str | int | Sequence[PathPart]) -> tuple[PathPart, ...]:
    if isinstance(path, int):
        return (path,)
    if isinstance(path, str):
        return tuple(int(part) if part.isdigit() else part for part in path.split("."))
    return tuple(path)


def _edit(target: object, path: tuple[PathPart, ...], value: object, duplicate: bool) -> object:
    key, rest = path[0], path[1:]
    if rest:
        return _put(target, key, _edit(_child(target, key), rest, value, duplicate), False)
    return _put(target, key, value, duplicate)


def _child(target: object, key: PathPart) -> object:
    if isinstance(target, list | tuple) and isinstance(key, int):
        return target[key] if -len(target) <= key < len(target) else None
    if isinstance(target, Pairs):
        return target.get(str(key))
    if isinstance(target, Mapping):
        return target.get(str(key))
    return None


def _put(target: object, key: PathPart, value: object, duplicate: bool) -> object:
    if isinstance(target, list | tuple) and isinstance(key, int):
        return _put_item(list(target), key, value)
    name = str(key)
    if isinstance(target, Pairs):
        return _put_pair(target, name, value, duplicate)
    mapping: dict[str, object] = dict(target) if isinstance(target, Mapping) else {}
    if duplicate:
        return Pairs((*mapping.items(), (name, value)))
    if value is ABSENT:
        mapping.pop(name, None)
    else:
        mapping[name] = value
    return mapping


def _put_item(items: list[object], index: int, value: object) -> list[object]:
    if index == len(items) and value is not ABSENT:
        items.append(value)
    elif -len(items) <= index < len(items):
        if value is ABSENT:
            del items[index]
        else:
            items[index] = value
    return items


def _put_pair(target: Pairs, name: str, value: object, duplicate: bool) -> Pairs:
    if duplicate:
        return Pairs((*target.items, (name, value)))
    kept: list[tuple[str, object]] = []
    placed = False
    for key, old in target.items:
        if key != name:
            kept.append((key, old))
        elif not placed and value is not ABSENT:
            kept.append((key, value))
            placed = True
    if not placed and value is not ABSENT and all(key != name for key, _ in target.items):
        kept.append((name, value))
    return Pairs(tuple(kept))


def zone(zone_id: object = "asia-east-1a", **fields: object) -> dict[str, object]:
    """A ZoneInfo record; ``fields`` override or add (``zone("x", cityName=None)``)."""
    named = isinstance(zone_id, str)
    region = zone_id[:-1] if isinstance(zone_id, str) and zone_id[-1:].isalpha() else zone_id
    record: dict[str, object] = {
        "zoneId": zone_id,
        "regionId": region,
        "zoneName": f"Zone {zone_id}" if named else zone_id,
        "timeZone": "UTC",
        "cityName": "Testville",
        "cityCode": "TST",
        "countryCode": "ZZ",
        "countryName": "Testland",
        "supportHaVip": True,
        "supportSecurityGroup": True,
    }
    record.update(fields)
    return record


def image(image_id: object = "ubuntu2404_20240712", **fields: object) -> dict[str, object]:
    """An Image record as DescribeImages returns it; ``fields`` override or add."""
    record: dict[str, object] = {
        "imageId": image_id,
        "imageName": f"Image {image_id}",
        "imageType": "PUBLIC_IMAGE",
        "imageSource": "OFFICIAL",
        "imageSize": "20",
        "minDiskSize": 20,
        "imageDescription": None,
        "imageVersion": "1.0",
        "imageStatus": "AVAILABLE",
        "nicNetworkType": ["FailOver", "VirtioOnly"],
        "category": "Ubuntu",
        "osType": "linux",
        "tags": None,
    }
    record.update(fields)
    return record


def images(count: int, prefix: str = "img-", **fields: object) -> list[object]:
    """``count`` distinct images, ids ``img-0001``, ``img-0002``, ...; ``fields`` on all."""
    return [image(f"{prefix}{n:04d}", **fields) for n in range(1, count + 1)]


def custom_image(image_id: object = "cimg-0001", **fields: object) -> dict[str, object]:
    """A CustomImage record (DescribeCustomImages); ``fields`` override or add."""
    record = image(image_id, imageType="CUSTOM_IMAGE", imageSource="CUSTOM")
    record.update(
        {
            "regionIdList": ["asia-east-1"],
            "resourceGroupId": "rg-default",
            "resourceGroupName": "Default",
        }
    )
    record.update(fields)
    return record


def custom_images(count: int, prefix: str = "cimg-", **fields: object) -> list[object]:
    """``count`` distinct custom images, ids ``cimg-0001``, ...; ``fields`` on all."""
    return [custom_image(f"{prefix}{n:04d}", **fields) for n in range(1, count + 1)]


def instance(
    instance_id: object = "ins-0001", zone_id: object = "asia-east-1a", **fields: object
) -> dict[str, object]:
    """An InstanceInfo record (DescribeInstances); ``fields`` override or add."""
    record: dict[str, object] = {
        "instanceId": instance_id,
        "instanceName": f"instance {instance_id}",
        "zoneId": zone_id,
        "instanceType": "z2a.cpu.1",
        "cpu": 1,
        "memory": 2,
        "imageId": "ubuntu2404_20240712",
        "imageName": "Ubuntu Server 24.04 LTS",
        "timeZone": "UTC",
        "nicNetworkType": "VirtioOnly",
        "status": "RUNNING",
        "systemDisk": {"diskId": f"disk-{instance_id}", "diskSize": 20, "diskCategory": "SSD"},
        "dataDisks": [],
        "publicIpAddresses": ["203.0.113.10"],
        "privateIpAddresses": ["10.0.0.10"],
        "keyId": None,
        "subnetId": "subnet-1",
        "securityGroupId": "sg-1",
        "enableAgent": True,
        "enableAgentMonitor": True,
        "enableIpForward": False,
        "createTime": "2025-01-01T00:00:00Z",
        "expiredTime": None,
        "resourceGroupId": "rg-default",
        "resourceGroupName": "Default",
        "nics": [],
        "tags": None,
        "loadBalancerIds": [],
        "placementGroupId": None,
        "instanceOptions": None,
    }
    record.update(fields)
    return record


def instances(
    count: int, zone_id: object = "asia-east-1a", prefix: str = "ins-", **fields: object
) -> list[object]:
    """``count`` distinct instances in ``zone_id``, ids ``ins-0001``, ...; ``fields`` on all."""
    return [instance(f"{prefix}{n:04d}", zone_id, **fields) for n in range(1, count + 1)]


DEFAULT_ZONES: Final = (zone("asia-east-1a"), zone("asia-southeast-1a"))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server read it. ``index`` counts from 0 across both listeners;
    ``peer`` is the client's ``host:port``, the same for requests on one connection."""

    index: int
    listener: str
    peer: str
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    json_body: object
    time: float
    monotonic: float

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in the order sent."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @property
    def action(self) -> str | None:
        """The ``X-ZC-Action`` header."""
        return self.header("X-ZC-Action")

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header, exactly as sent."""
        return self.header("Authorization")

    def param(self, name: str, default: object = None) -> object:
        """A field of the JSON body, or ``default`` (also when the body is not an object)."""
        if isinstance(self.json_body, dict):
            return self.json_body.get(name, default)
        return default

    @property
    def zone(self) -> object:
        """``zoneId`` of the body, else its ``regionId`` (DescribeCustomImages), else None."""
        return self.param("zoneId", self.param("regionId"))

    @property
    def page_num(self) -> object:
        """``pageNum`` of the body (1 when absent)."""
        return self.param("pageNum", 1)

    @property
    def page_size(self) -> object:
        """``pageSize`` of the body (20 when absent)."""
        return self.param("pageSize", 20)


def echo(header: str, template: str = "{}") -> FromRequest:
    """A value that repeats a request header back, as a careless server does in a message.

    ``srv.error(401, "AUTHFAILURE_SIGNATURE_FAILURE", echo("Authorization", "bad: {}"))``
    """
    return FromRequest(lambda request: template.format(request.header(header) or ""))


def by_page(values: Mapping[int, object], default: object = None) -> FromRequest:
    """A value chosen by the request's pageNum: ``total_count=by_page({1: 50, 2: 90})``."""

    def pick(request: RecordedRequest) -> object:
        page = request.page_num
        return values.get(page, default) if isinstance(page, int) else default

    return FromRequest(pick)


def in_turn(*values: object) -> FromRequest:
    """Each answer takes the next value; the last one repeats: ``in_turn(40, 20, 5)``."""
    if not values:
        raise ValueError("in_turn needs at least one value")
    lock = threading.Lock()
    served = [0]

    def pick(_request: RecordedRequest) -> object:
        with lock:
            index = min(served[0], len(values) - 1)
            served[0] += 1
        return values[index]

    return FromRequest(pick)


def request_id(request: RecordedRequest) -> str:
    """The requestId the server puts in its answer to ``request``."""
    return f"HOSTILE-{request.index:08d}"


@dataclass(frozen=True)
class Delivery:
    """How an answer's bytes go out. Each trickled piece waits its delay before it is sent,
    except the very first byte of the answer. ``math.inf`` waits until ``stop()``.

    - ``delay_before``: silence before the first byte.
    - ``head_byte_delay`` / ``head_step``: status line and headers, ``head_step`` bytes per delay.
    - ``stall_after_head``: silence between the headers and the body.
    - ``body_byte_delay`` / ``body_step``: the body, ``body_step`` bytes per delay.
    - ``cut_after``: send only this many body bytes, then close.
    - ``close``: close after the answer even if the client would keep the connection.
    - ``reset``: close with a TCP RST (SO_LINGER 0) instead of a FIN.
    """

    delay_before: float = 0.0
    head_byte_delay: float = 0.0
    head_step: int = 1
    stall_after_head: float = 0.0
    body_byte_delay: float = 0.0
    body_step: int = 1
    cut_after: int | None = None
    close: bool = False
    reset: bool = False


#: Everything at once, connection kept alive.
PROMPT: Final = Delivery()


@dataclass(frozen=True)
class Stream:
    """A body made lazily: ``prefix``, ``size`` bytes of ``filler`` repeated, ``suffix``."""

    size: int
    prefix: bytes = b""
    filler: bytes = b" "
    suffix: bytes = b""
    piece: int = _PIECE

    @property
    def length(self) -> int:
        """Total bytes the stream yields."""
        return len(self.prefix) + self.size + len(self.suffix)

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces of at most ``piece`` bytes (prefix and suffix apart)."""
        if self.prefix:
            yield self.prefix
        block = (self.filler * (self.piece // max(len(self.filler), 1) + 1))[: self.piece]
        left = self.size
        while left > 0:
            take = min(left, len(block))
            yield block[:take]
            left -= take
        if self.suffix:
            yield self.suffix


def enormous_body(total: int) -> Stream:
    """A valid JSON DescribeImages answer of exactly ``total`` bytes, mostly one long string."""
    prefix = (
        b'{"requestId":"HOSTILE-ENORMOUS","response":{"requestId":"HOSTILE-ENORMOUS",'
        b'"totalCount":1,"dataSet":[{"imageId":"enormous","imageName":"'
    )
    suffix = b'"}]}}'
    return Stream(max(total - len(prefix) - len(suffix), 0), prefix, b"A", suffix)


@dataclass(frozen=True)
class RawAnswer:
    """Exact bytes: the status line and header lines (no CRLF; they are added), the body,
    and how to deliver them. ``raw_head`` replaces the whole head, CRLFs included."""

    status_line: bytes = b"HTTP/1.1 200 OK"
    headers: Sequence[bytes] = ()
    body: bytes | Stream = b""
    delivery: Delivery = PROMPT
    raw_head: bytes | None = None

    def head(self) -> bytes:
        """Status line and headers as sent."""
        if self.raw_head is not None:
            return self.raw_head
        return b"".join(line + b"\r\n" for line in (self.status_line, *self.headers)) + b"\r\n"

    @property
    def body_length(self) -> int:
        """Bytes in the body."""
        return self.body.length if isinstance(self.body, Stream) else len(self.body)

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces."""
        if isinstance(self.body, Stream):
            yield from self.body.chunks()
        elif self.body:
            yield self.body


def _header_bytes(text: str | bytes | int) -> bytes:
    if isinstance(text, bytes):
        return text
    if isinstance(text, int):
        return str(text).encode("ascii")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def header_line(name: str | bytes, value: str | bytes | int) -> bytes:
    """``header_line("Retry-After", 5) == b"Retry-After: 5"``; str that is not Latin-1 goes
    out as UTF-8 bytes."""
    return _header_bytes(name) + b": " + _header_bytes(value)


def status_line(status: int, reason: str | bytes | None = None) -> bytes:
    """``status_line(404) == b"HTTP/1.1 404 Not Found"``."""
    if reason is None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    return b"HTTP/1.1 %d %s" % (status, _header_bytes(reason))


def json_answer(
    status: int,
    document: object,
    *,
    request: RecordedRequest | None = None,
    headers: Sequence[bytes] = (),
    delivery: Delivery = PROMPT,
) -> RawAnswer:
    """A complete JSON answer (Content-Type, Content-Length) for scripts to start from."""
    body = encode_json(document, request)
    lines = (header_line("Content-Type", JSON_TYPE), header_line("Content-Length", len(body)))
    return RawAnswer(status_line(status), (*lines, *headers), body, delivery)


def chunk_encode(
    body: bytes, chunk_len: int = 64, size_lines: Sequence[bytes] = (), trailer: bytes = b""
) -> bytes:
    """``body`` in chunked framing; the i-th size line is ``size_lines[i]`` when given.

    >>> chunk_encode(b"abcde", 3, [b"zz"])
    b'zz\\r\\nabc\\r\\n2\\r\\nde\\r\\n0\\r\\n\\r\\n'
    """
    out: list[bytes] = []
    for number, start in enumerate(range(0, len(body), max(chunk_len, 1))):
        piece = body[start : start + chunk_len]
        size = size_lines[number] if number < len(size_lines) else b"%x" % len(piece)
        out.append(size + b"\r\n" + piece + b"\r\n")
    out.append(b"0\r\n" + trailer + b"\r\n")
    return b"".join(out)


#: Chunk size lines no parser should accept.
GARBAGE_CHUNK_SIZES: Final = (b"zz", b"-5", b"fffffffffffffffffffffff", b"4;ext=\x00", b"")

#: Content-Type values that lie about a JSON body (or tell the truth, ``json``).
CONTENT_TYPES: Final[Mapping[str, bytes]] = {
    "json": JSON_TYPE,
    "html": b"text/html; charset=utf-8",
    "plain": b"text/plain",
    "garbage": b";;;=;",
    "latin1_json": b"application/json; charset=iso-8859-1",
    "utf16_json": b"application/json; charset=utf-16",
    "octet": b"application/octet-stream",
}

#: Named hostile header lines, each a tuple of whole lines to add.
HOSTILE_HEADERS: Final[Mapping[str, tuple[bytes, ...]]] = {
    "retry_after_garbage": (b"Retry-After: soon, maybe",),
    "retry_after_negative": (b"Retry-After: -30",),
    "retry_after_huge": (b"Retry-After: 99999999999999999999999",),
    "retry_after_float": (b"Retry-After: 1.5",),
    "retry_after_nan": (b"Retry-After: NaN",),
    "retry_after_empty": (b"Retry-After: ",),
    "retry_after_far_date": (b"Retry-After: Fri, 31 Dec 9999 23:59:59 GMT",),
    "retry_after_past_date": (b"Retry-After: Thu, 01 Jan 1970 00:00:00 GMT",),
    "retry_after_twice": (b"Retry-After: 1", b"Retry-After: 86400"),
    "non_latin1": (b"X-Hostile: caf\xc3\xa9 \xe2\x98\x83 \xff\xfe",),
    "control_chars": (b"X-Hostile: a\x00b\x1b[31mred\x7f",),
    "obs_fold": (b"X-Folded: first part\r\n  continued on a folded line",),
    "huge_header": (b"X-Huge: " + b"h" * 100_000,),
    "many_headers": tuple(b"X-Many-%04d: %d" % (n, n) for n in range(1000)),
    "no_colon": (b"this line has no colon",),
    "space_before_colon": (b"X-Spaced : value",),
    "set_cookie": (b"Set-Cookie: session=hostile; Path=/; HttpOnly", b"Set-Cookie: t=1; Max-Age=9"),
    "location_on_200": (b"Location: http://evil.invalid/api/v2/zec",),
    "www_authenticate": (b'WWW-Authenticate: Basic realm="hostile"',),
    "cf_challenge": (b"cf-mitigated: challenge", b"Server: cloudflare"),
    "gzip_lie": (b"Content-Encoding: gzip",),
    "transfer_encoding_lie": (b"Transfer-Encoding: gzip",),
}

GATEWAY_HTML: Final = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>nginx</center></body></html>\r\n"
)
CHALLENGE_HTML: Final = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    b"<noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)


@dataclass(frozen=True)
class When:
    """Which requests a knob acts on. ``nth`` counts (from 1) the requests this knob's
    filter matched; ``times`` caps how many it acts on. ``listener=None`` means both.

    ``When("DescribeImages", zone="asia-east-1a", page=3, nth=1)``: the first request for
    page 3 of that zone.
    """

    action: str | None = None
    zone: object = ANY
    page: object = ANY
    nth: int | Collection[int] | None = None
    times: int | None = None
    listener: str | None = "main"
    predicate: Callable[[RecordedRequest], bool] | None = None

    def matches(self, request: RecordedRequest) -> bool:
        """Whether ``request`` passes the filter (``nth`` and ``times`` aside)."""
        return (
            (self.listener is None or request.listener == self.listener)
            and (self.action is None or request.action == self.action)
            and (self.zone is ANY or _same(request.zone, self.zone))
            and (self.page is ANY or _same(request.page_num, self.page))
            and (self.predicate is None or self.predicate(request))
        )


#: Every request to the main listener.
MAIN: Final = When()
#: Every request to either listener.
EVERYWHERE: Final = When(listener=None)


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Paging:
    """Paging lies. ``total_count`` is any value (or :class:`FromRequest`); ``serve_page``
    answers that page whatever pageNum says; ``max_items`` clamps pageSize; pages after
    ``max_pages`` are empty; ``overfill`` adds that many items beyond pageSize."""

    total_count: object = KEEP
    serve_page: int | None = None
    max_items: int | None = None
    max_pages: int | None = None
    overfill: int = 0

    def then(self, later: Paging) -> Paging:
        """These lies with ``later``'s set fields on top."""
        return Paging(
            self.total_count if later.total_count is KEEP else later.total_count,
            self.serve_page if later.serve_page is None else later.serve_page,
            self.max_items if later.max_items is None else later.max_items,
            self.max_pages if later.max_pages is None else later.max_pages,
            later.overfill or self.overfill,
        )


@dataclass(frozen=True)
class RecordEdit:
    """Mutations on the served records (``dataSet`` or ``zoneSet``): all, or the ``item``-th."""

    mutations: tuple[Mutation, ...]
    item: int | None = None


@dataclass(frozen=True)
class EnvelopeEdit:
    """Mutations on the success envelope: inside ``response`` or on the ``outer`` object."""

    mutations: tuple[Mutation, ...]
    level: Literal["outer", "response"] = "response"


@dataclass(frozen=True)
class BodyEdit:
    """Any edit of the encoded body bytes (not applied to streamed bodies)."""

    edit: Callable[[bytes], bytes]


@dataclass(frozen=True)
class Chunking:
    """Send the body chunked (``Transfer-Encoding: chunked``), see :func:`chunk_encode`."""

    size_lines: Sequence[bytes] = ()
    chunk_len: int = 64
    trailer: bytes = b""


@dataclass(frozen=True)
class HeaderEdit:
    """Edits of the final head: lines to ``add`` (at the end), header names to ``remove``,
    a ``content_type`` value, a whole ``status_line``, and Content-Length lies: ``delta``
    from the true length, literal ``values`` (one header each), or none at all."""

    add: Sequence[bytes] = ()
    remove: Sequence[str] = ()
    content_type: bytes | None = None
    status_line: bytes | None = None
    content_length_delta: int = 0
    content_length_values: Sequence[bytes | int] | None = None
    omit_content_length: bool = False

    def apply(self, answer: RawAnswer) -> RawAnswer:
        """``answer`` with these edits."""
        lines = [line for line in answer.headers if _header_name(line) not in self._removed()]
        if self.content_type is not None:
            lines = _set_header(lines, b"Content-Type", self.content_type)
        if self.content_length_delta:
            lines = _set_header(
                lines, b"Content-Length", b"%d" % (answer.body_length + self.content_length_delta)
            )
        if self.content_length_values is not None:
            lines = [line for line in lines if _header_name(line) != "content-length"]
            lines += [header_line("Content-Length", value) for value in self.content_length_values]
        lines += self.add
        return replace(
            answer,
            status_line=answer.status_line if self.status_line is None else self.status_line,
            headers=tuple(lines),
        )

    def _removed(self) -> set[str]:
        names = {name.lower() for name in self.remove}
        return names | {"content-length"} if self.omit_content_length else names


def _header_name(line: bytes) -> str:
    return line.split(b":", 1)[0].strip().decode("latin-1").lower()


def _set_header(lines: list[bytes], name: bytes, value: bytes) -> list[bytes]:
    wanted = name.decode("ascii").lower()
    if not any(_header_name(line) == wanted for line in lines):
        return [*lines, header_line(name, value)]
    return [header_line(name, value) if _header_name(line) == wanted else line for line in lines]


@dataclass
class _Draft:
    """An answer before framing: Content-Length is added at the end unless told not to."""

    status_line: bytes
    headers: list[bytes]
    body: bytes | Stream
    delivery: Delivery = PROMPT
    content_length: bool = True

    def finish(self) -> RawAnswer:
        lines = list(self.headers)
        if self.content_length:
            length = self.body.length if isinstance(self.body, Stream) else len(self.body)
            lines.append(header_line("Content-Length", length))
        return RawAnswer(self.status_line, tuple(lines), self.body, self.delivery)


@dataclass(frozen=True)
class _Replace:
    """An answer built instead of the API's (error, redirect, enormous body, exact bytes)."""

    build: Callable[[RecordedRequest], RawAnswer | _Draft]


@dataclass(frozen=True)
class _Script:
    run: Callable[[RecordedRequest], RawAnswer | None]


Effect: TypeAlias = (
    Paging
    | RecordEdit
    | EnvelopeEdit
    | BodyEdit
    | Chunking
    | HeaderEdit
    | Delivery
    | _Replace
    | _Script
)


@dataclass(eq=False)
class Knob:
    """One registered knob: its effect, its filter, and how often it matched and acted."""

    effect: Effect
    when: When
    seen: int = 0
    hits: int = 0

    def take(self, request: RecordedRequest) -> bool:
        """Count ``request`` if it matches; True when the knob acts on it."""
        if not self.when.matches(request):
            return False
        self.seen += 1
        nth = self.when.nth
        if nth is not None and self.seen not in ({nth} if isinstance(nth, int) else set(nth)):
            return False
        if self.when.times is not None and self.hits >= self.when.times:
            return False
        self.hits += 1
        return True


@dataclass
class Transmission:
    """What was actually written for one answer, updated live while it goes out."""

    request: RecordedRequest
    head_length: int
    body_length: int
    head_sent: int = 0
    body_sent: int = 0
    complete: bool = False


@dataclass
class _Plan:
    replace: _Replace | None = None
    paging: Paging = field(default_factory=Paging)
    records: list[RecordEdit] = field(default_factory=list)
    envelope: list[EnvelopeEdit] = field(default_factory=list)
    body: list[BodyEdit] = field(default_factory=list)
    chunking: Chunking | None = None
    headers: list[HeaderEdit] = field(default_factory=list)
    delivery: Delivery | None = None

    def add(self, effect: Effect) -> None:
        if isinstance(effect, _Replace):
            self.replace = effect
        elif isinstance(effect, Paging):
            self.paging = self.paging.then(effect)
        elif isinstance(effect, RecordEdit):
            self.records.append(effect)
        elif isinstance(effect, EnvelopeEdit):
            self.envelope.append(effect)
        elif isinstance(effect, BodyEdit):
            self.body.append(effect)
        elif isinstance(effect, Chunking):
            self.chunking = effect
        elif isinstance(effect, HeaderEdit):
            self.headers.append(effect)
        elif isinstance(effect, Delivery):
            self.delivery = effect


@dataclass(frozen=True)
class _Problem:
    """An API error the correct server would answer."""

    status: int
    code: str
    message: str


# (request field, record field, how): the filters the real API documents, simply applied.
_FILTERS: Final[Mapping[str, tuple[tuple[str, str, str], ...]]] = {
    "DescribeImages": (
        ("imageIds", "imageId", "in"),
        ("imageName", "imageName", "contains"),
        ("category", "category", "eq"),
        ("imageType", "imageType", "eq"),
        ("imageSource", "imageSource", "eq"),
        ("osType", "osType", "eq"),
        ("imageStatus", "imageStatus", "eq"),
    ),
    "DescribeCustomImages": (
        ("imageIds", "imageId", "in"),
        ("imageName", "imageName", "contains"),
        ("category", "category", "eq"),
        ("osType", "osType", "eq"),
        ("imageStatus", "imageStatus", "eq"),
        ("regionId", "regionIdList", "member"),
        ("resourceGroupId", "resourceGroupId", "eq"),
    ),
    "DescribeInstances": (
        ("instanceIds", "instanceId", "in"),
        ("zoneId", "zoneId", "eq"),
        ("imageId", "imageId", "eq"),
        ("instanceType", "instanceType", "eq"),
        ("status", "status", "eq"),
        ("name", "instanceName", "contains"),
        ("resourceGroupId", "resourceGroupId", "eq"),
    ),
}


def _field(record: object, name: str) -> object:
    if isinstance(record, Pairs | Mapping):
        return record.get(name)
    return None


def _passes(record: object, query: Mapping[str, object], action: str) -> bool:
    for param, name, how in _FILTERS[action]:
        wanted = query.get(param)
        if wanted is None or wanted == []:
            continue
        have = _field(record, name)
        if how == "eq" and not _same(have, wanted):
            return False
        if how == "in" and not (isinstance(wanted, list) and any(_same(have, w) for w in wanted)):
            return False
        if how == "contains" and not (
            isinstance(have, str) and isinstance(wanted, str) and wanted.lower() in have.lower()
        ):
            return False
        if how == "member" and not (isinstance(have, list) and any(_same(h, wanted) for h in have)):
            return False
    return True


def _page_bounds(request: RecordedRequest) -> tuple[int, int] | _Problem:
    num, size = request.page_num, request.page_size
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        return _Problem(400, "INVALID_PARAMETER", "pageNum must be an integer of at least 1")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 1000:
        return _Problem(400, "INVALID_PARAMETER", "pageSize must be an integer from 1 to 1000")
    return num, size


def _page(
    records: Sequence[object], request: RecordedRequest, lies: Paging
) -> tuple[list[object], object] | _Problem:
    bounds = _page_bounds(request)
    if isinstance(bounds, _Problem):
        return bounds
    num, size = bounds
    page = num if lies.serve_page is None else lies.serve_page
    size = size if lies.max_items is None else min(size, lies.max_items)
    start = (page - 1) * size
    past_end = lies.max_pages is not None and page > lies.max_pages
    items = [] if past_end else list(records[start : start + size])
    if lies.overfill and records:
        after = start + len(items)
        items += [records[(after + n) % len(records)] for n in range(lies.overfill)]
    total = len(records) if lies.total_count is KEEP else lies.total_count
    return items, total


def _problem(request: RecordedRequest) -> _Problem | None:
    if request.target.split("?", 1)[0] != API_PATH:
        return _Problem(404, "NOT_FOUND", f"no API at {request.target}")
    if request.method != "POST":
        return _Problem(405, "METHOD_NOT_ALLOWED", "the API takes POST only")
    if request.action not in ACTIONS:
        return _Problem(400, "INVALID_ACTION", f"unknown action {request.action!r}")
    if not isinstance(request.json_body, dict):
        return _Problem(400, "INVALID_PARAMETER", "the body must be a JSON object")
    return None


def _error_draft(request: RecordedRequest, problem: _Problem) -> _Draft:
    document = {"requestId": request_id(request), "code": problem.code, "message": problem.message}
    body = encode_json(document, request)
    return _Draft(status_line(problem.status), [header_line("Content-Type", JSON_TYPE)], body)


def _parse_json(body: bytes) -> object:
    if not body:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


class _Reader:
    """Buffered reads from a client socket that give up on stop, EOF or idleness."""

    def __init__(self, conn: socket.socket, stopping: threading.Event, idle: float) -> None:
        self.conn = conn
        self.stopping = stopping
        self.idle = idle
        self.buffer = b""

    def fill(self) -> bool:
        deadline = time.monotonic() + self.idle
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                data = self.conn.recv(_PIECE)
            except TimeoutError:
                continue
            except OSError:
                return False
            if not data:
                return False
            self.buffer += data
            return True
        return False

    def peek(self, count: int) -> bytes | None:
        while len(self.buffer) < count:
            if not self.fill():
                return None
        return self.buffer[:count]

    def until(self, marker: bytes, limit: int) -> bytes | None:
        while marker not in self.buffer:
            if len(self.buffer) > limit or not self.fill():
                return None
        found, self.buffer = self.buffer.split(marker, 1)
        return found

    def exact(self, count: int) -> bytes | None:
        if self.peek(count) is None:
            return None
        found, self.buffer = self.buffer[:count], self.buffer[count:]
        return found

    def chunked(self) -> bytes | None:
        out: list[bytes] = []
        while True:
            size_line = self.until(b"\r\n", 1024)
            try:
                size = int(size_line.split(b";")[0], 16) if size_line is not None else -1
            except ValueError:
                return None
            if size < 0 or sum(map(len, out)) + size > _MAX_BODY:
                return None
            piece = self.exact(size + 2)
            if piece is None:
                return None
            if size == 0:
                return b"".join(out)
            out.append(piece[:-2])


_Head: TypeAlias = tuple[str, str, str, tuple[tuple[str, str], ...]]


def _parse_head(head: bytes) -> _Head | None:
    lines = head.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3:
        return None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        headers.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
    return parts[0], parts[1], parts[2], tuple(headers)


def _lookup(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _read_body(reader: _Reader, headers: Sequence[tuple[str, str]]) -> bytes | None:
    if (_lookup(headers, "transfer-encoding") or "").lower() == "chunked":
        return reader.chunked()
    length = _lookup(headers, "content-length") or "0"
    if not length.isdigit() or int(length) > _MAX_BODY:
        return None
    return reader.exact(int(length))


def _wants_close(version: str, headers: Sequence[tuple[str, str]]) -> bool:
    connection = (_lookup(headers, "connection") or "").lower()
    return connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")


_BAD_REQUEST: Final = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _Listener:
    def __init__(self, name: str, host: str) -> None:
        self.name = name
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(_POLL)
        self.host = host
        self.port: int = self.sock.getsockname()[1]

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


class HostileServer:
    """The hostile ZEC server. Use it in a ``with`` block (or a fixture that calls
    ``start()`` and ``stop()``); it listens on ``host`` at a free port.

    - ``zones``: the DescribeZones ``zoneSet``, duplicates and hostile ids kept as given
      (default :data:`DEFAULT_ZONES`).
    - ``images``: DescribeImages records per zone id (default: 3 images in each zone).
      A zone id found in neither ``zones`` nor ``images`` answers 404 INVALID_ZONE_NOT_FOUND.
    - ``custom_images``, ``instances``: DescribeCustomImages and DescribeInstances records.
    - ``idle_timeout``: seconds an idle or unread connection is kept before it is dropped.

    The data attributes (``zones``, ``images``, ``custom_images``, ``instances``) may be
    replaced between requests. A server runs once: after ``stop()`` make a new one.
    """

    def __init__(
        self,
        zones: Sequence[object] | None = None,
        images: Mapping[Any, Sequence[object]] | None = None,
        custom_images: Sequence[object] = (),
        instances: Sequence[object] = (),
        *,
        host: str = "127.0.0.1",
        idle_timeout: float = 30.0,
    ) -> None:
        self.zones: list[object] = (
            [dict(record) for record in DEFAULT_ZONES] if zones is None else list(zones)
        )
        self.images: dict[object, list[object]] = (
            {record["zoneId"]: _default_images() for record in DEFAULT_ZONES}
            if images is None
            else {key: list(records) for key, records in images.items()}
        )
        self.custom_images: list[object] = list(custom_images)
        self.instances: list[object] = list(instances)
        self.idle_timeout = idle_timeout
        self._host = host
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._knobs: list[Knob] = []
        self._requests: list[RecordedRequest] = []
        self._transmissions: list[Transmission] = []
        self._live: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listeners: dict[str, _Listener] = {}

    # Lifecycle

    def start(self) -> HostileServer:
        """Listen on the main port; returns the server."""
        self._listen("main")
        return self

    def start_other(self) -> str:
        """Start (once) a second listener, "another host" for redirects; its endpoint.

        It serves the same clean API; its requests are recorded with ``listener="other"``.
        """
        return self._listen("other").endpoint

    def stop(self) -> None:
        """Stop: wake every delay, close the listeners and every live connection."""
        self._stopping.set()
        with self._lock:
            listeners = list(self._listeners.values())
            live = list(self._live)
            threads = list(self._threads)
        for listener in listeners:  # shutdown wakes a blocked accept() at once on Linux
            _quietly(partial(listener.sock.shutdown, socket.SHUT_RDWR))
            listener.sock.close()
        for conn in live:
            _quietly(partial(conn.shutdown, socket.SHUT_RDWR))
        deadline = time.monotonic() + 5.0
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        with self._lock:
            for conn in self._live:
                conn.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Where it is and what it saw

    @property
    def port(self) -> int:
        """The main listener's port."""
        return self._main().port

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self._main().endpoint

    def _main(self) -> _Listener:
        with self._lock:
            if "main" not in self._listeners:
                raise RuntimeError("the server is not started: use a with block or start()")
            return self._listeners["main"]

    @property
    def url(self) -> str:
        """The API's URL, ``endpoint + "/api/v2/zec"``."""
        return self.endpoint + API_PATH

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, both listeners, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, listener: str) -> list[RecordedRequest]:
        """Requests to one listener, ``"main"`` or ``"other"``."""
        return [request for request in self.requests if request.listener == listener]

    def count(self, action: str | None = None, listener: str | None = "main") -> int:
        """Requests for ``action`` (every action when None) to ``listener`` (None: both)."""
        return sum(
            1
            for request in self.requests
            if (action is None or request.action == action)
            and (listener is None or request.listener == listener)
        )

    def counts(self, listener: str | None = "main") -> dict[str | None, int]:
        """Requests per action (``X-ZC-Action``, None when absent)."""
        tally: dict[str | None, int] = {}
        for request in self.requests:
            if listener is None or request.listener == listener:
                tally[request.action] = tally.get(request.action, 0) + 1
        return tally

    @property
    def threads(self) -> list[threading.Thread]:
        """The server's threads still tracked (all daemons); none is alive after stop()."""
        with self._lock:
            return list(self._threads)

    @property
    def transmissions(self) -> list[Transmission]:
        """One live record per answer begun: bytes written so far and whether it finished."""
        with self._lock:
            return list(self._transmissions)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` requests have arrived; False on timeout."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._requests) >= count, timeout)

    def reset(self) -> None:
        """Forget recorded requests and transmissions and remove every knob (data stays)."""
        with self._lock:
            self._requests.clear()
            self._transmissions.clear()
            self._knobs.clear()

    # Knobs

    def add(self, effect: Effect, when: When = MAIN) -> Knob:
        """Register any effect (:class:`Paging`, :class:`Delivery`, ...); the methods below
        are shorthands for this."""
        knob = Knob(effect, when)
        with self._lock:
            self._knobs.append(knob)
        return knob

    def remove(self, knob: Knob) -> None:
        """Retire a knob."""
        with self._lock:
            self._knobs = [other for other in self._knobs if other is not knob]

    def paging(
        self,
        *,
        total_count: object = KEEP,
        serve_page: int | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        overfill: int = 0,
        when: When = MAIN,
    ) -> Knob:
        """Paging lies, see :class:`Paging`: ``srv.paging(total_count=10**9)``."""
        return self.add(Paging(total_count, serve_page, max_items, max_pages, overfill), when)

    def mutate(self, *mutations: Mutation, item: int | None = None, when: When = MAIN) -> Knob:
        """Mutate served records: ``srv.mutate(mutate("imageSize", NAN), item=0)``."""
        return self.add(RecordEdit(mutations, item), when)

    def envelope(
        self,
        *mutations: Mutation,
        level: Literal["outer", "response"] = "response",
        when: When = MAIN,
    ) -> Knob:
        """Mutate the success envelope: ``srv.envelope(drop("dataSet"))``."""
        return self.add(EnvelopeEdit(mutations, level), when)

    def body(self, edit: Callable[[bytes], bytes], when: When = MAIN) -> Knob:
        """Edit the encoded body: ``srv.body(lambda b: b + b"garbage")``."""
        return self.add(BodyEdit(edit), when)

    def chunked(
        self,
        size_lines: Sequence[bytes] = (),
        chunk_len: int = 64,
        trailer: bytes = b"",
        when: When = MAIN,
    ) -> Knob:
        """Chunked framing, with garbage ``size_lines`` if given."""
        return self.add(Chunking(size_lines, chunk_len, trailer), when)

    def headers(
        self,
        add: Sequence[bytes] = (),
        *,
        remove: Sequence[str] = (),
        content_type: bytes | None = None,
        status_line: bytes | None = None,
        content_length_delta: int = 0,
        content_length_values: Sequence[bytes | int] | None = None,
        omit_content_length: bool = False,
        when: When = MAIN,
    ) -> Knob:
        """Hostile headers, see :class:`HeaderEdit`: ``srv.headers(HOSTILE_HEADERS["obs_fold"])``."""
        edit = HeaderEdit(
            add,
            remove,
            content_type,
            status_line,
            content_length_delta,
            content_length_values,
            omit_content_length,
        )
        return self.add(edit, when)

    def deliver(self, delivery: Delivery, when: When = MAIN) -> Knob:
        """How the bytes go out: ``srv.deliver(Delivery(head_byte_delay=0.05))``."""
        return self.add(delivery, when)

    def error(
        self,
        status: int,
        code: object = "INTERNAL_SERVER_ERROR",
        message: object = "hostile error",
        *,
        body: bytes | None = None,
        content_type: bytes | None = JSON_TYPE,
        headers: Sequence[bytes] = (),
        reason: str | bytes | None = None,
        when: When = MAIN,
    ) -> Knob:
        """Answer ``status`` with a flat error envelope (``code`` and ``message`` may be any
        value or :func:`echo`), or with ``body`` exactly (HTML, ``b""``)."""

        def build(request: RecordedRequest) -> _Draft:
            document = {"requestId": request_id(request), "code": code, "message": message}
            payload = encode_json(document, request) if body is None else body
            lines = [] if content_type is None else [header_line("Content-Type", content_type)]
            return _Draft(status_line(status, reason), [*lines, *headers], payload)

        return self.add(_Replace(build), when)

    def redirect(
        self, status: int = 302, location: str | bytes | None = None, when: When = MAIN
    ) -> Knob:
        """Answer ``status`` with ``Location``: by default the second listener's API URL."""
        target = self.start_other() + API_PATH if location is None else location

        def build(_request: RecordedRequest) -> _Draft:
            return _Draft(status_line(status), [header_line("Location", target)], b"")

        return self.add(_Replace(build), when)

    def enormous(
        self, total: int = 50 * MIB, declare_length: bool = True, when: When = MAIN
    ) -> Knob:
        """A valid JSON answer of ``total`` bytes, streamed; without ``declare_length`` it has
        no Content-Length and ends when the connection closes."""

        def build(_request: RecordedRequest) -> _Draft:
            lines = [header_line("Content-Type", JSON_TYPE)]
            delivery = PROMPT if declare_length else Delivery(close=True)
            return _Draft(status_line(200), lines, enormous_body(total), delivery, declare_length)

        return self.add(_Replace(build), when)

    def answer(self, raw: RawAnswer, when: When = MAIN) -> Knob:
        """Answer with exactly these bytes (no other knob touches them)."""
        return self.add(_Replace(lambda _request: raw), when)

    def script(
        self, run: Callable[[RecordedRequest], RawAnswer | None], when: When = EVERYWHERE
    ) -> Knob:
        """Call ``run`` for each request first; an answer it returns is sent exactly."""
        return self.add(_Script(run), when)

    # Serving

    def _listen(self, name: str) -> _Listener:
        with self._lock:
            if name in self._listeners:
                return self._listeners[name]
            listener = _Listener(name, self._host)
            self._listeners[name] = listener
        self._spawn(self._accept_loop, listener)
        return listener

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="hostile-server")
        with self._lock:
            self._threads = [other for other in self._threads if other.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: _Listener) -> None:
        while not self._stopping.is_set():
            try:
                conn, address = listener.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(_POLL)
            with self._lock:
                self._live.add(conn)
            self._spawn(self._serve_connection, conn, listener.name, f"{address[0]}:{address[1]}")

    def _serve_connection(self, conn: socket.socket, listener: str, peer: str) -> None:
        reader = _Reader(conn, self._stopping, self.idle_timeout)
        reset = False
        try:
            first = reader.peek(1)
            if first == b"\x16":  # a TLS ClientHello: someone followed an https:// Location
                self._record(listener, peer, ("TLS", "", "", ()), reader.buffer)
                return
            while first is not None:
                served = self._serve_one(conn, reader, listener, peer)
                if served is None:
                    return
                keep, reset = served
                if not keep:
                    return
        finally:
            self._close(conn, reset)

    def _serve_one(
        self, conn: socket.socket, reader: _Reader, listener: str, peer: str
    ) -> tuple[bool, bool] | None:
        head = reader.until(b"\r\n\r\n", _MAX_HEAD)
        parsed = _parse_head(head) if head is not None else None
        body = _read_body(reader, parsed[3]) if parsed is not None else None
        if parsed is None or body is None:
            if head is not None:
                _quietly(lambda: conn.sendall(_BAD_REQUEST))
            return None
        version, headers = parsed[2], parsed[3]
        request = self._record(listener, peer, parsed, body)
        answer = self._answer(request)
        finished = self._send_answer(conn, answer, request)
        keep = finished and not answer.delivery.close and not _wants_close(version, headers)
        return keep, answer.delivery.reset

    def _record(self, listener: str, peer: str, head: _Head, body: bytes) -> RecordedRequest:
        method, target, version, headers = head
        with self._arrived:
            request = RecordedRequest(
                index=len(self._requests),
                listener=listener,
                peer=peer,
                method=method,
                target=target,
                version=version,
                headers=headers,
                body=body,
                json_body=_parse_json(body),
                time=time.time(),
                monotonic=time.monotonic(),
            )
            self._requests.append(request)
            self._arrived.notify_all()
        return request

    def _answer(self, request: RecordedRequest) -> RawAnswer:
        for run in self._scripts_for(request):
            scripted = run(request)
            if scripted is not None:
                return scripted
        plan = self._plan(request)
        built = plan.replace.build(request) if plan.replace else self._api(request, plan)
        if isinstance(built, RawAnswer):
            return built
        answer = _frame(built, plan).finish()
        for edit in plan.headers:
            answer = edit.apply(answer)
        return answer if plan.delivery is None else replace(answer, delivery=plan.delivery)

    def _scripts_for(
        self, request: RecordedRequest
    ) -> list[Callable[[RecordedRequest], RawAnswer | None]]:
        runs: list[Callable[[RecordedRequest], RawAnswer | None]] = []
        with self._lock:
            for knob in self._knobs:
                if isinstance(knob.effect, _Script) and knob.take(request):
                    runs.append(knob.effect.run)
        return runs

    def _plan(self, request: RecordedRequest) -> _Plan:
        plan = _Plan()
        with self._lock:
            for knob in self._knobs:
                if isinstance(knob.effect, _Script):
                    continue
                if isinstance(knob.effect, _Replace) and plan.replace is not None:
                    continue
                if knob.take(request):
                    plan.add(knob.effect)
        return plan

    def _api(self, request: RecordedRequest, plan: _Plan) -> _Draft:
        problem = _problem(request)
        if problem is not None:
            return _error_draft(request, problem)
        rid = request_id(request)
        if request.action == "DescribeZones":
            key = "zoneSet"
            response: dict[str, object] = {"requestId": rid, key: self._zone_set(request)}
        else:
            listing = self._listing(request)
            if isinstance(listing, _Problem):
                return _error_draft(request, listing)
            paged = _page(listing, request, plan.paging)
            if isinstance(paged, _Problem):
                return _error_draft(request, paged)
            items, total = paged
            key = "dataSet"
            response = {"requestId": rid, "totalCount": total, key: items}
        response[key] = _edit_records(response[key], plan.records)
        document: object = {"requestId": rid, "response": response}
        for edit in plan.envelope:
            prefix: tuple[PathPart, ...] = ("response",) if edit.level == "response" else ()
            for mutation in edit.mutations:
                document = replace(mutation, path=prefix + mutation.path).apply(document)
        body = encode_json(document, request)
        return _Draft(status_line(200), [header_line("Content-Type", JSON_TYPE)], body)

    def _zone_set(self, request: RecordedRequest) -> list[object]:
        wanted = request.param("zoneIds")
        with self._lock:
            zones = list(self.zones)
        if not isinstance(wanted, list) or not wanted:
            return zones
        return [
            record for record in zones if any(_same(_field(record, "zoneId"), w) for w in wanted)
        ]

    def _listing(self, request: RecordedRequest) -> list[object] | _Problem:
        query = request.json_body if isinstance(request.json_body, dict) else {}
        action = request.action or ""
        if action == "DescribeImages":
            if "zoneId" not in query:
                return _Problem(400, "INVALID_PARAMETER", "zoneId is required")
            records = self._images_of(query["zoneId"])
            if records is None:
                return _Problem(
                    404, "INVALID_ZONE_NOT_FOUND", f"zone {query['zoneId']!r} does not exist"
                )
        else:
            with self._lock:
                records = list(
                    self.custom_images if action == "DescribeCustomImages" else self.instances
                )
        return [record for record in records if _passes(record, query, action)]

    def _images_of(self, zone_id: object) -> list[object] | None:
        with self._lock:
            for key, records in self.images.items():
                if _same(key, zone_id):
                    return list(records)
            known = any(_same(_field(record, "zoneId"), zone_id) for record in self.zones)
        return [] if known else None

    def _send_answer(
        self, conn: socket.socket, answer: RawAnswer, request: RecordedRequest
    ) -> bool:
        """Write ``answer`` as its delivery says; True when the connection is still usable."""
        plan = answer.delivery
        head = answer.head()
        sent = Transmission(request, len(head), answer.body_length)
        with self._lock:
            self._transmissions.append(sent)
        if not self._pause(plan.delay_before):
            return False
        if not self._write(conn, head, plan.head_byte_delay, plan.head_step, sent, first=True):
            return False
        if not self._pause(plan.stall_after_head):
            return False
        budget = plan.cut_after
        for chunk in answer.chunks():
            piece = chunk if budget is None else chunk[:budget]
            if not self._write(conn, piece, plan.body_byte_delay, plan.body_step, sent):
                return False
            if budget is not None:
                budget -= len(piece)
                if budget <= 0:
                    break
        sent.complete = sent.body_sent == sent.body_length
        return plan.cut_after is None

    def _write(
        self,
        conn: socket.socket,
        data: bytes,
        delay: float,
        step: int,
        sent: Transmission,
        first: bool = False,
    ) -> bool:
        if delay <= 0:
            return self._send_all(conn, data, sent)
        for start in range(0, len(data), max(step, 1)):
            if not (first and start == 0) and not self._pause(delay):
                return False
            if not self._send_all(conn, data[start : start + step], sent):
                return False
        return True

    def _send_all(self, conn: socket.socket, data: bytes, sent: Transmission) -> bool:
        view = memoryview(data)
        last_progress = time.monotonic()
        while view:
            if self._stopping.is_set():
                return False
            try:
                count = conn.send(view[:_PIECE])
            except TimeoutError:
                if time.monotonic() - last_progress > self.idle_timeout:
                    return False
                continue
            except OSError:
                return False
            view = view[count:]
            last_progress = time.monotonic()
            with self._lock:
                if sent.head_sent < sent.head_length:
                    sent.head_sent += count
                else:
                    sent.body_sent += count
        return True

    def _pause(self, seconds: float) -> bool:
        """Sleep unless stopping; False when the server is stopping."""
        if seconds > 0:
            self._stopping.wait(None if math.isinf(seconds) else seconds)
        return not self._stopping.is_set()

    def _close(self, conn: socket.socket, reset: bool) -> None:
        with self._lock:
            self._live.discard(conn)
        if reset:
            _quietly(
                lambda: conn.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            )
        conn.close()


def _default_images() -> list[object]:
    return images(3)


def _edit_records(records: object, edits: Sequence[RecordEdit]) -> object:
    if not isinstance(records, list):
        return records
    items = list(records)
    for edit in edits:
        chosen = range(len(items)) if edit.item is None else [edit.item]
        for index in chosen:
            if -len(items) <= index < len(items):
                items[index] = mutated(items[index], *edit.mutations)
    return items


def _frame(draft: _Draft, plan: _Plan) -> _Draft:
    """Body edits, then chunked framing, on a draft with a body in memory."""
    if not isinstance(draft.body, bytes):
        return draft
    body = draft.body
    for edit in plan.body:
        body = edit.edit(body)
    if plan.chunking is None:
        return replace(draft, body=body)
    chunking = plan.chunking
    framed = chunk_encode(body, chunking.chunk_len, chunking.size_lines, chunking.trailer)
    lines = [*draft.headers, b"Transfer-Encoding: chunked"]
    return replace(draft, headers=lines, body=framed, content_length=False)


def _quietly(action: Callable[[], object]) -> None:
    with contextlib.suppress(OSError):
        action()
