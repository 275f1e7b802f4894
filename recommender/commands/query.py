"""`python -m recommender query`: the k products that best match a photo or a product id, in the shop's order."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from recommender.commands import positive_int
from recommender.errors import RecommenderError
from recommender.index import Filters, Hit, Index

if TYPE_CHECKING:
    from PIL import Image

    from recommender.engine import Recommender


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "query",
        help="find the catalogue products that look most like a photo or a product",
        description="The shop's order (visual neighbours, re-ranked), optionally filtered by attributes: each "
                    "result's match follows the order; its distance is the raw Euclidean one.",
    )
    parser.add_argument("--index", type=Path, required=True, metavar="DIR", help="index folder made by build")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, metavar="PATH", help="a photo to find look-alikes of")
    source.add_argument("--id", metavar="ID", help="a catalogue product id: more like this (itself left out)")
    parser.add_argument("--k", type=positive_int, default=10, metavar="N", help="number of results (default: 10)")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep products with this attribute value; repeat a key for OR, other keys AND")
    parser.add_argument("--look", action="store_true",
                        help="shop the look: find each garment of the photo (a box, its category, a confidence) "
                             "and search each one")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.engine import Recommender, hit_record
    from recommender.filters import parse_filter_items, unknown_values
    from recommender.images import open_image, upright_size
    from recommender.uploads import STORED_SIDE

    filters = parse_filter_items(args.filter)
    engine = Recommender.open(args.index)
    for note in unknown_values(engine.index, filters):
        print(note, file=sys.stderr)  # stderr, so that --json output stays valid JSON
    if args.look and args.image is None:
        raise RecommenderError("--look finds the garments of a photo: give it with --image PATH.")
    if args.image is not None:
        if not args.image.is_file():
            raise RecommenderError(f"There is no image file at {args.image}.")
        data = args.image.read_bytes()
        picture = open_image(data, longest=STORED_SIDE)  # decoded as the server decodes an upload of it, so the
        # photo's results and garments are those the page and the API give it
        if args.look:
            return _look(engine, picture, upright_size(data), args, filters, str(args.image))
        query, exclude, what = engine.embed_image(picture), (), str(args.image)
    else:
        query, exclude, what = engine.product_query(args.id), (args.id,), f"product {args.id}"
    hits = engine.search(query, args.k, engine.select(filters, exclude))
    if args.json:
        records = [{**hit_record(hit), "image": str(hit.product.image)} for hit in hits]
        tags = [tag.to_json() for tag in engine.tags(query, exclude)]
        print(json.dumps({"results": records, "tags": tags}, indent=1, ensure_ascii=False))
    else:
        print(_table(engine.index, hits, what, engine.random_weights) + _order_note(engine, hits))
    return 0


def _look(engine: Recommender, picture: Image.Image, size: tuple[int, int], args: argparse.Namespace,
          filters: Filters, what: str) -> int:
    """query --look: every garment of the photo with its results, as JSON or a table each; boxes in the pixels of
    the photo (`size`, upright), whatever size it was decoded at."""
    from recommender.engine import hit_record
    from recommender.looks import look_json, shop_the_look

    look = shop_the_look(engine, picture, args.k, filters)
    if args.json:
        answer = look_json(look, size, lambda hit: {**hit_record(hit), "image": str(hit.product.image)})
        print(json.dumps(answer, indent=1, ensure_ascii=False))
        return 0
    for garment, hits in look:
        box = ", ".join(str(v) for v in garment.pixels(size))
        print(f"{garment.category} ({garment.confidence:.2f}) at [{box}]: " +
              _table(engine.index, hits, what, engine.random_weights) + "\n")
    print(_order_note(engine, [hit for _, hits in look for hit in hits]).strip())
    return 0


def _order_note(engine: Recommender, hits: list[Hit]) -> str:
    """Why the raw distance need not rise down a re-ranked list (nothing for an index ranked by distance alone)."""
    if not hits or not engine.ranker.reranks:
        return ""
    return ("\n(match follows the shop's order, the pictures re-ranked by kind and colour; raw-distance is their "
            "distance before it, so it need not rise down the list)")


def _table(index: Index, hits: list[Hit], what: str, random_weights: bool) -> str:
    lines = [f"{len(hits)} best matches for {what}:" if hits else f"No product matches the filters for {what}."]
    if random_weights:
        lines.append("(index built with random weights: the ranking is not meaningful)")
    if hits:
        shown = [a for _, a in index.roles.filters() if a]
        rows = [["rank", "match", "raw-distance", "id", *shown, "name"]]
        rows += [[str(h.rank), "" if h.match is None else f"{h.match:.0%}", f"{h.distance:.5g}", h.id,
                  *(h.product.attributes.get(a, "") for a in shown),
                  h.product.name[:50]] for h in hits]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)
