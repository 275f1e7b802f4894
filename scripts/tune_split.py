"""Score a trained index on its tune split only, so that training settings are chosen off the reported figures.

Usage: python scripts/tune_split.py --index TRAINED_INDEX --photos PHOTO_INDEX --label-map CSV [--json PATH]

Two scores, with the shop's ranking (`recommender.evaluation.run.evaluate_index`), P@10:
- the shopper photos of PHOTO_INDEX (a raw index of e.g. clothing-small/train, as `train --cache` keeps
  it) that the index's holdout rule kept out of training, searched against the catalogue;
- the held-out products' "tune" half (`recommender.view_catalog.SPLIT`, as `views --split tune`
  halves them), leave-one-out: articleType, baseColour, gender.
The "report" half of the held-out products and clothing-small validation are never read here. The
worn-garment tune views are scored by `evaluate --queries WORN_DEV/tune` (scripts/worn_dev_set.sh).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.evaluation.report import format_run  # noqa: E402
from recommender.evaluation.run import Queries, catalogue_queries, evaluate_index, own_queries  # noqa: E402
from recommender.index import Index  # noqa: E402
from recommender.label_map import read_label_map  # noqa: E402
from recommender.view_catalog import SPLIT  # noqa: E402

ATTRIBUTES = ("articleType", "baseColour", "gender")


def subset(queries: Queries, keep: np.ndarray, selection: str) -> Queries:
    """The queries at the rows where `keep` is true."""
    return replace(queries.subset(np.flatnonzero(keep)), selection=selection)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--label-map", type=Path, required=True)
    parser.add_argument("--json", type=Path, help="also write both runs as JSON")
    args = parser.parse_args(argv)
    index, photos = Index.load(args.index), Index.load(args.photos)
    holdout = index.manifest.holdout
    if holdout is None or index.head is None:
        raise SystemExit(f"{args.index} is not a trained index with a held-out split")
    pictures = catalogue_queries(index, photos)
    held_photos = subset(pictures, holdout.mask(pictures.ids), "held-out photos")
    products = own_queries(index)
    tune_products = subset(products, SPLIT.mask(products.ids), "held-out products, tune half")
    runs = [evaluate_index(index, (10,), queries=held_photos, label_map=read_label_map(args.label_map)),
            evaluate_index(index, (10,), ATTRIBUTES, queries=tune_products)]
    for run in runs:
        print(format_run(run, (10,)), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(run) for run in runs], indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
