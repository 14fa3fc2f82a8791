"""Shared fixtures: one sandbox over real HTTP on 127.0.0.1 for the whole session.

Plain helpers and constants live in :mod:`tests.helpers`; the names re-exported below stay
importable from here for modules that still import them from ``conftest``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import imgframe
from imgframe import sandbox

from .helpers import (
    CATALOG_IMAGES,
    CATALOG_SEED,
    DATA,
    FAST_RETRY,
    FAST_TIMEOUTS,
    client_kwargs,
    signature_vectors,
)

#: Re-exported from tests.helpers so `from .conftest import client_kwargs` keeps working.
__all__ = [
    "CATALOG_IMAGES",
    "CATALOG_SEED",
    "DATA",
    "FAST_RETRY",
    "FAST_TIMEOUTS",
    "client_kwargs",
    "signature_vectors",
]


@pytest.fixture(scope="session")
def sb() -> Iterator[sandbox.Sandbox]:
    """The shared sandbox: a 3,000-image catalog. Tests must not change its faults or day."""
    with sandbox.running(images=CATALOG_IMAGES, seed=CATALOG_SEED) as server:
        yield server


@pytest.fixture
def fresh_sb() -> Iterator[sandbox.Sandbox]:
    """A private small sandbox a test may inject faults into or evolve."""
    with sandbox.running(images=400, seed=11) as server:
        yield server


@pytest.fixture
def client(sb: sandbox.Sandbox) -> Iterator[imgframe.Client]:
    with imgframe.Client(**client_kwargs(sb)) as c:
        yield c


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's own Zenlayer credentials, profile files or cache."""
    for name in (
        "ZENLAYER_ACCESS_KEY_ID",
        "ZENLAYER_ACCESS_KEY_SECRET",
        "ZENLAYER_TOKEN",
        "ZENLAYER_ENDPOINT",
        "ZENLAYER_PROFILE",
        "ZENLAYERCLOUD_ACCESS_KEY_ID",
        "ZENLAYERCLOUD_ACCESS_KEY_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # ... nor their page cache: each test has its own (under the temporary home).
    monkeypatch.delenv("IMGFRAME_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
