"""Callbacks that draw a search from the URL: the query's picture, the trail, the chips, the results.

Each is a plain function of the URL fragment (and the shopper's session for their votes), so a
reload, a shared link, Back and Forward all draw the same page. A search naming a photo the server
no longer keeps, or a product gone from the catalogue, draws a sentence saying so.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Patch, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from PIL import Image

from recommender.errors import RecommenderError
from recommender.ui import ids
from recommender.ui.components import (
    breadcrumb,
    filter_words,
    kept_row,
    product_card,
    results_grid,
    tag_chips,
    thumbnail_url,
    upload_url,
)  # fmt: skip
from recommender.ui.garments import chosen_name
from recommender.ui.guard import public_message
from recommender.ui.query import Found, find, selected_filters, step_label, tags_of
from recommender.ui.region import query_figure, region_revision, region_shapes
from recommender.ui.search.look import outline_shapes, with_look
from recommender.ui.services import Services, get_services
from recommender.ui.session import current_session_id
from recommender.ui.state import MAX_RESULTS, RESULTS, Search, Step

__all__ = ["render_query", "render_region", "render_results", "describe"]

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
    """The current query's picture, large, to drag a region on (redrawn only when the picture changes:
    a region is drawn on it by `render_region`)."""
    search = Search.from_fragment(fragment)
    step = search.current
    key = replace(step, region=None).token() if step else None
    if key == shown and shown is not None:
        raise PreventUpdate
    if step is None:
        return None, None
    services = get_services()
    base = _pictured(search.trail)
    label = step_label(services.engine.index, replace(step, region=None))
    try:
        url, size = _picture(services, base)
    except RecommenderError as exc:
        return html.P(str(exc), className="query-gone"), None  # no picture drawn
    if step.kind == "liked":
        return html.Figure([html.Img(src=url, alt="", className="query-still",
                                     style={"--query-ratio": f"{size[0] / max(size[1], 1):.4f}"}),
                            html.Figcaption(f"Searching: {label.lower()}, starting from this picture.")],
                           className="query-figure"), key
    graph = dcc.Graph(
        id=ids.region(ids.REGION_GRAPH),
        figure=with_look(query_figure(url, size, step.region, label), services, step),
        config={"displayModeBar": False, "doubleClick": False, "scrollZoom": False, "responsive": True},
        className="region-graph",
        style={"aspectRatio": f"{size[0]} / {size[1]}", "--query-ratio": f"{size[0] / max(size[1], 1):.4f}"},
    )
    caption, framed = _region_caption(step)
    return html.Figure(
        [html.Div(graph, role="img", className="region-frame", id=ids.region(ids.REGION_FRAME),
                  **{"aria-label": framed}),
         html.Figcaption([html.Span(caption, id=ids.region(ids.REGION_NOTE), className="region-note"),
                          html.Button("Whole picture", id=ids.region(ids.REGION_RESET), n_clicks=0,
                                      className="link-btn region-reset",
                                      hidden=step.region is None)])],
        className="query-figure",
    ), key


def _region_caption(step: Step) -> tuple[str, str]:
    """The picture's caption, and its name for a screen reader, for the region searched."""
    garment = chosen_name(get_services(), step)
    caption = (f"Searching the {garment.lower()} in your photo: tap another garment, or drag a box." if garment else
               "Searching only the framed part." if step.region else
               "Drag a box on the picture to search only that part.")
    return caption, f"{step_label(get_services().engine.index, replace(step, region=None))}: the picture searched " \
                    f"by. {caption}"


