"""Score an index against labels: its own products leave-one-out, or another catalogue's queries.

Neighbours come from the index's `Ranker` and tags from its `Recommender`, with the shop's ranking
settings, so evaluation ranks and tags exactly as the shop does. The queries are either the
index's own products (leave-one-out: each one's own row is left out; on a trained index only the
held-out products the head never saw, unless every product is asked for) or the pictures of
another catalogue embedded with the index's backbone, and through its trained head when it has
one. A label map ties the two catalogues' values when they name things differently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from recommender.errors import IncompatibleIndex, RecommenderError
from recommender.evaluation.hubness import Hubness, hubness
from recommender.evaluation.metrics import (
    MAX_ATTRIBUTE_VALUES,
    AttributeScores,
    TagAccuracy,
    default_attributes,
    score_attribute,
    tag_accuracy,
)
from recommender.index import Index
from recommender.label_map import LabelMap
from recommender.query_value import Query
from recommender.ranking import Ranker, RankingSettings
from recommender.roles import FILTER_ROLES, Roles
from recommender.vectors import unit_rows
from recommender.view_catalog import SOURCE

__all__ = ["DEFAULT_KS", "TAG_QUERIES", "Queries", "IndexEvaluation", "own_queries",
           "catalogue_queries", "neighbours", "evaluate_index"]

DEFAULT_KS = (1, 5, 10)
QUERY_BLOCK = 512  # queries searched at once
TAG_QUERIES = 5000  # tags are predicted one query at a time, as the shop does: a fixed sample of more


@dataclass(frozen=True)
class Queries:
    """What the index is asked: vectors in its space (+ colour histograms), and each query's labels."""

    vectors: np.ndarray  # (n, index dim)
    colours: np.ndarray | None  # (n, colours) foreground colour histograms; None: colour not known
    records: list[dict[str, str]]
    ids: list[str]
    source: str | None  # the catalogue of the query pictures; None: the index's own products
    own: np.ndarray | None = None  # leave-one-out: each query's own row in the index
    selection: str = "all products"  # "held-out products", "all products" or "photos"

    def subset(self, rows: Sequence[int] | np.ndarray) -> "Queries":
        """The queries at `rows`, in that order, each with all it carries: the one place that knows the fields
        (the simulated shoppers, the split tuner and the memory's cost script each ask a part)."""
        rows = np.asarray(rows, dtype=np.int64)
        return replace(self, vectors=self.vectors[rows], colours=None if self.colours is None else self.colours[rows],
                       records=[self.records[i] for i in rows], ids=[self.ids[i] for i in rows],
                       own=None if self.own is None else self.own[rows])


@dataclass(frozen=True)
class IndexEvaluation:
    """The scores of one index under one ranking: which model made it, which queries, per attribute."""

    label: str  # short model name shown in tables and charts
    index: str
    catalog: str  # the catalogue the index was built from
    backbone: str
    weights: str
    head: str | None
    dim: int
    items: int
    queries: str | None  # catalogue of the query split; None for leave-one-out
    selection: str  # which queries: held-out products, all products, photos
    query_items: int
    label_map: str | None
    ranking: dict[str, object]  # the RankingSettings used
    seconds: float
    attributes: list[AttributeScores]
    tags: list[TagAccuracy]
    hubness: Hubness
    warnings: list[str]  # what was odd but not fatal (a label map naming values that do not exist)

    @property
    def random_weights(self) -> bool:
        """Random weights (weights "none") learnt nothing: their numbers say nothing about the backbone."""
        return self.weights == "none"


def own_queries(index: Index, *, all_products: bool = False) -> Queries:
    """The index's own products as leave-one-out queries: on a trained index (manifest.holdout)
    only the held-out ones, which the head never saw, unless `all_products`."""
    holdout = index.manifest.holdout
    if holdout is not None and not all_products:
        rows = np.flatnonzero(holdout.mask(index.ids))
        if len(rows) == 0:
            raise RecommenderError(f"The index {index.path} holds out no product to score; add --all-products.")
        selection = "held-out products"
    else:
        rows = np.arange(len(index))
        selection = "all products"
    colours = None if index.appearance is None else index.appearance.colours[rows]
    return Queries(np.asarray(index.vectors[rows], dtype=np.float32), colours,
                   [index.products[i].attributes for i in rows], [index.ids[i] for i in rows], None, rows, selection)


