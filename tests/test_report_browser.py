"""The report as a browser shows it: headless Chromium with the network off.

Skipped when Debian's ``chromium`` package is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from imgframe.charts import STATUS_COLOURS
from imgframe.report import build_report

from .frames import fixture_frame

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1280, 2400)
BAR_BLUE = (0x3B, 0x6E, 0xA5)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium offline: every request goes to a proxy port nobody listens on."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CHROMIUM.exists():
        pytest.skip(
            "headless Chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    out = tmp_path_factory.mktemp("report")
    trend = pd.DataFrame(
        {
            "snapshot_date": ["2025-02-28", "2025-02-28", "2025-03-01", "2025-03-01"],
            "imageStatus": ["AVAILABLE", "FAILED", "AVAILABLE", "FAILED"],
            "images": [15, 2, 17, 1],
        }
    )
    return build_report(fixture_frame(zones=True), out, require_tags=["owner"], trend=trend).html


@pytest.fixture(scope="module")
def rendered(report: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Image.Image, str]:
    """One Chromium run: the screenshot, and the DOM as the browser parsed it."""
    profile = tmp_path_factory.mktemp("profile")
    shot = profile.parent / "screenshot.png"
    result = chromium(profile, f"--screenshot={shot}", "--dump-dom", report.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    return Image.open(shot).convert("RGB"), result.stdout


@pytest.fixture(scope="module")
def screenshot(rendered: tuple[Image.Image, str]) -> Image.Image:
    return rendered[0]


@pytest.fixture(scope="module")
def dom(rendered: tuple[Image.Image, str]) -> str:
    return rendered[1]


def _pixels_near(image: Image.Image, colour: tuple[int, ...], tolerance: int = 6) -> int:
    """How many pixels are within ``tolerance`` of ``colour`` in every channel."""
    pixels = np.asarray(image, dtype=np.int16)
    return int(np.all(np.abs(pixels - np.array(colour)) <= tolerance, axis=2).sum())


def test_the_page_renders_with_many_colours(screenshot: Image.Image) -> None:
    assert screenshot.size == WINDOW
    colours = screenshot.getcolors(maxcolors=1 << 24) or []
    assert len(colours) > 500  # text, cards, charts: not a blank or error page
    most_common = max(count for count, _ in colours)
    assert most_common < 0.8 * WINDOW[0] * WINDOW[1]


def test_the_embedded_charts_are_painted(screenshot: Image.Image) -> None:
    # The charts' bar colours appear only inside the chart images, so finding them in the
    # screenshot means the data: URIs decoded and were drawn.
    assert _pixels_near(screenshot, BAR_BLUE) > 20_000
    green = tuple(int(STATUS_COLOURS["AVAILABLE"][i : i + 2], 16) for i in (1, 3, 5))
    assert _pixels_near(screenshot, green) > 5_000


def test_the_chart_areas_are_not_blank(screenshot: Image.Image) -> None:
    # Rows crossed by a long run of bar colour are chart bars; rows far apart belong to
    # different charts. Each chart's bar area must be mostly paint, not background.
    pixels = np.asarray(screenshot, dtype=np.int16)
    bar = np.all(np.abs(pixels - np.array(BAR_BLUE)) <= 6, axis=2)
    rows = np.nonzero(bar.sum(axis=1) >= 200)[0]
    charts = np.split(rows, np.nonzero(np.diff(rows) > 120)[0] + 1) if len(rows) else []
    assert len(charts) >= 3  # category, OS type and zone are blue; status has its own colours
    for chart_rows in charts:
        columns = np.nonzero(bar[chart_rows].any(axis=0))[0]
        area = pixels[chart_rows.min() : chart_rows.max() + 1, columns.min() : columns.max() + 1]
        assert np.any(area < 250, axis=2).mean() > 0.4


def test_the_dom_holds_the_decodable_charts_and_no_script(dom: str) -> None:
    assert "<script" not in dom.lower()
    sources = re.findall(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', dom)
    assert len(sources) == 5  # category, OS type, status, zone, trend
    for source in sources:
        image = Image.open(io.BytesIO(base64.b64decode(source)))
        width, height = image.size
        assert width == 960
        assert 250 <= height <= 900
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
