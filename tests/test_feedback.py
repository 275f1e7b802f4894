"""The vote store (durable, concurrent, append-only, per catalogue) on both back ends, SQLite and
PostgreSQL, and the feedback page's figures."""

from __future__ import annotations

import dataclasses
import math
import random
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest

from recommender.catalog import Product
from recommender.errors import RecommenderError
from recommender.feedback import SCHEMA_VERSION, FeedbackStore, VoteEvent
from recommender.roles import Roles
from recommender.ui import figures
from tests.postgres import fresh_schema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CATALOG = "/shops/kaggle"  # the catalogue identity of every vote below unless said otherwise


def event(session: str, query: str, item: str, vote: int, rank: int = 1, backbone: str = "resnet50", **kw) -> VoteEvent:
    fields = dict(
        catalog=CATALOG,
        session_id=session,
        query_kind="upload",
        query_ref=query,
        filters={"gender": ["Men"], "baseColour": ["Navy Blue", "Black"]},
        item_id=item,
        rank=rank,
        distance=0.25 * rank,
        backbone=backbone,
        vote=vote,
    )
    fields.update(kw)
    return VoteEvent(**fields)


def cast(store: FeedbackStore, vote: VoteEvent) -> None:
    """What the app does: show the result to the session, then take the vote on it."""
    store.record_shown(vote.session_id, vote.catalog, vote.query_ref, [(vote.item_id, vote.rank, vote.distance)])
    store.record(vote)


def rows(store: FeedbackStore, sql: str = "SELECT count(*) FROM votes") -> list[tuple]:
    return store._query(sql)


class Clock:
    """A settable UTC clock, so analytics per day are checked against known dates."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def day(self, day: int) -> None:
        self.now = datetime(2024, 5, day, 10, 0, tzinfo=timezone.utc)


def record_fixed_events(store: FeedbackStore, clock: Clock) -> None:
    """Eleven events; the standing votes they leave are worked out by hand in the tests below."""
    clock.day(1)
    cast(store, event("s1", "q1", "A", 1, rank=1))
    cast(store, event("s1", "q1", "B", -1, rank=2))
    cast(store, event("s1", "q1", "C", 1, rank=3))
    cast(store, event("s1", "q1", "C", 0, rank=3))  # withdrawn
    clock.day(2)
    cast(store, event("s2", "q2", "A", 1, rank=1, backbone="densenet121", query_kind="item"))
    cast(store, event("s2", "q2", "B", 1, rank=2, backbone="densenet121", query_kind="item"))
    cast(store, event("s2", "q2", "B", -1, rank=2, backbone="densenet121", query_kind="item"))  # changed
    cast(store, event("s3", "q1", "A", -1, rank=1))
    cast(store, event("s3", "q1", "D", 1, rank=10))
    clock.day(3)
    cast(store, event("s1", "q1", "B", 1, rank=2))  # s1 changes B from down to up two days later
    cast(store, event("s4", "q3", "E", -1, rank=4))
    # Standing: s1/A +1 (day 1), s1/B +1 (day 3), s2/A +1, s2/B -1, s3/A -1, s3/D +1 (day 2), s4/E -1 (day 3)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path: Path):
    """Where a store lives: a new SQLite file, or a new schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield tmp_path / "nested" / "folder" / "feedback.sqlite3"
    else:
        with fresh_schema() as url:
            yield url


@pytest.fixture
def store(target, clock: Clock) -> FeedbackStore:
    return FeedbackStore(target, clock=clock)


@pytest.fixture
def sqlite_store(tmp_path: Path, clock: Clock) -> FeedbackStore:
    return FeedbackStore(tmp_path / "feedback.sqlite3", clock=clock)


@pytest.fixture
def fixed_store(store: FeedbackStore, clock: Clock) -> FeedbackStore:
    record_fixed_events(store, clock)
    return store


# --------------------------------------------------------------------------- schema and durability


