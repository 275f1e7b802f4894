"""Retrieval metrics against hand-computed values and a brute-force reference; the evaluate CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender.catalog import Product
from recommender.cli import main
from recommender.errors import IncompatibleIndex, RecommenderError
from recommender.evaluation.metrics import (
    average_precision_at_k,
    chance_precision,
    default_attributes,
    encode_labels,
    precision_at_k,
    relevance,
    score_attribute,
)
from recommender.evaluation.run import Queries, catalogue_queries, evaluate_index, neighbours, own_queries
from recommender.index import Index
from recommender.index_files import IndexFiles
from recommender.manifest import CatalogInfo, Manifest
from recommender.model_spec import ModelSpec
from recommender.ranking import Ranker


def array_index(vectors: np.ndarray, model: ModelSpec = ModelSpec("fake", "none"), labels=None) -> Index:
    """An in-memory index of these vectors (ids "0", "1", ...), as the evaluation sees a built one."""
    vectors = np.asarray(vectors, dtype=np.float32)
    products = [Product(str(i), Path(f"/x/{i}.jpg"), {"colour": labels[i]} if labels and labels[i] else {})
                for i in range(len(vectors))]
    manifest = Manifest(model=model, input_size=(8, 8), dim=vectors.shape[1], count=len(vectors),
                        catalog=CatalogInfo("/x", "csv", "f", len(vectors)))
    return Index(IndexFiles(Path("/x"), manifest, products, vectors))


def nearest_neighbours(queries, base, k, *, leave_one_out):
    """The evaluation's neighbours of `queries` in an index of `base`."""
    index = array_index(base)
    if leave_one_out:
        asked = own_queries(index)
    else:
        asked = Queries(np.asarray(queries, np.float32), None, [{}] * len(queries), [str(i) for i in range(len(queries))],
                        "/queries")
    return neighbours(Ranker(index), asked, k)

# Five points on a line, labelled a a b b a. Hand-computed leave-one-out (k = 3):
#   query 0 (x=0, a): neighbours 1 2 3 -> relevant 1 0 0;  R=2, AP@3 = (1/1) / 2        = 1/2
#   query 1 (x=1, a): neighbours 0 2 3 -> relevant 1 0 0;  R=2, AP@3 = (1/1) / 2        = 1/2
#   query 2 (x=3, b): neighbours 1 0 3 -> relevant 0 0 1;  R=1, AP@3 = (1/3) / 1        = 1/3
#   query 3 (x=7, b): neighbours 4 2 1 -> relevant 0 1 0;  R=1, AP@3 = (1/2) / 1        = 1/2
#   query 4 (x=8, a): neighbours 3 2 1 -> relevant 0 0 1;  R=2, AP@3 = (1/3) / 2        = 1/6
# P@1 = 2/5, P@3 = 1/3, mAP@3 = 2/5; chance = 3/5 * 2/4 + 2/5 * 1/4 = 2/5.
LINE = np.array([[0.0], [1.0], [3.0], [7.0], [8.0]])
LINE_LABELS = ["a", "a", "b", "b", "a"]


def test_neighbours_hand_computed() -> None:
    got = nearest_neighbours(LINE, LINE, 3, leave_one_out=True)
    assert got.tolist() == [[1, 2, 3], [0, 2, 3], [1, 0, 3], [4, 2, 1], [3, 2, 1]]


def test_metrics_hand_computed() -> None:
    found = nearest_neighbours(LINE, LINE, 3, leave_one_out=True)
    codes, base_codes, vocabulary = encode_labels(LINE_LABELS, LINE_LABELS)
    relevant = relevance(found, codes, base_codes)
    assert relevant.astype(int).tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]
    assert precision_at_k(relevant, 1).tolist() == [1, 1, 0, 0, 0]
    n_relevant = np.array([2, 2, 1, 1, 2])
    assert average_precision_at_k(relevant, 3, n_relevant) == pytest.approx([1 / 2, 1 / 2, 1 / 3, 1 / 2, 1 / 6])

    scores = score_attribute("colour", found, LINE_LABELS, LINE_LABELS, [1, 3], leave_one_out=True)
    assert scores.queries == 5 and scores.values == 2
    assert scores.precision == pytest.approx({1: 2 / 5, 3: 1 / 3})
    assert scores.map == pytest.approx({1: 2 / 5, 3: 2 / 5})
    assert scores.chance == pytest.approx(2 / 5)
    by_value = {v.value: v for v in scores.per_value}
    assert by_value["a"].count == 3 and by_value["a"].precision == pytest.approx({1: 2 / 3, 3: 1 / 3})
    assert by_value["b"].count == 2 and by_value["b"].precision == pytest.approx({1: 0, 3: 1 / 3})
    assert by_value["b"].map[3] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert scores.macro_precision[1] == pytest.approx((2 / 3 + 0) / 2)


