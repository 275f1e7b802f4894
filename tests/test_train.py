"""Training a head (Keras) and the train command end to end, on tiny synthetic data (no ../shared)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from recommender.cli import main
from recommender.model_spec import ModelSpec
from recommender.training import PhotoTargets, TrainSettings, encode, hubness, train_head
from recommender.vectors import unit_rows

SPEC = ModelSpec.parse("/models/backbone.tflite")
SMALL = TrainSettings(epochs=4, batch_size=64, hidden=32, dim=8, seed=0)
CLASSES = ("a", "b", "c", "d")


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def clusters(n: int = 400, dim: int = 16, seed: int = 0):
    """Four well-separated classes of backbone vectors with random colour histograms."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), dim)) * 3
    classes = rng.integers(0, len(CLASSES), size=n)
    vectors = unit_rows(centres[classes] + rng.normal(size=(n, dim)))
    colours = rng.dirichlet(np.ones(5), size=n).astype(np.float32)
    return centres, classes, vectors, colours


def test_encode_leaves_rare_values_and_missing_ones_unlabelled() -> None:
    labels = encode(["x"] * 5 + ["y"] * 4 + [None, ""], min_count=5)
    assert labels.vocabulary == ["x"]
    assert labels.codes.tolist() == [0] * 5 + [-1] * 6


def test_numpy_inference_equals_keras_and_learns() -> None:
    _, classes, vectors, colours = clusters()
    trained = train_head(vectors, colours, {"category": encode([CLASSES[c] for c in classes], 5)}, SPEC, "fp",
                         settings=SMALL)
    head = trained.head
    keras_out = trained.model.predict(np.concatenate([vectors, np.sqrt(colours)], axis=1), verbose=0)
    embeddings = head.embed(vectors, colours)
    np.testing.assert_allclose(embeddings, keras_out["embedding"], atol=1e-4)
    np.testing.assert_allclose(head.classify(embeddings)["category"], softmax(keras_out["category"]),
                               atol=1e-4)
    assert (head.classify(embeddings)["category"].argmax(axis=1) == classes).mean() > 0.95
    assert head.input_dim == 16 and head.colour_dim == 5 and head.dim == 8


def test_same_seed_same_head_other_seed_other_head() -> None:
    _, classes, vectors, _ = clusters(200)
    labels = {"category": encode([CLASSES[c] for c in classes], 5)}
    first = train_head(vectors, None, labels, SPEC, "fp", settings=SMALL).head
    again = train_head(vectors, None, labels, SPEC, "fp", settings=SMALL).head
    other = train_head(vectors, None, labels, SPEC, "fp",
                       settings=TrainSettings(**{**vars(SMALL), "seed": 1})).head
    assert first.id == again.id
    assert other.id != first.id


def test_set_loss_pushes_photos_to_their_allowed_classes() -> None:
    """Photos that look like class a but whose label map allows only b or c end up classified b or c."""
    centres, classes, vectors, colours = clusters()
    rng = np.random.default_rng(5)
    photo_direction = rng.normal(size=centres.shape[1]) * 3
    photos = unit_rows(centres[0] + photo_direction * 0.5 + rng.normal(size=(60, centres.shape[1])))
    photo_colours = rng.dirichlet(np.ones(5), size=60).astype(np.float32)
    labels = {"category": encode([CLASSES[c] for c in classes], 5)}
    targets = PhotoTargets(photos, photo_colours, "category", [frozenset({"b", "c"})] * 60)

    def mass_on_allowed(photo_targets: PhotoTargets | None) -> float:
        head = train_head(vectors, colours, labels, SPEC, "fp", photo_targets, SMALL).head
        p = head.classify(head.embed(photos, photo_colours))["category"]
        return float(p[:, [1, 2]].sum(axis=1).mean())

    assert mass_on_allowed(None) < 0.5  # they look like a
    assert mass_on_allowed(targets) > 0.9
    unweighed = PhotoTargets(photos, photo_colours, "category", targets.allowed, weights=np.zeros(60, np.float32))
    assert mass_on_allowed(unweighed) < 0.5  # a photo's own weight (a view of a photo: the view weight) counts



