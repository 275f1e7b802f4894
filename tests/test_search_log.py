"""The search log, the trends' counts, the popular products and the shoppers' profiles in the feedback store,
on SQLite and PostgreSQL alike (the `target` fixture gives both)."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from recommender.errors import RecommenderError
from recommender.feedback import SCHEMA_VERSION, FeedbackStore
from recommender.feedback.profiles import FORGOTTEN_PREFIX
from recommender.feedback.search_log import POPULAR_MIN_SESSIONS, DayCount, ItemTrend, Popular
from recommender.trends import shares
from tests.test_feedback import CATALOG, PROJECT_ROOT, Clock, cast, clock, event, rows, store, target  # noqa: F401


def test_searches_are_counted_per_day_and_kind_or_colour(store: FeedbackStore, clock: Clock) -> None:
    clock.day(1)
    store.log_search(CATALOG, "Dresses", "Red", "p1", 0.9)
    store.log_search(CATALOG, "Dresses", "Blue", "p1", 0.8)
    store.log_search("/other/shop", "Dresses", "Blue", "p1", 0.8)  # another catalogue's search
    clock.day(8)
    store.log_search(CATALOG, "Shirts", "Blue", "p2", 0.7)
    store.log_search(CATALOG, "", "", "p2", 0.7)  # nothing predicted
    assert store.searches_by_day(CATALOG, "kind") == [
        DayCount("2024-05-01", "Dresses", 2), DayCount("2024-05-08", "", 1), DayCount("2024-05-08", "Shirts", 1)]
    assert store.searches_by_day(CATALOG, "colour", days=3) == [DayCount("2024-05-08", "", 1),
                                                               DayCount("2024-05-08", "Blue", 1)]
    assert rows(store, "SELECT count(*) FROM searches") == [(5,)]
    with pytest.raises(RecommenderError, match="counted by kind or colour"):
        store.searches_by_day(CATALOG, "created; DROP TABLE votes")


def test_searches_older_than_the_kept_days_are_purged(store: FeedbackStore, clock: Clock) -> None:
    clock.now = datetime(2023, 1, 1, tzinfo=timezone.utc)
    store.log_search(CATALOG, "Dresses", "Red", "p1", 0.9)
    clock.now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    store.log_search(CATALOG, "Shirts", "Red", "p1", 0.9)
    clock.now = datetime(2024, 3, 1, tzinfo=timezone.utc)
    assert store.purge_searches() == 1
    assert rows(store, "SELECT kind FROM searches") == [("Shirts",)]


def test_weekly_shares_add_up_per_week() -> None:
    days = [DayCount("2024-04-29", "Dresses", 3), DayCount("2024-05-01", "Shirts", 1),  # ISO week 18
            DayCount("2024-05-06", "Dresses", 2), DayCount("2024-05-06", "", 2)]  # week 19
    assert shares(days, "week") == [
        ("2024-W18", "Dresses", 3, 0.75), ("2024-W18", "Shirts", 1, 0.25),
        ("2024-W19", "Dresses", 2, 0.5), ("2024-W19", "unknown", 2, 0.5)]
    assert [s.period for s in shares(days, "day")] == ["2024-04-29", "2024-05-01", "2024-05-06", "2024-05-06"]


def test_a_search_with_bad_tags_is_refused_and_nothing_is_written(store: FeedbackStore) -> None:
    for catalog, kind, colour, best, alike in [("", "Dresses", "Red", "p1", 0.5), (CATALOG, "x" * 600, "Red", "p1", 0.5),
                                              (CATALOG, "Dresses", "Red", "p1", float("nan")),
                                              (CATALOG, "Dresses", "Red", "p1", 1.5), (CATALOG, "Dresses", None, "p1", 0.5),
                                              (CATALOG, "Dresses", "Red", "", 0.5)]:
        with pytest.raises(RecommenderError):
            store.log_search(catalog, kind, colour, best, alike)
    assert rows(store, "SELECT count(*) FROM searches") == [(0,)]


def test_lacking_kinds_are_the_searches_whose_best_answer_looked_unlike(store: FeedbackStore, clock: Clock) -> None:
    for kind, alike in [("Sarees", 0.2), ("Sarees", 0.3), ("Shirts", 0.9), ("Hats", 0.1), ("Shirts", 0.4)]:
        store.log_search(CATALOG, kind, "", "p1", alike)
    found = store.lacking_kinds(CATALOG, below=0.5)
    assert [(kind, n) for kind, n, _ in found] == [("Sarees", 2), ("Hats", 1), ("Shirts", 1)]
    assert found[0][2] == pytest.approx(0.25)


def test_rising_products_gained_likes_in_the_last_week(store: FeedbackStore, clock: Clock) -> None:
    clock.now = datetime(2024, 5, 2, tzinfo=timezone.utc)
    cast(store, event("s1", "q", "old-favourite", 1))
    cast(store, event("s2", "q", "old-favourite", 1))
    clock.now = datetime(2024, 5, 12, tzinfo=timezone.utc)
    for session in ("s3", "s4"):
        cast(store, event(session, "q", "newcomer", 1))
    cast(store, event("s5", "q", "old-favourite", 1))
    cast(store, event("s6", "q", "disliked", -1))
    # a week: old-favourite has 1 like this week against 2 the week before, so it is not rising
    assert store.rising_items(CATALOG, days=7) == [ItemTrend("newcomer", 2, 0)]
    # three days: its likes of May 2 are older than both periods, so this period's one is a gain
    assert store.rising_items(CATALOG, days=3) == [ItemTrend("newcomer", 2, 0), ItemTrend("old-favourite", 1, 0)]


def test_popular_products_are_the_most_liked_then_the_most_shown(store: FeedbackStore) -> None:
    assert store.popular_items(CATALOG) == []  # no votes, nothing shown: the page shows a sample of kinds
    cast(store, event("s1", "q", "loved", 1))
    cast(store, event("s2", "q", "loved", 1))
    cast(store, event("s3", "q", "liked", 1))
    cast(store, event("s4", "q", "hated", -1))
    for session in ("s5", "s6", "s7"):
        store.record_shown(session, CATALOG, "q", [("seen", 1, 0.2), ("hated", 2, 0.3)])
    store.record_shown("s8", "/other/shop", "q", [("elsewhere", 1, 0.2)] )
    assert store.popular_items(CATALOG, min_sessions=1) == [Popular("loved", 2, 2), Popular("liked", 1, 1),
                                                            Popular("hated", 0, 4), Popular("seen", 0, 3)]
    assert store.popular_items(CATALOG, n=1, min_sessions=1) == [Popular("loved", 2, 2)]


def test_one_shopper_cannot_make_a_product_popular(store: FeedbackStore) -> None:
    for query in ("q1", "q2", "q3", "q4"):  # one shopper liking it in four searches, shown it in each
        cast(store, event("fan", query, "mine", 1))
    assert store.popular_items(CATALOG) == []
    assert store.popular_items(CATALOG, min_sessions=1) == [Popular("mine", 1, 1)]  # one shopper, one like
    cast(store, event("s1", "q", "mine", 1))
    assert store.popular_items(CATALOG) == []  # two shoppers like it, two were shown it
    cast(store, event("s2", "q", "mine", -1))
    assert store.popular_items(CATALOG) == [Popular("mine", 0, 3)]  # shown to three: often viewed, not yet liked
    cast(store, event("s3", "q", "mine", 1))
    assert store.popular_items(CATALOG) == [Popular("mine", 3, 4)]  # three shoppers like it, one does not
    assert POPULAR_MIN_SESSIONS == 3 and store.popular_items(CATALOG, min_sessions=6) == []


def test_likes_are_a_shoppers_standing_thumbs_up_over_all_searches(store: FeedbackStore) -> None:
    cast(store, event("me", "q1", "A", 1))
    cast(store, event("me", "q2", "B", 1))
    cast(store, event("me", "q2", "C", 1))
    cast(store, event("me", "q2", "C", 0))  # withdrawn
    cast(store, event("me", "q3", "D", -1))
    cast(store, event("me", "q3", "A", 1))  # liked again in another search: once, as the latest
    cast(store, event("someone", "q1", "E", 1))
    assert store.likes(CATALOG, "me") == ["A", "B"]
    assert store.likes("/other/shop", "me") == []
    assert store.dislikes(CATALOG, "me") == ["D"]  # the standing thumbs down, kept off "For you"
    cast(store, event("me", "q2", "B", -1))  # changed its mind about B in the search it liked it from
    assert store.dislikes(CATALOG, "me") == ["B", "D"] and store.likes(CATALOG, "me") == ["A"]


def test_forget_me_removes_the_profile_and_the_votes_link_but_keeps_the_votes(store: FeedbackStore) -> None:
    cast(store, event("me", "q1", "A", 1))
    cast(store, event("me", "q1", "B", -1))
    cast(store, event("someone", "q1", "A", 1))
    store.remember("me")
    store.remember("me")  # asking twice is no error
    assert store.remembered("me")
    assert store.forget("me") == 2
    assert not store.remembered("me")
    assert store.likes(CATALOG, "me") == []
    assert store.summary(CATALOG)["votes"] == 3  # the shop's statistics keep every vote
    sessions = {sid for (sid,) in rows(store, "SELECT DISTINCT session_id FROM votes")}
    assert "me" not in sessions and len(sessions) == 2
    anonymous = next(sid for sid in sessions if sid != "someone")
    assert anonymous.startswith(FORGOTTEN_PREFIX)
    assert rows(store, "SELECT count(*) FROM latest_votes WHERE session_id = 'me'") == [(0,)]
    assert rows(store, "SELECT count(*) FROM shown WHERE session_id = 'me'") == [(0,)]
    with pytest.raises(RecommenderError):  # a vote on what was shown before forgetting: no longer theirs
        store.record(event("me", "q1", "A", 0))


def test_a_version_3_database_gains_the_searches_and_profiles_and_keeps_its_votes(target, clock: Clock) -> None:
    old = FeedbackStore(target, clock=clock)
    cast(old, event("me", "q1", "A", 1))
    with old._backend.write() as conn:  # as a database of the previous release
        conn.execute("DROP TABLE searches")
        conn.execute("DROP TABLE profiles")
        old._backend.set_schema_version(conn, 3)
    old._backend.release()
    new = FeedbackStore(target, clock=clock)
    with new._backend.connect() as conn:
        assert new._backend.schema_version(conn) == SCHEMA_VERSION == 4
    assert new.likes(CATALOG, "me") == ["A"]
    new.log_search(CATALOG, "Dresses", "Red", "A", 0.5)
    assert new.searches_by_day(CATALOG, "kind") == [DayCount("2024-05-01", "Dresses", 1)]


KILLED_WORKER = """
import os, signal, sys
from recommender.feedback import FeedbackStore, VoteEvent
store = FeedbackStore(sys.argv[1])
for i in range(20):
    store.log_search(sys.argv[2], "Dresses", "Red", "p1", 0.9)
store.remember("me")
store.record_shown("me", sys.argv[2], "q", [("A", 1, 0.5)])
store.record(VoteEvent(sys.argv[2], "me", "upload", "q", {}, "A", 1, 0.5, "resnet50", 1))
os.kill(os.getpid(), signal.SIGKILL)  # a worker killed mid-flight: no clean shutdown, no close
"""


def test_a_killed_worker_loses_no_search_profile_or_like(target) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED_WORKER, str(target), CATALOG], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    restarted = FeedbackStore(target)
    assert restarted.searches_by_day(CATALOG, "kind", days=100_000)[0].searches == 20
    assert restarted.remembered("me") and restarted.likes(CATALOG, "me") == ["A"]
