"""Time a trained index's query as the page makes it: the model (`embed_image`), then `search` and `tags`.

Usage: python scripts/query_time.py --index DIR --photos FOLDER [--count 30]

Prints p50 / p95 milliseconds of each step over the first `count` pictures of FOLDER (sorted, in sub-folders
too; the first one also loads the model, outside the timings) and the process's peak memory (MiB).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.engine import Recommender  # noqa: E402
from recommender.errors import RecommenderError  # noqa: E402
from recommender.images import open_image  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--count", type=int, default=30)
    args = parser.parse_args(argv)
    paths = sorted(args.photos.rglob("*.jpg"))[: max(args.count, 1) + 1]
    if len(paths) < 2:
        print(f"{args.photos} holds {len(paths)} .jpg photo{'s' * (len(paths) != 1)}: at least 2 are needed (the first "
              "loads the model, the others are timed).", file=sys.stderr)
        return 2
    try:
        engine = Recommender.open(args.index)
    except RecommenderError as exc:
        print(exc, file=sys.stderr)
        return 2
    pictures = [open_image(p) for p in paths]
    engine.tags(engine.embed_image(pictures[0]))  # the model and the index loaded outside the timings
    model, ranking = [], []
    for picture in pictures[1:]:
        start = time.perf_counter()
        query = engine.embed_image(picture)
        middle = time.perf_counter()
        engine.search(query, 10)
        engine.tags(query)
        model.append(middle - start)
        ranking.append(time.perf_counter() - middle)
    for name, seconds in (("model", model), ("search + tags", ranking)):
        p50, p95 = np.percentile(np.array(seconds) * 1000, [50, 95])
        print(f"{name}: {p50:.0f} ms p50 / {p95:.0f} ms p95 over {len(seconds)} pictures")
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
