"""Do votes teach the ranking? Simulated shoppers vote on one half of the queries; P@10 is read on the other.

The queries are halved by a hash of their id. Shoppers search with the voting half, in hash order, and
vote on the ten results the shop shows them (one session per query): thumbs up when a result is of the
query's own kind (the label map's allowed kinds for another catalogue's photos), and of its colour where
both colours are known; thumbs down otherwise, until N votes are cast. The votes are learnt exactly as
`python -m recommender learn` learns the real ones (`recommender.vote_learning.learn_votes`: the preferences,
and the vote memory where its switch, decided by held-out voting sessions, turns it on), and the other half's
P@10 of kind is read before and after, overall and on the queries of kinds no voting query had: what the
votes did to shoppers they never saw.
"""

from __future__ import annotations

import hashlib

import numpy as np

from recommender.evaluation.run import Queries, neighbours
from recommender.index import Index
from recommender.label_map import LabelMap
from recommender.preferences import bind
from recommender.ranking import Ranker, RankingSettings
from recommender.vote_learning import learn_votes
from recommender.vote_memory import QueryVote, bind_memory

__all__ = ["simulate_votes", "voting_half"]

K = 10


def voting_half(ids: list[str]) -> np.ndarray:
    """Which queries vote (True) and which are scored (False): the first bit of the SHA-256 of their id."""
    return np.array([hashlib.sha256(i.encode("utf-8")).digest()[0] % 2 == 0 for i in ids], dtype=bool)


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
    found = neighbours(before, queries.subset(voters), K)
    votes_cast = [QueryVote(f"simulated-{queries.ids[q]}", queries.ids[q], index.ids[int(r)],
                            1 if judge.likes(q, int(r)) else -1, n)
                  for n, (q, r) in enumerate((q, r) for q, row in zip(voters, found) for r in row[row >= 0])]
    votes_cast = votes_cast[:votes]
    preferences, memory = learn_votes(index, votes_cast, {queries.ids[q]: queries.vectors[q] for q in voters},
                                      settings)
    learned = bind(preferences, index)
    bound_memory = bind_memory(memory, index) if memory.on else None
    after = Ranker(index, settings, learned=lambda: learned, memory=lambda: bound_memory)
    scored = np.flatnonzero(~voting)
    voted_kinds = {judge.kinds[q] for q in voters}
    unvoted = np.array([q for q in scored if judge.kinds[q] not in voted_kinds], dtype=np.int64)
    result = {"votes": len(votes_cast), "sessions": len(voters), "queries_scored": len(scored),
              "memory_on": memory.on, "memory_switch": memory.switch, "unvoted_kinds_queries": len(unvoted)}
    tune = np.array([hashlib.sha256(i.encode("utf-8")).digest()[1] % 2 == 0 for i in queries.ids], dtype=bool)
    found_before, found_after = (neighbours(ranker, queries.subset(scored), K) for ranker in (before, after))
    at = {q: i for i, q in enumerate(scored)}
    for name, rows in (("", scored), ("unvoted_kinds_", unvoted), ("tune_", scored[tune[scored]]),
                       ("report_", scored[~tune[scored]]), ("report_unvoted_kinds_", unvoted[~tune[unvoted]])):
        pick = [at[q] for q in rows]
        result[f"{name}p10_before"] = judge.precision(rows, found_before[pick]) if len(rows) else None
        result[f"{name}p10_after"] = judge.precision(rows, found_after[pick]) if len(rows) else None
    return result
