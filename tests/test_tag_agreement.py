"""The page's tags and its results agree: when it says "Shoes", a shoe is the first result, for a region too.

The shopper reads "Looks like: Shoes" above the results; if the first result is a top, the page
contradicts itself (issue 16: a boot in a box was tagged "Shoes" and got ten trousers). These tests
query as the page does (`ui.query.tags_of` and `ui.query.find` on the same search step, the photo
kept by the upload store and a region re-embedded from its crop) with a model small enough to reason
about: the vector of a picture is its mean red and blue, and the head calls a red-leaning vector a shoe.
`scripts/tag_check.py` measures the same on real photos and indexes.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import flask
import numpy as np
import pytest
from PIL import Image

from recommender.engine import Recommender
from recommender.model_spec import ModelSpec
from recommender.ranking import RankingSettings
from recommender.regions import Box
from recommender.settings import Settings
from recommender.ui.query import confident_tags, find, tags_of
from recommender.ui.search.actions import on_region
from recommender.ui.services import create_services, install_services
from recommender.ui.state import Search, Step
from tests.test_ranking import _colour, _FakeHead, _index, _unit, _with_head

KIND = "articleType"


class _RedBlueExtractor:
    """A picture's vector is its mean red and blue: a red shoe and a blue top lie apart."""

    spec, dim, input_size = ModelSpec.parse("fake", "imagenet"), 2, (16, 16)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        pixels = batch.astype(np.float32) / 255.0
        return pixels[..., [0, 2]].mean(axis=(1, 2)) + 1e-3


