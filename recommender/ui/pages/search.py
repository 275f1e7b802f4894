"""The shop's search page: upload a photo, filter, browse the lookalikes, vote.

Its layout and its callbacks live here; `register_callbacks(app)` attaches the callbacks to one
app (explicitly, so two apps in a process never share them). Every callback reads the shopper's
state from the browser (the trail, the filters), the session id from the signed cookie
(`ui.session`) and the shared services from `get_services()`; expected failures (a bad photo, a
product gone from the catalogue) become inline messages, never an error page.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from recommender.errors import RecommenderError
from recommender.feedback import VoteEvent
from recommender.roles import FILTER_ROLES
from recommender.ui import ids
from recommender.ui.components import (
    breadcrumb,
    filter_dropdown,
    product_card,
    random_weights_banner,
    results_grid,
    upload_preview,
    upload_prompt,
    vote_class,
)  # fmt: skip
from recommender.ui.guard import public_message
from recommender.ui.services import get_services
from recommender.ui.session import current_session_id
from recommender.ui.state import (
    MAX_TRAIL,
    RESULTS,
    Entry,
    browse,
    decode_upload,
    item_entry,
    run_query,
    selected_filters,
    too_large,
    upload_entry,
)  # fmt: skip

dash.register_page(__name__, path="/", name="Search", title="Lookalike · Shop by photo", order=0)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- layout


def layout(**_query: str) -> html.Div:
    """Built per page load, from the loaded index: its filters and whether its weights are real."""
    services = get_services()
    index = services.engine.index
    sidebar = html.Aside(
        [
            html.Section(
                [
                    html.H2("Your photo", className="panel-title"),
                    dcc.Loading(
                        dcc.Upload(id=ids.UPLOAD, children=html.Div(upload_prompt(), id=ids.UPLOAD_INNER),
                                   className="upload-area", multiple=False),
                        custom_spinner=html.Div([dbc.Spinner(size="sm"), html.Span("Looking at your photo…")],
                                                className="busy"),
                        overlay_style={"visibility": "visible", "opacity": 0.45},
                        target_components={ids.UPLOAD_INNER: "children"},  # the slow part: reading the photo
                    ),
                    html.Div(id=ids.UPLOAD_ALERT, role="alert"),
                ],
                className="panel",
            ),
            html.Section(
                [html.H2("Filters", className="panel-title")]
                + [filter_dropdown(role, attribute, index) for role, attribute in index.roles.filters()],
                className="panel",
            ),
            html.P(f"{len(index):,} products in this catalogue", className="catalogue-size"),
        ],
        className="sidebar",
    )
    main = html.Main(
        [
            html.Div(id=ids.CRUMBS_AREA),
            dcc.Loading(
                html.Div(id=ids.RESULTS_AREA),
                delay_show=300,
                overlay_style={"visibility": "visible", "opacity": 0.5},
                target_components={ids.RESULTS_AREA: "children"},  # not for a vote on a card
                custom_spinner=html.Div([dbc.Spinner(size="sm"), html.Span("Finding lookalikes…")],
                                        className="busy"),
            ),
        ],
        className="results",
    )
    return html.Div(
        [
            dcc.Store(id=ids.TRAIL, data=[]),
            dcc.Store(id=ids.UPLOAD_PAYLOAD),
            dcc.Store(id=ids.SCROLL_ANCHOR),
            dcc.Store(id=ids.UPLOAD_LIMIT, data=services.settings.max_upload_bytes),
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


# ---------------------------------------------------------------- callbacks

# Runs in the browser: a file over the limit is refused before its bytes cross the network, and
# the upload is cleared so that choosing the same file again triggers a new upload: both the
# component's contents and the file input's own value (the browser fires no change event when the
# file picked is the one the input already holds, so a retry would otherwise do nothing at all).
FORWARD_UPLOAD_JS = """
function(contents, filename, maxBytes) {
    if (!contents) { return [window.dash_clientside.no_update, window.dash_clientside.no_update]; }
    const input = document.querySelector("#%(upload)s input[type=file]");
    if (input) { input.value = ""; }
    const size = Math.floor((contents.length - contents.indexOf(",") - 1) * 3 / 4);
    const payload = size > maxBytes ? {filename: filename, size: size} : {filename: filename, contents: contents};
    return [payload, null];
}
""" % {"upload": ids.UPLOAD}

# Runs in the browser: a new query scrolls its results into view when they are out of sight
# (on a phone they sit below the upload and the filters; on a desktop a click may come from below).
SCROLL_TO_RESULTS_JS = """
function(trail) {
    const anchor = document.getElementById("%(anchor)s");
    if (anchor && trail && trail.length) {
        const top = anchor.getBoundingClientRect().top;
        if (top < 0 || top > window.innerHeight * 0.6) { anchor.scrollIntoView({behavior: "smooth"}); }
    }
    return window.dash_clientside.no_update;
}
""" % {"anchor": ids.CRUMBS_AREA}

FILTER_INPUTS = {role: Input(ids.filter_id(role), "value") for role in FILTER_ROLES}
FILTER_STATES = {role: State(ids.filter_id(role), "value") for role in FILTER_ROLES}


def _describe(filters: dict[str, list[str]]) -> str:
    """"Colour: Black or Navy Blue · Category: Tshirts", in the page's words, not the catalogue's."""
    roles = get_services().engine.index.roles
    return " · ".join(f"{roles.label(name)}: {' or '.join(values)}" for name, values in filters.items())


def on_upload(payload: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """A new photo starts a new trail; a bad one gets an alert and changes nothing else."""
    if not payload:
        raise PreventUpdate
    services = get_services()
    filename = payload.get("filename") or "This file"
    try:
        if payload.get("contents") is None:  # the browser found it too large and did not send it
            raise too_large(payload.get("size"), services.settings.max_upload_bytes)
        entry = upload_entry(services, decode_upload(payload["contents"]))
    except RecommenderError as exc:
        alert = dbc.Alert([html.Strong(f"{filename} could not be used. "), str(exc)], color="danger",
                          dismissable=True, className="upload-error")
        return no_update, alert, no_update
    return [entry], None, upload_preview(entry)


def on_navigate(_more: list[int], _images: list[int], _crumbs: list[int], trail: list[Entry]) -> list[Entry]:
    """"More like this" appends a product to the trail; a breadcrumb step truncates it."""
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        raise PreventUpdate  # components (re)created by a render, not a click
    target = ctx.triggered_id
    trail = trail or []
    if target["type"] == ids.CRUMB:
        index = int(target["index"])
        if index >= len(trail) - 1:
            raise PreventUpdate
        return trail[: index + 1]
    if trail and trail[-1]["kind"] == "item" and trail[-1]["ref"] == target["id"]:
        raise PreventUpdate
    try:
        product = get_services().engine.index.product(target["id"])
    except KeyError:
        raise PreventUpdate from None
    return (trail + [item_entry(product)])[-MAX_TRAIL:]


def render_results(trail: list[Entry] | None, filters: dict[str, list[str] | None]) -> list[Any]:
    """The current query's results under the filters, or a place to start without one."""
    services = get_services()
    index = services.engine.index
    chosen = selected_filters(index.roles, filters)
    if not trail:
        products = browse(index, chosen)
        heading = [html.H2("Or start from a product", className="results-title"),
                   html.P("Click any product to see what looks like it.", className="results-sub")]
        if not products:
            return heading + [_no_match(chosen)]
        return heading + [results_grid([product_card(p, index.roles) for p in products])]

    entry = trail[-1]
    try:
        hits = run_query(services, entry, chosen)
    except RecommenderError as exc:
        return [dbc.Alert(public_message(exc, "These results cannot be shown right now; please try again."),
                          color="danger")]
    subject = "your photo" if entry["kind"] == "upload" else f"“{entry['label']}”"
    heading = html.H2(f"Looks like {subject}", className="results-title", id=ids.RESULTS_TITLE)
    if not hits:
        return [heading, _no_match(chosen)]
    catalog, session_id = index.manifest.catalog.identity, current_session_id()
    try:  # votes count only on results the server showed to this session (see FeedbackStore.record)
        services.feedback.record_shown(session_id, catalog, entry["ref"],
                                       [(hit.id, hit.rank, hit.distance) for hit in hits])
        votes = services.feedback.current_votes(catalog, session_id, entry["ref"])
    except RecommenderError as exc:  # the results matter more than voting on them
        log.warning("votes not shown: %s", exc)
        votes = {}
    cards = [product_card(hit.product, index.roles, hit, services.similarity(hit.distance), votes.get(hit.id, 0))
             for hit in hits]
    notes = []
    if len(hits) < RESULTS:
        products = f"{len(hits)} product{'s' if len(hits) != 1 else ''}"
        why = (f"match{'es' if len(hits) == 1 else ''} these filters ({_describe(chosen)})" if chosen
               else "can be shown from this catalogue")
        notes.append(dbc.Alert(f"Only {products} {why}, so fewer than {RESULTS} are shown.", color="info",
                               className="few-results"))
    count = html.P(f"Top {len(hits)} of {len(index):,} products" + (f" · {_describe(chosen)}" if chosen else ""),
                   className="results-sub")
    return [heading, count, *notes, results_grid(cards)]


