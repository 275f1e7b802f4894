"""The vote memory (recommender.vote_memory) and its switch (recommender.memory_switch): near queries only, the
guard, a switch decided by held-out sessions, the file beside the index, another catalogue's votes."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender import vote_memory as vm
from recommender.cli import main
from recommender.engine import Recommender
from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.index import Index
from recommender.memory_switch import MIN_CHECK, check_half
from recommender.model_spec import ModelSpec
from recommender.preferences import FILE_NAME, KIND_STRENGTH, Preferences, kind_lookup
from recommender.ranking import Ranker, RankingSettings
from recommender.vote_learning import learn_votes
from recommender.vote_memory import MEMORY_FILE, QueryVote, VoteMemory, bind_memory, memory_beside, remember
from tests.test_preferences import _vote, killed_while_writing
from tests.test_ranking import _colour, _FakeHead, _index, _unit, _with_head

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = RankingSettings(category_weight=0, label_weight=0, category_first=0.5, hub_weight=0, colour_weight=0)
VOCABULARY = {"articleType": ["Shoes", "Skirts", "Tops"]}
A, B = 0.25, 1.5  # the angles of two places of the query space, far apart (cosine 0.32)


def _shop(tmp_path: Path, skirt: float = 0.55) -> Index:
    """20 tops (even rows) and 20 skirts (odd rows) along one arc; a head that calls every query a skirt at
    `skirt`, a top at the rest, so a query's list starts with skirts alone."""
    angles = np.linspace(0.0, 0.5, 40)
    index = _index(tmp_path, _unit([[np.cos(a), np.sin(a)] for a in angles]), np.stack([_colour("Red")] * 40),
                   [{"articleType": "Tops" if i % 2 == 0 else "Skirts"} for i in range(40)])
    return _with_head(index, _FakeHead(VOCABULARY, {"articleType": [0.0, skirt, 1 - skirt]}))


def _at(angle: float) -> np.ndarray:
    return _unit([[math.cos(angle), math.sin(angle)]])[0]


def _liking(session: str, query: str, kind: str, order: int = 0) -> list[QueryVote]:
    """A session that liked the five tops or skirts shown to it from `query` and disliked five of the other kind."""
    tops, skirts = [f"p{2 * i}" for i in range(5)], [f"p{2 * i + 1}" for i in range(5)]
    liked, disliked = (tops, skirts) if kind == "Tops" else (skirts, tops)
    return [QueryVote(session, query, item, vote, order + n)
            for n, (item, vote) in enumerate([(i, 1) for i in liked] + [(i, -1) for i in disliked])]


def _first_kinds(index: Index, query: np.ndarray, memory: VoteMemory | None) -> list[str]:
    bound = None if memory is None else bind_memory(memory, index)
    ranker = Ranker(index, SETTINGS, memory=None if bound is None else lambda: bound)
    return [index.products[p].attributes["articleType"] for p in ranker.search(query[None], None, 4)[1][0]]


def _switched_on(memory: VoteMemory) -> VoteMemory:
    return replace(memory, switch={"on": True, "reason": "a test"})


def test_the_memory_moves_a_query_only_through_voting_queries_near_it(tmp_path: Path) -> None:
    index = _shop(tmp_path)
    votes = [v for i in range(30) for v in _liking(f"s{i}", f"q{i}", "Tops", 10 * i)]
    vectors = {f"q{i}": _at(A + 0.001 * i) for i in range(30)}
    memory = _switched_on(remember(votes, vectors, index.manifest.catalog.identity, index.dim, kind_lookup(index),
                                   index.manifest.model))
    assert _first_kinds(index, _at(A), None) == ["Skirts"] * 4  # the head alone: skirts first
    assert _first_kinds(index, _at(A + 0.1), memory) == ["Tops"] * 4  # near the voters (cosine 0.995): tops
    assert _first_kinds(index, _at(B), memory) == ["Skirts"] * 4  # far from every voter: as before
    memory.save(index.path / MEMORY_FILE)
    assert Recommender(index).ranker.memory() is not None  # every worker (the app, the API, query) reads it
    off = replace(memory, switch={"on": False, "reason": "a test"})
    off.save(index.path / MEMORY_FILE)
    assert memory_beside(index)() is None  # a memory switched off ranks as before


