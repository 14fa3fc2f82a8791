"""The inventory report: self-contained, escaped, and showing figures equal to the data."""

from __future__ import annotations

import html
import json
import random
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from imgframe.errors import InvalidArgument
from imgframe.frame import frame_from_records
from imgframe.report import (
    build_report,
    build_report_html,
    build_report_markdown,
    hygiene_findings,
)

from .frames import fixture_frame, small_frame

ROOT = Path(__file__).resolve().parents[1]


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


def test_html_loads_nothing_and_allows_only_its_own_script(page: Page, page_text: str) -> None:
    from imgframe.report.html import asset, script_hash

    scripts = [a for t, a in page.tags if t == "script"]
    assert scripts == [{"type": "application/json", "id": "report-data"}, {}]
    assert [t for t, _ in page.tags if t in ("link", "iframe", "object", "embed", "img")] == []
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "src", tag
            if name == "href":
                assert str(value).startswith("#"), value
    assert re.findall(r"url\((?!#)", page_text) == []  # only the charts' own clip paths
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page_text)
    assert policy is not None
    assert policy.group(1) == (
        f"default-src 'none'; script-src {script_hash(asset('app.js'))}; "
        "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
        "require-trusted-types-for 'script'; trusted-types 'none'"
    )
    assert f"<script>{asset('app.js')}</script>" in page_text  # exactly the hashed text


def test_embedded_json_cannot_end_its_element() -> None:
    from imgframe.report.listing import json_for_script

    text = json_for_script({"n": ["</script><!--", "a & b", "\u2028\u2029"]})
    assert text == '{"n":["\\u003c/script\\u003e\\u003c!--","a \\u0026 b","\\u2028\\u2029"]}'
    assert json.loads(text) == {"n": ["</script><!--", "a & b", "\u2028\u2029"]}


def test_api_values_are_escaped_as_text(page_text: str, page: Page) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text
    assert "<script>alert(1)</script>" in "".join(page.text)  # shows as text
    for invisible in ("\u202e", "\x1b", "\r", "\t"):
        assert invisible not in page_text


#: The fixture frame's headline figures, counted by hand from tests/frames.py.
CARDS = {
    "Images": 21, "Available": 17, "Failed": 1, "Unavailable": 1, "In progress": 1,
    "No status": 1, "Unused custom": 0, "Untagged custom": 1, "Total size (GiB)": 286,
    "Zones": 3,
}  # fmt: skip


def test_headline_cards_equal_the_data(page: Page) -> None:
    assert page.cards == CARDS


def test_charts_are_inline_svg_with_searchable_text_and_a_source_line(page_text: str) -> None:
    labels = re.findall(r'<svg role="img" aria-label="([^"]+)"', page_text)
    assert labels == [
        "Bar chart of images by status",
        "Bar chart of images by zone and status",
        "Bar chart of images by category",
        "Bar chart of images by OS type",
    ]
    assert "<text" in page_text  # labels stay text (svg.fonttype none)
    assert "FAILED" in page_text
    assert (
        page_text.count("Source: Zenlayer image inventory, 21 images, fetched 2025-03-01 08:30 UTC")
        == 4
    )
    ids = re.findall(r' id="([^"]+)"', page_text)
    assert len(ids) == len(set(ids))  # charts share the page without clashing ids


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
    # FAILED first, then UNAVAILABLE, no status, in progress.
    assert findings["not_available"]["imageId"].tolist() == [
        "img-failed",
        "img-unavailable",
        "img-no-status",
        "img-creating",
    ]
    missing = findings["missing_tags"].set_index("imageId")["missing"]
    assert missing["img-creating"] == "env"
    assert missing["img-failed"] == "owner, env"
    assert "img-custom-ok" not in missing.index  # has both
    assert "ubuntu2404_20240712" not in missing.index  # public images are not the account's
    assert len(missing) == 17

    not_available, untagged, missing_table = page.tables["findings"]
    assert [row[1] for row in untagged[1:]] == ["img-failed"]
    assert not_available == [
        ["Zone", "Image ID", "Name", "Owner", "Status", "Size (GiB)"],
        ["na-west-1a", "img-failed", "broken build", "(no owner tag)", "FAILED", ""],
        ["na-west-1a", "img-unavailable", "old snapshot", "(no owner tag)", "UNAVAILABLE", "30"],
        ["eu-central-1a", "img-no-status", "", "(no owner tag)", "", "0"],
        ["eu-central-1a", "img-creating", "fresh", "data-team", "CREATING", "10"],
    ]
    assert len(missing_table) == 1 + 10  # capped at max_rows
    counts = re.findall(r'<span class="count">([\d,?]+)</span>', page_text)
    # not available, in use (unknown), unlisted (unknown), untagged, missing tags, unused
    assert counts == ["4", "?", "?", "1", "17", "?"]