class _RedIsShoeHead:
    """p(Shoes) rises as the vector leans red rather than blue; the rest is Tops."""

    attributes = {KIND: ["Shoes", "Tops"]}

    def classify(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        shoes = 1.0 / (1.0 + np.exp(-10.0 * (embeddings[:, 0] - embeddings[:, 1])))
        return {KIND: np.stack([shoes, 1.0 - shoes], axis=1)}


def _degrees(*angles: float) -> np.ndarray:
    return _unit([[np.cos(np.radians(a)), np.sin(np.radians(a))] for a in angles])


def _photo() -> bytes:
    """A blue top filling the picture, a red shoe in its bottom-left corner."""
    pixels = np.zeros((100, 100, 3), dtype=np.uint8)
    pixels[:] = (0, 0, 255)
    pixels[60:, :40] = (255, 0, 0)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


SHOE_BOX = Box(0.0, 0.5, 0.5, 1.0)  # around the shoe, with some of the top: it leans red, near the tops' vectors


@pytest.fixture
def services(tmp_path: Path):
    # tops at 30-50 degrees (nearest to the boxed shoe), shoes at 0-6 degrees
    vectors = _degrees(30, 35, 40, 45, 50, 0, 3, 6)
    kinds = ["Tops"] * 5 + ["Shoes"] * 3
    index = _with_head(_index(tmp_path, vectors, np.stack([_colour("Red")] * 8), [{KIND: k} for k in kinds]),
                       _RedIsShoeHead())
    engine = Recommender(index, _RedBlueExtractor(), RankingSettings())
    settings = Settings.from_env(index=tmp_path / "idx", feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    return create_services(settings, engine=engine)


@pytest.mark.parametrize("region, tagged", [(None, "Tops"), (SHOE_BOX, "Shoes")])
def test_the_first_result_is_of_the_kind_the_tags_name(services, region: Box | None, tagged: str) -> None:
    search = Search(trail=(Step("upload", services.add_upload(_photo()), region),))
    category = [t.value for t in tags_of(services, search) if t.role == "category"]
    assert category == [tagged]
    kinds = [hit.product.attributes[KIND] for hit in find(services, search).hits]
    assert kinds[0] == tagged and kinds.count(tagged) >= 3  # the tagged kind leads, as many as the shop has
    if region is not None:  # not by chance: the region's nearest pictures are tops
        kept = services.uploads.region_vector(search.trail[0].ref, region, services.embed_for_store)
        nearest = services.engine.index.search(services.engine.stored_query(kept).vector, 3)[1][0]
        assert {services.engine.index.products[p].attributes[KIND] for p in nearest} == {"Tops"}


def test_a_box_drawn_after_an_automatic_filter_still_agrees(services) -> None:
    """The whole photo is surely a top, so "Tops" applies itself; the box around the shoe must not keep it."""
    photo = Step("upload", services.add_upload(_photo()))
    whole = Search().new_photo(photo, confident_tags(tags_of(services, Search(trail=(photo,)))))
    assert whole.filters == {"category": ("Tops",)} and whole.auto == ("category",)
    app = flask.Flask(__name__)
    install_services(app, services)
    selection = {"range": {"x": [SHOE_BOX.left, SHOE_BOX.right], "y": [1 - SHOE_BOX.bottom, 1 - SHOE_BOX.top]}}
    with app.test_request_context():  # the drag on the page's picture, as Dash calls it
        framed = Search.from_fragment(on_region([selection], whole.fragment()))  # one selectedData per picture
    assert framed.current.region == SHOE_BOX
    category = [t.value for t in tags_of(services, framed) if t.role == "category"]
    first = find(services, framed).hits[0].product.attributes[KIND]
    assert category == ["Shoes"] and first == "Shoes" and framed.filters == {"category": ("Shoes",)}


def test_an_unsure_tag_still_names_the_first_result(tmp_path: Path) -> None:
    """Seven kinds about equally likely (the demo's head on a shirt: Shorts .150, Polo .148, Longsleeve .127):
    the page still tags one, and a shopper reads it as what the results are."""
    kinds = ["Tops", "Polo", "Dress", "Hat", "Shorts"]
    vectors = _degrees(0, 10, 20, 30, 40)  # a top is the query; the tag says Shorts, the farthest kind
    index = _with_head(_index(tmp_path, vectors, np.stack([_colour("Red")] * 5), [{KIND: k} for k in kinds]),
                       _FakeHead({KIND: ["Cap", "Dress", "Hat", "Polo", "Shorts", "Skirt", "Tops"]},
                                 {KIND: [0.13, 0.14, 0.14, 0.15, 0.16, 0.13, 0.15]}))  # the top three: 0.46
    engine = Recommender(index, settings=RankingSettings())
    code = engine.product_query("p0")
    tag = next(t.value for t in engine.tags(code) if t.role == "category")
    assert tag == "Shorts"
    assert engine.search(code, 3)[0].product.attributes[KIND] == tag


def test_filters_carried_over_that_leave_nothing_of_the_new_photo_s_kind_are_set_aside(tmp_path: Path) -> None:
    """The last photo's "Red" (kept) and this photo's own "Tops" (applied by itself) leave no product: the new photo
    does not open on "No results" (newcomer: a peach dress, then shoes); a kept filter that leaves some stays."""
    from recommender.ui.search.actions import on_upload

    kinds, colours = ["Tops"] * 5 + ["Shoes"] * 3, ["Blue"] * 5 + ["Red"] * 3
    index = _with_head(_index(tmp_path, _degrees(30, 35, 40, 45, 50, 0, 3, 6), np.stack([_colour("Red")] * 8),
                              [{KIND: k, "baseColour": c} for k, c in zip(kinds, colours)]), _RedIsShoeHead())
    settings = Settings.from_env(index=tmp_path / "idx", feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    app = flask.Flask(__name__)
    install_services(app, create_services(settings, engine=Recommender(index, _RedBlueExtractor(), RankingSettings())))
    payload = {"filename": "top.png", "contents": "data:image/png;base64," + base64.b64encode(_photo()).decode()}
    with app.test_request_context():
        fragment, note, _ = on_upload(payload, Search(filters={"colour": ("Blue",)}).fragment())
        after = Search.from_fragment(fragment)
        assert after.filters == {"colour": ("Blue",), "category": ("Tops",)} and after.kept and note is None
        fragment, note, _ = on_upload(payload, Search(filters={"colour": ("Red",)}).fragment())
    after = Search.from_fragment(fragment)
    assert after.filters == {"category": ("Tops",)} and not after.kept and after.auto == ("category",)
    assert note.children == "Colour: Red, kept from your last search, was set aside: no product in Tops matches it."
