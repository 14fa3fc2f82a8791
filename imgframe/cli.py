"""The ``imgframe`` command: a thin layer over the library's public functions.

Every command builds the same objects a notebook would and calls their public functions
(``fetch_images``, ``write_export``, ``summarize``, ``summary_charts``, ``build_report``,
``write_snapshot``, ``diff_store``); a command body is a few lines. Errors are turned into one
line on stderr in one place (:class:`_Group`): exit code 1 for API and data errors, 2 for
usage errors (click's own and :class:`~imgframe.errors.InvalidArgument`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import pandas as pd

from . import __version__
from .errors import ImgframeError, InvalidArgument
from .schema import CATEGORIES, IMAGE_SOURCES, IMAGE_STATUSES, IMAGE_TYPES, OS_TYPES

log = logging.getLogger("imgframe.cli")

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")
EXPORT_FORMATS = ("parquet", "csv", "csv.gz", "jsonl")


# --------------------------------------------------------------------------------------------
# Settings, logging, the error boundary


@dataclass
class Settings:
    """Global options, and the client (or in-process sandbox) built from them on first use."""

    sandbox: bool = False
    sandbox_images: int = 2000
    sandbox_seed: int = 7
    profile: str | None = None
    endpoint: str | None = None
    quiet: bool = False
    log_level: str = "warning"
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _client: Any = None
    secrets: list[str] = field(default_factory=list)

    def client(self) -> Any:
        from .fetch import Client

        if self._client is None:
            if self.sandbox:
                from . import sandbox

                server = self._stack.enter_context(
                    sandbox.running(images=self.sandbox_images, seed=self.sandbox_seed)
                )
                self._client = self._stack.enter_context(Client.for_sandbox(server))
            else:
                self._client = self._stack.enter_context(
                    Client(endpoint=self.endpoint, profile=self.profile)
                )
            self.secrets.extend(self._client.api.credentials.secrets())
        return self._client


class _RedactSecrets(logging.Filter):
    """Last line of defence: no log record leaves with a known secret in it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        if self.settings.secrets:
            message = record.getMessage()
            for secret in self.settings.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


def _setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactSecrets(settings))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_imgframe", False)]:
        root.removeHandler(old)
    handler._imgframe = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    level = getattr(logging, settings.log_level.upper())
    root.setLevel(level)
    logging.getLogger("imgframe").setLevel(level)
    logging.captureWarnings(True)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"imgframe: error: {_one_line(message)}", err=True)
    sys.exit(code)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Group(click.Group):
    """The one place where errors become a clean line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidArgument as exc:
            if _debug(ctx):
                log.debug("traceback", exc_info=True)
            _fail(str(exc), 2)
        except ImgframeError as exc:
            if _debug(ctx):
                log.debug("traceback", exc_info=True)
            _fail(str(exc), 1)
        except OSError as exc:
            if _debug(ctx):
                log.debug("traceback", exc_info=True)
            _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
        finally:
            settings = ctx.obj
            if isinstance(settings, Settings):
                settings._stack.close()


def _debug(ctx: click.Context) -> bool:
    return isinstance(ctx.obj, Settings) and ctx.obj.log_level == "debug"


# --------------------------------------------------------------------------------------------
# Shared options


def _split_list(values: Sequence[str]) -> list[str]:
    """Repeatable options that also take comma-separated values: -x a,b -x c -> [a, b, c]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _parse_tags(values: Sequence[str]) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="'--tag'")
        tags[key] = item
    return tags or None