def test_image_list_is_capped_with_a_note(page: Page, page_text: str, df: pd.DataFrame) -> None:
    assert _table(page, "images", 0) == [[]]  # the script's list, filled in the browser
    rows = _table(page, "images", 1)  # what shows without JavaScript
    assert rows[0] == [
        "Zone", "Image ID", "Name", "Type", "Category", "OS type", "Status", "Size (GiB)",
        "Owner", "Tags", "Problems",
    ]  # fmt: skip
    assert len(rows) == 1 + 10
    # problems first: failed, then unavailable and no status, then largest first
    assert [r[1] for r in rows[1:4]] == ["img-failed", "img-unavailable", "img-no-status"]
    # then missing required tags, largest first (18 GiB, 17 GiB); in progress comes later
    assert [r[1] for r in rows[4:6]] == ["img-hostile-13", "img-hostile-12"]
    assert rows[1][-1] == "failed, untagged, missing tags"
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
    transitions, added, removed, changed = page.tables["changes"]
    assert transitions == [["Change", "Images"], ["CREATING → AVAILABLE", "1"]]
    assert [row[1] for row in added[1:]] == df["imageId"].head(2).tolist()
    assert [row[1] for row in removed[1:]] == df["imageId"].tail(1).tolist()
    assert changed == [
        ["Zone", "Image ID", "Name", "What changed"],
        ["asia-east-1a", "img-x", "<b>after</b>",
         "imageName: before → <b>after</b>; status CREATING → AVAILABLE"],
    ]  # fmt: skip
    assert "&lt;b&gt;after&lt;/b&gt;" in text
    assert text.count('aria-label="Images by status over time"') == 1
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
    assert len(image_rows) == 2 + 2 + len(df)  # the note, a blank; a newline splits no row
    for line in image_rows[2:]:
        cells = re.split(r"(?<!\\)\|", line)
        assert len(cells) == 2 + 11, line


def test_markdown_headline_and_findings_equal_the_data(df: pd.DataFrame) -> None:
    text = build_report_markdown(df, require_tags=["owner", "env"], max_rows=3)
    lines = text.splitlines()
    row = lines.index(
        "| Images | Zones | Public | Custom | Available | Not available | Total size (GiB) |"
    )
    assert lines[row + 2] == "| 21 | 3 | 2 | 18 | 17 | 4 | 286 |"
    row = lines.index(
        "| Failed | Unavailable | In progress | No status | Unused custom | Untagged custom |"
    )
    assert lines[row + 2] == "| 1 | 1 | 1 | 1 | ? | 1 |"  # usage not fetched: unknown
    assert "### Custom images without tags: 1" in text
    assert "### Images not available: 4" in text
    assert "### Custom images missing required tags: 17" in text
    assert "_14 more rows not shown._" in text  # missing tags: 17, 3 shown
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


# --------------------------------------------------------------------------------------------
# Charts: hand-written SVG, no plotting library


def _charts(page_text: str) -> dict[str, str]:
    """Each inline chart's markup by its accessible name."""
    found = re.findall(r'(<svg role="img" aria-label="([^"]+)".*?</svg>)', page_text, re.S)
    return {label: svg for svg, label in found}


