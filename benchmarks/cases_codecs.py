"""CSV and JSONL codecs: imgframe's writers and readers against the floor and the engines.

    python benchmarks/cases_codecs.py [--quick] [--rounds N] [--only csv-write,...]

The frame is a sandbox catalog's pages through ``imgframe.normalize_pages`` (1,000,000
images; ``--quick``: 100,000), as ``benchmarks/run.py`` builds it. Four rows, each timed
with :func:`harness.interleaved` and checked outside the timed region:

1. **CSV write**: ``write_csv`` against ``pyarrow.csv.write_csv`` of the same table with the
   list columns already JSON text (:func:`imgframe.export.csv.csv_table`): the floor writes
   the very bytes imgframe writes (checked by digest). Target: within 2x.
2. **CSV read**: ``read_export`` against ``pyarrow.csv.read_csv`` with each column's final
   Arrow type (integers, the timestamp, categoricals as dictionaries; list columns left as
   text) and ``to_pandas``: reading plus the type restoration, without decoding the lists.
   Checked: the same values in every column but the two list columns. Target: within 1.5x.
3. **JSONL write**: ``write_jsonl`` against polars ``write_ndjson`` and DuckDB ``COPY ...
   (FORMAT JSON)`` (each from its own in-memory form of the frame, built beforehand).
   Checked: a sample of lines parses to the same records (timestamps compared as instants).
   Target: within 1.2x of the faster engine.
4. **JSONL read**: ``read_export`` against polars ``read_ndjson`` and DuckDB ``read_json``
   of imgframe's file (to their own frames). Checked: same rows and ids, sampled tags equal.
   Target: within 1.2x of the faster engine.

Engines that are not installed are left out of their rows (``pip install polars duckdb``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from harness import CaseResult, Target, Timings, interleaved, log, md_table, ratio_target, seconds

from imgframe import sandbox
from imgframe.frame import normalize_pages
from imgframe.parse import RawPage
from imgframe.sandbox.filters import parse_filter
from imgframe.schema import CATEGORICAL_COLUMNS, INTEGER_COLUMNS, LIST_COLUMNS
from imgframe.schema.arrow import CATEGORY_TYPE, TIMESTAMP_TYPE, pandas_dtype

PAGE_SIZE = 1000
SEED = 7
FETCHED_AT = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)
ROWS = ("csv-write", "csv-read", "jsonl-write", "jsonl-read")


def build_frame(images: int) -> pd.DataFrame:
    """A sandbox catalog's every page, normalised as a fetch would (see run.build_corpus)."""
    started = time.perf_counter()
    catalog = sandbox.Catalog(images=images, seed=SEED)
    everything = parse_filter({})
    pages: list[RawPage] = []
    for zone in catalog.zone_ids:
        number = 1
        while True:
            data, total = catalog.page_json(zone, everything, number, PAGE_SIZE)
            body = (
                b'{"requestId":"r","response":{"requestId":"r","dataSet":'
                + data
                + b',"totalCount":'
                + str(total).encode()
                + b"}}"
            )
            pages.append(RawPage(zone, number, body, "r"))
            if number * PAGE_SIZE >= total:
                break
            number += 1
    frame = normalize_pages(pages, fetched_at=FETCHED_AT)
    log(f"frame of {len(frame):,} rows built in {time.perf_counter() - started:.1f}s")
    return frame


def engines() -> dict[str, Any]:
    found: dict[str, Any] = {}
    try:
        import polars

        found["polars"] = polars
    except ImportError:
        log("polars is not installed: left out")
    try:
        import duckdb

        found["duckdb"] = duckdb
    except ImportError:
        log("duckdb is not installed: left out")
    return found


def assert_same_frame(got: pd.DataFrame, expected: pd.DataFrame, columns: Sequence[str]) -> None:
    """Column by column through Arrow (``assert_frame_equal`` takes minutes on 1M lists)."""
    assert len(got) == len(expected), f"{len(got)} rows, expected {len(expected)}"
    for name in columns:
        a, b = got[name], expected[name]
        if isinstance(b.dtype, pd.CategoricalDtype):
            a, b = a.astype("string[pyarrow]"), b.astype("string[pyarrow]")
        if isinstance(b.dtype, pd.ArrowDtype):
            same = pa.chunked_array(pa.array(a.array)).equals(pa.chunked_array(pa.array(b.array)))
        else:
            same = a.reset_index(drop=True).equals(b.reset_index(drop=True))
        assert same, f"column {name!r} differs"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# The four rows


