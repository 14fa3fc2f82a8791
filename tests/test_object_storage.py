"""Every path-taking command and function with ``s3://`` against a real S3 protocol server
(moto on 127.0.0.1): exports in every format, datasets, appends, manifests, metrics, the
snapshot store (diff, report, ``--from``), ``file://``, and the failures a bucket brings:
missing, denied, dropped mid-upload, the extra not installed."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import Result

import imgframe
from imgframe import sandbox
from imgframe.errors import ExportError, StoreBusyError
from imgframe.export import read_export, write_export
from imgframe.history import diff_store, list_snapshots, read_snapshots, write_snapshot
from imgframe.history.lease import writer_lease
from imgframe.history.prune import prune_store
from imgframe.storage import WriteConflict, location

from .cli_helpers import error_line, no_fetched_at, run, use_sandbox
from .frames import fixture_frame, small_frame
from .s3server import BUCKET, S3, SECRET_ACCESS_KEY, CutProxy, moto_endpoint, s3

__all__ = ["moto_endpoint", "s3"]  # the fixtures, used by name

CHARTS = ("category", "osType", "imageStatus", "zone")

pytest.importorskip("obstore")
pytest.importorskip("moto")


@pytest.fixture(scope="module")
def server() -> Iterator[sandbox.Sandbox]:
    with sandbox.running(images=300, seed=7) as running:
        yield running


@pytest.fixture
def api(server: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[sandbox.Sandbox]:
    use_sandbox(monkeypatch, server)
    try:
        yield server
    finally:
        server.set_day(0)


def clean(result: Result, *secrets: str) -> Result:
    """``result``, checked to hold no traceback and no secret anywhere in its output."""
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text
        for secret in (SECRET_ACCESS_KEY, *secrets):
            assert secret not in text
    return result


def ok(*args: str | Path) -> Result:
    result = clean(run(*args))
    assert result.exit_code == 0, result.output
    return result


def failure(code: int, *args: str | Path, secrets: tuple[str, ...] = ()) -> str:
    """The one line of a run that failed with ``code``."""
    result = clean(run(*args), *secrets)
    assert result.exit_code == code, result.output
    return error_line(result)


# --------------------------------------------------------------------------------------------
# Exports


@pytest.mark.parametrize("name", ["i.parquet", "i.csv", "i.csv.gz", "i.jsonl"])
def test_every_format_round_trips_through_a_bucket(s3: S3, name: str) -> None:
    df = fixture_frame(zones=True)
    written = write_export(df, s3.uri(f"exports/{name}"))
    assert (written.path, written.rows) == (s3.uri(f"exports/{name}"), len(df))
    assert s3.keys() == [f"exports/{name}"]  # nothing beside it: no temporary object
    assert written.bytes == len(s3.get(f"exports/{name}"))
    pd.testing.assert_frame_equal(read_export(s3.uri(f"exports/{name}")), df)


def test_cli_export_writes_every_format_manifest_and_metrics_to_the_bucket(
    s3: S3, api: sandbox.Sandbox, tmp_path: Path
) -> None:
    local = tmp_path / "local.parquet"
    names = ["i.parquet", "i.csv", "i.csv.gz", "i.jsonl", "i.xlsx"]
    outputs = [x for n in names for x in ("-o", s3.uri(f"out/{n}"))]
    ok(
        "export", "-o", local, "-o", tmp_path / "local.xlsx", *outputs,
        "--manifest", s3.uri("out/manifest.json"), "--metrics-file", s3.uri("metrics/x.prom"),
    )  # fmt: skip
    assert s3.keys() == sorted(
        [f"out/{n}" for n in names] + ["out/manifest.json", "metrics/x.prom"]
    )
    expected = read_export(local)
    assert len(expected) == 300
    for name in names[:-1]:
        pd.testing.assert_frame_equal(read_export(s3.uri(f"out/{name}")), expected)
    book = openpyxl.load_workbook(io.BytesIO(s3.get("out/i.xlsx")), read_only=True)
    mine = openpyxl.load_workbook(tmp_path / "local.xlsx", read_only=True)
    assert book.sheetnames == mine.sheetnames
    for sheet in ("Images", "Tags"):
        got = list(book[sheet].iter_rows(values_only=True))
        assert got == list(mine[sheet].iter_rows(values_only=True))
        assert len(got) > 300
    files = json.loads(s3.get("out/manifest.json"))["files"]
    # Paths relative to the manifest's own place, as for local files.
    assert [f["path"] for f in files] == [str(local), str(tmp_path / "local.xlsx"), *names]
    for name, entry in zip(names, files[2:], strict=True):
        body = s3.get(f"out/{name}")
        assert (entry["rows"], entry["bytes"]) == (300, len(body))
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    metrics = s3.get("metrics/x.prom").decode()
    samples = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line[:1] != "#")
    assert samples['imgframe_last_run_exit_code{command="export"}'] == "0"
    assert samples['imgframe_bytes_written{command="export"}'] == str(
        sum(len(s3.get(f"out/{n}")) for n in names)
        + local.stat().st_size
        + (tmp_path / "local.xlsx").stat().st_size
    )


def test_partitioned_dataset_and_append_in_a_bucket(s3: S3, api: sandbox.Sandbox) -> None:
    target = s3.uri("ds")
    ok("export", "--partition-by", "zoneId", "-o", target)
    first = read_export(target)
    zones = sorted(first["zoneId"].astype(str).unique())
    keys = s3.keys("ds/")
    assert keys[:2] == ["ds/_common_metadata", "ds/_manifest.json"]
    assert sorted({k.split("/")[1] for k in keys[2:]}) == [f"zoneId={z}" for z in zones]
    ok("export", "--partition-by", "zoneId", "--mode", "append", "-o", target)
    both = read_export(target)
    assert len(both) == 2 * len(first) == 600
    assert len(s3.keys("ds/")) == 2 + 2 * len(zones)
    newer = both[both["fetchedAt"] > first["fetchedAt"].max()]
    pd.testing.assert_frame_equal(
        no_fetched_at(newer).reset_index(drop=True), no_fetched_at(first), check_categorical=False
    )
    again = failure(1, "export", "--partition-by", "zoneId", "-o", target)
    assert again == f"cannot write {target}: it already exists (use --mode overwrite or append)"


def test_concurrent_appends_to_a_bucket_dataset_lose_no_rows(s3: S3) -> None:
    """Whatever the interleaving, each append is in the dataset whole or failed with a
    write conflict (the manifest's conditional put), never lost silently."""
    target = s3.uri("ds")
    write_export(small_frame(3), target, partition_by=["zoneId"])

    def append(start: int) -> str:
        try:
            write_export(
                small_frame(3, start=start), target, partition_by=["zoneId"], mode="append"
            )
        except WriteConflict as exc:
            return str(exc)
        return "ok"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(append, [10, 20, 30, 40]))
    written = read_export(target)
    assert outcomes.count("ok") >= 1
    assert all(o == "ok" or "another writer" in o for o in outcomes), outcomes
    assert len(written) == 3 + 3 * outcomes.count("ok")
    ids = sorted(written["imageId"].astype(str))
    expected = [f"img-{i:04d}" for i in range(3)] + [
        f"img-{start + i:04d}"
        for start, outcome in zip([10, 20, 30, 40], outcomes, strict=True)
        if outcome == "ok"
        for i in range(3)
    ]
    assert ids == sorted(expected)


