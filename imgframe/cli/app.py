"""The command line's runtime: the settings of one run, logging, and the one place where
errors become a line on stderr and an exit code (:class:`ErrorBoundary`)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.core import ParameterSource

from ..defaults import DEFAULT_CONCURRENCY
from ..errors import ImgframeError, InvalidArgument

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "LOG_LEVELS",
    "ErrorBoundary",
    "RedactingFormatter",
    "Settings",
    "fail",
    "flag_of",
    "given_on_command_line",
    "pass_settings",
    "say",
    "setup_logging",
]

log = logging.getLogger("imgframe.cli")

LOG_LEVELS = ("debug", "info", "warning", "error")


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
        from ..client import Client

        if self._client is None:
            if self.sandbox:
                from .. import sandbox

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
        try:
            return super().invoke(ctx)
        except InvalidArgument as exc:
            fail(ctx, str(exc), 2)
        except ImgframeError as exc:
            fail(ctx, str(exc), 1)
        except OSError as exc:
            fail(ctx, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
        finally:
            if isinstance(ctx.obj, Settings):
                ctx.obj.stack.close()


def fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    if settings.log_level == "debug":
        log.debug("traceback", exc_info=True)
    text = " ".join(settings.redact(message).split())
    click.echo(f"imgframe: error: {text}", err=True)
    ctx.exit(code)


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
