"""The ``imgframe`` command when things go wrong: usage errors (exit 2, before any request),
API and data errors (exit 1, one line), atomic exports, secrets kept out of every output, and
the sandbox server run as a real process."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import imgframe
from imgframe import sandbox
from imgframe.cli.app import RedactingFormatter, Settings
from imgframe.export import write_export
from imgframe.sandbox.auth import authenticate
from imgframe.signing import sign, signature

from .cli_helpers import error_line, files_under, run, use_sandbox
from .frames import fixture_frame


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, fresh_sb: sandbox.Sandbox) -> sandbox.Sandbox:
    """A private sandbox, set as the CLI's endpoint and credentials through the environment."""
    use_sandbox(monkeypatch, fresh_sb)
    return fresh_sb


# --------------------------------------------------------------------------------------------
# Usage errors: exit 2, before any request


TWENTY_ONE_TAGS = [x for i in range(21) for x in ("--tag", f"k{i}=v")]
NOT_UTF8 = os.fsdecode(b"caf\xe9-\xff")  # how Python hands a non-UTF-8 argv to click
HUGE = "x" * 100_000


#: Each case: the arguments, and the start of the message (one "imgframe: error:" line for
#: InvalidArgument; otherwise a fragment of click's usage error).
USAGE_ERRORS: dict[str, tuple[list[str], str]] = {
    "page-size-0": (
        ["summary", "--page-size", "0"],
        "Invalid value for '--page-size': 0 is not in the range 1<=x<=1000.",
    ),
    "page-size-1001": (
        ["summary", "--page-size", "1001"],
        "Invalid value for '--page-size': 1001 is not in the range 1<=x<=1000.",
    ),
    "21-tags": (["summary", *TWENTY_ONE_TAGS], "imgframe: error: tags holds 21 tags; at most 20"),
    "21-tag-keys": (
        ["summary", "--tag-keys", ",".join(f"k{i}" for i in range(21))],
        "imgframe: error: tagKeys holds 21 keys; at most 20",
    ),
    "tag-without-value": (["summary", "--tag", "env"], "'--tag': 'env' is not KEY=VALUE"),
    "tag-without-key": (["summary", "--tag", "=prod"], "'--tag': '=prod' is not KEY=VALUE"),
    "tag-empty-value": (
        ["summary", "--tag", "env="],
        "Invalid value for '--tag': 'env=' is not KEY=VALUE",
    ),
    "tag-comma-in-value": (
        ["summary", "--tag", "env=prod,ml"],
        "Invalid value for '--tag': 'ml' is not KEY=VALUE (several tags: --tag a=1,b=2 or",
    ),
    "tags-per-output-count": (
        ["export", "-o", "a.csv", "-o", "b.csv", "-o", "c.csv", "--tags", "long", "--tags", "wide"],
        "imgframe: error: --tags is given 2 times for 3 CSV output(s): give it once for all",
    ),
    "by-unknown-column": (
        ["summary", "--by", "nosuchcolumn"],
        "imgframe: error: summarize: no column(s) nosuchcolumn; the frame has profile, zoneId, regionId",
    ),
    "by-list-column": (
        ["summary", "--by", "osType,tags"],
        "imgframe: error: summarize: cannot group by list column 'tags'",
    ),
    "manifest-is-an-output": (
        ["export", "-o", "x.csv", "--manifest", "x.csv"],
        "imgframe: error: the manifest x.csv is also an output",
    ),
    "metrics-is-an-output": (
        ["export", "-o", "x.csv", "--metrics-file", "x.csv"],
        "imgframe: error: the metrics file x.csv is also an output",
    ),
    "zone-placeholder-dotdot": (
        ["export", "--zone-id", "..", "-o", "out/{zone}/x.csv"],
        "imgframe: error: zone id '..' cannot fill {zone} in an output path",
    ),
    "zone-and-all-zones": (
        ["summary", "--zone-id", "asia-east-1a", "--all-zones"],
        "Error: --zone-id and --all-zones cannot be used together",
    ),
    "zone-control-character": (
        ["summary", "--zone-id", "asia\x01east"],
        "imgframe: error: zone_id 'asia\\x01east' is not a valid zone id",
    ),
    "name-not-utf8": (
        ["summary", "--image-name", NOT_UTF8],
        "imgframe: error: imageName 'caf\\udce9-\\udcff' holds control or surrogate characters",
    ),
    "name-100kB": (
        ["summary", "--image-name", HUGE],
        "imgframe: error: imageName is 100000 characters long; at most 1024",
    ),
    "name-empty": (["summary", "--image-name", ""], "imgframe: error: imageName must not be empty"),
    "category-case": (
        ["summary", "--category", "ubuntu"],
        "Invalid value for '--category': 'ubuntu' is not one of",
    ),
    "raw-formulas-without-from": (
        ["summary", "--from-raw-formulas"],
        "Error: --from-raw-formulas only applies with --from",
    ),
    "summary-format": (
        ["summary", "--format", "xml"],
        "Invalid value for '--format': 'xml' is not one of",
    ),
    "export-without-output": (["export"], "Error: Missing option '-o' / '--output'."),
    "unknown-placeholder": (
        ["export", "-o", "x-{nope}.csv"],
        "imgframe: error: unknown placeholder {nope} in 'x-{nope}.csv'",
    ),
    "unknown-suffix": (
        ["export", "-o", "x.txt"],
        "imgframe: error: cannot tell the export format of 'x.txt' from its suffix",
    ),
    "partitioned-csv": (
        ["export", "-o", "x.csv", "--partition-by", "zoneId"],
        "imgframe: error: partition_by writes Parquet datasets, not csv (x.csv)",
    ),
    "same-output-twice": (
        ["export", "-o", "x.csv", "-o", "x.csv"],
        "imgframe: error: x.csv is given twice as an output",
    ),
    "unknown-mode": (
        ["export", "-o", "x.csv", "--mode", "replace"],
        "Invalid value for '--mode': 'replace' is not one of",
    ),
    "sandbox-and-endpoint": (
        ["--sandbox", "--endpoint", "http://127.0.0.1:1", "zones"],
        "Error: --sandbox cannot be combined with --endpoint",
    ),
    "log-level": (
        ["--log-level", "trace", "zones"],
        "Invalid value for '--log-level': 'trace' is not one of",
    ),
    "snapshot-date": (
        ["snapshot", "--store", "s", "--date", "yesterday"],
        "Invalid value for '--date': 'yesterday' does not match the format '%Y-%m-%d'.",
    ),
    "sandbox-host": (
        ["sandbox", "--host", "0.0.0.0"],
        "Invalid value for '--host': the sandbox only listens on loopback",
    ),
    "unknown-command": (["nosuchcommand"], "Error: No such command 'nosuchcommand'."),
}


