"""What spreadsheet users get from the command line: CSV with a byte order mark for Excel,
and a workbook whose Changes sheet comes from the snapshot store."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from imgframe import sandbox
from imgframe.export import read_export

from .cli_helpers import no_fetched_at, run, use_sandbox

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("xlsxwriter")


@pytest.fixture(scope="module")
def server() -> sandbox.Sandbox:
    with sandbox.running(images=120, seed=5) as running:
        yield running  # type: ignore[misc]


def test_bom_starts_a_csv_with_the_utf8_mark_and_reads_back_the_same(
    server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_sandbox(monkeypatch, server)
    plain, marked, zipped = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv.gz"
    assert run("export", "-o", plain).exit_code == 0
    result = run("export", "--bom", "-o", marked, "-o", zipped)
    assert result.exit_code == 0, result.output
    # The mark, then the same bytes as without it (fetchedAt aside: another fetch).
    head, _, rest = marked.read_bytes().removeprefix(codecs.BOM_UTF8).partition(b"\n")
    assert marked.read_bytes().startswith(codecs.BOM_UTF8)
    assert head == plain.read_bytes().partition(b"\n")[0]
    rows = sum(len(server.catalog.images(z)) for z in server.catalog.zone_ids)
    assert rest.count(b"\n") == rows == 163
    assert gzip.decompress(zipped.read_bytes()) == marked.read_bytes()
    assert no_fetched_at(read_export(marked)).equals(no_fetched_at(read_export(plain)))
    # Appending adds rows, never a second mark in the middle of the file.
    again = run("export", "--bom", "--mode", "append", "-o", marked)
    assert again.exit_code == 0, again.output
    body = marked.read_bytes()
    assert body.startswith(codecs.BOM_UTF8)
    assert body.count(codecs.BOM_UTF8) == 1
    assert len(read_export(marked)) == 2 * rows


def test_a_workbook_export_with_a_store_gets_the_changes_sheet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store, book = tmp_path / "store", tmp_path / "inventory.xlsx"
    with sandbox.running(images=400, seed=11, day=0) as server:
        use_sandbox(monkeypatch, server)
        first = run("snapshot", "--store", store, "--date", "2026-01-01")
        alone = run("export", "-o", book, "--store", store)
        assert (first.exit_code, alone.exit_code) == (0, 0), alone.output
        # One snapshot: nothing to compare, so no Changes sheet.
        assert "Changes" not in openpyxl.load_workbook(book, read_only=True).sheetnames
        server.set_day(1)
        second = run("snapshot", "--store", store, "--date", "2026-01-02")
        result = run("export", "-o", book, "--store", store, "--mode", "overwrite")
    assert (second.exit_code, result.exit_code) == (0, 0), result.output
    workbook = openpyxl.load_workbook(book, read_only=True)
    assert workbook.sheetnames == ["Summary", "Images", "Tags", "Zones", "Changes", "Unused"]
    rows = list(workbook["Changes"].values)
    header, body = rows[0], rows[1:]
    kinds = [dict(zip(header, r, strict=True))["change"] for r in body]
    # The sandbox's day 1 of this catalog: 2 added, 3 removed, 34 changed fields (the same
    # overnight change test_cli pins from the catalog itself).
    assert (kinds.count("added"), kinds.count("removed"), kinds.count("changed")) == (2, 3, 34)
