"""The Recommender facade and the demo index set-up (fake extractor: no TensorFlow needed)."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.appearance import APPEARANCE_VERSION
from recommender.build import build_index
from recommender.demo_index import demo_name, demo_recipe, ensure_demo_index
from recommender.engine import Recommender
from recommender.errors import IncompatibleIndex, RecommenderError, WeightsUnavailable
from recommender.images import open_image
from recommender.index import Index
from recommender.manifest import read_manifest
from recommender.model_spec import ModelSpec
from recommender.settings import Settings
from tests.index_fakes import FakeExtractor, make_catalog


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Replace recommender.backbones by a module whose load_extractor records its calls and
    returns FakeExtractors ("imagenet" is unavailable, as offline)."""
    calls: list[tuple[str, str]] = []

    def load_extractor(spec: ModelSpec, *, seed: int = 0) -> FakeExtractor:
        calls.append((spec.backbone, spec.weights))
        time.sleep(0.05)  # widen the window for concurrent first uses
        if spec.weights == "imagenet":
            raise WeightsUnavailable("ImageNet weights cannot be downloaded (no network); pass a weights file.")
        return FakeExtractor(name=spec.backbone, weights=spec.weights)

    module = types.ModuleType("recommender.backbones")
    module.load_extractor = load_extractor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "recommender.backbones", module)
    return calls


@pytest.fixture
def built(tmp_path: Path):
    catalog = make_catalog(tmp_path / "cat", n=30)
    build_index(catalog, tmp_path / "idx", FakeExtractor(name="tiny"), batch_size=8, progress=False)
    return catalog, tmp_path / "idx"


def test_query_id_leaves_the_item_out(built) -> None:
    catalog, folder = built
    engine = Recommender.open(folder)
    hits = engine.query_id("p004", k=5)
    assert len(hits) == 5 and "p004" not in [h.id for h in hits]
    assert [h.id for h in hits] == [h.id for h in engine.search(engine.product_query("p004"), 6)][1:]
    women = engine.query_id("p004", k=30, filters={"gender": ["Women"]})
    assert {h.product.attributes["gender"] for h in women} == {"Women"}
    assert len(women) == 10 - ("p004" in {p.id for p in catalog.products if p.attributes["gender"] == "Women"})
    with pytest.raises(RecommenderError, match="No product with id 'nope'"):
        engine.query_id("nope")


