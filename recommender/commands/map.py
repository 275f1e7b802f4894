"""`python -m recommender map`: compute and store the 2-D layout the Map page draws."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "map",
        help="compute the 2-D map of an index's catalogue (t-SNE) for the Map page",
        description="Lay the index's products out in two dimensions (PCA to 50 dimensions, then t-SNE) and store "
                    "the layout in the index folder (map.npy and map.json), where the Map page reads it. Build and "
                    "train make it too; run this for an index built before maps existed.",
    )
    parser.add_argument("--index", type=Path, required=True, metavar="DIR", help="index folder")
    parser.add_argument("--seed", type=int, default=0, help="t-SNE's seed (default: 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.catalogue_map import write_map
    from recommender.index_files import read_index

    files = read_index(args.index)
    made = write_map(args.index, files.vectors, seed=args.seed,
                     progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"map of {len(made.xy)} products written to {args.index} in {made.seconds:.1f} s.")
    return 0


def add_map_argument(parser: argparse.ArgumentParser) -> None:
    """`--no-map` for the commands that write an index (build, train): they make its map by default."""
    parser.add_argument("--no-map", action="store_true",
                        help="do not compute the catalogue's map (t-SNE, minutes on 40k products); "
                             "make it later with python -m recommender map")


def make_map(args: argparse.Namespace, out: Path) -> None:
    """After build or train: the new index's map, unless --no-map; one line says what was made."""
    if args.no_map:
        return
    import numpy as np

    from recommender.catalogue_map import write_map

    made = write_map(out, np.load(Path(out) / "vectors.npy", mmap_mode="r"),
                     progress=None if args.no_progress else lambda line: print(line, file=sys.stderr, flush=True))
    print(f"Map: {len(made.xy)} products laid out in {made.seconds:.1f} s.")