def _no_match(filters: dict[str, list[str]]) -> dbc.Alert:
    return dbc.Alert(
        [html.Strong("No product matches these filters. "),
         f"Try widening them ({_describe(filters)}): set one back to any, or pick more values."],
        color="warning",
        className="no-results",
    )


def on_vote(_up: int, _down: int, state: dict[str, Any] | None, trail: list[Entry] | None,
            filters: dict[str, list[str] | None]) -> tuple[Any, str, str, str | None]:
    """Thumbs up or down; clicking the active thumb again withdraws the vote."""
    if not ctx.triggered or not ctx.triggered[0]["value"] or not trail or not state:
        raise PreventUpdate
    clicked = 1 if ctx.triggered_id["type"] == ids.VOTE_UP else -1
    vote = 0 if state.get("vote") == clicked else clicked
    entry = trail[-1]
    services = get_services()
    index = services.engine.index
    try:
        try:  # the card's state and the trail come back from the browser, which may have altered them
            event = VoteEvent(
                catalog=index.manifest.catalog.identity,
                session_id=current_session_id(),
                query_kind=entry["kind"],
                query_ref=entry["ref"],
                filters=selected_filters(index.roles, filters),
                item_id=ctx.triggered_id["id"],
                rank=state["rank"],
                distance=state["distance"],
                backbone=index.model.label,
                vote=vote,
            )
        except (KeyError, TypeError):
            raise RecommenderError("this result's data is damaged; search again and vote then") from None
        services.feedback.record(event)
    except RecommenderError as exc:
        log.warning("vote not recorded: %s", exc)
        reason = public_message(exc, "votes cannot be saved right now; please try again in a moment")
        return no_update, no_update, no_update, f"Your vote was not saved: {reason}"
    return {**state, "vote": vote}, vote_class("up", vote == 1), vote_class("down", vote == -1), None


