"""DescribeImages request validation and filter semantics.

The API reference names the filters but leaves their combination open; the sandbox settles it
like this (and :meth:`Catalog.query <imgframe.sandbox.catalog.Catalog.query>` shares the code,
so ground truth and server cannot drift apart):

- every given filter must hold (filters combine with AND);
- ``imageIds``: exact membership;
- ``imageName``: "fuzzy", a case-insensitive substring match;
- ``category``, ``imageType``, ``imageSource``, ``osType``, ``imageStatus``: exact,
  case-sensitive, validated against the documented values;
- ``tagKeys``: the image has **every** given key (AND);
- ``tags``: the image has **every** given ``key=value`` pair (AND), so two values for one key
  match nothing;
- ``null``, an empty string or an empty list means "no filter".

Invalid input raises :class:`ParamError` carrying the HTTP status and API code to answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from imgframe.sandbox.listing import KINDS, STATUS_CODE, Codes, Kind, Listing, TagTable
from imgframe.sandbox.tags import tag_needle
from imgframe.schema import CATEGORIES, IMAGE_SOURCES, IMAGE_STATUSES, IMAGE_TYPES, OS_TYPES

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 20
MAX_TAGS = 20
MAX_TAG_CHARS = 64

#: Request field -> (ImageFilter attribute, documented values).
ENUM_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "category": ("category", CATEGORIES),
    "imageType": ("image_type", IMAGE_TYPES),
    "imageSource": ("source", IMAGE_SOURCES),
    "osType": ("os_type", OS_TYPES),
    "imageStatus": ("status", IMAGE_STATUSES),
}
FILTER_FIELDS = ("imageIds", "imageName", *ENUM_FILTERS, "tagKeys", "tags")


class ParamError(ValueError):
    """A request parameter the API would reject: answer ``status`` with ``code``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ImageFilter:
    """A canonical, hashable DescribeImages filter set (the query cache key)."""

    image_ids: frozenset[str] | None = None
    name: str | None = None  # lower-cased
    category: str | None = None
    image_type: str | None = None
    source: str | None = None
    os_type: str | None = None
    status: str | None = None
    tag_keys: frozenset[str] | None = None
    tags: frozenset[tuple[str, str]] | None = None

    @property
    def is_empty(self) -> bool:
        """True when the filter matches every image."""
        return self == _NO_FILTER

    def select(self, listing: Listing, tags: TagTable) -> Codes:
        """The positions of the rows that pass, in order (``tags``: the listing's table)."""
        mask = np.ones(len(listing), dtype=bool)
        if self.image_ids is not None:
            wanted = self.image_ids
            mask &= np.fromiter((i in wanted for i in listing.ids.tolist()), bool, len(listing))
        wanted_kind = (self.image_type, self.source, self.os_type, self.category)
        if any(v is not None for v in wanted_kind):
            # One test per kind (a few dozen), then a lookup per row.
            mask &= np.array([_kind_matches(k, wanted_kind) for k in KINDS])[listing.kinds]
        if self.status is not None:
            mask &= listing.statuses == STATUS_CODE[self.status]
        needles = [tag_needle(key) for key in sorted(self.tag_keys or ())]
        needles += [tag_needle(key, value) for key, value in sorted(self.tags or ())]
        if needles:  # one test per distinct tag list, each a substring test on its encoding
            passing = [all(n in (v or "") for n in needles) for v in list(tags.values)]
            mask &= np.array(passing, dtype=bool)[listing.tags]
        rows = np.flatnonzero(mask)
        if self.name is not None and len(rows):
            needle = self.name
            names = listing.names[rows].tolist()
            rows = rows[np.fromiter((needle in n.lower() for n in names), bool, len(names))]
        return rows


def _kind_matches(kind: Kind, wanted: tuple[str | None, ...]) -> bool:
    have = (kind.image_type, kind.source, kind.os_type, kind.category)
    return all(w is None or w == h for w, h in zip(wanted, have, strict=True))


_NO_FILTER = ImageFilter()


@dataclass(frozen=True)
class ImagesRequest:
    """A validated DescribeImages request."""

    zone_id: str
    filter: ImageFilter
    page_num: int
    page_size: int