def render_region(fragment: str | None, picture: str | None, drawn: str | None) -> tuple[list, list, list, list, str]:
    """The region searched, framed on the picture already drawn: only the figure's shapes change.

    Nothing when the picture drawn (`picture`, see `render_query`) is another one (the picture is
    redrawn, region included), or when the step's region is the one `drawn` already.
    """
    step = Search.from_fragment(fragment).current
    if step is None or step.kind == "liked" or replace(step, region=None).token() != picture \
            or step.token() == drawn or not ctx.outputs_list[0]:
        raise PreventUpdate
    figure = Patch()
    figure["layout"]["shapes"] = region_shapes(step.region) + outline_shapes(get_services(), step)
    figure["layout"]["selectionrevision"] = region_revision(step.region)
    figure["layout"]["selections"] = []  # the box the shopper dragged: the frame above replaces it, or it goes
    caption, framed = _region_caption(step)
    return [figure], [caption], [step.region is None], [framed], step.token()


def describe(search: Search) -> str:
    """"Colour: Black or Navy Blue · Category: Tshirts · “floral”", in the page's words."""
    return " · ".join(filter_words(search.filters) + ([f"“{search.text}”"] if search.text else []))


def _cards(services: Services, search: Search, found: Found, first: int = 0) -> list:
    """The result cards from the `first` (0-based) on; every result is recorded as shown (votes are checked on it)."""
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
            for i, h in enumerate(found.hits[first:], start=first + 1)]


def _heading(services: Services, search: Search, found: Found) -> tuple[str, str]:
    shown = len(found.hits) or len(found.products)
    if search.current is not None:
        step = search.current
        whole = step_label(services.engine.index, replace(step, region=None))
        subject = {"upload": "your photo", "item": f"“{whole}”"}.get(step.kind, whole.lower())
        garment = chosen_name(services, step)
        title = f"Looks like the {garment.lower()} in your photo" if garment else \
            f"Looks like {'the framed part of ' if step.region else ''}{subject}"
    elif search.text:
        title = f"Products named “{search.text}”"
    else:
        title = "Or start from a product"
    count = f"{shown:,} of {found.total:,} products" if search.current or search.text or search.filters else \
        f"{shown:,} of {found.total:,} products, spread over the catalogue"
    return title, count


