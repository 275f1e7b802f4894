"""A shopper's likes across visits, and forgetting them.

The likes are the standing thumbs up of the shopper's signed session id (`ui.session`): a shopper who
asks to be remembered keeps that id in a long-lived cookie, and the store keeps a `profiles` row
saying so. "Forget me" deletes that row and cuts the link between the votes and the shopper in
one transaction: the votes stay (they are the shop's statistics), under a new random id nobody holds.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from recommender.feedback.schema import MAX_CATALOG, check_text

__all__ = ["Profiles", "FORGOTTEN_PREFIX", "MAX_LIKES", "MAX_DISLIKES"]

FORGOTTEN_PREFIX = "forgotten-"  # the session id of votes whose shopper asked to be forgotten
MAX_LIKES = 50  # the latest likes a profile is made of
MAX_DISLIKES = 500  # the latest thumbs down kept off a shopper's "For you" page


class Profiles:
    """Mixed into `FeedbackStore`: it provides `_backend`, `_query` and `_now`."""

    _backend: Any
    _query: Callable[..., list[tuple]]
    _now: Callable[[], datetime]

    def likes(self, catalog: str, session_id: str, n: int = MAX_LIKES) -> list[str]:
        """The products a shopper likes now (standing thumbs up, over all their searches), latest first, once each."""
        return self._standing(catalog, session_id, 1, n)

    def dislikes(self, catalog: str, session_id: str, n: int = MAX_DISLIKES) -> list[str]:
        """The products a shopper gave a standing thumbs down (from any search), latest first, once each."""
        return self._standing(catalog, session_id, -1, n)

    def _standing(self, catalog: str, session_id: str, vote: int, n: int) -> list[str]:
        check_text("catalogue", catalog, MAX_CATALOG)
        check_text("session id", session_id)
        rows = self._query(
            "SELECT item_id, max(event_id) AS latest FROM effective_votes WHERE catalog = ? AND session_id = ?"
            " AND vote = ? GROUP BY item_id ORDER BY latest DESC LIMIT ?",
            (catalog, session_id, int(vote), int(n)),
        )
        return [item_id for item_id, _latest in rows]

    def remember(self, session_id: str) -> None:
        """Note that this shopper asked to be remembered (kept once; asking again changes nothing)."""
        check_text("session id", session_id)
        with self._backend.write() as conn:
            conn.execute("INSERT INTO profiles (session_id, created) VALUES (?, ?) ON CONFLICT (session_id) DO NOTHING",
                         (session_id, self._now().isoformat(timespec="milliseconds")))

    def remembered(self, session_id: str) -> bool:
        """Whether this shopper asked to be remembered (and has not asked to be forgotten since)."""
        return bool(self._query("SELECT 1 FROM profiles WHERE session_id = ?", (check_text("session id", session_id),)))

    def forget(self, session_id: str) -> int:
        """Delete the shopper's profile and what was shown to them, and re-key their votes to a random id
        nobody holds (the votes stay, anonymous); returns how many vote events were anonymised."""
        check_text("session id", session_id)
        anonymous = FORGOTTEN_PREFIX + secrets.token_hex(16)
        with self._backend.write() as conn:
            conn.execute("DELETE FROM profiles WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM shown WHERE session_id = ?", (session_id,))
            conn.execute("UPDATE latest_votes SET session_id = ? WHERE session_id = ?", (anonymous, session_id))
            cursor = conn.execute("UPDATE votes SET session_id = ? WHERE session_id = ?", (anonymous, session_id))
            return max(cursor.rowcount, 0)
