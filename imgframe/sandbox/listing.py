"""How the catalog holds images: one immutable :class:`Listing` per zone, column by column.

A million images as a million Python objects cost seconds to build and a pause at every full
garbage collection; as columns they cost a few numpy arrays. ``imageId`` and ``imageName`` are
object arrays of strings; every other field is an integer code into a small table:

- ``kinds`` index :data:`KINDS`, what an image is built from: ``imageType``, ``imageSource``,
  ``imageVersion``, ``nicNetworkType``, ``category`` and ``osType`` (one kind per custom-image
  base, one per public image);
- ``statuses`` index :data:`STATUSES`, ``sizes`` :data:`SIZES` (``imageSize``; None while the
  size is not known), ``min_disks`` :data:`MIN_DISKS` (None: the field is absent),
  ``descriptions`` :data:`DESCRIPTIONS`;
- ``tags`` index the catalog's :class:`TagTable` (tag lists repeat a lot, and a tag filter is
  then a test on each distinct list, not on each image);
- ``groups`` index the catalog's resource groups (-1: a public image).

Columns are never changed in place: a day, a churn or a rename builds new arrays, so a request
thread reading a listing never sees it half-updated. The one exception is ``blobs``, a cache:
each row's served JSON bytes, None until a page holding the row is first served, then kept
(and carried over to the listings derived from this one, except for the rows that changed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from imgframe.sandbox import data
from imgframe.sandbox.tags import Tags, encode_tags

Codes = npt.NDArray[np.intp]
Objects = npt.NDArray[np.object_]
Flags = npt.NDArray[np.bool_]
N = TypeVar("N", int, Codes)

CUSTOM_IMAGE = "CUSTOM_IMAGE"
PUBLIC_IMAGE = "PUBLIC_IMAGE"


@dataclass(frozen=True)
class Kind:
    """The fields an image shares with every image built from the same base."""

    image_type: str
    source: str
    version: str
    nic: str  # comma-joined nicNetworkType values
    category: str
    os_type: str


def _distinct(items: Any) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


#: Custom-image kinds first (one per ``data.BASES`` entry, same order), then one per public
#: image (``data.PUBLIC_IMAGES`` order, from :data:`PUBLIC_KIND`).
KINDS: tuple[Kind, ...] = (
    *(Kind(CUSTOM_IMAGE, "CUSTOM", b.version, b.nic, b.category, b.os_type) for b in data.BASES),
    *(
        Kind(PUBLIC_IMAGE, p.source, p.version, p.nic, p.category, p.os_type)
        for p in data.PUBLIC_IMAGES
    ),
)
PUBLIC_KIND = len(data.BASES)
#: Every image status, custom-image frequency order.
STATUSES: tuple[str, ...] = tuple(data.STATUS_WEIGHTS)
STATUS_CODE: dict[str, int] = {s: i for i, s in enumerate(STATUSES)}
_SIZE_NAMES: tuple[str, ...] = _distinct(
    [*(s for b in data.BASES for s in b.sizes), *(p.size for p in data.PUBLIC_IMAGES), "20", "40"]
)
#: ``imageSize`` values, then None.
SIZES: tuple[str | None, ...] = (*_SIZE_NAMES, None)
SIZE_CODE: dict[str | None, int] = {s: i for i, s in enumerate(SIZES)}
#: ``minDiskSize`` values (the same numbers as :data:`SIZES`, as integers), then None.
MIN_DISKS: tuple[int | None, ...] = (*(int(s) for s in _SIZE_NAMES), None)
MIN_DISK_CODE: dict[int | None, int] = {m: i for i, m in enumerate(MIN_DISKS)}
ENV_NAMES: tuple[str, ...] = _distinct(data.ENVS)
_N_TEMPLATES = max(len(data.DESCRIPTIONS), len(data.UNICODE_DESCRIPTIONS))


def description_code(unicode: N, template: N, app: N, env: N, base: N) -> N:
    """Where :data:`DESCRIPTIONS` holds a custom image's generated description (for one image,
    or a column of them)."""
    code = (unicode * _N_TEMPLATES + template) * len(data.APPS) + app
    return (code * len(ENV_NAMES) + env) * len(data.BASES) + base


def _descriptions() -> tuple[str | None, ...]:
    texts: list[str | None] = []
    for templates in (data.DESCRIPTIONS, data.UNICODE_DESCRIPTIONS):
        for t in range(_N_TEMPLATES):
            for app in data.APPS:
                for env in ENV_NAMES:
                    for b in data.BASES:
                        fits = t < len(templates)
                        texts.append(
                            templates[t].format(app=app, env=env, slug=b.slug) if fits else None
                        )
    publics = _distinct(p.description for p in data.PUBLIC_IMAGES if p.description is not None)
    return (*texts, *publics, None)


#: Every ``imageDescription``: the generated ones (see :func:`description_code`), the public
#: images' ones, then None.
DESCRIPTIONS: tuple[str | None, ...] = _descriptions()
NO_DESCRIPTION = len(DESCRIPTIONS) - 1
DESCRIPTION_CODE: dict[str | None, int] = {
    d: i for i, d in enumerate(DESCRIPTIONS) if i >= description_code(2, 0, 0, 0, 0)
}


class TagTable:
    """The catalog's distinct encoded tag lists, append-only; code 0 is null, 1 an empty list.

    >>> table = TagTable()
    >>> table.code_of((("env", "prod"),)), table.code_of(()), table.values[0]
    (2, 1, None)
    """

    def __init__(self) -> None:
        self.values: list[str | None] = [None, ""]
        self._codes: dict[str, int] = {"": 1}

    def __len__(self) -> int:
        return len(self.values)

    def code(self, encoded: str) -> int:
        """The code of an encoded tag list (a new one is appended)."""
        found = self._codes.get(encoded)
        if found is None:
            # Append before publishing the code, so a reader never sees a code out of range.
            self.values.append(encoded)
            found = self._codes[encoded] = len(self.values) - 1
        return found

    def code_of(self, tags: Tags) -> int:
        """The code of a tag list given as (key, value) pairs."""
        return self.code(encode_tags(tags))


def objects(items: Sequence[Any]) -> Objects:
    """A numpy object array holding ``items`` (never unpacked into more dimensions)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


