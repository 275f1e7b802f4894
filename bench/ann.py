"""Approximate search (FAISS) against exact search, plain and filtered, at 1M and 10M vectors drawn
from the real ones.

The real vectors (an index folder, e.g. MobileNetV2 over the Kaggle catalogue, 1280 dimensions) are
reduced by PCA to `dim` (128) dimensions, and synthetic vectors "with the same distribution" are a
kernel density sample of those: a real product's vector plus Gaussian noise shaped like their
covariance (scaled by `bandwidth`); the product's attributes come along, so a filter keeps its real
share and its link to the vectors. A single Gaussian fitted to the vectors would lose what makes
image embeddings searchable (products of a kind cluster); the report gives the ratio of the 10th
neighbour's distance to the median distance for both, so the likeness can be judged. 128 dimensions
keep 10M vectors within a shared 24 GB machine (5 GB as float32 would still not be stored).

Three cases per size, each one `Selection` built once: no filter, a filter holding about half the
products (gender = Men) and a rare one (the attribute value whose share is nearest 5 %). Per case,
p50/p95 latency of one query (top 10) and recall@10 of the approximate answer against the exact one.
  1M   through `Index.search` (what the app runs): exact, and HNSW (the app's default above 100k
       products) with FAISS's ID selector inside the graph walk, on an index folder in the work folder.
  10M  vectors generated block by block and never stored: IVF-PQ re-ranked in FAISS from 8-bit codes
       (`TEN_M_PARAMS`), the selector inside the IVF scan; exact answers for the recall come from one
       blockwise scan during generation; memory is the resident size of a fresh process that loads the
       stored FAISS file and answers the queries (`AnnSearcher.candidates`, as `Index.search` calls it).
The time to resolve a filter into a Selection and its FAISS bitmap is reported apart (`select_ms`).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from recommender.ann import AnnSearcher, add_ann, default_params, new_ann
from recommender.catalog import Product
from recommender.index import Index
from recommender.index_files import read_index, write_index
from recommender.manifest import CatalogInfo, Manifest
from recommender.selection import Selection
from recommender.settings import PROJECT_ROOT

from bench.timing import latency_stats

BLOCK = 65_536
TEN_M_PARAMS = {"pca": 0, "nlist": 4096, "pq_m": 32, "pq_nbits": 8, "nprobe": 64, "refine": "SQ8", "k_factor": 8}
TRAIN_ROWS = 131_072  # 32 a list: enough for k-means, half the training time of 262k
RARE_SHARE = 0.05
CASES = ("no_filter", "gender_filter", "rare_filter")


@dataclass
class AnnBenchConfig:
    real: Path  # an index folder of real vectors (e.g. the MobileNetV2 index of the Kaggle catalogue)
    sizes: tuple[int, ...] = (1_000_000, 10_000_000)
    queries: int = 200
    exact_repeats: int = 30  # single-query exact timings
    k: int = 10
    dim: int = 128
    bandwidth: float = 0.5
    filter: tuple[str, str] = ("gender", "Men")
    workdir: Path = Path("/tmp")
    log: Callable[[str], None] = field(default=lambda m: print(m, file=sys.stderr, flush=True))


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top k that the approximate top k found (-1 padding ignored)."""
    shares = [len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum()))
              for f, t in zip(found, truth)]
    return float(np.mean(shares))


def reduced(vectors: np.ndarray, dim: int) -> np.ndarray:
    """The vectors projected on their top `dim` principal axes (centred), float32."""
    x = np.asarray(vectors, dtype=np.float64)
    centred = x - x.mean(axis=0)
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    return (centred @ eigenvectors[:, ::-1][:, :dim]).astype(np.float32)


