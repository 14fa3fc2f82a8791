"""The ``imgframe`` command: a thin layer over the library's public functions.

Every command builds the same objects a notebook would and calls their public functions
(``fetch_images``, ``write_export``, ``summarize``, ``summary_charts``, ``build_report``,
``write_snapshot``, ``diff_store``); a command body is a few lines.

Conventions: data goes to stdout (tables, or the paths of the files written), logs and the
one-line summaries to stderr. Errors become one line on stderr in one place (:class:`_Group`):
exit code 1 for API and data errors, 2 for usage errors (click's own, and
:class:`~imgframe.errors.InvalidArgument`: every argument is checked before any request).
Nothing is written when the fetch fails.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from ._version import __version__
from .defaults import (
    CHART_FORMATS,
    DEFAULT_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    EXPORT_FORMATS,
    MAX_CONCURRENCY,
    TABLE_FORMATS,
    TAG_LAYOUTS,
    WRITE_MODES,
)
from .errors import ImgframeError, InvalidArgument
from .filters import IMAGE_FILTERS, Filter
from .schema import MAX_PAGE_SIZE

if TYPE_CHECKING:
    import pandas as pd

    from .client import Client

log = logging.getLogger("imgframe.cli")

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")


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
    secrets: list[str] = field(default_factory=list)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _client: Client | None = None

    def client(self, max_concurrency: int = DEFAULT_CONCURRENCY) -> Client:
        """The client of this run (created, and the sandbox started, on the first call)."""
        from .client import Client

        if self._client is None:
            if self.sandbox:
                from . import sandbox

                server = self.stack.enter_context(
                    sandbox.running(images=self.sandbox_images, seed=self.sandbox_seed)
                )
                client = Client.for_sandbox(server, max_concurrency=max_concurrency)
            else:
                client = Client(
                    endpoint=self.endpoint, profile=self.profile, max_concurrency=max_concurrency
                )
            self._client = self.stack.enter_context(client)
            self.secrets.extend(client.transport.credentials.secrets())
        return self._client

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class _RedactingFormatter(logging.Formatter):
    """Last line of defence: no log line (traceback included) leaves with a known secret."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.settings = settings

    def format(self, record: logging.LogRecord) -> str:
        return self.settings.redact(super().format(record))