def test_file_uris_are_local_paths(tmp_path: Path, api: sandbox.Sandbox) -> None:
    ok("export", "-o", f"file://{tmp_path}/a.parquet")
    ok("snapshot", "--store", f"file://{tmp_path}/store", "--date", "2026-01-01")
    assert (tmp_path / "a.parquet").is_file()
    assert list_snapshots(tmp_path / "store") == [date(2026, 1, 1)]
    relative = failure(2, "export", "-o", "file://a.parquet")
    assert relative.endswith("a file:// URI needs an absolute path (file:///...)")


# --------------------------------------------------------------------------------------------
# The snapshot store


def test_store_in_a_bucket_snapshot_diff_report_and_from(
    s3: S3, api: sandbox.Sandbox, tmp_path: Path
) -> None:
    store, local = s3.uri("history"), tmp_path / "history"
    for day, when in ((0, "2026-01-01"), (1, "2026-01-02")):
        api.set_day(day)
        ok("snapshot", "--store", store, "--date", when)
        # The same frame into a local store: --from the bucket's day.
        ok("snapshot", "--store", local, "--date", when, "--from", f"{store}@{when}")
    assert list_snapshots(store) == list_snapshots(local) == [date(2026, 1, 1), date(2026, 1, 2)]
    pd.testing.assert_frame_equal(
        read_snapshots(store).drop(columns="snapshotAt"),
        read_snapshots(local).drop(columns="snapshotAt"),
    )
    assert len(read_snapshots(store, since="2026-01-02")) == sum(
        api.catalog.count(z) for z in api.catalog.zone_ids
    )
    assert [k for k in s3.keys("history/") if "manifest" in k] == [
        "history/_imgframe/days/snapshot_date=2026-01-01/manifest.json",
        "history/_imgframe/days/snapshot_date=2026-01-02/manifest.json",
    ]
    remote_diff = ok("diff", "--store", store).stdout
    assert remote_diff == ok("diff", "--store", local).stdout
    assert remote_diff.startswith("2026-01-01 -> 2026-01-02: ")
    remote, mine = diff_store(store), diff_store(local)
    for part in ("added", "removed", "changed"):
        pd.testing.assert_frame_equal(
            getattr(remote, part).drop(columns="snapshotAt", errors="ignore"),
            getattr(mine, part).drop(columns="snapshotAt", errors="ignore"),
        )
    assert len(remote.changed) > 0

    frame = tmp_path / "frame.parquet"
    ok("export", "--from", local, "-o", frame)
    ok("report", "--from", frame, "--store", store, "-o", s3.uri("reports"))
    ok("report", "--from", frame, "--store", local, "-o", tmp_path / "reports")
    assert s3.keys("reports/") == ["reports/inventory-report.html", "reports/inventory-report.md"]
    charts = ok("charts", "--from", frame, "-o", s3.uri("charts")).stdout.splitlines()
    assert charts == [s3.uri(f"charts/images_by_{n}.png") for n in CHARTS]
    assert s3.keys("charts/") == sorted(c.removeprefix(f"s3://{s3.bucket}/") for c in charts)
    assert all(s3.get(f"charts/images_by_{n}.png").startswith(b"\x89PNG") for n in CHARTS)
    markdown = s3.get("reports/inventory-report.md").decode()
    mine = (tmp_path / "reports/inventory-report.md").read_text()
    assert "the snapshot of 2026-01-01 with the snapshot of 2026-01-02" in markdown
    assert markdown.replace(store, "STORE") == mine.replace(str(local), "STORE")

    summary = ["summary", "--by", "osType", "--format", "json"]
    latest = ok(*summary, "--from", store).stdout
    assert latest == ok(*summary, "--from", local).stdout
    first = ok(*summary, "--from", f"{store}@2026-01-01").stdout
    assert first == ok(*summary, "--from", f"{local}@2026-01-01").stdout
    assert first != latest
    ok("export", "--from", f"{store}@2026-01-01", "-o", s3.uri("day1.parquet"))
    from_file = ok(*summary, "--from", s3.uri("day1.parquet")).stdout
    assert from_file == first
    missing = failure(1, *summary, "--from", f"{store}@2025-12-31")
    assert missing == (
        f"the snapshot store {store} has no snapshot of 2025-12-31 (2 days, the latest: "
        "2026-01-01, 2026-01-02)"
    )
    nothing = clean(run("diff", "--store", s3.uri("nothing-here")))
    assert nothing.exit_code == 2  # a usage error, as for a local directory that is not there
    assert nothing.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--store': no snapshot store at "
        "s3://imgframe-test/nothing-here: no object under that prefix"
    )


