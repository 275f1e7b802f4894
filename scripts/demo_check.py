"""Does the demo give the same kind of garment? Real photos of dresses, trousers and shoes as uploads.

Usage: python scripts/demo_check.py [--photos ../shared/data/clothing-small/validation] [--index embeddings/demo-index]

For each photo of the clothing-small folders dress, pants and shoes (photos the demo catalogue does not
hold), the ten nearest demo products: prints per kind the mean share of them in each category and how
many photos got a majority of their own kind. Build the demo index first (`bash scripts/demo.sh`, or
`python -c "from recommender.demo_index import ensure_demo_index; from recommender.settings import
Settings; ensure_demo_index(Settings.from_env())"`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.engine import Recommender  # noqa: E402
from recommender.images import open_image  # noqa: E402

KINDS = {"dress": "Dress", "pants": "Pants", "shoes": "Shoes"}  # clothing-small folder -> demo category


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/clothing-small/validation")
    parser.add_argument("--index", type=Path, default=ROOT / "embeddings/demo-index")
    args = parser.parse_args(argv)
    engine = Recommender.open(args.index)
    for folder, category in KINDS.items():
        photos = sorted((args.photos / folder).glob("*.jpg"))
        shares: Counter[str] = Counter()
        majority = 0
        for photo in photos:
            found = Counter(hit.product.attributes["category"] for hit in engine.query_image(open_image(photo), 10))
            shares.update({c: n / 10 / len(photos) for c, n in found.items()})
            majority += found[category] > 5
        top = ", ".join(f"{c} {s:.0%}" for c, s in shares.most_common(4))
        print(f"{folder} ({len(photos)} photos): ten results on average {top}; majority {category}: "
              f"{majority} of {len(photos)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
