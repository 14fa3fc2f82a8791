"""The snapshot store: imgframe's history reads against DuckDB over the same files.

    python benchmarks/cases_store.py [--quick]

Each store is built in a temporary directory: one sandbox catalog (``imgframe.sandbox``) of N
images shown on its days 0..6 (images created, deleted and changed from day to day, as the
sandbox does), each written by :func:`imgframe.write_snapshot`; the other days are hard links
to those seven days' files, cycling through the week (the readers do the same work on a
linked file as on a copied one, and a 365-day store costs no extra disk). The last two days
are consecutive catalog days, so the diff has real changes.

Contenders, interleaved round by round (the order rotates), on each store:

- ``status_trend(store)`` against ``SELECT snapshot_date, imageStatus, count(*) ... GROUP
  BY ALL`` (to an Arrow table);
- ``read_snapshots(store, columns=["imageId", "imageStatus"])`` (a pandas frame) against
  ``SELECT snapshot_date, imageId, imageStatus`` (to an Arrow table: DuckDB does less, it
  builds no pandas frame);
- ``diff_store(store)`` (the last two days) against a DuckDB diff of the same two days: the
  rows added, the rows removed (whole rows, to Arrow) and one row per changed field, lists
  compared as sets and a NULL ``tags`` as empty, as imgframe does.

DuckDB reads ``read_parquet('<store>/*/*/*.parquet', hive_partitioning = true)`` and filters
days with ``WHERE snapshot_date = ...`` (partition pruning). Every pair is checked to agree
(counts per day and status, the columns read value for value, the diff's counts per field)
outside the timed region. Targets: each imgframe call within 2x DuckDB's time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from harness import CaseResult, Target, interleaved, log, md_table, ratio_target, seconds

from imgframe import sandbox
from imgframe.frame import normalize_pages
from imgframe.history import diff_store, read_snapshots, status_trend, write_snapshot
from imgframe.parse import RawPage
from imgframe.sandbox.filters import parse_filter

NAME = "store"
SEED = 7
WEEK = 7  # distinct catalog days; the other days of a store link to these
FIRST_DAY = date(2025, 1, 1)
FETCHED_AT = datetime(2025, 1, 1, 6, 0, tzinfo=UTC)
PAGE_SIZE = 1000
COLUMNS = ["imageId", "imageStatus"]
#: The fields imgframe's diff compares (every stored column but the key and the times).
FIELDS = (
    "imageName", "imageType", "imageSource", "imageSize", "minDiskSize", "imageDescription",
    "imageVersion", "imageStatus", "nicNetworkType", "category", "osType", "tags",
)  # fmt: skip
LIMIT = 2.0


@dataclass(frozen=True)
class Size:
    days: int
    images: int

    @property
    def label(self) -> str:
        return f"{self.days} days x {self.images // 1000}k images"


FULL = (Size(30, 100_000), Size(365, 100_000))
QUICK = (Size(14, 50_000), Size(60, 25_000))


# --------------------------------------------------------------------------------------------
# The stores


def catalog_frame(catalog: sandbox.Catalog, fetched_at: datetime) -> pd.DataFrame:
    """The catalog's images as a fetch gives them: every page the sandbox serves, normalized."""
    everything = parse_filter({})
    pages = []
    for zone in catalog.zone_ids:
        number, total = 1, 1
        while (number - 1) * PAGE_SIZE < total:
            data, total = catalog.page_json(zone, everything, number, PAGE_SIZE)
            body = b'{"response":{"dataSet":%s,"totalCount":%d}}' % (data, total)
            pages.append(RawPage(zone, number, body))
            number += 1
    return normalize_pages(pages, fetched_at=fetched_at)