def test_writers_of_one_bucket_store_take_turns_and_lose_no_day(s3: S3) -> None:
    store = s3.uri("store")
    days = [f"2026-02-0{i}" for i in range(1, 7)]
    with ThreadPoolExecutor(len(days)) as pool:
        infos = list(
            pool.map(
                lambda d: write_snapshot(small_frame(2), store, snapshot_date=d, lock_timeout=60),
                days,
            )
        )
    assert [i.snapshot_date.isoformat() for i in infos] == days
    assert list_snapshots(store) == [date.fromisoformat(d) for d in days]
    assert len(read_snapshots(store)) == 2 * len(days)
    assert ".imgframe.lock" not in {k.rpartition("/")[2] for k in s3.keys("store/")}


def test_a_held_lease_makes_writers_and_prune_give_up(s3: S3) -> None:
    store = s3.uri("store")
    write_snapshot(small_frame(2), store, snapshot_date="2026-01-01")
    with writer_lease(location(store), 1, date(2026, 1, 2)):
        with pytest.raises(StoreBusyError) as caught:
            write_snapshot(small_frame(2), store, snapshot_date="2026-01-02", lock_timeout=0)
        with pytest.raises(StoreBusyError):
            prune_store(store, keep=1, lock_timeout=0)
    message = str(caught.value)
    assert message.startswith(
        f"the snapshot store {store} is busy: another writer holds its lease .imgframe.lock ("
    )
    assert message.endswith(
        "; gave up without waiting (lock_timeout=0). Run again when it has finished, or wait "
        "longer (lock_timeout)"
    )
    assert list_snapshots(store) == [date(2026, 1, 1)]