def _bars(svg: str) -> list[tuple[str, str, float]]:
    """(colour, tooltip, width) of every bar (legend swatches carry no tooltip)."""
    return [
        (colour, html.unescape(tip), float(width))
        for width, colour, tip in re.findall(
            r'<rect [^>]*width="([\d.]+)" [^>]*fill="(#[0-9A-Fa-f]{6})"[^>]*><title>([^<]*)</title>',
            svg,
        )
    ]


#: The Okabe-Ito colours of the statuses (pinned from the palette, not read from the code),
#: the slate of other bars and the grey of a missing key.
OKABE_ITO = {"AVAILABLE": "#009E73", "CREATING": "#56B4E9", "UNAVAILABLE": "#E69F00",
             "FAILED": "#D55E00", "(none)": "#999999"}  # fmt: skip
SLATE, LIGHT_GREY = "#4A5D73", "#B8C2CC"


def test_status_chart_bars_wear_the_tables_status_colours(page_text: str) -> None:
    bars = _bars(_charts(page_text)["Bar chart of images by status"])
    # the count table's order (most images first, then by name), counted from tests/frames.py
    assert [(c, t) for c, t, _ in bars] == [
        (OKABE_ITO["AVAILABLE"], "AVAILABLE: 17"), (OKABE_ITO["(none)"], "(none): 1"),
        (OKABE_ITO["CREATING"], "CREATING: 1"), (OKABE_ITO["FAILED"], "FAILED: 1"),
        (OKABE_ITO["UNAVAILABLE"], "UNAVAILABLE: 1"),
    ]  # fmt: skip
    widths = [w for _, _, w in bars]
    assert widths[0] / widths[3] == pytest.approx(17, rel=0.02)  # lengths proportional
    # the same colour as the status in the tables
    assert f'<span class="st" style="--c:{OKABE_ITO["FAILED"]}">FAILED</span>' in page_text


def test_zone_chart_splits_each_zone_by_status(page_text: str) -> None:
    svg = _charts(page_text)["Bar chart of images by zone and status"]
    # tests/frames.py: asia-east-1a 8 available; na-west-1a 5 + 1 unavailable + 1 failed;
    # eu-central-1a 4 + 1 creating + 1 without status. Zones by size, statuses healthy first.
    assert [(c, t) for c, t, _ in _bars(svg)] == [
        (OKABE_ITO["AVAILABLE"], "asia-east-1a · AVAILABLE: 8"),
        (OKABE_ITO["AVAILABLE"], "na-west-1a · AVAILABLE: 5"),
        (OKABE_ITO["UNAVAILABLE"], "na-west-1a · UNAVAILABLE: 1"),
        (OKABE_ITO["FAILED"], "na-west-1a · FAILED: 1"),
        (OKABE_ITO["AVAILABLE"], "eu-central-1a · AVAILABLE: 4"),
        (OKABE_ITO["CREATING"], "eu-central-1a · CREATING: 1"),
        (OKABE_ITO["(none)"], "eu-central-1a · (none): 1"),
    ]
    texts = [html.unescape(t) for t in re.findall(r">([^<>]+)</text>", svg)]
    assert texts[:6] == [
        "Images by zone and status",
        "AVAILABLE",
        "CREATING",
        "UNAVAILABLE",
        "FAILED",
        "(none)",
    ]  # fmt: skip  (the legend, in stacking order)
    assert {"asia-east-1a", "8", "na-west-1a", "7", "eu-central-1a", "6"} <= set(texts)


def test_category_chart_text_is_escaped_text_in_one_slate(page_text: str) -> None:
    svg = _charts(page_text)["Bar chart of images by category"]
    colours = {t.split(":")[0]: c for c, t, _ in _bars(svg)}
    assert colours["OTHERS"] == colours["Ubuntu"] == SLATE
    assert colours["(none)"] == LIGHT_GREY
    assert "=HYPERLINK(&quot;http://x&quot;)</text>" in svg  # a hostile label, as text
    assert "Source: Zenlayer image inventory, 21 images, fetched 2025-03-01 08:30 UTC</text>" in svg


