"""The shop's search page: a photo or a product, narrowed by filters, words and a region; results to
vote on and follow. The search lives in the URL (see `ui.state`); `ui.search` holds the layout and
the callbacks, which `register_callbacks(app)` attaches to one app (explicitly, so two apps in a
process never share them).
"""

from __future__ import annotations

import dash
from dash import ALL, MATCH, Dash, Input, Output, State, html

from recommender.roles import FILTER_ROLES
from recommender.ui import ids
from recommender.ui.search import actions, popular, render, votes
from recommender.ui.search.browser import AFTER_RENDER_JS, FORWARD_UPLOAD_JS, REPLACE_URL_JS, TOGGLE_FILTERS_JS
from recommender.ui.search.layout import search_layout
from recommender.ui.search.look import register_look_callbacks
from recommender.ui.services import get_services

dash.register_page(__name__, path="/", name="Search", title="Lookalike · Shop by photo", order=0)


def layout(**_query: str) -> html.Div:
    return search_layout(get_services())


def _url(*, duplicate: bool = True) -> Output:
    return Output(ids.URL, "hash", allow_duplicate=duplicate)


FRAGMENT = State(ids.URL, "hash")
FOCUS = Output(ids.FOCUS, "data", allow_duplicate=True)


def register_callbacks(app: Dash) -> None:
    """Attach this page's callbacks to `app`."""
    app.clientside_callback(
        FORWARD_UPLOAD_JS,
        Output(ids.UPLOAD_PAYLOAD, "data"), Output(ids.UPLOAD, "contents"), Output(ids.UPLOAD_CAMERA, "contents"),
        Input(ids.UPLOAD, "contents"), Input(ids.UPLOAD_CAMERA, "contents"),
        State(ids.UPLOAD, "filename"), State(ids.UPLOAD_CAMERA, "filename"), State(ids.UPLOAD_LIMIT, "data"),
        prevent_initial_call=True,
    )
    app.callback(_url(), Output(ids.UPLOAD_ALERT, "children"), Output(ids.UPLOAD_INNER, "children"),
                 Input(ids.UPLOAD_PAYLOAD, "data"), FRAGMENT, prevent_initial_call=True)(actions.on_upload)
    app.callback(
        output={"hash": _url(), "values": {r: Output(ids.filter_id(r), "value") for r in FILTER_ROLES},
                "options": {r: Output(ids.filter_id(r), "options") for r in FILTER_ROLES},
                "text": Output(ids.TEXT, "value"), "drawn": Output(ids.CONTROLS_KEY, "data"),
                "toggle": Output(ids.FILTERS_TOGGLE, "children")},
        inputs={"fragment": Input(ids.URL, "hash"),
                "values": {r: Input(ids.filter_id(r), "value") for r in FILTER_ROLES},
                "text": Input(ids.TEXT, "value"), "drawn": State(ids.CONTROLS_KEY, "data")},
        prevent_initial_call=True,
    )(actions.sync_controls)
    app.clientside_callback(TOGGLE_FILTERS_JS, Output(ids.FILTERS_BODY, "className"),
                            Output(ids.FILTERS_TOGGLE, "aria-expanded"), Input(ids.FILTERS_TOGGLE, "n_clicks"),
                            State(ids.FILTERS_BODY, "className"), prevent_initial_call=True)
    app.callback(_url(), FOCUS, Input(ids.product(ids.MORE, ALL), "n_clicks"),
                 Input(ids.product(ids.MORE_IMAGE, ALL), "n_clicks"), Input(ids.crumb(ALL), "n_clicks"), FRAGMENT,
                 prevent_initial_call=True)(actions.on_navigate)
    app.callback(_url(), Input(ids.chip(ids.TAG_CHIP, ALL, ALL), "n_clicks"),
                 Input(ids.chip(ids.AUTO_UNDO, ALL, ALL), "n_clicks"), Input(ids.chip(ids.KEPT_CHIP, ALL, ALL), "n_clicks"),
                 FRAGMENT, prevent_initial_call=True)(actions.on_chip)
    app.callback(_url(), Input(ids.CLEAR_ALL, "n_clicks"), FRAGMENT, prevent_initial_call=True)(actions.on_clear_all)
    app.callback(_url(), Input(ids.KEPT_CLEAR, "n_clicks"), FRAGMENT, prevent_initial_call=True)(actions.on_clear_kept)
    app.callback(_url(), Input(ids.KEPT_WORDS, "n_clicks"), FRAGMENT, prevent_initial_call=True)(actions.on_kept_words)
    app.callback(_url(), Input(ids.region(ids.REGION_GRAPH, ALL), "selectedData"), FRAGMENT,
                 prevent_initial_call=True)(actions.on_region)
    app.callback(_url(), Input(ids.region(ids.REGION_RESET, ALL), "n_clicks"), FRAGMENT,
                 prevent_initial_call=True)(actions.on_region_reset)
    app.callback(Output(ids.REPLACE_URL, "data"), FOCUS, Input(ids.SHOW_MORE, "n_clicks"), FRAGMENT,
                 prevent_initial_call=True)(actions.on_show_more)
    app.clientside_callback(REPLACE_URL_JS, _url(), Input(ids.REPLACE_URL, "data"), prevent_initial_call=True)
    app.callback(_url(), FOCUS, Input(ids.REFINE, "n_clicks"), FRAGMENT,
                 prevent_initial_call=True)(actions.on_refine)

    app.callback(Output(ids.QUERY_PANEL, "children"), Output(ids.QUERY_SHOWN, "data"),
                 Input(ids.URL, "hash"), State(ids.QUERY_SHOWN, "data"))(render.render_query)
    app.callback(Output(ids.region(ids.REGION_GRAPH, ALL), "figure"),
                 Output(ids.region(ids.REGION_NOTE, ALL), "children"), Output(ids.region(ids.REGION_RESET, ALL), "hidden"),
                 Output(ids.region(ids.REGION_FRAME, ALL), "aria-label"),
                 Output(ids.REGION_SHOWN, "data"), Input(ids.URL, "hash"), State(ids.QUERY_SHOWN, "data"),
                 State(ids.REGION_SHOWN, "data"),
                 prevent_initial_call=True)(render.render_region)
    app.callback(Output(ids.CRUMBS_AREA, "children"), Output(ids.CHIPS_AREA, "children"),
                 Output(ids.RESULTS_AREA, "children"), Output(ids.STATUS, "children"), Output(ids.RESULTS_KEY, "data"),
                 Output(ids.results_part(ALL), "children"), Output(ids.results_page(ALL), "children"),
                 Input(ids.URL, "hash"), State(ids.RESULTS_KEY, "data"))(render.render_results)
    app.clientside_callback(AFTER_RENDER_JS, Output(ids.RESULTS_DRAWN, "data"),
                            Input(ids.RESULTS_KEY, "data"), State(ids.FOCUS, "data"),
                            State(ids.RESULTS_DRAWN, "data"), prevent_initial_call=True)

    app.callback(
        Output(ids.product(ids.VOTE_STATE, MATCH), "data"),
        Output(ids.product(ids.VOTE_UP, MATCH), "className"), Output(ids.product(ids.VOTE_UP, MATCH), "aria-pressed"),
        Output(ids.product(ids.VOTE_DOWN, MATCH), "className"),
        Output(ids.product(ids.VOTE_DOWN, MATCH), "aria-pressed"),
        Output(ids.product(ids.VOTE_MSG, MATCH), "children"),
        Input(ids.product(ids.VOTE_UP, MATCH), "n_clicks"), Input(ids.product(ids.VOTE_DOWN, MATCH), "n_clicks"),
        State(ids.product(ids.VOTE_STATE, MATCH), "data"), FRAGMENT,
        prevent_initial_call=True,
    )(votes.on_vote)
    register_look_callbacks(app)
    app.callback(Output(ids.REFINE, "disabled"), Output(ids.REFINE, "children"), Output(ids.REFINE, "title"),
                 Input(ids.product(ids.VOTE_STATE, ALL), "data"))(votes.refine_state)
    popular.register_callbacks(app)
