"""API filters and request arguments: defined once, typed for users, checked before any request.

Every filter of an action is declared exactly once, as a key of a ``TypedDict`` whose type is
``Annotated`` with a :class:`Filter` saying how it is sent and checked
(:class:`ImageFilterArgs` for DescribeImages). Everything else is derived from that one
declaration: the request fields (:meth:`Filters.to_api`), the validation, the command line's
options (:mod:`imgframe.cli` builds them from :data:`IMAGE_FILTERS`), and the signatures
users see in ``help()`` and in type checkers (``**filters: Unpack[ImageFilterArgs]``).

Every documented filter is passed to the API; none is dropped silently (the Terraform data
source drops two). Enum filters are checked against the documented values, so a typo fails
at once with the valid values listed, instead of quietly matching nothing.

>>> [f.option for f in IMAGE_FILTERS][:3]
['--image-ids', '--image-name', '--category']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    TypedDict,
    TypeVar,
    Unpack,
    get_args,
    get_type_hints,
)

from .defaults import MAX_CONCURRENCY
from .errors import InvalidArgument
from .schema import (
    MAX_PAGE_SIZE,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    Category,
    ImageSource,
    ImageStatus,
    ImageType,
    OsType,
)

__all__ = [
    "CUSTOM_IMAGE_FILTERS",
    "IMAGE_FILTERS",
    "INSTANCE_FILTERS",
    "CustomImageFilterArgs",
    "CustomImageFilters",
    "Filter",
    "Filters",
    "ImageFilterArgs",
    "ImageFilters",
    "InstanceFilterArgs",
    "InstanceFilters",
    "TagsArg",
    "check_concurrency",
    "check_page_size",
    "check_repages",
    "check_zone_id",
    "filter_signature",
]

TagsArg = Mapping[str, str] | Sequence[Mapping[str, str]]
FilterKind = Literal["list", "text", "choice", "tags"]

MAX_NAME_LENGTH = 1024
MAX_IMAGE_IDS = 1000
MAX_ZONE_ID_LENGTH = 128

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Filter:
    """How one filter is sent and checked: its request field, its kind, its help text.

    ``kind`` is ``"list"`` (strings; also one string, or comma-separated on the command
    line), ``"text"``, ``"choice"`` (the values of the ``Literal`` it annotates) or ``"tags"``
    (key/value pairs). ``name`` and ``choices`` are filled in from the declaration.
    """

    api: str
    kind: FilterKind
    help: str | None = None
    max_items: int | None = None
    max_length: int = MAX_NAME_LENGTH
    #: The word for the items of a list in messages ("ids", "keys").
    noun: str = "items"
    #: An empty list is refused (``True``) or means "no filter" (``False``).
    refuse_empty: bool = False
    #: The command line's flag when it is not ``--<name with dashes>`` (``--tag``).
    flag: str | None = None
    metavar: str | None = None
    name: str = field(default="", compare=False)
    choices: tuple[str, ...] = field(default=(), compare=False)

    @property
    def option(self) -> str:
        """The command-line flag, the official CLI's name for it."""
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value: object) -> Any:
        """The value in canonical form (tuples), ``None`` for "no filter", or
        :class:`InvalidArgument` naming the problem."""
        if value is None:
            return None
        if self.kind == "choice":
            if value not in self.choices:
                raise InvalidArgument(
                    f"{self.api} {value!r} is not one of: {', '.join(self.choices)}"
                )
            return str(value)
        if self.kind == "text":
            return _text(self.api, value, max_length=self.max_length)
        if self.kind == "tags":
            return _tags(self.api, value)
        return self._list(value)

    def _list(self, value: object) -> tuple[str, ...] | None:
        items = _string_list(self.api, value, max_length=self.max_length)
        if not items:
            if self.refuse_empty:
                raise InvalidArgument(f"{self.api} must not be empty (leave it out: no filter)")
            return None
        if self.max_items is not None and len(items) > self.max_items:
            raise InvalidArgument(
                f"{self.api} holds {len(items)} {self.noun}; at most {self.max_items}"
            )
        return tuple(dict.fromkeys(items))

    def to_api(self, value: Any) -> Any:
        """A checked value as the request field's JSON value."""
        if self.kind == "tags":
            return [{"key": k, "value": v} for k, v in value]
        if self.kind == "list":
            return list(value)
        return value


