"""`python -m recommender query`: the k catalogue products nearest to a photo or to a product id."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from recommender.commands import positive_int
from recommender.errors import RecommenderError
from recommender.index import Hit, Index

TABLE_ATTRIBUTES = ("gender", "articleType", "category", "baseColour")
SHOWN_VALUES = 12  # values listed when a filter names one the index does not hold


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "query",
        help="find the catalogue products that look most like a photo or a product",
        description="Exact Euclidean nearest neighbours in an index, optionally filtered by attributes.",
    )
    parser.add_argument("--index", type=Path, required=True, metavar="DIR", help="index folder made by build")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, metavar="PATH", help="a photo to find look-alikes of")
    source.add_argument("--id", metavar="ID", help="a catalogue product id: more like this (itself left out)")
    parser.add_argument("--k", type=positive_int, default=10, metavar="N", help="number of results (default: 10)")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep products with this attribute value; repeat a key for OR, other keys AND")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    """["gender=Women", "gender=Unisex", "baseColour=Blue"] -> {"gender": ["Women", "Unisex"], ...}."""
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise RecommenderError(f"Bad --filter {item!r}: write KEY=VALUE, e.g. --filter gender=Women.")
        filters.setdefault(key.strip(), []).append(value.strip())
    return filters


def unknown_values(index: Index, filters: Mapping[str, Sequence[str]]) -> list[str]:
    """One note per filter value that no product has (a typo such as gender=women matches nothing).

    Such a filter is not an error (the answer "no match" is right), but saying why saves a puzzled user.
    """
    notes = []
    for name, values in filters.items():
        known = index.attribute_values(name)  # RecommenderError for an unknown attribute
        for value in values:
            if value not in known:
                listed = ", ".join(list(known)[:SHOWN_VALUES]) + (", ..." if len(known) > SHOWN_VALUES else "")
                notes.append(f"note: no product has {name} {value!r}; the values of {name} are: {listed}.")
    return notes


def run(args: argparse.Namespace) -> int:
    from recommender.engine import Recommender

    filters = parse_filters(args.filter)
    engine = Recommender.open(args.index)
    for note in unknown_values(engine.index, filters):
        print(note, file=sys.stderr)  # stderr, so that --json output stays valid JSON
    if args.image is not None:
        if not args.image.is_file():
            raise RecommenderError(f"There is no image file at {args.image}.")
        hits = engine.query_image(args.image, args.k, filters)
        what = str(args.image)
    else:
        hits = engine.query_id(args.id, args.k, filters)
        what = f"product {args.id}"
    if args.json:
        print(json.dumps({"results": [_record(hit) for hit in hits]}, indent=1, ensure_ascii=False))
    else:
        print(_table(hits, what, engine.random_weights))
    return 0


def _record(hit: Hit) -> dict:
    return {"rank": hit.rank, "id": hit.id, "distance": hit.distance,
            "attributes": hit.product.attributes, "image": str(hit.product.image)}


def _table(hits: list[Hit], what: str, random_weights: bool) -> str:
    lines = [f"{len(hits)} nearest to {what}:" if hits else f"No product matches the filters for {what}."]
    if random_weights:
        lines.append("(index built with random weights: the ranking is not meaningful)")
    if hits:
        shown = [a for a in TABLE_ATTRIBUTES if any(a in h.product.attributes for h in hits)]
        rows = [["rank", "distance", "id", *shown, "name"]]
        rows += [[str(h.rank), f"{h.distance:.5g}", h.id, *(h.product.attributes.get(a, "") for a in shown),
                  h.product.name[:50]] for h in hits]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
