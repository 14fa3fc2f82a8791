"""The data and history commands: each parses its options and calls the library."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..defaults import (
    CHART_FORMATS,
    DEFAULT_LIST_ROWS,
    EXPORT_FORMATS,
    REPORT_MAX_ROWS,
    TABLE_FORMATS,
    TAG_LAYOUTS,
    WRITE_MODES,
)
from .app import Settings, pass_settings, say, show
from .options import (
    checked_store,
    checked_target,
    fetch_options,
    load_images,
    read_source,
    split_list,
)

__all__ = ["charts", "diff", "export", "report", "snapshot", "summary", "zones"]


@click.command()
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
    from ..summary import format_table

    frame = settings.client().fetch_zones()
    wanted = ["zoneId", "regionId", "zoneName", "cityName", "countryCode", "timeZone"]
    click.echo(format_table(frame[[c for c in wanted if c in frame.columns]], fmt))


@click.command()
@fetch_options
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    required=True,
    metavar="PATH|URI",
    help="Output file (repeatable): a local path or s3://, gs://, az://, file://; may hold "
    "{date} and {time} (UTC, YYYY-MM-DD and HHMMSS) and {zone} (the zone, 'multi' for "
    "several, 'all' for every zone).",
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
    multiple=True,
    help="Tags in CSV outputs: a JSON list (default), one row per tag (tagKey, tagValue), "
    "or one tag:<key> column per key. Once for every CSV output, or once per CSV output in "
    "order. Parquet and JSONL keep the list.",
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
    metavar="PATH|URI",
    help="Also write a JSON manifest: files (rows, bytes, sha256), schema, request ids.",
)
@click.option(
    "--no-neutralize-formulas",
    is_flag=True,
    help="Write CSV cells starting with = + - @ as they are, not behind a ' (read such a "
    "file back with --from-raw-formulas).",
)
@click.option(
    "--bom",
    is_flag=True,
    help="Start CSV outputs with a UTF-8 byte order mark, so that Excel reads non-ASCII "
    "names right (for spreadsheets prefer .xlsx, which also keeps 11.10 and dates as text).",
)
@click.option(
    "--store",
    metavar="PATH|URI",
    help="Snapshot store: .xlsx outputs get a Changes sheet (its last two snapshots).",
)
@pass_settings
def export(
    settings: Settings,
    /,
    outputs: tuple[str, ...],
    fmt: str | None,
    tags_mode: tuple[str, ...],
    partition_by: tuple[str, ...],
    mode: str,
    manifest: str | None,
    no_neutralize_formulas: bool,
    bom: bool,
    store: str | None,
    **kwargs: Any,
) -> None:
    """Fetch once and write every output (Parquet, CSV, CSV.gz, JSONL, XLSX), each atomically.

    Prints the paths written, then one summary line on stderr. Nothing is written when the
    fetch fails, and with --mode error (the default) nothing is fetched when a target exists.

    \b
    Examples:
      imgframe export --all-zones -o 'exports/images-{date}.parquet' -o exports/latest.csv
      imgframe export --zone-id asia-east-1a --os-type linux -o linux.csv --tags wide
      imgframe export --partition-by zoneId -o exports/dataset --mode overwrite
      imgframe export -o inventory.xlsx --store snapshots/
    """
    from ..errors import InvalidArgument
    from ..export import plan_exports, zones_of
    from ..storage import location, same_target

    started = time.monotonic()
    source = read_source(kwargs)
    if manifest is not None:
        checked_target(manifest, "'--manifest'")
    if source.metrics_file is not None:
        metrics = location(source.metrics_file)
        given = [location(p) for p in (*outputs, *([manifest] if manifest else []))]
        if any(same_target(metrics, p) for p in given):
            raise InvalidArgument(f"the metrics file {source.metrics_file} is also an output")
    if store is not None:
        checked_store(settings, store)
    plan = plan_exports(
        outputs,
        format=fmt,
        tags=tags_mode,
        partition_by=split_list(partition_by),
        mode=mode,
        manifest=manifest,
        neutralize_formulas=not no_neutralize_formulas,
        bom=bom,
    )
    if source.path is None:  # the paths are known before the fetch: refuse clobbering early
        plan.check(source.requested_zones)
    changes = None
    if store is not None and "xlsx" in plan.formats:
        from ..history import diff_store, list_snapshots

        if len(list_snapshots(store)) >= 2:
            changes = diff_store(store)
    frame = load_images(settings, source)
    zones = zones_of(frame) if source.path is not None else source.requested_zones
    result = plan.write(frame, zones=zones, source=source.label, changes=changes)
    if settings.metrics is not None:
        settings.metrics.bytes_written = result.bytes
    for written in result.files:
        show(settings, written.path)
    say(settings, result.describe(time.monotonic() - started))


@click.command()
@fetch_options
@click.option(
    "--by",
    multiple=True,
    default=["category"],
    show_default=True,
    help="Columns to group by (repeatable, or comma-separated): any column, such as "
    "profile, regionId or resourceGroupName, or tag:KEY for the values of tag KEY.",
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
      imgframe --sandbox summary --by tag:team --format markdown
      imgframe summary --from exports/latest.parquet --by imageStatus --format markdown
    """
    from ..inventory import INVENTORY_COLUMNS
    from ..summary import check_groups, format_table, summarize

    source = read_source(kwargs)
    groups = split_list(by)
    if source.path is None:  # a fetch's columns are known: a bad --by never costs a fetch
        check_groups(groups, INVENTORY_COLUMNS)
    frame = load_images(settings, source)
    click.echo(format_table(summarize(frame, by=groups), fmt))


