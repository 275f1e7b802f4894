"""The shop's search page: upload a photo, filter, browse the lookalikes (callbacks: ui/callbacks.py)."""

from __future__ import annotations

import uuid

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from recommender.ui.components import filter_dropdown, random_weights_banner, upload_prompt
from recommender.ui.services import get_services
from recommender.ui.state import filter_attributes

dash.register_page(__name__, path="/", name="Search", title="Lookalike · Shop by photo", order=0)


def layout(**_query: str) -> html.Div:
    """Built per page load, from the loaded index: its filters and whether its weights are real."""
    services = get_services()
    index = services.engine.index
    attributes = filter_attributes(index)
    sidebar = html.Aside(
        [
            html.Section(
                [
                    html.H2("Your photo", className="panel-title"),
                    dcc.Loading(
                        dcc.Upload(id="upload", children=html.Div(upload_prompt(), id="upload-inner"),
                                   className="upload-area", multiple=False),
                        custom_spinner=html.Div([dbc.Spinner(size="sm"), html.Span("Looking at your photo…")],
                                                className="busy"),
                        overlay_style={"visibility": "visible", "opacity": 0.45},
                        target_components={"upload-inner": "children"},  # the slow part: reading the photo
                    ),
                    html.Div(id="upload-alert", role="alert"),
                ],
                className="panel",
            ),
            html.Section(
                [html.H2("Filters", className="panel-title")]
                + [filter_dropdown(role, attribute, index) for role, attribute in attributes.items()],
                className="panel",
            ),
            html.P(f"{len(index):,} products in this catalogue", className="catalogue-size"),
        ],
        className="sidebar",
    )
    main = html.Main(
        [
            html.Div(id="crumbs-area"),
            dcc.Loading(
                html.Div(id="results-area"),
                delay_show=300,
                overlay_style={"visibility": "visible", "opacity": 0.5},
                target_components={"results-area": "children"},  # not for a vote on a card
                custom_spinner=html.Div([dbc.Spinner(size="sm"), html.Span("Finding lookalikes…")],
                                        className="busy"),
            ),
        ],
        className="results",
    )
    return html.Div(
        [
            dcc.Store(id="session-id", storage_type="session", data=str(uuid.uuid4())),
            dcc.Store(id="trail", data=[]),
            dcc.Store(id="upload-payload"),
            dcc.Store(id="scroll-anchor"),
            dcc.Store(id="upload-limit", data=services.settings.max_upload_bytes),
            random_weights_banner(index) if services.engine.random_weights else None,
            html.Header(
                [
                    html.H1("Find it by photo", className="hero-title"),
                    html.P("Upload a photo of something you like: we show the products in our catalogue "
                           "that look most like it.", className="hero-sub"),
                ],
                className="hero",
            ),
            html.Div([sidebar, main], className="search-layout"),
        ],
        className="search-page",
    )
