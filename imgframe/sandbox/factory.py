"""Custom images from seeded random bytes, a whole batch at a time.

Each image draws one 32-byte block from the catalog's ``random.Random`` and every choice reads
one byte of it through a 256-entry table, so probabilities below are in 256ths (65536ths for
two bytes). ``random.randbytes(32 * n)`` returns exactly the bytes of ``n`` consecutive
``randbytes(32)`` calls (whole little-endian words, in order), so :func:`draw_blocks` draws a
batch at once and numpy decodes it column by column. A million images take about a second, and
they are the very images the earlier one-image-at-a-time generator made: its id-collision
path (a 64-bit id already taken draws 8 more bytes) is replayed exactly when it occurs.

The bytes this module reads, per block: 0-7 id, 8 base, 9 app, 10 env, 11 status, 12 disk size,
13 minDiskSize present, 14-16 name, 17-19 description, 20-27 and 29-30 tags, 28 resource group.
Byte 31 is unused.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Sequence
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from imgframe.sandbox import data
from imgframe.sandbox.listing import (
    ENV_NAMES,
    MIN_DISK_CODE,
    MIN_DISKS,
    NO_DESCRIPTION,
    SIZE_CODE,
    SIZES,
    STATUSES,
    Listing,
    TagTable,
    description_code,
    objects,
)
from imgframe.sandbox.tags import Tags, decode_tags

T = TypeVar("T")
Codes = npt.NDArray[np.intp]
Bytes = npt.NDArray[np.uint8]
Objects = npt.NDArray[np.object_]

BLOCK: Final = 32


def table256(weights: Iterable[tuple[T, int]]) -> tuple[T, ...]:
    """A 256-entry lookup table with each item in proportion to its weight, so one random
    byte picks an item (largest-remainder rounding; every item keeps at least one slot).

    >>> t = table256([("a", 3), ("b", 1)])
    >>> t.count("a"), t.count("b")
    (192, 64)
    """
    pairs = list(weights)
    total = sum(w for _, w in pairs)
    slots = [max(1, w * 256 // total) for _, w in pairs]
    order = sorted(range(len(pairs)), key=lambda i: -(pairs[i][1] * 256 % total))
    for i in order[: 256 - sum(slots)]:
        slots[i] += 1
    table = tuple(item for (item, _), n in zip(pairs, slots, strict=True) for _ in range(n))
    if len(table) != 256:  # pragma: no cover - guarded by the doctest above
        raise AssertionError(f"table of {len(table)} entries")
    return table


def codes256(table: Sequence[T], values: Sequence[T]) -> Codes:
    """The position in ``values`` of each of a 256-table's items, as a numpy lookup table."""
    return np.array([values.index(item) for item in table], dtype=np.intp)


ZONE_IDS: tuple[str, ...] = tuple(str(z["zoneId"]) for z in data.ZONES)
REFERENCE_ZONE_INDEX: Final = ZONE_IDS.index(data.REFERENCE_ZONE)
BACKUP_NAMES: tuple[str, ...] = tuple(dict.fromkeys(data.BACKUPS))

ZONE_CODES = codes256(table256(data.ZONE_WEIGHTS.items()), ZONE_IDS)
_BASE_CODES = codes256(table256((b, b.weight) for b in data.BASES), data.BASES)
_REFERENCE_BASE_CODES = codes256(
    table256((b, b.weight) for b in data.REFERENCE_ZONE_BASES), data.BASES
)
#: Day-0 statuses, and those of images created later (mostly still being built).
STATUS_CODES = codes256(table256(data.STATUS_WEIGHTS.items()), STATUSES)
NEW_STATUS_CODES = codes256(
    table256((("CREATING", 5), ("AVAILABLE", 3), ("SYNCING", 1), ("PROCESSING", 1))), STATUSES
)
_APP_CODES = codes256(table256((a, 1) for a in data.APPS), data.APPS)
_ENV_CODES = codes256(table256((e, 1) for e in data.ENVS), ENV_NAMES)
TEAM_CODES = codes256(table256((t, 1) for t in data.TEAMS), data.TEAMS)
_BACKUP_CODES = codes256(table256((b, 1) for b in data.BACKUPS), BACKUP_NAMES)
_DESCRIPTION_CODES = codes256(table256((d, 1) for d in data.DESCRIPTIONS), data.DESCRIPTIONS)
_UNICODE_DESCRIPTION_CODES = codes256(
    table256((d, 1) for d in data.UNICODE_DESCRIPTIONS), data.UNICODE_DESCRIPTIONS
)
_PREFIX_CODES = codes256(
    table256((p, 1) for p in data.UNICODE_NAME_PREFIXES), data.UNICODE_NAME_PREFIXES
)

