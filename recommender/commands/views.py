"""`python -m recommender views`: street-like views of a catalogue's products, as a catalogue of their own."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from recommender.commands import positive_int
from recommender.commands.train import fraction


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "views", help="write street-like views of products (worn-garment training data or a development set)",
        description=("Write views of a catalogue's product pictures as a shopper's phone would see the garment worn "
                     "(loose or cut-off framing, clutter behind, an arm or a bag in front, blur, light, JPEG, "
                     "mirroring) into a new CSV catalogue with the products' labels and a 'source' column. Build it "
                     "like any catalogue; train --views learns from it, evaluate --queries scores it."))
    add = parser.add_argument
    add("--catalog", type=Path, required=True, metavar="DIR", help="the product catalogue (any layout)")
    add("--out", type=Path, required=True, metavar="DIR", help="the views' catalogue folder to write")
    add("--products", choices=("all", "training", "held-out"), default="all",
        help="all products, or those a head trains on / holds out under --holdout and --holdout-seed")
    add("--holdout", type=fraction, default=0.1, metavar="FRACTION", help="as train's --holdout (default: 0.1)")
    add("--holdout-seed", type=int, default=0, metavar="SEED", help="as train's --seed (default: 0)")
    add("--split", choices=("all", "tune", "report"), default="all",
        help="a half of the chosen products by hash: 'tune' to choose settings on, 'report' for the figures")
    add("--where", action="append", default=[], metavar="KEY=VALUE",
        help="only products with this value (repeat: several values of one key mean any of them)")
    add("--label-map", type=Path, metavar="CSV",
        help="also name each view in the map's query terms (e.g. clothing-small's category), to score as those photos")
    add("--per-product", type=positive_int, default=1, metavar="N", help="views of each product (default: 1)")
    add("--seed", type=int, default=0, help="the views' random seed (default: 0)")
    add("--workers", type=positive_int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    add("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.catalog import load_catalog
    from recommender.filters import parse_filter_items
    from recommender.label_map import read_label_map
    from recommender.manifest import Holdout
    from recommender.view_catalog import ViewSelection, select_products, write_views

    catalog = load_catalog(args.catalog)
    selection = ViewSelection(args.products, Holdout(args.holdout, args.holdout_seed), args.split,
                              parse_filter_items(args.where))
    products = select_products(catalog, selection)
    print(f"{len(products):,} products, {args.per_product} view(s) each", file=sys.stderr, flush=True)
    written = write_views(catalog, products, args.out, per_product=args.per_product, seed=args.seed,
                          workers=args.workers, label_map=read_label_map(args.label_map) if args.label_map else None,
                          progress=not args.no_progress and sys.stderr.isatty())
    print(f"wrote {args.out}: {written:,} views of {len(products):,} products"
          + (f" ({len(products) * args.per_product - written:,} unreadable pictures skipped)"
             if written < len(products) * args.per_product else ""))
    return 0
