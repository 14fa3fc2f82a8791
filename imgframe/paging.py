"""Paging: every page of one action's listings, concurrently, with consistency checks.

A listing is what one action answers for one set of parameters: DescribeImages of one zone,
say. Page 1 of each listing gives ``totalCount``; the remaining pages are fetched
concurrently with a bounded pool shared by all listings, and each page is parsed into Arrow
in the worker thread that fetched it (pyarrow releases the GIL, so parsing overlaps the
network). :class:`Pager` drives it from the calling thread as a small state machine: the
futures in flight, and per listing its :class:`Listing` (pass number, pages so far).

Paging is by page number only, so a listing that changes while it is paged can shift items
between pages. After a listing's pages are in, the pass is checked: every page must report
the same ``totalCount`` and the pages must hold exactly ``totalCount`` distinct ids. A pass
that fails the check is re-paged (bounded by ``max_repages``); if it never settles the result
is deduplicated and a :class:`~imgframe.errors.ConsistencyWarning` gives the numbers.

That check sees every change that moves ``totalCount`` or leaves a duplicate, but not one
that removes and adds exactly as many items between two page requests (the pages then hold
the right number of distinct ids, one of them skipped). ``verify=True`` closes that gap: a
listing is accepted only when two consecutive passes return the same ids, at the price of
paging every multi-page listing at least twice.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .errors import ConsistencyWarning, InvalidArgument
from .filters import check_page_size
from .parse import ParsedPage, RawPage, parse_page
from .progress import ProgressBar
from .transport import Transport

__all__ = ["Listing", "Pager", "PagingResult"]

log = logging.getLogger("imgframe.paging")


@dataclass
class Listing:
    """One listing being paged: its key (the zone), its request fields, and its state."""

    key: str
    params: Mapping[str, Any]
    #: Which pass over the listing this is (0 first); pages of an abandoned pass are dropped.
    passes: int = 0
    total: int | None = None
    page_count: int = 1
    pages: dict[int, ParsedPage] = field(default_factory=dict)
    raw: dict[int, RawPage] = field(default_factory=dict)
    #: The ids of the previous consistent pass, for ``verify``.
    previous_ids: pa.Array | None = None
    #: The listing's rows once a pass is accepted.
    table: pa.Table | None = None

    def restart(self) -> None:
        """Forget this pass's pages and start the next pass."""
        self.passes += 1
        self.pages.clear()
        self.raw.clear()


@dataclass(frozen=True)
class PagingResult:
    """Everything paging produced: per-listing Arrow tables plus what to record about them."""

    keys: list[str]
    tables: list[pa.Table]
    totals: dict[str, int]
    request_ids: list[str]
    raw_pages: list[RawPage]
    fetched_at: datetime
    seconds: float


_PageFuture = Future[tuple[ParsedPage, RawPage | None]]