_N_APPS, _N_ENVS, _N_BASES = len(data.APPS), len(ENV_NAMES), len(data.BASES)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_IMG = np.frombuffer(b"img-", dtype=np.uint8)
#: SIZES code of each base's k-th disk size (k taken modulo the base's number of sizes).
_DISK_CODES = np.array(
    [[SIZE_CODE[b.sizes[k % len(b.sizes)]] for k in range(256)] for b in data.BASES],
    dtype=np.intp,
)
_UNSIZED = np.array([s in ("CREATING", "FAILED") for s in STATUSES])
_NO_SIZE = SIZE_CODE[None]
_NO_MIN_DISK = MIN_DISK_CODE[None]
# SIZES and MIN_DISKS hold the same numbers at the same codes, so a disk's code is both.
if [str(m) for m in MIN_DISKS[:-1]] != list(SIZES[:-1]):  # pragma: no cover - data check
    raise AssertionError("SIZES and MIN_DISKS differ")


@functools.cache
def _name_heads() -> Objects:
    """Every name a custom image can have, minus its date: see :func:`_name_codes`."""
    heads: list[str] = []
    for app in data.APPS:  # 0: the house convention, "<app>-<env>-<slug>-<date>"
        heads += [f"{app}-{env}-{b.slug}-" for env in ENV_NAMES for b in data.BASES]
    heads += [f"golden-{b.slug}-v{v + 1}" for b in data.BASES for v in range(20)]  # 1
    heads += [f"{app} {env} backup " for app in data.APPS for env in ENV_NAMES]  # 2
    heads += [
        f"{prefix}-{app}-{env}-"  # 3
        for prefix in data.UNICODE_NAME_PREFIXES
        for app in data.APPS
        for env in ENV_NAMES
    ]
    return objects(heads)


def hex_ids(raw: bytes) -> list[str]:
    """The image ids of concatenated 32-byte blocks: ``"img-"`` + hex of the first 8 bytes.

    >>> hex_ids(bytes(range(64)))
    ['img-0001020304050607', 'img-2021222324252627']
    """
    head = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK)[:, :8]
    out = np.empty((len(head), 21), dtype=np.uint8)
    out[:, :4] = _IMG
    out[:, 4:20:2] = _HEX[head >> 4]
    out[:, 5:20:2] = _HEX[head & 15]
    out[:, 20] = ord(" ")
    # One decode and one split beat a million small conversions.
    return out.tobytes().decode("ascii").split()


def draw_blocks(rng: random.Random, count: int, taken: set[str] | None) -> tuple[bytes, list[str]]:
    """``count`` blocks and their ids, drawn exactly as ``count`` calls of the one-image
    generator would: an id in ``taken`` (or drawn earlier in the batch) is replaced by
    ``"img-" + rng.randbytes(8).hex()`` until it is new. The ids are added to ``taken``;
    ``None`` means no id is taken yet (a new catalog) and nothing needs to remember them.

    >>> a, b = random.Random(1), random.Random(1)
    >>> raw, ids = draw_blocks(a, 3, set())
    >>> raw == b"".join(b.randbytes(32) for _ in range(3)), ids[0] == "img-" + raw[:8].hex()
    (True, True)
    """
    chunks: list[bytes] = []
    ids: list[str] = []
    while count:
        state = rng.getstate()
        raw = rng.randbytes(BLOCK * count)
        if taken is None and _all_distinct(raw):
            return b"".join([*chunks, raw]), ids + hex_ids(raw)
        if taken is None:
            taken = set()
        fresh = hex_ids(raw)
        clash = _first_clash(fresh, taken)
        if clash is None:
            taken.update(fresh)
            chunks.append(raw)
            ids += fresh
            break
        # Rare (a 64-bit collision): replay up to the clashing block, then redraw its id.
        rng.setstate(state)
        chunks.append(rng.randbytes(BLOCK * (clash + 1)))
        taken.update(fresh[:clash])
        image_id = fresh[clash]
        while image_id in taken:
            image_id = "img-" + rng.randbytes(8).hex()
        taken.add(image_id)
        ids += [*fresh[:clash], image_id]
        count -= clash + 1
    return b"".join(chunks), ids


