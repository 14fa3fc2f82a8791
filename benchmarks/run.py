"""imgframe against what users would otherwise do, and against the floor.

    python benchmarks/run.py [--quick] [--out benchmarks/results/latest.json] [--only CASES]

Every case runs its contenders side by side in one process, interleaved round by round (the
order rotates each round), and reports medians and ratios, never a lone absolute time: the
machine this runs on is shared and noisy, ratios measured together survive that far better.

Cases (full sizes; ``--quick`` shrinks them to finish in about two minutes):

1. **normalize**: 1,000,000 images (about 1,000 sandbox-shaped DescribeImages pages of 1,000)
   from raw response bytes to the typed frame. imgframe (``normalize_pages``) against the
   naive path (``json.loads`` per page, ``pd.json_normalize``, then the same type fixes) and
   the floor (``pyarrow.json.read_json`` over the bare records as NDJSON, no envelope, no type
   fixes, no pandas).
2. **fetch**: 200,000 images from a sandbox (in its own process) answering every request
   after 50 ms. The official ``zenlayercloud-sdk-python`` paging sequentially against
   imgframe at default settings and at concurrency 1..16; the floor is
   ``latency x ceil(pages / concurrency) + imgframe's normalize time`` of the same pages.
3. **memory**: peak RSS (``VmHWM``) of normalize and of fetch, each in a fresh subprocess
   (the sandbox in a process of its own), minus the RSS after a one-page warm-up, against
   ``df.memory_usage(deep=True).sum()``.
4. **export**: the 1M-row frame to Parquet and CSV with ``imgframe.export`` against
   ``pyarrow.parquet.write_table`` / ``pyarrow.csv.write_csv`` of the same Arrow table.
5. **scaling**: normalize and fetch at 10k, 100k and 1M images, time per image.

And the cases of their own modules (each also runs alone: ``python benchmarks/cases_X.py``):

6. **fetch_floor** (``cases_fetch.py``): default settings at 20k and 100k images, every zone
   and one zone, against the round-trip floor and the SDK loop.
7. **codecs** (``cases_codecs.py``): CSV and JSONL write and read against pyarrow, polars and
   DuckDB on the same data.
8. **store** (``cases_store.py``): ``status_trend``, ``read_snapshots(columns=...)`` and
   ``diff_store`` over 30 and 365 days against DuckDB over the same store.
9. **report** (``cases_report.py``): the report's own work against fetch + normalize.
10. **cli** (``cases_cli.py``): ``imgframe --version``/``--help`` start-up against ``import click``.
11. **catalog** (``cases_catalog.py``): the sandbox's 1M-image catalog.
12. **s3** (``cases_s3.py``, when present): a 1M-row export to an S3 server against local disk.

Not part of the test suite: nothing here passes or fails a build. It prints markdown tables
and which targets pass or miss, and writes everything to JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import io
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pj
from harness import CaseResult, Target, interleaved, log, md_table, seconds

import imgframe
from imgframe import sandbox
from imgframe.defaults import DEFAULT_CONCURRENCY
from imgframe.frame import normalize_pages
from imgframe.parse import RawPage, save_pages
from imgframe.sandbox.filters import parse_filter
from imgframe.schema import (
    CATEGORICAL_COLUMNS,
    IMAGE_COLUMNS,
    STRING_COLUMNS,
)

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 1000
SEED = 7
LATENCY_MS = 50.0
CONCURRENCIES = (1, 2, 4, 8, 16)
# A frame fetched at a fixed instant, so every contender builds the same values.
FETCHED_AT = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    """Sizes and repeat counts of one run."""

    mode: str
    normalize_sizes: tuple[int, ...]  # the last one is case 1
    fetch_images: int  # case 2
    fetch_scaling_sizes: tuple[int, ...]  # case 5 (fetch at default settings)
    rounds: int  # interleaved rounds for the fast contenders
    naive_rounds: int  # the naive path at the largest size is slow: fewer runs
    fetch_rounds: int


FULL = Plan(
    mode="full",
    normalize_sizes=(10_000, 100_000, 1_000_000),
    fetch_images=200_000,
    fetch_scaling_sizes=(10_000, 100_000, 1_000_000),
    rounds=7,
    naive_rounds=2,
    fetch_rounds=3,
)
QUICK = Plan(
    mode="quick",
    normalize_sizes=(10_000, 100_000),
    fetch_images=20_000,
    fetch_scaling_sizes=(10_000, 50_000),
    rounds=3,
    naive_rounds=2,
    fetch_rounds=3,
)
CORE_CASES = ("normalize", "memory", "export", "fetch")
#: Cases in modules of their own: name -> module (each has ``run(quick) -> CaseResult``).
MODULE_CASES = ("fetch_floor", "codecs", "store", "report", "cli", "catalog", "s3")
CASES = (*CORE_CASES, *MODULE_CASES)
MODULE_FILES = {"fetch_floor": "fetch"}


# --------------------------------------------------------------------------------------------
# Pages: real sandbox answers, built straight from its catalog


@dataclass
class Corpus:
    """The pages of one catalog, and the same records as NDJSON for the floor."""

    images: int
    pages: list[RawPage]
    ndjson: bytes

    @property
    def nbytes(self) -> int:
        return sum(len(p.body) for p in self.pages)


def envelope(request_id: str, data: bytes, total: int) -> bytes:
    """A DescribeImages answer byte for byte as the sandbox server writes it."""
    rid = request_id.encode()
    return (
        b'{"requestId":"' + rid + b'","response":{"requestId":"' + rid + b'",'
        b'"dataSet":' + data + b',"totalCount":' + str(total).encode() + b"}}"
    )


def build_corpus(catalog: sandbox.Catalog) -> Corpus:
    """Every page of every zone, as ``fetch_images_raw`` would receive them from a sandbox
    serving ``catalog`` (checked by :func:`check_pages_match_sandbox`), without the HTTP."""
    ids = sandbox.Sandbox(catalog=catalog)  # never started: only its request-id generator
    everything = parse_filter({})
    pages: list[RawPage] = []
    records: list[bytes] = []
    for zone in catalog.zone_ids:
        number = 1
        while True:
            data, total = catalog.page_json(zone, everything, number, PAGE_SIZE)
            rid = ids.next_request_id()
            pages.append(RawPage(zone, number, envelope(rid, data, total), rid))
            # Every record starts with "imageId", and a quote inside a JSON string is escaped,
            # so this boundary only occurs between records.
            lines = data[1:-1].replace(b'},{"imageId":', b'}\n{"imageId":')
            if lines:
                records.append(lines)
            if number * PAGE_SIZE >= total:
                break
            number += 1
    return Corpus(len(catalog), pages, b"\n".join(records))


def check_pages_match_sandbox() -> None:
    """The pages built here are exactly what a running sandbox sends (request ids aside)."""
    catalog = sandbox.Catalog(images=3000, seed=SEED)
    built = build_corpus(catalog).pages
    with sandbox.running(catalog=catalog) as sb, imgframe.Client.for_sandbox(sb) as client:
        served = client.fetch_images_raw("all", progress=False)

    def strip(body: bytes) -> bytes:
        return re.sub(rb'"requestId":"[^"]*"', b'"requestId":""', body)

    ours = {(p.zone_id, p.page_num): strip(p.body) for p in built}
    theirs = {(p.zone_id, p.page_num): strip(p.body) for p in served}
    assert ours == theirs, "pages built from the catalog differ from the sandbox's answers"


def corpus_for(images: int) -> Corpus:
    started = time.perf_counter()
    catalog = sandbox.Catalog(images=images, seed=SEED)
    corpus = build_corpus(catalog)
    del catalog
    gc.collect()
    log(
        f"corpus of {images:,} images: {len(corpus.pages):,} pages, "
        f"{corpus.nbytes / 1e6:,.0f} MB, built in {time.perf_counter() - started:.1f}s"
    )
    return corpus


# --------------------------------------------------------------------------------------------
# Case 1: normalize


def imgframe_normalize(pages: Sequence[RawPage]) -> pd.DataFrame:
    return normalize_pages(pages, fetched_at=FETCHED_AT)


def naive_normalize(pages: Sequence[RawPage]) -> pd.DataFrame:
    """What a pandas user writes without imgframe: json.loads + json_normalize + fixes."""
    records: list[dict[str, Any]] = []
    zones: list[str] = []
    for page in pages:
        data = json.loads(page.body)["response"]["dataSet"]
        records.extend(data)
        zones.extend([page.zone_id] * len(data))
    df = pd.json_normalize(records)
    df.insert(0, "zoneId", zones)
    # json_normalize flattens the SDK's {"tags": [...]} wrapper to "tags.tags"; null stays
    # "tags": gather both back into one list column, null -> [].
    wrapped = df.pop("tags.tags") if "tags.tags" in df else pd.Series([None] * len(df))
    if "tags" in df:
        del df["tags"]
    df["tags"] = [t if isinstance(t, list) else [] for t in wrapped]
    df["imageSize"] = pd.to_numeric(df["imageSize"], errors="coerce").astype("Int64")
    df["minDiskSize"] = df["minDiskSize"].astype("Int64")
    for name in CATEGORICAL_COLUMNS:
        if name in IMAGE_COLUMNS:  # the others are the inventory's, not DescribeImages'
            df[name] = df[name].astype("category")
    for name in STRING_COLUMNS:
        if name in IMAGE_COLUMNS:
            df[name] = df[name].astype("string")
    df["fetchedAt"] = pd.Timestamp(FETCHED_AT)
    return df[list(IMAGE_COLUMNS)]


def floor_normalize(ndjson: bytes) -> pa.Table:
    """The floor: pyarrow's JSON reader over the bare records, default options."""
    return pj.read_json(io.BytesIO(ndjson))


