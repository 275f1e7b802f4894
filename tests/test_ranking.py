"""Appearance (colour, blanks, digests), format-3 builds and the re-ranking of the visual neighbours."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.appearance import COLOUR_NAMES, Appearance, colour_names, colour_similarity, describe
from recommender.build import BLANK, COMPUTED_COLOUR, build_index
from recommender.catalog import Catalog, Product
from recommender.colours import colour_family
from recommender.engine import Recommender
from recommender.errors import RecommenderError
from recommender.index import Index
from recommender.index_files import write_index
from recommender.manifest import CatalogInfo, Holdout, Manifest
from recommender.model_spec import ModelSpec
from recommender.query_value import Query
from recommender.ranking import Ranker, RankingSettings, category_set
from recommender.vectors import unit_rows
from tests.index_fakes import FakeExtractor
from tests.ui_fakes import build_pool_trap_index


def _picture(garment: tuple[int, int, int], background: tuple[int, int, int] = (250, 250, 250),
             size: int = 64) -> np.ndarray:
    pixels = np.empty((size, size, 3), dtype=np.uint8)
    pixels[:] = background
    pixels[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = garment
    return pixels


def test_the_garment_colour_is_measured_apart_from_the_background() -> None:
    red_on_white, black_on_beige = _picture((200, 30, 30)), _picture((20, 20, 20), background=(215, 200, 170))
    looks = describe(np.stack([red_on_white, black_on_beige]))
    assert [name for name, _ in colour_names(looks.colours)] == ["Red", "Black"]
    assert colour_names(looks.colours)[1][1] > 0.5  # the beige wall does not count
    np.testing.assert_allclose(looks.colours.sum(axis=1), 1.0, rtol=1e-5)
    assert looks.colours.shape == (2, len(COLOUR_NAMES)) and not looks.blank.any()
    same = colour_similarity(looks.colours[0], looks.colours)
    assert same[0] == pytest.approx(1.0, abs=1e-5) and same[1] < 0.3


def test_colours_are_named_as_in_good_light() -> None:
    """Photos are taken indoors: a white shirt comes out grey and a red one dark; the names correct for it."""
    dim_white_on_dark = _picture((165, 165, 160), background=(40, 40, 45))
    shadowed_red = _picture((120, 30, 35), background=(230, 225, 215))
    names = [name for name, _ in colour_names(describe(np.stack([dim_white_on_dark, shadowed_red])).colours)]
    assert colour_family(names[0]) == "White" and names[1] == "Red"  # were Grey Melange and Maroon


def test_blank_pictures_are_flagged_and_identical_ones_share_a_digest() -> None:
    white = np.full((64, 64, 3), 255, dtype=np.uint8)
    noisy_white = white.copy()
    noisy_white[10, 10] = 250  # a speck is not a garment
    garment = _picture((30, 60, 200))
    filling = _picture((30, 60, 200), size=64)
    filling[:, :8] = (30, 60, 200)  # the garment touches the frame: its colour is a border tone too
    looks = describe(np.stack([white, noisy_white, garment, garment.copy(), filling]))
    assert looks.blank.tolist() == [True, True, False, False, False]
    assert looks.digests[2] == looks.digests[3] and looks.digests[1] != looks.digests[2]


def _catalog(root: Path, pictures: list[np.ndarray], attributes: list[dict[str, str]]) -> Catalog:
    products = []
    for i, (pixels, attrs) in enumerate(zip(pictures, attributes)):
        path = root / "images" / f"p{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        products.append(Product(f"p{i}", path, attrs))
    return Catalog(root=root, layout="csv", products=products, skipped=[])


def test_build_leaves_blanks_out_and_computes_colours_a_catalogue_lacks(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    pictures = [_picture((200, 30, 30)), np.full((64, 64, 3), 255, np.uint8), _picture((20, 20, 20))]
    catalog = _catalog(tmp_path / "cat", pictures, [{"category": "Dress"}] * 3)
    manifest = build_index(catalog, tmp_path / "idx", FakeExtractor(size=(32, 32)), progress=False)
    index = Index.load(tmp_path / "idx")
    assert index.ids == ["p0", "p2"] and [(s.ref, s.reason) for s in manifest.skipped] == [("p1", BLANK)]
    assert "1 blank image" in capsys.readouterr().err
    assert manifest.computed == (COMPUTED_COLOUR,) and index.roles.colour == COMPUTED_COLOUR
    assert [p.attributes[COMPUTED_COLOUR] for p in index.products] == ["Red", "Black"]
    engine = Recommender(index)
    code = engine.product_query("p2")
    assert len(code.vector) == index.dim and len(code.colours) == len(COLOUR_NAMES)
    colour = [t for t in engine.tags(code, exclude=("p2",)) if t.role == "colour"]
    assert [(t.value, t.source) for t in colour] == [("Black", "colour")]  # the query's own colour, not a vote
    with pytest.raises(RecommenderError, match="expects"):
        engine.stored_query(code.to_array()[:-1])
    with pytest.raises(RecommenderError, match="expects"):
        engine.search(Query(code.vector))  # its colours missing


def _index(tmp_path: Path, vectors: np.ndarray, colours: np.ndarray, attributes: list[dict[str, str]],
           digests: list[str] | None = None, **manifest_fields) -> Index:
    n, dim = vectors.shape
    products = [Product(f"p{i}", Path(f"/x/{i}.jpg"), attrs) for i, attrs in enumerate(attributes)]
    manifest = Manifest(model=ModelSpec.parse("fake", "imagenet"), input_size=(8, 8), dim=dim, count=n,
                        catalog=CatalogInfo(str(tmp_path), "csv", "f", n), normalized=True, appearance=True,
                        **manifest_fields)
    appearance = Appearance(colours.astype(np.float32), np.array(digests or [f"d{i}" for i in range(n)]),
                            np.zeros(n, bool))
    write_index(tmp_path / "idx", manifest, products, vectors.astype(np.float32), appearance)
    return Index.load(tmp_path / "idx")


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _colour(name: str) -> np.ndarray:
    histogram = np.zeros(len(COLOUR_NAMES), np.float32)
    histogram[COLOUR_NAMES.index(name)] = 1.0
    return histogram


def test_colour_reranks_the_visual_candidates(tmp_path: Path) -> None:
    vectors = _unit([[1, 0.10], [1, 0.15], [1, 0.20]])  # p0 closest, p2 farthest
    colours = np.stack([_colour("Red"), _colour("Red"), _colour("Black")])
    index = _index(tmp_path, vectors, colours, [{"category": "Dress"}] * 3)
    query = _unit([[1, 0.2]])
    plain = Ranker(index, RankingSettings(colour_weight=0.0)).search(query, _colour("Black")[None], 3)[1]
    coloured = Ranker(index, RankingSettings(colour_weight=0.5)).search(query, _colour("Black")[None], 3)[1]
    assert plain.tolist() == [[2, 1, 0]] and coloured.tolist() == [[2, 1, 0]]
    reds = Ranker(index, RankingSettings(colour_weight=0.5)).search(_unit([[1, 0.19]]), _colour("Red")[None], 3)
    assert reds[1].tolist() == [[1, 0, 2]]  # the black one was nearest, the red ones come first
    assert np.isfinite(reds[0]).all()  # distances stay the index's own Euclidean ones


def test_identical_pictures_collapse_into_one_result(tmp_path: Path) -> None:
    vectors = _unit([[1, 0], [1, 0], [1, 0.3], [1, 0.5]])
    colours = np.stack([_colour("Red")] * 4)
    index = _index(tmp_path, vectors, colours, [{"category": "Dress"}] * 4, digests=["a", "b", "c", "c"])
    distances, positions = Ranker(index).search(_unit([[1, 0]]), None, 4)
    # p0/p1: another digest but distance 0 (same picture); p2/p3: the same pixels
    assert positions.tolist() == [[0, 2, -1, -1]] and np.isinf(distances[0, 2:]).all()


class _FakeHead:
    """A head's classifier answer fixed per test: the ranking only reads `attributes` and `classify`."""

    def __init__(self, attributes: dict[str, list[str]], probabilities: dict[str, list[float]]) -> None:
        self.attributes = attributes
        self.probabilities = {k: np.array([v], dtype=np.float32) for k, v in probabilities.items()}

    def classify(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        return {k: np.repeat(v, len(embeddings), axis=0) for k, v in self.probabilities.items()}


def _with_head(index: Index, head: _FakeHead) -> Index:
    index.__dict__["head"] = head  # what a trained index's cached `head` would hold
    return index


def _sure_of_dresses_and_skirts(tmp_path: Path) -> Index:
    """Tops nearest the query [1, 0], then a dress and a skirt; a head sure the query is a dress or a skirt."""
    vectors = _unit([[1, 0.0], [1, 0.1], [1, 0.2], [1, 0.3]])
    kinds = ["Tops", "Tops", "Dresses", "Skirts"]
    index = _index(tmp_path, vectors, np.stack([_colour("Red")] * 4), [{"articleType": k} for k in kinds])
    vocabulary = {"articleType": ["Dresses", "Skirts", "Shoes", "Tops"]}
    return _with_head(index, _FakeHead(vocabulary, {"articleType": [0.5, 0.4, 0.05, 0.05]}))


def test_category_first_when_the_head_is_sure_and_only_then(tmp_path: Path) -> None:
    sure = _sure_of_dresses_and_skirts(tmp_path)
    first = Ranker(sure, RankingSettings(category_weight=0, label_weight=0, category_first=0.8))
    assert first.search(_unit([[1, 0]]), None, 4)[1].tolist() == [[2, 3, 0, 1]]  # Dresses + Skirts hold 0.9
    off = Ranker(sure, RankingSettings(category_weight=0, label_weight=0, category_first=None))
    assert off.search(_unit([[1, 0]]), None, 4)[1].tolist() == [[0, 1, 2, 3]]
    unsure = Ranker(sure, RankingSettings(category_weight=0, label_weight=0, category_first=0.99))
    assert unsure.search(_unit([[1, 0]]), None, 4)[1].tolist() == [[2, 3, 0, 1]]  # no 3 hold .99: the top 3 lead
    np.testing.assert_array_equal(category_set(np.array([[0.5, 0.3, 0.15, 0.05]]), 0.99), [[0, 1, 2]])
    np.testing.assert_array_equal(category_set(np.array([[0.5, 0.3, 0.15, 0.05]]), None), [[-1, -1, -1]])
    np.testing.assert_array_equal(category_set(np.array([[0.1, 0.85, 0.05]]), 0.8), [[1, -1, -1]])
    soft = Ranker(sure, RankingSettings(category_weight=1.0, label_weight=0, category_first=None))
    assert soft.search(_unit([[1, 0]]), None, 4)[1].tolist() == [[2, 3, 0, 1]]  # p(category) as a score term


def test_hub_products_pay_for_being_close_to_everything(tmp_path: Path) -> None:
    vectors = _unit([[1, 0.0], [1, 0.05], [1, 0.5]])
    index = _index(tmp_path, vectors, np.stack([_colour("Red")] * 3), [{"category": "Dress"}] * 3)
    np.save(tmp_path / "idx" / "hubness.npy", np.array([0.9, 0.2, 0.2], dtype=np.float32))
    index = Index.load(tmp_path / "idx")
    assert Ranker(index, RankingSettings(hub_weight=0)).search(_unit([[1, 0]]), None, 2)[1].tolist() == [[0, 1]]
    assert Ranker(index, RankingSettings(hub_weight=1)).search(_unit([[1, 0]]), None, 2)[1].tolist() == [[1, 2]]


def test_old_indexes_rank_as_they_were_built(tmp_path: Path) -> None:
    vectors = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32) * 5
    products = [Product(f"p{i}", Path(f"/x/{i}.jpg"), {"category": "A"}) for i in range(30)]
    manifest = Manifest(model=ModelSpec.parse("fake", "none"), input_size=(8, 8), dim=4, count=30,
                        catalog=CatalogInfo(str(tmp_path), "csv", "f", 30))
    write_index(tmp_path / "old", manifest, products, vectors)
    index = Index.load(tmp_path / "old")
    query = vectors[:3] + 0.1
    for got, want in zip(Ranker(index).search(query, None, 5), index.search(query, 5)):
        np.testing.assert_array_equal(got, want)


