"""Progress of a fetch, shown the way the place it runs can show it.

=========================  ====================================================================
Jupyter (an IPython        an ipywidgets bar when ipywidgets is installed (the ``notebook``
kernel)                    extra), else one text line updated in place; at the end either
                           becomes one plain line (``DescribeImages, 8 zones: 100% 3,000/3,000
                           images``), which is also what a saved notebook shows. Never a
                           warning, never a stream of carriage returns
a terminal (stderr)        a tqdm bar on stderr (``DescribeImages, 8 zones:  45%|████| 1,350/3,000
                           [00:01<00:01, 1,200 image/s]``), taken off the screen at the end
anywhere else              nothing, unless asked (``enabled=True``: tqdm on stderr)
=========================  ====================================================================

The bar counts **items** (images), and its percentage never goes backwards. The pager says
how many listings (zones) there are; each listing's first page says how many items it holds
(:meth:`ProgressBar.expect`); every page received advances the count
(:meth:`ProgressBar.advance`). Until every listing has reported, the listings still to
report count as many items as the average of those that did (the total shows as ``~``);
a listing paged again (``expect`` of a key already known) starts its count over. The
percentage shown is the largest reached so far, so a total that grows makes it wait, never
drop, and it shows 100% only once every listing reported and every item arrived.

The bar appears once more than one page is to be fetched (several listings, or one listing
longer than ``page_size``).

:meth:`ProgressBar.add_total` and :meth:`ProgressBar.update` (pages, not items) are the
older calls; they still work, counting pages.
"""

from __future__ import annotations

import html
import math
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

__all__ = ["ProgressBar", "fetch_description"]


def fetch_description(action: str, listings: int, noun: str = "zone") -> str:
    """What a bar says it fetches: ``"DescribeImages, 8 zones"``.

    >>> fetch_description("DescribeImages", 8), fetch_description("DescribeImages", 1)
    ('DescribeImages, 8 zones', 'DescribeImages, 1 zone')
    """
    return f"{action}, {listings} {noun}{'' if listings == 1 else 's'}"


class _View(Protocol):
    def show(self, bar: ProgressBar) -> None: ...

    def finish(self, bar: ProgressBar) -> None: ...


