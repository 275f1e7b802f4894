"""Retrieval quality of an index, measured against the catalogue's own labels.

A recommender "works" when the products it returns share the query's attributes
(same article type, colour, gender...). So each item is used as a query against the
others (leave-one-out), or a held-out split is queried against the index, and the
labels of the returned neighbours are scored with precision@k and mAP@k.

The metric functions are pure (numpy arrays in, numbers out) so they can be checked
against hand-computed values; `evaluate_index` applies them to `Index` objects, and the
last sections turn results into a terminal table, JSON and a Plotly chart.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.errors import IncompatibleIndex, RecommenderError

if TYPE_CHECKING:
    from recommender.index import Index

DEFAULT_KS = (1, 5, 10)
MAX_ATTRIBUTE_VALUES = 200
MIN_VALUE_QUERIES = 10  # a value with fewer queries is too noisy to call weak
# Attributes that are free text, identifiers or dates: scoring retrieval on them says nothing.
NOT_LABELS = frozenset({"id", "productDisplayName", "year", "image", "filename", "name"})

# --------------------------------------------------------------------------- neighbours


def nearest_neighbours(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    leave_one_out: bool = False,
    block_rows: int = 1024,
    on_block: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Indices into `base` of the k nearest rows (Euclidean) of every query row, nearest first.

    Computed block by block as |x|^2 - 2 q.x (|q|^2 is constant per query, so it does not
    change the order), so memory stays at `block_rows` x len(base) scores however large the
    catalogue is. With `leave_one_out`, `queries` must be `base` itself and each row's own
    index is excluded (its score set to +inf). Exact ties are broken by the lower index
    except at the k-th place, where any of the tied rows may be kept.
    """
    n_base = len(base)
    available = n_base - 1 if leave_one_out else n_base
    if leave_one_out and len(queries) != n_base:
        raise ValueError("leave-one-out needs the queries to be the base vectors themselves")
    if not 1 <= k <= available:
        raise ValueError(f"k={k} needs at least {k + (1 if leave_one_out else 0)} base vectors, got {n_base}")
    dtype = np.result_type(queries.dtype, base.dtype, np.float32)
    base = np.asarray(base, dtype=dtype)
    base_norms = np.einsum("ij,ij->i", base, base)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), block_rows):
        block = np.asarray(queries[start : start + block_rows], dtype=dtype)
        scores = block @ base.T
        scores *= -2
        scores += base_norms
        if leave_one_out:
            rows = np.arange(len(block))
            scores[rows, start + rows] = np.inf
        candidates = np.argpartition(scores, k - 1, axis=1)[:, :k]
        candidate_scores = np.take_along_axis(scores, candidates, axis=1)
        order = np.lexsort((candidates, candidate_scores), axis=1)
        out[start : start + len(block)] = np.take_along_axis(candidates, order, axis=1)
        if on_block is not None:
            on_block(len(block))
    return out


# --------------------------------------------------------------------------- metrics


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


# --------------------------------------------------------------------------- indexes


@dataclass(frozen=True)
class IndexEvaluation:
    """The scores of one index: which backbone made it, on how many items, and per attribute."""

    label: str  # short backbone name shown in tables and charts
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


def backbone_label(backbone: str, weights: str) -> str:
    """A short readable name: the file stem of a TFLite model, the Keras name plus its weights otherwise."""
    if backbone.lower().endswith(".tflite"):
        return Path(backbone).stem
    return backbone if weights == "imagenet" else f"{backbone} ({Path(weights).stem})"