def fetch_options(command: F) -> F:
    """The DescribeImages filters (the official CLI's flag names) and ``--from``."""
    options = [
        click.option(
            "--from",
            "source",
            type=click.Path(exists=True, path_type=Path),
            help="Read images from an earlier export (Parquet file or dataset, CSV, JSONL) "
            "instead of the API.",
        ),
        click.option(
            "--zone-id",
            "zone_ids",
            multiple=True,
            metavar="ZONE",
            help="Zone to list (repeatable, or comma-separated). Default: every zone.",
        ),
        click.option("--all-zones", is_flag=True, help="List every zone (the default)."),
        click.option(
            "--image-ids", multiple=True, metavar="IDS", help="Image ids, comma-separated."
        ),
        click.option("--image-name", help="Fuzzy, case-insensitive name match."),
        click.option("--category", type=click.Choice(CATEGORIES)),
        click.option("--image-type", type=click.Choice(IMAGE_TYPES)),
        click.option("--image-source", type=click.Choice(IMAGE_SOURCES)),
        click.option("--os-type", type=click.Choice(OS_TYPES)),
        click.option("--image-status", type=click.Choice(IMAGE_STATUSES)),
        click.option(
            "--tag-keys", multiple=True, metavar="KEYS", help="Tag keys, comma-separated."
        ),
        click.option(
            "--tag",
            "tag_pairs",
            multiple=True,
            metavar="KEY=VALUE",
            help="Tag filter (repeatable).",
        ),
        click.option("--page-size", type=click.IntRange(1, 1000), default=1000, show_default=True),
        click.option("--max-concurrency", type=click.IntRange(1, 64), default=4, show_default=True),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _load_images(settings: Settings, params: dict[str, Any]) -> pd.DataFrame:
    """The frame a data command works on: from ``--from`` or from the API."""
    source: Path | None = params.pop("source")
    zone_ids = _split_list(params.pop("zone_ids"))
    all_zones = params.pop("all_zones")
    if source is not None:
        from .export import read_export

        return read_export(source)
    if all_zones and zone_ids:
        raise click.UsageError("--zone-id and --all-zones cannot be used together")
    client = settings.client()
    client.max_concurrency = params.pop("max_concurrency")
    return client.fetch_images(  # type: ignore[no-any-return]
        zone_ids or "all",
        image_ids=_split_list(params.pop("image_ids")) or None,
        image_name=params.pop("image_name"),
        category=params.pop("category"),
        image_type=params.pop("image_type"),
        image_source=params.pop("image_source"),
        os_type=params.pop("os_type"),
        image_status=params.pop("image_status"),
        tag_keys=_split_list(params.pop("tag_keys")) or None,
        tags=_parse_tags(params.pop("tag_pairs")),
        page_size=params.pop("page_size"),
        progress=False if settings.quiet else None,
    )


def _split_fetch_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = (
        "source",
        "zone_ids",
        "all_zones",
        "image_ids",
        "image_name",
        "category",
        "image_type",
        "image_source",
        "os_type",
        "image_status",
        "tag_keys",
        "tag_pairs",
        "page_size",
        "max_concurrency",
    )
    return {name: kwargs.pop(name) for name in names}


def _info(settings: Settings, message: str) -> None:
    if not settings.quiet:
        click.echo(message, err=True)


# --------------------------------------------------------------------------------------------
# The commands


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="imgframe")
@click.option("--sandbox", is_flag=True, help="Run against an in-process sandbox with demo data.")
@click.option(
    "--sandbox-images",
    type=click.IntRange(1, 5_000_000),
    default=2000,
    show_default=True,
    help="Catalog size for --sandbox.",
)
@click.option(
    "--sandbox-seed", type=int, default=7, show_default=True, help="Catalog seed for --sandbox."
)
@click.option(
    "--profile", envvar="ZENLAYER_PROFILE", help="Profile in ~/.zenlayer/credentials.json."
)
@click.option(
    "--endpoint",
    envvar="ZENLAYER_ENDPOINT",
    help="API base URL (default https://console.zenlayer.com).",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="warning", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary lines.")
@click.pass_context
def cli(
    ctx: click.Context,
    sandbox: bool,
    sandbox_images: int,
    sandbox_seed: int,
    profile: str | None,
    endpoint: str | None,
    log_level: str,
    quiet: bool,
) -> None:
    """Zenlayer Cloud image inventory as data: exports, summaries, charts and reports.

    \b
    Examples:
      imgframe --sandbox report -o reports/
      imgframe export --zone-id asia-east-1a -o 'images-{date}.parquet'
      imgframe summary --by category,osType
    """
    settings = Settings(
        sandbox=sandbox,
        sandbox_images=sandbox_images,
        sandbox_seed=sandbox_seed,
        profile=profile,
        endpoint=endpoint,
        quiet=quiet,
        log_level=log_level,
    )
    ctx.obj = settings
    _setup_logging(settings)


pass_settings = click.make_pass_decorator(Settings)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "markdown"]),
    default="table",
    show_default=True,
)
@pass_settings
def zones(settings: Settings, fmt: str) -> None:
    """List the zones (DescribeZones).

    \b
    Example:
      imgframe --sandbox zones --format markdown
    """
    from .summary import format_table

    frame = settings.client().fetch_zones()
    columns = ["zoneId", "regionId", "zoneName", "cityName", "countryCode", "timeZone"]
    click.echo(format_table(frame[columns], fmt))


