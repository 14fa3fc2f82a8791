"""The report's own work against normalizing the same pages.

    python benchmarks/cases_report.py [--quick]

Pages are built from a sandbox catalog exactly as ``run.py`` builds them (``build_corpus``);
the frame is ``normalize_pages`` of them plus the inventory columns (``profile``,
``regionIdList`` from the zones each custom image is listed in, ``resourceGroupName``,
``instanceCount`` from the catalog's fleet). Timed side by side, interleaved:

- ``normalize``: ``imgframe.normalize_pages(pages)``, the floor of any fetch;
- ``report``: everything after the frame is in hand: :func:`imgframe.report.report_model`,
  the HTML page (charts, embedded list) and the Markdown, written with ``build_report``.

Target: the report's own work within 15% of fetch + normalize. A full fetch of 1M images at
default settings takes about 30 s (README, benchmarks), normalize alone about 4.4 s, so 15%
of fetch + normalize is about one normalize: the target is report <= 1.0x normalize.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import CaseResult, interleaved, log, md_table, ratio_target, seconds  # noqa: E402
from run import FETCHED_AT, SEED, build_corpus  # noqa: E402

from imgframe import sandbox  # noqa: E402
from imgframe.frame import join_zones, normalize_pages, zones_frame  # noqa: E402
from imgframe.report import build_report  # noqa: E402

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (20_000, 100_000)
GROUPS = ("Default Resource Group", "Web", "Infrastructure", "ML Research", "Security")


def inventory(catalog: sandbox.Catalog, frame: pd.DataFrame) -> pd.DataFrame:
    """The normalized frame with the inventory columns, built column-wise."""
    frame = join_zones(frame, zones_frame(catalog.zones))
    custom = (frame["imageType"] == "CUSTOM_IMAGE").to_numpy()
    ids = frame["imageId"].astype("string")
    regions = frame["regionId"].astype("string")
    per_id = (
        pd.DataFrame({"id": ids[custom], "region": regions[custom]})
        .drop_duplicates()
        .groupby("id", sort=False)["region"]
        .agg(list)
    )
    lists = ids.map(per_id).where(pd.Series(custom, index=frame.index))
    frame.insert(0, "profile", pd.Categorical(["default"] * len(frame)))
    frame["regionIdList"] = pd.array(
        pa.array([v if isinstance(v, list) else None for v in lists], pa.list_(pa.string())),
        dtype=pd.ArrowDtype(pa.list_(pa.string())),
    )
    codes = pd.util.hash_array(ids.to_numpy(dtype=object)) % len(GROUPS)
    names = np.array(GROUPS, dtype=object)[codes]
    frame["resourceGroupName"] = pd.array(np.where(custom, names, None), dtype="string")
    usage = catalog.usage()
    keys = pd.MultiIndex.from_arrays([frame["zoneId"].astype(str), ids.astype(str)])
    counts = pd.Series(usage, dtype="int64")
    frame["instanceCount"] = pd.array(
        counts.reindex(keys).fillna(0).to_numpy(dtype=np.int64), dtype="Int64"
    )
    frame.attrs["imgframe"] = {"usage": "fetched", "profiles": ["default"],
                               "endpoint": "console.zenlayer.com", "unlistedImagesInUse": []}  # fmt: skip
    return frame


def run(quick: bool) -> CaseResult:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    rounds = 3 if quick else 5
    results: dict[str, Any] = {}
    rows = []
    targets = []
    for images in sizes:
        catalog = sandbox.Catalog(images=images, seed=SEED)
        corpus = build_corpus(catalog)
        pages = corpus.pages
        frame = inventory(catalog, normalize_pages(pages, fetched_at=FETCHED_AT))
        log(f"report case: {images:,} images, {len(pages):,} pages")
        out = Path(tempfile.mkdtemp(prefix="imgframe-bench-report-"))
        sizes_seen: dict[str, int] = {}

        def report(frame: pd.DataFrame = frame, out: Path = out) -> object:
            return build_report(frame, out, require_tags=["owner", "env"])

        def check(
            name: str, result: object, out: Path = out, seen: dict[str, int] = sizes_seen
        ) -> None:
            if name == "report":
                seen["html"] = (out / "inventory-report.html").stat().st_size

        timings = interleaved(
            {
                "normalize": lambda pages=pages: normalize_pages(pages, fetched_at=FETCHED_AT),
                "report": report,
            },
            rounds,
            check=check,
        )
        ratio = timings.ratio("report", "normalize")
        results[str(images)] = {
            **timings.summaries(),
            "report_over_normalize": round(ratio, 3),
            "html_bytes": sizes_seen.get("html"),
        }
        rows.append(
            [f"{images:,}", seconds(timings.summary("normalize")), seconds(timings.summary("report")),
             f"{ratio:.2f}x", f"{sizes_seen.get('html', 0) / 1e6:.1f} MB"]
        )  # fmt: skip
        if images == sizes[-1]:
            targets.append(
                ratio_target(
                    "report",
                    f"report's own work at {images:,} images <= 1.0x normalize "
                    "(15% of fetch + normalize)",
                    ratio,
                    1.0,
                )
            )
    table = md_table(["images", "normalize", "report", "report / normalize", "HTML"], rows)
    return CaseResult("report", results, targets, "## report\n\n" + table)


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    print(result.markdown)
    for target in result.targets:
        print(f"{'PASS' if target.passed else 'MISS'}: {target.goal}: {target.measured}")
