"""The sandbox's image inventory: a deterministic, realistic catalog and its query engine.

A :class:`Catalog` is a pure function of ``(images, seed, day, tags_shape)``:

- **Zones**: eight zones with real-looking metadata (:data:`imgframe.sandbox.data.ZONES`).
- **Public images**: the same line-up in every zone with small per-zone variation. Zone
  ``asia-east-1a`` answers the API reference's seed example exactly: ``osType=linux`` matches
  the 16 linux public images, Ubuntu 24.04 / 22.04 / 20.04 first. (Its custom images are
  Windows builds so that stays true for every seed, size and day.)
- **Custom images** fill the catalog up to ``images`` in total (``len(catalog)`` is
  ``max(images, number of public images)`` on day 0), spread unevenly over zones and listed
  after the public ones in creation order.
- **Day n** is day 0 evolved n times: each day some custom images are created, some deleted,
  transitional statuses settle (CREATING -> AVAILABLE, a few FAILED), some images are
  renamed or re-tagged. Public images never change.

Every image is serialized to compact JSON once, so a page is a join of byte strings, and
filter results are cached per (zone, zone version, filter), so paging a filtered listing
filters once. Lists are replaced, never mutated in place, which lets request threads read a
consistent snapshot without holding the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
import random
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring as _quote
from typing import Any, Literal

from imgframe.sandbox import data
from imgframe.sandbox.filters import FILTER_FIELDS, ImageFilter, parse_filter
from imgframe.sandbox.image import (
    BLOB,
    CATEGORY,
    DESCRIPTION,
    ID,
    MIN_DISK,
    NAME,
    NIC,
    OS_TYPE,
    SIZE,
    SOURCE,
    STATUS,
    TAGS,
    TYPE,
    VERSION,
    Image,
    Tags,
    decode_tags,
    encode_tags,
    replace_fields,
)

TagsShape = Literal["wrapper", "list", "mixed"]
TAGS_SHAPES: tuple[TagsShape, ...] = ("wrapper", "list", "mixed")

PUBLIC_IMAGE = "PUBLIC_IMAGE"
CUSTOM_IMAGE = "CUSTOM_IMAGE"

#: Day 0 of every catalog; custom images are dated up to it, day n adds images dated n later.
BASE_DATE = dt.date(2026, 3, 14)
_OLDEST_CUSTOM = dt.date(2023, 6, 1)

_QUERY_CACHE_SIZE = 128
_TRANSITIONAL = frozenset({"CREATING", "SYNCING", "PROCESSING"})

# Daily evolution rates, per custom image (creations: per existing custom image).
_DAILY_CREATE = 0.008
_DAILY_DELETE = 0.003
_DAILY_START_DELETE = 0.003
_DAILY_UNAVAILABLE = 0.001
_DAILY_RENAME = 0.002
_DAILY_RETAG = 0.005


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC: building a million objects otherwise triggers collections that
    rescan everything built so far, a third of the build time. One young collection at the
    end untracks the new image tuples, so that cost is paid here, not by a later request."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)


def _date_str(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


class _Serializer:
    """Image -> compact JSON bytes, equal to ``json.dumps(record, separators=(",", ":"),
    ensure_ascii=False).encode()`` but several times faster, because fragments shared by many
    images (enum runs, NIC lists, tag sets) are encoded once. The tests hold it to that
    equality for every image of several catalogs."""

    def __init__(self, shape: TagsShape) -> None:
        self.shape = shape
        self._heads: dict[tuple[str, str], str] = {}
        self._middles: dict[tuple[str, str, str, str, str], str] = {}
        self._tags: dict[tuple[str, bool], str] = {}

    def __call__(self, im: Image) -> bytes:
        key = (im[TYPE], im[SOURCE])
        head = self._heads.get(key)
        if head is None:
            head = self._heads[key] = (
                f',"imageType":{_quote(key[0])},"imageSource":{_quote(key[1])}'
            )
        return self.assemble(
            im[ID],
            im[NAME],
            head,
            im[SIZE],
            im[MIN_DISK],
            im[DESCRIPTION],
            self.middle(im[VERSION], im[STATUS], im[NIC], im[CATEGORY], im[OS_TYPE]),
            self.tags_json(im[TAGS], im[ID]),
        )

    @staticmethod
    def assemble(
        image_id: str,
        name: str,
        head: str,
        size: str | None,
        min_disk: int | None,
        description: str | None,
        middle: str,
        tags: str,
    ) -> bytes:
        """Join the per-image values and the cached fragments in the API's field order."""
        size_json = "null" if size is None else _quote(size)
        min_json = "" if min_disk is None else f',"minDiskSize":{min_disk}'
        desc = "null" if description is None else _quote(description)
        return (
            f'{{"imageId":{_quote(image_id)},"imageName":{_quote(name)}{head},'
            f'"imageSize":{size_json}{min_json},"imageDescription":{desc}{middle},'
            f'"tags":{tags}}}'
        ).encode()

    def middle(self, version: str, status: str, nic: str, category: str, os_type: str) -> str:
        """The fragment from ``imageVersion`` to ``osType`` (few distinct values)."""
        key = (version, status, nic, category, os_type)
        text = self._middles.get(key)
        if text is None:
            text = self._middles[key] = (
                f',"imageVersion":{_quote(version)},"imageStatus":{_quote(status)},'
                f'"nicNetworkType":{_dumps(nic.split(","))},"category":{_quote(category)},'
                f'"osType":{_quote(os_type)}'
            )
        return text

    def tags_json(self, tags: str | None, image_id: str) -> str:
        """The ``tags`` value (encoded as in :data:`Image`) in the catalog's shape."""
        if tags is None:
            return "null"
        wrapper = self.shape == "wrapper" or (
            # "mixed" alternates by id so a re-serialized image keeps its shape.
            self.shape == "mixed" and ord(image_id[-1]) % 2 == 0
        )
        key = (tags, wrapper)
        text = self._tags.get(key)
        if text is None:
            pairs = decode_tags(tags)
            items = ",".join(f'{{"key":{_quote(k)},"value":{_quote(v)}}}' for k, v in pairs)
            text = self._tags[key] = f'{{"tags":[{items}]}}' if wrapper else f"[{items}]"
        return text