def test_holdout_is_recomputable_from_the_manifest_alone() -> None:
    ids = [str(i) for i in range(5000)]
    holdout = Holdout(0.1, seed=7)
    mask = holdout.mask(ids)
    assert 0.08 < mask.mean() < 0.12 and mask.tolist() == Holdout(0.1, seed=7).mask(ids).tolist()
    assert mask.tolist() != Holdout(0.1, seed=8).mask(ids).tolist()
    assert Manifest.from_json(replace(_manifest(), holdout=holdout).to_json()).holdout == holdout


def _manifest() -> Manifest:
    return Manifest(model=ModelSpec.parse("fake", "none"), input_size=(8, 8), dim=4, count=1,
                    catalog=CatalogInfo("/c", "csv", "f", 1))


def test_ranking_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_RANKING_CATEGORY_FIRST", "off")
    monkeypatch.setenv("RECOMMENDER_RANKING_COLOUR_WEIGHT", "0.25")
    settings = RankingSettings.from_env()
    assert settings.category_first is None and settings.colour_weight == 0.25
    monkeypatch.setenv("RECOMMENDER_RANKING_CANDIDATES", "many")
    with pytest.raises(RecommenderError, match="RECOMMENDER_RANKING_CANDIDATES='many' is not a number"):
        RankingSettings.from_env()


