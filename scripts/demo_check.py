"""Does the demo give the same kind of garment, and adults' things for adults? Real photos as uploads.

Usage: python scripts/demo_check.py [--photos ../shared/data/clothing-small/validation] [--index embeddings/demo-index]
                                    [--no-age]

Kinds: for each photo of the clothing-small validation folders (photos the demo catalogue does not
hold), the ten results of the served demo index, ranked as the page ranks them: prints per kind the
mean share of them that are its own kind (and the kinds that took the rest), and how many photos got a
majority of their own kind. The issue's target: at least 60 % for dress, pants, shoes, t-shirt, hat and
skirt, and no kind at 0.

Age, on shoppers' photos: clothing-small has no age label, so 180 of its validation photos of the six
target kinds were labelled by eye (demo/clothing-small-ages.csv: 175 adults', 5 children's; the 34 that
could not be told apart are left out). Printed: the share of adults' items among an adult's photo's ten
results, per kind, against the demo catalogue's share of adults' items of that kind.

Age, on the demo's own photos, which have a label, without letting a head see them: a head is trained as the demo trains its own, on the half of the catalogue
that Holdout(0.5, seed) keeps, and each photo of the other half queries that index (itself left out).
Printed: the share of adults' items in the ten results of an adult's photo, and of kids' items for a
kid's, against their share of the catalogue. Build the demo index first (`bash scripts/demo.sh`, or
`python -c "from recommender.demo_index import ensure_demo_index; from recommender.settings import
Settings; ensure_demo_index(Settings.from_env())"`).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.demo_index import DEMO_PHOTOS_KNOWN, DEMO_PHOTOS_KNOWN_WEIGHT  # noqa: E402
from recommender.engine import Recommender  # noqa: E402
from recommender.errors import RecommenderError  # noqa: E402
from recommender.images import open_image  # noqa: E402
from recommender.index import Index  # noqa: E402
from recommender.manifest import Holdout  # noqa: E402

# clothing-small folder -> demo category; the first six are the target kinds
KINDS = {"dress": "Dress", "pants": "Pants", "shoes": "Shoes", "t-shirt": "T-shirt", "hat": "Hat", "skirt": "Skirt",
         "longsleeve": "Long-sleeve top", "outwear": "Outerwear", "shirt": "Shirt", "shorts": "Shorts"}
TARGET_KINDS, TARGET = 6, 0.6
AGE = "age"
AGE_LABELS = ROOT / "demo" / "clothing-small-ages.csv"


def kinds(engine: Recommender, photos: Path, ages: dict[str, str]) -> None:
    """Per kind, the share of the ten results that are that kind; for photos labelled adults', of adults' items."""
    category = engine.index.roles.category
    adults: dict[str, list[float]] = {}
    first: dict[str, list[bool]] = {}  # an adult's photo: is its first result an adults' item
    for n, (folder, wanted) in enumerate(KINDS.items()):
        files = sorted((photos / folder).glob("*.jpg"))
        shares: Counter[str] = Counter()
        majority = 0
        for photo in files:
            hits = engine.query_image(open_image(photo), 10)
            found = Counter(hit.product.attributes[category] for hit in hits)
            shares.update({c: k / 10 / len(files) for c, k in found.items()})
            majority += found[wanted] > 5
            if ages.get(f"{folder}/{photo.name}") == "Adults":
                adults.setdefault(folder, []).append(sum(h.product.attributes[AGE] == "Adults" for h in hits) / 10)
                first.setdefault(folder, []).append(hits[0].product.attributes[AGE] == "Adults")
        others = ", ".join(f"{c} {s:.0%}" for c, s in shares.most_common(4) if c != wanted)
        mark = ("MET" if shares[wanted] >= TARGET else "MISS") if n < TARGET_KINDS else "   "
        print(f"{mark} {folder:10} ({len(files):2} photos): own kind {shares[wanted]:4.0%} of the ten results, "
              f"majority {majority:2} of {len(files):2}; then {others}")
    if adults:
        products = engine.index.products
        for folder, share in adults.items():
            kind = [p for p in products if p.attributes[category] == KINDS[folder]]
            print(f"adults' {folder} ({len(share)} photos labelled by eye): {sum(share) / len(share):.0%} of their ten "
                  f"results are adults' items, first result {sum(first[folder])} of {len(share)} (the demo's {KINDS[folder]}: "
                  f"{sum(p.attributes[AGE] == 'Adults' for p in kind) / len(kind):.0%})")
        every = [x for share in adults.values() for x in share]
        firsts = [x for kind in first.values() for x in kind]
        print(f"adults' photos ({len(every)}): {sum(every) / len(every):.0%} of their ten results are adults' items, "
              f"first result {sum(firsts)} of {len(firsts)}")


def labelled_ages(path: Path) -> dict[str, str]:
    """clothing-small photo ("kind/file.jpg") -> "Adults" or "Kids", as labelled by eye."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["photo"]: row["age"] for row in csv.DictReader(handle)}


