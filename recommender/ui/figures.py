"""Charts of the shoppers' votes: pure functions of the feedback store, testable without a browser."""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
from dash import dcc, html

from recommender.feedback import FeedbackStore
from recommender.index import Index

__all__ = ["attribute_lookup", "votes_over_time_figure", "rate_by_rank_figure", "rate_by_category_figure",
           "figure_summary", "graph"]

RESULT_RANKS = 10  # the app shows the top 10
MAX_CATEGORIES = 20  # more bars than this are unreadable
UP_COLOUR, DOWN_COLOUR = "#198754", "#dc3545"  # Bootstrap success / danger
TEMPLATE = "plotly_white"


def _bar_text(rates: list[float]) -> dict:
    """Where each bar's votes are written: inside it when they fit, else beside it ("auto"); beside a bar at 0 %
    (Plotly drops "auto" or "inside" words of a bar with no length), not clipped at the axis, and never shrunk
    to the bar's width there (6 px words under a phone's narrow bars)."""
    return {"textposition": ["outside" if rate == 0 else "auto" for rate in rates], "cliponaxis": False,
            "constraintext": "inside"}


def attribute_lookup(index: Index, attribute: str | None) -> Callable[[str], str | None]:
    """Item id -> its value of `attribute` in the index; None for items no longer in it."""

    def attribute_of(item_id: str) -> str | None:
        if attribute is None:
            return None
        try:
            return index.product(item_id).attributes.get(attribute)
        except KeyError:
            return None

    return attribute_of


def _votes(n: int) -> str:
    return f"{n} vote" if n == 1 else f"{n} votes"


def _percent_axis(fig: go.Figure) -> go.Figure:
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title="thumbs-up rate")
    return fig


def _style(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        template=TEMPLATE,
        margin=dict(l=10, r=10, t=50, b=10),
        height=340,
        legend=dict(orientation="h", traceorder="normal", yanchor="bottom", y=1.0, xanchor="right", x=1),
    )
    return fig


def votes_over_time_figure(store: FeedbackStore, catalog: str) -> go.Figure:
    """Standing thumbs up and down per day on one catalogue, stacked."""
    days = store.votes_over_time(catalog)
    x = [d.day for d in days]
    fig = go.Figure(
        [
            go.Bar(name="thumbs up", x=x, y=[d.up for d in days], marker_color=UP_COLOUR),
            go.Bar(name="thumbs down", x=x, y=[d.down for d in days], marker_color=DOWN_COLOUR),
        ]
    )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="date", tickformat="%d %b %Y")
    fig.update_yaxes(title="votes")
    return _style(fig, "Votes per day")


def rate_by_rank_figure(store: FeedbackStore, catalog: str) -> go.Figure:
    """Thumbs-up rate per result position: do the first results please more than the last?

    The store only returns ranks 1..MAX_RANK, so the axis stays bounded whatever was forged.
    """
    rates = store.rate_by_rank(catalog)
    fig = go.Figure(
        go.Bar(
            x=[r.key for r in rates],
            y=[r.up_rate for r in rates],
            customdata=[r.votes for r in rates],
            text=[_votes(r.votes) for r in rates],
            **_bar_text([r.up_rate for r in rates]),
            textangle=-90,  # upright bars, narrow on a phone: their words run up them, as tall as they need
            hovertemplate="rank %{x}: %{y:.0%} thumbs up of %{customdata} votes<extra></extra>",
            marker_color=UP_COLOUR,
        )
    )
    last = max([RESULT_RANKS, *(r.key for r in rates)])
    fig.update_xaxes(title="rank", tickmode="linear", tick0=1, dtick=1 if last <= 20 else 10, range=[0.5, last + 0.5])
    return _style(_percent_axis(fig), "Thumbs-up rate by rank")


def rate_by_category_figure(
    store: FeedbackStore, catalog: str, attribute_of: Callable[[str], str | None], label: str = "category"
) -> go.Figure:
    """Thumbs-up rate per category, the most voted categories only, best rate on top."""
    rates = store.rate_by_item_attribute(catalog, attribute_of)
    shown = sorted(rates[:MAX_CATEGORIES], key=lambda r: r.up_rate)
    fig = go.Figure(
        go.Bar(
            x=[r.up_rate for r in shown],
            y=[str(r.key) for r in shown],
            orientation="h",
            customdata=[r.votes for r in shown],
            text=[_votes(r.votes) for r in shown],
            **_bar_text([r.up_rate for r in shown]),
            hovertemplate="%{y}: %{x:.0%} thumbs up of %{customdata} votes<extra></extra>",
            marker_color=UP_COLOUR,
        )
    )
    fig.update_xaxes(range=[0, 1.05], tickformat=".0%", title="thumbs-up rate")
    fig.update_yaxes(type="category")
    title = f"Thumbs-up rate by {label}"
    if len(rates) > MAX_CATEGORIES:
        title += f" (the {MAX_CATEGORIES} most voted of {len(rates)})"
    fig = _style(fig, title)
    fig.update_layout(height=max(340, 60 + 24 * len(shown)))
    return fig


MAX_SPOKEN_POINTS = 12


def figure_summary(fig: go.Figure) -> str:
    """A chart in words, for screen readers: its title, then each series' points (the first dozen), each with
    the words its bar shows ("2: 0% (1 vote)")."""
    title = fig.layout.title.text or "Chart"
    parts = []
    for trace in fig.data:
        xs, ys = list(trace.x or []), list(trace.y or [])
        if getattr(trace, "orientation", None) == "h":
            xs, ys = ys, xs
        said = list(trace.text) if isinstance(trace.text, (list, tuple)) else [None] * len(xs)  # what bars say
        points = [(f"{x}: {y:.0%}" if isinstance(y, float) and 0 <= y <= 1 else f"{x}: {y}") + (f" ({t})" if t else "")
                  for x, y, t in zip(xs, ys, said)]
        more = f" and {len(points) - MAX_SPOKEN_POINTS} more" if len(points) > MAX_SPOKEN_POINTS else ""
        if points:  # a series with nothing to say is not read out as "values: ."
            parts.append(f"{trace.name or 'values'}: " + "; ".join(points[:MAX_SPOKEN_POINTS]) + more)
    return f"{title}. " + (". ".join(parts) + "." if parts else "No values yet.")


def graph(fig: go.Figure) -> html.Div:
    """The chart, named for screen readers by its numbers in words (the drawing itself says nothing)."""
    return html.Div(dcc.Graph(figure=fig, config={"displayModeBar": False, "responsive": True}), role="img",
                    **{"aria-label": figure_summary(fig)})
