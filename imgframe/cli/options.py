"""Where a data command's images come from: the API with the DescribeImages filters (options
generated from :data:`~imgframe.filters.IMAGE_FILTERS`), or an earlier export (``--from``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..defaults import DEFAULT_CONCURRENCY, DEFAULT_PAGE_SIZE, MAX_CONCURRENCY
from ..errors import EmptyResultError
from ..filters import IMAGE_FILTERS, Filter
from ..schema import MAX_PAGE_SIZE
from .app import Settings, flag_of, given_on_command_line, say

if TYPE_CHECKING:
    import pandas as pd

    from ..client import ConnectionArgs
    from ..storage import Location

__all__ = [
    "Source",
    "checked_store",
    "checked_target",
    "fetch_options",
    "load_images",
    "parse_tags",
    "read_source",
    "split_list",
]

F = TypeVar("F", bound=Callable[..., Any])


def split_list(values: Sequence[str]) -> list[str]:
    """Repeatable options that also take comma-separated values: -x a,b -x c -> [a, b, c]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def parse_tags(values: Sequence[str]) -> list[dict[str, str]] | None:
    """``--tag`` values as tag dicts: repeatable and comma-separated like the other list
    options (``--tag env=prod,team=ml`` is two tags), spaces around keys and values trimmed.
    A piece without ``=``, or with an empty key or value, is a usage error (a value cannot
    hold a comma: the API's tag values are plain words)."""
    tags = []
    for value in values:
        for piece in value.split(","):
            key, sep, item = (part.strip() for part in piece.partition("="))
            if not sep or not key or not item:
                raise click.BadParameter(
                    f"{piece.strip()!r} is not KEY=VALUE (several tags: --tag a=1,b=2 or "
                    "--tag a=1 --tag b=2)",
                    param_hint="'--tag'",
                )
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
        return parse_tags(given)
    if spec.kind == "list":
        return split_list(given) or None
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
    "allow_incomplete",
    "allow_partial",
    "no_usage",
    "cache_ttl",
    "refresh",
    "fail_on_empty",
    "metrics_file",
)
#: Of those, the ones that apply with --from too.
_ANY_SOURCE = frozenset({"source", "from_raw_formulas", "fail_on_empty", "metrics_file"})


