"""Retrieval metrics: pure functions of neighbour lists and labels, checkable by hand.

A recommender "works" when the products it returns share the query's attributes (same article
type, colour, gender...). Given each query's neighbours and everyone's labels, these functions
score precision@k and mAP@k per attribute, overall and per value, next to the chance level.

Relevance is a set: a neighbour is relevant when its value is among those the query's value
allows. Within one catalogue that set is the query's own value; across catalogues a label map
says it (a photo folder's "longsleeve" allows Kaggle's Tshirts, Sweatshirts...). Tag accuracy
and hubness (how often the same products come back whatever the query) are scored here too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from recommender.roles import FILTER_ROLES, Roles

__all__ = [
    "MAX_ATTRIBUTE_VALUES", "MIN_VALUE_QUERIES", "NOT_LABELS", "ValueScores", "AttributeScores", "encode_labels",
    "allowed_matrix", "relevance", "precision_at_k", "average_precision_at_k", "chance_precision", "score_attribute",
    "default_attributes", "ValueAccuracy", "TagAccuracy", "tag_accuracy",
]  # fmt: skip

MAX_ATTRIBUTE_VALUES = 200
MIN_VALUE_QUERIES = 10  # a value with fewer queries is too noisy to call weak
# Attributes that are free text, identifiers or dates: scoring retrieval on them says nothing.
NOT_LABELS = frozenset({"id", "productdisplayname", "year", "image", "filename", "name"})  # lower case: any spelling


def encode_labels(
    query_labels: Sequence[str | None], base_labels: Sequence[str | None]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Integer codes of both label lists over one shared vocabulary; -1 where a label is missing or empty."""
    values = sorted({v for v in (*query_labels, *base_labels) if v})
    return _codes(query_labels, values), _codes(base_labels, values), values


def _codes(labels: Sequence[str | None], vocabulary: Sequence[str]) -> np.ndarray:
    code = {v: i for i, v in enumerate(vocabulary)}
    return np.array([code[v] if v else -1 for v in labels], dtype=np.int64)


def allowed_matrix(query_vocabulary: Sequence[str], base_vocabulary: Sequence[str],
                   allowed: Mapping[str, Collection[str]] | None = None) -> np.ndarray:
    """(query values, base values) bool: may a base value answer a query value? Equality without `allowed`."""
    if allowed is None:
        return np.asarray(query_vocabulary, dtype=object)[:, None] == np.asarray(base_vocabulary, dtype=object)[None]
    column = {value: j for j, value in enumerate(base_vocabulary)}
    matrix = np.zeros((len(query_vocabulary), len(base_vocabulary)), dtype=bool)
    for i, value in enumerate(query_vocabulary):
        matrix[i, [column[v] for v in allowed.get(value, ()) if v in column]] = True
    return matrix


def relevance(neighbours: np.ndarray, query_codes: np.ndarray, base_codes: np.ndarray,
              allowed: np.ndarray | None = None) -> np.ndarray:
    """(n_queries, k) bool: does neighbour i carry a value the query's value allows (`allowed_matrix`;
    the same code when None)? A missing label, or a padding position (-1), never matches."""
    found = np.where(neighbours >= 0, base_codes[np.maximum(neighbours, 0)], -1)
    labelled = (found >= 0) & (query_codes[:, None] >= 0)
    if allowed is None:
        return (found == query_codes[:, None]) & labelled
    return allowed[np.maximum(query_codes, 0)[:, None], np.maximum(found, 0)] & labelled


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


def chance_precision(query_codes: np.ndarray, base_codes: np.ndarray, *, leave_one_out: bool,
                     allowed: np.ndarray | None = None) -> float:
    """Expected precision of a neighbour drawn at random, averaged over the labelled queries.

    Leave-one-out: sum over values v of p_v * (n_v - 1) / (n - 1), with p_v the share of
    queries labelled v, n_v the items labelled v and n all items (labelled or not).
    With a separate query split: sum over v of p_v * n_v / n, counting n_v and n in the base,
    where n_v counts every base item the query's value allows (`allowed_matrix`).
    """
    labelled = query_codes[query_codes >= 0]
    if len(labelled) == 0:
        return 0.0
    if allowed is None:
        size = int(max(query_codes.max(), base_codes.max())) + 1
        allowed = np.eye(size, dtype=bool)
    base_counts = np.bincount(base_codes[base_codes >= 0], minlength=allowed.shape[1]).astype(np.float64)
    own = 1 if leave_one_out else 0
    expected = (allowed[labelled] @ base_counts - own) / (len(base_codes) - own)
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
    queries: int  # queries with a value for this attribute (that the label map names)
    values: int  # distinct values among those queries
    chance: float
    precision: dict[int, float]
    map: dict[int, float]
    macro_precision: dict[int, float]
    per_value: list[ValueScores]  # worst precision@max(k) first
    unscored: dict[str, int] = field(default_factory=dict)  # query values the label map does not name: queries

    def worst(self, n: int = 5, min_count: int = MIN_VALUE_QUERIES) -> list[ValueScores]:
        """The n weakest values among those with at least `min_count` queries (fewer are noise)."""
        return [v for v in self.per_value if v.count >= min_count][:n]


