"""`python -m bench`: the benchmark, run from the repository root."""

import sys

from recommender.cli import report_errors

from bench.cli import main

if __name__ == "__main__":
    sys.exit(report_errors(lambda: main(sys.argv[1:])))
