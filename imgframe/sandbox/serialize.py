"""Images as the compact JSON DescribeImages serves, built from listing columns per page.

The text of an image equals ``json.dumps(record, separators=(",", ":"), ensure_ascii=False)``
of its API-shaped record (the tests hold every image of several catalogs to that), but it is
assembled from fragments shared by many images: everything that follows from an image's kind
and status, its size, its description and its tag list is encoded once per catalog, so a page
costs one f-string per image. Nothing is serialized when a catalog is built: a row's bytes are
built the first time a page holding it is served, and kept in its listing's ``blobs`` cache.
"""

from __future__ import annotations

import functools
import json
from json.encoder import encode_basestring as _quote
from typing import Any, Literal

from imgframe.sandbox.listing import (
    DESCRIPTIONS,
    KINDS,
    MIN_DISKS,
    SIZES,
    STATUSES,
    Codes,
    Listing,
    TagTable,
    cached_blobs,
)
from imgframe.sandbox.tags import decode_tags

TagsShape = Literal["wrapper", "list", "mixed"]
TAGS_SHAPES: tuple[TagsShape, ...] = ("wrapper", "list", "mixed")


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is (how the API encodes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_HEADS = tuple(
    f',"imageType":{_quote(k.image_type)},"imageSource":{_quote(k.source)}' for k in KINDS
)
#: From ``imageVersion`` to ``osType``, per kind and status.
_MIDDLES = tuple(
    tuple(
        f',"imageVersion":{_quote(k.version)},"imageStatus":{_quote(status)},'
        f'"nicNetworkType":{dumps(k.nic.split(","))},"category":{_quote(k.category)},'
        f'"osType":{_quote(k.os_type)}'
        for status in STATUSES
    )
    for k in KINDS
)
_SIZES = tuple("null" if s is None else _quote(s) for s in SIZES)
_MIN_DISKS = tuple("" if m is None else f',"minDiskSize":{m}' for m in MIN_DISKS)


@functools.cache
def _descriptions() -> tuple[str, ...]:
    return tuple("null" if d is None else _quote(d) for d in DESCRIPTIONS)


class Serializer:
    """Listing rows -> served JSON, for one catalog (its tag table and ``tags_shape``)."""

    def __init__(self, shape: TagsShape, tags: TagTable) -> None:
        self.shape = shape
        self.tags = tags
        self._tag_texts: dict[tuple[int, bool], str] = {}

    def blobs(self, listing: Listing, index: Codes | slice, keep: bool = True) -> list[bytes]:
        """The served bytes of each row at ``index``, in order (cached in the listing, if
        ``keep``)."""
        return cached_blobs(listing, index, lambda rows: self._build(listing, rows), keep)

    def page(self, listing: Listing, index: Codes | slice) -> bytes:
        """A JSON array of the rows at ``index``."""
        return b"[" + b",".join(self.blobs(listing, index)) + b"]"

    def _build(self, listing: Listing, rows: Codes) -> list[bytes]:
        descriptions = _descriptions()
        tag_texts = self._tag_texts
        shape = self.shape
        out: list[bytes] = []
        for image_id, name, kind, status, size, min_disk, description, tags in zip(
            listing.ids[rows].tolist(),
            listing.names[rows].tolist(),
            listing.kinds[rows].tolist(),
            listing.statuses[rows].tolist(),
            listing.sizes[rows].tolist(),
            listing.min_disks[rows].tolist(),
            listing.descriptions[rows].tolist(),
            listing.tags[rows].tolist(),
            strict=True,
        ):
            # "mixed" alternates by id, so an image keeps its shape from page to page.
            wrapper = shape == "wrapper" or (shape == "mixed" and ord(image_id[-1]) % 2 == 0)
            tag_text = tag_texts.get((tags, wrapper)) or self._tag_text(tags, wrapper)
            out.append(
                (
                    f'{{"imageId":{_quote(image_id)},"imageName":{_quote(name)}{_HEADS[kind]},'
                    f'"imageSize":{_SIZES[size]}{_MIN_DISKS[min_disk]},'
                    f'"imageDescription":{descriptions[description]}{_MIDDLES[kind][status]},'
                    f'"tags":{tag_text}}}'
                ).encode()
            )
        return out

    def tags_json(self, code: int, wrapper: bool = True) -> str:
        """A tag list as served: ``{"tags": [...]}`` (``wrapper``), a bare list, or null."""
        return self._tag_texts.get((code, wrapper)) or self._tag_text(code, wrapper)

    def _tag_text(self, code: int, wrapper: bool) -> str:
        encoded = self.tags.values[code]
        if encoded is None:
            text = "null"
        else:
            pairs = decode_tags(encoded)
            items = ",".join(f'{{"key":{_quote(k)},"value":{_quote(v)}}}' for k, v in pairs)
            text = f'{{"tags":[{items}]}}' if wrapper else f"[{items}]"
        self._tag_texts[code, wrapper] = text
        return text
