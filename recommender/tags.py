"""What a query looks like, in the catalogue's own words: "Dress · Black · Women", with confidences.

Tags name the predicted category, colour, gender and age group of a query (a photo or a product). Without a
trained head they come from a vote of the query's nearest products, each weighted by how close
it is; a confidence is the winning value's share of the vote. The app shows them as chips a
shopper can click to filter, and the API and `query --json` return them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender.index import Index
from recommender.roles import FILTER_ROLES, Roles

if TYPE_CHECKING:
    from recommender.head import Head

__all__ = ["Tag", "neighbour_tags", "head_tags", "TAG_NEIGHBOURS", "AGE_SURE"]

TAG_NEIGHBOURS = 20  # products that vote
# A head's age group (the demo's Adults/Kids) less sure than this is no tag: on the demo's clothing-small validation
# photos an age tag under 0.6 was right for 22 of 44 (a coin flip) and named the age of most of its ten results
# for 30, against every one of the 136 surer tags. (An unsure category stays a tag: the list starts with it.)
AGE_SURE = 0.6


@dataclass(frozen=True)
class Tag:
    role: str  # "category" | "colour" | "gender" | "age"
    attribute: str  # the catalogue's attribute for that role, e.g. articleType
    value: str
    confidence: float  # 0..1
    source: str  # "neighbours" (a vote of the nearest products) or the name of what predicted it

    def to_json(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "value": self.value, "confidence": round(self.confidence, 4),
                "role": self.role, "source": self.source}


def neighbour_tags(index: Index, distances: np.ndarray, positions: np.ndarray) -> list[Tag]:
    """One tag per role the catalogue has, voted by the given neighbours (one query's search row).

    Each neighbour's vote weighs 1 / (1 + (d / d_median)^2), so the closest products count most
    while a single lucky neighbour cannot decide alone.
    """
    keep = positions >= 0
    positions, distances = positions[keep], distances[keep]
    if len(positions) == 0:
        return []
    scale = float(np.median(distances)) or 1.0
    weights = 1.0 / (1.0 + (distances / scale) ** 2)
    tags = []
    for role in FILTER_ROLES:
        attribute = index.roles.attribute(role)
        if attribute is None:
            continue
        votes: dict[str, float] = defaultdict(float)
        for position, weight in zip(positions.tolist(), weights.tolist()):
            value = index.products[position].attributes.get(attribute)
            if value:
                votes[value] += weight
        if votes:
            value, weight = max(votes.items(), key=lambda item: (item[1], item[0]))
            tags.append(Tag(role, attribute, value, weight / float(weights.sum()), "neighbours"))
    return tags


def head_tags(head: Head, roles: Roles, vector: np.ndarray) -> list[Tag]:
    """One tag per role whose attribute the trained head classifies: its most probable value, unless the role is
    the age group and that is a coin flip (`AGE_SURE`)."""
    probabilities = head.classify(np.asarray(vector, dtype=np.float32).reshape(1, -1))
    tags = []
    for role in FILTER_ROLES:
        attribute = roles.attribute(role)
        if attribute in probabilities:
            row = probabilities[attribute][0]
            best = int(np.argmax(row))
            if role == "age" and row[best] < AGE_SURE:
                continue
            tags.append(Tag(role, attribute, head.attributes[attribute][best], float(row[best]), "head"))
    return tags
