"""A small index folder with known faults for the audit's tests: wrong labels, duplicates, broken pictures.

Vectors are written directly (clusters, one per category, in 16 dimensions), so the audit's answer is
known: the planted wrong labels sit in another category's cluster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from recommender.appearance import COLOUR_NAMES, Appearance
from recommender.catalog import Product, Skipped
from recommender.index_files import write_index
from recommender.manifest import CatalogInfo, Manifest
from recommender.model_spec import ModelSpec

CATEGORIES = (("Tshirts", "Apparel"), ("Jeans", "Apparel"), ("Watches", "Accessories"), ("Caps", "Accessories"))
PER_CATEGORY = 30
WRONG = {"p005": "Jeans", "p040": "Tshirts", "p070": "Caps"}  # planted wrong labels (truth: their cluster)
NEAR_DUPLICATE = ("p010", "p011")  # p011 shows p010's picture; its vector is p010's plus a little noise
SAME_PIXELS = ("p100", "p101")  # identical digests, distinct vectors
TINY = "p020"  # a 10x8 picture
BLANK = "p030"


def write_audit_index(root: Path, *, labels: bool = True, head: str | None = None, thin: int = 2,
                      categories: tuple[tuple[str, str], ...] = CATEGORIES) -> Path:
    """An index of 4 clusters of 30 products (+ `thin` products of a rare category); returns its folder.
    `categories`: the 4 clusters' (articleType, masterCategory), named as WRONG's labels are when they differ."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((len(CATEGORIES) + 1, 16)) * 3
    products, vectors, colours = [], [], {}
    plan = [(c, i) for c in range(len(categories)) for i in range(PER_CATEGORY)] + [(len(categories), i)
                                                                                   for i in range(thin)]
    for n, (c, _) in enumerate(plan):
        pid = f"p{n:03d}"
        category, master = categories[c] if c < len(categories) else ("Ties", "Accessories")
        wrong = categories[[name for name, _ in CATEGORIES].index(WRONG[pid])][0] if pid in WRONG else category
        attributes = {"articleType": wrong, "masterCategory": master,
                      "productDisplayName": f"{category} {n}"} if labels else {"productDisplayName": f"Item {n}"}
        image = root / "images" / f"{pid}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        colours[pid] = colours[NEAR_DUPLICATE[0]] if pid == NEAR_DUPLICATE[1] else colour  # the same picture
        Image.new("RGB", (10, 8) if pid == TINY else (48, 64), colours[pid]).save(image)
        products.append(Product(pid, image, attributes))
        vectors.append(centres[c] + rng.standard_normal(16))
    x = np.asarray(vectors, dtype=np.float32)
    x[int(NEAR_DUPLICATE[1][1:])] = x[int(NEAR_DUPLICATE[0][1:])] + 0.001
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    digests = np.array([f"d{i}" for i in range(len(x))], dtype="<U32")
    digests[[int(i[1:]) for i in SAME_PIXELS]] = "same"
    blank = np.zeros(len(x), bool)
    blank[int(BLANK[1:])] = True
    appearance = Appearance(np.full((len(x), len(COLOUR_NAMES)), 1 / len(COLOUR_NAMES), np.float32), digests, blank)
    manifest = Manifest(model=ModelSpec("fake", "none", head), input_size=(8, 8), dim=16, count=len(x),
                        catalog=CatalogInfo(str(root), "csv", "f", len(x) + 1), normalized=True, appearance=True,
                        skipped=(Skipped("p999", "missing image"),))
    out = root / "index"
    write_index(out, manifest, products, x, appearance)
    return out
