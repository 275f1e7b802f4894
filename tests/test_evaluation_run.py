"""Evaluation as the shop ranks: held-out products by default, photos through the head, a label map, the CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender.appearance import COLOUR_NAMES, Appearance
from recommender.catalog import Product
from recommender.cli import main
from recommender.errors import IncompatibleIndex, RecommenderError
from recommender.evaluation.run import catalogue_queries, evaluate_index, neighbours, own_queries
from recommender.index import Index
from recommender.index_files import IndexFiles
from recommender.label_map import LabelMap
from recommender.manifest import CatalogInfo, Holdout, Manifest
from recommender.model_spec import ModelSpec
from recommender.ranking import Ranker, RankingSettings
from recommender.vectors import unit_rows

RAW = ModelSpec("fake", "imagenet")  # not random: the shop re-ranks only real features


def make_index(vectors, records, *, model: ModelSpec = RAW, holdout: Holdout | None = None,
               colours: np.ndarray | None = None, head=None, root: str = "/x") -> Index:
    """An in-memory index as evaluation sees a built one; with `colours`, a format-3 one (unit vectors)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    appearance = None
    if colours is not None:
        vectors = unit_rows(vectors)
        appearance = Appearance(np.asarray(colours, np.float32), np.array([f"d{i}" for i in range(n)]),
                                np.zeros(n, bool))
    products = [Product(f"{root[1:]}{i}", Path(f"{root}/{i}.jpg"), dict(r)) for i, r in enumerate(records)]
    manifest = Manifest(model=model, input_size=(8, 8), dim=vectors.shape[1], count=n,
                        catalog=CatalogInfo(root, "csv", "f", n), normalized=colours is not None,
                        appearance=colours is not None, holdout=holdout)
    index = Index(IndexFiles(Path(root), manifest, products, vectors, appearance))
    if head is not None:
        index.__dict__["head"] = head  # what read_head would return for a trained index folder
    return index


def test_a_trained_index_scores_its_held_out_products_by_default() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(60, 6))
    labels = [["red", "blue", "green"][i] for i in rng.integers(0, 3, 60)]
    holdout = Holdout(0.3, seed=2)
    index = make_index(vectors, [{"colour": c} for c in labels], holdout=holdout)
    held = np.flatnonzero(holdout.mask(index.ids))
    assert 5 < len(held) < 40

    run = evaluate_index(index, [1, 4], ["colour"], tag_queries=0)
    assert run.selection == "held-out products" and run.query_items == len(held)
    (scores,) = run.attributes
    assert scores.queries == len(held)
    for k in (1, 4):  # brute force: each held-out product against all the others
        expected = []
        for q in held:
            distances = np.linalg.norm(vectors - vectors[q], axis=1)
            order = [j for j in np.argsort(distances, kind="stable") if j != q][:k]
            expected.append(np.mean([labels[j] == labels[q] for j in order]))
        assert scores.precision[k] == pytest.approx(np.mean(expected))
    everyone = evaluate_index(index, [1], ["colour"], queries=own_queries(index, all_products=True), tag_queries=0)
    assert everyone.selection == "all products" and everyone.attributes[0].queries == 60
    with pytest.raises(RecommenderError, match="holds out no product"):
        own_queries(make_index(vectors, [{"colour": c} for c in labels], holdout=Holdout(0.0, seed=2)))


def test_neighbours_are_the_shops_ranking_colour_included() -> None:
    """Colour re-ranks a format-3 index's visual candidates: evaluation must see that order, not index.search's."""
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 5))
    colours = rng.dirichlet(np.ones(len(COLOUR_NAMES)) * 0.2, size=40)
    index = make_index(vectors, [{"colour": "x"}] * 40, colours=colours)
    photos = make_index(rng.normal(size=(15, 5)), [{"colour": "x"}] * 15, colours=rng.dirichlet(
        np.ones(len(COLOUR_NAMES)) * 0.2, size=15), root="/p")
    queries = catalogue_queries(index, photos)
    found = {}
    for weight in (0.0, 3.0):
        ranker = Ranker(index, RankingSettings(colour_weight=weight, hub_weight=0.0, category_first=None))
        found[weight] = neighbours(ranker, queries, 5)
        assert found[weight].tolist() == ranker.search(queries.vectors, queries.colours, 5)[1].tolist()
    assert found[0.0].tolist() == index.search(queries.vectors, 5)[1].tolist()
    assert found[0.0].tolist() != found[3.0].tolist()


