"""The merchant's Trends page: what shoppers photograph over time, and which products rise or fall.

Only with RECOMMENDER_MERCHANT_TOOLS=1, like the Audit page. It reads the anonymous search log
(kind and colour predicted for each photo search, no photo, no session) and the votes, on SQLite
or PostgreSQL alike (`FeedbackStore`); shares by day or week come from `recommender.trends`. Each
chart has its numbers beside it in a table, and in words for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from recommender.colours import colour_hex
from recommender.errors import RecommenderError
from recommender.feedback import ItemTotals
from recommender.trends import LACKING_BELOW, PERIODS, shares
from recommender.ui import ids
from recommender.ui.components import merchant_page_off, more_like_url, thumbnail_url
from recommender.ui.figures import TEMPLATE, graph
from recommender.ui.guard import public_message
from recommender.ui.services import Services, get_services

dash.register_page(
    __name__,
    path="/trends",
    name="Trends",
    title="Lookalike · Trends",
    description="What shoppers photograph, by week and day; rising, liked and disliked products; missing kinds.",
    merchant=True,  # listed in the navigation only with the merchant's tools on
    order=4,
)

DAYS = {"day": 14, "week": 56}  # how far back each view looks
TABLE_PERIODS = 4  # the latest periods the table beside a chart spells out
TOP_PRODUCTS = 8
ROLE_WORDS = {"kind": "kind", "colour": "colour"}


def _share_figure(rows: Sequence, period: str, role: str) -> go.Figure:
    """Each period's searches as shares of the top kinds (or colours), stacked to 100 %."""
    fig = go.Figure()
    periods = sorted({s.period for s in rows})
    for value in dict.fromkeys(s.value for s in sorted(rows, key=lambda s: -s.searches)):
        by_period = {s.period: s.share for s in rows if s.value == value}
        paint = colour_hex(value) if role == "colour" else None  # a colour's bar in that colour
        fig.add_trace(go.Bar(name=value, x=periods, y=[by_period.get(p, 0.0) for p in periods], marker_color=paint,
                             marker_line=dict(color="#8a8c94", width=1 if paint else 0)))
    fig.update_layout(barmode="stack", template=TEMPLATE, title=f"Searches by {ROLE_WORDS[role]}, per {period}",
                      margin=dict(l=10, r=10, t=50, b=10), height=320, legend=dict(orientation="h", y=-0.15))
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title="share of searches")
    fig.update_xaxes(type="category")
    return fig


def _share_table(rows: Sequence, role: str) -> dbc.Table:
    """The chart's numbers: share (and searches) of each value in the latest periods."""
    periods = sorted({s.period for s in rows})[-TABLE_PERIODS:]
    cell = {(s.period, s.value): s for s in rows}
    values = list(dict.fromkeys(s.value for s in sorted(rows, key=lambda s: -s.searches)))
    head = html.Thead(html.Tr([html.Th(ROLE_WORDS[role].capitalize(), scope="col"),
                               *[html.Th(p, scope="col") for p in periods]]))
    body = html.Tbody([
        html.Tr([html.Th(value, scope="row"), *[
            html.Td(f"{cell[p, value].share:.0%} ({cell[p, value].searches})" if (p, value) in cell else "–")
            for p in periods]])
        for value in values])
    return dbc.Table([html.Caption(f"Share of searches by {ROLE_WORDS[role]} (and their number)"), head, body],
                     bordered=False, size="sm", className="trend-table", responsive=True)


def _shares_row(services: Services, catalog: str, period: str, role: str) -> dbc.Row | None:
    rows = shares(services.feedback.searches_by_day(catalog, role, DAYS[period]), period)
    if not rows:
        return None
    return dbc.Row([dbc.Col(graph(_share_figure(rows, period, role)), lg=7),
                    dbc.Col(_share_table(rows, role), lg=5)], className="g-3 mb-4", id=f"trends-{role}")


def _product(services: Services, item_id: str) -> html.Span | str:
    """A product's cell: its picture and name, a link to more like it (names repeat: "Black shoes, adults")."""
    index = services.engine.index
    if item_id not in index:
        return f"{item_id} (no longer in the catalogue)"
    name = index.product(item_id).name
    return html.Span([html.Img(src=thumbnail_url(item_id), alt="", className="trend-thumb"),
                      html.A(name, href=more_like_url(item_id), title=f"{name} ({item_id}): more like it")],
                     className="trend-product")