def test_hostile_long_labels_are_cut_escaped_and_kept_whole_in_a_tooltip() -> None:
    df = fixture_frame(zones=True)
    hostile = "<script>alert(1)</script>\u202e\x1b[31m" + "x" * 80
    categories = df["category"].astype("string").to_numpy(copy=True)
    categories[:3] = hostile
    df["category"] = pd.Categorical(categories)
    svg = _charts(build_report_html(df))["Bar chart of images by category"]
    assert "<script>" not in svg
    assert "\u202e" not in svg
    assert "\x1b" not in svg
    label = re.search(r"<text [^>]*><title>([^<]*)</title>([^<]*)</text>", svg)
    assert label is not None
    assert html.unescape(label.group(1)) == "<script>alert(1)</script>" + "x" * 80
    assert html.unescape(label.group(2)).startswith("<script>alert")
    assert label.group(2).endswith("…")


def test_an_empty_frame_draws_charts_that_say_so() -> None:
    from imgframe.frame import empty_frame

    charts = _charts(build_report_html(empty_frame()))
    assert len(charts) == 4
    assert all(">No images</text>" in svg for svg in charts.values())


def test_building_a_report_never_imports_matplotlib() -> None:
    code = (
        "import sys\n"
        "from tests.frames import fixture_frame\n"
        "from imgframe.report import build_report_html\n"
        "page = build_report_html(fixture_frame(zones=True))\n"
        "assert page.count('<svg role=\"img\"') == 4\n"
        "assert 'matplotlib' not in sys.modules, 'the report imported matplotlib'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# The model at scale: capped lists, codes instead of strings


def test_findings_with_a_limit_keep_the_first_rows_and_the_full_count(df: pd.DataFrame) -> None:
    whole = {f.key: f for f in hygiene_findings(df, require_tags=["owner", "env"])}
    capped = {f.key: f for f in hygiene_findings(df, require_tags=["owner", "env"], limit=3)}
    assert capped["missing_tags"].count == whole["missing_tags"].count == 17
    assert len(capped["missing_tags"].images) == 3
    pd.testing.assert_frame_equal(
        capped["missing_tags"].images, whole["missing_tags"].images.head(3)
    )
    assert capped["not_available"].breakdown == whole["not_available"].breakdown == (
        ("FAILED", 1), ("UNAVAILABLE", 1), ("(none)", 1), ("CREATING", 1),
    )  # fmt: skip


#: The regular expression the report's name dates were defined by (RE2, as pyarrow runs it).
NAME_DATE = r"(?P<y>(?:19|20)\d\d)[-_.]?(?P<m>0[1-9]|1[0-2])[-_.]?(?P<d>0[1-9]|[12]\d|3[01])\s*$"


def test_name_dates_agree_with_the_regular_expression() -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from imgframe.report.sections import date_text, name_dates

    rng = random.Random(5)

    def name() -> str:
        def sep() -> str:
            return rng.choice(["", "", "-", "_", ".", "x", "--", " "])

        year = rng.choice(["19", "20", "18", "2", "1"]) + f"{rng.randint(0, 99):02d}"
        month = f"{rng.randint(0, 13):02d}" if rng.random() < 0.9 else str(rng.randint(0, 9))
        day = f"{rng.randint(0, 39):02d}" if rng.random() < 0.9 else str(rng.randint(0, 9))
        start = "".join(rng.choice("ab19-_.日 ") for _ in range(rng.randint(0, 4)))
        end = rng.choice(["", "", " ", " \t", "\v", "\u00a0", "x", "\n\r\f"])
        return start + year + sep() + month + sep() + day + end

    names = [name() for _ in range(30_000)] + [None, "", "20240712", "日本20240712"]
    array = pa.array(names)
    parts = pc.extract_regex(array.fill_null(""), NAME_DATE).to_pylist()
    expected = ["" if p is None else f"{p['y']}-{p['m']}-{p['d']}" for p in parts]
    assert sum(1 for e in expected if e) > 1000  # the sample holds plenty of dates
    for values in (array, array.cast(pa.large_string())):
        assert [date_text(d) for d in name_dates(values).tolist()] == expected
    assert [date_text(d) for d in name_dates(array.slice(11)).tolist()] == expected[11:]


def _fleet() -> pd.DataFrame:
    """Custom images listed in several zones, with instance counts (some unknown)."""
    rows = [
        # zone, image, status, size GiB, instances (None: unknown)
        ("z1", "img-a", "AVAILABLE", 10, 0), ("z2", "img-a", "AVAILABLE", 10, 0),
        ("z1", "img-b", "AVAILABLE", 20, 0), ("z2", "img-b", "AVAILABLE", 20, 3),
        ("z1", "img-c", "AVAILABLE", 30, 0), ("z2", "img-c", "AVAILABLE", 30, None),
        ("z1", "img-d", "FAILED", 40, 0), ("z3", "img-d", "AVAILABLE", 40, 0),
        ("z2", "img-e", "CREATING", 50, 0),
        ("z3", "img-f", "AVAILABLE", 60, 0),
    ]  # fmt: skip
    df = frame_from_records(
        [{"zoneId": z, "imageId": i, "imageName": f"{i} 2024-0{n % 9 + 1}-1{n % 9}",
          "imageType": "CUSTOM_IMAGE", "imageStatus": s, "imageSize": str(g)}
         for n, (z, i, s, g, _) in enumerate(rows)]
    )  # fmt: skip
    count = {(z, i): c for z, i, _, _, c in rows}
    df["instanceCount"] = pd.array(
        [count[(z, i)] for z, i in zip(df["zoneId"], df["imageId"], strict=True)], dtype="Int64"
    )
    return df


def test_unused_images_are_counted_per_image_over_all_its_zones() -> None:
    from imgframe.report import report_model

    df = _fleet()
    model = report_model(df)
    # By hand: img-a (0 and 0), img-d (0 and 0; FAILED in one zone still settled) and img-f
    # are unused; img-b runs, img-c has an unknown count, img-e is still being made.
    unused = model.unused
    assert (unused.images, unused.listings, unused.gib) == (3, 5, 10 + 40 + 60)
    assert unused.table[["imageId", "zones", "sizeGiB"]].to_dict("records") == [
        {"imageId": "img-f", "zones": 1, "sizeGiB": 60},
        {"imageId": "img-d", "zones": 2, "sizeGiB": 40},
        {"imageId": "img-a", "zones": 2, "sizeGiB": 10},
    ]
    card = next(c for c in model.cards if c.key == "unused")
    assert (card.value, card.detail) == (3, "110 GiB reclaimable")
    assert model.finding("unused").count == 5  # every zone listing of them


def test_custom_images_by_region_mark_gaps_and_statuses() -> None:
    import pyarrow as pa

    from imgframe.report import report_model

    df = frame_from_records(
        [{"zoneId": z, "imageId": i, "imageName": i.upper(), "imageType": "CUSTOM_IMAGE",
          "imageStatus": s} for z, i, s in (
            ("z1", "img-a", "AVAILABLE"), ("z2", "img-a", "FAILED"),
            ("z1", "img-b", "AVAILABLE"), ("z1", "img-c", "AVAILABLE"),
            ("z2", "img-x", "AVAILABLE"),
        )]
    )  # fmt: skip
    df["regionId"] = pd.array(df["zoneId"].astype("string").str.replace("z", "r"), dtype="string")
    lists = {"img-a": ["r1", "r2"], "img-b": ["r1", "r3"], "img-c": ["r1", "r2"], "img-x": ["r2"]}
    df["regionIdList"] = pd.array(
        pa.array([lists[i] for i in df["imageId"]], pa.list_(pa.string())),
        dtype=pd.ArrowDtype(pa.list_(pa.string())),
    )
    (matrix,) = [m for m in report_model(df).availability if m.key == "custom"]
    # img-a: FAILED in r2; img-c: expected in r2, which was fetched, but not listed there;
    # img-b: expected in r3, of which no zone was fetched (not a problem of the image).
    assert matrix.columns == ["r1", "r2", "r3"]
    assert matrix.table.to_dict("records") == [
        {"Image": "IMG-A", "Image ID": "img-a", "r1": "✓", "r2": "FAILED", "r3": ""},
        {"Image": "IMG-C", "Image ID": "img-c", "r1": "✓", "r2": "not listed", "r3": ""},
        {"Image": "IMG-B", "Image ID": "img-b", "r1": "✓", "r2": "", "r3": "not fetched"},
    ]
    assert matrix.summary.startswith(
        "3 custom images are in two or more regions; 2 of them are not AVAILABLE in, or not "
        "listed in, a region they should be in."
    )


def test_count_tables_agree_with_summarize_on_an_inventory_frame() -> None:
    from imgframe.report import report_model
    from imgframe.summary import summarize

    df = _fleet()
    df["category"] = pd.Categorical(["b", None, "a", "b", "(none)", "c", "a", None, "b", "c"])
    for by, _, table in report_model(df).counts:
        pd.testing.assert_frame_equal(table, summarize(df, by=(by,)), check_dtype=True)


def test_the_embedded_list_is_json_without_markup_characters(df: pd.DataFrame) -> None:
    frame = df.copy()
    names = frame["imageName"].astype("string").to_numpy(copy=True)
    names[:4] = ["</script><script>alert(1)</script>", 'quote " back \\ slash', "a & b", "x\u2028y"]
    frame["imageName"] = names
    text = build_report_html(frame)
    block = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S
    )
    assert block is not None
    raw = block.group(1)
    assert not set("<>&\u2028\u2029") & set(raw)  # nothing that could end or confuse the element
    data = json.loads(raw)
    shown = data["data"]["n"]
    assert {"</script><script>alert(1)</script>", 'quote " back \\ slash', "a & b", "x y"} <= set(
        shown
    )
    assert data["rows"] == data["total"] == len(frame)
    assert all(len(v) == len(frame) for v in data["data"].values())


