"""Shop the look on the search page: the garments of an uploaded photo, one chip and one outline each.

A photo of a person wears several garments (`ui.garments`); the page searches one at a time, the
surest first, and shows the first three results of every garment in a "Shop the look" strip. The chosen
garment is the step's region, so it lives in the URL like a dragged box: Back returns to the garment
chosen before, a reload or a shared link shows the same one, and a box dragged by hand simply replaces it
(no chip is then chosen). A photo of one product is one garment, the whole picture: no chip, no strip,
and the search is the plain photo search it always was.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from recommender.errors import RecommenderError
from recommender.looks import Garment
from recommender.ui import ids
from recommender.ui.components import thumbnail_url
from recommender.ui.garments import chosen, garment_query, look_of
from recommender.ui.query import selected_filters
from recommender.ui.search.actions import clicked, focus_on, region_fragment
from recommender.ui.services import Services, get_services
from recommender.ui.state import Search, Step

__all__ = ["STRIP_RESULTS", "outline_shapes", "with_look", "render_look", "on_garment", "on_garment_tap", "register_look_callbacks"]

STRIP_RESULTS = 3  # results of each garment in the "Shop the look" strip
OUTLINE = "rgba(255, 255, 255, 0.95)"


def _in_reading_order(garments: list[Garment]) -> list[int]:
    """Garment positions top to bottom, then left to right ("Hat · Top · Jeans · Shoes")."""
    return sorted(range(len(garments)), key=lambda i: (round(garments[i].box[1], 1), garments[i].box[0]))


def outline_shapes(services: Services, step: Step | None) -> list[dict[str, Any]]:
    """A thin outline around every garment but the one chosen (its frame is the region's)."""
    try:
        garments = look_of(services, step)
    except RecommenderError:  # the photo is gone: the page says so elsewhere
        return []
    if not garments:
        return []
    mine = chosen(garments, step)
    return [{"type": "rect", "x0": g.box[0], "x1": g.box[2], "y0": 1 - g.box[3], "y1": 1 - g.box[1],
             "line": {"color": OUTLINE, "width": 2, "dash": "dot"}, "layer": "above"}
            for i, g in enumerate(garments) if i != mine]


def with_look(figure: go.Figure, services: Services, step: Step) -> go.Figure:
    """The query's figure with every garment outlined and named by a tappable label on its outline's
    corner (`on_garment_tap`); a box can still be dragged anywhere else."""
    outlines = outline_shapes(services, step)
    if outlines:
        garments = look_of(services, step)
        figure.update_layout(shapes=list(figure.layout.shapes) + outlines, annotations=[
            {"x": g.box[0], "y": 1 - g.box[1], "xref": "x", "yref": "y", "xanchor": "left", "yanchor": "top",
             "text": g.category, "showarrow": False, "captureevents": True, "name": str(i), "bgcolor": "#ffffff",
             "bordercolor": "#1b1b1f", "borderpad": 3, "font": {"size": 12, "color": "#1b1b1f"}}
            for i, g in enumerate(garments)])
    return figure


def _chips(garments: list[Garment], step: Step) -> html.Div:
    mine = chosen(garments, step)
    chips = []
    for i in _in_reading_order(garments):
        on = i == mine
        chips.append(html.Button(
            garments[i].category, id={"type": ids.LOOK_GARMENT, "index": i}, n_clicks=0,
            className="chip look-chip" + (" chip-on" if on else ""), **{"aria-pressed": "true" if on else "false"},
            title=f"Search the {garments[i].category.lower()} of your photo"))
    return html.Div([html.Span("In your photo:", className="chips-title"), *chips], className="chip-row look-row",
                    role="group", **{"aria-label": "Garments found in your photo: choose one to search it"})


def _strip(services: Services, search: Search, garments: list[Garment]) -> html.Section:
    """The first results of every garment, each a link to more like it (a page link, "./#...": a bare "#..."
    reads as a skip link to screen readers); the shopper's own filters apply, to the results and the links
    (not those the page applied from one garment's tags: a "Tshirts" filter would empty the shoes). The group of
    the garment searched is marked: its results are the list below."""
    engine, step, mine = services.engine, search.current, search.own()
    own = selected_filters(engine.index.roles, mine.filters)
    searched = chosen(garments, step)
    groups = []
    for i in _in_reading_order(garments):
        hits = engine.search(garment_query(services, step.ref, garments[i]), STRIP_RESULTS, engine.select(own))
        links = [dcc.Link([html.Img(src=thumbnail_url(h.id), alt=""), html.Span(h.product.name, className="look-name")],
                          href="./" + mine.followed(Step("item", h.id)).fragment(), className="look-item",
                          title=f"More like {h.product.name}")
                 for h in hits]
        on = i == searched
        name = [garments[i].category, *([html.Span([html.Span(" · ", **{"aria-hidden": "true"}), "shown below"],
                                                   className="look-shown")] if on else [])]
        groups.append(html.Li([html.H3(name, className="look-garment-name"), html.Div(links, className="look-items")],
                              className="look-group" + (" look-group-on" if on else ""),
                              **({"aria-current": "true"} if on else {})))
    return html.Section([html.H2("Shop the look", className="look-title"), html.Ul(groups, className="look-groups")],
                        className="look-strip", **{"aria-label": "Shop the look: the first results of every garment"})


def render_look(fragment: str | None) -> tuple[Any, Any]:
    """The garment chips under the photo and the "Shop the look" strip, for the URL's search."""
    search = Search.from_fragment(fragment)
    services = get_services()
    try:
        garments = look_of(services, search.current)
        if not garments:
            return None, None
        return _chips(garments, search.current), _strip(services, search, garments)
    except RecommenderError:  # the photo is gone: the results area says so
        return None, None


def on_garment(_clicks: Any, fragment: str | None) -> tuple[str, dict[str, str]]:
    """A garment's chip: search that garment (its box becomes the step's region)."""
    target = clicked()
    return _choose(target.get("index") if isinstance(target, dict) else None, fragment)


def _choose(position: object, fragment: str | None) -> tuple[str, dict[str, str]]:
    """The URL searching the garment at `position` of the current photo (its box becomes the step's region), and
    focus to its results once drawn, the new list being what was asked for: scrolled into view where they are off
    the screen (below the photo, on a phone), left in place where they show (a desktop keeps the chips in view)."""
    search = Search.from_fragment(fragment)
    try:
        garments = look_of(get_services(), search.current)
    except RecommenderError:
        raise PreventUpdate from None
    if not isinstance(position, int) or not 0 <= position < len(garments):
        raise PreventUpdate
    return focus_on(region_fragment(search, garments[position].region), ids.RESULTS_TITLE, "if-hidden")


def on_garment_tap(taps: Any, fragment: str | None) -> tuple[str, dict[str, str]]:
    """A garment's label tapped on the picture: search that garment."""
    try:
        position = int(taps[0]["annotation"]["name"])
    except (TypeError, KeyError, IndexError, ValueError):
        raise PreventUpdate from None
    return _choose(position, fragment)


def register_look_callbacks(app: Dash) -> None:
    """Attach the look's callbacks to `app` (from `pages/search.py`)."""
    app.callback(Output(ids.LOOK_CHIPS, "children"), Output(ids.LOOK_STRIP, "children"),
                 Input(ids.URL, "hash"))(render_look)
    url, focus = Output(ids.URL, "hash", allow_duplicate=True), Output(ids.FOCUS, "data", allow_duplicate=True)
    app.callback(url, focus, Input({"type": ids.LOOK_GARMENT, "index": ALL}, "n_clicks"),
                 State(ids.URL, "hash"), prevent_initial_call=True)(on_garment)
    app.callback(url, focus, Input(ids.region(ids.REGION_GRAPH, ALL), "clickAnnotationData"),
                 State(ids.URL, "hash"), prevent_initial_call=True)(on_garment_tap)
