"""Shop the look's latency beside a plain photo search, on a trained index and real photos.

Both start from the photo's bytes, as the API receives them (decode, EXIF rotation, embedding,
ranking): the single search gives the whole photo's ten results, shop the look every garment's ten
(windows classified by the head, garments grouped, each garment embedded and searched). The two are
alternated photo by photo (`timing.paired_latency`), so a busy neighbour slows both alike.
"""

from __future__ import annotations

from pathlib import Path

from recommender.engine import Recommender
from recommender.images import open_image
from recommender.looks import shop_the_look

from bench.timing import paired_latency


def look_latency(index_dir: Path, photos: list[Path], repeats: int, k: int = 10) -> dict:
    """p50/p95/mean ms of a single search and of shop the look over `photos`, and the garments found per photo."""
    engine = Recommender.open(index_dir)
    data = [path.read_bytes() for path in photos]
    garments: list[int] = []

    def single(i: int) -> None:
        engine.query_image(open_image(data[i % len(data)]), k)

    def look(i: int) -> None:
        garments.append(len(shop_the_look(engine, open_image(data[i % len(data)]), k)))

    stats = paired_latency({"single_search": single, "look": look}, repeats)
    return {"index": str(index_dir), "photos": len(data), "photos_from": str(photos[0].parent), **stats,
            "garments_per_photo": sum(garments) / max(len(garments), 1)}
