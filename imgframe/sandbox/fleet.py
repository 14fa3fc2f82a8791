"""The account's instances: a fleet that runs the catalog's images, as columns.

Generated from its own seeded stream (``imgframe-fleet:<seed>``), a batch at a time like the
images, and shaped like a real account's:

- instances live in zones (spread like the custom images) and run an image listed there;
- public images are popular, Ubuntu most of all (:data:`~imgframe.sandbox.data.
  PUBLIC_IMAGE_POPULARITY`); custom images follow a long tail, so a few run many instances
  and most run none;
- about 1.5% run an image that no longer exists (a deleted custom image): their ``imageId``
  is listed nowhere;
- every status of :data:`~imgframe.sandbox.data.INSTANCE_STATUSES` occurs, mostly RUNNING;
- ids are 19-digit numbers that grow with ``createTime`` (as snowflake ids do), and the fleet
  is listed oldest first.

Each day (:func:`advance`) transitional statuses settle, some instances are stopped, rebooted
or released, recycled ones disappear, and a few new ones are launched by copying an existing
one (with a public image when the copied one's image is gone). Images deleted by the catalog's
days are not touched here: their instances keep pointing at them, as in life.

Addresses follow from an instance's zone and its ordinal in the zone (``slot``): private
``10.0.0.0/8``, public from the shared ``100.64.0.0/10`` range and IPv6 from ``2001:db8::/32``,
so no address in the sandbox belongs to a real host.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from json.encoder import encode_basestring as _quote
from typing import Final

import numpy as np
import numpy.typing as npt

from imgframe.sandbox import data
from imgframe.sandbox.factory import ZONE_CODES, ZONE_IDS, codes256, hex_ids, table256
from imgframe.sandbox.listing import (
    ENV_NAMES,
    KINDS,
    MIN_DISKS,
    SIZES,
    Codes,
    Flags,
    Listing,
    Objects,
    TagTable,
    cached_blobs,
    concat_rows,
    objects,
    take_rows,
    with_values,
)
from imgframe.sandbox.resources import AccountResources
from imgframe.sandbox.serialize import Serializer

STATUSES: tuple[str, ...] = data.INSTANCE_STATUSES
STATUS_OF: dict[str, int] = {s: i for i, s in enumerate(STATUSES)}
NIC_TYPES = ("VirtioOnly", "FailOver")
PUBLIC_IP, IPV6, AGENT, MONITOR, IP_FORWARD = 1, 2, 4, 8, 16
#: Statuses in which an instance holds no public address (not assigned yet, or released).
NO_PUBLIC_ADDRESS = frozenset({"PENDING", "CREATING", "CREATE_FAILED", "RECYCLING", "RECYCLED"})

Floats = npt.NDArray[np.float64]
Bytes = npt.NDArray[np.uint8]

_BLOCK: Final = 64
_DAY_MS: Final = 86_400_000
_ID_EPOCH_MS: Final = int(dt.datetime(2010, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
_OLDEST_MS: Final = int(
    dt.datetime.combine(data.OLDEST_CUSTOM, dt.time(), dt.UTC).timestamp() * 1000
)
_SPAN_DAYS: Final = (data.BASE_DATE - data.OLDEST_CUSTOM).days + 1  # through day 0's end
_END_S: Final = _OLDEST_MS // 1000 + _SPAN_DAYS * 86_400
_PRIVATE, _PUBLIC = 10 << 24, (100 << 24) | (64 << 16)
_IPV6_PREFIX: Final = 0x20010DB8 << 96

_TYPE_CODES = codes256(table256((t, t.weight) for t in data.INSTANCE_TYPES), data.INSTANCE_TYPES)
_STATUS_CODES = codes256(table256(data.INSTANCE_STATUS_WEIGHTS.items()), STATUSES)
_APP_CODES = codes256(table256((a, 1) for a in data.APPS), data.APPS)
_ENV_CODES = codes256(table256((e, 1) for e in data.ENVS), ENV_NAMES)
_TEAM_CODES = codes256(table256((t, 1) for t in data.TEAMS), data.TEAMS)
_BASE_CODES = codes256(table256((b, b.weight) for b in data.BASES), data.BASES)
_TERMS = np.array([30, 90, 180, 365], dtype=np.int64) * 86_400
_CUSTOM_STATUSES = np.array(
    [s in ("AVAILABLE", "UNAVAILABLE", "DELETING") for s in data.STATUS_WEIGHTS]
)
#: minDiskSize and imageSize per code, as GiB (0: none).
_MIN_DISKS = np.array([m or 0 for m in MIN_DISKS], dtype=np.intp)
_SIZES = np.array([int(s or 20) for s in SIZES], dtype=np.intp)
_WINDOWS_TYPE = next(i for i, t in enumerate(data.INSTANCE_TYPES) if t.name == "z2a.cpu.2")
#: Per status: (probability, new status or None for gone) of what a day does to it.
_TRANSITIONS: dict[str, tuple[tuple[float, str | None], ...]] = {
    "PENDING": ((0.9, "CREATING"),),
    "CREATING": ((0.85, "RUNNING"), (0.05, "CREATE_FAILED")),
    "BOOTING": ((0.95, "RUNNING"),),
    "REBOOTING": ((0.95, "RUNNING"),),
    "STOPPING": ((0.95, "STOPPED"),),
    "RUNNING": ((0.004, "STOPPING"), (0.003, "REBOOTING"), (0.003, "RELEASING")),
    "STOPPED": ((0.03, "BOOTING"), (0.02, "RELEASING")),
    "RELEASING": ((0.9, "RECYCLING"),),
    "RECYCLING": ((0.9, "RECYCLED"),),
    "RECYCLED": ((0.25, None),),
    "CREATE_FAILED": ((0.5, None),),
}
_DAILY_LAUNCH = 0.004


@dataclass(frozen=True)
class Fleet:
    """Instances in listing order (oldest first), one array per field."""

    numbers: Codes  # instanceId as a number; disks and NICs take the next few numbers
    names: Objects
    zones: Codes  # index into ZONE_IDS
    slots: Codes  # ordinal in the zone: the addresses derive from it
    types: Codes  # index into data.INSTANCE_TYPES
    image_ids: Objects
    image_names: Objects
    nics: Codes  # index into NIC_TYPES
    utc: Codes  # 1: timeZone UTC, 0: the zone's
    statuses: Codes  # index into STATUSES
    created: Codes  # ms since the Unix epoch
    expires: Codes  # s since the Unix epoch; 0: no expiry (pay as you go)
    system_disks: Codes  # GiB
    data_disks: Codes  # (n, 3) GiB, 0: no disk
    disk_categories: Codes  # index into data.DISK_CATEGORIES
    flags: Codes  # PUBLIC_IP | IPV6 | AGENT | MONITOR | IP_FORWARD
    keys: Codes  # index into the account's key pairs, -1: none
    groups: Codes  # index into the account's resource groups
    tags: Codes  # index into the catalog's tag table
    macs: Codes  # the NIC's MAC address, low 24 bits
    blobs: Objects  # served JSON, built on first use
    next_slots: tuple[int, ...] = (0,) * len(ZONE_IDS)

    def __len__(self) -> int:
        return len(self.numbers)


_ADDRESSED = np.array([s not in NO_PUBLIC_ADDRESS for s in STATUSES])


def holds(flag: int, statuses: Codes, flags: Codes) -> Flags:
    """Per row, True when the instance holds a public IPv4 (``flag`` PUBLIC_IP) or an IPv6
    (IPV6) address now: it has one, and its status keeps addresses."""
    return _ADDRESSED[statuses] & (flags & flag > 0)


def private_ip(zone: int, slot: int) -> int:
    """An instance's private IPv4 address, as an integer."""
    return _PRIVATE | zone << 20 | (slot + 2)


