"""What shoppers photograph over time, for the merchant: shares of kinds and colours by day or week.

The store counts searches per UTC day (`FeedbackStore.searches_by_day`); this module turns the days
into ISO weeks and shares, the same on SQLite and PostgreSQL because no dialect's date function is
used. A search whose best answer looks less alike than LACKING_BELOW counts as a kind the catalogue
lacks (`FeedbackStore.lacking_kinds`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

import numpy as np

from recommender.engine import Recommender
from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.feedback.search_log import DayCount
from recommender.tags import Tag

__all__ = ["Share", "PERIODS", "LACKING_BELOW", "UNKNOWN", "log_search", "period_of", "shares", "top_values"]

log = logging.getLogger(__name__)

PERIODS = ("day", "week")
LACKING_BELOW = 0.5  # best result less alike than this (recommender.match, 0..1): the catalogue lacks the kind
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


def log_search(engine: Recommender, store: FeedbackStore, code: np.ndarray, tags: Sequence[Tag]) -> None:
    """Log a photo search's predicted kind and colour and how alike its best answer looks (no photo, no session).

    A log that cannot be written costs the shopper nothing: their search goes on, the server logs why.
    """
    try:
        best = engine.query_vector(code, 1)
        if not best:
            return
        alike = engine.ranker.alike(best[0].distance)
        if alike is None:
            alike = best[0].match if best[0].match is not None else 1.0
        predicted = {tag.role: tag.value for tag in tags}
        store.log_search(engine.index.manifest.catalog.identity, predicted.get("category", ""),
                         predicted.get("colour", ""), best[0].id, min(max(float(alike), 0.0), 1.0))
    except RecommenderError as exc:
        log.warning("search not logged for the trends: %s", exc)
