"""`demo-catalog`: write the synthetic demo catalogue (Kaggle layout) to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from recommender.catalog import load_catalog
from recommender.commands import positive_int
from recommender.demo import write_demo_catalog
from recommender.settings import EMBEDDINGS_DIR

DEFAULT_OUT = EMBEDDINGS_DIR / "demo-catalog"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-catalog",
        help="write a synthetic catalogue (for tests and benchmarks)",
        description="Write a deterministic synthetic catalogue (styles.csv + images/) in the Kaggle layout.",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: embeddings/demo-catalog)")
    parser.add_argument("--n", type=positive_int, default=240, help="number of products (default: 240)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed writes the same files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = write_demo_catalog(args.out or DEFAULT_OUT, n=args.n, seed=args.seed)
    catalog = load_catalog(out)
    print(f"Wrote {len(catalog)} demo products to {out} (styles.csv + images/).")
    return 0
