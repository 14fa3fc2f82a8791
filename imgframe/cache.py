"""An on-disk cache of raw API pages, so a repeated fetch replays instead of asking again.

Each entry holds the response bodies of one query exactly as received (the
:class:`~imgframe.parse.RawPage` list a fetch keeps), and when they were fetched; replaying
them with :func:`~imgframe.frame.normalize_pages` gives the frame the fetch gave. An entry
is found by :meth:`PageCache.key`: a SHA-256 of the endpoint, the account (profile name or
access key id), the action and its parameters. Nothing secret goes in: parameters that look
like credentials are refused, and the files hold only what the API answered plus the action,
its parameters and the endpoint's host, for :meth:`PageCache.entries`.

Where: ``$IMGFRAME_CACHE_DIR``, else ``$XDG_CACHE_HOME/imgframe``, else
``~/.cache/imgframe`` (or ``PageCache(root=...)``); entries are ``<root>/pages/<key>.pages``.
Directories are made ``0700`` and files ``0600``; each file is written whole or not at all
(:func:`~imgframe.durable.atomic_file`), so concurrent writers of one key leave one complete
entry, and a reader sees an old entry or a new one. A file that does not read back as it
was written (truncated, edited, another format) is skipped with an
:class:`~imgframe.errors.ImgframeWarning`.

How long an entry serves is a TTL: :func:`parse_ttl` reads ``"90s"``, ``"15m"``, ``"2h"``,
``"1d"``, ``"1w"`` (or seconds, or a ``timedelta``). :meth:`PageCache.fetch` is the whole
policy in one call::

    cache = PageCache()
    key = cache.key(endpoint, "default", "DescribeImages", {"zoneId": "all"})
    got = cache.fetch(key, lambda: fetch_the_pages(), ttl="15m", refresh=None)
    got.pages, got.from_cache, got.age

``refresh=None`` uses an entry younger than the TTL, else fetches and stores;
``refresh="force"`` always fetches (and stores); ``refresh="offline"`` never fetches: it
uses the entry whatever its age, and raises :class:`~imgframe.errors.DataError` when there
is none.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .durable import atomic_file
from .errors import DataError, ExportError, ImgframeWarning, InvalidArgument
from .parse import RawPage

__all__ = [
    "CacheEntry",
    "CachedPages",
    "PageCache",
    "Refresh",
    "default_cache_dir",
    "parse_ttl",
]

Refresh = Literal["force", "offline"] | None
TtlLike = str | int | float | timedelta

_FORMAT = "imgframe-page-cache"
_VERSION = 1
_SUFFIX = ".pages"
_KEY = re.compile(r"[0-9a-f]{64}")
_TTL = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: The longest header line read back (a header lists pages, about 100 bytes each).
_MAX_HEADER = 64 * 1024 * 1024
#: Parameter names a cache key never takes: they would be secrets.
_SECRET_NAMES = re.compile(r"secret|password|passwd|token|signature|authorization|credential", re.I)


def parse_ttl(ttl: TtlLike) -> timedelta:
    """A TTL as a ``timedelta``: ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"`` (a number
    and a unit; ``"1.5h"`` too), a number of seconds, or a ``timedelta``. ``0`` means
    nothing cached is fresh.

    >>> [parse_ttl(t).total_seconds() for t in ("90s", "15m", "1.5h", "1d", 30)]
    [90.0, 900.0, 5400.0, 86400.0, 30.0]
    >>> parse_ttl("15 minutes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imgframe.errors.InvalidArgument: cache TTL '15 minutes': expected a number and a unit (s, ...
    """
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, bool):
        raise InvalidArgument(f"cache TTL {ttl!r}: expected a duration such as 15m")
    elif isinstance(ttl, int | float):
        seconds = float(ttl)
    elif isinstance(ttl, str):
        match = _TTL.fullmatch(ttl.strip().lower())
        if match is None:
            raise InvalidArgument(
                f"cache TTL {ttl!r}: expected a number and a unit (s, m, h, d or w), "
                "such as 90s, 15m, 2h or 1d"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise InvalidArgument(
            f"cache TTL: expected a duration such as '15m', got {type(ttl).__name__}"
        )
    if not seconds >= 0 or seconds == float("inf"):  # also NaN
        raise InvalidArgument(f"cache TTL {ttl!r}: must be a finite duration of 0 or more")
    return timedelta(seconds=seconds)


def default_cache_dir() -> Path:
    """``$IMGFRAME_CACHE_DIR``, else ``$XDG_CACHE_HOME/imgframe``, else ``~/.cache/imgframe``
    (a relative ``XDG_CACHE_HOME`` is ignored, as the XDG specification says)."""
    own = os.environ.get("IMGFRAME_CACHE_DIR")
    if own:
        return Path(own).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "imgframe"
    return Path.home() / ".cache" / "imgframe"


@dataclass(frozen=True)
class CachedPages:
    """The pages of one query, from the cache or just fetched (``from_cache``), with when
    they were fetched and their age then (seconds)."""

    key: str
    pages: list[RawPage]
    fetched_at: datetime
    age: float
    from_cache: bool
    path: Path | None = None


@dataclass(frozen=True)
class CacheEntry:
    """One entry as :meth:`PageCache.entries` lists it (read from its header only)."""

    key: str
    path: Path
    action: str
    params: dict[str, Any]
    host: str
    fetched_at: datetime
    pages: int
    bytes: int
    zones: tuple[str, ...] = field(default=())

    def describe(self, now: datetime | None = None) -> str:
        """One line: ``DescribeImages {"zoneId": "all"} @ host: 12 pages, 3.1 MB, 5m old``."""
        age = ((now or datetime.now(UTC)) - self.fetched_at).total_seconds()
        params = json.dumps(self.params, sort_keys=True, ensure_ascii=True)
        where = f" @ {self.host}" if self.host else ""
        pages = f"{self.pages} page" + ("" if self.pages == 1 else "s")
        return (
            f"{self.key[:12]}  {self.action} {params}{where}: {pages}, "
            f"{self.bytes / 1e6:.1f} MB, {_age_text(age)} old"
        )


def _age_text(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


class PageCache:
    """Raw pages on disk, one file per query key (see the module docs).

    ``clock`` gives the time in seconds since the epoch (tests inject one).

    >>> import tempfile
    >>> cache = PageCache(tempfile.mkdtemp(), clock=lambda: 1_000_000.0)
    >>> key = cache.key("https://console.zenlayer.com", "default", "DescribeImages",
    ...                 {"zoneId": "asia-east-1a"})
    >>> _ = cache.put(key, [RawPage("asia-east-1a", 1, b'{"response": {}}')])
    >>> hit = cache.get(key, ttl="15m")
    >>> hit.pages[0].body, hit.age, hit.from_cache
    (b'{"response": {}}', 0.0, True)
    """

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.clock = clock
        self._described: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"PageCache(root={str(self.root)!r})"

    @property
    def directory(self) -> Path:
        """Where the entries are: ``<root>/pages``."""
        return self.root / "pages"

    def key(
        self, endpoint: str, profile: str | None, action: str, params: Mapping[str, Any]
    ) -> str:
        """The key of a query: a SHA-256 (hex) of the endpoint, the account, the action and
        its parameters, stable across runs and machines (parameters in any order).

        ``profile`` tells accounts apart: a profile name or an access key id, never a secret
        or a token. ``params`` are what decide the answer (the filters and zones), not
        ``pageNum``/``pageSize``. A parameter named like a credential is refused
        (:class:`~imgframe.errors.InvalidArgument`).
        """
        checked = _plain_params(params)
        if profile is not None and not isinstance(profile, str):
            raise InvalidArgument("cache key: profile must be a name or an access key id")
        material = {
            "format": _FORMAT,
            "version": _VERSION,
            "endpoint": _endpoint_identity(endpoint),
            "profile": profile or "",
            "action": str(action),
            "params": checked,
        }
        text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        key = _sha256(text)
        self._described[key] = {
            "action": str(action),
            "params": checked,
            "host": urlsplit(endpoint).hostname or "",
        }
        return key

    def path(self, key: str) -> Path:
        """The file of ``key`` (it may not exist)."""
        return self.directory / f"{_checked_key(key)}{_SUFFIX}"

    def get(self, key: str, ttl: TtlLike | None) -> CachedPages | None:
        """The pages cached under ``key`` if they were fetched at most ``ttl`` ago (any age
        with ``ttl=None``), else None. An unreadable entry is None, with a warning."""
        limit = None if ttl is None else parse_ttl(ttl).total_seconds()
        path = self.path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError):
            return None  # nothing cached (put says when the cache cannot be written)
        except OSError as exc:
            _warn_unreadable(path, str(exc))
            return None
        with handle:
            try:
                header = _read_header(handle, key)
                if limit is not None and not 0 <= self.clock() - header["fetchedAtEpoch"] <= limit:
                    return None
                pages = _read_pages(handle, header)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _warn_unreadable(path, str(exc))
                return None
        fetched = float(header["fetchedAtEpoch"])
        return CachedPages(
            key=key,
            pages=pages,
            fetched_at=datetime.fromtimestamp(fetched, UTC),
            age=max(self.clock() - fetched, 0.0),
            from_cache=True,
            path=path,
        )

    def put(self, key: str, pages: Sequence[RawPage]) -> CachedPages:
        """Store ``pages`` under ``key`` (replacing an older entry), fetched now by the
        clock. What :meth:`key` was given for this key (action, parameters, host) goes in
        the header for :meth:`entries`. Raises :class:`~imgframe.errors.ExportError` when
        the file cannot be written (the previous entry, if any, is intact)."""
        path = self.path(key)
        pages = list(pages)
        for page in pages:
            if not isinstance(page, RawPage):
                raise InvalidArgument(
                    f"cache put: expected RawPage items, got {type(page).__name__}"
                )
        now = self.clock()
        header = {
            "format": _FORMAT,
            "version": _VERSION,
            "key": key,
            **self._described.get(key, {"action": "", "params": {}, "host": ""}),
            "fetchedAtEpoch": now,
            "fetchedAt": datetime.fromtimestamp(now, UTC).isoformat(),
            "pages": [
                {
                    "zone": p.zone_id,
                    "page": p.page_num,
                    "requestId": p.request_id,
                    "bytes": len(p.body),
                    "crc32": zlib.crc32(p.body),
                }
                for p in pages
            ],
        }
        self._private_directory()
        line = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
        with atomic_file(path) as sink:
            sink.write(line)
            for page in pages:
                sink.write(page.body)
        try:
            os.chmod(path, 0o600)
        except OSError as exc:
            raise ExportError(f"cannot make the cache entry {path} private: {exc}") from exc
        return CachedPages(
            key=key,
            pages=pages,
            fetched_at=datetime.fromtimestamp(now, UTC),
            age=0.0,
            from_cache=False,
            path=path,
        )

    def fetch(
        self,
        key: str,
        fetch: Callable[[], Sequence[RawPage]],
        *,
        ttl: TtlLike | None,
        refresh: Refresh = None,
    ) -> CachedPages:
        """The pages of ``key`` by the refresh policy (module docs): cached when fresh, else
        ``fetch()`` and stored. A store that cannot be written only warns: the fetched pages
        are still returned. ``ttl=None`` (no caching asked) always fetches and stores nothing,
        unless ``refresh="offline"``.
        """
        if refresh not in (None, "force", "offline"):
            raise InvalidArgument(f"refresh must be None, 'force' or 'offline', not {refresh!r}")
        if ttl is not None:
            parse_ttl(ttl)  # a bad TTL fails before any request
        if refresh == "offline":
            hit = self.get(key, None)
            if hit is None:
                raise DataError(
                    f"offline: nothing is cached for this query in {self.directory}; "
                    "run it once online with a cache TTL (--cache 15m) first"
                )
            return hit
        if refresh is None and ttl is not None:
            hit = self.get(key, ttl)
            if hit is not None:
                return hit
        pages = list(fetch())
        now = self.clock()
        fetched = CachedPages(key, pages, datetime.fromtimestamp(now, UTC), 0.0, False, None)
        if ttl is None:
            return fetched
        try:
            return self.put(key, pages)
        except ExportError as exc:
            warnings.warn(f"the page cache was not written: {exc}", ImgframeWarning, stacklevel=2)
            return fetched

    def entries(self) -> list[CacheEntry]:
        """Every readable entry, newest first (unreadable ones are skipped with a warning)."""
        found = []
        try:
            paths = sorted(self.directory.glob(f"*{_SUFFIX}"))
        except OSError:
            return []
        for path in paths:
            key = path.name.removesuffix(_SUFFIX)
            if not _KEY.fullmatch(key):
                continue
            try:
                with path.open("rb") as handle:
                    header = _read_header(handle, key)
                size = path.stat().st_size
            except FileNotFoundError:
                continue  # cleared meanwhile
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _warn_unreadable(path, str(exc))
                continue
            found.append(
                CacheEntry(
                    key=key,
                    path=path,
                    action=str(header.get("action", "")),
                    params=dict(header.get("params", {})),
                    host=str(header.get("host", "")),
                    fetched_at=datetime.fromtimestamp(float(header["fetchedAtEpoch"]), UTC),
                    pages=len(header["pages"]),
                    bytes=size,
                    zones=tuple(dict.fromkeys(str(p["zone"]) for p in header["pages"])),
                )
            )
        return sorted(found, key=lambda e: e.fetched_at, reverse=True)

    def clear(self, older_than: TtlLike | None = None) -> int:
        """Remove every entry (with ``older_than``, those fetched longer ago than that, and
        unreadable ones); returns how many files were removed."""
        limit = None if older_than is None else parse_ttl(older_than).total_seconds()
        removed = 0
        try:
            paths = list(self.directory.glob(f"*{_SUFFIX}"))
        except OSError:
            return 0
        for path in paths:
            if limit is not None:
                try:
                    with path.open("rb") as handle:
                        header = _read_header(handle, path.name.removesuffix(_SUFFIX))
                    if self.clock() - float(header["fetchedAtEpoch"]) <= limit:
                        continue
                except FileNotFoundError:
                    continue
                except (OSError, ValueError, KeyError, TypeError):
                    pass  # unreadable: nothing to keep
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ExportError(f"cannot remove the cache entry {path}: {exc}") from exc
        return removed

    def _private_directory(self) -> None:
        """Make ``<root>/pages`` (and a missing root) owner-only."""
        try:
            try:
                self.root.mkdir(parents=True, mode=0o700)
                os.chmod(self.root, 0o700)  # ours: owner-only, whatever the umask
            except FileExistsError:
                pass  # someone's (or another writer's, a moment ago): left as it is
            self.directory.mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise ExportError(f"cannot create the page cache {self.directory}: {exc}") from exc


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _checked_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidArgument("a cache key is the 64 hex digits PageCache.key() returns")
    return key


def _endpoint_identity(endpoint: str) -> str:
    """scheme://host:port/path of the endpoint; user info and query are never part of it."""
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidArgument("cache key: endpoint must be the API's URL")
    parts = urlsplit(endpoint)
    if parts.username is not None or parts.password is not None or parts.query:
        raise InvalidArgument(
            "cache key: the endpoint holds user info or a query string; give its plain URL"
        )
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"


def _plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise InvalidArgument("cache key: params must be a mapping of request fields")
    out: dict[str, Any] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise InvalidArgument("cache key: parameter names must be text")
        if _SECRET_NAMES.search(name):
            raise InvalidArgument(
                f"cache key: parameter {name!r} looks like a credential; keys never hold secrets"
            )
        out[name] = _plain_value(name, value)
    return out


def _plain_value(name: str, value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_plain_value(name, v) for v in value]
    if isinstance(value, Mapping):
        return dict(_plain_params(value))
    raise InvalidArgument(
        f"cache key: parameter {name!r} is a {type(value).__name__}; give text, numbers, "
        "lists or mappings"
    )


def _read_header(handle: Any, key: str) -> dict[str, Any]:
    line = handle.readline(_MAX_HEADER)
    if not line.endswith(b"\n"):
        raise ValueError("no header line")
    header = json.loads(line)
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ValueError("not an imgframe page cache file")
    if header.get("version") != _VERSION:
        raise ValueError(f"cache format version {header.get('version')!r}, not {_VERSION}")
    if header.get("key") != key:
        raise ValueError("the entry is filed under another key")
    if not isinstance(header.get("pages"), list):
        raise ValueError("the header lists no pages")
    float(header["fetchedAtEpoch"])
    return header


def _read_pages(handle: Any, header: Mapping[str, Any]) -> list[RawPage]:
    pages = []
    for number, meta in enumerate(header["pages"], start=1):
        size = int(meta["bytes"])
        body = handle.read(size)
        if len(body) != size:
            raise ValueError(f"page {number} is cut short ({len(body)} of {size} bytes)")
        if zlib.crc32(body) != int(meta["crc32"]):
            raise ValueError(f"page {number} does not match its checksum")
        request_id = meta.get("requestId")
        pages.append(
            RawPage(
                zone_id=str(meta["zone"]),
                page_num=int(meta["page"]),
                body=body,
                request_id=None if request_id is None else str(request_id),
            )
        )
    if handle.read(1):
        raise ValueError("bytes after the last page")
    return pages


def _warn_unreadable(path: Path, why: str) -> None:
    warnings.warn(
        f"ignoring the unreadable page cache entry {path}: {why[:200]}",
        ImgframeWarning,
        stacklevel=3,
    )
