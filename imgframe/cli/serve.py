"""``imgframe sandbox``: a standalone sandbox server until Ctrl-C."""

from __future__ import annotations

import click

__all__ = ["sandbox_command"]


@click.command(name="sandbox")
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
    from .. import sandbox

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