def test_ap_is_one_only_for_a_perfect_ranking() -> None:
    relevant = np.array([[True, True, False], [True, False, True], [False, True, True]])
    assert average_precision_at_k(relevant, 3, np.array([2, 2, 2])) == pytest.approx([1, (1 + 2 / 3) / 2, (1 / 2 + 2 / 3) / 2])
    assert average_precision_at_k(relevant[:1], 3, np.array([0])).tolist() == [0.0]  # nothing to find


def test_missing_labels_are_neither_queries_nor_matches() -> None:
    labels = ["a", None, "b", "", "a"]
    found = nearest_neighbours(LINE, LINE, 2, leave_one_out=True)
    scores = score_attribute("colour", found, labels, labels, [1, 2], leave_one_out=True)
    assert scores.queries == 3
    # query 0 (a): neighbours 1 (none), 2 (b); query 2 (b): 1 (none), 0 (a); query 4 (a): 3 (none), 2 (b)
    assert scores.precision == pytest.approx({1: 0, 2: 0})
    # chance: two queries a with 1 other a, one query b with none, over the 4 other items
    assert scores.chance == pytest.approx((2 * 1 / 4 + 0) / 3)


def _brute_force(queries, base, labels_q, labels_b, k, leave_one_out):
    """The textbook definitions, one query at a time, with exact float64 distances."""
    precision, ap = [], []
    for i, (q, label) in enumerate(zip(queries, labels_q)):
        if label is None:
            continue
        distances = np.sqrt(((base - q) ** 2).sum(axis=1))
        order = [j for j in np.argsort(distances, kind="stable") if not (leave_one_out and j == i)][:k]
        hits = [labels_b[j] == label for j in order]
        total = sum(1 for j, other in enumerate(labels_b) if other == label and not (leave_one_out and j == i))
        precision.append(sum(hits) / k)
        found = [sum(hits[: r + 1]) / (r + 1) for r in range(k) if hits[r]]
        ap.append(sum(found) / min(k, total) if total else 0.0)
    return np.mean(precision), np.mean(ap)


@pytest.mark.parametrize("leave_one_out", [True, False])
def test_metrics_match_brute_force_on_random_data(leave_one_out: bool) -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(180, 12))
    queries = base if leave_one_out else rng.normal(size=(70, 12))
    values = ["red", "blue", "green", "black", None]
    labels_b = [values[i] for i in rng.choice(5, size=len(base), p=[0.4, 0.3, 0.15, 0.1, 0.05])]
    labels_q = labels_b if leave_one_out else [values[i] for i in rng.integers(0, 5, size=len(queries))]
    ks = [1, 4, 9]
    found = nearest_neighbours(queries, base, max(ks), leave_one_out=leave_one_out)
    scores = score_attribute("colour", found, labels_q, labels_b, ks, leave_one_out=leave_one_out)
    for k in ks:
        precision, mean_ap = _brute_force(queries, base, labels_q, labels_b, k, leave_one_out)
        assert scores.precision[k] == pytest.approx(precision)
        assert scores.map[k] == pytest.approx(mean_ap)
    # chance by simulation: a random other item carries the query's label this often
    codes_q, codes_b, _ = encode_labels(labels_q, labels_b)
    if leave_one_out:  # uniform over the other items: skip over the query's own position
        draws = rng.integers(0, len(base) - 1, size=(len(queries), 4000))
        draws += draws >= np.arange(len(queries))[:, None]
    else:
        draws = rng.integers(0, len(base), size=(len(queries), 4000))
    labelled = codes_q >= 0
    hit_rate = (codes_b[draws[labelled]] == codes_q[labelled, None]).mean()
    assert chance_precision(codes_q, codes_b, leave_one_out=leave_one_out) == pytest.approx(hit_rate, abs=0.01)


