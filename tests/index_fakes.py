"""Test doubles for the embedding/index tests: a tiny deterministic extractor and small catalogues.

The fake extractor is a fixed random projection of the pixels, so its vectors depend on the image
(similar images -> similar vectors) and the tests need no TensorFlow.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from recommender.catalog import Catalog, Product, Skipped
from recommender.model_spec import ModelSpec


class Interrupted(Exception):
    """Raised by FakeExtractor to simulate a build killed halfway."""


class FakeExtractor:
    def __init__(self, *, name: str = "fake", weights: str = "none", dim: int = 8, size: tuple[int, int] = (12, 10),
                 fail_after: int | None = None, delay: float = 0.0, seed: int = 0) -> None:
        self.spec, self.dim, self.input_size = ModelSpec.parse(name, weights), dim, size
        self.projection = np.random.default_rng(seed).standard_normal((size[0] * size[1] * 3, dim)).astype(np.float32)
        self.fail_after, self.delay = fail_after, delay
        self.batches = 0
        self.images = 0

    def embed(self, batch: np.ndarray) -> np.ndarray:
        assert batch.dtype == np.uint8 and batch.shape[1:] == (*self.input_size, 3), batch.shape
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise Interrupted("simulated kill")
        self.batches += 1
        self.images += len(batch)
        time.sleep(self.delay)
        return (batch.reshape(len(batch), -1).astype(np.float32) / 255.0) @ self.projection


def write_image(path: Path, seed: int) -> Path:
    """A small random-colour picture with a stripe, different for every seed."""
    rng = np.random.default_rng(seed)
    pixels = np.empty((20, 16, 3), dtype=np.uint8)
    pixels[:] = rng.integers(0, 256, 3)
    pixels[5:9] = rng.integers(0, 256, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


COLOURS = ("Blue", "Red", "Black", "White")
GENDERS = ("Men", "Women", "Unisex")


def make_catalog(root: Path, n: int = 23, broken: dict[int, bytes] | None = None) -> Catalog:
    """n products with PNG images; `broken` replaces some images by these bytes (corrupt files)."""
    products = []
    for i in range(n):
        image = root / "images" / f"p{i:03d}.png"
        if broken and i in broken:
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_bytes(broken[i])
        else:
            write_image(image, i)
        attributes = {"gender": GENDERS[i % 3], "baseColour": COLOURS[i % 4], "productDisplayName": f"Item {i}"}
        products.append(Product(id=f"p{i:03d}", image=image, attributes=attributes))
    return Catalog(root=root, layout="csv", products=products, skipped=[Skipped(ref="line 99", reason="malformed row")])
