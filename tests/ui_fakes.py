"""A tiny index for the app's tests that need no TensorFlow: odd ids and hostile product names.

It is built by the project's real `build_index`, with the fake extractor of `index_fakes`, so the
app sees exactly the files a real build writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dash import Dash

import numpy as np

from recommender.appearance import COLOUR_NAMES, Appearance
from recommender.build import build_index
from recommender.catalog import Catalog, Product
from recommender.engine import Recommender
from recommender.index import Index
from recommender.index_files import write_index
from recommender.manifest import CatalogInfo, Manifest
from recommender.model_spec import ModelSpec
from tests.index_fakes import FakeExtractor, write_image

HOSTILE_NAME = "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"
PRODUCTS = (
    # id, display name, colour
    ("1001", HOSTILE_NAME, "Black"),
    ("dress/blue-42", "Blue wrap dress", "Blue"),
    ("café 7", "Cream linen shirt", "Cream"),
    ("1004", "Red canvas shoes", "Red"),
    ("1005", "Black leather bag", "Black"),
)


def build_tiny_index(root: Path) -> Path:
    """Five products (one with a hostile name, ids with a slash, a space and an accent)."""
    products = [
        Product(
            id=product_id,
            image=write_image(root / "images" / f"{i}.png", seed=i),
            attributes={"gender": "Women", "baseColour": colour, "articleType": "Tops", "productDisplayName": name},
        )
        for i, (product_id, name, colour) in enumerate(PRODUCTS)
    ]
    out = root / "index"
    build_index(Catalog(root=root, layout="csv", products=products), out, FakeExtractor(), progress=False)
    return out


def tiny_engine(index_dir: Path) -> Recommender:
    """The tiny index with its fake model already attached (no TensorFlow is loaded)."""
    return Recommender(Index.load(index_dir), FakeExtractor())


@contextmanager
def served(app: Dash) -> Iterator[str]:
    """The app served on a free 127.0.0.1 port by werkzeug's threaded server, in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


TRAP_NEAR = 100  # products nearer to p0 than any of the red ones past them


def build_pool_trap_index(root: Path) -> Path:
    """An index whose order would change with the re-scored pool's size: p0 is red; p1..p100, the nearest
    to it, are black (p100 red); p101..p149 are red but farther, each close enough for its colour to lift it
    above every black one if it were re-scored. Item queries only (its model is a fake)."""
    n = 150
    angles = np.arange(n) * 0.01
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    colours = np.zeros((n, len(COLOUR_NAMES)), dtype=np.float32)
    red = (np.arange(n) == 0) | (np.arange(n) >= TRAP_NEAR)
    colours[red, COLOUR_NAMES.index("Red")] = 1.0
    colours[~red, COLOUR_NAMES.index("Black")] = 1.0
    products = [Product(f"p{i}", write_image(root / "images" / f"p{i}.png", seed=i),
                        {"category": "Dress", "colour": "Red" if red[i] else "Mushroom Brown" if i == 1 else "Black",
                         "name": f"Dress number {i}"})
                for i in range(n)]
    manifest = Manifest(model=ModelSpec.parse("fake", "imagenet"), input_size=(12, 10), dim=2, count=n,
                        catalog=CatalogInfo(str(root), "csv", "trap", n), normalized=True, appearance=True)
    appearance = Appearance(colours, np.array([f"d{i}" for i in range(n)]), np.zeros(n, bool))
    write_index(root / "index", manifest, products, vectors, appearance)
    return root / "index"
