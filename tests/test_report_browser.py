"""The report as a browser runs it: headless Chromium over DevTools, with the network off.

Skipped when Debian's ``chromium`` or ``websocket-client`` is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from imgframe.report import build_report

from . import cdp
from .frames import fixture_frame

pytestmark = pytest.mark.browser

LONG_LABEL = "<b>Ünïcödé 日本語</b> " + "W" * 60
HOSTILE = ["</script><script>alert(1)</script>", 'say "hi" \'x\'', "rtl \u202eevil", "line\u2028sep",
           "<img src=x onerror=alert(2)>"]  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not cdp.available():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium) and websocket-client")
    df = fixture_frame(zones=True)
    names = df["imageName"].astype("string").to_numpy(copy=True)
    names[: len(HOSTILE)] = HOSTILE
    df["imageName"] = names
    categories = df["category"].astype("string").to_numpy(copy=True)
    categories[:2] = LONG_LABEL  # a label far wider than the charts' label column
    df["category"] = pd.Categorical(categories)
    trend = pd.DataFrame({"snapshot_date": ["2025-02-28", "2025-03-01"],
                          "imageStatus": ["AVAILABLE", "AVAILABLE"], "images": [15, 17]})  # fmt: skip
    return build_report(
        df, tmp_path_factory.mktemp("report"), require_tags=["owner"], trend=trend
    ).html


@pytest.fixture(scope="module")
def browser(report: Path) -> Iterator[cdp.Browser]:
    with cdp.Browser(1280, 900) as b:
        b.open(report.as_uri())
        yield b


def _names(browser: cdp.Browser) -> list[str]:
    return list(browser.evaluate(
        "[...document.querySelectorAll('#list-body tr:not(.pad)')].map(r => r.children[1].textContent)"
    ))  # fmt: skip


def test_the_list_renders_every_row_of_a_small_inventory(browser: cdp.Browser) -> None:
    assert browser.evaluate("document.getElementById('list-app').dataset.ready") == "true"
    assert browser.evaluate("document.getElementById('list-static').hidden") is True
    assert len(_names(browser)) == 21
    assert browser.evaluate("document.getElementById('list-count').textContent") == (
        "21 of 21 listed images match (rows 1–21 in the page)."
    )


def test_hostile_names_stay_inert_text(browser: cdp.Browser) -> None:
    shown = _names(browser)
    assert "</script><script>alert(1)</script>" in shown
    assert "<img src=x onerror=alert(2)>" in shown
    assert "say \"hi\" 'x'" in shown
    assert "rtl evil" in shown  # bidi override cleaned
    assert "line sep" in shown  # U+2028 cleaned
    assert (
        browser.evaluate("document.querySelectorAll('#list-body img, #list-body script').length")
        == 0
    )
    assert browser.evaluate("document.scripts.length") == 2  # the data block and the app


def test_sorting_changes_the_order(browser: cdp.Browser) -> None:
    click = ("[...document.querySelectorAll('#list-head button')]"
             ".find(b => b.textContent === 'Size (GiB)').click()")  # fmt: skip
    browser.evaluate(click)
    sizes = browser.evaluate(
        "[...document.querySelectorAll('#list-body tr:not(.pad)')].map(r => r.children[4].textContent)"
    )
    # ascending, missing sizes last: 0, 5, 6, ... 40, then the failed image without a size
    assert sizes[:3] == ["0", "5", "6"]
    assert sizes[-2:] == ["40", ""]
    browser.evaluate(click)
    sizes = browser.evaluate(
        "[...document.querySelectorAll('#list-body tr:not(.pad)')].map(r => r.children[4].textContent)"
    )
    assert sizes[:2] == ["40", "30"]


def test_search_and_facets_filter_with_counts(browser: cdp.Browser) -> None:
    browser.evaluate(
        "(() => { const s = document.getElementById('list-search'); s.value = 'SNAPSHOT';"
        " s.dispatchEvent(new Event('input')); return new Promise(r => setTimeout(r, 300)); })()"
    )
    assert _names(browser) == ["old snapshot"]
    browser.evaluate("document.getElementById('list-reset').click()")
    options = browser.evaluate(
        "[...document.querySelector('select[data-facet=s]').options].map(o => o.textContent)"
    )
    assert options == ["all (21)", "AVAILABLE (17)", "CREATING (1)", "UNAVAILABLE (1)",
                       "FAILED (1)", "(none) (1)"]  # fmt: skip
    browser.evaluate(
        "(() => { const f = document.querySelector('select[data-facet=z]');"
        " f.value = String([...f.options].findIndex(o => o.textContent.startsWith('na-west-1a')) - 1);"
        " f.dispatchEvent(new Event('change')); })()"
    )
    assert len(_names(browser)) == 7
    status = browser.evaluate(
        "[...document.querySelector('select[data-facet=s]').options].map(o => o.textContent)"
    )
    assert status == ["all (7)", "AVAILABLE (5)", "UNAVAILABLE (1)", "FAILED (1)"]


def test_no_console_errors_and_no_request_leaves_the_page(
    browser: cdp.Browser, report: Path
) -> None:
    assert browser.problems() == []
    assert [u for u in browser.requests() if not u.startswith(("file://", "data:"))] == []


def test_without_javascript_every_section_and_the_first_rows_show(report: Path) -> None:
    with cdp.Browser(1280, 900) as b:
        b.open(report.as_uri(), javascript=False)
        sections = b.evaluate("[...document.querySelectorAll('main > section')].map(s => s.id)")
        rows = b.evaluate("document.querySelectorAll('#list-static tbody tr').length")
        hidden = b.evaluate("document.getElementById('list-app').hidden")
    assert sections == ["overview", "findings", "owners", "unused", "availability", "trend",
                        "charts", "counts", "images"]  # fmt: skip
    assert rows == 21
    assert hidden is True


#: Every chart's text, as the browser laid it out in the chart's own coordinates.
CHART_TEXT = """[...document.querySelectorAll('svg[role=img]')].map(svg => {
  const box = svg.viewBox.baseVal;
  const bars = [...svg.querySelectorAll('rect')].filter(r => r.querySelector('title'));
  return {label: svg.getAttribute('aria-label'), width: box.width, height: box.height,
          shown: svg.getBoundingClientRect().width,
          bars: Math.min(...bars.map(r => r.getBBox().x)),
          ends: [...svg.querySelectorAll('text[text-anchor=end]')].map(t => {
            const b = t.getBBox(); return b.x + b.width; }),
          texts: [...svg.querySelectorAll('text')].map(t => {
            const b = t.getBBox();
            return {text: t.lastChild.textContent, x: b.x, y: b.y, w: b.width, h: b.height,
                    size: parseFloat(t.getAttribute('font-size'))};
          })};
})"""


@pytest.mark.parametrize("width", [1280, 390])
def test_chart_text_stays_inside_its_chart_and_is_legible(report: Path, width: int) -> None:
    with cdp.Browser(width, 900) as b:
        if width < 500:
            b.resize(width, 844, mobile=True)
        b.open(report.as_uri())
        charts = b.evaluate(CHART_TEXT)
    assert [c["label"] for c in charts] == [
        "Bar chart of images by status", "Images by status over time",
        "Bar chart of images by zone and status", "Bar chart of images by category",
        "Bar chart of images by OS type",
    ]  # fmt: skip
    for chart in charts:
        for t in chart["texts"]:
            where = (chart["label"], t["text"])
            assert t["x"] >= -0.5, where
            assert t["x"] + t["w"] <= chart["width"] + 0.5, where
            assert t["y"] >= -0.5, where
            assert t["y"] + t["h"] <= chart["height"] + 0.5, where
            # at least 8 CSS pixels, however narrow the screen
            assert t["size"] * chart["shown"] / chart["width"] >= 8 * 0.999, where
        # labels (set flush right) end before the bars begin
        assert max(chart["ends"]) <= chart["bars"] + 0.5, chart["label"]
    category = next(c for c in charts if c["label"] == "Bar chart of images by category")
    shown = [t["text"] for t in category["texts"]]
    assert any(text.startswith("<b>Ünïcödé") and text.endswith("…") for text in shown)
