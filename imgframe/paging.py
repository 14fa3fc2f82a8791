"""Paging: every page of one action's listings, concurrently, with checks on what comes back.

A listing is what one action answers for one set of parameters: DescribeImages of one zone,
say. Page 1 of each listing gives ``totalCount``; the remaining pages are fetched
concurrently with a bounded pool shared by all listings, and each page is parsed into Arrow
in the worker thread that fetched it (pyarrow releases the GIL, so parsing overlaps the
network). :class:`Pager` drives it from the calling thread as a small state machine: the
futures in flight, and per listing its :class:`Listing` (pass number, next page, pages so
far). Pages are requested a few at a time (twice the concurrency in flight), never all at
once, so what a page says can stop the listing early.

What the pages must say (a server that breaks these rules cannot be paged into a right
answer, so each is a :class:`~imgframe.errors.ResponseDataError`, never retried):

- every item has an id (``imageId``), without control characters, once per page;
- ``totalCount`` is a whole number no larger than ``max_total`` (an absurd count would plan
  millions of requests).

Paging is by page number only, so a listing that changes while it is paged can shift items
between pages. After a listing's pages are in, the pass is checked: every page must report
the same ``totalCount`` and the pages must hold exactly ``totalCount`` distinct ids. A pass
that fails the check is re-paged (bounded by ``max_repages``). If it never settles:

- when ``totalCount`` moved between pages, the listing changed while it was paged: the result
  is deduplicated and :attr:`ListingReport.settled` is False, with the numbers in
  :attr:`ListingReport.reason` (the client turns it into a
  :class:`~imgframe.errors.ConsistencyWarning`);
- when every page announced the same ``totalCount`` but the pages never held that many ids
  (a server that ignores ``pageNum``, caps its pages below ``pageSize``, or announces more
  than it has), the listing is **incomplete**: :attr:`ListingReport.complete` is False, and
  the caller decides (:func:`imgframe.fetch_images` raises
  :class:`~imgframe.errors.IncompleteError` unless ``allow_incomplete``).

A page that comes back short before the announced end, or repeats page 1, stops the pass
there: no more pages are requested from a listing that has stopped advancing.

The check sees every change that moves ``totalCount`` or leaves a duplicate, but not one
that removes and adds exactly as many items between two page requests (the pages then hold
the right number of distinct ids, one of them skipped). ``verify=True`` closes that gap: a
listing is accepted only when two consecutive passes return the same ids, at the price of
paging every multi-page listing at least twice.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .errors import ResponseDataError
from .filters import check_page_size, check_repages
from .parse import ParsedPage, RawPage, parse_page
from .progress import ProgressBar, fetch_description
from .transport import Slots, Transport

__all__ = ["MAX_TOTAL", "Listing", "ListingReport", "Pager", "PagingResult", "replay"]

log = logging.getLogger("imgframe.paging")

#: The most items one listing may announce (no zone holds ten million images).
MAX_TOTAL = 10_000_000


@dataclass
class Listing:
    """One listing being paged: its key (the zone), its request fields, and its state."""

    key: str
    params: Mapping[str, Any]
    #: Which pass over the listing this is (0 first); pages of an abandoned pass are dropped.
    passes: int = 0
    total: int | None = None
    page_count: int = 1
    #: The next page number to request in this pass.
    next_page: int = 1
    #: A page that ended the pass early (short, or a repeat of page 1): none after it.
    last_page: int | None = None
    #: Why the pass ended early, for the message if the listing stays incomplete.
    stopped: str = ""
    pages: dict[int, ParsedPage] = field(default_factory=dict)
    raw: dict[int, RawPage] = field(default_factory=dict)
    #: The ids of the previous consistent pass, for ``verify``.
    previous_ids: pa.Array | None = None
    #: The distinct ids (sorted) of the previous pass that did not add up: a shortfall
    #: that repeats exactly is the server's, one that moves is churn.
    short_ids: pa.Array | None = None
    #: The listing's rows once a pass is accepted, and how it was accepted.
    table: pa.Table | None = None
    report: ListingReport | None = None

    @property
    def final_page(self) -> int:
        """The last page this pass will request."""
        return self.page_count if self.last_page is None else min(self.last_page, self.page_count)

    def restart(self) -> None:
        """Forget this pass's pages and start the next pass."""
        self.passes += 1
        self.pages.clear()
        self.raw.clear()
        self.next_page = 1
        self.last_page = None
        self.stopped = ""


