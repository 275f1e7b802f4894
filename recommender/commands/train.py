"""`python -m recommender train`: a head trained on an index's own vectors, written as a new index folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recommender.commands import positive_int
from recommender.commands.ann import add_ann_argument, describe
from recommender.commands.map import add_map_argument, make_map
from recommender.embedding_cache import DEFAULT_CACHE
from recommender.errors import RecommenderError
from recommender.training import TrainSettings


def fraction(text: str) -> float:
    """argparse type: a share from 0 to below 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not from 0 to below 1")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a head on an index's vectors (catalogue labels, optional labelled photos)",
        description=("Train a small head on the vectors of a built index (no image is decoded again) with the "
                     "catalogue's labels as targets and, with --photos and --label-map, shoppers' photos tied to "
                     "catalogue values; write a new index whose vectors are the head's embedding."))
    add = parser.add_argument
    add("--index", type=Path, required=True, metavar="DIR", help="a built index (raw backbone vectors)")
    add("--out", type=Path, required=True, metavar="DIR", help="the trained index folder to write")
    add("--photos", type=Path, metavar="DIR", help="labelled photo folders (e.g. clothing-small/train)")
    add("--label-map", type=Path, metavar="CSV", help="ties the photos' values to the catalogue's")
    add("--views", type=Path, metavar="DIR",
        help="street-like views of the catalogue's products (python -m recommender views) to learn from too")
    add("--photo-views", type=Path, metavar="DIR",
        help="street-like views of the --photos (python -m recommender views --catalog PHOTOS) to learn from too")
    add("--view-weight", type=float, default=TrainSettings.view_weight, metavar="W",
        help=f"a view's loss against its product's or photo's (default: {TrainSettings.view_weight})")
    add("--photo-weight", type=float, default=TrainSettings.photo_weight, metavar="W",
        help=f"a shopper photo's loss against a catalogue product's (default: {TrainSettings.photo_weight})")
    add("--photo-balance", type=float, default=TrainSettings.photo_balance, metavar="B",
        help="a photo of a kind with n photos weighs n ** -B, scaled to a mean of 1 (default: "
             f"{TrainSettings.photo_balance}: every photo alike)")
    add("--class-balance", type=float, default=TrainSettings.class_balance, metavar="B",
        help="a product of a category value with n products weighs n ** -B, scaled to a mean of 1 (default: "
             f"{TrainSettings.class_balance}: every product alike)")
    add("--attributes", nargs="+", metavar="NAME",
        help="catalogue attributes to learn (default: each label with 2 to 200 values)")
    add("--holdout", type=fraction, default=0.1, metavar="FRACTION",
        help="share of products never trained on, what evaluate scores (default: 0.1)")
    add("--seed", type=int, default=0, help="random seed: the same seed trains the same head (default: 0)")
    add("--epochs", type=positive_int, default=20, help="passes over the data (default: 20)")
    add("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
        help=f"where the photos' and views' backbone indexes are kept (default: {DEFAULT_CACHE})")
    add_ann_argument(parser)
    add("--no-progress", action="store_true", help="no progress bar")
    add_map_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.ann import add_ann, resolve_kind
    from recommender.catalog import load_catalog
    from recommender.embedding_cache import cached_index
    from recommender.index import Index
    from recommender.label_map import read_label_map
    from recommender.manifest import Holdout
    from recommender.trained_index import train_index

    if (args.photos is None) != (args.label_map is None):
        raise RecommenderError("--photos and --label-map go together: the map says what each photo's category "
                               "is in the catalogue.")
    index = Index.load(args.index)
    if args.out.resolve() == index.path.resolve():
        raise RecommenderError("--out must be a new folder, not the index being trained from.")
    label_map = read_label_map(args.label_map) if args.label_map else None
    version = index.manifest.appearance_version  # photos and views described as the products were
    photos = cached_index(load_catalog(args.photos), index.model, args.cache, sys.stderr, version) if args.photos \
        else None
    views, photo_views = (cached_index(load_catalog(d), index.model, args.cache, sys.stderr, version) if d else None
                          for d in (args.views, args.photo_views))
    trained = train_index(index, args.out, photos=photos, label_map=label_map, views=views, photo_views=photo_views,
                          attributes=args.attributes,
                          holdout=Holdout(args.holdout, args.seed),
                          settings=TrainSettings(epochs=args.epochs, seed=args.seed, view_weight=args.view_weight,
                                                 photo_weight=args.photo_weight, photo_balance=args.photo_balance,
                                                 class_balance=args.class_balance),
                          progress=not args.no_progress and sys.stderr.isatty())
    print(f"wrote {args.out}: head {trained.head.id}, {trained.manifest.count:,} products, {trained.head.dim} "
          f"dimensions, {trained.seconds:.0f} s")
    if trained.accuracy:
        print("held-out classifier accuracy: " + ", ".join(f"{a} {s:.3f}" for a, s in trained.accuracy.items()))
    ann = None if resolve_kind(args.ann, trained.manifest.count) == "none" else add_ann(
        args.out, args.ann, progress=not args.no_progress)
    print(f"Search: {describe(ann)}.")
    make_map(args, args.out)
    return 0
