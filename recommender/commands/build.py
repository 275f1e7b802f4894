"""`python -m recommender build`: embed a catalogue into an index folder (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from recommender.catalog import Skipped
from recommender.commands import positive_int
from recommender.commands.ann import add_ann_argument, describe
from recommender.commands.map import add_map_argument, make_map
from recommender.model_spec import ModelSpec
from recommender.settings import EMBEDDINGS_DIR

SHOW_SKIPPED = 20  # skipped entries named per reason in the summary; the manifest lists all


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build",
        help="embed a catalogue's images into an index folder",
        description=(
            "Embed every catalogue image with a CNN backbone and write an index folder (vectors.npy, ids.json, "
            "products.jsonl, manifest.json). Interrupted builds resume when the same command is run again."
        ),
    )
    parser.add_argument("--catalog", type=Path, required=True, metavar="DIR",
                        help="catalogue: Kaggle styles.csv + images/, one folder per category, or a CSV file")
    add_outside_argument(parser)
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help=f"index folder to write (default: {EMBEDDINGS_DIR}/<catalogue name>-<model>)")
    add_model_arguments(parser)
    parser.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="images per model batch")
    parser.add_argument("--chunk-size", type=positive_int, default=1024, metavar="N",
                        help="products per saved chunk: the unit of resumption")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="image decoding threads (default: one per CPU)")
    parser.add_argument("--engine", choices=("local", "spark"), default="local",
                        help="local: this process (default); spark: the chunks on Spark executors (pyspark + Java, "
                             "see README 'Scaling out')")
    parser.add_argument("--master", default="local[*]", metavar="URL",
                        help="Spark master with --engine spark: local[N], spark://host:7077, yarn (default: local[*])")
    add_ann_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_map_argument(parser)
    parser.set_defaults(func=run)


def add_outside_argument(parser: argparse.ArgumentParser) -> None:
    """--images-outside-catalog, as build and evaluate take it."""
    parser.add_argument("--images-outside-catalog", action="store_true",
                        help="let a CSV catalogue name images outside its own folder (../x.jpg, /srv/x.jpg); "
                             "without it they are skipped, as the app would serve those files to anyone")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--backbone and --weights, as build and evaluate take them."""
    parser.add_argument("--backbone", default="resnet50", metavar="NAME|PATH.tflite",
                        help="Keras backbone name (default: resnet50) or a TensorFlow Lite extractor file")
    parser.add_argument("--weights", default="imagenet", metavar="imagenet|none|PATH",
                        help="imagenet (downloaded by Keras), none (random, for tests) or a weights file")


def default_out(catalog: Path, spec: ModelSpec) -> Path:
    return EMBEDDINGS_DIR / f"{catalog.resolve().name}-{spec.slug}"


def skipped_lines(skipped: tuple[Skipped, ...], most: int = SHOW_SKIPPED) -> list[str]:
    """One line per skipped reason naming the entries, so a merchant can fix exactly those rows."""
    by_reason: dict[str, list[str]] = {}
    for entry in skipped:
        by_reason.setdefault(entry.reason, []).append(entry.ref)
    lines = []
    for reason, refs in by_reason.items():
        more = f" and {len(refs) - most} more (all in manifest.json)" if len(refs) > most else ""
        lines.append(f"  {reason}: {', '.join(refs[:most])}{more}")
    return lines


def run(args: argparse.Namespace) -> int:
    from recommender.ann import add_ann, resolve_kind
    from recommender.backbones import load_extractor
    from recommender.build import build_index
    from recommender.catalog import load_catalog
    from recommender.index_files import remove_ann

    spec = ModelSpec.parse(args.backbone, args.weights)
    out = args.out or default_out(args.catalog, spec)
    catalog = load_catalog(args.catalog, images_outside=args.images_outside_catalog)
    if args.engine == "spark":
        from recommender.spark_build import build_index_spark

        manifest = build_index_spark(catalog, out, spec, master=args.master, batch_size=args.batch_size,
                                     chunk_size=args.chunk_size, progress=not args.no_progress)
    else:
        extractor = load_extractor(spec)
        manifest = build_index(catalog, out, extractor, batch_size=args.batch_size, chunk_size=args.chunk_size,
                               workers=args.workers, progress=not args.no_progress)
    skipped = ", ".join(f"{n} {reason}" for reason, n in manifest.skipped_counts().items()) or "none"
    print(f"Index written to {out}: {manifest.count} products, {manifest.dim}-d vectors from "
          f"{manifest.model.label}; skipped: {skipped}.")
    for line in skipped_lines(manifest.skipped):
        print(line)
    if resolve_kind(args.ann, manifest.count) == "none":
        remove_ann(out)  # a rebuilt index never keeps the ANN of earlier vectors
        ann = None
    else:
        ann = add_ann(out, args.ann, progress=not args.no_progress)
    print(f"Search: {describe(ann)}.")
    make_map(args, out)
    if manifest.random_weights:
        print("Note: random weights: rankings from this index are not meaningful.")
    return 0