@pytest.mark.parametrize(("args", "message"), list(USAGE_ERRORS.values()), ids=list(USAGE_ERRORS))
def test_usage_errors_exit_2_before_any_request(
    api: sandbox.Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    if message.startswith("imgframe: error: "):
        assert error_line(result).startswith(message.removeprefix("imgframe: error: "))
    else:  # click's own usage error: usage line, hint, then the error
        assert result.stderr.startswith("Usage: imgframe"), result.stderr
        assert message in result.stderr
    assert api.requests == []
    assert list(tmp_path.iterdir()) == []


def test_from_cannot_be_combined_with_api_filters(api: sandbox.Sandbox, tmp_path: Path) -> None:
    source = write_export(fixture_frame(), tmp_path / "x.parquet").path
    result = run("summary", "--from", source, "--os-type", "linux", "--page-size", "10")
    assert result.exit_code == 2
    assert (
        "Error: --from reads an export; these options only apply to API fetches: "
        "--os-type, --page-size"
    ) in result.stderr
    assert api.requests == []


def test_unknown_by_column_is_a_usage_error(api: sandbox.Sandbox) -> None:
    result = run("summary", "--by", "category,colour")
    assert result.exit_code == 2
    assert error_line(result).startswith(
        "summarize: no column(s) colour; the frame has profile, zoneId,"
    )


def test_plain_http_endpoint_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", "not-sent-anywhere")
    result = run("--endpoint", "http://example.com", "zones")
    assert result.exit_code == 1
    assert error_line(result) == (
        "endpoint http://example.com uses plain http; only loopback hosts (the sandbox) may; "
        "use https"
    )


def test_missing_credentials_name_every_place_looked_in(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("zones")
    assert result.exit_code == 1
    assert error_line(result).startswith("no Zenlayer credentials found; looked in: arguments")


# --------------------------------------------------------------------------------------------
# API and data errors: exit 1, one line, and nothing written


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ("wrong-secret", "DescribeZones failed: AUTHFAILURE_SIGNATURE_FAILURE (HTTP 401)"),
        ("unknown-zone", "unknown zone(s) mars-north-1a; DescribeZones lists: asia-east-1a,"),
        ("challenge", "DescribeImages: HTTP 403 security challenge"),
        ("blocked", "DescribeImages: HTTP 451, the request was blocked"),
    ],
)
@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_a_failed_fetch_leaves_existing_exports_intact(
    api: sandbox.Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    message: str,
    mode: str,
) -> None:
    outputs = [tmp_path / "images.csv", tmp_path / "images.parquet", tmp_path / "dataset"]
    assert run("export", "-o", outputs[0], "-o", outputs[1]).exit_code == 0
    assert run("export", "--partition-by", "zoneId", "-o", outputs[2]).exit_code == 0
    before = files_under(tmp_path)
    args = ["export", "--mode", mode, "--page-size", "20"]
    if failure == "wrong-secret":
        monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", "wrong-secret")
    elif failure == "unknown-zone":
        args += ["--zone-id", "mars-north-1a"]
    for output in outputs:
        if failure == "challenge":
            api.inject("403-challenge", action="DescribeImages")
        elif failure == "blocked":  # a page answered 451 while the others come in
            api.inject("451", action="DescribeImages")
        dataset = ["--partition-by", "zoneId"] if output.name == "dataset" else []
        result = run(*args, *dataset, "-o", output)
        assert result.exit_code == 1, result.output
        assert error_line(result).startswith(message), result.stderr
    assert files_under(tmp_path) == before  # byte-identical, and no temporary file left


