"""What the sandbox answers: the envelopes, the fault pages, and one handler per action.

:func:`api_answer` checks the headers every action shares, then hands the body to the
action's handler (:data:`HANDLERS`); :func:`fault_answer` is what a fault sends instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from imgframe.sandbox.catalog import Catalog
from imgframe.sandbox.faults import Faults, error_kind
from imgframe.sandbox.filters import (
    ParamError,
    parse_describe_custom_images,
    parse_describe_images,
    parse_describe_instances,
)
from imgframe.schema import API_VERSION, SERVICE

if TYPE_CHECKING:
    from imgframe.sandbox.server import Sandbox

#: Kinds that change how an otherwise normal answer is delivered, not what it says.
DELIVERY_FAULTS = frozenset({"drop", "slow", "truncated"})

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
#: API code of a JSON error page, by HTTP status.
ERROR_CODES = {
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_SERVER_ERROR",
    502: "SERVICE_TEMPORARY_UNAVAILABLE",
    503: "SERVICE_TEMPORARY_UNAVAILABLE",
    504: "REQUEST_TIMED_OUT",
}
ERROR_MESSAGES = {
    429: "Request rate limit exceeded; retry later.",
    500: "An internal error occurred; retry later.",
    502: "The service is temporarily unavailable; retry later.",
    503: "The service is temporarily unavailable; retry later.",
    504: "The request timed out; retry later.",
}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def error_answer(
    status: int,
    code: str,
    message: str,
    request_id: str,
    headers: tuple[tuple[str, str], ...] = (),
) -> Answer:
    body = json.dumps(
        {"requestId": request_id, "code": code, "message": message},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return Answer(status, body, headers=headers)


def success_answer(request_id: str, fields: bytes) -> Answer:
    rid = request_id.encode()
    head = b'{"requestId":"' + rid + b'","response":{"requestId":"' + rid + b'"'
    return Answer(200, head + (b"," + fields if fields else b"") + b"}}")


def html_page(status: int) -> bytes:
    """An nginx-style error page, as a gateway in front of an API sends."""
    title = f"{status} {BaseHTTPRequestHandler.responses[status][0]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


CHALLENGE_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>'
    b"<body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)


def fault_answer(fault: str | None, faults: Faults, rid: str) -> Answer | None:
    """The answer a fault sends instead of the API's, or None when the API answers."""
    if fault is None or fault in DELIVERY_FAULTS or fault == "no-dataset":
        return None
    if fault == "429":
        retry = faults.retry_after
        headers = () if retry is None else (("Retry-After", _seconds(retry)),)
        return error_answer(429, ERROR_CODES[429], ERROR_MESSAGES[429], rid, headers)
    if fault == "malformed":
        return Answer(200, b'{"requestId":"' + rid.encode() + b'","response":{"dataSet":[{,]')
    if fault == "403-challenge":
        return Answer(403, CHALLENGE_PAGE, HTML_TYPE, (("cf-mitigated", "challenge"),))
    if fault == "451":
        return Answer(451, html_page(451), HTML_TYPE)
    parsed = error_kind(fault)
    if parsed is None:  # pragma: no cover - kinds are checked when injected
        raise ValueError(f"unknown fault {fault!r}")
    status, body = parsed
    if body == "json":
        return error_answer(status, ERROR_CODES[status], ERROR_MESSAGES[status], rid)
    if body == "html":
        return Answer(status, html_page(status), HTML_TYPE)
    return Answer(status, b"", None)


def _seconds(value: float) -> str:
    # Retry-After is whole seconds in HTTP; fractions are sent as-is to keep tests fast.
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def api_answer(
    sandbox: Sandbox,
    catalog: Catalog,
    lower: Mapping[str, str],
    action: str | None,
    body: dict[str, Any] | None,
    body_error: str,
    rid: str,
    fault: str | None,
) -> Answer:
    version = lower.get("x-zc-version")
    if version != API_VERSION:
        message = f"X-ZC-Version must be {API_VERSION}, got {version!r}."
        return error_answer(400, "UNSUPPORTED_VERSION", message, rid)
    service = lower.get("x-zc-service")
    if service is not None and service != SERVICE:
        message = f"X-ZC-Service must be {SERVICE!r}, got {service!r}."
        return error_answer(400, "UNSUPPORTED_SERVICE", message, rid)
    if not action:
        return error_answer(400, "MISSING_PARAMETER", "The X-ZC-Action header is missing.", rid)
    handler = HANDLERS.get(action)
    if handler is None:
        message = f"Action {action!r} is not supported; supported: {', '.join(HANDLERS)}."
        return error_answer(400, "UNSUPPORTED_ACTION", message, rid)
    if body is None:
        return error_answer(400, "INVALID_PARAMETER", body_error, rid)
    return handler(sandbox, catalog, body, rid, fault == "no-dataset")


def _page(rid: str, data: bytes, total: int, omit: bool) -> Answer:
    """A paged answer: ``dataSet`` (left out when ``omit``, the no-dataset fault), then
    ``totalCount``."""
    count = b'"totalCount":' + str(total).encode()
    return success_answer(rid, count if omit else b'"dataSet":' + data + b"," + count)


def _describe_images(
    sandbox: Sandbox, catalog: Catalog, body: dict[str, Any], rid: str, omit: bool
) -> Answer:
    req = parse_describe_images(body)
    if not catalog.has_zone(req.zone_id):
        return error_answer(404, "INVALID_ZONE_NOT_FOUND", "Region does not exist.", rid)
    churn = sandbox.faults.take_churn()
    if churn > 0:
        catalog.churn(req.zone_id, churn, sandbox.faults.churn_mode)
    return _page(
        rid, *catalog.page_json(req.zone_id, req.filter, req.page_num, req.page_size), omit
    )


def _describe_custom_images(
    sandbox: Sandbox, catalog: Catalog, body: dict[str, Any], rid: str, omit: bool
) -> Answer:
    req = parse_describe_custom_images(body)
    return _page(rid, *catalog.custom_images_page(req.filter, req.page_num, req.page_size), omit)


def _describe_instances(
    sandbox: Sandbox, catalog: Catalog, body: dict[str, Any], rid: str, omit: bool
) -> Answer:
    req = parse_describe_instances(body)
    return _page(rid, *catalog.instances_page(req.filter, req.page_num, req.page_size), omit)


def _describe_zones(
    sandbox: Sandbox, catalog: Catalog, body: dict[str, Any], rid: str, omit: bool
) -> Answer:
    zone_ids = body.get("zoneIds")
    if zone_ids is not None and (
        not isinstance(zone_ids, list) or not all(isinstance(z, str) for z in zone_ids)
    ):
        raise ParamError("INVALID_PARAMETER", "zoneIds must be an array of strings.")
    wanted = frozenset(zone_ids) if zone_ids else None
    if omit:
        return success_answer(rid, b"")
    return success_answer(rid, b'"zoneSet":' + catalog.zones_json(wanted))


_Action = Callable[["Sandbox", Catalog, dict[str, Any], str, bool], Answer]
HANDLERS: dict[str, _Action] = {
    "DescribeImages": _describe_images,
    "DescribeZones": _describe_zones,
    "DescribeCustomImages": _describe_custom_images,
    "DescribeInstances": _describe_instances,
}
PAGED = frozenset({"DescribeImages", "DescribeCustomImages", "DescribeInstances"})
