"""Callbacks that draw a search from the URL: the query's picture, the trail, the chips, the results.

Each is a plain function of the URL fragment (and the shopper's session for their votes), so a
reload, a shared link, Back and Forward all draw the same page. A search naming a photo the server
no longer keeps, or a product gone from the catalogue, draws a sentence saying so.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.exceptions import PreventUpdate
from PIL import Image

from recommender.errors import RecommenderError
from recommender.roles import FILTER_ROLES, ROLE_LABELS
from recommender.ui import ids
from recommender.ui.components import (
    breadcrumb,
    kept_row,
    product_card,
    results_grid,
    tag_chips,
    thumbnail_url,
    upload_url,
)  # fmt: skip
from recommender.ui.guard import public_message
from recommender.ui.query import Found, find, step_label, tags_of
from recommender.ui.region import query_figure
from recommender.ui.services import Services, get_services
from recommender.ui.session import current_session_id
from recommender.ui.state import MAX_RESULTS, Search, Step

__all__ = ["render_query", "render_results", "describe"]

log = logging.getLogger(__name__)


def _picture(services: Services, step: Step) -> tuple[str, tuple[int, int]]:
    """URL and size (width, height) of a step's picture; RecommenderError when it is gone."""
    if step.kind == "upload":
        path = services.uploads.photo_path(step.ref)
    else:
        try:
            path = services.engine.index.product(step.ref).image
        except KeyError:
            raise RecommenderError("This product is no longer in the catalogue.") from None
    try:
        with Image.open(path) as image:
            return _picture_url(step), image.size
    except OSError:
        raise RecommenderError("This picture can no longer be read.") from None


def render_query(fragment: str | None, shown: str | None) -> tuple[Any, str | None]:
    """The current query's picture, large, to drag a region on (redrawn only when the query changes)."""
    search = Search.from_fragment(fragment)
    step = search.current
    key = step.token() if step else None
    if key == shown and shown is not None:
        raise PreventUpdate
    if step is None:
        return None, None
    services = get_services()
    base = _pictured(search.trail)
    label = step_label(services.engine.index, step)
    try:
        url, size = _picture(services, base)
    except RecommenderError as exc:
        return html.P(str(exc), className="query-gone"), key
    if step.kind == "liked":
        return html.Figure([html.Img(src=url, alt="", className="query-still"),
                            html.Figcaption(f"Searching: {label.lower()}, starting from this picture.")],
                           className="query-figure"), key
    graph = dcc.Graph(
        id=ids.REGION_GRAPH,
        figure=query_figure(url, size, step.region, label),
        config={"displayModeBar": False, "doubleClick": False, "scrollZoom": False, "responsive": True},
        className="region-graph",
        style={"aspectRatio": f"{size[0]} / {size[1]}"},
    )
    caption = ("Searching only the framed part." if step.region else
               "Drag a box on the picture to search only that part.")
    return html.Figure(
        [html.Div(graph, role="img", className="region-frame",
                  **{"aria-label": f"{label}: the picture searched by. {caption}"}),
         html.Figcaption([html.Span(caption, id=ids.REGION_NOTE),
                          html.Button("Whole picture", id=ids.REGION_RESET, n_clicks=0, className="link-btn",
                                      hidden=step.region is None)])],
        className="query-figure",
    ), key


def describe(search: Search) -> str:
    """"Colour: Black or Navy Blue · Category: Tshirts · “floral”", in the page's words."""
    parts = [f"{ROLE_LABELS[role]}: {' or '.join(search.filters[role])}" for role in FILTER_ROLES
             if role in search.filters]
    return " · ".join(parts + ([f"“{search.text}”"] if search.text else []))