def test_corrupt_from_file_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "images.parquet"
    bad.write_bytes(b"PAR1 not really")
    result = run("summary", "--from", bad)
    assert result.exit_code == 1
    assert error_line(result).startswith(f"cannot read {bad} as Parquet:")


def test_debug_log_level_adds_the_traceback(api: sandbox.Sandbox) -> None:
    plain = run("summary", "--zone-id", "mars-north-1a")
    debug = run("--log-level", "debug", "summary", "--zone-id", "mars-north-1a")
    assert (plain.exit_code, debug.exit_code) == (1, 1)
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1] == plain.stderr.rstrip("\n")


def test_retries_are_silent_unless_debugging(api: sandbox.Sandbox) -> None:
    api.inject("429", "502-html", action="DescribeImages")
    quiet = run("summary", "--zone-id", "asia-east-1a")
    api.inject("503-empty", action="DescribeImages")
    debug = run("--log-level", "debug", "summary", "--zone-id", "asia-east-1a")
    assert (quiet.exit_code, quiet.stderr) == (0, "")
    assert debug.exit_code == 0
    assert debug.stdout == quiet.stdout
    assert (
        "DEBUG imgframe.transport: retrying DescribeImages zone asia-east-1a page 1" in debug.stderr
    )
    assert [r.fault for r in api.requests if r.fault] == ["429", "502-html", "503-empty"]


# --------------------------------------------------------------------------------------------
# Secrets


SECRET = "s3cr3t-CLI-TEST-d1e5c0ffee"
WRONG_SECRET = "wr0ng-CLI-TEST-5ecret-beef"
KEY_ID = "AKID-CLI-TEST"


