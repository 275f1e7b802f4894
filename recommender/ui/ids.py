"""Component ids of the pages, in one place: layouts, callbacks, browser scripts and tests share them.

Plain ids are strings; ids of components repeated per product, per chip or per step are
pattern-matching dicts built by the functions below (their "type" names the kind of component).
"""

from __future__ import annotations

# shell
MAIN = "main-content"  # target of the skip link

# search page
URL = "search-url"  # its fragment holds the whole search (see ui.state)
UPLOAD = "upload"
UPLOAD_CAMERA = "upload-camera"  # phones: take a photo with the camera
UPLOAD_INNER = "upload-inner"
UPLOAD_PAYLOAD = "upload-payload"
UPLOAD_LIMIT = "upload-limit"
UPLOAD_ALERT = "upload-alert"
QUERY_PANEL = "query-panel"
QUERY_SHOWN = "query-shown"  # which query's picture the panel shows (redrawn only when it changes)
REGION_SHOWN = "region-shown"  # the step whose region the picture frames (patched only when it changes)
LOOK_CHIPS = "look-chips"  # the garments found on an uploaded photo, one chip each (ui.search.look)
LOOK_STRIP = "look-strip"  # "Shop the look": the first results of every garment
LOOK_GARMENT = "look-garment"  # pattern type: {"type", "index"}, a garment's chip
TEXT = "text-search"
FILTERS_TOGGLE = "filters-toggle"  # a phone's button that unfolds the filters
FILTERS_BODY = "filters-body"
CONTROLS_KEY = "controls-key"  # the filters and words the controls show (redrawn only when they change)
CLEAR_ALL = "clear-all"
CRUMBS_AREA = "crumbs-area"
CRUMBS = "crumbs"
CHIPS_AREA = "chips-area"
TAG_ROW = "tag-row"
KEPT_ROW = "kept-row"
KEPT_CLEAR = "kept-clear"
KEPT_WORDS = "kept-words"  # the words kept from the last search: removes them
RESULTS_AREA = "results-area"
RESULTS_TITLE = "results-title"
RESULTS_COUNT = "results-count"
RESULTS_GRID = "results-grid"
RESULTS_KEY = "results-key"  # the search whose results are drawn, so that "Show more" only appends
SHOW_MORE = "show-more"
REFINE = "refine"
MAP_LINK = "map-link"
STATUS = "results-status"  # aria-live: results changed
REPLACE_URL = "replace-url"  # a fragment that replaces the browser's history entry ("Show more")
FOCUS = "focus-request"  # where focus goes once the next results are drawn
RESULTS_DRAWN = "results-drawn"  # set once the first results are drawn (no scrolling before)
WEIGHTS_BANNER = "weights-banner"

# feedback page
FEEDBACK_REFRESH = "feedback-refresh"
FEEDBACK_INTERVAL = "feedback-interval"
FEEDBACK_CONTENT = "feedback-content"
FEEDBACK_EMPTY = "feedback-empty"
FEEDBACK_LIKED = "feedback-liked"
FEEDBACK_DISLIKED = "feedback-disliked"

# audit page (the merchant's: RECOMMENDER_MERCHANT_TOOLS=1)
AUDIT_LIST = "audit-list"
AUDIT_PAGE = "audit-page"  # the page of suspects shown (a number, from 0)
AUDIT_PAGE_LABEL = "audit-page-label"
AUDIT_PREV = "audit-prev"
AUDIT_NEXT = "audit-next"
AUDIT_EXPORT = "audit-export"
AUDIT_ACCEPT = "audit-accept"  # pattern type: {"type", "item", "attribute"}
AUDIT_REJECT = "audit-reject"
AUDIT_STATUS = "audit-status"

# "For you" page (a shopper's likes across visits)
FOR_YOU_CONTENT = "for-you-content"
FOR_YOU_EMPTY = "for-you-empty"
FOR_YOU_REMEMBER = "for-you-remember"  # opt-in: keep my likes in a long-lived cookie
FOR_YOU_FORGET = "for-you-forget"
FOR_YOU_STATUS = "for-you-status"

# trends page (the merchant's)
TRENDS_PERIOD = "trends-period"  # day or week
TRENDS_CONTENT = "trends-content"
TRENDS_EMPTY = "trends-empty"

# the search page's products to start from, before any search
POPULAR_AREA = "popular-area"

# pattern-matching types
MORE = "more"  # "More like this" button of a product card
MORE_IMAGE = "more-image"  # a product card's image, also a way to "more like this"
CRUMB = "crumb"  # a step of the breadcrumb trail
POPULAR = "popular"  # a product to start from, on the start page: "more like this"
VOTE_UP = "vote-up"
VOTE_DOWN = "vote-down"
VOTE_MSG = "vote-msg"
VOTE_STATE = "vote-state"
TAG_CHIP = "tag-chip"  # "Looks like" tag: toggles its filter
AUTO_UNDO = "auto-undo"  # an automatically applied tag: removes it
KEPT_CHIP = "kept-chip"  # a filter kept from the last search: removes it
# Parts of the query's picture (see `region`): there only while a photo or product is the query
REGION_GRAPH = "region-graph"
REGION_FRAME = "region-frame"
REGION_RESET = "region-reset"
REGION_NOTE = "region-note"


def filter_id(role: str) -> str:
    """The dropdown of one filter role (gender, colour, category, age)."""
    return f"filter-{role}"


def filter_label(role: str) -> str:
    return f"filter-{role}-label"


def product(kind: str, product_id: str) -> dict[str, str]:
    """A per-product component (MORE, MORE_IMAGE, VOTE_*) of the card of `product_id`."""
    return {"type": kind, "id": product_id}


def region(part: str, of: object = "query") -> dict[str, object]:
    """A part (REGION_*) of the query's picture; with `of=ALL`, the pattern a callback uses, which matches
    nothing (rather than failing) while no picture is drawn."""
    return {"type": part, "of": of}


def results_page(n: object) -> dict[str, object]:
    """The n-th ten results in the grid (0-based; `ALL` for a callback's pattern): "Show more" fills the next
    one alone, so the cards already drawn are left as they are."""
    return {"type": "results-page", "n": n}


def results_part(part: object) -> dict[str, object]:
    """What "Show more" changes besides a page: the count line ("count") and the button's place ("more")."""
    return {"type": "results-part", "part": part}


def chip(kind: str, role: str, value: str) -> dict[str, str]:
    """A chip (TAG_CHIP, AUTO_UNDO, KEPT_CHIP) for one value of one filter role."""
    return {"type": kind, "role": role, "value": value}


def crumb(step: int) -> dict[str, object]:
    return {"type": CRUMB, "index": step}


def card(position: int) -> str:
    """The result card at this 1-based position (focus goes to the first new one after "Show more")."""
    return f"card-{position}"


def suspect(kind: str, product_id: str, attribute: str) -> dict[str, str]:
    """A per-suspect component (AUDIT_ACCEPT, AUDIT_REJECT, AUDIT_STATUS) of one product's one label."""
    return {"type": kind, "item": product_id, "attribute": attribute}

# The Map page (pages/map.py)
MAP_URL = "map-url"  # its own location: the hash is the search (ui.state) whose query and results are highlighted
MAP_COLOUR = "map-colour"  # dropdown: the attribute the points are coloured by
MAP_GRAPH = "map-graph"
MAP_TOOLTIP = "map-tooltip"  # thumbnail and name of the hovered product
MAP_NOTE = "map-note"  # a sentence when the map cannot be drawn (no layout yet, no attributes)
MAP_GO = "map-go"  # a location the page writes to start a search ("more like this")