def test_query_image_loads_the_index_backbone_once(built, loads) -> None:
    catalog, folder = built
    engine = Recommender.open(folder)
    assert engine.random_weights
    assert loads == []  # lazily: nothing loaded until a photo must be embedded
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(engine.query_file(catalog.products[7].image, k=3)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [("tiny", "none")]
    assert all([h.id for h in r] == [h.id for h in results[0]] for r in results)
    assert results[0][0].id == "p007" and results[0][0].distance == pytest.approx(0, abs=1e-4)
    hits = engine.query_image(open_image(catalog.products[7].image.read_bytes()), k=3)
    assert [h.id for h in hits] == [h.id for h in results[0]]
    assert loads == [("tiny", "none")]


def test_open_refuses_an_incompatible_extractor(built) -> None:
    _, folder = built
    Recommender.open(folder, extractor=FakeExtractor(name="tiny"))
    with pytest.raises(IncompatibleIndex, match=r"built with tiny \(random\) .* the query uses other \(random\)"):
        Recommender.open(folder, extractor=FakeExtractor(name="other"))


def test_an_offline_imagenet_index_fails_with_the_weights_sentence(built, loads) -> None:
    _, folder = built
    manifest_path = folder / "manifest.json"
    manifest_path.write_text(manifest_path.read_text().replace('"weights": "none"', '"weights": "imagenet"'))
    engine = Recommender(Index.load(folder))
    assert not engine.random_weights
    with pytest.raises(WeightsUnavailable, match="cannot be downloaded"):
        engine.query_image(Image.new("RGB", (8, 8)))


def test_ensure_demo_index_falls_back_to_the_shipped_extractor_then_reuses(
    tmp_path: Path, loads, capsys: pytest.CaptureFixture
) -> None:
    from recommender.demo import write_demo_catalog

    shipped = tmp_path / "models" / "shipped.tflite"
    settings = Settings(demo_catalog=write_demo_catalog(tmp_path / "catalogue", n=12), demo_index=tmp_path / "index",
                        demo_model=shipped, backbone="tiny", weights="imagenet")
    assert ensure_demo_index(settings) == settings.demo_index
    assert loads == [("tiny", "imagenet"), (str(shipped), str(shipped))]  # offline: the shipped model, not random
    notice = capsys.readouterr().err.splitlines()[0]  # then the build's own summary line
    assert "cannot be downloaded" in notice and "shipped" in notice and "random" not in notice
    # said in the app's terms: it is started without CLI flags, so the notice names the environment variables
    assert "RECOMMENDER_WEIGHTS=PATH.h5" in notice and "--weights" not in notice
    engine = Recommender.open(settings.demo_index)
    assert len(engine.index) == 12 and not engine.random_weights
    assert engine.index.head is not None and engine.index.model.without_head().backbone == str(shipped)
    assert "head" in {t.source for t in engine.tags(engine.product_query(engine.index.ids[0]))}
    for product in engine.index.products:  # named at build: "Blue tshirts"
        attributes = product.attributes
        assert product.name == f"{attributes['baseColour']} {attributes['articleType'].lower()}".capitalize()
    manifest_time = (settings.demo_index / "manifest.json").stat().st_mtime_ns

    assert ensure_demo_index(settings) == settings.demo_index
    assert len(loads) == 2  # reused: no extractor loaded, nothing rebuilt
    assert (settings.demo_index / "manifest.json").stat().st_mtime_ns == manifest_time

    manifest_path = settings.demo_index / "manifest.json"
    older = json.loads(manifest_path.read_text())
    del older["appearance_version"]  # written before the histograms' definition was recorded: version 1
    manifest_path.write_text(json.dumps(older))
    assert read_manifest(settings.demo_index).appearance_version == 1
    assert ensure_demo_index(settings) == settings.demo_index
    assert len(loads) == 4  # its computed colours are of an older definition: rebuilt (offline: the fallback again)
    assert read_manifest(settings.demo_index).appearance_version == APPEARANCE_VERSION

    recipe = settings.demo_index.with_name("index.recipe")
    assert recipe.read_text() == demo_recipe() and "class_balance=1.0" in demo_recipe()
    recipe.write_text(demo_recipe().replace("class_balance=1.0", "class_balance=0.0"))  # a head made another way
    assert ensure_demo_index(settings) == settings.demo_index
    assert len(loads) == 6 and recipe.read_text() == demo_recipe()  # trained again, the way the demo trains now

    random = Settings(demo_catalog=settings.demo_catalog, demo_index=settings.demo_index, demo_model=shipped,
                      backbone="other", weights="none")
    ensure_demo_index(random)  # random weights only when asked for: rebuilt with them, no fallback
    assert loads[-1] == ("other", "none")
    assert read_manifest(settings.demo_index).model == ModelSpec("other", "none")
    assert Recommender.open(settings.demo_index).random_weights


def test_the_demo_index_gets_the_shipped_look_calibration_of_its_weights_only(
    tmp_path: Path, loads, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The shipped calibration names the weights it was measured on: a head of other weights keeps the default
    (said once, at its build); the same weights in another clone (another head id: the model's path) get it."""
    from recommender import demo_index
    from recommender.demo import write_demo_catalog
    from recommender.head import read_head
    from recommender.look_calibration import CALIBRATION_FILE, Calibration, read_calibration_file, write_calibration

    shipped = tmp_path / "shipped" / CALIBRATION_FILE
    shipped.parent.mkdir()
    write_calibration(shipped.parent, Calibration(0.93, "elsewhere", 34, "0" * 16))  # measured on other weights
    monkeypatch.setattr(demo_index, "DEMO_LOOK_CALIBRATION", shipped)
    model = tmp_path / "models" / "shipped.tflite"
    settings = Settings(demo_catalog=write_demo_catalog(tmp_path / "catalogue", n=12), demo_index=tmp_path / "index",
                        demo_model=model, backbone=str(model), weights=str(model))
    ensure_demo_index(settings)
    assert not (settings.demo_index / CALIBRATION_FILE).exists()
    built = capsys.readouterr().err
    assert "not the one look-calibration.json was measured on" in built
    assert re.search(r"trained the demo's head in \d+ s", built)  # the build's last long step says it is done
    head = read_head(settings.demo_index)
    write_calibration(shipped.parent, Calibration(0.93, "elsewhere", 34, head.weights_id))  # measured on these weights
    ensure_demo_index(settings)  # reused, not rebuilt: the calibration is put beside it, under this clone's head id
    assert read_calibration_file(settings.demo_index / CALIBRATION_FILE) == Calibration(0.93, head.id, 34,
                                                                                         head.weights_id)
    write_calibration(settings.demo_index, Calibration(0.9, head.id, 50, head.weights_id))  # measured here since
    ensure_demo_index(settings)
    assert read_calibration_file(settings.demo_index / CALIBRATION_FILE).whole_sure == 0.9  # kept


def test_demo_names_say_colour_category_and_age() -> None:
    assert demo_name({"category": "Dress", "age": "Kids", "colour": "Black", "name": "Dress (Kids) 95d51b57"}) \
        == "Black dress, kids"
    assert demo_name({"category": "Outerwear", "age": "Adults", "colour": "Navy Blue"}) == "Navy blue outerwear, adults"
    assert demo_name({"category": "T-shirt"}) == "T-shirt" and demo_name({}) == "Product"


def test_the_demo_catalogue_and_model_ship_with_the_repository() -> None:
    from recommender.catalog import load_catalog
    from recommender.settings import Settings as Defaults

    defaults = Defaults()
    catalog = load_catalog(defaults.demo_catalog)
    assert len(catalog) == 691 and catalog.skipped == []
    categories = {p.attributes["category"] for p in catalog.products}
    assert {"Dress", "Pants", "Shoes", "T-shirt"} <= categories and len(categories) == 16
    assert "CC0" in (defaults.demo_catalog / "LICENSE").read_text()
    assert defaults.demo_model.is_file() and defaults.demo_model.stat().st_size < 4 * 1024 * 1024
    assert "Apache License" in (defaults.demo_model.parent / "LICENSE").read_text()


def test_neighbour_tags_vote_by_closeness(built) -> None:
    """Without a head, a query's tags are a distance-weighted vote of its 20 nearest products."""
    catalog, folder = built
    engine = Recommender.open(folder)
    tags = {tag.role: tag for tag in engine.tags(engine.product_query("p004"))}
    assert set(tags) == {"gender", "colour"}  # this catalogue has no category attribute
    assert tags["colour"].attribute == "baseColour" and tags["colour"].source == "neighbours"
    distances, positions = engine.index.search(engine.index.vector("p004"), 20)
    weights = 1 / (1 + (distances[0] / np.median(distances[0])) ** 2)
    shares = {}
    for position, weight in zip(positions[0], weights):
        value = engine.index.products[position].attributes["baseColour"]
        shares[value] = shares.get(value, 0) + weight / weights.sum()
    best = max(shares, key=shares.get)
    assert tags["colour"].value == best and tags["colour"].confidence == pytest.approx(shares[best])
    assert tags["colour"].to_json() == {"attribute": "baseColour", "value": best, "role": "colour",
                                        "confidence": round(shares[best], 4), "source": "neighbours"}


def test_rocchio_moves_the_query_towards_the_liked() -> None:
    from recommender.refine import rocchio

    query, liked, disliked = np.array([1.0, 0.0]), np.array([[0.0, 2.0], [0.0, 4.0]]), np.array([[10.0, 0.0]])
    np.testing.assert_allclose(rocchio(query, liked, disliked, alpha=1, beta=0.5, gamma=0.1), [0.0, 1.5])
    np.testing.assert_allclose(rocchio(query, np.empty((0, 2)), np.empty((0, 2))), query)
