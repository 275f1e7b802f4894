"""Score an index against its catalogue's labels: leave-one-out, or a query split against it.

Each item is used as a query against the others (leave-one-out), or the items of another index
(e.g. a validation split embedded with the same model) are queried against it; the neighbours
come from the index's own search, so evaluation ranks exactly as the shop does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.errors import IncompatibleIndex, RecommenderError
from recommender.evaluation.metrics import MAX_ATTRIBUTE_VALUES, AttributeScores, default_attributes, score_attribute
from recommender.index import Index

__all__ = ["DEFAULT_KS", "IndexEvaluation", "neighbours", "evaluate_index"]

DEFAULT_KS = (1, 5, 10)
QUERY_BLOCK = 512  # queries searched at once


@dataclass(frozen=True)
class IndexEvaluation:
    """The scores of one index: which model made it, on how many items, and per attribute."""

    label: str  # short model name shown in tables and charts
    index: str
    catalog: str  # the catalogue the index was built from
    backbone: str
    weights: str
    dim: int
    items: int
    queries: str | None  # catalogue of the query split; None for leave-one-out
    query_items: int
    seconds: float
    attributes: list[AttributeScores]

    @property
    def random_weights(self) -> bool:
        """Random weights (weights "none") learnt nothing: their numbers say nothing about the backbone."""
        return self.weights == "none"


def neighbours(index: Index, queries: np.ndarray, k: int, *, leave_one_out: bool,
               on_block: Callable[[int], None] | None = None) -> np.ndarray:
    """Positions in `index` of the k nearest rows of every query, nearest first (n, k).

    With `leave_one_out`, `queries` are the index's own vectors and each query's own row is left
    out (when a duplicate ties with it, the duplicate may take its place: it is another product).
    """
    extra = 1 if leave_one_out else 0
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), QUERY_BLOCK):
        block = np.asarray(queries[start : start + QUERY_BLOCK], dtype=np.float32)
        _, positions = index.search(block, k + extra)
        if leave_one_out:
            keep = positions != np.arange(start, start + len(block))[:, None]
            keep[keep.all(axis=1), -1] = False  # own row not among the k + 1: drop the farthest instead
            positions = positions[keep].reshape(len(block), k)
        out[start : start + len(block)] = positions
        if on_block is not None:
            on_block(len(block))
    return out


def _check_attributes(names: Sequence[str], records: Sequence[dict[str, str]], where: object) -> None:
    missing = [n for n in names if not any(n in r for r in records)]
    if missing:
        known = ", ".join(sorted({n for r in records for n in r})) or "none"
        raise RecommenderError(f"The catalogue of {where} has no attribute {', '.join(missing)} (it has: {known}).")


def evaluate_index(
    index: Index,
    ks: Sequence[int] = DEFAULT_KS,
    attributes: Sequence[str] | None = None,
    *,
    queries: Index | None = None,
    progress: bool = False,
) -> IndexEvaluation:
    """Score an `Index` leave-one-out, or by querying it with the vectors of another `Index`.

    `queries`, when given, must hold vectors of the same model (e.g. a validation split embedded
    with the index's extractor). `attributes` defaults to `default_attributes`.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    ks = sorted(set(ks))
    base_records = [p.attributes for p in index.products]
    query_records = base_records if queries is None else [p.attributes for p in queries.products]
    names = list(attributes) if attributes else default_attributes(base_records)
    if queries is not None and not attributes:
        names = [n for n in names if any(n in r for r in query_records)]
    _check_attributes(names, base_records, index.path)
    _check_attributes(names, query_records, queries.path if queries else index.path)
    if not names:
        raise RecommenderError(
            f"The catalogue of {index.path} has no attribute with 2 to {MAX_ATTRIBUTE_VALUES} values to score."
        )
    leave_one_out = queries is None
    available = len(index) - 1 if leave_one_out else len(index)
    if max(ks) > available:
        raise RecommenderError(f"k={max(ks)} needs more than the {len(index)} items of {index.path}.")
    if queries is not None and not (index.model.compatible(queries.model) and index.dim == queries.dim):
        raise IncompatibleIndex(
            f"The queries in {queries.path} were embedded with {queries.model.label}, not with {index.model.label} "
            f"as {index.path} was."
        )

    query_vectors = index.vectors if leave_one_out else queries.vectors
    with tqdm(total=len(query_vectors), unit="query", desc="neighbours", disable=not progress) as bar:
        found = neighbours(index, query_vectors, max(ks), leave_one_out=leave_one_out, on_block=bar.update)
    scores = [
        score_attribute(name, found, [r.get(name) for r in query_records], [r.get(name) for r in base_records], ks,
                        leave_one_out=leave_one_out)
        for name in names
    ]
    manifest = index.manifest
    return IndexEvaluation(
        label=manifest.model.label,
        index=str(index.path),
        catalog=manifest.catalog.path,
        backbone=manifest.model.backbone,
        weights=manifest.model.weights,
        dim=manifest.dim,
        items=len(index),
        queries=None if leave_one_out else queries.manifest.catalog.path,
        query_items=len(query_vectors),
        seconds=round(time.perf_counter() - started, 2),
        attributes=scores,
    )