def test_colour_counts_by_default_unless_the_head_classifies_colour(tmp_path: Path) -> None:
    vectors = _unit([[1, 0.10], [1, 0.15], [1, 0.20]])
    colours = np.stack([_colour("Red"), _colour("Red"), _colour("Black")])
    records = [{"category": "Dress", "colour": c} for c in ("Red", "Red", "Black")]
    query, black = _unit([[1, 0.0]]), _colour("Black")[None]
    no_colour_head = _with_head(_index(tmp_path / "a", vectors, colours, records),
                                _FakeHead({"category": ["Dress", "Top"]}, {"category": [0.9, 0.1]}))
    assert Ranker(no_colour_head).search(query, black, 3)[1].tolist() == [[2, 0, 1]]  # the histogram decides
    colour_head = _with_head(_index(tmp_path / "b", vectors, colours, records),
                             _FakeHead({"colour": ["Black", "Red"]}, {"colour": [0.5, 0.5]}))
    assert Ranker(colour_head).search(query, black, 3)[1].tolist() == [[0, 1, 2]]  # its classifier does, not the histogram


def _kinds_index(tmp_path: Path, far_shoe: bool = False) -> Index:
    """Five tops and five skirts along one arc (tops nearest a query at angle 0); optionally a shoe far away."""
    angles = np.linspace(0.0, 0.5, 10)
    rows = [[np.cos(a), np.sin(a)] for a in angles] + ([[0.0, 1.0]] if far_shoe else [])
    kinds = ["Tops"] * 5 + ["Skirts"] * 5 + (["Shoes"] if far_shoe else [])
    return _index(tmp_path, _unit(rows), np.stack([_colour("Red")] * len(rows)), [{"articleType": k} for k in kinds])


