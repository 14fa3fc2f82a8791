"""DescribeImages filters: typed for the user, validated before any request.

Every documented filter is passed to the API; none is dropped silently (the Terraform data
source drops two). Enum filters are checked against the documented values, so a typo fails
at once with the valid values listed, instead of quietly matching nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import InvalidArgument
from .schema import CATEGORIES, IMAGE_SOURCES, IMAGE_STATUSES, IMAGE_TYPES, OS_TYPES

__all__ = [
    "Category",
    "ImageFilters",
    "ImageSource",
    "ImageStatus",
    "ImageType",
    "OsType",
    "TagsArg",
]

Category = Literal[
    "CentOS", "Windows", "Ubuntu", "Debian", "Rocky", "Fedora", "FreeBSD", "Alpine",
    "ArchLinux", "AlmaLinux", "openSUSE", "Gentoo", "Generic", "OTHERS",
]  # fmt: skip
ImageType = Literal["PUBLIC_IMAGE", "CUSTOM_IMAGE"]
ImageSource = Literal["OFFICIAL", "MARKETING", "CUSTOM", "APP"]
OsType = Literal["linux", "bsd", "windows", "android", "any"]
ImageStatus = Literal[
    "CREATING", "AVAILABLE", "UNAVAILABLE", "SYNCING", "FAILED", "DELETING", "PROCESSING"
]
TagsArg = Mapping[str, str] | Sequence[Mapping[str, str]]

MAX_PAGE_SIZE = 1000
MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_NAME_LENGTH = 1024
MAX_IMAGE_IDS = 1000

_ENUMS: dict[str, tuple[str, ...]] = {
    "category": CATEGORIES,
    "imageType": IMAGE_TYPES,
    "imageSource": IMAGE_SOURCES,
    "osType": OS_TYPES,
    "imageStatus": IMAGE_STATUSES,
}


@dataclass(frozen=True)
class ImageFilters:
    """A validated DescribeImages filter set (everything but the zone and the page).

    >>> ImageFilters.build(os_type="linux", tags={"env": "prod"}).to_api()
    {'osType': 'linux', 'tags': [{'key': 'env', 'value': 'prod'}]}
    """

    image_ids: tuple[str, ...] | None = None
    image_name: str | None = None
    category: str | None = None
    image_type: str | None = None
    image_source: str | None = None
    os_type: str | None = None
    image_status: str | None = None
    tag_keys: tuple[str, ...] | None = None
    tags: tuple[tuple[str, str], ...] | None = None

    @classmethod
    def build(
        cls,
        *,
        image_ids: Iterable[str] | str | None = None,
        image_name: str | None = None,
        category: Category | str | None = None,
        image_type: ImageType | str | None = None,
        image_source: ImageSource | str | None = None,
        os_type: OsType | str | None = None,
        image_status: ImageStatus | str | None = None,
        tag_keys: Iterable[str] | str | None = None,
        tags: TagsArg | None = None,
    ) -> ImageFilters:
        """Validate user arguments; raise :class:`InvalidArgument` naming the first problem."""
        return cls(
            image_ids=_image_ids(image_ids),
            image_name=_image_name(image_name),
            category=_enum("category", category),
            image_type=_enum("imageType", image_type),
            image_source=_enum("imageSource", image_source),
            os_type=_enum("osType", os_type),
            image_status=_enum("imageStatus", image_status),
            tag_keys=_tag_keys(tag_keys),
            tags=_tags(tags),
        )

    def to_api(self) -> dict[str, Any]:
        """The filters as DescribeImages request fields (unset filters left out)."""
        body: dict[str, Any] = {}
        if self.image_ids is not None:
            body["imageIds"] = list(self.image_ids)
        for name, value in (
            ("imageName", self.image_name),
            ("category", self.category),
            ("imageType", self.image_type),
            ("imageSource", self.image_source),
            ("osType", self.os_type),
            ("imageStatus", self.image_status),
        ):
            if value is not None:
                body[name] = value
        if self.tag_keys is not None:
            body["tagKeys"] = list(self.tag_keys)
        if self.tags is not None:
            body["tags"] = [{"key": k, "value": v} for k, v in self.tags]
        return body


def check_page_size(page_size: object) -> int:
    """``page_size`` as an int in 1..1000, else :class:`InvalidArgument`."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidArgument(f"page_size must be an integer, not {type(page_size).__name__}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return page_size


def _enum(field: str, value: object) -> str | None:
    if value is None:
        return None
    valid = _ENUMS[field]
    if value not in valid:
        raise InvalidArgument(f"{field} {value!r} is not one of: {', '.join(valid)}")
    return str(value)


def _text(field: str, value: object, *, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{field} must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidArgument(f"{field} must not be empty")
    if len(value) > max_length:
        raise InvalidArgument(f"{field} is {len(value)} characters long; at most {max_length}")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidArgument(f"{field} {value[:40]!r} holds control or surrogate characters")
    return value


def _image_name(value: str | None) -> str | None:
    return None if value is None else _text("imageName", value, max_length=MAX_NAME_LENGTH)


def _string_list(field: str, values: Iterable[str] | str, *, max_length: int) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    try:
        items = tuple(values)
    except TypeError:
        raise InvalidArgument(f"{field} must be a list of strings") from None
    return tuple(_text(f"{field}[{i}]", v, max_length=max_length) for i, v in enumerate(items))


def _image_ids(values: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    ids = _string_list("imageIds", values, max_length=MAX_NAME_LENGTH)
    if not ids:
        raise InvalidArgument("imageIds must not be empty (leave it out to list every image)")
    if len(ids) > MAX_IMAGE_IDS:
        raise InvalidArgument(f"imageIds holds {len(ids)} ids; at most {MAX_IMAGE_IDS}")
    return tuple(dict.fromkeys(ids))


def _tag_keys(values: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    keys = _string_list("tagKeys", values, max_length=MAX_TAG_LENGTH)
    if len(keys) > MAX_TAGS:
        raise InvalidArgument(f"tagKeys holds {len(keys)} keys; at most {MAX_TAGS}")
    return keys or None


def _tags(value: TagsArg | None) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return None
    pairs: list[tuple[object, object]]
    given: object = value  # typed loosely: callers outside mypy pass anything
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(given, str | bytes):
        raise InvalidArgument('tags must be a mapping {"key": "value"} or a list of tag dicts')
    else:
        pairs = []
        for i, tag in enumerate(value):
            if not isinstance(tag, Mapping) or set(tag) != {"key", "value"}:
                raise InvalidArgument(f'tags[{i}] must be a dict {{"key": ..., "value": ...}}')
            pairs.append((tag["key"], tag["value"]))
    if len(pairs) > MAX_TAGS:
        raise InvalidArgument(f"tags holds {len(pairs)} tags; at most {MAX_TAGS}")
    checked = tuple(
        (
            _text(f"tags[{i}].key", k, max_length=MAX_TAG_LENGTH),
            _text(f"tags[{i}].value", v, max_length=MAX_TAG_LENGTH),
        )
        for i, (k, v) in enumerate(pairs)
    )
    return checked or None
