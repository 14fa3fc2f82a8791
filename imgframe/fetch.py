"""Paging: every DescribeImages page of every zone, concurrently, into one frame.

Page 1 of each zone gives ``totalCount``; the remaining pages are fetched concurrently with a
bounded pool shared by all zones, and each page is parsed into Arrow in the worker thread that
fetched it (pyarrow releases the GIL, so parsing overlaps the network). The loop that drives it
is a small explicit state machine in the calling thread: futures in flight, pages per zone,
passes per zone.

Paging is by page number only, so a listing that changes while it is paged can shift images
between pages. After a zone's pages are in, the pass is checked: every page must report the
same ``totalCount`` and the pages must hold exactly ``totalCount`` distinct images. A pass
that fails the check is re-paged (bounded by ``max_repages``); if it never settles the result
is deduplicated and a :class:`~imgframe.errors.ConsistencyWarning` gives the numbers.

That check sees every change that moves ``totalCount`` or leaves a duplicate, but not one
that removes and adds exactly as many images between two page requests (the pages then hold
the right number of distinct images, one of them skipped). ``verify=True`` closes that gap: a
zone's listing is accepted only when two consecutive passes return the same images, at the
price of paging every multi-page zone at least twice.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .client import RetryPolicy, Timeouts, ZecClient
from .credentials import resolve_credentials, resolve_endpoint
from .errors import BadResponseError, ConsistencyWarning, InvalidArgument
from .filters import (
    Category,
    ImageFilters,
    ImageSource,
    ImageStatus,
    ImageType,
    OsType,
    TagsArg,
    check_page_size,
)
from .frame import (
    ParsedPage,
    RawPage,
    frame_from_tables,
    handed_over,
    parse_page,
    save_pages,
)
from .schema import ZONE_FIELDS

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["Client", "FetchResult", "fetch_images", "fetch_images_raw", "fetch_zones"]

log = logging.getLogger("imgframe.fetch")

DEFAULT_PAGE_SIZE = 1000
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64


@dataclass
class _Listing:
    """The state of one zone's listing: the current pass and the pages it has so far."""

    zone_id: str
    passes: int = 0
    total: int | None = None
    pages: dict[int, ParsedPage] = field(default_factory=dict)
    raw: dict[int, RawPage] = field(default_factory=dict)
    page_count: int = 1
    previous_ids: pa.Array | None = None
    done: bool = False
    table: pa.Table | None = None