def test_an_unsure_query_mixes_its_likely_kinds_starting_with_the_likeliest(tmp_path: Path) -> None:
    vocabulary = {"articleType": ["Shoes", "Skirts", "Tops"]}
    index = _with_head(_kinds_index(tmp_path), _FakeHead(vocabulary, {"articleType": [0.0, 0.55, 0.45]}))
    ranker = Ranker(index, RankingSettings(category_weight=0, label_weight=0, category_first=0.9, mix_sharpness=1))
    kinds = [index.products[p].attributes["articleType"] for p in ranker.search(_unit([[1, 0]]), None, 10)[1][0]]
    assert kinds[0] == "Skirts"  # the tags' kind leads, though every top is nearer
    assert kinds.count("Skirts") == 5 and kinds.count("Tops") == 5 and kinds[:4].count("Tops") == 2  # mixed
    sharp = Ranker(index, RankingSettings(category_weight=0, label_weight=0, category_first=0.9, mix_sharpness=4))
    kinds = [index.products[p].attributes["articleType"] for p in sharp.search(_unit([[1, 0]]), None, 6)[1][0]]
    assert kinds[0] == "Skirts" and kinds.count("Skirts") == 4 and kinds.count("Tops") == 2  # 0.69 / 0.31 of the places


def test_a_sure_query_fills_the_list_with_its_kind(tmp_path: Path) -> None:
    vocabulary = {"articleType": ["Shoes", "Skirts", "Tops"]}
    index = _with_head(_kinds_index(tmp_path), _FakeHead(vocabulary, {"articleType": [0.0, 0.95, 0.05]}))
    ranker = Ranker(index, RankingSettings(category_weight=0, label_weight=0, category_first=0.9))
    kinds = [index.products[p].attributes["articleType"] for p in ranker.search(_unit([[1, 0]]), None, 6)[1][0]]
    assert kinds == ["Skirts"] * 5 + ["Tops"]


