"""PageCache: stable, secret-free keys; TTLs on an injected clock; private files written
whole; concurrent writers; unreadable entries skipped with a warning; the refresh policy.
Pages are real DescribeImages answers from the session sandbox."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import imgframe
from imgframe import sandbox
from imgframe.cache import CachedPages, PageCache, default_cache_dir, parse_ttl
from imgframe.errors import DataError, ImgframeWarning, InvalidArgument
from imgframe.parse import RawPage

from .helpers import client_kwargs

ENDPOINT = "https://console.zenlayer.com/api/v2"
PARAMS = {"zoneId": "asia-east-1a", "osType": "linux"}
T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pages(sb: sandbox.Sandbox) -> list[RawPage]:
    """One zone's DescribeImages pages as received (3 pages of 150)."""
    return imgframe.fetch_images_raw("asia-east-1a", page_size=150, **client_kwargs(sb))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(tmp_path: Path, clock: Clock) -> PageCache:
    return PageCache(tmp_path / "cache", clock=clock)


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


# --------------------------------------------------------------------------------------------
# Keys


def test_keys_are_stable_and_order_free(cache: PageCache) -> None:
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    assert key == "0201730fabe8f9b2ea55f25c761a8802d95f6d5a693188d912de900686751c14"
    again = PageCache(cache.root).key(
        "HTTPS://Console.Zenlayer.com/api/v2/",
        "default",
        "DescribeImages",
        dict(reversed(PARAMS.items())),
    )
    assert again == key


@pytest.mark.parametrize(
    ("endpoint", "profile", "action", "params"),
    [
        ("http://127.0.0.1:8080", "default", "DescribeImages", PARAMS),
        (ENDPOINT, "team-b", "DescribeImages", PARAMS),
        (ENDPOINT, None, "DescribeImages", PARAMS),
        (ENDPOINT, "default", "DescribeZones", PARAMS),
        (ENDPOINT, "default", "DescribeImages", {**PARAMS, "osType": "windows"}),
        (ENDPOINT, "default", "DescribeImages", {"zoneId": "asia-east-1a"}),
    ],
    ids=["endpoint", "profile", "no-profile", "action", "filter", "fewer-filters"],
)
def test_every_part_of_the_query_changes_the_key(
    cache: PageCache, endpoint: str, profile: str | None, action: str, params: dict[str, str]
) -> None:
    base = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    assert cache.key(endpoint, profile, action, params) != base