def parse_describe_images(body: Mapping[str, Any]) -> ImagesRequest:
    """Validate a DescribeImages body; raise :class:`ParamError` as the API would."""
    zone_id = body.get("zoneId")
    if zone_id is None or zone_id == "":
        raise ParamError("MISSING_PARAMETER", "The required parameter zoneId is missing.")
    if not isinstance(zone_id, str):
        raise ParamError("INVALID_PARAMETER", "zoneId must be a string.")
    page_num = _integer(body, "pageNum", 1)
    if page_num < 1:
        raise ParamError("INVALID_PARAMETER_VALUE", f"pageNum must be >= 1, got {page_num}.")
    page_size = _integer(body, "pageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ParamError(
            "INVALID_PARAMETER_VALUE",
            f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {page_size}.",
        )
    return ImagesRequest(zone_id, parse_filter(body), page_num, page_size)


def parse_filter(params: Mapping[str, Any]) -> ImageFilter:
    """The canonical filter of the DescribeImages filter fields in ``params``.

    Other keys are ignored, as the API ignores fields it does not know.
    """
    enums: dict[str, str | None] = {}
    for field, (attr, allowed) in ENUM_FILTERS.items():
        value = _string(params, field)
        if value is not None and value not in allowed:
            raise ParamError(
                "INVALID_PARAMETER_VALUE",
                f"{field} {value!r} is not valid; valid values: {', '.join(allowed)}.",
            )
        enums[attr] = value
    name = _string(params, "imageName")
    return ImageFilter(
        image_ids=_string_set(params, "imageIds", limit=None),
        name=name.lower() if name is not None else None,
        tag_keys=_string_set(params, "tagKeys", limit=MAX_TAGS),
        tags=_tags(params),
        **enums,
    )


def _integer(params: Mapping[str, Any], field: str, default: int) -> int:
    value = params.get(field)
    if value is None:
        return default
    # bool is an int subclass, and 2.0 is not an integer on the wire.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError("INVALID_PARAMETER", f"{field} must be an integer.")
    return value


def _string(params: Mapping[str, Any], field: str) -> str | None:
    value = params.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ParamError("INVALID_PARAMETER", f"{field} must be a string.")
    return value


def _list(params: Mapping[str, Any], field: str, limit: int | None) -> list[Any] | None:
    value = params.get(field)
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise ParamError("INVALID_PARAMETER", f"{field} must be an array.")
    if limit is not None and len(value) > limit:
        raise ParamError(
            "INVALID_PARAMETER_VALUE",
            f"{field} accepts at most {limit} items, got {len(value)}.",
        )
    return value


def _string_set(params: Mapping[str, Any], field: str, limit: int | None) -> frozenset[str] | None:
    items = _list(params, field, limit)
    if items is None:
        return None
    if not all(isinstance(item, str) for item in items):
        raise ParamError("INVALID_PARAMETER", f"{field} must be an array of strings.")
    if limit is not None:  # tagKeys: each is a tag key, 1 to 64 characters
        for item in items:
            _check_tag_text(field, item)
    return frozenset(items)


def _tags(params: Mapping[str, Any]) -> frozenset[tuple[str, str]] | None:
    items = _list(params, "tags", MAX_TAGS)
    if items is None:
        return None
    pairs = set()
    for item in items:
        if not isinstance(item, dict):
            raise ParamError("INVALID_PARAMETER", 'tags must be an array of {"key", "value"}.')
        key, value = item.get("key"), item.get("value")
        if not isinstance(key, str) or not isinstance(value, str):
            raise ParamError("INVALID_PARAMETER", "Each tag needs a string key and value.")
        _check_tag_text("tags.key", key)
        _check_tag_text("tags.value", value)
        pairs.add((key, value))
    return frozenset(pairs)


def _check_tag_text(field: str, text: str) -> None:
    if not 1 <= len(text) <= MAX_TAG_CHARS:
        raise ParamError(
            "INVALID_PARAMETER_VALUE",
            f"{field} must be 1 to {MAX_TAG_CHARS} characters, got {len(text)}.",
        )
