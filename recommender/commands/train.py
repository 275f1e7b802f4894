"""`python -m recommender train`: a head trained on an index's own vectors, written as a new index folder."""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.commands import positive_int
from recommender.commands.ann import add_ann_argument, describe
from recommender.embedding_cache import DEFAULT_CACHE
from recommender.errors import RecommenderError

if TYPE_CHECKING:
    from recommender.head import Head
    from recommender.index import Index
    from recommender.index_format import Holdout
    from recommender.label_map import LabelMap
    from recommender.training import Labels, PhotoTargets

MAIN_WEIGHT, OTHER_WEIGHT = 1.0, 0.5  # category and colour weigh most: they are what the shopper sees
EMBED_BLOCK = 8192


def _fraction(text: str) -> float:
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
    add("--attributes", nargs="+", metavar="NAME",
        help="catalogue attributes to learn (default: each label with 2 to 200 values)")
    add("--holdout", type=_fraction, default=0.1, metavar="FRACTION",
        help="share of products never trained on, what evaluate scores (default: 0.1)")
    add("--seed", type=int, default=0, help="random seed: the same seed trains the same head (default: 0)")
    add("--epochs", type=positive_int, default=20, help="passes over the data (default: 20)")
    add("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
        help=f"where the photos' backbone index is kept (default: {DEFAULT_CACHE})")
    add_ann_argument(parser)
    add("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.ann import add_ann, resolve_kind
    from recommender.index import Index
    from recommender.index_format import HEAD, HUBNESS, Holdout, write_index
    from recommender.training import TrainSettings, hubness, train_head
    from recommender.vectors import unit_rows

    if (args.photos is None) != (args.label_map is None):
        raise RecommenderError("--photos and --label-map go together: the map says what each photo's category "
                               "is in the catalogue.")
    index = Index.load(args.index)
    if index.model.head is not None:
        raise RecommenderError(f"Index {args.index} is already a trained index (head {index.model.head}); train "
                               "from the backbone index it was made from.")
    if args.out.resolve() == index.path.resolve():
        raise RecommenderError("--out must be a new folder, not the index being trained from.")
    progress = not args.no_progress and sys.stderr.isatty()
    holdout = Holdout(args.holdout, args.seed)
    train_rows = np.flatnonzero(~holdout.mask(index.ids) & ~_blank(index))
    label_map = _label_map(args.label_map, index) if args.label_map else None
    labels = _labels(index, train_rows, args.attributes, label_map)
    photos = _photos(args, index, label_map, holdout) if label_map else None

    started = time.monotonic()
    raw = unit_rows(np.asarray(index.vectors))
    colours = index.appearance.colours if index.appearance is not None else None
    settings = TrainSettings(epochs=args.epochs, seed=args.seed)
    print(f"training a head on {len(train_rows):,} products ({len(index) - len(train_rows):,} held out)"
          + (f" and {sum(bool(a) for a in photos.allowed):,} photos" if photos else "") + ": "
          + ", ".join(f"{a} ({len(lab.vocabulary)} values)" for a, lab in labels.items()), flush=True)
    head = train_head(raw[train_rows], None if colours is None else colours[train_rows], labels, index.model,
                      index.manifest.catalog.fingerprint, photos, settings, progress).head
    embeddings = np.concatenate([head.embed(raw[i : i + EMBED_BLOCK], None if colours is None
                                            else colours[i : i + EMBED_BLOCK]) for i in range(0, len(raw), EMBED_BLOCK)])
    reference = head.embed(photos.vectors, photos.colours) if photos else None
    hubs = hubness(embeddings, reference)
    seconds = time.monotonic() - started

    manifest = replace(index.manifest, model=replace(index.model, head=head.id), dim=head.dim, normalized=True,
                       holdout=holdout, ann=None, build_seconds=seconds,
                       created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    hub_file = io.BytesIO()
    np.save(hub_file, hubs)
    write_index(args.out, manifest, index.products, embeddings, index.appearance,
                extra_files={HEAD: head.to_bytes(), HUBNESS: hub_file.getvalue()})
    print(f"wrote {args.out}: head {head.id}, {len(index):,} products, {head.dim} dimensions, {seconds:.0f} s")
    _report(head, embeddings, index, labels, holdout.mask(index.ids))
    ann = None if resolve_kind(args.ann, len(index)) == "none" else add_ann(args.out, args.ann,
                                                                           progress=not args.no_progress)
    print(f"Search: {describe(ann)}.")
    return 0


def _blank(index: Index) -> np.ndarray:
    return index.appearance.blank if index.appearance is not None else np.zeros(len(index), bool)


def _label_map(path: Path, index: Index) -> LabelMap:
    from recommender.label_map import read_label_map

    label_map = read_label_map(path)
    if label_map.index_attribute not in index.attributes():
        raise RecommenderError(f"The label map {path} ties photos to {label_map.index_attribute!r}, which the "
                               f"catalogue of index {index.path} does not have.")
    return label_map


def _labels(index: Index, rows: np.ndarray, chosen: list[str] | None, label_map: LabelMap | None) -> dict[str, Labels]:
    """The targets: the chosen (or every labelled) attribute, learnt on the training rows only."""
    from recommender.evaluation.metrics import default_attributes
    from recommender.training import encode

    records = [index.products[i].attributes for i in rows]
    present = index.attributes()
    unknown = [a for a in chosen or [] if a not in present]
    if unknown:
        raise RecommenderError(f"The catalogue of index {index.path} has no attribute {', '.join(unknown)}; it has "
                               f"{', '.join(present)}.")
    computed = set(index.manifest.computed)
    names = chosen or [a for a in default_attributes(records) if a not in computed]
    if label_map is not None and label_map.index_attribute not in names:
        names.append(label_map.index_attribute)
    roles = index.roles
    main = {roles.category, roles.colour}
    labels = {a: encode([r.get(a) for r in records], 5, MAIN_WEIGHT if a in main else OTHER_WEIGHT) for a in names}
    labels = {a: lab for a, lab in labels.items() if len(lab.vocabulary) >= 2}
    if not labels:
        raise RecommenderError(f"The catalogue of index {index.path} has no labels to learn (no attribute with 2 to "
                               "200 values, each on at least 5 products); a head cannot be trained, and its tags "
                               "come from the nearest neighbours.")
    return labels


def _photos(args: argparse.Namespace, index: Index, label_map: LabelMap, holdout: Holdout) -> PhotoTargets:
    """The labelled photos embedded by the index's backbone (cached), each with its allowed catalogue values."""
    from recommender.catalog import load_catalog
    from recommender.embedding_cache import cached_index
    from recommender.training import PhotoTargets
    from recommender.vectors import unit_rows

    catalog = load_catalog(args.photos)
    photos = cached_index(catalog, index.model, args.cache, sys.stderr)
    values = [p.attributes.get(label_map.query_attribute) for p in photos.products]
    if not any(values):
        raise RecommenderError(f"The photos in {args.photos} have no {label_map.query_attribute!r} label that the "
                               f"label map {args.label_map} names.")
    warning = label_map.check({v for v in values if v}, {p.attributes.get(label_map.index_attribute)
                                                         for p in index.products})
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    # the photos the holdout rule picks are kept out too, so that the ranking's weights can be chosen on
    # photos the head never saw (scripts/tune_ranking.py)
    rows = np.flatnonzero(~holdout.mask(photos.ids))
    colours = photos.appearance.colours[rows] if index.appearance is not None else None
    return PhotoTargets(unit_rows(np.asarray(photos.vectors)[rows]), colours, label_map.index_attribute,
                        [label_map.values_for(values[i]) for i in rows])


def _report(head: Head, embeddings: np.ndarray, index: Index, labels: dict[str, Labels], held: np.ndarray) -> None:
    """How often the head's classifiers name the held-out products' labels: a first check, not the benchmark."""
    from recommender.training import Labels, accuracy

    rows = np.flatnonzero(held)
    if not len(rows):
        return
    truth = {}
    for attribute, lab in labels.items():
        lookup = {v: code for code, v in enumerate(lab.vocabulary)}
        codes = [lookup.get(index.products[i].attributes.get(attribute, ""), -1) for i in rows]
        truth[attribute] = Labels(np.array(codes, dtype=np.int64), lab.vocabulary)
    scores = accuracy(head, embeddings[rows], truth)
    print("held-out classifier accuracy: " + ", ".join(f"{a} {s:.3f}" for a, s in scores.items()))
