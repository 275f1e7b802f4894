"""`python -m recommender benchmark`: an alias of `python -m bench`, kept because issues and the README quote it.

The benchmark is developer tooling outside the product package; this command hands its arguments over
by module name when it runs, so importing `recommender` never imports the tooling.
"""

from __future__ import annotations

import argparse
import importlib

from recommender.errors import RecommenderError

TOOLING = "bench.cli"
PROG = "python -m recommender benchmark"


def register(subparsers: argparse._SubParsersAction) -> None:
    # No options of its own: prefix_chars that no argument uses lets every word (--help included) reach the tooling.
    parser = subparsers.add_parser("benchmark", add_help=False, prefix_chars="\0",
                                   help="measure embedding throughput, query latency, build time and app start-up "
                                        "(alias of python -m bench)")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        tooling = importlib.import_module(TOOLING)
    except ModuleNotFoundError as exc:
        if exc.name != "bench":
            raise
        raise RecommenderError("the benchmark is developer tooling in the repository's bench/ folder: "
                               "run this command from the repository root") from None
    return tooling.main(args.arguments, prog=PROG)