def _cards(services: Services, search: Search, found: Found) -> list:
    index = services.engine.index
    if not found.hits:
        return [product_card(p, index.roles, i) for i, p in enumerate(found.products, start=1)]
    votes: dict[str, int] = {}
    key = search.vote_key()
    catalog, session_id = index.manifest.catalog.identity, current_session_id()
    if key:
        try:  # votes count only on results the server showed to this session (see FeedbackStore.record)
            services.feedback.record_shown(session_id, catalog, key[1], [(h.id, h.rank, h.distance) for h in found.hits])
            votes = services.feedback.current_votes(catalog, session_id, key[1])
        except RecommenderError as exc:  # the results matter more than voting on them
            log.warning("votes not shown: %s", exc)
    return [product_card(h.product, index.roles, i, h, services.similarity(h.distance), votes.get(h.id, 0))
            for i, h in enumerate(found.hits, start=1)]


def _heading(services: Services, search: Search, found: Found) -> tuple[str, str]:
    shown = len(found.hits) or len(found.products)
    if search.current is not None:
        step = search.current
        whole = step_label(services.engine.index, replace(step, region=None))
        subject = {"upload": "your photo", "item": f"“{whole}”"}.get(step.kind, whole.lower())
        title = f"Looks like {'the framed part of ' if step.region else ''}{subject}"
    elif search.text:
        title = f"Products named “{search.text}”"
    else:
        title = "Or start from a product"
    count = f"{shown:,} of {found.total:,} products" if search.current or search.text or search.filters else \
        f"{shown:,} of {found.total:,} products, spread over the catalogue"
    return title, count


def render_results(fragment: str | None) -> tuple[Any, Any, Any, str]:
    """(trail, chips, results, announcement) for the search in the URL."""
    services = get_services()
    index = services.engine.index
    search = Search.from_fragment(fragment)
    crumbs = breadcrumb([(step_label(index, s), _crumb_image(search.trail, i)) for i, s in enumerate(search.trail)])
    try:
        found = find(services, search)
        tags = tags_of(services, search)
    except RecommenderError as exc:
        message = public_message(exc, "These results cannot be shown right now; please try again.")
        alert = dbc.Alert(message, color="warning", className="query-gone")
        return crumbs, None, [html.H2("This search cannot be shown", className="results-title",
                                      id=ids.RESULTS_TITLE, tabIndex=-1), alert], message
    chips = [row for row in (tag_chips(tags, search.filters, search.auto),
                             kept_row(search.filters, search.auto) if search.kept else None) if row]
    title, count = _heading(services, search, found)
    body: list[Any] = [
        html.Div([html.H2(title, className="results-title", id=ids.RESULTS_TITLE, tabIndex=-1),
                  _refine_button() if found.hits else None], className="results-head"),
        html.P(count + (f" · {describe(search)}" if search.filters or search.text else ""),
               className="results-sub", id=ids.RESULTS_COUNT),
    ]
    shown = len(found.hits) or len(found.products)
    if not shown:
        body.append(dbc.Alert([html.Strong("No product matches these filters. "),
                               f"Try widening them ({describe(search)}): remove one, or pick more values."],
                              color="warning", className="no-results"))
        return crumbs, chips, body, f"No product matches. {describe(search)}"
    body.append(results_grid(_cards(services, search, found)))
    if shown < min(found.total, MAX_RESULTS) and shown == search.shown:
        body.append(html.Button(f"Show more ({shown:,} of {found.total:,} shown)", id=ids.SHOW_MORE, n_clicks=0,
                                className="show-more"))
    return crumbs, chips, body, f"{title}: {count}."


def _pictured(trail: tuple[Step, ...]) -> Step:
    """The step whose picture stands for the last one: itself, or for a refinement the photo or product refined."""
    return next(s for s in reversed(trail) if s.kind != "liked")


def _picture_url(step: Step) -> str:
    return upload_url(step.ref) if step.kind == "upload" else thumbnail_url(step.ref)


def _crumb_image(trail: tuple[Step, ...], position: int) -> str:
    return _picture_url(_pictured(trail[: position + 1]))


def _refine_button() -> html.Button:
    """"More like the ones I liked": enabled by the votes callback once a result is liked."""
    return html.Button("More like the ones I liked", id=ids.REFINE, n_clicks=0, disabled=True,
                       className="refine-btn", title="Like one or more results first")
