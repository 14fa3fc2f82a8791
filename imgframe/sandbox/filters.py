"""Request validation and filter semantics of DescribeImages, DescribeCustomImages and
DescribeInstances.

The API reference names the filters but leaves their combination open; the sandbox settles it
like this (and the catalog's ground truth, :meth:`Catalog.query
<imgframe.sandbox.catalog.Catalog.query>`, :meth:`~imgframe.sandbox.catalog.Catalog.
custom_images` and :meth:`~imgframe.sandbox.catalog.Catalog.instances`, shares the code, so
ground truth and server cannot drift apart):

- every given filter must hold (filters combine with AND);
- ``imageIds``, ``instanceIds``: exact membership (at most 100 instance ids);
- ``imageName``, ``name``: "fuzzy", a case-insensitive substring match;
- ``category``, ``imageType``, ``imageSource``, ``osType``, ``imageStatus`` and the instance
  ``status``: exact, case-sensitive, validated against the documented values (instance
  statuses: :data:`~imgframe.sandbox.data.INSTANCE_STATUSES`);
- ``imageId``, ``instanceType``, ``instanceTypeSeries``, ``resourceGroupId``: exact;
- ``regionId`` (DescribeCustomImages): the image is available in that region; an unknown region
  is answered 404 ``INVALID_REGION_NOT_FOUND``;
- ``zoneId`` (DescribeInstances): an unknown zone is 404 ``INVALID_ZONE_NOT_FOUND``, as in
  DescribeImages;
- ``ipv4Address``: one of the instance's public or private IPv4 addresses; ``ipv6Address``:
  its NIC's IPv6 address (both compared as addresses, so any spelling of one matches);
- ``tagKeys``: the resource has **every** given key (AND);
- ``tags``: the resource has **every** given ``key=value`` pair (AND), so two values for one key
  match nothing;
- ``null``, an empty string or an empty list means "no filter"; fields an action does not
  know are ignored, as the API ignores them.

Invalid input raises :class:`ParamError` carrying the HTTP status and API code to answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from imgframe.sandbox import data
from imgframe.sandbox.fleet import (
    IPV6,
    PUBLIC_IP,
    STATUS_OF,
    Fleet,
    holds,
    locate_ipv4,
    locate_ipv6,
)
from imgframe.sandbox.listing import (
    KINDS,
    STATUS_CODE,
    Codes,
    Flags,
    Kind,
    Listing,
    Objects,
    TagTable,
)
from imgframe.sandbox.tags import tag_needle
from imgframe.schema import CATEGORIES, IMAGE_SOURCES, IMAGE_STATUSES, IMAGE_TYPES, OS_TYPES

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 20
MAX_TAGS = 20
MAX_TAG_CHARS = 64
MAX_INSTANCE_IDS = 100

#: Request field -> (ImageFilter attribute, documented values).
ENUM_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "category": ("category", CATEGORIES),
    "imageType": ("image_type", IMAGE_TYPES),
    "imageSource": ("source", IMAGE_SOURCES),
    "osType": ("os_type", OS_TYPES),
    "imageStatus": ("status", IMAGE_STATUSES),
}
FILTER_FIELDS = ("imageIds", "imageName", *ENUM_FILTERS, "tagKeys", "tags")
#: The DescribeCustomImages request fields (besides paging).
CUSTOM_IMAGE_FIELDS = (
    "regionId", "imageIds", "imageName", "category", "osType", "imageStatus",
    "resourceGroupId", "tagKeys", "tags",
)  # fmt: skip
#: The DescribeInstances request fields (besides paging).
INSTANCE_FIELDS = (
    "instanceIds", "zoneId", "imageId", "instanceType", "instanceTypeSeries", "status", "name",
    "resourceGroupId", "tagKeys", "tags", "ipv4Address", "ipv6Address",
)  # fmt: skip
_REGIONS = {str(z["regionId"]): i for i, z in enumerate(data.ZONES)}
_ZONES = {str(z["zoneId"]): i for i, z in enumerate(data.ZONES)}


class ParamError(ValueError):
    """A request parameter the API would reject: answer ``status`` with ``code``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# -- filters --------------------------------------------------------------------------------


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
        mask = _member(listing.ids, self.image_ids)
        wanted_kind = (self.image_type, self.source, self.os_type, self.category)
        if any(v is not None for v in wanted_kind):
            # One test per kind (a few dozen), then a lookup per row.
            mask &= np.array([_kind_matches(k, wanted_kind) for k in KINDS])[listing.kinds]
        if self.status is not None:
            mask &= listing.statuses == STATUS_CODE[self.status]
        mask &= _tag_mask(self.tag_keys, self.tags, tags, listing.tags)
        return _named(np.flatnonzero(mask), listing.names, self.name)


