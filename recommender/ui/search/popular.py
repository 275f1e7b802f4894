"""Products to start from, on the start page before any search: the popular ones, or a sample of kinds.

Shown only while the search is empty (no photo, no product, no words, no filters). Most liked first,
then most shown (`FeedbackStore.popular_items`); with no votes yet, one product of each common kind
(`recommender.trends.start_from`). Tapping one starts "more like this" from it.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from recommender.errors import RecommenderError
from recommender.trends import start_from
from recommender.ui import ids
from recommender.ui.components import thumbnail_url
from recommender.ui.services import get_services
from recommender.ui.state import Search, Step

__all__ = ["popular_area", "register_callbacks", "STARTING_POINTS"]

log = logging.getLogger(__name__)

STARTING_POINTS = 8


def popular_area() -> html.Section:
    """The hook in the search page's layout: filled while the search is empty."""
    return html.Section(id=ids.POPULAR_AREA, className="popular-area", **{"aria-label": "Products to start from"})


def _tile(product: Any, why: str) -> html.Button:
    return html.Button(
        [html.Img(src=thumbnail_url(product.id), alt=""), html.Span(product.name, className="popular-name"),
         html.Span(why, className="popular-why")],
        id=ids.product(ids.POPULAR, product.id), n_clicks=0, className="popular-tile",
        **{"aria-label": f"More like {product.name} ({why})"},
    )


def render_popular(fragment: str | None) -> Any:
    """The tiles for an empty search, nothing once a search has begun."""
    if Search.from_fragment(fragment) != Search():
        return None
    services = get_services()
    index = services.engine.index
    try:
        popular = services.feedback.popular_items(index.manifest.catalog.identity, STARTING_POINTS)
    except RecommenderError as exc:  # the votes cannot be read: a varied start still helps
        log.warning("popular products not read: %s", exc)
        popular = []
    points = start_from(index, popular, STARTING_POINTS)
    if not points:
        return None
    title = "Popular with shoppers" if popular else "Start from a kind"
    return [html.H2(title, className="panel-title"),
            html.P("Or tap one to see more like it.", className="popular-sub"),
            html.Div([_tile(product, why) for product, why in points], className="popular-row")]


def start_from_popular(_clicks: Any, fragment: str | None) -> str:
    """A tapped tile: "more like this" from that product."""
    target = ctx.triggered_id
    if not ctx.triggered or not ctx.triggered[0].get("value") or not isinstance(target, dict):
        raise PreventUpdate
    product_id = target.get("id")
    if not isinstance(product_id, str) or product_id not in get_services().engine.index:
        raise PreventUpdate  # a forged or stale click
    return Search.from_fragment(fragment).followed(Step("item", product_id)).fragment()


def register_callbacks(app: Dash) -> None:
    app.callback(Output(ids.POPULAR_AREA, "children"), Input(ids.URL, "hash"))(render_popular)
    app.callback(Output(ids.URL, "hash", allow_duplicate=True), Input(ids.product(ids.POPULAR, ALL), "n_clicks"),
                 State(ids.URL, "hash"), prevent_initial_call=True)(start_from_popular)