class FakeHead:
    """A trained head's interface (recommender.head.Head): a fixed projection, a category classifier."""

    id = "fake-head"
    input_dim, colour_dim, dim = 4, len(COLOUR_NAMES), 3
    attributes = {"articleType": ["Dresses", "Tshirts"]}

    def __init__(self) -> None:
        self.projection = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=np.float32)
        self.seen: list[tuple[np.ndarray, np.ndarray | None]] = []

    def embed(self, raw: np.ndarray, colours: np.ndarray | None) -> np.ndarray:
        self.seen.append((raw, colours))
        return unit_rows(raw @ self.projection)

    def classify(self, embeddings: np.ndarray) -> dict[str, np.ndarray]:
        logits = 20 * np.asarray(embeddings)[:, :2]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return {"articleType": p / p.sum(axis=1, keepdims=True)}


def _clusters(rng: np.random.Generator, n: int, dim: int) -> tuple[np.ndarray, list[int]]:
    """n points near axis 0 or axis 1 (half each)."""
    kinds = [i % 2 for i in range(n)]
    vectors = 0.05 * rng.normal(size=(n, dim))
    vectors[np.arange(n), kinds] += 1.0
    return vectors, kinds


def trained_and_photos(rng: np.random.Generator) -> tuple[Index, Index, FakeHead]:
    head = FakeHead()
    catalogue, kinds = _clusters(rng, 30, 3)
    colours = np.full((30, len(COLOUR_NAMES)), 1 / len(COLOUR_NAMES))
    records = [{"articleType": ["Dresses", "Tshirts"][k], "gender": "Women"} for k in kinds]
    index = make_index(catalogue, records, model=ModelSpec("fake", "imagenet", head=head.id), colours=colours,
                       head=head, holdout=Holdout(0.2, seed=0))
    raw, photo_kinds = _clusters(rng, 12, 4)
    photos = make_index(raw * 3.0, [{"category": ["dress", "top"][k]} for k in photo_kinds], colours=np.full(
        (12, len(COLOUR_NAMES)), 1 / len(COLOUR_NAMES)), root="/p")
    return index, photos, head


def test_photos_go_through_the_head_and_are_scored_by_the_label_map() -> None:
    index, photos, head = trained_and_photos(np.random.default_rng(2))
    queries = catalogue_queries(index, photos)
    raw, colours = head.seen[-1]
    assert raw == pytest.approx(unit_rows(np.asarray(photos.vectors)))  # unit rows into the head
    assert colours.tolist() == photos.appearance.colours.tolist()
    assert queries.vectors.shape == (12, 3) and queries.selection == "photos"

    right = LabelMap("category", "articleType", {"dress": frozenset({"Dresses"}), "top": frozenset({"Tshirts"})})
    run = evaluate_index(index, [1, 5], queries=queries, label_map=right)
    (scores,) = run.attributes
    assert scores.name == "category -> articleType" and scores.queries == 12
    assert scores.precision == {1: 1.0, 5: 1.0} and run.warnings == []
    (tags,) = run.tags
    assert tags.role == "category" and tags.queries == 12 and tags.accuracy == 1.0
    assert run.hubness.queries == 12 and run.hubness.attribute == "gender"

    wrong = LabelMap("category", "articleType", {"dress": frozenset({"Dresses"}), "top": frozenset({"Dresses", "Coats"})})
    run = evaluate_index(index, [5], queries=queries, label_map=wrong)
    assert {v.value: v.precision[5] for v in run.attributes[0].per_value} == {"dress": 1.0, "top": 0.0}
    assert {v.value: v.accuracy for v in run.tags[0].per_value} == {"dress": 1.0, "top": 0.0}
    assert run.warnings and "Coats" in run.warnings[0]


