"""Shop the look: windows, grouping into garments, the development looks, their scoring, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.cli import main
from recommender.look_boxes import iou, no_taller_than_wide, tight_mean
from recommender.looks import WHOLE, Garment, LookSettings, Windows, garments_of, window_boxes


def test_windows_start_with_the_whole_picture_and_cover_it_at_every_scale() -> None:
    settings = LookSettings()
    boxes = window_boxes(600, 800, settings)
    assert tuple(boxes[0]) == WHOLE
    assert (boxes >= 0).all() and (boxes <= 1).all() and len({tuple(b) for b in boxes}) == len(boxes)
    for scale in settings.scales:  # each scale is a grid of garment-shaped windows reaching every edge
        h = round(scale * 800 / 800, 4)
        w = round(scale * settings.aspect * 800 / 600, 4)
        grid = boxes[np.isclose(boxes[:, 3] - boxes[:, 1], h, atol=2e-4) & np.isclose(boxes[:, 2] - boxes[:, 0], w, atol=2e-4)]
        assert len(grid) >= 4
        assert grid[:, 0].min() == 0 and grid[:, 1].min() == 0
        assert np.isclose(grid[:, 2].max(), 1, atol=2e-4) and np.isclose(grid[:, 3].max(), 1, atol=2e-4)


def test_iou() -> None:
    a = np.array([[0, 0, 0.5, 0.5]])
    b = np.array([[0, 0, 0.5, 0.5], [0.25, 0, 0.75, 0.5], [0.5, 0.5, 1, 1]])
    np.testing.assert_allclose(iou(a, b), [[1.0, 1 / 3, 0.0]])


def windows(rows: list[tuple[tuple[float, float, float, float], dict[str, float]]]) -> Windows:
    """Windows as the head might have classified them (the first is the whole picture): each row's
    probabilities, the rest on "Perfume", which is no garment; the other values are their own kind
    but "Tops", a top like "Tshirts"."""
    values = ["Tshirts", "Tops", "Jeans", "Shirts", "Dresses", "Perfume"]
    kinds = ["Tshirts", "Tshirts", "Jeans", "Shirts", "Dresses", None]
    probabilities = np.zeros((len(rows), len(values)))
    for row, (_, given) in enumerate(rows):
        for value, p in given.items():
            probabilities[row, values.index(value)] = p
        probabilities[row, -1] = 1.0 - sum(given.values())
    return Windows(np.array([r[0] for r in rows]), probabilities, values, kinds, np.zeros(3))


PLAIN = LookSettings(min_confidence=0.5, group_iou=0.3, tie=0.35, shrink=1.0, repeat_iou=0.5, single_cover=0.5)


def test_windows_of_one_kind_make_one_garment_with_their_mean_box() -> None:
    look = windows([(WHOLE, {"Tshirts": 0.6}),
                    ((0.2, 0.1, 0.8, 0.5), {"Tshirts": 0.9}),
                    ((0.3, 0.1, 0.9, 0.5), {"Tshirts": 0.45}),  # near the best, but much less sure: left out
                    ((0.25, 0.15, 0.85, 0.55), {"Tops": 0.6}),  # near the best, its kind, nearly as sure: joins it
                    ((0.3, 0.5, 0.7, 0.9), {"Jeans": 0.8}), ((0.0, 0.85, 0.2, 1.0), {"Jeans": 0.7}),  # far: left out
                    ((0.7, 0.0, 1.0, 0.3), {"Perfume": 0.0}),  # sure, but of no garment kind
                    ((0.0, 0.0, 0.3, 0.3), {"Shirts": 0.3})])  # too unsure
    garments = garments_of(look, PLAIN)
    assert [g.category for g in garments] == ["Tshirts", "Jeans"]
    top, jeans = garments
    np.testing.assert_allclose(top.box, (0.225, 0.125, 0.825, 0.525), atol=1e-4)  # two windows of one size: their mean
    assert top.confidence == 0.9 and jeans.box == (0.3, 0.5, 0.7, 0.9)
    shrunk = garments_of(look, replace(PLAIN, shrink=0.5))[1]
    assert shrunk.box == (0.4, 0.6, 0.6, 0.8)  # about its centre


def test_a_garment_s_query_is_its_box_plus_the_mean_of_the_windows_sure_of_its_kind_around_it() -> None:
    from recommender.looks import _garment_query
    from recommender.query_value import Query

    look = windows([(WHOLE, {"Tshirts": 0.6}),
                    ((0.2, 0.1, 0.8, 0.5), {"Tshirts": 0.9}),
                    ((0.25, 0.15, 0.85, 0.55), {"Tops": 0.8}),  # its kind (a top), overlapping: joins
                    ((0.2, 0.2, 0.8, 0.6), {"Tshirts": 0.4}),  # below 0.6 but within the tie (0.25): joins
                    ((0.3, 0.1, 0.9, 0.5), {"Tshirts": 0.3}),  # overlapping, its kind, but unsure: left out
                    ((0.3, 0.3, 0.7, 0.7), {"Jeans": 0.6, "Tshirts": 0.38}),  # sure enough of a top, likelier jeans: out
                    ((0.0, 0.85, 0.2, 1.0), {"Tshirts": 0.9})])  # sure of its kind, far away: left out
    vectors = np.eye(7, 4, dtype=np.float32)[[0, 1, 2, 3, 0, 0, 0]] + np.arange(7)[:, None] * [0, 0, 0, 0.01]
    look = replace(look, vectors=vectors.astype(np.float32))
    top = Garment((0.2, 0.1, 0.8, 0.5), "Tshirts", 0.9)
    crop = Query(np.array([0.0, 0.0, 0.0, 1.0], np.float32), np.array([0.5, 0.5], np.float32))
    sure = replace(PLAIN, min_confidence=0.6, tie=0.25, support_iou=0.1)  # at least 0.35 sure of its kind, likeliest
    query = _garment_query(look, top, crop, sure)
    mean = vectors[1:4].mean(axis=0) / np.linalg.norm(vectors[1:4].mean(axis=0))
    expected = (mean + crop.vector) / np.linalg.norm(mean + crop.vector)
    np.testing.assert_allclose(query.vector, expected, atol=1e-6)
    assert np.isclose(np.linalg.norm(query.vector), 1)
    np.testing.assert_array_equal(query.colours, crop.colours)  # the box's colours
    assert _garment_query(replace(look, vectors=None), top, crop, sure) is crop  # no window vectors: the box alone
    far = Garment((0.9, 0.9, 1.0, 1.0), "Dresses", 0.9)  # no window of its kind around it: the box alone
    assert _garment_query(look, far, crop, sure) is crop


def test_tight_mean_weighs_each_box_by_its_inverse_area() -> None:
    small, large = [0.4, 0.4, 0.6, 0.6], [0.0, 0.0, 1.0, 1.0]  # areas 0.04 and 1: weights 25 and 1
    np.testing.assert_allclose(tight_mean(np.array([small, large])), (np.array(small) * 25 + large) / 26)
    np.testing.assert_allclose(tight_mean(np.array([small])), small)


def test_a_garment_s_box_follows_its_tighter_windows_and_leaves_out_the_less_sure() -> None:
    shoe = (0.4, 0.8, 0.6, 0.95)
    look = windows([(WHOLE, {"Jeans": 0.5}), ((0.3, 0.5, 0.7, 0.9), {"Jeans": 0.95}),
                    ((0.2, 0.6, 0.8, 1.0), {"Tshirts": 0.99}),  # a window with wide margins around a "shoe"
                    (shoe, {"Tshirts": 0.97}),  # one framing it, nearly as sure
                    ((0.35, 0.7, 0.65, 1.0), {"Tshirts": 0.6})])  # overlapping, much less sure
    settings = replace(PLAIN, group_iou=0.05, tie=0.05, repeat_iou=0.9)
    top = next(g for g in garments_of(look, settings) if g.category == "Tshirts")
    wide, tight = np.array([0.2, 0.6, 0.8, 1.0]), np.array(shoe)
    np.testing.assert_allclose(top.box, (wide / 0.24 + tight / 0.03) / (1 / 0.24 + 1 / 0.03), atol=1e-4)
    assert top.confidence == 0.99
    # a wider tie takes the less sure window in as well
    wider = next(g for g in garments_of(look, replace(settings, tie=0.5)) if g.category == "Tshirts")
    assert wider.box != top.box


def test_a_box_is_cut_about_its_centre_to_no_taller_than_wide_in_pixels() -> None:
    # a 600 x 800 photo (width / height 0.75): 0.2 of its width is 120 px, 0.15 of its height
    assert no_taller_than_wide((0.4, 0.6, 0.6, 1.0), 0.75) == (0.4, 0.725, 0.6, 0.875)
    assert no_taller_than_wide((0.1, 0.8, 0.6, 0.9), 0.75) == (0.1, 0.8, 0.6, 0.9)  # already wider: as it was
    assert no_taller_than_wide((0.4, 0.6, 0.6, 0.8), 1.0) == (0.4, 0.6, 0.6, 0.8)  # square in a square photo


def test_shoes_found_by_upright_windows_are_cut_to_no_taller_than_wide_and_other_kinds_are_not() -> None:
    values, kinds = ["Tshirts", "Casual Shoes", "Perfume"], ["top", "shoes", None]
    boxes = np.array([WHOLE, (0.2, 0.1, 0.5, 0.6), (0.4, 0.6, 0.6, 1.0)])
    probabilities = np.array([[0.5, 0.4, 0.1], [0.9, 0.0, 0.1], [0.0, 0.95, 0.05]])
    look = Windows(boxes, probabilities, values, kinds, np.zeros(3), aspect=0.75)
    shoes, top = garments_of(look, PLAIN)
    assert (top.category, top.box) == ("Tshirts", (0.2, 0.1, 0.5, 0.6))  # taller in pixels than wide: kept
    assert (shoes.category, shoes.box) == ("Casual Shoes", (0.4, 0.725, 0.6, 0.875))


def test_a_kind_pools_its_categories_and_names_the_garment_by_the_likeliest() -> None:
    look = windows([(WHOLE, {"Jeans": 0.9}),
                    ((0.2, 0.1, 0.8, 0.5), {"Tshirts": 0.3, "Tops": 0.6}),  # a top at 0.9, most likely "Tops"
                    ((0.2, 0.15, 0.8, 0.55), {"Tshirts": 0.45, "Tops": 0.4}),
                    ((0.3, 0.5, 0.7, 0.9), {"Jeans": 0.8})])
    # the jeans below 0.85 leave the top alone: one garment is the whole picture, named as a whole
    assert garments_of(look, replace(PLAIN, min_confidence=0.85)) == [Garment(WHOLE, "Jeans", 0.9)]
    garments = garments_of(look, replace(PLAIN, min_confidence=0.7))
    assert [(g.category, round(g.confidence, 4)) for g in garments] == [("Tops", 0.9), ("Jeans", 0.8)]


def test_a_garment_repeating_a_surer_one_is_dropped() -> None:
    look = windows([(WHOLE, {"Dresses": 0.5}), ((0.2, 0.1, 0.8, 0.6), {"Tshirts": 0.9}),
                    ((0.2, 0.15, 0.8, 0.6), {"Shirts": 0.7}), ((0.3, 0.6, 0.7, 0.95), {"Jeans": 0.8})])
    assert [g.category for g in garments_of(look, PLAIN)] == ["Tshirts", "Jeans"]
    assert [g.category for g in garments_of(look, replace(PLAIN, repeat_iou=0.95))] == ["Tshirts", "Jeans", "Shirts"]


def test_a_product_shot_stays_one_garment_the_whole_picture() -> None:
    alone = windows([(WHOLE, {"Shirts": 0.7}), ((0.1, 0.1, 0.7, 0.7), {"Shirts": 0.9}),
                     ((0.3, 0.3, 0.9, 0.9), {"Shirts": 0.8})])
    assert garments_of(alone, PLAIN) == [Garment(WHOLE, "Shirts", 0.7)]
    # the surest garment is the picture's own kind and fills most of it: a shot with a bit of another garment
    shot = windows([(WHOLE, {"Shirts": 0.7}), ((0.0, 0.0, 0.9, 0.8), {"Shirts": 0.9}),
                    ((0.2, 0.8, 0.8, 1.0), {"Jeans": 0.6})])
    assert garments_of(shot, PLAIN) == [Garment(WHOLE, "Shirts", 0.7)]
    assert len(garments_of(shot, replace(PLAIN, single_cover=0.9))) == 2


def test_a_whole_picture_sure_of_one_kind_is_one_product_whatever_its_windows_say() -> None:
    """A sharp head is as sure of a "hat" in the corner of a laid-flat dress as of the dress: the whole
    picture, sure of one kind (its categories pooled), keeps the product whole (issue 17, the demo head)."""
    rows = [(WHOLE, {"Dresses": 0.98}), ((0.3, 0.2, 0.7, 0.7), {"Dresses": 0.999}),
            ((0.0, 0.0, 0.2, 0.2), {"Jeans": 0.995}), ((0.8, 0.8, 1.0, 1.0), {"Shirts": 0.99})]
    settings = replace(PLAIN, min_confidence=0.98)  # the default threshold, 0.97
    assert garments_of(windows(rows), settings) == [Garment(WHOLE, "Dresses", 0.98)]
    assert [g.category for g in garments_of(windows(rows), replace(settings, whole_sure=0.99))] == \
        ["Dresses", "Jeans", "Shirts"]  # less sure than the threshold: a photo of several garments
    pooled = [(WHOLE, {"Tshirts": 0.5, "Tops": 0.47}), *rows[1:]]  # a top at 0.97, split between two categories
    assert garments_of(windows(pooled), replace(settings, whole_sure=0.97)) == [Garment(WHOLE, "Tshirts", 0.5)]


# ---------------------------------------------------------------- on a trained (tiny) index


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    """A demo catalogue large enough for every garment slot to keep held-out products in both splits."""
    from recommender.demo import write_demo_catalog

    out = tmp_path_factory.mktemp("looks-catalogue")
    write_demo_catalog(out, n=180, seed=1)
    return out


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory, catalogue: Path, tiny_tflite) -> Path:
    """That catalogue indexed by a tiny TFLite model (fast, meaningless but deterministic)."""
    out = tmp_path_factory.mktemp("looks-raw") / "raw"
    assert main(["build", "--catalog", str(catalogue), "--out", str(out), "--backbone",
                 str(tiny_tflite["float"].path), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_index: Path) -> Path:
    """Its trained index: a head that classifies articleType, half the products held out."""
    out = tmp_path_factory.mktemp("looks") / "trained"
    assert main(["train", "--index", str(tiny_index), "--out", str(out), "--epochs", "2", "--holdout", "0.5",
                 "--attributes", "articleType", "gender", "--seed", "0", "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def looks_dir(tmp_path_factory, trained: Path) -> Path:
    out = tmp_path_factory.mktemp("looks-set")
    assert main(["looks-set", "--index", str(trained), "--out", str(out), "--count", "6", "--seed", "3"]) == 0
    return out


def test_looks_set_writes_both_splits_in_the_documented_format(looks_dir: Path, trained: Path) -> None:
    from recommender.index import Index
    from recommender.looks_set import read_looks

    index = Index.load(trained)
    held_out = {p.attributes["articleType"] for p in index.products if index.manifest.holdout.contains(p.id)}
    for split in ("dev", "test"):
        folder = looks_dir / split
        assert (folder / "garments.csv").read_text().splitlines()[0] == "image,class,x0,y0,x1,y1"
        looks = read_looks(folder)
        assert len(looks) == 6 and sorted(looks) == sorted(p.name for p in (folder / "images").iterdir())
        for name, garments in looks.items():
            with Image.open(folder / "images" / name) as image:
                width, height = image.size
            for garment in garments:
                x0, y0, x1, y1 = garment.box
                assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height and garment.category in held_out
    again = looks_dir / "again"
    assert main(["looks-set", "--index", str(trained), "--out", str(again), "--count", "6", "--seed", "3"]) == 0
    assert (again / "dev" / "garments.csv").read_bytes() == (looks_dir / "dev" / "garments.csv").read_bytes()


def test_read_looks_refuses_a_file_out_of_format_with_a_sentence(tmp_path: Path) -> None:
    from recommender.errors import RecommenderError
    from recommender.looks_set import read_looks

    with pytest.raises(RecommenderError, match="no garments.csv"):
        read_looks(tmp_path)
    for text, match in (("image,class,box\n", "header"), ("image,class,x0,y0,x1,y1\na.jpg,Shirts,1,2,x,4\n", "Line 2"),
                        ("image,class,x0,y0,x1,y1\na.jpg,Shirts,5,2,1,4\n", "x0 < x1")):
        (tmp_path / "garments.csv").write_text(text)
        with pytest.raises(RecommenderError, match=match):
            read_looks(tmp_path)


def test_evaluate_looks_reports_the_three_figures(looks_dir: Path, trained: Path, capsys) -> None:
    assert main(["evaluate", "--index", str(trained), "--looks", str(looks_dir / "dev"), "--json", "-"]) == 0
    captured = capsys.readouterr()
    [result] = json.loads(captured.out)
    assert result["looks"] == 6 and result["garments"] >= 6
    for key in ("found", "proposals_garments", "p_at_k_found"):
        assert 0.0 <= result[key] <= 1.0
    assert 0.0 <= result["exact"]["found"] <= result["found"]  # the right category is also the right kind
    assert result["single_shots_whole"] <= result["single_shots"]
    assert "garments found (IoU >= 0.4, right kind)" in captured.err


def test_score_matches_each_garment_to_one_proposal_of_its_class() -> None:
    from recommender.evaluation.looks import score_look
    from recommender.looks_set import LookGarment

    class Hit:
        def __init__(self, value: str) -> None:
            self.product = type("P", (), {"attributes": {"articleType": value}})()

    truth = [LookGarment("a", "Shirts", (0, 0, 50, 50)), LookGarment("a", "Jeans", (0, 50, 50, 100)),
             LookGarment("a", "Caps", (60, 0, 100, 20))]
    look = [(Garment((0.0, 0.0, 0.5, 0.5), "Shirts", 0.9), [Hit("Shirts")] * 7 + [Hit("Tops")] * 3),
            (Garment((0.0, 0.5, 0.5, 1.0), "Trousers", 0.8), [Hit("Jeans")] * 10),  # right place, wrong class
            (Garment((0.5, 0.5, 1.0, 1.0), "Shirts", 0.7), [])]  # nowhere
    score = score_look(truth, (100, 100), look, "articleType", str.__eq__)
    assert score["found"] == [("Shirts", 0.7), ("Jeans", None), ("Caps", None)]
    assert score["proposals"] == 3 and score["garment_proposals"] == 2
    bottoms = {"Jeans", "Trousers"}  # by kind: trousers for jeans are found, and jeans results count for them

    def same_kind(a: str, b: str) -> bool:
        return a == b or {a, b} <= bottoms

    assert score_look(truth, (100, 100), look, "articleType", same_kind)["found"] == [
        ("Shirts", 0.7), ("Jeans", 1.0), ("Caps", None)]


def rotated_jpeg(source: Path, path: Path) -> tuple[int, int]:
    """A JPEG stored sideways with EXIF orientation 6 (shown turned 90 degrees): its upright size."""
    with Image.open(source) as image:
        picture = image.convert("RGB").resize((120, 160))
    exif = Image.Exif()
    exif[0x0112] = 6
    picture.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    return picture.size


def test_query_look_json_gives_each_garment_in_the_upright_photo_s_pixels(trained: Path, catalogue: Path,
                                                                          tmp_path: Path, capsys) -> None:
    photo = tmp_path / "sideways.jpg"
    width, height = rotated_jpeg(next((catalogue / "images").glob("*.jpg")), photo)
    assert main(["query", "--index", str(trained), "--image", str(photo), "--look", "--k", "4", "--json"]) == 0
    garments = json.loads(capsys.readouterr().out)["garments"]
    assert garments and [sorted(g) for g in garments] == [["box", "category", "confidence", "results"]] * len(garments)
    for garment in garments:
        x0, y0, x1, y1 = garment["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert len(garment["results"]) == 4 and 0 < garment["confidence"] <= 1
        assert sorted(garment["results"][0]) == ["attributes", "distance", "id", "image", "match", "rank"]
    assert main(["query", "--index", str(trained), "--image", str(photo), "--look", "--k", "4"]) == 0
    tables = capsys.readouterr().out  # a table per garment, and once why their raw distances need not rise
    assert tables.count("best matches for") == len(garments) and tables.count("(match follows the shop's order") == 1
    assert main(["query", "--index", str(trained), "--id", "10001", "--k", "3"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split()[:3] == ["rank", "match", "raw-distance"] and len(table) == 6
    assert table[-1].startswith("(match follows the shop's order, the pictures re-ranked by kind and colour")
    assert main(["query", "--index", str(trained), "--id", "10001", "--look"]) == 2
    assert "--look finds the garments of a photo" in capsys.readouterr().err


def test_each_garment_is_named_by_its_own_query_s_category_tag(trained: Path, looks_dir: Path, monkeypatch) -> None:
    """The chip and the results agree: a garment's category is the page's tag of the vector its results come from
    (here a tag that names each vector apart, so a name taken from anything else shows)."""
    from recommender.engine import Recommender
    from recommender.images import open_image
    from recommender.looks import find_garments
    from recommender.tags import Tag

    engine = Recommender.open(trained)
    real = engine.tags(engine.embed_image(open_image(next((looks_dir / "dev" / "images").glob("*.jpg")))))
    assert any(t.role == "category" for t in real)

    def named_apart(query, exclude=()):
        return [Tag("colour", "baseColour", "Blue", 0.9, "head"),
                Tag("category", "articleType", f"kind {query.vector[0]:.6f}", 0.9, "head")]

    monkeypatch.setattr(engine, "tags", named_apart)
    loose = LookSettings(min_confidence=0.0, whole_sure=1.01, single_cover=1.01, repeat_iou=1.01)
    found = 0
    for photo in sorted((looks_dir / "dev" / "images").glob("*.jpg"))[:3]:
        garments, queries = find_garments(engine, open_image(photo), loose)
        assert len(garments) == len(queries) >= 2
        assert [g.category for g in garments] == [f"kind {q.vector[0]:.6f}" for q in queries]
        found += len(garments)
    assert found >= 6


def test_a_photo_with_no_sure_garment_is_one_garment_with_the_photo_s_own_results(trained: Path,
                                                                                   catalogue: Path) -> None:
    from recommender.engine import Recommender
    from recommender.images import open_image
    from recommender.looks import shop_the_look

    engine = Recommender.open(trained)
    picture = open_image(next((catalogue / "images").glob("*.jpg")))
    [(garment, hits)] = shop_the_look(engine, picture, 10, settings=LookSettings(min_confidence=1.01))
    assert garment.box == WHOLE and garment.category in engine.index.head.attributes["articleType"]
    assert [(h.id, h.distance) for h in hits] == [(h.id, h.distance) for h in engine.query_image(picture, 10)]


def test_a_calibrated_index_keeps_its_product_shots_whole_with_the_plain_search_s_results(
        trained: Path, looks_dir: Path, catalogue: Path, tmp_path: Path) -> None:
    """scripts/calibrate_looks.py writes the head's own threshold beside the index; shop the look reads it."""
    import shutil
    import subprocess
    import sys

    from recommender.engine import Recommender
    from recommender.images import open_image
    from recommender.look_calibration import CALIBRATION_FILE, QUANTILE, Calibration, write_calibration
    from recommender.looks import index_look_settings, shop_the_look, whole_sureness
    from recommender.looks_set import read_looks

    index = tmp_path / "trained"
    shutil.copytree(trained, index)
    script = Path(__file__).resolve().parents[1] / "scripts" / "calibrate_looks.py"
    done = subprocess.run([sys.executable, str(script), "--index", str(index), "--looks", str(looks_dir / "dev")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    engine = Recommender.open(index)
    several = [name for name, garments in sorted(read_looks(looks_dir / "dev").items()) if len(garments) > 1]
    sureness = [whole_sureness(engine, open_image(looks_dir / "dev" / "images" / name)) for name in several]
    stored = json.loads((index / CALIBRATION_FILE).read_text())
    assert stored["whole_sure"] == pytest.approx(np.quantile(sureness, QUANTILE), abs=1e-6)
    assert stored["head"] == engine.index.manifest.model.head and stored["photos"] == len(several)
    assert stored["weights"] == engine.index.head.weights_id  # what the demo's shipped copy is matched by
    assert len(several) < 20 and f"Only {len(several)} photos of several garments" in done.stderr
    assert index_look_settings(engine.index).whole_sure == pytest.approx(stored["whole_sure"], abs=1e-6)
    # a threshold every photo passes: each photo is one product, with exactly its plain search's results
    write_calibration(engine.index.path, Calibration(0.0, engine.index.manifest.model.head, 1))
    engine = Recommender.open(index)
    picture = open_image(next((catalogue / "images").glob("*.jpg")))
    [(garment, hits)] = shop_the_look(engine, picture, 10)
    assert garment.box == WHOLE
    assert [(h.id, h.distance) for h in hits] == [(h.id, h.distance) for h in engine.query_image(picture, 10)]


def test_evaluate_looks_scores_the_index_s_own_settings(trained: Path, looks_dir: Path, monkeypatch) -> None:
    """`evaluate --looks` leaves the settings to the index (its calibration), as the app and the CLI do."""
    import recommender.evaluation.looks as evaluation
    from recommender.engine import Recommender

    given, real = [], evaluation.shop_the_look

    def spy(engine, picture, k=10, filters=None, settings=None):  # noqa: ANN001, ANN202 - shop_the_look's own
        given.append(settings)
        return real(engine, picture, k, filters, settings)

    monkeypatch.setattr(evaluation, "shop_the_look", spy)
    evaluation.evaluate_looks(Recommender.open(trained), looks_dir / "dev")
    assert given and all(settings is None for settings in given)


def test_an_index_without_a_head_gives_the_whole_photo_named_by_its_tags(tiny_index: Path,
                                                                          catalogue: Path) -> None:
    from recommender.engine import Recommender
    from recommender.images import open_image
    from recommender.looks import shop_the_look

    engine = Recommender.open(tiny_index)
    picture = open_image(next((catalogue / "images").glob("*.jpg")))
    [(garment, hits)] = shop_the_look(engine, picture, 5)
    tag = next(t for t in engine.tags(engine.embed_image(picture)) if t.role == "category")
    assert garment == Garment(WHOLE, tag.value, tag.confidence)
    assert [h.id for h in hits] == [h.id for h in engine.query_image(picture, 5)]


def test_benchmark_times_the_look_beside_a_single_search(trained: Path, catalogue: Path, tmp_path: Path) -> None:
    from bench.report import render_table
    from bench.run import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig(sections=("machine", "look"), look_index=trained, look_photos=catalogue / "images",
                             look_repeats=2, workdir=tmp_path, log=lambda message: None)
    report = run_benchmark(config)
    look = report["look"]
    assert look["photos"] == 2 and look["garments_per_photo"] >= 1
    for side in ("single_search", "look"):
        assert look[side]["repeats"] == 2 and 0 < look[side]["p50_ms"] <= look[side]["p95_ms"]
    [target] = report["targets"]
    assert target["value"] == look["look"]["p50_ms"] and target["goal"] == "< 1500 ms"
    assert "every garment's top 10 (look)" in render_table(report)


def test_garment_kinds_come_from_the_usual_subcategory_of_each_category(tiny_index: Path, tmp_path: Path) -> None:
    from recommender.index import Index
    from recommender.garment_kinds import garment_kinds

    index = Index.load(tiny_index)
    values = ["Tshirts", "Shirts", "Dresses", "Trousers", "Casual Shoes", "Handbags", "Caps", "Nonesuch"]
    assert garment_kinds(index, values) == ["top", "top", "dress", "bottoms", "shoes", "bag", "hat", None]


def test_the_smallest_windows_are_looked_at_only_inside_a_larger_window_sure_of_a_garment(trained: Path,
                                                                                          catalogue: Path) -> None:
    from recommender.engine import Recommender
    from recommender.images import open_image
    from recommender.looks import classify_windows

    engine = Recommender.open(trained)
    picture = open_image(next((catalogue / "images").glob("*.jpg")))
    batches: list[int] = []
    embed = engine.embed_images
    engine.embed_images = lambda pictures: batches.append(len(pictures)) or embed(pictures)  # type: ignore[method-assign]
    every = classify_windows(engine, picture, LookSettings(fine_gate=0.0))
    heights = every.boxes[1:, 3] - every.boxes[1:, 1]
    fine = 1 + np.flatnonzero(np.isclose(heights, heights.min(), atol=1e-3))
    coarse = len(every.boxes) - 1 - len(fine)
    assert batches == [1, coarse, len(fine)]  # the whole photo alone, the larger windows, the smallest ones
    batches.clear()
    gated = classify_windows(engine, picture, LookSettings(fine_gate=1.01))  # no window is that sure
    assert batches == [1, coarse]
    assert not gated.probabilities[fine].any()
    others = np.setdiff1d(np.arange(len(every.boxes)), fine)
    np.testing.assert_allclose(gated.probabilities[others], every.probabilities[others], rtol=1e-5)


class KindsIndex:
    """What `finds_garments` reads of an index: a head over the category, and each product's category and
    subCategory (a Kaggle-like catalogue)."""

    def __init__(self, products: list[tuple[str, str]]) -> None:
        self.columns = {"articleType": [c for c, _ in products], "subCategory": [s for _, s in products]}
        self.roles = type("Roles", (), {"category": "articleType"})()
        self.head = type("Head", (), {"attributes": {"articleType": sorted(set(self.columns["articleType"]))}})()

    def attributes(self) -> list[str]:
        return list(self.columns)

    def value_codes(self, attribute: str, values: list[str]) -> np.ndarray:
        return np.array([values.index(v) if v in values else -1 for v in self.columns[attribute]])


def test_a_catalogue_without_garment_kinds_has_no_garments_to_find() -> None:
    """Watches and perfumes are no garment kind: a photo is one product (its plain search), not windows whose
    kind masses are empty (that raised, a 500 from the API's look=1)."""
    from recommender.looks import finds_garments

    def engine(products: list[tuple[str, str]]) -> object:
        return type("Engine", (), {"index": KindsIndex(products)})()

    assert not finds_garments(engine([("Watches", "Watches")] * 3 + [("Perfume", "Fragrance")] * 2))
    assert finds_garments(engine([("Watches", "Watches")] * 3 + [("Tshirts", "Topwear")] * 2))


def test_tune_looks_scores_with_the_index_s_own_product_shot_threshold(trained: Path, looks_dir: Path,
                                                                       tmp_path: Path) -> None:
    """scripts/tune_looks.py scores the grid as `evaluate --looks` and the app would: with the index's calibrated
    `whole_sure` (it scored with the default 0.97 whatever the index's own)."""
    import shutil
    import subprocess
    import sys

    from recommender.index import Index
    from recommender.look_calibration import Calibration, write_calibration

    index = tmp_path / "trained"
    shutil.copytree(trained, index)
    loaded = Index.load(index, ann=False)
    write_calibration(loaded.path, Calibration(0.5, loaded.manifest.model.head, 1))
    script = Path(__file__).resolve().parents[1] / "scripts" / "tune_looks.py"
    done = subprocess.run([sys.executable, str(script), "--index", str(index), "--looks", str(looks_dir / "dev"),
                           "--layouts", "3 small scales, stride 0.8"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "a product shot when the whole picture is at least 0.5000 sure of one kind" in done.stdout
    assert len(done.stdout.splitlines()) == 8  # the layout, its 6 best settings, the grid's mean


def test_look_speed_s_before_differs_from_now_by_the_speed_ups_only(trained: Path, looks_dir: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    """scripts/look_speed.py's "before" keeps the index's own product-shot threshold (it used the default 0.97, so a
    calibrated index was timed with other photos taken whole, and more boxes embedded, on one side only)."""
    import importlib.util
    import shutil
    import sys

    from recommender.index import Index
    from recommender.look_calibration import Calibration, write_calibration
    from recommender.looks import index_look_settings

    index = tmp_path / "trained"
    shutil.copytree(trained, index)
    loaded = Index.load(index, ann=False)
    write_calibration(loaded.path, Calibration(0.5, loaded.manifest.model.head, 1))
    path = Path(__file__).resolve().parents[1] / "scripts" / "look_speed.py"
    spec = importlib.util.spec_from_file_location("look_speed", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    used: dict[str, object] = {}
    monkeypatch.setattr(script, "shop_the_look", lambda engine, picture, k, settings=None: used.update(
        {"before" if settings else "now": settings or index_look_settings(engine.index)}))
    monkeypatch.setattr(script, "paired_latency", lambda fns, n: {name: fn(0) or {"p50_ms": 1, "p95_ms": 1}
                                                                  for name, fn in fns.items()})
    monkeypatch.setattr(sys, "argv", ["look_speed.py", "--index", str(index), "--photos",
                                      str(looks_dir / "dev" / "images"), "--n", "1"])
    script.main()
    assert used["now"].whole_sure == 0.5 and used["before"] == replace(used["now"], fine_gate=0.0)


def test_whole_sureness_of_an_index_without_a_head_is_a_sentence(tiny_index: Path) -> None:
    from recommender.engine import Recommender
    from recommender.errors import RecommenderError
    from recommender.looks import whole_sureness

    with pytest.raises(RecommenderError, match="no head that classifies its category"):
        whole_sureness(Recommender.open(tiny_index), Image.new("RGB", (64, 64)))


def test_a_person_s_places_make_their_garments_and_windows_add_only_other_kinds() -> None:
    """With a person found, each place sure enough of a kind is that kind's garment, its box the place; a window
    garment of a kind a place found is dropped, one of another kind (a bag: here "Shirts") stays where no place is."""
    look = windows([(WHOLE, {"Tshirts": 0.5}),
                    ((0.1, 0.1, 0.6, 0.5), {"Tshirts": 0.95}),  # a window's top: the place's top replaces it
                    ((0.7, 0.4, 1.0, 0.8), {"Shirts": 0.9}),  # a window of a kind no place found, beside the person
                    ((0.3, 0.2, 0.7, 0.6), {"Dresses": 0.9})])  # over the person's top: a repeat, dropped
    places = np.array([[0.3, 0.2, 0.7, 0.55], [0.3, 0.5, 0.7, 0.95], [0.35, 0.0, 0.65, 0.15], [0.3, 0.2, 0.7, 0.95]])
    placed = np.zeros((4, 6))
    placed[0, [0, 5]] = [0.8, 0.2]  # the top's place: a T-shirt
    placed[1, [2, 5]] = [0.7, 0.3]  # the legs: jeans
    placed[2, [3, 5]] = [0.2, 0.8]  # the head: not sure of any garment, no garment
    placed[3, [0, 5]] = [0.95, 0.05]  # the dress's place, sure of a T-shirt: a place names only its own kind
    look = replace(look, places=places, place_probabilities=placed,
                   place_kinds=("top", "bottoms", "hat", "Dresses"))  # "top", ...: no kind of this catalogue
    garments = garments_of(look, PLAIN)
    assert garments == [Garment((0.7, 0.4, 1.0, 0.8), "Shirts", 0.9), Garment((0.3, 0.2, 0.7, 0.55), "Tshirts", 0.8),
                        Garment((0.3, 0.5, 0.7, 0.95), "Jeans", 0.7)]
    assert garments_of(replace(look, places=None, place_probabilities=None), PLAIN)[0].box == (0.1, 0.1, 0.6, 0.5)
    stricter = garments_of(look, replace(PLAIN, place_confidence=0.75))  # the legs' place is no longer sure enough
    assert [g.category for g in stricter] == ["Shirts", "Tshirts"]


def test_a_person_model_that_fails_on_a_photo_leaves_the_windows_alone(monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A search never fails for the person model: an error on one photo is logged, the windows answer."""
    from recommender import looks

    class Failing:
        def find(self, picture: Image.Image) -> None:
            raise ValueError("Dimension mismatch")

    monkeypatch.setattr(looks, "person_model", lambda: Failing())
    assert looks._person_places(Image.new("RGB", (60, 80))) == {}
    assert "windows alone" in caplog.text
