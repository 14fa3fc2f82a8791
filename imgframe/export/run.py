"""An export run: one frame written to several outputs, with path templates, clobber checks
and a manifest, exactly as ``imgframe export`` does it.

A run is planned first (:func:`plan_exports`: formats chosen, arguments checked, nothing
touched), checked against the disk before any data is fetched (:meth:`ExportPlan.check`), then
written (:meth:`ExportPlan.write`). :func:`write_exports` does all three for a frame in hand.

>>> import tempfile
>>> from imgframe.frame import frame_from_records
>>> df = frame_from_records([{"imageId": "img-1"}], zone_id="z1")
>>> with tempfile.TemporaryDirectory() as tmp:
...     result = write_exports(df, [f"{tmp}/a.csv", f"{tmp}/b.parquet"])
...     [f.format for f in result.files], result.rows
(['csv', 'parquet'], 1)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..defaults import TAG_LAYOUTS, WRITE_MODES
from ..errors import ExportError, InvalidArgument
from ..storage import Location, location, same_target
from .base import WrittenFile, zones_of
from .dataset import check_replaceable
from .formats import detect_format, write_export
from .manifest import write_manifest
from .paths import expand_placeholders

__all__ = ["ExportPlan", "ExportResult", "Output", "plan_exports", "write_exports"]


@dataclass(frozen=True)
class Output:
    """One output of a run: a path (it may hold ``{date}``, ``{time}``, ``{zone}``), its
    format (``None``: from the suffix) and how tags go into it (CSV only)."""

    path: str
    format: str | None = None
    tags: str = "list"


@dataclass(frozen=True)
class ExportResult:
    """What a run wrote: the files (in the order given), the manifest if any."""

    files: list[WrittenFile]
    rows: int
    manifest: Path | str | None = None

    @property
    def bytes(self) -> int:
        """Bytes written, over every file."""
        return sum(f.bytes for f in self.files)

    def describe(self, seconds: float) -> str:
        """The one summary line of the run, e.g. ``exported 20 rows to 2 files, 4096 bytes,
        in 0.12s``."""
        files = f"{len(self.files)} file" + ("" if len(self.files) == 1 else "s")
        return f"exported {self.rows} rows to {files}, {self.bytes} bytes, in {seconds:.2f}s"


@dataclass(frozen=True)
class ExportPlan:
    """A checked export run, not yet written (see :func:`plan_exports`)."""

    outputs: tuple[Output, ...]
    formats: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    mode: str = "error"
    manifest: Location | None = None
    neutralize_formulas: bool = True
    bom: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def targets(self, zones: Sequence[str] | None) -> list[Location]:
        """The output paths (or URIs) with their placeholders filled (``zones``: the zones
        asked for, ``None`` for every zone; see :func:`~imgframe.export.expand_placeholders`)."""
        paths = [
            location(expand_placeholders(o.path, now=self.now, zones=zones)) for o in self.outputs
        ]
        for i, path in enumerate(paths):
            if any(same_target(path, other) for other in paths[:i]):
                raise InvalidArgument(f"{path} is given twice as an output")
        return paths

    def check(self, zones: Sequence[str] | None) -> list[Location]:
        """The targets, refusing whatever would be refused later, so that nothing is fetched
        or written when one output would be: (with ``mode="error"``) a target that exists, a
        directory that a dataset would replace but imgframe did not write, a file where a
        directory is, and a manifest that is also an output."""
        paths = self.targets(zones)
        manifest = self.manifest
        if manifest is not None and any(same_target(manifest, p) for p in paths):
            raise InvalidArgument(f"the manifest {self.manifest} is also an output")
        for path in paths:
            if self.mode == "error" and path.exists():
                raise ExportError(
                    f"cannot write {path}: it already exists (use --mode overwrite or append)"
                )
            if self.partition_by:
                if self.mode == "overwrite":
                    check_replaceable(path)
                if path.is_file():
                    raise ExportError(f"cannot write a dataset to {path}: it is a file")
            elif path.is_dir() and not path.is_file():
                raise ExportError(f"cannot write {path}: it is a directory")
        return paths

    def write(
        self,
        frame: pd.DataFrame,
        *,
        zones: Sequence[str] | None,
        source: str | os.PathLike[str] | None = None,
        changes: Any = None,
    ) -> ExportResult:
        """Write every output, then the manifest. ``source`` (an export the frame was read
        from) is recorded in the manifest; ``changes`` (a
        :class:`~imgframe.diff.SnapshotDiff`) goes into workbooks' Changes sheet."""
        paths = self.check(zones)
        fetch = frame.attrs.get("imgframe")
        written = [
            write_export(
                frame,
                path,
                format=fmt,
                tags=output.tags if fmt.startswith("csv") else "list",
                partition_by=self.partition_by or None,
                mode=self.mode,
                neutralize_formulas=self.neutralize_formulas,
                bom=self.bom,
                metadata=fetch,
                changes=changes,
            )
            for path, fmt, output in zip(paths, self.formats, self.outputs, strict=True)
        ]
        manifest = None
        if self.manifest is not None:
            meta = dict(fetch or {})
            if source is not None:
                meta["source"] = os.fspath(source)
            manifest = write_manifest(
                self.manifest,
                written,
                schema=frame,
                request_ids=meta.pop("requestIds", []),
                extra=meta,
            )
        return ExportResult(written, len(frame), manifest)


