"""Progress bars for fetches: shown on a terminal, silent elsewhere unless asked for."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """A tqdm bar that appears once there is more than one page to fetch.

    ``enabled=None`` shows it when stderr is a terminal. The total grows as each listing's
    first page says how many pages it has.
    """

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = 0
        self.done = 0
        self._bar: Any = None

    def add_total(self, pages: int) -> None:
        """Count ``pages`` more pages to fetch."""
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
        """Count ``pages`` more pages fetched."""
        self.done += pages
        if self._bar is not None:
            self._bar.update(pages)

    def close(self) -> None:
        """Take the bar off the screen."""
        if self._bar is not None:
            self._bar.close()