# --------------------------------------------------------------------------------------------
# Failures: one line, the documented exit code, no traceback, no secret


def test_a_missing_bucket_is_one_line(s3: S3, api: sandbox.Sandbox) -> None:
    line = failure(1, "export", "-o", "s3://no-such-bucket/x.parquet")
    assert line == (
        "cannot list s3://no-such-bucket/x.parquet: NoSuchBucket: The specified bucket does "
        "not exist"
    )
    store = failure(1, "snapshot", "--store", "s3://no-such-bucket/store")
    assert "NoSuchBucket" in store


def test_denied_and_wrong_credentials_are_one_line_without_the_secret(
    s3: S3, api: sandbox.Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.client.create_bucket(Bucket="someone-elses")
    _, secret = s3.enforce_auth(monkeypatch)
    ok("export", "-o", s3.uri("allowed.csv"))  # the user may write its own bucket
    denied = failure(1, "export", "-o", "s3://someone-elses/x.csv", secrets=(secret,))
    assert denied == (
        "cannot read s3://someone-elses/x.csv: HEAD failed, HTTP 403 Forbidden (the credentials "
        "are wrong or not allowed here)"
    )
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + secret)
    wrong = failure(1, "export", "-o", s3.uri("x.csv"), secrets=(secret, "wrong-" + secret))
    assert wrong == denied.replace("s3://someone-elses/x.csv", s3.uri("x.csv"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOBODY0000000000")
    unknown = failure(1, "diff", "--store", s3.uri("store"), secrets=(secret,))
    assert unknown == (
        f"cannot list {s3.uri('store')}: InvalidAccessKeyId: The AWS Access Key Id you provided "
        "does not exist in our records."
    )
    assert s3.keys() == ["allowed.csv"]


def test_no_credentials_anywhere_says_where_to_put_them(
    s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key in the environment, no profile files: the metadata service is asked last (here
    a local one that refuses, as a machine outside a cloud does) and the line says so."""
    asked: list[str] = []

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            asked.append(f"{self.command} {self.path}")
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_PROFILE"):  # fmt: skip
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws
        monkeypatch.setenv("AWS_METADATA_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        line = failure(1, "diff", "--store", s3.uri("store"))
    finally:
        server.shutdown()
        server.server_close()
    assert line == (
        f"cannot list {s3.uri('store')}: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (the instance metadata service, the last place "
        "looked, answered HTTP 403 Forbidden)"
    )
    assert asked[0] == "PUT /latest/api/token"


def big_frame(rows: int = 20_000) -> pd.DataFrame:
    """A frame whose Parquet file is well over the proxy's cut."""
    frame = small_frame(rows)
    frame["imageName"] = [f"image-{i}-" + hashlib.sha256(str(i).encode()).hexdigest() for i in
                          range(rows)]  # fmt: skip
    return frame


def test_a_connection_dropped_mid_upload_keeps_the_previous_object(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = write_export(small_frame(3), s3.uri("x.parquet"))
    previous = s3.get("x.parquet")
    proxy = CutProxy(int(s3.endpoint.rsplit(":", 1)[1]), cut_after=256 * 1024)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    try:
        with pytest.raises(ExportError) as caught:
            write_export(big_frame(), s3.uri("x.parquet"), mode="overwrite")
    finally:
        proxy.close()
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    assert proxy.cuts > 0
    message = str(caught.value)
    assert message.startswith(f"cannot write {s3.uri('x.parquet')}: ")
    assert "\n" not in message
    assert SECRET_ACCESS_KEY not in message
    assert s3.keys() == ["x.parquet"]
    assert s3.get("x.parquet") == previous
    assert before.rows == len(read_export(s3.uri("x.parquet"))) == 3
    uploads = s3.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert uploads == []  # aborted, not left behind


def test_a_day_whose_upload_dropped_stays_invisible(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = s3.uri("store")
    write_snapshot(small_frame(5), store, snapshot_date="2026-01-01")
    day_one = read_snapshots(store)
    proxy = CutProxy(int(s3.endpoint.rsplit(":", 1)[1]), cut_after=256 * 1024)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    try:
        with pytest.raises(ExportError) as caught:
            write_snapshot(big_frame(), store, snapshot_date="2026-01-02")
    finally:
        proxy.close()
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    assert proxy.cuts > 0
    assert str(caught.value).startswith(
        f"cannot write {store}/snapshot_date=2026-01-02/zoneId=asia-east-1a/part-"
    )
    assert str(caught.value).endswith(", after 10 retries, HTTP error: error sending request")
    # Files a killed writer left behind, without their day's commit, are not part of it.
    s3.put("store/snapshot_date=2026-01-03/zoneId=asia-east-1a/part-x.parquet", previous_day(s3))
    assert list_snapshots(store) == [date(2026, 1, 1)]
    pd.testing.assert_frame_equal(read_snapshots(store), day_one)
    write_snapshot(small_frame(2), store, snapshot_date="2026-01-02")  # the next run works
    assert list_snapshots(store) == [date(2026, 1, 1), date(2026, 1, 2)]
    assert len(read_snapshots(store)) == 7


def previous_day(s3: S3) -> bytes:
    key = next(k for k in s3.keys("store/snapshot_date=2026-01-01/") if k.endswith(".parquet"))
    return s3.get(key)


def test_a_missing_extra_names_it(tmp_path: Path) -> None:
    write_export(small_frame(2), tmp_path / "x.parquet")
    code = (
        "import sys; sys.modules['obstore'] = None\n"
        "from imgframe.cli import main\n"
        f"sys.argv = ['imgframe', 'export', '--from', {str(tmp_path / 'x.parquet')!r}, "
        "'-o', 's3://bucket/x.csv']\n"
        "main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "imgframe: error: s3:// paths need the optional 's3' extra: pip install 'imgframe[s3]'\n"
    )
    assert imgframe.__version__