def bench_csv_write(df: pd.DataFrame, root: Path, rounds: int) -> Timings:
    from imgframe.export import write_csv
    from imgframe.export.csv import csv_table

    table = csv_table(df, neutralize=True)
    options = pa_csv.WriteOptions(quoting_style="needed")
    ours, floor = root / "imgframe.csv", root / "floor.csv"

    def durable_floor() -> None:
        # Not the target's baseline: shows what imgframe's fsync (atomic_file) costs.
        with (root / "floor-fsync.csv").open("wb") as fh:
            pa_csv.write_csv(table, fh, write_options=options)
            fh.flush()
            os.fsync(fh.fileno())

    timings = interleaved(
        {
            "imgframe": lambda: write_csv(df, ours, mode="overwrite"),
            "pyarrow": lambda: pa_csv.write_csv(table, floor, write_options=options),
            "pyarrow+fsync": durable_floor,
        },
        rounds,
    )
    assert digest(ours) == digest(floor), "the floor does not write imgframe's bytes"
    return timings


def typed_read_options(names: Sequence[str]) -> pa_csv.ConvertOptions:
    types: dict[str, pa.DataType] = {}
    for name in names:
        if name in INTEGER_COLUMNS:
            types[name] = pa.int64()
        elif name == "fetchedAt":
            types[name] = TIMESTAMP_TYPE
        elif name in CATEGORICAL_COLUMNS:
            types[name] = CATEGORY_TYPE
        else:
            types[name] = pa.string()
    return pa_csv.ConvertOptions(
        column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
    )


def floor_csv_read(path: Path, convert: pa_csv.ConvertOptions) -> pd.DataFrame:
    parse = pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    table = pa_csv.read_csv(path, parse_options=parse, convert_options=convert)
    frame: pd.DataFrame = table.to_pandas(types_mapper=pandas_dtype)
    return frame


def bench_csv_read(df: pd.DataFrame, root: Path, rounds: int) -> Timings:
    from imgframe.export import read_export, write_csv

    path = write_csv(df, root / "read.csv", mode="overwrite").path
    convert = typed_read_options(list(df.columns))
    results: dict[str, pd.DataFrame] = {}

    def keep(name: str, result: object) -> None:
        results.setdefault(name, result)  # type: ignore[arg-type]

    timings = interleaved(
        {
            "imgframe": lambda: read_export(path),
            "pyarrow": lambda: floor_csv_read(path, convert),
        },
        rounds,
        check=keep,
    )
    assert list(results["imgframe"].columns) == list(df.columns)
    assert_same_frame(results["imgframe"], df, df.columns)
    plain = [c for c in df.columns if c not in LIST_COLUMNS]
    assert_same_frame(results["pyarrow"], df, plain)
    return timings


def sample_records(path: Path, every: int = 997) -> list[dict[str, Any]]:
    """Every ``every``-th line's record, timestamps as instants (engines print them their way)."""
    out = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh):
            if number % every == 0:
                record = json.loads(line)
                stamp = record["fetchedAt"].replace("Z", "+00:00").replace(" ", "T")
                if stamp.endswith("+00"):
                    stamp += ":00"
                record["fetchedAt"] = dt.datetime.fromisoformat(stamp)
                out.append(record)
    return out


def bench_jsonl_write(df: pd.DataFrame, root: Path, rounds: int, found: dict[str, Any]) -> Timings:
    from imgframe.export import write_jsonl

    paths = {name: root / f"{name}.jsonl" for name in ("imgframe", *found)}
    contenders: dict[str, Callable[[], object]] = {
        "imgframe": lambda: write_jsonl(df, paths["imgframe"], mode="overwrite")
    }
    if "polars" in found:
        frame = found["polars"].from_pandas(df)
        contenders["polars"] = lambda: frame.write_ndjson(paths["polars"])

        def durable_polars() -> None:
            # Not the target's baseline: what imgframe's fsync (atomic_file) adds to a peer.
            with (root / "polars-fsync.jsonl").open("wb") as fh:
                frame.write_ndjson(fh)
                fh.flush()
                os.fsync(fh.fileno())

        contenders["polars+fsync"] = durable_polars
    if "duckdb" in found:
        con = found["duckdb"].connect()
        con.register("frame", pa.Table.from_pandas(df, preserve_index=False))
        target = str(paths["duckdb"]).replace("'", "''")
        contenders["duckdb"] = lambda: con.execute(f"COPY frame TO '{target}' (FORMAT JSON)")
    timings = interleaved(contenders, rounds)
    expected = sample_records(paths["imgframe"])
    for name in found:
        assert sample_records(paths[name]) == expected, f"{name} wrote other data"
    if "polars" in found:
        assert digest(root / "polars-fsync.jsonl") == digest(paths["polars"])
    return timings


