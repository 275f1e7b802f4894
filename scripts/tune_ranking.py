"""Choose the ranking's weights on held-out data, never on the figures the README reports.

Usage: python scripts/tune_ranking.py --index TRAINED_INDEX --photos PHOTO_INDEX --label-map CSV [--queries N]

TRAINED_INDEX is an index written by `python -m recommender train`; PHOTO_INDEX a raw index of
labelled shopper photos built with the same backbone (e.g. clothing-small/train). Only what the head
never saw is scored: the catalogue's held-out products (the manifest's holdout) leave-one-out, and
the photos that the same holdout rule keeps out of training. For every combination of the grid it
prints photo -> catalogue category P@10 (mean and worst category), the held-out products' P@10 of
category, colour and gender, and the largest share of photos one product appears for; then the
combination with the best mean of the five precisions among those whose largest share stays under
5 %. The defaults of `recommender.ranking.RankingSettings` were chosen this way.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.evaluation.run import catalogue_queries  # noqa: E402
from recommender.index import Index  # noqa: E402
from recommender.label_map import read_label_map  # noqa: E402
from recommender.ranking import Ranker, RankingSettings  # noqa: E402

GRID = {
    "category_weight": (0.0, 0.75, 1.5),
    "label_weight": (0.0, 0.5),
    "colour_weight": (0.0, 0.5, 1.0),
    "hub_weight": (0.0, 0.5, 1.0),
    "category_first": (None, 0.5, 0.7),
}
MAX_SHARE = 0.05


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--label-map", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=2000, help="held-out products scored (a sample)")
    args = parser.parse_args(argv)
    index, photos = Index.load(args.index), Index.load(args.photos)
    holdout, head = index.manifest.holdout, index.head
    if holdout is None or head is None:
        raise SystemExit(f"{args.index} is not a trained index with a held-out split")
    label_map = read_label_map(args.label_map)
    roles = index.roles

    kept = np.flatnonzero(holdout.mask(photos.ids))
    pictures = catalogue_queries(index, photos)  # in the index's space, through its head, as evaluate does
    photo_vectors, photo_colours = pictures.vectors[kept], pictures.colours[kept]
    photo_kinds = [photos.products[i].attributes[label_map.query_attribute] for i in kept]
    products = np.flatnonzero(holdout.mask(index.ids))
    products = np.random.default_rng(0).permutation(products)[: args.queries]
    labels = {role: np.array([p.attributes.get(roles.attribute(role) or "", "") for p in index.products])
              for role in ("category", "colour", "gender")}
    print(f"{len(kept)} held-out photos, {len(products)} held-out products", flush=True)

    results = []
    for values in itertools.product(*GRID.values()):
        settings = RankingSettings(**dict(zip(GRID, values)))
        ranker = Ranker(index, settings)
        _, found = ranker.search(photo_vectors, photo_colours, 10)
        index_kind = labels["category"] if label_map.index_attribute == roles.category else np.array(
            [p.attributes.get(label_map.index_attribute, "") for p in index.products])
        hits = np.array([[index_kind[j] in label_map.values_for(kind) for j in row] for kind, row in
                         zip(photo_kinds, found)]).mean(axis=1)
        worst = min(hits[[k == kind for k in photo_kinds]].mean() for kind in set(photo_kinds))
        share = np.bincount(found[found >= 0], minlength=len(index)).max() / len(found)
        _, own = ranker.search(np.asarray(index.vectors)[products], index.appearance.colours[products], 11,
                               exact=True)
        scores = []
        for role in ("category", "colour", "gender"):
            same = [(labels[role][[j for j in row if j != q][:10]] == labels[role][q]).mean()
                    for q, row in zip(products, own)]
            scores.append(float(np.mean(same)))
        row = (float(hits.mean()), float(worst), *scores, float(share))
        results.append((settings, row))
        print(f"{values}: photo {row[0]:.3f} worst {row[1]:.3f} | category {row[2]:.3f} colour {row[3]:.3f} "
              f"gender {row[4]:.3f} | max share {row[5]:.3f}", flush=True)
    allowed = [r for r in results if r[1][5] <= MAX_SHARE] or results
    best = max(allowed, key=lambda r: np.mean(r[1][:5]))
    print(f"best: {best[0]} -> {best[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