class Pager:
    """Pages ``action`` over several listings at once, at most ``max_concurrency`` requests
    in flight across all of them."""

    def __init__(
        self,
        transport: Transport,
        action: str,
        *,
        page_size: int,
        max_concurrency: int,
        parse: Callable[[bytes], ParsedPage] = parse_page,
        id_column: str = "imageId",
        keep_raw: bool = False,
        max_repages: int = 2,
        verify: bool = False,
        progress: bool | None = None,
    ) -> None:
        if not isinstance(max_repages, int) or max_repages < 0:
            raise InvalidArgument("max_repages must be a non-negative integer")
        self.transport = transport
        self.action = action
        self.page_size = check_page_size(page_size)
        self.max_concurrency = max_concurrency
        self.parse = parse
        self.id_column = id_column
        self.keep_raw = keep_raw
        self.max_repages = max_repages
        self.verify = verify
        self.progress = progress

    def run(self, listings: Sequence[Listing]) -> PagingResult:
        """Page every listing to the end; raise the first error any request ends with."""
        started = time.monotonic()
        by_key = {listing.key: listing for listing in listings}
        request_ids: list[str] = []
        pending: dict[_PageFuture, tuple[Listing, int, int]] = {}
        bar = ProgressBar(self.progress)
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="imgframe-page") as pool:

            def submit(listing: Listing, page_num: int) -> None:
                future = pool.submit(self._fetch_page, listing, page_num)
                pending[future] = (listing, page_num, listing.passes)

            try:
                for listing in by_key.values():
                    submit(listing, 1)
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        listing, page_num, pass_number = pending.pop(future)
                        parsed, raw = future.result()
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
                            listing.page_count = max(
                                1, math.ceil(parsed.total_count / self.page_size)
                            )
                            bar.add_total(listing.page_count)
                            for number in range(2, listing.page_count + 1):
                                submit(listing, number)
                        complete = len(listing.pages) == listing.page_count
                        if complete and not self._settle(listing):
                            listing.restart()
                            submit(listing, 1)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            finally:
                bar.close()

        ordered = list(by_key.values())
        return PagingResult(
            keys=list(by_key),
            tables=[lst.table for lst in ordered if lst.table is not None],
            totals={lst.key: lst.total or 0 for lst in ordered},
            request_ids=request_ids,
            raw_pages=[lst.raw[n] for lst in ordered for n in sorted(lst.raw)],
            fetched_at=datetime.now(UTC),
            seconds=time.monotonic() - started,
        )

    def _fetch_page(self, listing: Listing, page_num: int) -> tuple[ParsedPage, RawPage | None]:
        """One page, parsed in this worker thread (and kept as received, if asked)."""
        params = {**listing.params, "pageNum": page_num, "pageSize": self.page_size}
        received: list[bytes] = []

        def parse(body: bytes) -> ParsedPage:
            parsed = self.parse(body)
            if self.keep_raw:
                received.append(body)
            return parsed

        where = f"zone {listing.key} page {page_num}" if listing.key else f"page {page_num}"
        parsed = self.transport.call(self.action, params, parse=parse, context=where)
        raw = (
            RawPage(listing.key, page_num, received[-1], parsed.request_id)
            if self.keep_raw
            else None
        )
        return parsed, raw

    def _settle(self, listing: Listing) -> bool:
        """Check a finished pass; return False to ask for another pass."""
        pages = [listing.pages[n] for n in sorted(listing.pages)]
        totals = {p.total_count for p in pages}
        table = pa.concat_tables([p.records for p in pages], promote_options="permissive")
        rows = table.num_rows
        ids = table.column(self.id_column).combine_chunks() if rows else None
        distinct = pc.count_distinct(ids).as_py() if ids is not None else 0
        total = pages[0].total_count
        consistent = len(totals) == 1 and distinct == rows == total
        if consistent and self.verify and len(pages) > 1:
            agreed = listing.previous_ids is not None and listing.previous_ids.equals(ids)
            listing.previous_ids = ids
            if not agreed and listing.passes < max(self.max_repages, 1):
                return False
            consistent = agreed
        if not consistent and listing.passes < self.max_repages:
            log.info(
                "zone %s changed while it was paged (totalCount %s, %d rows, %d distinct); "
                "re-paging",
                listing.key,
                "/".join(str(t) for t in sorted(totals)),
                rows,
                distinct,
            )
            return False
        if distinct != rows:
            table = _drop_duplicate_ids(table, self.id_column)
        if not consistent:
            warnings.warn(
                f"zone {listing.key}: the listing changed while it was paged and did not "
                f"settle after {listing.passes + 1} passes: totalCount "
                f"{'/'.join(str(t) for t in sorted(totals))}, {rows} rows, {distinct} distinct "
                f"images kept",
                ConsistencyWarning,
                stacklevel=2,
            )
        listing.total = total
        listing.table = table
        return True


def _drop_duplicate_ids(table: pa.Table, id_column: str) -> pa.Table:
    """Keep the last copy of each id (the later page saw the fresher listing)."""
    ids = table.column(id_column).to_pandas()
    keep = ~ids.duplicated(keep="last").to_numpy()
    return table.filter(pa.array(keep))
