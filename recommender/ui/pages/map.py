"""The Map page: the whole catalogue laid out in two dimensions (similar pictures close together), coloured
by an attribute, with the current search's query and results highlighted.

Open to shoppers as well as merchants: it shows nothing but the catalogue's own pictures and labels,
and it is a way to browse (a click on any point starts "more like this"). The layout is computed once
at build or train time (`recommender.catalogue_map`) and drawn with WebGL (`scattergl`), so 44k
points pan and zoom at interactive speed; the per-attribute traces are built once per index and cached.
The page's hash is the search page's (`ui.state`): `/map#s=item:123` highlights product 123 and its results.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from recommender.catalogue_map import read_map
from recommender.errors import RecommenderError
from recommender.index import Index
from recommender.ui import ids
from recommender.ui.components import more_like_url, thumbnail_url
from recommender.ui.guard import public_message
from recommender.ui.query import find
from recommender.ui.services import get_services
from recommender.ui.state import Search

dash.register_page(
    __name__,
    path="/map",
    name="Map",
    title="Lookalike · Map of the catalogue",
    description="The whole catalogue on one map: similar pictures lie close together.",
    order=2,
)

# 24 colours clear on white, the most distinct first (the most common values get them): D3's (less its grey, kept
# for "Other"), then plotly's Dark24 ones unlike those, then darker tones of the first (Light24's are too pale on
# white, Dark24 alone repeats magentas)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#222A2A", "#00A08B", "#FB00D1", "#511CFB", "#B68100", "#620042", "#0D2A63", "#A777F1",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#6C4516")
MOST_VALUES = len(PALETTE)  # values with a colour of their own (the demo has 16 kinds); the rarer ones are "Other"
MOST_DISTINCT = 500  # an attribute with more values (names, ids) is no colouring
OTHER = "#c7c7c7"
RANK_SEARCH, RANK_FIRST, RANK_LAST = 0, 1, 999  # legend places (Plotly's legendrank): a search's results and
# query lead, then the values alphabetically, "Other" last
# the legend's columns, one width each (the words' width: "Other (118 rarer values)" fits; Plotly adds 40 px for the
# symbol), so a row holds a known number: two on a phone from 360 px wide (its map 326 px), and the graph's height
# on a phone fits the square map and its whole legend
LEGEND_ENTRY_PX = 120
PHONE_LEGEND_COLUMNS = 2
NO_MAP = ("This catalogue has no map yet: run python -m recommender map --index INDEX on the server (a few "
          "minutes on 40k products), then reload this page.")
NO_ATTRIBUTES = "This catalogue has no attributes to colour by: the map shows its products in one colour."


def colour_attributes(index: Index) -> list[str]:
    """Attributes worth colouring by: not the product's name, and between 2 and MOST_DISTINCT values."""
    name = index.roles.name
    return [a for a in index.attributes()
            if a != name and 2 <= len(index.attribute_values(a)) <= MOST_DISTINCT]


@functools.lru_cache(maxsize=2)
def _layout_of(index_dir: str, _version: int) -> np.ndarray:
    index = get_services().engine.index
    return np.round(read_map(Path(index_dir), index.vectors).xy, 4)


def layout_xy(index: Index) -> np.ndarray:
    """The served index's stored layout, read again only when map.npy changes."""
    try:
        version = (index.path / "map.npy").stat().st_mtime_ns
    except OSError:
        version = 0
    return _layout_of(str(index.path), version)


def _scatter(xy: np.ndarray, rows: np.ndarray, name: str, colour: str, rank: int) -> go.Scattergl:
    return go.Scattergl(x=xy[rows, 0], y=xy[rows, 1], customdata=rows.tolist(), mode="markers", name=name,
                        marker={"color": colour, "size": 4, "opacity": 0.75}, hoverinfo="none", legendrank=rank)