@dataclass(frozen=True)
class Listing:
    """Images in served order, one array per field (see the module docstring for the codes).

    The first ``n_public`` rows of a zone's listing are its public images.
    """

    ids: Objects
    names: Objects
    kinds: Codes
    statuses: Codes
    sizes: Codes
    min_disks: Codes
    descriptions: Codes
    tags: Codes
    groups: Codes
    blobs: Objects
    n_public: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_custom(self) -> int:
        """Rows after the public ones."""
        return len(self.ids) - self.n_public

    def take(self, index: Codes, n_public: int = 0) -> Listing:
        """The rows at ``index``, in that order."""
        return replace(take_rows(self, index), n_public=n_public)

    def with_column(self, name: str, index: Codes, values: Sequence[Any]) -> Listing:
        """A copy with ``values`` written at ``index`` of column ``name``."""
        return with_values(self, name, index, values)

    @staticmethod
    def concat(parts: Sequence[Listing], n_public: int = 0) -> Listing:
        """The rows of ``parts`` one after the other."""
        return replace(concat_rows(parts), n_public=n_public)


class Table(Protocol):
    """A dataclass of columns, one array element per row, with a ``blobs`` cache column."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def blobs(self) -> Objects: ...


R = TypeVar("R", bound=Table)


def _row_fields(table: Table) -> list[str]:
    return [f.name for f in fields(table) if isinstance(getattr(table, f.name), np.ndarray)]


def take_rows(table: R, index: Codes | slice) -> R:
    """A table (a dataclass of row arrays, such as :class:`Listing`) of the rows at ``index``."""
    return replace(table, **{f: getattr(table, f)[index] for f in _row_fields(table)})


def concat_rows(parts: Sequence[R]) -> R:
    """The rows of several tables of one type, one after the other."""
    names = _row_fields(parts[0])
    return replace(parts[0], **{f: np.concatenate([getattr(p, f) for p in parts]) for f in names})


def cached_blobs(
    table: Table,
    index: Codes | slice,
    build: Callable[[Codes], list[bytes]],
    keep: bool = True,
) -> list[bytes]:
    """The served bytes of a table's rows at ``index``, in order: those served before come
    from the table's ``blobs`` cache, the others from ``build(rows)`` (then cached, if
    ``keep``). Rows are built at most once however many threads ask: a race builds equal
    bytes twice, which is harmless."""
    found: list[bytes | None] = table.blobs[index].tolist()
    missing = [k for k, blob in enumerate(found) if blob is None]
    if not missing:
        return found  # type: ignore[return-value]
    if isinstance(index, slice):
        rows = np.arange(*index.indices(len(table.blobs)), dtype=np.intp)[missing]
    else:
        rows = index[missing]
    made = build(rows)
    if keep:
        table.blobs[rows] = made
    for k, blob in zip(missing, made, strict=True):
        found[k] = blob
    return found  # type: ignore[return-value]


def with_values(table: R, name: str, index: Codes, values: Sequence[Any] | Codes) -> R:
    """A copy of a table with ``values`` written at ``index`` of column ``name``; the rows'
    cached ``blobs`` are dropped, since they serve different bytes now."""
    column = getattr(table, name).copy()
    column[index] = values
    blobs = table.blobs.copy()
    blobs[index] = None
    return replace(table, **{name: column, "blobs": blobs})


@functools.cache
def public_listing(zone_id: str) -> Listing:
    """The public images a zone carries, as served (the same for every catalog)."""
    carried = [
        (i, p)
        for i, p in enumerate(data.PUBLIC_IMAGES)
        if (not p.only_in or zone_id in p.only_in) and zone_id not in p.not_in
    ]
    n = len(carried)

    def codes(values: Sequence[int]) -> Codes:
        return np.array(values, dtype=np.intp).reshape(n)

    return Listing(
        ids=objects([p.image_id for _, p in carried]),
        names=objects([p.name for _, p in carried]),
        kinds=codes([PUBLIC_KIND + i for i, _ in carried]),
        statuses=codes(
            [
                STATUS_CODE["UNAVAILABLE" if zone_id in p.unavailable_in else "AVAILABLE"]
                for _, p in carried
            ]
        ),
        sizes=codes([SIZE_CODE[p.size] for _, p in carried]),
        min_disks=codes([MIN_DISK_CODE[p.min_disk] for _, p in carried]),
        descriptions=codes(
            [
                NO_DESCRIPTION if p.description is None else DESCRIPTION_CODE[p.description]
                for _, p in carried
            ]
        ),
        tags=codes([0] * n),
        groups=codes([-1] * n),
        blobs=np.empty(n, dtype=object),
        n_public=n,
    )
