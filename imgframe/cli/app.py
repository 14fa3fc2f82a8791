"""The command line's runtime: the settings of one run, logging, and the one place where
errors become a line on stderr and an exit code (:class:`ErrorBoundary`).

Exit codes (:class:`Exit`), the same for every command:

====  ==========================================================================
0     success
1     an API, network, data or file error (one line on stderr); for
      ``imgframe diff --exit-code``, changes were found (as ``git diff``)
2     a usage error, found before any request
3     the result is incomplete (pages that never add up to their totalCount);
      ``--allow-incomplete`` keeps it, with a warning
4     nothing matched, with ``--fail-on-empty``
5     some profiles failed and the others were written (``--allow-partial``)
75    the snapshot store is busy (another writer holds it): try again later
130   interrupted (SIGINT, Ctrl-C); temporary files removed
141   stdout was closed by its reader (``imgframe ... | head``): quiet
143   terminated (SIGTERM, from ``timeout``, systemd or a supervisor); temporary files
      removed
====  ==========================================================================
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.core import ParameterSource

from ..defaults import DEFAULT_CONCURRENCY
from ..errors import (
    EmptyResultError,
    ImgframeError,
    IncompleteError,
    InvalidArgument,
    StoreBusyError,
)

if TYPE_CHECKING:
    from ..client import Client
    from ..metrics import RunMetrics

__all__ = [
    "LOG_LEVELS",
    "ErrorBoundary",
    "Exit",
    "RedactingFormatter",
    "Settings",
    "Terminated",
    "fail",
    "flag_of",
    "given_on_command_line",
    "pass_settings",
    "say",
    "setup_logging",
    "show",
]

log = logging.getLogger("imgframe.cli")

LOG_LEVELS = ("debug", "info", "warning", "error")


class Exit(IntEnum):
    """The exit codes of every command (the table in this module's docstring)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INCOMPLETE = 3
    NOTHING_MATCHED = 4
    PARTIAL = 5
    BUSY = 75  # EX_TEMPFAIL of sysexits.h: try again later
    INTERRUPTED = 130
    BROKEN_PIPE = 141
    TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived (raised in the main thread by :func:`imgframe.cli.main`'s handler).

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` on the
    way swallows it while every ``finally`` (temporary files) still runs.
    """


@dataclass
class Settings:
    """Global options, and the client (or in-process sandbox) built from them on first use."""

    sandbox: bool = False
    sandbox_images: int = 2000
    sandbox_seed: int = 7
    sandbox_day: int = 0
    profiles: list[str] = field(default_factory=list)
    all_profiles: bool = False
    endpoint: str | None = None
    quiet: bool = False
    log_level: str = "warning"
    secrets: list[str] = field(default_factory=list)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    #: Profiles that failed in a run that kept the others (``--allow-partial``).
    partial: str = ""
    #: What the run did, for ``--metrics-file`` (set by a command that has one).
    metrics: RunMetrics | None = None
    metrics_path: str | Path | None = None
    _client: Client | None = None

    def client(self, max_concurrency: int = DEFAULT_CONCURRENCY) -> Client:
        """The client of this run (created, and the sandbox started, on the first call)."""
        from ..client import Client

        if self._client is None:
            if self.sandbox:
                from .. import sandbox

                server = self.stack.enter_context(
                    sandbox.running(
                        images=self.sandbox_images, seed=self.sandbox_seed, day=self.sandbox_day
                    )
                )
                client = Client.for_sandbox(server, max_concurrency=max_concurrency)
            else:
                profile = self.profiles[0] if len(self.profiles) == 1 else None
                client = Client(
                    endpoint=self.endpoint, profile=profile, max_concurrency=max_concurrency
                )
            self._client = self.stack.enter_context(client)
            self.secrets.extend(client.transport.credentials.secrets())
        return self._client

    @property
    def several_accounts(self) -> bool:
        """Whether this run reads more than one account (profiles)."""
        return self.all_profiles or len(self.profiles) > 1

    def account_secrets(self, names: list[str]) -> None:
        """Learn the secrets of the profiles a run reads, so no log line can show them."""
        from ..credentials import resolve_credentials

        for name in names:
            with contextlib.suppress(ImgframeError):
                self.secrets.extend(resolve_credentials(profile=name).secrets())

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class RedactingFormatter(logging.Formatter):
    """Last line of defence: no log line (traceback included) leaves with a known secret."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.settings = settings

    def format(self, record: logging.LogRecord) -> str:
        return self.settings.redact(super().format(record))


def setup_logging(settings: Settings) -> Callable[[], None]:
    """Send log records to stderr at the chosen level; returns the function that undoes it
    (so that running the CLI in-process, as tests and notebooks do, leaves logging as it was)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(settings))
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


class ErrorBoundary(click.Group):
    """The one place where errors become a clean line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        code: int = Exit.OK
        try:
            result = super().invoke(ctx)
            if isinstance(ctx.obj, Settings) and ctx.obj.partial:
                code = Exit.PARTIAL
                fail(ctx, ctx.obj.partial, code)
            return result
        except click.exceptions.Exit as exc:
            code = exc.exit_code
            raise
        except click.ClickException:
            code = Exit.USAGE
            raise
        except BaseException as exc:
            outcome = _outcome(exc)
            if outcome is None:
                raise
            code, message = outcome
            if code == Exit.BROKEN_PIPE:
                _quiet_broken_pipe(ctx)
            fail(ctx, message, code)
        finally:
            if isinstance(ctx.obj, Settings):
                settings = ctx.obj
                try:
                    _write_metrics(settings, code)
                finally:
                    settings.stack.close()


def _outcome(exc: BaseException) -> tuple[Exit, str] | None:
    """The exit code and error line of an exception (None: not ours to turn into a line)."""
    for kind, code in (
        (InvalidArgument, Exit.USAGE),
        (IncompleteError, Exit.INCOMPLETE),
        (EmptyResultError, Exit.NOTHING_MATCHED),
        (StoreBusyError, Exit.BUSY),
        (ImgframeError, Exit.ERROR),
    ):
        if isinstance(exc, kind):
            return code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return Exit.INTERRUPTED, "interrupted; nothing half-written was left behind"
    if isinstance(exc, Terminated):
        return Exit.TERMINATED, "terminated; nothing half-written was left behind"
    if isinstance(exc, OSError):
        if exc.errno == errno.EPIPE:
            return Exit.BROKEN_PIPE, ""
        return Exit.ERROR, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    return None


def _write_metrics(settings: Settings, code: int) -> None:
    """The run's metrics textfile, written whatever the outcome (a failure is news too), but
    for a usage error: nothing ran, and the file named might be the mistake."""
    if settings.metrics is None or settings.metrics_path is None or code == Exit.USAGE:
        return
    from ..metrics import write_metrics

    settings.metrics.exit_code = code
    try:
        write_metrics(settings.metrics_path, settings.metrics)
    except ImgframeError as exc:  # the run's own outcome matters more; say so, keep its code
        click.echo(f"imgframe: error: metrics not written: {settings.redact(str(exc))}", err=True)


def _quiet_broken_pipe(ctx: click.Context) -> NoReturn:
    """The reader of stdout went away (``| head``): nothing to say, and no more to write."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    ctx.exit(Exit.BROKEN_PIPE)


def fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    """Print ``message`` as the one error line (redacted, on one line) and exit with ``code``."""
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    if settings.log_level == "debug":
        log.debug("traceback", exc_info=True)
    text = " ".join(settings.redact(message).split())
    click.echo(f"imgframe: error: {text}", err=True)
    ctx.exit(code)


def show(settings: Settings, path: object) -> None:
    """Print a path written on stdout, unless ``--quiet`` (then a run prints nothing)."""
    if not settings.quiet:
        click.echo(str(path))


def say(settings: Settings, message: str) -> None:
    """Print a summary line on stderr, unless ``--quiet``."""
    if not settings.quiet:
        click.echo(message, err=True)


def given_on_command_line(ctx: click.Context, name: str) -> bool:
    """Whether the user set this option on the command line."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def flag_of(ctx: click.Context, name: str) -> str:
    """The option's flag as the user would type it, e.g. ``--os-type``."""
    for param in ctx.command.params:
        if param.name == name and param.opts:
            return max(param.opts, key=len)
    return name


pass_settings = click.make_pass_decorator(Settings)