def test_the_likely_kind_leads_even_when_it_is_not_among_the_visual_neighbours(tmp_path: Path) -> None:
    vocabulary = {"articleType": ["Shoes", "Skirts", "Tops"]}
    index = _with_head(_kinds_index(tmp_path, far_shoe=True), _FakeHead(vocabulary, {"articleType": [0.9, 0.05, 0.05]}))
    ranker = Ranker(index, RankingSettings(candidates=4, category_weight=0, label_weight=0, category_first=0.8))
    distances, positions = ranker.search(_unit([[1, 0]]), None, 3)
    assert index.products[positions[0, 0]].attributes["articleType"] == "Shoes"  # the boot's tags say shoes
    assert len(set(positions[0].tolist())) == 3 and np.isfinite(distances).all()
    off = Ranker(index, RankingSettings(candidates=4, category_weight=0, label_weight=0, category_first=None))
    assert "Shoes" not in [index.products[p].attributes["articleType"] for p in off.search(_unit([[1, 0]]), None, 3)[1][0]]


def test_without_a_head_colour_orders_garments_within_the_kind_the_neighbours_vote_for(tmp_path: Path) -> None:
    # nearest first: three black skirts, then a red dress, then a red skirt; the query is red
    vectors = _unit([[1, 0.00], [1, 0.02], [1, 0.04], [1, 0.06], [1, 0.08]])
    colours = np.stack([_colour(c) for c in ("Black", "Black", "Black", "Red", "Red")])
    kinds = ["Skirts", "Skirts", "Skirts", "Dresses", "Skirts"]
    index = _index(tmp_path, vectors, colours, [{"articleType": k} for k in kinds])
    ranker = Ranker(index, RankingSettings(colour_weight=0.5))
    positions = ranker.search(_unit([[1, 0.0]]), _colour("Red")[None], 3)[1][0].tolist()
    assert positions[:2] == [4, 3]  # both red ones rise; the skirt, of the neighbours' kind, above the nearer dress
    dresses = _index(tmp_path / "d", vectors, colours, [{"articleType": "Dresses" if k == "Skirts" else "Skirts"}
                                                        for k in kinds])
    assert Ranker(dresses, RankingSettings(colour_weight=0.5)).search(
        _unit([[1, 0.0]]), _colour("Red")[None], 3)[1][0].tolist()[0] == 4  # the same holds for dresses


def test_an_adult_query_ranks_adults_first_and_is_tagged_adult(tmp_path: Path) -> None:
    vectors = _unit([[1, 0.0], [1, 0.1], [1, 0.2], [1, 0.3]])  # the kids' items are the nearest
    records = [{"category": "Pants", "age": a} for a in ("Kids", "Kids", "Adults", "Adults")]
    index = _with_head(_index(tmp_path, vectors, np.stack([_colour("Blue")] * 4), records),
                       _FakeHead({"category": ["Pants", "Shoes"], "age": ["Adults", "Kids"]},
                                 {"category": [0.9, 0.1], "age": [0.8, 0.2]}))
    assert index.roles.age == "age"
    query = _unit([[1, 0.0]])
    assert Ranker(index, RankingSettings(age_weight=0.5)).search(query, None, 4)[1].tolist() == [[2, 3, 0, 1]]
    assert Ranker(index, RankingSettings(age_weight=0.0)).search(query, None, 4)[1].tolist() == [[0, 1, 2, 3]]
    tags = Recommender(index, settings=RankingSettings()).tags(Query(query[0], _colour("Blue")))
    assert [(t.role, t.value, t.source) for t in tags if t.role == "age"] == [("age", "Adults", "head")]
    assert tags[-1].role == "age"  # after category and colour: "Pants · Blue · Adults"
    unsure = _with_head(index, _FakeHead({"category": ["Pants", "Shoes"], "age": ["Adults", "Kids"]},
                                         {"category": [0.9, 0.1], "age": [0.55, 0.45]}))
    tags = Recommender(unsure, settings=RankingSettings()).tags(Query(query[0], _colour("Blue")))
    assert [t.role for t in tags] == ["category"]  # a coin flip is no tag, nor the neighbours' "Kids"