def public_ip(zone: int, slot: int) -> int:
    """An instance's public IPv4 address, as an integer."""
    return _PUBLIC | zone << 19 | (slot + 1)


def ipv6(zone: int, slot: int) -> int:
    """An instance's IPv6 address, as an integer."""
    return _IPV6_PREFIX | (zone + 1) << 80 | (slot + 1)


def locate_ipv4(address: int) -> tuple[int, int, bool] | None:
    """(zone, slot, public?) of the instance an IPv4 address would belong to, else None.

    >>> locate_ipv4(private_ip(3, 41)), locate_ipv4(public_ip(2, 7))
    ((3, 41, False), (2, 7, True))
    """
    if address >> 24 == 10:
        zone, slot, public = address >> 20 & 15, (address & 0xFFFFF) - 2, False
    elif address >> 22 == _PUBLIC >> 22:
        zone, slot, public = address >> 19 & 7, (address & 0x7FFFF) - 1, True
    else:
        return None
    if zone >= len(ZONE_IDS) or slot < 0:
        return None
    return zone, slot, public


def locate_ipv6(address: int) -> tuple[int, int] | None:
    """(zone, slot) of the instance an IPv6 address would belong to, else None."""
    zone, slot = (address >> 80 & 0xFFFF) - 1, (address & (1 << 80) - 1) - 1
    if not 0 <= zone < len(ZONE_IDS) or slot < 0 or ipv6(zone, slot) != address:
        return None
    return zone, slot


