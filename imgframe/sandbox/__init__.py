"""A faithful, local Zenlayer ZEC API for demos, notebooks, tests and benchmarks.

A real threaded HTTP server on 127.0.0.1 that speaks ``DescribeImages``, ``DescribeZones``,
``DescribeCustomImages`` and ``DescribeInstances`` (version 2025-09-01) with real
ZC2-HMAC-SHA256 and bearer-token auth, seeded with a deterministic, realistic account (images,
resource groups, an instance fleet), able to serve several accounts and to misbehave on
demand::

    from imgframe import sandbox

    with sandbox.running(images=2000, seed=7) as sb:
        sb.endpoint                 # "http://127.0.0.1:<port>"
        sb.catalog.query("asia-east-1a", osType="linux")   # ground truth
        sb.catalog.custom_images(regionId="eu-west-1")
        sb.catalog.instances(status="RUNNING"), sb.catalog.usage()
        sb.inject("429", "502-html", action="DescribeInstances")
        sb.requests                 # what the server saw

    team = sandbox.Account("team-b", "ak-b", "sk-b", seed=8, denied_actions={"DescribeInstances"})
    with sandbox.running(accounts=[team]) as sb:
        ...                         # the demo key and "ak-b" see different custom images

Modules: :mod:`~imgframe.sandbox.catalog` (the data and its ground truth, built by
:mod:`~imgframe.sandbox.factory` and :mod:`~imgframe.sandbox.fleet`, held as
:mod:`~imgframe.sandbox.listing` columns, served by :mod:`~imgframe.sandbox.serialize`),
:mod:`~imgframe.sandbox.filters` (request parameters and filter semantics),
:mod:`~imgframe.sandbox.resources` (resource groups, networks), :mod:`~imgframe.sandbox.
accounts`, :mod:`~imgframe.sandbox.auth`, :mod:`~imgframe.sandbox.faults` and
:mod:`~imgframe.sandbox.server` (the protocol, with the table of error codes).
``python -m imgframe.sandbox`` serves one until Ctrl-C.
"""

from __future__ import annotations

from imgframe.sandbox.accounts import UNAUTHORIZED, Account
from imgframe.sandbox.auth import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, DEMO_TOKEN
from imgframe.sandbox.catalog import Catalog
from imgframe.sandbox.data import INSTANCE_STATUSES
from imgframe.sandbox.faults import ACTIONS, FAULT_KINDS, Faults
from imgframe.sandbox.filters import ParamError
from imgframe.sandbox.server import API_PATH, RequestRecord, Sandbox, running

__all__ = [
    "ACTIONS",
    "API_PATH",
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_TOKEN",
    "FAULT_KINDS",
    "INSTANCE_STATUSES",
    "UNAUTHORIZED",
    "Account",
    "Catalog",
    "Faults",
    "ParamError",
    "RequestRecord",
    "Sandbox",
    "running",
]