def test_matches_follow_the_order_when_a_category_comes_first(tmp_path: Path) -> None:
    sure = _sure_of_dresses_and_skirts(tmp_path)
    first = Ranker(sure, RankingSettings(category_weight=0, label_weight=0, category_first=0.8))
    distances, positions, matches = first.rank(_unit([[1, 0]]), None, 4)
    assert positions.tolist() == [[2, 3, 0, 1]]  # the two closest pictures come last
    assert distances[0, 2] < distances[0, 0]  # so the pictures' likeness rises down the list...
    assert (np.diff(matches[0]) <= 0).all() and ((0 <= matches) & (matches <= 1)).all()  # ...the match never does
    # without the rule the match is the score's share of the most a product can score (here: the cosine)
    plain = Ranker(sure, RankingSettings(category_weight=0, label_weight=0, category_first=None))
    distances, positions, matches = plain.rank(_unit([[1, 0]]), None, 4)
    np.testing.assert_allclose(matches[0], 1 - distances[0] ** 2 / 2, rtol=1e-6)
    weighted = Ranker(sure, RankingSettings(category_weight=1.0, label_weight=0, category_first=None))
    _, positions, matches = weighted.rank(_unit([[1, 0]]), None, 4)
    assert positions.tolist() == [[2, 3, 0, 1]] and (np.diff(matches[0]) < 0).all()
    assert matches[0, 0] == pytest.approx((1 / np.sqrt(1.04) + 1.0 * 0.5) / (1 + 1.0))  # (cosine + p) / (1 + weight)


def test_without_re_ranking_the_match_is_how_alike_the_pictures_look(tmp_path: Path) -> None:
    vectors = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    products = [Product(f"p{i}", Path(f"/x/{i}.jpg"), {"category": "A"}) for i in range(30)]
    manifest = Manifest(model=ModelSpec.parse("fake", "none"), input_size=(8, 8), dim=4, count=30,
                        catalog=CatalogInfo(str(tmp_path), "csv", "f", 30))
    write_index(tmp_path / "old", manifest, products, vectors)
    ranker = Ranker(Index.load(tmp_path / "old"))
    distances, _, matches = ranker.rank(vectors[:3] + 0.1, None, 5)
    np.testing.assert_allclose(matches, [[ranker.alike(d) for d in row] for row in distances])
    assert (np.diff(matches, axis=1) <= 0).all() and ranker.alike(0.0) == 1.0


def test_a_refined_query_reads_on_the_same_scale_as_the_search_before_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((4, 16))
    vectors = unit_rows(np.repeat(centres, 10, axis=0) + 0.3 * rng.standard_normal((40, 16)))
    colours = np.stack([_colour(["Red", "Black"][i % 2]) for i in range(40)])
    engine = Recommender(_index(tmp_path, vectors, colours, [{"category": f"k{i // 10}"} for i in range(40)]))
    code = engine.product_query("p0")
    before = engine.query_id("p0", 5)
    after = engine.search(code.refined([engine.product_query(h.id) for h in before[:3]], []), 5,
                          engine.select(exclude=("p0",)))
    assert {h.id for h in after[:3]} == {h.id for h in before[:3]}  # the liked ones stay on top...
    assert after[0].match == pytest.approx(before[0].match, abs=0.1)  # ...and read as well as before
    assert engine.ranker.alike(after[0].distance) >= 0.9 * engine.ranker.alike(before[0].distance)


def test_the_first_results_never_change_when_more_are_asked_for(tmp_path: Path) -> None:
    """"Show more" up to 100 (or a link asking for 100) keeps the first ten: the pool re-scored does not grow with k."""
    index = Index.load(build_pool_trap_index(tmp_path))
    engine = Recommender(index)
    code = engine.product_query("p0")
    first = [h.id for h in engine.search(code, 10, engine.select(exclude={"p0"}))]
    assert first[0] == "p100"  # the red one among the nearest comes first, then the nearest black ones
    for k in (20, 50, 60, 100):
        assert [h.id for h in engine.search(code, k, engine.select(exclude={"p0"}))][:10] == first, k
