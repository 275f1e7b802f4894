"""What a vote is, how it is checked, and the tables that hold it (one schema for every back end).

Votes are an append-only event log (table `votes`): changing or withdrawing a vote appends an
event, nothing in the log is updated or deleted, so the history stays auditable. What counts is
the latest event per (catalogue, session, query, item); withdrawn votes (0) count as no vote. The
store keeps that latest event per key in `latest_votes`, in the same transaction as the event, and
the view `effective_votes` (standing votes with a sane rank and distance) is what every analytic
groups. `shown` is the server's own short-lived record of the results it showed to each session:
a vote counts only for a result it holds, with the rank and distance that were shown.

Every vote belongs to a catalogue (`CatalogInfo.identity` of the index it was cast on), so the
votes of a demo catalogue and of a shop's catalogue never mix, and a rebuilt index keeps its votes.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from recommender.errors import RecommenderError

__all__ = [
    "SCHEMA_VERSION", "DECISIONS", "MAX_RANK", "VoteEvent", "ShownResult", "DayVotes", "Rate", "ItemTotals",
    "validated_vote", "validated_shown", "check_text", "ddl",
]  # fmt: skip

SCHEMA_VERSION = 4
QUERY_KINDS = ("upload", "item")
VOTES = (-1, 0, 1)
MAX_RANK = 100  # "show more" goes up to 100 results; anything beyond is not a rank the app shows
MAX_DISTANCE = 1e300  # any real Euclidean distance is far below; analytics ignore larger or non-finite ones
MAX_TEXT = 512  # longest accepted id/ref/backbone: these arrive from the browser
MAX_CATALOG = 4096  # a catalogue identity is a resolved path
MAX_FILTERS_JSON = 16_384

UP = "CASE WHEN vote = 1 THEN 1 ELSE 0 END"  # portable: PostgreSQL cannot sum booleans
DOWN = "CASE WHEN vote = -1 THEN 1 ELSE 0 END"
SANE = f"rank BETWEEN 1 AND {MAX_RANK} AND distance BETWEEN 0 AND {MAX_DISTANCE:g}"


@dataclass(frozen=True)
class VoteEvent:
    """One thumbs up (1), thumbs down (-1) or withdrawal (0) on one result of one query."""

    catalog: str  # identity of the catalogue the index was built from (CatalogInfo.identity)
    session_id: str
    query_kind: str  # "upload" | "item"
    query_ref: str  # sha256 of the uploaded bytes, or the catalogue id
    filters: dict[str, list[str]]
    item_id: str
    rank: int  # 1-based position in the results
    distance: float
    backbone: str
    vote: int


class ShownResult(NamedTuple):
    """One result as the server showed it: which product, at which rank and distance."""

    item_id: str
    rank: int
    distance: float


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


def check_text(what: str, value: object, longest: int = MAX_TEXT) -> str:
    """A non-empty string of bounded length, or a one-sentence error (values come from browsers)."""
    if not isinstance(value, str) or not value or len(value) > longest:
        raise RecommenderError(f"The vote's {what} must be a non-empty text of at most {longest} characters.")
    return value


def _rank(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= MAX_RANK:
        raise RecommenderError(f"The vote's rank must be a whole number from 1 to {MAX_RANK}, not {value!r}.")
    return int(value)


def _distance(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise RecommenderError(f"The vote's distance must be a finite number of at least 0, not {value!r}.")
    return float(value)


def validated_vote(event: VoteEvent) -> tuple[object, ...]:
    """The event's columns (catalog .. vote, in field order) after checking every one of them.

    Votes can arrive from a tampered browser request: huge ranks, NaN, lists where text belongs.
    Checked here, before any database sees them (SQLite raises OverflowError on a 1e30 rank).
    """
    check_text("catalogue", event.catalog, MAX_CATALOG)
    for what, value in (("session id", event.session_id), ("query reference", event.query_ref),
                        ("item id", event.item_id), ("backbone", event.backbone)):
        check_text(what, value)
    if event.query_kind not in QUERY_KINDS:
        raise RecommenderError(f"The vote's query kind must be 'upload' or 'item', not {event.query_kind!r}.")
    if isinstance(event.vote, bool) or event.vote not in VOTES:
        raise RecommenderError(f"A vote must be 1 (up), -1 (down) or 0 (withdrawn), not {event.vote!r}.")
    if not isinstance(event.filters, Mapping) or not all(
        isinstance(name, str) and isinstance(values, (list, tuple)) and all(isinstance(v, str) for v in values)
        for name, values in event.filters.items()
    ):
        raise RecommenderError("The vote's filters must map attribute names to lists of values.")
    filters = json.dumps({name: list(values) for name, values in event.filters.items()}, sort_keys=True)
    if len(filters) > MAX_FILTERS_JSON:
        raise RecommenderError(f"The vote's filters are longer than {MAX_FILTERS_JSON} characters.")
    return (event.catalog, event.session_id, event.query_kind, event.query_ref, filters, event.item_id,
            _rank(event.rank), _distance(event.distance), event.backbone, int(event.vote))


def validated_shown(shown: object) -> list[ShownResult]:
    """The (item_id, rank, distance) triples of one page of results, checked like a vote's."""
    if not isinstance(shown, (list, tuple)) or len(shown) > MAX_RANK:
        raise RecommenderError(f"The results shown must be a list of at most {MAX_RANK} (item, rank, distance).")
    checked = []
    for entry in shown:
        if not isinstance(entry, (list, tuple)) or len(entry) != 3:
            raise RecommenderError("Each result shown must be an (item id, rank, distance) triple.")
        item_id, rank, distance = entry
        checked.append(ShownResult(check_text("item id", item_id), _rank(rank), _distance(distance)))
    return checked