def build_store(root: Path, size: Size) -> None:
    """``size.days`` snapshots: seven catalog days written by imgframe, the rest linked."""
    started = time.perf_counter()
    catalog = sandbox.Catalog(images=size.images, seed=SEED)
    written = min(size.days, WEEK)
    for k in range(written):
        catalog.set_day(k)
        frame = catalog_frame(catalog, FETCHED_AT + timedelta(days=k))
        write_snapshot(frame, root, snapshot_date=FIRST_DAY + timedelta(days=k))
    for d in range(written, size.days):
        source = root / f"snapshot_date={FIRST_DAY + timedelta(days=d % written)}"
        target = root / f"snapshot_date={FIRST_DAY + timedelta(days=d)}"
        shutil.copytree(source, target, copy_function=os.link)
    log(f"store of {size.label} built in {time.perf_counter() - started:.1f}s")


def glob_of(root: Path) -> str:
    return f"{root.as_posix()}/*/*/*.parquet"


def duck_trend(con: duckdb.DuckDBPyConnection, root: Path) -> pa.Table:
    return con.sql(
        f"""SELECT snapshot_date, imageStatus, count(*) AS images
        FROM read_parquet('{glob_of(root)}', hive_partitioning = true) GROUP BY ALL"""
    ).to_arrow_table()


def duck_read(con: duckdb.DuckDBPyConnection, root: Path) -> pa.Table:
    return con.sql(
        f"""SELECT snapshot_date, {", ".join(COLUMNS)}
        FROM read_parquet('{glob_of(root)}', hive_partitioning = true)"""
    ).to_arrow_table()


def _comparable(field: str, side: str) -> str:
    """A field as imgframe compares it: lists as sets, a NULL ``tags`` as no tags."""
    column = f"{side}.{field}"
    if field == "tags":
        return f"list_sort(list_distinct(coalesce({column}, [])))"
    if field == "nicNetworkType":
        return f"list_sort(list_distinct({column}))"
    return column


def duck_diff(
    con: duckdb.DuckDBPyConnection, root: Path, old: date, new: date
) -> dict[str, pa.Table]:
    source = f"read_parquet('{glob_of(root)}', hive_partitioning = true)"
    days = (
        f"o AS (SELECT * EXCLUDE (snapshot_date) FROM {source} WHERE snapshot_date = DATE '{old}'),"
        f"n AS (SELECT * EXCLUDE (snapshot_date) FROM {source} WHERE snapshot_date = DATE '{new}')"
    )
    changes = " UNION ALL ".join(
        f"""SELECT zoneId, imageId, '{f}' AS field, o.{f}::VARCHAR AS old, n.{f}::VARCHAR AS new
        FROM o JOIN n USING (zoneId, imageId)
        WHERE {_comparable(f, "o")} IS DISTINCT FROM {_comparable(f, "n")}"""
        for f in FIELDS
    )
    return {
        "added": con.sql(
            f"WITH {days} SELECT * FROM n ANTI JOIN o USING (zoneId, imageId)"
        ).to_arrow_table(),
        "removed": con.sql(
            f"WITH {days} SELECT * FROM o ANTI JOIN n USING (zoneId, imageId)"
        ).to_arrow_table(),
        "changed": con.sql(f"WITH {days} {changes}").to_arrow_table(),
    }


# --------------------------------------------------------------------------------------------
# Agreement (outside the timed region)


def check_trend(ours: pd.DataFrame, theirs: pa.Table) -> None:
    mine = {
        (row.snapshot_date, row.imageStatus): row.images
        for row in ours.itertuples(index=False)
        if row.images
    }
    duck = {(r["snapshot_date"], r["imageStatus"]): r["images"] for r in theirs.to_pylist()}
    assert mine == duck, "status_trend and DuckDB disagree on the counts"


def check_read(ours: pd.DataFrame, theirs: pa.Table) -> None:
    assert list(ours.columns) == ["snapshot_date", *COLUMNS]
    assert len(ours) == theirs.num_rows, f"{len(ours)} rows read, DuckDB read {theirs.num_rows}"
    for name in ours.columns:
        mine = pa.chunked_array([pa.array(ours[name], from_pandas=True)]).cast(
            theirs.schema.field(name).type
        )
        assert mine.equals(theirs[name]), f"read_snapshots and DuckDB disagree on {name}"


