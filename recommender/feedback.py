"""Thumbs up/down from shoppers, kept in SQLite so no vote is ever lost.

Votes are an append-only event log (table `votes`): changing or withdrawing a vote appends an
event, nothing in the log is updated or deleted, so the history stays auditable. What counts is
the latest event per (session, query, item); withdrawn votes (0) count as no vote. A trigger keeps
that latest event per key in `latest_votes`, in the same transaction as the event, and the view
`effective_votes` (those not withdrawn) is what every analytic below groups with plain SQL.

Concurrency: every call opens its own short-lived connection (the Dash server answers in threads,
gunicorn in processes), the file is in WAL mode so readers never block the writer, and each vote
is one `BEGIN IMMEDIATE` transaction that waits on a busy timeout instead of failing.
"""

from __future__ import annotations

import json
import math
import numbers
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from recommender.errors import RecommenderError

__all__ = ["VoteEvent", "FeedbackStore", "DayVotes", "Rate", "ItemTotals", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
QUERY_KINDS = ("upload", "item")
VOTES = (-1, 0, 1)
BUSY_TIMEOUT_S = 30.0
MAX_TEXT = 512  # longest accepted id/ref/backbone: these arrive from the browser
MAX_FILTERS_JSON = 16_384

_SCHEMA = (
    f"""CREATE TABLE votes (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order: the latest event wins
        created    TEXT    NOT NULL,                   -- UTC, ISO 8601
        session_id TEXT    NOT NULL,
        query_kind TEXT    NOT NULL CHECK (query_kind IN {QUERY_KINDS}),
        query_ref  TEXT    NOT NULL,                   -- sha256 of the upload, or a catalogue id
        filters    TEXT    NOT NULL,                   -- JSON object: attribute -> list of values
        item_id    TEXT    NOT NULL,
        rank       INTEGER NOT NULL CHECK (rank >= 1),
        distance   REAL    NOT NULL,
        backbone   TEXT    NOT NULL,
        vote       INTEGER NOT NULL CHECK (vote IN {VOTES})
    )""",
    # The latest event per key, kept by the database itself in the same transaction as the event:
    # analytics then group the standing votes instead of searching the whole log for the latest.
    """CREATE TABLE latest_votes (
        session_id TEXT    NOT NULL,
        query_ref  TEXT    NOT NULL,
        item_id    TEXT    NOT NULL,
        event_id   INTEGER NOT NULL REFERENCES votes (id),
        created    TEXT    NOT NULL,
        rank       INTEGER NOT NULL,
        backbone   TEXT    NOT NULL,
        vote       INTEGER NOT NULL,
        PRIMARY KEY (session_id, query_ref, item_id)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER votes_update_latest AFTER INSERT ON votes BEGIN
        INSERT INTO latest_votes (session_id, query_ref, item_id, event_id, created, rank, backbone, vote)
        VALUES (NEW.session_id, NEW.query_ref, NEW.item_id, NEW.id, NEW.created, NEW.rank, NEW.backbone, NEW.vote)
        ON CONFLICT (session_id, query_ref, item_id) DO UPDATE SET
            event_id = excluded.event_id, created = excluded.created, rank = excluded.rank,
            backbone = excluded.backbone, vote = excluded.vote;
    END""",
    "CREATE VIEW effective_votes AS SELECT * FROM latest_votes WHERE vote <> 0",
)


@dataclass(frozen=True)
class VoteEvent:
    """One thumbs up (1), thumbs down (-1) or withdrawal (0) on one result of one query."""

    session_id: str
    query_kind: str  # "upload" | "item"
    query_ref: str  # sha256 of the uploaded bytes, or the catalogue id
    filters: dict[str, list[str]]
    item_id: str
    rank: int  # 1-based position in the results
    distance: float
    backbone: str
    vote: int


class DayVotes(NamedTuple):
    day: str  # YYYY-MM-DD, UTC
    up: int
    down: int


class Rate(NamedTuple):
    key: object  # a rank, a backbone name or an attribute value
    votes: int
    up_rate: float


class ItemTotals(NamedTuple):
    item_id: str
    up: int
    down: int


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class FeedbackStore:
    """A vote log in one SQLite file, safe to share between threads and processes."""

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        """Create the folder, the file and the schema when missing; `clock` exists for tests."""
        self.path = Path(path).expanduser().resolve()
        self._clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecommenderError(f"The folder of the feedback database {self.path} cannot be made: {exc}.") from exc
        self._init_schema()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one call: never shared, so threads need no locks.

        SQLite failures (disk full, not a database, locked past the timeout) become one-sentence
        `RecommenderError`s, so the app can show them instead of a traceback.
        """
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as conn:
                conn.execute("PRAGMA synchronous = FULL")  # a vote survives a power cut once recorded
                yield conn
        except sqlite3.Error as exc:
            raise RecommenderError(f"The feedback database {self.path} cannot be used: {exc}.") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken at once (no lock upgrade that could deadlock), all or nothing."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _enable_wal(self) -> None:
        """Switch the file to WAL mode (a no-op once it is).

        While another process makes the same switch (two gunicorn workers starting at once), SQLite
        answers "database is locked" at once instead of waiting on the busy timeout: retry until it.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                with self._connect() as conn:
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except RecommenderError as exc:
                locked = isinstance(exc.__cause__, sqlite3.OperationalError) and "locked" in str(exc.__cause__)
                if not locked or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        if mode != "wal":
            raise RecommenderError(f"The feedback database {self.path} cannot be used: WAL mode is unavailable "
                                   f"(journal mode is {mode}).")

    def _init_schema(self) -> None:
        self._enable_wal()
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this program's {SCHEMA_VERSION}"
                )
            if version == 0:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def record(self, event: VoteEvent) -> None:
        """Append one vote event, stamped with the current UTC time, in its own transaction."""
        row = _validated_row(event)
        created = self._clock().astimezone(timezone.utc).isoformat(timespec="milliseconds")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO votes (created, session_id, query_kind, query_ref, filters, item_id,"
                " rank, distance, backbone, vote) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (created, *row),
            )

    def current_votes(self, session_id: str, query_ref: str) -> dict[str, int]:
        """The standing vote of each item a session voted on for one query (withdrawn ones left out)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT item_id, vote FROM effective_votes WHERE session_id = ? AND query_ref = ?",
                (session_id, query_ref),
            ).fetchall()
        return dict(rows)

    # Analytics: all over the standing votes (latest event per session, query and item; not withdrawn).

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._connect() as conn:
            return conn.execute(sql, params).fetchall()

    def summary(self) -> dict[str, object]:
        """Standing votes, ups, downs, thumbs-up rate (None without votes), sessions that hold a vote."""
        votes, up, sessions = self._query(
            "SELECT count(*), coalesce(sum(vote = 1), 0), count(DISTINCT session_id) FROM effective_votes"
        )[0]
        return {
            "votes": votes,
            "up": up,
            "down": votes - up,
            "up_rate": up / votes if votes else None,
            "sessions": sessions,
        }

    def votes_over_time(self) -> list[DayVotes]:
        """Standing ups and downs per UTC day of their latest event, oldest day first."""
        rows = self._query(
            "SELECT substr(created, 1, 10) AS day, sum(vote = 1), sum(vote = -1)"
            " FROM effective_votes GROUP BY day ORDER BY day"
        )
        return [DayVotes(*row) for row in rows]

    def rate_by_rank(self) -> list[Rate]:
        """Votes and thumbs-up rate per result position, for ranks that have votes."""
        return self._rates("rank")

    def rate_by_backbone(self) -> list[Rate]:
        """Votes and thumbs-up rate per backbone that ranked the voted results."""
        return self._rates("backbone")

    def _rates(self, column: str) -> list[Rate]:
        rows = self._query(
            f"SELECT {column}, count(*), avg(vote = 1) FROM effective_votes GROUP BY {column} ORDER BY {column}"
        )
        return [Rate(*row) for row in rows]

    def rate_by_item_attribute(self, attribute_of: Callable[[str], str | None]) -> list[Rate]:
        """Votes and thumbs-up rate per item attribute value (e.g. category), most voted first.

        The attribute comes from the caller because the store does not know the catalogue; items it
        maps to None (e.g. no longer in the catalogue) are counted under "unknown".
        """
        counts: dict[str, list[int]] = {}
        for item_id, votes, up in self._query(
            "SELECT item_id, count(*), sum(vote = 1) FROM effective_votes GROUP BY item_id"
        ):
            value = attribute_of(item_id) or "unknown"
            total = counts.setdefault(value, [0, 0])
            total[0] += votes
            total[1] += up
        rates = [Rate(value, votes, up / votes) for value, (votes, up) in counts.items()]
        return sorted(rates, key=lambda rate: (-rate.votes, rate.key))

    def item_totals(self, liked: bool, n: int = 10) -> list[ItemTotals]:
        """The `n` most liked (more ups than downs) or most disliked (more downs than ups) items.

        Ordered by net score (ups minus downs), then by the larger count, then by id.
        """
        if liked:
            having, order = "up > down", "up - down DESC, up DESC"
        else:
            having, order = "down > up", "down - up DESC, down DESC"
        rows = self._query(
            "SELECT item_id, sum(vote = 1) AS up, sum(vote = -1) AS down FROM effective_votes"
            f" GROUP BY item_id HAVING {having} ORDER BY {order}, item_id LIMIT ?",
            (n,),
        )
        return [ItemTotals(*row) for row in rows]


def _validated_row(event: VoteEvent) -> tuple[object, ...]:
    """The event's columns after checking them: votes can arrive from a tampered browser request."""
    texts = {
        "session id": event.session_id,
        "query reference": event.query_ref,
        "item id": event.item_id,
        "backbone": event.backbone,
    }
    for what, value in texts.items():
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            raise RecommenderError(f"The vote's {what} must be a non-empty text of at most {MAX_TEXT} characters.")
    if event.query_kind not in QUERY_KINDS:
        raise RecommenderError(f"The vote's query kind must be 'upload' or 'item', not {event.query_kind!r}.")
    if isinstance(event.vote, bool) or event.vote not in VOTES:
        raise RecommenderError(f"A vote must be 1 (up), -1 (down) or 0 (withdrawn), not {event.vote!r}.")
    if isinstance(event.rank, bool) or not isinstance(event.rank, numbers.Integral) or event.rank < 1:
        raise RecommenderError(f"The vote's rank must be a whole number from 1, not {event.rank!r}.")
    if not isinstance(event.distance, numbers.Real) or not math.isfinite(event.distance) or event.distance < 0:
        raise RecommenderError(f"The vote's distance must be a finite number of at least 0, not {event.distance!r}.")
    if not isinstance(event.filters, Mapping) or not all(
        isinstance(name, str) and isinstance(values, (list, tuple)) and all(isinstance(v, str) for v in values)
        for name, values in event.filters.items()
    ):
        raise RecommenderError("The vote's filters must map attribute names to lists of values.")
    filters = json.dumps({name: list(values) for name, values in event.filters.items()}, sort_keys=True)
    if len(filters) > MAX_FILTERS_JSON:
        raise RecommenderError(f"The vote's filters are longer than {MAX_FILTERS_JSON} characters.")
    return (
        event.session_id,
        event.query_kind,
        event.query_ref,
        filters,
        event.item_id,
        int(event.rank),
        float(event.distance),
        event.backbone,
        int(event.vote),
    )
