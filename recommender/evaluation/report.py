"""Evaluation results as a terminal table, JSON and a Plotly chart, plus the shoppers' thumbs-up rates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from recommender.evaluation.metrics import MIN_VALUE_QUERIES
from recommender.evaluation.run import IndexEvaluation

__all__ = ["feedback_report", "report_json", "format_run", "format_feedback", "comparison_figure"]


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
