"""Approximate nearest neighbours with FAISS, for catalogues too large for exact search.

Exact search reads every vector for every query: 223 ms at 1M x 2048. Past `EXACT_BELOW` products an
index gets a FAISS index beside its vectors (`recommender.index_files` stores it):

  hnsw    a graph (IndexHNSWFlat) over the vectors reduced by PCA (256 dimensions of 1280): the best
          recall for the time at a fifth of the memory and build time of a graph over the full
          vectors, since the exact re-ranking below repairs what the reduction blurs; the default.
  ivfpq   PCA, then an inverted file of product-quantised codes (IndexIVFPQ): tens of bytes a vector,
          for catalogues whose vectors do not fit in memory; optionally re-ranked inside FAISS from
          8-bit codes of the PCA vectors (`refine`), for a store without the full vectors.

FAISS only proposes candidates: `Index.search` re-ranks them by their exact distance from the stored
vectors, so what a shopper sees is exact among the candidates. Filters arrive as one `Selection`:
below `EXACT_ROWS` allowed rows the search stays exact over those rows (cheap and perfect); above,
FAISS scans only the allowed rows (an `IDSelectorBitmap` in `SearchParametersIVF` or
`SearchParametersHNSW`), looking wider for a selective filter. Over-fetching and dropping refused
candidates afterwards (the earlier way) found 0.79 of the true top 10 at 10M with p95 551 ms. `build_ann` / `add_ann` are what
`build` (and `train`) call; `python -m recommender ann` adds or rebuilds one on an existing index.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.errors import RecommenderError
from recommender.index_files import read_index, vectors_digest, write_ann
from recommender.manifest import AnnInfo
from recommender.selection import Selection

__all__ = ["KINDS", "EXACT_BELOW", "EXACT_ROWS", "resolve_kind", "default_params", "build_ann", "add_ann",
           "AnnSearcher"]

KINDS = ("auto", "hnsw", "ivfpq", "none")
EXACT_BELOW = 100_000  # "auto" stays exact below this many products (exact is then fast enough and perfect)
EXACT_ROWS = 20_000  # a filter leaving at most this many rows is searched exactly over them
ADD_BLOCK = 65_536  # rows added to FAISS at a time: bounded memory over a memory-mapped file
TRAIN_ROWS = 262_144  # rows sampled to train PCA / IVF / PQ
OVERFETCH = 4  # candidates asked per result before exact re-ranking
MAX_CANDIDATES = 4096
# Under a filter FAISS looks wider: HNSW's efSearch by HNSW_FILTER_EF / share (at most MAX_EF), IVF's nprobe by
# 2 / share (at most IVF_MAX_WIDENING times). Measured at 10M (IVF4096, PQ32 + SQ8 refine, nprobe 64), recall@10 of
# a 5 % filter: 0.82 at 4x, 0.95 at 12x, 0.957 at 14x (p95 22 ms), 0.958 at 16x (p95 60 ms); HNSW at 1M, 50 %
# filter: 0.937 at HNSW_FILTER_EF 4, 0.958 at 8. FAISS's filtered graph walk stops early when few rows are
# allowed (measured on 200k synthetic vectors at a 5 % filter: recall@10 0.61 to 0.87 for efSearch 384 to 3072),
# so a selection under HNSW_MIN_SHARE of an HNSW index is scored exactly over its rows instead.
HNSW_FILTER_EF = 8
MAX_EF = 2048
IVF_MAX_WIDENING = 14
HNSW_MIN_SHARE = 0.2


def resolve_kind(requested: str, count: int) -> str:
    """The ANN kind to build: "auto" means exact ("none") below EXACT_BELOW products, HNSW above."""
    if requested not in KINDS:
        raise RecommenderError(f"--ann must be one of {', '.join(KINDS)}, not {requested!r}.")
    if requested == "auto":
        return "hnsw" if count >= EXACT_BELOW else "none"
    return requested


def default_params(kind: str, count: int, dim: int) -> dict[str, Any]:
    """Parameters chosen by the benchmark (bench.ann) for recall@10 >= 0.95 at 1M."""
    if kind == "hnsw":
        # PCA needs far more vectors than dimensions to learn; small indexes are searched exactly anyway
        return {"M": 32, "ef_construction": 80, "ef_search": 96, "pca": 256 if dim > 512 and count >= 10_000 else 0}
    if kind == "ivfpq":
        pca = min(dim, 512)
        pq_m = max(m for m in (64, 48, 32, 16, 8, 4, 2, 1) if pca % m == 0)
        nlist = int(2 ** round(math.log2(max(64, 4 * math.sqrt(max(count, 1))))))
        return {"pca": pca, "nlist": min(nlist, max(1, count // 39)), "pq_m": pq_m, "pq_nbits": 8, "nprobe": 48,
                "refine": None, "k_factor": 8}
    raise ValueError(f"no ANN parameters for kind {kind!r}")


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise RecommenderError("Approximate search needs the faiss-cpu package; install it with "
                               "pip install -r requirements.txt, or build with --ann none.") from None
    return faiss


def _blocks(vectors: np.ndarray, block: int = ADD_BLOCK) -> Iterator[np.ndarray]:
    for start in range(0, len(vectors), block):
        yield np.ascontiguousarray(vectors[start : start + block], dtype=np.float32)


def _training_sample(vectors: np.ndarray, rows: int = TRAIN_ROWS) -> np.ndarray:
    if len(vectors) <= rows:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    picked = np.sort(np.random.default_rng(0).choice(len(vectors), size=rows, replace=False))
    return np.ascontiguousarray(vectors[picked], dtype=np.float32)


def new_ann(kind: str, dim: int, params: dict[str, Any]) -> Any:
    """An empty (untrained) FAISS index of this kind and these parameters."""
    faiss = _faiss()
    if kind == "hnsw":
        pca = int(params.get("pca") or 0)
        if 0 < pca < dim:
            index = faiss.index_factory(dim, f"PCA{pca},HNSW{int(params['M'])}")
            graph = faiss.downcast_index(index.index)
        else:
            index = graph = faiss.IndexHNSWFlat(dim, int(params["M"]))
        graph.hnsw.efConstruction = int(params["ef_construction"])
        graph.hnsw.efSearch = int(params["ef_search"])
        return index
    if kind == "ivfpq":
        # PCA (when asked) first, then IVF-PQ with its refine codes in the PCA space: index_factory's
        # "PCA,IVF,PQ,Refine" would keep the refine codes at the full dimension (10M x 1280 bytes)
        pca = int(params.get("pca") or 0)
        inner_dim = pca if 0 < pca < dim else dim
        spec = f"IVF{int(params['nlist'])},PQ{int(params['pq_m'])}x{int(params.get('pq_nbits', 8))}"
        if params.get("refine"):
            spec += f",Refine({params['refine']})"
        inner = faiss.index_factory(inner_dim, spec)
        if inner_dim == dim:
            return inner
        transform = faiss.PCAMatrix(dim, inner_dim)
        index = faiss.IndexPreTransform(transform, inner)
        transform.this.disown()  # the outer index owns and frees both from now on
        inner.this.disown()
        index.own_fields = True
        return index
    raise ValueError(f"no FAISS index for kind {kind!r}")


def build_ann(vectors: np.ndarray, kind: str, params: dict[str, Any] | None = None, *,
              progress: bool = True) -> tuple[Any, AnnInfo]:
    """A FAISS index over `vectors` (may be memory-mapped: read in blocks) and its manifest entry."""
    faiss = _faiss()
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is batch work: every core
    count, dim = vectors.shape
    params = {**default_params(kind, count, dim), **(params or {})}
    started = time.perf_counter()
    index = new_ann(kind, dim, params)
    if not index.is_trained:
        index.train(_training_sample(vectors))
    from tqdm import tqdm

    with tqdm(total=count, unit="vec", desc=f"ANN ({kind})", disable=not progress, file=sys.stderr) as bar:
        for block in _blocks(vectors):
            index.add(block)
            bar.update(len(block))
    info = AnnInfo(kind=kind, params=params, faiss_version=faiss.__version__, count=count, dim=dim,
                   digest=vectors_digest(vectors), build_seconds=round(time.perf_counter() - started, 3))
    return index, info


def add_ann(index_dir: str | Path, kind: str = "auto", params: dict[str, Any] | None = None, *,
            progress: bool = True) -> AnnInfo | None:
    """Build the ANN of an index folder and store it there; None when `kind` resolves to exact search.

    The one entry point for `build`, `train` and `python -m recommender ann`.
    """
    files = read_index(index_dir)
    kind = resolve_kind(kind, files.manifest.count)
    if kind == "none":
        return None
    ann, info = build_ann(files.vectors, kind, params, progress=progress)
    write_ann(Path(index_dir), ann, info)
    return info


@dataclass
class AnnSearcher:
    """A loaded FAISS index that proposes candidate rows; `Index.search` re-ranks them exactly."""

    index: Any
    info: AnnInfo

    def __post_init__(self) -> None:
        # A server answers one query per request: FAISS's OpenMP team brings nothing to one query and,
        # on a busy machine, makes it wait for descheduled threads (p50 0.3 ms became 20 ms here).
        _faiss().omp_set_num_threads(1)

    def candidates(self, queries: np.ndarray, k: int, selection: Selection | None = None) -> np.ndarray:
        """Up to `k * OVERFETCH` candidate positions per query (-1 padded), only from the selection's rows:
        FAISS skips the others inside its IVF or HNSW scan (an ID selector over the selection's bitmap),
        so none is fetched only to be dropped, whatever share of the catalogue the filter keeps."""
        faiss = _faiss()
        want = min(max(k * OVERFETCH, k), self.info.count, MAX_CANDIDATES)
        if selection is None or selection.rows is None:
            return self._search(queries, want, None, 1.0)
        bitmap = selection.bitmap  # FAISS reads it through a raw pointer: the selection keeps it alive
        selector = faiss.IDSelectorBitmap(selection.total, faiss.swig_ptr(bitmap))
        return self._search(queries, min(want, selection.size), selector, selection.share)

    def scans(self, selection: Selection) -> bool:
        """Whether FAISS answers this selection well (else it is scored exactly over its rows)."""
        return self.info.kind != "hnsw" or selection.share >= HNSW_MIN_SHARE

    def _pca(self) -> bool:
        return 0 < int(self.info.params.get("pca") or 0) < self.info.dim

    def _search(self, queries: np.ndarray, n: int, selector: Any, share: float) -> np.ndarray:
        """FAISS's n best of each query, scanning only the selector's rows (None: every row).

        A filter leaves fewer allowed rows among the graph nodes walked or in the lists probed, so the
        search looks wider as the allowed `share` falls (the constants above)."""
        faiss = _faiss()
        if self.info.kind == "hnsw":
            ef = max(int(self.info.params.get("ef_search", 64)), n)
            if selector is not None:
                ef = min(MAX_EF, max(ef, int(ef * HNSW_FILTER_EF / max(share, 1e-9))))
            params = faiss.SearchParametersHNSW(efSearch=ef) if selector is None \
                else faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        else:
            widen = 1.0 if selector is None else min(IVF_MAX_WIDENING, 2.0 / max(share, 1e-9))
            nprobe = min(int(int(self.info.params.get("nprobe", 32)) * widen), int(self.info.params["nlist"]))
            params = faiss.SearchParametersIVF(nprobe=nprobe) if selector is None \
                else faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            if self.info.params.get("refine"):  # the refine stage sits inside the PCA (see new_ann)
                params = faiss.IndexRefineSearchParameters(k_factor=float(self.info.params.get("k_factor", 8)),
                                                           base_index_params=params)
        if self._pca():
            params = faiss.SearchParametersPreTransform(index_params=params)
        _, found = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), n, params=params)
        return found