def cache_dir(cache_root: Path, catalog_root: Path, fingerprint: str, backbone: str, weights: str) -> Path:
    """The folder for one catalogue version embedded by one backbone, so a rerun reuses it."""
    model = Path(backbone).stem if backbone.lower().endswith(".tflite") else f"{backbone}-{Path(weights).stem}"
    name = f"{catalog_root.name}-{fingerprint[:8]}-{model}"
    return cache_root / re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def evaluate_index(
    index: Index,
    ks: Sequence[int] = DEFAULT_KS,
    attributes: Sequence[str] | None = None,
    *,
    queries: Index | None = None,
    progress: bool = False,
) -> IndexEvaluation:
    """Score an `Index` leave-one-out, or by querying it with the vectors of another `Index`.

    `queries`, when given, must hold vectors of the same backbone (e.g. a validation split
    embedded with the index's extractor). `attributes` defaults to `default_attributes`.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    ks = sorted(set(ks))
    base_records = [p.attributes for p in index.products]
    query_records = base_records if queries is None else [p.attributes for p in queries.products]
    names = list(attributes) if attributes else default_attributes(base_records)
    if queries is not None and not attributes:
        names = [n for n in names if any(n in r for r in query_records)]
    for records, where in ((base_records, index.path), (query_records, queries.path if queries else None)):
        missing = [n for n in names if not any(n in r for r in records)]
        if missing:
            known = ", ".join(sorted({n for r in records for n in r})) or "none"
            raise RecommenderError(f"The catalogue of {where} has no attribute {', '.join(missing)} (it has: {known}).")
    if not names:
        raise RecommenderError(
            f"The catalogue of {index.path} has no attribute with 2 to {MAX_ATTRIBUTE_VALUES} values to score."
        )
    leave_one_out = queries is None
    available = len(index) - 1 if leave_one_out else len(index)
    if max(ks) > available:
        raise RecommenderError(f"k={max(ks)} needs more than the {len(index)} items of {index.path}.")
    if queries is not None:
        from recommender.index import same_backbone

        ours, theirs = index.manifest, queries.manifest
        same = same_backbone(ours["backbone"], theirs["backbone"])
        if not same or (ours["weights"], ours["dim"]) != (theirs["weights"], theirs["dim"]):
            raise IncompatibleIndex(
                f"The queries in {queries.path} were embedded with another backbone than {index.path}."
            )

    base = np.asarray(index.vectors, dtype=np.float32)
    query_vectors = base if leave_one_out else np.asarray(queries.vectors, dtype=np.float32)
    with tqdm(total=len(query_vectors), unit="query", desc="neighbours", disable=not progress) as bar:
        neighbours = nearest_neighbours(
            query_vectors,
            base,
            max(ks),
            leave_one_out=leave_one_out,
            block_rows=_block_rows(len(base)),
            on_block=bar.update,
        )
    scores = [
        score_attribute(
            name,
            neighbours,
            [r.get(name) for r in query_records],
            [r.get(name) for r in base_records],
            ks,
            leave_one_out=leave_one_out,
        )
        for name in names
    ]
    manifest = index.manifest
    return IndexEvaluation(
        label=backbone_label(manifest["backbone"], manifest["weights"]),
        index=str(index.path),
        catalog=str(manifest["catalog"]["path"]),
        backbone=manifest["backbone"],
        weights=manifest["weights"],
        dim=int(manifest["dim"]),
        items=len(index),
        queries=None if leave_one_out else str(queries.manifest["catalog"]["path"]),
        query_items=len(query_vectors),
        seconds=round(time.perf_counter() - started, 2),
        attributes=scores,
    )


def _block_rows(n_base: int) -> int:
    """Rows per block so that one block of scores stays near 64 MB (its argpartition indices take twice that)."""
    return int(min(1024, max(16, 16_000_000 // max(n_base, 1))))


# --------------------------------------------------------------------------- feedback


def feedback_report(db: Path) -> dict[str, object] | None:
    """Thumbs-up rate overall, by rank and by backbone from the feedback store; None if the file is absent."""
    if not Path(db).is_file():
        return None
    from recommender.feedback import FeedbackStore

    store = FeedbackStore(db)
    return {
        "db": str(store.path),
        "summary": store.summary(),
        "by_rank": [{"rank": r.key, "votes": r.votes, "up_rate": r.up_rate} for r in store.rate_by_rank()],
        "by_backbone": [{"backbone": r.key, "votes": r.votes, "up_rate": r.up_rate} for r in store.rate_by_backbone()],
    }


# --------------------------------------------------------------------------- reports


def report_json(runs: Sequence[IndexEvaluation], ks: Sequence[int], feedback: dict | None) -> dict:
    """Everything measured, as plain JSON types (k values become string keys)."""
    return {
        "catalog": runs[0].catalog,
        "mode": "leave-one-out" if all(r.queries is None for r in runs) else "queries",
        "k": sorted(set(ks)),
        "runs": [{**asdict(r), "random_weights": r.random_weights} for r in runs],
        "feedback": feedback,
    }


def format_run(run: IndexEvaluation, ks: Sequence[int], worst: int = 5) -> str:
    """A terminal table for one index: precision@k and mAP@max(k) per attribute, chance, weakest values."""
    ks = sorted(set(ks))
    top = ks[-1]
    mode = "leave-one-out" if run.queries is None else f"{run.query_items} queries from {run.queries}"
    lines = [
        f"{run.label}  backbone={run.backbone}  weights={run.weights}  dim={run.dim}  n={run.items}"
        f"  ({mode}, {run.seconds:.1f} s)",
        f"  index: {run.index}",
    ]
    if run.random_weights:
        lines.append(
            "  WARNING: random weights (weights=none): nothing was learnt, so these numbers say nothing about"
            " the backbone; they only show what untrained features give."
        )
    width = max(len("attribute"), *(len(a.name) for a in run.attributes))
    header = f"  {'attribute':<{width}}  values  queries " + "".join(f" {'P@' + str(k):>6}" for k in ks)
    header += f" {'mAP@' + str(top):>7} {'chance':>7}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for a in run.attributes:
        row = f"  {a.name:<{width}}  {a.values:>6}  {a.queries:>7} " + "".join(f" {a.precision[k]:>6.3f}" for k in ks)
        lines.append(row + f" {a.map[top]:>7.3f} {a.chance:>7.3f}")
    for a in run.attributes:
        weakest = a.worst(worst)
        if weakest:
            listed = ", ".join(f"{v.value} {v.precision[top]:.2f} (n={v.count})" for v in weakest)
            lines.append(f"  weakest {a.name} (P@{top}, values with >= {MIN_VALUE_QUERIES} queries): {listed}")
    return "\n".join(lines)


def format_feedback(feedback: dict | None, db: Path | None) -> str:
    """The feedback section of the terminal report."""
    if feedback is None:
        return f"feedback: no database at {db}" if db else ""
    summary = feedback["summary"]
    if not summary["votes"]:
        return f"feedback ({feedback['db']}): no votes yet"
    lines = [f"feedback ({feedback['db']}): {summary['votes']} votes, thumbs-up rate {summary['up_rate']:.3f}"]
    for key, title in (("rank", "by rank"), ("backbone", "by backbone")):
        rates = ", ".join(f"{r[key]}: {r['up_rate']:.2f} ({r['votes']})" for r in feedback[f"by_{key}"])
        lines.append(f"  {title} (thumbs-up rate, votes): {rates}")
    return "\n".join(lines)


def comparison_figure(runs: Sequence[IndexEvaluation], ks: Sequence[int], title: str):
    """Plotly figure: one panel per k, grouped bars of precision@k per attribute, one colour per backbone."""
    from plotly import graph_objects as go
    from plotly.subplots import make_subplots

    ks = sorted(set(ks))
    figure = make_subplots(rows=1, cols=len(ks), subplot_titles=[f"precision@{k}" for k in ks], shared_yaxes=True)
    attributes = list(dict.fromkeys(a.name for r in runs for a in r.attributes))
    chance = {a.name: a.chance for r in reversed(runs) for a in r.attributes}
    labels = Counter(r.label for r in runs)
    for col, k in enumerate(ks, start=1):
        for i, run in enumerate(runs):
            by_name = {a.name: a for a in run.attributes}
            name = run.label if labels[run.label] == 1 else f"{run.label} #{i + 1}"
            figure.add_trace(
                go.Bar(
                    x=attributes,
                    y=[by_name[a].precision[k] if a in by_name else None for a in attributes],
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    marker_color=_PALETTE[i % len(_PALETTE)],
                    texttemplate="%{y:.2f}",
                    textposition="outside",
                    hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>",
                ),
                row=1,
                col=col,
            )
        figure.add_trace(
            go.Bar(
                x=attributes,
                y=[chance.get(a) for a in attributes],
                name="chance",
                legendgroup="chance",
                showlegend=col == 1,
                marker_color="#bbbbbb",
                hovertemplate="%{x}: %{y:.3f}<extra>chance</extra>",
            ),
            row=1,
            col=col,
        )
    figure.update_layout(title=title, barmode="group", template="plotly_white", height=480)
    figure.update_layout(uniformtext_minsize=8, uniformtext_mode="hide")  # drop bar labels that do not fit
    figure.update_yaxes(range=[0, 1.05])
    return figure


_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
