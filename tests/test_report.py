"""The inventory report: self-contained, escaped, and showing figures equal to the data."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from imgframe.errors import InvalidArgument
from imgframe.report import (
    build_report,
    build_report_html,
    build_report_markdown,
    hygiene_findings,
)

from .frames import fixture_frame, small_frame


class Page(HTMLParser):
    """What a test needs from the report: tags and attributes, cards, tables by section."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.section: str | None = None
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.cards: dict[str, int] = {}
        self.text: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._card_class: str | None = None
        self._card: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section" and attributes.get("id"):
            self.section = attributes["id"]
        if tag == "table":
            self.tables.setdefault(self.section or "", []).append([])
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag == "div" and attributes.get("class") in ("value", "label"):
            self._card_class = attributes["class"]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.tables[self.section or ""][-1].append(self._row)
            self._row = None
        if tag == "div" and self._card_class == "label":
            value, label = self._card
            self.cards[label] = int(value.replace(",", ""))
            self._card = []
        if tag == "div":
            self._card_class = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._card_class is not None:
            self._card.append(data)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return fixture_frame(zones=True)


@pytest.fixture(scope="module")
def page_text(df: pd.DataFrame) -> str:
    return build_report_html(df, require_tags=["owner", "env"], max_rows=10)


@pytest.fixture(scope="module")
def page(page_text: str) -> Page:
    return Page(page_text)


# --------------------------------------------------------------------------------------------
# Self-contained and safe


def test_html_has_no_scripts_and_no_external_references(page: Page, page_text: str) -> None:
    assert "<script" not in page_text.lower()
    assert [t for t, _ in page.tags if t in ("script", "link", "iframe", "object", "embed")] == []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name == "src":
                assert str(value).startswith("data:image/png;base64,"), tag
            if name == "href":
                assert str(value).startswith("#"), value
    assert "url(" not in page_text  # no CSS fetches either
    assert "default-src 'none'" in page_text  # the CSP forbids scripts and remote loads


def test_api_values_are_escaped_as_text(page_text: str, page: Page) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text
    assert "<script>alert(1)</script>" in "".join(page.text)  # shows as text
    for invisible in ("\u202e", "\x1b", "\r", "\t"):
        assert invisible not in page_text


#: The fixture frame's headline figures, counted by hand from tests/frames.py.
CARDS = {
    "Images": 21, "Zones": 3, "Public": 2, "Custom": 18, "Available": 17, "Not available": 4,
    "Total size (GiB)": 286,
}  # fmt: skip


def test_headline_cards_equal_the_data(page: Page) -> None:
    assert page.cards == CARDS


def test_charts_are_embedded_pngs_that_decode(page: Page) -> None:
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert [a["alt"] for a in images] == [
        "Bar chart of images by category",
        "Bar chart of images by OS type",
        "Bar chart of images by status",
        "Bar chart of images by zone",
    ]
    for attrs in images:
        data = base64.b64decode(str(attrs["src"]).removeprefix("data:image/png;base64,"))
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG"
        assert image.size == (int(str(attrs["width"])), int(str(attrs["height"])))


def _table(page: Page, section: str, index: int = 0) -> list[list[str]]:
    return page.tables[section][index]


def test_count_tables_equal_the_data(page: Page) -> None:
    assert page.tables["counts"] == [
        [
            ["Category", "Images", "Size (GiB)"],
            ["OTHERS", "7", "77"], ["Generic", "6", "66"], ["Ubuntu", "2", "45"],
            ["(none)", "1", "0"], ['=HYPERLINK("http://x")', "1", "18"], ["CentOS", "1", "0"],
            ["Debian", "1", "30"], ["Rocky", "1", "10"], ["Windows", "1", "40"],
        ],
        [
            ["OS type", "Images", "Size (GiB)"],
            ["any", "14", "161"], ["linux", "5", "85"], ["(none)", "1", "0"],
            ["windows", "1", "40"],
        ],
        [
            ["Status", "Images", "Size (GiB)"],
            ["AVAILABLE", "17", "246"], ["(none)", "1", "0"], ["CREATING", "1", "10"],
            ["FAILED", "1", "0"], ["UNAVAILABLE", "1", "30"],
        ],
        [
            ["Zone", "Images", "Size (GiB)"],
            ["asia-east-1a", "8", "140"], ["na-west-1a", "7", "90"], ["eu-central-1a", "6", "56"],
        ],
    ]  # fmt: skip


def test_hygiene_findings_list_the_right_images(
    page: Page, page_text: str, df: pd.DataFrame
) -> None:
    findings = {f.key: f.images for f in hygiene_findings(df, require_tags=["owner", "env"])}
    assert findings["untagged"]["imageId"].tolist() == ["img-failed"]
    assert sorted(findings["not_available"]["imageId"]) == [
        "img-creating",
        "img-failed",
        "img-no-status",
        "img-unavailable",
    ]
    missing = findings["missing_tags"].set_index("imageId")["missing"]
    assert missing["img-creating"] == "env"
    assert missing["img-failed"] == "owner, env"
    assert "img-custom-ok" not in missing.index  # has both
    assert "ubuntu2404_20240712" not in missing.index  # public images are not the account's
    assert len(missing) == 17

    untagged, not_available, missing_table = page.tables["findings"]
    assert [row[1] for row in untagged[1:]] == ["img-failed"]
    assert not_available == [
        ["Zone", "Image ID", "Name", "Status"],
        ["eu-central-1a", "img-creating", "fresh", "CREATING"],
        ["eu-central-1a", "img-no-status", "", ""],
        ["na-west-1a", "img-failed", "broken build", "FAILED"],
        ["na-west-1a", "img-unavailable", "old snapshot", "UNAVAILABLE"],
    ]
    assert len(missing_table) == 1 + 10  # capped at max_rows
    counts = re.findall(r'<span class="count">([\d,]+)</span>', page_text)
    assert counts == ["1", "4", "17"]


