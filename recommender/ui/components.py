"""Building blocks of the search page: filters, product cards, breadcrumb, notices.

Product data (names, attribute values) only ever goes into components as text children or
attribute values, which React escapes: a product named "<script>" shows as those characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import dcc, get_relative_path, html

from recommender.catalog import Product
from recommender.colours import colour_hex
from recommender.index import Hit, Index
from recommender.roles import FILTER_ROLES, ROLE_LABELS, Roles
from recommender.ui import ids
from recommender.ui.routes import thumbnail_path, upload_path
from recommender.ui.state import Entry

__all__ = [
    "thumbnail_url", "upload_url", "icon", "filter_dropdown", "product_card", "results_grid", "breadcrumb",
    "random_weights_banner", "upload_prompt", "upload_preview",
]  # fmt: skip

MULTI_COLOURS = {"Multi"}  # drawn as a rainbow swatch rather than one grey


def thumbnail_url(product_id: str) -> str:
    return get_relative_path(thumbnail_path(quote(product_id, safe="")))  # the id stays one path segment


def upload_url(ref: str) -> str:
    return get_relative_path(upload_path(quote(ref, safe="")))


def icon(name: str, extra: str = "") -> html.Span:
    """An icon from assets/icons, drawn in the text colour by CSS (see .icon-* rules)."""
    return html.Span(className=f"icon icon-{name} {extra}".strip(), **{"aria-hidden": "true"})


def swatch(value: str) -> html.Span:
    if value in MULTI_COLOURS:
        return html.Span(className="swatch swatch-multi")
    hex_code = colour_hex(value)
    if hex_code is None:
        return html.Span(className="swatch swatch-unknown")
    return html.Span(className="swatch", style={"backgroundColor": hex_code})


def filter_dropdown(role: str, attribute: str | None, index: Index) -> html.Div:
    """A multi-select for one filter, empty meaning "any"; hidden when the catalogue lacks it."""
    label = ROLE_LABELS[role]
    options: list[dict[str, object]] = []
    if attribute:
        for value, count in index.attribute_values(attribute).items():
            parts = [swatch(value)] if role == "colour" else []
            parts += [html.Span(value, className="option-name"), html.Span(f"{count:,}", className="option-count")]
            options.append({"label": html.Span(parts, className="filter-option"), "value": value, "search": value})
    return html.Div(
        [
            html.Label(label, htmlFor=ids.filter_id(role), className="filter-label"),
            dcc.Dropdown(
                id=ids.filter_id(role),
                options=options,
                value=[],
                multi=True,
                placeholder=f"Any {label.lower()}",
                className=f"filter-dropdown filter-{role}",
                maxHeight=320,
            ),
        ],
        className="filter-field",
        hidden=attribute is None,
    )


def _tag(text: str, kind: str, leading: html.Span | None = None) -> html.Span:
    return html.Span([leading, text] if leading else text, className=f"tag tag-{kind}", title=text)


def _tags(product: Product, roles: Roles) -> html.Div:
    tags = []
    for role in FILTER_ROLES:
        attribute = roles.attribute(role)
        value = product.attributes.get(attribute) if attribute else None
        if value:
            tags.append(_tag(value, role, swatch(value) if role == "colour" else None))
    return html.Div(tags, className="product-tags")


def _vote_button(product_id: str, direction: str, active: bool) -> html.Button:
    label = "I like this" if direction == "up" else "Not for me"
    return html.Button(
        icon(f"thumbs-{direction}"),
        id=ids.product(ids.VOTE_UP if direction == "up" else ids.VOTE_DOWN, product_id),
        n_clicks=0,
        className=vote_class(direction, active),
        title=label,
        **{"aria-label": label},
    )


def vote_class(direction: str, active: bool) -> str:
    return f"vote-btn vote-{direction}" + (" active" if active else "")


def product_card(
    product: Product,
    roles: Roles,
    hit: Hit | None = None,
    similarity: float | None = None,
    vote: int = 0,
) -> html.Article:
    """One product: image (click for more like it), name, tags and, for a result, rank, match and votes."""
    badges = []
    if hit is not None:
        badges.append(html.Span(f"#{hit.rank}", className="rank-badge", title=f"Rank {hit.rank}"))
        if similarity is not None:
            badges.append(
                html.Span(
                    f"{similarity:.0%} match",
                    className="match-badge",
                    title=f"Similarity {similarity:.0%}: 100% is identical, 50% as far apart as two random "
                    f"products of the catalogue (Euclidean distance {hit.distance:.3g})",
                )
            )
    actions = []
    if hit is not None:
        actions.append(
            html.Div(
                [
                    html.Span("Good match?", className="vote-label"),
                    html.Div(
                        [_vote_button(product.id, "up", vote == 1), _vote_button(product.id, "down", vote == -1)],
                        className="vote-group",
                        role="group",
                        **{"aria-label": "Rate this result"},
                    ),
                ],
                className="vote-row",
            )
        )
    actions.append(
        html.Button(
            [icon("images"), html.Span("More like this")],
            id=ids.product(ids.MORE, product.id),
            n_clicks=0,
            className="more-btn",
        )
    )
    body = [
        html.H3(product.name, className="product-name", title=product.name),
        _tags(product, roles),
        html.Div(actions, className="product-actions"),
    ]
    if hit is not None:
        body += [
            html.Div(id=ids.product(ids.VOTE_MSG, product.id), className="vote-msg"),
            dcc.Store(
                id=ids.product(ids.VOTE_STATE, product.id),
                data={"vote": vote, "rank": hit.rank, "distance": hit.distance},
            ),
        ]
    return html.Article(
        [
            html.Div(
                [html.Img(src=thumbnail_url(product.id), alt=product.name), *badges],
                id=ids.product(ids.MORE_IMAGE, product.id),
                n_clicks=0,
                className="product-media",
                title="Show more like this",  # keyboard users have the "More like this" button
            ),
            html.Div(body, className="product-body"),
        ],
        className="product-card",
    )


def results_grid(cards: Sequence[html.Article]) -> html.Div:
    return html.Div(cards, className="results-grid", id=ids.RESULTS_GRID)


def breadcrumb(trail: Sequence[Entry]) -> html.Nav | None:
    """The queries so far; every step but the current one is a button that goes back to it."""
    if not trail:
        return None
    steps = []
    for i, entry in enumerate(trail):
        current = i == len(trail) - 1
        image = upload_url(entry["ref"]) if entry["kind"] == "upload" else thumbnail_url(entry["ref"])
        content = [html.Img(src=image, alt="", className="crumb-thumb"), html.Span(entry["label"], className="crumb-label")]
        if current:
            steps.append(html.Span(content, className="crumb crumb-current", **{"aria-current": "step"}))
        else:
            steps.append(
                html.Button(content, id=ids.crumb(i), n_clicks=0, className="crumb",
                            title=f"Back to {entry['label']}")
            )
        if not current:
            steps.append(html.Span("›", className="crumb-sep", **{"aria-hidden": "true"}))
    return html.Nav(steps, className="crumbs", id=ids.CRUMBS, **{"aria-label": "Your search path"})


def random_weights_banner(index: Index) -> dbc.Alert:
    """Why the ranking is meaningless here, and the two ways to give the model real weights."""
    return dbc.Alert(
        [
            html.Strong("Demo mode: the ranking is not meaningful."),
            html.P(
                [
                    f"This catalogue was indexed by {index.model.backbone} with random weights, as happens "
                    "when pretrained ImageNet weights cannot be downloaded. For real recommendations, rebuild "
                    "the index with a local weights file (",
                    html.Code("--weights resnet50.h5"),
                    ") or a TFLite extractor (",
                    html.Code("--backbone PATH.tflite"),
                    "), then serve it:",
                ]
            ),
            html.Pre(
                "python -m recommender build --catalog DIR --out INDEX --backbone PATH.tflite\n"
                "python app.py --index INDEX"
            ),
        ],
        color="warning",
        className="weights-banner",
        id=ids.WEIGHTS_BANNER,
        dismissable=True,  # on a phone it fills the first screen: once read, it can go
    )


def upload_prompt() -> html.Div:
    return html.Div(
        [
            icon("cloud-arrow-up", "upload-icon"),
            html.Div("Upload a photo", className="upload-title"),
            html.Div(["Drag it here or ", html.Span("click to browse", className="upload-link")],
                     className="upload-sub"),
            html.Div("JPEG, PNG or WebP", className="upload-hint"),
        ],
        className="upload-prompt",
    )


def upload_preview(entry: Entry) -> html.Div:
    return html.Div(
        [
            html.Img(src=upload_url(entry["ref"]), alt="Your photo", className="upload-preview-img"),
            html.Div([icon("camera"), "Drop another photo or click to replace"], className="upload-replace"),
        ],
        className="upload-preview",
    )
