"""What one shopper's search is, as plain JSON the browser keeps, and how to run it.

A search is a trail of queries (the photo, then each "more like this" product); the last one is
current. Each entry is a dict stored in a `dcc.Store`:
  upload: {"kind": "upload", "ref": sha256 of the bytes, "label", "image": data URI, "vector": [...]}
  item:   {"kind": "item", "ref": catalogue id, "label": product name}
An upload keeps its embedding, so a filter change or a step back re-ranks without re-embedding.
Nothing here is per-process: two shoppers never share a trail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recommender.catalog import Product
from recommender.errors import ImageError, RecommenderError
from recommender.images import MIB, open_image
from recommender.index import Hit, Index
from recommender.thumbnails import preview_data_uri
from recommender.ui.services import Services

__all__ = [
    "FILTER_ROLES", "RESULTS", "MAX_TRAIL", "Entry", "filter_attributes", "selected_filters",
    "decode_upload", "too_large", "upload_entry", "item_entry", "run_query", "browse",
]  # fmt: skip

Entry = dict[str, Any]

RESULTS = 10  # products shown per query
MAX_TRAIL = 12  # queries kept in the breadcrumb; older ones drop off the front
# Each filter of the page, and the catalogue attributes that can play its part, first found wins:
# Kaggle-layout catalogues have articleType, folder catalogues a "category" (the folder name).
FILTER_ROLES: dict[str, tuple[str, ...]] = {
    "gender": ("gender",),
    "colour": ("baseColour", "colour", "color"),
    "category": ("articleType", "category", "subCategory", "masterCategory"),
}


def filter_attributes(index: Index) -> dict[str, str | None]:
    """Filter role -> the index attribute it filters on (None: this catalogue has none)."""
    present = set(index.attributes())
    return {role: next((a for a in names if a in present), None) for role, names in FILTER_ROLES.items()}


def selected_filters(attributes: Mapping[str, str | None], values: Mapping[str, Sequence[str] | None]) -> dict[str, list[str]]:
    """Attribute -> chosen values, leaving out filters set to "any" (empty) or absent here."""
    chosen: dict[str, list[str]] = {}
    for role, attribute in attributes.items():
        picked = [str(v) for v in (values.get(role) or [])]
        if attribute and picked:
            chosen[attribute] = picked
    return chosen


def decode_upload(contents: str) -> bytes:
    """The bytes of a `dcc.Upload` data URL ("data:<type>;base64,<data>")."""
    _, sep, payload = contents.partition(",")
    if not sep:
        raise ImageError("The upload did not arrive complete; please try again.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("The upload did not arrive complete; please try again.") from None


def too_large(size: int, limit: int) -> ImageError:
    """The error for an upload the browser measured and held back (same wording as the server's check)."""
    return ImageError(f"The file is {size / MIB:.1f} MB, more than the {limit / MIB:.1f} MB limit for images."
                      .replace(".0 MB", " MB"))


def upload_entry(services: Services, data: bytes) -> Entry:
    """Check an uploaded photo, embed it and make it the root of a new trail.

    The size limit and decoding checks run first, so a bad file gets its one-sentence ImageError
    before the model is touched.
    """
    image = open_image(data, max_bytes=services.settings.max_upload_bytes)
    vector = services.engine.embed(data)
    return {
        "kind": "upload",
        "ref": hashlib.sha256(data).hexdigest(),
        "label": "Your photo",
        "image": preview_data_uri(image),
        "vector": vector.astype(float).tolist(),
    }


def item_entry(product: Product) -> Entry:
    return {"kind": "item", "ref": product.id, "label": product.name}


def run_query(services: Services, entry: Entry, filters: Mapping[str, Sequence[str]]) -> list[Hit]:
    """The current query's nearest products that pass the filters."""
    if entry["kind"] == "upload":
        try:  # the trail comes back from the browser, which may have altered it
            vector = np.asarray(entry["vector"], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise RecommenderError("This search's photo data is damaged; start again with a new photo.") from None
        return services.engine.query_vector(vector, RESULTS, filters)
    if entry["kind"] == "item":
        return services.engine.query_id(str(entry["ref"]), RESULTS, filters)
    raise RecommenderError(f"Unknown query kind {entry['kind']!r}; start again with a new photo.")


def browse(index: Index, filters: Mapping[str, Sequence[str]], n: int = RESULTS) -> list[Product]:
    """Up to `n` products passing the filters, spread over the catalogue: a place to start from."""
    rows = index.matching(filters)
    if len(rows) > n:
        rows = rows[(np.arange(n) * (len(rows) / n)).astype(int)]
    return [index.products[i] for i in rows]