@click.command()
@fetch_options
@click.option(
    "-o",
    "--output-dir",
    metavar="DIR|URI",
    required=True,
    help="Directory for the charts (created), or a bucket prefix (s3://bucket/charts).",
)
@click.option("--format", "fmt", type=click.Choice(CHART_FORMATS), default="png", show_default=True)
@pass_settings
def charts(settings: Settings, /, output_dir: str, fmt: str, **kwargs: Any) -> None:
    """Bar charts of image counts by category, OS type, status (and zone, for several).

    Writes images_by_category, images_by_osType, images_by_imageStatus (and images_by_zone)
    and prints their paths.

    \b
    Example:
      imgframe --sandbox charts -o charts/ --format svg
    """
    from ..charts import save_charts, summary_charts

    source = read_source(kwargs)
    with _output_directory(output_dir) as (local, published):
        frame = load_images(settings, source)
        paths = save_charts(summary_charts(frame), local, format=fmt)
    for path in paths:
        show(settings, published(path))


@click.command()
@fetch_options
@click.option(
    "-o",
    "--output-dir",
    metavar="DIR|URI",
    default="reports",
    show_default=True,
    help="Directory for inventory-report.html and inventory-report.md (created), or a "
    "bucket prefix (s3://bucket/reports).",
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
    default=REPORT_MAX_ROWS,
    show_default=True,
    help="Cap on the rows of each image list.",
)
@click.option(
    "--max-list-rows",
    type=click.IntRange(0),
    default=DEFAULT_LIST_ROWS,
    show_default=True,
    help="Cap on the images the page embeds for its searchable list (problems first).",
)
@click.option(
    "--owner-tag",
    metavar="KEY",
    help="Tag key naming an image's owner [default: the first of owner, team present].",
)
@click.option("--title", help="The report's title.")
@click.option(
    "--store",
    metavar="PATH|URI",
    help="Snapshot store: adds the changes between its last two snapshots and the trend.",
)
@pass_settings
def report(
    settings: Settings,
    /,
    output_dir: str,
    require_tags: tuple[str, ...],
    max_rows: int,
    max_list_rows: int,
    owner_tag: str | None,
    title: str | None,
    store: str | None,
    **kwargs: Any,
) -> None:
    """Write the inventory report: one self-contained HTML file plus Markdown.

    \b
    Examples:
      imgframe --sandbox report -o reports/
      imgframe report --require-tag owner --require-tag env --owner-tag team --store snapshots/
    """
    from ..report import build_report

    source = read_source(kwargs)
    if store is not None:
        checked_store(settings, store)
    with _output_directory(output_dir) as (local, published):
        frame = load_images(settings, source)
        options: dict[str, Any] = {"title": title} if title else {}
        paths = build_report(
            frame,
            local,
            require_tags=split_list(require_tags),
            owner_tag=owner_tag.strip() if owner_tag else None,
            max_rows=max_rows,
            max_list_rows=max_list_rows,
            store=store,
            source=source.label,
            **options,
        )
    show(settings, published(paths.html))
    show(settings, published(paths.markdown))


