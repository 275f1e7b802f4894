"""The merchant's Audit page: the catalogue's suspect labels, to accept or reject, and the fixes as CSV.

Only with RECOMMENDER_MERCHANT_TOOLS=1 (shoppers never see it: no link, no content, no export). It
shows the report `python -m recommender audit` saved beside the index (`recommender.audit_store`),
read once per file version, PAGE_SIZE suspects at a time, so a 44k catalogue's page is as fast as
a small one's. Decisions are kept in the feedback database, one standing decision per suspect.
"""

from __future__ import annotations

import functools
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import MATCH, Dash, Input, Output, State, ctx, dcc, html

from recommender.audit import MIN_PRODUCTS, TINY_SIDE, AuditReport, Suspect
from recommender.audit_store import AUDIT_FILE, fixes_csv, load_report
from recommender.errors import RecommenderError
from recommender.ui import ids
from recommender.ui.components import merchant_page_off, thumbnail_url
from recommender.ui.guard import public_message
from recommender.ui.services import Services, get_services

dash.register_page(
    __name__,
    path="/audit",
    name="Audit",
    title="Lookalike · Catalogue audit",
    description="Labels the pictures disagree with, duplicates and broken pictures of the catalogue.",
    merchant=True,  # listed in the navigation only with the merchant's tools on
    order=5,
)

PAGE_SIZE = 10
SHOWN_NEIGHBOURS = 5
EXPORT_ROUTE = "audit/fixes.csv"
SHOWN_DUPLICATES = 6  # pictures shown of a group of duplicates
AUDIT_COMMAND = "python -m recommender audit --index DIR"
NOT_AUDITED = ("There is no audit of this catalogue's current build yet. An audit checks each product's category "
               "label against its picture, and looks for pictures filed twice, broken pictures and thin categories: "
               f"run {AUDIT_COMMAND} on the server, DIR being the index folder this app serves "
               "(its start line names it), then reload this page.")
ORDER = ("The most doubtful label comes first: its picture's nearest products and a model trained on the others rate "
         "it furthest below that label's usual products. “Sure” is how strongly they suggest the value suggested.")

# the page's reader cannot audit another index from here: what the caveat means for the decisions they make on it
TRAINED = ("This catalogue's model learnt these same labels, so a wrong label it learnt from can look right: some "
           "wrong labels are not listed here. Accept a suggestion when the picture agrees with it.")


@functools.lru_cache(maxsize=4)
def _report(index_dir: str, _version: int) -> AuditReport:
    return load_report(Path(index_dir))


def current_report(services: Services) -> AuditReport:
    """The saved audit of the served index, read again only when its file changes."""
    path = services.engine.index.path
    try:
        version = (path / AUDIT_FILE).stat().st_mtime_ns
    except OSError:
        version = 0
    return _report(str(path), version)


def _label(services: Services, product_id: str, attribute: str) -> str:
    try:
        return services.engine.index.product(product_id).attributes.get(attribute, "")
    except KeyError:
        return ""


def _decision_text(decision: str | None, suspect: Suspect) -> str:
    return {"accept": f"Accepted: {suspect.label} becomes {suspect.suggested}.",
            "reject": f"Rejected: {suspect.label} stays."}.get(decision or "", "Not decided yet.")


DECISION_STYLE = {"accept": "success", "reject": "dark"}


def _button_look(kind: str, decision: str | None) -> tuple[str, str]:
    """(className, aria-pressed) of the Accept or Reject button under a decision: filled when chosen."""
    chosen = decision == kind
    return (f"btn btn-sm audit-decide btn-{'' if chosen else 'outline-'}{DECISION_STYLE[kind]}",
            "true" if chosen else "false")


def _buttons(suspect: Suspect, decision: str | None) -> list:
    buttons = []
    for kind, pattern in (("accept", ids.AUDIT_ACCEPT), ("reject", ids.AUDIT_REJECT)):
        class_name, pressed = _button_look(kind, decision)
        buttons.append(html.Button(kind.capitalize(), id=ids.suspect(pattern, suspect.id, suspect.attribute),
                                   n_clicks=0, className=class_name, **{"aria-pressed": pressed}))
    return buttons