def test_sqlite_schema_is_created_with_version_and_a_rollback_journal(sqlite_store: FeedbackStore) -> None:
    store = sqlite_store
    assert store.path.is_file()
    names = dict(rows(store, "SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    assert names == {
        "votes": "table",
        "latest_votes": "table",
        "effective_votes": "view",
        "shown": "table",
        "shown_by_age": "index",
        "shown_by_session": "index",
        "audit_decisions": "table",
        "searches": "table",
        "searches_by_day": "index",
        "profiles": "table",
    }
    assert rows(store, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(store, "PRAGMA journal_mode") == [("delete",)]  # no memory-mapped -shm (see SqliteBackend)


def test_reopening_keeps_votes_and_does_not_recreate_the_schema(target, store: FeedbackStore, clock: Clock) -> None:
    cast(store, event("s1", "q1", "A", 1))
    cast(store, event("s1", "q1", "B", -1))
    reopened = FeedbackStore(target, clock=clock)
    assert reopened.current_votes(CATALOG, "s1", "q1") == {"A": 1, "B": -1}
    assert rows(store) == [(2,)]


def test_event_is_stored_with_every_field_and_utc_time(store: FeedbackStore, clock: Clock) -> None:
    clock.now = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=timezone.utc)
    cast(store, event("s1", "abc123", "42", -1, rank=7, backbone="mobilenet_v1.tflite", query_kind="item"))
    (row,) = rows(
        store,
        "SELECT created, catalog, session_id, query_kind, query_ref, filters, item_id, rank, distance, backbone, vote"
        " FROM votes",
    )
    assert row == (
        "2024-05-01T12:30:15.250+00:00",
        CATALOG,
        "s1",
        "item",
        "abc123",
        '{"baseColour": ["Navy Blue", "Black"], "gender": ["Men"]}',
        "42",
        7,
        1.75,
        "mobilenet_v1.tflite",
        -1,
    )


def test_default_clock_is_utc_now(target) -> None:
    store = FeedbackStore(target)
    before = datetime.now(timezone.utc)
    cast(store, event("s", "q", "i", 1))
    after = datetime.now(timezone.utc)
    (created,) = rows(store, "SELECT created FROM votes")[0]
    stamp = datetime.fromisoformat(created)
    assert stamp.utcoffset().total_seconds() == 0
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= stamp <= after


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    FeedbackStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RecommenderError, match="newer"):
        FeedbackStore(path)


