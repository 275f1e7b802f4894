"""What votes teach the ranking (recommender.preferences): the guard, the file beside the index, `learn`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recommender import preferences as prefs
from recommender.cli import main
from recommender.evaluation.run import own_queries
from recommender.evaluation.simulated_votes import simulate_votes, voting_half
from recommender.feedback import FeedbackStore, VoteEvent
from recommender.index import Index
from recommender.preferences import (
    FILE_NAME,
    PRODUCT_PRIOR,
    PRODUCT_WEIGHT,
    LearnedFile,
    Preferences,
    VoteRecord,
    bind,
    fit,
    kind_lookup,
)  # fmt: skip
from recommender.ranking import Ranker, RankingSettings
from tests.test_ranking import _colour, _FakeHead, _index, _kinds_index, _unit, _with_head

PLAIN = RankingSettings(colour_weight=0, hub_weight=0, category_first=None)
ROOT = Path(__file__).resolve().parent.parent


def _no_kind(_: str) -> None:
    return None


def _row_index(tmp_path: Path) -> Index:
    """Five dresses: p0 nearest the query [1, 0], then p1 to p3 within 0.05 of cosine, p4 far (cosine 0.2)."""
    vectors = _unit([[1, 0.0], [1, 0.1], [1, 0.2], [1, 0.3], [0.2, 1]])
    return _index(tmp_path, vectors, np.stack([_colour("Red")] * 5), [{"category": "Dress"}] * 5)


def _order(ranker: Ranker) -> list[int]:
    return ranker.search(_unit([[1, 0]]), None, 5)[1][0].tolist()


def _learned(preferences: Preferences, index: Index):
    bound = bind(preferences, index)
    return lambda: bound


def test_a_burst_of_a_thousand_votes_from_one_session_weighs_what_twenty_would() -> None:
    honest = [VoteRecord(f"shopper-{i}", None, "p1", 1, i) for i in range(3)]
    burst = [VoteRecord("attacker", None, "p1", -1, 10 + i) for i in range(1000)]  # one product, many queries
    spread = [VoteRecord("attacker", None, f"p{i % 500}", -1, 2000 + i) for i in range(1000)]
    learnt = fit(honest + burst + spread, "shop", _no_kind).products
    assert learnt["p1"] == pytest.approx(3 / (3 + PRODUCT_PRIOR), abs=0.02)  # the attacker's say on p1 weighs 0.02
    assert max(abs(learnt[f"p{i}"]) for i in range(2, 500)) <= 0.02 / (0.02 + PRODUCT_PRIOR)
    alone = fit(burst, "shop", _no_kind).products["p1"]
    assert abs(alone) <= 1 / (1 + PRODUCT_PRIOR)  # even unopposed, one session counts as one vote at most


def test_a_session_counts_once_per_product_and_its_latest_vote_wins() -> None:
    changed_mind = [VoteRecord("s", None, "p0", -1, 1), VoteRecord("s", None, "p0", 1, 2)]
    assert fit(changed_mind, "shop", _no_kind).products["p0"] == pytest.approx(1 / (1 + PRODUCT_PRIOR))


def test_a_thousand_sessions_forged_or_not_cannot_move_a_product_beyond_the_bound(tmp_path: Path) -> None:
    """A cookie whose signature fails gets a fresh server-chosen session, so forging cookies makes many sessions:
    their votes together move a product's score by less than PRODUCT_WEIGHT, never more."""
    index = _row_index(tmp_path)
    assert _order(Ranker(index, PLAIN)) == [0, 1, 2, 3, 4]
    mob = [VoteRecord(f"forged-{i}", None, "p4", 1, i) for i in range(1000)]
    mob += [VoteRecord(f"forged-{i}", None, "p0", -1, 1000 + i) for i in range(1000)]
    learnt = fit(mob, index.manifest.catalog.identity, _no_kind)
    assert learnt.products["p4"] == pytest.approx(1000 / (1000 + PRODUCT_PRIOR)) and learnt.products["p4"] < 1
    order = _order(Ranker(index, PLAIN, learned=_learned(learnt, index)))
    cosine = 1 - np.linalg.norm(index.vectors - _unit([[1, 0]]), axis=1) ** 2 / 2
    assert cosine[3] - cosine[4] > 2 * PRODUCT_WEIGHT  # farther than the guard allows: p4 stays last
    assert order[-1] == 4 and order[0] == 1  # p0, within reach of the bound, drops below p1