def catalogue_queries(index: Index, pictures: Index) -> Queries:
    """The pictures of another catalogue (embedded with the index's backbone) in the index's space:
    unit vectors when the index holds unit vectors, then through the index's trained head if any."""
    head = index.head
    model = index.model.without_head() if head is not None else index.model
    dim = head.input_dim if head is not None else index.dim
    if not (model.compatible(pictures.model) and pictures.dim == dim):
        raise IncompatibleIndex(
            f"The queries in {pictures.path} were embedded with {pictures.model.label}, not with {model.label} "
            f"as {index.path} was."
        )
    vectors = np.asarray(pictures.vectors, dtype=np.float32)
    if head is not None or index.manifest.normalized:
        vectors = unit_rows(vectors)
    elif pictures.manifest.normalized:
        raise IncompatibleIndex(f"The index {index.path} holds raw vectors but the queries in {pictures.path} are "
                                "unit vectors; rebuild the index.")
    colours = None if pictures.appearance is None else np.asarray(pictures.appearance.colours, dtype=np.float32)
    if head is not None:
        if head.colour_dim and colours is None:
            raise IncompatibleIndex(f"The head of {index.path} needs the queries' colours, which {pictures.path} "
                                    "lacks (an index of an older format); rebuild it.")
        vectors = head.embed(vectors, colours if head.colour_dim else None)
    sources = [p.attributes.get(SOURCE) for p in pictures.products]
    if not any(sources):
        return Queries(vectors, colours, [p.attributes for p in pictures.products], list(pictures.ids),
                       pictures.manifest.catalog.path, None, "photos")
    # views of products (recommender.view_catalog): a view's own product is left out of its results, as a
    # shopper's street photo is never of the very product on file (-2: a source not in the index, never a row)
    own = np.array([index.position(s) if s in index else -2 for s in sources], dtype=np.int64)
    return Queries(vectors, colours, [p.attributes for p in pictures.products], list(pictures.ids),
                   pictures.manifest.catalog.path, own, "views of products (each one's own product left out)")


def neighbours(ranker: Ranker, queries: Queries, k: int,
               on_block: Callable[[int], None] | None = None) -> np.ndarray:
    """Positions in the index of the k best results of every query, as the shop ranks them (n, k), padded with -1.

    Leave-one-out (`queries.own`) asks for k + 1 and drops each query's own row (when an identical
    picture took its place, the farthest result goes instead: the duplicate is another product).
    """
    own = queries.own
    extra = 1 if own is not None else 0
    out = np.empty((len(queries.vectors), k), dtype=np.int64)
    for start in range(0, len(queries.vectors), QUERY_BLOCK):
        stop = min(start + QUERY_BLOCK, len(queries.vectors))
        colours = None if queries.colours is None else queries.colours[start:stop]
        _, positions = ranker.search(queries.vectors[start:stop], colours, k + extra)
        if own is not None:
            keep = positions != own[start:stop, None]
            keep[keep.all(axis=1), -1] = False  # own row not among the k + 1: drop the farthest instead
            positions = positions[keep].reshape(stop - start, k)
        out[start:stop] = positions
        if on_block is not None:
            on_block(stop - start)
    return out


def _check_attributes(names: Sequence[str], records: Sequence[dict[str, str]], where: object) -> None:
    missing = [n for n in names if not any(n in r for r in records)]
    if missing:
        known = ", ".join(sorted({n for r in records for n in r})) or "none"
        raise RecommenderError(f"The catalogue of {where} has no attribute {', '.join(missing)} (it has: {known}).")


def _predicted_tags(index: Index, queries: Queries, settings: RankingSettings, roles: Sequence[str],
                    limit: int) -> tuple[np.ndarray, dict[str, list[str | None]]]:
    """The shop's tags (`Recommender.tags`) of up to `limit` queries (a fixed sample of more), per role."""
    from recommender.engine import Recommender

    recommender = Recommender(index, settings=settings)
    rows = np.arange(len(queries.vectors))
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(0).choice(rows, limit, replace=False))
    colour_dim = recommender.colour_dim
    predicted: dict[str, list[str | None]] = {role: [] for role in roles}
    for row in rows:
        colour = np.zeros(colour_dim, np.float32) if queries.colours is None else queries.colours[row][:colour_dim]
        query = Query(queries.vectors[row], colour if colour_dim else None)
        exclude = (queries.ids[row],) if queries.own is not None else ()
        tags = {tag.role: tag.value for tag in recommender.tags(query, exclude)}
        for role in roles:
            predicted[role].append(tags.get(role))
    return rows, predicted