@pytest.mark.parametrize(
    ("endpoint", "params", "message"),
    [
        (ENDPOINT, {"accessKeySecret": "s"}, "parameter 'accessKeySecret' looks like a credential"),
        (ENDPOINT, {"token": "t"}, "parameter 'token' looks like a credential"),
        (ENDPOINT, {"filters": {"password": "p"}}, "parameter 'password' looks like a credential"),
        ("https://ak:sk@console.zenlayer.com", {}, "the endpoint holds user info"),
        ("https://console.zenlayer.com/?sig=x", {}, "the endpoint holds user info or a query"),
        (ENDPOINT, {"when": datetime(2025, 1, 1)}, "parameter 'when' is a datetime"),
    ],
    ids=["secret", "token", "nested", "userinfo", "query", "object"],
)
def test_keys_never_take_secrets(
    cache: PageCache, endpoint: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        cache.key(endpoint, "default", "DescribeImages", params)


def test_files_hold_no_credentials(
    cache: PageCache, pages: list[RawPage], sb: sandbox.Sandbox
) -> None:
    key = cache.key(sb.endpoint, sb.access_key_id, "DescribeImages", PARAMS)
    cache.put(key, pages)
    stored = cache.path(key).read_bytes()
    assert sb.access_key_secret.encode() not in stored
    assert sb.access_key_id.encode() not in stored
    assert cache.path(key).name == f"{key}.pages"


# --------------------------------------------------------------------------------------------
# Put, get, TTL


def test_put_then_get_replays_the_same_frame(cache: PageCache, pages: list[RawPage]) -> None:
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    stored = cache.put(key, pages)
    assert (stored.from_cache, stored.age, len(stored.pages)) == (False, 0.0, 3)
    hit = cache.get(key, "15m")
    assert hit is not None
    assert hit.pages == pages
    assert (hit.from_cache, hit.fetched_at) == (True, datetime.fromtimestamp(T0, UTC))
    when = datetime(2025, 6, 15, tzinfo=UTC)
    pd.testing.assert_frame_equal(
        imgframe.normalize_pages(hit.pages, fetched_at=when),
        imgframe.normalize_pages(pages, fetched_at=when),
    )
    assert len(imgframe.normalize_pages(hit.pages)) == 324


@pytest.mark.parametrize(
    ("ttl", "age", "fresh"),
    [("15m", 899, True), ("15m", 900, True), ("15m", 901, False), ("2h", 7199, True),
     ("1d", 86401, False), ("90s", 30, True), (0, 0, True), (0, 1, False), (None, 10**9, True)],
)  # fmt: skip
def test_ttl_expiry_on_the_injected_clock(
    cache: PageCache, clock: Clock, ttl: str | int | None, age: int, fresh: bool
) -> None:
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    cache.put(key, [RawPage("asia-east-1a", 1, b"{}")])
    clock.now = T0 + age
    hit = cache.get(key, ttl)
    assert (hit is not None) == fresh
    if hit is not None:
        assert hit.age == float(age)


def test_an_entry_from_the_future_is_stale(cache: PageCache, clock: Clock) -> None:
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    cache.put(key, [RawPage("z", 1, b"{}")])
    clock.now = T0 - 60  # the clock went back
    assert cache.get(key, "1d") is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("1.5h", 5400),
     (" 15M ", 900), ("0s", 0), (30, 30), (2.5, 2.5), (timedelta(minutes=2), 120)],
)  # fmt: skip
def test_parse_ttl(text: str | float | timedelta, seconds: float) -> None:
    assert parse_ttl(text).total_seconds() == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "15",
            "cache TTL '15': expected a number and a unit (s, m, h, d or w), such as 90s, 15m, 2h or 1d",
        ),
        ("15 minutes", "cache TTL '15 minutes': expected a number and a unit"),
        ("-5m", "cache TTL '-5m': expected a number and a unit"),
        ("1h30m", "cache TTL '1h30m': expected a number and a unit"),
        (-1, "cache TTL -1: must be a finite duration of 0 or more"),
        (float("nan"), "cache TTL nan: must be a finite duration of 0 or more"),
        (True, "cache TTL True: expected a duration such as 15m"),
        ([15], "cache TTL: expected a duration such as '15m', got list"),
    ],
)
def test_parse_ttl_errors(text: object, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_ttl(text)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


# --------------------------------------------------------------------------------------------
# Where and how the files are written


def test_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("IMGFRAME_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "imgframe"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert default_cache_dir() == Path.home() / ".cache" / "imgframe"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "imgframe"
    assert PageCache().directory == tmp_path / "xdg" / "imgframe" / "pages"
    monkeypatch.setenv("IMGFRAME_CACHE_DIR", str(tmp_path / "own"))
    assert PageCache().root == tmp_path / "own"


@pytest.mark.usefixtures("umask_022")
def test_files_are_private(cache: PageCache) -> None:
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    cache.put(key, [RawPage("z", 1, b"{}")])
    cache.put(key, [RawPage("z", 1, b"{}")])  # replacing keeps it private
    assert stat.S_IMODE(cache.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.path(key).stat().st_mode) == 0o600
    assert [p.name for p in cache.directory.iterdir()] == [f"{key}.pages"]  # no temp left


def test_an_existing_root_keeps_its_mode_but_pages_is_private(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    cache = PageCache(root)
    cache.put(cache.key(ENDPOINT, None, "DescribeImages", {}), [])
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700


WRITER = textwrap.dedent(
    """
    import sys
    from imgframe.cache import PageCache
    from imgframe.parse import RawPage
    root, key, tag = sys.argv[1], sys.argv[2], sys.argv[3]
    cache = PageCache(root)
    body = (tag * 200_000).encode()  # big enough that a torn write would show
    for n in range(15):
        cache.put(key, [RawPage("z", 1, body), RawPage("z", 2, body[::-1])])
    """
)


def test_concurrent_writers_leave_one_whole_entry(tmp_path: Path) -> None:
    cache = PageCache(tmp_path / "cache")
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(cache.root), key, tag])
        for tag in "abcd"
    ]
    seen = set()
    while any(w.poll() is None for w in writers):
        hit = cache.get(key, None)
        if hit is not None:
            bodies = [p.body for p in hit.pages]
            assert len(set(bodies[0])) == 1  # one writer's pages, never a mix
            assert bodies[1] == bodies[0][::-1]
            seen.add(bodies[0][:1])
    assert [w.wait() for w in writers] == [0, 0, 0, 0]
    final = cache.get(key, None)
    assert final is not None
    assert final.pages[0].body[:1] in {b"a", b"b", b"c", b"d"}
    assert seen <= {b"a", b"b", b"c", b"d"}
    assert [p.name for p in cache.directory.iterdir()] == [f"{key}.pages"]


