"""Building blocks of the search page: filters, chips, product cards, the trail, notices.

Product data (names, attribute values) only ever goes into components as text children or
attribute values, which React escapes: a product named "<script>" shows as those characters.
Every control is named for a screen reader by what it does to which product or filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import dcc, get_relative_path, html

from recommender.catalog import Product
from recommender.colours import colour_hex
from recommender.index import Hit, Index
from recommender.roles import FILTER_ROLES, ROLE_LABELS, Roles
from recommender.tags import Tag
from recommender.ui import ids
from recommender.ui.routes import thumbnail_path, upload_path
from recommender.ui.state import Search, Step

__all__ = [
    "merchant_page_off", "thumbnail_url", "more_like_url", "upload_url", "icon", "swatch", "filter_dropdown",
    "filter_options", "product_card",
    "results_grid", "breadcrumb", "tag_chips", "filter_words", "kept_row", "random_weights_banner", "upload_prompt",
    "upload_preview", "vote_class", "vote_label",
]  # fmt: skip

MERCHANT_PAGE_OFF = "This page is for the shop's staff and is turned off here."  # Feedback, Trends, Audit when off
MERCHANT_TOOLS = "RECOMMENDER_MERCHANT_TOOLS=1"
MULTI_COLOURS = {"Multi"}  # drawn as a rainbow swatch rather than one grey


def merchant_page_off() -> html.Div:
    """What a merchant's page (Feedback, Trends, Audit) shows in place of itself without the merchant's tools: to a
    shopper who found its address, a way back to the search; to the staff, the setting that turns it on."""
    return html.Div([
        html.H1("For the shop's staff", className="page-title h2 my-3"),
        html.P([MERCHANT_PAGE_OFF, " ", dcc.Link("Search with a photo", href=get_relative_path("/")), " instead."]),
        html.P(["Staff: start the app with ", html.Code(MERCHANT_TOOLS), " to turn on Feedback, Trends and Audit."],
               className="small text-muted"),
    ])


def thumbnail_url(product_id: str) -> str:
    return get_relative_path(thumbnail_path(quote(product_id, safe="")))  # the id stays one path segment


def more_like_url(product_id: str) -> str:
    """The search page's URL of "more like this" from a product: For you, the Map and Trends start a search so."""
    return get_relative_path("/") + Search().followed(Step("item", product_id)).fragment()


def upload_url(ref: str) -> str:
    return get_relative_path(upload_path(quote(ref, safe="")))


def icon(name: str, extra: str = "") -> html.Span:
    """An icon from assets/icons, drawn in the text colour by CSS (see .icon-* rules)."""
    return html.Span(className=f"icon icon-{name} {extra}".strip(), **{"aria-hidden": "true"})


def swatch(value: str) -> html.Span:
    return html.Span(className="swatch", style=swatch_style(value))


def swatch_style(value: str) -> dict[str, str]:
    """A colour's swatch as the CSS variable its `.swatch` (or a colour tag's dot) is painted with."""
    if value in MULTI_COLOURS:
        return {"--swatch": "conic-gradient(#e11d48, #f59e0b, #16a34a, #2563eb, #9333ea, #e11d48)"}
    hex_code = colour_hex(value)
    if hex_code is None:
        return {"--swatch": "repeating-linear-gradient(45deg, #ddd 0 3px, #fff 3px 6px)"}
    return {"--swatch": hex_code}


# ---------------------------------------------------------------- filters


def filter_dropdown(role: str, attribute: str | None) -> html.Div:
    """A multi-select for one filter, empty meaning "any"; hidden when the catalogue lacks it.

    Its options come from `filter_options`, redrawn for every search so their counts are honest.
    """
    label = ROLE_LABELS[role]
    return html.Div(
        [
            html.Label(label, htmlFor=ids.filter_id(role), className="filter-label", id=ids.filter_label(role)),
            dcc.Dropdown(
                id=ids.filter_id(role),
                options=[],
                multi=True,
                placeholder=f"Any {label.lower()}",
                className=f"filter-dropdown filter-{role}",
                maxHeight=320,
            ),
        ],
        className="filter-field",
        hidden=attribute is None,
    )