def test_category_first_runs_rank_as_their_settings_say() -> None:
    index, photos, _ = trained_and_photos(np.random.default_rng(3))
    queries = catalogue_queries(index, photos)
    label_map = LabelMap("category", "articleType", {"dress": frozenset({"Dresses"}), "top": frozenset({"Tshirts"})})
    for threshold in (None, 0.5):
        settings = replace(RankingSettings(), category_first=threshold)
        run = evaluate_index(index, [3], queries=queries, label_map=label_map, settings=settings)
        assert run.ranking["category_first"] == threshold
        assert run.attributes[0].precision[3] == 1.0


def test_photos_of_another_model_or_without_colours_are_refused() -> None:
    index, photos, _ = trained_and_photos(np.random.default_rng(4))
    other = make_index(np.asarray(photos.vectors)[:, :3], [{}] * 12, root="/q")
    with pytest.raises(IncompatibleIndex, match="embedded with"):
        catalogue_queries(index, other)
    old = make_index(np.asarray(photos.vectors), [{}] * 12, root="/q")  # no appearance: an older format
    with pytest.raises(IncompatibleIndex, match="colours"):
        catalogue_queries(index, old)
    with pytest.raises(RecommenderError, match="--queries"):
        evaluate_index(index, [1], label_map=LabelMap("category", "articleType", {"a": frozenset({"b"})}))


# ----------------------------------------------------------------------------------------- CLI


def test_cli_scores_photo_folders_through_a_label_map(tmp_path: Path, capsys, demo_catalog_dir: Path,
                                                      demo_index_dir: Path) -> None:
    """Photos that are copies of catalogue pictures: each one's first result is its own picture, so P@1 = 1."""
    index = Index.load(demo_index_dir)
    wanted = {"Dresses": "dress", "Tshirts": "top", "Shirts": "top", "Caps": "scarf"}
    photos = tmp_path / "photos"
    copied = {}
    for product in index.products:
        folder = wanted.get(product.attributes["articleType"])
        if folder and copied.get(folder, 0) < 4:
            (photos / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(product.image, photos / folder / product.image.name)
            copied[folder] = copied.get(folder, 0) + 1
    label_map = tmp_path / "map.csv"
    label_map.write_text("category,articleType\ndress,Dresses\ntop,Tshirts\ntop,Shirts\ntop,Coats\n")
    argv = ["evaluate", "--index", str(demo_index_dir), "--queries", str(photos), "--label-map", str(label_map),
            "--cache", str(tmp_path / "cache"), "--k", "1", "5", "--category-first", "off", "0.5"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["runs"]) == 2
    assert [r["ranking"]["category_first"] for r in report["runs"]] == [None, 0.5]
    for run in report["runs"]:
        (scores,) = run["attributes"]
        assert scores["name"] == "category -> articleType" and scores["queries"] == copied["dress"] + copied["top"]
        assert scores["precision"]["1"] == 1.0
        assert scores["unscored"] == {"scarf": copied["scarf"]}
        assert "Coats" in run["warnings"][0]
        assert run["tags"][0]["role"] == "category" and run["tags"][0]["queries"] == scores["queries"]
        assert run["hubness"]["k"] == 5 and run["hubness"]["queries"] == run["query_items"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "category-first off" in out and "category-first 0.5" in out and "hubness (top 5)" in out
    assert "category tag (articleType)" in out and "not in the catalogue: Coats" in out
    assert main(["evaluate", "--index", str(demo_index_dir), "--label-map", str(label_map)]) == 2
    assert "--queries" in capsys.readouterr().err


def test_a_subset_of_queries_keeps_each_query_s_vector_colours_labels_id_and_own_row() -> None:
    from recommender.evaluation.run import Queries

    queries = Queries(np.arange(8, dtype=np.float32).reshape(4, 2), np.eye(4, dtype=np.float32),
                      [{"articleType": k} for k in "abcd"], ["q0", "q1", "q2", "q3"], None, np.array([5, 6, 7, 8]))
    picked = queries.subset(np.array([3, 1]))
    assert picked.vectors.tolist() == [[6, 7], [2, 3]] and picked.colours.tolist() == [[0, 0, 0, 1], [0, 1, 0, 0]]
    assert picked.records == [{"articleType": "d"}, {"articleType": "b"}] and picked.ids == ["q3", "q1"]
    assert picked.own.tolist() == [8, 6] and picked.selection == queries.selection
    assert replace(queries, colours=None, own=None).subset([0]).colours is None