@cli.command()
@fetch_options
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Output file (repeatable); may hold {date}, {time}, {zone}.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="Format, when the suffix does not say.",
)
@click.option(
    "--tags",
    "tags_mode",
    type=click.Choice(["list", "long", "wide"]),
    default="list",
    show_default=True,
    help="How tags are written to flat formats.",
)
@click.option(
    "--partition-by",
    multiple=True,
    metavar="COLUMN",
    help="Write a hive-partitioned Parquet dataset by these columns.",
)
@click.option(
    "--mode",
    type=click.Choice(["error", "overwrite", "append"]),
    default="error",
    show_default=True,
    help="What to do when a target exists.",
)
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    help="Also write a JSON manifest of the files written.",
)
@click.option(
    "--no-neutralize-formulas",
    is_flag=True,
    help="Write CSV cells starting with = + - @ as they are.",
)
@pass_settings
def export(settings: Settings, /, **kwargs: Any) -> None:
    """Fetch once and write every output (Parquet, CSV, CSV.gz, JSONL).

    \b
    Examples:
      imgframe export --all-zones -o 'exports/images-{date}.parquet' -o exports/latest.csv
      imgframe export --zone-id asia-east-1a --os-type linux -o linux.csv --tags wide
      imgframe export --partition-by zoneId -o exports/dataset.parquet --mode overwrite
    """
    from .export import expand_placeholders, write_export, write_manifest

    started = time.monotonic()
    frame = _load_images(settings, _split_fetch_params(kwargs))
    now = datetime.now(UTC)
    zones = [str(z) for z in frame["zoneId"].cat.categories] if len(frame) else []
    partition_by = _split_list(kwargs["partition_by"]) or None
    written = []
    for output in kwargs["outputs"]:
        path = expand_placeholders(output, now=now, zones=zones)
        written.append(
            write_export(
                frame,
                path,
                format=kwargs["fmt"],
                tags=kwargs["tags_mode"],
                partition_by=partition_by,
                mode=kwargs["mode"],
                neutralize_formulas=not kwargs["no_neutralize_formulas"],
                metadata=frame.attrs.get("imgframe"),
            )
        )
    if kwargs["manifest"] is not None:
        meta = frame.attrs.get("imgframe", {})
        write_manifest(
            kwargs["manifest"],
            written,
            schema=frame,
            request_ids=meta.get("requestIds", []),
            extra={k: v for k, v in meta.items() if k != "requestIds"},
        )
    total_bytes = sum(w.bytes for w in written)
    _info(
        settings,
        f"exported {len(frame)} rows to {len(written)} file(s), {total_bytes} bytes, "
        f"in {time.monotonic() - started:.2f}s",
    )


@cli.command()
@fetch_options
@click.option(
    "--by", default="category", show_default=True, help="Columns to group by, comma-separated."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "markdown"]),
    default="table",
    show_default=True,
)
@pass_settings
def summary(settings: Settings, /, by: str, fmt: str, **kwargs: Any) -> None:
    """Image counts (and total size) per group.

    \b
    Examples:
      imgframe --sandbox summary --by category,osType
      imgframe summary --from exports/latest.parquet --by imageStatus --format markdown
    """
    from .summary import format_table, summarize

    frame = _load_images(settings, _split_fetch_params(kwargs))
    columns = _split_list([by])
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise click.BadParameter(f"unknown column(s) {', '.join(unknown)}", param_hint="'--by'")
    click.echo(format_table(summarize(frame, by=columns), fmt))


@cli.command()
@fetch_options
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True
)
@pass_settings
def charts(settings: Settings, /, output_dir: Path, fmt: str, **kwargs: Any) -> None:
    """Bar charts of image counts by category, osType, imageStatus (and zone).

    \b
    Example:
      imgframe --sandbox charts -o charts/ --format svg
    """
    from .charts import save_charts, summary_charts

    frame = _load_images(settings, _split_fetch_params(kwargs))
    paths = save_charts(summary_charts(frame), output_dir, format=fmt)
    for path in paths:
        click.echo(str(path))


