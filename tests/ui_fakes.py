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

from recommender.build import build_index
from recommender.catalog import Catalog, Product
from recommender.engine import Recommender
from recommender.index import Index
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
