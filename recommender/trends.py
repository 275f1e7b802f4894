"""What shoppers photograph over time, for the merchant: shares of kinds and colours by day or week.

The store counts searches per UTC day (`FeedbackStore.searches_by_day`); this module turns the days
into ISO weeks and shares, the same on SQLite and PostgreSQL because no dialect's date function is
used. A search whose best answer's match (the figure its card shows) is below LACKING_BELOW counts as a
kind the catalogue lacks (`FeedbackStore.lacking_kinds`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple


from recommender.catalog import Product
from recommender.engine import Recommender
from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.feedback.search_log import DayCount, Popular
from recommender.index import Hit, Index
from recommender.query_value import Query
from recommender.tags import Tag

__all__ = ["Share", "PERIODS", "LACKING_BELOW", "UNKNOWN", "log_search", "period_of", "shares", "top_values",
           "start_from"]

log = logging.getLogger(__name__)

PERIODS = ("day", "week")
LACKING_BELOW = 0.5  # best result's match (its card's figure, 0..1) below this: the catalogue lacks the kind
UNKNOWN = "unknown"  # a search whose kind or colour was not predicted
TOP_VALUES = 6  # kinds or colours charted one by one; the rest are "other"
OTHER = "other"


class Share(NamedTuple):
    period: str  # YYYY-MM-DD or YYYY-Www
    value: str
    searches: int
    share: float  # of the period's searches, 0..1


def period_of(day: str, period: str) -> str:
    """The day itself, or its ISO week ("2026-W49": weeks start on Monday)."""
    if period == "day":
        return day
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def top_values(rows: Iterable[DayCount], n: int = TOP_VALUES) -> list[str]:
    """The `n` most searched values over all the rows (ties by name)."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.value or UNKNOWN] += row.searches
    return sorted(totals, key=lambda value: (-totals[value], value))[:n]


def shares(rows: Iterable[DayCount], period: str) -> list[Share]:
    """Each period's searches per value (the top values, the rest as "other") and their share of the period."""
    rows = list(rows)
    kept = set(top_values(rows))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        value = row.value or UNKNOWN
        key = (period_of(row.day, period), value if value in kept else OTHER)
        counts[key] += row.searches
        totals[key[0]] += row.searches
    return [Share(when, value, n, n / totals[when]) for (when, value), n in sorted(counts.items())]


def log_search(engine: Recommender, store: FeedbackStore, query: Query, tags: Sequence[Tag],
               results: Sequence[Hit] | None = None) -> None:
    """Log a photo search's predicted kind and colour and its best answer's match (no photo, no session).

    `results`: the query's unfiltered results when the caller has them (the API), whose first is the best
    answer; None searches for it here (the page, whose results are drawn by a later callback). The match kept is
    the one the best answer's card shows (`recommender.match`), so "kinds the catalogue lacks" judges by the figure
    shoppers saw; a card without one (a catalogue of one product) is no lack.
    A log that cannot be written costs the shopper nothing: their search goes on, the server logs why.
    """
    try:
        best = engine.search(query, 1) if results is None else results[:1]
        if not best:
            return
        match = 1.0 if best[0].match is None else min(max(float(best[0].match), 0.0), 1.0)
        predicted = {tag.role: tag.value for tag in tags}
        store.log_search(engine.index.manifest.catalog.identity, predicted.get("category", ""),
                         predicted.get("colour", ""), best[0].id, match)
    except RecommenderError as exc:
        log.warning("search not logged for the trends: %s", exc)


def start_from(index: Index, popular: Sequence[Popular], n: int = 8) -> list[tuple[Product, str]]:
    """Products to begin a search from, with why: the popular ones still in the catalogue (most liked, then
    most shown), then one product of each kind not yet there, most common kinds first (a varied start)."""
    chosen = [(index.product(p.item_id), _why(p)) for p in popular if p.item_id in index][:n]
    attribute = index.roles.category
    if len(chosen) >= n or attribute is None:
        return chosen
    kinds = {product.attributes.get(attribute) for product, _ in chosen}
    first_of: dict[str, Product] = {}
    for product in index.products:
        kind = product.attributes.get(attribute)
        if kind and kind not in kinds:
            first_of.setdefault(kind, product)
    counts = index.attribute_values(attribute)
    for kind in sorted(first_of, key=lambda k: (-counts.get(k, 0), k))[: n - len(chosen)]:
        chosen.append((first_of[kind], kind))
    return chosen


def _why(popular: Popular) -> str:
    if popular.likes:
        return f"{popular.likes} like{'s' if popular.likes != 1 else ''}"
    return "Often viewed"