@pytest.mark.parametrize("span", [3, 1 << 20, 1 << 60])  # the last: too wide to pack
def test_top_rows_is_a_stable_sort_of_the_rows_it_keeps(span: int) -> None:
    import numpy as np

    from imgframe.report.columns import top_rows

    rng = np.random.default_rng(span)
    keys = [rng.integers(-span, span, 5000), rng.integers(0, 4, 5000)]
    order = np.lexsort((np.arange(5000), keys[1], keys[0]))  # the reference: a full sort
    for limit in (0, 1, 17, 4999, 5000, 6000):
        assert top_rows(keys, limit).tolist() == order[:limit].tolist()


def test_public_images_missing_from_zones_are_named_five_at_most() -> None:
    from imgframe.report import report_model

    records = [
        {
            "zoneId": z,
            "imageId": "img-0",
            "imageName": "Everywhere",
            "imageType": "PUBLIC_IMAGE",
            "imageStatus": "AVAILABLE",
        }
        for z in ("z1", "z2")
    ]
    records += [
        {
            "zoneId": "z1",
            "imageId": f"img-{n}",
            "imageName": f"Only z1 {n}",
            "imageType": "PUBLIC_IMAGE",
            "imageStatus": "AVAILABLE",
        }
        for n in range(1, 8)
    ]
    (matrix,) = [m for m in report_model(frame_from_records(records)).availability
                 if m.key == "public"]  # fmt: skip
    assert matrix.summary == (
        "8 public images over 2 zones: 1 is listed in every zone, 7 are missing from some."
        " Missing: Only z1 1 (1 zone); Only z1 2 (1 zone); Only z1 3 (1 zone); Only z1 4 (1 zone); "
        "Only z1 5 (1 zone); and 2 more."
    )
