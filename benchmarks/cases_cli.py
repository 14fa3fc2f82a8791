"""Start-up of the command line: ``imgframe --version``, ``--help`` and ``<cmd> --help``
against ``python -c "import click"`` (the least any click program pays), each a fresh
process, interleaved.

Run as ``python benchmarks/cases_cli.py [--quick]``. Byte-compiled modules are what an
installed package runs from, so each process may write and use ``__pycache__`` (the
environment's ``PYTHONDONTWRITEBYTECODE`` is dropped) and one warm-up run of each
contender comes first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable

from harness import CaseResult, Target, interleaved, log, md_table, ratio_target, seconds

#: The contenders: what is run after ``python``.
COMMANDS = {
    "import click": ["-c", "import click"],
    "imgframe --version": ["-c", "from imgframe.cli import main; main()", "--version"],
    "imgframe --help": ["-c", "from imgframe.cli import main; main()", "--help"],
    "imgframe export --help": ["-c", "from imgframe.cli import main; main()", "export", "--help"],
    "imgframe report --help": ["-c", "from imgframe.cli import main; main()", "report", "--help"],
}
BASELINE = "import click"
LIMIT = 2.0


def _process(args: list[str]) -> Callable[[], object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def start() -> object:
        done = subprocess.run(
            [sys.executable, *args], env=env, stdout=subprocess.DEVNULL, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args} exited {done.returncode}")
        return None

    return start


def run(quick: bool) -> CaseResult:
    rounds = 7 if quick else 15
    contenders = {name: _process(args) for name, args in COMMANDS.items()}
    for start in contenders.values():  # warm-up: byte-compile, fill the page cache
        start()
    log(f"cli: {rounds} interleaved rounds of {len(contenders)} processes")
    timings = interleaved(contenders, rounds)
    targets: list[Target] = []
    rows = []
    for name in COMMANDS:
        if name == BASELINE:
            continue
        ratio = timings.ratio(name, BASELINE)
        targets.append(
            ratio_target("cli", f"`{name}` within {LIMIT:g}x of `{BASELINE}`", ratio, LIMIT)
        )
        rows.append(
            [f"`{name}`", seconds(timings.summary(name)), seconds(timings.summary(BASELINE)),
             f"{ratio:.2f}x", "PASS" if ratio <= LIMIT else "MISS"]
        )  # fmt: skip
    markdown = "### CLI start-up\n\n" + md_table(
        ["command", "imgframe", f'`python -c "{BASELINE}"`', "ratio", f"≤ {LIMIT:g}x"], rows
    )
    return CaseResult("cli", {"timings": timings.summaries(), "rounds": rounds}, targets, markdown)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    result = run(parser.parse_args().quick)
    print(result.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