@dataclass(frozen=True)
class FetchResult:
    """Everything one fetch produced: per-zone Arrow tables plus what to record about them."""

    zone_ids: list[str]
    tables: list[pa.Table]
    totals: dict[str, int]
    request_ids: list[str]
    raw_pages: list[RawPage]
    fetched_at: datetime
    seconds: float


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
        clock: Any = time.time,
    ) -> None:
        self.max_concurrency = _check_concurrency(max_concurrency)
        endpoint = resolve_endpoint(endpoint)  # first: a bad endpoint is the clearer error
        credentials = resolve_credentials(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            token=token,
            profile=profile,
        )
        self.api = ZecClient(
            credentials,
            endpoint,
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
            clock=clock,
            pool_size=max(self.max_concurrency, 4),
        )

    @classmethod
    def for_sandbox(cls, sb: Sandbox, **kwargs: Any) -> Client:
        """A client for a running :mod:`imgframe.sandbox`, with its demo credentials."""
        return cls(
            endpoint=sb.endpoint,
            access_key_id=sb.access_key_id,
            access_key_secret=sb.access_key_secret,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"Client(endpoint={self.api.endpoint!r}, credentials={self.api.credentials!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self.api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------

    def fetch_zones(self, zone_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The zones (DescribeZones) as a DataFrame, one row per zone, sorted by ``zoneId``."""
        params: dict[str, Any] = {}
        if zone_ids is not None:
            params["zoneIds"] = [_check_zone(z) for z in zone_ids]
        zone_set = self.api.call("DescribeZones", params, parse=_parse_zones)
        return _zones_frame(zone_set)

    def fetch_images(
        self,
        zone_id: str | Sequence[str] = "all",
        *,
        image_ids: Iterable[str] | str | None = None,
        image_name: str | None = None,
        category: Category | str | None = None,
        image_type: ImageType | str | None = None,
        image_source: ImageSource | str | None = None,
        os_type: OsType | str | None = None,
        image_status: ImageStatus | str | None = None,
        tag_keys: Iterable[str] | str | None = None,
        tags: TagsArg | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        raw_dir: str | os.PathLike[str] | None = None,
        max_repages: int = 2,
        verify: bool = False,
    ) -> pd.DataFrame:
        """Every image matching the filters, as a typed DataFrame (see :mod:`imgframe.frame`).

        ``zone_id`` is one zone, a list of zones, or ``"all"`` (every zone DescribeZones
        lists); with a list or ``"all"`` the zone columns (``regionId``, ``zoneName``,
        ``cityName``, ``countryCode``) are joined on. ``raw_dir`` also saves every response
        body as received, for :func:`~imgframe.frame.normalize_pages` to replay.
        ``verify=True`` pages each multi-page zone until two passes agree (see the module
        docstring); ``max_repages`` bounds the extra passes.

        The frame's ``attrs["imgframe"]`` records the filters, zones, totals and request ids.
        """
        filters = ImageFilters.build(
            image_ids=image_ids,
            image_name=image_name,
            category=category,
            image_type=image_type,
            image_source=image_source,
            os_type=os_type,
            image_status=image_status,
            tag_keys=tag_keys,
            tags=tags,
        )
        zones, joined = self._zones_for(zone_id)
        result = self._fetch(
            list(zones["zoneId"]) if zones is not None else [zone_id],  # type: ignore[list-item]
            filters,
            page_size=page_size,
            progress=progress,
            keep_raw=raw_dir is not None,
            max_repages=max_repages,
            verify=verify,
        )
        if raw_dir is not None:
            save_pages(result.raw_pages, raw_dir)
        frame = frame_from_tables(
            handed_over(result.tables),
            result.zone_ids,
            fetched_at=result.fetched_at,
            zones=zones if joined else None,
        )
        frame.attrs["imgframe"] = {
            "filters": filters.to_api(),
            "zones": result.zone_ids,
            "totalCounts": result.totals,
            "fetchedAt": result.fetched_at.isoformat(),
            "requestIds": result.request_ids,
            "seconds": round(result.seconds, 3),
        }
        log.info(
            "fetched %d images from %d zone(s) in %.2fs",
            len(frame),
            len(result.zone_ids),
            result.seconds,
        )
        return frame

    def fetch_images_raw(
        self,
        zone_id: str | Sequence[str] = "all",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        progress: bool | None = None,
        **filters: Any,
    ) -> list[RawPage]:
        """Every DescribeImages page as received (bytes), for saving and offline replay."""
        zones, _ = self._zones_for(zone_id)
        result = self._fetch(
            list(zones["zoneId"]) if zones is not None else [zone_id],  # type: ignore[list-item]
            ImageFilters.build(**filters),
            page_size=page_size,
            progress=progress,
            keep_raw=True,
            max_repages=2,
            verify=False,
        )
        return result.raw_pages

    # ----------------------------------------------------------------------------------------

    def _zones_for(self, zone_id: str | Sequence[str]) -> tuple[pd.DataFrame | None, bool]:
        """(zones frame or None for a single zone, whether to join zone columns)."""
        if isinstance(zone_id, str):
            if zone_id == "all":
                zones = self.fetch_zones()
                if zones.empty:
                    raise InvalidArgument("DescribeZones listed no zones; nothing to fetch")
                return zones, True
            _check_zone(zone_id)
            return None, False
        try:
            wanted = list(dict.fromkeys(_check_zone(z) for z in zone_id))
        except TypeError:
            raise InvalidArgument(
                "zone_id must be a zone id, a list of zone ids, or 'all'"
            ) from None
        if not wanted:
            raise InvalidArgument("zone_id is an empty list; give at least one zone or 'all'")
        known = self.fetch_zones()
        missing = [z for z in wanted if z not in set(known["zoneId"])]
        if missing:
            raise InvalidArgument(
                f"unknown zone(s) {', '.join(missing)}; DescribeZones lists: "
                + ", ".join(known["zoneId"])
            )
        return known.set_index("zoneId").loc[wanted].reset_index(), True

    def _fetch(
        self,
        zone_ids: list[str],
        filters: ImageFilters,
        *,
        page_size: int,
        progress: bool | None,
        keep_raw: bool,
        max_repages: int,
        verify: bool,
    ) -> FetchResult:
        page_size = check_page_size(page_size)
        if not isinstance(max_repages, int) or max_repages < 0:
            raise InvalidArgument("max_repages must be a non-negative integer")
        started = time.monotonic()
        base = filters.to_api()
        listings = {z: _Listing(z) for z in zone_ids}
        request_ids: list[str] = []
        bar = _ProgressBar(progress)

        def fetch_page(zone: str, page_num: int) -> tuple[ParsedPage, RawPage | None]:
            params = {"zoneId": zone, **base, "pageNum": page_num, "pageSize": page_size}
            holder: list[bytes] = []

            def parse(body: bytes) -> ParsedPage:
                parsed = parse_page(body)
                if keep_raw:
                    holder.append(body)
                return parsed

            parsed = self.api.call(
                "DescribeImages", params, parse=parse, context=f"zone {zone} page {page_num}"
            )
            raw = RawPage(zone, page_num, holder[-1], parsed.request_id) if keep_raw else None
            return parsed, raw

        pending: dict[Future[tuple[ParsedPage, RawPage | None]], tuple[str, int, int]] = {}
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="imgframe-page") as pool:

            def submit(listing: _Listing, page_num: int) -> None:
                future = pool.submit(fetch_page, listing.zone_id, page_num)
                pending[future] = (listing.zone_id, page_num, listing.passes)

            try:
                for listing in listings.values():
                    submit(listing, 1)
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        zone, page_num, pass_number = pending.pop(future)
                        parsed, raw = future.result()
                        listing = listings[zone]
                        if pass_number != listing.passes:
                            continue  # a page of an abandoned pass
                        if parsed.request_id:
                            request_ids.append(parsed.request_id)
                        listing.pages[page_num] = parsed
                        if raw is not None:
                            listing.raw[page_num] = raw
                        bar.update(1)
                        if page_num == 1:
                            listing.total = parsed.total_count
                            listing.page_count = max(1, math.ceil(parsed.total_count / page_size))
                            bar.add_total(listing.page_count)
                            for number in range(2, listing.page_count + 1):
                                submit(listing, number)
                        complete = len(listing.pages) == listing.page_count
                        if complete and not _settle(listing, max_repages, verify=verify):
                            listing.passes += 1
                            listing.pages.clear()
                            listing.raw.clear()
                            submit(listing, 1)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            finally:
                bar.close()

        ordered = [listings[z] for z in zone_ids]
        return FetchResult(
            zone_ids=zone_ids,
            tables=[lst.table for lst in ordered if lst.table is not None],
            totals={lst.zone_id: lst.total or 0 for lst in ordered},
            request_ids=request_ids,
            raw_pages=[lst.raw[n] for lst in ordered for n in sorted(lst.raw)],
            fetched_at=datetime.now(UTC),
            seconds=time.monotonic() - started,
        )


def _settle(listing: _Listing, max_repages: int, *, verify: bool) -> bool:
    """Check a finished pass; return False to ask for another pass."""
    pages = [listing.pages[n] for n in sorted(listing.pages)]
    totals = {p.total_count for p in pages}
    table = pa.concat_tables([p.records for p in pages], promote_options="permissive")
    rows = table.num_rows
    ids = table.column("imageId").combine_chunks() if rows else None
    distinct = pc.count_distinct(ids).as_py() if ids is not None else 0
    total = pages[0].total_count
    consistent = len(totals) == 1 and distinct == rows == total
    if consistent and verify and len(pages) > 1:
        agreed = listing.previous_ids is not None and listing.previous_ids.equals(ids)
        listing.previous_ids = ids
        if not agreed and listing.passes < max(max_repages, 1):
            return False
        consistent = agreed
    if not consistent and listing.passes < max_repages:
        log.info(
            "zone %s changed while it was paged (totalCount %s, %d rows, %d distinct); re-paging",
            listing.zone_id,
            "/".join(str(t) for t in sorted(totals)),
            rows,
            distinct,
        )
        return False
    if distinct != rows:
        table = _drop_duplicate_ids(table)
    if not consistent:
        warnings.warn(
            f"zone {listing.zone_id}: the listing changed while it was paged and did not settle "
            f"after {listing.passes + 1} passes: totalCount "
            f"{'/'.join(str(t) for t in sorted(totals))}, {rows} rows, {distinct} distinct "
            f"images kept",
            ConsistencyWarning,
            stacklevel=2,
        )
    listing.total = total
    listing.table = table
    listing.done = True
    return True


def _drop_duplicate_ids(table: pa.Table) -> pa.Table:
    """Keep the last copy of each imageId (the later page saw the fresher listing)."""
    ids = table.column("imageId").to_pandas()
    keep = ~ids.duplicated(keep="last").to_numpy()
    return table.filter(pa.array(keep))


def _check_zone(zone: object) -> str:
    if not isinstance(zone, str) or not zone.strip():
        raise InvalidArgument(f"zone_id must be a non-empty string, not {zone!r}")
    if len(zone) > 128 or any(ord(c) < 32 for c in zone):
        raise InvalidArgument(f"zone_id {zone[:40]!r} is not a valid zone id")
    return zone


def _check_concurrency(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument("max_concurrency must be an integer")
    if not 1 <= value <= MAX_CONCURRENCY:
        raise InvalidArgument(f"max_concurrency must be between 1 and {MAX_CONCURRENCY}")
    return value


def _parse_zones(body: bytes) -> list[dict[str, Any]]:
    import json

    try:
        document = json.loads(body)
    except ValueError:
        raise BadResponseError(
            "DescribeZones answered HTTP 200 with a body that is not valid JSON",
            action="DescribeZones",
            http_status=200,
        ) from None
    response = document.get("response") if isinstance(document, dict) else None
    zone_set = response.get("zoneSet") if isinstance(response, dict) else None
    if not isinstance(zone_set, list):
        raise BadResponseError(
            "DescribeZones answered HTTP 200 without a 'zoneSet' list",
            action="DescribeZones",
            http_status=200,
        )
    return [z for z in zone_set if isinstance(z, dict) and isinstance(z.get("zoneId"), str)]


def _zones_frame(zone_set: list[dict[str, Any]]) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name in ZONE_FIELDS:
        values = [z.get(name) for z in zone_set]
        if name in ("supportHaVip", "supportSecurityGroup"):
            columns[name] = pd.array(
                [v if isinstance(v, bool) else None for v in values], dtype="boolean"
            )
        else:
            columns[name] = pd.array(
                [None if v is None else str(v) for v in values], dtype="string[pyarrow]"
            )
    extra = dict.fromkeys(k for z in zone_set for k in z if k not in columns)
    for name in extra:
        columns[name] = [z.get(name) for z in zone_set]
    frame = pd.DataFrame(columns)
    return frame.sort_values("zoneId", kind="stable").reset_index(drop=True)


class _ProgressBar:
    """A tqdm bar that appears once there is more than one page to fetch."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = 0
        self.done = 0
        self._bar: Any = None

    def add_total(self, pages: int) -> None:
        self.total += pages
        if not self.enabled:
            return
        if self._bar is None and self.total > 1:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.done, unit="page", leave=False)
        elif self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def update(self, pages: int) -> None:
        self.done += pages
        if self._bar is not None:
            self._bar.update(pages)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --------------------------------------------------------------------------------------------
# Module-level shortcuts: one call, one temporary client.


def _client(kwargs: dict[str, Any]) -> Client:
    names = (
        "endpoint", "access_key_id", "access_key_secret", "token", "profile", "timeouts",
        "retry", "max_concurrency", "clock",
    )  # fmt: skip
    return Client(**{k: kwargs.pop(k) for k in names if k in kwargs})


def fetch_images(
    zone_id: str | Sequence[str] = "all",
    *,
    client: Client | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Every image matching the filters as a typed DataFrame; see :meth:`Client.fetch_images`.

    Connection arguments (``endpoint``, ``access_key_id``, ``access_key_secret``, ``token``,
    ``profile``, ``timeouts``, ``retry``, ``max_concurrency``) build a temporary
    :class:`Client` when ``client`` is not given.

    >>> import imgframe
    >>> with imgframe.sandbox.running(images=300) as sb:
    ...     df = imgframe.fetch_images("asia-east-1a", os_type="linux", endpoint=sb.endpoint,
    ...         access_key_id=sb.access_key_id, access_key_secret=sb.access_key_secret)
    >>> df.loc[:2, "imageId"].tolist()
    ['ubuntu2404_20240712', 'ubuntu2204_20240712', 'ubuntu2004_20240712']
    """
    if client is not None:
        return client.fetch_images(zone_id, **kwargs)
    with _client(kwargs) as temporary:
        return temporary.fetch_images(zone_id, **kwargs)


def fetch_images_raw(
    zone_id: str | Sequence[str] = "all",
    *,
    client: Client | None = None,
    **kwargs: Any,
) -> list[RawPage]:
    """Every DescribeImages page as received; see :meth:`Client.fetch_images_raw`."""
    if client is not None:
        return client.fetch_images_raw(zone_id, **kwargs)
    with _client(kwargs) as temporary:
        return temporary.fetch_images_raw(zone_id, **kwargs)


def fetch_zones(
    zone_ids: Iterable[str] | None = None, *, client: Client | None = None, **kwargs: Any
) -> pd.DataFrame:
    """The zones as a DataFrame; see :meth:`Client.fetch_zones`."""
    if client is not None:
        return client.fetch_zones(zone_ids)
    with _client(kwargs) as temporary:
        return temporary.fetch_zones(zone_ids)
