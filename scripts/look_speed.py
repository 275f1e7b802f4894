"""Shop the look before and after its speed-ups, alternated photo by photo in one process (a busy neighbour
slows both alike): "before" describes every window's colours in one batch and looks at every smallest window
(`appearance.CHUNK` unbounded, `fine_gate` 0), "now" is the code as it stands.

    python scripts/look_speed.py --index embeddings/kaggle-head --photos embeddings/looks/test/images
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender import appearance  # noqa: E402
from bench.timing import paired_latency  # noqa: E402
from recommender.engine import Recommender  # noqa: E402
from recommender.images import open_image  # noqa: E402
from recommender.looks import index_look_settings, shop_the_look  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--n", type=int, default=20, help="photos timed (default: 20)")
    args = parser.parse_args()
    engine = Recommender.open(args.index)
    data = [path.read_bytes() for path in sorted(args.photos.glob("*.jpg"))[: args.n]]
    chunk = appearance.CHUNK
    unchecked = replace(index_look_settings(engine.index), fine_gate=0.0)  # only the speed-up differs, not whole_sure

    def before(i: int) -> None:
        appearance.CHUNK = 10**9
        try:
            shop_the_look(engine, open_image(data[i % len(data)]), 10, settings=unchecked)
        finally:
            appearance.CHUNK = chunk

    def now(i: int) -> None:
        shop_the_look(engine, open_image(data[i % len(data)]), 10)

    load = os.getloadavg()
    stats = paired_latency({"before": before, "now": now}, len(data))
    print(f"load average before/after: {load[0]:.2f} / {os.getloadavg()[0]:.2f}; {len(data)} photos")
    for name, row in stats.items():
        print(f"  {name:7s} p50 {row['p50_ms']:7.0f} ms  p95 {row['p95_ms']:7.0f} ms")


if __name__ == "__main__":
    main()
