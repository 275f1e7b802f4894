"""The vote store: what the server showed, the votes on it, and the analytics of one catalogue.

Concurrency: every call opens its own short-lived connection (the Dash server answers in threads,
gunicorn in processes, and several app servers may share one PostgreSQL), and each vote is one
transaction that appends the event and moves the standing vote of its key, so no vote is lost and
the standing vote is always the latest event. A lock held past a few seconds refuses the vote with
a sentence (`backends.BUSY`) rather than blocking the worker.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from recommender.errors import RecommenderError
from recommender.feedback.backends import open_backend
from recommender.feedback.profiles import Profiles
from recommender.feedback.schema import (
    DECISIONS,
    DOWN,
    MAX_CATALOG,
    SANE,
    SCHEMA_VERSION,
    UP,
    DayVotes,
    ItemTotals,
    Rate,
    VoteEvent,
    check_text,
    ddl,
    validated_shown,
    validated_vote,
)  # fmt: skip
from recommender.feedback.search_log import SearchLog

__all__ = ["FeedbackStore", "SHOWN_TTL_S", "SHOWN_PER_SESSION", "SHOWN_TOTAL"]

SHOWN_TTL_S = 6 * 3600  # a result can be voted on for six hours after it was shown
SHOWN_PER_SESSION = 1000  # the most recent results kept per session (ten pages of 100)
SHOWN_TOTAL = 100_000  # the most recent results kept over all sessions (about 35 MB): sessions cost nothing to make
PURGE_CHANCE = 0.05  # share of `record_shown` calls that also delete expired rows and trim to SHOWN_TOTAL
DISTANCE_ABS_TOL = 1e-6  # a distance that went through the browser's JSON comes back equal; float32 nearly
DISTANCE_REL_TOL = 1e-5


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class FeedbackStore(SearchLog, Profiles):
    """A vote log in one SQLite file or one PostgreSQL database, safe to share between threads and processes.

    Also the log of anonymous searches (`SearchLog`) and the shoppers' profiles (`Profiles`), in the same database.
    """

    def __init__(self, target: str | Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        """Open (and create or migrate) the store at an SQLite path or a postgresql:// URL.

        `clock` exists for tests. An unreachable database fails here, once, with one sentence.
        """
        self._backend = open_backend(target)
        self.path = getattr(self._backend, "path", None)  # the SQLite file, None for PostgreSQL
        self.label = self._backend.label
        self._clock = clock
        self._backend.prepare()
        self._init_schema()
        self._backend.release()  # nothing of start-up stays open (a server may fork after it)

    def _init_schema(self) -> None:
        with self._backend.write() as conn:
            version = self._backend.schema_version(conn)
            if version > SCHEMA_VERSION:
                raise RecommenderError(f"{self.label[:1].upper()}{self.label[1:]} cannot be used: its schema "
                                       f"version {version} is newer than this program's {SCHEMA_VERSION}.")
            if version < SCHEMA_VERSION:
                for statement in ddl(self._backend.dialect, from_version=version):
                    conn.execute(statement)
                self._backend.set_schema_version(conn, SCHEMA_VERSION)

    def _now(self) -> datetime:
        return self._clock().astimezone(timezone.utc)

    # ---------------------------------------------------------------- what was shown

    def record_shown(self, session_id: str, catalog: str, query_ref: str,
                     shown: Sequence[tuple[str, int, float]]) -> None:
        """Remember the results shown to a session for a query, so votes on them (and only them) count.

        Bounded: rows expire after SHOWN_TTL_S, a session keeps its SHOWN_PER_SESSION latest, and all sessions
        together their SHOWN_TOTAL latest (trimmed with the purge, so exceeded by a few calls' rows at most).
        """
        check_text("session id", session_id)
        check_text("catalogue", catalog, MAX_CATALOG)
        check_text("query reference", query_ref)
        results = validated_shown(shown)
        if not results:
            return
        now = self._now().timestamp()
        with self._backend.write() as conn:
            for result in results:
                conn.execute(
                    "INSERT INTO shown (catalog, session_id, query_ref, item_id, rank, distance, shown_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (catalog, session_id, query_ref, item_id, rank)"
                    " DO UPDATE SET distance = excluded.distance, shown_at = excluded.shown_at",
                    (catalog, session_id, query_ref, *result, now),
                )
            conn.execute(
                "DELETE FROM shown WHERE session_id = ? AND shown_at < (SELECT shown_at FROM shown"
                " WHERE session_id = ? ORDER BY shown_at DESC LIMIT 1 OFFSET ?)",
                (session_id, session_id, SHOWN_PER_SESSION - 1),
            )
        if random.random() < PURGE_CHANCE:
            self.purge_expired()

    def purge_expired(self) -> int:
        """Delete the shown results too old to be voted on, then the oldest beyond SHOWN_TOTAL; returns how many
        went. A cookie-less client gets a new session with every request, so only a total bounds the table."""
        with self._backend.write() as conn:
            cursor = conn.execute("DELETE FROM shown WHERE shown_at < ?", (self._now().timestamp() - SHOWN_TTL_S,))
            expired = max(cursor.rowcount, 0)
            cursor = conn.execute("DELETE FROM shown WHERE shown_at < (SELECT shown_at FROM shown ORDER BY shown_at"
                                  " DESC LIMIT 1 OFFSET ?)", (SHOWN_TOTAL - 1,))
            return expired + max(cursor.rowcount, 0)

    # ---------------------------------------------------------------- votes

    def record(self, event: VoteEvent) -> None:
        """Append one vote event, stamped with the current UTC time, and move its standing vote.

        Refused (one sentence) unless the server showed this item to this session for this query,
        at this rank and distance, less than SHOWN_TTL_S ago.
        """
        row = validated_vote(event)
        catalog, session_id, _kind, query_ref, _filters, item_id, rank, distance, backbone, vote = row
        now = self._now()
        created = now.isoformat(timespec="milliseconds")
        with self._backend.write() as conn:
            shown = conn.execute(
                "SELECT distance FROM shown WHERE catalog = ? AND session_id = ? AND query_ref = ? AND item_id = ?"
                " AND rank = ? AND shown_at >= ?",
                (catalog, session_id, query_ref, item_id, rank, now.timestamp() - SHOWN_TTL_S),
            ).fetchall()
            if not any(math.isclose(distance, d, rel_tol=DISTANCE_REL_TOL, abs_tol=DISTANCE_ABS_TOL)
                       for (d,) in shown):
                raise RecommenderError("This result was not shown to you for this search (or was shown too long "
                                       "ago); search again and vote then.")
            (event_id,) = conn.execute(
                "INSERT INTO votes (created, catalog, session_id, query_kind, query_ref, filters, item_id,"
                " rank, distance, backbone, vote) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (created, *row),
            ).fetchone()
            # The highest event id wins even when two writers' transactions finish out of order.
            conn.execute(
                "INSERT INTO latest_votes (catalog, session_id, query_ref, item_id, event_id, created, rank,"
                " distance, backbone, vote) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (catalog, session_id, query_ref, item_id) DO UPDATE SET"
                " event_id = excluded.event_id, created = excluded.created, rank = excluded.rank,"
                " distance = excluded.distance, backbone = excluded.backbone, vote = excluded.vote"
                " WHERE latest_votes.event_id < excluded.event_id",
                (catalog, session_id, query_ref, item_id, event_id, created, rank, distance, backbone, vote),
            )

    def current_votes(self, catalog: str, session_id: str, query_ref: str) -> dict[str, int]:
        """The standing vote of each item a session voted on for one query (withdrawn ones left out)."""
        rows = self._query(
            "SELECT item_id, vote FROM latest_votes WHERE catalog = ? AND session_id = ? AND query_ref = ?"
            " AND vote <> 0",
            (catalog, session_id, query_ref),
        )
        return dict(rows)

    # ---------------------------------------------------------------- analytics of one catalogue
    # All over its standing votes (latest event per session, query and item, not withdrawn) whose
    # rank is 1..MAX_RANK and distance finite; the others are counted in summary()["ignored"].

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._backend.connect() as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]

    def standing_votes(self, catalog: str) -> list[tuple[str, str, str, str, int, int]]:
        """Every standing vote of a catalogue, oldest first, for learning (`recommender.preferences`):
        (session, query kind, query reference, item, vote, event id)."""
        return self._query("SELECT s.session_id, v.query_kind, s.query_ref, s.item_id, s.vote, s.event_id"
                           " FROM effective_votes s JOIN votes v ON v.id = s.event_id WHERE s.catalog = ?"
                           " ORDER BY s.event_id", (catalog,))

    def catalogs(self) -> dict[str, int]:
        """Standing votes per catalogue identity ("" for votes cast before votes were keyed by catalogue)."""
        return dict(self._query("SELECT catalog, count(*) FROM effective_votes GROUP BY catalog ORDER BY catalog"))

    def summary(self, catalog: str) -> dict[str, object]:
        """Standing votes, ups, downs, thumbs-up rate (None without votes), sessions that hold a vote,
        and standing votes ignored for an impossible rank or distance (forged or corrupt rows)."""
        votes, up, sessions = self._query(
            f"SELECT count(*), coalesce(sum({UP}), 0), count(DISTINCT session_id) FROM effective_votes"
            " WHERE catalog = ?",
            (catalog,),
        )[0]
        (ignored,) = self._query(
            f"SELECT count(*) FROM latest_votes WHERE catalog = ? AND vote <> 0 AND NOT ({SANE})", (catalog,)
        )[0]
        return {
            "votes": int(votes),
            "up": int(up),
            "down": int(votes - up),
            "up_rate": up / votes if votes else None,
            "sessions": int(sessions),
            "ignored": int(ignored),
        }

    def votes_over_time(self, catalog: str) -> list[DayVotes]:
        """Standing ups and downs per UTC day of their latest event, oldest day first."""
        rows = self._query(
            f"SELECT substr(created, 1, 10) AS day, sum({UP}), sum({DOWN}) FROM effective_votes"
            " WHERE catalog = ? GROUP BY day ORDER BY day",
            (catalog,),
        )
        return [DayVotes(day, int(up), int(down)) for day, up, down in rows]

    def rate_by_rank(self, catalog: str) -> list[Rate]:
        """Votes and thumbs-up rate per result position, for ranks that have votes."""
        return self._rates(catalog, "rank")

    def rate_by_backbone(self, catalog: str) -> list[Rate]:
        """Votes and thumbs-up rate per backbone that ranked the voted results."""
        return self._rates(catalog, "backbone")

    def _rates(self, catalog: str, column: str) -> list[Rate]:
        rows = self._query(
            f"SELECT {column}, count(*), avg({UP}) FROM effective_votes WHERE catalog = ?"
            f" GROUP BY {column} ORDER BY {column}",
            (catalog,),
        )
        return [Rate(key, int(votes), float(rate)) for key, votes, rate in rows]

    def rate_by_item_attribute(self, catalog: str, attribute_of: Callable[[str], str | None]) -> list[Rate]:
        """Votes and thumbs-up rate per item attribute value (e.g. category), most voted first.

        The attribute comes from the caller because the store does not know the catalogue; items it
        maps to None (e.g. no longer in the catalogue) are counted under "unknown".
        """
        counts: dict[str, list[int]] = {}
        for item_id, votes, up in self._query(
            f"SELECT item_id, count(*), sum({UP}) FROM effective_votes WHERE catalog = ? GROUP BY item_id",
            (catalog,),
        ):
            value = attribute_of(item_id) or "unknown"
            total = counts.setdefault(value, [0, 0])
            total[0] += int(votes)
            total[1] += int(up)
        rates = [Rate(value, votes, up / votes) for value, (votes, up) in counts.items()]
        return sorted(rates, key=lambda rate: (-rate.votes, rate.key))

    def item_totals(self, catalog: str, liked: bool, n: int = 10) -> list[ItemTotals]:
        """The `n` most liked (more ups than downs) or most disliked (more downs than ups) items.

        Ordered by net score (ups minus downs), then by the larger count, then by id.
        """
        up, down = f"sum({UP})", f"sum({DOWN})"
        if liked:
            having, order = f"{up} > {down}", f"{up} - {down} DESC, {up} DESC"
        else:
            having, order = f"{down} > {up}", f"{down} - {up} DESC, {down} DESC"
        rows = self._query(
            f"SELECT item_id, {up}, {down} FROM effective_votes WHERE catalog = ?"
            f" GROUP BY item_id HAVING {having} ORDER BY {order}, item_id LIMIT ?",
            (catalog, int(n)),
        )
        return [ItemTotals(item_id, int(u), int(d)) for item_id, u, d in rows]

    # ---------------------------------------------------------------- the merchant's audit decisions

    def decide(self, catalog: str, item_id: str, attribute: str, label: str, suggested: str, decision: str) -> None:
        """Keep the merchant's accept or reject of one suspect label (replacing an earlier decision on it)."""
        if decision not in DECISIONS:
            raise RecommenderError(f"A decision is 'accept' or 'reject', not {decision!r}.")
        row = (check_text("catalogue", catalog, MAX_CATALOG), *(check_text(what, value) for what, value in (
            ("item id", item_id), ("attribute", attribute), ("label", label), ("suggestion", suggested))))
        with self._backend.write() as conn:
            conn.execute(
                "INSERT INTO audit_decisions (catalog, item_id, attribute, label, suggested, decision, decided)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (catalog, item_id, attribute) DO UPDATE SET"
                " label = excluded.label, suggested = excluded.suggested, decision = excluded.decision,"
                " decided = excluded.decided",
                (*row, decision, self._now().isoformat(timespec="milliseconds")),
            )

    def decisions(self, catalog: str) -> dict[tuple[str, str], tuple[str, str]]:
        """(item id, attribute) -> (decision, suggested value) of one catalogue's audit."""
        rows = self._query("SELECT item_id, attribute, decision, suggested FROM audit_decisions WHERE catalog = ?",
                           (catalog,))
        return {(item, attribute): (decision, suggested) for item, attribute, decision, suggested in rows}