def test_votes_move_a_near_product_up_within_the_bound(tmp_path: Path) -> None:
    index = _row_index(tmp_path)
    liked = fit([VoteRecord(f"s{i}", None, "p3", 1, i) for i in range(5)], index.manifest.catalog.identity, _no_kind)
    assert _order(Ranker(index, PLAIN, learned=_learned(liked, index)))[0] == 3


def test_kinds_shoppers_liked_for_such_queries_gain_within_the_bound(tmp_path: Path) -> None:
    vocabulary = {"articleType": ["Shoes", "Skirts", "Tops"]}
    settings = RankingSettings(category_weight=0, label_weight=0, category_first=0.9, mix_sharpness=1, hub_weight=0)

    def first_kinds(head: _FakeHead, learnt: Preferences | None, where: str) -> list[str]:
        index = _with_head(_kinds_index(tmp_path / where), head)
        ranker = Ranker(index, settings, learned=None if learnt is None else _learned(learnt, index))
        return [index.products[p].attributes["articleType"] for p in _order(ranker)[:4]]

    # shoppers whose queries were called skirts liked the tops shown to them and disliked the skirts
    votes = [VoteRecord(f"s{i}", "Skirts", f"p{j}", 1 if j < 5 else -1, i * 10 + j) for i in range(40) for j in range(10)]
    index = _kinds_index(tmp_path / "k")
    learnt = fit(votes, index.manifest.catalog.identity, kind_lookup(index))
    assert learnt.kinds[("Skirts", "Tops")] > 0 > learnt.kinds[("Skirts", "Skirts")]
    unsure = _FakeHead(vocabulary, {"articleType": [0.0, 0.55, 0.45]})
    assert first_kinds(unsure, None, "a")[0] == "Skirts"
    assert first_kinds(unsure, learnt, "b")[0] == "Tops"  # the votes tipped an unsure query
    sure = _FakeHead(vocabulary, {"articleType": [0.0, 0.95, 0.05]})
    assert first_kinds(sure, learnt, "c")[0] == "Skirts"  # at most e times: they cannot overturn a sure one


def test_a_likely_kind_nobody_voted_on_keeps_its_place(tmp_path: Path) -> None:
    """Shoppers of skirt-called queries liked skirts and disliked tops; nobody was shown a shoe. A query the head
    finds nearly as likely a shoe (maybe a shoe it mistakes) keeps its shoe among the first places."""
    vocabulary = {"articleType": ["Shoes", "Skirts", "Tops"]}
    settings = RankingSettings(category_weight=0, label_weight=0, category_first=0.5, mix_sharpness=1, hub_weight=0)
    votes = [VoteRecord(f"s{i}", "Skirts", f"p{j}", 1 if j >= 5 else -1, i * 10 + j) for i in range(40) for j in range(10)]
    index = _kinds_index(tmp_path / "k")
    learnt = fit(votes, index.manifest.catalog.identity, kind_lookup(index))
    assert learnt.kinds[("Skirts", "Skirts")] > 0 > learnt.kinds[("Skirts", "Tops")]

    def first_kinds(probabilities: list[float], votes: Preferences | None, where: str) -> list[str]:
        index = _with_head(_kinds_index(tmp_path / where, far_shoe=True),
                           _FakeHead(vocabulary, {"articleType": probabilities}))
        ranker = Ranker(index, settings, learned=None if votes is None else _learned(votes, index))
        return [index.products[p].attributes["articleType"] for p in _order(ranker)[:4]]

    shoe_or_skirt = [0.30, 0.45, 0.25]  # skirts and shoes come first (0.75 >= 0.5); the votes' skirt gain alone
    assert "Shoes" in first_kinds(shoe_or_skirt, None, "a")  # would fill the first places with skirts
    assert "Shoes" in first_kinds(shoe_or_skirt, learnt, "b")
    # where every likely kind was voted on, the votes act: test_kinds_shoppers_liked_for_such_queries_gain...


