"""The feedback page: what shoppers think of the recommendations, from the vote store.

Figures and cards are built by pure functions of the store (and of the index, for names and
categories) so they can be tested without a browser; `layout()` only wires them to the services.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.index import Index
from recommender.ui.components import icon, thumbnail_url
from recommender.ui.services import get_services

dash.register_page(
    __name__,
    path="/feedback",
    name="Feedback",
    title="Lookalike · Shopper feedback",
    description="Thumbs up and down on the recommendations: over time, by rank, by category, by product.",
)

CATEGORY_ATTRIBUTES = ("articleType", "category")  # the finest category a catalogue has, first
RESULT_RANKS = 10  # the app shows the top 10
MAX_CATEGORIES = 20  # more bars than this are unreadable
TOP_ITEMS = 8
REFRESH_MS = 60_000
UP_COLOUR, DOWN_COLOUR = "#198754", "#dc3545"  # Bootstrap success / danger
TEMPLATE = "plotly_white"


def category_attribute(attributes: Collection[str]) -> str | None:
    """The attribute that names a product's category in this catalogue, if any."""
    return next((name for name in CATEGORY_ATTRIBUTES if name in attributes), None)


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


def votes_over_time_figure(store: FeedbackStore) -> go.Figure:
    """Standing thumbs up and down per day, stacked."""
    days = store.votes_over_time()
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


def rate_by_rank_figure(store: FeedbackStore) -> go.Figure:
    """Thumbs-up rate per result position: do the first results please more than the last?"""
    rates = store.rate_by_rank()
    fig = go.Figure(
        go.Bar(
            x=[r.key for r in rates],
            y=[r.up_rate for r in rates],
            customdata=[r.votes for r in rates],
            text=[_votes(r.votes) for r in rates],
            textposition="inside",
            hovertemplate="rank %{x}: %{y:.0%} thumbs up of %{customdata} votes<extra></extra>",
            marker_color=UP_COLOUR,
        )
    )
    last = max([RESULT_RANKS, *(r.key for r in rates)])
    fig.update_xaxes(title="rank", tickmode="linear", tick0=1, dtick=1, range=[0.5, last + 0.5])
    return _style(_percent_axis(fig), "Thumbs-up rate by rank")


def rate_by_category_figure(
    store: FeedbackStore, attribute_of: Callable[[str], str | None], label: str = "category"
) -> go.Figure:
    """Thumbs-up rate per category, the most voted categories only, best rate on top."""
    rates = store.rate_by_item_attribute(attribute_of)
    shown = sorted(rates[:MAX_CATEGORIES], key=lambda r: r.up_rate)
    fig = go.Figure(
        go.Bar(
            x=[r.up_rate for r in shown],
            y=[str(r.key) for r in shown],
            orientation="h",
            customdata=[r.votes for r in shown],
            text=[_votes(r.votes) for r in shown],
            textposition="inside",
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


def summary_cards(summary: dict[str, object]) -> dbc.Row:
    """Votes, thumbs-up rate and sessions (from `FeedbackStore.summary()`) at a glance."""
    rate = summary["up_rate"]
    figures = (
        ("votes", "Votes", f"{summary['votes']:,}", f"{summary['up']:,} up · {summary['down']:,} down"),
        ("up-rate", "Thumbs-up rate", "–" if rate is None else f"{rate:.0%}", "of the votes standing now"),
        ("sessions", "Sessions", f"{summary['sessions']:,}", "shoppers who voted"),
    )
    return dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.Div(title, className="text-muted small text-uppercase"),
                            html.Div(value, className="fs-2 fw-semibold", id=f"feedback-{key}"),
                            html.Div(note, className="text-muted small"),
                        ]
                    ),
                    className="h-100 shadow-sm",
                ),
                xs=12,
                md=4,
                className="mb-3",
            )
            for key, title, value, note in figures
        ]
    )


