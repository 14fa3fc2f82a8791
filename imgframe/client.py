"""The client: fetch images and zones from the ZEC API (real or sandbox) as typed frames.

:class:`Client` resolves credentials and the endpoint (:mod:`imgframe.credentials`), owns one
pooled :class:`~imgframe.transport.Transport`, and pages every listing with a
:class:`~imgframe.paging.Pager`. The module-level functions (:func:`fetch_images`,
:func:`fetch_zones`, :func:`fetch_images_raw`) are one call with one temporary client.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import pandas as pd

from .cache import PageCache, Refresh, TtlLike, parse_ttl
from .credentials import resolve_credentials, resolve_endpoint
from .defaults import DEFAULT_CONCURRENCY, DEFAULT_PAGE_SIZE
from .errors import (
    ConsistencyWarning,
    DataError,
    ExportError,
    ImgframeWarning,
    IncompleteError,
    InvalidArgument,
    NotListedError,
)
from .filters import (
    CUSTOM_IMAGE_FILTERS,
    IMAGE_FILTERS,
    INSTANCE_FILTERS,
    CustomImageFilterArgs,
    CustomImageFilters,
    Filters,
    ImageFilterArgs,
    ImageFilters,
    InstanceFilterArgs,
    InstanceFilters,
    check_concurrency,
    check_page_size,
    check_repages,
    check_zone_id,
    filter_signature,
)
from .frame import frame_from_tables, listing_frame, zones_frame
from .paging import Listing, ListingReport, Pager, PagingResult, replay
from .parse import (
    CUSTOM_IMAGES,
    IMAGES,
    INSTANCES,
    PageSpec,
    RawPage,
    parse_page,
    parse_zones,
    save_pages,
)
from .schema import CATEGORICAL_COLUMNS
from .transport import RetryPolicy, Slots, Timeouts, Transport

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["Client", "ConnectionArgs", "fetch_images", "fetch_images_raw", "fetch_zones"]

log = logging.getLogger("imgframe.client")


class ConnectionArgs(TypedDict, total=False):
    """The keyword arguments of :class:`Client` that the module-level functions pass on."""

    endpoint: str | None
    access_key_id: str | None
    access_key_secret: str | None
    token: str | None
    profile: str | None
    timeouts: Timeouts | None
    retry: RetryPolicy | None
    max_concurrency: int
    clock: Callable[[], float]
    slots: Slots | None


class _CacheUse:
    """The page cache as one call uses it: the TTL, the refresh policy, and what it found."""

    def __init__(self, ttl: TtlLike | None, refresh: Refresh, store: PageCache | None) -> None:
        if refresh not in (None, "force", "offline"):
            raise InvalidArgument(f"refresh must be None, 'force' or 'offline', not {refresh!r}")
        if ttl is not None:
            parse_ttl(ttl)  # a bad TTL fails before any request
        self.ttl = ttl
        self.refresh = refresh
        self.store = store or PageCache()
        #: One record per listing run: its key, whether it came from the cache, its age.
        self.used: list[dict[str, Any]] = []

    @classmethod
    def of(
        cls, ttl: TtlLike | None, refresh: Refresh, store: PageCache | None = None
    ) -> _CacheUse | None:
        return None if ttl is None and refresh is None else cls(ttl, refresh, store)

    def hit(self, key: str) -> tuple[list[RawPage], datetime, float] | None:
        """The kept pages of ``key`` this policy may use (None: fetch), or the offline error."""
        if self.refresh == "force":
            return None
        found = self.store.get(key, None if self.refresh == "offline" else self.ttl)
        if found is None and self.refresh == "offline":
            raise DataError(
                f"offline: nothing is cached for this query in {self.store.directory}; run it "
                "once online with a cache TTL (cache='15m', --cache 15m) first"
            )
        return None if found is None else (found.pages, found.fetched_at, found.age)

    def keep(self, key: str, pages: list[RawPage]) -> datetime | None:
        """Store the pages of a complete, settled run (only with a TTL); failing warns.
        Returns the time the entry records as the fetch's (None: nothing kept)."""
        if self.ttl is None:
            return None
        try:
            return self.store.put(key, pages).fetched_at
        except ExportError as exc:
            warnings.warn(f"the page cache was not written: {exc}", ImgframeWarning, stacklevel=4)
            return None