def test_a_photo_s_known_value_is_learnt_as_its_label_and_an_unknown_one_is_masked() -> None:
    """`PhotoTargets.known`: every photo taken to have one value of another attribute (the demo's shoppers'
    photos could be taken as adults'). Photos of a kind whose products are all "kids" learn "adults" when so
    told; a value the attribute does not have is no label (masked), as without `known`."""
    centres, classes, vectors, colours = clusters()
    rng = np.random.default_rng(5)
    photos = unit_rows(centres[2] + rng.normal(size=(60, centres.shape[1])))  # like class c: its products are kids'
    photo_colours = rng.dirichlet(np.ones(5), size=60).astype(np.float32)
    labels = {"category": encode([CLASSES[c] for c in classes], 5),
              "age": encode(["adults" if c < 2 else "kids" for c in classes], 5)}

    def adults_share(known: dict[str, str] | None, weight: float = 1.0) -> float:
        targets = PhotoTargets(photos, photo_colours, "category", [frozenset({"c"})] * 60, known=known,
                               known_weight=weight)
        head = train_head(vectors, colours, labels, SPEC, "fp", targets, SMALL).head
        return float(head.classify(head.embed(photos, photo_colours))["age"][:, 0].mean())

    masked = adults_share(None)
    assert masked < 0.4  # like the kids' products they resemble
    told = adults_share({"age": "adults"})
    assert told > masked + 0.5
    assert adults_share({"age": "elderly"}) == pytest.approx(masked, abs=1e-6)
    # `known_weight` weighs that value's loss: 0 is as if masked, a small weight moves the head part of the way
    assert adults_share({"age": "adults"}, 0.0) == pytest.approx(masked, abs=1e-6)
    partly = adults_share({"age": "adults"}, 0.2)  # measured 0.31 between 0.18 and 0.72
    assert masked + 0.05 < partly < told - 0.05


def test_hubness_is_mean_similarity_to_nearest_references() -> None:
    rows = unit_rows(np.array([[1, 0], [0, 1], [1, 1]], np.float32))
    reference = unit_rows(np.array([[1, 0], [1, 0.1], [0, 1]], np.float32))
    got = hubness(rows, reference, k=2)
    cos = rows @ reference.T
    np.testing.assert_allclose(got, np.sort(cos, axis=1)[:, ::-1][:, :2].mean(axis=1), atol=1e-6)
    own = hubness(rows, k=1)  # its nearest other row
    np.testing.assert_allclose(own, [cos_pair(rows, 0, 2), cos_pair(rows, 1, 2), cos_pair(rows, 2, 0)], atol=1e-6)


def cos_pair(rows: np.ndarray, i: int, j: int) -> float:
    return float(rows[i] @ rows[j])


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory, demo_catalog_dir: Path, tiny_tflite) -> Path:
    """The synthetic demo catalogue indexed by a tiny TFLite model (fast, meaningless but deterministic)."""
    from recommender.backbones import load_extractor
    from recommender.build import build_index
    from recommender.catalog import load_catalog

    out = tmp_path_factory.mktemp("tiny-index")
    spec = ModelSpec.parse(str(tiny_tflite["float"].path))
    build_index(load_catalog(demo_catalog_dir), out, load_extractor(spec), progress=False)
    return out


