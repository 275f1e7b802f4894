"""Hubness: whether the same few products come back whatever the query.

In a high-dimensional space some points ("hubs") are near almost everything: one pair of grey
shorts in the top 10 of a sixth of all photos, children's products filling a quarter of the result
slots although they are 3 % of the catalogue. Precision can look fine while shoppers see the same
items again and again, so every evaluation reports, from the result lists alone:
distinct products over result slots, the products that appear for the most queries (with the share
of queries whose top k holds them), and each gender value's share of the results against its share
of the catalogue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["HUB_K", "FREQUENT", "MAX_SHARE", "FrequentResult", "ValueShare", "Hubness", "hubness"]

HUB_K = 10  # the top k whose contents are counted (the page's first screen)
FREQUENT = 10  # most frequent results listed
MAX_SHARE = 0.05  # the target: no product in the top 10 of more than 5 % of the queries


@dataclass(frozen=True)
class FrequentResult:
    id: str
    label: str  # what it is, in the catalogue's words ("Shorts · Grey · Boys")
    queries: int  # queries whose top k holds it
    share: float  # of all queries


@dataclass(frozen=True)
class ValueShare:
    value: str
    results: float  # share of the labelled result slots
    catalogue: float  # share of the labelled catalogue rows


@dataclass(frozen=True)
class Hubness:
    k: int
    queries: int
    slots: int  # filled result slots (padding left out)
    distinct: int  # distinct products among them
    distinct_share: float  # distinct / slots: 1 when no product repeats
    max_share: float  # the largest share of queries one product appears for
    over_target: int  # products appearing for more than MAX_SHARE of the queries
    frequent: list[FrequentResult]
    attribute: str | None  # the attribute whose shares are compared (gender), None when the catalogue has none
    shares: list[ValueShare]  # most over-represented first


def hubness(neighbours: np.ndarray, ids: Sequence[str], k: int = HUB_K, *, labels: Sequence[str] | None = None,
            attribute: str | None = None, values: Sequence[str | None] | None = None,
            frequent: int = FREQUENT) -> Hubness:
    """Hubness of result lists (n_queries, >= k) of base positions, padded with -1.

    `labels` names each base row for the frequent list; `values` are each base row's value of
    `attribute` (e.g. gender), whose share among the results is compared with the catalogue's.
    """
    top = np.asarray(neighbours)[:, :k]
    queries = len(top)
    filled = top[top >= 0]
    per_query = np.concatenate([np.unique(row[row >= 0]) for row in top]) if queries else np.empty(0, np.int64)
    counts = np.bincount(per_query, minlength=len(ids))
    order = np.lexsort((np.arange(len(counts)), -counts))[:frequent]
    listed = [FrequentResult(ids[i], labels[i] if labels is not None else ids[i], int(counts[i]),
                             float(counts[i] / queries)) for i in order if counts[i] > 0]
    shares: list[ValueShare] = []
    if values is not None:
        in_results = Counter(values[i] for i in filled.tolist() if values[i])
        in_catalogue = Counter(v for v in values if v)
        total_results, total_catalogue = sum(in_results.values()), sum(in_catalogue.values())
        shares = [ValueShare(value, in_results[value] / total_results if total_results else 0.0,
                             count / total_catalogue) for value, count in in_catalogue.items()]
        shares.sort(key=lambda s: (s.catalogue - s.results, s.value))
    return Hubness(
        k=k,
        queries=queries,
        slots=len(filled),
        distinct=int(len(np.unique(filled))),
        distinct_share=float(len(np.unique(filled)) / len(filled)) if len(filled) else 0.0,
        max_share=float(counts.max() / queries) if queries and len(counts) else 0.0,
        over_target=int((counts > MAX_SHARE * queries).sum()),
        frequent=listed,
        attribute=attribute if values is not None else None,
        shares=shares,
    )
