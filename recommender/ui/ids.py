"""Component ids of the pages, in one place: layouts, callbacks, browser scripts and tests share them.

Plain ids are strings; ids of components repeated per product or per step are pattern-matching
dicts built by the functions below (their "type" names the kind of component).
"""

from __future__ import annotations

# search page
TRAIL = "trail"
UPLOAD = "upload"
UPLOAD_INNER = "upload-inner"
UPLOAD_PAYLOAD = "upload-payload"
UPLOAD_LIMIT = "upload-limit"
UPLOAD_ALERT = "upload-alert"
CRUMBS_AREA = "crumbs-area"
CRUMBS = "crumbs"
RESULTS_AREA = "results-area"
RESULTS_TITLE = "results-title"
RESULTS_GRID = "results-grid"
SCROLL_ANCHOR = "scroll-anchor"
WEIGHTS_BANNER = "weights-banner"

# feedback page
FEEDBACK_REFRESH = "feedback-refresh"
FEEDBACK_INTERVAL = "feedback-interval"
FEEDBACK_CONTENT = "feedback-content"
FEEDBACK_EMPTY = "feedback-empty"
FEEDBACK_LIKED = "feedback-liked"
FEEDBACK_DISLIKED = "feedback-disliked"

# pattern-matching types
MORE = "more"  # "More like this" button of a product card
MORE_IMAGE = "more-image"  # a product card's image, also a way to "more like this"
CRUMB = "crumb"  # a step of the breadcrumb trail
VOTE_UP = "vote-up"
VOTE_DOWN = "vote-down"
VOTE_MSG = "vote-msg"
VOTE_STATE = "vote-state"


def filter_id(role: str) -> str:
    """The dropdown of one filter role (gender, colour, category)."""
    return f"filter-{role}"


def product(kind: str, product_id: str) -> dict[str, str]:
    """A per-product component (MORE, MORE_IMAGE, VOTE_*) of the card of `product_id`."""
    return {"type": kind, "id": product_id}


def crumb(step: int) -> dict[str, object]:
    return {"type": CRUMB, "index": step}