@dataclass(frozen=True)
class ListingReport:
    """How one listing ended: what it announced, what it held, whether that is all of it."""

    total: int
    rows: int
    passes: int
    #: Every page announced ``total`` and the pages held that many distinct ids.
    complete: bool
    #: The passes agreed (False: the listing kept changing while it was paged).
    settled: bool
    #: Why the pages fell short, or how the listing kept changing, when either happened.
    reason: str = ""

    @property
    def missing(self) -> int:
        """Items announced but never received (0 when complete)."""
        return 0 if self.complete else max(self.total - self.rows, 0)


@dataclass(frozen=True)
class PagingResult:
    """Everything paging produced: per-listing Arrow tables plus what to record about them."""

    action: str
    keys: list[str]
    tables: list[pa.Table]
    totals: dict[str, int]
    reports: dict[str, ListingReport]
    request_ids: list[str]
    raw_pages: list[RawPage]
    fetched_at: datetime
    seconds: float

    @property
    def complete(self) -> bool:
        """True when no listing is known to be incomplete."""
        return all(r.complete for r in self.reports.values())


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
        max_total: int = MAX_TOTAL,
        slots: Slots | None = None,
        unit: str = "image",
    ) -> None:
        self.transport = transport
        self.action = action
        self.page_size = check_page_size(page_size)
        self.max_concurrency = max_concurrency
        self.parse = parse
        self.id_column = id_column
        self.keep_raw = keep_raw
        self.max_repages = check_repages(max_repages)
        self.verify = verify
        self.progress = progress
        self.max_total = max_total
        #: What the progress bar counts ("image", "instance").
        self.unit = unit
        #: Shared with other pagers of the same client(s): one bound on requests in flight.
        self.slots = slots or Slots(max_concurrency)
        self._cancel = threading.Event()

    def run(self, listings: Sequence[Listing]) -> PagingResult:
        """Page every listing to the end; raise the first error any request ends with."""
        started = time.monotonic()
        self._cancel = threading.Event()
        by_key = {listing.key: listing for listing in listings}
        request_ids: list[str] = []
        pending: dict[_PageFuture, tuple[Listing, int, int]] = {}
        window = max(2 * self.max_concurrency, 2)
        zones = sum(1 for key in by_key if key)
        bar = ProgressBar(
            self.progress,
            fetch_description(self.action, zones) if zones else self.action,
            listings=len(by_key),
            page_size=self.page_size,
            unit=self.unit,
        )
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="imgframe-page") as pool:

            def submit(listing: Listing) -> None:
                future = pool.submit(self._fetch_page, listing, listing.next_page)
                pending[future] = (listing, listing.next_page, listing.passes)
                listing.next_page += 1

            def fill() -> None:
                """Request more pages while fewer than ``window`` are in flight."""
                while len(pending) < window:
                    ready = [
                        lst
                        for lst in by_key.values()
                        if lst.total is not None and lst.next_page <= lst.final_page
                    ]
                    if not ready:
                        return
                    submit(min(ready, key=lambda lst: lst.next_page))

            try:
                for listing in by_key.values():
                    submit(listing)
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        listing, page_num, pass_number = pending.pop(future)
                        parsed, raw = future.result()
                        if pass_number != listing.passes:
                            continue  # a page of an abandoned pass
                        if parsed.request_id:
                            request_ids.append(parsed.request_id)
                        self._receive(listing, page_num, parsed, raw, bar)
                        in_flight = any(lst is listing for lst, _, _ in pending.values())
                        done = listing.next_page > listing.final_page and not in_flight
                        if done and not self._settle(listing):
                            listing.restart()
                            listing.total = None
                            submit(listing)
                    fill()
            except BaseException:
                # The run is over: nothing queued starts, nothing in flight is retried, and
                # the connections waiting on answers nobody will read are shut.
                self._cancel.set()
                for future in pending:
                    future.cancel()
                self.transport.abort()
                raise
            finally:
                bar.close()

        ordered = list(by_key.values())
        return PagingResult(
            action=self.action,
            keys=list(by_key),
            tables=[lst.table for lst in ordered if lst.table is not None],
            totals={lst.key: lst.total or 0 for lst in ordered},
            reports={lst.key: lst.report for lst in ordered if lst.report is not None},
            request_ids=request_ids,
            raw_pages=[lst.raw[n] for lst in ordered for n in sorted(lst.raw)],
            fetched_at=datetime.now(UTC),
            seconds=time.monotonic() - started,
        )

    def _where(self, listing: Listing, page_num: int | None = None) -> str:
        where = f"{self.action} zone {listing.key}" if listing.key else self.action
        return where if page_num is None else f"{where} page {page_num}"

    def _fetch_page(self, listing: Listing, page_num: int) -> tuple[ParsedPage, RawPage | None]:
        """One page, parsed and checked in this worker thread (and kept as received)."""
        params = {**listing.params, "pageNum": page_num, "pageSize": self.page_size}
        received: list[bytes] = []

        def parse(body: bytes) -> ParsedPage:
            parsed = self.parse(body)
            if self.keep_raw:
                received.append(body)
            return parsed

        context = f"zone {listing.key} page {page_num}" if listing.key else f"page {page_num}"
        parsed = self.transport.call(
            self.action,
            params,
            parse=parse,
            context=context,
            cancel=self._cancel,
            slots=self.slots,
        )
        problem = _id_problem(parsed.records, self.id_column)
        if problem:
            raise ResponseDataError(f"{self._where(listing, page_num)}: {problem}")
        if not 0 <= parsed.total_count <= self.max_total:
            raise ResponseDataError(
                f"{self._where(listing, page_num)}: totalCount {parsed.total_count} is not "
                f"a count this client pages through (0 to {self.max_total:,})"
            )
        raw = (
            RawPage(listing.key, page_num, received[-1], parsed.request_id)
            if self.keep_raw
            else None
        )
        return parsed, raw

    def _receive(
        self,
        listing: Listing,
        page_num: int,
        parsed: ParsedPage,
        raw: RawPage | None,
        bar: ProgressBar,
    ) -> None:
        listing.pages[page_num] = parsed
        if raw is not None:
            listing.raw[page_num] = raw
        rows = parsed.records.num_rows
        if page_num == 1:
            listing.total = parsed.total_count
            listing.page_count = max(1, math.ceil(parsed.total_count / self.page_size))
            bar.expect(listing.key, parsed.total_count)
        elif rows and _first_id(parsed, self.id_column) == _first_id(
            listing.pages.get(1), self.id_column
        ):
            self._stop(listing, page_num - 1, "the pages repeat page 1 (pageNum ignored?)")
            return  # a repeated page is not counted
        bar.advance(rows, listing.key)
        if rows < self.page_size and page_num < listing.final_page:
            self._stop(listing, page_num, f"page {page_num} held {rows} of {self.page_size}")

    @staticmethod
    def _stop(listing: Listing, page_num: int, reason: str) -> None:
        if listing.last_page is None or page_num < listing.last_page:
            listing.last_page = page_num
            listing.stopped = reason

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
        counts = "/".join(str(t) for t in sorted(totals))
        shortfall_repeats = False
        if not consistent and ids is not None:
            distinct_ids = pc.unique(ids)
            sorted_ids = distinct_ids.take(pc.array_sort_indices(distinct_ids))
            previous, listing.short_ids = listing.short_ids, sorted_ids
            shortfall_repeats = previous is not None and previous.equals(sorted_ids)
        if not consistent and listing.passes < self.max_repages and not shortfall_repeats:
            log.info(
                "%s did not add up (totalCount %s, %d rows, %d distinct); re-paging",
                self._where(listing),
                counts,
                rows,
                distinct,
            )
            return False
        if distinct != rows:
            table = _drop_duplicate_ids(table, self.id_column)
        # The same shortfall twice, or a pass that stopped advancing, is the server's doing;
        # a shortfall that moves from pass to pass is a listing changing while it is paged.
        short = (
            len(totals) == 1 and distinct < total and (shortfall_repeats or bool(listing.stopped))
        )
        reason = ""
        if short:
            reason = listing.stopped or (
                f"the pages held {distinct} distinct of the {total} announced"
            )
        if not consistent and not short:
            reason = (
                f"zone {listing.key}: the listing changed while it was paged and did not "
                f"settle after {listing.passes + 1} passes: totalCount {counts}, {rows} rows, "
                f"{distinct} distinct images kept"
            )
        listing.total = total
        listing.table = table
        listing.report = ListingReport(
            total=total,
            rows=table.num_rows,
            passes=listing.passes + 1,
            complete=not short,
            settled=consistent or short,
            reason=reason,
        )
        return True


