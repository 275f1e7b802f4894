"""Thumbs up and down on the results, and whether "More like the ones I liked" can be used yet.

A vote is kept under the current query of the URL's search (`Search.vote_key`), so the votes given
in this search are exactly what a refinement reads back.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import ctx, no_update
from dash.exceptions import PreventUpdate

from recommender.errors import RecommenderError
from recommender.feedback import VoteEvent
from recommender.ui import ids
from recommender.ui.components import vote_class
from recommender.ui.guard import public_message
from recommender.ui.query import selected_filters
from recommender.ui.services import get_services
from recommender.ui.session import current_session_id
from recommender.ui.state import Search

__all__ = ["on_vote", "refine_state"]

log = logging.getLogger(__name__)


def on_vote(_up: Any, _down: Any, state: Any, fragment: str | None) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Thumbs up or down; clicking the active thumb again withdraws the vote."""
    if not ctx.triggered or not ctx.triggered[0].get("value") or not isinstance(state, dict):
        raise PreventUpdate
    search = Search.from_fragment(fragment)
    key = search.vote_key()
    if key is None or not isinstance(ctx.triggered_id, dict):
        raise PreventUpdate
    clicked = 1 if ctx.triggered_id.get("type") == ids.VOTE_UP else -1
    vote = 0 if state.get("vote") == clicked else clicked
    services = get_services()
    index = services.engine.index
    try:
        try:  # the card's state comes back from the browser, which may have altered it
            event = VoteEvent(catalog=index.manifest.catalog.identity, session_id=current_session_id(),
                              query_kind=key[0], query_ref=key[1],
                              filters=selected_filters(index.roles, search.filters),
                              item_id=ctx.triggered_id["id"], rank=state["rank"], distance=state["distance"],
                              backbone=index.model.label, vote=vote)
        except (KeyError, TypeError):
            raise RecommenderError("this result's data is damaged; search again and vote then") from None
        services.feedback.record(event)
    except RecommenderError as exc:
        log.warning("vote not recorded: %s", exc)
        reason = public_message(exc, "votes cannot be saved right now; please try again in a moment")
        return no_update, no_update, no_update, no_update, no_update, f"Your vote was not saved: {reason}"
    up, down = vote == 1, vote == -1
    return ({**state, "vote": vote}, vote_class("up", up), "true" if up else "false", vote_class("down", down),
            "true" if down else "false", None)


def refine_state(states: Any) -> tuple[bool, str, str]:
    """The refine button: usable once a result of this search is liked, saying how many."""
    liked = sum(1 for s in states or [] if isinstance(s, dict) and s.get("vote") == 1)
    if not liked:
        return True, "More like the ones I liked", "Like one or more results first"
    return False, f"More like the ones I liked ({liked})", f"Search again, moved towards the {liked} you liked"
