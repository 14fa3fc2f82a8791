"""Running the ``imgframe`` command in-process against a sandbox (for the CLI tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from imgframe import sandbox
from imgframe.cli import cli

#: The catalog of the CLI tests' own sandbox: the same one ``--sandbox --sandbox-images 300``
#: serves, so in-process and over-HTTP runs can be compared.
SMALL_IMAGES = 300
SMALL_SEED = 7
SANDBOX = ("--sandbox", "--sandbox-images", str(SMALL_IMAGES))


def run(*args: str | Path) -> Result:
    """``imgframe <args>`` in this process; stdout and stderr kept apart (click 8.2+)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def use_sandbox(
    monkeypatch: pytest.MonkeyPatch,
    server: sandbox.Sandbox,
    *,
    key_id: str | None = None,
    secret: str | None = None,
) -> None:
    """Point the CLI at ``server`` the way a user would: through the environment."""
    monkeypatch.setenv("ZENLAYER_ENDPOINT", server.endpoint)
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_ID", key_id or server.access_key_id)
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", secret or server.access_key_secret)


def error_line(result: Result) -> str:
    """The message of a failed run, checking it is one clean line and nothing else."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imgframe: error: "), result.stderr
    assert result.stdout == ""
    return lines[0].removeprefix("imgframe: error: ")


def no_fetched_at(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without ``fetchedAt`` (the one column two fetches of the same data differ in)."""
    return frame.drop(columns=["fetchedAt"])


def files_under(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (hidden ones included) with its bytes, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