class Sampler:
    """Kernel density sampling of a set of real vectors: a real row plus covariance-shaped noise."""

    def __init__(self, vectors: np.ndarray, bandwidth: float) -> None:
        self.real = np.ascontiguousarray(vectors, dtype=np.float32)
        centred = self.real - self.real.mean(axis=0)
        eigenvalues, eigenvectors = np.linalg.eigh((centred.T @ centred) / len(centred))
        self.scale = (bandwidth * np.sqrt(np.maximum(eigenvalues, 0))).astype(np.float32)
        self.basis_t = np.ascontiguousarray(eigenvectors.T, dtype=np.float32)

    def block(self, seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, seed rows) of one block; the same seed always gives the same block."""
        rng = np.random.default_rng(seed)
        picked = rng.integers(0, len(self.real), size=rows)
        noise = rng.standard_normal((rows, len(self.scale)), dtype=np.float32) * self.scale
        return self.real[picked] + noise @ self.basis_t, picked

    def blocks(self, total: int, seed: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for number, start in enumerate(range(0, total, BLOCK)):
            yield self.block(seed * 1_000_003 + number, min(BLOCK, total - start))


def neighbour_contrast(vectors: np.ndarray, queries: int = 200) -> float:
    """Median over queries of (distance to the 10th neighbour) / (median distance): lower = more clustered."""
    sample = vectors[: min(len(vectors), 40_000)].astype(np.float32)
    q = sample[:queries]
    d2 = (sample**2).sum(1)[None] - 2 * q @ sample.T + (q**2).sum(1)[:, None]
    d = np.sqrt(np.maximum(d2, 0))
    d.sort(axis=1)
    return float(np.median(d[:, 10] / np.median(d, axis=1)))


def rare_value(products: list[Product], share: float = RARE_SHARE) -> tuple[str, str]:
    """The (attribute, value) whose share of the products is nearest `share`: the rare filter."""
    counts: dict[tuple[str, str], int] = {}
    for product in products:
        for item in product.attributes.items():
            counts[item] = counts.get(item, 0) + 1
    return min(counts, key=lambda item: abs(counts[item] / len(products) - share))


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _filters(cfg: AnnBenchConfig, rare: tuple[str, str]) -> dict[str, dict[str, list[str]] | None]:
    (half_name, half_value), (rare_name, rare_value_) = cfg.filter, rare
    return {"no_filter": None, "gender_filter": {half_name: [half_value]}, "rare_filter": {rare_name: [rare_value_]}}


def _index_case(index: Index, queries: np.ndarray, cfg: AnnBenchConfig, filters: dict | None) -> dict:
    """Exact and HNSW through Index.search for one filter case, its Selection built once."""
    k, few = cfg.k, min(cfg.exact_repeats, len(queries))
    started = time.perf_counter()
    selection = index.select(filters)
    if selection.rows is not None:
        selection.bitmap  # noqa: B018  (built once, as a request's first search would)
    select_ms = (time.perf_counter() - started) * 1000
    exact = Selection(selection.total, selection.rows, exact=True)
    truth = index.search(queries, k, exact)[1]
    found = index.search(queries, k, selection)[1]
    return {"share": round(selection.share, 4), "select_ms": round(select_ms, 1),
            "exact": latency_stats(lambda i: index.search(queries[i % few], k, exact), few),
            "hnsw": {**latency_stats(lambda i: index.search(queries[i % len(queries)], k, selection), len(queries)),
                     "recall_at_10": recall_at_k(found, truth)}}


def _write_synthetic(out: Path, sampler: Sampler, products: list[Product], rows: int, real: Manifest,
                     dim: int) -> None:
    """An index folder of `rows` sampled vectors; each product copies its seed product's attributes."""
    picked = np.concatenate([p for _, p in sampler.blocks(rows)])
    items = [Product(f"s{i}", products[p].image, products[p].attributes) for i, p in enumerate(picked.tolist())]
    manifest = Manifest(model=real.model, input_size=real.input_size, dim=dim, count=rows,
                        catalog=CatalogInfo(f"synthetic:{rows}", "synthetic", f"kde-{dim}-{rows}", rows))
    write_index(out, manifest, items, (block for block, _ in sampler.blocks(rows)))


