"""The search page's behaviour: upload -> trail -> results, navigation, votes.

Every callback reads the shopper's state from the browser (the trail, the filters, the session
id) and the shared services from `get_services()`; none keeps anything between requests.
Expected failures (a bad photo, a product gone from the catalogue) become inline messages.
"""

from __future__ import annotations

import logging
from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from recommender.errors import RecommenderError
from recommender.feedback import VoteEvent
from recommender.ui.components import (
    ROLE_LABELS,
    breadcrumb,
    product_card,
    results_grid,
    upload_preview,
    vote_class,
)
from recommender.ui.services import get_services
from recommender.ui.state import (
    FILTER_ROLES,
    MAX_TRAIL,
    RESULTS,
    Entry,
    browse,
    decode_upload,
    filter_attributes,
    item_entry,
    run_query,
    selected_filters,
    too_large,
    upload_entry,
)

__all__ = ["register_callbacks"]

log = logging.getLogger(__name__)

# In the order of the callbacks' gender, colour, category arguments.
FILTER_INPUTS = [Input(f"filter-{role}", "value") for role in FILTER_ROLES]
FILTER_STATES = [State(f"filter-{role}", "value") for role in FILTER_ROLES]


def _filters(gender: list[str] | None, colour: list[str] | None, category: list[str] | None) -> dict[str, list[str]]:
    attributes = filter_attributes(get_services().engine.index)
    return selected_filters(attributes, {"gender": gender, "colour": colour, "category": category})


def _describe(filters: dict[str, list[str]]) -> str:
    """"Colour: Black or Navy Blue · Category: Tshirts", in the page's words, not the catalogue's."""
    labels = {attribute: ROLE_LABELS[role]
              for role, attribute in filter_attributes(get_services().engine.index).items() if attribute}
    return " · ".join(f"{labels.get(name, name)}: {' or '.join(values)}" for name, values in filters.items())