def test_secrets_and_signatures_appear_in_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs: list[str] = []
    with sandbox.running(images=200, seed=3, credentials={KEY_ID: SECRET}) as server:
        use_sandbox(monkeypatch, server, key_id=KEY_ID, secret=SECRET)
        server.inject("429", "502-html", "malformed", "503-empty", action="DescribeImages")
        runs = [
            ["export", "--page-size", "25", "-o", tmp_path / "x.csv", "-o", tmp_path / "x.parquet",
             "--manifest", tmp_path / "manifest.json"],
            ["report", "-o", tmp_path / "report"],
            ["snapshot", "--store", tmp_path / "store"],
            ["summary", "--zone-id", "mars-north-1a"],
        ]  # fmt: skip
        for args in runs:
            result = run("--log-level", "debug", *args)
            outputs += [result.stdout, result.stderr]
        server.inject("451", action="DescribeImages")
        outputs += [run("--log-level", "debug", "zones").stderr]
        blocked = run("--log-level", "debug", "summary")
        outputs += [blocked.stdout, blocked.stderr]
        monkeypatch.setenv("ZENLAYER_ACCESS_KEY_SECRET", WRONG_SECRET)
        denied = run("--log-level", "debug", "export", "-o", tmp_path / "denied.csv")
        outputs += [denied.stdout, denied.stderr]
        records = server.requests
    assert blocked.exit_code == 1
    assert denied.exit_code == 1
    assert "AUTHFAILURE" in denied.stderr
    assert "retrying DescribeImages" in "".join(outputs)  # retries and errors did happen

    # Every signature the client sent, recomputed from what the server saw.
    signatures = {
        signature(
            access_key_secret=secret,
            host=r.headers["Host"],
            content_type=r.headers["Content-Type"],
            body=json.dumps(r.body, separators=(",", ":"), ensure_ascii=False).encode(),
            timestamp=r.headers["X-ZC-Timestamp"],
        )
        for r in records
        for secret in (SECRET, WRONG_SECRET)
    }
    assert len(records) > 20
    # The recomputation is right: the server accepts it for the requests it authenticated.
    accepted = [r for r in records if r.status == 200]
    for r in accepted:
        body = json.dumps(r.body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {k.lower(): v for k, v in r.headers.items()}
        headers["authorization"] = sign(
            access_key_id=KEY_ID,
            access_key_secret=SECRET,
            host=r.headers["Host"],
            content_type=r.headers["Content-Type"],
            body=body,
            timestamp=r.headers["X-ZC-Timestamp"],
        )
        assert (
            authenticate(headers, body, credentials={KEY_ID: SECRET}, tokens=(), now=r.time) is None
        )
    haystacks = [text.encode() for text in outputs] + list(files_under(tmp_path).values())
    assert len(haystacks) > len(outputs) + 5  # the exports, manifest, report and snapshot too
    for needle in (SECRET, WRONG_SECRET, *signatures):
        assert not any(needle.encode() in hay for hay in haystacks), needle


# --------------------------------------------------------------------------------------------
# The sandbox server as a real process


@pytest.fixture
def sandbox_process() -> Iterator[subprocess.Popen[str]]:
    command = [
        sys.executable, "-c", "from imgframe.cli import main; main()",
        "sandbox", "--port", "0", "--images", "120", "--seed", "5", "--day", "2", "--latency-ms", "60",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_sandbox_command_serves_until_interrupted(
    sandbox_process: subprocess.Popen[str],
) -> None:
    assert sandbox_process.stdout is not None
    first = sandbox_process.stdout.readline()
    words = first.split()
    assert words[:3] == ["sandbox", "listening", "on"], first
    endpoint = words[3]
    assert endpoint.startswith("http://127.0.0.1:")
    assert not endpoint.endswith(":0")
    assert first == f"sandbox listening on {endpoint} (120 images, seed 5, day 2)\n"
    exports = dict(
        sandbox_process.stdout.readline().strip().removeprefix("export ").split("=", 1)
        for _ in range(3)
    )
    assert exports["ZENLAYER_ENDPOINT"] == endpoint
    assert sandbox_process.stdout.readline() == "Press Ctrl-C to stop.\n"
    credentials = {
        "endpoint": endpoint,
        "access_key_id": exports["ZENLAYER_ACCESS_KEY_ID"],
        "access_key_secret": exports["ZENLAYER_ACCESS_KEY_SECRET"],
    }
    started = time.monotonic()
    zones = imgframe.fetch_zones(**credentials)
    assert time.monotonic() - started >= 0.06  # --latency-ms
    assert len(zones) == 8
    expected = sandbox.Catalog(120, 5, 2)
    assert len(imgframe.fetch_images("all", **credentials)) == len(expected)

    sandbox_process.send_signal(signal.SIGINT)
    out, err = sandbox_process.communicate(timeout=10)
    assert sandbox_process.returncode == 0
    assert (out, err) == ("", "")


def test_log_lines_are_redacted_as_a_last_resort() -> None:
    formatter = RedactingFormatter(Settings(secrets=[SECRET]))
    try:
        raise ValueError(f"boom {SECRET}")
    except ValueError:
        record = logging.LogRecord(
            "imgframe.test", logging.ERROR, __file__, 1, "sent %s", (SECRET,), sys.exc_info()
        )
    text = formatter.format(record)
    assert SECRET not in text
    assert text.startswith("ERROR imgframe.test: sent ***\nTraceback")
    assert text.endswith("ValueError: boom ***")
