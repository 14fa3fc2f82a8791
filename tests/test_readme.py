"""The README's promises hold: its quick start, its Python examples, its CLI output."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from imgframe import sandbox
from imgframe.cli import cli

from .helpers import inventory_rows, plain_rows

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
    # The headline of the report is the catalog --sandbox serves (2,000 images, seed 7).
    records = catalog_records(sandbox.Catalog(images=2000, seed=7))
    public = sum(r["imageType"] == "PUBLIC_IMAGE" for r in records)
    available = sum(r["imageStatus"] == "AVAILABLE" for r in records)
    size = sum(int(r["imageSize"]) for r in records if r["imageSize"] is not None)
    lines = (tmp_path / "reports" / "inventory-report.md").read_text().splitlines()
    row = lines.index(
        "| Images | Zones | Public | Custom | Available | Not available | Total size (GiB) |"
    )
    figures = (len(records), 8, public, len(records) - public, available,
               len(records) - available, size)  # fmt: skip
    assert lines[row + 2] == "| " + " | ".join(f"{n:,}" for n in figures) + " |"


def catalog_records(catalog: sandbox.Catalog) -> list[dict[str, Any]]:
    """Every image of ``catalog``, zone by zone in zone id order (how a fetch of "all" lists)."""
    return [r for zone in sorted(catalog.zone_ids) for r in catalog.images(zone)]


def test_python_example_binds_the_frames_its_comments_describe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _recipe = blocks("python")  # a new example needs checks of its own here
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {"__name__": "__readme__"}
    exec(compile(code, "README.md python block", "exec"), names)

    truth = sandbox.Catalog(images=5000)  # what sandbox.running(images=5000) serves
    records = catalog_records(truth)
    df = names["df"]
    assert names["zones"]["zoneId"].tolist() == sorted(truth.zone_ids)
    assert list(zip(df["zoneId"].astype(str), df["imageId"], strict=True)) == [
        (zone, r["imageId"]) for zone in sorted(truth.zone_ids) for r in truth.images(zone)
    ]
    prod = [{"key": "env", "value": "prod"}]
    assert names["linux"]["imageId"].tolist() == [
        r["imageId"] for r in truth.query("asia-east-1a", osType="linux", tags=prod)
    ]
    tags = [(r.get("tags") or {}).get("tags") or [] for r in records]
    assert len(names["long"]) == sum(max(1, len(t)) for t in tags)  # untagged images kept
    assert {c for c in names["wide"].columns if c.startswith("tag:")} == {
        f"tag:{t['key']}" for image_tags in tags for t in image_tags
    }
    nics = Counter(", ".join(r["nicNetworkType"]) for r in records)
    assert names["nics"].to_dict() == {f"[{k}]": n for k, n in nics.items()}
    inv = names["inv"]
    assert plain_rows(inv.drop(columns="fetchedAt")) == inventory_rows(truth)


def test_the_unused_images_recipe_counts_what_no_instance_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _example, recipe = blocks("python")
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {"__name__": "__readme__"}
    exec(compile(recipe, "README.md recipe", "exec"), names)
    truth: dict[str, list[int]] = {}
    for row in inventory_rows(sandbox.Catalog(images=5000)):
        if row["imageType"] == "CUSTOM_IMAGE" and row["instanceCount"] == 0:
            group = truth.setdefault(row["resourceGroupName"], [0, 0])
            group[0] += 1
            group[1] += row["imageSize"] or 0
    got = names["by_holder"]
    assert {k: [int(v) for v in vs] for k, vs in got.iterrows()} == truth
    assert list(got["GiB"]) == sorted(got["GiB"], reverse=True)


def cli_examples() -> list[list[tuple[str, str]]]:
    """The ```console blocks whose first line is `$ imgframe ...`: each a list of (command,
    expected output); a block's commands run in order in one directory. An output ending in
    a line `...` is a prefix of what the command prints."""
    examples = []
    for block in blocks("console"):
        lines = block.rstrip("\n").splitlines()
        if not (lines and lines[0].startswith("$ imgframe ")):
            continue
        steps: list[tuple[str, list[str]]] = []
        for line in lines:
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        examples.append([(command, "\n".join(out)) for command, out in steps])
    return examples


@pytest.mark.parametrize("steps", cli_examples(), ids=[s[0][0] for s in cli_examples()])
def test_cli_examples_print_what_the_readme_shows(
    steps: list[tuple[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for command, expected in steps:
        result = CliRunner().invoke(cli, shlex.split(command)[1:])
        assert result.exit_code == 0, result.output
        if expected.endswith("\n...") or expected == "...":
            head = expected.removesuffix("...").rstrip("\n")
            assert result.stdout.startswith(head + "\n" if head else ""), command
        else:
            assert result.stdout.rstrip("\n") == expected, command