def test_a_query_far_from_every_voter_keeps_what_the_kind_term_taught(tmp_path: Path) -> None:
    """With the memory on, a query it knows nothing of ranks as the kind term alone would, not as the head alone
    (review: the memory's fallback was the head's probabilities, so switching it on undid the kind term there)."""
    from recommender.preferences import bind

    index = _shop(tmp_path)
    votes = [v for i in range(60) for v in _liking(f"s{i}", f"q{i}", "Tops", 10 * i)]
    preferences, memory = learn_votes(index, votes, {f"q{i}": _at(A + 0.001 * i) for i in range(60)}, SETTINGS)
    learned, bound = bind(preferences, index), bind_memory(_switched_on(memory), index)

    def kinds(ranker: Ranker) -> list[str]:
        return [index.products[p].attributes["articleType"] for p in ranker.search(_at(B)[None], None, 4)[1][0]]

    assert kinds(Ranker(index, SETTINGS)) == ["Skirts"] * 4  # the head alone
    assert kinds(Ranker(index, SETTINGS, learned=lambda: learned)) == ["Tops"] * 4  # the kind term: every skirt query
    assert kinds(Ranker(index, SETTINGS, learned=lambda: learned, memory=lambda: bound)) == ["Tops"] * 4


def test_a_worker_between_learn_s_two_writes_ranks_without_the_other_run_s_memory(tmp_path: Path,
                                                                                   capsys: pytest.CaptureFixture) -> None:
    """`learn` replaces preferences.json, then vote-memory.json: a worker reading between the two sees one run's
    preferences beside another run's memory, and ranks with the preferences alone until the memory catches up."""
    from recommender.preferences import bind

    index = _shop(tmp_path)
    votes = [v for i in range(30) for v in _liking(f"s{i}", f"q{i}", "Tops", 10 * i)]
    memory = _switched_on(remember(votes, {f"q{i}": _at(A + 0.001 * i) for i in range(30)},
                                   index.manifest.catalog.identity, index.dim, kind_lookup(index), index.manifest.model))
    nothing_yet = Preferences(index.manifest.catalog.identity)  # no kind pair: the head's probabilities stand

    def kinds(preferences_run: str, memory_run: str) -> list[str]:
        learned = bind(replace(nothing_yet, learnt=preferences_run), index)
        bound = bind_memory(replace(memory, learnt=memory_run), index)
        ranker = Ranker(index, SETTINGS, learned=lambda: learned, memory=lambda: bound)
        return [index.products[p].attributes["articleType"] for p in ranker.search(_at(A + 0.1)[None], None, 4)[1][0]]

    assert kinds("run-2", "run-2") == ["Tops"] * 4  # one run's pair: the memory moves the near query
    assert kinds("run-2", "run-1") == ["Skirts"] * 4  # the new preferences beside the old memory: without it
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    for i in range(6):
        _vote(store, index.manifest.catalog.identity, f"s{i}", "p0", "p2", 1)

    def learn_marks() -> tuple[str, str]:
        assert main(["learn", "--index", str(index.path), "--feedback-db", str(tmp_path / "votes.sqlite3")]) == 0
        return Preferences.load(index.path / FILE_NAME).learnt, VoteMemory.load(index.path / MEMORY_FILE).learnt

    first, second = learn_marks(), learn_marks()  # each run marks both of its files alike, another run differently
    assert first[0] and first[0] == first[1] and second[0] == second[1] and second[0] != first[0]
    capsys.readouterr()


def _two_places(fit_likes: tuple[str, str], check_likes: tuple[str, str], n: int = 200) -> tuple[list, dict]:
    """`n` sessions, half near A and half near B; at each place, the fit half's and the check half's liked kind."""
    votes, vectors = [], {}
    for i in range(n):
        session, place = f"shopper-{i}", i % 2
        likes = (check_likes if check_half(session) else fit_likes)[place]
        votes += _liking(session, f"q{i}", likes, 10 * i)
        vectors[f"q{i}"] = _at((A, B)[place] + 0.001 * i)
    return votes, vectors


def test_the_switch_turns_on_when_the_held_out_sessions_say_the_memory_helps(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture) -> None:
    """Shoppers near A like tops, near B skirts: the kind term (one query kind) learns nothing, the memory does."""
    index = _shop(tmp_path)
    _, memory = learn_votes(index, *_two_places(("Tops", "Skirts"), ("Tops", "Skirts")), SETTINGS)
    switch = memory.switch
    assert switch["on"] and switch["check_queries_near"] >= MIN_CHECK
    assert switch["score_with"] > switch["score_without"] + switch["margin"] and "helps" in switch["reason"]


def test_the_switch_stays_off_when_the_held_out_sessions_say_the_memory_hurts(tmp_path: Path) -> None:
    """The fit half near A liked tops, the check half there liked skirts (and the other way near B)."""
    index = _shop(tmp_path)
    _, memory = learn_votes(index, *_two_places(("Tops", "Skirts"), ("Skirts", "Tops")), SETTINGS)
    assert not memory.on and memory.switch["gain"] < 0 and "does not help" in memory.switch["reason"]