def fetch_options(command: F) -> F:
    """The DescribeImages filters (the official CLI's flag names), ``--from`` and its flag."""
    options = [
        click.option(
            "--from",
            "source",
            metavar="PATH|URI",
            help="Read images from an earlier export (Parquet file or dataset, CSV, CSV.gz, "
            "JSONL) or a snapshot store (its latest day, or STORE@YYYY-MM-DD) instead of the "
            "API, a local path or s3://, gs://, az://, file://; the API filters cannot be "
            "combined with it.",
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
        click.option(
            "--allow-incomplete",
            is_flag=True,
            help="Keep a result whose pages never add up to their totalCount (a warning, "
            "recorded in the manifest) instead of failing with exit code 3.",
        ),
        click.option(
            "--allow-partial",
            is_flag=True,
            help="With several profiles, keep the accounts that answered when one fails "
            "(exit code 5 names the failed ones) instead of failing the run.",
        ),
        click.option(
            "--no-usage",
            is_flag=True,
            help="Skip DescribeInstances: no instanceCount (NA), one listing fewer per account.",
        ),
        click.option(
            "--cache",
            "cache_ttl",
            metavar="TTL",
            help="Keep the API's pages on disk and reuse them for TTL (90s, 15m, 2h, 1d): a "
            "repeated command within it makes no request (see `imgframe cache list`).",
        ),
        click.option(
            "--refresh",
            type=click.Choice(["force", "offline"]),
            help="With the cache: force fetches anew (and keeps the pages); offline never asks "
            "the API and uses what is kept, however old.",
        ),
        click.option(
            "--fail-on-empty",
            is_flag=True,
            help="Exit 4, writing nothing, when no image matches (for scheduled runs).",
        ),
        click.option(
            "--metrics-file",
            metavar="PATH|URI",
            help="Write run metrics here, as a Prometheus textfile (node_exporter), on success "
            "and failure alike (a local path, or an object: s3://...).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class Source:
    """The fetch options of one command, checked for usage errors before any request."""

    path: str | None
    raw_formulas: bool
    zone_ids: list[str]
    filters: dict[str, Any]
    page_size: int
    max_concurrency: int
    verify: bool = False
    allow_incomplete: bool = False
    allow_partial: bool = False
    usage: bool = True
    fail_on_empty: bool = False
    metrics_file: str | None = None
    cache: str | None = None
    refresh: str | None = None
    #: ``--from`` names a snapshot store: read its day ``day`` (None: the latest).
    store: bool = False
    day: date | None = None

    @property
    def label(self) -> str | None:
        """What ``--from`` read, as said in messages and manifests."""
        if self.path is None:
            return None
        return f"{self.path}@{self.day.isoformat()}" if self.store and self.day else str(self.path)

    @property
    def requested_zones(self) -> list[str] | None:
        """The zones asked for, or None for every zone (the ``{zone}`` placeholder's input)."""
        return self.zone_ids or None


def read_source(kwargs: dict[str, Any]) -> Source:
    """Pop the fetch options from a command's keyword arguments and check them: click's usage
    errors and :class:`InvalidArgument` (exit code 2), all before any request is sent. With
    ``--metrics-file``, the run's metrics are recorded from here on (written at the end)."""
    from ..filters import ImageFilters, check_zone_id
    from ..metrics import RunMetrics

    ctx = click.get_current_context()
    params = {name: kwargs.pop(name) for name in _FETCH_PARAMS}
    zone_ids = split_list(params["zone_ids"])
    if params["all_zones"] and zone_ids:
        raise click.UsageError("--zone-id and --all-zones cannot be used together")
    if params["source"] is not None:
        api_only = [
            flag_of(ctx, n)
            for n in _FETCH_PARAMS
            if n not in _ANY_SOURCE and given_on_command_line(ctx, n)
        ]
        if api_only:
            raise click.UsageError(
                "--from reads an export; these options only apply to API fetches: "
                + ", ".join(api_only)
            )
    elif params["from_raw_formulas"]:
        raise click.UsageError("--from-raw-formulas only applies with --from")
    if params["refresh"] == "force" and params["cache_ttl"] is None:
        raise click.UsageError("--refresh force needs --cache TTL (what to keep the pages for)")
    if params["cache_ttl"] is not None:
        from ..cache import parse_ttl

        parse_ttl(params["cache_ttl"])
    path, store, day = _source_of(params["source"])
    filters = {spec.name: _filter_value(spec, params[spec.name]) for spec in IMAGE_FILTERS}
    ImageFilters.build(**filters)
    for zone in zone_ids:
        check_zone_id(zone)
    settings = ctx.find_object(Settings)
    if settings is not None:
        learn_cloud_secrets(settings)
    if params["metrics_file"] is not None:
        checked_target(params["metrics_file"], "'--metrics-file'")
        if settings is not None:
            settings.metrics = RunMetrics(command=ctx.command.name or "imgframe")
            settings.metrics_path = params["metrics_file"]
    return Source(
        path=path,
        store=store,
        day=day,
        cache=params["cache_ttl"],
        refresh=params["refresh"],
        raw_formulas=params["from_raw_formulas"],
        zone_ids=zone_ids,
        filters=filters,
        page_size=params["page_size"],
        max_concurrency=params["max_concurrency"],
        verify=params["verify"],
        allow_incomplete=params["allow_incomplete"],
        allow_partial=params["allow_partial"],
        usage=not params["no_usage"],
        fail_on_empty=params["fail_on_empty"],
        metrics_file=params["metrics_file"],
    )


def learn_cloud_secrets(settings: Settings) -> None:
    """Mask the environment's cloud secrets in every line the run prints or logs."""
    from ..storage.cloud import environment_secret_values

    settings.secrets.extend(v for v in environment_secret_values() if v not in settings.secrets)


def checked_target(value: str, option: str, *, directory: bool = False) -> Location:
    """An output option's path or URI, checked before any request: a bad URI or a missing
    extra is its one-line error; a local file where a directory is wanted (or the other
    way round) a usage error (exit 2)."""
    from ..storage import location

    where = location(value)
    if where.is_local and where.path.exists() and where.path.is_dir() != directory:
        kind = "a file, not a directory" if directory else "a directory, not a file"
        raise click.BadParameter(f"{value} is {kind}", param_hint=option)
    return where


def checked_store(settings: Settings, store: str) -> None:
    """A ``--store`` naming nothing is a usage error (exit 2), before any request; the
    environment's cloud secrets are masked from here on."""
    from ..errors import DataError
    from ..history.layout import existing_store

    learn_cloud_secrets(settings)
    try:
        existing_store(store)
    except DataError as exc:
        if not str(exc).startswith("no snapshot store at"):
            raise  # unreadable (denied, unreachable): exit 1, not a usage error
        raise click.BadParameter(str(exc), param_hint="'--store'") from None


def _source_of(value: str | None) -> tuple[str | None, bool, date | None]:
    """``--from``'s (path or URI, is a snapshot store, its day): a file or dataset, a store
    (its latest day), or ``STORE@YYYY-MM-DD``; a usage error when there is no such thing."""
    from ..storage import location

    if value is None:
        return None, False, None
    where = location(value)
    if where.exists():
        return value, _is_store(where), None
    head, at, day = value.rpartition("@")
    if at and head and location(head).is_dir():
        if not _is_store(location(head)):
            raise click.BadParameter(f"{head} is not a snapshot store", param_hint="--from")
        try:
            return head, True, date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(
                f"{day!r} is not a date (YYYY-MM-DD) in {value}", param_hint="--from"
            ) from None
    raise click.BadParameter(f"{value} does not exist", param_hint="--from")


def _is_store(where: Location) -> bool:
    """A directory holding ``snapshot_date=...`` days (what ``imgframe snapshot`` writes)."""
    directories, _ = where.list_dir()
    return any(name.startswith("snapshot_date=") for name in directories)


def load_images(settings: Settings, source: Source) -> pd.DataFrame:
    """The frame a data command works on: read from ``--from``, or fetched from the API.

    An empty result is said on stderr with the filters that found nothing (unless
    ``--quiet``), or, with ``--fail-on-empty``, is an :class:`EmptyResultError` (exit code
    4) before anything is written.
    """
    if source.path is not None:
        from ..export import read_export

        if source.store:
            frame = _store_day(source.path, source.day)
        else:
            frame = read_export(source.path, neutralized_formulas=not source.raw_formulas)
        where = f"in {source.label}"
    else:
        from ..filters import ImageFilters
        from ..inventory import fetch_inventory

        options: dict[str, Any] = {
            "usage": source.usage,
            "page_size": source.page_size,
            "verify": source.verify,
            "allow_incomplete": source.allow_incomplete,
            "progress": False if settings.quiet else None,
            "cache": source.cache,
            "refresh": source.refresh,
            **source.filters,
        }
        zone_id = source.zone_ids or "all"
        if settings.several_accounts:
            from ..credentials import list_profiles

            names = list_profiles() if settings.all_profiles else settings.profiles
            settings.account_secrets(names)
            connection: ConnectionArgs = {
                "endpoint": settings.endpoint,
                "max_concurrency": source.max_concurrency,
            }
            frame = fetch_inventory(
                zone_id,
                profiles=names,
                allow_partial=source.allow_partial,
                connection=connection,
                **options,
            )
            failed = frame.attrs.get("imgframe", {}).get("failedProfiles") or {}
            if failed:
                settings.partial = "profile(s) failed, the others were written: " + "; ".join(
                    f"{name}: {message}" for name, message in failed.items()
                )
        else:
            client = settings.client(source.max_concurrency)
            frame = fetch_inventory(zone_id, client=client, **options)
        zones = ", ".join(source.zone_ids) if source.zone_ids else "every zone"
        filters = ImageFilters.build(**source.filters).describe()
        where = f"in {zones}" + (f" with {filters}" if filters else " (no filters)")
    if settings.metrics is not None:
        settings.metrics.fetch = frame.attrs.get("imgframe")
    if len(frame) == 0:
        message = f"no images matched {where}"
        if source.fail_on_empty:
            raise EmptyResultError(message + "; nothing was written (--fail-on-empty)")
        say(settings, f"imgframe: {message}")
    return frame


def _store_day(store: str, day: date | None) -> pd.DataFrame:
    """One day of a snapshot store (the latest by default) as the frame it was written from:
    without the store's ``snapshot_date`` and ``snapshotAt``."""
    from ..errors import DataError
    from ..history import list_snapshots, read_snapshots

    days = list_snapshots(store)
    if not days:
        raise DataError(f"the snapshot store {store} holds no snapshot yet")
    chosen = days[-1] if day is None else day
    if chosen not in days:
        shown = ", ".join(d.isoformat() for d in days[-5:])
        raise DataError(
            f"the snapshot store {store} has no snapshot of {chosen.isoformat()} "
            f"({len(days)} days, the latest: {shown})"
        )
    frame = read_snapshots(store, since=chosen, until=chosen)
    frame = frame.drop(columns=[c for c in ("snapshot_date", "snapshotAt") if c in frame])
    frame.attrs["imgframe"] = {"source": f"{store}@{chosen.isoformat()}"}
    return frame