def test_image_list_is_capped_with_a_note(page: Page, page_text: str, df: pd.DataFrame) -> None:
    rows = _table(page, "images")
    assert rows[0] == [
        "Zone",
        "Image ID",
        "Name",
        "Type",
        "Category",
        "OS type",
        "Status",
        "Size (GiB)",
        "Tags",
    ]
    assert len(rows) == 1 + 10
    assert f"{len(df) - 10:,} more rows not shown." in page_text


def test_without_changes_or_trend_those_sections_are_absent(page_text: str) -> None:
    assert "Changes since the previous snapshot" not in page_text
    assert 'id="trend"' not in page_text


def _changes(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "added": df.head(2),
        "removed": df.tail(1),
        "changed": pd.DataFrame(
            {
                "zoneId": ["asia-east-1a", "asia-east-1a"],
                "imageId": ["img-x", "img-x"],
                "field": ["imageName", "imageStatus"],
                "old": ["before", "CREATING"],
                "new": ["<b>after</b>", "AVAILABLE"],
            }
        ),
    }


TREND = pd.DataFrame(
    {
        "snapshot_date": ["2025-03-01", "2025-03-01", "2025-03-02", "2025-03-02"],
        "imageStatus": ["AVAILABLE", "FAILED", "AVAILABLE", None],
        "images": [10, 2, 12, 1],
    }
)


def test_changes_and_trend_sections(df: pd.DataFrame) -> None:
    text = build_report_html(df, changes=_changes(df), trend=TREND)
    page = Page(text)
    assert "Changes since the previous snapshot" in text
    assert "Added: 2 · Removed: 1 · Changed: 1" in text  # one image, two changed fields
    added, removed, changed = page.tables["changes"]
    assert [row[1] for row in added[1:]] == df["imageId"].head(2).tolist()
    assert [row[1] for row in removed[1:]] == df["imageId"].tail(1).tolist()
    assert changed == [
        ["Zone", "Image ID", "Field", "Before", "After"],
        ["asia-east-1a", "img-x", "imageName", "before", "<b>after</b>"],
        ["asia-east-1a", "img-x", "imageStatus", "CREATING", "AVAILABLE"],
    ]
    assert "&lt;b&gt;after&lt;/b&gt;" in text
    trend_images = [a for t, a in page.tags if t == "img" and "over time" in str(a.get("alt"))]
    assert len(trend_images) == 1
    assert page.tables["trend"][0] == [
        ["Date", "AVAILABLE", "FAILED", "(none)"],
        ["2025-03-01", "10", "2", "0"],
        ["2025-03-02", "12", "0", "1"],
    ]


def test_missing_change_frames_count_as_none(df: pd.DataFrame) -> None:
    text = build_report_markdown(df, changes={"added": df.head(1)})
    assert "Added: 1 · Removed: 0 · Changed: 0" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"changes": {"moved": pd.DataFrame()}}, "moved"),
        ({"trend": pd.DataFrame({"date": []})}, "snapshot_date"),
        ({"max_rows": -1}, "max_rows"),
    ],
)
def test_bad_report_arguments_are_invalid(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        build_report_markdown(small_frame(), **kwargs)


# --------------------------------------------------------------------------------------------
# Markdown


def test_markdown_escapes_cells_and_keeps_tables_intact(df: pd.DataFrame) -> None:
    text = build_report_markdown(df, require_tags=["owner"], max_rows=500)
    assert "pipe \\| in \\| cells" in text
    assert "\\<script\\>alert(1)\\</script\\>" in text
    assert "<script>" not in text
    for invisible in ("\u202e", "\x1b", "\r"):
        assert invisible not in text
    image_rows = text.split("## Images\n")[1].strip().splitlines()
    assert len(image_rows) == 2 + len(df)  # a newline in a name does not split its row
    for line in image_rows:
        cells = re.split(r"(?<!\\)\|", line)
        assert len(cells) == 2 + 9, line


def test_markdown_headline_and_findings_equal_the_data(df: pd.DataFrame) -> None:
    text = build_report_markdown(df, require_tags=["owner", "env"], max_rows=3)
    lines = text.splitlines()
    row = lines.index("| " + " | ".join(CARDS) + " |")
    assert lines[row + 2] == "| 21 | 3 | 2 | 18 | 17 | 4 | 286 |"
    assert "### Custom images without tags: 1" in text
    assert "### Images not available: 4" in text
    assert "### Custom images missing required tags: 17" in text
    assert "_14 more rows not shown._" in text
    assert f"_{len(df) - 3:,} more rows not shown._" in text


# --------------------------------------------------------------------------------------------
# Files


def test_build_report_writes_both_files(tmp_path: Path) -> None:
    df = small_frame(2)
    paths = build_report(df, tmp_path / "reports" / "today", title="Team <images>")
    assert paths.html == tmp_path / "reports" / "today" / "inventory-report.html"
    assert paths.markdown == tmp_path / "reports" / "today" / "inventory-report.md"
    page_text = paths.html.read_text(encoding="utf-8")
    assert "<title>Team &lt;images&gt;</title>" in page_text
    assert paths.markdown.read_text(encoding="utf-8").startswith("# Team \\<images\\>\n")
    assert sorted(p.name for p in paths.html.parent.iterdir()) == [
        "inventory-report.html",
        "inventory-report.md",
    ]