def test_neighbours_match_sorted_distances_float32() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(257, 20)).astype(np.float32)
    got = nearest_neighbours(base, base, 5, leave_one_out=True)
    distances = ((base[:, None, :].astype(np.float64) - base[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    # compare distances, not indices: float32 rounding may swap near-ties
    expected = np.sort(distances, axis=1)[:, :5]
    assert np.take_along_axis(distances, got, axis=1) == pytest.approx(expected, rel=1e-4)


def test_evaluate_rejects_k_too_large() -> None:
    with pytest.raises(RecommenderError, match="k=5 needs more than the 5 items"):
        evaluate_index(array_index(LINE, labels=LINE_LABELS), [5])


def test_queries_embedded_by_the_same_tflite_file_elsewhere_are_accepted() -> None:
    """The bug this fixes: evaluation compared model identities as plain strings, so an index whose
    TFLite model had moved to another folder was refused against queries embedded by the same file."""
    here, moved = ModelSpec.parse("/models/mobilenet.tflite"), ModelSpec.parse("/elsewhere/mobilenet.tflite")
    base = array_index(LINE, here, LINE_LABELS)
    run = evaluate_index(base, [1], ["colour"], queries=catalogue_queries(base, array_index(LINE[:3], moved,
                                                                                             LINE_LABELS[:3])))
    assert run.query_items == 3 and run.attributes[0].queries == 3
    with pytest.raises(IncompatibleIndex, match="embedded with other"):
        catalogue_queries(base, array_index(LINE[:3], ModelSpec.parse("/m/other.tflite"), LINE_LABELS[:3]))


def test_default_attributes_skip_free_text_ids_and_constants() -> None:
    records = [
        {"gender": "Men" if i % 2 else "Women", "colour": ["Red", "Blue", "Navy Blue"][i % 3], "year": str(2010 + i % 3),
         "productDisplayName": f"Shirt {i}", "masterCategory": "Apparel", "sku": f"s{i}"}
        for i in range(20)
    ]
    assert default_attributes(records) == ["gender", "colour"]


# ----------------------------------------------------------------------------------------- CLI


def _run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main(["evaluate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_on_demo_index(capsys, demo_catalog_dir: Path, demo_index_dir: Path) -> None:
    report = _run_json(capsys, "--catalog", str(demo_catalog_dir), "--index", str(demo_index_dir), "--k", "1", "5")
    assert report["mode"] == "leave-one-out" and report["k"] == [1, 5]
    assert report["feedback"] is None
    (run,) = report["runs"]
    assert run["random_weights"] is True and run["weights"] == "none"
    manifest = json.loads((demo_index_dir / "manifest.json").read_text())
    assert run["items"] == manifest["count"] and run["backbone"] == manifest["model"]["backbone"]
    names = [a["name"] for a in run["attributes"]]
    assert "productDisplayName" not in names and "year" not in names and names
    for attribute in run["attributes"]:
        assert set(attribute) >= {"name", "queries", "values", "chance", "precision", "map", "macro_precision", "per_value"}
        assert set(attribute["precision"]) == {"1", "5"} and set(attribute["map"]) == {"1", "5"}
        assert all(0 <= attribute["precision"][k] <= 1 for k in ("1", "5"))
        assert 0 < attribute["chance"] < 1
        assert sum(v["count"] for v in attribute["per_value"]) == attribute["queries"]


def test_cli_table_warns_about_random_weights(capsys, demo_catalog_dir: Path, demo_index_dir: Path) -> None:
    assert main(["evaluate", "--index", str(demo_index_dir), "--attributes", "gender", "--k", "1", "5"]) == 0
    out = capsys.readouterr().out
    assert "random weights" in out and "gender" in out and "chance" in out


def test_cli_html_and_feedback(tmp_path: Path, capsys, demo_index_dir: Path) -> None:
    from recommender.feedback import FeedbackStore, VoteEvent

    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    votes = [(1, 1, "resnet50"), (1, 1, "resnet50"), (2, -1, "resnet50"), (1, -1, "mobilenet_v2")]
    catalog = Index.load(demo_index_dir).manifest.catalog.identity
    for session, (rank, vote, backbone) in enumerate(votes):
        store.record_shown(f"s{session}", catalog, "q1", [(f"item{rank}", rank, 0.5)])
        store.record(VoteEvent(catalog, f"s{session}", "item", "q1", {}, f"item{rank}", rank, 0.5, backbone, vote))
    store.record_shown("s9", "/another/catalogue", "q1", [("item1", 1, 0.5)])  # not this index's: left out
    store.record(VoteEvent("/another/catalogue", "s9", "item", "q1", {}, "item1", 1, 0.5, "resnet50", 1))
    html = tmp_path / "charts" / "quality.html"
    report = _run_json(capsys, "--index", str(demo_index_dir), "--k", "1", "--html", str(html), "--feedback", str(db))
    assert "plotly" in html.read_text(encoding="utf-8").lower()
    feedback = report["feedback"]
    assert feedback["summary"]["votes"] == 4 and feedback["summary"]["up_rate"] == pytest.approx(0.5)
    assert {r["rank"]: r["up_rate"] for r in feedback["by_rank"]} == pytest.approx({1: 2 / 3, 2: 0.0})
    assert {r["backbone"]: r["up_rate"] for r in feedback["by_backbone"]} == pytest.approx({"resnet50": 2 / 3, "mobilenet_v2": 0.0})


def test_cli_missing_feedback_db_is_reported_not_created(tmp_path: Path, capsys, demo_index_dir: Path) -> None:
    db = tmp_path / "absent.sqlite3"
    report = _run_json(capsys, "--index", str(demo_index_dir), "--k", "1", "--feedback", str(db))
    assert report["feedback"] is None and not db.exists()


def test_cli_rejects_unknown_attribute_and_foreign_catalogue(tmp_path: Path, capsys, demo_index_dir: Path) -> None:
    assert main(["evaluate", "--index", str(demo_index_dir), "--attributes", "fabric"]) == 2
    assert "no attribute fabric" in capsys.readouterr().err
    from recommender.demo import write_demo_catalog

    other = write_demo_catalog(tmp_path / "other", n=12, seed=5)
    assert main(["evaluate", "--catalog", str(other), "--index", str(demo_index_dir)]) == 2
    assert "not built from" in capsys.readouterr().err


def test_cli_backbone_with_query_split_builds_once(tmp_path: Path, capsys, demo_catalog_dir: Path) -> None:
    from recommender.demo import write_demo_catalog

    queries = write_demo_catalog(tmp_path / "queries", n=12, seed=3)
    cache = tmp_path / "cache"
    argv = ["--catalog", str(demo_catalog_dir), "--backbone", "mobilenet_v2", "--weights", "none",
            "--queries", str(queries), "--cache", str(cache), "--k", "1", "5", "--attributes", "gender", "articleType"]
    report = _run_json(capsys, *argv)
    (run,) = report["runs"]
    assert report["mode"] == "queries" and run["queries"] == str(queries.resolve())
    assert run["query_items"] == 12 and [a["name"] for a in run["attributes"]] == ["gender", "articleType"]
    assert all(a["queries"] == 12 for a in run["attributes"])
    built = sorted(p.name for p in cache.iterdir())
    assert len(built) == 2  # the catalogue's index and the queries' index
    stamps = {p: (cache / p / "manifest.json").stat().st_mtime_ns for p in built}

    again = _run_json(capsys, *argv)
    assert again["runs"][0]["attributes"] == run["attributes"]
    assert {p: (cache / p / "manifest.json").stat().st_mtime_ns for p in built} == stamps  # reused, not rebuilt

    older = cache / built[0] / "manifest.json"  # its colour histograms made before their definition was recorded
    older.write_text(json.dumps({k: v for k, v in json.loads(older.read_text()).items() if k != "appearance_version"}))
    stamps[built[0]] = older.stat().st_mtime_ns
    _run_json(capsys, *argv)
    after = {p: (cache / p / "manifest.json").stat().st_mtime_ns for p in built}
    assert after[built[0]] != stamps[built[0]] and after[built[1]] == stamps[built[1]]  # only that one rebuilt
