"""A 1M-row Parquet export to an S3 server against the same export to local disk.

    python benchmarks/cases_s3.py [--quick]

The frame is the sandbox catalog's pages through ``normalize_pages`` (as in
``cases_codecs.py``: 1,000,000 images, 100,000 with ``--quick``). The server is moto's
``moto_server`` in its own process on 127.0.0.1 (so it does not share the GIL with the
writer), reached through ``AWS_ENDPOINT_URL`` as a user would reach MinIO; the export is
:func:`imgframe.write_export` of ``s3://bench/images.parquet``, streamed as a multipart
upload (10 MiB parts, 8 in flight). Local disk is the same call on a path in a temporary
directory (written beside the target, fsynced, renamed). Rounds interleave the two.

moto keeps every object in its process's memory and parses each part in Python: a real S3
or MinIO is the network's speed instead. The number is reported, not held to a target.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from cases_codecs import build_frame
from harness import CaseResult, Target, interleaved, log, md_table, seconds

import imgframe

BUCKET = "bench"


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """``moto_server`` on a free port of 127.0.0.1, in its own process; its endpoint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    executable = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def run(quick: bool) -> CaseResult:
    images = 100_000 if quick else 1_000_000
    rounds = 3
    frame = build_frame(images)
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="AKIABENCH00000000000",
            AWS_SECRET_ACCESS_KEY="bench-secret-0000000000000000",
            AWS_REGION="us-east-1",
        )
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=BUCKET
        )
        local, remote = Path(tmp) / "images.parquet", f"s3://{BUCKET}/images.parquet"
        log(f"s3: {rounds} interleaved rounds of a {images:,}-row Parquet export")
        timings = interleaved(
            {
                "local disk": lambda: imgframe.write_export(frame, local, mode="overwrite"),
                "S3 (moto_server)": lambda: imgframe.write_export(frame, remote, mode="overwrite"),
            },
            rounds,
        )
        size = local.stat().st_size
        back = imgframe.read_export(remote)
        assert len(back) == images, "the object read back is not the frame"
    ratio = timings.ratio("S3 (moto_server)", "local disk")
    rows = [
        [name, seconds(timings.summary(name)), f"{size / timings.median(name) / 2**20:.0f} MiB/s"]
        for name in ("local disk", "S3 (moto_server)")
    ]
    markdown = (
        f"### Export to S3 ({images:,} rows, {size / 2**20:.0f} MiB of Parquet)\n\n"
        + md_table(["target", "time", "throughput"], rows)
        + f"\n\nS3 / local: {ratio:.2f}x"
    )
    targets = [
        Target("s3", f"{images:,}-row Parquet export to S3 (moto) vs local disk",
               f"{ratio:.2f}x ({timings.median('S3 (moto_server)'):.2f} s vs "
               f"{timings.median('local disk'):.2f} s)", None),
    ]  # fmt: skip
    results = {"images": images, "bytes": size, "timings": timings.summaries()}
    return CaseResult("s3", results, targets, markdown)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]).markdown)