def render_results(fragment: str | None, drawn: Any) -> tuple[Any, ...]:
    """(trail, chips, results, announcement, what was drawn, count line and button, pages) for the URL's search.

    "Show more" only fills the next page of the grid and updates the count line and the button
    (`_more`): redrawing the cards already shown costs the browser seconds. The last two outputs are
    patterns (`ids.results_part`, `ids.results_page`), left alone by any other redraw.
    """
    services = get_services()
    index = services.engine.index
    search = Search.from_fragment(fragment)
    crumbs = breadcrumb([(step_label(index, s), _crumb_image(search.trail, i)) for i, s in enumerate(search.trail)])
    parts, pages = [no_update] * len(ctx.outputs_list[5]), [no_update] * len(ctx.outputs_list[6])
    try:
        found = find(services, search)
        tags = tags_of(services, search)
    except RecommenderError as exc:
        message = public_message(exc, "These results cannot be shown right now; please try again.")
        alert = dbc.Alert(message, color="warning", className="query-gone")
        return crumbs, None, [html.H2("This search cannot be shown", className="results-title",
                                      id=ids.RESULTS_TITLE, tabIndex=-1), alert], message, {}, parts, pages
    title, count = _heading(services, search, found)
    shown = len(found.hits) or len(found.products)
    more = shown < min(found.total, MAX_RESULTS) and shown == search.shown
    now = {"fragment": search.fragment(), "cards": shown, "more": more}
    announcement = f"{title}: {count}."
    first = _appending_from(search, found, drawn)
    if first is not None and len(pages) == MAX_RESULTS // RESULTS:
        pages[first // RESULTS] = _cards(services, search, found, first=first)
        parts = [{"count": _count_text(search, count), "more": _show_more_button(shown, found.total) if more else None}
                 [p["id"]["part"]] for p in ctx.outputs_list[5]]
        return no_update, no_update, no_update, announcement, now, parts, pages
    chips = [row for row in (tag_chips(tags, search.filters, search.auto),
                             kept_row(search.filters if search.kept else {}, search.auto,
                                      search.text if search.kept_words else "")) if row]
    body: list[Any] = [
        html.Div([html.H2(title, className="results-title", id=ids.RESULTS_TITLE, tabIndex=-1),
                  html.Div([_map_link(search), _refine_button()], className="results-actions") if found.hits
                  else None], className="results-head"),
        html.P(_count_text(search, count if shown else "No results"), className="results-sub",
               id=ids.results_part("count")),
    ]
    if not shown:
        strong, advice = _no_match(services, search)
        body.append(dbc.Alert([html.Strong(strong + " "), advice], color="warning", className="no-results"))
        return crumbs, chips, body, f"{strong} {advice}", now, parts, pages
    body.append(results_grid(_cards(services, search, found), RESULTS, MAX_RESULTS // RESULTS))
    body.append(html.Div(_show_more_button(shown, found.total) if more else None, id=ids.results_part("more")))
    return crumbs, chips, body, announcement, now, parts, pages


def _count_text(search: Search, count: str) -> html.Span:
    """"10 of 691 products · Colour: Black"."""
    return html.Span(count + (f" · {describe(search)}" if search.filters or search.text else ""), id=ids.RESULTS_COUNT)


def _show_more_button(shown: int, total: int) -> html.Button:
    return html.Button(f"Show more ({shown:,} of {total:,} shown)", id=ids.SHOW_MORE, n_clicks=0,
                       className="show-more")


def _appending_from(search: Search, found: Found, drawn: Any) -> int | None:
    """The first new result when `search` only shows the next ten of the results drawn; None when it is another
    search (or more than ten more: a page is filled at a time)."""
    if not isinstance(drawn, dict) or not drawn.get("more") or not found.hits:
        return None
    before = Search.from_fragment(drawn.get("fragment"))
    if replace(before, shown=search.shown) != search or drawn.get("cards") != before.shown \
            or search.shown != before.shown + RESULTS or before.shown % RESULTS:
        return None
    return before.shown


def _no_match(services: Services, search: Search) -> tuple[str, str]:
    """Why nothing was found, naming the words and the filters, and what to try: the filters alone when they
    leave nothing even without the words (a filter kept from the last photo, say)."""
    if search.text and not search.filters:
        words = ", ".join(services.common_words[:3])
        return (f"No product name has the words “{search.text}”.",
                f"Check the spelling or try other words; names here use words like {words}.")
    index = services.engine.index
    if search.text and not len(index.matching(selected_filters(index.roles, search.filters))):
        return (f"No product matches the filters ({describe(replace(search, text=''))}), even without the words.",
                "Remove a filter.")
    if search.text:
        return (f"No product named “{search.text}” matches the filters ({describe(replace(search, text=''))}).",
                "Remove a filter or the words.")
    return ("No product matches these filters.",
            f"Try widening them ({describe(search)}): remove one, or pick more values.")


def _pictured(trail: tuple[Step, ...]) -> Step:
    """The step whose picture stands for the last one: itself, or for a refinement the photo or product refined."""
    return next(s for s in reversed(trail) if s.kind != "liked")


def _picture_url(step: Step) -> str:
    return upload_url(step.ref) if step.kind == "upload" else thumbnail_url(step.ref)


def _crumb_image(trail: tuple[Step, ...], position: int) -> str:
    return _picture_url(_pictured(trail[: position + 1]))


def _map_link(search: Search) -> dcc.Link:
    """This search on the catalogue's map (the Map page reads the same URL fragment): its query and results ringed."""
    return dcc.Link("See on the map", href=dash.get_relative_path("/map") + search.fragment(), className="map-link",
                    id=ids.MAP_LINK, title="The query and its results among the whole catalogue")


def _refine_button() -> html.Button:
    """"More like the ones I liked": enabled by the votes callback once a result is liked."""
    return html.Button("More like the ones I liked", id=ids.REFINE, n_clicks=0, disabled=True,
                       className="refine-btn", title="Like one or more results first")