def filter_options(role: str, counts: Mapping[str, int], everywhere: Mapping[str, int],
                   chosen: Sequence[str]) -> list[dict[str, object]]:
    """Options of one filter: every value of the catalogue (`everywhere`), each with the number of
    products it would leave with the other filters (`counts`); a value that would leave none is
    greyed out and cannot be picked, unless it is already chosen (so it can be removed)."""
    options = []
    for value in list(everywhere) + [v for v in chosen if v not in everywhere]:
        count = counts.get(value, 0)
        parts = [swatch(value)] if role == "colour" else []
        parts += [html.Span(value, className="option-name"), html.Span(f"{count:,}", className="option-count")]
        options.append({"label": html.Span(parts, className="filter-option"), "value": value, "search": value,
                        "disabled": count == 0 and value not in chosen})
    return options


def _chip(text: Sequence[object], chip_id: dict[str, str] | str, label: str, pressed: bool | None = None,
          extra: str = "") -> html.Button:
    attributes = {"aria-label": label}
    if pressed is not None:
        attributes["aria-pressed"] = "true" if pressed else "false"
    return html.Button(list(text), id=chip_id, n_clicks=0, className=f"chip {extra}".strip(), title=label,
                       **attributes)


def tag_chips(tags: Sequence[Tag], filters: Mapping[str, Sequence[str]], auto: Sequence[str]) -> html.Div | None:
    """"Looks like: Dress · Black · Women": each tag a toggle that applies or removes it as a filter;
    a tag the page applied by itself says so and is undone with one click."""
    chips: list[object] = []
    for tag in sorted(tags, key=lambda t: FILTER_ROLES.index(t.role)):
        role_label = ROLE_LABELS[tag.role].lower()
        applied = tag.value in filters.get(tag.role, ())
        lead = [swatch(tag.value)] if tag.role == "colour" else []
        if chips:
            chips.append(html.Span("·", className="chip-sep", **{"aria-hidden": "true"}))
        if tag.role in auto and applied:
            chips.append(_chip([*lead, tag.value, html.Span(" · applied automatically", className="chip-note"),
                                html.Span("×", className="chip-x", **{"aria-hidden": "true"})],
                               ids.chip(ids.AUTO_UNDO, tag.role, tag.value),
                               f"{ROLE_LABELS[tag.role]} {tag.value} was applied automatically: remove it",
                               extra="chip-auto"))
            continue
        label = f"{'Remove' if applied else 'Show only'} {role_label} {tag.value}"
        chips.append(_chip([*lead, tag.value], ids.chip(ids.TAG_CHIP, tag.role, tag.value), label, applied,
                           extra="chip-on" if applied else ""))
    if not chips:
        return None
    return html.Div([html.Span("Looks like:", className="chips-title"), *chips], className="chip-row tag-row",
                    id=ids.TAG_ROW, role="group", **{"aria-label": "What your query looks like; click to filter"})


def filter_words(filters: Mapping[str, Sequence[str]]) -> list[str]:
    """"Colour: Black or Navy Blue", one for each role filtered, in the page's order: how the page names filters."""
    return [f"{ROLE_LABELS[role]}: {' or '.join(filters[role])}" for role in FILTER_ROLES if role in filters]


