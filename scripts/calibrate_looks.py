"""Keep a trained index's own product-shot threshold beside it (`recommender.look_calibration`).

The head's sureness of one garment kind on the whole picture is measured on each photo of several
garments of a looks folder (a `looks-set` dev split: never its test half); the `QUANTILE` of it is
written to INDEX/look-calibration.json, which shop the look then reads (`LookSettings.whole_sure`).

    python scripts/calibrate_looks.py --index embeddings/demo-index --looks embeddings/looks/dev --limit 50
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as `python scripts/...` from a clone

from recommender.cli import report_errors  # noqa: E402
from recommender.engine import Recommender  # noqa: E402
from recommender.errors import RecommenderError  # noqa: E402
from recommender.images import open_image  # noqa: E402
from recommender.look_calibration import Calibration, product_shot_threshold, write_calibration  # noqa: E402
from recommender.looks import finds_garments, whole_sureness  # noqa: E402
from recommender.looks_set import read_looks  # noqa: E402


FEW = 20  # photos of several garments below which the quantile is little more than their maximum


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a trained index (its head classifies the category)")
    parser.add_argument("--looks", type=Path, required=True, help="a looks folder: images/ and garments.csv")
    parser.add_argument("--limit", type=int, default=50, help="looks of the folder used, in name order (default: 50)")
    args = parser.parse_args()
    engine = Recommender.open(args.index)
    if not finds_garments(engine):
        raise RecommenderError(f"Index {args.index} has no head that classifies its category into garment kinds: "
                               "nothing to calibrate.")
    several = [name for name, garments in sorted(read_looks(args.looks).items())[: args.limit] if len(garments) > 1]
    sureness = [whole_sureness(engine, open_image(args.looks / "images" / name)) for name in several]
    threshold = product_shot_threshold(sureness)
    head = engine.index.head
    path = write_calibration(engine.index.path, Calibration(threshold, head.id, len(several), head.weights_id))
    print(f"{len(several)} photos of several garments: the whole picture at most {max(sureness):.4f} sure of one kind; "
          f"a photo is one product above {threshold:.4f} (written to {path}); a running app reads it when it "
          "opens the index: restart it")
    if len(several) < FEW:
        print(f"Only {len(several)} photos of several garments: the threshold is about their surest one; "
              f"give --limit so that at least {FEW} are used.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(report_errors(main))