def test_preferences_of_another_catalogue_are_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index = _row_index(tmp_path)
    Preferences("/another/catalogue", {"p3": 0.9}).save(index.path / FILE_NAME)
    learned = prefs.beside(index)
    assert learned() is None and "another catalogue" in caplog.text
    assert _order(Ranker(index, PLAIN, learned=learned)) == [0, 1, 2, 3, 4]


def test_a_learn_killed_while_writing_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / FILE_NAME
    Preferences("shop", {"p1": 0.5}, votes=1, sessions=1).save(path)
    before = path.read_bytes()

    def killed(data: object, handle) -> None:
        handle.write('{"format": 1, "catalog": "sh')
        raise KeyboardInterrupt  # a kill between two writes

    monkeypatch.setattr(prefs.json, "dump", killed)
    with pytest.raises(KeyboardInterrupt):
        Preferences("shop", {"p1": -0.5}).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [FILE_NAME]
    Preferences("shop", {"p1": -0.5}).save(path)  # a rerun works
    assert Preferences.load(path).products == {"p1": -0.5}


@pytest.mark.parametrize("content", ['{"format": 1, "catalog": "shop"', '{"format": 1, "catalog": "shop", '
                                     '"votes": 1, "sessions": 1, "products": {"p1": 1e308}, "kinds": []}', "[]"])
