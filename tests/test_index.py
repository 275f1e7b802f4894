"""Index loading checks and exact kNN search against a brute-force reference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from recommender.errors import IncompatibleIndex, IndexFormatError, RecommenderError
from recommender.index import Index
from recommender.model_spec import ModelSpec
from tests.index_fakes import FakeExtractor

ATTRIBUTES = {"gender": ("Men", "Women", "Unisex"), "baseColour": ("Blue", "Red", "Black", "White", "Green"),
              "articleType": ("Tshirts", "Shirts", "Dresses", "Shoes")}


def write_index(folder: Path, vectors: np.ndarray, seed: int = 0) -> list[dict]:
    """An index folder in the documented format, with random attributes (some products lack one)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    records = []
    for i in range(len(vectors)):
        attributes = {name: str(rng.choice(values)) for name, values in ATTRIBUTES.items()}
        if i % 7 == 3:
            del attributes["articleType"]
        records.append({"id": f"id{i}", "image": f"/images/{i}.jpg", "attributes": attributes})
    np.save(folder / "vectors.npy", vectors.astype(np.float32))
    (folder / "ids.json").write_text(json.dumps([r["id"] for r in records]))
    (folder / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    manifest = {"format_version": 1, "backbone": "fake", "weights": "none", "input_size": [12, 10],
                "dim": vectors.shape[1], "count": len(vectors), "dtype": "float32",
                "catalog": {"path": "/cat", "layout": "csv", "fingerprint": "x", "products": len(vectors)},
                "skipped": [], "skipped_counts": {}, "created": "2024-01-01T00:00:00+00:00", "build_seconds": 1.0}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return records


@pytest.fixture
def data(tmp_path: Path) -> tuple[Index, np.ndarray, list[dict]]:
    vectors = np.random.default_rng(1).standard_normal((400, 24)).astype(np.float32) * 3
    records = write_index(tmp_path / "idx", vectors)
    return Index.load(tmp_path / "idx"), vectors, records


def brute_force(vectors: np.ndarray, records: list[dict], query: np.ndarray, k: int,
                filters: dict[str, list[str]] | None = None, exclude: tuple[str, ...] = ()) -> tuple[list[str], np.ndarray]:
    distances = np.linalg.norm(vectors.astype(np.float64) - query.astype(np.float64), axis=1)
    allowed = [i for i, r in enumerate(records)
               if r["id"] not in exclude
               and all(r["attributes"].get(name) in values for name, values in (filters or {}).items())]
    order = sorted(allowed, key=lambda i: (distances[i], i))[:k]
    return [records[i]["id"] for i in order], distances[order]


FILTERS = [
    None,
    {"gender": ["Women"]},
    {"gender": ["Women", "Unisex"], "baseColour": ["Blue", "Red", "Black"]},
    {"baseColour": ["Green"], "articleType": ["Shoes", "Dresses"], "gender": ["Men"]},
    {"articleType": ["Shirts"]},
    {"gender": ["Men", "Men"], "articleType": ["Shirts", "Shirts", "Shoes"]},  # repeats change nothing
]


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("k", [1, 10, 37])
def test_search_equals_brute_force(data, filters, k) -> None:
    index, vectors, records = data
    for query in np.random.default_rng(2).standard_normal((5, 24)).astype(np.float32) * 3:
        hits = index.hits(query, k, index.select(filters))
        ids, distances = brute_force(vectors, records, query, k, filters)
        assert [h.id for h in hits] == ids
        assert [h.rank for h in hits] == list(range(1, len(ids) + 1))
        np.testing.assert_allclose([h.distance for h in hits], distances, rtol=1e-4)
        for hit in hits:
            assert hit.product.id == hit.id
            for name, values in (filters or {}).items():
                assert hit.product.attributes[name] in values


def test_exclude_fewer_than_k_and_k_beyond_the_index(data) -> None:
    index, vectors, records = data
    query = vectors[17]
    hits = index.hits(query, k=5)
    assert hits[0].id == "id17" and hits[0].distance == pytest.approx(0.0, abs=1e-6) and hits[0].distance >= 0
    excluded = index.hits(query, 5, index.select(exclude=["id17", "not-an-id"]))
    assert "id17" not in [h.id for h in excluded]
    assert [h.id for h in excluded] == brute_force(vectors, records, query, 5, exclude=("id17",))[0]
    same_gender = {"gender": [records[17]["attributes"]["gender"]]}
    assert [h.id for h in index.hits(query, 5, index.select(same_gender, ["id17"]))] == \
        brute_force(vectors, records, query, 5, same_gender, exclude=("id17",))[0]
    combos = [{name: [r["attributes"][name]] for name in ATTRIBUTES} for r in records if len(r["attributes"]) == 3]
    few = next(c for c in combos if 0 < len(brute_force(vectors, records, query, 1000, c)[0]) < 10)
    expected = brute_force(vectors, records, query, 1000, few)[0]
    assert [h.id for h in index.hits(query, 10, index.select(few))] == expected
    everything = index.hits(query, k=10_000)
    assert len(everything) == 400 and len({h.id for h in everything}) == 400
    assert [h.distance for h in everything] == sorted(h.distance for h in everything)


def test_filters_unknown_values_and_attributes(data) -> None:
    index, vectors, _ = data
    assert index.hits(vectors[0], 10, index.select({"gender": ["Martian"]})) == []
    assert [h.id for h in index.hits(vectors[0], 10, index.select({"gender": ["Martian", "Women"]}))] == \
        [h.id for h in index.hits(vectors[0], 10, index.select({"gender": ["Women"]}))]
    assert [h.id for h in index.hits(vectors[0], 10, index.select({"gender": "Women"}))] == \
        [h.id for h in index.hits(vectors[0], 10, index.select({"gender": ["Women"]}))]
    assert [h.id for h in index.hits(vectors[0], 10, index.select({"gender": [], "baseColour": ["Red"]}))] == \
        [h.id for h in index.hits(vectors[0], 10, index.select({"baseColour": ["Red"]}))]
    with pytest.raises(RecommenderError, match="Unknown attribute 'colour'.*gender, baseColour, articleType"):
        index.hits(vectors[0], 10, index.select({"colour": ["Blue"]}))
    with pytest.raises(IncompatibleIndex, match="3 dimensions"):
        index.hits(np.zeros(3, np.float32))


def test_ties_are_ordered_by_position(tmp_path: Path) -> None:
    vectors = np.array([[1, 0], [0, 1], [1, 0], [0, 0], [1, 0]], dtype=np.float32)
    write_index(tmp_path / "idx", vectors)
    index = Index.load(tmp_path / "idx")
    assert [h.id for h in index.hits(np.array([1, 0]), k=2)] == ["id0", "id2"]
    assert [h.id for h in index.hits(np.array([1, 0]), k=5)] == ["id0", "id2", "id4", "id3", "id1"]


def test_lookup_helpers(data) -> None:
    index, vectors, records = data
    assert isinstance(index.vectors, np.memmap)
    assert len(index) == 400 and index.dim == 24
    assert index.attributes() == ["gender", "baseColour", "articleType"]
    counts = index.attribute_values("articleType")
    assert sum(counts.values()) == sum("articleType" in r["attributes"] for r in records)
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    assert index.product("id5").attributes == records[5]["attributes"]
    assert index.product("id5").image == Path("/images/5.jpg")
    np.testing.assert_array_equal(index.vector("id5"), vectors[5])
    with pytest.raises(KeyError):
        index.product("nope")
    assert not isinstance(Index.load(index.path, mmap=False).vectors, np.memmap)


def test_check_compatible(data) -> None:
    index = data[0]
    index.check_compatible(ModelSpec("fake", "none"), 24)
    for other in (FakeExtractor(name="resnet50", dim=24), FakeExtractor(weights="imagenet", dim=24), FakeExtractor(dim=8)):
        with pytest.raises(IncompatibleIndex, match=r"built with fake \(random\).*the query uses"):
            index.check_compatible(other.spec, other.dim)


def test_batched_search_equals_one_query_at_a_time_and_pads(data) -> None:
    index, vectors, records = data
    queries = np.random.default_rng(5).standard_normal((7, 24)).astype(np.float32) * 3
    filters = {"gender": ["Women"], "baseColour": ["Blue"], "articleType": ["Shoes"]}
    distances, positions = index.search(queries, 12, index.select(filters))
    assert distances.shape == positions.shape == (7, 12)
    for query, row_d, row_p in zip(queries, distances, positions):
        ids, expected = brute_force(vectors, records, query, 12, filters)
        found = [index.ids[p] for p in row_p if p >= 0]
        assert found == ids
        np.testing.assert_allclose(row_d[: len(ids)], expected, rtol=1e-6)
        assert (row_p[len(ids):] == -1).all() and np.isinf(row_d[len(ids):]).all()
    assert len(ids) < 12  # the filters leave fewer rows than k: the padding was exercised


def corrupt(folder: Path, how: str) -> None:
    if how == "short vectors":
        np.save(folder / "vectors.npy", np.load(folder / "vectors.npy")[:-20])
    elif how == "float64 vectors":
        np.save(folder / "vectors.npy", np.load(folder / "vectors.npy").astype(np.float64))
    elif how == "truncated vectors":
        data = (folder / "vectors.npy").read_bytes()
        (folder / "vectors.npy").write_bytes(data[: len(data) // 2])
    elif how == "missing ids":
        (folder / "ids.json").unlink()
    elif how == "fewer ids":
        (folder / "ids.json").write_text(json.dumps(json.loads((folder / "ids.json").read_text())[:-1]))
    elif how == "fewer products":
        lines = (folder / "products.jsonl").read_text().splitlines(keepends=True)
        (folder / "products.jsonl").write_text("".join(lines[:-1]))
    elif how == "ids not a list":
        (folder / "ids.json").write_text("400")
    elif how == "attributes not an object":
        lines = (folder / "products.jsonl").read_text().splitlines(keepends=True)
        (folder / "products.jsonl").write_text("".join(lines[:-1]) + json.dumps({"id": "x", "image": "x.jpg",
                                                                                 "attributes": []}) + "\n")
    elif how == "bad manifest":
        (folder / "manifest.json").write_text("{not json")


@pytest.mark.parametrize("how, message", [
    ("short vectors", r"manifest says 400 vectors of 24 dimensions but vectors.npy has shape \(380, 24\)"),
    ("float64 vectors", "float64, not float32"),
    ("truncated vectors", "vectors.npy cannot be read"),
    ("missing ids", "ids.json or products.jsonl cannot be read"),
    ("fewer ids", "manifest says 400 vectors but ids.json has 399 ids"),
    ("fewer products", "manifest says 400 vectors but products.jsonl has 399 products"),
    ("ids not a list", "ids.json does not hold a list of ids"),
    ("attributes not an object", "ids.json or products.jsonl cannot be read"),
    ("bad manifest", "manifest of index .* is unreadable"),
])
def test_load_rejects_inconsistent_folders(data, how, message) -> None:
    folder = data[0].path
    corrupt(folder, how)
    with pytest.raises(IndexFormatError, match=message) as info:
        Index.load(folder)
    assert "rebuild it with python -m recommender build" in str(info.value)


def test_load_explains_missing_and_unfinished_folders(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match="There is no index at"):
        Index.load(tmp_path / "absent")
    (tmp_path / "plain").mkdir()
    with pytest.raises(IndexFormatError, match="is not an index"):
        Index.load(tmp_path / "plain")
    (tmp_path / "plain" / ".build").mkdir()
    with pytest.raises(IndexFormatError, match="has not finished; rerun the build command"):
        Index.load(tmp_path / "plain")
    shutil.rmtree(tmp_path / "plain")


def test_a_tflite_model_is_recognised_by_its_file_name() -> None:
    built = ModelSpec.parse("/models/v1.tflite")
    assert built.compatible(ModelSpec.parse("v1.tflite", "/elsewhere/v1.tflite"))
    assert not built.compatible(ModelSpec.parse("/models/v2.tflite"))
    assert not built.compatible(ModelSpec(built.backbone, built.weights, head="h1"))


def test_nan_or_infinite_vectors_are_refused_with_a_sentence(tmp_path: Path) -> None:
    vectors = np.ones((6, 4), np.float32)
    vectors[2, 1], vectors[4, 0] = np.nan, np.inf
    write_index(tmp_path / "idx", vectors)
    with pytest.raises(IndexFormatError, match="2 of its 6 vectors hold NaN or infinite values.*'id2'.*rebuild"):
        Index.load(tmp_path / "idx")


@pytest.mark.parametrize("manifest, problem", [
    ({"backbone": None}, "backbone and weights must be non-empty texts"),
    ({"dim": "24"}, "dim is '24'"),
    ({"count": -1}, "count is -1"),
    ({"format_version": 9}, "format version 9"),
    ({"catalog": []}, "catalog is not an object"),
])
def test_a_manifest_of_the_wrong_shape_is_one_sentence(data, manifest, problem) -> None:
    folder = data[0].path
    on_disk = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**on_disk, **manifest}))
    with pytest.raises(IndexFormatError, match=f"manifest of index .* is unreadable \\(.*{problem}"):
        Index.load(folder)


def test_an_empty_vectors_file_is_one_sentence(data) -> None:
    folder = data[0].path
    (folder / "vectors.npy").write_bytes(b"")
    with pytest.raises(IndexFormatError, match="vectors.npy cannot be read"):
        Index.load(folder)


def test_matching_lists_the_products_passing_the_filters(data) -> None:
    index, _, records = data
    assert index.matching().tolist() == list(range(len(records)))
    filters = {"gender": ["Women", "Unisex"], "articleType": ["Shirts"]}
    expected = [i for i, r in enumerate(records)
                if all(r["attributes"].get(name) in values for name, values in filters.items())]
    assert index.matching(filters).tolist() == expected


def test_value_codes_place_each_rows_value_in_a_given_list(tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    records = write_index(folder, np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32))
    index = Index.load(folder)
    values = ["Shoes", "Tshirts", "Nope"]
    expected = [values.index(r["attributes"]["articleType"]) if r["attributes"].get("articleType") in values else -1
                for r in records]
    assert index.value_codes("articleType", values).tolist() == expected
    with pytest.raises(RecommenderError, match="Unknown attribute"):
        index.value_codes("nope", values)