@click.command()
@fetch_options
@click.option(
    "--store",
    metavar="PATH|URI",
    required=True,
    help="Snapshot store: a directory (created), or a bucket prefix (s3://bucket/store).",
)
@click.option(
    "--date",
    "snapshot_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Snapshot date (default: the UTC date of the fetch).",
)
@pass_settings
def snapshot(
    settings: Settings, /, store: str, snapshot_date: datetime | None, **kwargs: Any
) -> None:
    """Fetch and store the day's snapshot (re-running the same day replaces it).

    Prints the snapshot's directory, then one summary line on stderr.

    \b
    Example (daily, from cron):
      imgframe snapshot --store /data/imgframe/snapshots
    """
    from ..history import write_snapshot

    source = read_source(kwargs)
    checked_target(store, "'--store'", directory=True)
    frame = load_images(settings, source)
    info = write_snapshot(
        frame, store, snapshot_date=snapshot_date.date() if snapshot_date else None
    )
    show(settings, info.path)
    say(settings, info.describe())


@click.command()
@click.option(
    "--store",
    metavar="PATH|URI",
    required=True,
    help="Snapshot store (a directory, or s3://bucket/store).",
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
    metavar="PATH|URI",
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
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 1 when anything changed, 0 when nothing did (as git diff --exit-code).",
)
@pass_settings
def diff(
    settings: Settings,
    store: str,
    from_date: datetime | None,
    to_date: datetime | None,
    output: str | None,
    fmt: str,
    exit_code: bool,
) -> None:
    """What changed between two snapshots: images added and removed, fields changed.

    One row per change: zoneId, imageId, change (added, removed, changed), and for changed
    images the field with its old and new value. With --exit-code, exit 1 when anything
    changed and 0 when nothing did (as git diff --exit-code).

    \b
    Example:
      imgframe diff --store snapshots/ --from 2026-11-20 --to 2026-11-27 -o changes.csv
    """
    from ..history import diff_store
    from ..summary import format_table

    checked_store(settings, store)
    if output is not None:
        from ..export import detect_format

        # Before the diff is read and printed.
        detect_format(checked_target(output, "'-o'"), None, None)
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
        say(settings, line)
    if output is not None:
        from ..export import write_export

        write_export(changes, output, mode="overwrite")
        say(settings, f"wrote {len(changes)} changes to {output}")
    if exit_code and len(changes):
        click.get_current_context().exit(1)


@contextlib.contextmanager
def _output_directory(
    value: str,
) -> Iterator[tuple[Path, Callable[[Path], Path | str]]]:
    """A local directory to write into, and what to call each file written there: itself
    for a local directory; for a bucket prefix, a temporary directory whose files are put
    under the prefix (each whole) when the block ends without error."""
    where = checked_target(value, "'-o'", directory=True)
    if where.is_local:
        yield where.path, lambda path: path
        return
    with tempfile.TemporaryDirectory(prefix="imgframe-out-") as tmp:
        staging = Path(tmp)
        yield staging, lambda path: str(where.child(path.relative_to(staging).as_posix()))
        where.upload_tree(staging)
