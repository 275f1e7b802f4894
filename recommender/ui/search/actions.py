"""Callbacks that change the search: each turns a shopper's action into the next URL fragment.

The URL (see `ui.state`) is the one place a search lives; these callbacks read the current one,
apply the action with a pure `Search` method and write the result, which pushes a browser history
entry (Back undoes it; "Show more" replaces the entry instead) and makes the drawing callbacks (`render`)
redraw. They are plain functions:
`pages/search.py` registers them. Whatever arrives from the browser (ids of clicked components,
dropdown values, a selection) is checked for shape here; a malformed one changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import dash_bootstrap_components as dbc
from dash import ctx, html, no_update
from dash.exceptions import PreventUpdate

from recommender.errors import ImageError, RecommenderError
from recommender.regions import Box
from recommender.roles import FILTER_ROLES
from recommender.trends import log_search
from recommender.ui import ids
from recommender.ui.components import filter_options, filter_words, upload_preview
from recommender.ui.guard import public_message
from recommender.ui.query import confident_tags, facet_counts, selected_filters, step_query, tags_of
from recommender.ui.region import box_from_selection
from recommender.ui.garments import opening_step
from recommender.ui.search.layout import filters_label
from recommender.ui.services import Services, get_services
from recommender.ui.session import current_session_id
from recommender.ui.state import Search, Step, liked_step
from recommender.ui.upload_payload import decode_upload, too_large

__all__ = ["clicked", "focus_on", "region_fragment", "sync_controls", "on_upload", "on_navigate", "on_chip", "on_clear_all", "on_clear_kept", "on_kept_words",
           "on_region", "on_region_reset", "on_show_more", "on_refine"]


def clicked() -> dict[str, Any] | str:
    """The id of the component whose click triggered the callback (PreventUpdate for a render's 0 clicks)."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    return ctx.triggered_id


def _write(before: Search, after: Search) -> str:
    if after == before:
        raise PreventUpdate
    return after.fragment()


def focus_on(fragment: str, target: str,
             scroll: Literal["always", "if-hidden"] = "always") -> tuple[str, dict[str, str]]:
    """The new URL, and where focus goes once its results are drawn (the fragment tells requests apart); the
    target is scrolled to the top of the screen `"always"`, or `"if-hidden"`: only when it is not on the screen
    (a garment chosen on a desktop, where the photo, its chips and the strip stay in view above its results)."""
    return fragment, {"to": target, "at": fragment, "scroll": scroll}


def _values(value: object) -> list[str]:
    """A dropdown's value as a list of strings (the browser may send anything)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


def sync_controls(fragment: str | None, values: Mapping[str, Any], text: Any, drawn: Any) -> dict[str, Any]:
    """The filters and the text box, both ways: the URL sets them (load, Back, a chip), and a change
    made in them writes the URL. Options are redrawn with counts under the other filters, only when the
    filters or the words differ from those `drawn` (not for "Show more", a region or another query)."""
    search = Search.from_fragment(fragment)
    trigger = ctx.triggered_id
    hash_out: Any = no_update
    if trigger == ids.URL and _controls_key(search) == drawn:
        raise PreventUpdate
    if trigger is not None and trigger != ids.URL:
        if trigger == ids.TEXT:
            after = search.with_text(text)
        else:
            after = search.with_filters({**search.filters, **{role: tuple(_values(values.get(role)))
                                                               for role in FILTER_ROLES}})
        if after == search:
            raise PreventUpdate
        search, hash_out = after, after.fragment()
    services = get_services()
    index = services.engine.index
    counts = facet_counts(services, search)
    options = {}
    for role, attribute in index.roles.filters():
        everywhere = index.attribute_values(attribute) if attribute else {}
        options[role] = filter_options(role, counts.get(role, {}), everywhere, search.filters.get(role, ()))
    return {
        "hash": hash_out,
        "values": {role: list(search.filters.get(role, ())) for role in FILTER_ROLES},
        "options": options,
        "text": search.text,
        "drawn": _controls_key(search),
        "toggle": filters_label(sum(map(len, search.filters.values())) + bool(search.text)),
    }


def _controls_key(search: Search) -> str:
    """What the filter controls show: the filters and the words."""
    return Search(filters=search.filters, text=search.text).fragment()


def on_upload(payload: Any, fragment: str | None) -> tuple[Any, Any, Any]:
    """A new photo starts a new trail; a bad one gets an alert and changes nothing else."""
    if not isinstance(payload, dict):
        raise PreventUpdate
    services = get_services()
    filename = payload.get("filename") if isinstance(payload.get("filename"), str) else None
    filename = (filename or "This file")[:120]
    try:
        if payload.get("rejected"):  # not a picture: the browser's drop zone refused it (assets/upload.js)
            raise ImageError("It is not a photo: choose a JPEG, PNG, WebP or HEIC picture.")
        contents = payload.get("contents")
        if not isinstance(contents, str):  # the browser found it too large and did not send it
            raise too_large(payload.get("size"), services.settings.max_upload_bytes)
        ref, picture = services.add_upload_picture(decode_upload(contents))
        step = opening_step(services, ref, picture)  # a photo of a person: its surest garment first
        query, exclude = step_query(services, (step,))
        tags = services.engine.tags(query, exclude)
        log_search(services.engine, services.feedback, query, tags)  # the Trends page
    except RecommenderError as exc:
        alert = dbc.Alert([html.Strong(f"{filename} could not be used. "),
                           public_message(exc, "The photo cannot be used right now; please try again.")], color="danger",
                          dismissable=True, className="upload-error")
        return no_update, alert, no_update
    after, note = _fitted(services, Search.from_fragment(fragment).new_photo(step, confident_tags(tags)))
    return after.fragment(), note, upload_preview()


def _fitted(services: Services, search: Search) -> tuple[Search, dbc.Alert | None]:
    """A new photo's search, with the filters carried over from the last one set aside where, beside the category
    the new photo applied by itself, they leave no product (the last dress's "Peach" and this photo's "Shoes"): a
    dead end the shopper did not choose. The note says what was set aside."""
    if not (search.kept and search.auto):
        return search, None
    index = services.engine.index
    if len(index.matching(selected_filters(index.roles, search.filters))):
        return search, None
    kept = filter_words({role: values for role, values in search.filters.items() if role not in search.auto})
    new = " or ".join(value for role in search.auto for value in search.filters[role])
    were, them = ("were", "them") if len(kept) > 1 else ("was", "it")
    note = dbc.Alert(f"{' and '.join(kept)}, kept from your last search, {were} set aside: no product in {new} "
                     f"matches {them}.", color="info", dismissable=True, className="upload-note")
    return search.without_kept(), note


def on_navigate(_more: Any, _images: Any, _crumbs: Any, fragment: str | None) -> tuple[str, dict[str, Any]]:
    """"More like this" appends a product to the trail; a breadcrumb step goes back to it."""
    target = clicked()
    search = Search.from_fragment(fragment)
    if not isinstance(target, dict):
        raise PreventUpdate
    if target.get("type") == ids.CRUMB:
        position = target.get("index")
        after = search.back_to(position) if isinstance(position, int) else search
    else:
        product_id = target.get("id")
        try:
            get_services().engine.index.position(product_id)
        except (KeyError, TypeError):  # not a product of this catalogue (a forged or stale click)
            raise PreventUpdate from None
        after = search.followed(Step("item", product_id))
    return focus_on(_write(search, after), ids.RESULTS_TITLE)


def on_chip(_tags: Any, _auto: Any, _kept: Any, fragment: str | None) -> str:
    """A "Looks like" tag toggles its filter; an automatic one or a kept one is removed."""
    target = clicked()
    if not isinstance(target, dict) or target.get("role") not in FILTER_ROLES or \
            not isinstance(target.get("value"), str):
        raise PreventUpdate
    search = Search.from_fragment(fragment)
    role, value = target["role"], target["value"]
    after = search.toggled(role, value) if target.get("type") == ids.TAG_CHIP else search.without(role, value)
    return _write(search, after)


def on_clear_all(_clicks: Any, fragment: str | None) -> str:
    clicked()
    search = Search.from_fragment(fragment)
    return _write(search, search.cleared())


def on_clear_kept(_clicks: Any, fragment: str | None) -> str:
    """"Clear these": the filters and words carried over from the last photo."""
    clicked()
    search = Search.from_fragment(fragment)
    after = search.without_words() if search.kept_words else search
    for role in FILTER_ROLES:
        if search.kept and role not in search.auto:
            after = after.without(role)
    return _write(search, after)


def on_kept_words(_clicks: Any, fragment: str | None) -> str:
    """The words carried over from the last photo, removed."""
    clicked()
    search = Search.from_fragment(fragment)
    return _write(search, search.without_words())


def on_region(selections: Any, fragment: str | None) -> str:
    """A box dragged on the query's picture (the one there is): search only that part."""
    if not isinstance(selections, list) or len(selections) != 1:
        raise PreventUpdate
    box = box_from_selection(selections[0])
    if box is None:
        raise PreventUpdate
    return region_fragment(Search.from_fragment(fragment), box)


def on_region_reset(_clicks: Any, fragment: str | None) -> str:
    clicked()
    return region_fragment(Search.from_fragment(fragment), None)


def region_fragment(search: Search, box: Box | None) -> str:
    """The search of the new part; a filter the page applied itself follows that part's confident tags."""
    framed = search.with_region(box)
    if framed == search or not search.auto:  # nothing applied automatically: nothing to decide again
        return _write(search, framed)
    try:
        tags = tags_of(get_services(), framed)
    except RecommenderError:  # the photo is gone: the render says so; the filters stay as they were
        return _write(search, framed)
    return _write(search, search.with_region(box, confident_tags(tags)))


def on_show_more(_clicks: Any, fragment: str | None) -> tuple[str, dict[str, Any]]:
    """The next ten, replacing the browser's history entry (see REPLACE_URL_JS); focus goes to the first of them."""
    clicked()
    search = Search.from_fragment(fragment)
    after = search.more()
    return focus_on(_write(search, after), ids.card(search.shown + 1))


def on_refine(_clicks: Any, fragment: str | None) -> tuple[str, dict[str, Any]]:
    """"More like the ones I liked": a step moving the query by the votes given on these results."""
    clicked()
    search = Search.from_fragment(fragment)
    key = search.vote_key()
    if key is None:
        raise PreventUpdate
    session_id = current_session_id()
    index = get_services().engine.index
    try:
        votes = get_services().feedback.current_votes(index.manifest.catalog.identity, session_id, key[1])
    except RecommenderError:
        raise PreventUpdate from None
    liked = sorted(i for i, v in votes.items() if v == 1)
    if not liked:
        raise PreventUpdate
    step = liked_step(liked, sorted(i for i, v in votes.items() if v == -1))
    return focus_on(_write(search, search.followed(step)), ids.RESULTS_TITLE)
