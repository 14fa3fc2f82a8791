"""Nothing lost, nothing leaked: crashes and full disks mid-export, and random API pages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgframe
from imgframe import sandbox
from imgframe.credentials import Credentials
from imgframe.errors import ExportError, NetworkError
from imgframe.export import read_export, write_export
from imgframe.frame import normalize_pages
from imgframe.parse import parse_page
from imgframe.schema import CATEGORIES, IMAGE_SOURCES, IMAGE_STATUSES, IMAGE_TYPES, OS_TYPES
from imgframe.summary import format_table, summarize
from imgframe.transport import RetryPolicy, Transport

from .frames import fixture_frame
from .helpers import IMAGE_DTYPES, client_kwargs

#: Writes a 20,000-row export over argv[1], but stops for good at the first fsync: the new
#: file is then wholly written to its temporary name and not yet renamed over the target,
#: the last moment a crash can hit. The parent kills it there, so the kill always lands
#: mid-write (not before the first byte, not after the rename), however fast the machine.
STALLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import pandas as pd
    import imgframe
    from imgframe.export import write_export
    records = [
        {"imageId": f"img-{i:08d}", "imageName": "x" * 200, "imageSize": "20",
         "tags": {"tags": [{"key": "k", "value": str(i)}]}, "nicNetworkType": ["VirtioOnly"]}
        for i in range(1000)
    ]
    df = pd.concat([imgframe.frame_from_records(records, zone_id="asia-east-1a")] * 20,
                   ignore_index=True)

    def stall(fd):
        print("written", flush=True)
        time.sleep(120)

    os.fsync = stall
    write_export(df, sys.argv[1], mode="overwrite")
    print("published", flush=True)
    """
)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_kill_9_mid_write_leaves_the_previous_export_intact(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"images{suffix}"
    write_export(fixture_frame(), target)
    before = target.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "written\n"
        (temp,) = [p for p in tmp_path.iterdir() if p.name.startswith(f".{target.name}.")]
        assert temp.stat().st_size > len(before)  # the new export, under its temporary name
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == before
    pd.testing.assert_frame_equal(read_export(target), fixture_frame())


def test_full_disk_is_a_clear_error_and_keeps_the_previous_export(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes writes fail with EFBIG past 64 kB: a disk that fills up mid-write."""
    source = tmp_path / "source.parquet"
    target = tmp_path / "images.csv"
    write_export(fixture_frame(), source)
    write_export(fixture_frame().head(2), target)
    before = target.read_bytes()
    script = textwrap.dedent(
        """
        import resource, signal, sys
        import pandas as pd
        from imgframe.export import read_export
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        df = read_export(sys.argv[1])
        big = pd.concat([df] * 400, ignore_index=True)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        from imgframe.cli import main
        sys.argv = ["imgframe", "export", "--from", sys.argv[1], "-o", sys.argv[2], "--mode", "overwrite"]
        import imgframe.export as export
        original = export.read_export
        export.read_export = lambda path, **kw: big
        main()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(source), str(target)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"imgframe: error: cannot write {target}: ")
    assert "File too large" in lines[0]
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unwritable_target_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ExportError, match=f"cannot write {blocker / 'x.parquet'}: "):
        write_export(fixture_frame(), blocker / "x.parquet")
    assert blocker.read_text() == "a file where a directory should be"


# --------------------------------------------------------------------------------------------
# Random but valid API pages always normalize to the schema.

