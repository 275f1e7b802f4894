"""The merchant's audit decisions in the feedback database (SQLite and PostgreSQL), and the schema 2 -> 3 migration."""

from __future__ import annotations

import pytest

from recommender.errors import RecommenderError
from recommender.feedback import SCHEMA_VERSION, FeedbackStore
from tests.test_feedback import clock, store, target  # noqa: F401 - fixtures: each test runs on both back ends

CATALOG = "/shops/a"


def test_a_decision_stands_until_made_again_per_catalogue(store: FeedbackStore) -> None:  # noqa: F811
    store.decide(CATALOG, "15970", "articleType", "Shirts", "Tshirts", "accept")
    store.decide(CATALOG, "15971", "articleType", "Jeans", "Trousers", "reject")
    store.decide("/shops/b", "15970", "articleType", "Shirts", "Tops", "reject")
    store.decide(CATALOG, "15971", "articleType", "Jeans", "Trousers", "accept")  # changed its mind
    assert store.decisions(CATALOG) == {("15970", "articleType"): ("accept", "Tshirts"),
                                        ("15971", "articleType"): ("accept", "Trousers")}
    assert store.decisions("/shops/b") == {("15970", "articleType"): ("reject", "Tops")}


def test_bad_decisions_are_one_sentence_and_store_nothing(store: FeedbackStore) -> None:  # noqa: F811
    with pytest.raises(RecommenderError, match="is 'accept' or 'reject'"):
        store.decide(CATALOG, "1", "articleType", "a", "b", "maybe")
    with pytest.raises(RecommenderError, match="item id must be a non-empty text"):
        store.decide(CATALOG, "", "articleType", "a", "b", "accept")
    with pytest.raises(RecommenderError, match="at most 512"):
        store.decide(CATALOG, "1", "articleType", "a" * 600, "b", "accept")
    assert store.decisions(CATALOG) == {}


def test_a_version_2_database_gains_the_decisions_table_and_keeps_its_votes(target) -> None:  # noqa: F811
    old = FeedbackStore(target)
    with old._backend.write() as conn:  # as a database of the previous release: no decisions table, version 2
        for table in ("audit_decisions", "searches", "profiles"):
            conn.execute(f"DROP TABLE {table}")
        old._backend.set_schema_version(conn, 2)
        conn.execute("INSERT INTO shown (catalog, session_id, query_ref, item_id, rank, distance, shown_at)"
                     " VALUES ('c', 's', 'q', 'i', 1, 0.5, 1.0)")
    old._backend.release()
    store = FeedbackStore(target)  # noqa: F811
    with store._backend.connect() as conn:
        assert store._backend.schema_version(conn) == SCHEMA_VERSION == 4
    assert store._query("SELECT count(*) FROM shown") == [(1,)]
    store.decide(CATALOG, "1", "articleType", "a", "b", "reject")
    assert store.decisions(CATALOG) == {("1", "articleType"): ("reject", "b")}