# The tables, written once with the few words that differ per SQL dialect filled in.
_DDL = (
    """CREATE TABLE votes (
        id         {id},                               -- commit order: the latest event wins
        created    TEXT    NOT NULL,                   -- UTC, ISO 8601
        catalog    TEXT    NOT NULL,                   -- the catalogue's identity
        session_id TEXT    NOT NULL,
        query_kind TEXT    NOT NULL CHECK (query_kind IN ('upload', 'item')),
        query_ref  TEXT    NOT NULL,                   -- sha256 of the upload, or a catalogue id
        filters    TEXT    NOT NULL,                   -- JSON object: attribute -> list of values
        item_id    TEXT    NOT NULL,
        rank       BIGINT  NOT NULL CHECK (rank >= 1),
        distance   {real}  NOT NULL,
        backbone   TEXT    NOT NULL,
        vote       INTEGER NOT NULL CHECK (vote IN (-1, 0, 1))
    )""",
    *(
        # The latest event per key, written in the same transaction as the event: analytics
        # group the standing votes instead of searching the whole log for the latest.
        """CREATE TABLE latest_votes (
        catalog    TEXT    NOT NULL,
        session_id TEXT    NOT NULL,
        query_ref  TEXT    NOT NULL,
        item_id    TEXT    NOT NULL,
        event_id   BIGINT  NOT NULL REFERENCES votes (id),
        created    TEXT    NOT NULL,
        rank       BIGINT  NOT NULL,
        distance   {real}  NOT NULL,
        backbone   TEXT    NOT NULL,
        vote       INTEGER NOT NULL,
        PRIMARY KEY (catalog, session_id, query_ref, item_id)
    ){without_rowid}""",
        f"CREATE VIEW effective_votes AS SELECT * FROM latest_votes WHERE vote <> 0 AND {SANE}",
    ),
    """CREATE TABLE shown (
        catalog    TEXT    NOT NULL,
        session_id TEXT    NOT NULL,
        query_ref  TEXT    NOT NULL,
        item_id    TEXT    NOT NULL,
        rank       INTEGER NOT NULL,
        distance   {real}  NOT NULL,
        shown_at   {real}  NOT NULL,                   -- seconds since the epoch: expiry and the per-session bound
        PRIMARY KEY (catalog, session_id, query_ref, item_id, rank)
    )""",
    "CREATE INDEX shown_by_age ON shown (shown_at)",
    "CREATE INDEX shown_by_session ON shown (session_id, shown_at)",
)
_LATEST = _DDL[1:3]
_SHOWN = _DDL[3:]

