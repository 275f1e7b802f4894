"""What a search (`ui.state.Search`) finds: its query, results, counts, tags and labels.

The page's callbacks ask this module and render what it returns; nothing here builds components.
A step's query (`recommender.query_value.Query`) is the kept photo's (or its region's crop,
re-embedded), a product's stored one (or its region's crop), or for a refinement the Rocchio update
of the step before it by the shopper's votes (`Query.refined`). The filters, the text and the
products left out become one `Selection`, resolved once per search. Everything read from the URL was checked for shape by
`ui.state`; ids and references that do not exist (any more) raise a RecommenderError with the
sentence to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.catalog import Product
from recommender.errors import ImageError, RecommenderError
from recommender.images import open_image
from recommender.index import Hit, Index
from recommender.query_value import Query
from recommender.recent import Recent
from recommender.regions import Box
from recommender.roles import Roles
from recommender.tags import Tag
from recommender.ui.services import Services
from recommender.ui.state import Search, Step

__all__ = ["Found", "selected_filters", "step_query", "find", "facet_counts", "tags_of", "confident_tags",
           "step_label", "AUTO_CATEGORY_CONFIDENCE"]

# A category tag at least this sure applies itself to a new photo (marked, and undone in one click).
# Chosen on clothing-small validation photos against the demo catalogue (neighbour-vote tags): at
# 0.7 it applied to 13 of 341 photos, all rightly; at 0.6 to 31, 90 % rightly.
AUTO_CATEGORY_CONFIDENCE = 0.7
PRODUCT_REGIONS_KEPT = 64  # region vectors of catalogue products kept in memory


@dataclass(frozen=True)
class Found:
    """What the page shows: results (hits, or products when there is no photo) and how many there are."""

    hits: list[Hit]
    products: list[Product]
    total: int  # products the filters and the text leave (the query product itself aside)


def selected_filters(roles: Roles, filters: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Role -> chosen values as the catalogue's attribute -> values, leaving out roles it lacks."""
    chosen: dict[str, list[str]] = {}
    for role, attribute in roles.filters():
        values = filters.get(role) or ()
        if attribute and values:
            chosen[attribute] = [str(v) for v in values]
    return chosen


class _ProductRegions:
    """Queries of parts of catalogue pictures, the most recently used kept (a region is often re-ranked)."""

    def __init__(self) -> None:
        self._queries: Recent[tuple[str, str, str], Query] = Recent(PRODUCT_REGIONS_KEPT)

    def query(self, services: Services, product: Product, box: Box) -> Query:
        key = (str(services.engine.index.path), product.id, box.key())
        query = self._queries.get(key)
        if query is not None:
            return query
        try:
            picture = open_image(product.image)
        except (ImageError, OSError):
            raise RecommenderError("This product's picture cannot be read, so a part of it cannot be searched; "
                                   "reset the region to search the whole product.") from None
        query = services.engine.embed_image(box.crop(picture))
        self._queries.put(key, query)
        return query


_product_regions = _ProductRegions()


def _product(index: Index, product_id: str) -> Product:
    try:
        return index.product(product_id)
    except KeyError:
        raise RecommenderError("A product of this search is no longer in the catalogue; start again from a "
                               "photo or another product.") from None


def step_query(services: Services, trail: Sequence[Step]) -> tuple[Query, set[str]]:
    """The query of the last step of `trail`, and the catalogue ids its results leave out."""
    step = trail[-1]
    engine = services.engine
    index = engine.index
    if step.kind == "upload":
        if step.region is None:
            return engine.stored_query(services.uploads.vector(step.ref)), set()
        kept = services.uploads.region_vector(step.ref, step.region, services.embed_for_store)
        return engine.stored_query(kept), set()
    if step.kind == "item":
        product = _product(index, step.ref)
        if step.region is None:
            return engine.product_query(product.id), {product.id}
        return _product_regions.query(services, product, step.region), {product.id}
    before, excluded = step_query(services, trail[:-1])
    liked, disliked = step.voted()
    queries = {}
    for product_id in liked + disliked:  # products gone from the catalogue since the vote are left out
        if product_id in index:
            queries[product_id] = engine.product_query(product_id)
    moved = before.refined([queries[i] for i in liked if i in queries], [queries[i] for i in disliked if i in queries])
    return moved, excluded | set(queries)


def _text_rows(services: Services, text: str) -> np.ndarray | None:
    return services.text_index.matching(text) if text else None


def find(services: Services, search: Search) -> Found:
    """The products the page shows for this search: the nearest, or products to start from."""
    index = services.engine.index
    filters = selected_filters(index.roles, search.filters)
    within = _text_rows(services, search.text)
    if not search.trail:
        allowed = index.matching(filters) if within is None else index.allowed(filters, within=within)
        if search.text:
            rows = services.text_index.ranked(search.text, allowed)[: search.shown]
        else:  # spread over the catalogue: a varied place to start from
            rows = allowed[(np.arange(min(search.shown, len(allowed))) * (len(allowed) / search.shown)).astype(int)] \
                if len(allowed) > search.shown else allowed
        return Found([], [index.products[i] for i in rows], len(allowed))
    query, exclude = step_query(services, search.trail)
    selection = index.select(filters, exclude, within)
    return Found(services.engine.search(query, search.shown, selection), [], selection.size)


def facet_counts(services: Services, search: Search) -> dict[str, dict[str, int]]:
    """Per filter role, value -> products left if it were chosen, counting the *other* active filters
    and the text: an option with 0 cannot give a result with what is already chosen."""
    index = services.engine.index
    within = _text_rows(services, search.text)
    counts: dict[str, dict[str, int]] = {}
    for role, attribute in index.roles.filters():
        if attribute is None:
            continue
        others = selected_filters(index.roles, {r: v for r, v in search.filters.items() if r != role})
        rows = index.allowed(others, within=within)
        counts[role] = index.attribute_values(attribute, rows)
    return counts


def tags_of(services: Services, search: Search) -> list[Tag]:
    """What the current query looks like (category, colour, gender), whatever the shopper filters."""
    if not search.trail:
        return []
    query, exclude = step_query(services, search.trail)
    return services.engine.tags(query, exclude)


def confident_tags(tags: Sequence[Tag]) -> dict[str, str]:
    """Role -> value of the tags sure enough to apply themselves to a new photo (today: the category)."""
    return {t.role: t.value for t in tags if t.role == "category" and t.confidence >= AUTO_CATEGORY_CONFIDENCE}


def step_label(index: Index, step: Step) -> str:
    """A step in the shopper's words: "Your photo", the product's name, "Liked (2)"; "· part" for a region."""
    if step.kind == "upload":
        label = "Your photo"
    elif step.kind == "item":
        try:
            label = index.product(step.ref).name
        except KeyError:
            label = "A product no longer in the catalogue"
    else:
        liked, _ = step.voted()
        label = f"The {len(liked)} you liked" if len(liked) > 1 else "The one you liked"
    return label + (" · part" if step.region else "")