def item_cards(store: FeedbackStore, index: Index, *, liked: bool, n: int = TOP_ITEMS) -> list:
    """Cards of the most liked or disliked products: thumbnail, name (as text) and vote counts."""
    cards = []
    for item in store.item_totals(liked=liked, n=n):
        try:
            name = index.product(item.item_id).name
        except KeyError:
            name = f"{item.item_id} (no longer in the catalogue)"
        cards.append(
            dbc.Col(
                dbc.Card(
                    [
                        dbc.CardImg(
                            src=thumbnail_url(item.item_id),
                            alt=name,
                            style={"objectFit": "contain", "height": "120px", "background": "#f8f9fa"},
                        ),
                        dbc.CardBody(
                            [
                                html.Div(name, className="small fw-semibold text-truncate", title=name),
                                html.Div(
                                    [
                                        html.Span([icon("thumbs-up"), f" {item.up}"], className="text-success me-3",
                                                  title=f"{item.up} thumbs up"),
                                        html.Span([icon("thumbs-down"), f" {item.down}"], className="text-danger",
                                                  title=f"{item.down} thumbs down"),
                                    ],
                                    className="small",
                                ),
                            ],
                            className="p-2",
                        ),
                    ],
                    className="h-100 shadow-sm",
                ),
                xs=6,
                sm=4,
                lg=3,
                className="mb-3",
            )
        )
    if not cards:
        what = "more thumbs up than down" if liked else "more thumbs down than up"
        return [dbc.Col(html.P(f"No product has {what} yet.", className="text-muted"))]
    return cards


def _graph(fig: go.Figure) -> dcc.Graph:
    return dcc.Graph(figure=fig, config={"displayModeBar": False, "responsive": True})


def feedback_content(store: FeedbackStore, index: Index) -> html.Div:
    """Everything below the page title; a friendly message instead of empty charts without votes."""
    summary = store.summary()
    if summary["votes"] == 0:
        return html.Div(
            dbc.Alert(
                [
                    html.H4("No votes yet", className="alert-heading"),
                    html.P(
                        [
                            "Thumbs up and down on the recommendations will show here. ",
                            dcc.Link("Search with a photo", href=dash.get_relative_path("/"), className="alert-link"),
                            " and vote on a few results.",
                        ],
                        className="mb-0",
                    ),
                ],
                color="info",
                id="feedback-empty",
            )
        )
    category = category_attribute(index.attributes())
    charts = [dbc.Col(_graph(votes_over_time_figure(store)), lg=6), dbc.Col(_graph(rate_by_rank_figure(store)), lg=6)]
    if category is not None:
        # "category" whatever the column is called (articleType in Kaggle catalogues): the page's word for it
        by_category = rate_by_category_figure(store, attribute_lookup(index, category))
        charts.append(dbc.Col(_graph(by_category), lg=12))
    return html.Div(
        [
            summary_cards(summary),
            dbc.Row(charts, className="g-3 mb-4"),
            html.H4("Most liked products", className="mt-2"),
            dbc.Row(item_cards(store, index, liked=True), id="feedback-liked"),
            html.H4("Most disliked products", className="mt-2"),
            dbc.Row(item_cards(store, index, liked=False), id="feedback-disliked"),
        ]
    )


def _current_content() -> html.Div | dbc.Alert:
    services = get_services()
    try:
        return feedback_content(services.feedback, services.engine.index)
    except RecommenderError as exc:
        return dbc.Alert(str(exc), color="danger")


def layout(**_query: str) -> html.Div:
    """Rebuilt on every visit, so the page always shows the votes as they are now."""
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Shopper feedback", className="page-title me-auto mb-0"),
                    dbc.Button("Refresh", id="feedback-refresh", color="secondary", outline=True, size="sm"),
                ],
                className="d-flex align-items-center gap-2 my-3",
            ),
            dcc.Interval(id="feedback-interval", interval=REFRESH_MS),
            dcc.Loading(html.Div(_current_content(), id="feedback-content"), delay_show=500),
        ],
        className="feedback-page",
    )


@callback(
    Output("feedback-content", "children"),
    Input("feedback-refresh", "n_clicks"),
    Input("feedback-interval", "n_intervals"),
    prevent_initial_call=True,
)
def refresh(_clicks: int | None, _intervals: int | None) -> html.Div | dbc.Alert:
    """Redraw from the store on a click on Refresh, and every minute while the page is open."""
    return _current_content()