# Version 3: the merchant's decisions on the catalogue audit's suspects (the Audit page), one standing
# decision per product and attribute; a decision made again replaces the earlier one.
_DECISIONS = (
    """CREATE TABLE audit_decisions (
        catalog    TEXT    NOT NULL,
        item_id    TEXT    NOT NULL,
        attribute  TEXT    NOT NULL,
        label      TEXT    NOT NULL,                   -- the catalogue's value when decided
        suggested  TEXT    NOT NULL,                   -- the audit's suggestion
        decision   TEXT    NOT NULL CHECK (decision IN ('accept', 'reject')),
        decided    TEXT    NOT NULL,                   -- UTC, ISO 8601
        PRIMARY KEY (catalog, item_id, attribute)
    )""",
)

# Version 4: the tags of each anonymous search (the Trends page: no session, no photo, only what the photo
# looked like and how near the catalogue's best answer was), and the shoppers who asked to be remembered.
_SEARCHES_AND_PROFILES = (
    """CREATE TABLE searches (
        id         {id},
        created    TEXT    NOT NULL,                   -- UTC, ISO 8601
        catalog    TEXT    NOT NULL,
        kind       TEXT    NOT NULL,                   -- predicted category ('' when none)
        colour     TEXT    NOT NULL,                   -- predicted colour ('' when none)
        best_item  TEXT    NOT NULL,                   -- the nearest product
        best_alike {real}  NOT NULL                    -- 0..1, how alike that product looks (recommender.match)
    )""",
    "CREATE INDEX searches_by_day ON searches (catalog, created)",
    """CREATE TABLE profiles (
        session_id TEXT    PRIMARY KEY,                -- the signed session id the likes are kept under
        created    TEXT    NOT NULL                    -- when the shopper asked to be remembered
    )""",
)

# Schema version 1 (SQLite only): no catalogue, no `shown`, a trigger kept `latest_votes`.
# Its votes are kept, under the catalogue "" (cast before votes were keyed by catalogue).
_FROM_V1 = (
    "ALTER TABLE votes ADD COLUMN catalog TEXT NOT NULL DEFAULT ''",
    "DROP TRIGGER IF EXISTS votes_update_latest",
    "DROP VIEW IF EXISTS effective_votes",
    "ALTER TABLE latest_votes RENAME TO latest_votes_v1",
    *_LATEST,
    "INSERT INTO latest_votes (catalog, session_id, query_ref, item_id, event_id, created, rank, distance, backbone,"
    " vote) SELECT '', l.session_id, l.query_ref, l.item_id, l.event_id, l.created, l.rank, v.distance, l.backbone,"
    " l.vote FROM latest_votes_v1 AS l JOIN votes AS v ON v.id = l.event_id",
    "DROP TABLE latest_votes_v1",
    *_SHOWN,
)
DECISIONS = ("accept", "reject")


def ddl(dialect: str, *, from_version: int = 0) -> list[str]:
    """The statements that bring a database of `from_version` (0: empty) to SCHEMA_VERSION."""
    words = {
        "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "real": "REAL", "without_rowid": " WITHOUT ROWID"},
        "postgresql": {"id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "real": "DOUBLE PRECISION",
                       "without_rowid": ""},
    }[dialect]
    statements = {0: _DDL + _DECISIONS, 1: _FROM_V1 + _DECISIONS, 2: _DECISIONS, 3: ()}[from_version]
    statements += _SEARCHES_AND_PROFILES
    return [statement.format(**words) for statement in statements]