def _indexed_size(cfg: AnnBenchConfig, rows: int, sampler: Sampler, real_files, rare: tuple[str, str]) -> dict:
    """One size served through Index.search, from a synthetic index folder with an HNSW."""
    log = cfg.log
    folder = cfg.workdir / f"ann-{cfg.dim}d-{rows}"
    if not (folder / "manifest.json").exists():
        log(f"ann: writing {rows:,} synthetic vectors to {folder}")
        _write_synthetic(folder, sampler, real_files.products, rows, real_files.manifest, cfg.dim)
    previous = read_index(folder).manifest.ann
    if previous is not None and previous.params == default_params("hnsw", rows, cfg.dim):
        log(f"ann: reusing the HNSW over {rows:,} vectors built in {previous.build_seconds:.0f} s (a rerun)")
        info, build_s = previous, previous.build_seconds
    else:
        started = time.perf_counter()
        log(f"ann: building HNSW over {rows:,} vectors")
        info = add_ann(folder, "hnsw", progress=False)
        build_s = time.perf_counter() - started
    before = _rss_mb()
    index = Index.load(folder)
    loaded = _rss_mb()
    queries = sampler.block(99_991, cfg.queries)[0]  # fresh samples from the same distribution
    report = {"rows": len(index), "dim": index.dim, "ann": info.kind, "params": dict(info.params),
              "build_s": round(build_s, 1), "ann_file_mb": round((folder / "ann.faiss").stat().st_size / 2**20),
              "process_rss_after_load_mb": round(loaded), "rss_growth_on_load_mb": round(loaded - before)}
    for case, filters in _filters(cfg, rare).items():
        log(f"ann: timing {cfg.queries} queries at {rows:,} ({case}: {filters})")
        report[case] = _index_case(index, queries, cfg, filters)
    report["process_rss_after_queries_mb"] = round(_rss_mb())
    del index
    gc.collect()
    return report


def _merge_top(best: tuple[np.ndarray, np.ndarray], scores: np.ndarray, start: int, k: int) -> tuple:
    """The running k smallest (scores, positions) per query, after one more block of scores."""
    part = np.argpartition(scores, k - 1, axis=1)[:, :k] if scores.shape[1] > k else \
        np.broadcast_to(np.arange(scores.shape[1]), (len(scores), scores.shape[1]))
    both_d = np.concatenate([best[0], np.take_along_axis(scores, part, 1)], axis=1)
    both_p = np.concatenate([best[1], part + start], axis=1)
    order = np.argsort(both_d, axis=1)[:, :k]
    return np.take_along_axis(both_d, order, 1), np.take_along_axis(both_p, order, 1)


