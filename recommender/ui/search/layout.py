"""The search page's static frame: every region the callbacks fill, in reading order.

On a desktop the photo and the refinements sit in a sticky column beside the results; on a phone
they stack above them (CSS). The URL fragment, read on load, fills everything else.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from recommender.ui import ids
from recommender.ui.components import filter_dropdown, random_weights_banner, upload_prompt
from recommender.ui.search.popular import popular_area
from recommender.ui.services import Services

__all__ = ["search_layout", "filters_label", "UPLOAD_ACCEPT"]

UPLOAD_ACCEPT = "image/*,.heic,.heif"  # image/* lets a phone offer its camera; iPhones send HEIC


def _busy(text: str) -> html.Div:
    return html.Div([dbc.Spinner(size="sm"), html.Span(text)], className="busy")


def _photo_panel() -> html.Section:
    return html.Section(
        [
            html.H2("Your search", className="panel-title"),
            html.Div(id=ids.QUERY_PANEL),
            html.Div(id=ids.LOOK_CHIPS),  # the garments of a photo of a person (ui.search.look)
            dcc.Loading(
                dcc.Upload(
                    id=ids.UPLOAD,
                    children=html.Div(upload_prompt(), id=ids.UPLOAD_INNER),
                    className="upload-area",
                    multiple=False,
                    accept=UPLOAD_ACCEPT,
                ),
                custom_spinner=_busy("Looking at your photo…"),
                overlay_style={"visibility": "visible", "opacity": 0.45},
                target_components={ids.UPLOAD_INNER: "children"},
            ),
            dcc.Upload(  # shown on touch screens only (CSS): its input asks for the camera (assets/camera.js)
                id=ids.UPLOAD_CAMERA,
                children=html.Span("Take a photo", className="camera-label"),
                className="camera-btn",
                multiple=False,
                accept="image/*",
            ),
            html.Div(id=ids.UPLOAD_ALERT, role="alert"),
        ],
        className="panel",
        **{"aria-label": "Your photo"},
    )


def _suggestion(words: list[str]) -> str:
    """The word box's placeholder, from the catalogue's own names: "e.g. black or dress"."""
    return f"e.g. {' or '.join(words[:2])}" if words else ""


def _refine_panel(services: Services) -> html.Section:
    """Words and filters; on a phone folded behind a button that counts what is active (`filters_label`),
    so that the photo and the first results fit on the screen."""
    index = services.engine.index
    return html.Section(
        [
            html.H2("Narrow it down", className="panel-title"),
            html.Button(filters_label(0), id=ids.FILTERS_TOGGLE, n_clicks=0, className="filters-toggle",
                        **{"aria-expanded": "false", "aria-controls": ids.FILTERS_BODY}),
            html.Div(
                [
                    html.Div(
                        [
                            html.Label("Words in the product name", htmlFor=ids.TEXT, className="filter-label"),
                            dcc.Input(id=ids.TEXT, type="text", debounce=True,
                                      placeholder=_suggestion(services.common_words), className="text-search",
                                      autoComplete="off", maxLength=100),
                        ],
                        className="filter-field",
                    ),
                    *[filter_dropdown(role, attribute) for role, attribute in index.roles.filters()],
                    html.Button("Clear all", id=ids.CLEAR_ALL, n_clicks=0, className="link-btn clear-all"),
                ],
                id=ids.FILTERS_BODY,
                className="filters-body",
            ),
        ],
        className="panel",
        role="search",
        **{"aria-label": "Narrow the results"},
    )


def filters_label(active: int) -> str:
    """The phone's button that unfolds the filters: "Filters and words · 2 active"."""
    return "Filters and words" + (f" · {active} active" if active else "")


def search_layout(services: Services) -> html.Div:
    """Built per page load, from the loaded index: its filters and whether its weights are real."""
    index = services.engine.index
    sidebar = html.Aside(
        [_photo_panel(), _refine_panel(services),
         html.P(f"{len(index):,} products in this catalogue", className="catalogue-size")],
        className="sidebar",
    )
    results = html.Div(
        [
            popular_area(),  # before any search: products to start from
            html.Div(id=ids.CRUMBS_AREA),
            html.Div(id=ids.CHIPS_AREA),
            html.Div(id=ids.LOOK_STRIP),
            dcc.Loading(
                html.Div(id=ids.RESULTS_AREA),
                delay_show=300,
                overlay_style={"visibility": "visible", "opacity": 0.5},
                target_components={ids.RESULTS_AREA: "children"},  # not for a vote on a card
                custom_spinner=_busy("Finding lookalikes…"),
            ),
            html.Div(id=ids.STATUS, role="status", className="visually-hidden", **{"aria-live": "polite"}),
        ],
        className="results",
        id="results",
    )
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh=False),
            dcc.Store(id=ids.UPLOAD_PAYLOAD),
            dcc.Store(id=ids.UPLOAD_LIMIT, data=services.settings.max_upload_bytes),
            dcc.Store(id=ids.FOCUS),
            dcc.Store(id=ids.RESULTS_DRAWN),
            dcc.Store(id=ids.QUERY_SHOWN),
            dcc.Store(id=ids.RESULTS_KEY),
            dcc.Store(id=ids.CONTROLS_KEY),
            dcc.Store(id=ids.REGION_SHOWN),
            dcc.Store(id=ids.REPLACE_URL),
            random_weights_banner(index) if services.engine.random_weights else None,
            html.Header(
                [
                    html.H1("Find it by photo", className="hero-title"),
                    html.P("Upload a photo of something you like: we show the products in our catalogue "
                           "that look most like it.", className="hero-sub"),
                ],
                className="hero",
            ),
            html.Div([sidebar, results], className="search-layout"),
        ],
        className="search-page",
    )
