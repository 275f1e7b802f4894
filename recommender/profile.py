"""A shopper's likes -> "For you": products like the liked ones, one group per interest.

Interests are the kinds of the liked products (the catalogue's category: a shopper who liked two
dresses and three pairs of trainers has two interests), never one centroid of all likes, which
would land between a dress and a trainer. Each liked product is its own query; a suggestion
keeps the liked product it is nearest to, so its card can say "because you liked X".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recommender.catalog import Product
from recommender.engine import Recommender

__all__ = ["Suggestion", "Interest", "interests", "for_you", "PER_INTEREST", "MAX_INTERESTS", "LIKES_PER_INTEREST"]

PER_INTEREST = 6  # suggestions shown per interest
MAX_INTERESTS = 4  # the most-liked kinds shown; a shopper's stray like does not fill the page
LIKES_PER_INTEREST = 5  # the latest likes of a kind that are queried (bounds the work per page)
NO_KIND = "Your likes"  # the interest of likes whose kind the catalogue does not say


@dataclass(frozen=True)
class Suggestion:
    product: Product
    because: Product  # the liked product it is nearest to
    distance: float


@dataclass
class Interest:
    label: str  # the kind, e.g. "Dresses"
    liked: list[Product]  # latest first
    suggestions: list[Suggestion] = field(default_factory=list)


def interests(engine: Recommender, liked_ids: Sequence[str]) -> list[Interest]:
    """The liked products still in the catalogue, grouped by kind: most likes first, then the latest liked."""
    index = engine.index
    attribute = index.roles.category
    groups: dict[str, Interest] = {}
    for product_id in liked_ids:  # latest first: a group's position among equals follows its latest like
        if product_id not in index:
            continue
        product = index.product(product_id)
        label = (product.attributes.get(attribute) if attribute else None) or NO_KIND
        groups.setdefault(label, Interest(label, [])).liked.append(product)
    order = {label: position for position, label in enumerate(groups)}
    return sorted(groups.values(), key=lambda group: (-len(group.liked), order[group.label]))[:MAX_INTERESTS]


def for_you(engine: Recommender, liked_ids: Sequence[str], per_interest: int = PER_INTEREST,
            disliked_ids: Sequence[str] = ()) -> list[Interest]:
    """Per interest, the products of its kind nearest to its liked ones (never a liked one, never one the shopper
    gave a thumbs down, never twice on the page).

    Kept to the kind: "because you liked this dress" shows dresses; an interest whose kind is unknown is not narrowed.
    """
    groups = interests(engine, liked_ids)
    attribute = engine.index.roles.category
    liked = {product.id for group in groups for product in group.liked} | set(liked_ids) | set(disliked_ids)
    taken: set[str] = set()
    for group in groups:
        kind = {attribute: [group.label]} if attribute and group.label != NO_KIND else None
        best: dict[str, Suggestion] = {}
        for product in group.liked[:LIKES_PER_INTEREST]:
            hits = engine.search(engine.product_query(product.id), per_interest, engine.select(kind, liked | taken))
            for hit in hits:
                if hit.id not in best or hit.distance < best[hit.id].distance:
                    best[hit.id] = Suggestion(hit.product, product, hit.distance)
        group.suggestions = sorted(best.values(), key=lambda s: (s.distance, s.product.id))[:per_interest]
        taken |= {s.product.id for s in group.suggestions}
    return [group for group in groups if group.suggestions]
