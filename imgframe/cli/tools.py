"""Commands around the data rather than over it: ``imgframe sql`` and ``imgframe cache``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from ..defaults import TABLE_FORMATS
from .app import Settings, pass_settings
from .options import fetch_options, load_images, read_source

__all__ = ["cache", "sql"]

#: The views that need the frame (the store's ``snapshots`` does not).
_FRAME_VIEWS = frozenset({"images", "image_tags", "zones"})


@click.command()
@click.argument("query")
@fetch_options
@click.option(
    "--store",
    metavar="DIRECTORY",
    callback=lambda ctx, param, value: _local_store(value),
    help="Snapshot store (a local directory), queried as the view `snapshots` "
    "(partition-pruned by snapshot_date and zoneId).",
)
@click.option(
    "--format", "fmt", type=click.Choice(TABLE_FORMATS), default="table", show_default=True
)
@pass_settings
def sql(settings: Settings, /, query: str, store: Path | None, fmt: str, **kwargs: Any) -> None:
    """Run a DuckDB SQL QUERY over the views images, image_tags (one row per tag, untagged
    images kept), zones and, with --store, snapshots. The images come from the API (with
    the usual filters) or --from; a query naming only `snapshots` fetches nothing.

    \b
    Examples:
      imgframe --sandbox sql "SELECT osType, count(*) AS images FROM images GROUP BY ALL"
      imgframe sql --store snapshots/ "SELECT snapshot_date, count(*) FROM snapshots GROUP BY 1"
    """
    from ..sql import run_sql

    source = read_source(kwargs)
    frame = load_images(settings, source) if _needs_frame(query, store) else None
    click.echo(run_sql(query, frame=frame, store=store, format=fmt).rstrip("\n"))


@click.group()
def cache() -> None:
    """The page cache that --cache TTL fills (raw API pages, never a secret), under
    $IMGFRAME_CACHE_DIR, else $XDG_CACHE_HOME/imgframe, else ~/.cache/imgframe.

    \b
    Examples:
      imgframe cache list
      imgframe cache clear --older-than 1d
    """


@cache.command("list")
def cache_list() -> None:
    """One line per kept query, newest first: its action, filters, pages, size and age."""
    from ..cache import PageCache

    store = PageCache()
    entries = store.entries()
    for entry in entries:
        click.echo(entry.describe())
    if not entries:
        click.echo(f"the page cache is empty ({store.directory})", err=True)


@cache.command("clear")
@click.option("--older-than", metavar="TTL", help="Only entries fetched longer ago (e.g. 1d).")
def cache_clear(older_than: str | None) -> None:
    """Remove kept pages (all of them, or those older than --older-than)."""
    from ..cache import PageCache

    removed = PageCache().clear(older_than=older_than)
    click.echo(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}", err=True)


def _needs_frame(query: str, store: Path | None) -> bool:
    """Whether ``query`` reads a view of the frame (so the images must be fetched first):
    the tables DuckDB's parser finds in it; when it cannot tell, any of their names."""
    if store is None:
        return True
    try:
        import duckdb
    except ImportError:
        return True  # run_sql names the extra to install
    try:
        names = {name.lower() for name in duckdb.get_table_names(query)}
    except duckdb.Error:
        names = set(re.findall(r"[a-z_]+", query.lower()))
    return bool(names & _FRAME_VIEWS)


def _local_store(value: str | None) -> Path | None:
    """A local store directory (DuckDB here reads local stores: its httpfs extension is a
    download away, so a bucket's store is pointed to ``imgframe ddl``)."""
    if value is None:
        return None
    if "://" in value and not value.startswith("file://"):
        raise click.BadParameter(
            f"{value}: imgframe sql reads a local store; for a store in a bucket, "
            "`imgframe ddl --dialect duckdb` prints the view to create in DuckDB with httpfs",
            param_hint="'--store'",
        )
    path = Path(value.removeprefix("file://"))
    if not path.is_dir():
        raise click.BadParameter(f"Directory {value!r} does not exist.", param_hint="'--store'")
    return path