# Each filter is declared once, as an annotated type; each action's TypedDict below lists the
# filters that action takes, in the order users see them.
_ImageIds = Annotated[
    Iterable[str] | str,
    Filter(
        "imageIds",
        "list",
        "Image ids, comma-separated (repeatable).",
        max_items=MAX_IMAGE_IDS,
        noun="ids",
        refuse_empty=True,
        metavar="IDS",
    ),
]
_ImageName = Annotated[str, Filter("imageName", "text", "Fuzzy, case-insensitive name match.")]
_Category = Annotated[Category, Filter("category", "choice")]
_ImageType = Annotated[ImageType, Filter("imageType", "choice")]
_ImageSource = Annotated[ImageSource, Filter("imageSource", "choice")]
_OsType = Annotated[OsType, Filter("osType", "choice")]
_ImageStatus = Annotated[ImageStatus, Filter("imageStatus", "choice")]
_TagKeys = Annotated[
    Iterable[str] | str,
    Filter(
        "tagKeys",
        "list",
        "Tag keys the items carry, comma-separated (at most 20).",
        max_items=MAX_TAGS,
        max_length=MAX_TAG_LENGTH,
        noun="keys",
        metavar="KEYS",
    ),
]
_Tags = Annotated[
    TagsArg,
    Filter(
        "tags", "tags", "Tag filter (repeatable, at most 20).", flag="--tag", metavar="KEY=VALUE"
    ),
]
_RegionId = Annotated[str, Filter("regionId", "text", "Region, e.g. asia-east-1.", max_length=128)]
_ResourceGroupId = Annotated[
    str, Filter("resourceGroupId", "text", "Resource group id.", max_length=128)
]
_InstanceIds = Annotated[
    Iterable[str] | str,
    Filter(
        "instanceIds",
        "list",
        "Instance ids, comma-separated (repeatable).",
        max_items=MAX_IMAGE_IDS,
        noun="ids",
        refuse_empty=True,
        metavar="IDS",
    ),
]
_ImageId = Annotated[
    str, Filter("imageId", "text", "Instances running this image.", max_length=128)
]
_InstanceType = Annotated[str, Filter("instanceType", "text", "Instance type.", max_length=128)]
# Instance statuses are not documented as a closed set, so any status is sent as given.
_InstanceStatus = Annotated[str, Filter("status", "text", "Instance status.", max_length=64)]
_InstanceName = Annotated[str, Filter("name", "text", "Fuzzy instance name match.")]
_Ipv4 = Annotated[str, Filter("ipv4Address", "text", "An IPv4 address.", max_length=64)]
_Ipv6 = Annotated[str, Filter("ipv6Address", "text", "An IPv6 address.", max_length=64)]


class ImageFilterArgs(TypedDict, total=False):
    """Every DescribeImages filter, as keyword arguments."""

    image_ids: _ImageIds
    image_name: _ImageName
    category: _Category
    image_type: _ImageType
    image_source: _ImageSource
    os_type: _OsType
    image_status: _ImageStatus
    tag_keys: _TagKeys
    tags: _Tags


class CustomImageFilterArgs(TypedDict, total=False):
    """Every DescribeCustomImages filter (account-wide: no zone), as keyword arguments."""

    region_id: _RegionId
    image_ids: _ImageIds
    image_name: _ImageName
    category: _Category
    os_type: _OsType
    image_status: _ImageStatus
    resource_group_id: _ResourceGroupId
    tag_keys: _TagKeys
    tags: _Tags


class InstanceFilterArgs(TypedDict, total=False):
    """Every DescribeInstances filter but the zone, as keyword arguments."""

    instance_ids: _InstanceIds
    image_id: _ImageId
    instance_type: _InstanceType
    status: _InstanceStatus
    name: _InstanceName
    resource_group_id: _ResourceGroupId
    ipv4_address: _Ipv4
    ipv6_address: _Ipv6
    tag_keys: _TagKeys
    tags: _Tags


