"""The "For you" page: products like the ones a shopper liked, one row per interest, across visits.

The likes are the standing thumbs up of the shopper's signed session (`ui.session`): within one
browser session by default, for REMEMBER_FOR with "Remember me". "Forget me" deletes the profile,
cuts its votes' link to the shopper (`FeedbackStore.forget`: the votes stay, anonymous) and gives
the browser a new session. Recommendations come from `recommender.profile`; this page only draws them.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from recommender.errors import RecommenderError
from recommender.profile import Interest, Suggestion, for_you
from recommender.ui import ids
from recommender.ui.components import more_like_url, thumbnail_url
from recommender.ui.guard import public_message
from recommender.ui.services import Services, get_services
from recommender.ui.session import current_session_id, new_session, remember_session

dash.register_page(
    __name__,
    path="/for-you",
    name="For you",
    title="Lookalike · For you",
    description="Products like the ones you liked, grouped by what you like.",
    order=1,
)

REMEMBER = "Remember me on this device"
REMEMBERED = "Remembered on this device"


def _card(suggestion: Suggestion) -> html.Article:
    product, because = suggestion.product, suggestion.because
    return html.Article(
        [
            html.Div(html.Img(src=thumbnail_url(product.id), alt=product.name), className="product-media"),
            html.Div(
                [
                    html.H3(product.name, className="product-name", title=product.name),
                    html.P([html.Img(src=thumbnail_url(because.id), alt="", className="because-img"),  # names repeat
                            html.Span(f"Because you liked {because.name}")], className="because"),
                    html.A("More like this", href=more_like_url(product.id), className="more-btn",
                           **{"aria-label": f"More like {product.name}"}),
                ],
                className="product-body",
            ),
        ],
        className="product-card for-you-card",
    )


def _interest(interest: Interest) -> html.Section:
    likes = len(interest.liked)
    return html.Section(
        [
            html.H2(interest.label, className="interest-title"),
            html.P(f"From {likes} {'thing' if likes == 1 else 'things'} you liked", className="interest-sub"),
            html.Div([_card(s) for s in interest.suggestions], className="results-grid"),
        ],
        className="interest",
    )


def _empty() -> dbc.Alert:
    return dbc.Alert(
        [
            html.H2("Nothing here yet", className="h4 alert-heading"),
            html.P(["Give a thumbs up to results you like and they will bring more like them here. ",
                    dcc.Link("Search with a photo", href=dash.get_relative_path("/"), className="alert-link"), "."],
                   className="mb-0"),
        ],
        color="info",
        id=ids.FOR_YOU_EMPTY,
    )


def for_you_content(services: Services, session_id: str) -> html.Div | dbc.Alert:
    """The interests of this shopper's likes on the served catalogue, or a sentence."""
    engine = services.engine
    try:
        catalog = engine.index.manifest.catalog.identity
        interests = for_you(engine, services.feedback.likes(catalog, session_id),
                            disliked_ids=services.feedback.dislikes(catalog, session_id))
    except RecommenderError as exc:
        return dbc.Alert(public_message(exc, "Your likes cannot be read right now; please try again in a moment."),
                         color="danger")
    if not interests:
        return _empty()
    return html.Div([_interest(interest) for interest in interests])


def _remembered(services: Services, session_id: str) -> bool:
    try:
        return services.feedback.remembered(session_id)
    except RecommenderError:
        return False


def layout(**_query: str) -> html.Div:
    """Rebuilt on every visit from the shopper's likes as they are now."""
    services = get_services()
    session_id = current_session_id()
    remembered = _remembered(services, session_id)
    return html.Div(
        [
            html.H1("For you", className="page-title h2 my-3"),
            html.P("Products like the ones you gave a thumbs up, grouped by what you like.", className="hero-sub"),
            html.Div(
                [
                    dbc.Button(REMEMBERED if remembered else REMEMBER, id=ids.FOR_YOU_REMEMBER, color="dark",
                               outline=True, size="sm", disabled=remembered),
                    dbc.Button("Forget me", id=ids.FOR_YOU_FORGET, color="danger", outline=True, size="sm",
                               title="Delete your likes' link to you on this device; the shop keeps them anonymously"),
                ],
                className="for-you-actions mt-3",
            ),
            html.Div(id=ids.FOR_YOU_STATUS, role="status"),
            html.Div(for_you_content(services, session_id), id=ids.FOR_YOU_CONTENT),
        ],
        className="for-you-page",
    )


def on_remember(clicks: int | None) -> tuple[str, bool, str]:
    """Keep the likes past this browser session: a long-lived cookie, and a profile row saying so."""
    if not clicks:
        raise PreventUpdate
    try:
        get_services().feedback.remember(remember_session())
    except RecommenderError as exc:
        return REMEMBER, False, public_message(exc, "This device cannot be remembered right now; please try again.")
    return REMEMBERED, True, "Your likes are kept on this device for 180 days, until you choose Forget me."


def on_forget(clicks: int | None) -> tuple[dbc.Alert, str, bool, str]:
    """Remove the profile and the votes' link to this shopper, then start them afresh."""
    if not clicks:
        raise PreventUpdate
    try:
        anonymised = get_services().feedback.forget(current_session_id())
    except RecommenderError as exc:
        why = public_message(exc, "You could not be forgotten right now; please try again in a moment.")
        return dash.no_update, REMEMBER, False, why
    new_session()
    votes = f"{anonymised} vote{'' if anonymised == 1 else 's'}"
    return _empty(), REMEMBER, False, f"Forgotten: your likes are no longer linked to you ({votes} kept anonymously)."


def register_callbacks(app: Dash) -> None:
    """Attach this page's callbacks to `app`."""
    app.callback(Output(ids.FOR_YOU_REMEMBER, "children"), Output(ids.FOR_YOU_REMEMBER, "disabled"),
                 Output(ids.FOR_YOU_STATUS, "children"), Input(ids.FOR_YOU_REMEMBER, "n_clicks"),
                 prevent_initial_call=True)(on_remember)
    app.callback(Output(ids.FOR_YOU_CONTENT, "children"),
                 Output(ids.FOR_YOU_REMEMBER, "children", allow_duplicate=True),
                 Output(ids.FOR_YOU_REMEMBER, "disabled", allow_duplicate=True),
                 Output(ids.FOR_YOU_STATUS, "children", allow_duplicate=True), Input(ids.FOR_YOU_FORGET, "n_clicks"),
                 prevent_initial_call=True)(on_forget)