def test_the_switch_stays_off_with_too_few_sessions_to_tell(tmp_path: Path) -> None:
    index = _shop(tmp_path)
    _, memory = learn_votes(index, *_two_places(("Tops", "Skirts"), ("Tops", "Skirts"), n=10), SETTINGS)
    assert not memory.on and "too few" in memory.switch["reason"]


def test_a_burst_of_one_session_weighs_one_say_and_a_crowd_at_most_e_times(tmp_path: Path) -> None:
    index = _shop(tmp_path)
    catalog, kind_of = index.manifest.catalog.identity, kind_lookup(index)
    burst = [v for i in range(1000) for v in _liking("attacker", f"q{i}", "Tops", 10 * i)]  # 10,000 votes, 1,000 queries
    vectors = {f"q{i}": _at(A + 0.0001 * i) for i in range(1000)}
    bound = bind_memory(remember(burst, vectors, catalog, index.dim, kind_of), index)
    preference, weights = bound.preference(_at(A)[None], np.array([0, 1]))  # Skirts, Tops of the index's kinds
    # its 10,000 votes weigh what 20 would (0.002 each), shared by its 1,000 queries: 5 on a kind, 0.01 in all
    assert weights[0].tolist() == pytest.approx([0.01, 0.01])
    assert preference[0, 1] == pytest.approx(0.01 / (0.01 + vm.PRIOR) / 2)
    again = [v for i in range(1000) for v in _liking("attacker", "q0", "Tops", 10 * i)]  # one query, said again
    one = bind_memory(remember(again, vectors, catalog, index.dim, kind_of), index).preference(_at(A)[None],
                                                                                                np.array([0, 1]))
    assert one[0][0, 1] == pytest.approx(preference[0, 1])  # once per product (its latest vote), capped alike
    single = bind_memory(remember(_liking("shopper", "q0", "Tops"), vectors, catalog, index.dim, kind_of), index)
    assert single.preference(_at(A)[None], np.array([0, 1]))[0][0, 1] == pytest.approx(1 / (1 + vm.PRIOR) / 2)
    twice = _liking("shopper", "q0", "Tops") + _liking("shopper", "q1", "Tops", 10)  # two searches near each other
    both = bind_memory(remember(twice, vectors, catalog, index.dim, kind_of), index).preference(_at(A)[None],
                                                                                                np.array([0, 1]))
    assert both[1][0].tolist() == pytest.approx([1.0, 1.0])  # its say, over both queries, weighs 1
    crowd = [v for i in range(5000) for v in _liking(f"forged-{i}", f"q{i}", "Tops", 10 * i)]
    vectors = {f"q{i}": _at(A) for i in range(5000)}
    bound = bind_memory(_switched_on(remember(crowd, vectors, catalog, index.dim, kind_of)), index)
    scaled = bound.reweigh(_at(A)[None], np.array([[0.0, 0.95, 0.05]]), np.array([-1, 0, 1]), np.array([[1, -1, -1]]))
    assert scaled[0, 2] / scaled[0, 1] == pytest.approx((0.05 / 0.95) * math.e ** 2)  # each kind moved e times
    assert scaled[0, 1] > scaled[0, 2]  # a kind the head is sure of keeps the lead
    assert KIND_STRENGTH / (1 + vm.PRIOR) / 2 < 0.3  # one session: under 1.35 times


def test_a_kill_while_writing_leaves_the_previous_memory(tmp_path: Path) -> None:
    index = _shop(tmp_path)
    learn = killed_while_writing(tmp_path, index, "said", MEMORY_FILE)
    assert VoteMemory.load(index.path / MEMORY_FILE).said[0].session == "s1"
    assert Preferences.load(index.path / FILE_NAME).products["p3"] == 0.0  # written before the kill
    assert main(learn) == 0  # a rerun works, and clears what the kill left
    assert len(VoteMemory.load(index.path / MEMORY_FILE).said) == 2
    assert not any(p.name.endswith(".tmp") for p in index.path.iterdir())


@pytest.mark.parametrize("content", ['{"format": 1, "catalog": "x"', "[]", '{"format": 1, "catalog": "x", "dim": 2, '
                                     '"switch": {"on": true}, "said": [{"session": "s", "vector": "AAAA", '
                                     '"kinds": {"Tops": [5, 1]}}]}'])
