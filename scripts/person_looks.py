"""Shop the look on photos of people: windows alone against windows with a person's garment places.

    python scripts/person_looks.py --index embeddings/kaggle-head --half tune --limit 300 \
        --place-confidence 0.3 0.5 0.7 0.9

The photos are an index's held-out products (its head never saw them) whose garment kind is a top, bottoms
or a dress and in which the person model (`recommender.person`, `scripts/fetch_person_model.sh`) finds a
person: most Kaggle apparel shots show a model wearing the product, face included. Each is a photo of a
person with one known garment, the product; what else the model wears is not labelled. Per setting: the
share of photos where a garment of the product's kind is found, the P@10 of that garment's results (its
articleType, the product itself left out) and garments per photo. The product-shot rules (whole picture)
are left out for both: every photo here is a product shot, and the question is how each way frames a worn
garment. Halves by the SHA-256 of the product id: first byte even, tune; odd, report.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python scripts/...` from a clone

from recommender.engine import Recommender  # noqa: E402
from recommender.images import open_image  # noqa: E402
from recommender.looks import (LookSettings, _group, _pictures, _reduced, _with_places, classify_windows,  # noqa: E402
                               index_look_settings)
from recommender.person import person_model  # noqa: E402

WORN = {"Topwear": "top", "Bottomwear": "bottoms", "Dress": "dress"}


def _half(product_id: str) -> str:
    return "tune" if hashlib.sha256(product_id.encode()).digest()[0] % 2 == 0 else "report"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a trained Kaggle-like index with held-out products")
    parser.add_argument("--half", choices=("tune", "report"), default="tune")
    parser.add_argument("--limit", type=int, default=300, help="photos with a person found, per half")
    parser.add_argument("--place-confidence", type=float, nargs="+", default=[LookSettings().place_confidence])
    args = parser.parse_args(argv)
    if person_model() is None:
        print("No person model: run scripts/fetch_person_model.sh first.", file=sys.stderr)
        return 2
    engine = Recommender.open(args.index)
    index = engine.index
    holdout = index.manifest.holdout
    base = replace(index_look_settings(index), whole_sure=1.01)
    products = [p for p in index.products if holdout is not None and holdout.contains(p.id)
                and p.attributes.get("subCategory") in WORN and _half(p.id) == args.half]
    runs = {"windows alone": None, **{f"places at {c}": c for c in args.place_confidence}}
    found = {name: [] for name in runs}
    precision = {name: [] for name in runs}
    count = {name: [] for name in runs}
    photos = 0
    for product in products:
        if photos >= args.limit:
            break
        picture = open_image(product.image)
        windows = classify_windows(engine, picture, base)
        if windows.places is None:
            continue
        photos += 1
        names, mass = windows.kind_mass
        grouped = _group(windows, names, mass, base)
        want = WORN[product.attributes["subCategory"]]
        for name, confidence in runs.items():
            garments = grouped if confidence is None else _with_places(
                windows, names, grouped, replace(base, place_confidence=confidence))
            count[name].append(len(garments))
            mine = [g for g, kind in garments if kind == want]
            found[name].append(bool(mine))
            if mine:
                query = engine.embed_images(_pictures(_reduced(picture, base.longest), np.array([mine[0].box])))[0]
                hits = [h for h in engine.search(query, 11, engine.select(None)) if h.product.id != product.id][:10]
                precision[name].append(np.mean([h.product.attributes.get("articleType")
                                                == product.attributes["articleType"] for h in hits]))
    print(f"{photos} photos of people ({args.half} half; garment kinds: {', '.join(sorted(set(WORN.values())))})")
    for name in runs:
        print(f"{name:>16}: product's kind found {np.mean(found[name]):.3f}, P@10 of it (articleType) "
              f"{np.mean(precision[name]) if precision[name] else float('nan'):.3f}, garments a photo "
              f"{np.mean(count[name]):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
