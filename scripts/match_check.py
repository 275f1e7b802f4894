"""Do the figures shown follow the order, and read the same after refining? Real photos as uploads.

Usage: python scripts/match_check.py [--photos ../shared/data/clothing-small/validation] [--index embeddings/demo-index]
    [--n 10]

For n photos (spread over the folder), the ten results as the page shows them: how many lists have a
match badge, or the pictures' likeness (the card's title), that rises somewhere down the list; then
"More like the ones I liked" with the first two results liked: the top three's match and likeness
before and after, and the likeness the refined query would get without being made a unit vector (as
before issue 22).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.engine import Recommender  # noqa: E402
from recommender.images import open_image  # noqa: E402


def _rises(values: list[float]) -> bool:
    return bool((np.diff(values) > 1e-9).any())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/clothing-small/validation")
    parser.add_argument("--index", type=Path, default=ROOT / "embeddings/demo-index")
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args(argv)
    engine = Recommender.open(args.index)
    photos = sorted(args.photos.rglob("*.jpg"))
    photos = photos[:: max(1, len(photos) // args.n)][: args.n]
    rows = {"match rises": 0, "likeness rises": 0}
    top: dict[str, list[float]] = {k: [] for k in ("match before", "match after", "alike before", "alike after",
                                                   "alike after, query not unit")}
    for photo in photos:
        code = engine.embed_image(open_image(photo))
        hits = engine.search(code, 10)
        alike = [engine.ranker.alike(h.distance) for h in hits]
        rows["match rises"] += _rises([h.match for h in hits])
        rows["likeness rises"] += _rises(alike)
        refined = code.refined([engine.product_query(h.id) for h in hits[:2]], [])
        after = engine.search(refined, 3)
        raw = refined.vector
        top["match before"] += [h.match for h in hits[:3]]
        top["match after"] += [h.match for h in after]
        top["alike before"] += alike[:3]
        top["alike after"] += [engine.ranker.alike(h.distance) for h in after]
        top["alike after, query not unit"] += [
            engine.ranker.alike(float(np.linalg.norm(raw - engine.index.vector(h.id)))) for h in after]
    print(f"{len(photos)} photos of {args.photos}, index {args.index}")
    for name, count in rows.items():
        print(f"lists in which the {name.split()[0]} rises down the ten: {count} of {len(photos)}")
    for name, values in top.items():
        print(f"top three, {name}: median {np.median(values):.0%}, range {min(values):.0%} to {max(values):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