def kept_row(filters: Mapping[str, Sequence[str]], auto: Sequence[str], text: str = "") -> html.Div | None:
    """The filters and words carried over from the last search, each removable, and one click to clear them."""
    chips = [
        _chip([f"{ROLE_LABELS[role]}: {value}", html.Span("×", className="chip-x", **{"aria-hidden": "true"})],
              ids.chip(ids.KEPT_CHIP, role, value), f"Remove the {ROLE_LABELS[role].lower()} filter {value}",
              extra="chip-kept")
        for role in FILTER_ROLES if role not in auto for value in filters.get(role, ())
    ]
    if text:
        chips.append(_chip([f"Words: “{text}”", html.Span("×", className="chip-x", **{"aria-hidden": "true"})],
                           ids.KEPT_WORDS, f"Remove the words {text}", extra="chip-kept"))
    if not chips:
        return None
    return html.Div(
        [html.Span("Kept from your last search:", className="chips-title"), *chips,
         html.Button("Clear these", id=ids.KEPT_CLEAR, n_clicks=0, className="link-btn")],
        className="chip-row kept-row", id=ids.KEPT_ROW, role="group",
        **{"aria-label": "Filters and words kept from your last search"},
    )


# ---------------------------------------------------------------- product cards


def _tags(product: Product, roles: Roles) -> html.Div:
    tags = []
    for role in FILTER_ROLES:
        attribute = roles.attribute(role)
        value = product.attributes.get(attribute) if attribute else None
        if value:
            tags.append(html.Span(value, className=f"tag tag-{role}", title=value,
                                  style=swatch_style(value) if role == "colour" else None))
    return html.Div(tags, className="product-tags")


def vote_label(direction: str, name: str) -> str:
    return f"I like {name}" if direction == "up" else f"{name} is not for me"


def _vote_button(product: Product, direction: str, active: bool) -> html.Button:
    """A thumb (drawn by CSS: a card holds as few components as it can, each costs the browser's redraws)."""
    return html.Button(
        id=ids.product(ids.VOTE_UP if direction == "up" else ids.VOTE_DOWN, product.id),
        n_clicks=0,
        className=vote_class(direction, active),
        title="I like this" if direction == "up" else "Not for me",
        **{"aria-label": vote_label(direction, product.name), "aria-pressed": "true" if active else "false"},
    )


def vote_class(direction: str, active: bool) -> str:
    return f"vote-btn vote-{direction}" + (" active" if active else "")


def product_card(product: Product, roles: Roles, position: int, hit: Hit | None = None,
                 similarity: float | None = None, vote: int = 0) -> html.Article:
    """One product: image (click for more like it), name (tap to read it whole), tags and, for a
    result, rank, match and votes. `position` (1-based) lets focus land on a card after "Show more"."""
    badges = []
    if hit is not None:
        badges.append(html.Span(f"#{hit.rank}", className="rank-badge", title=f"Rank {hit.rank}"))
        if hit.match is not None:
            badges.append(html.Span(f"{hit.match:.0%} match", className="match-badge",
                                    title=_match_title(hit, similarity)))
    actions = []
    if hit is not None:
        actions.append(html.Div(
            [html.Span("Good match?", className="vote-label"),
             html.Div([_vote_button(product, "up", vote == 1), _vote_button(product, "down", vote == -1)],
                      className="vote-group", role="group", **{"aria-label": f"Rate {product.name}"})],
            className="vote-row"))
    actions.append(html.Button("More like this", id=ids.product(ids.MORE, product.id),
                               n_clicks=0, className="more-btn", **{"aria-label": f"More like {product.name}"}))
    body = [
        # focusable, so a tap (or Tab) unfolds a name cut to two lines: see .product-name:focus
        html.H3(product.name, className="product-name", title=product.name, tabIndex=0),
        _tags(product, roles),
        html.Div(actions, className="product-actions"),
    ]
    if hit is not None:
        body += [html.Div(id=ids.product(ids.VOTE_MSG, product.id), className="vote-msg", role="alert"),
                 dcc.Store(id=ids.product(ids.VOTE_STATE, product.id),
                           data={"vote": vote, "rank": hit.rank, "distance": hit.distance})]
    return html.Article(
        [html.Div([html.Img(src=thumbnail_url(product.id), alt=product.name), *badges],
                  id=ids.product(ids.MORE_IMAGE, product.id), n_clicks=0, className="product-media",
                  title="Show more like this"),  # keyboard users have the "More like this" button
         html.Div(body, className="product-body")],
        className="product-card", id=ids.card(position), tabIndex=-1,
    )