@dataclass
class NormalizeResult:
    images: int
    pages: int
    megabytes: float
    timings: dict[str, dict[str, Any]]
    per_image_us: dict[str, float]
    naive_over_imgframe: float
    imgframe_over_floor: float


def bench_normalize(
    corpus: Corpus, plan: Plan, *, keep: dict[str, pd.DataFrame] | None = None
) -> NormalizeResult:
    rows = sum(1 for _ in corpus.ndjson.splitlines())
    pages = corpus.pages

    largest = corpus.images == plan.normalize_sizes[-1]

    def check(name: str, result: object) -> None:
        n = result.num_rows if isinstance(result, pa.Table) else len(result)  # type: ignore[arg-type]
        assert n == rows, f"{name} returned {n} rows, expected {rows}"
        if name == "imgframe" and largest and keep is not None:
            keep["frame"] = result  # type: ignore[assignment]

    timings = interleaved(
        {
            "imgframe": lambda: imgframe_normalize(pages),
            "naive": lambda: naive_normalize(pages),
            "floor": lambda: floor_normalize(corpus.ndjson),
        },
        # Smaller sizes are quick and, being short, noisier: twice the rounds.
        plan.rounds if largest else 2 * plan.rounds,
        limits={"naive": plan.naive_rounds if largest else 3},
        check=check,
    )
    return NormalizeResult(
        images=rows,
        pages=len(pages),
        megabytes=round(corpus.nbytes / 1e6, 1),
        timings={name: timings.summary(name) for name in timings.runs},
        per_image_us={name: round(timings.median(name) / rows * 1e6, 3) for name in timings.runs},
        naive_over_imgframe=round(timings.median("naive") / timings.median("imgframe"), 2),
        imgframe_over_floor=round(timings.median("imgframe") / timings.median("floor"), 2),
    )