class Client:
    """A connection to the ZEC API (real or sandbox) that fetches images and zones.

    Credentials and endpoint are resolved as :mod:`imgframe.credentials` describes. Reuse one
    client for several fetches to reuse its connections.

    >>> from imgframe import sandbox
    >>> with sandbox.running(images=300) as sb, Client.for_sandbox(sb) as client:
    ...     len(client.fetch_images("asia-east-1a", os_type="linux", image_type="PUBLIC_IMAGE"))
    16
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        token: str | None = None,
        profile: str | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
        slots: Slots | None = None,
    ) -> None:
        self.max_concurrency = check_concurrency(max_concurrency)
        #: The profile the credentials came from, when one was named.
        self.profile = profile
        #: Requests in flight at once, across every listing and action of this client (and
        #: of other clients given the same ``slots``: several accounts in one run), halved
        #: while the API throttles (see :class:`~imgframe.transport.Slots`).
        self.slots = slots or Slots(self.max_concurrency)
        endpoint = resolve_endpoint(endpoint)  # first: a bad endpoint is the clearer error
        credentials = resolve_credentials(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            token=token,
            profile=profile,
        )
        self.transport = Transport(
            credentials,
            endpoint,
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
            clock=clock,
            pool_size=max(self.max_concurrency, 4),
        )

    @classmethod
    def for_sandbox(cls, sb: Sandbox, **kwargs: Unpack[ConnectionArgs]) -> Client:
        """A client for a running :mod:`imgframe.sandbox`, with its demo credentials."""
        kwargs["endpoint"] = sb.endpoint
        kwargs["access_key_id"] = sb.access_key_id
        kwargs["access_key_secret"] = sb.access_key_secret
        return cls(**kwargs)

    def __repr__(self) -> str:
        transport = self.transport
        return f"Client(endpoint={transport.endpoint!r}, credentials={transport.credentials!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch_zones(
        self,
        zone_ids: Iterable[str] | None = None,
        *,
        cache: TtlLike | None = None,
        refresh: Refresh = None,
    ) -> pd.DataFrame:
        """The zones (DescribeZones) as a DataFrame, one row per zone, sorted by ``zoneId``
        (``cache``/``refresh`` as for :meth:`fetch_images`)."""
        return self._zones(zone_ids, _CacheUse.of(cache, refresh))

    def _zones(self, zone_ids: Iterable[str] | None, use: _CacheUse | None) -> pd.DataFrame:
        params: dict[str, Any] = {}
        if zone_ids is not None:
            params["zoneIds"] = [check_zone_id(z) for z in zone_ids]
        key = None if use is None else self._cache_key(use, "DescribeZones", params)
        found = None if use is None or key is None else use.hit(key)
        if found is not None:
            return zones_frame(parse_zones(found[0][0].body))
        bodies: list[bytes] = []

        def parse(body: bytes) -> list[dict[str, Any]]:
            zones = parse_zones(body)
            bodies.append(body)
            return zones

        # One of the requests in flight, like every page.
        zones = self.transport.call("DescribeZones", params, parse=parse, slots=self.slots)
        if use is not None and key is not None:
            use.keep(key, [RawPage("", 1, bodies[-1])])
        return zones_frame(zones)

    def _cache_key(self, use: _CacheUse, action: str, params: Mapping[str, Any]) -> str:
        """The cache key of one query of this client's account (a profile name, the access
        key id, or a digest of the token: never a secret)."""
        creds = self.transport.credentials
        if self.profile:
            account = f"profile:{self.profile}"
        elif creds.access_key_id:
            account = f"key:{creds.access_key_id}"
        else:
            digest = hashlib.sha256((creds.token or "").encode("utf-8")).hexdigest()
            account = f"token:{digest[:32]}"
        return use.store.key(self.transport.endpoint, account, action, params)

    def _run(
        self, spec: PageSpec, pager: Pager, listings: list[Listing], use: _CacheUse | None
    ) -> PagingResult:
        """Page ``listings``, or replay them from the cache when ``use`` allows; a complete,
        settled result is kept for the next call."""
        if use is None:
            return pager.run(listings)
        params = {
            "listings": {lst.key: dict(lst.params) for lst in listings},
            "pageSize": pager.page_size,
        }
        key = self._cache_key(use, spec.action, params)
        found = use.hit(key)
        if found is not None:
            pages, fetched_at, age = found
            log.info(
                "%s: %d cached pages from %s ago, no request (cache %s)",
                spec.action,
                len(pages),
                _age(age),
                key[:12],
            )
            use.used.append({"key": key, "fromCache": True, "ageSeconds": round(age, 1)})
            return replay(
                spec.action,
                [lst.key for lst in listings],
                pages,
                pager.parse,
                fetched_at=fetched_at,
            )
        pager.keep_raw = True
        result = pager.run(listings)
        if result.complete and all(r.settled for r in result.reports.values()):
            kept = use.keep(key, result.raw_pages)
            if kept is not None:  # the frame says the time the cache will replay
                result = dataclasses.replace(result, fetched_at=kept)
        use.used.append({"key": key, "fromCache": False, "ageSeconds": 0.0})
        return result

    @filter_signature(IMAGE_FILTERS, ImageFilterArgs)
    def fetch_images(
        self,
        zone_id: str | Sequence[str] = "all",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        raw_dir: str | os.PathLike[str] | None = None,
        max_repages: int = 2,
        verify: bool = False,
        allow_incomplete: bool = False,
        cache: TtlLike | None = None,
        refresh: Refresh = None,
        **filters: Unpack[ImageFilterArgs],
    ) -> pd.DataFrame:
        """Every image matching the filters, as a typed DataFrame (see :mod:`imgframe.frame`).

        ``zone_id`` is one zone, a list of zones, or ``"all"`` (every zone DescribeZones
        lists). The frame has the same columns whatever was asked: the zone columns
        (``regionId``, ``zoneName``, ``cityName``, ``countryCode``) are always joined on.
        The filters are those of :class:`~imgframe.filters.ImageFilterArgs`, checked before
        any request. ``raw_dir`` also saves every response body as received, for
        :func:`~imgframe.frame.normalize_pages` to replay. ``verify=True`` pages each
        multi-page zone until two passes agree (see :mod:`imgframe.paging`); ``max_repages``
        bounds the extra passes.

        A zone whose pages never add up to the ``totalCount`` they announce makes the result
        incomplete: :class:`~imgframe.errors.IncompleteError` is raised (its ``result`` holds
        the frame), unless ``allow_incomplete=True``, which returns the frame with a
        :class:`~imgframe.errors.ConsistencyWarning`.

        ``cache="15m"`` (a TTL: ``"90s"``, ``"2h"``, ``"1d"``...) keeps the raw pages on disk
        (:class:`~imgframe.cache.PageCache`, keyed by endpoint, account, action and filters,
        never a secret): within the TTL the same call makes no request, and
        ``attrs["imgframe"]["cache"]`` says the data's age. ``refresh="force"`` fetches anew
        (and keeps the pages); ``refresh="offline"`` never asks the API: it uses what is kept,
        however old, or raises :class:`~imgframe.errors.DataError`.

        The frame's ``attrs["imgframe"]`` records the filters, zones, totals, per-zone rows,
        whether the result is complete, request ids, and the requests and retries it took.
        """
        checked = ImageFilters.build(**filters)
        check_page_size(page_size)
        check_repages(max_repages)
        use = _CacheUse.of(cache, refresh)
        before = self.transport.stats.snapshot()
        with ThreadPoolExecutor(1, thread_name_prefix="imgframe-zones") as side:
            # One zone: its DescribeZones record goes alongside the pages, not before them.
            zones, single = self._zones_for(zone_id, side, use)
            result = self._page_images(
                zones,
                zone_id,
                checked,
                page_size=page_size,
                progress=progress,
                keep_raw=raw_dir is not None,
                max_repages=max_repages,
                verify=verify,
                use=use,
            )
            zones_frame_ = single.result() if single is not None else zones
        if raw_dir is not None:
            save_pages(result.raw_pages, raw_dir)
        notes = _settle_notes(result)
        frame = frame_from_tables(
            result.tables,
            result.keys,
            fetched_at=result.fetched_at,
            zones=zones_frame_,
            release=True,
            notes=notes,
        )
        return self._finish(
            IMAGES, frame, result, checked, before, notes, page_size, allow_incomplete, use
        )

    def _finish(
        self,
        spec: PageSpec,
        frame: pd.DataFrame,
        result: PagingResult,
        filters: Filters,
        before: Mapping[str, Any],
        notes: list[str],
        page_size: int,
        allow_incomplete: bool,
        use: _CacheUse | None = None,
    ) -> pd.DataFrame:
        """Record the fetch in ``frame.attrs["imgframe"]``; raise (or warn) when incomplete."""
        reports = result.reports
        frame.attrs["imgframe"] = {
            "filters": filters.to_api(),
            "zones": [k for k in result.keys if k],
            "totalCounts": result.totals,
            "rows": {key: report.rows for key, report in reports.items()},
            "complete": result.complete,
            "incomplete": {
                key: {"missing": r.missing, "reason": r.reason}
                for key, r in reports.items()
                if not r.complete
            },
            "warnings": notes,
            "fetchedAt": result.fetched_at.isoformat(),
            "requestIds": result.request_ids,
            "seconds": round(result.seconds, 3),
            **self.transport.stats.since(before),
        }
        if use is not None:
            frame.attrs["imgframe"]["cache"] = use.used[-1] if use.used else None
        zones = sum(1 for key in result.keys if key)
        log.info(
            "fetched %d %s from %s in %.2fs",
            len(frame),
            spec.noun,
            f"{zones} zone(s)" if zones else "the account",
            result.seconds,
        )
        if not result.complete:
            message = self._incomplete(
                frame, reports, page_size, noun=spec.noun, allow=allow_incomplete
            )
            frame.attrs["imgframe"]["warnings"].append(message)
        return frame

    @staticmethod
    def _incomplete(
        frame: pd.DataFrame,
        reports: dict[str, ListingReport],
        page_size: int,
        *,
        noun: str,
        allow: bool,
    ) -> str:
        """Raise :class:`IncompleteError` for a result known to be short; with ``allow``,
        warn instead and return the message."""
        short = {key: r for key, r in reports.items() if not r.complete}
        details = "; ".join(
            f"{'zone ' + key if key else 'the listing'}: {r.rows} of the {r.total} {noun} its "
            f"pages announced ({r.reason})"
            for key, r in sorted(short.items())
        )
        hint = (
            f" (the server may cap pages below pageSize={page_size}: try a smaller page size)"
            if any("held" in r.reason for r in short.values())
            else ""
        )
        message = f"the result is incomplete: {details}{hint}"
        if allow:
            warnings.warn(message, ConsistencyWarning, stacklevel=3)
            return message
        raise IncompleteError(
            message + "; pass allow_incomplete=True (--allow-incomplete) to keep what came",
            result=frame,
            missing={zone: r.missing for zone, r in short.items()},
        )

    @filter_signature(IMAGE_FILTERS, ImageFilterArgs)
    def fetch_images_raw(
        self,
        zone_id: str | Sequence[str] = "all",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        **filters: Unpack[ImageFilterArgs],
    ) -> list[RawPage]:
        """Every DescribeImages page as received (bytes), for saving and offline replay."""
        checked = ImageFilters.build(**filters)
        zones, _ = self._zones_for(zone_id, None)
        return self._page_images(
            zones, zone_id, checked, page_size=page_size, progress=progress, keep_raw=True
        ).raw_pages

    def _zones_for(
        self,
        zone_id: str | Sequence[str],
        side: ThreadPoolExecutor | None,
        use: _CacheUse | None = None,
    ) -> tuple[pd.DataFrame | None, Future[pd.DataFrame] | None]:
        """(the zones to page, or None for one zone; for one zone, its DescribeZones record
        being fetched on ``side``, when given)."""
        if isinstance(zone_id, str):
            if zone_id == "all":
                zones = self._zones(None, use)
                if zones.empty:
                    raise NotListedError("DescribeZones listed no zones; nothing to fetch")
                return zones, None
            check_zone_id(zone_id)
            return None, side.submit(self._zone_record, zone_id, use) if side is not None else None
        try:
            wanted = list(dict.fromkeys(check_zone_id(z) for z in zone_id))
        except TypeError:
            raise InvalidArgument(
                "zone_id must be a zone id, a list of zone ids, or 'all'"
            ) from None
        if not wanted:
            raise InvalidArgument("zone_id is an empty list; give at least one zone or 'all'")
        known = self._zones(None, use)
        missing = [z for z in wanted if z not in set(known["zoneId"])]
        if missing:
            raise NotListedError(
                f"unknown zone(s) {', '.join(missing)}; DescribeZones lists: "
                + ", ".join(known["zoneId"])
            )
        return known.set_index("zoneId").loc[wanted].reset_index(), None

    def _zone_record(self, zone_id: str, use: _CacheUse | None = None) -> pd.DataFrame:
        zones = self._zones([zone_id], use)
        zones = zones[zones["zoneId"] == zone_id]
        if zones.empty:
            raise NotListedError(f"DescribeZones does not list zone {zone_id}")
        return zones

    def _page_images(
        self,
        zones: pd.DataFrame | None,
        zone_id: str | Sequence[str],
        filters: ImageFilters,
        *,
        page_size: int,
        progress: bool | None,
        keep_raw: bool,
        max_repages: int = 2,
        verify: bool = False,
        use: _CacheUse | None = None,
    ) -> PagingResult:
        """Page DescribeImages over the zones listed (or the one zone asked for)."""
        zone_ids = list(zones["zoneId"]) if zones is not None else [str(zone_id)]
        base = filters.to_api()
        pager = self._pager(
            IMAGES,
            page_size=page_size,
            progress=progress,
            keep_raw=keep_raw,
            max_repages=max_repages,
            verify=verify,
        )
        listings = [Listing(zone, {"zoneId": zone, **base}) for zone in zone_ids]
        return self._run(IMAGES, pager, listings, use)

    def _pager(self, spec: PageSpec, **options: Any) -> Pager:
        return Pager(
            self.transport,
            spec.action,
            parse=functools.partial(parse_page, spec=spec),
            id_column=spec.id_column,
            max_concurrency=self.max_concurrency,
            slots=self.slots,
            unit=spec.noun.removesuffix("s"),
            **options,
        )

    @filter_signature(CUSTOM_IMAGE_FILTERS, CustomImageFilterArgs)
    def fetch_custom_images(
        self,
        region_id: str | None = None,
        /,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        max_repages: int = 2,
        allow_incomplete: bool = False,
        cache: TtlLike | None = None,
        refresh: Refresh = None,
        columns: Sequence[str] | None = None,
        **filters: Unpack[CustomImageFilterArgs],
    ) -> pd.DataFrame:
        """The account's custom images (DescribeCustomImages, account-wide), one row per
        image: the image columns (categoricals, ``imageSize`` in GiB, Arrow lists) plus
        ``regionIdList`` (the regions where it is available), ``resourceGroupId`` and
        ``resourceGroupName``, then ``fetchedAt``. ``region_id`` and the other filters are
        those of :class:`~imgframe.filters.CustomImageFilterArgs`.

        ``columns`` reads only those fields (and the id): the others are skipped as each
        page is parsed, much faster when a few of many are needed.
        """
        if region_id is not None:
            filters["region_id"] = region_id
        return self._account_listing(
            CUSTOM_IMAGES if columns is None else CUSTOM_IMAGES.narrowed(columns),
            CustomImageFilters.build(**filters),
            [""],
            categoricals=IMAGE_CATEGORICALS,
            page_size=page_size,
            progress=progress,
            max_repages=max_repages,
            allow_incomplete=allow_incomplete,
            use=_CacheUse.of(cache, refresh),
        )

    @filter_signature(INSTANCE_FILTERS, InstanceFilterArgs)
    def fetch_instances(
        self,
        zone_id: str | Sequence[str] = "all",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        max_repages: int = 2,
        allow_incomplete: bool = False,
        cache: TtlLike | None = None,
        refresh: Refresh = None,
        columns: Sequence[str] | None = None,
        **filters: Unpack[InstanceFilterArgs],
    ) -> pd.DataFrame:
        """Instances (DescribeInstances), one row per instance, typed like the image frame:
        ``zoneId``, ``status`` and ``instanceType`` categoricals, ``createTime`` and
        ``expiredTime`` UTC timestamps, Arrow lists for addresses and ``tags``. ``zone_id``
        ``"all"`` lists the account in one listing; a zone or a list of zones lists each.
        ``image_id`` (and the other filters of :class:`~imgframe.filters.InstanceFilterArgs`)
        narrow it: the join key for "is this image used".

        ``columns`` reads only those fields (and the id): the others are skipped as each
        page is parsed, much faster when a few of many are needed.
        """
        checked = InstanceFilters.build(**filters)
        if isinstance(zone_id, str) and zone_id == "all":
            zones = [""]
        elif isinstance(zone_id, str):
            zones = [check_zone_id(zone_id)]
        else:
            zones = list(dict.fromkeys(check_zone_id(z) for z in zone_id))
            if not zones:
                raise InvalidArgument("zone_id is an empty list; give a zone or 'all'")
        return self._account_listing(
            INSTANCES if columns is None else INSTANCES.narrowed(columns),
            checked,
            zones,
            categoricals=("zoneId", "status", "instanceType"),
            timestamps=("createTime", "expiredTime"),
            page_size=page_size,
            progress=progress,
            max_repages=max_repages,
            allow_incomplete=allow_incomplete,
            use=_CacheUse.of(cache, refresh),
        )

    def _account_listing(
        self,
        spec: PageSpec,
        filters: Filters,
        zones: list[str],
        *,
        categoricals: Sequence[str],
        timestamps: Sequence[str] = (),
        page_size: int,
        progress: bool | None,
        max_repages: int,
        allow_incomplete: bool,
        use: _CacheUse | None = None,
    ) -> pd.DataFrame:
        """Page ``spec``'s action once per zone given ("": account-wide, no zone sent) and
        build its frame."""
        check_page_size(page_size)
        check_repages(max_repages)
        before = self.transport.stats.snapshot()
        base = filters.to_api()
        pager = self._pager(spec, page_size=page_size, progress=progress, max_repages=max_repages)
        listings = [Listing(z, {**base, "zoneId": z} if z else base) for z in zones]
        result = self._run(spec, pager, listings, use)
        notes = _settle_notes(result)
        frame = listing_frame(
            result.tables,
            spec.records,
            categoricals=categoricals,
            timestamps=timestamps,
            fetched_at=result.fetched_at,
            notes=notes,
        )
        return self._finish(
            spec, frame, result, filters, before, notes, page_size, allow_incomplete, use
        )


def _settle_notes(result: PagingResult) -> list[str]:
    """The warnings of listings that kept changing while they were paged (each warned)."""
    notes = [r.reason for r in result.reports.values() if not r.settled]
    for note in notes:
        warnings.warn(note, ConsistencyWarning, stacklevel=3)
    return notes


#: The image frame's categoricals but ``zoneId`` (custom images are account-wide).
IMAGE_CATEGORICALS = tuple(c for c in CATEGORICAL_COLUMNS if c != "zoneId")


# --------------------------------------------------------------------------------------------
# Module-level shortcuts: one call, one temporary client.


class _ImagesCall(ConnectionArgs, ImageFilterArgs, total=False):
    """What the module-level image functions take besides their own options."""


_CONNECTION_NAMES = frozenset(ConnectionArgs.__annotations__)


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(connection arguments, the rest)."""
    connection = {k: v for k, v in kwargs.items() if k in _CONNECTION_NAMES}
    return connection, {k: v for k, v in kwargs.items() if k not in _CONNECTION_NAMES}


