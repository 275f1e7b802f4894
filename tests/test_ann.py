"""Approximate search with FAISS: stored beside the vectors, re-ranked exactly, filters kept, mismatches caught."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss")

from recommender import index as index_module  # noqa: E402
from recommender.ann import EXACT_BELOW, add_ann, resolve_kind  # noqa: E402
from recommender.cli import main  # noqa: E402
from recommender.errors import IndexFormatError, RecommenderError  # noqa: E402
from recommender.index import Index  # noqa: E402
from recommender.selection import Selection  # noqa: E402
from tests.test_index import write_index  # noqa: E402

SMALL = {"hnsw": {"M": 16, "ef_construction": 64, "ef_search": 64, "pca": 0},
         "hnsw-pca": {"M": 16, "ef_construction": 64, "ef_search": 64, "pca": 16},
         "ivfpq": {"pca": 16, "nlist": 16, "pq_m": 8, "pq_nbits": 4, "nprobe": 16, "refine": None, "k_factor": 8}}


def clustered(n: int = 3000, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Vectors in clusters, as image embeddings are (products of a kind look alike)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((60, dim)) * 4
    return (centres[rng.integers(0, 60, n)] + rng.standard_normal((n, dim))).astype(np.float32)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a[a >= 0]) & set(b[b >= 0])) / max(1, (b >= 0).sum()) for a, b in zip(found, truth)]))


@pytest.fixture(params=["hnsw", "hnsw-pca", "ivfpq"])
def ann_index(request, tmp_path: Path, monkeypatch) -> tuple[Index, np.ndarray, list[dict]]:
    monkeypatch.setattr(index_module, "EXACT_ROWS", 0)  # small test data: take the ANN path even with filters
    vectors = clustered()
    records = write_index(tmp_path / "idx", vectors)
    kind = request.param.removesuffix("-pca")
    info = add_ann(tmp_path / "idx", kind, SMALL[request.param], progress=False)
    assert info.kind == kind and info.count == len(vectors)
    return Index.load(tmp_path / "idx"), vectors, records


def test_the_ann_is_stored_beside_the_vectors_and_described_by_the_manifest(ann_index) -> None:
    index, _, _ = ann_index
    assert (index.path / "ann.faiss").is_file()
    entry = json.loads((index.path / "manifest.json").read_text())["ann"]
    assert entry["kind"] == index.ann.info.kind and entry["params"] in SMALL.values()
    assert entry["count"] == len(index) and entry["faiss_version"]
    assert Index.load(index.path, ann=False).ann is None


def test_ann_results_are_exact_distances_with_high_recall(ann_index) -> None:
    index, vectors, _ = ann_index
    queries = vectors[::97] + 0.05
    d_ann, p_ann = index.search(queries, 10)
    d_exact, p_exact = index.search(queries, 10, index.select(exact=True))
    assert recall(p_ann, p_exact) >= 0.9
    # every distance returned is the exact distance of that row, in order
    for q, d, p in zip(queries, d_ann, p_ann):
        assert np.allclose(d, np.linalg.norm(vectors[p].astype(np.float64) - q, axis=1))
        assert list(d) == sorted(d)


@pytest.mark.parametrize("filters", [{"gender": ["Men"]}, {"gender": ["Women"], "baseColour": ["Red", "Blue"]}])
def test_filters_hold_with_the_ann(ann_index, filters) -> None:
    index, vectors, records = ann_index
    queries = vectors[::151]
    _, p_ann = index.search(queries, 10, index.select(filters))
    _, p_exact = index.search(queries, 10, index.select(filters, exact=True))
    for row in p_ann:
        for p in row[row >= 0]:
            assert all(records[p]["attributes"].get(name) in values for name, values in filters.items())
    assert recall(p_ann, p_exact) >= 0.85
    assert (p_ann >= 0).all()  # ten results whenever ten products pass


def test_more_like_this_never_returns_the_query_product(ann_index) -> None:
    index, vectors, _ = ann_index
    hits = index.hits(vectors[5], 10, index.select(exclude={index.ids[5]}))
    assert len(hits) == 10 and index.ids[5] not in [h.id for h in hits]


def test_auto_is_exact_below_the_threshold_and_hnsw_above() -> None:
    assert resolve_kind("auto", EXACT_BELOW - 1) == "none"
    assert resolve_kind("auto", EXACT_BELOW) == "hnsw"
    assert resolve_kind("ivfpq", 10) == "ivfpq"
    with pytest.raises(RecommenderError, match="--ann must be one of"):
        resolve_kind("lsh", 10)


def test_an_ann_file_that_does_not_match_its_vectors_gets_a_rebuild_hint(tmp_path: Path) -> None:
    vectors = clustered(500)
    write_index(tmp_path / "idx", vectors)
    add_ann(tmp_path / "idx", "hnsw", SMALL["hnsw"], progress=False)
    np.save(tmp_path / "idx" / "vectors.npy", vectors[::-1].copy())  # rebuilt vectors, old ANN file
    with pytest.raises(IndexFormatError, match=r"does not match its vectors.*python -m recommender ann --index"):
        Index.load(tmp_path / "idx")
    assert Index.load(tmp_path / "idx", ann=False).search(vectors[:1], 1)[1][0, 0] == 499


@pytest.mark.parametrize("content", [b"", b"not a faiss index at all" * 10, "truncated"])
def test_an_unreadable_ann_file_is_one_sentence(tmp_path: Path, content) -> None:
    write_index(tmp_path / "idx", clustered(500))
    add_ann(tmp_path / "idx", "hnsw", SMALL["hnsw"], progress=False)
    path = tmp_path / "idx" / "ann.faiss"
    path.write_bytes(path.read_bytes()[:1000] if content == "truncated" else content)
    with pytest.raises(IndexFormatError) as raised:
        Index.load(tmp_path / "idx")
    message = str(raised.value)
    assert "cannot be read by FAISS" in message and "python -m recommender ann --index" in message
    assert "\n" not in message


def test_the_ann_command_adds_and_replaces_the_ann(tmp_path: Path, capsys) -> None:
    write_index(tmp_path / "idx", clustered(800))
    assert main(["ann", "--index", str(tmp_path / "idx"), "--ann", "hnsw", "--no-progress"]) == 0
    assert "hnsw" in capsys.readouterr().out
    assert Index.load(tmp_path / "idx").ann.info.kind == "hnsw"
    assert main(["ann", "--index", str(tmp_path / "idx"), "--ann", "none", "--no-progress"]) == 0
    assert Index.load(tmp_path / "idx").ann is None and not (tmp_path / "idx" / "ann.faiss").exists()


def test_build_takes_ann(tmp_path: Path, monkeypatch) -> None:
    from tests.index_fakes import FakeExtractor, make_catalog

    catalog = make_catalog(tmp_path / "cat", n=30)
    monkeypatch.setattr("recommender.backbones.load_extractor", lambda spec: FakeExtractor())
    monkeypatch.setattr("recommender.catalog.load_catalog", lambda path, **options: catalog)
    out = tmp_path / "out"
    assert main(["build", "--catalog", str(tmp_path / "cat"), "--out", str(out), "--ann", "hnsw",
                 "--no-progress"]) == 0
    index = Index.load(out)
    assert index.ann is not None and index.ann.info.count == 30
    assert main(["build", "--catalog", str(tmp_path / "cat"), "--out", str(out), "--no-progress"]) == 0
    assert Index.load(out).ann is None  # auto: 30 products are searched exactly


def test_a_rare_filter_still_fills_the_results(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(index_module, "EXACT_ROWS", 0)
    vectors = clustered(2000)
    records = write_index(tmp_path / "idx", vectors)
    add_ann(tmp_path / "idx", "ivfpq", SMALL["ivfpq"], progress=False)
    index = Index.load(tmp_path / "idx")
    rare = [i for i, r in enumerate(records) if r["attributes"].get("articleType") == "Dresses"
            and r["attributes"]["gender"] == "Men" and r["attributes"]["baseColour"] == "Red"]
    filters = {"articleType": ["Dresses"], "gender": ["Men"], "baseColour": ["Red"]}
    _, found = index.search(vectors[:3], 10, index.select(filters))
    kept = found[found >= 0]
    assert set(kept) <= set(rare) and len(kept) == 3 * min(10, len(rare))


def test_ivfpq_with_pca_and_refine_codes_searches_after_a_round_trip(tmp_path) -> None:
    """The 10M configuration: PCA, IVF-PQ and refine codes kept in the PCA space (not at the full dimension)."""
    import faiss

    from recommender.ann import AnnSearcher, new_ann
    from recommender.manifest import AnnInfo

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20_000, 128)).astype(np.float32)
    params = {"pca": 64, "nlist": 64, "pq_m": 16, "pq_nbits": 8, "nprobe": 16, "refine": "SQ8", "k_factor": 16}
    built = new_ann("ivfpq", 128, params)
    built.train(vectors)
    built.add(vectors)
    faiss.write_index(built, str(tmp_path / "ann.faiss"))
    assert (tmp_path / "ann.faiss").stat().st_size < 20_000 * 128  # refine codes: 64 bytes, not 128
    searcher = AnnSearcher(faiss.read_index(str(tmp_path / "ann.faiss")),
                           AnnInfo("ivfpq", params, faiss.__version__, 20_000, 128, ""))
    found = searcher.candidates(vectors[:50] + 0.01, 10, None)
    assert (found[:, 0] == np.arange(50)).mean() > 0.9
    even = searcher.candidates(vectors[:50] + 0.01, 10, Selection(20_000, np.arange(0, 20_000, 2)))
    assert ((even % 2 == 0) | (even == -1)).all()


@pytest.mark.parametrize(("kind", "share"), [("hnsw", 0.25), ("hnsw-pca", 0.25), ("ivfpq", 0.25), ("ivfpq", 0.05),
                                           ("hnsw", 0.05)])
def test_faiss_scans_only_the_selection_and_finds_the_exact_filtered_top_ten(tmp_path: Path, monkeypatch,
                                                                             kind, share) -> None:
    """FAISS's plain top 10 filtered afterwards keeps few of the true filtered top 10; the ID selector inside
    the IVF or HNSW scan returns allowed rows only, and the filtered top 10 (a rare filter on an HNSW index:
    scored exactly over its rows, since the filtered graph walk stops early)."""
    monkeypatch.setattr(index_module, "EXACT_ROWS", 0)
    vectors = clustered(20_000, seed=3)
    write_index(tmp_path / "idx", vectors)
    params = {**SMALL[kind], "pca": 0, "nlist": 64, "nprobe": 8, "pq_nbits": 8} if kind == "ivfpq" else SMALL[kind]
    add_ann(tmp_path / "idx", kind.removesuffix("-pca"), params, progress=False)
    index = Index.load(tmp_path / "idx")
    rows = np.sort(np.random.default_rng(4).choice(len(vectors), int(share * len(vectors)), replace=False))
    selection = Selection(len(index), rows)
    queries = vectors[rows[:: len(rows) // 20]] + 0.05
    _, truth = index.search(queries, 10, Selection(len(index), rows, exact=True))
    plain = index.ann.candidates(queries, 10)[:, :10]
    post_filtered = np.where(np.isin(plain, rows), plain, -1)
    assert recall(post_filtered, truth) < 0.5  # what filtering FAISS's answer afterwards finds
    _, found = index.search(queries, 10, selection)
    assert np.isin(found, rows).all()
    assert recall(found, truth) >= 0.95
    assert index.ann.scans(selection) == (kind == "ivfpq" or share >= 0.2)
