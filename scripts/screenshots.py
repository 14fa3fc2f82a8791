"""Screenshots of the inventory report, as people see it: desktop and phone, every section.

    python scripts/screenshots.py [--out DIR] [--images N] [--report DIR]

Builds a report of a sandbox catalog with the inventory columns (usage, regions, resource
groups), a two-day snapshot store and a few hostile image names, opens it in headless
Chromium (offline: every request goes to a dead proxy) at 1280 px and 390 px wide, and
writes PNGs into ``--out`` (default ``screenshots/``):

- ``desktop-first-screen.png`` (1280 x 700: what a laptop shows before any scrolling),
- ``desktop-<section>.png`` and ``phone-<section>.png`` for every section,
- ``desktop-list-sorted.png`` and ``desktop-list-filtered.png`` (the list after a sort
  and after a search and a facet), ``desktop-no-javascript.png``.

``--report DIR`` screenshots an existing report's ``inventory-report.html`` instead.
Needs Debian's ``chromium`` and ``websocket-client`` (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTIONS = ("overview", "findings", "owners", "unused", "availability", "changes", "trend",
            "charts", "counts", "images")  # fmt: skip


def build(out: Path, images: int) -> Path:
    """A report of a sandbox catalog, with a store of two days and hostile names."""
    from datetime import timedelta

    from imgframe import sandbox
    from imgframe.history import write_snapshot
    from imgframe.report import build_report
    from tests.inventory import FETCHED_AT, inventory_frame

    store = out / "store"
    day0 = inventory_frame(
        sandbox.Catalog(images=images, seed=7, copies=0.15), fetched_at=FETCHED_AT
    )
    write_snapshot(day0, store, snapshot_date=FETCHED_AT.date())
    df = inventory_frame(
        sandbox.Catalog(images=images, seed=7, day=1, copies=0.15),
        fetched_at=FETCHED_AT + timedelta(days=1),
    )
    hostile = ["</script><script>alert(1)</script>", "\u202egnp.exe", 'quote " and \' end',
               "line\u2028separator", "<img src=x onerror=alert(2)>"]  # fmt: skip
    names = df["imageName"].astype("string").to_numpy(copy=True)
    custom = (df["imageType"] == "CUSTOM_IMAGE").to_numpy()
    for offset, text in zip(range(len(hostile)), hostile, strict=True):
        names[custom.nonzero()[0][offset]] = text
    df["imageName"] = names
    write_snapshot(df, store, snapshot_date=(FETCHED_AT + timedelta(days=1)).date())
    return build_report(df, out / "report", require_tags=["owner", "env"], store=store).html


def shoot(html: Path, out: Path) -> list[Path]:
    from tests.cdp import Browser

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(browser: Browser, name: str) -> None:
        path = out / f"{name}.png"
        browser.screenshot(path)
        written.append(path)

    with Browser(1280, 700) as browser:
        browser.open(html.as_uri())
        save(browser, "desktop-first-screen")
        browser.resize(1280, 900)
        for section in SECTIONS:
            if browser.evaluate(f"!!document.getElementById('{section}')"):
                browser.evaluate(f"document.getElementById('{section}').scrollIntoView()")
                save(browser, f"desktop-{section}")
        sort = ("[...document.querySelectorAll('#list-head button')]"
                ".find(b => b.textContent === 'Size (GiB)').click()")  # fmt: skip
        browser.evaluate(sort)
        browser.evaluate(sort)
        browser.evaluate("document.getElementById('images').scrollIntoView()")
        save(browser, "desktop-list-sorted")
        browser.evaluate(
            "(() => { const s = document.getElementById('list-search'); s.value = 'prod';"
            " s.dispatchEvent(new Event('input'));"
            " const f = document.querySelector('select[data-facet=s]');"
            " f.value = f.options[2] ? f.options[2].value : '';"
            " f.dispatchEvent(new Event('change'));"
            " return new Promise(r => setTimeout(r, 400)); })()"
        )
        save(browser, "desktop-list-filtered")
        browser.open(html.as_uri(), javascript=False)
        browser.evaluate("document.getElementById('images').scrollIntoView()")
        save(browser, "desktop-no-javascript")
        browser.resize(390, 844, mobile=True)
        browser.open(html.as_uri())
        save(browser, "phone-first-screen")
        for section in SECTIONS:
            if browser.evaluate(f"!!document.getElementById('{section}')"):
                browser.evaluate(f"document.getElementById('{section}').scrollIntoView()")
                save(browser, f"phone-{section}")
        problems = browser.problems()
        if problems:
            print("browser reported:", *problems, sep="\n  ", file=sys.stderr)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--images", type=int, default=3000, help="catalog size (default 3000)")
    parser.add_argument("--report", type=Path, help="an existing report directory")
    args = parser.parse_args(argv)
    if args.report is not None:
        html = args.report.resolve() / "inventory-report.html"
    else:
        html = build(Path(tempfile.mkdtemp(prefix="imgframe-shots-")), args.images)
    for path in shoot(html, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