def check_diff(ours: Any, theirs: dict[str, pa.Table]) -> None:
    assert len(ours.added) == theirs["added"].num_rows, "added rows differ"
    assert len(ours.removed) == theirs["removed"].num_rows, "removed rows differ"
    assert sorted(ours.added["imageId"].tolist()) == sorted(theirs["added"]["imageId"].to_pylist())
    fields = pd.Series(theirs["changed"]["field"].to_pylist(), dtype=object).value_counts()
    assert ours.by_field().to_dict() == fields.to_dict(), "changed fields differ"


# --------------------------------------------------------------------------------------------
# The case


def bench_store(root: Path, size: Size, rounds: int) -> tuple[dict[str, Any], list[Target]]:
    con = duckdb.connect()
    days = sorted(
        date.fromisoformat(p.name.removeprefix("snapshot_date="))
        for p in root.glob("snapshot_date=*")
    )
    old, new = days[-2], days[-1]
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object], Callable[..., None]]] = {
        "status_trend": (
            lambda: status_trend(root),
            lambda: duck_trend(con, root),
            check_trend,
        ),
        "read_snapshots(columns)": (
            lambda: read_snapshots(root, columns=COLUMNS),
            lambda: duck_read(con, root),
            check_read,
        ),
        "diff_store": (
            lambda: diff_store(root),
            lambda: duck_diff(con, root, old, new),
            check_diff,
        ),
    }
    results: dict[str, Any] = {"days": size.days, "images_per_day": size.images}
    targets = []
    try:
        for what, (ours, theirs, agree) in pairs.items():
            agree(ours(), theirs())  # also warms the page cache for both
            timings = interleaved({"imgframe": ours, "duckdb": theirs}, rounds)
            ratio = timings.ratio("imgframe", "duckdb")
            results[what] = {"timings": timings.summaries(), "ratio": round(ratio, 2)}
            log(
                f"{size.label}: {what} {seconds(timings.summary('imgframe'))} vs DuckDB "
                f"{seconds(timings.summary('duckdb'))}: {ratio:.2f}x"
            )
            targets.append(
                ratio_target(NAME, f"{what}, {size.label}: <= {LIMIT:g}x DuckDB", ratio, LIMIT)
            )
    finally:
        con.close()
    return results, targets


def run(quick: bool, rounds: int | None = None) -> CaseResult:
    sizes = QUICK if quick else FULL
    rounds = rounds or (3 if quick else 5)
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "stores": {}}
    targets: list[Target] = []
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="imgframe-store-bench-") as tmp:
            root = Path(tmp) / "store"
            build_store(root, size)
            measured, hit = bench_store(root, size, rounds)
        results["stores"][size.label] = measured
        targets += hit
        for what in ("status_trend", "read_snapshots(columns)", "diff_store"):
            t = measured[what]["timings"]
            rows.append(
                [
                    size.label,
                    what,
                    seconds(t["imgframe"]),
                    seconds(t["duckdb"]),
                    f"{measured[what]['ratio']:.2f}x",
                ]
            )
    table = md_table(["store", "call", "imgframe", "DuckDB", "ratio"], rows)
    marks = md_table(
        ["target", "measured", "result"],
        [
            [t.goal, t.measured, "PASS" if t.passed else "MISS" if t.passed is False else "-"]
            for t in targets
        ],
    )
    markdown = f"## Snapshot store reads\n\n{table}\n\n{marks}\n"
    return CaseResult(NAME, results, targets, markdown)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller stores (well under a minute)")
    parser.add_argument("--out", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default: 3 quick, 5 full)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.quick, args.rounds)
    print(result.markdown)
    log(f"done in {time.perf_counter() - started:.0f}s")
    if args.out:
        args.out.write_text(json.dumps(result.results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
