"""How the catalog holds one image: a flat tuple of atoms, read with the index constants below.

Flat on purpose. The cyclic GC stops tracking a tuple once it sees that everything inside is
untracked; a tuple of strings, numbers and bytes qualifies after one collection, whatever the
order the collector visits things in. A million class instances, named tuples (a tuple
subclass) or tuples nesting other tuples would stay tracked, and every full collection of
the process (the sandbox's, and a client's sharing it) would pause for seconds. So the two
list-valued fields are encoded as strings: ``nicNetworkType`` comma-joined, ``tags`` as
``\\x1ekey\\x1fvalue\\x1e...\\x1e`` (characters no generated tag contains), which also makes
a tag filter a plain substring test (:func:`tag_needle`).
"""

from __future__ import annotations

from typing import Any, Final, cast

#: Tags as (key, value) pairs in display order.
Tags = tuple[tuple[str, str], ...]

#: (imageId, imageName, imageType, imageSource, imageSize, minDiskSize (None: absent),
#: imageDescription, imageVersion, imageStatus, nicNetworkType (comma-joined), category,
#: osType, tags (encoded; None: null, "": an empty list), the served JSON bytes)
Image = tuple[
    str, str, str, str, str | None, int | None, str | None, str, str, str, str, str,
    str | None, bytes,
]  # fmt: skip

ID: Final = 0
NAME: Final = 1
TYPE: Final = 2
SOURCE: Final = 3
SIZE: Final = 4
MIN_DISK: Final = 5
DESCRIPTION: Final = 6
VERSION: Final = 7
STATUS: Final = 8
NIC: Final = 9
CATEGORY: Final = 10
OS_TYPE: Final = 11
TAGS: Final = 12
BLOB: Final = 13

_PAIR, _ITEM = "\x1f", "\x1e"
_FIELDS = {"name": NAME, "size": SIZE, "status": STATUS, "tags": TAGS, "blob": BLOB}


def encode_tags(tags: Tags) -> str:
    """The string form of a tag list held in an :data:`Image` ("" for an empty list)."""
    if not tags:
        return ""
    return _ITEM + _ITEM.join(map(_PAIR.join, tags)) + _ITEM


def decode_tags(encoded: str | None) -> Tags:
    """(key, value) pairs of an encoded tag list (none for null or empty)."""
    if not encoded:
        return ()
    pairs = (item.partition(_PAIR) for item in encoded[1:-1].split(_ITEM))
    return tuple((key, value) for key, _, value in pairs)


def tag_needle(key: str, value: str | None = None) -> str:
    """A substring found in an encoded tag list exactly when it has ``key`` (``=value``)."""
    return f"{_ITEM}{key}{_PAIR}" if value is None else f"{_ITEM}{key}{_PAIR}{value}{_ITEM}"


def replace_fields(image: Image, **changes: Any) -> Image:
    """A copy of ``image`` with some of ``name``, ``size``, ``status``, ``tags``, ``blob``."""
    values = list(image)
    for field, value in changes.items():
        values[_FIELDS[field]] = value
    return cast(Image, tuple(values))
