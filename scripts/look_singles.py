"""Photos of a single garment (laid flat, hung) through shop the look: how many stay one garment, the whole picture.

A photo of one product should keep its plain search's results; this counts, per category folder of a
labelled photo catalogue, the photos that `recommender.looks.find_garments` leaves whole.

    python scripts/look_singles.py --index embeddings/kaggle-head --photos ../shared/data/clothing-small/validation --every 6
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from recommender.engine import Recommender
from recommender.images import open_image
from recommender.looks import WHOLE, find_garments


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