def bench_jsonl_read(df: pd.DataFrame, root: Path, rounds: int, found: dict[str, Any]) -> Timings:
    from imgframe.export import read_export, write_jsonl

    path = write_jsonl(df, root / "read.jsonl", mode="overwrite").path
    contenders: dict[str, Callable[[], object]] = {"imgframe": lambda: read_export(path)}
    if "polars" in found:
        contenders["polars"] = lambda: found["polars"].read_ndjson(path)
    if "duckdb" in found:
        con = found["duckdb"].connect()
        source = str(path).replace("'", "''")
        query = f"SELECT * FROM read_json('{source}', format='newline_delimited')"
        contenders["duckdb"] = lambda: con.sql(query).to_arrow_table()
    results: dict[str, Any] = {}

    def keep(name: str, result: object) -> None:
        results.setdefault(name, result)

    timings = interleaved(contenders, rounds, check=keep)
    assert list(results["imgframe"].columns) == list(df.columns)
    assert_same_frame(results["imgframe"], df, df.columns)
    ids = df["imageId"].tolist()
    sample = list(range(0, len(df), 997))
    tags = [df["tags"].iloc[i] for i in sample]
    for name in found:
        table = results[name] if name == "duckdb" else results[name].to_arrow()
        assert table.column("imageId").to_pylist() == ids, f"{name} read other rows"
        column = table.column("tags")
        assert [column[i].as_py() for i in sample] == tags, f"{name} read other tags"
    return timings


# --------------------------------------------------------------------------------------------
# The case


def run(quick: bool, *, rounds: int | None = None, only: Sequence[str] = ROWS) -> CaseResult:
    images = 100_000 if quick else 1_000_000
    rounds = rounds or (3 if quick else 5)
    df = build_frame(images)
    found = engines()
    timings: dict[str, Timings] = {}
    with tempfile.TemporaryDirectory(prefix="imgframe-codecs-") as tmp:
        root = Path(tmp)
        benches: dict[str, Callable[[], Timings]] = {
            "csv-write": lambda: bench_csv_write(df, root, rounds),
            "csv-read": lambda: bench_csv_read(df, root, rounds),
            "jsonl-write": lambda: bench_jsonl_write(df, root, rounds, found),
            "jsonl-read": lambda: bench_jsonl_read(df, root, rounds, found),
        }
        for row in only:
            log(f"{row}: {rounds} interleaved rounds")
            timings[row] = benches[row]()
            log(
                f"{row}: "
                + ", ".join(f"{n} {timings[row].median(n):.2f}s" for n in timings[row].runs)
            )
    return result_of(timings, images, quick)


GOALS = {
    "csv-write": ("CSV write within 2x of pyarrow.csv.write_csv (lists pre-encoded)", 2.0),
    "csv-read": ("CSV read within 1.5x of pyarrow.csv.read_csv + type restoration", 1.5),
    "jsonl-write": ("JSONL write within 1.2x of the faster of polars/DuckDB", 1.2),
    "jsonl-read": ("JSONL read within 1.2x of the faster of polars/DuckDB", 1.2),
}


def result_of(timings: dict[str, Timings], images: int, quick: bool) -> CaseResult:
    targets: list[Target] = []
    rows = []
    results: dict[str, Any] = {"images": images, "quick": quick}
    for row, t in timings.items():
        peers = [n for n in t.runs if n != "imgframe"]
        baselines = [n for n in peers if not n.endswith("+fsync")]
        if not baselines:
            targets.append(Target("codecs", GOALS[row][0], "no peer installed", None))
            continue
        fastest = min(baselines, key=t.median)
        ratio = t.ratio("imgframe", fastest)
        targets.append(ratio_target("codecs", GOALS[row][0], ratio, GOALS[row][1], note=fastest))
        rows.append(
            [
                row,
                seconds(t.summary("imgframe")),
                ", ".join(f"{n} {seconds(t.summary(n))}" for n in peers),
                f"{ratio:.2f}x {fastest}",
                f"<= {GOALS[row][1]}x: {'PASS' if ratio <= GOALS[row][1] else 'MISS'}",
            ]
        )
        results[row] = {"timings": t.summaries(), "ratio": round(ratio, 3), "baseline": fastest}
    markdown = "\n".join(
        [
            f"### Codecs: {images:,}-row frame to and from CSV and JSONL",
            md_table(["row", "imgframe", "floor / peers", "ratio", "target"], rows),
        ]
    )
    return CaseResult("codecs", results, targets, markdown)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows instead of 1M")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 3)")
    parser.add_argument("--only", default=",".join(ROWS), help=f"subset of {', '.join(ROWS)}")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    only = [r.strip() for r in args.only.split(",") if r.strip()]
    if unknown := set(only) - set(ROWS):
        parser.error(f"unknown row(s) {', '.join(sorted(unknown))}")
    result = run(args.quick, rounds=args.rounds, only=only)
    print(result.markdown)
    for target in result.targets:
        verdict = {True: "PASS", False: "MISS", None: "n/a"}[target.passed]
        print(f"- {verdict}: {target.goal}: {target.measured}")
    if args.json:
        args.json.write_text(json.dumps(result.results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
