"""Do the tags and the results agree? Shoppers' photos queried as the search page queries them.

Usage: python scripts/tag_check.py --index DIR [--photos CATALOGUE] [--count 20] [--seed 0]
                                   [--boxes demo/clothing-small-shoe-boxes.csv] [--label-map CSV]

The page shows "Looks like: Shoes · Black" above ten results; a shopper reads them together, so the
first result should be of the kind the category tag names. For each photo this prints the category
tag and its confidence, the category of result #1, the share of the top 10 that is the tag's category,
and whether they agree (result #1 is of the tagged kind); then the same overall. With `--label-map`
(or when the index's categories are the photo folders' names, as the demo's are, case aside) it also
says whether the tag names the photo's own kind: agreeing on a wrong tag is agreement, not a hit.

Photos: `--photos` is a labelled catalogue (a folder per category, or a CSV; its category role
names each photo's kind). `--count` photos are drawn with `--seed`, spread over the kinds (each kind's
photos shuffled, then taken in turns), so a run is reproducible. With `--boxes` (a CSV `photo,box`,
the photo relative to `--photos`, the box as the page's URL writes it: "left,top,right,bottom" in
fractions), exactly those photos are queried, each whole and within its box, as a shopper's drag on
the page does (`recommender.regions.Box.crop` of the copy the server keeps, re-embedded).
`demo/clothing-small-shoe-boxes.csv` holds a box drawn by eye around the shoes of each of the 26
clothing-small validation shoe photos.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.catalog import Product, load_catalog  # noqa: E402
from recommender.engine import Recommender  # noqa: E402
from recommender.errors import RecommenderError  # noqa: E402
from recommender.images import open_image  # noqa: E402
from recommender.label_map import LabelMap, read_label_map  # noqa: E402
from recommender.regions import Box  # noqa: E402
from recommender.roles import Roles  # noqa: E402
from recommender.uploads import STORED_SIDE  # noqa: E402

RESULTS = 10


@dataclass(frozen=True)
class Check:
    """One query: what the page's tags say and what its results are."""

    name: str  # "shoes/1234.jpg", "· box" for a region
    tag: str | None  # the category tag's value (None: the index tags no category)
    confidence: float
    first: str | None  # the category of result #1
    share: float  # share of the top 10 of the tag's category
    right: bool | None  # the tag names the photo's own kind (None: not known)

    @property
    def agree(self) -> bool:
        return self.tag is not None and self.first == self.tag


def sample(products: list[Product], category: str, count: int, seed: int) -> list[Product]:
    """`count` photos spread over the kinds: each kind shuffled by `seed`, then one of each kind in turn."""
    kinds: dict[str, list[Product]] = defaultdict(list)
    for product in products:
        kinds[product.attributes.get(category, "")].append(product)
    rng = np.random.default_rng(seed)
    queues = [[kinds[k][i] for i in rng.permutation(len(kinds[k]))] for k in sorted(kinds)]
    picked: list[Product] = []
    while len(picked) < count and any(queues):
        picked += [q.pop(0) for q in queues if q][: count - len(picked)]
    return picked


def own_kind(kind: str, value: str | None, label_map: LabelMap | None) -> bool | None:
    """Whether an index category is the photo's kind: by the label map, else by name (case aside)."""
    if value is None:
        return None
    if label_map is not None:
        return value in label_map.values_for(kind)
    return value.casefold() == kind.casefold()


def check(engine: Recommender, product: Product, kind: str, box: Box | None, label_map: LabelMap | None,
          root: Path) -> Check:
    """One photo (or its box) queried as the page does: the kept copy's pixels, embedded; tags; ten results."""
    picture = open_image(product.image, longest=STORED_SIDE)
    code = engine.embed_image(picture if box is None else box.crop(picture))
    category = engine.index.roles.category
    tag = next((t for t in engine.tags(code) if t.role == "category"), None)
    kinds = [hit.product.attributes.get(category) for hit in engine.search(code, RESULTS)]
    value = None if tag is None else tag.value
    name = str(Path(product.image).relative_to(root)) + ("" if box is None else f" · box {box.key()}")
    return Check(name, value, 0.0 if tag is None else tag.confidence, kinds[0] if kinds else None,
                 sum(k == value for k in kinds) / RESULTS if value else 0.0, own_kind(kind, value, label_map))


def report(title: str, checks: list[Check]) -> None:
    """One line per query, then the overall figures."""
    print(f"\n{title}")
    print(f"{'agree':5} {'tag (confidence)':28} {'result #1':18} {'tag kind in top 10':>18}  photo")
    for c in checks:
        right = "" if c.right is None else (" (tag right)" if c.right else " (tag WRONG)")
        print(f"{'yes' if c.agree else 'NO':5} {f'{c.tag} ({c.confidence:.2f})':28} {str(c.first):18} "
              f"{c.share:18.0%}  {c.name}{right}")
    known = [c.right for c in checks if c.right is not None]
    share, confidence = np.mean([c.share for c in checks]), np.mean([c.confidence for c in checks])
    print(f"tags and results agree on {sum(c.agree for c in checks)} of {len(checks)}; on average {share:.0%} of the "
          f"top {RESULTS} are the tag's kind; mean tag confidence {confidence:.2f}"
          + (f"; the tag names the photo's own kind for {sum(known)} of {len(known)}" if known else ""))


def boxed(path: Path, root: Path, products: dict[Path, Product]) -> list[tuple[Product, Box]]:
    """The (photo, box) pairs of a boxes CSV; a photo not in the catalogue, or a box that is not one, is said and
    left out."""
    pairs = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            photo = row.get("photo") or ""
            product, box = products.get((root / photo).resolve()), Box.parse(row.get("box") or "")
            if product is None or box is None:
                print(f"left out: {photo!r} ({'not in ' + str(root) if product is None else 'not a box'})")
                continue
            pairs.append((product, box))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/clothing-small/validation")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boxes", type=Path, help="CSV photo,box: query these photos whole and within their box")
    parser.add_argument("--label-map", type=Path, help="CSV tying the photos' kinds to the index's categories")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be at least 1, not {args.count}.")
    catalog = load_catalog(args.photos)
    category = Roles.of({a for p in catalog.products for a in p.attributes}).category
    if category is None:
        parser.error(f"{args.photos} labels no category: the photos' kinds are needed.")
    engine = Recommender.open(args.index)
    label_map = read_label_map(args.label_map) if args.label_map else None
    root = catalog.root.resolve()
    if args.boxes:
        pairs = boxed(args.boxes, root, {Path(p.image).resolve(): p for p in catalog.products})
        if not pairs:
            parser.error(f"{args.boxes} names no photo of {root} with a box (a CSV with the columns photo,box).")
        report(f"{len(pairs)} photos of {args.boxes.name}, whole, on {args.index}",
               [check(engine, p, p.attributes[category], None, label_map, root) for p, _ in pairs])
        report(f"the same photos within their box, on {args.index}",
               [check(engine, p, p.attributes[category], b, label_map, root) for p, b in pairs])
    else:
        photos = sample(list(catalog.products), category, args.count, args.seed)
        report(f"{len(photos)} photos of {args.photos} (seed {args.seed}), on {args.index}",
               [check(engine, p, p.attributes[category], None, label_map, root) for p in photos])
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (RecommenderError, OSError) as exc:  # a missing catalogue, index or boxes file: its sentence
        raise SystemExit(f"tag_check: {exc}") from None
