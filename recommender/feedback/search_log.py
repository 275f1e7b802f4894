"""The log of anonymous searches and the counts the merchant's Trends page reads from the store.

A search is logged as what the photo looked like (predicted kind and colour) and how near the
catalogue's best answer was: no session, no photo, so the log says what shoppers look for without
saying who. Counts are grouped by UTC day in SQL (portable: `substr` of the ISO time); weeks and
shares are made from the days in `recommender.trends`, so both back ends give the same figures.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from recommender.errors import RecommenderError
from recommender.feedback.schema import MAX_CATALOG, UP, check_text

__all__ = ["SearchLog", "DayCount", "Popular", "ItemTrend", "POPULAR_MIN_SESSIONS"]

SEARCH_ROLES = ("kind", "colour")
SEARCHES_KEPT_DAYS = 400  # a year of trends and the same weeks the year before; older searches are deleted
PURGE_CHANCE = 0.01  # share of logged searches that also delete the ones older than that
POPULAR_MIN_SESSIONS = 3  # sessions that must like (or be shown) a product before it is "popular with shoppers"


class DayCount(NamedTuple):
    day: str  # YYYY-MM-DD, UTC
    value: str  # a kind or a colour ("" when none was predicted)
    searches: int


class Popular(NamedTuple):
    item_id: str
    likes: int  # sessions with a standing thumbs up on it
    shown: int  # sessions it was shown to recently (see `shown`)


class ItemTrend(NamedTuple):
    item_id: str
    recent: int  # standing thumbs up cast in the last period
    before: int  # ... in the period before it


class SearchLog:
    """Mixed into `FeedbackStore`: it provides `_backend`, `_query` and `_now`."""

    _backend: Any
    _query: Callable[..., list[tuple]]
    _now: Callable[[], datetime]

    def log_search(self, catalog: str, kind: str, colour: str, best_item: str, best_alike: float) -> None:
        """Keep one search's tags (one short transaction: a worker killed after it loses nothing)."""
        check_text("catalogue", catalog, MAX_CATALOG)
        check_text("best product", best_item)
        for what, value in (("kind", kind), ("colour", colour)):
            if not isinstance(value, str) or len(value) > 512:
                raise RecommenderError(f"The search's {what} must be a text of at most 512 characters.")
        if not isinstance(best_alike, (int, float)) or not math.isfinite(best_alike) or not 0 <= best_alike <= 1:
            raise RecommenderError("The search's likeness must be a number from 0 to 1.")
        with self._backend.write() as conn:
            conn.execute(
                "INSERT INTO searches (created, catalog, kind, colour, best_item, best_alike)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self._now().isoformat(timespec="milliseconds"), catalog, kind, colour, best_item, float(best_alike)),
            )
        if random.random() < PURGE_CHANCE:
            self.purge_searches()

    def purge_searches(self) -> int:
        """Delete the searches older than SEARCHES_KEPT_DAYS (the log stays bounded); returns how many went."""
        oldest = (self._now() - timedelta(days=SEARCHES_KEPT_DAYS)).isoformat(timespec="milliseconds")
        with self._backend.write() as conn:
            return max(conn.execute("DELETE FROM searches WHERE created < ?", (oldest,)).rowcount, 0)

    def searches_by_day(self, catalog: str, role: str, days: int = 56) -> list[DayCount]:
        """Searches per UTC day and predicted kind or colour (`role`) over the last `days` days, oldest first."""
        if role not in SEARCH_ROLES:
            raise RecommenderError(f"Searches are counted by {' or '.join(SEARCH_ROLES)}, not {role!r}.")
        since = (self._now() - timedelta(days=days)).isoformat(timespec="milliseconds")
        rows = self._query(
            f"SELECT substr(created, 1, 10) AS day, {role}, count(*) FROM searches WHERE catalog = ? AND created >= ?"
            f" GROUP BY day, {role} ORDER BY day, {role}",
            (catalog, since),
        )
        return [DayCount(day, value, int(n)) for day, value, n in rows]

    def lacking_kinds(self, catalog: str, below: float, days: int = 56, n: int = 10) -> list[tuple[str, int, float]]:
        """(kind, searches, their mean likeness) of kinds whose best answer looked less alike than `below`:
        what shoppers photograph that the catalogue does not have, most searched first."""
        since = (self._now() - timedelta(days=days)).isoformat(timespec="milliseconds")
        rows = self._query(
            "SELECT kind, count(*), avg(best_alike) FROM searches WHERE catalog = ? AND created >= ?"
            " AND best_alike < ? GROUP BY kind ORDER BY count(*) DESC, kind LIMIT ?",
            (catalog, since, float(below), int(n)),
        )
        return [(kind, int(count), float(alike)) for kind, count, alike in rows]

    def rising_items(self, catalog: str, days: int = 7, n: int = 10) -> list[ItemTrend]:
        """Products with more standing likes in the last `days` than in the `days` before, most gained first."""
        now = self._now()
        start, middle = ((now - timedelta(days=d)).isoformat(timespec="milliseconds") for d in (2 * days, days))
        recent = f"sum(CASE WHEN created >= ? THEN {UP} ELSE 0 END)"
        before = f"sum(CASE WHEN created < ? THEN {UP} ELSE 0 END)"
        rows = self._query(
            f"SELECT item_id, {recent}, {before} FROM effective_votes WHERE catalog = ? AND created >= ?"
            f" GROUP BY item_id HAVING {recent} > {before} ORDER BY {recent} - {before} DESC, item_id LIMIT ?",
            (middle, middle, catalog, start, middle, middle, middle, middle, int(n)),
        )
        return [ItemTrend(item_id, int(r), int(b)) for item_id, r, b in rows]

    def popular_items(self, catalog: str, n: int = 8, min_sessions: int = POPULAR_MIN_SESSIONS) -> list[Popular]:
        """Products to start from: the most liked (more sessions liking than disliking), then the most shown to
        sessions recently; each by at least `min_sessions` sessions, so one shopper cannot make a product popular."""
        likers, dislikers = (f"count(DISTINCT CASE WHEN vote = {v} THEN session_id END)" for v in (1, -1))
        liked = self._query(
            f"SELECT item_id, {likers} FROM effective_votes WHERE catalog = ? GROUP BY item_id"
            f" HAVING {likers} > {dislikers} AND {likers} >= ? ORDER BY {likers} - {dislikers} DESC, item_id LIMIT ?",
            (catalog, int(min_sessions), int(n)),
        )
        sessions = "count(DISTINCT session_id)"
        shown_sql = (f"SELECT item_id, {sessions} FROM shown WHERE catalog = ? {{}} GROUP BY item_id"
                     f" HAVING {sessions} >= ? ORDER BY {sessions} DESC, item_id LIMIT ?")
        shown = self._query(shown_sql.format(""), (catalog, int(min_sessions), int(n)))
        liked_ids = [item for item, _ in liked]
        shown_by = dict(self._query(shown_sql.format(f"AND item_id IN ({', '.join('?' * len(liked_ids))})"),
                                    (catalog, *liked_ids, 0, len(liked_ids)))) if liked_ids else {}
        popular = [Popular(item, int(likes), int(shown_by.get(item, 0))) for item, likes in liked]
        popular += [Popular(item, 0, int(count)) for item, count in shown if item not in liked_ids]
        return popular[:n]