def _caption(text: str) -> html.Figcaption:
    """A thumbnail's caption, cut to its box on a phone: its title gives the whole of it to a pointer."""
    return html.Figcaption(text, title=text, className="small")


def suspect_card(services: Services, suspect: Suspect, decision: str | None) -> dbc.Card:
    """A suspect: its picture and name, its label and the suggestion, its nearest products, the decision."""
    index = services.engine.index
    name = index.product(suspect.id).name if suspect.id in index else suspect.id
    neighbours = [
        html.Figure([html.Img(src=thumbnail_url(n), alt="", className="audit-neighbour-img"),
                     _caption(_label(services, n, suspect.attribute) or "–")], className="audit-neighbour m-0")
        for n in suspect.neighbours[:SHOWN_NEIGHBOURS] if n in index
    ]
    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    dbc.Col(html.Img(src=thumbnail_url(suspect.id), alt=name, className="audit-picture"), xs=4, md=2),
                    dbc.Col(
                        [
                            html.H3(name, className="h6 mb-1"),
                            html.P([f"{index.roles.label(suspect.attribute)}: ", html.Strong(suspect.label),
                                    " → suggested ",
                                    html.Strong(suspect.suggested), f" ({suspect.confidence:.0%} sure)"],
                                   className="mb-2 small"),
                            html.Div(_buttons(suspect, decision), className="d-flex gap-2 mb-1",
                                     role="group", **{"aria-label": f"Decision on {name}"}),
                            html.Div(_decision_text(decision, suspect), className="small text-muted",
                                     id=ids.suspect(ids.AUDIT_STATUS, suspect.id, suspect.attribute),
                                     **{"aria-live": "polite"}),
                        ],
                        xs=8, md=4,
                    ),
                    dbc.Col([html.Div("Nearest products", className="small text-muted mb-1"),
                             html.Div(neighbours, className="audit-neighbours")], xs=12, md=6),
                ],
                className="g-2 align-items-center",
            )
        ),
        className="mb-3 shadow-sm audit-suspect",
    )