_NO_FILTER = ImageFilter()


def _kind_matches(kind: Kind, wanted: tuple[str | None, ...]) -> bool:
    have = (kind.image_type, kind.source, kind.os_type, kind.category)
    return all(w is None or w == h for w, h in zip(wanted, have, strict=True))


@dataclass(frozen=True)
class CustomImageFilter:
    """A canonical DescribeCustomImages filter set: the DescribeImages filters it shares,
    the region (an index into ``data.ZONES``: one zone per region) and the resource group."""

    image: ImageFilter = _NO_FILTER
    region: int | None = None
    group_id: str | None = None

    def select(
        self, listing: Listing, tags: TagTable, regions: Codes, group_ids: Sequence[str]
    ) -> Codes:
        """The positions of the images that pass; ``regions`` holds each image's regions as
        a bit mask (bit k: zone k of ``data.ZONES``)."""
        rows = self.image.select(listing, tags)
        if self.region is not None:
            rows = rows[(regions[rows] >> self.region & 1).astype(bool)]
        if self.group_id is not None:
            rows = rows[listing.groups[rows] == _index(group_ids, self.group_id)]
        return rows


@dataclass(frozen=True)
class InstanceFilter:
    """A canonical, hashable DescribeInstances filter set."""

    instance_ids: frozenset[str] | None = None
    zone: int | None = None  # index into data.ZONES
    image_id: str | None = None
    instance_type: str | None = None
    series: str | None = None
    status: str | None = None
    name: str | None = None  # lower-cased
    group_id: str | None = None
    tag_keys: frozenset[str] | None = None
    tags: frozenset[tuple[str, str]] | None = None
    ipv4: int | None = None
    ipv6: int | None = None

    def select(self, fleet: Fleet, tags: TagTable, group_ids: Sequence[str]) -> Codes:
        """The positions of the instances that pass, in order."""
        mask = np.ones(len(fleet), dtype=bool)
        if self.instance_ids is not None:
            # Ids are canonical decimal numbers; anything else names no instance.
            numbers = [int(i) for i in self.instance_ids if i.isdigit() and str(int(i)) == i]
            mask &= np.isin(fleet.numbers, [n for n in numbers if n < 2**63])
        if self.zone is not None:
            mask &= fleet.zones == self.zone
        if self.image_id is not None:
            mask &= fleet.image_ids == self.image_id
        for wanted, attribute in ((self.instance_type, "name"), (self.series, "series")):
            if wanted is not None:
                types = [getattr(t, attribute) == wanted for t in data.INSTANCE_TYPES]
                mask &= np.array(types, dtype=bool)[fleet.types]
        if self.status is not None:
            mask &= fleet.statuses == STATUS_OF[self.status]
        if self.group_id is not None:
            mask &= fleet.groups == _index(group_ids, self.group_id)
        mask &= _tag_mask(self.tag_keys, self.tags, tags, fleet.tags)
        if self.ipv4 is not None:
            mask &= _at_address(fleet, locate_ipv4(self.ipv4))
        if self.ipv6 is not None:
            found = locate_ipv6(self.ipv6)
            mask &= _at_address(fleet, None if found is None else (*found, None))
        return _named(np.flatnonzero(mask), fleet.names, self.name)


