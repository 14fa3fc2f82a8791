"""The workbook: text stays text, timestamps are datetimes, every sheet filterable."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from imgframe import sandbox
from imgframe.errors import ExportError, InvalidArgument
from imgframe.export import write_export
from imgframe.frame import frame_from_records

from .inventory import inventory_frame

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("xlsxwriter")

TRICKY = ["11.10", "=cmd|' /C calc'!A0", "0012", "2024-07-12", "+1", "x" * 40_000]


def _frame() -> object:
    records = [
        {"imageId": f"img-{i}", "imageName": name, "imageType": "CUSTOM_IMAGE", "imageSize": "20",
         "imageStatus": "AVAILABLE", "nicNetworkType": ["FailOver", "VirtioOnly"],
         "tags": {"tags": [{"key": "env", "value": "prod"}]} if i else None}
        for i, name in enumerate(TRICKY)
    ]  # fmt: skip
    return frame_from_records(
        records, zone_id="asia-east-1a", fetched_at=dt.datetime(2025, 3, 1, 8, 30, tzinfo=dt.UTC)
    )


def test_text_stays_text_and_timestamps_are_utc_datetimes(tmp_path: Path) -> None:
    written = write_export(_frame(), tmp_path / "inventory.xlsx")
    assert (written.format, written.rows) == ("xlsx", 6)
    book = openpyxl.load_workbook(written.path)
    assert book.sheetnames == ["Summary", "Images", "Tags", "Zones"]
    sheet = book["Images"]
    header = [c.value for c in sheet[1]]
    assert header[-1] == "fetchedAt (UTC)"
    names = [sheet.cell(r, header.index("imageName") + 1) for r in range(2, 8)]
    assert [c.value for c in names[:5]] == TRICKY[:5]
    assert all(c.data_type == "s" for c in names)  # never a number, date or formula
    assert names[5].value.endswith("… [cut at the cell limit]")
    assert len(names[5].value) == 32_767
    stamp = sheet.cell(2, len(header)).value
    assert stamp == dt.datetime(2025, 3, 1, 8, 30, 0, 123) or stamp.replace(
        microsecond=0
    ) == dt.datetime(2025, 3, 1, 8, 30)
    assert sheet.cell(2, header.index("imageSize") + 1).value == 20
    assert sheet.cell(2, header.index("nicNetworkType") + 1).value == "FailOver, VirtioOnly"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:O7"
    tags = [[c.value for c in row] for row in book["Tags"].iter_rows(min_row=1, max_row=3)]
    assert tags[0] == ["zoneId", "imageId", "imageName", "tagKey", "tagValue"]
    assert tags[1] == ["asia-east-1a", "img-0", "11.10", None, None]  # untagged kept
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Images"] == 6
    assert summary["Status AVAILABLE"] == 6
    # the long name twice: in Images and in Tags
    assert summary["Cells cut"].startswith("2 cells were longer than the 32,767 characters")


def test_inventory_adds_unused_and_zone_sheets_from_the_catalog(tmp_path: Path) -> None:
    catalog = sandbox.Catalog(images=300, seed=7)
    df = inventory_frame(catalog)
    book = openpyxl.load_workbook(write_export(df, tmp_path / "i.xlsx").path, read_only=True)
    assert book.sheetnames == ["Summary", "Images", "Tags", "Zones", "Unused"]
    usage = catalog.usage()
    expected = sum(
        1 for z in catalog.zone_ids for r in catalog.images(z)
        if r["imageType"] == "CUSTOM_IMAGE" and usage.get((z, r["imageId"]), 0) == 0
    )  # fmt: skip
    assert len(list(book["Unused"].iter_rows(min_row=2))) == expected
    zones = {r[0]: r for r in book["Zones"].iter_rows(min_row=2, values_only=True)}
    assert sorted(zones) == sorted(catalog.zone_ids)
    header = [c.value for c in next(book["Zones"].iter_rows(max_row=1))]
    images = header.index("images")
    assert {z: zones[z][images] for z in zones} == {
        z: len(catalog.images(z)) for z in catalog.zone_ids
    }


def test_modes_and_limits(tmp_path: Path) -> None:
    target = tmp_path / "x.xlsx"
    write_export(_frame(), target)
    with pytest.raises(ExportError, match="already exists"):
        write_export(_frame(), target)
    with pytest.raises(InvalidArgument, match="cannot be appended"):
        write_export(_frame(), target, mode="append")
    write_export(_frame(), target, mode="overwrite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.xlsx"]  # atomic: no leftovers


@pytest.mark.skipif(shutil.which("libreoffice") is None, reason="libreoffice is not installed")
def test_a_spreadsheet_app_reads_text_as_text(tmp_path: Path) -> None:
    written = write_export(_frame(), tmp_path / "inventory.xlsx")
    out = tmp_path / "out"
    subprocess.run(
        ["libreoffice", "--headless", f"-env:UserInstallation=file://{tmp_path / 'lo'}",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,2",
         "--outdir", str(out), str(written.path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    files = sorted(out.glob("*.csv"))
    images = next(p for p in files if "Images" in p.name)
    rows = list(csv.reader(images.open(encoding="utf-8")))
    column = rows[0].index("imageName")
    assert [r[column] for r in rows[1:6]] == TRICKY[:5]
