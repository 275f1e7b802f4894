"""Votes are tied to what the server showed; locks wait a few seconds at most; old files are migrated."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from recommender.errors import RecommenderError
from recommender.feedback import BUSY, SCHEMA_VERSION, SHOWN_TTL_S, FeedbackStore, backends
from recommender.feedback import store as store_module
from tests.postgres import fresh_schema, postgres_url
from tests.test_feedback import CATALOG, Clock, cast, event, rows


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path: Path):
    if request.param == "sqlite":
        yield tmp_path / "feedback.sqlite3"
    else:
        with fresh_schema() as url:
            yield url


@pytest.fixture
def store(target, clock: Clock) -> FeedbackStore:
    return FeedbackStore(target, clock=clock)


NOT_SHOWN = "not shown to you"


def shown_ten(store: FeedbackStore, session: str = "s1", query: str = "q1") -> None:
    store.record_shown(session, CATALOG, query, [(f"item{r}", r, 0.25 * r) for r in range(1, 11)])


def test_a_vote_on_a_shown_result_is_accepted(store: FeedbackStore) -> None:
    shown_ten(store)
    store.record(event("s1", "q1", "item3", 1, rank=3))
    assert store.current_votes(CATALOG, "s1", "q1") == {"item3": 1}


@pytest.mark.parametrize(
    "session, query, item, rank, extra",
    [
        ("s1", "q1", "item11", 3, {}),  # never shown
        ("s1", "q1", "item3", 4, {}),  # shown, at another rank
        ("s1", "q1", "item3", 3, {"distance": 0.5}),  # shown, at another distance
        ("s2", "q1", "item3", 3, {}),  # shown to another session
        ("s1", "q2", "item3", 3, {}),  # shown for another query
        ("s1", "q1", "item3", 3, {"catalog": "/shops/demo"}),  # shown from another catalogue
    ],
)
def test_a_vote_on_anything_else_is_refused(store: FeedbackStore, session, query, item, rank, extra) -> None:
    shown_ten(store)
    with pytest.raises(RecommenderError, match=NOT_SHOWN) as raised:
        store.record(event(session, query, item, 1, rank=rank, **extra))
    assert str(raised.value).endswith(".") and "\n" not in str(raised.value)
    assert rows(store) == [(0,)]


def test_distances_are_compared_with_a_tolerance(store: FeedbackStore) -> None:
    distance = 12.345678901234
    store.record_shown("s1", CATALOG, "q1", [("A", 1, distance)])
    store.record(event("s1", "q1", "A", 1, distance=float(np.float32(distance))))  # float32 on the way back
    with pytest.raises(RecommenderError, match=NOT_SHOWN):
        store.record(event("s1", "q1", "A", 1, distance=distance * 1.001))
    assert rows(store) == [(1,)]


def test_a_result_shown_again_under_other_filters_can_be_voted_at_either_rank(store: FeedbackStore) -> None:
    store.record_shown("s1", CATALOG, "q1", [("A", 3, 0.75)])
    store.record_shown("s1", CATALOG, "q1", [("A", 1, 0.75)])  # a filter moved it up
    store.record(event("s1", "q1", "A", 1, rank=1, distance=0.75))
    store.record(event("s1", "q1", "A", -1, rank=3, distance=0.75))
    assert store.current_votes(CATALOG, "s1", "q1") == {"A": -1}


def test_shown_results_expire(store: FeedbackStore, clock: Clock, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "PURGE_CHANCE", 0.0)
    shown_ten(store)
    clock.now += timedelta(seconds=SHOWN_TTL_S - 60)
    store.record(event("s1", "q1", "item1", 1, rank=1))
    clock.now += timedelta(seconds=120)
    with pytest.raises(RecommenderError, match="too long ago"):
        store.record(event("s1", "q1", "item2", 1, rank=2))
    shown_ten(store, session="s2")  # fresh rows of another session stay
    assert store.purge_expired() == 10
    assert rows(store, "SELECT DISTINCT session_id FROM shown") == [("s2",)]
    clock.now += timedelta(seconds=SHOWN_TTL_S + 1)
    monkeypatch.setattr(store_module, "PURGE_CHANCE", 1.0)  # showing results also clears out the old ones
    shown_ten(store, session="s3")
    assert rows(store, "SELECT DISTINCT session_id FROM shown") == [("s3",)]


def test_each_session_keeps_a_bounded_number_of_shown_results(store: FeedbackStore, clock: Clock,
                                                              monkeypatch) -> None:
    monkeypatch.setattr(store_module, "SHOWN_PER_SESSION", 25)
    for query in range(6):  # 60 results shown, one page of ten at a time
        clock.now += timedelta(seconds=1)
        shown_ten(store, query=f"q{query}")
    shown_ten(store, session="s2")
    assert rows(store, "SELECT count(*) FROM shown WHERE session_id = 's1'") == [(30,)]  # whole pages kept
    assert rows(store, "SELECT DISTINCT query_ref FROM shown WHERE session_id = 's1' ORDER BY query_ref") == [
        ("q3",), ("q4",), ("q5",)]
    assert rows(store, "SELECT count(*) FROM shown WHERE session_id = 's2'") == [(10,)]
    with pytest.raises(RecommenderError, match=NOT_SHOWN):
        store.record(event("s1", "q0", "item1", 1, rank=1))
    store.record(event("s1", "q5", "item1", 1, rank=1))


def test_all_sessions_together_keep_a_bounded_number_of_shown_results(store: FeedbackStore, clock: Clock,
                                                                     monkeypatch) -> None:
    """Cookie-less requests make a new session each: 300 of them rendering 100 results made 30,000 rows."""
    monkeypatch.setattr(store_module, "SHOWN_TOTAL", 200)
    monkeypatch.setattr(store_module, "PURGE_CHANCE", 1.0)
    for session in range(300):
        clock.now += timedelta(seconds=1)
        store.record_shown(f"cookieless{session}", CATALOG, "q1", [(f"item{i}", i, 0.25 * i) for i in range(1, 101)])
    assert rows(store, "SELECT count(*) FROM shown") == [(200,)]  # whole pages: the two latest of 100
    assert rows(store, "SELECT DISTINCT session_id FROM shown ORDER BY session_id") == [
        ("cookieless298",), ("cookieless299",)]
    store.record(event("cookieless299", "q1", "item1", 1, rank=1))  # the latest can still be voted on


@pytest.mark.parametrize(
    "shown",
    [
        [("A", 10**30, 0.5)],
        [("A", 1, math.nan)],
        [("A", 1)],
        [(["A"], 1, 0.5)],
        "A",
        [("A", 1, 0.5)] * 101,
    ],
)
def test_malformed_shown_results_are_refused(store: FeedbackStore, shown) -> None:
    with pytest.raises(RecommenderError):
        store.record_shown("s1", CATALOG, "q1", shown)
    assert rows(store, "SELECT count(*) FROM shown") == [(0,)]


# --------------------------------------------------------------------------- bounded waits


def test_a_locked_sqlite_file_refuses_the_vote_within_seconds(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(backends, "WAIT_S", 0.5)
    store = FeedbackStore(tmp_path / "f.sqlite3")
    shown_ten(store)
    with sqlite3.connect(store.path, isolation_level=None) as holder:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        started = time.monotonic()
        with pytest.raises(RecommenderError) as raised:
            store.record(event("s1", "q1", "item1", 1))
        waited = time.monotonic() - started
        holder.execute("ROLLBACK")
    assert str(raised.value) == BUSY
    assert waited < 3
    store.record(event("s1", "q1", "item1", 1))  # once the lock is free, the vote goes through


def test_a_locked_postgresql_table_refuses_the_vote_within_seconds(monkeypatch) -> None:
    monkeypatch.setattr(backends, "WAIT_S", 0.5)
    with fresh_schema() as url:  # skips first without psycopg or a server
        import psycopg

        store = FeedbackStore(url)
        shown_ten(store)
        with psycopg.connect(url) as holder:
            holder.execute("LOCK TABLE latest_votes IN EXCLUSIVE MODE")  # held until this transaction ends
            started = time.monotonic()
            with pytest.raises(RecommenderError) as raised:
                store.record(event("s1", "q1", "item1", 1))
            waited = time.monotonic() - started
        assert str(raised.value) == BUSY
        assert waited < 3
        store.record(event("s1", "q1", "item1", 1))
        assert rows(store) == [(1,)]


def test_an_unreachable_postgresql_url_is_one_sentence_at_start_up() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(RecommenderError) as raised:
        FeedbackStore("postgresql://someone:secret@127.0.0.1:1/votes")
    message = str(raised.value)
    assert message.startswith("The feedback database 127.0.0.1:1/votes cannot be reached: ")
    assert "\n" not in message and message.endswith(".") and "secret" not in message


def test_a_malformed_postgresql_url_is_one_sentence() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(RecommenderError, match="not a valid PostgreSQL URL"):
        FeedbackStore("postgresql://a:b@host:notaport:5/db?sslmode")


def test_a_vote_survives_the_database_server_dropping_its_connection() -> None:
    """A kept connection that the server closed is replaced, not reused forever."""
    with fresh_schema() as url:  # skips first without psycopg or a server
        import psycopg

        store = FeedbackStore(url)
        shown_ten(store)
        with psycopg.connect(postgres_url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lookalike'"
                          " AND pid <> pg_backend_pid()")
        with pytest.raises(RecommenderError):
            store.record(event("s1", "q1", "item1", 1))  # the dead link is found and dropped
        store.record(event("s1", "q1", "item1", 1))
        assert rows(store) == [(1,)]


# --------------------------------------------------------------------------- schema version 1


V1_SCHEMA = (
    """CREATE TABLE votes (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL, session_id TEXT NOT NULL,
        query_kind TEXT NOT NULL CHECK (query_kind IN ('upload', 'item')), query_ref TEXT NOT NULL,
        filters TEXT NOT NULL, item_id TEXT NOT NULL, rank INTEGER NOT NULL CHECK (rank >= 1),
        distance REAL NOT NULL, backbone TEXT NOT NULL, vote INTEGER NOT NULL CHECK (vote IN (-1, 0, 1)))""",
    """CREATE TABLE latest_votes (session_id TEXT NOT NULL, query_ref TEXT NOT NULL, item_id TEXT NOT NULL,
        event_id INTEGER NOT NULL REFERENCES votes (id), created TEXT NOT NULL, rank INTEGER NOT NULL,
        backbone TEXT NOT NULL, vote INTEGER NOT NULL, PRIMARY KEY (session_id, query_ref, item_id)) WITHOUT ROWID""",
    """CREATE TRIGGER votes_update_latest AFTER INSERT ON votes BEGIN
        INSERT INTO latest_votes (session_id, query_ref, item_id, event_id, created, rank, backbone, vote)
        VALUES (NEW.session_id, NEW.query_ref, NEW.item_id, NEW.id, NEW.created, NEW.rank, NEW.backbone, NEW.vote)
        ON CONFLICT (session_id, query_ref, item_id) DO UPDATE SET
            event_id = excluded.event_id, created = excluded.created, rank = excluded.rank,
            backbone = excluded.backbone, vote = excluded.vote;
    END""",
    "CREATE VIEW effective_votes AS SELECT * FROM latest_votes WHERE vote <> 0",
)


def _v1_file(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:  # closed, as a file of the earlier version is found
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in V1_SCHEMA:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        for item, vote, rank in [("A", 1, 1), ("B", -1, 2), ("A", -1, 1), ("C", 1, 4611686018427387904)]:
            conn.execute("INSERT INTO votes (created, session_id, query_kind, query_ref, filters, item_id, rank,"
                         " distance, backbone, vote) VALUES ('2024-05-01T10:00:00.000+00:00', 's1', 'upload', 'q1',"
                         " '{}', ?, ?, 0.5, 'resnet50', ?)", (item, rank, vote))


def test_a_version_1_file_is_migrated_in_place_and_keeps_its_votes(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    _v1_file(path)
    store = FeedbackStore(path)
    assert rows(store, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(store) == [(4,)]  # the whole log is kept
    assert store.catalogs() == {"": 2}  # cast before votes were keyed by catalogue; C's forged rank left out
    assert store.current_votes("", "s1", "q1") == {"A": -1, "B": -1, "C": 1}
    assert store.summary("")["ignored"] == 1
    assert store.summary(CATALOG)["votes"] == 0
    assert rows(store, "SELECT name FROM sqlite_master WHERE type = 'trigger'") == []
    cast(store, event("s1", "q1", "A", 1))  # new votes work as in any new file
    assert store.current_votes(CATALOG, "s1", "q1") == {"A": 1}
    assert FeedbackStore(path).catalogs() == {"": 2, CATALOG: 1}  # reopened: not migrated twice


def test_a_failed_migration_leaves_the_version_1_file_as_it_was(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "feedback.sqlite3"
    _v1_file(path)
    from recommender.feedback import schema

    broken = list(schema._FROM_V1) + ["THIS IS NOT SQL"]
    monkeypatch.setattr(schema, "_FROM_V1", tuple(broken))
    with pytest.raises(RecommenderError):
        FeedbackStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM latest_votes").fetchone() == (3,)
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == [
            ("votes_update_latest",)]


def test_threads_voting_while_another_holds_the_lock_briefly_all_succeed(tmp_path: Path) -> None:
    """A short lock (another worker's vote) is waited for: only a long one refuses the vote."""
    store = FeedbackStore(tmp_path / "f.sqlite3")
    shown_ten(store)
    holder = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, lambda: holder.execute("ROLLBACK")).start()
    store.record(event("s1", "q1", "item1", 1))
    holder.close()
    assert rows(store) == [(1,)]
