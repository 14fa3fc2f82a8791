"""Misbehaviour on demand: the failures a real client meets, made repeatable.

Two ways to ask for trouble:

- **Rates and knobs** on :class:`Faults` (all off by default), read on every request, so they
  can be changed while the sandbox runs. Random draws come from a generator seeded with
  :attr:`Faults.seed`, so a sequential run repeats exactly.
- **Scripted faults**, queued with :meth:`Faults.inject` (or ``Sandbox.inject``) and consumed
  first-in first-out by the next matching requests.

Fault kinds (:data:`FAULT_KINDS`; ``<status>-<body>`` works for any status of
:data:`ERROR_STATUSES` and body of :data:`ERROR_BODIES`):

=================  ==========================================================================
``429``            429 ``REQUEST_LIMIT_EXCEEDED`` (with ``Retry-After`` if ``retry_after``)
``500-json``       500 ``INTERNAL_SERVER_ERROR`` JSON envelope
``502-html``       502 nginx-style HTML page, ``text/html``
``503-empty``      503 with an empty body
``504-json``       504 ``REQUEST_TIMED_OUT`` JSON envelope
``drop``           the connection is closed without an answer
``slow``           status and headers at once, then the body stalls for ``slow_body_seconds``
                   (``DEFAULT_SLOW_SECONDS`` when unset) before the rest arrives
``truncated``      ``Content-Length`` announces more bytes than are sent, then the socket closes
``malformed``      200 with a body that is not JSON
``no-dataset``     200 envelope whose ``response`` lacks ``dataSet`` (``zoneSet``), for
                   every action
``403-challenge``  403 HTML with ``cf-mitigated: challenge`` (a network-layer challenge)
``451``            451 HTML (blocked by policy)
=================  ==========================================================================

Precedence on each request: a matching scripted fault, then ``max_in_flight``, then a
throttling storm, then the random ``drop_rate``, ``rate_limit_rate``, ``error_rate`` and
slow-body draws, in that order.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from imgframe.errors import InvalidArgument

ErrorBody = Literal["json", "html", "empty"]
ERROR_STATUSES = (500, 502, 503, 504)
ERROR_BODIES: tuple[ErrorBody, ...] = ("json", "html", "empty")
CHURN_MODES = ("balanced", "create", "delete")
FAULT_KINDS = (
    "429", "500-json", "502-html", "503-empty", "504-json", "drop", "slow", "truncated",
    "malformed", "no-dataset", "403-challenge", "451",
)  # fmt: skip
#: How long a scripted ``slow`` answer stalls when ``slow_body_seconds`` is not set.
DEFAULT_SLOW_SECONDS = 3.0
#: The actions the sandbox answers (scripted faults may target one).
ACTIONS = ("DescribeImages", "DescribeZones", "DescribeCustomImages", "DescribeInstances")


def error_kind(kind: str) -> tuple[int, ErrorBody] | None:
    """(status, body) of a ``<status>-<body>`` kind such as ``502-html``, else None."""
    status, sep, body = kind.partition("-")
    if not sep or not status.isdigit() or int(status) not in ERROR_STATUSES:
        return None
    for known in ERROR_BODIES:
        if body == known:
            return int(status), known
    return None


def check_kind(kind: str) -> str:
    """Return ``kind`` if it names a fault, else raise
    :class:`~imgframe.errors.InvalidArgument` listing the kinds."""
    if kind in FAULT_KINDS or error_kind(kind) is not None:
        return kind
    raise InvalidArgument(
        f"unknown fault kind {kind!r}; kinds: {', '.join(FAULT_KINDS)} "
        f"(or <{'|'.join(map(str, ERROR_STATUSES))}>-<{'|'.join(ERROR_BODIES)}>)"
    )


@dataclass
class Faults:
    """What the sandbox does wrong, and how often. Mutable while the sandbox runs.

    >>> f = Faults(rate_limit_rate=0.2, retry_after=1)
    >>> f.inject("502-html", "drop", action="DescribeImages")
    >>> f.pending()
    [('502-html', 'DescribeImages'), ('drop', 'DescribeImages')]
    """

    #: Delay before every answer, in milliseconds.
    latency_ms: float = 0.0
    #: Probability that a request is answered 429 ``REQUEST_LIMIT_EXCEEDED``.
    rate_limit_rate: float = 0.0
    #: Seconds sent as ``Retry-After`` on every 429 (None: no header, like the real API).
    retry_after: float | None = None
    #: A throttling storm: every request is answered 429 until this many seconds after the
    #: storm started (at the first request that sees a new value, or at ``start_storm``).
    throttle_seconds: float = 0.0
    #: A concurrency limit, as API gateways enforce per key: a request arriving while this
    #: many are already being answered is answered 429 (None: no limit).
    max_in_flight: int | None = None
    #: Probability of a server error, answered with ``error_status`` and ``error_body``.
    error_rate: float = 0.0
    error_status: int = 503
    error_body: ErrorBody = "json"
    #: Probability that the connection is closed without an answer.
    drop_rate: float = 0.0
    #: When > 0, answers stall this long after their first bytes (see ``slow_rate``).
    slow_body_seconds: float = 0.0
    #: Share of answers sent slowly while ``slow_body_seconds`` > 0.
    slow_rate: float = 1.0
    #: Custom images deleted and created in the zone before each DescribeImages answer
    #: (DescribeImages only: the other actions are not churned).
    churn_per_request: int = 0
    #: What churn does: "balanced" deletes and creates as many (totalCount stays the same,
    #: the hardest case for a pager), "create" only creates, "delete" only deletes.
    churn_mode: str = "balanced"
    #: How many DescribeImages answers churn before the listing settles (None: forever).
    churn_requests: int | None = None
    #: Seed of the generator behind every rate above.
    seed: int = 0

    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)  # fmt: skip
    _scripted: deque[tuple[str, str | None]] = field(
        default_factory=deque, init=False, repr=False, compare=False
    )
    _storm_started: float | None = field(default=None, init=False, repr=False, compare=False)
    _storm_seconds: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"imgframe-faults:{self.seed}")
        if self.error_status not in ERROR_STATUSES:
            raise InvalidArgument(f"error_status must be one of {ERROR_STATUSES}")
        if self.error_body not in ERROR_BODIES:
            raise InvalidArgument(f"error_body must be one of {ERROR_BODIES}")
        if self.churn_mode not in CHURN_MODES:
            raise InvalidArgument(f"churn_mode must be one of {CHURN_MODES}")

    def take_churn(self) -> int:
        """Images to churn before this answer (counts down ``churn_requests``)."""
        with self._lock:
            if self.churn_per_request <= 0 or self.churn_requests == 0:
                return 0
            if self.churn_requests is not None:
                self.churn_requests -= 1
            return self.churn_per_request

    def inject(self, *kinds: str, action: str | None = None) -> None:
        """Queue scripted faults for the next requests (of ``action`` only, if given)."""
        if action is not None and action not in ACTIONS:
            raise InvalidArgument(f"action must be one of {ACTIONS} or None, got {action!r}")
        checked = [check_kind(kind) for kind in kinds]
        with self._lock:
            self._scripted.extend((kind, action) for kind in checked)

    def pending(self) -> list[tuple[str, str | None]]:
        """Scripted faults not consumed yet, as (kind, action)."""
        with self._lock:
            return list(self._scripted)

    def clear(self) -> None:
        """Drop every scripted fault and end any storm."""
        with self._lock:
            self._scripted.clear()
            self.throttle_seconds = 0.0
            self._storm_started = None

    def start_storm(self, seconds: float, now: float | None = None) -> None:
        """Answer every request 429 for ``seconds`` from now (``now``: a monotonic time)."""
        with self._lock:
            self.throttle_seconds = seconds
            self._storm_seconds = seconds
            self._storm_started = time.monotonic() if now is None else now

    def decide(self, action: str | None, now: float, in_flight: int = 1) -> str | None:
        """The fault kind for one request (consuming a scripted one), or None.

        ``now`` is a monotonic time, used for storms; ``in_flight`` counts the requests
        being answered, this one included (for ``max_in_flight``).
        """
        with self._lock:
            for i, (kind, only) in enumerate(self._scripted):
                if only is None or only == action:
                    del self._scripted[i]
                    return kind
            if self.max_in_flight is not None and in_flight > self.max_in_flight:
                return "429"
            if self.throttle_seconds > 0:
                if self._storm_started is None or self._storm_seconds != self.throttle_seconds:
                    self._storm_started, self._storm_seconds = now, self.throttle_seconds
                if now - self._storm_started < self._storm_seconds:
                    return "429"
            rand = self._rng.random
            if self.drop_rate > 0 and rand() < self.drop_rate:
                return "drop"
            if self.rate_limit_rate > 0 and rand() < self.rate_limit_rate:
                return "429"
            if self.error_rate > 0 and rand() < self.error_rate:
                return f"{self.error_status}-{self.error_body}"
            if self.slow_body_seconds > 0 and rand() < self.slow_rate:
                return "slow"
            return None

    def slow_seconds(self) -> float:
        """How long a slow answer stalls."""
        return self.slow_body_seconds if self.slow_body_seconds > 0 else DEFAULT_SLOW_SECONDS