def _table(caption: str, columns: Sequence[str], rows: Sequence[Sequence[object]], empty: str,
           table_id: str) -> html.Div:
    if not rows:
        return html.Div([html.H2(caption, className="h5 mt-3"), html.P(empty, className="text-muted")], id=table_id)
    return html.Div(dbc.Table(
        [html.Caption(caption), html.Thead(html.Tr([html.Th(c, scope="col") for c in columns])),
         html.Tbody([html.Tr([html.Th(row[0], scope="row"), *[html.Td(str(v)) for v in row[1:]]])
                     for row in rows])],
        size="sm", className="trend-table", responsive=True), id=table_id)


def _votes(services: Services, totals: Sequence[ItemTotals]) -> list[list[object]]:
    return [[_product(services, t.item_id), t.up, t.down] for t in totals]


def trends_content(services: Services, period: str) -> html.Div | dbc.Alert:
    """Everything below the title for one view (`period`: day or week), from the store as it is now."""
    store, catalog = services.feedback, services.engine.index.manifest.catalog.identity
    charts = [row for role in ("kind", "colour") if (row := _shares_row(services, catalog, period, role))]
    lacking = store.lacking_kinds(catalog, LACKING_BELOW, DAYS["week"])
    liked, disliked = store.item_totals(catalog, True, TOP_PRODUCTS), store.item_totals(catalog, False, TOP_PRODUCTS)
    rising = [[_product(services, t.item_id), t.recent, t.before] for t in store.rising_items(catalog, 7, TOP_PRODUCTS)]
    if not (charts or liked or disliked):
        return dbc.Alert([html.H2("No searches yet", className="h4 alert-heading"),
                          html.P("Trends appear here once shoppers search with photos and vote on the results.",
                                 className="mb-0")], color="info", id=ids.TRENDS_EMPTY)
    words = [f"{kind or 'unknown'}" for kind, _, _ in lacking]
    lacking_sentence = (f"Searched, but the best result matched under {LACKING_BELOW:.0%}: {', '.join(words)}."
                        if lacking else f"Every kind searched had a result matching {LACKING_BELOW:.0%} or more.")
    return html.Div([
        html.H2("What shoppers photograph", className="h4 mt-2"),
        *charts,
        html.H2("Kinds the catalogue lacks", className="h4 mt-2"),
        html.P(lacking_sentence),
        _table("Searches whose best result matched poorly", ["Kind", "Searches", "Mean best match"],
               [[kind or "unknown", n, f"{alike:.0%}"] for kind, n, alike in lacking], "None in the last 8 weeks.",
               "trends-lacking") if lacking else None,
        dbc.Row([
            dbc.Col(_table("Rising: more likes this week than last", ["Product", "This week", "Last week"],
                           rising, "No product gained likes this week.",
                           "trends-rising"), lg=4),
            dbc.Col(_table("Most liked", ["Product", "Up", "Down"], _votes(services, liked),
                           "No product has more thumbs up than down yet.", "trends-liked"), lg=4),
            dbc.Col(_table("Most disliked", ["Product", "Up", "Down"], _votes(services, disliked),
                           "No product has more thumbs down than up yet.", "trends-disliked"), lg=4),
        ], className="g-3"),
    ])


def _current(period: str) -> html.Div | dbc.Alert:
    try:
        return trends_content(get_services(), period)
    except RecommenderError as exc:
        return dbc.Alert(public_message(exc, "The trends cannot be read right now; please try again in a moment."),
                         color="danger")


def layout(**_query: str) -> html.Div:
    if not get_services().settings.merchant_tools:
        return merchant_page_off()
    return html.Div([
        html.H1("Trends", className="page-title h2 my-3"),
        html.P("What shoppers photograph and how they vote. Searches are logged as their predicted kind and "
               "colour only: no photo, no shopper.", className="hero-sub"),
        html.Fieldset([html.Legend("Group searches", className="visually-hidden"),
                       dbc.RadioItems(id=ids.TRENDS_PERIOD, options=[{"label": f"By {p}", "value": p} for p in PERIODS],
                                      value="week", inline=True)], className="my-3"),
        dcc.Loading(html.Div(_current("week"), id=ids.TRENDS_CONTENT), delay_show=500),
    ], className="trends-page")


def redraw(period: str | None) -> html.Div | dbc.Alert:
    """Day or week: the page again, grouped that way."""
    if not get_services().settings.merchant_tools or period not in PERIODS:
        raise PreventUpdate
    return _current(period)


def register_callbacks(app: Dash) -> None:
    """Attach this page's callbacks to `app`."""
    app.callback(Output(ids.TRENDS_CONTENT, "children"), Input(ids.TRENDS_PERIOD, "value"),
                 prevent_initial_call=True)(redraw)
