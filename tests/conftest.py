"""Shared fixtures: one sandbox over real HTTP on 127.0.0.1 for the whole session."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import imgframe
from imgframe import sandbox
from imgframe.transport import RetryPolicy, Timeouts

DATA = Path(__file__).resolve().parent / "data"
CATALOG_IMAGES = 3000
CATALOG_SEED = 7

#: Fast retries for tests: the behaviour is the same, the waits are short.
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total=5.0)
FAST_TIMEOUTS = Timeouts(connect=2.0, read=1.0, total=5.0)


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


def client_kwargs(server: sandbox.Sandbox, **extra: Any) -> dict[str, Any]:
    """Connection arguments for a sandbox, with fast retries unless overridden."""
    kwargs: dict[str, Any] = {
        "endpoint": server.endpoint,
        "access_key_id": server.access_key_id,
        "access_key_secret": server.access_key_secret,
        "retry": FAST_RETRY,
        "timeouts": FAST_TIMEOUTS,
    }
    kwargs.update(extra)
    return kwargs


@pytest.fixture
def client(sb: sandbox.Sandbox) -> Iterator[imgframe.Client]:
    with imgframe.Client(**client_kwargs(sb)) as c:
        yield c


@pytest.fixture
def fresh_client(fresh_sb: sandbox.Sandbox) -> Iterator[imgframe.Client]:
    with imgframe.Client(**client_kwargs(fresh_sb)) as c:
        yield c


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's own Zenlayer credentials or profile files."""
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


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def signature_vectors() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = json.loads(
        (DATA / "signature-vectors.json").read_text(encoding="utf-8")
    )["cases"]
    return cases