def sorted_heads(raw: bytes) -> npt.NDArray[np.uint64]:
    """The blocks' ids as 64-bit numbers (big-endian, as their hex reads), sorted."""
    heads = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK)[:, :8].copy().view(">u8")
    return np.sort(heads.ravel()).astype(np.uint64)


def _all_distinct(raw: bytes) -> bool:
    """True when no two blocks share their first 8 bytes (their id)."""
    heads = sorted_heads(raw)
    return not bool((heads[1:] == heads[:-1]).any())


def _first_clash(fresh: list[str], taken: set[str]) -> int | None:
    """The index of the first id already taken or repeated in ``fresh``, else None."""
    unique = set(fresh)
    if len(unique) == len(fresh) and taken.isdisjoint(unique):
        return None
    seen: set[str] = set()
    for i, image_id in enumerate(fresh):
        if image_id in taken or image_id in seen:
            return i
        seen.add(image_id)
    return None  # pragma: no cover - the fast check above found a clash


class Factory:
    """Makes custom images for one catalog.

    ``tags`` is the catalog's tag table; ``team_groups[t]`` is the resource group (an index
    into the catalog's groups) of team ``data.TEAMS[t]``'s images and ``default_group`` takes
    the rest (about 30%, and every team without a group of its own).
    """

    def __init__(self, tags: TagTable, team_groups: Sequence[int], default_group: int) -> None:
        self.tags = tags
        self._groups = np.array([*team_groups, default_group], dtype=np.intp)

    def batch(
        self,
        raw: bytes,
        ids: list[str],
        zones: Codes,
        dates: Sequence[str],
        date_index: Codes,
        statuses: Codes = STATUS_CODES,
    ) -> Listing:
        """Decode blocks (from :func:`draw_blocks`) into images, in creation order: image
        ``i`` lives in zone ``zones[i]`` and was created on ``dates[date_index[i]]``."""
        r = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK)
        bases = np.where(
            zones == REFERENCE_ZONE_INDEX, _REFERENCE_BASE_CODES[r[:, 8]], _BASE_CODES[r[:, 8]]
        )
        apps, envs = _APP_CODES[r[:, 9]], _ENV_CODES[r[:, 10]]
        status = statuses[r[:, 11]]
        disk = _DISK_CODES[bases, r[:, 12]]
        heads, tails = _name_codes(r, apps, envs, bases, date_index, len(dates))
        names = list(map(str.__add__, _name_heads()[heads].tolist(), _tails(dates)[tails].tolist()))
        teams = TEAM_CODES[r[:, 23]]
        return Listing(
            ids=objects(ids),
            names=objects(names),
            kinds=bases,
            statuses=status,
            # The size is not known until the image is built.
            sizes=np.where(_UNSIZED[status], _NO_SIZE, disk),
            # Older API responses lack minDiskSize altogether (about 10%).
            min_disks=np.where(r[:, 13] < 26, _NO_MIN_DISK, disk),
            descriptions=_description_codes(r, apps, envs, bases),
            tags=self._tags(r, apps, envs, teams),
            groups=self._groups[np.where(r[:, 28] < 77, len(self._groups) - 1, teams)],
            blobs=np.empty(len(ids), dtype=object),
        )

    def _tags(self, r: Bytes, apps: Codes, envs: Codes, teams: Codes) -> Codes:
        """Tag list codes: a quarter untagged (null), 2% an empty list, the rest a few of env,
        team, app, owner, cost-center and backup, in that order."""
        has_env = r[:, 21] < 230
        has_team = (r[:, 22] < 179) | ~has_env
        has_owner = r[:, 25] < 102
        has_cost = r[:, 27] < 77
        # A mixed-radix number with one digit per tag (0: absent); owner and cost center
        # follow the team, so the team is a digit whenever either is present.
        key = (
            has_env * (1 + envs)
            + has_team * (1 + teams) * 5
            + (r[:, 24] < 154) * (1 + apps) * 45
            + has_owner * (1 + (r[:, 26] & 1).astype(np.intp)) * 765
            + has_cost * 2295
            + (r[:, 29] < 77) * (1 + _BACKUP_CODES[r[:, 30]]) * 4590
            + (has_owner | has_cost) * teams * 18360
        )
        # Shift by two: 0 is a null tag list, 1 an empty one, as in the tag table.
        key = np.where(r[:, 20] < 64, 0, np.where(r[:, 20] < 69, 1, key + 2))
        table = np.zeros(18360 * len(data.TEAMS) + 2, dtype=np.intp)
        table[1] = 1
        seen = np.zeros(len(table), dtype=bool)
        seen[key] = True
        for k in np.flatnonzero(seen[2:]).tolist():
            table[k + 2] = self.tags.code_of(_tag_pairs(k))
        return table[key]  # type: ignore[no-any-return]

    def retag(self, rng: random.Random, code: int) -> int:
        """A plausible edit of a tag list: add, change or drop one tag."""
        current = dict(decode_tags(self.tags.values[code]))
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
        return self.tags.code_of(tuple((k, current[k]) for k in data.TAG_KEYS if k in current))


