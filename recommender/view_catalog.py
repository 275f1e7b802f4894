"""A catalogue of street-like views of another catalogue's products, written to disk in the CSV layout.

Each view is `images/<product id>~<n>.jpg` with the product's own labels and a `source` column
naming the product, so the views build into an index like any catalogue (`python -m recommender
build`, resumable, on Spark too), train a head beside their products (`train --views`, which takes
every label from the source product and drops views of held-out products), and score as queries
(`evaluate --queries`, which leaves a view's own product out of its results: a shopper's street
photo is never of the very product on file). Which products: all, the ones a head trains on or the
ones it holds out (the same hashing rule as `train`), narrowed by attribute values; held-out products
split again by hash into a half to choose settings on and a half to report. Views are drawn from a
seed per product and view, so a rerun writes the same files and an interrupted run resumes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from recommender.atomic import write_text_atomic
from recommender.catalog import Catalog, Product
from recommender.errors import RecommenderError
from recommender.label_map import LabelMap
from recommender.manifest import Holdout
from recommender.street_views import ViewSettings

__all__ = ["SOURCE", "ViewSelection", "select_products", "write_views"]

SOURCE = "source"  # the column naming the product a view shows
SEPARATOR = "~"
OCCLUDERS = 64  # pictures of other products that may be drawn in front of a garment
SPLIT = Holdout(0.5, 1)  # held-out products: the "tune" half (settings are chosen on it) and the "report" half


@dataclass(frozen=True)
class ViewSelection:
    """Which products get views: `products` all / training / held-out under `holdout`, `split` of the
    held-out ones (all / tune / report), and attribute values (several of one key: any of them)."""

    products: str = "all"
    holdout: Holdout = Holdout(0.1, 0)
    split: str = "all"
    where: Mapping[str, Sequence[str]] | None = None

    def keeps(self, product: Product) -> bool:
        held = self.holdout.contains(product.id)
        if (self.products == "training" and held) or (self.products == "held-out" and not held):
            return False
        if self.split != "all" and SPLIT.contains(product.id) != (self.split == "tune"):
            return False
        return all(product.attributes.get(key) in values for key, values in (self.where or {}).items())


def select_products(catalog: Catalog, selection: ViewSelection) -> list[Product]:
    chosen = [p for p in catalog.products if selection.keeps(p)]
    if not chosen:
        raise RecommenderError(f"No product of the catalogue {catalog.root} matches the selection; widen it.")
    return chosen


def _seed(seed: int, product_id: str, view: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{product_id}:{view}".encode()).digest()[:8], "big")


def _view_jobs(products: Sequence[Product], per_product: int, seed: int, out: Path) -> list[tuple[Path, Path, int]]:
    """(picture, view file, seed) per view; a folder catalogue's ids hold a '/' (`dress/<file>`), flattened here."""
    return [(p.image, out / "images" / f"{p.id.replace('/', '-')}{SEPARATOR}{n}.jpg", _seed(seed, p.id, n))
            for p in products for n in range(per_product)]


_OTHERS: list = []
_SETTINGS: list[ViewSettings] = [ViewSettings()]


def _start_worker(occluders: Sequence[Path], settings: ViewSettings = ViewSettings()) -> None:
    from PIL import Image

    _OTHERS[:] = [Image.open(path).convert("RGB") for path in occluders]
    _SETTINGS[:] = [settings]


def _make(job: tuple[Path, Path, int]) -> bool:
    """Write one view (atomically, so a killed run leaves no half file); False when its picture is unreadable."""
    from recommender.images import open_image
    from recommender.street_views import street_view

    source, target, seed = job
    if target.exists():
        return True
    try:
        picture = open_image(source)
    except Exception:  # noqa: BLE001 - an unreadable picture is skipped and counted, as the build does
        return False
    buffer = io.BytesIO()
    street_view(picture, np.random.default_rng(seed), _OTHERS, _SETTINGS[0]).save(buffer, "JPEG", quality=95)
    partial = target.with_suffix(".part")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, target)
    return True


def write_views(catalog: Catalog, products: Sequence[Product], out: Path, *, per_product: int = 1, seed: int = 0,
                workers: int = 1, label_map: LabelMap | None = None, progress: bool = False,
                settings: ViewSettings = ViewSettings()) -> int:
    """Write `per_product` views of each product (drawn within `settings`) and `catalog.csv`; the number written.

    With a label map, each view is also named in the map's query terms (its query attribute, e.g. the
    shopper photos' `category`), so the views score as such photos do (`evaluate --label-map`)."""
    from tqdm import tqdm

    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    jobs = _view_jobs(products, per_product, seed, out)
    rng = np.random.default_rng(seed)
    occluders = [catalog.products[i].image for i in rng.choice(len(catalog.products), min(OCCLUDERS, len(catalog)),
                                                                replace=False)]
    bar = partial(tqdm, total=len(jobs), desc="views", unit="view", disable=not progress)
    if workers <= 1:
        _start_worker(occluders, settings)
        done = list(bar(map(_make, jobs)))
    else:  # spawned, not forked: the caller may hold TensorFlow's threads (the demo set-up)
        with ProcessPoolExecutor(workers, get_context("spawn"), _start_worker, (occluders, settings)) as pool:
            done = list(bar(pool.map(_make, jobs, chunksize=64)))
    if label_map is not None:
        products = [replace(p, attributes={**p.attributes, label_map.query_attribute: label_map.query_value_of(
            p.attributes.get(label_map.index_attribute)) or ""}) for p in products]
    columns = sorted({key for p in products for key in p.attributes} - {SOURCE})
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", "image", SOURCE, *columns])
    written = 0
    for (_, target, _), ok, product in zip(jobs, done, (p for p in products for _ in range(per_product))):
        if ok:
            writer.writerow([target.stem, f"images/{target.name}", product.id,
                             *(product.attributes.get(c, "") for c in columns)])
            written += 1
    write_text_atomic(out / "catalog.csv", text.getvalue())
    return written