def _vocabularies(query_labels: Sequence[str | None], base_labels: Sequence[str | None],
                  allowed: Mapping[str, Collection[str]] | None) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Query codes, base codes, the query vocabulary and the allowed matrix between the two vocabularies."""
    if allowed is None:
        query_codes, base_codes, vocabulary = encode_labels(query_labels, base_labels)
        return query_codes, base_codes, vocabulary, np.eye(len(vocabulary), dtype=bool)
    query_vocabulary = sorted({v for v in query_labels if v})
    base_vocabulary = sorted({v for v in base_labels if v})
    query_codes, base_codes = _codes(query_labels, query_vocabulary), _codes(base_labels, base_vocabulary)
    return query_codes, base_codes, query_vocabulary, allowed_matrix(query_vocabulary, base_vocabulary, allowed)


def score_attribute(
    name: str,
    neighbours: np.ndarray,
    query_labels: Sequence[str | None],
    base_labels: Sequence[str | None],
    ks: Sequence[int],
    *,
    leave_one_out: bool,
    allowed: Mapping[str, Collection[str]] | None = None,
) -> AttributeScores:
    """Precision@k and mAP@k of one attribute, overall and per value, from a neighbour matrix.

    `allowed` (a label map: query value -> base values) makes relevance a set; queries whose value it
    does not name cannot be judged and are counted in `unscored` instead. `neighbours` may be padded with -1.
    """
    query_codes, base_codes, vocabulary, matrix = _vocabularies(query_labels, base_labels, allowed)
    named = matrix.any(axis=1)
    mask = (query_codes >= 0) & named[np.maximum(query_codes, 0)]
    unnamed = np.bincount(query_codes[(query_codes >= 0) & ~mask], minlength=len(vocabulary))
    codes = query_codes[mask]
    relevant = relevance(neighbours[mask], codes, base_codes, matrix)
    base_counts = np.bincount(base_codes[base_codes >= 0], minlength=matrix.shape[1])
    n_relevant = matrix[codes].astype(np.int64) @ base_counts - (1 if leave_one_out else 0)
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
        chance=chance_precision(np.where(mask, query_codes, -1), base_codes, leave_one_out=leave_one_out,
                                allowed=matrix),
        precision={k: mean(p) for k, p in per_query_p.items()},
        map={k: mean(ap) for k, ap in per_query_ap.items()},
        macro_precision={k: mean(v) for k, v in value_p.items()},
        per_value=per_value,
        unscored={vocabulary[code]: int(unnamed[code]) for code in np.flatnonzero(unnamed)},
    )


def default_attributes(records: Sequence[dict[str, str]]) -> list[str]:
    """Attributes worth scoring: 2..200 distinct values, not free text, ids, years or other numbers.

    An attribute whose values are mostly unique (more distinct values than half the
    labelled items) is treated as free text too, which keeps tiny catalogues sane; one whose values are all
    numbers (a shop's price or size column) is no label a picture shows.
    """
    names = list(dict.fromkeys(name for record in records for name in record))
    roles = Roles.of(names)
    played = {roles.attribute(role) for role in FILTER_ROLES}  # a shop's category may be a code ("101"): a label
    chosen = []
    for name in names:
        if name.lower() in NOT_LABELS:
            continue
        labels = [record[name] for record in records if record.get(name)]
        distinct = len(set(labels))
        numbers = name not in played and all(map(_number, labels))
        if 2 <= distinct <= MAX_ATTRIBUTE_VALUES and distinct <= len(labels) / 2 and not numbers:
            chosen.append(name)
    return chosen


def _number(text: str) -> bool:
    """Whether a value reads as a number ("19.99", "1,250"): a price or a size in figures, which no picture shows."""
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ValueAccuracy:
    """Tag accuracy of the queries that carry one value: a category the tags miss shows here."""

    value: str
    count: int
    accuracy: float


@dataclass(frozen=True)
class TagAccuracy:
    """How often a query's predicted tag of one role is right, overall, macro over values and per value."""

    role: str  # "category", "colour", "gender"
    attribute: str  # the index attribute the tag names
    queries: int
    accuracy: float
    macro_accuracy: float
    per_value: list[ValueAccuracy]  # worst first


def tag_accuracy(role: str, attribute: str, predicted: Sequence[str | None], query_labels: Sequence[str | None],
                 allowed: Mapping[str, Collection[str]] | None = None) -> TagAccuracy:
    """A tag is right when it is the query's own value, or with `allowed` (a label map) one its value allows.

    Queries without a value (or whose value the map does not name) are not judged; a query that
    got no tag counts as wrong.
    """
    judged: dict[str, list[bool]] = {}
    for tag, label in zip(predicted, query_labels):
        if not label or (allowed is not None and not allowed.get(label)):
            continue
        right = tag == label if allowed is None else tag in allowed[label]
        judged.setdefault(label, []).append(bool(tag) and right)
    per_value = sorted((ValueAccuracy(value, len(hits), float(np.mean(hits))) for value, hits in judged.items()),
                       key=lambda v: (v.accuracy, -v.count, v.value))
    every = [hit for hits in judged.values() for hit in hits]
    return TagAccuracy(
        role=role,
        attribute=attribute,
        queries=len(every),
        accuracy=float(np.mean(every)) if every else 0.0,
        macro_accuracy=float(np.mean([v.accuracy for v in per_value])) if per_value else 0.0,
        per_value=per_value,
    )
