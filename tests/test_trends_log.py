"""The Trends page's "kinds the catalogue lacks" judges a search by the match its best card showed the shopper."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from recommender.engine import Recommender
from recommender.feedback import FeedbackStore
from recommender.tags import Tag
from recommender.trends import LACKING_BELOW, log_search
from tests.index_fakes import FakeExtractor
from tests.test_profile import kinds_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    """A model of real weights: results re-ranked by kind and colour, so a card's match (the ranker's score)
    and how alike its picture looks (its distance alone) differ."""
    return kinds_engine(tmp_path_factory.mktemp("kinds"), FakeExtractor(weights="imagenet"))


@pytest.mark.parametrize("colour", [(200, 30, 40), (90, 0, 160), (0, 0, 0)])  # the last: nothing alike
def test_a_logged_search_keeps_the_match_its_best_card_showed(engine: Recommender, tmp_path: Path,
                                                              colour: tuple[int, int, int]) -> None:
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    query = engine.embed_image(Image.new("RGB", (20, 16), colour))
    cards = engine.search(query, 10)  # what the page and the API show
    assert engine.ranker.reranks and cards[0].match != pytest.approx(engine.ranker.alike(cards[0].distance), abs=1e-3)
    tags = [Tag("category", "articleType", "Dresses", 0.9, "neighbours")]
    log_search(engine, store, query, tags)  # the page: searched again
    log_search(engine, store, query, tags, cards)  # the API: its own results
    catalog = engine.index.manifest.catalog.identity
    logged = store._query("SELECT best_item, best_alike FROM searches")
    assert logged == [(cards[0].id, pytest.approx(cards[0].match))] * 2
    lacking = store.lacking_kinds(catalog, LACKING_BELOW)
    assert lacking == ([("Dresses", 2, pytest.approx(cards[0].match))] if cards[0].match < LACKING_BELOW else [])
