"""The command for unattended runs: consistent options, loud empty and incomplete results,
refusals before fetching, signals and pipes, exit codes, metrics, quiet success."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgframe import sandbox
from imgframe.export import read_export, write_export
from imgframe.frame import frame_from_records

from .cli_helpers import error_line, run, use_sandbox
from .hostile import Delivery, HostileServer, When, images, zone

ZONE = "asia-east-1a"
COMMAND = [sys.executable, "-c", "from imgframe.cli import main; main()"]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, fresh_sb: sandbox.Sandbox) -> sandbox.Sandbox:
    use_sandbox(monkeypatch, fresh_sb)
    return fresh_sb


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    with HostileServer(zones=[zone(ZONE)], images={ZONE: images(45)}) as srv:
        monkeypatch.setenv("ZENLAYER_ENDPOINT", srv.endpoint)
        monkeypatch.setenv("ZENLAYER_ACCESS_KEY_ID", "AKIDHOSTILE")
        monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", "hostile-secret")
        yield srv


def image_requests(server: sandbox.Sandbox) -> list[dict[str, object]]:
    return [r.body or {} for r in server.requests if r.action == "DescribeImages"]


# --------------------------------------------------------------------------------------------
# Options that mean what they say


@pytest.mark.parametrize(
    "args",
    [
        ["--tag", "env=prod,team=ml"],
        ["--tag", "env=prod", "--tag", "team=ml"],
        ["--tag", " env = prod , team=ml "],
    ],
    ids=["comma", "repeated", "spaces"],
)
def test_tag_takes_commas_like_the_other_list_options(
    api: sandbox.Sandbox, args: list[str]
) -> None:
    result = run("summary", "--zone-id", ZONE, *args)
    assert result.exit_code == 0, result.output
    tags = [{"key": "env", "value": "prod"}, {"key": "team", "value": "ml"}]
    assert [b["tags"] for b in image_requests(api)] == [tags]


def test_each_csv_output_gets_its_own_tag_layout(api: sandbox.Sandbox, tmp_path: Path) -> None:
    long, wide = tmp_path / "long.csv", tmp_path / "wide.csv"
    result = run("export", "--zone-id", ZONE, "-o", long, "--tags", "long", "-o", wide,
                 "--tags", "wide")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tagKey" in read_export(long).columns
    assert [c for c in read_export(wide).columns if c.startswith("tag")] == [
        "tag:app", "tag:backup", "tag:cost-center", "tag:env", "tag:owner", "tag:team",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Empty and incomplete results are never silent


def test_an_empty_result_is_said_with_its_filters(api: sandbox.Sandbox, tmp_path: Path) -> None:
    result = run("export", "--zone-id", ZONE, "--image-name", "nothing-like-this", "-o",
                 tmp_path / "x.csv")  # fmt: skip
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        f"imgframe: no images matched in {ZONE} with imageName=nothing-like-this"
    )


def test_fail_on_empty_exits_4_and_writes_nothing(api: sandbox.Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    result = run("export", "--zone-id", ZONE, "--os-type", "android", "--fail-on-empty", "-o",
                 target)  # fmt: skip
    assert result.exit_code == 4
    assert error_line(result) == (
        f"no images matched in {ZONE} with osType=android; nothing was written (--fail-on-empty)"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_incomplete_result_is_exit_3_unless_allowed(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.paging(max_items=10)
    target, manifest = tmp_path / "x.parquet", tmp_path / "manifest.json"
    refused = run("export", "--zone-id", ZONE, "--page-size", "20", "-o", target)
    assert refused.exit_code == 3
    assert error_line(refused).startswith(
        f"the result is incomplete: zone {ZONE}: 10 of the 45 images its pages announced "
        "(page 1 held 10 of 20)"
    )
    assert list(tmp_path.iterdir()) == []
    kept = run("export", "--zone-id", ZONE, "--page-size", "20", "--allow-incomplete", "-o",
               target, "--manifest", manifest)  # fmt: skip
    assert kept.exit_code == 0, kept.output
    assert len(read_export(target)) == 10
    document = json.loads(manifest.read_text())
    assert (document["complete"], document["rows"], document["totalCounts"]) == (
        False, {ZONE: 10}, {ZONE: 45},
    )  # fmt: skip
    assert document["incomplete"] == {ZONE: {"missing": 35, "reason": "page 1 held 10 of 20"}}


# --------------------------------------------------------------------------------------------
# Refused before fetching


def test_overwriting_a_directory_imgframe_did_not_write_is_refused_before_fetching(
    api: sandbox.Sandbox, tmp_path: Path
) -> None:
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"not yours to delete")
    result = run("export", "--partition-by", "zoneId", "--mode", "overwrite", "-o", mine)
    assert result.exit_code == 1
    assert error_line(result).startswith(f"refusing to replace {mine}: it is a directory that")
    assert (mine / "holiday.jpg").read_bytes() == b"not yours to delete"
    assert api.requests == []
    # A dataset imgframe wrote is replaced as asked.
    ours = tmp_path / "dataset"
    assert run("export", "--partition-by", "zoneId", "-o", ours).exit_code == 0
    assert (
        run("export", "--partition-by", "zoneId", "--mode", "overwrite", "-o", ours).exit_code == 0
    )


# --------------------------------------------------------------------------------------------
# Signals, pipes and leftovers


def _started(proc: subprocess.Popen[str], srv: HostileServer) -> None:
    srv.wait_for(1, timeout=20)  # the process is in its fetch


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_exits_with_its_code_and_leaves_nothing(
    hostile: HostileServer, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    hostile.deliver(Delivery(body_byte_delay=0.05, body_step=64), when=When("DescribeImages"))
    target = tmp_path / "x.csv"
    write_export(frame_from_records([{"imageId": "old"}], zone_id=ZONE), target)
    before = target.read_bytes()
    proc = subprocess.Popen(
        [*COMMAND, "export", "--zone-id", ZONE, "--mode", "overwrite", "-o", str(target)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    _started(proc, hostile)
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    word = "terminated" if sig == signal.SIGTERM else "interrupted"
    assert err == f"imgframe: error: {word}; nothing half-written was left behind\n"
    assert out == ""
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


@pytest.mark.parametrize("args", [["zones"], ["summary", "--by", "imageId"]])
def test_a_closed_pipe_ends_the_run_quietly_with_141(args: list[str]) -> None:
    # What `imgframe ... | head` meets once head has gone: a pipe nobody reads.
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([*COMMAND, "--sandbox", *args], stdout=write,
                                stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, "")


def test_a_killed_runs_temporary_file_is_removed_by_the_next_run(
    api: sandbox.Sandbox, tmp_path: Path
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".x.csv.{int(dead.stdout)}-abc123.tmp"
    stale.write_bytes(b"half an export")
    foreign = tmp_path / ".x.csv.notours.tmp"
    foreign.write_bytes(b"someone else's")
    assert run("export", "--zone-id", ZONE, "-o", tmp_path / "x.csv").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [foreign.name, "x.csv"]


# --------------------------------------------------------------------------------------------
# Signals an operator can act on


def test_metrics_file_after_success_and_after_failure(
    hostile: HostileServer, tmp_path: Path
) -> None:
    metrics = tmp_path / "imgframe.prom"
    ok = run("export", "--zone-id", ZONE, "--page-size", "20", "-o", tmp_path / "x.csv",
             "--metrics-file", metrics)  # fmt: skip
    assert ok.exit_code == 0, ok.output
    text = metrics.read_text()
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert samples['imgframe_last_run_exit_code{command="export"}'] == "0"
    assert samples[f'imgframe_images{{command="export",zone="{ZONE}"}}'] == "45"
    assert samples[f'imgframe_images_announced{{command="export",zone="{ZONE}"}}'] == "45"
    assert samples['imgframe_requests{command="export",action="DescribeImages"}'] == "3"
    assert samples['imgframe_requests{command="export",action="DescribeZones"}'] == "1"
    assert samples['imgframe_result_complete{command="export"}'] == "1"
    assert samples['imgframe_bytes_written{command="export"}'] == str(
        (tmp_path / "x.csv").stat().st_size
    )
    success = samples['imgframe_last_success_timestamp_seconds{command="export"}']
    assert "# TYPE imgframe_images gauge" in text
    assert "# HELP imgframe_last_success_timestamp_seconds " in text

    hostile.error(500, "INTERNAL_SERVER_ERROR", "down", when=When("DescribeImages"))
    failed = run("export", "--zone-id", ZONE, "--mode", "overwrite", "-o", tmp_path / "x.csv",
                 "--metrics-file", metrics)  # fmt: skip
    assert failed.exit_code == 1
    samples = dict(
        line.rsplit(" ", 1) for line in metrics.read_text().splitlines() if not line.startswith("#")
    )
    assert samples['imgframe_last_run_exit_code{command="export"}'] == "1"
    assert samples['imgframe_last_success_timestamp_seconds{command="export"}'] == success


def test_diff_exit_code_says_whether_anything_changed(api: sandbox.Sandbox, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("snapshot", "--store", store, "--date", "2026-01-01").exit_code == 0
    assert run("snapshot", "--store", store, "--date", "2026-01-02").exit_code == 0
    same = run("diff", "--store", store, "--exit-code")
    assert same.exit_code == 0
    assert same.stdout.startswith("2026-01-01 -> 2026-01-02: 0 added, 0 removed, 0 changed")
    api.set_day(2)
    assert run("snapshot", "--store", store, "--date", "2026-01-03").exit_code == 0
    changed = run("diff", "--store", store, "--exit-code")
    assert changed.exit_code == 1
    assert changed.stdout.startswith("2026-01-02 -> 2026-01-03: ")
    assert " 0 added, 0 removed, 0 changed" not in changed.stdout.splitlines()[0]
