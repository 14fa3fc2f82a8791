"""The sandbox's account: a deterministic, realistic catalog and its query engine.

A :class:`Catalog` is a pure function of ``(images, seed, day, tags_shape, instances,
copies)``:

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
- **Copies** (``copies``, a share; 0 by default): custom images also available in one to
  three other regions, listed in each of those zones under the same id. Off by default, so the
  DescribeImages bytes of every ``(images, seed, day, tags_shape)`` are what they always were.
- **Resource groups** (:mod:`imgframe.sandbox.resources`): a default one and a few named after
  teams; a custom image belongs to its team's group or the default one.
- **Instances** (:mod:`imgframe.sandbox.fleet`, ``instances``; a fifth of ``images`` by
  default) run the zone's images: most custom images none, a few many, Ubuntu most of all,
  some an image deleted long ago. Days launch, stop and release a few; an image deleted by a
  day leaves its instances pointing at it.

Everything but the DescribeImages listings comes from streams of its own, so none of it moved
a byte of those.

Zones are held as column listings (:mod:`imgframe.sandbox.listing`), generated a batch at a
time (:mod:`imgframe.sandbox.factory`) and serialized a page at a time when served
(:mod:`imgframe.sandbox.serialize`), so a million images build in about a second. Filter
results are cached per (zone, zone version, filter), so paging a filtered listing filters once.
Listings are replaced, never changed in place, which lets request threads read a consistent
snapshot without holding the lock; day 0 is kept, so going back to it costs nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from imgframe.errors import InvalidArgument
from imgframe.sandbox import data
from imgframe.sandbox import fleet as fleets
from imgframe.sandbox.factory import (
    NEW_STATUS_CODES,
    STATUS_CODES,
    ZONE_CODES,
    ZONE_IDS,
    Factory,
    draw_blocks,
    sorted_heads,
)
from imgframe.sandbox.filters import (
    FILTER_FIELDS,
    CustomImageFilter,
    ImageFilter,
    InstanceFilter,
    parse_custom_image_filter,
    parse_filter,
    parse_instance_filter,
)
from imgframe.sandbox.listing import (
    KINDS,
    MIN_DISKS,
    SIZE_CODE,
    SIZES,
    STATUS_CODE,
    STATUSES,
    Codes,
    Listing,
    TagTable,
    public_listing,
    take_rows,
)
from imgframe.sandbox.resources import account_resources
from imgframe.sandbox.serialize import TAGS_SHAPES, Serializer, TagsShape, dumps

__all__ = ["BASE_DATE", "TAGS_SHAPES", "Catalog", "TagsShape"]

BASE_DATE = data.BASE_DATE
_OLDEST_CUSTOM = data.OLDEST_CUSTOM

_QUERY_CACHE_SIZE = 128
_DIGEST_CHUNK = 20_000

# Daily evolution rates, per custom image (creations: per existing custom image).
_DAILY_CREATE = 0.008
_DAILY_DELETE = 0.003
_DAILY_START_DELETE = 0.003
_DAILY_UNAVAILABLE = 0.001
_DAILY_RENAME = 0.002
_DAILY_RETAG = 0.005
# Past this (after the deletion draw) nothing happens to a settled image: the fast path.
_QUIET = _DAILY_START_DELETE + _DAILY_UNAVAILABLE + _DAILY_RENAME + _DAILY_RETAG

_TRANSITIONAL = frozenset({"CREATING", "SYNCING", "PROCESSING"})
#: Statuses whose image can only change through the daily draw (no extra draw, no deletion).
_SETTLED = [s not in _TRANSITIONAL and s != "DELETING" for s in STATUSES]
_AVAILABLE, _DELETING = STATUS_CODE["AVAILABLE"], STATUS_CODE["DELETING"]
_UNAVAILABLE, _FAILED = STATUS_CODE["UNAVAILABLE"], STATUS_CODE["FAILED"]
#: What :meth:`Catalog._evolve` answers for an image deleted that day.
_DEAD: dict[str, Any] = {"deleted": True}


def _date_str(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _non_negative(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{name} must be a non-negative integer, got {value!r}")
    return value


class Catalog:
    """The ground truth the sandbox serves for one account: zones, images, resource groups and
    instances, deterministic per seed.

    ``instances``: the day-0 fleet size (None: ``images // 5``); ``copies``: the share of
    custom images copied to other regions (0 keeps DescribeImages exactly as before). Bad
    arguments raise :class:`~imgframe.errors.InvalidArgument`.

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
        *,
        instances: int | None = None,
        copies: float = 0.0,
    ) -> None:
        _non_negative("images", images)
        _non_negative("day", day)
        if instances is not None:
            _non_negative("instances", instances)
        if tags_shape not in TAGS_SHAPES:
            raise InvalidArgument(f"tags_shape must be one of {TAGS_SHAPES}, got {tags_shape!r}")
        if isinstance(copies, bool) or not isinstance(copies, int | float) or not 0 <= copies <= 1:
            raise InvalidArgument(f"copies must be a share between 0 and 1, got {copies!r}")
        #: The ``images`` argument: the day-0 total (at least the public line-up).
        self.size = images
        self.seed = seed
        self.tags_shape: TagsShape = tags_shape
        #: Share of custom images also available in other regions (copied there).
        self.copies = float(copies)
        #: The day-0 fleet size (default: a fifth of ``images``).
        self.fleet_size = images // 5 if instances is None else instances
        self._lock = threading.RLock()
        self._tags = TagTable()
        self._serialize = Serializer(tags_shape, self._tags)
        self._resources = account_resources(seed)
        self._factory = Factory(self._tags, self._resources.team_groups, 0)
        self._fleet_json = fleets.FleetSerializer(self._resources, self._serialize)
        self._zone_records = [dict(z) for z in data.ZONES]
        self._zone_blobs = {str(z["zoneId"]): dumps(z).encode() for z in data.ZONES}
        self._cache: OrderedDict[tuple[object, ...], Any] = OrderedDict()
        self._versions = dict.fromkeys(self._zone_blobs, 0)
        self._generation = 0  # bumped by every change, for account-wide answers
        self._customs_cache: tuple[int, Listing, Codes] | None = None
        self._usage: tuple[int, Counter[tuple[str, str]]] | None = None
        self._custom_tails = [
            f',"resourceGroupId":{dumps(i)},"resourceGroupName":{dumps(n)}}}'.encode()
            for i, n in zip(self._resources.group_ids, self._resources.group_names, strict=True)
        ]
        # Ids of custom images available in more than one zone (day 0 copies).
        self._copied: frozenset[str] = frozenset()
        self._base, custom_days = self._build_base()
        self._base_fleet = fleets.build(
            seed, self.fleet_size, self._base, custom_days, self._resources, self._tags,
            self._listed_at_base,
        )  # fmt: skip
        self._zones: dict[str, Listing] = dict(self._base)
        self._fleet = self._base_fleet
        self._day = 0
        self._churned = False
        self._churn_count = 0
        # Ids of the custom images listed now; built when an image is first created.
        self._ids: set[str] | None = None
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
            return sum(len(listing) for listing in self._zones.values())

    def images(self, zone_id: str) -> list[dict[str, Any]]:
        """API-shaped image records of one zone, in served order.

        >>> Catalog(images=100).images("asia-east-1a")[0]["imageId"]
        'ubuntu2404_20240712'
        """
        listing, _ = self._snapshot(zone_id)
        return _records(self._serialize.page(listing, slice(None)))

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
        listing, rows = self._match(zone_id, _parse_query(filters))
        return _records(self._serialize.page(listing, slice(None) if rows is None else rows))

    def count(self, zone_id: str, **filters: Any) -> int:
        """How many images of a zone pass ``filters`` (the ``totalCount`` the server answers),
        without building the records.

        >>> Catalog(images=100).count("asia-east-1a", osType="linux")
        16
        """
        listing, rows = self._match(zone_id, _parse_query(filters))
        return len(listing) if rows is None else len(rows)

    def set_day(self, day: int) -> None:
        """Show the catalog as it is ``day`` days after day 0 (deterministic).

        Moving forward applies the missing days; moving back, or after :meth:`churn`,
        starts again from day 0.
        """
        _non_negative("day", day)
        with self._lock:
            if day < self._day or self._churned:
                self._restore_base()
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
        _non_negative("count", count)
        if mode not in ("balanced", "create", "delete"):
            raise InvalidArgument(f"mode must be balanced, create or delete, got {mode!r}")
        with self._lock:
            zone_id = self._known(zone_id)
            listing = self._zones[zone_id]
            self._churn_count += 1
            rng = random.Random(f"imgframe-churn:{self.seed}:{zone_id}:{self._churn_count}")
            customs = range(listing.n_public, len(listing))
            deletes = 0 if mode == "create" else min(count, len(customs))
            doomed = sorted(rng.sample(customs, deletes))
            removed: list[str] = listing.ids[doomed].tolist()
            date = _date_str(BASE_DATE + dt.timedelta(days=self._day))
            creates = 0 if mode == "delete" else count
            taken = self._taken()
            raw, added = draw_blocks(rng, creates, taken)
            zones = np.full(creates, ZONE_IDS.index(zone_id), dtype=np.intp)
            new = self._factory.batch(raw, added, zones, [date], np.zeros(creates, np.intp))
            # A copied image may still be listed elsewhere: its id stays taken.
            taken.difference_update(set(removed) - self._copied)
            keep = np.ones(len(listing), dtype=bool)
            keep[doomed] = False
            kept = listing.take(np.flatnonzero(keep), listing.n_public)
            self._zones[zone_id] = Listing.concat([kept, new], listing.n_public)
            self._churned = True
            self._bump([zone_id])
            return removed, added

    def digest(self) -> str:
        """SHA-256 over every served byte (zones and images): equal digests, equal catalogs."""
        h = hashlib.sha256()
        with self._lock:
            zones = dict(self._zones)
        for zone_id, blob in self._zone_blobs.items():
            h.update(blob)
            listing = zones[zone_id]
            for start in range(0, len(listing), _DIGEST_CHUNK):
                chunk = slice(start, start + _DIGEST_CHUNK)
                h.update(b"".join(self._serialize.blobs(listing, chunk, keep=False)))
        return h.hexdigest()

    # -- resource groups, custom images, instances ---------------------------------------

    @property
    def resource_groups(self) -> list[dict[str, str]]:
        """The account's resource groups as ResourceGroupInfo records, the default first.

        >>> Catalog(images=0).resource_groups[0]["resourceGroupName"]
        'Default Resource Group'
        """
        return self._resources.resource_groups

    def custom_images(
        self,
        *,
        regionId: str | None = None,
        imageIds: Sequence[str] | None = None,
        imageName: str | None = None,
        category: str | None = None,
        osType: str | None = None,
        imageStatus: str | None = None,
        resourceGroupId: str | None = None,
        tagKeys: Sequence[str] | None = None,
        tags: Sequence[dict[str, str]] | None = None,
    ) -> list[dict[str, Any]]:
        """Ground truth for DescribeCustomImages: every custom image of the account once, as
        served (the image's DescribeImages fields, then ``regionIdList``, ``resourceGroupId``
        and ``resourceGroupName``), zone by zone in listing order, an image copied to
        several regions where it is first listed. Filters use the API's names and semantics
        (:mod:`imgframe.sandbox.filters`); invalid values raise
        :class:`~imgframe.sandbox.filters.ParamError`.

        >>> cat = Catalog(images=300, copies=0.2)
        >>> [len(im["regionIdList"]) for im in cat.custom_images(osType="windows")][:6]
        [1, 1, 2, 1, 1, 3]
        """
        params = _given(
            regionId=regionId, imageIds=imageIds, imageName=imageName, category=category,
            osType=osType, imageStatus=imageStatus, resourceGroupId=resourceGroupId,
            tagKeys=tagKeys, tags=tags,
        )  # fmt: skip
        flt = parse_custom_image_filter(params)
        return _records(self.custom_images_page(flt, 1, len(self) or 1)[0])

    def instances(
        self,
        *,
        instanceIds: Sequence[str] | None = None,
        zoneId: str | None = None,
        imageId: str | None = None,
        instanceType: str | None = None,
        instanceTypeSeries: str | None = None,
        status: str | None = None,
        name: str | None = None,
        resourceGroupId: str | None = None,
        tagKeys: Sequence[str] | None = None,
        tags: Sequence[dict[str, str]] | None = None,
        ipv4Address: str | None = None,
        ipv6Address: str | None = None,
    ) -> list[dict[str, Any]]:
        """Ground truth for DescribeInstances: InstanceInfo records as served, oldest first.
        Filters use the API's names and semantics (:mod:`imgframe.sandbox.filters`).

        >>> cat = Catalog(images=2000)
        >>> running = cat.instances(zoneId="asia-east-1a", status="RUNNING")
        >>> {im["zoneId"] for im in running}, {im["status"] for im in running}
        ({'asia-east-1a'}, {'RUNNING'})
        """
        params = _given(
            instanceIds=instanceIds, zoneId=zoneId, imageId=imageId, instanceType=instanceType,
            instanceTypeSeries=instanceTypeSeries, status=status, name=name,
            resourceGroupId=resourceGroupId, tagKeys=tagKeys, tags=tags,
            ipv4Address=ipv4Address, ipv6Address=ipv6Address,
        )  # fmt: skip
        flt = parse_instance_filter(params)
        with self._lock:
            size = len(self._fleet)
        return _records(self.instances_page(flt, 1, size or 1)[0])

    def usage(self) -> dict[tuple[str, str], int]:
        """How many instances run each image, by (zoneId, imageId); images no instance runs
        are absent, and images that are gone (deleted) are present while instances run them.

        >>> runs: Counter[str] = Counter()
        >>> for (zone_id, image_id), n in Catalog(images=2000).usage().items():
        ...     runs[image_id] += n
        >>> runs.most_common(2)
        [('ubuntu2204_20240712', 41), ('ubuntu2404_20240712', 33)]
        """
        with self._lock:
            fleet, generation = self._fleet, self._generation
        cached = self._usage
        if cached is not None and cached[0] == generation:
            return dict(cached[1])
        zone_ids = [ZONE_IDS[z] for z in fleet.zones.tolist()]
        counts = Counter(zip(zone_ids, fleet.image_ids.tolist(), strict=True))
        self._usage = (generation, counts)
        return dict(counts)

    def instance_count(self, zone_id: str, image_id: str) -> int:
        """How many instances of a zone run ``image_id``.

        >>> Catalog(images=2000).instance_count("asia-east-1a", "img-does-not-exist")
        0
        """
        return self.usage().get((self._known(zone_id), image_id), 0)

    # -- what the server uses -------------------------------------------------------------

    def has_zone(self, zone_id: str) -> bool:
        """True when ``zone_id`` is one of the catalog's zones."""
        return zone_id in self._zone_blobs

    def zones_json(self, zone_ids: frozenset[str] | None = None) -> bytes:
        """The ``zoneSet`` array as JSON bytes, optionally restricted to ``zone_ids``."""
        blobs = [b for z, b in self._zone_blobs.items() if zone_ids is None or z in zone_ids]
        return b"[" + b",".join(blobs) + b"]"

    def page_json(
        self, zone_id: str, flt: ImageFilter, page_num: int, page_size: int
    ) -> tuple[bytes, int]:
        """(``dataSet`` JSON array bytes, ``totalCount``) of one DescribeImages page."""
        listing, rows = self._match(zone_id, flt)
        start = (page_num - 1) * page_size
        if rows is None:
            end = min(start + page_size, len(listing))
            return self._serialize.page(listing, slice(start, max(start, end))), len(listing)
        return self._serialize.page(listing, rows[start : start + page_size]), len(rows)

    def custom_images_page(
        self, flt: CustomImageFilter, page_num: int, page_size: int
    ) -> tuple[bytes, int]:
        """(``dataSet`` JSON array bytes, ``totalCount``) of one DescribeCustomImages page."""
        generation, listing, regions = self._customs()
        key = ("custom", generation, flt)
        rows = self._cached(
            key, lambda: flt.select(listing, self._tags, regions, self._resources.group_ids)
        )
        start = (page_num - 1) * page_size
        chunk = rows[start : start + page_size]
        blobs = self._serialize.blobs(listing, chunk)
        tails = self._custom_tails
        rows_json = [
            blob[:-1] + _REGION_LISTS[mask] + tails[group]
            for blob, mask, group in zip(
                blobs, regions[chunk].tolist(), listing.groups[chunk].tolist(), strict=True
            )
        ]
        return b"[" + b",".join(rows_json) + b"]", len(rows)

    def instances_page(
        self, flt: InstanceFilter, page_num: int, page_size: int
    ) -> tuple[bytes, int]:
        """(``dataSet`` JSON array bytes, ``totalCount``) of one DescribeInstances page."""
        with self._lock:
            fleet, generation = self._fleet, self._generation
        groups = self._resources.group_ids
        rows = self._cached(
            ("instances", generation, flt), lambda: flt.select(fleet, self._tags, groups)
        )
        start = (page_num - 1) * page_size
        return self._fleet_json.page(fleet, rows[start : start + page_size]), len(rows)

    # -- filtering ------------------------------------------------------------------------

    def _match(self, zone_id: str, flt: ImageFilter) -> tuple[Listing, Codes | None]:
        """The zone's listing and the rows passing ``flt`` (None: every row), cached per
        (zone, version, filter)."""
        listing, version = self._snapshot(zone_id)
        if flt.is_empty:
            return listing, None
        rows = self._cached((zone_id, version, flt), lambda: flt.select(listing, self._tags))
        return listing, rows

    def _cached(self, key: tuple[object, ...], compute: Callable[[], Codes]) -> Codes:
        """Filter results, cached by a key that names the snapshot filtered (LRU)."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit  # type: ignore[no-any-return]
        # Filter outside the lock: listings and fleets are immutable snapshots.
        rows = compute()
        with self._lock:
            self._cache[key] = rows
            while len(self._cache) > _QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
        return rows

    def _customs(self) -> tuple[int, Listing, Codes]:
        """Every custom image once (zone by zone, in listing order) and the regions each is
        available in, as bit masks (bit k: zone k), rebuilt once per change; with the
        generation they show."""
        with self._lock:
            generation, zones = self._generation, dict(self._zones)
            cached = self._customs_cache
            if cached is not None and cached[0] == generation:
                return cached
        parts = [take_rows(zones[z], slice(zones[z].n_public, None)) for z in ZONE_IDS]
        everything = Listing.concat(parts)
        bits = np.concatenate([np.full(len(p), 1 << k, dtype=np.intp) for k, p in enumerate(parts)])
        if self._copied:
            # A copy joins its image's row: the first one listed.
            first: dict[str, int] = {}
            owner = np.array(
                [first.setdefault(i, row) for row, i in enumerate(everything.ids.tolist())],
                dtype=np.intp,
            )
            regions = np.zeros(len(everything), dtype=np.intp)
            np.bitwise_or.at(regions, owner, bits)
            keep = np.unique(owner)
            everything, bits = everything.take(keep), regions[keep]
        with self._lock:
            self._customs_cache = (generation, everything, bits)
        return generation, everything, bits

    def _snapshot(self, zone_id: str) -> tuple[Listing, int]:
        with self._lock:
            zone_id = self._known(zone_id)
            return self._zones[zone_id], self._versions[zone_id]

    def _known(self, zone_id: str) -> str:
        if zone_id not in self._zone_blobs:
            raise InvalidArgument(f"unknown zone {zone_id!r}; zones: {', '.join(self._zone_blobs)}")
        return zone_id

    def _bump(self, zone_ids: Iterable[str]) -> None:
        self._generation += 1
        for zone_id in zone_ids:
            self._versions[zone_id] += 1

    # -- building and evolving ------------------------------------------------------------

    def _build_base(self) -> tuple[dict[str, Listing], dict[str, Codes]]:
        """Day 0: each zone's public images, then its custom images in creation order (with
        the copies from other regions among them), and the day each custom image was created
        (per zone, in listing order)."""
        publics = {zone_id: public_listing(zone_id) for zone_id in ZONE_IDS}
        n_custom = max(0, self.size - sum(len(p) for p in publics.values()))
        rng = random.Random(f"imgframe-catalog:{self.seed}")
        span = (BASE_DATE - _OLDEST_CUSTOM).days
        dates = [_date_str(_OLDEST_CUSTOM + dt.timedelta(days=d)) for d in range(span + 1)]
        zones = ZONE_CODES[np.frombuffer(rng.randbytes(n_custom), dtype=np.uint8)]
        raw, ids = draw_blocks(rng, n_custom, None)
        heads = sorted_heads(raw)
        # After an id collision the blocks no longer tell the ids (draw_blocks replaced some).
        self._base_heads = None if (heads[1:] == heads[:-1]).any() else heads
        # Creation order is served order, so dates only move forward.
        if n_custom > 1:
            date_index = np.arange(n_custom, dtype=np.intp) * span // n_custom
        else:
            date_index = np.full(n_custom, span, dtype=np.intp)
        made = self._factory.batch(raw, ids, zones, dates, date_index, STATUS_CODES)
        order = np.argsort(zones, kind="stable")
        ends = np.cumsum(np.bincount(zones, minlength=len(ZONE_IDS))).tolist()
        copies = self._copy_destinations(zones, made.kinds) if self.copies else {}
        if copies:
            self._copied = frozenset(made.ids[np.unique(np.concatenate([*copies.values()]))])
        base: dict[str, Listing] = {}
        custom_days: dict[str, Codes] = {}
        for k, zone_id in enumerate(ZONE_IDS):
            rows = order[(ends[k - 1] if k else 0) : ends[k]]
            if k in copies:  # a copy is listed where the original would be, by creation
                rows = np.sort(np.concatenate([rows, copies[k]]))
            public = publics[zone_id]
            base[zone_id] = Listing.concat([public, made.take(rows)], public.n_public)
            custom_days[zone_id] = date_index[rows]
        return base, custom_days

    def _copy_destinations(self, zones: Codes, kinds: Codes) -> dict[int, Codes]:
        """For each zone, the custom images (creation indices) copied into it from their own
        zone: ``copies`` of them, to one region (70%), two (20%) or three. Only Windows builds
        go to the reference zone, whose linux listing stays the API reference's example."""
        rng = random.Random(f"imgframe-copies:{self.seed}")
        r = np.frombuffer(rng.randbytes(4 * len(zones)), dtype=np.uint8).reshape(-1, 4)
        chosen = (r[:, 0].astype(np.intp) << 8 | r[:, 1]) < round(self.copies * 65536)
        windows = np.array([k.os_type == "windows" for k in KINDS])[kinds]
        into: dict[int, list[int]] = {}
        for i in np.flatnonzero(chosen).tolist():
            extra = 1 + int(r[i, 2] >= 179) + int(r[i, 2] >= 230)
            others = [
                z
                for z in range(len(ZONE_IDS))
                if z != zones[i] and (windows[i] or ZONE_IDS[z] != data.REFERENCE_ZONE)
            ]
            for z in rng.sample(others, extra):
                into.setdefault(z, []).append(i)
        return {z: np.array(rows, dtype=np.intp) for z, rows in into.items()}

    def _listed_at_base(self, ids: list[str]) -> list[bool]:
        """Whether each image id is a day-0 custom image's (a binary search over their 64-bit
        ids; after an id collision at generation, a set of them)."""
        heads = self._base_heads
        if heads is None:
            base = set()
            for listing in self._base.values():
                base.update(listing.ids[listing.n_public :].tolist())
            return [i in base for i in ids]
        if not len(heads):
            return [False] * len(ids)
        wanted = np.array(
            [int(i[4:], 16) if _IMAGE_ID.fullmatch(i) else 0 for i in ids], dtype=np.uint64
        )
        found = heads[np.minimum(np.searchsorted(heads, wanted), len(heads) - 1)]
        listed: list[bool] = (found == wanted).tolist()
        return listed

    def _restore_base(self) -> None:
        self._zones = dict(self._base)
        self._fleet = self._base_fleet
        self._day = 0
        self._churned = False
        self._churn_count = 0
        self._ids = None

    def _taken(self) -> set[str]:
        """The ids of every custom image listed now (built on first use)."""
        if self._ids is None:
            self._ids = set()
            for listing in self._zones.values():
                self._ids.update(listing.ids[listing.n_public :].tolist())
        return self._ids

    def _advance(self, day: int) -> None:
        """Apply one day of account activity to the custom images."""
        rng = random.Random(f"imgframe-day:{self.seed}:{day}")
        date = _date_str(BASE_DATE + dt.timedelta(days=day))
        deleted: list[str] = []
        evolved: dict[str, dict[str, Any] | None] = {}  # what happened to a copied image
        for zone_id, listing in self._zones.items():
            self._zones[zone_id] = self._evolve_zone(rng, listing, date, deleted, evolved)
        if self._ids is not None:
            self._ids.difference_update(deleted)
        n_custom = sum(listing.n_custom for listing in self._zones.values())
        creations = max(1, round(n_custom * _DAILY_CREATE))
        zones = ZONE_CODES[np.frombuffer(rng.randbytes(creations), dtype=np.uint8)]
        raw, ids = draw_blocks(rng, creations, self._taken())
        made = self._factory.batch(
            raw, ids, zones, [date], np.zeros(creations, np.intp), NEW_STATUS_CODES
        )
        for k, zone_id in enumerate(ZONE_IDS):
            rows = np.flatnonzero(zones == k)
            if len(rows):
                listing = self._zones[zone_id]
                self._zones[zone_id] = Listing.concat([listing, made.take(rows)], listing.n_public)
        # Instances of the images deleted today keep pointing at them, as in life.
        self._fleet = fleets.advance(self._fleet, self.seed, day, self._taken())

    def _evolve_zone(
        self,
        rng: random.Random,
        listing: Listing,
        date: str,
        deleted: list[str],
        evolved: dict[str, dict[str, Any] | None],
    ) -> Listing:
        """One day of a zone's custom images; the ids of deleted ones go to ``deleted``.

        An image listed in several zones (copied) has one day, drawn where it is met first
        and recorded in ``evolved``, so its copies stay identical."""
        rand = rng.random
        settled = _SETTLED
        statuses = listing.statuses.tolist()
        copied = self._copied
        ids: list[str] = listing.ids.tolist() if copied else []
        dead: list[int] = []
        changes: dict[str, tuple[list[int], list[Any]]] = {}
        for i in range(listing.n_public, len(listing)):
            if copied and ids[i] in copied and ids[i] in evolved:
                outcome = evolved[ids[i]]
            else:
                x = rand()
                # Most images have a quiet day: one draw and nothing else.
                if settled[statuses[i]] and x - _DAILY_DELETE >= _QUIET:
                    outcome = None
                else:
                    outcome = self._evolve(rng, x, listing, i, date)
                if copied and ids[i] in copied:
                    evolved[ids[i]] = outcome
            if outcome is None:
                continue
            if outcome is _DEAD:
                dead.append(i)
                continue
            for column, value in outcome.items():
                rows, values = changes.setdefault(column, ([], []))
                rows.append(i)
                values.append(value)
        for column, (rows, values) in changes.items():
            listing = listing.with_column(column, np.array(rows, dtype=np.intp), values)
        if not dead:
            return listing
        deleted += listing.ids[dead].tolist()
        keep = np.ones(len(listing), dtype=bool)
        keep[dead] = False
        return listing.take(np.flatnonzero(keep), listing.n_public)

    def _evolve(
        self, rng: random.Random, x: float, listing: Listing, i: int, date: str
    ) -> dict[str, Any] | None:
        """One image's day: ``_DEAD`` when it is deleted, None when nothing changes, else the
        changed columns and their new values."""
        status = STATUSES[listing.statuses[i]]
        if status == "DELETING":
            return _DEAD  # deletions finish overnight
        if x < _DAILY_DELETE:
            return _DEAD
        x -= _DAILY_DELETE
        if status in _TRANSITIONAL:
            y = rng.random()
            if y < 0.8:
                fallback = "40" if KINDS[listing.kinds[i]].os_type == "windows" else "20"
                min_disk = MIN_DISKS[listing.min_disks[i]]
                size = str(min_disk) if min_disk is not None else fallback
                built = SIZES[listing.sizes[i]] or size
                return {"statuses": _AVAILABLE, "sizes": SIZE_CODE[built]}
            if y < 0.85:
                return {"statuses": _FAILED, "sizes": SIZE_CODE[None]}
            return None
        if status == "AVAILABLE" and x < _DAILY_START_DELETE:
            return {"statuses": _DELETING}
        if status == "AVAILABLE" and x < _DAILY_START_DELETE + _DAILY_UNAVAILABLE:
            return {"statuses": _UNAVAILABLE}
        if x < _DAILY_START_DELETE + _DAILY_UNAVAILABLE + _DAILY_RENAME:
            return {"names": _rename(listing.names[i], date)}
        if x < _DAILY_START_DELETE + _DAILY_UNAVAILABLE + _DAILY_RENAME + _DAILY_RETAG:
            return {"tags": self._factory.retag(rng, int(listing.tags[i]))}
        return None


#: ``,"regionIdList":[...]`` for each bit mask of zones (bit k: zone k of ``data.ZONES``).
_REGION_LISTS = [
    (
        ',"regionIdList":'
        + dumps([str(z["regionId"]) for k, z in enumerate(data.ZONES) if mask >> k & 1])
    ).encode()
    for mask in range(1 << len(data.ZONES))
]


_IMAGE_ID = re.compile(r"img-[0-9a-f]{16}")


def _given(**params: object) -> dict[str, object]:
    """API parameters from keyword arguments: None dropped, sequences as JSON arrays."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items() if v is not None}


def _parse_query(filters: dict[str, Any]) -> ImageFilter:
    unknown = set(filters) - {*FILTER_FIELDS, "pageNum", "pageSize"}
    if unknown:
        raise InvalidArgument(f"unknown DescribeImages filters: {', '.join(sorted(unknown))}")
    return parse_filter(filters)


def _rename(name: str, date: str) -> str:
    tail = name[-8:]
    if tail.isdigit() and len(name) > 9 and name[-9] == "-":
        return name[:-8] + date  # rebuilt: the date suffix moves on
    return name if name.startswith("deprecated-") else "deprecated-" + name


def _records(page: bytes) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = json.loads(page)
    return parsed
