"""Tag lists as the catalog stores them: one string per list, so lists can be interned.

``\\x1ekey\\x1fvalue\\x1e...\\x1e`` (characters no generated tag contains): the catalog keeps
each distinct list once (:class:`~imgframe.sandbox.listing.TagTable`), and a tag filter is a
plain substring test on that string (:func:`tag_needle`), run once per distinct list.
"""

from __future__ import annotations

#: Tags as (key, value) pairs in display order.
Tags = tuple[tuple[str, str], ...]

_PAIR, _ITEM = "\x1f", "\x1e"


def encode_tags(tags: Tags) -> str:
    """The string form of a tag list ("" for an empty list).

    >>> encode_tags((("env", "prod"), ("team", "web"))) == "\\x1eenv\\x1fprod\\x1eteam\\x1fweb\\x1e"
    True
    """
    if not tags:
        return ""
    return _ITEM + _ITEM.join(map(_PAIR.join, tags)) + _ITEM


def decode_tags(encoded: str | None) -> Tags:
    """(key, value) pairs of an encoded tag list (none for null or empty).

    >>> decode_tags(encode_tags((("env", "prod"),)))
    (('env', 'prod'),)
    """
    if not encoded:
        return ()
    pairs = (item.partition(_PAIR) for item in encoded[1:-1].split(_ITEM))
    return tuple((key, value) for key, _, value in pairs)


def tag_needle(key: str, value: str | None = None) -> str:
    """A substring found in an encoded tag list exactly when it has ``key`` (``=value``).

    >>> tag_needle("env") in encode_tags((("env", "prod"),))
    True
    """
    return f"{_ITEM}{key}{_PAIR}" if value is None else f"{_ITEM}{key}{_PAIR}{value}{_ITEM}"