def _id_problem(records: pa.Table, id_column: str) -> str:
    """What is wrong with a page's ids ("" when nothing is)."""
    rows = records.num_rows
    if not rows:
        return ""
    if id_column not in records.column_names:
        return f"its {rows} items have no {id_column}"
    ids = records.column(id_column)
    missing = ids.null_count + (pc.sum(pc.equal(pc.utf8_length(ids), 0)).as_py() or 0)
    if missing:
        return f"{missing} of its {rows} items have no {id_column}"
    if pc.any(pc.match_substring_regex(ids, r"[\x00-\x1f\x7f]")).as_py():
        return f"an {id_column} holds control characters"
    if pc.count_distinct(ids).as_py() != rows:
        counts = pa.table({"id": ids}).group_by("id").aggregate([("id", "count")])
        twice = counts.filter(pc.greater(counts["id_count"], 1))["id"][0].as_py()
        return f"{id_column} {twice[:60]!r} appears more than once on the page"
    return ""


def _first_id(page: ParsedPage | None, id_column: str) -> object:
    if page is None or not page.records.num_rows:
        return None
    return page.records.column(id_column)[0].as_py()


def _drop_duplicate_ids(table: pa.Table, id_column: str) -> pa.Table:
    """Keep the last copy of each id (the later page saw the fresher listing)."""
    ids = table.column(id_column).to_pandas()
    keep = ~ids.duplicated(keep="last").to_numpy()
    return table.filter(pa.array(keep))