# --------------------------------------------------------------------------------------------
# Unreadable entries


def corrupt_truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-3])


def corrupt_flipped(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


def corrupt_garbage(path: Path) -> None:
    path.write_bytes(b"\x00\x01 not a cache file")


def corrupt_other_format(path: Path) -> None:
    path.write_bytes(b'{"format": "something-else"}\n')


def corrupt_extra_bytes(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"more")


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (corrupt_truncated, "page 2 is cut short"),
        (corrupt_flipped, "page 2 does not match its checksum"),
        (corrupt_garbage, "no header line"),
        (corrupt_other_format, "not an imgframe page cache file"),
        (corrupt_extra_bytes, "bytes after the last page"),
    ],
    ids=["truncated", "flipped", "garbage", "format", "extra"],
)
def test_an_unreadable_entry_is_skipped_with_a_warning(
    cache: PageCache, damage: object, why: str
) -> None:
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    cache.put(key, [RawPage("z", 1, b'{"a": 1}'), RawPage("z", 2, b'{"b": 2}')])
    damage(cache.path(key))  # type: ignore[operator]
    with pytest.warns(ImgframeWarning, match=f"ignoring the unreadable page cache entry .*: {why}"):
        assert cache.get(key, "1d") is None


def test_an_entry_under_another_key_is_refused(cache: PageCache) -> None:
    one = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    other = cache.key(ENDPOINT, "default", "DescribeImages", {})
    cache.put(one, [RawPage("z", 1, b"{}")])
    cache.path(other).write_bytes(cache.path(one).read_bytes())
    with pytest.warns(ImgframeWarning, match="filed under another key"):
        assert cache.get(other, None) is None
    with pytest.warns(ImgframeWarning, match="filed under another key"):
        assert [e.key for e in cache.entries()] == [one]


# --------------------------------------------------------------------------------------------
# Listing and clearing


def test_entries_describe_what_is_cached(
    cache: PageCache, clock: Clock, pages: list[RawPage]
) -> None:
    old = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    cache.put(old, pages)
    clock.now = T0 + 3600
    new = cache.key(ENDPOINT, "default", "DescribeZones", {})
    cache.put(new, [RawPage("", 1, b"{}")])
    entries = cache.entries()
    assert [(e.key, e.action, e.params, e.host, e.pages, e.zones) for e in entries] == [
        (new, "DescribeZones", {}, "console.zenlayer.com", 1, ("",)),
        (old, "DescribeImages", PARAMS, "console.zenlayer.com", 3, ("asia-east-1a",)),
    ]
    assert entries[1].fetched_at == datetime.fromtimestamp(T0, UTC)
    assert entries[1].bytes == cache.path(old).stat().st_size
    line = entries[1].describe(now=datetime.fromtimestamp(T0 + 5400, UTC))
    size = f"{entries[1].bytes / 1e6:.1f} MB"
    assert line == (
        f'{old[:12]}  DescribeImages {{"osType": "linux", "zoneId": "asia-east-1a"}} '
        f"@ console.zenlayer.com: 3 pages, {size}, 2h old"
    )