def _setup_logging(settings: Settings) -> Callable[[], None]:
    """Send log records to stderr at the chosen level; returns the function that undoes it
    (so that running the CLI in-process, as tests and notebooks do, leaves logging as it was)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter(settings))
    root, package = logging.getLogger(), logging.getLogger("imgframe")
    saved = root.level, package.level
    level = getattr(logging, settings.log_level.upper())
    root.addHandler(handler)
    root.setLevel(level)
    package.setLevel(level)
    logging.captureWarnings(True)

    def restore() -> None:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(saved[0])
        package.setLevel(saved[1])

    return restore


class _Group(click.Group):
    """The one place where errors become a clean line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidArgument as exc:
            _fail(ctx, str(exc), 2)
        except ImgframeError as exc:
            _fail(ctx, str(exc), 1)
        except OSError as exc:
            _fail(ctx, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
        finally:
            if isinstance(ctx.obj, Settings):
                ctx.obj.stack.close()


def _fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    if settings.log_level == "debug":
        log.debug("traceback", exc_info=True)
    text = " ".join(settings.redact(message).split())
    click.echo(f"imgframe: error: {text}", err=True)
    ctx.exit(code)


def _info(settings: Settings, message: str) -> None:
    if not settings.quiet:
        click.echo(message, err=True)


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the user set this option on the command line."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _flag(ctx: click.Context, name: str) -> str:
    """The option's flag as the user would type it, e.g. ``--os-type``."""
    for param in ctx.command.params:
        if param.name == name and param.opts:
            return max(param.opts, key=len)
    return name


# --------------------------------------------------------------------------------------------
# Where the images come from: the API (with filters) or an earlier export (--from)


def _split_list(values: Sequence[str]) -> list[str]:
    """Repeatable options that also take comma-separated values: -x a,b -x c -> [a, b, c]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _parse_tags(values: Sequence[str]) -> list[dict[str, str]] | None:
    tags = []
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="'--tag'")
        tags.append({"key": key, "value": item})
    return tags or None


def _filter_option(spec: Filter) -> Callable[[F], F]:
    """The click option of one API filter (its flag is the official CLI's)."""
    if spec.kind == "choice":
        return click.option(spec.option, spec.name, type=click.Choice(spec.choices), help=spec.help)
    if spec.kind == "text":
        return click.option(spec.option, spec.name, metavar=spec.metavar, help=spec.help)
    return click.option(spec.option, spec.name, multiple=True, metavar=spec.metavar, help=spec.help)


def _filter_value(spec: Filter, given: Any) -> Any:
    """A filter option's value as the library takes it."""
    if spec.kind == "tags":
        return _parse_tags(given)
    if spec.kind == "list":
        return _split_list(given) or None
    return given


# The fetch options, in the order they are declared; all but --from apply to API fetches only.
_FILTER_NAMES = tuple(spec.name for spec in IMAGE_FILTERS)
_FETCH_PARAMS = (
    "source",
    "from_raw_formulas",
    "zone_ids",
    "all_zones",
    *_FILTER_NAMES,
    "page_size",
    "max_concurrency",
    "verify",
)


def fetch_options(command: F) -> F:
    """The DescribeImages filters (the official CLI's flag names), ``--from`` and its flag."""
    options = [
        click.option(
            "--from",
            "source",
            type=click.Path(exists=True, path_type=Path),
            help="Read images from an earlier export (Parquet file or dataset, CSV, CSV.gz, "
            "JSONL) instead of the API; the API filters cannot be combined with it.",
        ),
        click.option(
            "--from-raw-formulas",
            is_flag=True,
            help="The --from CSV was written with --no-neutralize-formulas: read cells "
            "starting with ' as they are (a CSV carries no marker saying how it was written).",
        ),
        click.option(
            "--zone-id",
            "zone_ids",
            multiple=True,
            metavar="ZONE",
            help="Zone to list (repeatable, or comma-separated). Default: every zone.",
        ),
        click.option("--all-zones", is_flag=True, help="List every zone (the default)."),
        *(_filter_option(spec) for spec in IMAGE_FILTERS),
        click.option(
            "--page-size",
            type=click.IntRange(1, MAX_PAGE_SIZE),
            default=DEFAULT_PAGE_SIZE,
            show_default=True,
            help="Images per DescribeImages page.",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(1, MAX_CONCURRENCY),
            default=DEFAULT_CONCURRENCY,
            show_default=True,
            help="Pages in flight at once, across all zones.",
        ),
        click.option(
            "--verify",
            is_flag=True,
            help="Page each zone until two passes agree: exact even when images are added "
            "and removed while paging, at twice the requests.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class _Source:
    """The fetch options of one command, checked for usage errors before any request."""

    path: Path | None
    raw_formulas: bool
    zone_ids: list[str]
    filters: dict[str, Any]
    page_size: int
    max_concurrency: int
    verify: bool = False

    @property
    def requested_zones(self) -> list[str] | None:
        """The zones asked for, or None for every zone (the ``{zone}`` placeholder's input)."""
        return self.zone_ids or None


def _source(kwargs: dict[str, Any]) -> _Source:
    """Pop the fetch options from a command's keyword arguments and check them: click's usage
    errors and :class:`InvalidArgument` (exit code 2), all before any request is sent."""
    from .filters import ImageFilters, check_zone_id

    ctx = click.get_current_context()
    params = {name: kwargs.pop(name) for name in _FETCH_PARAMS}
    zone_ids = _split_list(params["zone_ids"])
    if params["all_zones"] and zone_ids:
        raise click.UsageError("--zone-id and --all-zones cannot be used together")
    if params["source"] is not None:
        api_only = [_flag(ctx, n) for n in _FETCH_PARAMS[2:] if _given(ctx, n)]
        if api_only:
            raise click.UsageError(
                "--from reads an export; these options only apply to API fetches: "
                + ", ".join(api_only)
            )
    elif params["from_raw_formulas"]:
        raise click.UsageError("--from-raw-formulas only applies with --from")
    filters = {spec.name: _filter_value(spec, params[spec.name]) for spec in IMAGE_FILTERS}
    ImageFilters.build(**filters)
    for zone in zone_ids:
        check_zone_id(zone)
    return _Source(
        path=params["source"],
        raw_formulas=params["from_raw_formulas"],
        zone_ids=zone_ids,
        filters=filters,
        page_size=params["page_size"],
        max_concurrency=params["max_concurrency"],
        verify=params["verify"],
    )


def _load_images(settings: Settings, source: _Source) -> pd.DataFrame:
    """The frame a data command works on: read from ``--from``, or fetched from the API."""
    if source.path is not None:
        from .export import read_export

        return read_export(source.path, neutralized_formulas=not source.raw_formulas)
    client = settings.client(source.max_concurrency)
    return client.fetch_images(
        source.zone_ids or "all",
        page_size=source.page_size,
        verify=source.verify,
        progress=False if settings.quiet else None,
        **source.filters,
    )


# --------------------------------------------------------------------------------------------
# The commands


@click.group(name="imgframe", cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="imgframe")
@click.option(
    "--sandbox",
    is_flag=True,
    help="Run against an in-process sandbox with demo data and credentials.",
)
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
    help="API base URL (default https://console.zenlayer.com; plain http only on loopback).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="warning",
    show_default=True,
    help="Logs go to stderr; debug adds HTTP details and tracebacks (never secrets).",
)
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

    Credentials come from ZENLAYER_ACCESS_KEY_ID + ZENLAYER_ACCESS_KEY_SECRET,
    ZENLAYER_TOKEN, or the official CLI's ~/.zenlayer/credentials.json. Exit codes: 0 success,
    1 API or data error, 2 usage error.

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
    settings.stack.callback(_setup_logging(settings))
    if sandbox:
        clash = [_flag(ctx, n) for n in ("endpoint", "profile") if _given(ctx, n)]
        if clash:
            raise click.UsageError(f"--sandbox cannot be combined with {', '.join(clash)}")


pass_settings = click.make_pass_decorator(Settings)


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(TABLE_FORMATS), default="table", show_default=True
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
    wanted = ["zoneId", "regionId", "zoneName", "cityName", "countryCode", "timeZone"]
    click.echo(format_table(frame[[c for c in wanted if c in frame.columns]], fmt))


@cli.command()
@fetch_options
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Output file (repeatable); may hold {date} and {time} (UTC, YYYY-MM-DD and HHMMSS) "
    "and {zone} (the zone, 'multi' for several, 'all' for every zone).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="Format of every output, when the suffixes do not say.",
)
@click.option(
    "--tags",
    "tags_mode",
    type=click.Choice(TAG_LAYOUTS),
    default="list",
    show_default=True,
    help="Tags in CSV outputs: a JSON list, one row per tag (tagKey, tagValue), or one "
    "tag:<key> column per key. Parquet and JSONL keep the list.",
)
@click.option(
    "--partition-by",
    multiple=True,
    metavar="COLUMN",
    help="Write a hive-partitioned Parquet dataset directory by these columns (e.g. zoneId).",
)
@click.option(
    "--mode",
    type=click.Choice(WRITE_MODES),
    default="error",
    show_default=True,
    help="When a target exists: refuse (before fetching), replace it, or add the rows.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JSON manifest: files (rows, bytes, sha256), schema, request ids.",
)
@click.option(
    "--no-neutralize-formulas",
    is_flag=True,
    help="Write CSV cells starting with = + - @ as they are, not behind a ' (read such a "
    "file back with --from-raw-formulas).",
)
@pass_settings
def export(
    settings: Settings,
    /,
    outputs: tuple[str, ...],
    fmt: str | None,
    tags_mode: str,
    partition_by: tuple[str, ...],
    mode: str,
    manifest: Path | None,
    no_neutralize_formulas: bool,
    **kwargs: Any,
) -> None:
    """Fetch once and write every output (Parquet, CSV, CSV.gz, JSONL), each atomically.

    Prints the paths written, then one summary line on stderr. Nothing is written when the
    fetch fails, and with --mode error (the default) nothing is fetched when a target exists.

    \b
    Examples:
      imgframe export --all-zones -o 'exports/images-{date}.parquet' -o exports/latest.csv
      imgframe export --zone-id asia-east-1a --os-type linux -o linux.csv --tags wide
      imgframe export --partition-by zoneId -o exports/dataset --mode overwrite
    """
    from .export import plan_exports, zones_of

    started = time.monotonic()
    source = _source(kwargs)
    plan = plan_exports(
        outputs,
        format=fmt,
        tags=tags_mode,
        partition_by=_split_list(partition_by),
        mode=mode,
        manifest=manifest,
        neutralize_formulas=not no_neutralize_formulas,
    )
    if source.path is None:  # the paths are known before the fetch: refuse clobbering early
        plan.check(source.requested_zones)
    frame = _load_images(settings, source)
    zones = zones_of(frame) if source.path is not None else source.requested_zones
    result = plan.write(frame, zones=zones, source=source.path)
    for written in result.files:
        click.echo(str(written.path))
    _info(settings, result.describe(time.monotonic() - started))


@cli.command()
@fetch_options
@click.option(
    "--by",
    multiple=True,
    default=["category"],
    show_default=True,
    help="Columns to group by (repeatable, or comma-separated).",
)
@click.option(
    "--format", "fmt", type=click.Choice(TABLE_FORMATS), default="table", show_default=True
)
@pass_settings
def summary(settings: Settings, /, by: tuple[str, ...], fmt: str, **kwargs: Any) -> None:
    """Image counts and total size (GiB) per group, largest first.

    \b
    Examples:
      imgframe --sandbox summary --by category,osType
      imgframe summary --from exports/latest.parquet --by imageStatus --format markdown
    """
    from .summary import format_table, summarize

    frame = _load_images(settings, _source(kwargs))
    click.echo(format_table(summarize(frame, by=_split_list(by)), fmt))


@cli.command()
@fetch_options
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the charts (created).",
)
@click.option("--format", "fmt", type=click.Choice(CHART_FORMATS), default="png", show_default=True)
@pass_settings
def charts(settings: Settings, /, output_dir: Path, fmt: str, **kwargs: Any) -> None:
    """Bar charts of image counts by category, OS type, status (and zone, for several).

    Writes images_by_category, images_by_osType, images_by_imageStatus (and images_by_zone)
    and prints their paths.

    \b
    Example:
      imgframe --sandbox charts -o charts/ --format svg
    """
    from .charts import save_charts, summary_charts

    frame = _load_images(settings, _source(kwargs))
    for path in save_charts(summary_charts(frame), output_dir, format=fmt):
        click.echo(str(path))


@cli.command()
@fetch_options
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Directory for inventory-report.html and inventory-report.md (created).",
)
@click.option(
    "--require-tag",
    "require_tags",
    multiple=True,
    metavar="KEY",
    help="Report custom images missing this tag key (repeatable, or comma-separated).",
)
@click.option(
    "--max-rows",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Cap on the rows of each image list.",
)
@click.option(
    "--store",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Snapshot store: adds the changes between its last two snapshots and the trend.",
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

    frame = _load_images(settings, _source(kwargs))
    paths = build_report(
        frame, output_dir, require_tags=_split_list(require_tags), max_rows=max_rows, store=store
    )
    click.echo(str(paths.html))
    click.echo(str(paths.markdown))


@cli.command()
@fetch_options
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Snapshot store directory (created).",
)
@click.option(
    "--date",
    "snapshot_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Snapshot date (default: the UTC date of the fetch).",
)
@pass_settings
def snapshot(
    settings: Settings, /, store: Path, snapshot_date: datetime | None, **kwargs: Any
) -> None:
    """Fetch and store the day's snapshot (re-running the same day replaces it).

    Prints the snapshot's directory, then one summary line on stderr.

    \b
    Example (daily, from cron):
      imgframe snapshot --store /data/imgframe/snapshots
    """
    from .history import write_snapshot

    frame = _load_images(settings, _source(kwargs))
    info = write_snapshot(
        frame, store, snapshot_date=snapshot_date.date() if snapshot_date else None
    )
    click.echo(str(info.path))
    _info(settings, info.describe())