def _declared(args: type) -> tuple[Filter, ...]:
    """The :class:`Filter` of each key of a filter ``TypedDict``, named and with choices."""
    hints = get_type_hints(args, include_extras=True)
    specs = []
    for name, hint in hints.items():
        base, spec = get_args(hint)[:2]
        choices = tuple(get_args(base)) if spec.kind == "choice" else ()
        specs.append(replace(spec, name=name, choices=choices))
    return tuple(specs)


#: The filters of each action, in declaration order.
IMAGE_FILTERS: tuple[Filter, ...] = _declared(ImageFilterArgs)
CUSTOM_IMAGE_FILTERS: tuple[Filter, ...] = _declared(CustomImageFilterArgs)
INSTANCE_FILTERS: tuple[Filter, ...] = _declared(InstanceFilterArgs)


@dataclass(frozen=True)
class Filters:
    """A checked filter set of one action: (request field, canonical value) pairs, in the
    order the action declares its filters (unset filters left out)."""

    fields: tuple[tuple[str, Any], ...] = ()

    #: The filters this action takes (set by each subclass).
    SPECS: ClassVar[tuple[Filter, ...]] = ()

    @classmethod
    def check(cls, arguments: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """Check keyword arguments against :attr:`SPECS`; unknown names are a ``TypeError``,
        as for any Python function."""
        known = {spec.name: spec for spec in cls.SPECS}
        unknown = [name for name in arguments if name not in known]
        if unknown:
            raise TypeError(
                f"unknown filter(s) {', '.join(map(repr, unknown))}; "
                f"the filters are: {', '.join(known)}"
            )
        checked = []
        for spec in cls.SPECS:
            value = spec.check(arguments.get(spec.name))
            if value is not None:
                checked.append((spec.api, value))
        return tuple(checked)

    def to_api(self) -> dict[str, Any]:
        """The filters as request fields."""
        specs = {spec.api: spec for spec in self.SPECS}
        return {api: specs[api].to_api(value) for api, value in self.fields}

    def __bool__(self) -> bool:
        return bool(self.fields)

    def describe(self) -> str:
        """The filters in one line, as a person would read them ("" for none).

        >>> ImageFilters.build(os_type="linux", tags={"env": "prod"}).describe()
        'osType=linux, tags env=prod'
        """
        parts = []
        for api, value in self.fields:
            if isinstance(value, tuple) and value and isinstance(value[0], tuple):
                shown = " ".join(f"{k}={v}" for k, v in value)
                parts.append(f"{api} {shown}")
            elif isinstance(value, tuple):
                parts.append(f"{api}={','.join(value)}")
            else:
                parts.append(f"{api}={value}")
        return ", ".join(parts)


@dataclass(frozen=True)
class CustomImageFilters(Filters):
    """A checked DescribeCustomImages filter set.

    >>> CustomImageFilters.build(region_id="asia-east-1", os_type="linux").to_api()
    {'regionId': 'asia-east-1', 'osType': 'linux'}
    """

    SPECS = CUSTOM_IMAGE_FILTERS

    @classmethod
    def build(cls, **filters: Unpack[CustomImageFilterArgs]) -> CustomImageFilters:
        """Check user arguments; raise :class:`InvalidArgument` naming the first problem."""
        return cls(cls.check(dict(filters)))


@dataclass(frozen=True)
class InstanceFilters(Filters):
    """A checked DescribeInstances filter set (everything but the zone and the page).

    >>> InstanceFilters.build(image_id="ubuntu2204_20240712").to_api()
    {'imageId': 'ubuntu2204_20240712'}
    """

    SPECS = INSTANCE_FILTERS

    @classmethod
    def build(cls, **filters: Unpack[InstanceFilterArgs]) -> InstanceFilters:
        """Check user arguments; raise :class:`InvalidArgument` naming the first problem."""
        return cls(cls.check(dict(filters)))


@dataclass(frozen=True)
class ImageFilters(Filters):
    """A checked DescribeImages filter set (everything but the zone and the page).

    >>> ImageFilters.build(os_type="linux", tags={"env": "prod"}).to_api()
    {'osType': 'linux', 'tags': [{'key': 'env', 'value': 'prod'}]}
    """

    SPECS = IMAGE_FILTERS

    @classmethod
    def build(cls, **filters: Unpack[ImageFilterArgs]) -> ImageFilters:
        """Check user arguments (:class:`ImageFilterArgs`); raise :class:`InvalidArgument`
        naming the first problem."""
        return cls(cls.check(dict(filters)))


def filter_signature(specs: Sequence[Filter], args: type) -> Callable[[F], F]:
    """Show each filter as a keyword-only parameter in ``help()`` and ``inspect.signature``
    of a function that takes them as ``**filters: Unpack[...]`` (type checkers read the
    ``TypedDict``; people read the signature)."""
    hints = get_type_hints(args)

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        params = [
            p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        named = {p.name for p in params}
        params += [
            inspect.Parameter(
                spec.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=hints[spec.name] | None,
            )
            for spec in specs
            if spec.name not in named  # given its own parameter (e.g. positional region_id)
        ]
        func.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return func

    return decorate


# --------------------------------------------------------------------------------------------
# Other request arguments


def check_page_size(page_size: object) -> int:
    """``page_size`` as an int in 1..1000, else :class:`InvalidArgument`.

    >>> check_page_size(100)
    100
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidArgument(f"page_size must be an integer, not {type(page_size).__name__}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
    return page_size


def check_repages(value: object) -> int:
    """``max_repages`` as a non-negative int, else :class:`InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument("max_repages must be a non-negative integer")
    return value


def check_zone_id(zone: object) -> str:
    """A zone id as given (non-empty text without control characters), else
    :class:`InvalidArgument`. Whether the API lists it is known only once DescribeZones
    answers.

    >>> check_zone_id("asia-east-1a")
    'asia-east-1a'
    """
    if not isinstance(zone, str) or not zone.strip():
        raise InvalidArgument(f"zone_id must be a non-empty string, not {zone!r}")
    if len(zone) > MAX_ZONE_ID_LENGTH or any(ord(c) < 32 for c in zone):
        raise InvalidArgument(f"zone_id {zone[:40]!r} is not a valid zone id")
    return zone


def check_concurrency(value: object) -> int:
    """``max_concurrency`` as an int in 1..64, else :class:`InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument("max_concurrency must be an integer")
    if not 1 <= value <= MAX_CONCURRENCY:
        raise InvalidArgument(f"max_concurrency must be between 1 and {MAX_CONCURRENCY}")
    return value


# --------------------------------------------------------------------------------------------
# Checks of one value


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


def _string_list(field: str, values: object, *, max_length: int) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable):
        raise InvalidArgument(f"{field} must be a list of strings")
    items: tuple[object, ...] = tuple(values)
    return tuple(_text(f"{field}[{i}]", v, max_length=max_length) for i, v in enumerate(items))


def _tags(field: str, value: object) -> tuple[tuple[str, str], ...] | None:
    pairs: list[tuple[object, object]]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidArgument(
            f'{field} must be a mapping {{"key": "value"}} or a list of tag dicts'
        )
    else:
        pairs = []
        for i, tag in enumerate(value):
            if not isinstance(tag, Mapping) or set(tag) != {"key", "value"}:
                raise InvalidArgument(f'{field}[{i}] must be a dict {{"key": ..., "value": ...}}')
            pairs.append((tag["key"], tag["value"]))
    if len(pairs) > MAX_TAGS:
        raise InvalidArgument(f"{field} holds {len(pairs)} tags; at most {MAX_TAGS}")
    checked = tuple(
        (
            _text(f"{field}[{i}].key", k, max_length=MAX_TAG_LENGTH),
            _text(f"{field}[{i}].value", v, max_length=MAX_TAG_LENGTH),
        )
        for i, (k, v) in enumerate(pairs)
    )
    return checked or None