def _at_address(fleet: Fleet, where: tuple[int, int, bool | None] | None) -> Flags:
    """The instances that hold the address at (zone, slot): a public IPv4 (True), a private
    one (False, always held) or an IPv6 address (None)."""
    if where is None:
        return np.zeros(len(fleet), dtype=bool)
    zone, slot, public = where
    mask: Flags = (fleet.zones == zone) & (fleet.slots == slot)
    if public is not False:
        mask &= holds(PUBLIC_IP if public else IPV6, fleet.statuses, fleet.flags)
    return mask


def _index(values: Sequence[str], wanted: str) -> int:
    """The position of ``wanted`` in ``values``; -2 (matches no row) if absent."""
    return values.index(wanted) if wanted in values else -2


def _member(ids: Objects, wanted: frozenset[str] | None) -> Flags:
    if wanted is None:
        return np.ones(len(ids), dtype=bool)
    mask: Flags = np.fromiter((i in wanted for i in ids.tolist()), bool, len(ids))
    return mask


def _tag_mask(
    keys: frozenset[str] | None,
    pairs: frozenset[tuple[str, str]] | None,
    table: TagTable,
    codes: Codes,
) -> Flags | bool:
    """Per row, True when its tag list has every key and pair (True alone: no tag filter)."""
    needles = [tag_needle(key) for key in sorted(keys or ())]
    needles += [tag_needle(key, value) for key, value in sorted(pairs or ())]
    if not needles:
        return True
    # One test per distinct tag list, each a substring test on its encoding.
    passing = [all(n in (v or "") for n in needles) for v in list(table.values)]
    mask: Flags = np.array(passing, dtype=bool)[codes]
    return mask


def _named(rows: Codes, names: Objects, needle: str | None) -> Codes:
    """The ``rows`` whose name contains ``needle`` (lower-cased), case-insensitively."""
    if needle is None or not len(rows):
        return rows
    found = names[rows].tolist()
    keep: Flags = np.fromiter((needle in n.lower() for n in found), bool, len(found))
    return rows[keep]


# -- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImagesRequest:
    """A validated DescribeImages request."""

    zone_id: str
    filter: ImageFilter
    page_num: int
    page_size: int


@dataclass(frozen=True)
class CustomImagesRequest:
    """A validated DescribeCustomImages request."""

    filter: CustomImageFilter
    page_num: int
    page_size: int


@dataclass(frozen=True)
class InstancesRequest:
    """A validated DescribeInstances request."""

    filter: InstanceFilter
    page_num: int
    page_size: int


def parse_describe_images(body: Mapping[str, Any]) -> ImagesRequest:
    """Validate a DescribeImages body; raise :class:`ParamError` as the API would."""
    zone_id = body.get("zoneId")
    if zone_id is None or zone_id == "":
        raise ParamError("MISSING_PARAMETER", "The required parameter zoneId is missing.")
    if not isinstance(zone_id, str):
        raise ParamError("INVALID_PARAMETER", "zoneId must be a string.")
    page_num, page_size = _paging(body)
    return ImagesRequest(zone_id, parse_filter(body), page_num, page_size)


def parse_describe_custom_images(body: Mapping[str, Any]) -> CustomImagesRequest:
    """Validate a DescribeCustomImages body (every field optional)."""
    page_num, page_size = _paging(body)
    return CustomImagesRequest(parse_custom_image_filter(body), page_num, page_size)


def parse_describe_instances(body: Mapping[str, Any]) -> InstancesRequest:
    """Validate a DescribeInstances body (every field optional)."""
    page_num, page_size = _paging(body)
    return InstancesRequest(parse_instance_filter(body), page_num, page_size)


def parse_filter(params: Mapping[str, Any]) -> ImageFilter:
    """The canonical filter of the DescribeImages filter fields in ``params``.

    Other keys are ignored, as the API ignores fields it does not know.
    """
    enums: dict[str, str | None] = {}
    for field, (attr, allowed) in ENUM_FILTERS.items():
        enums[attr] = _choice(params, field, allowed)
    return ImageFilter(
        image_ids=_string_set(params, "imageIds", limit=None),
        name=_lower(_string(params, "imageName")),
        tag_keys=_string_set(params, "tagKeys", limit=MAX_TAGS, check=_check_tag_text),
        tags=_tags(params),
        **enums,
    )