@cli.command()
@click.option(
    "--store",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Snapshot store directory.",
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
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every change to this file (.csv, .csv.gz, .parquet, .jsonl; replaced).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(TABLE_FORMATS),
    default="table",
    show_default=True,
    help="table and markdown start with a summary line; csv and json are the changes alone.",
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
    """What changed between two snapshots: images added and removed, fields changed.

    One row per change: zoneId, imageId, change (added, removed, changed), and for changed
    images the field with its old and new value.

    \b
    Example:
      imgframe diff --store snapshots/ --from 2026-11-20 --to 2026-11-27 -o changes.csv
    """
    from .history import diff_store
    from .summary import format_table

    result = diff_store(
        store,
        from_date=from_date.date() if from_date else None,
        to_date=to_date.date() if to_date else None,
    )
    changes = result.long_frame()
    line = result.describe()
    if fmt in ("table", "markdown"):
        click.echo(line)
        if len(changes):
            click.echo("")
            click.echo(format_table(changes, fmt))
    else:
        click.echo(format_table(changes, fmt))
        _info(settings, line)
    if output is not None:
        from .export import write_export

        write_export(changes, output, mode="overwrite")
        _info(settings, f"wrote {len(changes)} changes to {output}")


@cli.command(name="sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0: a free port (the first line printed says which).",
)
@click.option("--images", type=click.IntRange(1, 5_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="Catalog seed.")
@click.option(
    "--day",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Evolve the catalog this many days.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Delay before every answer.",
)
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
    """Run the sandbox API server until Ctrl-C, printing its endpoint and demo credentials.

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
    server.serve_forever()  # returns after Ctrl-C, once the server has stopped


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="imgframe")


__all__ = ["cli", "main"]
