"""Command-line interface: a thin layer of subcommands over the library.

Each subcommand lives in `recommender.commands.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable
`(args) -> int`. Expected errors (subclasses of `RecommenderError`, and operating-system
errors such as a folder that cannot be written) are printed as one sentence, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from recommender.errors import RecommenderError

COMMANDS = ("demo_catalog", "build", "ann", "query", "evaluate", "train", "views", "looks_set", "benchmark",
            "audit", "learn", "map")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recommender",
        description="Visual fashion recommender: build and query image-embedding indexes.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"recommender.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return report_errors(lambda: args.func(args))


def report_errors(command: Callable[[], int | None]) -> int:
    """Run a command; an expected error becomes one sentence on stderr and status 2 (shared with `python -m bench`)."""
    try:
        return int(command() or 0)
    except RecommenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. no permission to write --out, disk full: the system's own words suffice
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
