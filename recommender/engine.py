"""The recommender the app, the API and the CLI talk to: an index plus the model that embeds queries.

The model is loaded lazily, once, from the spec recorded in the index's manifest, so "more like
this" by id never pays for loading TensorFlow, and a query photo is always embedded exactly like
the catalogue was. A photo is decoded once by the caller (`recommender.images.open_image`, which
also validates it) and handed over as a picture.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from recommender.errors import RecommenderError
from recommender.images import fit_to_model, open_image
from recommender.index import Filters, Hit, Index
from recommender.tags import TAG_NEIGHBOURS, Tag, neighbour_tags

if TYPE_CHECKING:
    from recommender.backbones import Extractor

__all__ = ["Recommender", "embed_picture", "hit_record"]


def hit_record(hit: Hit) -> dict[str, Any]:
    """One result as plain JSON (the CLI's `query --json` and the API add where its image is)."""
    return {"rank": hit.rank, "id": hit.id, "distance": hit.distance, "attributes": hit.product.attributes}


def embed_picture(extractor: Extractor, image: Image.Image) -> np.ndarray:
    """The vector of one decoded, upright RGB picture: resized whole to the model's input, then embedded."""
    pixels = fit_to_model(image, extractor.input_size)
    return np.asarray(extractor.embed(pixels[np.newaxis]), dtype=np.float32)[0]


class Recommender:
    """Query an index by photo, by catalogue id or by vector."""

    def __init__(self, index: Index, extractor: Extractor | None = None) -> None:
        if extractor is not None:
            index.check_compatible(extractor.spec, extractor.dim)
        self.index = index
        self._extractor = extractor
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path, *, extractor: Extractor | None = None) -> "Recommender":
        return cls(Index.load(index_dir), extractor)

    @property
    def extractor(self) -> Extractor:
        """The index's own model, loaded on first use (once, even with concurrent requests)."""
        with self._lock:
            if self._extractor is None:
                from recommender.backbones import load_extractor  # imports TensorFlow: only when needed

                extractor = load_extractor(self.index.model)
                self.index.check_compatible(extractor.spec, extractor.dim)
                self._extractor = extractor
            return self._extractor

    @property
    def random_weights(self) -> bool:
        """True when the index was built with random weights: rankings are not meaningful."""
        return self.index.manifest.random_weights

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """The query vector of a decoded, upright RGB picture (see `recommender.images.open_image`)."""
        return embed_picture(self.extractor, image)

    def query_image(self, image: Image.Image, k: int = 10, filters: Filters = None) -> list[Hit]:
        return self.query_vector(self.embed_image(image), k, filters)

    def query_file(self, path: Path, k: int = 10, filters: Filters = None) -> list[Hit]:
        """A photo on disk (the CLI); ImageError with a sentence when it cannot be read."""
        return self.query_image(open_image(path), k, filters)

    def product_vector(self, product_id: str) -> np.ndarray:
        """A catalogue product's vector, the query of "more like this" (a sentence for an unknown id)."""
        try:
            return self.index.vector(product_id)
        except KeyError:
            raise RecommenderError(f"No product with id {product_id[:100]!r} in this catalogue.") from None

    def query_id(self, product_id: str, k: int = 10, filters: Filters = None) -> list[Hit]:
        """More like this catalogue product, leaving the product itself out."""
        return self.query_vector(self.product_vector(product_id), k, filters, exclude=(product_id,))

    def query_vector(self, vector: np.ndarray, k: int = 10, filters: Filters = None,
                     exclude: Collection[str] = (), within: np.ndarray | None = None) -> list[Hit]:
        return self.index.hits(vector, k, filters, exclude, within)

    def tags(self, vector: np.ndarray, exclude: Collection[str] = ()) -> list[Tag]:
        """The predicted category, colour and gender of a query vector, whatever the shopper filters."""
        distances, positions = self.index.search(vector, TAG_NEIGHBOURS, exclude=exclude)
        return neighbour_tags(self.index, distances[0], positions[0])