def register_callbacks(app: Dash) -> None:
    """Attach this page's callbacks to `app`."""
    app.clientside_callback(
        FORWARD_UPLOAD_JS,
        Output(ids.UPLOAD_PAYLOAD, "data"),
        Output(ids.UPLOAD, "contents"),
        Input(ids.UPLOAD, "contents"),
        State(ids.UPLOAD, "filename"),
        State(ids.UPLOAD_LIMIT, "data"),
        prevent_initial_call=True,
    )
    app.callback(
        Output(ids.TRAIL, "data", allow_duplicate=True),
        Output(ids.UPLOAD_ALERT, "children"),
        Output(ids.UPLOAD_INNER, "children"),
        Input(ids.UPLOAD_PAYLOAD, "data"),
        prevent_initial_call=True,
    )(on_upload)
    app.callback(
        Output(ids.TRAIL, "data", allow_duplicate=True),
        Input(ids.product(ids.MORE, ALL), "n_clicks"),
        Input(ids.product(ids.MORE_IMAGE, ALL), "n_clicks"),
        Input(ids.crumb(ALL), "n_clicks"),
        State(ids.TRAIL, "data"),
        prevent_initial_call=True,
    )(on_navigate)
    app.callback(Output(ids.CRUMBS_AREA, "children"), Input(ids.TRAIL, "data"))(breadcrumb)
    app.clientside_callback(SCROLL_TO_RESULTS_JS, Output(ids.SCROLL_ANCHOR, "data"), Input(ids.TRAIL, "data"),
                            prevent_initial_call=True)
    app.callback(
        output=Output(ids.RESULTS_AREA, "children"),
        inputs=dict(trail=Input(ids.TRAIL, "data"), filters=FILTER_INPUTS),
    )(render_results)
    app.callback(
        output=[
            Output(ids.product(ids.VOTE_STATE, MATCH), "data"),
            Output(ids.product(ids.VOTE_UP, MATCH), "className"),
            Output(ids.product(ids.VOTE_DOWN, MATCH), "className"),
            Output(ids.product(ids.VOTE_MSG, MATCH), "children"),
        ],
        inputs=dict(_up=Input(ids.product(ids.VOTE_UP, MATCH), "n_clicks"),
                    _down=Input(ids.product(ids.VOTE_DOWN, MATCH), "n_clicks")),
        state=dict(state=State(ids.product(ids.VOTE_STATE, MATCH), "data"), trail=State(ids.TRAIL, "data"),
                   filters=FILTER_STATES),
        prevent_initial_call=True,
    )(on_vote)