def evaluate_index(
    index: Index,
    ks: Sequence[int] = DEFAULT_KS,
    attributes: Sequence[str] | None = None,
    *,
    queries: Queries | None = None,
    label_map: LabelMap | None = None,
    settings: RankingSettings | None = None,
    tag_queries: int = TAG_QUERIES,
    progress: bool = False,
) -> IndexEvaluation:
    """Score an `Index` leave-one-out (`queries` None: `own_queries(index)`), or against other `Queries`.

    Without a `label_map`, an attribute is scored where queries and index share its name
    (`attributes` defaults to `default_attributes`); with one, the map's query attribute is scored
    against its index attribute (plus any `attributes` named); a query value none of whose allowed
    values exists in the index is not scored (listed in `unscored`). `settings` default to the shop's.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    ks = sorted(set(ks))
    settings = settings or RankingSettings.from_env()
    queries = queries if queries is not None else own_queries(index)
    leave_one_out = queries.own is not None  # each query's own product is left out (its own row, or a view's source)
    if label_map is not None and queries.source is None:
        raise RecommenderError("A label map ties two catalogues: give the queries' catalogue too (--queries DIR).")
    warnings: list[str] = []
    base_records = [p.attributes for p in index.products]
    names = list(attributes or [])
    if not names and label_map is None:
        names = default_attributes(base_records)
        if not leave_one_out:
            names = [n for n in names if any(n in r for r in queries.records)]
    _check_attributes(names, base_records, index.path)
    _check_attributes(names, queries.records, queries.source or index.path)
    if label_map is not None:
        _check_attributes([label_map.index_attribute], base_records, index.path)
        _check_attributes([label_map.query_attribute], queries.records, queries.source)
        warning = label_map.check({r.get(label_map.query_attribute) for r in queries.records} - {None, ""},
                                  index.attribute_values(label_map.index_attribute))
        if warning:  # a pair naming a value that does not exist can never match: said, value by value
            warnings.append(warning)
    if not names and label_map is None:
        raise RecommenderError(
            f"The catalogue of {index.path} has no attribute with 2 to {MAX_ATTRIBUTE_VALUES} values to score."
        )
    available = len(index) - 1 if leave_one_out else len(index)
    if max(ks) > available:
        raise RecommenderError(f"k={max(ks)} needs more than the {len(index)} items of {index.path}.")

    ranker = Ranker(index, settings)
    with tqdm(total=len(queries.vectors), unit="query", desc="neighbours", disable=not progress) as bar:
        found = neighbours(ranker, queries, max(ks), on_block=bar.update)

    # (scored name, query attribute, index attribute, allowed values)
    scored: list[tuple[str, str, str, dict | None]] = [(n, n, n, None) for n in names]
    if label_map is not None:
        name = f"{label_map.query_attribute} -> {label_map.index_attribute}"
        scored.insert(0, (name, label_map.query_attribute, label_map.index_attribute, label_map.allowed))
    scores = [
        score_attribute(name, found, [r.get(q) for r in queries.records], [r.get(b) for r in base_records], ks,
                        leave_one_out=leave_one_out, allowed=allowed)
        for name, q, b, allowed in scored
    ]
    tags = _tag_scores(index, queries, settings, scored, tag_queries)
    roles = index.roles
    label_of = [_describe(p.attributes, roles) for p in index.products]
    gender = roles.gender
    hubs = hubness(found, index.ids, min(10, max(ks)), labels=label_of, attribute=gender,
                   values=[p.attributes.get(gender) for p in index.products] if gender else None)
    manifest = index.manifest
    return IndexEvaluation(
        label=manifest.model.label,
        index=str(index.path),
        catalog=manifest.catalog.path,
        backbone=manifest.model.backbone,
        weights=manifest.model.weights,
        head=manifest.model.head,
        dim=manifest.dim,
        items=len(index),
        queries=queries.source,
        selection=queries.selection,
        query_items=len(queries.vectors),
        label_map=label_map.path if label_map is not None else None,
        ranking=asdict(settings),
        seconds=round(time.perf_counter() - started, 2),
        attributes=scores,
        tags=tags,
        hubness=hubs,
        warnings=warnings,
    )


def _tag_scores(index: Index, queries: Queries, settings: RankingSettings,
                scored: Sequence[tuple[str, str, str, dict | None]], limit: int) -> list[TagAccuracy]:
    """Tag accuracy of each role whose index attribute is scored (the category through the label map)."""
    roles = index.roles
    judged = [(role, q, b, allowed) for _, q, b, allowed in scored if (role := roles.role_of(b)) in
              FILTER_ROLES]
    if not judged or limit <= 0:
        return []
    rows, predicted = _predicted_tags(index, queries, settings, [j[0] for j in judged], limit)
    return [tag_accuracy(role, b, predicted[role], [queries.records[i].get(q) for i in rows], allowed)
            for role, q, b, allowed in judged]


def _describe(attributes: dict[str, str], roles: Roles) -> str:
    """A product in the catalogue's words: category · colour · gender."""
    parts = [attributes.get(roles.attribute(role) or "") for role in ("category", "colour", "gender")]
    return " · ".join(p for p in parts if p) or "?"