@pytest.fixture(scope="module")
def photos(tmp_path_factory, demo_catalog_dir: Path) -> tuple[Path, Path]:
    """A photo folder catalogue (category folders) and a label map tying its categories to articleType."""
    import csv

    root = tmp_path_factory.mktemp("photos")
    with open(demo_catalog_dir / "styles.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    folders = {"Tshirts": "top", "Shirts": "top", "Casual Shoes": "shoes"}
    for row in rows:
        if row["articleType"] in folders:
            folder = root / "photos" / folders[row["articleType"]]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(demo_catalog_dir / "images" / f"{row['id']}.jpg", folder / f"{row['id']}.jpg")
    label_map = root / "map.csv"
    label_map.write_text("category,articleType\ntop,Tshirts\ntop,Shirts\nshoes,Casual Shoes\n")
    return root / "photos", label_map


def test_train_command_writes_an_index_that_answers_photos(tmp_path, capsys, tiny_index, photos,
                                                          demo_catalog_dir, monkeypatch) -> None:
    from recommender import appearance as appearance_module
    from recommender import engine as engine_module
    from recommender.engine import Recommender
    from recommender.images import open_image
    from recommender.index import Index

    photo_dir, label_map = photos
    out = tmp_path / "trained"
    code = main(["train", "--index", str(tiny_index), "--out", str(out), "--photos", str(photo_dir),
                 "--label-map", str(label_map), "--epochs", "3", "--holdout", "0.2", "--seed", "1",
                 "--cache", str(tmp_path / "cache"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert "held-out classifier accuracy" in capsys.readouterr().out
    index, source = Index.load(out), Index.load(tiny_index)
    head = index.head
    assert index.model.head == head.id and index.model.without_head() == source.model
    assert index.manifest.normalized and index.manifest.holdout.fraction == 0.2 and index.manifest.holdout.seed == 1
    assert index.ids == source.ids and index.dim == head.dim
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    assert index.hubness.shape == (len(index),)
    np.testing.assert_array_equal(index.appearance.digests, source.appearance.digests)
    assert "articleType" in head.attributes and "gender" in head.attributes

    recommender = Recommender.open(out)
    picture = open_image(next((demo_catalog_dir / "images").glob("*.jpg")))
    hits = recommender.query_image(picture, k=5)
    assert len(hits) == 5
    described = []  # a trained index's query: its colours feed the head and the ranking, described once
    real_describe = appearance_module.describe
    counted = lambda *args, **kwargs: described.append(1) or real_describe(*args, **kwargs)  # noqa: E731
    monkeypatch.setattr(appearance_module, "describe", counted)
    monkeypatch.setattr(engine_module, "describe", counted)
    assert recommender.embed_image(picture).colours is not None and len(described) == 1
    tags = {tag.role: tag for tag in recommender.tags(recommender.product_query(index.ids[0]))}
    assert tags["category"].source == "head" and tags["category"].value in head.attributes["articleType"]


def test_train_refuses_a_trained_index_and_a_head_for_another_catalogue(tmp_path, capsys, tiny_index) -> None:
    from recommender.errors import IncompatibleIndex
    from recommender.head import Head, read_head
    from recommender.index_files import HEAD

    out = tmp_path / "trained"
    assert main(["train", "--index", str(tiny_index), "--out", str(out), "--epochs", "1", "--no-progress"]) == 0
    assert main(["train", "--index", str(out), "--out", str(tmp_path / "again"), "--no-progress"]) == 2
    assert "already a trained index" in capsys.readouterr().err

    head = read_head(out)
    foreign = Head(head.hidden_kernel, head.hidden_bias, head.embed_kernel, head.embed_bias, head.prototypes,
                   head.attributes, head.input_dim, head.colour_dim, head.backbone, "another-catalogue")
    (out / HEAD).write_bytes(foreign.to_bytes())
    manifest = (out / "manifest.json").read_text().replace(head.id, foreign.id)
    (out / "manifest.json").write_text(manifest)
    with pytest.raises(IncompatibleIndex, match="another catalogue or backbone"):
        read_head(out)


def test_train_refuses_an_unlabelled_catalogue_and_unknown_map_values(tmp_path, capsys, tiny_index, photos) -> None:
    import json

    unlabelled = tmp_path / "unlabelled"
    shutil.copytree(tiny_index, unlabelled)
    lines = (unlabelled / "products.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        record["attributes"] = {"productDisplayName": record["attributes"]["productDisplayName"]}
    (unlabelled / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["train", "--index", str(unlabelled), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "no labels to learn" in capsys.readouterr().err

    photo_dir, _ = photos
    bad_map = tmp_path / "bad.csv"
    bad_map.write_text("category,articleType\ntop,Kurtas\nshoes,Sandals\n")
    assert main(["train", "--index", str(tiny_index), "--out", str(tmp_path / "o"), "--photos", str(photo_dir),
                 "--label-map", str(bad_map), "--cache", str(tmp_path / "cache"), "--no-progress"]) == 2
    assert "No pair of the label map" in capsys.readouterr().err
    # a value that does not exist is named, value by value; the pairs that do exist still train
    bad_map.write_text("category,articleType\ntop,Tshirts\ntop,Kurtas\nshoes,Casual Shoes\n")
    assert main(["train", "--index", str(tiny_index), "--out", str(tmp_path / "o"), "--photos", str(photo_dir),
                 "--label-map", str(bad_map), "--cache", str(tmp_path / "cache"), "--no-progress", "--epochs", "1"]) == 0
    assert "warning: The label map" in (err := capsys.readouterr().err) and "not in the catalogue: Kurtas" in err



def test_train_learns_from_street_views_of_its_training_products_only(tmp_path, capsys, tiny_index,
                                                                       demo_catalog_dir) -> None:
    from recommender.catalog import load_catalog
    from recommender.embedding_cache import cached_index
    from recommender.evaluation.run import catalogue_queries, neighbours
    from recommender.index import Index
    from recommender.manifest import Holdout
    from recommender.ranking import Ranker

    views = tmp_path / "views"
    assert main(["views", "--catalog", str(demo_catalog_dir), "--out", str(views), "--workers", "1",
                 "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "trained"
    assert main(["train", "--index", str(tiny_index), "--out", str(out), "--views", str(views), "--epochs", "1",
                 "--holdout", "0.2", "--cache", str(tmp_path / "cache"), "--no-progress"]) == 0
    source = Index.load(tiny_index)
    trained_on = int((~Holdout(0.2, 0).mask(source.ids)).sum())
    assert f"{trained_on:,} street-like views of them" in capsys.readouterr().out  # none of a held-out product

    index = Index.load(out)
    pictures = cached_index(load_catalog(views), index.model, tmp_path / "cache", None)
    queries = catalogue_queries(index, pictures)
    assert [index.ids[row] for row in queries.own] == [p.attributes["source"] for p in pictures.products]
    found = neighbours(Ranker(index), queries, 5)
    assert not (found == queries.own[:, None]).any()  # a view never finds its own product

    unrelated = tmp_path / "unrelated"
    assert main(["train", "--index", str(tiny_index), "--out", str(unrelated), "--views", str(demo_catalog_dir),
                 "--cache", str(tmp_path / "cache"), "--no-progress"]) == 2
    assert "no 'source' column" in capsys.readouterr().err


def test_train_learns_from_views_of_its_training_photos_only(tmp_path, capsys, tiny_index, photos) -> None:
    """`views` of a folder of photos (ids `top/<file>`) and `train --photo-views`: each view is a photo row with
    its photo's allowed values, weighing the view weight; no view of a held-out photo is trained on."""
    from collections import Counter

    from recommender.catalog import load_catalog
    from recommender.embedding_cache import cached_index
    from recommender.index import Index
    from recommender.label_map import read_label_map
    from recommender.manifest import Holdout
    from recommender.trained_index import photo_targets

    photo_dir, label_map = photos
    views = tmp_path / "photo-views"
    assert main(["views", "--catalog", str(photo_dir), "--out", str(views), "--per-product", "2", "--workers", "1",
                 "--no-progress"]) == 0
    index, holdout, labels = Index.load(tiny_index), Holdout(0.2, 0), read_label_map(label_map)
    shots, shown = (cached_index(load_catalog(d), index.model, tmp_path / "cache", None) for d in (photo_dir, views))
    kept = np.flatnonzero(~holdout.mask(shots.ids))
    assert 0 < len(kept) < len(shots) and len(shown) == 2 * len(shots)
    targets = photo_targets(shots, index, labels, holdout, views=shown, view_weight=0.25)
    np.testing.assert_array_equal(targets.weights, [1.0] * len(kept) + [0.25] * 2 * len(kept))
    photo_sets = [labels.values_for(shots.products[i].attributes["category"]) for i in kept]
    assert list(targets.allowed[: len(kept)]) == photo_sets
    assert Counter(targets.allowed[len(kept):]) == Counter(photo_sets * 2)
    kinds = [shots.products[i].attributes["category"] for i in kept]
    counts = Counter(kinds)
    assert len(counts) == 2 and len(set(counts.values())) == 2
    balanced = photo_targets(shots, index, labels, holdout, views=shown, view_weight=0.25, balance=1.0).weights
    top, shoes = kinds.index("top"), kinds.index("shoes")  # a rarer kind's photo weighs more, by the counts' ratio
    assert balanced[top] / balanced[shoes] == pytest.approx(counts["shoes"] / counts["top"])

    capsys.readouterr()
    assert main(["train", "--index", str(tiny_index), "--out", str(tmp_path / "trained"), "--photos", str(photo_dir),
                 "--label-map", str(label_map), "--photo-views", str(views), "--epochs", "1", "--holdout", "0.2",
                 "--cache", str(tmp_path / "cache"), "--no-progress"]) == 0
    assert f"{len(kept):,} photos with {2 * len(kept):,} street-like views of them" in capsys.readouterr().out
    assert main(["train", "--index", str(tiny_index), "--out", str(tmp_path / "t2"), "--photo-views", str(views),
                 "--cache", str(tmp_path / "cache"), "--no-progress"]) == 2
    assert "go with the photos" in capsys.readouterr().err


def test_row_weights_scale_each_rows_label_loss() -> None:
    """Rows weighed 0 teach nothing: mislabelled copies of class a at weight 0 leave a classified as a."""
    _, classes, vectors, _ = clusters()
    a = np.flatnonzero(classes == 0)
    noisy = np.concatenate([vectors, np.repeat(vectors[a], 3, axis=0)])
    names = [CLASSES[c] for c in classes] + ["b"] * (3 * len(a))
    labels = {"category": encode(names, 5)}

    def share_of_a_called_a(weight: float) -> float:
        weights = np.concatenate([np.ones(len(vectors)), np.full(3 * len(a), weight)])
        head = train_head(noisy, None, labels, SPEC, "fp", settings=SMALL, row_weights=weights).head
        return float((head.classify(head.embed(vectors[a]))["category"].argmax(axis=1) == 0).mean())

    assert share_of_a_called_a(0.0) > 0.9
    assert share_of_a_called_a(1.0) < 0.5


def test_class_balance_weighs_a_rare_class_up_and_leaves_the_rest_alone() -> None:
    """A rare class overlapping a common one (the demo's 19 skirts beside 50 dresses) is named more often when its
    rows weigh more; balance 0 weighs every row 1, so heads trained without it are the heads of before."""
    rng = np.random.default_rng(0)
    rare, common = rng.normal(0.4, 1.0, (30, 16)), rng.normal(-0.4, 1.0, (300, 16))
    vectors = unit_rows(np.concatenate([rare, common]))
    names = ["rare"] * 30 + ["common"] * 300 + [None] * 5
    vectors = np.concatenate([vectors, unit_rows(rng.normal(size=(5, 16)))])
    assert np.array_equal(encode(names, 5).class_weights(), np.ones(len(names), np.float32))
    weights = encode(names, 5, balance=1.0).class_weights()
    assert weights[0] == pytest.approx(10 * weights[100]) and weights[-1] == 1.0  # 1 / count; unlabelled rows: 1
    assert weights[:330].mean() == pytest.approx(1.0)

    def rare_called_rare(balance: float) -> float:
        labels = {"category": encode(names, 5, balance=balance)}
        head = train_head(vectors, None, labels, SPEC, "fp", settings=TrainSettings(**{**vars(SMALL), "epochs": 10})).head
        rare_code = head.attributes["category"].index("rare")
        return float((head.classify(head.embed(vectors[:30]))["category"].argmax(axis=1) == rare_code).mean())

    assert rare_called_rare(1.0) > rare_called_rare(0.0) + 0.2


def test_train_command_passes_the_photo_weight_and_the_balances_to_training(tmp_path, monkeypatch, tiny_index, photos) -> None:
    import recommender.trained_index as trained_index

    seen: list[TrainSettings] = []

    def record(*args, settings: TrainSettings, **kwargs):
        seen.append(settings)
        raise SystemExit(0)

    monkeypatch.setattr(trained_index, "train_index", record)
    photo_dir, label_map = photos
    with pytest.raises(SystemExit):
        main(["train", "--index", str(tiny_index), "--out", str(tmp_path / "o"), "--photos", str(photo_dir),
              "--label-map", str(label_map), "--photo-weight", "8", "--photo-balance", "0.5", "--class-balance", "0.25",
              "--cache", str(tmp_path / "cache"), "--no-progress"])
    assert [(s.photo_weight, s.photo_balance, s.class_balance) for s in seen] == [(8.0, 0.5, 0.25)]


def _photo_rows(index, rows: list[int], allowed: list[frozenset[str]]) -> PhotoTargets:
    """Some of the index's own pictures as photo rows (`train_index(photo_rows=...)`: arrays, no photo index)."""
    return PhotoTargets(unit_rows(np.asarray(index.vectors)[rows]), index.appearance.colours[rows], "articleType",
                        allowed)


def test_train_index_logs_and_measures_hubness_against_given_photo_rows(tmp_path, tiny_index) -> None:
    """`photo_rows` (the demo's shipped shoppers' photos) are counted in the log as photos (those with a value
    to learn) and are the hubness reference, as photos given as an index are."""
    import io

    from recommender.index import Index
    from recommender.manifest import Holdout
    from recommender.trained_index import train_index

    index = Index.load(tiny_index)
    kinds = [index.products[i].attributes["articleType"] for i in range(6)]
    targets = _photo_rows(index, list(range(6)), [frozenset({k}) for k in kinds[:5]] + [frozenset()])
    log = io.StringIO()
    trained = train_index(index, tmp_path / "trained", holdout=Holdout(0.0, 0), settings=SMALL, photo_rows=targets,
                          log=log)
    assert " and 5 photos: " in log.getvalue() and "street-like views" not in log.getvalue()
    out = Index.load(tmp_path / "trained")
    head = trained.head
    np.testing.assert_allclose(out.hubness, hubness(head.embed(unit_rows(np.asarray(index.vectors)),
                                                               index.appearance.colours),
                                                    head.embed(targets.vectors, targets.colours)), atol=1e-5)


def test_no_photo_rows_left_measures_hubness_among_the_products(tmp_path, tiny_index) -> None:
    """Every photo held out (none left to train on): the hubness is the products' own, as without photos,
    not zero for every product (which would turn the Ranker's hub penalty off)."""
    import io

    from recommender.index import Index
    from recommender.manifest import Holdout
    from recommender.trained_index import train_index

    index = Index.load(tiny_index)
    none_left = _photo_rows(index, [], [])
    trained = train_index(index, tmp_path / "trained", holdout=Holdout(0.0, 0), settings=SMALL, photo_rows=none_left,
                          log=io.StringIO())
    embeddings = trained.head.embed(unit_rows(np.asarray(index.vectors)), index.appearance.colours)
    hubs = Index.load(tmp_path / "trained").hubness
    assert hubs.any()
    np.testing.assert_allclose(hubs, hubness(embeddings), atol=1e-5)


def test_photos_given_both_as_an_index_and_as_rows_are_refused(tmp_path, tiny_index, photos) -> None:
    """Two sets of labelled photos, one of which would be silently dropped: refused in one sentence, nothing written."""
    from recommender.errors import RecommenderError
    from recommender.index import Index
    from recommender.label_map import read_label_map
    from recommender.manifest import Holdout
    from recommender.trained_index import train_index

    index = Index.load(tiny_index)
    rows = _photo_rows(index, [0, 1], [frozenset({index.products[i].attributes["articleType"]}) for i in (0, 1)])
    with pytest.raises(RecommenderError, match=r"^Give the labelled photos once: .* not both\.$"):
        train_index(index, tmp_path / "trained", photos=index, label_map=read_label_map(photos[1]),
                    holdout=Holdout(0.0, 0), settings=SMALL, photo_rows=rows)
    assert not (tmp_path / "trained").exists()
