"""What one shopper's search is, as small JSON the browser keeps, and how to run it.

A search is a trail of queries (the photo, then each "more like this" product); the last one is
current. Each entry is a small dict stored in a `dcc.Store`:
  upload: {"kind": "upload", "ref": SHA-256 of the photo's bytes, "label": "Your photo"}
  item:   {"kind": "item", "ref": catalogue id, "label": product name}
The photo and its vector stay on the server (`recommender.uploads`), so re-ranking after a filter
change or a step back needs neither the bytes nor a new embedding. Entries come back from the
browser, which may have altered them: `run_query` checks them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recommender.catalog import Product
from recommender.errors import ImageError, RecommenderError
from recommender.images import size_error
from recommender.index import Hit, Index
from recommender.roles import Roles
from recommender.ui.services import Services

__all__ = [
    "RESULTS", "MAX_TRAIL", "Entry", "selected_filters", "decode_upload", "too_large", "upload_entry",
    "item_entry", "run_query", "browse",
]  # fmt: skip

Entry = dict[str, Any]

RESULTS = 10  # products shown per query
MAX_TRAIL = 12  # queries kept in the breadcrumb; older ones drop off the front


def selected_filters(roles: Roles, values: Mapping[str, Sequence[str] | None]) -> dict[str, list[str]]:
    """Role -> chosen values (from the page) as attribute -> values, leaving out "any" and absent roles."""
    chosen: dict[str, list[str]] = {}
    for role, attribute in roles.filters():
        picked = values.get(role) or []
        if attribute and isinstance(picked, list) and picked:
            chosen[attribute] = [str(v) for v in picked]
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


def too_large(size: object, limit: int) -> ImageError:
    """The error for an upload the browser measured and held back (its size is the browser's word)."""
    return size_error(size, limit)


def upload_entry(services: Services, data: bytes) -> Entry:
    """Check an uploaded photo, keep it with its vector on the server, make it the root of a new trail."""
    return {"kind": "upload", "ref": services.add_upload(data), "label": "Your photo"}


def item_entry(product: Product) -> Entry:
    return {"kind": "item", "ref": product.id, "label": product.name}


def run_query(services: Services, entry: Entry, filters: Mapping[str, Sequence[str]], k: int = RESULTS) -> list[Hit]:
    """The current query's nearest products that pass the filters."""
    kind, ref = (entry.get("kind"), entry.get("ref")) if isinstance(entry, dict) else (None, None)
    if kind == "upload":
        return services.engine.query_vector(services.uploads.vector(ref), k, filters)
    if kind == "item" and isinstance(ref, str):
        return services.engine.query_id(ref, k, filters)
    raise RecommenderError("This search's data is damaged; start again with a new photo.")


def browse(index: Index, filters: Mapping[str, Sequence[str]], n: int = RESULTS) -> list[Product]:
    """Up to `n` products passing the filters, spread over the catalogue: a place to start from."""
    rows = index.matching(filters)
    if len(rows) > n:
        rows = rows[(np.arange(n) * (len(rows) / n)).astype(int)]
    return [index.products[i] for i in rows]