_CUSTOM_HEAD = ',"imageType":"CUSTOM_IMAGE","imageSource":"CUSTOM"'


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _table256(weights: Iterable[tuple[Any, int]]) -> tuple[Any, ...]:
    """A 256-entry lookup table with each item in proportion to its weight, so one random
    byte picks an item (largest-remainder rounding; every item keeps at least one slot)."""
    pairs = list(weights)
    total = sum(w for _, w in pairs)
    slots = [max(1, w * 256 // total) for _, w in pairs]
    order = sorted(range(len(pairs)), key=lambda i: -(pairs[i][1] * 256 % total))
    for i in order[: 256 - sum(slots)]:
        slots[i] += 1
    table = tuple(item for (item, _), n in zip(pairs, slots, strict=True) for _ in range(n))
    assert len(table) == 256
    return table


_ZONES_256: tuple[str, ...] = _table256(data.ZONE_WEIGHTS.items())
_BASES_256: tuple[data.Base, ...] = _table256((b, b.weight) for b in data.BASES)
_REFERENCE_BASES_256: tuple[data.Base, ...] = _table256(
    (b, b.weight) for b in data.REFERENCE_ZONE_BASES
)
_STATUS_256: tuple[str, ...] = _table256(data.STATUS_WEIGHTS.items())
_NEW_STATUS_256: tuple[str, ...] = _table256(
    (("CREATING", 5), ("AVAILABLE", 3), ("SYNCING", 1), ("PROCESSING", 1))
)
_APPS_256: tuple[str, ...] = _table256((a, 1) for a in data.APPS)
_ENVS_256: tuple[str, ...] = _table256((e, 1) for e in data.ENVS)
_TEAMS_256: tuple[str, ...] = _table256((t, 1) for t in data.TEAMS)
_BACKUPS_256: tuple[str, ...] = _table256((b, 1) for b in data.BACKUPS)
_DESCRIPTIONS_256: tuple[str, ...] = _table256((d, 1) for d in data.DESCRIPTIONS)
_UNICODE_DESCRIPTIONS_256: tuple[str, ...] = _table256((d, 1) for d in data.UNICODE_DESCRIPTIONS)
_UNICODE_PREFIXES_256: tuple[str, ...] = _table256((p, 1) for p in data.UNICODE_NAME_PREFIXES)


class _Factory:
    """Makes custom images from a seeded generator; tracks ids so they stay unique.

    Building a million images has to take seconds, so each image draws one block of random
    bytes and every choice reads one byte through a 256-entry table: probabilities below are
    in 256ths (or 65536ths for two bytes).
    """

    def __init__(self, serialize: _Serializer, ids: set[str]) -> None:
        self.serialize = serialize
        self.ids = ids
        self._interned: dict[str, str] = {}

    def intern(self, tags: Tags) -> str:
        """The shared encoded form of a tag list (tag lists repeat a lot)."""
        encoded = encode_tags(tags)
        return self._interned.setdefault(encoded, encoded)

    def custom(
        self,
        rng: random.Random,
        zone_id: str,
        date: str,
        statuses: Sequence[str] = _STATUS_256,
    ) -> Image:
        """One new custom image in ``zone_id`` created on ``date`` (``YYYYMMDD``)."""
        r = rng.randbytes(32)
        image_id = "img-" + r[:8].hex()
        while image_id in self.ids:
            image_id = "img-" + rng.randbytes(8).hex()
        self.ids.add(image_id)
        bases = _REFERENCE_BASES_256 if zone_id == data.REFERENCE_ZONE else _BASES_256
        base: data.Base = bases[r[8]]
        app: str = _APPS_256[r[9]]
        env: str = _ENVS_256[r[10]]
        status = statuses[r[11]]
        disk = base.sizes[r[12] % len(base.sizes)]
        # Older API responses lack minDiskSize altogether (about 10%).
        min_disk = None if r[13] < 26 else int(disk)
        # The size is not known until the image is built.
        size = None if status in ("CREATING", "FAILED") else disk
        name = _custom_name(r, app, env, base.slug, date)
        description = _description(r, app, env, base.slug)
        tags = self._tags(r, app, env)
        ser = self.serialize
        # Same bytes as ser(image), minus the lookups that are constant for custom images.
        blob = ser.assemble(
            image_id,
            name,
            _CUSTOM_HEAD,
            size,
            min_disk,
            description,
            ser.middle(base.version, status, base.nic, base.category, base.os_type),
            ser.tags_json(tags, image_id),
        )
        return (
            image_id,
            name,
            CUSTOM_IMAGE,
            "CUSTOM",
            size,
            min_disk,
            description,
            base.version,
            status,
            base.nic,
            base.category,
            base.os_type,
            tags,
            blob,
        )

    def _tags(self, r: bytes, app: str, env: str) -> str | None:
        if r[20] < 64:  # a quarter of custom images are untagged
            return None
        if r[20] < 69:
            return ""
        team = _TEAMS_256[r[23]]
        pairs: list[tuple[str, str]] = []
        if r[21] < 230:
            pairs.append(("env", env))
        if r[22] < 179 or not pairs:
            pairs.append(("team", team))
        if r[24] < 154:
            pairs.append(("app", app))
        if r[25] < 102:
            pairs.append(("owner", data.TEAM_OWNERS[team][r[26] & 1]))
        if r[27] < 77:
            pairs.append(("cost-center", data.TEAM_COST_CENTERS[team]))
        if r[29] < 77:
            pairs.append(("backup", _BACKUPS_256[r[30]]))
        return self.intern(tuple(pairs))

    def retag(self, rng: random.Random, tags: str | None) -> str:
        """A plausible edit of an encoded tag list: add, change or drop one tag."""
        current = dict(decode_tags(tags))
        key = data.TAG_KEYS[int(rng.random() * len(data.TAG_KEYS))]
        if key in current and len(current) > 1 and rng.random() < 0.3:
            del current[key]
        else:
            vocab = {
                "env": data.ENVS,
                "team": data.TEAMS,
                "app": data.APPS,
                "owner": data.OWNERS,
                "cost-center": data.COST_CENTERS,
                "backup": data.BACKUPS,
            }[key]
            current[key] = vocab[int(rng.random() * len(vocab))]
        ordered = tuple((k, current[k]) for k in data.TAG_KEYS if k in current)
        return self.intern(ordered)


def _custom_name(r: bytes, app: str, env: str, slug: str, date: str) -> str:
    x = r[14] << 8 | r[15]
    if x < 63570:  # 97%: the house naming convention
        return f"{app}-{env}-{slug}-{date}"
    if x < 64553:
        return f"golden-{slug}-v{r[16] % 20 + 1}"
    if x < 65208:
        return f"{app} {env} backup {date[:4]}-{date[4:6]}-{date[6:]}"
    return f"{_UNICODE_PREFIXES_256[r[16]]}-{app}-{env}-{date}"


def _description(r: bytes, app: str, env: str, slug: str) -> str | None:
    x = r[17]
    if x < 154:  # 60% have none
        return None
    # A few are unicode or carry quotes and newlines.
    templates = _UNICODE_DESCRIPTIONS_256 if r[18] < 8 else _DESCRIPTIONS_256
    template = templates[r[19]]
    return template.format(app=app, env=env, slug=slug)


def _public_images(zone_id: str) -> list[data.PublicImage]:
    return [
        p
        for p in data.PUBLIC_IMAGES
        if (not p.only_in or zone_id in p.only_in) and zone_id not in p.not_in
    ]


class Catalog:
    """The ground truth the sandbox serves: zones and their images, deterministic per seed.

    >>> cat = Catalog(images=500, seed=7)
    >>> [im["imageName"] for im in cat.query("asia-east-1a", osType="linux")][:2]
    ['Ubuntu Server 24.04 LTS', 'Ubuntu Server 22.04 LTS']
    >>> len(cat)
    500
    """

    def __init__(
        self,
        images: int = 2000,
        seed: int = 7,
        day: int = 0,
        tags_shape: TagsShape = "wrapper",
    ) -> None:
        if isinstance(images, bool) or not isinstance(images, int) or images < 0:
            raise ValueError(f"images must be a non-negative integer, got {images!r}")
        if isinstance(day, bool) or not isinstance(day, int) or day < 0:
            raise ValueError(f"day must be a non-negative integer, got {day!r}")
        if tags_shape not in TAGS_SHAPES:
            raise ValueError(f"tags_shape must be one of {TAGS_SHAPES}, got {tags_shape!r}")
        #: The ``images`` argument: the day-0 total (at least the public line-up).
        self.size = images
        self.seed = seed
        self.tags_shape: TagsShape = tags_shape
        self._lock = threading.RLock()
        self._serialize = _Serializer(tags_shape)
        self._zone_records = [dict(z) for z in data.ZONES]
        self._zone_blobs = {str(z["zoneId"]): _dumps(z).encode() for z in data.ZONES}
        self._cache: OrderedDict[tuple[str, int, ImageFilter], list[Image]] = OrderedDict()
        self._versions = dict.fromkeys(self._zone_blobs, 0)
        self._day = 0
        self._churned = False
        self._churn_count = 0
        self._ids: set[str] = set()
        self._factory = _Factory(self._serialize, self._ids)
        self._zones: dict[str, list[Image]] = {}
        with _no_gc():
            self._reset_to_base()
        self.set_day(day)

    # -- public surface -------------------------------------------------------------------

    @property
    def day(self) -> int:
        """The day the catalog currently shows."""
        return self._day

    @property
    def churned(self) -> bool:
        """True once :meth:`churn` has changed the catalog away from its day's state."""
        return self._churned

    @property
    def zones(self) -> list[dict[str, Any]]:
        """DescribeZones records, every field of ``schema.ZONE_FIELDS``."""
        return [dict(z) for z in self._zone_records]

    @property
    def zone_ids(self) -> list[str]:
        """Zone ids in the order DescribeZones lists them."""
        return list(self._zone_blobs)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(images) for images in self._zones.values())

    def images(self, zone_id: str) -> list[dict[str, Any]]:
        """API-shaped image records of one zone, in served order.

        >>> Catalog(images=100).images("asia-east-1a")[0]["imageId"]
        'ubuntu2404_20240712'
        """
        return _records(self._snapshot(zone_id)[0])

    def query(self, zone_id: str, **filters: Any) -> list[dict[str, Any]]:
        """Ground truth for a DescribeImages filter set, in the order the server pages it.

        Filters use the API's names (``imageIds``, ``imageName``, ``category``, ``imageType``,
        ``imageSource``, ``osType``, ``imageStatus``, ``tagKeys``, ``tags``); see
        :mod:`imgframe.sandbox.filters` for their semantics. ``pageNum`` and ``pageSize`` are
        ignored. Invalid values raise :class:`~imgframe.sandbox.filters.ParamError`.

        >>> cat = Catalog(images=100)
        >>> len(cat.query("asia-east-1a", osType="linux"))
        16
        """
        return _records(self.matches(zone_id, _parse_query(filters)))

    def count(self, zone_id: str, **filters: Any) -> int:
        """How many images of a zone pass ``filters`` (the ``totalCount`` the server answers),
        without building the records.

        >>> Catalog(images=100).count("asia-east-1a", osType="linux")
        16
        """
        return len(self.matches(zone_id, _parse_query(filters)))

    def set_day(self, day: int) -> None:
        """Show the catalog as it is ``day`` days after day 0 (deterministic).

        Moving forward applies the missing days; moving back, or after :meth:`churn`,
        rebuilds from day 0.
        """
        if isinstance(day, bool) or not isinstance(day, int) or day < 0:
            raise ValueError(f"day must be a non-negative integer, got {day!r}")
        with self._lock, _no_gc():
            if day < self._day or self._churned:
                self._reset_to_base()
            for d in range(self._day + 1, day + 1):
                self._advance(d)
            self._day = day
            self._bump(self._zones)

    def churn(
        self, zone_id: str, count: int, mode: str = "balanced"
    ) -> tuple[list[str], list[str]]:
        """Delete ``count`` custom images of a zone (anywhere in the listing) and create as
        many at its end, deterministically. Returns (removed ids, added ids).

        ``mode="create"`` only creates, ``mode="delete"`` only deletes.

        The sandbox calls this between DescribeImages requests to make a listing shift while a
        client pages it.
        """
        with self._lock:
            images = self._zones[_known(self._zones, zone_id)]
            self._churn_count += 1
            rng = random.Random(f"imgframe-churn:{self.seed}:{zone_id}:{self._churn_count}")
            custom = [i for i, im in enumerate(images) if im[TYPE] == CUSTOM_IMAGE]
            deletes = 0 if mode == "create" else min(count, len(custom))
            doomed = set(rng.sample(custom, deletes))
            removed = [images[i][ID] for i in sorted(doomed)]
            date = _date_str(BASE_DATE + dt.timedelta(days=self._day))
            creates = 0 if mode == "delete" else count
            added = [self._factory.custom(rng, zone_id, date) for _ in range(creates)]
            self._ids.difference_update(removed)
            kept = [im for i, im in enumerate(images) if i not in doomed]
            self._zones[zone_id] = kept + added
            self._churned = True
            self._bump([zone_id])
            return removed, [im[ID] for im in added]

    def digest(self) -> str:
        """SHA-256 over every served byte (zones and images): equal digests, equal catalogs."""
        h = hashlib.sha256()
        with self._lock:
            zones = dict(self._zones)
        for zone_id, blob in self._zone_blobs.items():
            h.update(blob)
            for im in zones[zone_id]:
                h.update(im[BLOB])
        return h.hexdigest()

    # -- what the server uses -------------------------------------------------------------

    def has_zone(self, zone_id: str) -> bool:
        """True when ``zone_id`` is one of the catalog's zones."""
        return zone_id in self._zone_blobs

    def zones_json(self, zone_ids: frozenset[str] | None = None) -> bytes:
        """The ``zoneSet`` array as JSON bytes, optionally restricted to ``zone_ids``."""
        blobs = [b for z, b in self._zone_blobs.items() if zone_ids is None or z in zone_ids]
        return b"[" + b",".join(blobs) + b"]"

    def matches(self, zone_id: str, flt: ImageFilter) -> list[Image]:
        """The zone's images that pass ``flt``, cached per (zone, version, filter)."""
        images, version = self._snapshot(zone_id)
        if flt.is_empty:
            return images
        key = (zone_id, version, flt)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        # Filter outside the lock: the list is an immutable snapshot.
        result = flt.select(images)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > _QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    def page_json(
        self, zone_id: str, flt: ImageFilter, page_num: int, page_size: int
    ) -> tuple[bytes, int]:
        """(``dataSet`` JSON array bytes, ``totalCount``) of one page."""
        found = self.matches(zone_id, flt)
        start = (page_num - 1) * page_size
        chunk = found[start : start + page_size]
        return b"[" + b",".join(im[BLOB] for im in chunk) + b"]", len(found)

    # -- building and evolving ------------------------------------------------------------

    def _snapshot(self, zone_id: str) -> tuple[list[Image], int]:
        with self._lock:
            zone_id = _known(self._zones, zone_id)
            return self._zones[zone_id], self._versions[zone_id]

    def _bump(self, zone_ids: Iterable[str]) -> None:
        for zone_id in zone_ids:
            self._versions[zone_id] += 1

    def _reset_to_base(self) -> None:
        self._day = 0
        self._churned = False
        self._churn_count = 0
        self._ids = set()
        self._factory = _Factory(self._serialize, self._ids)
        zones: dict[str, list[Image]] = {}
        for zone_id in self._zone_blobs:
            zones[zone_id] = [self._public(p, zone_id) for p in _public_images(zone_id)]
        n_custom = max(0, self.size - sum(len(v) for v in zones.values()))
        rng = random.Random(f"imgframe-catalog:{self.seed}")
        span = (BASE_DATE - _OLDEST_CUSTOM).days
        dates = [_date_str(_OLDEST_CUSTOM + dt.timedelta(days=d)) for d in range(span + 1)]
        make = self._factory.custom
        zone_bytes = rng.randbytes(n_custom)
        for i in range(n_custom):
            # Creation order is served order, so dates only move forward.
            date = dates[(i * span) // n_custom if n_custom > 1 else span]
            zone_id = _ZONES_256[zone_bytes[i]]
            zones[zone_id].append(make(rng, zone_id, date))
        self._zones = zones

    def _public(self, p: data.PublicImage, zone_id: str) -> Image:
        im: Image = (
            p.image_id,
            p.name,
            PUBLIC_IMAGE,
            p.source,
            p.size,
            p.min_disk,
            p.description,
            p.version,
            "UNAVAILABLE" if zone_id in p.unavailable_in else "AVAILABLE",
            p.nic,
            p.category,
            p.os_type,
            None,
            b"",
        )
        return replace_fields(im, blob=self._serialize(im))

    def _advance(self, day: int) -> None:
        """Apply one day of account activity to the custom images."""
        rng = random.Random(f"imgframe-day:{self.seed}:{day}")
        rand = rng.random
        date = _date_str(BASE_DATE + dt.timedelta(days=day))
        n_custom = 0
        for zone_id, images in self._zones.items():
            kept: list[Image] = []
            for im in images:
                if im[TYPE] != CUSTOM_IMAGE:
                    kept.append(im)
                    continue
                changed = self._evolve(rng, rand(), im, date)
                if changed is None:
                    self._ids.discard(im[ID])
                    continue
                kept.append(changed)
            self._zones[zone_id] = kept
            n_custom += sum(1 for im in kept if im[TYPE] == CUSTOM_IMAGE)
        creations = max(1, round(n_custom * _DAILY_CREATE))
        for zone_byte in rng.randbytes(creations):
            zone_id = _ZONES_256[zone_byte]
            im = self._factory.custom(rng, zone_id, date, _NEW_STATUS_256)
            self._zones[zone_id].append(im)

    def _evolve(self, rng: random.Random, x: float, im: Image, date: str) -> Image | None:
        """One image's day: None when it is deleted, else the (possibly new) image."""
        if im[STATUS] == "DELETING":
            return None  # deletions finish overnight
        if x < _DAILY_DELETE:
            return None
        x -= _DAILY_DELETE
        changes: dict[str, Any] = {}
        if im[STATUS] in _TRANSITIONAL:
            y = rng.random()
            if y < 0.8:
                fallback = "40" if im[OS_TYPE] == "windows" else "20"
                size = str(im[MIN_DISK]) if im[MIN_DISK] is not None else fallback
                changes = {"status": "AVAILABLE", "size": im[SIZE] or size}
            elif y < 0.85:
                changes = {"status": "FAILED", "size": None}
        elif im[STATUS] == "AVAILABLE" and x < _DAILY_START_DELETE:
            changes = {"status": "DELETING"}
        elif im[STATUS] == "AVAILABLE" and x < _DAILY_START_DELETE + _DAILY_UNAVAILABLE:
            changes = {"status": "UNAVAILABLE"}
        elif x < _DAILY_START_DELETE + _DAILY_UNAVAILABLE + _DAILY_RENAME:
            changes = {"name": _rename(im[NAME], date)}
        elif x < _DAILY_START_DELETE + _DAILY_UNAVAILABLE + _DAILY_RENAME + _DAILY_RETAG:
            changes = {"tags": self._factory.retag(rng, im[TAGS])}
        if not changes:
            return im
        new = replace_fields(im, **changes)
        return replace_fields(new, blob=self._serialize(new))


def _parse_query(filters: dict[str, Any]) -> ImageFilter:
    unknown = set(filters) - {*FILTER_FIELDS, "pageNum", "pageSize"}
    if unknown:
        raise TypeError(f"unknown DescribeImages filters: {', '.join(sorted(unknown))}")
    return parse_filter(filters)


def _rename(name: str, date: str) -> str:
    tail = name[-8:]
    if tail.isdigit() and len(name) > 9 and name[-9] == "-":
        return name[:-8] + date  # rebuilt: the date suffix moves on
    return name if name.startswith("deprecated-") else "deprecated-" + name


def _known(zones: dict[str, list[Image]], zone_id: str) -> str:
    if zone_id not in zones:
        raise KeyError(f"unknown zone {zone_id!r}; zones: {', '.join(zones)}")
    return zone_id


def _records(images: Sequence[Image]) -> list[dict[str, Any]]:
    # One json.loads over the joined blobs is much faster than one per image.
    parsed: list[dict[str, Any]] = json.loads(b"[" + b",".join(im[BLOB] for im in images) + b"]")
    return parsed