def test_a_broken_file_is_one_sentence_and_ranks_without_it(tmp_path: Path, content: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    index = _row_index(tmp_path)
    (index.path / FILE_NAME).write_text(content)
    assert prefs.beside(index)() is None
    assert "run learn again" in caplog.text and "Traceback" not in caplog.text


def test_the_app_picks_up_a_new_file_without_a_restart(tmp_path: Path) -> None:
    index = _row_index(tmp_path)
    now = [0.0]
    learned = LearnedFile(index.path / FILE_NAME, index.manifest.catalog.identity, lambda p: bind(p, index),
                          clock=lambda: now[0])
    assert learned() is None
    Preferences(index.manifest.catalog.identity, {"p3": 0.9}, votes=9, sessions=9).save(index.path / FILE_NAME)
    assert learned() is None  # looked at again only after RELOAD_S
    now[0] += prefs.RELOAD_S
    assert learned().product[3] == pytest.approx(0.9)
    (index.path / FILE_NAME).unlink()
    now[0] += prefs.RELOAD_S
    assert learned() is None


def _vote(store: FeedbackStore, catalog: str, session: str, query: str, item: str, vote: int) -> None:
    store.record_shown(session, catalog, query, [(item, 1, 0.5)])
    store.record(VoteEvent(catalog, session, "item", query, {}, item, 1, 0.5, "fake", vote))


def test_learn_writes_beside_the_index_and_a_restarted_process_ranks_with_it(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture) -> None:
    index = _row_index(tmp_path)
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    catalog = index.manifest.catalog.identity
    for i in range(6):
        _vote(store, catalog, f"s{i}", "p0", "p3", 1)
        _vote(store, "/another/catalogue", f"s{i}", "p0", "p1", -1)  # never touches this catalogue
    _vote(store, catalog, "s0", "p1", "p3", -1)  # s0 changed its mind: its latest vote on p3 counts
    query = [sys.executable, "-m", "recommender", "query", "--index", str(index.path), "--id", "p0", "--json"]

    def ranked() -> list[str]:
        done = subprocess.run(query, capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
        return [r["id"] for r in json.loads(done.stdout)["results"]]

    assert ranked()[0] == "p1"
    assert main(["learn", "--index", str(index.path), "--feedback-db", str(tmp_path / "votes.sqlite3")]) == 0
    out = capsys.readouterr().out
    assert "7 votes from 6 sessions" in out and "wrote" in out
    learnt = Preferences.load(index.path / FILE_NAME)
    assert learnt.catalog == catalog and set(learnt.products) == {"p3"}
    assert learnt.products["p3"] == pytest.approx(4 / (6 + PRODUCT_PRIOR))
    assert ranked()[0] == "p3"  # a new process (a worker restarted) reads what was learnt


def test_learn_without_a_vote_database_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    index = _row_index(tmp_path)
    assert main(["learn", "--index", str(index.path), "--feedback-db", str(tmp_path / "none.sqlite3")]) == 2
    assert "no vote database" in capsys.readouterr().err and not (tmp_path / "none.sqlite3").exists()


def test_simulated_votes_are_cast_on_one_half_and_scored_on_the_other(tmp_path: Path) -> None:
    index = _with_head(_kinds_index(tmp_path), _FakeHead({"articleType": ["Shoes", "Skirts", "Tops"]},
                                                         {"articleType": [0.0, 0.55, 0.45]}))
    queries = own_queries(index, all_products=True)
    half = voting_half(queries.ids)
    assert 0 < half.sum() < len(half) and (voting_half(queries.ids) == half).all()
    figures = simulate_votes(index, queries, 25, settings=RankingSettings(category_first=0.9, hub_weight=0))
    assert figures["votes"] == 25 and figures["sessions"] == math.ceil(25 / 10)
    assert figures["queries_scored"] == int((~half).sum())
    # the voting tops' shoppers disliked the skirts their unsure query led with; the other half's tops gain
    assert figures["p10_after"] >= figures["p10_before"]


def test_one_session_moves_a_kind_little_and_no_crowd_beyond_the_bound(tmp_path: Path) -> None:
    index = _kinds_index(tmp_path)
    bound = bind(Preferences(index.manifest.catalog.identity), index)
    one = [VoteRecord("s", "Skirts", "p0", 1, 0), VoteRecord("s", "Skirts", "p9", -1, 1)]
    crowd = [VoteRecord(f"s{i}", "Skirts", p, v, i) for i in range(5000) for p, v in (("p0", 1), ("p9", -1))]
    skirts, tops = bound.kinds.index("Skirts"), bound.kinds.index("Tops")
    for votes, most in ((one, math.exp(prefs.KIND_STRENGTH / (1 + prefs.KIND_PRIOR))), (crowd, math.e)):
        learnt = bind(fit(votes, index.manifest.catalog.identity, kind_lookup(index)), index)
        factor = learnt.kind_factor(np.array([skirts]), np.array([tops, skirts]))[0]
        assert 1 < factor[0] <= most + 1e-9 and 1 / (most + 1e-9) <= factor[1] < 1
    assert math.exp(prefs.KIND_STRENGTH / (1 + prefs.KIND_PRIOR)) < 2  # one session: under twice as likely


def test_evaluate_reports_simulated_votes_in_its_json(capsys: pytest.CaptureFixture, demo_index_dir: Path) -> None:
    assert main(["evaluate", "--index", str(demo_index_dir), "--simulate-votes", "30", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    figures = run["simulated_votes"]
    assert figures["votes"] == 30 and figures["sessions"] == 3 and 0 < figures["queries_scored"] < run["query_items"]
    assert 0 <= figures["p10_before"] <= 1 and 0 <= figures["p10_after"] <= 1
    assert {"unvoted_kinds_queries", "unvoted_kinds_p10_before", "unvoted_kinds_p10_after"} <= set(figures)
    assert figures["memory_on"] is False and "too few" in figures["memory_switch"]["reason"]  # 3 sessions


def test_a_burst_through_the_vote_store_and_learn_stays_within_the_guard(tmp_path: Path) -> None:
    """1,000 votes of one session, each on a result really shown to it, learnt by `learn`: one vote's weight."""
    from recommender.vote_learning import learn

    index = _row_index(tmp_path)
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    catalog = index.manifest.catalog.identity
    for i in range(1000):
        _vote(store, catalog, "burst", f"query-{i}", "p4", 1)
    learnt = learn(index.path, store, None, say=lambda _: None)
    assert learnt.votes == 1000 and learnt.sessions == 1
    assert learnt.products["p4"] == pytest.approx(0.02 / (0.02 + PRODUCT_PRIOR))  # one say, weighing 20 / 1,000
    assert _order(Ranker(index, PLAIN, learned=prefs.beside(index)))[-1] == 4  # far p4 is not lifted


class _AngleHead:
    """A head that calls a vector near [1, 0] a top and one near [0, 1] a skirt."""

    attributes = {"articleType": ["Shoes", "Skirts", "Tops"]}

    def classify(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        e = np.atleast_2d(embeddings)
        skirt = (e[:, 1] > e[:, 0]).astype(np.float32)
        return {"articleType": np.stack([np.zeros_like(skirt), 0.9 * skirt + 0.05, 0.95 - 0.9 * skirt], axis=1)}


def test_a_vote_s_query_kind_comes_from_the_product_or_the_kept_photo(tmp_path: Path) -> None:
    from PIL import Image

    from recommender.uploads import UploadStore
    from recommender.vote_learning import query_kinds, query_votes

    index = _with_head(_kinds_index(tmp_path), _AngleHead())
    uploads = UploadStore(tmp_path / "uploads", min_free_bytes=0)
    photo = uploads.add(b"a skirt photo", Image.new("RGB", (8, 8)), lambda _: np.array([0.1, 1.0, 0.3], np.float32))
    # a photo kept by a smaller model's build (1 value, the index's vectors have 2): not in this index's space
    older = uploads.add(b"an older photo", Image.new("RGB", (8, 8)), lambda _: np.array([1.0], np.float32))
    rows = [("s1", "upload", photo, "p0", 1, 1), ("s1", "upload", "0" * 64, "p1", 1, 2),
            ("s2", "item", "p0", "p5", -1, 3), ("s2", "item", "gone", "p6", -1, 4), ("s3", "upload", older, "p2", 1, 5)]
    votes, vectors = query_votes(index, rows, uploads)
    kind = query_kinds(index, vectors)
    assert [kind.get(v.query) for v in votes] == ["Skirts", None, "Tops", None, None]  # pruned, removed, other model
    assert [(v.session, v.item, v.vote, v.order) for v in votes] == [(s, i, v, o) for s, _, _, i, v, o in rows]


def killed_while_writing(tmp_path: Path, index: Index, key: str, file_name: str) -> list[str]:
    """Learn one vote; then, a second vote cast, run `learn` in a process SIGKILLed half-way through writing the
    learnt file whose JSON holds `key`: that file must be the first learn's. Gives the learn command."""
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    _vote(store, index.manifest.catalog.identity, "s1", "p0", "p3", 1)
    learn = ["learn", "--index", str(index.path), "--feedback-db", str(tmp_path / "votes.sqlite3")]
    assert main(learn) == 0
    before = (index.path / file_name).read_bytes()
    _vote(store, index.manifest.catalog.identity, "s2", "p0", "p3", -1)
    killed = ("import json, os, signal\nfrom recommender.cli import main\nreal = json.dump\n"
              "def dump(data, handle, *args, **kwargs):\n"
              f"    if isinstance(data, dict) and {key!r} in data:\n"
              "        handle.write('{\"format\": 1, \"cat'); handle.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
              "    real(data, handle, *args, **kwargs)\n"
              f"json.dump = dump\nmain({learn!r})\n")
    done = subprocess.run([sys.executable, "-c", killed], cwd=ROOT, timeout=120, capture_output=True)
    assert done.returncode == -9
    assert (index.path / file_name).read_bytes() == before
    return learn


def test_a_learn_killed_with_sigkill_while_writing_leaves_the_previous_file(tmp_path: Path) -> None:
    index = _row_index(tmp_path)
    learn = killed_while_writing(tmp_path, index, "products", FILE_NAME)
    assert any(p.name.endswith(".tmp") for p in index.path.iterdir())  # what the kill left
    assert main(learn) == 0  # a rerun works, and clears it
    assert Preferences.load(index.path / FILE_NAME).products["p3"] == 0.0
    assert not any(p.name.endswith(".tmp") for p in index.path.iterdir())