def suspects_page(services: Services, report: AuditReport, page: int) -> tuple[list, str, bool, bool]:
    """(cards, "Suspects 11–20 of 812", previous disabled, next disabled) for page `page` (from 0)."""
    total = len(report.suspects)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = report.suspects[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    decisions = services.feedback.decisions(services.engine.index.manifest.catalog.identity) if shown else {}
    cards = [suspect_card(services, s, decisions.get((s.id, s.attribute), (None,))[0]) for s in shown]
    if not total:
        checked = checked_labels(services, report)
        text = (f"No label looks wrong: each product's {checked} was checked against its picture's nearest products "
                "and a model trained on the others." if checked else "No label was checked: the catalogue has none.")
        return [html.P(text, className="text-muted")], "No suspect labels", True, True
    label = f"Suspects {page * PAGE_SIZE + 1:,}–{page * PAGE_SIZE + len(shown):,} of {total:,}"
    return cards, label, page == 0, page >= pages - 1


def checked_labels(services: Services, report: AuditReport) -> str:
    """The labels the audit checked, as words within a sentence, for the empty findings' sentences: a role's word
    lower-cased ("category"), any other attribute as the catalogue spells it ("subCategory", not "subcategory")."""
    roles = services.engine.index.roles
    return ", ".join(roles.label(a).lower() if roles.role_of(a) else a for a in report.attributes)


def duplicate_group(services: Services, group: dict) -> html.Li:
    """A group of products showing the same picture: each one's thumbnail, name and id (the id is what a merchant
    deletes or merges by, and a phone has no hover to show it)."""
    index = services.engine.index
    shown = [i for i in group["ids"] if i in index][:SHOWN_DUPLICATES]
    pictures = [html.Figure([html.Img(src=thumbnail_url(i), alt="", className="audit-neighbour-img"),
                             _caption(index.product(i).name),
                             html.Div(i, className="audit-id small text-muted", title=f"id {i}")],
                            className="audit-neighbour audit-duplicate m-0")
                for i in shown]
    more = len(group["ids"]) - len(shown)
    return html.Li([html.Div(f"{len(group['ids'])} products show the same picture"
                             + (f" ({more} more not shown)" if more else ""), className="small text-muted mb-1"),
                    html.Div(pictures, className="audit-neighbours")], className="mb-3")


def _listed(items: list, empty: str, class_name: str = "") -> html.Ul | html.P:
    """The findings as a list, or the sentence saying what was checked and found clean."""
    return html.Ul(items, className=class_name) if items else html.P(empty, className="text-muted")


def other_findings(services: Services, report: AuditReport) -> html.Div:
    """Duplicates, broken pictures and thin categories; an empty list says what was checked."""
    count = len(services.engine.index)
    labels = checked_labels(services, report)
    images = [html.Li(f"{i['id']}: {i['reason']}") for i in report.images[:20]]
    thin = [html.Li(f"{services.engine.index.roles.label(t['attribute'])} {t['value']}: {t['count']} products")
            for t in report.thin[:20]]
    return html.Div([
        html.H2(f"Near-duplicate pictures ({len(report.duplicates):,} groups)", className="h5 mt-4"),
        _listed([duplicate_group(services, g) for g in report.duplicates[:PAGE_SIZE]],
                f"None: no two of the {count:,} pictures are the same shot (near in the model's vectors and alike "
                "pixel for pixel, or the very same file).", "list-unstyled audit-duplicates"),
        html.H2(f"Broken, blank or tiny pictures ({len(report.images):,})", className="h5 mt-4"),
        _listed(images, f"None: every picture was read, none is blank and none is under {TINY_SIDE} px on its "
                "shorter side."),
        html.H2(f"Thin categories ({len(report.thin):,})", className="h5 mt-4"),
        _listed(thin, f"None: every {labels} value has at least {MIN_PRODUCTS} products." if report.attributes
                else "None: the catalogue has no category labels to count."),
    ])


def _content(services: Services) -> html.Div | dbc.Alert:
    try:
        report = current_report(services)
    except RecommenderError as exc:
        message = public_message(exc, NOT_AUDITED)
        before, command, after = message.partition(AUDIT_COMMAND)  # the command set as code, to copy
        return dbc.Alert([before, html.Code(command), after] if command else message, color="warning",
                         id="audit-missing")
    cards, label, no_prev, no_next = suspects_page(services, report, 0)
    return html.Div([
        *(dbc.Alert(note, color="info") for note in report.notes + ([TRAINED] if report.trained_on_labels else [])),
        html.Div([
            html.H2("Suspect labels", className="h5 mb-0 me-auto"),
            dbc.Button("Download accepted fixes (CSV)", href=dash.get_relative_path(f"/{EXPORT_ROUTE}"),
                       id=ids.AUDIT_EXPORT, download="accepted-fixes.csv", external_link=True, color="dark",
                       outline=True, size="sm"),
        ], className="d-flex flex-wrap align-items-center gap-2 mb-2"),
        html.P(ORDER, className="small text-muted") if report.suspects else None,
        html.Div(cards, id=ids.AUDIT_LIST),
        html.Nav([
            dbc.Button("Previous", id=ids.AUDIT_PREV, disabled=no_prev, color="dark", outline=True, size="sm"),
            html.Span(label, id=ids.AUDIT_PAGE_LABEL, className="small mx-2", **{"aria-live": "polite"}),
            dbc.Button("Next", id=ids.AUDIT_NEXT, disabled=no_next, color="dark", outline=True, size="sm"),
        ], className="d-flex align-items-center", **{"aria-label": "Pages of suspects"}),
        other_findings(services, report),
    ])


def layout(**_query: str) -> html.Div:
    services = get_services()
    if not services.settings.merchant_tools:
        return merchant_page_off()
    return html.Div([
        html.H1("Catalogue audit", className="page-title h2 my-3"),
        dcc.Store(id=ids.AUDIT_PAGE, data=0),
        _content(services),
    ], className="audit-page")


def turn_page(_prev: int | None, _next: int | None, page: int | None) -> tuple:
    """Previous / Next: the suspects of the page before or after."""
    services = get_services()
    if not services.settings.merchant_tools:
        raise dash.exceptions.PreventUpdate
    page = (page or 0) + (1 if ctx.triggered_id == ids.AUDIT_NEXT else -1)
    report = current_report(services)
    cards, label, no_prev, no_next = suspects_page(services, report, page)
    pages = max(1, -(-len(report.suspects) // PAGE_SIZE))
    return min(max(page, 0), pages - 1), cards, label, no_prev, no_next


def decide(_accept: int | None, _reject: int | None) -> tuple:
    """Accept or Reject: kept in the feedback database; the buttons and the line below them say which."""
    services = get_services()
    button = ctx.triggered_id
    if not services.settings.merchant_tools or not isinstance(button, dict):
        raise dash.exceptions.PreventUpdate
    item, attribute = str(button.get("item")), str(button.get("attribute"))
    suspect = next((s for s in current_report(services).suspects if (s.id, s.attribute) == (item, attribute)), None)
    if suspect is None:
        raise dash.exceptions.PreventUpdate
    decision = "accept" if button.get("type") == ids.AUDIT_ACCEPT else "reject"
    try:
        services.feedback.decide(services.engine.index.manifest.catalog.identity, item, attribute, suspect.label,
                                 suspect.suggested, decision)
    except RecommenderError as exc:
        message = public_message(exc, "The decision could not be saved right now; please try again.")
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update, message
    return (*_button_look("accept", decision), *_button_look("reject", decision), _decision_text(decision, suspect))


def export_fixes() -> flask.Response:
    """GET audit/fixes.csv: the accepted fixes in the catalogue's own columns (404 without the merchant's tools)."""
    services = get_services()
    if not services.settings.merchant_tools:
        flask.abort(404)
    index = services.engine.index
    try:
        decisions = services.feedback.decisions(index.manifest.catalog.identity)
    except RecommenderError as exc:
        return flask.Response(public_message(exc, "The decisions cannot be read right now.") + "\n", 503,
                              mimetype="text/plain")
    body = fixes_csv(index.manifest, {p.id: p for p in index.products}, decisions)
    return flask.Response(body, mimetype="text/csv",
                          headers={"Content-Disposition": "attachment; filename=accepted-fixes.csv"})


def register_callbacks(app: Dash) -> None:
    """Attach this page's callbacks, and its CSV export route, to `app`."""
    app.callback(
        Output(ids.AUDIT_PAGE, "data"), Output(ids.AUDIT_LIST, "children"), Output(ids.AUDIT_PAGE_LABEL, "children"),
        Output(ids.AUDIT_PREV, "disabled"), Output(ids.AUDIT_NEXT, "disabled"),
        Input(ids.AUDIT_PREV, "n_clicks"), Input(ids.AUDIT_NEXT, "n_clicks"), State(ids.AUDIT_PAGE, "data"),
        prevent_initial_call=True,
    )(turn_page)
    match = (MATCH, MATCH)
    app.callback(
        Output(ids.suspect(ids.AUDIT_ACCEPT, *match), "className"),
        Output(ids.suspect(ids.AUDIT_ACCEPT, *match), "aria-pressed"),
        Output(ids.suspect(ids.AUDIT_REJECT, *match), "className"),
        Output(ids.suspect(ids.AUDIT_REJECT, *match), "aria-pressed"),
        Output(ids.suspect(ids.AUDIT_STATUS, *match), "children"),
        Input(ids.suspect(ids.AUDIT_ACCEPT, *match), "n_clicks"),
        Input(ids.suspect(ids.AUDIT_REJECT, *match), "n_clicks"),
        prevent_initial_call=True,
    )(decide)
    prefix = app.config.routes_pathname_prefix
    app.server.add_url_rule(f"{prefix}{EXPORT_ROUTE}", "audit_fixes", export_fixes)