def test_a_corrupt_memory_is_one_sentence_and_today_s_ranking(tmp_path: Path, content: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    index = _shop(tmp_path)
    (index.path / MEMORY_FILE).write_text(content.replace('"x"', json.dumps(index.manifest.catalog.identity)))
    ranker = Ranker(index, SETTINGS, memory=memory_beside(index))
    assert [index.products[p].attributes["articleType"] for p in ranker.search(_at(A)[None], None, 4)[1][0]] == \
        ["Skirts"] * 4
    assert "run learn again" in caplog.text and "Traceback" not in caplog.text


def test_learn_remembers_only_its_catalogue_s_votes_and_says_its_switch(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    index = _shop(tmp_path)
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    for i in range(6):
        _vote(store, index.manifest.catalog.identity, f"s{i}", "p0", "p2", 1)
        _vote(store, "/another/catalogue", f"other-{i}", "p0", "p3", -1)
    assert main(["learn", "--index", str(index.path), "--feedback-db", str(tmp_path / "votes.sqlite3")]) == 0
    out = capsys.readouterr().out
    assert "vote memory of 6 remembered queries, switched off: too few held-out vote sessions" in out
    memory = VoteMemory.load(index.path / MEMORY_FILE)
    assert {s.session for s in memory.said} == {f"s{i}" for i in range(6)} and not memory.on
    np.testing.assert_allclose(memory.said[0].vector, index.vectors[0], atol=1e-3)  # "more like this" p0's vector
    replace(_switched_on(memory), catalog="/another/catalogue").save(index.path / MEMORY_FILE)
    assert memory_beside(index)() is None  # another catalogue's memory is never used


def test_a_memory_of_another_model_or_dimension_is_never_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The memory's vectors are the model's: a rebuild with another model (the catalogue, and so the file's key,
    unchanged) puts queries in another space, where its cosines mean nothing, even at the same dimension."""
    index = _shop(tmp_path)
    votes = [v for i in range(30) for v in _liking(f"s{i}", f"q{i}", "Tops", 10 * i)]
    _, memory = learn_votes(index, votes, {f"q{i}": _at(A + 0.001 * i) for i in range(30)}, SETTINGS)
    _switched_on(memory).save(index.path / MEMORY_FILE)
    assert memory_beside(index)() is not None  # learnt with the index's own model
    other = ModelSpec("resnet50", "imagenet", index.manifest.model.head)
    replace(_switched_on(memory), model=other).save(index.path / MEMORY_FILE)
    assert memory_beside(index)() is None and "another model" in caplog.text
    replace(_switched_on(memory), dim=3, said=[]).save(index.path / MEMORY_FILE)
    assert memory_beside(index)() is None and "3 values, not 2" in caplog.text


@pytest.mark.parametrize("on", ["false", 1, None])
def test_a_switch_that_is_neither_on_nor_off_is_a_sentence(tmp_path: Path, on: object) -> None:
    """A hand-edited switch ("false", 1) is not taken for on: `bool("false")` is True (review)."""
    index = _shop(tmp_path)
    votes = _liking("s0", "q0", "Tops")
    data = remember(votes, {"q0": _at(A)}, index.manifest.catalog.identity, index.dim, kind_lookup(index),
                    index.manifest.model).to_json()
    assert VoteMemory.from_json(data).on is False  # as written by learn: a real false
    data["switch"]["on"] = on
    with pytest.raises(RecommenderError, match="neither on nor off"):
        VoteMemory.from_json(data)


def test_learn_reads_the_photos_the_app_kept_for_this_index_s_model(tmp_path: Path) -> None:
    """The app keeps shoppers' photos in a folder per model (`kept_photos_folder`); `learn --uploads` names the
    app's folder and must read that subfolder, or no photo search teaches anything (it read the folder itself)."""
    from PIL import Image

    from recommender.feedback.schema import VoteEvent
    from recommender.uploads import UploadStore, kept_photos_folder

    index = _shop(tmp_path)
    kept = UploadStore(kept_photos_folder(tmp_path / "uploads", index.model), min_free_bytes=0)
    photo = kept.add(b"a shopper's photo", Image.new("RGB", (8, 8)), lambda _: _at(A))
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    catalog = index.manifest.catalog.identity
    store.record_shown("s1", catalog, photo, [("p0", 1, 0.5)])
    store.record(VoteEvent(catalog, "s1", "upload", photo, {}, "p0", 1, 0.5, "fake", 1))
    assert main(["learn", "--index", str(index.path), "--feedback-db", str(tmp_path / "votes.sqlite3"),
                 "--uploads", str(tmp_path / "uploads")]) == 0
    memory = VoteMemory.load(index.path / MEMORY_FILE)
    assert [s.session for s in memory.said] == ["s1"]  # the photo's vector was found, so its query is remembered
    np.testing.assert_allclose(memory.said[0].vector, _at(A), atol=1e-3)
