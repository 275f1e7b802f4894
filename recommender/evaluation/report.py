"""Evaluation results as a terminal table, JSON and a Plotly chart, plus the shoppers' thumbs-up rates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from recommender.evaluation.hubness import MAX_SHARE, Hubness
from recommender.evaluation.metrics import MIN_VALUE_QUERIES, TagAccuracy
from recommender.evaluation.run import IndexEvaluation

__all__ = ["feedback_report", "report_json", "run_name", "format_run", "format_feedback", "comparison_figure"]


def feedback_report(db: str | Path, catalog: str) -> dict[str, object] | None:
    """Thumbs-up rate overall, by rank and by backbone of one catalogue's votes; None if the file is absent.

    `db` is an SQLite file or a postgresql:// URL; `catalog` the catalogue identity (CatalogInfo.identity).
    """
    from recommender.feedback import FeedbackStore, is_database_url

    if not is_database_url(db) and not Path(db).is_file():
        return None
    store = FeedbackStore(db)
    return {
        "db": store.label.removeprefix("the feedback database "),
        "catalog": catalog,
        "summary": store.summary(catalog),
        "by_rank": [{"rank": r.key, "votes": r.votes, "up_rate": r.up_rate} for r in store.rate_by_rank(catalog)],
        "by_backbone": [{"backbone": r.key, "votes": r.votes, "up_rate": r.up_rate}
                        for r in store.rate_by_backbone(catalog)],
    }


def report_json(runs: Sequence[IndexEvaluation], ks: Sequence[int], feedback: dict | None) -> dict:
    """Everything measured, as plain JSON types (k values become string keys)."""
    return {
        "catalog": runs[0].catalog,
        "mode": "leave-one-out" if all(r.queries is None for r in runs) else "queries",
        "k": sorted(set(ks)),
        "runs": [{**asdict(r), "random_weights": r.random_weights} for r in runs],
        "feedback": feedback,
    }


def run_name(run: IndexEvaluation, runs: Sequence[IndexEvaluation]) -> str:
    """The run's model label, with its category-first setting when the runs compare several."""
    settings = {str(r.ranking.get("category_first")) for r in runs}
    if len(settings) == 1:
        return run.label
    threshold = run.ranking.get("category_first")
    return f"{run.label}, category-first {'off' if threshold is None else threshold}"


def format_run(run: IndexEvaluation, ks: Sequence[int], worst: int = 5) -> str:
    """A terminal table for one index and ranking: precision@k and mAP@max(k) per attribute, chance,
    weakest values, tag accuracy and hubness."""
    ks = sorted(set(ks))
    top = ks[-1]
    mode = (f"leave-one-out over {run.query_items} {run.selection}" if run.queries is None
            else f"{run.query_items} queries from {run.queries}")
    threshold = run.ranking.get("category_first")
    lines = [
        f"{run.label}  backbone={run.backbone}  weights={run.weights}  head={run.head or 'none'}  dim={run.dim}"
        f"  n={run.items}  ({mode}, {run.seconds:.1f} s)",
        f"  index: {run.index}",
        f"  ranking: category-first {'off' if threshold is None else threshold}, "
        + ", ".join(f"{k}={v}" for k, v in run.ranking.items() if k != "category_first"),
    ]
    if run.label_map:
        lines.append(f"  label map: {run.label_map}")
    lines += [f"  warning: {w}" for w in run.warnings]
    if run.random_weights:
        lines.append(
            "  WARNING: random weights (weights=none): nothing was learnt, so these numbers say nothing about"
            " the backbone; they only show what untrained features give."
        )
    width = max(len("attribute"), *(len(a.name) for a in run.attributes))
    header = f"  {'attribute':<{width}}  values  queries " + "".join(f" {'P@' + str(k):>6}" for k in ks)
    header += f" {'macro@' + str(top):>8} {'mAP@' + str(top):>7} {'chance':>7}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for a in run.attributes:
        row = f"  {a.name:<{width}}  {a.values:>6}  {a.queries:>7} " + "".join(f" {a.precision[k]:>6.3f}" for k in ks)
        lines.append(row + f" {a.macro_precision[top]:>8.3f} {a.map[top]:>7.3f} {a.chance:>7.3f}")
    for a in run.attributes:
        if a.unscored:
            listed = ", ".join(f"{value} (n={count})" for value, count in sorted(a.unscored.items()))
            lines.append(f"  not scored ({a.name}: the label map allows nothing in the index): {listed}")
        if len(a.per_value) <= 2 * worst:  # few values: all of them, worst first
            listed = ", ".join(f"{v.value} {v.precision[top]:.2f} (n={v.count})" for v in a.per_value)
            lines.append(f"  {a.name} per value (P@{top}): {listed}")
            continue
        weakest = a.worst(worst)
        if weakest:
            listed = ", ".join(f"{v.value} {v.precision[top]:.2f} (n={v.count})" for v in weakest)
            lines.append(f"  weakest {a.name} (P@{top}, values with >= {MIN_VALUE_QUERIES} queries): {listed}")
    lines += _format_tags(run.tags, worst)
    lines += _format_hubness(run.hubness)
    return "\n".join(lines)


def _format_tags(tags: Sequence[TagAccuracy], worst: int) -> list[str]:
    lines = []
    for t in tags:
        lines.append(f"  {t.role} tag ({t.attribute}): accuracy {t.accuracy:.3f}, macro {t.macro_accuracy:.3f}"
                     f" over {t.queries} queries")
        shown = t.per_value if len(t.per_value) <= 2 * worst else [v for v in t.per_value
                                                                   if v.count >= MIN_VALUE_QUERIES][:worst]
        if shown:
            listed = ", ".join(f"{v.value} {v.accuracy:.2f} (n={v.count})" for v in shown)
            lines.append(f"    {'per value' if len(shown) == len(t.per_value) else 'weakest'}: {listed}")
    return lines


def _format_hubness(h: Hubness) -> list[str]:
    lines = [
        f"  hubness (top {h.k}): {h.distinct} distinct products in {h.slots} result slots ({h.distinct_share:.3f});"
        f" largest share of queries for one product {h.max_share:.3f} (target <= {MAX_SHARE:.2f});"
        f" {h.over_target} product(s) above it",
    ]
    if h.frequent:
        listed = ", ".join(f"{f.id} [{f.label}] {f.share:.3f}" for f in h.frequent[:5])
        lines.append(f"    most frequent: {listed}")
    if h.shares:
        listed = ", ".join(f"{s.value} {s.results:.3f} vs {s.catalogue:.3f}" for s in h.shares)
        lines.append(f"    {h.attribute} share of results vs catalogue: {listed}")
    return lines


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
    names = [run_name(r, runs) for r in runs]
    labels = Counter(names)
    for col, k in enumerate(ks, start=1):
        for i, run in enumerate(runs):
            by_name = {a.name: a for a in run.attributes}
            name = names[i] if labels[names[i]] == 1 else f"{names[i]} #{i + 1}"
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
