"""The recommender the app, the API and the CLI talk to: an index plus the model that embeds queries.

The model is loaded lazily, once, from the spec recorded in the index's manifest, so "more like
this" by id never pays for loading TensorFlow, and a query photo is always embedded exactly like
the catalogue was. A photo is decoded once by the caller (`recommender.images.open_image`, which
also validates it) and handed over as a picture.

A query is a `recommender.query_value.Query`: its vector in the index's space and, for indexes that
keep their products' appearance (format 3), the foreground colour histogram of what it shows. Which
products a search may return is one `recommender.selection.Selection` (`select`), resolved once.
Results come from `recommender.ranking.Ranker`, so the app, the API, the CLI and evaluation rank
alike.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from recommender.appearance import COLOUR_NAMES, colour_names, describe
from recommender.errors import IncompatibleIndex, RecommenderError
from recommender.head import HeadExtractor
from recommender.images import fit_to_model, open_image
from recommender.index import Filters, Hit, Index
from recommender import preferences, vote_memory
from recommender.query_value import Query
from recommender.ranking import Ranker, RankingSettings
from recommender.selection import Selection
from recommender.tags import TAG_NEIGHBOURS, Tag, head_tags, neighbour_tags
from recommender.vectors import unit_rows

if TYPE_CHECKING:
    from recommender.backbones import Extractor

__all__ = ["Recommender", "embed_picture", "hit_record", "serving_line"]


def hit_record(hit: Hit) -> dict[str, Any]:
    """One result as plain JSON (the CLI's `query --json` and the API add where its image is): `match` is the
    figure that follows the order (`recommender.match`), `distance` the raw Euclidean one."""
    return {"rank": hit.rank, "id": hit.id, "match": hit.match, "distance": hit.distance,
            "attributes": hit.product.attributes}


def serving_line(index: Index) -> str:
    """One line for the log at every start: which index is served, by which model and which head."""
    model = index.model
    backbone = model.without_head()
    where = f" ({backbone.backbone})" if backbone.is_tflite else ""
    head = (f"head {model.head} (trained on {', '.join(index.head.attributes)})" if index.head is not None
            else "no head (the backbone's own features)")
    note = "; random weights: the ranking is not meaningful" if index.manifest.random_weights else ""
    return f"Serving {index.path}: {len(index.ids):,} products; model {backbone.label}{where}; {head}{note}."


def embed_picture(extractor: Extractor, image: Image.Image) -> np.ndarray:
    """The vector of one decoded, upright RGB picture: resized whole to the model's input, then embedded."""
    pixels = fit_to_model(image, extractor.input_size)
    return np.asarray(extractor.embed(pixels[np.newaxis]), dtype=np.float32)[0]


class Recommender:
    """Query an index by photo, by catalogue id or by `Query` (module notes)."""

    def __init__(self, index: Index, extractor: Extractor | None = None,
                 settings: RankingSettings | None = None) -> None:
        if extractor is not None:
            index.check_compatible(extractor.spec, extractor.dim)
        self.index = index
        learned = preferences.beside(index)  # what votes taught (`learn`): read now, so the log says it at start-up,
        learned()  # then again whenever the file changes
        memory = vote_memory.memory_beside(index)  # the same for the vote memory (`learn` decides its switch)
        memory()
        self.ranker = Ranker(index, settings, learned=learned, memory=memory)
        self._extractor = extractor
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path, *, extractor: Extractor | None = None,
             settings: RankingSettings | None = None) -> "Recommender":
        return cls(Index.load(index_dir), extractor, settings)

    @property
    def colour_dim(self) -> int:
        """Length of a query's colour histogram (0 for indexes without appearance)."""
        return len(COLOUR_NAMES) if self.index.appearance is not None else 0

    @property
    def query_dim(self) -> int:
        """Values of a query of this index as a store keeps it (`Query.to_array`)."""
        return self.index.dim + self.colour_dim

    def stored_query(self, values: np.ndarray) -> Query:
        """The query a store kept (`Query.to_array`); a sentence for one of another index."""
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        if len(values) != self.query_dim:
            raise IncompatibleIndex(f"The query has {len(values)} values but index {self.index.path} expects "
                                    f"{self.query_dim}; search again.")
        return Query.from_array(values, self.index.dim)

    def _parts(self, query: Query) -> tuple[np.ndarray, np.ndarray | None]:
        """(vector, colour histogram or None) as the ranking reads them; a sentence for another index's query.

        On an index of unit vectors the vector is made one too: a refined query (Rocchio's sum) then
        ranks, and its results' figures read, on the same scale as the search before it.
        """
        if len(query.vector) != self.index.dim or (query.colours is not None) != bool(self.colour_dim):
            raise IncompatibleIndex(f"The query has {len(query)} values but index {self.index.path} expects "
                                    f"{self.query_dim}; search again.")
        vector = unit_rows(query.vector) if self.index.manifest.normalized else query.vector
        if query.colours is None:
            return vector, None
        colour = np.clip(query.colours, 0.0, None)
        total = float(colour.sum())
        return vector, colour / total if total > 0 else colour

    @property
    def extractor(self) -> Extractor:
        """The index's own model, loaded on first use (once, even with concurrent requests)."""
        with self._lock:
            if self._extractor is None:
                from recommender.backbones import load_extractor  # imports TensorFlow: only when needed

                extractor = load_extractor(self.index.model)
                if self.index.head is not None:  # a trained index: the backbone, then its head
                    extractor = HeadExtractor(extractor, self.index.head, self.index.manifest.appearance_version)
                self.index.check_compatible(extractor.spec, extractor.dim)
                self._extractor = extractor
            return self._extractor

    @property
    def random_weights(self) -> bool:
        """True when the index was built with random weights: rankings are not meaningful."""
        return self.index.manifest.random_weights

    def embed_image(self, image: Image.Image) -> Query:
        """The query of a decoded, upright RGB picture (see `recommender.images.open_image`)."""
        return self.embed_images([image])[0]

    def embed_images(self, images: list[Image.Image]) -> list[Query]:
        """The queries of decoded pictures, embedded in one batch (the parts of a look); their colours
        are described once, and a trained head that takes them is handed those."""
        extractor = self.extractor
        pixels = np.stack([fit_to_model(image, extractor.input_size) for image in images])
        colours = describe(pixels, self.index.manifest.appearance_version).colours.astype(np.float32) \
            if self.colour_dim else None
        if colours is not None and isinstance(extractor, HeadExtractor):  # the head takes them too: describe once
            vectors = extractor.embed(pixels, colours)
        else:
            vectors = np.asarray(extractor.embed(pixels), dtype=np.float32)
        if self.index.manifest.normalized:
            vectors = unit_rows(vectors)
        return [Query(vector, None if colours is None else colours[i]) for i, vector in enumerate(vectors)]

    def select(self, filters: Filters = None, exclude: Collection[str] = (),
               within: np.ndarray | None = None) -> Selection:
        """The products a search may return, resolved once (`Index.select`)."""
        return self.index.select(filters, exclude, within)

    def query_image(self, image: Image.Image, k: int = 10, filters: Filters = None) -> list[Hit]:
        return self.search(self.embed_image(image), k, self.select(filters))

    def query_file(self, path: Path, k: int = 10, filters: Filters = None) -> list[Hit]:
        """A photo on disk (the CLI); ImageError with a sentence when it cannot be read."""
        return self.query_image(open_image(path), k, filters)

    def product_query(self, product_id: str) -> Query:
        """A catalogue product's query, the query of "more like this" (a sentence for an unknown id)."""
        try:
            vector = self.index.vector(product_id)
        except KeyError:
            raise RecommenderError(f"No product with id {product_id[:100]!r} in this catalogue.") from None
        if not self.colour_dim:
            return Query(vector)
        return Query(vector, self.index.appearance.colours[self.index.position(product_id)])

    def query_id(self, product_id: str, k: int = 10, filters: Filters = None) -> list[Hit]:
        """More like this catalogue product, leaving the product itself out."""
        return self.search(self.product_query(product_id), k, self.select(filters, (product_id,)))

    def search(self, query: Query, k: int = 10, selection: Selection | None = None) -> list[Hit]:
        """The k best products for a query among the selection's (None: any), ranked by `recommender.ranking`."""
        vector, colour = self._parts(query)
        colours = None if colour is None else colour[np.newaxis]
        distances, positions, matches = self.ranker.rank(vector[np.newaxis], colours, k, selection)
        return self.index.to_hits(distances[0], positions[0], matches[0])

    def tags(self, query: Query, exclude: Collection[str] = ()) -> list[Tag]:
        """The predicted category, colour, gender and age group of a query, whatever the shopper filters.

        From the trained head's classifiers when the index has one (an age group it is unsure of is no tag, and
        the neighbours do not vote one in its place: `tags.AGE_SURE`), else a vote of the nearest products; a
        colour the catalogue did not label (computed at build) is named from the query's own foreground colour.
        """
        vector, colour = self._parts(query)
        roles = self.index.roles
        head = self.index.head
        tags = head_tags(head, roles, vector) if head is not None else []
        covered = [role for role, attribute in roles.filters() if head is not None and attribute in head.attributes]
        if any(attribute is not None and role not in covered for role, attribute in roles.filters()):
            distances, positions = self.index.search(vector, TAG_NEIGHBOURS, self.select(exclude=exclude))
            tags += [t for t in neighbour_tags(self.index, distances[0], positions[0]) if t.role not in covered]
        if colour is not None and roles.colour in self.index.manifest.computed:
            name, share = colour_names(colour)[0]
            tags = [t for t in tags if t.role != "colour"] + [Tag("colour", roles.colour, name, share, "colour")]
        order = {"category": 0, "colour": 1, "gender": 2, "age": 3}
        return sorted(tags, key=lambda t: order.get(t.role, 3))
