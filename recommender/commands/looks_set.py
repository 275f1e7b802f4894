"""`python -m recommender looks-set`: the development looks with known garment boxes (`recommender.looks_set`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from recommender.commands import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "looks-set", help="make looks with known garment boxes from a trained Kaggle index's held-out products",
        description=("Compose looks (a top and bottoms or a dress, shoes, sometimes a hat and a bag, pasted onto a "
                     "cluttered scene) and single product shots from the products a trained index's head never "
                     "saw; write OUT/dev and OUT/test, each images/ plus garments.csv (image,class,x0,y0,x1,y1)."))
    add = parser.add_argument
    add("--index", type=Path, required=True, metavar="DIR", help="a trained index of a Kaggle-layout catalogue")
    add("--out", type=Path, required=True, metavar="DIR", help="the folder to write dev/ and test/ into")
    add("--count", type=positive_int, default=150, metavar="N", help="looks per split (default: 150)")
    add("--seed", type=int, default=0, help="the same seed makes the same looks (default: 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.errors import RecommenderError
    from recommender.index import Index
    from recommender.looks_set import make_looks

    index = Index.load(args.index, ann=False)
    holdout = index.manifest.holdout
    if holdout is None or holdout.fraction == 0:
        raise RecommenderError(f"Index {args.index} keeps no held-out products (train it with --holdout above 0): "
                               "looks made of products its head was trained on would flatter it.")
    products = [p for p in index.products if holdout.contains(p.id)]
    for split in ("dev", "test"):
        rows = make_looks(products, args.out / split, args.count, args.seed, split)
        print(f"{split}: {args.count} looks, {rows} garments in {args.out / split}")
    return 0