def ages(backbone: Path, seed: int, photo_age: str, age_weight: float) -> None:
    """Held-out demo photos: the share of their own age group among their ten results (the head also learns
    from the shipped shoppers' photos, as the demo's does, each taken to be of `photo_age` unless "none", that
    age's loss weighed by `age_weight`)."""
    from recommender.demo_index import DEMO_LABEL_MAP, DEMO_SHOPPER_PHOTOS
    from recommender.label_map import read_label_map
    from recommender.shopper_photos import shopper_photo_targets
    from recommender.trained_index import train_index

    index = Index.load(backbone, ann=False)
    holdout = Holdout(0.5, seed)
    photos = shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, read_label_map(DEMO_LABEL_MAP),
                                   known=None if photo_age == "none" else {AGE: photo_age}, known_weight=age_weight)
    with tempfile.TemporaryDirectory() as folder:
        train_index(index, Path(folder) / "half", holdout=holdout, log=io.StringIO(), photo_rows=photos)
        engine = Recommender.open(Path(folder) / "half")
        held = [p for p in engine.index.products if holdout.contains(p.id)]
        catalogue = Counter(p.attributes[AGE] for p in engine.index.products)
        for group in sorted(catalogue):
            queries = [p for p in held if p.attributes[AGE] == group]
            own = [sum(h.product.attributes[AGE] == group for h in engine.query_id(p.id, 10)) / 10 for p in queries]
            first = [engine.query_id(p.id, 1)[0].product.attributes[AGE] == group for p in queries]
            print(f"{group}' photos ({len(queries)} held out): {sum(own) / len(own):.0%} of their ten results are "
                  f"{group.lower()}' items, first result {sum(first) / len(first):.0%} "
                  f"(the catalogue: {catalogue[group] / len(engine.index):.0%})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/clothing-small/validation")
    parser.add_argument("--index", type=Path, default=ROOT / "embeddings/demo-index")
    parser.add_argument("--no-age", action="store_true", help="skip the age check (it trains a head: ~15 s)")
    parser.add_argument("--age-seed", type=int, default=0, help="the held-out half of the age check (the ranking's "
                        "age weight was chosen with seed 1; the README reports seed 0)")
    parser.add_argument("--no-kinds", action="store_true", help="only the age check")
    parser.add_argument("--photo-age", default=DEMO_PHOTOS_KNOWN.get(AGE, "none"),
                        help="the age check's head: the age every shopper's photo is taken to have (none: no age)")
    parser.add_argument("--photo-age-weight", type=float, default=DEMO_PHOTOS_KNOWN_WEIGHT,
                        help="that age's loss against the photo's kind (PhotoTargets.known_weight)")
    args = parser.parse_args(argv)
    missing = None if args.no_kinds else missing_photos(args.photos)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    try:
        if not args.no_kinds:
            kinds(Recommender.open(args.index), args.photos, labelled_ages(AGE_LABELS))
        if not args.no_age:
            ages(args.index.with_name(f"{args.index.name}-backbone"), args.age_seed, args.photo_age,
                 args.photo_age_weight)
    except RecommenderError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def missing_photos(photos: Path) -> str | None:
    """One sentence saying which photos the kinds check lacks (None: each kind has some), instead of 0 % scores."""
    empty = [folder for folder in KINDS if not any((photos / folder).glob("*.jpg"))]
    if not empty:
        return None
    where = f"{photos} does not exist" if not photos.is_dir() else f"{photos} has no .jpg in {', '.join(empty)}"
    return (f"No shopper photos to check the kinds with: {where} (clothing-small's validation folders, one per "
            "kind, in ../shared/data; give them with --photos DIR, or skip the check with --no-kinds).")


if __name__ == "__main__":
    raise SystemExit(main())
