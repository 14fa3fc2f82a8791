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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import pandas as pd
from click.core import ParameterSource

from ._version import __version__
from .errors import ExportError, ImgframeError, InvalidArgument
from .schema import CATEGORIES, IMAGE_SOURCES, IMAGE_STATUSES, IMAGE_TYPES, OS_TYPES

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("imgframe.cli")

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")
EXPORT_FORMATS = ("parquet", "csv", "csv.gz", "jsonl")
TABLE_FORMATS = ("table", "csv", "json", "markdown")
DEFAULT_CONCURRENCY = 4


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


# The fetch options, in the order they are declared; all but --from apply to API fetches only.
_FETCH_PARAMS = (
    "source",
    "from_raw_formulas",
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
        click.option(
            "--image-ids",
            multiple=True,
            metavar="IDS",
            help="Image ids, comma-separated (repeatable).",
        ),
        click.option("--image-name", help="Fuzzy, case-insensitive name match."),
        click.option("--category", type=click.Choice(CATEGORIES)),
        click.option("--image-type", type=click.Choice(IMAGE_TYPES)),
        click.option("--image-source", type=click.Choice(IMAGE_SOURCES)),
        click.option("--os-type", type=click.Choice(OS_TYPES)),
        click.option("--image-status", type=click.Choice(IMAGE_STATUSES)),
        click.option(
            "--tag-keys",
            multiple=True,
            metavar="KEYS",
            help="Tag keys the images carry, comma-separated (at most 20).",
        ),
        click.option(
            "--tag",
            "tag_pairs",
            multiple=True,
            metavar="KEY=VALUE",
            help="Tag filter (repeatable, at most 20).",
        ),
        click.option(
            "--page-size",
            type=click.IntRange(1, 1000),
            default=1000,
            show_default=True,
            help="Images per DescribeImages page.",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(1, 64),
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
    filters: dict[str, Any] = {
        "image_ids": _split_list(params["image_ids"]) or None,
        "image_name": params["image_name"],
        "category": params["category"],
        "image_type": params["image_type"],
        "image_source": params["image_source"],
        "os_type": params["os_type"],
        "image_status": params["image_status"],
        "tag_keys": _split_list(params["tag_keys"]) or None,
        "tags": _parse_tags(params["tag_pairs"]),
    }
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
    type=click.Choice(["list", "long", "wide"]),
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
    type=click.Choice(["error", "overwrite", "append"]),
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
def export(settings: Settings, /, **kwargs: Any) -> None:
    """Fetch once and write every output (Parquet, CSV, CSV.gz, JSONL), each atomically.

    Prints the paths written, then one summary line on stderr. Nothing is written when the
    fetch fails, and with --mode error (the default) nothing is fetched when a target exists.

    \b
    Examples:
      imgframe export --all-zones -o 'exports/images-{date}.parquet' -o exports/latest.csv
      imgframe export --zone-id asia-east-1a --os-type linux -o linux.csv --tags wide
      imgframe export --partition-by zoneId -o exports/dataset --mode overwrite
    """
    from .export import write_export, write_manifest

    started = time.monotonic()
    now = datetime.now(UTC)
    source = _source(kwargs)
    partition_by = _split_list(kwargs["partition_by"]) or None
    formats = [_output_format(t, kwargs["fmt"], partition_by) for t in kwargs["outputs"]]
    if source.path is None:  # the paths are known before the fetch: refuse clobbering early
        _targets(kwargs["outputs"], now, source.requested_zones, kwargs["mode"])
    frame = _load_images(settings, source)
    zones = _frame_zones(frame) if source.path is not None else source.requested_zones
    paths = _targets(kwargs["outputs"], now, zones, kwargs["mode"])
    written = []
    for path, fmt in zip(paths, formats, strict=True):
        written.append(
            write_export(
                frame,
                path,
                format=fmt,
                tags=kwargs["tags_mode"] if fmt.startswith("csv") else "list",
                partition_by=partition_by,
                mode=kwargs["mode"],
                neutralize_formulas=not kwargs["no_neutralize_formulas"],
                metadata=frame.attrs.get("imgframe"),
            )
        )
        click.echo(str(path))
    if kwargs["manifest"] is not None:
        meta = dict(frame.attrs.get("imgframe", {}))
        if source.path is not None:
            meta["source"] = str(source.path)
        write_manifest(
            kwargs["manifest"],
            written,
            schema=frame,
            request_ids=meta.pop("requestIds", []),
            extra=meta,
        )
    files = f"{len(written)} file" + ("" if len(written) == 1 else "s")
    _info(
        settings,
        f"exported {len(frame)} rows to {files}, {sum(w.bytes for w in written)} bytes, "
        f"in {time.monotonic() - started:.2f}s",
    )


def _output_format(template: str, fmt: str | None, partition_by: Sequence[str] | None) -> str:
    """The format an output is written in (a usage error when neither --format nor the
    suffix says, or when a dataset is asked for in a flat format)."""
    from .export import detect_format

    chosen = detect_format(Path(template), fmt, partition_by)
    if partition_by and chosen != "parquet":
        raise click.UsageError(f"--partition-by writes Parquet datasets, not {chosen} ({template})")
    return chosen


def _targets(
    templates: Sequence[str], now: datetime, zones: Sequence[str] | None, mode: str
) -> list[Path]:
    """The output paths with their placeholders filled; with ``--mode error``, refuse when any
    of them exists, so that no output is written when a later one would be refused."""
    from .export import expand_placeholders

    paths = [Path(expand_placeholders(t, now=now, zones=zones)) for t in templates]
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            raise click.UsageError(f"{path} is given twice as an output")
        seen.add(path.resolve())
        if mode == "error" and (path.exists() or path.is_symlink()):
            raise ExportError(
                f"cannot write {path}: it already exists (use --mode overwrite or append)"
            )
    return paths


def _frame_zones(frame: pd.DataFrame) -> list[str]:
    if "zoneId" not in frame.columns:
        return []
    return sorted(str(z) for z in frame["zoneId"].dropna().unique())


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
@click.option(
    "--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True
)
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
    zones = f"{len(info.zones)} zone" + ("" if len(info.zones) == 1 else "s")
    _info(settings, f"snapshot {info.snapshot_date.isoformat()}: {info.rows} images in {zones}")


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
    counts = result.summary()
    line = (
        f"{result.old_date} -> {result.new_date}: {counts['added']} added, "
        f"{counts['removed']} removed, {counts['changed']} changed "
        f"({counts['changed_fields']} fields), {counts['unchanged']} unchanged"
    )
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