def on_upload(payload: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """A new photo starts a new trail; a bad one gets an alert and changes nothing else."""
    if not payload:
        raise PreventUpdate
    services = get_services()
    filename = payload.get("filename") or "This file"
    try:
        if payload.get("contents") is None:  # the browser found it too large and did not send it
            raise too_large(int(payload.get("size") or 0), services.settings.max_upload_bytes)
        entry = upload_entry(services, decode_upload(payload["contents"]))
    except RecommenderError as exc:
        alert = dbc.Alert(
            [html.Strong(f"{filename} could not be used. "), str(exc)],
            color="danger",
            dismissable=True,
            className="upload-error",
        )
        return no_update, alert, no_update
    return [entry], None, upload_preview(entry)


# Runs in the browser: a file over the limit is refused before its bytes cross the network, and
# the upload is cleared so that choosing the same file again triggers a new upload: both the
# component's contents and the file input's own value (the browser fires no change event when the
# file picked is the one the input already holds, so a retry would otherwise do nothing at all).
FORWARD_UPLOAD_JS = """
function(contents, filename, maxBytes) {
    if (!contents) { return [window.dash_clientside.no_update, window.dash_clientside.no_update]; }
    const input = document.querySelector("#upload input[type=file]");
    if (input) { input.value = ""; }
    const size = Math.floor((contents.length - contents.indexOf(",") - 1) * 3 / 4);
    const payload = size > maxBytes ? {filename: filename, size: size} : {filename: filename, contents: contents};
    return [payload, null];
}
"""


# Runs in the browser: a new query scrolls its results into view when they are out of sight
# (on a phone they sit below the upload and the filters; on a desktop a click may come from below).
SCROLL_TO_RESULTS_JS = """
function(trail) {
    const anchor = document.getElementById("crumbs-area");
    if (anchor && trail && trail.length) {
        const top = anchor.getBoundingClientRect().top;
        if (top < 0 || top > window.innerHeight * 0.6) { anchor.scrollIntoView({behavior: "smooth"}); }
    }
    return window.dash_clientside.no_update;
}
"""


def on_navigate(_more: list[int], _images: list[int], _crumbs: list[int], trail: list[Entry]) -> list[Entry]:
    """"More like this" appends a product to the trail; a breadcrumb step truncates it."""
    if not ctx.triggered or not ctx.triggered[0]["value"]:
        raise PreventUpdate  # components (re)created by a render, not a click
    target = ctx.triggered_id
    trail = trail or []
    if target["type"] == "crumb":
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


def render_results(
    trail: list[Entry] | None,
    gender: list[str] | None,
    colour: list[str] | None,
    category: list[str] | None,
    session_id: str | None,
) -> list[Any]:
    """The current query's results under the filters, or a place to start without one."""
    services = get_services()
    index = services.engine.index
    attributes = filter_attributes(index)
    filters = _filters(gender, colour, category)
    if not trail:
        products = browse(index, filters)
        heading = [html.H2("Or start from a product", className="results-title"),
                   html.P("Click any product to see what looks like it.", className="results-sub")]
        if not products:
            return heading + [_no_match(filters)]
        return heading + [results_grid([product_card(p, attributes) for p in products])]

    entry = trail[-1]
    try:
        hits = run_query(services, entry, filters)
    except RecommenderError as exc:
        return [dbc.Alert(str(exc), color="danger")]
    subject = "your photo" if entry["kind"] == "upload" else f"“{entry['label']}”"
    heading = html.H2(f"Looks like {subject}", className="results-title", id="results-title")
    try:
        votes = services.feedback.current_votes(session_id, entry["ref"]) if session_id else {}
    except RecommenderError as exc:  # the results matter more than showing past votes
        log.warning("votes not shown: %s", exc)
        votes = {}
    cards = [
        product_card(hit.product, attributes, hit, services.similarity(hit.distance), votes.get(hit.id, 0))
        for hit in hits
    ]
    if not hits:
        return [heading, _no_match(filters)]
    notes = []
    if len(hits) < RESULTS:
        products = f"{len(hits)} product{'s' if len(hits) != 1 else ''}"
        why = (
            f"match{'es' if len(hits) == 1 else ''} these filters ({_describe(filters)})"
            if filters
            else "can be shown from this catalogue"
        )
        notes.append(
            dbc.Alert(f"Only {products} {why}, so fewer than {RESULTS} are shown.", color="info",
                      className="few-results")
        )
    count = html.P(
        f"Top {len(hits)} of {len(index):,} products" + (f" · {_describe(filters)}" if filters else ""),
        className="results-sub",
    )
    return [heading, count, *notes, results_grid(cards)]


def _no_match(filters: dict[str, list[str]]) -> dbc.Alert:
    return dbc.Alert(
        [
            html.Strong("No product matches these filters. "),
            f"Try widening them ({_describe(filters)}): set one back to any, or pick more values.",
        ],
        color="warning",
        className="no-results",
    )


def on_vote(
    _up: int,
    _down: int,
    state: dict[str, Any] | None,
    trail: list[Entry] | None,
    gender: list[str] | None,
    colour: list[str] | None,
    category: list[str] | None,
    session_id: str | None,
) -> tuple[Any, str, str, str | None]:
    """Thumbs up or down; clicking the active thumb again withdraws the vote."""
    if not ctx.triggered or not ctx.triggered[0]["value"] or not trail or not state:
        raise PreventUpdate
    clicked = 1 if ctx.triggered_id["type"] == "vote-up" else -1
    vote = 0 if state.get("vote") == clicked else clicked
    entry = trail[-1]
    services = get_services()
    try:
        try:  # the card's state and the trail come back from the browser, which may have altered them
            event = VoteEvent(
                session_id=session_id,
                query_kind=entry["kind"],
                query_ref=entry["ref"],
                filters=_filters(gender, colour, category),
                item_id=ctx.triggered_id["id"],
                rank=state["rank"],
                distance=state["distance"],
                backbone=services.engine.index.manifest["backbone"],
                vote=vote,
            )
        except (KeyError, TypeError):
            raise RecommenderError("this result's data is damaged; search again and vote then") from None
        services.feedback.record(event)
    except RecommenderError as exc:
        log.warning("vote not recorded: %s", exc)
        return no_update, no_update, no_update, f"Your vote was not saved: {exc}"
    return {**state, "vote": vote}, vote_class("up", vote == 1), vote_class("down", vote == -1), None


def register_callbacks(app: Dash) -> None:
    """Attach the search page's callbacks to `app` (explicitly, so each app gets its own)."""
    app.clientside_callback(
        FORWARD_UPLOAD_JS,
        Output("upload-payload", "data"),
        Output("upload", "contents"),
        Input("upload", "contents"),
        State("upload", "filename"),
        State("upload-limit", "data"),
        prevent_initial_call=True,
    )
    app.callback(
        Output("trail", "data", allow_duplicate=True),
        Output("upload-alert", "children"),
        Output("upload-inner", "children"),
        Input("upload-payload", "data"),
        prevent_initial_call=True,
    )(on_upload)
    app.callback(
        Output("trail", "data", allow_duplicate=True),
        Input({"type": "more", "id": ALL}, "n_clicks"),
        Input({"type": "more-image", "id": ALL}, "n_clicks"),
        Input({"type": "crumb", "index": ALL}, "n_clicks"),
        State("trail", "data"),
        prevent_initial_call=True,
    )(on_navigate)
    app.callback(Output("crumbs-area", "children"), Input("trail", "data"))(breadcrumb)
    app.clientside_callback(SCROLL_TO_RESULTS_JS, Output("scroll-anchor", "data"), Input("trail", "data"),
                            prevent_initial_call=True)
    app.callback(
        Output("results-area", "children"),
        Input("trail", "data"),
        *FILTER_INPUTS,
        State("session-id", "data"),
    )(render_results)
    app.callback(
        Output({"type": "vote-state", "id": MATCH}, "data"),
        Output({"type": "vote-up", "id": MATCH}, "className"),
        Output({"type": "vote-down", "id": MATCH}, "className"),
        Output({"type": "vote-msg", "id": MATCH}, "children"),
        Input({"type": "vote-up", "id": MATCH}, "n_clicks"),
        Input({"type": "vote-down", "id": MATCH}, "n_clicks"),
        State({"type": "vote-state", "id": MATCH}, "data"),
        State("trail", "data"),
        *FILTER_STATES,
        State("session-id", "data"),
        prevent_initial_call=True,
    )(on_vote)
