"""Do votes teach the ranking? Simulated shoppers vote on one half of the queries; P@10 is read on the other.

The queries are halved by a hash of their id. Shoppers search with the voting half, in hash order, and
vote on the ten results the shop shows them (one session per query): thumbs up when a result is of the
query's own kind (the label map's allowed kinds for another catalogue's photos), and of its colour where
both colours are known; thumbs down otherwise, until N votes are cast. The votes are learnt exactly as
`python -m recommender learn` learns the real ones (`recommender.preferences.fit`), and the other half's
P@10 of kind is read before and after, overall and on the queries of kinds no voting query had: what the
votes did to shoppers they never saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from recommender.evaluation.run import Queries, neighbours
from recommender.index import Index
from recommender.label_map import LabelMap
from recommender.preferences import VoteRecord, bind, fit, index_kinds, kind_lookup
from recommender.ranking import Ranker, RankingSettings

__all__ = ["simulate_votes", "voting_half"]

K = 10


def voting_half(ids: list[str]) -> np.ndarray:
    """Which queries vote (True) and which are scored (False): the first bit of the SHA-256 of their id."""
    return np.array([hashlib.sha256(i.encode("utf-8")).digest()[0] % 2 == 0 for i in ids], dtype=bool)


def _subset(queries: Queries, rows: np.ndarray) -> Queries:
    return replace(queries, vectors=queries.vectors[rows],
                   colours=None if queries.colours is None else queries.colours[rows],
                   records=[queries.records[i] for i in rows], ids=[queries.ids[i] for i in rows],
                   own=None if queries.own is None else queries.own[rows])


class _Judge:
    """What a simulated shopper likes: a result of the query's own kind, and of its colour where both are known."""

    def __init__(self, index: Index, queries: Queries, label_map: LabelMap | None) -> None:
        roles = index.roles
        attribute = label_map.index_attribute if label_map else roles.category
        query_attribute = label_map.query_attribute if label_map else roles.category
        self.kinds = [r.get(query_attribute) or None for r in queries.records]
        self.allowed = [label_map.values_for(k) if label_map else frozenset({k} if k else ()) for k in self.kinds]
        self.item_kinds = [p.attributes.get(attribute) for p in index.products]
        colour = roles.colour  # known: labelled by the catalogue (not computed), and named alike on both sides
        if label_map is not None or colour in index.manifest.computed:
            colour = None
        self.colours = [r.get(colour) or None if colour else None for r in queries.records]
        self.item_colours = [p.attributes.get(colour) if colour else None for p in index.products]

    def same_kind(self, query: int, row: int) -> bool:
        return self.item_kinds[row] in self.allowed[query]

    def likes(self, query: int, row: int) -> bool:
        colour, item_colour = self.colours[query], self.item_colours[row]
        return self.same_kind(query, row) and (colour is None or not item_colour or item_colour == colour)

    def precision(self, queries: np.ndarray, found: np.ndarray) -> float | None:
        """Mean share of the K results of each query (with a known kind) that are of its kind."""
        shares = [np.mean([self.same_kind(q, int(r)) for r in row if r >= 0] or [0.0])
                  for q, row in zip(queries, found) if self.allowed[q]]
        return round(float(np.mean(shares)), 4) if shares else None


def simulate_votes(index: Index, queries: Queries, votes: int, *, settings: RankingSettings | None = None,
                   label_map: LabelMap | None = None) -> dict:
    """Cast `votes` simulated votes on the voting half, learn them, and score the other half before and after."""
    judge = _Judge(index, queries, label_map)
    voting = voting_half(queries.ids)
    order = np.argsort([hashlib.sha256(i.encode("utf-8")).hexdigest() for i in queries.ids])
    voters = np.array([q for q in order if voting[q] and judge.allowed[q]], dtype=np.int64)
    voters = voters[: -(-votes // K)]  # the first queries in hash order, ten votes each
    before = Ranker(index, settings)
    found = neighbours(before, _subset(queries, voters), K)
    kinds, _ = index_kinds(index)
    query_kinds = before.query_kinds(queries.vectors[voters]) if len(voters) else []
    records = []
    for q, row, kind in zip(voters, found, query_kinds):
        for r in row[row >= 0]:
            if len(records) < votes:
                records.append(VoteRecord(f"simulated-{queries.ids[q]}", kinds[kind] if kind >= 0 else None,
                                          index.ids[int(r)], 1 if judge.likes(q, int(r)) else -1, len(records)))
    learned = bind(fit(records, index.manifest.catalog.identity, kind_lookup(index)), index)
    after = Ranker(index, settings, learned=lambda: learned)
    scored = np.flatnonzero(~voting)
    voted_kinds = {judge.kinds[q] for q in voters}
    unvoted = np.array([q for q in scored if judge.kinds[q] not in voted_kinds], dtype=np.int64)
    result = {"votes": len(records), "sessions": len(voters), "queries_scored": len(scored)}
    for name, rows in (("", scored), ("unvoted_kinds_", unvoted)):
        subset = _subset(queries, rows)
        result[f"{name}queries"] = len(rows)
        result[f"{name}p10_before"] = judge.precision(rows, neighbours(before, subset, K)) if len(rows) else None
        result[f"{name}p10_after"] = judge.precision(rows, neighbours(after, subset, K)) if len(rows) else None
    del result["queries"]
    return result
