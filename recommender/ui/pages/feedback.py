"""The feedback page: what shoppers think of the recommendations, from the vote store.

Figures and cards are built by pure functions of the store (and of the index, for names and
categories) so they can be tested without a browser; `layout()` only wires them to the services.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.index import Index
from recommender.ui import ids
from recommender.ui.components import icon, merchant_page_off, thumbnail_url
from recommender.ui.figures import (
    attribute_lookup,
    graph,
    rate_by_category_figure,
    rate_by_rank_figure,
    votes_over_time_figure,
)  # fmt: skip
from recommender.ui.guard import public_message
from recommender.ui.services import get_services

dash.register_page(
    __name__,
    path="/feedback",
    name="Feedback",
    title="Lookalike · Shopper feedback",
    description="Thumbs up and down on the recommendations: over time, by rank, by category, by product.",
    merchant=True,  # the shop's view of its shoppers' votes: listed and served only with the merchant's tools on
    order=3,
)

TOP_ITEMS = 8
REFRESH_MS = 60_000


def summary_cards(summary: dict[str, object]) -> dbc.Row:
    """Votes, thumbs-up rate and sessions (from `FeedbackStore.summary()`) at a glance."""
    rate = summary["up_rate"]
    counts = f"{summary['up']:,} up · {summary['down']:,} down"
    if summary.get("ignored"):  # forged or corrupt rows: counted, never charted
        counts += f" · {summary['ignored']:,} ignored (impossible rank or distance)"
    figures = (
        ("votes", "Votes", f"{summary['votes']:,}", counts),
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
    for item in store.item_totals(index.manifest.catalog.identity, liked=liked, n=n):
        try:
            name = index.product(item.item_id).name
            picture = dbc.CardImg(src=thumbnail_url(item.item_id), alt=name,
                                  style={"objectFit": "contain", "height": "120px", "background": "#f8f9fa"})
        except KeyError:  # voted on, then removed from the catalogue: no picture to show, no broken image
            name = f"{item.item_id} (no longer in the catalogue)"
            picture = html.Div("No longer in the catalogue", className="feedback-gone")
        cards.append(
            dbc.Col(
                dbc.Card(
                    [
                        picture,
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


def feedback_content(store: FeedbackStore, index: Index) -> html.Div:
    """Everything below the page title (this catalogue's votes only); a message instead of empty charts."""
    catalog = index.manifest.catalog.identity
    summary = store.summary(catalog)
    if summary["votes"] == 0:
        return html.Div(
            dbc.Alert(
                [
                    html.H2("No votes yet", className="h4 alert-heading"),
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
                id=ids.FEEDBACK_EMPTY,
            )
        )
    category = index.roles.category
    charts = [dbc.Col(graph(votes_over_time_figure(store, catalog)), lg=6),
              dbc.Col(graph(rate_by_rank_figure(store, catalog)), lg=6)]
    if category is not None:
        # "category" whatever the column is called (articleType in Kaggle catalogues): the page's word for it
        by_category = rate_by_category_figure(store, catalog, attribute_lookup(index, category))
        charts.append(dbc.Col(graph(by_category), lg=12))
    return html.Div(
        [
            summary_cards(summary),
            dbc.Row(charts, className="g-3 mb-4"),
            html.H2("Most liked products", className="h4 mt-2"),
            dbc.Row(item_cards(store, index, liked=True), id=ids.FEEDBACK_LIKED),
            html.H2("Most disliked products", className="h4 mt-2"),
            dbc.Row(item_cards(store, index, liked=False), id=ids.FEEDBACK_DISLIKED),
        ]
    )


def _current_content() -> html.Div | dbc.Alert:
    services = get_services()
    try:
        return feedback_content(services.feedback, services.engine.index)
    except RecommenderError as exc:
        return dbc.Alert(public_message(exc, "The votes cannot be read right now; please try again in a moment."),
                         color="danger")


def layout(**_query: str) -> html.Div:
    """Rebuilt on every visit, so the page always shows the votes as they are now."""
    if not get_services().settings.merchant_tools:
        return merchant_page_off()
    return html.Div(
        [
            html.Div(
                [
                    html.H1("Shopper feedback", className="page-title h2 me-auto mb-0"),
                    dbc.Button("Refresh", id=ids.FEEDBACK_REFRESH, color="dark", outline=True, size="sm"),
                ],
                className="d-flex align-items-center gap-2 my-3",
            ),
            dcc.Interval(id=ids.FEEDBACK_INTERVAL, interval=REFRESH_MS),
            dcc.Loading(html.Div(_current_content(), id=ids.FEEDBACK_CONTENT), delay_show=500),
        ],
        className="feedback-page",
    )


def refresh(_clicks: int | None, _intervals: int | None) -> html.Div | dbc.Alert:
    """Redraw from the store on a click on Refresh, and every minute while the page is open."""
    if not get_services().settings.merchant_tools:
        raise PreventUpdate
    return _current_content()


def register_callbacks(app: Dash) -> None:
    """Attach this page's callbacks to `app`."""
    app.callback(
        Output(ids.FEEDBACK_CONTENT, "children"),
        Input(ids.FEEDBACK_REFRESH, "n_clicks"),
        Input(ids.FEEDBACK_INTERVAL, "n_intervals"),
        prevent_initial_call=True,
    )(refresh)