@functools.lru_cache(maxsize=8)
def _base_traces(index_dir: str, version: int, attribute: str | None) -> tuple[go.Scattergl, ...]:
    """One trace per value of `attribute` (the MOST_VALUES most common; the rest grey as "Other", its legend
    saying how many values it holds), or one of everything. The legend lists them alphabetically ("Other" last),
    so a shopper finds a value by its name; the colours go by frequency, the most distinct to the most common."""
    index = get_services().engine.index
    xy = _layout_of(index_dir, version)
    everything = np.arange(len(xy))
    if attribute is None:
        return (_scatter(xy, everything, "Products", PALETTE[0], RANK_LAST),)
    every = list(index.attribute_values(attribute))
    values = every[:MOST_VALUES]
    codes = index.value_codes(attribute, values)
    rarer = len(every) - len(values)
    other = f"Other ({rarer} rarer value{'s' * (rarer > 1)})" if rarer else "Other (no value)"
    alphabetical = {value: rank for rank, value in enumerate(sorted(values, key=str.casefold), start=RANK_FIRST)}
    traces = [_scatter(xy, np.flatnonzero(codes == -1), other, OTHER, RANK_LAST)] if (codes == -1).any() else []
    traces += [_scatter(xy, np.flatnonzero(codes == i), value, PALETTE[i], alphabetical[value])
               for i, value in enumerate(values)]
    return tuple(traces)


def _highlights(index: Index, xy: np.ndarray, search: Search) -> list[go.Scattergl]:
    """The search's results (rings) and its query product (a star), drawn over the catalogue."""
    services = get_services()
    traces = []
    try:
        found = find(services, search) if search.current else None
    except RecommenderError:
        found = None
    if found is not None:
        rows = np.array([index.position(h.product.id) for h in found.hits], dtype=np.int64)
        if len(rows):
            traces.append(go.Scattergl(x=xy[rows, 0], y=xy[rows, 1], customdata=rows.tolist(), mode="markers",
                                       name="Results", hoverinfo="none", legendrank=RANK_SEARCH,
                                       marker={"size": 12, "color": "#111", "symbol": "circle-open",
                                               "line": {"width": 2}}))
    step = search.current
    if step is not None and step.kind == "item" and step.ref in index:
        row = np.array([index.position(step.ref)])
        traces.append(go.Scattergl(x=xy[row, 0], y=xy[row, 1], customdata=row.tolist(), mode="markers",
                                   name="Query", legendrank=RANK_SEARCH,
                                   hoverinfo="none", marker={"size": 20, "symbol": "star", "color": "#ffd400",
                                                             "line": {"width": 1.5, "color": "#111"}}))
    return traces


def map_figure(attribute: str | None, fragment: str | None) -> go.Figure:
    """The map: the catalogue coloured by `attribute` (None: one colour), the URL's search highlighted."""
    index = get_services().engine.index
    xy = layout_xy(index)
    version = (index.path / "map.npy").stat().st_mtime_ns
    traces = [*_base_traces(str(index.path), version, attribute),
              *_highlights(index, xy, Search.from_fragment(fragment))]
    figure = go.Figure(traces)
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, plot_bgcolor="white", dragmode="pan",
                         legend={"itemsizing": "constant", "font": {"size": 11}, "orientation": "h",
                                 "entrywidth": LEGEND_ENTRY_PX, "y": -0.02, "yanchor": "top", "x": 0},
                         uirevision=attribute or "",
                         hovermode="closest", clickmode="event", xaxis={"visible": False},
                         yaxis={"visible": False, "scaleanchor": "x"})
    return figure