def _dotted(address: int) -> str:
    return f"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}"


def _u(r: Bytes, start: int, width: int) -> Codes:
    """Little-endian unsigned integers from ``width`` bytes of each row, from ``start``."""
    out = np.zeros(len(r), dtype=np.int64)
    for k in range(width):
        out |= r[:, start + k].astype(np.int64) << (8 * k)
    return out


def _ranks(v: Floats, m: int) -> Codes:
    """Ranks in ``0..m-1`` from uniforms ``v``, with a long tail: P(rank k) ~ (k + 1)^-1.2."""
    a = 1 - 1.2
    x = (((m + 1) ** a - 1) * v + 1) ** (1 / a)
    return np.minimum(np.floor(x).astype(np.intp) - 1, m - 1)  # type: ignore[no-any-return]


@dataclass
class _Images:
    """What an instance needs to know of the image it runs, per instance."""

    ids: Objects
    names: Objects
    kinds: Codes  # index into KINDS, -1: the image is gone
    min_disks: Codes  # GiB
    groups: Codes  # the image's resource group, -1: public or gone
    days: Codes  # days after OLDEST_CUSTOM the image appeared


def build(
    seed: int,
    count: int,
    listings: Mapping[str, Listing],
    custom_days: Mapping[str, Codes],
    resources: AccountResources,
    tags: TagTable,
    listed: Callable[[list[str]], list[bool]],
) -> Fleet:
    """The day-0 fleet of ``count`` instances over the day-0 zone ``listings``;
    ``custom_days[zone][k]``: the day (after ``data.OLDEST_CUSTOM``) the zone's k-th custom
    image was created; ``listed(ids)`` tells which image ids are listed at day 0 (the ids made
    up for deleted images must not be)."""
    rng = random.Random(f"imgframe-fleet:{seed}")
    r = np.frombuffer(rng.randbytes(_BLOCK * count), dtype=np.uint8).reshape(-1, _BLOCK)
    zones = ZONE_CODES[r[:, 0]]
    images = _pick_images(rng, r, zones, listings, custom_days, listed)
    # Kind -1 (an image that is gone) reads the tables' last entry.
    os_of = objects([*(k.os_type for k in KINDS), "linux"])[images.kinds]
    windows = os_of == "windows"
    types = _TYPE_CODES[r[:, 18]]
    cpus = np.array([t.cpu for t in data.INSTANCE_TYPES])
    types = np.where(windows & (cpus[types] < 2), _WINDOWS_TYPE, types)
    # Launched some time after the image appeared, up to the end of day 0.
    frac = _u(r, 20, 3) / float(1 << 24)
    created = _OLDEST_MS + ((images.days + frac * (_SPAN_DAYS - images.days)) * _DAY_MS).astype(
        np.int64
    )
    # About 12% are prepaid for a term, renewed until now: they expire after day 0.
    term = _TERMS[r[:, 36] % 4]
    terms = -(-(_END_S - created // 1000) // term)
    expires = np.where(r[:, 35] < 31, created // 1000 + np.maximum(terms, 1) * term, 0)
    system = np.maximum(images.min_disks, np.array(data.SYSTEM_DISK_SIZES)[r[:, 24] % 10])
    n_data = np.select([r[:, 25] < 141, r[:, 25] < 218, r[:, 25] < 249], [0, 1, 2], 3)
    sizes = np.array(data.DATA_DISK_SIZES, dtype=np.intp)[r[:, 26:29] % 10]
    data_disks = np.where(np.arange(3) < n_data[:, None], sizes, 0)
    flags = (
        (r[:, 30] < 179) * PUBLIC_IP
        + (r[:, 31] < 51) * IPV6
        + (agent := r[:, 32] < 205) * AGENT
        + (agent & (r[:, 33] < 180)) * MONITOR
        + (r[:, 34] < 13) * IP_FORWARD
    )
    has_key = ~np.isin(os_of, ["windows", "android"]) & (r[:, 38] < 217)
    keys = np.where(has_key, r[:, 37].astype(np.intp) % len(resources.key_ids), -1)
    n_groups = len(resources.group_ids)
    own = np.where(r[:, 40] < 102, 0, r[:, 40] % n_groups)
    groups = np.where((images.groups >= 0) & (r[:, 39] < 191), images.groups, own)
    nic_both = np.array([k.nic == data.NIC_BOTH for k in KINDS] + [True])[images.kinds]
    failover = np.array([k.nic == data.NIC_FAILOVER for k in KINDS] + [False])[images.kinds]
    nics = np.where(failover | (nic_both & (r[:, 51] >= 179)), 1, 0)
    fleet = Fleet(
        numbers=np.zeros(count, dtype=np.int64),
        names=objects(_names(r, zones)),
        zones=zones,
        slots=np.zeros(count, dtype=np.intp),
        types=types,
        image_ids=images.ids,
        image_names=images.names,
        nics=nics,
        utc=(r[:, 52] >= 166).astype(np.intp),
        statuses=_STATUS_CODES[r[:, 19]],
        created=created,
        expires=expires,
        system_disks=system,
        data_disks=data_disks,
        disk_categories=(r[:, 29] >= 179).astype(np.intp),
        flags=flags,
        keys=keys,
        groups=groups,
        tags=_tags(r, tags),
        macs=_u(r, 53, 3),
        blobs=np.empty(count, dtype=object),
    )
    return _in_creation_order(fleet)


def _in_creation_order(fleet: Fleet) -> Fleet:
    """Sort by creation time, make the times strictly increasing (ids must be unique), and
    number the instances and their zone slots."""
    fleet = take_rows(fleet, np.argsort(fleet.created, kind="stable"))
    created = _increasing(fleet.created, 0)
    slots = np.zeros(len(fleet), dtype=np.intp)
    counts = [0] * len(ZONE_IDS)
    for z in range(len(ZONE_IDS)):
        rows = np.flatnonzero(fleet.zones == z)
        slots[rows] = np.arange(len(rows))
        counts[z] = len(rows)
    return replace(
        fleet, created=created, numbers=_numbers(created), slots=slots, next_slots=tuple(counts)
    )


def _increasing(times: Codes, floor: int) -> Codes:
    """Sorted ``times`` nudged up just enough to be strictly increasing and above ``floor``."""
    steps = np.arange(len(times), dtype=np.int64)
    return np.maximum.accumulate(np.maximum(times, floor) - steps) + steps


def _numbers(created: Codes) -> Codes:
    """Snowflake-style ids: milliseconds since 2010 in the high bits."""
    return (created - _ID_EPOCH_MS) << 22


def _pick_images(
    rng: random.Random,
    r: Bytes,
    zones: Codes,
    listings: Mapping[str, Listing],
    custom_days: Mapping[str, Codes],
    listed: Callable[[list[str]], list[bool]],
) -> _Images:
    """The image of each instance: public (42%), custom (57%, long-tailed) or gone (1.5%)."""
    n = len(r)
    picked = _Images(
        ids=np.empty(n, dtype=object),
        names=np.empty(n, dtype=object),
        kinds=np.full(n, -1, dtype=np.intp),
        min_disks=np.full(n, 20, dtype=np.intp),
        groups=np.full(n, -1, dtype=np.intp),
        days=np.zeros(n, dtype=np.intp),
    )
    kind = _u(r, 1, 2)
    gone = kind < 983
    v = _u(r, 3, 4) / float(1 << 32)
    for z, zone_id in enumerate(ZONE_IDS):
        listing = listings[zone_id]
        here = zones == z
        customs = listing.n_public + np.flatnonzero(
            _CUSTOM_STATUSES[listing.statuses[listing.n_public :]]
        )
        # Each zone's custom images in order of popularity: a seeded affine shuffle of their
        # ranks (k -> (a*k + b) mod m, a coprime to m), so no sort of a million rows.
        m = len(customs)
        a, b = _coprime(rng, m), rng.randrange(max(m, 1))
        public = here & ~gone & ((kind < 983 + 27525) | (len(customs) == 0))
        custom = here & ~gone & ~public
        rows = np.empty(n, dtype=np.intp)
        if custom.any():
            rows[custom] = customs[(a * _ranks(v[custom], m) + b) % m]
        weights = np.cumsum(
            [data.PUBLIC_IMAGE_POPULARITY.get(i, 1) for i in listing.ids[: listing.n_public]]
        )
        rows[public] = np.searchsorted(weights, v[public] * weights[-1], side="right")
        chosen = np.flatnonzero(public | custom)
        at = rows[chosen]
        picked.ids[chosen] = listing.ids[at]
        picked.names[chosen] = listing.names[at]
        picked.kinds[chosen] = listing.kinds[at]
        min_disks = _MIN_DISKS[listing.min_disks[at]]
        picked.min_disks[chosen] = np.where(min_disks > 0, min_disks, _SIZES[listing.sizes[at]])
        picked.groups[chosen] = listing.groups[at]
        days = np.concatenate([_release_days(listing), custom_days[zone_id]])
        picked.days[chosen] = days[at]
    _gone_images(r, gone, picked, listed)
    return picked


def _coprime(rng: random.Random, m: int) -> int:
    """A seeded multiplier in ``1..m-1`` coprime to ``m`` (1 when ``m`` < 3)."""
    if m < 3:
        return 1
    while True:
        a = rng.randrange(1, m)
        if math.gcd(a, m) == 1:
            return a


def _release_days(listing: Listing) -> Codes:
    """When each public image of a listing was released (its id ends with the date), in days
    after ``data.OLDEST_CUSTOM`` (0 at the earliest)."""
    days = []
    for image_id in listing.ids[: listing.n_public].tolist():
        released = dt.datetime.strptime(image_id[-8:], "%Y%m%d").date()
        days.append(max(0, (released - data.OLDEST_CUSTOM).days))
    return np.array(days, dtype=np.intp)


def _gone_images(
    r: Bytes, gone: Flags, picked: _Images, listed: Callable[[list[str]], list[bool]]
) -> None:
    """Ids and names of images deleted before day 0, for the instances that still run them."""
    rows = np.flatnonzero(gone)
    if not len(rows):
        return
    raw = np.zeros((len(rows), 32), dtype=np.uint8)
    raw[:, :8] = r[rows, 7:15]
    ids = hex_ids(raw.tobytes())
    # A 64-bit clash with a live image is all but impossible, but must not make one live.
    while any(clashes := listed(ids)):
        ids = [
            "img-" + hashlib.sha256(i.encode()).hexdigest()[:16] if clash else i
            for i, clash in zip(ids, clashes, strict=True)
        ]
    apps, envs, bases = _APP_CODES[r[rows, 15]], _ENV_CODES[r[rows, 16]], _BASE_CODES[r[rows, 17]]
    days = _u(r[rows], 56, 2) * (_SPAN_DAYS - 1) // 65535
    dates = [(data.OLDEST_CUSTOM + dt.timedelta(days=d)).strftime("%Y%m%d") for d in days.tolist()]
    picked.ids[rows] = ids
    picked.names[rows] = [
        f"{data.APPS[a]}-{ENV_NAMES[e]}-{data.BASES[b].slug}-{d}"
        for a, e, b, d in zip(apps.tolist(), envs.tolist(), bases.tolist(), dates, strict=True)
    ]
    picked.min_disks[rows] = 20
    picked.days[rows] = days


def _names(r: Bytes, zones: Codes) -> list[str]:
    """``<app>-<env>-<city>-<nn>`` for most, a few odd ones."""
    cities = [str(z["cityCode"]).lower() for z in data.ZONES]
    heads = objects([f"{a}-{e}-{c}-" for a in data.APPS for e in ENV_NAMES for c in cities])
    tails = objects([f"{n:02d}" for n in range(1, 100)])
    head = (_APP_CODES[r[:, 47]] * len(ENV_NAMES) + _ENV_CODES[r[:, 45]]) * len(cities) + zones
    names: list[str] = list(map(str.__add__, heads[head].tolist(), tails[r[:, 48] % 99].tolist()))
    for i in np.flatnonzero(r[:, 49] < 8).tolist():
        names[i] = data.ODD_INSTANCE_NAMES[r[i, 50] % len(data.ODD_INSTANCE_NAMES)]
    return names


def _tags(r: Bytes, table: TagTable) -> Codes:
    """A quarter untagged (null); the rest some of env, team and app."""
    key = (
        (r[:, 42] < 230) * (1 + _ENV_CODES[r[:, 45]])
        + (r[:, 43] < 204) * (1 + _TEAM_CODES[r[:, 46]]) * 5
        + (r[:, 44] < 179) * (1 + _APP_CODES[r[:, 47]]) * 45
    )
    key = np.where(r[:, 41] < 64, -1, key)
    found, inverse = np.unique(key, return_inverse=True)
    codes = [0 if k < 0 else table.code_of(_tag_pairs(k)) for k in found.tolist()]
    return np.array(codes, dtype=np.intp)[inverse.reshape(-1)]  # type: ignore[no-any-return]


def _tag_pairs(key: int) -> tuple[tuple[str, str], ...]:
    env, team, app = key % 5, key // 5 % 9, key // 45
    pairs = [("env", ENV_NAMES[env - 1])] if env else []
    pairs += [("team", data.TEAMS[team - 1])] if team else []
    pairs += [("app", data.APPS[app - 1])] if app else []
    return tuple(pairs)


def advance(fleet: Fleet, seed: int, day: int, alive: set[str]) -> Fleet:
    """One day of the fleet (deterministic per seed and day); ``alive`` holds the ids of
    the custom images listed now, so a launch never copies an image that is gone."""
    rng = random.Random(f"imgframe-fleet-day:{seed}:{day}")
    n = len(fleet)
    u = np.frombuffer(rng.randbytes(2 * n), dtype="<u2") / 65536.0
    new = fleet.statuses.copy()
    gone = np.zeros(n, dtype=bool)
    for name, outcomes in _TRANSITIONS.items():
        here = fleet.statuses == STATUS_OF[name]
        low = 0.0
        for p, target in outcomes:
            hit = here & (u >= low) & (u < low + p)
            if target is None:
                gone |= hit
            else:
                new[hit] = STATUS_OF[target]
            low += p
    changed = np.flatnonzero(new != fleet.statuses)
    if len(changed):
        fleet = with_values(fleet, "statuses", changed, new[changed])
    if gone.any():
        fleet = take_rows(fleet, np.flatnonzero(~gone))
    return _launch(fleet, rng, day, alive)


def _launch(fleet: Fleet, rng: random.Random, day: int, alive: set[str]) -> Fleet:
    """A few new instances, each a copy of an existing one (scaling out)."""
    n = len(fleet)
    count = max(1, round(n * _DAILY_LAUNCH)) if n else 0
    if not count:
        return fleet
    r = np.frombuffer(rng.randbytes(16 * count), dtype=np.uint8).reshape(-1, 16)
    new = take_rows(fleet, _u(r, 0, 4) % n)
    image_ids: list[str] = new.image_ids.tolist()
    image_names: list[str] = new.image_names.tolist()
    fallback = next(p for p in data.PUBLIC_IMAGES if p.image_id == data.FALLBACK_IMAGE)
    for k, image_id in enumerate(image_ids):
        if image_id.startswith("img-") and image_id not in alive:
            image_ids[k], image_names[k] = fallback.image_id, fallback.name
    day_start = _OLDEST_MS + ((data.BASE_DATE - data.OLDEST_CUSTOM).days + day) * _DAY_MS
    offsets = np.sort((_u(r, 4, 3) / float(1 << 24) * _DAY_MS).astype(np.int64))
    created = _increasing(day_start + offsets, int(fleet.created[-1]) + 1)
    slots = np.zeros(count, dtype=np.intp)
    next_slots = list(fleet.next_slots)
    for k, z in enumerate(new.zones.tolist()):
        slots[k] = next_slots[z]
        next_slots[z] += 1
    launched = replace(
        new,
        numbers=_numbers(created),
        slots=slots,
        image_ids=objects(image_ids),
        image_names=objects(image_names),
        statuses=np.where(r[:, 7] < 154, STATUS_OF["PENDING"], STATUS_OF["CREATING"]),
        created=created,
        expires=np.zeros(count, dtype=np.int64),
        macs=_u(r, 8, 3),
        blobs=np.empty(count, dtype=object),
    )
    return replace(concat_rows([fleet, launched]), next_slots=tuple(next_slots))


class FleetSerializer:
    """Fleet rows -> the InstanceInfo JSON DescribeInstances serves."""

    def __init__(self, resources: AccountResources, images: Serializer) -> None:
        self.resources = resources
        self.images = images
        self._zones = [
            (str(z["zoneId"]), str(z["regionId"]), str(z["timeZone"])) for z in data.ZONES
        ]
        self._types = [
            (
                "null" if t.name is None else _quote(t.name),
                f'"cpu":{t.cpu},"memory":{t.memory}',
            )
            for t in data.INSTANCE_TYPES
        ]
        self._groups = [
            (_quote(i), _quote(n))
            for i, n in zip(resources.group_ids, resources.group_names, strict=True)
        ]

    def blobs(self, fleet: Fleet, index: Codes | slice, keep: bool = True) -> list[bytes]:
        """The served bytes of each row at ``index`` (cached in the fleet, if ``keep``)."""
        return cached_blobs(fleet, index, lambda rows: self._build(fleet, rows), keep)

    def page(self, fleet: Fleet, index: Codes | slice) -> bytes:
        """A JSON array of the rows at ``index``."""
        return b"[" + b",".join(self.blobs(fleet, index)) + b"]"

    def _build(self, fleet: Fleet, rows: Codes) -> list[bytes]:
        res = self.resources
        created = np.datetime_as_string(fleet.created[rows].astype("datetime64[ms]"), unit="s")
        expires = np.datetime_as_string(fleet.expires[rows].astype("datetime64[s]"), unit="s")
        statuses, flag_bits = fleet.statuses[rows], fleet.flags[rows]
        public = holds(PUBLIC_IP, statuses, flag_bits).tolist()
        v6 = holds(IPV6, statuses, flag_bits).tolist()
        out: list[bytes] = []
        for (
            number, name, zone, slot, type_, image_id, image_name, nic, utc, status, made,
            expiry, expiry_text, system, disks, category, flags, key, group, tags, mac,
            has_public, has_v6,
        ) in zip(
            fleet.numbers[rows].tolist(), fleet.names[rows].tolist(),
            fleet.zones[rows].tolist(), fleet.slots[rows].tolist(), fleet.types[rows].tolist(),
            fleet.image_ids[rows].tolist(), fleet.image_names[rows].tolist(),
            fleet.nics[rows].tolist(), fleet.utc[rows].tolist(),
            fleet.statuses[rows].tolist(), created.tolist(), fleet.expires[rows].tolist(),
            expires.tolist(), fleet.system_disks[rows].tolist(),
            fleet.data_disks[rows].tolist(), fleet.disk_categories[rows].tolist(),
            fleet.flags[rows].tolist(), fleet.keys[rows].tolist(),
            fleet.groups[rows].tolist(), fleet.tags[rows].tolist(), fleet.macs[rows].tolist(),
            public, v6, strict=True,
        ):  # fmt: skip
            zone_id, region_id, time_zone = self._zones[zone]
            type_json, sizing = self._types[type_]
            group_id, group_name = self._groups[group]
            disk_category = _quote(data.DISK_CATEGORIES[category])
            quoted = _quote(name)
            data_disks = ",".join(
                f'{{"diskId":"{number + 2 + k}","diskName":{_quote(f"{name}-data-{k + 1}")},'
                f'"diskSize":{size},"diskCategory":{disk_category},"portable":true}}'
                for k, size in enumerate(disks)
                if size
            )
            private = _dotted(private_ip(zone, slot))
            publics = f'"{_dotted(public_ip(zone, slot))}"' if has_public else ""
            address6 = (
                f'"{ipaddress.IPv6Address(ipv6(zone, slot)).compressed}"' if has_v6 else "null"
            )
            created_at = f'"{made}Z"'
            expiry_json = f'"{expiry_text}Z"' if expiry else "null"
            group_json = f'{{"resourceGroupId":{group_id},"resourceGroupName":{group_name}}}'
            subnet = f'"{res.subnet_ids[zone]}"'
            security_group = f'"{res.security_group_ids[zone]}"'
            out.append(
                (
                    f'{{"instanceId":"{number}","instanceName":{quoted},"zoneId":"{zone_id}",'
                    f'"instanceType":{type_json},{sizing},"imageId":{_quote(image_id)},'
                    f'"imageName":{_quote(image_name)},'
                    f'"timeZone":"{"UTC" if utc else time_zone}",'
                    f'"nicNetworkType":"{NIC_TYPES[nic]}","status":"{STATUSES[status]}",'
                    f'"systemDisk":{{"diskId":"{number + 1}","diskSize":{system},'
                    f'"diskCategory":{disk_category}}},"dataDisks":[{data_disks}],'
                    f'"publicIpAddresses":[{publics}],"privateIpAddresses":["{private}"],'
                    f'"keyId":{"null" if key < 0 else _quote(res.key_ids[key])},'
                    f'"subnetId":{subnet},"securityGroupId":{security_group},'
                    f'"enableAgent":{_bool(flags & AGENT)},'
                    f'"enableAgentMonitor":{_bool(flags & MONITOR)},'
                    f'"enableIpForward":{_bool(flags & IP_FORWARD)},'
                    f'"createTime":{created_at},'
                    f'"expiredTime":{expiry_json},'
                    f'"resourceGroupId":{group_id},"resourceGroupName":{group_name},'
                    f'"nics":[{{"nicId":"{number + 5}","name":{_quote(f"{name}-eth0")},'
                    f'"status":"USED","nicType":"Primary","regionId":"{region_id}",'
                    f'"nicSubnetType":"{"Dual-Stack" if flags & IPV6 else "IPv4"}",'
                    f'"publicIpList":[{publics}],"privateIpList":["{private}"],'
                    f'"primaryIpv4":"{private}","primaryIpv6":{address6},'
                    f'"macAddress":"fa:16:3e:{mac >> 16:02x}:{mac >> 8 & 255:02x}:{mac & 255:02x}",'
                    f'"instanceId":"{number}","subnetId":{subnet},'
                    f'"securityGroupId":{security_group},"createTime":{created_at},'
                    f'"resourceGroup":{group_json}}}],'
                    f'"tags":{self.images.tags_json(tags)}}}'
                ).encode()
            )
        return out


def _bool(value: int) -> str:
    return "true" if value else "false"
