"""`python -m recommender ann`: add, replace or remove the approximate-search (FAISS) index of an index folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_ann_argument(parser: argparse.ArgumentParser) -> None:
    """--ann, as build, train and this command take it."""
    from recommender.ann import EXACT_BELOW, KINDS

    parser.add_argument("--ann", choices=KINDS, default="auto",
                        help=f"approximate search: hnsw (graph, best recall), ivfpq (compressed, for catalogues "
                             f"that do not fit in memory) or none (exact); auto (default): exact below "
                             f"{EXACT_BELOW:,} products, hnsw above")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ann",
        help="add or rebuild the approximate-search index of an index folder",
        description="Build the FAISS index of an existing index folder's vectors and store it beside them "
                    "(or remove it with --ann none). The vectors themselves are not touched.",
    )
    parser.add_argument("--index", type=Path, required=True, metavar="DIR", help="index folder")
    add_ann_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def describe(info: object) -> str:
    if info is None:
        return "exact search (no approximate-search index)"
    params = ", ".join(f"{k}={v}" for k, v in info.params.items() if v is not None)
    return f"{info.kind} ({params}) over {info.count:,} vectors, built in {info.build_seconds:.1f} s"


def run(args: argparse.Namespace) -> int:
    from recommender.ann import add_ann, resolve_kind
    from recommender.index_files import remove_ann
    from recommender.manifest import read_manifest

    manifest = read_manifest(args.index)
    if resolve_kind(args.ann, manifest.count) == "none":
        remove_ann(args.index)
        info = None
    else:
        info = add_ann(args.index, args.ann, progress=not args.no_progress)
    print(f"{args.index}: {describe(info)}.")
    return 0