@filter_signature(IMAGE_FILTERS, ImageFilterArgs)
def fetch_images(
    zone_id: str | Sequence[str] = "all",
    *,
    client: Client | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: bool | None = None,
    raw_dir: str | os.PathLike[str] | None = None,
    max_repages: int = 2,
    verify: bool = False,
    allow_incomplete: bool = False,
    cache: TtlLike | None = None,
    refresh: Refresh = None,
    **kwargs: Unpack[_ImagesCall],
) -> pd.DataFrame:
    """Every image matching the filters as a typed DataFrame; see :meth:`Client.fetch_images`.

    Connection arguments (``endpoint``, ``access_key_id``, ``access_key_secret``, ``token``,
    ``profile``, ``timeouts``, ``retry``, ``max_concurrency``; :class:`ConnectionArgs`) build
    a temporary :class:`Client` when ``client`` is not given; the other keywords are filters.

    >>> import imgframe
    >>> with imgframe.sandbox.running(images=300) as sb:
    ...     df = imgframe.fetch_images("asia-east-1a", os_type="linux", endpoint=sb.endpoint,
    ...         access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret)
    >>> df.loc[:2, "imageId"].tolist()
    ['ubuntu2404_20240712', 'ubuntu2204_20240712', 'ubuntu2004_20240712']
    """
    connection, filters = _split(dict(kwargs))
    options: dict[str, Any] = {
        "page_size": page_size,
        "progress": progress,
        "raw_dir": raw_dir,
        "max_repages": max_repages,
        "verify": verify,
        "allow_incomplete": allow_incomplete,
        "cache": cache,
        "refresh": refresh,
    }
    if client is not None:
        return client.fetch_images(zone_id, **options, **filters)
    with Client(**connection) as temporary:
        return temporary.fetch_images(zone_id, **options, **filters)


@filter_signature(IMAGE_FILTERS, ImageFilterArgs)
def fetch_images_raw(
    zone_id: str | Sequence[str] = "all",
    *,
    client: Client | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: bool | None = None,
    **kwargs: Unpack[_ImagesCall],
) -> list[RawPage]:
    """Every DescribeImages page as received; see :meth:`Client.fetch_images_raw`."""
    connection, filters = _split(dict(kwargs))
    if client is not None:
        return client.fetch_images_raw(zone_id, page_size=page_size, progress=progress, **filters)
    with Client(**connection) as temporary:
        return temporary.fetch_images_raw(
            zone_id, page_size=page_size, progress=progress, **filters
        )


def fetch_zones(
    zone_ids: Iterable[str] | None = None,
    *,
    client: Client | None = None,
    **connection: Unpack[ConnectionArgs],
) -> pd.DataFrame:
    """The zones as a DataFrame; see :meth:`Client.fetch_zones`."""
    if client is not None:
        return client.fetch_zones(zone_ids)
    with Client(**connection) as temporary:
        return temporary.fetch_zones(zone_ids)


def _age(seconds: float) -> str:
    """``95`` -> ``"1m35s"``: an age for a log line."""
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
