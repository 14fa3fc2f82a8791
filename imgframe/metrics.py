"""Run metrics as a Prometheus textfile, for node_exporter's textfile collector.

A scheduled job writes ``--metrics-file /var/lib/node_exporter/imgframe.prom`` on every run,
success or failure, atomically (the collector never reads half a file):

.. code-block:: text

    # HELP imgframe_last_run_exit_code Exit code of the last run (0 ok).
    # TYPE imgframe_last_run_exit_code gauge
    imgframe_last_run_exit_code{command="export"} 0
    imgframe_images{command="export",zone="asia-east-1a"} 120
    ...

``imgframe_last_success_timestamp_seconds`` survives failed runs (it is carried over from the
file the last successful run wrote), so an alert on its age says how long the job has been
failing. Nothing secret is ever a label or a value: zone ids, actions and the command name
only.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError
from .storage import Location, location

__all__ = ["RunMetrics", "render_metrics", "write_metrics"]

_PREFIX = "imgframe_"
_Sample = tuple[dict[str, str], float]


@dataclass
class RunMetrics:
    """What one run did: its command, exit code, the fetch's record (a frame's
    ``attrs["imgframe"]``), bytes written, and when it started (``time.time()``)."""

    command: str
    started: float = field(default_factory=time.time)
    exit_code: int = 0
    fetch: Mapping[str, Any] | None = None
    bytes_written: int = 0


def render_metrics(
    run: RunMetrics, *, now: float | None = None, last_success: float | None = None
) -> str:
    """The textfile for ``run``: ``# HELP``/``# TYPE`` before each metric, one sample a
    line. ``last_success`` is the previous success time (used when this run failed).

    >>> text = render_metrics(RunMetrics("export", started=100.0), now=101.5)
    >>> print("\\n".join(line for line in text.splitlines() if "duration" in line))
    # HELP imgframe_run_duration_seconds How long the last run took.
    # TYPE imgframe_run_duration_seconds gauge
    imgframe_run_duration_seconds{command="export"} 1.5
    """
    ended = time.time() if now is None else now
    base = {"command": run.command}
    fetch = run.fetch or {}
    success = ended if run.exit_code == 0 else last_success
    out: list[str] = []

    def metric(name: str, kind: str, help: str, samples: list[_Sample]) -> None:
        out.append(f"# HELP {_PREFIX}{name} {help}")
        out.append(f"# TYPE {_PREFIX}{name} {kind}")
        out.extend(
            f"{_PREFIX}{name}{_labels(labels)} {_number(value)}" for labels, value in samples
        )

    metric("last_run_exit_code", "gauge", "Exit code of the last run (0 ok).",
           [(base, run.exit_code)])  # fmt: skip
    metric("last_run_timestamp_seconds", "gauge", "When the last run ended (Unix time).",
           [(base, ended)])  # fmt: skip
    if success is not None:
        metric("last_success_timestamp_seconds", "gauge",
               "When the last successful run ended (Unix time).", [(base, success)])  # fmt: skip
    metric("run_duration_seconds", "gauge", "How long the last run took.",
           [(base, max(ended - run.started, 0.0))])  # fmt: skip
    if fetch:
        metric("images", "gauge", "Images fetched in the last run, per zone.",
               _per(base, "zone", fetch.get("rows")))  # fmt: skip
        metric("images_announced", "gauge", "Images the API's totalCount announced, per zone.",
               _per(base, "zone", fetch.get("totalCounts")))  # fmt: skip
        metric("result_complete", "gauge", "1 when every zone's pages held its totalCount.",
               [(base, 1.0 if fetch.get("complete", True) else 0.0)])  # fmt: skip
        metric("requests", "gauge", "API requests the last run sent, per action.",
               _per(base, "action", fetch.get("requests")))  # fmt: skip
        for name, key, help in (
            ("retries", "retries", "Requests the last run retried."),
            ("throttled", "throttled", "Answers the last run got throttled (429)."),
            ("bytes_received", "bytesReceived", "Bytes of API answers the last run read."),
        ):
            metric(name, "gauge", help, [(base, float(fetch.get(key, 0)))])
    metric("bytes_written", "gauge", "Bytes the last run wrote to its outputs.",
           [(base, float(run.bytes_written))])  # fmt: skip
    return "\n".join(out) + "\n"


def _per(base: dict[str, str], label: str, counts: Mapping[str, Any] | None) -> list[_Sample]:
    return [({**base, label: str(k)}, float(v)) for k, v in sorted((counts or {}).items())]


def write_metrics(path: str | os.PathLike[str] | Location, run: RunMetrics) -> Path | str:
    """Write ``run``'s textfile atomically (a local file, or an object put whole), keeping
    the last success time of the file it replaces when this run failed."""
    target = location(path)
    text = render_metrics(run, last_success=_last_success(target, run.command))
    with target.atomic_write() as fh:
        fh.write(text.encode("utf-8"))
    return target.public()


def _last_success(path: Location, command: str) -> float | None:
    try:
        text = path.read_bytes().decode("utf-8") if path.is_file() else ""
    except (DataError, UnicodeDecodeError):
        return None
    pattern = re.compile(
        rf'^{_PREFIX}last_success_timestamp_seconds\{{command="{re.escape(command)}"\}} (\S+)$',
        re.M,
    )
    found = pattern.search(text)
    if found is None:
        return None
    try:
        value = float(found.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escaped(v)}"' for k, v in labels.items()) + "}"


def _escaped(value: str) -> str:
    """A label value in the text format: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))