def plan_exports(
    outputs: Sequence[str | os.PathLike[str] | Output],
    *,
    format: str | None = None,
    tags: str | Sequence[str] = "list",
    partition_by: Sequence[str] | None = None,
    mode: str = "error",
    manifest: str | os.PathLike[str] | None = None,
    neutralize_formulas: bool = True,
    bom: bool = False,
    now: datetime | None = None,
) -> ExportPlan:
    """Check an export run without touching anything: every output's format is known (from
    :class:`Output`, ``format`` or the suffix), ``partition_by`` only with Parquet, and the
    options valid. Raises :class:`~imgframe.errors.InvalidArgument` naming the problem.

    ``format`` and ``tags`` apply to outputs given as paths; an :class:`Output` carries its
    own. ``tags`` is one layout for every CSV output, or one per CSV output, in order (the
    command line's ``-o a.csv --tags long -o b.csv --tags wide``); any other count is
    refused rather than guessed. ``now`` (default: the current time) fills ``{date}`` and
    ``{time}``.
    """
    if mode not in WRITE_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(WRITE_MODES)}, not {mode!r}")
    if not outputs:
        raise InvalidArgument("plan_exports: give at least one output")
    partition = tuple(partition_by or ())
    given = _with_layouts(outputs, format, tags, partition)
    formats = []
    for output in given:
        if output.tags not in TAG_LAYOUTS:
            raise InvalidArgument(
                f"tags must be one of {', '.join(TAG_LAYOUTS)}, not {output.tags!r}"
            )
        chosen = detect_format(location(output.path), output.format, partition or None)
        if partition and chosen != "parquet":
            raise InvalidArgument(
                f"partition_by writes Parquet datasets, not {chosen} ({output.path})"
            )
        formats.append(chosen)
    return ExportPlan(
        outputs=given,
        formats=tuple(formats),
        partition_by=partition,
        mode=mode,
        manifest=location(manifest) if manifest is not None else None,
        neutralize_formulas=neutralize_formulas,
        bom=bom,
        now=now or datetime.now(UTC),
    )


def _with_layouts(
    outputs: Sequence[str | os.PathLike[str] | Output],
    format: str | None,
    tags: str | Sequence[str],
    partition: tuple[str, ...],
) -> tuple[Output, ...]:
    """Every output as an :class:`Output`, CSV outputs given their tag layout."""
    layouts = [tags] if isinstance(tags, str) else list(tags) or ["list"]
    paths = [o for o in outputs if not isinstance(o, Output)]
    csv = [
        p for p in paths if detect_format(location(p), format, partition or None).startswith("csv")
    ]
    if len(layouts) not in (1, len(csv)):
        raise InvalidArgument(
            f"--tags is given {len(layouts)} times for {len(csv)} CSV output(s): give it once "
            "for all of them, or once per CSV output in the same order"
        )
    paired = iter(layouts * len(csv) if len(layouts) == 1 else layouts)
    return tuple(
        o
        if isinstance(o, Output)
        else Output(os.fspath(o), format, next(paired) if o in csv else "list")
        for o in outputs
    )


def write_exports(
    frame: pd.DataFrame,
    outputs: Sequence[str | os.PathLike[str] | Output],
    *,
    zones: Sequence[str] | None = None,
    format: str | None = None,
    tags: str | Sequence[str] = "list",
    partition_by: Sequence[str] | None = None,
    mode: str = "error",
    manifest: str | os.PathLike[str] | None = None,
    neutralize_formulas: bool = True,
    bom: bool = False,
    changes: Any = None,
) -> ExportResult:
    """Write ``frame`` to every output (see :func:`plan_exports` for the options); ``zones``
    fills ``{zone}`` (default: the frame's own zones); ``changes`` goes into workbooks."""
    plan = plan_exports(
        outputs,
        format=format,
        tags=tags,
        partition_by=partition_by,
        mode=mode,
        manifest=manifest,
        neutralize_formulas=neutralize_formulas,
        bom=bom,
    )
    return plan.write(frame, zones=zones_of(frame) if zones is None else zones, changes=changes)