@cli.command()
@fetch_options
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
)
@click.option(
    "--require-tag",
    "require_tags",
    multiple=True,
    metavar="KEY",
    help="Report images missing this tag key (repeatable).",
)
@click.option(
    "--max-rows",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Cap on the image list.",
)
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    help="Snapshot store: adds changes since the previous snapshot and a trend chart.",
)
@pass_settings
def report(
    settings: Settings,
    /,
    output_dir: Path,
    require_tags: tuple[str, ...],
    max_rows: int,
    store: Path | None,
    **kwargs: Any,
) -> None:
    """Write the inventory report: one self-contained HTML file plus Markdown.

    \b
    Examples:
      imgframe --sandbox report -o reports/
      imgframe report --require-tag owner --require-tag env --store snapshots/
    """
    from .report import build_report

    frame = _load_images(settings, _split_fetch_params(kwargs))
    changes = trend = None
    if store is not None:
        from .history import diff_store, list_snapshots, status_trend

        if len(list_snapshots(store)) >= 2:
            changes = diff_store(store).as_dict()
        trend = status_trend(store)
    paths = build_report(
        frame,
        output_dir,
        require_tags=_split_list(require_tags),
        max_rows=max_rows,
        changes=changes,
        trend=trend,
    )
    click.echo(str(paths.html))
    click.echo(str(paths.markdown))


@cli.command()
@fetch_options
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Snapshot store directory.",
)
@click.option(
    "--date",
    "snapshot_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Snapshot date (default: today, UTC).",
)
@pass_settings
def snapshot(
    settings: Settings, /, store: Path, snapshot_date: datetime | None, **kwargs: Any
) -> None:
    """Fetch and store today's snapshot (re-running the same day replaces it).

    \b
    Example (daily, from cron):
      imgframe snapshot --store /data/imgframe/snapshots
    """
    from .history import write_snapshot

    frame = _load_images(settings, _split_fetch_params(kwargs))
    info = write_snapshot(
        frame, store, snapshot_date=snapshot_date.date() if snapshot_date else None
    )
    _info(
        settings,
        f"snapshot {info.snapshot_date.isoformat()}: {info.rows} images in "
        f"{len(info.zones)} zone(s) -> {info.path}",
    )


@cli.command()
@click.option(
    "--store", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True
)
@click.option(
    "--from",
    "from_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Older snapshot (default: the one before --to).",
)
@click.option(
    "--to",
    "to_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Newer snapshot (default: the latest).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Also write the changes (.csv, .parquet, .jsonl).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "markdown"]),
    default="table",
    show_default=True,
)
@pass_settings
def diff(
    settings: Settings,
    store: Path,
    from_date: datetime | None,
    to_date: datetime | None,
    output: Path | None,
    fmt: str,
) -> None:
    """What changed between two snapshots: images added, removed and changed.

    \b
    Example:
      imgframe diff --store snapshots/ --from 2026-11-20 --to 2026-11-27
    """
    from .history import diff_store
    from .summary import format_table

    result = diff_store(
        store,
        from_date=from_date.date() if from_date else None,
        to_date=to_date.date() if to_date else None,
    )
    click.echo(format_table(pd.DataFrame([result.summary()]), fmt))
    if not result.changed.empty:
        click.echo("")
        click.echo(format_table(result.changed, fmt))
    if output is not None:
        from .export import write_export

        write_export(result.long_frame(), output, mode="overwrite")
        _info(settings, f"wrote {output}")


@cli.command(name="sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--images", type=click.IntRange(1, 5_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--day",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Evolve the catalog this many days.",
)
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option(
    "--rate-limit-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests answered 429.",
)
@click.option(
    "--error-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of requests answered 5xx."
)
def sandbox_command(
    host: str,
    port: int,
    images: int,
    seed: int,
    day: int,
    latency_ms: float,
    rate_limit_rate: float,
    error_rate: float,
) -> None:
    """Run the sandbox API server until Ctrl-C.

    \b
    Example:
      imgframe sandbox --port 8765 --images 100000 --latency-ms 50
    """
    from . import sandbox

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise click.BadParameter("the sandbox only listens on loopback", param_hint="'--host'")
    faults = sandbox.Faults(
        latency_ms=latency_ms, rate_limit_rate=rate_limit_rate, error_rate=error_rate
    )
    server = sandbox.Sandbox(images=images, seed=seed, day=day, faults=faults, host=host, port=port)
    server.start()
    click.echo(f"sandbox listening on {server.endpoint} ({images} images, seed {seed}, day {day})")
    click.echo(f"  export ZENLAYER_ENDPOINT={server.endpoint}")
    click.echo(f"  export ZENLAYER_ACCESS_KEY_ID={server.access_key_id}")
    click.echo(f"  export ZENLAYER_ACCESS_KEY_SECRET={server.access_key_secret}")
    click.echo("Press Ctrl-C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="imgframe")


__all__ = ["cli", "main"]