def layout(**_query: str) -> html.Div:
    index = get_services().engine.index
    header = [html.H1("Map of the catalogue", className="page-title h2 my-3"),
              html.P("Similar pictures lie close together. Point at a product to see it, click or tap it for more "
                     "like it; drag to move and scroll or pinch to zoom. Opened from a search, the map shows its "
                     "product as a star and its results ringed.", className="text-muted small")]
    try:
        layout_xy(index)
    except RecommenderError as exc:
        return html.Div([*header, html.Div(public_message(exc, NO_MAP), id=ids.MAP_NOTE,
                                           className="alert alert-warning", role="status")], className="map-page")
    choices = colour_attributes(index)
    category = index.roles.category
    chosen = category if category in choices else (choices[0] if choices else None)
    notes = [] if choices else [html.Div(NO_ATTRIBUTES, id=ids.MAP_NOTE, className="small text-muted ms-sm-2",
                                         role="status")]
    control = [html.Label("Colour by", htmlFor=ids.MAP_COLOUR, className="small me-2"),
               dcc.Dropdown(id=ids.MAP_COLOUR, options=[{"label": index.roles.label(a), "value": a} for a in choices],
                            value=chosen, clearable=False, searchable=False, disabled=not choices,
                            placeholder="Nothing", className="map-colour"), *notes]
    return html.Div([
        *header,
        dcc.Location(id=ids.MAP_URL, refresh=False),
        dcc.Location(id=ids.MAP_GO, refresh=True),
        html.Div(control, className="d-flex flex-wrap align-items-center mb-2 map-controls"),  # a note wraps below
        html.Div([
            dcc.Loading(dcc.Graph(id=ids.MAP_GRAPH, className="map-graph", clear_on_unhover=True,
                                  config={"displayModeBar": False, "scrollZoom": True}), type="circle"),
            html.Div(id=ids.MAP_TOOLTIP, className="map-tip", hidden=True, **{"aria-live": "polite"}),
        ], className="map-frame"),
    ], className="map-page")


def draw(attribute: str | None, fragment: str | None) -> go.Figure:
    """The figure for the chosen colouring and the URL's search."""
    index = get_services().engine.index
    if attribute is not None and attribute not in colour_attributes(index):
        attribute = None  # a forged value: draw one colour
    try:
        return map_figure(attribute, fragment)
    except RecommenderError:
        raise PreventUpdate from None


def draw_sized(attribute: str | None, fragment: str | None) -> tuple[go.Figure, dict[str, str]]:
    """The figure, and the graph's style: the rows its legend takes on a phone, which assets/20-map.css adds to
    the square map's height there (no legend cut off, no white space below it); none for one trace, which
    Plotly draws without a legend (a catalogue with nothing to colour by)."""
    figure = draw(attribute, fragment)
    rows = -(-len(figure.data) // PHONE_LEGEND_COLUMNS) if len(figure.data) > 1 else 0
    return figure, {"--map-legend-rows": str(rows)}


def _point(data: Any) -> int | None:
    """The index row of the first point in a hover or click event (its customdata), or None."""
    try:
        row = int(data["points"][0]["customdata"])
    except (TypeError, KeyError, IndexError, ValueError, OverflowError):
        return None
    return row if 0 <= row < len(get_services().engine.index) else None


def hover(data: Any) -> tuple[bool, Any]:
    """The hovered product's thumbnail and name, in a card over the map's corner (WebGL points give no
    position for a tooltip beside them, and a fixed card never hides the point under the pointer)."""
    row = _point(data)
    if row is None:
        return True, dash.no_update
    product = get_services().engine.index.products[row]
    return False, [html.Img(src=thumbnail_url(product.id), alt="", className="map-tip-img"),
                   html.Div(product.name, className="map-tip-name small")]


def click(data: Any) -> str:
    """A click on a point: the search page with that product as the query, as "More like this" does."""
    row = _point(data)
    if row is None:
        raise PreventUpdate
    return more_like_url(get_services().engine.index.products[row].id)


def register_callbacks(app: Dash) -> None:
    """Attach this page's callbacks to `app`."""
    app.callback(Output(ids.MAP_GRAPH, "figure"), Output(ids.MAP_GRAPH, "style"), Input(ids.MAP_COLOUR, "value"),
                 Input(ids.MAP_URL, "hash"))(draw_sized)
    app.callback(Output(ids.MAP_TOOLTIP, "hidden"), Output(ids.MAP_TOOLTIP, "children"),
                 Input(ids.MAP_GRAPH, "hoverData"))(hover)
    app.callback(Output(ids.MAP_GO, "href"), Input(ids.MAP_GRAPH, "clickData"), prevent_initial_call=True)(click)
