"""A faithful, local Zenlayer ZEC API for demos, notebooks, tests and benchmarks.

A real threaded HTTP server on 127.0.0.1 that speaks ``DescribeImages`` and ``DescribeZones``
(version 2025-09-01) with real ZC2-HMAC-SHA256 and bearer-token auth, seeded with a
deterministic, realistic catalog, and able to misbehave on demand::

    from imgframe import sandbox

    with sandbox.running(images=2000, seed=7) as sb:
        sb.endpoint                 # "http://127.0.0.1:<port>"
        sb.catalog.query("asia-east-1a", osType="linux")   # ground truth
        sb.inject("429", "502-html", action="DescribeImages")
        sb.requests                 # what the server saw

Modules: :mod:`~imgframe.sandbox.catalog` (the data), :mod:`~imgframe.sandbox.filters`
(DescribeImages parameters and filter semantics), :mod:`~imgframe.sandbox.auth`,
:mod:`~imgframe.sandbox.faults` and :mod:`~imgframe.sandbox.server` (the protocol, with the
table of error codes). ``python -m imgframe.sandbox`` serves one until Ctrl-C.
"""

from __future__ import annotations

from imgframe.sandbox.auth import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, DEMO_TOKEN
from imgframe.sandbox.catalog import Catalog
from imgframe.sandbox.faults import FAULT_KINDS, Faults
from imgframe.sandbox.filters import ParamError
from imgframe.sandbox.server import API_PATH, RequestRecord, Sandbox, running

__all__ = [
    "API_PATH",
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_TOKEN",
    "FAULT_KINDS",
    "Catalog",
    "Faults",
    "ParamError",
    "RequestRecord",
    "Sandbox",
    "running",
]