_text = st.text(max_size=40)
_maybe = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731
_tag = st.fixed_dictionaries(
    {"key": st.text(min_size=1, max_size=64), "value": st.text(max_size=64)}
)
_image = st.fixed_dictionaries(
    {"imageId": st.text(min_size=1, max_size=30)},
    optional={
        "imageName": _maybe(_text),
        "imageType": _maybe(st.sampled_from(IMAGE_TYPES)),
        "imageSource": _maybe(st.sampled_from(IMAGE_SOURCES)),
        "imageSize": _maybe(st.one_of(st.integers(0, 10**6).map(str), _text)),
        "minDiskSize": _maybe(st.integers(0, 10**6)),
        "imageDescription": _maybe(_text),
        "imageVersion": _maybe(_text),
        "imageStatus": _maybe(st.sampled_from(IMAGE_STATUSES)),
        "nicNetworkType": _maybe(st.lists(st.sampled_from(["FailOver", "VirtioOnly", "E1000"]), max_size=3)),
        "category": _maybe(st.sampled_from(CATEGORIES)),
        "osType": _maybe(st.sampled_from(OS_TYPES)),
        "tags": _maybe(st.one_of(
            st.lists(_tag, max_size=4),
            st.fixed_dictionaries({"tags": st.lists(_tag, max_size=4)}),
        )),
    },
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages=st.lists(st.lists(_image, max_size=8), min_size=1, max_size=4), pretty=st.booleans())
def test_random_valid_pages_always_normalize(
    pages: list[list[dict[str, Any]]], pretty: bool
) -> None:
    bodies = []
    for records in pages:
        document = {
            "requestId": "R",
            "response": {"requestId": "R", "dataSet": records, "totalCount": len(records)},
        }
        bodies.append(
            json.dumps(document, indent=2 if pretty else None, ensure_ascii=False).encode()
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = normalize_pages(bodies, zone_id="z")
    assert len(df) == sum(len(r) for r in pages)
    assert {c: str(t) for c, t in df.dtypes.items()} == IMAGE_DTYPES
    assert list(df.columns) == list(IMAGE_DTYPES)
    flat = [r for records in pages for r in records]
    assert df["imageId"].tolist() == [r["imageId"] for r in flat]
    expected_tags = []
    for r in flat:
        tags = r.get("tags")
        tags = tags.get("tags") if isinstance(tags, dict) else tags
        expected_tags.append(tags or [])
    assert df["tags"].tolist() == expected_tags
    sizes = [r.get("imageSize") for r in flat]
    assert [None if pd.isna(v) else int(v) for v in df["imageSize"]] == [
        int(s)
        if isinstance(s, str)
        and s.strip().isascii()
        and s.strip().isdigit()
        and len(s.strip()) <= 18
        else None
        for s in sizes
    ]


def test_a_429_storm_is_ridden_out(
    fresh_sb: sandbox.Sandbox, debug_logs: pytest.LogCaptureFixture
) -> None:
    expected = [r["imageId"] for r in fresh_sb.catalog.images("asia-east-1a")]
    fresh_sb.start_storm(0.6)
    patient = RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.2, max_total=5.0)
    started = time.monotonic()
    df = imgframe.fetch_images("asia-east-1a", **client_kwargs(fresh_sb, retry=patient))
    elapsed = time.monotonic() - started
    assert df["imageId"].tolist() == expected
    throttled = [r for r in fresh_sb.requests if r.status == 429]
    assert len(throttled) >= 2
    retries = [r for r in debug_logs.records if r.getMessage().startswith("retrying Describe")]
    assert len(retries) == len(throttled)
    assert "HTTP 429 REQUEST_LIMIT_EXCEEDED" in retries[0].getMessage()
    assert elapsed < 0.6 + 5.0  # the storm, plus at most the retry budget


def test_https_to_a_plain_http_server_fails_once_and_clearly(fresh_sb: sandbox.Sandbox) -> None:
    client = Transport(Credentials("ak", "sk"), f"https://127.0.0.1:{fresh_sb.port}")
    with client, pytest.raises(NetworkError, match="DescribeImages: TLS failed") as info:
        client.call("DescribeImages", {"zoneId": "asia-east-1a"}, parse=parse_page)
    assert info.value.attempts == 1


def test_terminal_tables_hold_no_control_sequences() -> None:
    df = fixture_frame()
    text = format_table(summarize(df, by=["imageName"]), "table")
    assert not any(ord(c) < 32 and c != "\n" for c in text)
    assert "\u202e" not in text
    assert "\x1b" not in text
