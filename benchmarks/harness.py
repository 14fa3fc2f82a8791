"""What every benchmark case shares: interleaved timing, targets, tables, logging.

A case module (``benchmarks/cases_*.py``) exposes ``run(quick: bool) -> CaseResult``: it times
its contenders side by side with :func:`interleaved` (never a lone absolute time: these
machines are shared and noisy, ratios measured together survive that), and states each goal
as a :class:`Target` with the ratio it measured.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CaseResult",
    "Target",
    "Timings",
    "interleaved",
    "log",
    "md_table",
    "ratio_target",
    "seconds",
]


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Timings:
    """Seconds per run of each contender."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.runs[name])

    def ratio(self, name: str, baseline: str) -> float:
        """``name``'s median over ``baseline``'s (above 1: ``name`` is slower)."""
        return self.median(name) / self.median(baseline)

    def summary(self, name: str) -> dict[str, Any]:
        values = self.runs[name]
        return {
            "median_s": round(statistics.median(values), 4),
            "runs_s": [round(v, 4) for v in values],
            "min_s": round(min(values), 4),
            "max_s": round(max(values), 4),
            "runs": len(values),
        }

    def summaries(self) -> dict[str, dict[str, Any]]:
        return {name: self.summary(name) for name in self.runs}


def interleaved(
    contenders: dict[str, Callable[[], object]],
    rounds: int,
    *,
    limits: dict[str, int] | None = None,
    check: Callable[[str, object], None] | None = None,
) -> Timings:
    """Run every contender once per round, rotating the order each round.

    ``limits`` caps the runs of slow contenders (they take part in the first rounds only).
    ``check(name, result)`` sees every result, outside the timed region.
    """
    limits = limits or {}
    timings = Timings({name: [] for name in contenders})
    names = list(contenders)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            if len(timings.runs[name]) >= limits.get(name, rounds):
                continue
            gc.collect()
            started = time.perf_counter()
            result = contenders[name]()
            elapsed = time.perf_counter() - started
            timings.runs[name].append(elapsed)
            if check is not None:
                check(name, result)
            del result
    return timings


@dataclass(frozen=True)
class Target:
    """One goal of a case: what it asks, what was measured, and whether it passed."""

    case: str
    goal: str
    measured: str
    passed: bool | None  # None: not measured


def ratio_target(case: str, goal: str, ratio: float, limit: float, *, note: str = "") -> Target:
    """A target of the form "at most ``limit`` times the baseline"."""
    measured = f"{ratio:.2f}x" + (f" ({note})" if note else "")
    return Target(case, goal, measured, ratio <= limit)


@dataclass
class CaseResult:
    """What a case module's ``run`` returns: data for the JSON file, targets, and a
    markdown section for the printed report."""

    name: str
    results: dict[str, Any]
    targets: list[Target]
    markdown: str = ""


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def seconds(summary: dict[str, Any]) -> str:
    return f"{summary['median_s']:.3f} s ({summary['runs']})"