def test_clear(cache: PageCache, clock: Clock) -> None:
    keys = [cache.key(ENDPOINT, "default", "DescribeImages", {"n": n}) for n in range(3)]
    for n, key in enumerate(keys):
        clock.now = T0 + n * 3600
        cache.put(key, [RawPage("z", 1, b"{}")])
    clock.now = T0 + 3 * 3600
    assert cache.clear(older_than="90m") == 2
    assert [e.key for e in cache.entries()] == [keys[2]]
    assert cache.clear() == 1
    assert cache.entries() == []
    assert PageCache(cache.root / "never-made").clear() == 0


# --------------------------------------------------------------------------------------------
# The refresh policy


class Fetcher:
    """Fetches one zone's pages from the sandbox over HTTP, counting the calls."""

    def __init__(self, sb: sandbox.Sandbox) -> None:
        self.sb = sb
        self.calls = 0

    def __call__(self) -> list[RawPage]:
        self.calls += 1
        return imgframe.fetch_images_raw("asia-east-1a", page_size=150, **client_kwargs(self.sb))


def test_fetch_uses_a_fresh_entry_and_refetches_a_stale_one(
    cache: PageCache, clock: Clock, sb: sandbox.Sandbox
) -> None:
    fetch = Fetcher(sb)
    key = cache.key(sb.endpoint, "default", "DescribeImages", PARAMS)
    first = cache.fetch(key, fetch, ttl="15m")
    assert (first.from_cache, fetch.calls, len(first.pages)) == (False, 1, 3)
    clock.now = T0 + 600
    second = cache.fetch(key, fetch, ttl="15m")
    assert (second.from_cache, second.age, fetch.calls) == (True, 600.0, 1)
    assert second.pages == first.pages
    clock.now = T0 + 901
    third = cache.fetch(key, fetch, ttl="15m")
    assert (third.from_cache, fetch.calls) == (False, 2)
    assert cache.get(key, "1s") is not None  # stored at the new time


def test_refresh_force_and_offline(cache: PageCache, clock: Clock, sb: sandbox.Sandbox) -> None:
    fetch = Fetcher(sb)
    key = cache.key(sb.endpoint, "default", "DescribeImages", PARAMS)
    with pytest.raises(DataError) as caught:
        cache.fetch(key, fetch, ttl="15m", refresh="offline")
    assert str(caught.value) == (
        f"offline: nothing is cached for this query in {cache.directory}; "
        "run it once online with a cache TTL (--cache 15m) first"
    )
    assert fetch.calls == 0
    cache.fetch(key, fetch, ttl="15m", refresh="force")
    cache.fetch(key, fetch, ttl="15m", refresh="force")
    assert fetch.calls == 2
    clock.now = T0 + 10 * 86400  # long stale: offline still answers
    offline = cache.fetch(key, fetch, ttl="15m", refresh="offline")
    assert (offline.from_cache, offline.age, fetch.calls) == (True, 10 * 86400.0, 2)


def test_no_ttl_means_no_caching(cache: PageCache, sb: sandbox.Sandbox) -> None:
    fetch = Fetcher(sb)
    key = cache.key(sb.endpoint, "default", "DescribeImages", PARAMS)
    got = cache.fetch(key, fetch, ttl=None)
    assert (got.from_cache, got.path, fetch.calls) == (False, None, 1)
    assert not cache.directory.exists()


def test_an_unwritable_cache_only_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = PageCache(blocker)
    key = cache.key(ENDPOINT, "default", "DescribeImages", PARAMS)
    with pytest.warns(ImgframeWarning, match="the page cache was not written"):
        got = cache.fetch(key, lambda: [RawPage("z", 1, b"{}")], ttl="15m")
    assert isinstance(got, CachedPages)
    assert got.pages == [RawPage("z", 1, b"{}")]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.fetch("0" * 64, list, ttl="15m", refresh="sometimes"), "refresh must be None"),
        (lambda c: c.fetch("0" * 64, list, ttl="soon"), "cache TTL 'soon'"),
        (lambda c: c.get("../etc/passwd", None), "a cache key is the 64 hex digits"),
        (lambda c: c.put("0" * 64, [b"bytes"]), "expected RawPage items"),
    ],
    ids=["refresh", "ttl", "key", "pages"],
)
def test_bad_arguments(cache: PageCache, call: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        call(cache)  # type: ignore[operator]