def check_naive_agrees(corpus: Corpus) -> None:
    """The naive baseline builds the same frame (so it is a fair baseline)."""
    ours = imgframe_normalize(corpus.pages)
    theirs = naive_normalize(corpus.pages)
    assert list(ours.columns) == list(theirs.columns)
    for name in ("zoneId", "imageId", "imageSize", "minDiskSize", "imageStatus"):
        left = ours[name].astype(object).where(ours[name].notna(), None).tolist()
        right = theirs[name].astype(object).where(theirs[name].notna(), None).tolist()
        assert left == right, f"naive and imgframe disagree on {name}"
    assert [len(t) for t in ours["tags"]] == [len(t) for t in theirs["tags"]]


# --------------------------------------------------------------------------------------------
# Case 2: fetch from a sandbox in its own process


@dataclass(frozen=True)
class SandboxProcess:
    pid: int
    endpoint: str

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def rss_mb(self) -> float:
        return rss_of(self.pid) / 2**20


@contextlib.contextmanager
def sandbox_process(images: int, latency_ms: float) -> Iterator[SandboxProcess]:
    """``python -m imgframe.sandbox`` in a subprocess, so it takes no GIL and no memory from
    the process being measured."""
    command = [
        sys.executable, "-m", "imgframe.sandbox", "--images", str(images),
        "--seed", str(SEED), "--latency-ms", str(latency_ms), "--port", "0",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the catalog is built and bound
        found = re.search(r"(http://[0-9.]+:[0-9]+)", first)
        if found is None:
            raise RuntimeError(f"the sandbox did not start: {first!r}")
        log(
            f"sandbox of {images:,} images at {found.group(1)} in {time.perf_counter() - started:.1f}s"
        )
        yield SandboxProcess(proc.pid, found.group(1))
    finally:
        # Ctrl-C is how the sandbox stops cleanly; a shell that started this script in the
        # background may have it ignore SIGINT, hence the fallbacks.
        stops: tuple[Callable[[], None], ...] = (
            functools.partial(proc.send_signal, signal.SIGINT),
            proc.terminate,
            proc.kill,
        )
        for stop in stops:
            stop()
            try:
                proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue


def sdk_fetch(endpoint: str) -> list[Any]:
    """The official SDK, paging every zone sequentially and collecting the image records."""
    from zenlayercloud.common.config import Config
    from zenlayercloud.common.credential import Credential
    from zenlayercloud.zec.v20250901 import models
    from zenlayercloud.zec.v20250901.zec_client import ZecClient

    client = ZecClient(
        Credential(sandbox.DEMO_ACCESS_KEY_ID, sandbox.DEMO_ACCESS_KEY_SECRET),
        Config(scheme="http", domain=endpoint.removeprefix("http://")),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's supportSecurityGroup
        zones = client.DescribeZones(models.DescribeZonesRequest()).zoneSet
    records: list[Any] = []
    for zone in zones:
        number = 1
        while True:
            request = models.DescribeImagesRequest()
            request.zoneId, request.pageNum, request.pageSize = zone.zoneId, number, PAGE_SIZE
            response = client.DescribeImages(request)
            records.extend(response.dataSet or [])
            if number * PAGE_SIZE >= response.totalCount:
                break
            number += 1
    return records


def client_for(endpoint: str, **kwargs: Any) -> imgframe.Client:
    return imgframe.Client(
        endpoint=endpoint,
        access_key_id=sandbox.DEMO_ACCESS_KEY_ID,
        access_key_secret=sandbox.DEMO_ACCESS_KEY_SECRET,
        **kwargs,
    )


def imgframe_fetch_default(endpoint: str) -> pd.DataFrame:
    """What the README shows: one call, default settings (no progress bar on a benchmark)."""
    return imgframe.fetch_images(
        "all",
        endpoint=endpoint,
        access_key_id=sandbox.DEMO_ACCESS_KEY_ID,
        access_key_secret=sandbox.DEMO_ACCESS_KEY_SECRET,
        progress=False,
    )


def imgframe_fetch_at(endpoint: str, concurrency: int) -> pd.DataFrame:
    with client_for(endpoint, max_concurrency=concurrency) as client:
        return client.fetch_images("all", progress=False)


def raw_pages(endpoint: str) -> list[RawPage]:
    with client_for(endpoint, max_concurrency=8) as client:
        return client.fetch_images_raw("all", progress=False)


@dataclass
class FetchResult:
    images: int
    pages: int
    latency_ms: float
    normalize_s: float
    timings: dict[str, dict[str, Any]]
    floors_s: dict[str, float]
    over_floor: dict[str, float]
    sdk_over_default: float
    best_concurrency: int
    best_over_floor: float


def floor_seconds(pages: int, concurrency: int, latency_ms: float, normalize_s: float) -> float:
    return latency_ms / 1000 * math.ceil(pages / concurrency) + normalize_s


def bench_fetch(sb: SandboxProcess, images: int, plan: Plan) -> FetchResult:
    pages = raw_pages(sb.endpoint)
    normalize = interleaved({"normalize": lambda: imgframe_normalize(pages)}, 3)
    normalize_s = normalize.median("normalize")

    def check(name: str, result: object) -> None:
        assert len(result) == images, f"{name} fetched {len(result)} images, not {images}"  # type: ignore[arg-type]

    contenders: dict[str, Callable[[], object]] = {"sdk": lambda: sdk_fetch(sb.endpoint)}
    for c in CONCURRENCIES:
        # The default concurrency is measured the way the README calls it: one function call.
        contenders[f"imgframe c={c}"] = (
            functools.partial(imgframe_fetch_default, sb.endpoint)
            if c == DEFAULT_CONCURRENCY
            else functools.partial(imgframe_fetch_at, sb.endpoint, c)
        )
    # Sequential paging at low concurrency is slow and steady: two runs of those.
    limits = {"imgframe c=1": 2, "imgframe c=2": 2}
    timings = interleaved(contenders, plan.fetch_rounds, limits=limits, check=check)

    floors = {
        f"c={c}": round(floor_seconds(len(pages), c, LATENCY_MS, normalize_s), 4)
        for c in CONCURRENCIES
    }
    over = {
        f"c={c}": round(timings.median(f"imgframe c={c}") / floors[f"c={c}"], 3)
        for c in CONCURRENCIES
    }
    best = min(CONCURRENCIES, key=lambda c: over[f"c={c}"])
    default = f"imgframe c={DEFAULT_CONCURRENCY}"
    return FetchResult(
        images=images,
        pages=len(pages),
        latency_ms=LATENCY_MS,
        normalize_s=round(normalize_s, 4),
        timings={name: timings.summary(name) for name in timings.runs},
        floors_s=floors,
        over_floor=over,
        sdk_over_default=round(timings.median("sdk") / timings.median(default), 2),
        best_concurrency=best,
        best_over_floor=over[f"c={best}"],
    )


def bench_fetch_scaling(images: int, rounds: int) -> dict[str, Any]:
    with sandbox_process(images, LATENCY_MS) as sb:
        timings = interleaved(
            {"imgframe (default)": lambda: imgframe_fetch_default(sb.endpoint)}, rounds
        )
    median = timings.median("imgframe (default)")
    return {
        "images": images,
        **timings.summary("imgframe (default)"),
        "per_image_us": round(median / images * 1e6, 3),
    }


# --------------------------------------------------------------------------------------------
# Case 3: memory, each in a fresh subprocess


def rss_of(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """This process's peak RSS. Not ``getrusage().ru_maxrss``: Linux carries that over from the
    parent across fork and exec, so a child started by a big parent reports the parent's peak.
    ``VmHWM`` belongs to the process's own address space."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # pragma: no cover


def child_memory(kind: str, source: str) -> dict[str, Any]:
    """Run in the subprocess: one normalize or one fetch, with RSS before and at peak.

    A one-page warm-up first loads the modules imgframe imports lazily and starts its pools,
    so "before" holds those one-time costs and "added" is what the data costs.
    """
    if kind == "normalize":
        pages: list[RawPage] = imgframe.load_pages(source)
        normalize_pages(pages[:1])
        before = rss_of()
        started = time.perf_counter()
        df = normalize_pages(pages)
    else:
        with client_for(source) as client:
            client.fetch_images("asia-east-1a", os_type="linux", progress=False)
        before = rss_of()
        started = time.perf_counter()
        df = imgframe_fetch_default(source)
    seconds = time.perf_counter() - started
    peak = peak_rss()
    frame = int(df.memory_usage(deep=True).sum())
    return {
        "rows": len(df),
        "seconds": round(seconds, 3),
        "frame_mb": round(frame / 2**20, 1),
        "rss_before_mb": round(before / 2**20, 1),
        "peak_rss_mb": round(peak / 2**20, 1),
        "added_mb": round((peak - before) / 2**20, 1),
        "added_over_frame": round((peak - before) / frame, 2),
        "peak_over_frame": round(peak / frame, 2),
    }


def run_child(kind: str, source: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--source", source]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {kind} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------------------
# Case 4: export


def bench_export(df: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    try:
        from imgframe.export import write_csv, write_parquet
    except ImportError as exc:  # being written concurrently: report, do not fail the run
        return {"skipped": f"imgframe.export is not importable: {exc}"}
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    notes: list[str] = []
    try:
        from imgframe.export.csv import csv_table as encode_csv_table

        # The same text table imgframe encodes (list columns already rendered as JSON text),
        # so the floor writes exactly the bytes imgframe writes.
        csv_table = encode_csv_table(df, neutralize=True)
    except Exception as exc:
        csv_table = table.drop_columns(["nicNetworkType", "tags"])
        notes.append(f"CSV floor writes the table without its list columns ({exc!r})")

    with tempfile.TemporaryDirectory(prefix="imgframe-bench-") as tmp:
        root = Path(tmp)

        def fresh(name: str) -> Path:
            path = root / name
            path.unlink(missing_ok=True)
            return path

        timings = interleaved(
            {
                "imgframe parquet": lambda: write_parquet(df, fresh("a.parquet")),
                "floor parquet": lambda: pq.write_table(
                    table, fresh("b.parquet"), compression="zstd"
                ),
                "imgframe csv": lambda: write_csv(df, fresh("a.csv")),
                "floor csv": lambda: pa_csv.write_csv(csv_table, fresh("b.csv")),
            },
            max(3, plan.rounds - 2),
            # Not a target, and its list columns are encoded in Python (~25 s at 1M): one run.
            limits={"imgframe csv": 1},
        )
        sizes = {p.name: p.stat().st_size for p in root.iterdir()}
    return {
        "rows": len(df),
        "timings": {name: timings.summary(name) for name in timings.runs},
        "parquet_over_floor": round(
            timings.median("imgframe parquet") / timings.median("floor parquet"), 3
        ),
        "csv_over_floor": round(timings.median("imgframe csv") / timings.median("floor csv"), 3),
        "file_mb": {k: round(v / 1e6, 1) for k, v in sorted(sizes.items())},
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------
# Report


def render_core(results: dict[str, Any]) -> str:
    out: list[str] = []
    normalize = results.get("normalize")
    if normalize:
        case1 = normalize[-1]
        out.append(
            f"### 1. Normalize: {case1['images']:,} images, {case1['pages']:,} pages, "
            f"{case1['megabytes']:,.0f} MB of response bytes -> typed DataFrame"
        )
        rows = []
        for name, label in (
            ("imgframe", "imgframe `normalize_pages`"),
            ("naive", "naive: `json.loads` + `pd.json_normalize` + type fixes"),
            ("floor", "floor: `pyarrow.json.read_json`, bare NDJSON records"),
        ):
            t = case1["timings"][name]
            ratio = t["median_s"] / case1["timings"]["imgframe"]["median_s"]
            rows.append([label, seconds(t), f"{case1['per_image_us'][name]:.2f}", f"{ratio:.2f}x"])
        out.append(md_table(["", "median (runs)", "µs / image", "vs imgframe"], rows))
    fetch = results.get("fetch")
    if fetch:
        out.append(
            f"### 2. Fetch: {fetch['images']:,} images, {fetch['pages']} pages + DescribeZones, "
            f"{fetch['latency_ms']:.0f} ms latency per request (sandbox in its own process)"
        )
        sdk = fetch["timings"]["sdk"]["median_s"]
        rows = [
            [
                "official SDK, pages in sequence, records collected (no frame)",
                seconds(fetch["timings"]["sdk"]),
                "",
                "",
                "1.00x",
            ]
        ]
        for c in CONCURRENCIES:
            name, key = f"imgframe c={c}", f"c={c}"
            t = fetch["timings"][name]
            rows.append(
                [
                    name + (" (default settings)" if c == DEFAULT_CONCURRENCY else ""),
                    seconds(t),
                    f"{fetch['floors_s'][key]:.3f} s",
                    f"{fetch['over_floor'][key]:.2f}x",
                    f"{sdk / t['median_s']:.2f}x",
                ]
            )
        out.append(md_table(["", "median (runs)", "floor", "vs floor", "speedup vs SDK"], rows))
        out.append(
            f"Floor = {fetch['latency_ms']:.0f} ms x ceil({fetch['pages']} pages / concurrency) "
            f"+ imgframe's normalize of the same pages ({fetch['normalize_s']:.3f} s); it leaves "
            "out the DescribeZones round trip and the wait for each zone's first page."
        )
    memory = results.get("memory")
    if memory:
        out.append("### 3. Memory: peak RSS in a fresh process vs the frame it returns")
        rows = []
        for name, m in memory.items():
            rows.append(
                [
                    f"{name} ({m['rows']:,} rows)",
                    f"{m['frame_mb']:,.0f}",
                    f"{m['rss_before_mb']:,.0f}",
                    f"{m['peak_rss_mb']:,.0f}",
                    f"{m['added_mb']:,.0f}",
                    f"{m['added_over_frame']:.2f}x",
                    f"{m['peak_over_frame']:.2f}x",
                ]
            )
        out.append(
            md_table(
                [
                    "",
                    "frame MiB",
                    "RSS before MiB",
                    "peak RSS MiB",
                    "added MiB",
                    "added / frame",
                    "peak / frame",
                ],
                rows,
            )
        )
        out.append(
            "RSS before: after a one-page warm-up (interpreter, libraries, lazily imported "
            "modules, and for normalize the response bytes the caller already holds). The "
            "sandbox runs in its own process and is not counted."
        )
    export = results.get("export")
    if export:
        out.append(f"### 4. Export: {export.get('rows', 0):,}-row frame")
        if "skipped" in export:
            out.append(f"Skipped: {export['skipped']}")
        else:
            rows = []
            for fmt in ("parquet", "csv"):
                ours = export["timings"][f"imgframe {fmt}"]
                floor = export["timings"][f"floor {fmt}"]
                rows.append(
                    [fmt, seconds(ours), seconds(floor), f"{export[f'{fmt}_over_floor']:.2f}x"]
                )
            out.append(
                md_table(["", "imgframe `write_*`", "floor: pyarrow `write_*`", "vs floor"], rows)
            )
            out.extend(export["notes"])
    scaling = results.get("scaling")
    if scaling:
        out.append("### 5. Scaling: time per image (µs)")
        rows = []
        for name, points in scaling.items():
            if name.endswith("spread"):
                continue
            cells = [f"{p['images']:,}: {p['per_image_us']:.2f}" for p in points]
            rows.append([name, "; ".join(cells), f"{scaling[name + ' spread']:.2f}x"])
        out.append(md_table(["", "images: µs / image", "max / min"], rows))
    return "\n\n".join(out)


def render_targets(targets: list[Target]) -> str:
    """Every target of the run in one table: what it asks, what was measured, PASS/MISS."""
    out = ["### Targets"]
    out.append(
        md_table(
            ["case", "target", "measured", "result"],
            [
                [
                    t.case,
                    t.goal,
                    t.measured,
                    "n/a" if t.passed is None else ("PASS" if t.passed else "MISS"),
                ]
                for t in targets
            ],
        )
    )
    return "\n\n".join(out)


def evaluate(results: dict[str, Any]) -> list[Target]:
    targets: list[Target] = []
    normalize = results.get("normalize")
    if normalize:
        case1 = normalize[-1]
        targets.append(
            Target(
                "normalize",
                "imgframe >= 8x faster than naive",
                f"{case1['naive_over_imgframe']:.2f}x",
                case1["naive_over_imgframe"] >= 8,
            )
        )
        targets.append(
            Target(
                "normalize",
                "imgframe within 1.5x of the floor",
                f"{case1['imgframe_over_floor']:.2f}x",
                case1["imgframe_over_floor"] <= 1.5,
            )
        )
    fetch = results.get("fetch")
    if fetch:
        targets.append(
            Target(
                "fetch",
                "default settings >= 5x faster than the SDK loop",
                f"{fetch['sdk_over_default']:.2f}x",
                fetch["sdk_over_default"] >= 5,
            )
        )
        targets.append(
            Target(
                "fetch",
                "best concurrency within 1.25x of the floor",
                f"{fetch['best_over_floor']:.2f}x at c={fetch['best_concurrency']}",
                fetch["best_over_floor"] <= 1.25,
            )
        )
    for name, m in (results.get("memory") or {}).items():
        targets.append(
            Target(
                "memory",
                f"{name}: peak below 2.5x the frame (added by the call)",
                f"{m['added_over_frame']:.2f}x (whole process {m['peak_over_frame']:.2f}x)",
                m["added_over_frame"] < 2.5,
            )
        )
    export = results.get("export")
    if export:
        if "skipped" in export:
            targets.append(Target("export", "Parquet within 1.3x of pyarrow", "skipped", None))
        else:
            targets.append(
                Target(
                    "export",
                    "Parquet within 1.3x of pyarrow",
                    f"{export['parquet_over_floor']:.2f}x",
                    export["parquet_over_floor"] <= 1.3,
                )
            )
    for name, value in (results.get("scaling") or {}).items():
        if name.endswith(" spread"):
            label = name.removesuffix(" spread")
            targets.append(
                Target(
                    "scaling",
                    f"{label}: time per image flat within 1.5x",
                    f"{value:.2f}x",
                    value <= 1.5,
                )
            )
    return targets


# --------------------------------------------------------------------------------------------
# Main


def run(plan: Plan, cases: Sequence[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    check_pages_match_sandbox()
    log("built pages match the sandbox's answers byte for byte (request ids aside)")
    frame: dict[str, pd.DataFrame] = {}
    biggest: Corpus | None = None
    if {"normalize", "memory", "export"} & set(cases):
        normalize: list[dict[str, Any]] = []
        sizes = plan.normalize_sizes if "normalize" in cases else plan.normalize_sizes[-1:]
        for images in sizes:
            corpus = corpus_for(images)
            if images == sizes[0] and "normalize" in cases:
                check_naive_agrees(corpus)
            if "normalize" in cases:
                result = bench_normalize(corpus, plan, keep=frame)
                normalize.append(asdict(result))
                log(
                    f"normalize {images:,}: imgframe {result.timings['imgframe']['median_s']:.3f}s, "
                    f"naive x{result.naive_over_imgframe}, floor x{1 / result.imgframe_over_floor:.2f}"
                )
            biggest = corpus
        if normalize:
            results["normalize"] = normalize
    if "memory" in cases and biggest is not None:
        with tempfile.TemporaryDirectory(prefix="imgframe-bench-pages-") as tmp:
            save_pages(biggest.pages, tmp)
            results.setdefault("memory", {})["normalize"] = run_child("normalize", tmp)
            log(f"memory normalize: {results['memory']['normalize']}")
    if "export" in cases:
        df = frame.pop("frame", None)
        if df is None and biggest is not None:
            df = imgframe_normalize(biggest.pages)
        if df is not None:
            results["export"] = bench_export(df, plan)
            log(f"export: {results['export'].get('parquet_over_floor')}")
        del df
    biggest = None
    frame.clear()
    gc.collect()
    if "fetch" in cases or "memory" in cases:
        with sandbox_process(plan.fetch_images, LATENCY_MS) as sb:
            if "fetch" in cases:
                fetch = bench_fetch(sb, plan.fetch_images, plan)
                results["fetch"] = asdict(fetch)
                log(f"fetch: SDK x{fetch.sdk_over_default}, best x{fetch.best_over_floor} of floor")
            if "memory" in cases:
                results.setdefault("memory", {})["fetch"] = run_child("fetch", sb.endpoint)
                log(
                    f"memory fetch: {results['memory']['fetch']} (sandbox RSS {sb.rss_mb():.0f} MiB)"
                )
    if "fetch" in cases:
        points = []
        for images in plan.fetch_scaling_sizes:
            if images == plan.fetch_images:
                t = results["fetch"]["timings"][f"imgframe c={DEFAULT_CONCURRENCY}"]
                points.append(
                    {"images": images, **t, "per_image_us": round(t["median_s"] / images * 1e6, 3)}
                )
            else:
                # The largest size pages for ~20 s a run: two runs.
                rounds = plan.fetch_rounds if images < 1_000_000 else 2
                points.append(bench_fetch_scaling(images, rounds))
            log(f"fetch scaling {images:,}: {points[-1]['per_image_us']} µs/image")
        results.setdefault("scaling", {})["fetch (default settings, 50 ms)"] = points
    if "normalize" in results:
        results.setdefault("scaling", {})["normalize (imgframe)"] = [
            {"images": r["images"], "per_image_us": r["per_image_us"]["imgframe"]}
            for r in results["normalize"]
        ]
    for name in list(results.get("scaling", {})):
        per_image = [p["per_image_us"] for p in results["scaling"][name]]
        results["scaling"][f"{name} spread"] = round(max(per_image) / min(per_image), 2)
    return results


def run_module_case(name: str, quick: bool) -> CaseResult | None:
    """Run ``cases_<name>.run(quick)``; None (said on stderr) when the module is absent or
    its optional engines are not installed."""
    import importlib

    try:
        module = importlib.import_module(f"cases_{MODULE_FILES.get(name, name)}")
    except ModuleNotFoundError as exc:
        log(f"{name}: skipped ({exc})")
        return None
    log(f"{name}: {'quick' if quick else 'full'} run")
    result: CaseResult = module.run(quick)
    return result


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "imgframe": imgframe.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "numpy": np.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about two minutes)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results" / "latest.json", help="JSON results file"
    )
    parser.add_argument(
        "--only", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}"
    )
    parser.add_argument(
        "--readme",
        type=Path,
        help="also put this run's targets table into the README between its benchmark markers",
    )
    parser.add_argument("--child", choices=["normalize", "fetch"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_memory(args.child, args.source)))
        return 0
    cases = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; cases: {', '.join(CASES)}")
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    env = environment()
    log(
        f"{plan.mode} run of {', '.join(cases)} on {env['cpus']} CPUs, load {env['load_average_at_start']}"
    )
    core = [c for c in cases if c in CORE_CASES]
    results = run(plan, core) if core else {}
    targets = evaluate(results)
    sections = [render_core(results)] if core else []
    for name in (c for c in MODULE_CASES if c in cases):
        case = run_module_case(name, plan.mode == "quick")
        if case is None:
            continue
        results[name] = case.results
        targets += case.targets
        sections.append(case.markdown)
    elapsed = time.perf_counter() - started
    env["load_average_at_end"] = os.getloadavg()
    print("\n\n".join([*sections, render_targets(targets)]))
    if plan.mode == "quick":
        print(
            "\n(--quick: smaller sizes check the machinery; the targets are set for the full run.)"
        )
    print(f"\n{plan.mode} run in {elapsed:.0f} s")
    document = {
        "plan": asdict(plan),
        "environment": env,
        "started": started_at,
        "seconds": round(elapsed, 1),
        "results": results,
        "targets": [asdict(t) for t in targets],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    log(f"wrote {args.out}")
    if args.readme is not None:
        summary = (
            f"The latest {plan.mode} run ({started_at[:10]}, {env['cpus']} CPUs, load "
            f"{env['load_average_at_start'][0]:.1f} at the start), every target of the "
            f"issue with its ratio:\n\n{render_targets(targets)}"
        )
        put_in_readme(args.readme, summary)
        log(f"updated {args.readme}")
    return 0


def put_in_readme(readme: Path, text: str) -> None:
    """Replace what is between the README's ``<!-- benchmarks:begin/end -->`` markers."""
    document = readme.read_text(encoding="utf-8")
    begin, end = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"
    head, found, rest = document.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not (found and found_end):
        raise SystemExit(f"{readme} has no {begin} ... {end} markers")
    readme.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
