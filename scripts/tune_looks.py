"""Choose shop the look's settings (`recommender.looks.LookSettings`) on the dev split of `looks-set`.

Windows are classified once per window layout; every grouping setting of the grid is then scored on
those classifications (garments found with their kind, proposals that are garments, single shots kept
whole, as `evaluate --looks` counts them, with the index's own product-shot threshold,
`recommender.look_calibration`; a garment named as the windows name it, where `find_garments` then names it by
its query's own tag, so `support_iou` and the names are scored by `evaluate --looks` alone), and
the time of the windows per look is printed beside them. Choose on dev, report on test with
`python -m recommender evaluate --looks DIR/test --index INDEX`.

    python scripts/tune_looks.py --index embeddings/kaggle-head --looks embeddings/looks/dev --limit 60
    python scripts/tune_looks.py --index embeddings/kaggle-head --looks embeddings/looks/dev --limit 50 \
        --layouts "4 scales, stride 0.8" --place-confidence 0.3 0.5 0.7 0.9

With --place-confidence, the index's own settings are scored instead of the grid: the windows alone (no
person's places), then with the places of a person (`recommender.person`) at each confidence.
"""

from __future__ import annotations

import argparse
import sys
import itertools
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python scripts/...` from a clone

from recommender.engine import Recommender  # noqa: E402
from recommender.evaluation.looks import score_look  # noqa: E402
from recommender.garment_kinds import garment_kinds  # noqa: E402
from recommender.images import open_image  # noqa: E402
from recommender.looks import WHOLE, classify_windows, garments_of, index_look_settings  # noqa: E402
from recommender.looks_set import read_looks  # noqa: E402

LAYOUTS = {  # name -> (scales, stride)
    "4 scales, stride 0.8": ((0.55, 0.38, 0.25, 0.16), 0.8),
    "3 small scales, stride 0.8": ((0.38, 0.25, 0.16), 0.8),
    "3 large scales, stride 0.65": ((0.55, 0.38, 0.25), 0.65),
}
GRID = {"min_confidence": (0.95, 0.98, 0.99), "group_iou": (0.1, 0.2), "tie": (0.03, 0.06, 0.1), "shrink": (0.9, 0.85, 0.8),
        "repeat_iou": (0.3, 0.5), "single_cover": (0.4, 0.6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--looks", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=60, help="looks of the folder used (default: 60)")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--place-confidence", type=float, nargs="+", help="score these instead of the grid")
    args = parser.parse_args()
    engine = Recommender.open(args.index)
    values = engine.index.head.attributes[engine.index.roles.category]
    kinds = dict(zip(values, garment_kinds(engine.index, values)))

    def same_kind(a: str, b: str) -> bool:
        return a == b or (kinds.get(a) is not None and kinds.get(a) == kinds.get(b))

    looks = sorted(read_looks(args.looks).items())[: args.limit]
    pictures = [open_image(args.looks / "images" / name) for name, _ in looks]
    engine.embed_image(pictures[0])  # load the model outside the timings
    for layout in args.layouts:
        scales, stride = LAYOUTS[layout]
        base = replace(index_look_settings(engine.index), scales=scales, stride=stride)  # its own whole_sure
        start = time.perf_counter()
        windows = [classify_windows(engine, picture, base) for picture in pictures]
        seconds = (time.perf_counter() - start) / len(pictures)
        rows = []
        grid = GRID if args.place_confidence is None else {"place_confidence": [None, *args.place_confidence]}
        for values in itertools.product(*grid.values()):
            places = values[0] if args.place_confidence is not None else True
            settings = replace(base, **dict(zip(grid, values))) if places is not None else base
            found = garments = proposals = garment_proposals = singles = whole = 0
            for (name, truth), picture, seen in zip(looks, pictures, windows):
                seen = seen if places is not None else replace(seen, places=None, place_probabilities=None)
                look = [(g, []) for g in garments_of(seen, settings)]
                score = score_look(truth, picture.size, look, engine.index.roles.category, same_kind)
                found += sum(p is not None for _, p in score["found"])
                garments += len(truth)
                proposals += score["proposals"]
                garment_proposals += score["garment_proposals"]
                if len(truth) == 1 and truth[0].box == (0, 0, *picture.size):
                    singles += 1
                    whole += len(look) == 1 and look[0][0].box == WHOLE
            rows.append((found / garments, garment_proposals / max(proposals, 1), whole, singles, values))
        rows.sort(key=lambda r: -(r[0] + r[1]))
        print(f"{layout}: {len(windows[0].boxes)} windows on the first look, {seconds:.2f} s a look; a product shot "
              f"when the whole picture is at least {base.whole_sure:.4f} sure of one kind")
        for found, precise, whole, singles, values in rows[: 6 if args.place_confidence is None else len(rows)]:
            print(f"  found {found:.3f}  proposals garments {precise:.3f}  singles whole {whole}/{singles}  "
                  + " ".join(f"{k}={v}" for k, v in zip(grid, values)))
        if args.place_confidence is not None:
            print(f"  {sum(w.places is not None for w in windows)} of {len(windows)} looks with a person found")
        print(f"  (mean over the grid: {np.mean([r[0] for r in rows]):.3f} found)")


if __name__ == "__main__":
    main()
