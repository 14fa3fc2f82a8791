"""The README's promises hold: its quick start, its Python examples, its CLI output."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgframe.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```console\n(.*?)```", section, flags=re.S)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_quick_start_has_exactly_two_commands() -> None:
    commands = quick_start()
    assert len(commands) == 2
    assert commands[0].endswith("imgframe --sandbox report -o reports/")
    assert commands[1].endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert quick_start()[1] in ci.splitlines()


def test_quick_start_report_command_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    command = quick_start()[0].split("&&")[-1].strip()
    args = shlex.split(command)[1:]  # drop the executable path
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    html = tmp_path / "reports" / "inventory-report.html"
    assert result.stdout.splitlines() == [
        "reports/inventory-report.html",
        "reports/inventory-report.md",
    ]
    assert html.stat().st_size > 10_000
    assert (tmp_path / "reports" / "inventory-report.md").exists()


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_examples_run(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def cli_examples() -> list[tuple[str, str]]:
    """(command, expected output) from ```console blocks whose first line is `$ imgframe ...`."""
    examples = []
    for block in blocks("console"):
        lines = block.rstrip("\n").splitlines()
        if lines and lines[0].startswith("$ imgframe "):
            examples.append((lines[0][2:], "\n".join(lines[1:])))
    return examples


@pytest.mark.parametrize(
    ("command", "expected"), cli_examples(), ids=[c for c, _ in cli_examples()]
)
def test_cli_examples_print_what_the_readme_shows(
    command: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip("\n") == expected
