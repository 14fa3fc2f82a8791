"""``python -m imgframe.sandbox [--images N] [--seed S] [--day D] [--port P] [--instances N]
[--copies SHARE]``: serve a sandbox until Ctrl-C, printing its endpoint and the demo
credentials."""

from __future__ import annotations

import argparse

from imgframe.sandbox.server import Sandbox


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m imgframe.sandbox", description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--day", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--instances", type=int, default=None, help="default: images / 5")
    parser.add_argument("--copies", type=float, default=0.0, help="share copied to regions")
    args = parser.parse_args(argv)
    sb = Sandbox(
        images=args.images, seed=args.seed, day=args.day, latency_ms=args.latency_ms,
        port=args.port, instances=args.instances, copies=args.copies,
    )  # fmt: skip
    sb.start()
    print(
        f"imgframe sandbox on {sb.endpoint} ({len(sb.catalog)} images, "
        f"{sum(sb.catalog.usage().values())} instances, day {args.day})"
    )
    print(f"  ZENLAYER_ENDPOINT={sb.endpoint}")
    print(f"  ZENLAYER_ACCESS_KEY_ID={sb.access_key_id}")
    print(f"  ZENLAYER_ACCESS_KEY_SECRET={sb.access_key_secret}")
    print(f"  ZENLAYER_TOKEN={sb.token}")
    print("Ctrl-C to stop.", flush=True)
    sb.serve_forever()


if __name__ == "__main__":
    main()