def _ten_million(cfg: AnnBenchConfig, rows: int, sampler: Sampler, real_files, rare: tuple[str, str]) -> dict:
    """IVF-PQ with an 8-bit refine stage; vectors generated per block and dropped, exact answers kept."""
    log, k = cfg.log, cfg.k
    wanted = {case: None if f is None else next(iter(f.items())) for case, f in _filters(cfg, rare).items()}
    member = {case: None if item is None else np.array([p.attributes.get(item[0]) == item[1][0]
                                                        for p in real_files.products])
              for case, item in wanted.items()}
    queries = sampler.block(99_991, cfg.queries)[0]
    q_norms = (queries.astype(np.float64) ** 2).sum(1)
    best = {case: (np.full((len(queries), k), np.inf), np.full((len(queries), k), -1)) for case in CASES}
    allowed = {case: np.zeros(rows, dtype=bool) for case in CASES if member[case] is not None}
    ann = new_ann("ivfpq", cfg.dim, TEN_M_PARAMS)
    started = time.perf_counter()
    log(f"ann: training IVF-PQ on {min(rows, TRAIN_ROWS):,} sampled vectors")
    ann.train(np.concatenate([b for b, _ in sampler.blocks(min(rows, TRAIN_ROWS), seed=5)]))
    log(f"ann: adding {rows:,} generated vectors (exact answers kept on the way)")
    scan_s = 0.0
    for number, (block, picked) in enumerate(sampler.blocks(rows)):
        start = number * BLOCK
        ann.add(block)
        t = time.perf_counter()
        d2 = (block**2).sum(1)[None] - 2 * queries @ block.T + q_norms[:, None]
        for case in CASES:
            mask = None if member[case] is None else member[case][picked]
            if mask is not None:
                allowed[case][start : start + len(block)] = mask
            best[case] = _merge_top(best[case], d2 if mask is None else np.where(mask[None], d2, np.inf), start, k)
        scan_s += time.perf_counter() - t
        if number % 16 == 0:
            log(f"  {start + len(block):,} of {rows:,}")
    build_s = time.perf_counter() - started - scan_s
    path = cfg.workdir / f"ann-{cfg.dim}d-{rows}.faiss"
    import faiss

    faiss.write_index(ann, str(path))
    del ann
    gc.collect()
    work = cfg.workdir / f"ann-{cfg.dim}d-{rows}-probe.npz"
    np.savez(work, queries=queries, **{f"truth_{case}": best[case][1] for case in CASES},
             **{f"allowed_{case}": mask for case, mask in allowed.items()})
    log("ann: serving the stored 10M index in a fresh process (its memory is what serving costs)")
    probe = subprocess.run([sys.executable, "-m", "bench.ann", str(path), str(work), str(k)],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return {"rows": rows, "dim": cfg.dim, "ann": "ivfpq", "params": TEN_M_PARAMS, "build_s": round(build_s, 1),
            "exact_scan_of_all_queries_s": round(scan_s, 1), "ann_file_mb": round(path.stat().st_size / 2**20),
            "filters": {case: item and f"{item[0]}={item[1][0]}" for case, item in wanted.items()},
            **json.loads(probe.stdout)}


def _serve_probe(path: str, work: str, k: int) -> dict:
    """In a fresh process: load the FAISS file, answer the queries, report latency, recall and memory."""
    import faiss

    from recommender.manifest import AnnInfo

    before = _rss_mb()
    ann = faiss.read_index(path)
    data = np.load(work)
    searcher = AnnSearcher(ann, AnnInfo("ivfpq", dict(TEN_M_PARAMS), faiss.__version__, ann.ntotal, ann.d, ""))
    queries = data["queries"]
    out: dict = {"process_rss_after_load_mb": round(_rss_mb()), "rss_growth_on_load_mb": round(_rss_mb() - before)}
    for case in CASES:
        started = time.perf_counter()
        mask = data[f"allowed_{case}"] if f"allowed_{case}" in data else None
        selection = Selection(ann.ntotal, None if mask is None else np.flatnonzero(mask))
        selection.bitmap  # noqa: B018  (built once, as a request's first search would)
        select_ms = (time.perf_counter() - started) * 1000
        found = np.array([searcher.candidates(q[None], k, selection)[0][:k] for q in queries])
        timing = latency_stats(lambda i: searcher.candidates(queries[i % len(queries)][None], k, selection),
                               len(queries))
        out[case] = {"share": round(selection.share, 4), "select_ms": round(select_ms, 1),
                     "ivfpq": {**timing, "recall_at_10": recall_at_k(found, data[f"truth_{case}"])}}
    out["process_rss_after_queries_mb"] = round(_rss_mb())
    return out


def ann_benchmark(cfg: AnnBenchConfig) -> dict:
    """Every size in `cfg.sizes`: up to 2M through Index.search, above streamed into IVF-PQ."""
    real_files = read_index(cfg.real)
    real_vectors = reduced(np.asarray(real_files.vectors), cfg.dim)
    cfg = replace(cfg, dim=real_vectors.shape[1])  # an index of fewer dimensions keeps them all
    sampler = Sampler(real_vectors, cfg.bandwidth)
    rare = rare_value(real_files.products)
    report: dict = {
        "real_index": str(cfg.real), "model": real_files.manifest.model.label, "k": cfg.k,
        "synthetic": f"kernel density sample of the real vectors' PCA-{cfg.dim} "
                     f"(bandwidth {cfg.bandwidth} x their covariance)",
        "filters": {"gender_filter": "=".join(cfg.filter), "rare_filter": "=".join(rare)},
        "neighbour_contrast": {"real": neighbour_contrast(real_vectors),
                               "synthetic": neighbour_contrast(sampler.block(3, 40_000)[0])},
        "sizes": [],
    }
    for rows in cfg.sizes:
        size = _indexed_size if rows <= 2_000_000 else _ten_million
        report["sizes"].append(size(cfg, rows, sampler, real_files, rare))
    return report


if __name__ == "__main__":  # the 10M serving probe (see _ten_million)
    print(json.dumps(_serve_probe(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
