"""Commands over a snapshot store's life: ``imgframe ddl`` and ``imgframe prune``."""

from __future__ import annotations

import click

from .app import Settings, pass_settings, say
from .options import checked_store

__all__ = ["ddl", "prune"]

_STORE_HELP = "Snapshot store (a directory, or s3://bucket/store)."


@click.command()
@click.option("--store", metavar="PATH|URI", required=True, help=_STORE_HELP)
@click.option(
    "--dialect",
    type=click.Choice(["duckdb", "athena", "trino", "spark", "bigquery"]),
    required=True,
    help="The engine the statement is for.",
)
@click.option("--table", default="snapshots", show_default=True, help="The table (view) to create.")
@pass_settings
def ddl(settings: Settings, /, store: str, dialect: str, table: str) -> None:
    """Print the statement registering the store as an external table: its columns and
    types from the store's latest day, snapshot_date and zoneId as partition columns
    (Athena: partition projection, no MSCK REPAIR).

    DuckDB and Spark read an object store's days through their commits, as imgframe does;
    Athena, Trino and BigQuery list the day directories, so they can see a day while it is
    being written: query days before today, or away from the snapshot job.

    \b
    Examples:
      imgframe ddl --store snapshots/ --dialect duckdb
      imgframe ddl --store s3://bucket/imgframe/snapshots --dialect athena --table inv.images
    """
    from ..history.ddl import store_ddl

    checked_store(settings, store)
    click.echo(store_ddl(store, dialect, table=table), nl=False)


@click.command()
@click.option("--store", metavar="PATH|URI", required=True, help=_STORE_HELP)
@click.option(
    "--keep",
    metavar="Nd|N",
    required=True,
    help="What to keep: 90d, the snapshots of the last 90 days (UTC); 30, the newest 30 "
    "snapshots. The newest snapshot is always kept.",
)
@click.option("--dry-run", is_flag=True, help="Only list the days that would be removed.")
@pass_settings
def prune(settings: Settings, /, store: str, keep: str, dry_run: bool) -> None:
    """Remove whole old days from the snapshot store, under its lock (writers wait);
    prints each day removed.

    Each day goes whole: a local day directory is moved aside in one rename, then deleted;
    in an object store the day's commit is deleted first (readers stop seeing it), then
    its files.

    \b
    Examples:
      imgframe prune --store snapshots/ --keep 90d --dry-run
      imgframe prune --store s3://bucket/imgframe/snapshots --keep 365d
    """
    from ..history.prune import parse_keep, prune_store

    try:
        parse_keep(keep)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--keep'") from None
    checked_store(settings, store)
    pruned = prune_store(store, keep=keep, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for day in pruned:
        click.echo(f"{verb} {day.snapshot_date.isoformat()} ({day.files} files, {day.bytes} bytes)")
    total = sum(d.bytes for d in pruned)
    days = f"{len(pruned)} snapshot{'' if len(pruned) == 1 else 's'}"
    say(settings, f"{verb} {days} ({total} bytes) from {store}")
