"""The Dash app factory: one call turns settings into a ready-to-serve shop.

`create_app` opens the index (memory-mapped, so it is fast even for 44k products) and returns
the app at once; the model loads in a background thread once the first request is answered, so
the first page is served before TensorFlow is ready, and an early photo query waits for it.
The app's boundary is set up here too: signed sessions (`ui.session`), body limits per route and
a minimum pace for bodies (`ui.limits`), and the guard of every callback (`ui.guard`).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Dash, html

from recommender.engine import Recommender
from recommender.settings import PROJECT_ROOT, Settings
from recommender.ui import ids
from recommender.ui.api import register_api
from recommender.ui.components import icon
from recommender.ui.guard import install_callback_guard, on_callback_error, upload_outputs
from recommender.ui.limits import BodyLimits, upload_body_bytes
from recommender.ui.routes import register_routes
from recommender.ui.services import create_services, get_services, install_services, start_warm_up
from recommender.ui.session import install_sessions, load_secret_key

__all__ = ["create_app", "BRAND"]

BRAND = "Lookalike"
PAGES_FOLDER = Path(__file__).resolve().parent / "pages"
ASSETS_FOLDER = PROJECT_ROOT / "assets"
# The component properties that carry a shopper's photo to the server (as a base64 data URL): the
# callbacks taking one of them may receive a body as large as a photo; every other one is small.
UPLOAD_PROPS = ((ids.UPLOAD, "contents"), (ids.UPLOAD_CAMERA, "contents"), (ids.UPLOAD_PAYLOAD, "data"))
# Dash's page template with the document's language, which screen readers need to pronounce it.
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <div>
            {%config%}
            {%scripts%}
            {%renderer%}
        </div>
    </body>
</html>"""


def _navbar(merchant: bool) -> dbc.Navbar:
    """The pages' links; the merchant's pages (registered with merchant=True) only with their setting on."""
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([icon("bag", "brand-icon"), BRAND], href=dash.get_relative_path("/"),
                                className="brand"),
                dbc.Nav(
                    [
                        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
                        for page in dash.page_registry.values() if merchant or not page.get("merchant")
                    ],
                    className="ms-auto nav-main",
                    navbar=True,
                ),
            ],
            fluid=True,
            className="shop-container",
        ),
        color="white",
        expand=True,  # a few links: they fit on a phone, no need for a collapsed menu
        className="shop-navbar",
        sticky="top",
    )


def _shell() -> html.Div:
    return html.Div(
        [
            html.A("Skip to content", href=f"#{ids.MAIN}", className="skip-link"),  # see assets/skip-link.js
            _navbar(get_services().settings.merchant_tools),
            html.Main(dbc.Container(dash.page_container, fluid=True, className="page shop-container"), id=ids.MAIN,
                      tabIndex=-1),
            html.Footer(
                f"{BRAND} · visual search over product photos · results ranked by image similarity",
                className="footer",
            ),
        ]
    )


def create_app(settings: Settings, engine: Recommender | None = None) -> Dash:
    """A Dash app serving the index in `settings` (the demo index, built once, when none is set).

    `engine` replaces the one the settings describe (tests use one with a tiny fake model).
    """
    services = create_services(settings, engine)
    app = Dash(
        "recommender.ui",
        use_pages=True,
        pages_folder=str(PAGES_FOLDER),
        assets_folder=str(ASSETS_FOLDER),
        title=BRAND,
        index_string=INDEX_STRING,
        suppress_callback_exceptions=True,  # page components appear only once their page is shown
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        on_error=on_callback_error,  # a callback that fails on what a client sent: no update, one log line
    )
    app.layout = _shell
    install_services(app.server, services)
    first_request = threading.Event()

    @app.server.after_request
    def _note_first_request(response: flask.Response) -> flask.Response:
        first_request.set()
        return response

    start_warm_up(services, first_request)
    install_sessions(app.server, settings.secret_key or load_secret_key(settings.feedback_db.parent),
                     secure_cookie=settings.secure_cookies)
    prefix = app.config.routes_pathname_prefix
    register_routes(app.server, prefix)
    register_api(app.server, prefix)
    for page in dash.page_registry.values():  # each page file holds its layout and its callbacks
        sys.modules[page["module"]].register_callbacks(app)
    install_callback_guard(app)
    app.server.config["MAX_CONTENT_LENGTH"] = upload_body_bytes(settings.max_upload_bytes, base64=True)
    app.server.wsgi_app = BodyLimits(  # type: ignore[method-assign]
        app.server.wsgi_app,
        callback_path=f"{prefix}_dash-update-component",
        api_upload_path=f"{prefix}api/search",
        upload_outputs=lambda: upload_outputs(app, UPLOAD_PROPS),
        max_upload_bytes=settings.max_upload_bytes,
    )
    return app
