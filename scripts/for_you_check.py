"""Simulated shoppers on "For you": from 5 likes of 2 kinds, how much of the page is those kinds, and how fast.

Usage: python scripts/for_you_check.py [--index embeddings/kaggle-head] [--shoppers 200] [--seed 0]

Each shopper likes 3 products of one kind and 2 of another (kinds with at least 50 products, drawn at
random); `recommender.profile.for_you` makes their page. Prints the mean and lowest share of the page's
products in the two liked kinds, how often both kinds are there, and the time per page.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.engine import Recommender  # noqa: E402
from recommender.profile import for_you  # noqa: E402

MIN_KIND = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="embeddings/demo-index")
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    engine = Recommender.open(Path(args.index))
    index, attribute = engine.index, engine.index.roles.category
    sizes = Counter(p.attributes.get(attribute) for p in index.products)
    kinds = sorted(k for k, n in sizes.items() if k and n >= MIN_KIND)
    members = {k: [p.id for p in index.products if p.attributes.get(attribute) == k] for k in kinds}
    rng = np.random.default_rng(args.seed)
    shares, both, seconds = [], 0, []
    for _ in range(args.shoppers):
        first, second = rng.choice(kinds, 2, replace=False)
        liked = [*rng.choice(members[first], 3, replace=False), *rng.choice(members[second], 2, replace=False)]
        start = time.perf_counter()
        page = [s.product.attributes.get(attribute) for g in for_you(engine, liked) for s in g.suggestions]
        seconds.append(time.perf_counter() - start)
        shares.append(sum(k in (first, second) for k in page) / len(page))
        both += {first, second} <= set(page)
    warm = seconds[1:] or seconds
    print(f"{len(index):,} products, {len(kinds)} kinds of {MIN_KIND}+; {len(shares)} shoppers: share of the page in "
          f"the liked kinds mean {np.mean(shares):.3f}, lowest {min(shares):.3f}; "
          f"both kinds shown {both}/{len(shares)}; "
          f"a page in {np.median(warm) * 1000:.0f} ms median, {np.percentile(warm, 95) * 1000:.0f} ms p95")


if __name__ == "__main__":
    main()