def test_a_file_that_is_not_a_database_gives_one_sentence_without_its_path(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    path.write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(RecommenderError, match=r"^The feedback database f.sqlite3 cannot be used: .*\.$") as raised:
        FeedbackStore(path)
    assert str(tmp_path) not in str(raised.value)  # shoppers never see server paths


# --------------------------------------------------------------------------- votes


def test_current_votes_follow_changes_and_withdrawals(store: FeedbackStore) -> None:
    cast(store, event("s1", "q1", "A", 1))
    cast(store, event("s1", "q1", "B", 1))
    assert store.current_votes(CATALOG, "s1", "q1") == {"A": 1, "B": 1}
    cast(store, event("s1", "q1", "A", -1))  # changed
    cast(store, event("s1", "q1", "B", 0))  # withdrawn
    assert store.current_votes(CATALOG, "s1", "q1") == {"A": -1}
    cast(store, event("s1", "q1", "B", -1))  # voted again after withdrawing
    assert store.current_votes(CATALOG, "s1", "q1") == {"A": -1, "B": -1}
    # other sessions, other queries and other catalogues are separate
    assert store.current_votes(CATALOG, "s2", "q1") == {}
    assert store.current_votes(CATALOG, "s1", "q2") == {}
    assert store.current_votes("/shops/demo", "s1", "q1") == {}
    # nothing was updated or deleted: every event is in the log
    assert rows(store, "SELECT item_id, vote FROM votes ORDER BY id") == [
        ("A", 1), ("B", 1), ("A", -1), ("B", 0), ("B", -1)
    ]


def test_standing_votes_match_the_latest_event_of_the_log(store: FeedbackStore) -> None:
    rng = random.Random(0)
    latest: dict[tuple[str, str, str], int] = {}
    for _ in range(200):
        key = (f"s{rng.randrange(3)}", f"q{rng.randrange(3)}", f"item{rng.randrange(5)}")
        vote = rng.choice([-1, 0, 1])
        cast(store, event(*key, vote))
        latest[key] = vote
    standing = {key: vote for key, vote in latest.items() if vote}
    for session in ("s0", "s1", "s2"):
        for query in ("q0", "q1", "q2"):
            expected = {item: vote for (s, q, item), vote in standing.items() if (s, q) == (session, query)}
            assert store.current_votes(CATALOG, session, query) == expected
    ups = sum(1 for vote in standing.values() if vote == 1)
    assert store.summary(CATALOG)["votes"] == len(standing) and store.summary(CATALOG)["up"] == ups
    assert rows(store) == [(200,)]


def test_votes_of_each_catalogue_stay_apart(store: FeedbackStore) -> None:
    """Product "A" of the demo catalogue is not product "A" of the Kaggle one."""
    cast(store, event("s1", "q1", "A", 1))
    cast(store, event("s1", "q1", "A", -1, catalog="/shops/demo"))
    cast(store, event("s2", "q1", "B", -1, rank=2, catalog="/shops/demo"))
    assert store.summary(CATALOG) == {"votes": 1, "up": 1, "down": 0, "up_rate": 1.0, "sessions": 1, "ignored": 0}
    assert store.summary("/shops/demo")["votes"] == 2 and store.summary("/shops/demo")["up"] == 0
    assert store.item_totals(CATALOG, liked=False) == []
    assert store.item_totals("/shops/demo", liked=False) == [("A", 0, 1), ("B", 0, 1)]
    assert store.rate_by_rank("/shops/demo") == [(1, 1, 0.0), (2, 1, 0.0)]
    assert store.summary("/shops/other")["votes"] == 0
    assert store.catalogs() == {"/shops/demo": 2, CATALOG: 1}


@pytest.mark.parametrize(
    "changes",
    [
        {"vote": 2},
        {"vote": -2},
        {"vote": "1"},
        {"vote": True},
        {"query_kind": "url"},
        {"rank": 0},
        {"rank": 1.5},
        {"rank": 101},
        {"rank": 10**30},
        {"rank": 2**63 - 1},
        {"rank": True},
        {"distance": math.nan},
        {"distance": math.inf},
        {"distance": -1.0},
        {"distance": "0.5"},
        {"session_id": ""},
        {"catalog": ""},
        {"catalog": None},
        {"item_id": None},
        {"item_id": ["A"]},
        {"query_ref": "x" * 10_000},
        {"filters": {"gender": "Men"}},
        {"filters": ["gender", "Men"]},
        {"filters": {"gender": [1]}},
    ],
)
def test_invalid_events_are_rejected_and_nothing_is_written(store: FeedbackStore, changes: dict) -> None:
    store.record_shown("s1", CATALOG, "q1", [("A", 1, 0.25)])
    with pytest.raises(RecommenderError) as raised:
        store.record(dataclasses.replace(event("s1", "q1", "A", 1), **changes))
    message = str(raised.value)
    assert message.endswith(".") and "\n" not in message
    assert rows(store) == [(0,)]


def test_numpy_numbers_from_the_engine_are_accepted(store: FeedbackStore) -> None:
    np = pytest.importorskip("numpy")
    store.record_shown("s1", CATALOG, "q1", [("A", np.int64(3), np.float32(0.5))])
    store.record(event("s1", "q1", "A", 1, rank=np.int64(3), distance=np.float32(0.5)))
    assert rows(store, "SELECT rank, distance FROM votes") == [(3, 0.5)]


# --------------------------------------------------------------------------- concurrency
# These check that nothing is lost under contention, so they let a vote wait as long as it takes
# (30 s) on a loaded machine; the few-seconds bound that refuses a vote is tested on its own.


@pytest.fixture
def patient(monkeypatch) -> None:
    from recommender.feedback import backends

    monkeypatch.setattr(backends, "WAIT_S", 30.0)


def test_concurrent_votes_from_16_threads_lose_nothing(patient, store: FeedbackStore) -> None:
    threads, per_thread = 16, 30
    for t in range(threads):
        for i in range(per_thread):
            store.record_shown(f"s{t}", CATALOG, "q", [(f"item{i}", i % 10 + 1, 0.25 * (i % 10 + 1))])
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def vote(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                store.record(event(f"s{t}", "q", f"item{i}", 1 if i % 3 else -1, rank=i % 10 + 1))
        except BaseException as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)

    workers = [threading.Thread(target=vote, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert rows(store) == [(threads * per_thread,)]
    assert rows(store, "SELECT count(DISTINCT session_id || '/' || item_id) FROM votes") == [(threads * per_thread,)]
    ups = sum(1 for i in range(per_thread) if i % 3)
    assert store.summary(CATALOG) == {
        "votes": threads * per_thread,
        "up": threads * ups,
        "down": threads * (per_thread - ups),
        "up_rate": ups / per_thread,
        "sessions": threads,
        "ignored": 0,
    }


def test_two_store_objects_on_one_database_lose_nothing(patient, target) -> None:
    stores = [FeedbackStore(target), FeedbackStore(target)]
    start = threading.Barrier(8)

    def vote(t: int) -> None:
        start.wait()
        for i in range(40):
            cast(stores[t % 2], event(f"s{t}", "q", f"item{i}", 1))

    workers = [threading.Thread(target=vote, args=(t,)) for t in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert rows(stores[0]) == [(320,)]
    assert stores[0].summary(CATALOG)["votes"] == stores[1].summary(CATALOG)["votes"] == 320


WRITER = """
import sys
from recommender.feedback import FeedbackStore, VoteEvent, backends
backends.WAIT_S = 30.0  # nothing may be lost: wait as long as a loaded machine needs
store = FeedbackStore(sys.argv[1])
session = sys.argv[2]
store.record_shown(session, "/shops/kaggle", "q", [(f"item{i}", i % 100 + 1, 0.5) for i in range(100)])
sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.readline()
for i in range(100):
    store.record(VoteEvent("/shops/kaggle", session, "upload", "q", {}, f"item{i}", i % 100 + 1, 0.5, "resnet50", 1))
"""


def test_two_processes_writing_at_once_lose_nothing(target) -> None:
    FeedbackStore(target)  # created once, as the first app server does
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(target), f"process{n}"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for p in procs:  # both have opened the store; release them together
        assert p.stdout.readline() == "ready\n"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(timeout=120) == 0
    store = FeedbackStore(target)
    assert rows(store) == [(200,)]
    assert store.summary(CATALOG)["sessions"] == 2 and store.summary(CATALOG)["votes"] == 200


# --------------------------------------------------------------------------- analytics


def test_summary(fixed_store: FeedbackStore) -> None:
    assert fixed_store.summary(CATALOG) == {"votes": 7, "up": 4, "down": 3, "up_rate": 4 / 7, "sessions": 4,
                                            "ignored": 0}
    assert rows(fixed_store) == [(11,)]


def test_summary_of_an_empty_store(store: FeedbackStore) -> None:
    assert store.summary(CATALOG) == {"votes": 0, "up": 0, "down": 0, "up_rate": None, "sessions": 0, "ignored": 0}
    assert store.votes_over_time(CATALOG) == []
    assert store.rate_by_rank(CATALOG) == []
    assert store.item_totals(CATALOG, liked=True) == []


def test_current_votes_of_the_fixed_events(fixed_store: FeedbackStore) -> None:
    assert fixed_store.current_votes(CATALOG, "s1", "q1") == {"A": 1, "B": 1}
    assert fixed_store.current_votes(CATALOG, "s2", "q2") == {"A": 1, "B": -1}


def test_votes_over_time(fixed_store: FeedbackStore) -> None:
    assert fixed_store.votes_over_time(CATALOG) == [("2024-05-01", 1, 0), ("2024-05-02", 2, 2),
                                                    ("2024-05-03", 1, 1)]


def test_rate_by_rank(fixed_store: FeedbackStore) -> None:
    assert fixed_store.rate_by_rank(CATALOG) == [(1, 3, pytest.approx(2 / 3)), (2, 2, 0.5), (4, 1, 0.0), (10, 1, 1.0)]


def test_rate_by_backbone(fixed_store: FeedbackStore) -> None:
    assert fixed_store.rate_by_backbone(CATALOG) == [("densenet121", 2, 0.5), ("resnet50", 5, 0.6)]


CATEGORIES = {"A": "Shirts", "B": "Shirts", "C": "Shoes", "D": "Shoes"}  # E: not in the catalogue


def test_rate_by_item_attribute(fixed_store: FeedbackStore) -> None:
    # Shirts: A (2 up, 1 down) + B (1 up, 1 down); Shoes: D (1 up), C withdrawn; unknown: E (1 down)
    assert fixed_store.rate_by_item_attribute(CATALOG, CATEGORIES.get) == [
        ("Shirts", 5, 0.6),
        ("Shoes", 1, 1.0),
        ("unknown", 1, 0.0),
    ]


def test_item_totals(fixed_store: FeedbackStore) -> None:
    # A: 2 up 1 down (net +1, more ups than D); D: 1 up; B: 1 up 1 down (in neither list); E: 1 down
    assert fixed_store.item_totals(CATALOG, liked=True) == [("A", 2, 1), ("D", 1, 0)]
    assert fixed_store.item_totals(CATALOG, liked=True, n=1) == [("A", 2, 1)]
    assert fixed_store.item_totals(CATALOG, liked=False) == [("E", 0, 1)]


def test_analytics_survive_forged_rows_and_count_them(fixed_store: FeedbackStore) -> None:
    """Rows written past the validation (an old program, a hand edit): ignored by every chart, counted."""
    with fixed_store._backend.write() as conn:
        for n, (rank, distance) in enumerate([(4_611_686_018_427_387_904, 0.5), (3, math.inf), (101, 0.5)]):
            (event_id,) = conn.execute(
                "INSERT INTO votes (created, catalog, session_id, query_kind, query_ref, filters, item_id, rank,"
                " distance, backbone, vote) VALUES ('2024-05-04T00:00:00.000+00:00', ?, ?, 'upload', 'q', '{}',"
                " 'F', ?, ?, 'resnet50', 1) RETURNING id", (CATALOG, f"forger{n}", rank, distance)).fetchone()
            conn.execute(
                "INSERT INTO latest_votes (catalog, session_id, query_ref, item_id, event_id, created, rank, distance,"
                " backbone, vote) VALUES (?, ?, 'q', 'F', ?, '2024-05-04T00:00:00.000+00:00', ?, ?, 'resnet50', 1)",
                (CATALOG, f"forger{n}", event_id, rank, distance))
    summary = fixed_store.summary(CATALOG)
    assert summary["votes"] == 7 and summary["ignored"] == 3
    assert [r.key for r in fixed_store.rate_by_rank(CATALOG)] == [1, 2, 4, 10]
    assert "F" not in [t.item_id for t in fixed_store.item_totals(CATALOG, liked=True)]
    assert fixed_store.votes_over_time(CATALOG)[-1].day == "2024-05-03"
    fig = figures.rate_by_rank_figure(fixed_store, CATALOG)
    assert fig.layout.xaxis.range[1] <= 100.5  # a bounded axis: the page stays fast


# --------------------------------------------------------------------------- the feedback page's figures


class CatalogIndex:
    """The part of `recommender.index.Index` the page uses: products by id and attribute names."""

    def __init__(self, products: list[Product], catalog: str = CATALOG) -> None:
        self._products = {p.id: p for p in products}
        self.manifest = SimpleNamespace(catalog=SimpleNamespace(identity=catalog))

    def product(self, item_id: str) -> Product:
        return self._products[item_id]

    def attributes(self) -> list[str]:
        return sorted({name for p in self._products.values() for name in p.attributes})

    @property
    def roles(self) -> Roles:
        return Roles.of(self.attributes())


INDEX = CatalogIndex(
    [
        Product(
            item_id,
            Path(f"/catalog/{item_id}.jpg"),
            {"productDisplayName": f"Product <b>{item_id}</b>", "articleType": category, "gender": "Men"},
        )
        for item_id, category in CATEGORIES.items()
    ]
)


@pytest.fixture(scope="module")
def page():
    """The page module, imported under a throwaway Dash app; Dash's process-wide page registry restored after."""
    import dash

    saved = dict(dash.page_registry)
    dash.Dash(__name__, use_pages=True, pages_folder="")
    from recommender.ui.pages import feedback

    yield feedback
    dash.page_registry.clear()
    dash.page_registry.update(saved)


def walk(component):
    """Every component in a Dash component tree."""
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


def texts(component) -> list[str]:
    return [c.children for c in walk(component) if isinstance(getattr(c, "children", None), str)]


def test_category_role_prefers_article_type() -> None:
    assert Roles.of(["gender", "category", "articleType"]).category == "articleType"
    assert Roles.of(["category"]).category == "category"
    assert Roles.of(["gender"]).category is None


def test_votes_over_time_figure(fixed_store: FeedbackStore) -> None:
    fig = figures.votes_over_time_figure(fixed_store, CATALOG)
    up, down = fig.data
    assert list(up.x) == list(down.x) == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert list(up.y) == [1, 2, 1] and list(down.y) == [0, 2, 1]
    assert fig.layout.barmode == "stack"


def test_rate_by_rank_figure(fixed_store: FeedbackStore) -> None:
    (bars,) = figures.rate_by_rank_figure(fixed_store, CATALOG).data
    assert list(bars.x) == [1, 2, 4, 10]
    assert list(bars.y) == pytest.approx([2 / 3, 0.5, 0.0, 1.0])
    assert list(bars.customdata) == [3, 2, 1, 1]


def test_every_bar_says_its_votes_even_at_0_percent_and_its_words_say_them_too(fixed_store: FeedbackStore) -> None:
    fig = figures.rate_by_rank_figure(fixed_store, CATALOG)
    (bars,) = fig.data
    assert list(bars.text) == ["3 votes", "2 votes", "1 vote", "1 vote"]
    assert list(bars.textposition) == ["auto", "auto", "outside", "auto"]  # Plotly drops "auto" words of a 0 % bar
    assert figures.figure_summary(fig) == ("Thumbs-up rate by rank. values: 1: 67% (3 votes); 2: 50% (2 votes); "
                                           "4: 0% (1 vote); 10: 100% (1 vote).")


def test_a_chart_with_no_bars_is_said_in_a_sentence() -> None:
    fig = go.Figure(go.Bar(x=[], y=[]), layout={"title": {"text": "Thumbs-up rate by rank"}})
    assert figures.figure_summary(fig) == "Thumbs-up rate by rank. No values yet."  # not "values: ."


def test_rate_by_category_figure_best_rate_on_top(fixed_store: FeedbackStore) -> None:
    attribute_of = figures.attribute_lookup(INDEX, "articleType")
    fig = figures.rate_by_category_figure(fixed_store, CATALOG, attribute_of, label="articleType")
    (bars,) = fig.data
    assert list(bars.y) == ["unknown", "Shirts", "Shoes"]  # horizontal bars: the last is drawn on top
    assert list(bars.x) == [0.0, 0.6, 1.0]
    assert list(bars.customdata) == [1, 5, 1]
    assert "articleType" in fig.layout.title.text


def test_page_without_votes_says_so_instead_of_empty_charts(page, store: FeedbackStore) -> None:
    content = page.feedback_content(store, INDEX)
    assert "No votes yet" in texts(content)
    assert not [c for c in walk(content) if type(c).__name__ == "Graph"]


def test_page_with_votes_has_cards_charts_and_product_cards(page, fixed_store: FeedbackStore) -> None:
    content = page.feedback_content(fixed_store, INDEX)
    graphs = [c for c in walk(content) if type(c).__name__ == "Graph"]
    assert len(graphs) == 3
    by_id = {c.id: c for c in walk(content) if getattr(c, "id", None)}
    assert by_id["feedback-votes"].children == "7"
    assert by_id["feedback-up-rate"].children == "57%"
    assert by_id["feedback-sessions"].children == "4"
    liked = list(walk(by_id["feedback-liked"]))
    assert [c.src for c in liked if type(c).__name__ == "CardImg"] == ["/thumbnail/A", "/thumbnail/D"]
    assert "Product <b>A</b>" in texts(by_id["feedback-liked"])  # a name is text, shown as typed
    assert "E (no longer in the catalogue)" in texts(by_id["feedback-disliked"])


def test_page_shows_only_the_votes_of_its_own_catalogue(page, fixed_store: FeedbackStore) -> None:
    demo = CatalogIndex(INDEX._products.values(), catalog="/shops/demo")
    assert "No votes yet" in texts(page.feedback_content(fixed_store, demo))
    cast(fixed_store, event("s9", "q9", "A", -1, catalog="/shops/demo"))
    content = page.feedback_content(fixed_store, demo)
    by_id = {c.id: c for c in walk(content) if getattr(c, "id", None)}
    assert by_id["feedback-votes"].children == "1" and by_id["feedback-sessions"].children == "1"


def test_page_counts_ignored_votes(page, fixed_store: FeedbackStore) -> None:
    with fixed_store._backend.write() as conn:
        conn.execute("UPDATE latest_votes SET rank = 4611686018427387904 WHERE session_id = 's4'")
    content = page.feedback_content(fixed_store, INDEX)
    assert any("1 ignored (impossible rank or distance)" in text for text in texts(content))
    by_id = {c.id: c for c in walk(content) if getattr(c, "id", None)}
    assert by_id["feedback-votes"].children == "6"


def test_page_without_a_category_attribute_leaves_that_chart_out(page, fixed_store: FeedbackStore) -> None:
    index = CatalogIndex([Product("A", Path("/catalog/A.jpg"), {"gender": "Men"})])
    graphs = [c for c in walk(page.feedback_content(fixed_store, index)) if type(c).__name__ == "Graph"]
    assert len(graphs) == 2


def test_thumbnail_url_keeps_the_id_one_path_segment(page) -> None:
    assert page.thumbnail_url("15970") == "/thumbnail/15970"
    assert page.thumbnail_url("../../etc/passwd") == "/thumbnail/..%2F..%2Fetc%2Fpasswd"


OPENER = """
import sys, time
from recommender.feedback import FeedbackStore
start = float(sys.argv[2])
while time.time() < start:  # spin so that every process opens the new file at the same instant
    pass
FeedbackStore(sys.argv[1])
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_creating_the_store_at_the_same_instant_all_succeed(tmp_path: Path, backend: str) -> None:
    """Several gunicorn workers start at once on a new database: creating its schema must not fail any."""
    for trial in range(5 if backend == "sqlite" else 2):
        if backend == "sqlite":
            _processes_create_one_store(tmp_path / f"new{trial}.sqlite3")
        else:
            with fresh_schema() as url:
                _processes_create_one_store(url)


def _processes_create_one_store(path: Path | str) -> None:
    start = time.time() + 0.5
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), str(start)], cwd=PROJECT_ROOT,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert FeedbackStore(path).summary(CATALOG)["votes"] == 0


def test_standing_votes_are_what_learning_reads_oldest_first(fixed_store: FeedbackStore) -> None:
    votes = fixed_store.standing_votes(CATALOG)
    assert sorted(votes, key=lambda v: v[5]) == votes  # oldest first: a session's latest vote is read last
    assert sorted((s, item, vote) for s, _, _, item, vote, _ in votes) == [
        ("s1", "A", 1), ("s1", "B", 1), ("s2", "A", 1), ("s2", "B", -1), ("s3", "A", -1), ("s3", "D", 1),
        ("s4", "E", -1)]
    assert {(s, kind, ref) for s, kind, ref, *_ in votes} == {("s1", "upload", "q1"), ("s2", "item", "q2"),
                                                              ("s3", "upload", "q1"), ("s4", "upload", "q3")}
    assert fixed_store.standing_votes("another") == []  # votes on one catalogue never touch another