class ProgressBar:
    """The progress of one fetch; see the module docs for where and how it shows.

    ``enabled``: True shows it, False never, None where it fits (a Jupyter kernel or a
    terminal). ``description`` says what is fetched (:func:`fetch_description`);
    ``listings`` is how many listings will report a total (``None``: unknown, as with the
    older page calls); ``page_size`` lets one short listing stay without a bar.

    >>> bar = ProgressBar(False, "DescribeImages, 2 zones", listings=2, page_size=100)
    >>> bar.expect("asia-east-1a", 300); bar.advance(100, "asia-east-1a")
    >>> bar.text()
    'DescribeImages, 2 zones: 16% 100/~600 images'
    >>> bar.expect("eu-west-1a", 100); bar.advance(100, "eu-west-1a"); bar.text()
    'DescribeImages, 2 zones: 50% 200/400 images'
    """

    def __init__(
        self,
        enabled: bool | None,
        description: str = "",
        *,
        listings: int | None = None,
        page_size: int | None = None,
        unit: str = "image",
        file: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.listings = listings
        self.page_size = page_size
        self.unit = unit
        self.file = file
        self.clock = clock
        self._where = _where_to_show(enabled, file)
        self.enabled = self._where is not None
        self._expected: dict[str, int] = {}
        self._received: dict[str, int] = {}
        self._loose = 0  # items advanced without a listing key
        self._shown = 0.0
        self._view: _View | None = None
        self._closed = False
        self._anonymous = 0
        self._started = clock()

    # -- what the pager calls ------------------------------------------------------------

    def expect(self, listing_key: str, items: int) -> None:
        """Listing ``listing_key`` holds ``items`` items (its first page's totalCount). Said
        again for the same key (a new pass over the listing), its count starts over."""
        self._expected[listing_key] = max(int(items), 0)
        self._received[listing_key] = 0
        self._refresh()

    def advance(self, items: int, listing_key: str | None = None) -> None:
        """``items`` more items arrived (of ``listing_key``, when given)."""
        if listing_key is None:
            self._loose += int(items)
        else:
            self._received[listing_key] = self._received.get(listing_key, 0) + int(items)
        self._refresh()

    def close(self) -> None:
        """End the bar: a terminal's is taken off the screen, a notebook's becomes one line."""
        if self._closed:
            return
        self._closed = True
        if self._view is not None:
            self._shown = max(self._shown, self._fraction(final=True))
            self._view.finish(self)

    # -- the older page calls --------------------------------------------------------------

    def add_total(self, pages: int) -> None:
        """Older call: one more listing, of ``pages`` pages (counting pages, not items)."""
        self.unit = "page"
        self._anonymous += 1
        self.expect(f"#{self._anonymous}", pages)

    def update(self, pages: int) -> None:
        """Older call: ``pages`` more pages fetched."""
        self.advance(pages)

    # -- state --------------------------------------------------------------------------------

    @property
    def done(self) -> int:
        """Items counted so far (each listing's current pass, at most its total)."""
        counted = sum(
            min(n, self._expected[k]) if k in self._expected else n
            for k, n in self._received.items()
        )
        return counted + self._loose

    @property
    def total(self) -> int | None:
        """The items to fetch, once every listing reported (None before)."""
        return sum(self._expected.values()) if self._all_reported() else None

    @property
    def fraction(self) -> float:
        """The share shown: never smaller than before."""
        return self._shown

    def text(self) -> str:
        """The bar as one line: ``DescribeImages, 8 zones: 45% 1,350/3,000 images``."""
        prefix = f"{self.description}: " if self.description else ""
        return f"{prefix}{self._percent()}% {self.counts()}"

    def _all_reported(self) -> bool:
        return self.listings is None or len(self._expected) >= self.listings

    def _estimate(self) -> int | None:
        if not self._expected:
            return None
        known = sum(self._expected.values())
        if self._all_reported():
            return known
        missing = (self.listings or 0) - len(self._expected)
        return known + math.ceil(known / len(self._expected)) * missing

    def _fraction(self, *, final: bool = False) -> float:
        estimate = self._estimate()
        if estimate is None:
            return 0.0
        done = self.done
        if estimate == 0:
            return 1.0 if self._all_reported() else 0.0
        share = min(done / estimate, 1.0)
        complete = self._all_reported() and done >= estimate
        if not complete:
            share = min(share, 0.99)
        elif not final and self.listings is None:
            share = min(share, 0.99)  # more listings may report: only close says 100%
        return share

    def _percent(self) -> int:
        return math.floor(self._shown * 100 + 1e-9)

    def counts(self, *, unit: bool = True) -> str:
        """``1,350/3,000 images`` (``~`` before an estimated total; no unit: the numbers)."""
        units = f" {self.unit}s" if unit else ""
        estimate = self._estimate()
        if estimate is None:
            return f"{self.done:,}{units}"
        approx = "" if self._all_reported() else "~"
        return f"{self.done:,}/{approx}{estimate:,}{units}"

    def rate(self) -> str:
        """Items a second since the bar was made: ``1,200 image/s``."""
        elapsed = self.clock() - self._started
        per_second = self.done / elapsed if elapsed > 0 else 0.0
        return f"{per_second:,.{0 if per_second >= 10 else 1}f} {self.unit}/s"

    def _worth_showing(self) -> bool:
        if self.listings is not None and self.listings > 1:
            return True
        if self.unit == "page":
            return sum(self._expected.values()) > 1
        if self.page_size is None:
            return bool(self._expected)
        return any(n > self.page_size for n in self._expected.values())

    def _refresh(self) -> None:
        self._shown = max(self._shown, self._fraction())
        if self._where is None or self._closed:
            return
        if self._view is None:
            if not self._worth_showing():
                return
            self._view = _make_view(self._where, self)
        self._view.show(self)


def _where_to_show(enabled: bool | None, file: TextIO | None) -> str | None:
    """ "jupyter", "terminal" or None (silent)."""
    if enabled is False:
        return None
    if _in_jupyter():
        return "jupyter"
    if enabled:
        return "terminal"
    stream = file or sys.stderr
    try:
        return "terminal" if stream.isatty() else None
    except (AttributeError, ValueError):  # a closed or unusual stream
        return None


def _in_jupyter() -> bool:
    """True inside an IPython kernel (Jupyter, VS Code, nbclient), not a terminal IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    if shell is None:
        return False
    return type(shell).__name__ == "ZMQInteractiveShell" or "IPKernelApp" in getattr(
        shell, "config", {}
    )


def _make_view(where: str, bar: ProgressBar) -> _View:
    if where == "jupyter":
        try:
            return _WidgetView(bar)
        except Exception:  # no ipywidgets, or a kernel without comms: plain text
            return _TextView(bar)
    return _TqdmView(bar)


class _TqdmView:
    """tqdm on a terminal: its counter is the share in thousandths; the counts and the rate
    are the bar's own (``45%|████| 1,350/3,000 [00:01<00:01, 1,200 image/s]``)."""

    STEPS = 1000

    def __init__(self, bar: ProgressBar) -> None:
        from tqdm import tqdm

        prefix = "{desc}: " if bar.description else ""
        self._bar = tqdm(
            total=self.STEPS,
            desc=bar.description or None,
            file=bar.file or sys.stderr,
            leave=False,
            dynamic_ncols=True,
            unit=bar.counts(unit=False),  # shown where tqdm shows its unit
            postfix=bar.rate(),
            bar_format=prefix + "{percentage:3.0f}%|{bar}| {unit} [{elapsed}<{remaining}{postfix}]",
            delay=0,
        )
        self._steps = 0

    def show(self, bar: ProgressBar) -> None:
        self._bar.unit = bar.counts(unit=False)
        self._bar.set_postfix_str(bar.rate(), refresh=False)
        steps = math.floor(bar.fraction * self.STEPS + 1e-9)
        if steps > self._steps:
            self._bar.update(steps - self._steps)
            self._steps = steps

    def finish(self, bar: ProgressBar) -> None:
        self._bar.unit = bar.counts(unit=False)
        self._bar.set_postfix_str(bar.rate(), refresh=False)
        self._bar.n = max(math.floor(bar.fraction * self.STEPS + 1e-9), self._steps)
        self._bar.refresh()  # the last state is drawn once before the bar goes
        self._bar.close()


class _TextView:
    """One text line in a notebook, updated in place (a display update, not ``\\r``)."""

    INTERVAL = 0.25

    def __init__(self, bar: ProgressBar) -> None:
        from IPython import display as ipython_display

        display: Any = ipython_display.display
        self._clock = bar.clock
        self._handle: Any = display({"text/plain": ""}, raw=True, display_id=True)
        self._last = -math.inf
        self._text = ""

    def show(self, bar: ProgressBar) -> None:
        now, text = self._clock(), bar.text()
        if text != self._text and now - self._last >= self.INTERVAL:
            self._handle.update({"text/plain": text}, raw=True)
            self._last, self._text = now, text

    def finish(self, bar: ProgressBar) -> None:
        self._handle.update({"text/plain": bar.text()}, raw=True)


class _WidgetView:
    """An ipywidgets bar; at the end it is replaced by its text line."""

    def __init__(self, bar: ProgressBar) -> None:
        import ipywidgets
        from IPython import display as ipython_display

        display: Any = ipython_display.display
        self._bar = ipywidgets.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info")
        self._label = ipywidgets.HTML(value=html.escape(bar.description))
        self._counts = ipywidgets.HTML(value="")
        self._box = ipywidgets.HBox([self._label, self._bar, self._counts])
        self._handle: Any = display(
            {
                "text/plain": bar.description or "progress",
                "application/vnd.jupyter.widget-view+json": {
                    "model_id": self._box.model_id,
                    "version_major": 2,
                    "version_minor": 0,
                },
            },
            raw=True,
            display_id=True,
        )

    def show(self, bar: ProgressBar) -> None:
        self._bar.value = bar.fraction
        self._counts.value = html.escape(bar.text().removeprefix(f"{bar.description}: "))

    def finish(self, bar: ProgressBar) -> None:
        self._handle.update({"text/plain": bar.text()}, raw=True)
        for widget in (self._box, self._bar, self._label, self._counts):
            widget.close()
