"""The shoppers' photos the demo's head learns from (demo/shopper-photos.npz): shipped, read, trained on, and
skipped under another model. Needs TensorFlow for the training test only, not ../shared."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from recommender.appearance import APPEARANCE_VERSION
from recommender.build import build_index
from recommender.catalog import load_catalog
from recommender.demo_index import DEMO_LABEL_MAP, DEMO_SHOPPER_PHOTOS, demo_recipe
from recommender.index import Index
from recommender.label_map import read_label_map
from recommender.manifest import Holdout
from recommender.settings import Settings
from recommender.shopper_photos import shopper_photo_targets, write_shopper_photos
from tests.index_fakes import FakeExtractor, write_image

KINDS = ("Dress", "Pants", "Shoes", "T-shirt", "Hat", "Skirt", "Long-sleeve top", "Outerwear", "Shirt", "Shorts")


def _index(tmp_path: Path, name: str, weights: str, dim: int = 1280,
           appearance_version: int = APPEARANCE_VERSION) -> Index:
    """A raw index of 5 random pictures per demo kind (folder layout: the folder is the category)."""
    for k, kind in enumerate(KINDS):
        for i in range(5):
            write_image(tmp_path / "catalogue" / kind / f"{i}.png", 10 * k + i)
    build_index(load_catalog(tmp_path / "catalogue"), tmp_path / "index",
                FakeExtractor(name=name, weights=weights, dim=dim), progress=False,
                appearance_version=appearance_version)
    return Index.load(tmp_path / "index", ann=False)


def _shipped_model_index(tmp_path: Path) -> Index:
    shipped = str(Settings().demo_model)
    return _index(tmp_path, shipped, shipped)


def test_the_shipped_photos_load_for_the_shipped_model(tmp_path: Path) -> None:
    index = _shipped_model_index(tmp_path)
    targets = shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, read_label_map(DEMO_LABEL_MAP))
    assert targets is not None and targets.vectors.shape == (len(targets.allowed), 1280) > (3000, 1280)
    assert np.allclose(np.linalg.norm(targets.vectors, axis=1), 1.0, atol=1e-4)
    assert targets.colours is not None and targets.colours.shape == (len(targets.allowed), index.appearance.colours.shape[1])
    kinds = {value for allowed in targets.allowed for value in allowed}
    assert kinds == set(KINDS) and all(len(allowed) == 1 for allowed in targets.allowed)
    assert DEMO_SHOPPER_PHOTOS.stat().st_size < 5e6  # a few MB in the repository, no more
    held = shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, read_label_map(DEMO_LABEL_MAP), Holdout(0.25, 16))
    assert 0.7 * len(targets.allowed) < len(held.allowed) < 0.8 * len(targets.allowed)  # tune_demo.py's split
    assert "shoppers' photos " in demo_recipe() and "shoppers' photos none" not in demo_recipe()


def test_the_shipped_photos_teach_the_head_their_kinds(tmp_path: Path) -> None:
    """Trained on three quarters of the photos, the head names the other quarter's kind: the file holds real
    vectors and labels, and train_index learns from them (without them it knows only 50 random pictures)."""
    from recommender.trained_index import train_index
    from recommender.training import TrainSettings

    index = _shipped_model_index(tmp_path)
    label_map = read_label_map(DEMO_LABEL_MAP)
    held = Holdout(0.25, 16)
    with np.load(DEMO_SHOPPER_PHOTOS) as stored:
        scored = held.mask([str(i) for i in stored["ids"]])
    every = shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, label_map)
    settings = TrainSettings(epochs=4, seed=0)

    def held_accuracy(photo_rows) -> float:
        out = tmp_path / f"trained-{photo_rows is not None}"
        head = train_index(index, out, holdout=Holdout(0.0, 0), settings=settings, photo_rows=photo_rows,
                           log=io.StringIO()).head
        probabilities = head.classify(head.embed(every.vectors[scored], every.colours[scored]))["category"]
        named = [head.attributes["category"][i] for i in probabilities.argmax(axis=1)]
        return float(np.mean([n in a for n, a in zip(named, np.array(every.allowed, dtype=object)[scored])]))

    learnt = held_accuracy(shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, label_map, held))
    assert learnt > 0.4, learnt  # 10 kinds: a file of shuffled labels or vectors gives about 0.1
    assert held_accuracy(None) < learnt - 0.25


def test_another_backbone_or_no_file_trains_without_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    index = _index(tmp_path, "resnet50", "imagenet", dim=16)  # the demo with network: ResNet50's vectors
    label_map = read_label_map(DEMO_LABEL_MAP)
    capsys.readouterr()
    assert shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, label_map) is None
    said = capsys.readouterr().err.strip()
    assert len(said.splitlines()) == 1 and "not of resnet50" in said and "learns without them" in said
    assert shopper_photo_targets(tmp_path / "missing.npz", index, label_map) is None
    assert "cannot be read" in capsys.readouterr().err


def test_an_index_whose_model_file_is_gone_is_said_so_not_the_photos(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    """The photos are matched to the index's model by the model file's digest: a model file that cannot be read
    is named as what failed (the shipped photos themselves read fine)."""
    gone = str(tmp_path / "models" / "gone.tflite")
    index = _index(tmp_path, gone, gone, dim=16)
    capsys.readouterr()
    assert shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, read_label_map(DEMO_LABEL_MAP)) is None
    said = capsys.readouterr().err.strip()
    assert len(said.splitlines()) == 1 and said.startswith("The model file") and "gone.tflite" in said
    assert "learns without them" in said


def test_written_photos_read_back_close_to_their_vectors(tmp_path: Path) -> None:
    index = _shipped_model_index(tmp_path)
    raw = np.abs(np.asarray(index.vectors, np.float32))  # a backbone's pooled features are >= 0
    np.save(tmp_path / "index" / "vectors.npy", raw)
    out = tmp_path / "photos.npz"
    assert write_shopper_photos(Index.load(tmp_path / "index", ann=False), out) == 50
    lowercase = read_label_map(DEMO_LABEL_MAP)
    label_map = type(lowercase)("category", "category", {kind: frozenset({kind}) for kind in KINDS})
    targets = shopper_photo_targets(out, index, label_map)
    original = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    assert (np.sum(targets.vectors * original, axis=1) > 0.9999).all()
    assert [next(iter(a)) for a in targets.allowed] == [p.attributes["category"] for p in index.products]
    assert np.allclose(targets.colours, index.appearance.colours, atol=1e-3)


def test_photos_whose_colours_differ_from_the_index_s_are_skipped(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """The head takes a photo's colours beside its vector: the file's colours must be of the index's definition
    (an index of version 1 describes its products the older way), not merely of the latest."""
    shipped = str(Settings().demo_model)
    older = _index(tmp_path, shipped, shipped, appearance_version=1)
    capsys.readouterr()
    assert shopper_photo_targets(DEMO_SHOPPER_PHOTOS, older, read_label_map(DEMO_LABEL_MAP)) is None
    said = capsys.readouterr().err.strip()
    assert len(said.splitlines()) == 1 and "version 1" in said and "learns without them" in said


def test_the_demo_head_is_trained_on_the_shipped_photos(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """train_demo_head hands the shipped photos to the training (the demo's recipe), none when told not to."""
    from dataclasses import replace

    from recommender.demo_index import DEMO_TRAINING, demo_views, train_demo_head

    shipped = str(Settings().demo_model)
    index = _shipped_model_index(tmp_path)
    views = demo_views(load_catalog(tmp_path / "catalogue"), FakeExtractor(name=shipped, weights=shipped, dim=1280),
                       tmp_path / "views", per_product=1)
    settings = replace(DEMO_TRAINING, epochs=1)
    with np.load(DEMO_SHOPPER_PHOTOS) as stored:
        count = len(stored["ids"])
    capsys.readouterr()
    train_demo_head(index.path, views, tmp_path / "demo", settings)
    assert f" and {count:,} photos: " in capsys.readouterr().err
    train_demo_head(index.path, views, tmp_path / "without", settings, shopper_photos=None)
    assert " photos: " not in capsys.readouterr().err


def test_the_per_kind_balance_reaches_the_shipped_photo_rows(tmp_path: Path) -> None:
    """With a balance, a photo of a rarer kind weighs more than one of a common kind (n^-B, mean 1)."""
    index = _shipped_model_index(tmp_path)
    label_map = read_label_map(DEMO_LABEL_MAP)
    plain = shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, label_map)
    weighed = shopper_photo_targets(DEMO_SHOPPER_PHOTOS, index, label_map, balance=0.5)
    assert plain.weights is None and weighed.weights.shape == (len(weighed.allowed),)
    kinds = [next(iter(allowed)) for allowed in weighed.allowed]
    counts = {kind: kinds.count(kind) for kind in set(kinds)}
    rare, common = min(counts, key=counts.get), max(counts, key=counts.get)
    at = {kind: float(weighed.weights[kinds.index(kind)]) for kind in (rare, common)}
    assert at[rare] > at[common]
    assert np.isclose(at[rare] / at[common], (counts[common] / counts[rare]) ** 0.5, rtol=1e-3)


def test_a_changed_label_map_trains_the_demo_head_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The map says which kind each shoppers' photo folder is: another map teaches the head other labels, so the
    demo's recipe changes and `ensure_demo_index` trains it again (tests/test_engine.py checks that step)."""
    import recommender.demo_index as demo

    label_map = tmp_path / "label-map.csv"
    label_map.write_bytes(DEMO_LABEL_MAP.read_bytes())
    monkeypatch.setattr(demo, "DEMO_LABEL_MAP", label_map)
    shipped = demo_recipe()
    label_map.write_text(label_map.read_text().replace("t-shirt,T-shirt", "t-shirt,Shirt"))
    assert demo_recipe() != shipped
    label_map.write_bytes(DEMO_LABEL_MAP.read_bytes())
    assert demo_recipe() == shipped
