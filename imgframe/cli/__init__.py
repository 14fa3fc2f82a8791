"""The ``imgframe`` command: a thin layer over the library's public functions.

Every command builds the same objects a notebook would and calls their public functions
(``fetch_images``, ``write_export``, ``summarize``, ``summary_charts``, ``build_report``,
``write_snapshot``, ``diff_store``); a command body is a few lines.

Conventions: data goes to stdout (tables, or the paths of the files written), logs and the
one-line summaries to stderr. Errors become one line on stderr in one place
(:class:`~imgframe.cli.app.ErrorBoundary`): exit code 1 for API and data errors, 2 for usage
errors (click's own, and :class:`~imgframe.errors.InvalidArgument`: every argument is
checked before any request).
Nothing is written when the fetch fails.
"""

from __future__ import annotations

import signal

import click

from .._version import __version__
from .app import (
    LOG_LEVELS,
    ErrorBoundary,
    Settings,
    Terminated,
    flag_of,
    given_on_command_line,
    setup_logging,
)
from .commands import charts, diff, export, report, snapshot, summary, zones
from .options import split_list
from .serve import sandbox_command
from .store import ddl, prune
from .tools import cache, sql

__all__ = ["cli", "main"]


@click.group(
    name="imgframe", cls=ErrorBoundary, context_settings={"help_option_names": ["-h", "--help"]}
)
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
    "--sandbox-day",
    type=click.IntRange(0, 3650),
    default=0,
    show_default=True,
    help="Day of the --sandbox catalog: each day some images are added, removed or change "
    "(snapshot on day 0, then on day 1, and diff the two).",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    envvar="ZENLAYER_PROFILE",
    metavar="NAME",
    help="Profile in ~/.zenlayer/credentials.json (repeatable, or comma-separated: several "
    "accounts in one run, every row carrying its profile).",
)
@click.option(
    "--all-profiles",
    is_flag=True,
    help="Every profile in ~/.zenlayer/credentials.json.",
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
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print nothing on success: no paths, progress bars or summary lines (errors still).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    sandbox: bool,
    sandbox_images: int,
    sandbox_seed: int,
    sandbox_day: int,
    profiles: tuple[str, ...],
    all_profiles: bool,
    endpoint: str | None,
    log_level: str,
    quiet: bool,
) -> None:
    """Zenlayer Cloud image inventory as data: exports, summaries, charts and reports.

    Credentials come from ZENLAYER_ACCESS_KEY_ID + ZENLAYER_ACCESS_KEY_SECRET,
    ZENLAYER_TOKEN, or the official CLI's ~/.zenlayer/credentials.json.

    \b
    Exit codes: 0 success; 1 API, network, data or file error (diff --exit-code:
    changes found); 2 usage error, before any request; 3 incomplete result; 4 nothing
    matched (--fail-on-empty); 75 snapshot store busy; 130 interrupted; 141 stdout closed
    by its reader; 143 terminated (SIGTERM).

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
        sandbox_day=sandbox_day,
        profiles=split_list(profiles),
        all_profiles=all_profiles,
        endpoint=endpoint,
        quiet=quiet,
        log_level=log_level,
    )
    if all_profiles and profiles:
        raise click.UsageError("--profile and --all-profiles cannot be used together")
    ctx.obj = settings
    settings.stack.callback(setup_logging(settings))
    if sandbox:
        clash = [
            flag_of(ctx, n)
            for n in ("endpoint", "profiles", "all_profiles")
            if given_on_command_line(ctx, n)
        ]
        if clash:
            raise click.UsageError(f"--sandbox cannot be combined with {', '.join(clash)}")
    else:
        alone = [
            flag_of(ctx, n)
            for n in ("sandbox_images", "sandbox_seed", "sandbox_day")
            if given_on_command_line(ctx, n)
        ]
        if alone:
            raise click.UsageError(f"{', '.join(alone)} only apply with --sandbox")


for _command in (
    zones,
    export,
    summary,
    charts,
    report,
    snapshot,
    diff,
    ddl,
    prune,
    sql,
    cache,
    sandbox_command,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point: SIGTERM ends the run like Ctrl-C does, cleaning up."""
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="imgframe")


def _terminate(signum: int, frame: object) -> None:
    raise Terminated