def parse_custom_image_filter(params: Mapping[str, Any]) -> CustomImageFilter:
    """The canonical filter of the DescribeCustomImages fields in ``params``.

    >>> parse_custom_image_filter({"regionId": "eu-west-1", "osType": "linux"}).region
    7
    """
    shared = {f: params.get(f) for f in CUSTOM_IMAGE_FIELDS if f in FILTER_FIELDS}
    region = _string(params, "regionId")
    if region is not None and region not in _REGIONS:
        raise ParamError("INVALID_REGION_NOT_FOUND", f"Region {region!r} does not exist.", 404)
    return CustomImageFilter(
        image=parse_filter(shared),
        region=None if region is None else _REGIONS[region],
        group_id=_string(params, "resourceGroupId"),
    )


def parse_instance_filter(params: Mapping[str, Any]) -> InstanceFilter:
    """The canonical filter of the DescribeInstances fields in ``params``.

    >>> parse_instance_filter({"ipv4Address": "10.0.0.2", "status": "RUNNING"}).ipv4
    167772162
    """
    zone_id = _string(params, "zoneId")
    if zone_id is not None and zone_id not in _ZONES:
        raise ParamError("INVALID_ZONE_NOT_FOUND", "Region does not exist.", 404)
    return InstanceFilter(
        instance_ids=_string_set(params, "instanceIds", limit=MAX_INSTANCE_IDS),
        zone=None if zone_id is None else _ZONES[zone_id],
        image_id=_string(params, "imageId"),
        instance_type=_string(params, "instanceType"),
        series=_string(params, "instanceTypeSeries"),
        status=_choice(params, "status", data.INSTANCE_STATUSES),
        name=_lower(_string(params, "name")),
        group_id=_string(params, "resourceGroupId"),
        tag_keys=_string_set(params, "tagKeys", limit=MAX_TAGS, check=_check_tag_text),
        tags=_tags(params),
        ipv4=_address(params, "ipv4Address", ipaddress.IPv4Address),
        ipv6=_address(params, "ipv6Address", ipaddress.IPv6Address),
    )


# -- field validation -----------------------------------------------------------------------


def _paging(params: Mapping[str, Any]) -> tuple[int, int]:
    page_num = _integer(params, "pageNum", 1)
    if page_num < 1:
        raise ParamError("INVALID_PARAMETER_VALUE", f"pageNum must be >= 1, got {page_num}.")
    page_size = _integer(params, "pageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ParamError(
            "INVALID_PARAMETER_VALUE",
            f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {page_size}.",
        )
    return page_num, page_size


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


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _choice(params: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> str | None:
    value = _string(params, field)
    if value is not None and value not in allowed:
        raise ParamError(
            "INVALID_PARAMETER_VALUE",
            f"{field} {value!r} is not valid; valid values: {', '.join(allowed)}.",
        )
    return value


def _address(
    params: Mapping[str, Any],
    field: str,
    kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address],
) -> int | None:
    value = _string(params, field)
    if value is None:
        return None
    try:
        return int(kind(value))
    except ValueError:
        version = "IPv4" if kind is ipaddress.IPv4Address else "IPv6"
        raise ParamError(
            "INVALID_PARAMETER_VALUE", f"{field} {value!r} is not an {version} address."
        ) from None


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


def _string_set(
    params: Mapping[str, Any],
    field: str,
    limit: int | None,
    check: Callable[[str, str], None] | None = None,
) -> frozenset[str] | None:
    items = _list(params, field, limit)
    if items is None:
        return None
    if not all(isinstance(item, str) for item in items):
        raise ParamError("INVALID_PARAMETER", f"{field} must be an array of strings.")
    if check is not None:
        for item in items:
            check(field, item)
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
    """Tag keys and values are 1 to 64 characters."""
    if not 1 <= len(text) <= MAX_TAG_CHARS:
        raise ParamError(
            "INVALID_PARAMETER_VALUE",
            f"{field} must be 1 to {MAX_TAG_CHARS} characters, got {len(text)}.",
        )