def replay(
    action: str,
    keys: Sequence[str],
    pages: Sequence[RawPage],
    parse: Callable[[bytes], ParsedPage],
    *,
    fetched_at: datetime,
) -> PagingResult:
    """The result of paging ``keys`` again from pages kept of a complete, settled run (a
    cache entry): each listing's pages in order, parsed with ``parse``, no request made.

    Pages of a key not in ``keys`` are a :class:`ResponseDataError` (the entry is not of
    this query), as is a listing without pages.
    """
    by_key: dict[str, list[RawPage]] = {key: [] for key in keys}
    for page in pages:
        if page.zone_id not in by_key:
            raise ResponseDataError(f"{action}: a kept page of {page.zone_id!r} was not asked for")
        by_key[page.zone_id].append(page)
    tables, totals, reports, request_ids = [], {}, {}, []
    for key, kept in by_key.items():
        if not kept:
            raise ResponseDataError(f"{action}: no kept pages of {key or 'the listing'}")
        parsed = [parse(p.body) for p in sorted(kept, key=lambda p: p.page_num)]
        table = pa.concat_tables([p.records for p in parsed], promote_options="permissive")
        total = parsed[0].total_count
        tables.append(table)
        totals[key] = total
        reports[key] = ListingReport(total, table.num_rows, 1, True, True)
        request_ids += [p.request_id for p in parsed if p.request_id]
    return PagingResult(
        action=action,
        keys=list(by_key),
        tables=tables,
        totals=totals,
        reports=reports,
        request_ids=request_ids,
        raw_pages=list(pages),
        fetched_at=fetched_at,
        seconds=0.0,
    )
