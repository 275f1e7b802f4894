"""Photos of a single garment (laid flat, hung) through shop the look: how many stay one garment, the whole picture.

A photo of one product should keep its plain search's results; this counts, per category folder of a
labelled photo catalogue, the photos that `recommender.looks.find_garments` leaves whole.

    python scripts/look_singles.py --index embeddings/kaggle-head --photos ../shared/data/clothing-small/validation --every 6
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python scripts/...` from a clone

from recommender.engine import Recommender  # noqa: E402
from recommender.images import open_image  # noqa: E402
from recommender.looks import WHOLE, find_garments  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a trained index")
    parser.add_argument("--photos", type=Path, required=True, help="photos in one folder per category")
    parser.add_argument("--every", type=int, default=1, help="take every n-th photo (default: all)")
    args = parser.parse_args()
    engine = Recommender.open(args.index)
    photos = sorted(args.photos.glob("*/*.jpg"))[:: args.every]
    whole, total = Counter(), Counter()
    for path in photos:
        garments, _ = find_garments(engine, open_image(path))
        total[path.parent.name] += 1
        whole[path.parent.name] += len(garments) == 1 and garments[0].box == WHOLE
    print(f"{sum(whole.values())} of {len(photos)} photos stay one garment, the whole picture: "
          + ", ".join(f"{name} {whole[name]}/{total[name]}" for name in sorted(total)))


if __name__ == "__main__":
    main()