def _match_title(hit: Hit, similarity: float | None) -> str:
    """What a card's match means (`recommender.match`): the badge follows the order, the pictures' likeness may not."""
    alike = "" if similarity is None else (
        f" The pictures alone look {similarity:.0%} alike (100% identical, 50% as far apart as two random products; "
        f"Euclidean distance {hit.distance:.3g}).")
    return (f"{hit.match:.0%} match: how well this product fits the search, out of the most a product can score "
            "(the look of the picture, and the category, colour and gender the query seems to be where the catalogue "
            f"knows them); never more than the result above it, on the same scale after refining.{alike}")


def results_grid(cards: Sequence[html.Article], per_page: int, pages: int) -> html.Div:
    """The cards in `pages` slots of `per_page` (empty ones for the results not shown yet), laid out as one grid."""
    return html.Div([html.Div(cards[n * per_page:(n + 1) * per_page], id=ids.results_page(n), className="results-page")
                     for n in range(pages)], className="results-grid", id=ids.RESULTS_GRID)


def breadcrumb(steps: Sequence[tuple[str, str]]) -> html.Nav | None:
    """The queries so far as (label, image URL); every step but the current one goes back to it."""
    if len(steps) < 2:
        return None
    items = []
    for i, (label, image) in enumerate(steps):
        content = [html.Img(src=image, alt="", className="crumb-thumb"), html.Span(label, className="crumb-label")]
        if i == len(steps) - 1:
            items.append(html.Span(content, className="crumb crumb-current", **{"aria-current": "step"}))
        else:
            items.append(html.Button(content, id=ids.crumb(i), n_clicks=0, className="crumb",
                                     title=f"Back to {label}", **{"aria-label": f"Back to {label}"}))
            items.append(html.Span("›", className="crumb-sep", **{"aria-hidden": "true"}))
    return html.Nav(items, className="crumbs", id=ids.CRUMBS, **{"aria-label": "Your search path"})


# ---------------------------------------------------------------- upload and notices


def random_weights_banner(index: Index) -> dbc.Alert:
    """Why the ranking is meaningless here, and the two ways to give the model real weights."""
    return dbc.Alert(
        [
            html.Strong("Demo mode: the ranking is not meaningful."),
            html.P([
                f"This catalogue was indexed by {index.model.backbone} with random weights, as asked for "
                "(RECOMMENDER_WEIGHTS=none). For real recommendations, rebuild the index with ImageNet weights, "
                "a local weights file (", html.Code("--weights resnet50.h5"), ") or a TFLite extractor (",
                html.Code("--backbone PATH.tflite"), "), then serve it:"]),
            html.Pre("python -m recommender build --catalog DIR --out INDEX --backbone PATH.tflite\n"
                     "python app.py --index INDEX"),
        ],
        color="warning", className="weights-banner", id=ids.WEIGHTS_BANNER,
        dismissable=True,  # on a phone it fills the first screen: once read, it can go
    )


def upload_prompt() -> html.Div:
    return html.Div(
        [
            icon("cloud-arrow-up", "upload-icon"),
            html.Div("Upload a photo", className="upload-title"),
            html.Div(["Drag it here or ", html.Span("choose a file", className="upload-link")],
                     className="upload-sub"),
            html.Div("JPEG, PNG, WebP or iPhone HEIC", className="upload-hint"),
        ],
        className="upload-prompt",
    )


def upload_preview() -> html.Div:
    """The upload area once there is a photo; a touch screen, where nothing is dropped, reads the short words."""
    return html.Div([icon("camera"), html.Span("Drop another photo or click to replace", className="replace-drop"),
                     html.Span("Choose another photo", className="replace-touch")], className="upload-replace")
