"""Retrieval metrics: pure functions of neighbour lists and labels, checkable by hand.

A recommender "works" when the products it returns share the query's attributes (same article
type, colour, gender...). Given each query's neighbours and everyone's labels, these functions
score precision@k and mAP@k per attribute, overall and per value, next to the chance level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_ATTRIBUTE_VALUES", "MIN_VALUE_QUERIES", "NOT_LABELS", "ValueScores", "AttributeScores", "encode_labels",
    "relevance", "precision_at_k", "average_precision_at_k", "chance_precision", "score_attribute",
    "default_attributes",
]  # fmt: skip

MAX_ATTRIBUTE_VALUES = 200
MIN_VALUE_QUERIES = 10  # a value with fewer queries is too noisy to call weak
# Attributes that are free text, identifiers or dates: scoring retrieval on them says nothing.
NOT_LABELS = frozenset({"id", "productDisplayName", "year", "image", "filename", "name"})


def encode_labels(
    query_labels: Sequence[str | None], base_labels: Sequence[str | None]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Integer codes of both label lists over one shared vocabulary; -1 where a label is missing or empty."""
    values = sorted({v for v in (*query_labels, *base_labels) if v})
    code = {v: i for i, v in enumerate(values)}

    def to_codes(labels: Sequence[str | None]) -> np.ndarray:
        return np.array([code[v] if v else -1 for v in labels], dtype=np.int64)

    return to_codes(query_labels), to_codes(base_labels), values


def relevance(neighbours: np.ndarray, query_codes: np.ndarray, base_codes: np.ndarray) -> np.ndarray:
    """(n_queries, k) bool: does neighbour i carry the query's label? A missing label never matches."""
    return (base_codes[neighbours] == query_codes[:, None]) & (query_codes[:, None] >= 0)


def precision_at_k(relevant: np.ndarray, k: int) -> np.ndarray:
    """Per query: the fraction of its first k neighbours that are relevant."""
    return relevant[:, :k].mean(axis=1)


def average_precision_at_k(relevant: np.ndarray, k: int, n_relevant: np.ndarray) -> np.ndarray:
    """Per query: AP@k = (sum over ranks i <= k where neighbour i is relevant of precision@i) / min(k, R).

    R (`n_relevant`) is the number of relevant items that could have been retrieved (for
    leave-one-out, the items with the query's label other than the query). Dividing by
    min(k, R) rather than by the hits found makes AP@k = 1 exactly when the first min(k, R)
    neighbours are all relevant, and lower when relevant items come late or not at all.
    A query with R = 0 can find nothing and scores 0, as its precision does.
    """
    hits = relevant[:, :k].astype(np.float64)
    precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    denominator = np.minimum(k, n_relevant).astype(np.float64)
    summed = (precision_at_i * hits).sum(axis=1)
    return np.divide(summed, denominator, out=np.zeros_like(summed), where=denominator > 0)


def chance_precision(query_codes: np.ndarray, base_codes: np.ndarray, *, leave_one_out: bool) -> float:
    """Expected precision of a neighbour drawn at random, averaged over the labelled queries.

    Leave-one-out: sum over values v of p_v * (n_v - 1) / (n - 1), with p_v the share of
    queries labelled v, n_v the items labelled v and n all items (labelled or not).
    With a separate query split: sum over v of p_v * n_v / n, counting n_v and n in the base.
    """
    labelled = query_codes[query_codes >= 0]
    if len(labelled) == 0:
        return 0.0
    size = int(max(query_codes.max(), base_codes.max())) + 1
    base_counts = np.bincount(base_codes[base_codes >= 0], minlength=size).astype(np.float64)
    own = 1 if leave_one_out else 0
    expected = (base_counts[labelled] - own) / (len(base_codes) - own)
    return float(expected.mean())


@dataclass(frozen=True)
class ValueScores:
    """Scores of the queries that carry one attribute value: makes a weak category visible."""

    value: str
    count: int
    precision: dict[int, float]
    map: dict[int, float]


@dataclass(frozen=True)
class AttributeScores:
    """Scores of one attribute: micro averages over queries, macro over values, and the chance level."""

    name: str
    queries: int  # queries with a value for this attribute
    values: int  # distinct values among those queries
    chance: float
    precision: dict[int, float]
    map: dict[int, float]
    macro_precision: dict[int, float]
    per_value: list[ValueScores]  # worst precision@max(k) first

    def worst(self, n: int = 5, min_count: int = MIN_VALUE_QUERIES) -> list[ValueScores]:
        """The n weakest values among those with at least `min_count` queries (fewer are noise)."""
        return [v for v in self.per_value if v.count >= min_count][:n]


def score_attribute(
    name: str,
    neighbours: np.ndarray,
    query_labels: Sequence[str | None],
    base_labels: Sequence[str | None],
    ks: Sequence[int],
    *,
    leave_one_out: bool,
) -> AttributeScores:
    """Precision@k and mAP@k of one attribute, overall and per value, from a neighbour matrix."""
    query_codes, base_codes, vocabulary = encode_labels(query_labels, base_labels)
    mask = query_codes >= 0
    codes = query_codes[mask]
    relevant = relevance(neighbours[mask], codes, base_codes)
    base_counts = np.bincount(base_codes[base_codes >= 0], minlength=len(vocabulary))
    n_relevant = base_counts[codes] - (1 if leave_one_out else 0)

    per_query_p = {k: precision_at_k(relevant, k) for k in ks}
    per_query_ap = {k: average_precision_at_k(relevant, k, n_relevant) for k in ks}
    counts = np.bincount(codes, minlength=len(vocabulary))
    present = np.flatnonzero(counts)

    def by_value(per_query: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=per_query, minlength=len(vocabulary))[present] / counts[present]

    value_p = {k: by_value(p) for k, p in per_query_p.items()}
    value_ap = {k: by_value(ap) for k, ap in per_query_ap.items()}
    per_value = [
        ValueScores(
            value=vocabulary[code],
            count=int(counts[code]),
            precision={k: float(value_p[k][j]) for k in ks},
            map={k: float(value_ap[k][j]) for k in ks},
        )
        for j, code in enumerate(present)
    ]
    top = max(ks)
    per_value.sort(key=lambda v: (v.precision[top], -v.count, v.value))

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if len(values) else 0.0

    return AttributeScores(
        name=name,
        queries=int(mask.sum()),
        values=len(present),
        chance=chance_precision(query_codes, base_codes, leave_one_out=leave_one_out),
        precision={k: mean(p) for k, p in per_query_p.items()},
        map={k: mean(ap) for k, ap in per_query_ap.items()},
        macro_precision={k: mean(v) for k, v in value_p.items()},
        per_value=per_value,
    )


def default_attributes(records: Sequence[dict[str, str]]) -> list[str]:
    """Attributes worth scoring: 2..200 distinct values, not free text, ids or years.

    An attribute whose values are mostly unique (more distinct values than half the
    labelled items) is treated as free text too, which keeps tiny catalogues sane.
    """
    names = list(dict.fromkeys(name for record in records for name in record))
    chosen = []
    for name in names:
        if name in NOT_LABELS:
            continue
        labels = [record[name] for record in records if record.get(name)]
        distinct = len(set(labels))
        if 2 <= distinct <= MAX_ATTRIBUTE_VALUES and distinct <= len(labels) / 2:
            chosen.append(name)
    return chosen