def _tag_pairs(key: int) -> Tags:
    """The tag list :meth:`Factory._tags` numbers ``key``."""
    env, team, app = key % 5, key // 5 % 9, key // 45 % 17
    owner, cost, backup = key // 765 % 3, key // 2295 % 2, key // 4590 % 4
    team_of = data.TEAMS[key // 18360] if owner or cost else ""
    pairs: list[tuple[str, str]] = []
    if env:
        pairs.append(("env", ENV_NAMES[env - 1]))
    if team:
        pairs.append(("team", data.TEAMS[team - 1]))
    if app:
        pairs.append(("app", data.APPS[app - 1]))
    if owner:
        pairs.append(("owner", data.TEAM_OWNERS[team_of][owner - 1]))
    if cost:
        pairs.append(("cost-center", data.TEAM_COST_CENTERS[team_of]))
    if backup:
        pairs.append(("backup", BACKUP_NAMES[backup - 1]))
    return tuple(pairs)


def _name_codes(
    r: Bytes, apps: Codes, envs: Codes, bases: Codes, date_index: Codes, n_dates: int
) -> tuple[Codes, Codes]:
    """(head, tail) codes of each name: the head indexes :func:`_name_heads`, the tail
    :func:`_tails` (the date, the dashed date, or nothing)."""
    x = r[:, 14].astype(np.intp) << 8 | r[:, 15]
    app_env = apps * _N_ENVS + envs
    # Offsets of the four kinds of heads, in _name_heads order.
    golden_at = _N_APPS * _N_ENVS * _N_BASES
    backup_at = golden_at + _N_BASES * 20
    prefixed_at = backup_at + _N_APPS * _N_ENVS
    convention = app_env * _N_BASES + bases
    golden = golden_at + bases * 20 + r[:, 16] % 20
    backup = backup_at + app_env
    prefixed = prefixed_at + _PREFIX_CODES[r[:, 16]] * (_N_APPS * _N_ENVS) + app_env
    # 97% follow the house naming convention; then golden images, backups, unicode names.
    kinds = [x < 63570, x < 64553, x < 65208]
    heads = np.select(kinds, [convention, golden, backup], prefixed)
    tails = np.select(kinds, [date_index, 2 * n_dates, n_dates + date_index], date_index)
    return heads, tails


def _tails(dates: Sequence[str]) -> Objects:
    return objects([*dates, *(f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in dates), ""])


def _description_codes(r: Bytes, apps: Codes, envs: Codes, bases: Codes) -> Codes:
    # 60% have none; a few are unicode or carry quotes and newlines.
    unicode = (r[:, 18] < 8).astype(np.intp)
    template = np.where(unicode, _UNICODE_DESCRIPTION_CODES[r[:, 19]], _DESCRIPTION_CODES[r[:, 19]])
    return np.where(
        r[:, 17] < 154, NO_DESCRIPTION, description_code(unicode, template, apps, envs, bases)
    )
