"""Approximate search (FAISS) against exact search, in one run: 44k real vectors, then 1M and 10M
synthetic vectors drawn from the real ones.

Synthetic vectors "with the same distribution" are a kernel density sample of the real index: a real
product's vector plus Gaussian noise shaped like the real vectors' covariance (its eigenvectors,
scaled by `bandwidth`), and the product's attributes come along (so a gender filter keeps its real
share and its link to the vectors). A single Gaussian fitted to the vectors would lose what makes
image embeddings searchable (products of a kind cluster); the report gives the ratio of the 10th
neighbour's distance to the median distance for both, so the likeness can be judged.

Per size: build time, memory, and p50/p95 latency of one query (top 10) with and without a gender
filter, exact and approximate, with recall@10 of the approximate answer against the exact one.
  44k, 1M  through `Index.search` (what the app runs): exact, HNSW (ID selector and over-fetch for
           the filter), on an index folder written to the work folder.
  10M      vectors generated block by block and never stored (51 GB as float32): PCA to 512, IVF-PQ,
           re-ranked in FAISS from 8-bit codes of the PCA vectors; exact answers for the recall come
           from one blockwise scan during generation; memory is the resident size of a process that
           loads the stored FAISS file and answers the queries.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recommender.ann import AnnSearcher, add_ann, default_params, new_ann
from recommender.catalog import Product
from recommender.index import Index
from recommender.index_files import read_index, write_index
from recommender.manifest import CatalogInfo, Manifest
from recommender.settings import PROJECT_ROOT

from bench.timing import latency_stats

BLOCK = 65_536
TEN_M_PARAMS = {"pca": 512, "nlist": 4096, "pq_m": 64, "pq_nbits": 8, "nprobe": 64, "refine": "SQ8", "k_factor": 16}
EF_SWEEP = (32, 64, 96, 128, 192)


@dataclass
class AnnBenchConfig:
    real: Path  # an index folder of real vectors (e.g. the MobileNetV2 index of the Kaggle catalogue)
    sizes: tuple[int, ...] = (44_000, 1_000_000, 10_000_000)
    queries: int = 200
    exact_repeats: int = 30  # single-query exact timings (one costs ~0.2 s at 1M)
    k: int = 10
    bandwidth: float = 0.5
    filter: tuple[str, str] = ("gender", "Men")
    workdir: Path = Path("/tmp")
    log: Callable[[str], None] = field(default=lambda m: print(m, file=sys.stderr, flush=True))


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top k that the approximate top k found (-1 padding ignored)."""
    shares = [len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum()))
              for f, t in zip(found, truth)]
    return float(np.mean(shares))


class Sampler:
    """Kernel density sampling of a set of real vectors: a real row plus covariance-shaped noise.

    The noise follows the covariance's top `rank` eigenvectors exactly and spreads the variance of the
    rest evenly (isotropic): the same total variance at a fifth of the cost of a full rotation, which
    is what makes 10M vectors affordable on two cores.
    """

    def __init__(self, vectors: np.ndarray, bandwidth: float, rank: int = 256) -> None:
        self.real = np.ascontiguousarray(vectors, dtype=np.float32)
        centred = self.real - self.real.mean(axis=0)
        eigenvalues, eigenvectors = np.linalg.eigh((centred.T @ centred) / len(centred))
        eigenvalues, eigenvectors = np.maximum(eigenvalues[::-1], 0), eigenvectors[:, ::-1]
        rest = eigenvalues[rank:].sum() / self.real.shape[1]  # spread over every dimension
        self.scale = (bandwidth * np.sqrt(np.maximum(eigenvalues[:rank] - rest, 0))).astype(np.float32)
        self.rest = np.float32(bandwidth * np.sqrt(rest))
        self.basis_t = np.ascontiguousarray(eigenvectors[:, :rank].T, dtype=np.float32)

    def seeds(self, seed: int, rows: int) -> np.ndarray:
        """The real rows a block is drawn around (the block's first draw, so it costs no noise)."""
        return np.random.default_rng(seed).integers(0, len(self.real), size=rows)

    def block(self, seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, seed rows) of one block; the same seed always gives the same block."""
        rng = np.random.default_rng(seed)
        picked = rng.integers(0, len(self.real), size=rows)
        top = rng.standard_normal((rows, len(self.scale)), dtype=np.float32) * self.scale
        flat = rng.standard_normal((rows, self.real.shape[1]), dtype=np.float32)
        flat *= self.rest
        flat += self.real[picked]
        flat += top @ self.basis_t
        return flat, picked

    def blocks(self, total: int, seed: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for number, start in enumerate(range(0, total, BLOCK)):
            yield self.block(seed * 1_000_003 + number, min(BLOCK, total - start))

    def all_seeds(self, total: int, seed: int = 1) -> np.ndarray:
        return np.concatenate([self.seeds(seed * 1_000_003 + number, min(BLOCK, total - start))
                               for number, start in enumerate(range(0, total, BLOCK))])


def neighbour_contrast(vectors: np.ndarray, queries: int = 200) -> float:
    """Median over queries of (distance to the 10th neighbour) / (median distance): lower = more clustered."""
    sample = vectors[: min(len(vectors), 40_000)].astype(np.float32)
    q = sample[:queries]
    d2 = (sample**2).sum(1)[None] - 2 * q @ sample.T + (q**2).sum(1)[:, None]
    d = np.sqrt(np.maximum(d2, 0))
    d.sort(axis=1)
    return float(np.median(d[:, 10] / np.median(d, axis=1)))


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _searches(index: Index, queries: np.ndarray, k: int, filters: dict | None, exact: bool) -> np.ndarray:
    return index.search(queries, k, filters, exact=exact)[1]


def _index_case(index: Index, queries: np.ndarray, cfg: AnnBenchConfig, filters: dict | None) -> dict:
    """Exact vs HNSW through Index.search for one filter case (the filter also by over-fetch)."""
    k = cfg.k
    truth = _searches(index, queries, k, filters, exact=True)
    few = min(cfg.exact_repeats, len(queries))
    case: dict = {"exact": latency_stats(lambda i: index.search(queries[i % few], k, filters, exact=True), few)}
    found = _searches(index, queries, k, filters, exact=False)
    case["hnsw"] = {**latency_stats(lambda i: index.search(queries[i % len(queries)], k, filters), len(queries)),
                    "recall_at_10": recall_at_k(found, truth)}
    return case


def _ef_sweep(index: Index, queries: np.ndarray, k: int, filters: dict | None) -> list[dict]:
    truth = _searches(index, queries, k, filters, exact=True)
    rows = []
    default = index.ann.info.params["ef_search"]
    for ef in EF_SWEEP:
        index.ann.info.params["ef_search"] = ef
        found = _searches(index, queries, k, filters, exact=False)
        timing = latency_stats(lambda i: index.search(queries[i % len(queries)], k, filters), len(queries))
        rows.append({"ef_search": ef, "p50_ms": timing["p50_ms"], "p95_ms": timing["p95_ms"],
                     "recall_at_10": recall_at_k(found, truth)})
    index.ann.info.params["ef_search"] = default
    return rows


def _write_synthetic(out: Path, sampler: Sampler, products: list[Product], rows: int, real: Manifest) -> None:
    """An index folder of `rows` sampled vectors; each product copies its seed product's attributes."""
    picked = sampler.all_seeds(rows)
    items = [Product(f"s{i}", products[p].image, products[p].attributes) for i, p in enumerate(picked.tolist())]
    manifest = Manifest(model=real.model, input_size=real.input_size, dim=real.dim, count=rows,
                        catalog=CatalogInfo(f"synthetic:{rows}", "synthetic", f"kde-{rows}", rows))
    write_index(out, manifest, items, (block for block, _ in sampler.blocks(rows)))


def _indexed_size(cfg: AnnBenchConfig, rows: int, sampler: Sampler | None, real_files) -> dict:
    """One size served through Index.search: the real index (44k) or a synthetic index folder."""
    log = cfg.log
    if sampler is None:
        folder = cfg.workdir / "ann-real"
        _link_real(cfg.real, folder)
        queries_from = np.asarray(real_files.vectors)
    else:
        folder = cfg.workdir / f"ann-{rows}"
        if not (folder / "manifest.json").exists():
            log(f"ann: writing {rows:,} synthetic vectors to {folder}")
            _write_synthetic(folder, sampler, real_files.products, rows, real_files.manifest)
        queries_from = None
    previous = read_index(folder).manifest.ann
    if previous is not None and previous.params == default_params("hnsw", rows, real_files.manifest.dim):
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
    rng = np.random.default_rng(7)
    if queries_from is not None:  # real queries: catalogue products themselves (as "more like this" does)
        queries = queries_from[rng.choice(len(queries_from), cfg.queries, replace=False)] + 0
    else:  # fresh samples from the same distribution, not in the index
        queries = sampler.block(99_991, cfg.queries)[0]
    report = {"rows": len(index), "dim": index.dim, "ann": info.kind, "params": dict(info.params),
              "build_s": round(build_s, 1), "ann_file_mb": round((folder / "ann.faiss").stat().st_size / 2**20),
              "process_rss_after_load_mb": round(loaded), "rss_growth_on_load_mb": round(loaded - before)}
    name, value = cfg.filter
    log(f"ann: timing {cfg.queries} queries at {rows:,} (exact, HNSW, {name}={value})")
    report["no_filter"] = _index_case(index, queries, cfg, None)
    report[f"{name}_filter"] = _index_case(index, queries, cfg, {name: [value]})
    report["ef_sweep"] = _ef_sweep(index, queries, cfg.k, None)
    report["process_rss_after_queries_mb"] = round(_rss_mb())
    del index
    gc.collect()
    return report


def _link_real(real: Path, folder: Path) -> None:
    """The real index's files, linked (not copied) into a folder of the benchmark's own for its ANN."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("vectors.npy", "ids.json", "products.jsonl", "manifest.json"):
        target = folder / name
        if name == "manifest.json":
            target.write_bytes((real / name).read_bytes())
        elif not target.exists():
            target.symlink_to((real / name).resolve())


def _ten_million(cfg: AnnBenchConfig, rows: int, sampler: Sampler, real_files) -> dict:
    """IVF-PQ over PCA-512 with an 8-bit refine stage; vectors generated per block and dropped."""
    log = cfg.log
    k, dim = cfg.k, real_files.manifest.dim
    name, value = cfg.filter
    codes = np.array([p.attributes.get(name) == value for p in real_files.products])
    queries = sampler.block(99_991, cfg.queries)[0]
    q_norms = (queries.astype(np.float64) ** 2).sum(1)
    best = {key: (np.full((len(queries), k), np.inf), np.full((len(queries), k), -1)) for key in ("all", "filtered")}
    allowed = np.zeros(rows, dtype=bool)
    ann = new_ann("ivfpq", dim, TEN_M_PARAMS)
    started = time.perf_counter()
    log(f"ann: training IVF-PQ on {min(rows, 262_144):,} sampled vectors")
    train = np.concatenate([b for b, _ in sampler.blocks(min(rows, 262_144), seed=5)])
    ann.train(train)
    del train
    log(f"ann: adding {rows:,} generated vectors (exact answers kept on the way)")
    scan_s = 0.0
    for number, (block, picked) in enumerate(sampler.blocks(rows)):
        start = number * BLOCK
        ann.add(block)
        allowed[start : start + len(block)] = codes[picked]
        t = time.perf_counter()
        d2 = (block.astype(np.float32) ** 2).sum(1)[None] - 2 * queries @ block.T + q_norms[:, None]
        for key, mask in (("all", None), ("filtered", codes[picked])):
            scores = d2 if mask is None else np.where(mask[None], d2, np.inf)
            dist, pos = best[key]
            both_d = np.concatenate([dist, scores], axis=1)
            both_p = np.concatenate([pos, np.broadcast_to(np.arange(start, start + len(block)), scores.shape)], axis=1)
            order = np.argsort(both_d, axis=1)[:, :k]
            best[key] = (np.take_along_axis(both_d, order, 1), np.take_along_axis(both_p, order, 1))
        scan_s += time.perf_counter() - t
        if number % 16 == 0:
            log(f"  {start + len(block):,} of {rows:,}")
    build_s = time.perf_counter() - started - scan_s
    path = cfg.workdir / f"ann-{rows}.faiss"
    import faiss

    faiss.write_index(ann, str(path))
    del ann
    gc.collect()
    work = cfg.workdir / f"ann-{rows}-probe.npz"
    np.savez(work, queries=queries, truth=best["all"][1], truth_filtered=best["filtered"][1], allowed=allowed)
    log("ann: serving the stored 10M index in a fresh process (its memory is what serving costs)")
    probe = subprocess.run([sys.executable, "-m", "bench.ann", str(path), str(work), str(k)],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    served = json.loads(probe.stdout)
    return {"rows": rows, "dim": dim, "ann": "ivfpq", "params": TEN_M_PARAMS, "build_s": round(build_s, 1),
            "exact_scan_of_all_queries_s": round(scan_s, 1), "ann_file_mb": round(path.stat().st_size / 2**20),
            **served}


def _serve_probe(path: str, work: str, k: int) -> dict:
    """In a fresh process: load the FAISS file, answer the queries, report latency, recall and memory."""
    import faiss

    from recommender.manifest import AnnInfo

    before = _rss_mb()
    ann = faiss.read_index(path)
    data = np.load(work)
    info = AnnInfo("ivfpq", dict(TEN_M_PARAMS), faiss.__version__, ann.ntotal, ann.d, "")
    searcher = AnnSearcher(ann, info)
    queries = data["queries"]
    rows = np.flatnonzero(data["allowed"])
    out = {"process_rss_after_load_mb": round(_rss_mb()), "rss_growth_on_load_mb": round(_rss_mb() - before)}
    for key, filter_rows, truth in (("no_filter", None, data["truth"]), ("gender_filter", rows, data["truth_filtered"])):
        found = np.array([searcher.candidates(q[None], k, filter_rows)[0][:k] for q in queries])
        timing = latency_stats(lambda i: searcher.candidates(queries[i % len(queries)][None], k, filter_rows),
                               len(queries))
        out[key] = {"ivfpq": {**timing, "recall_at_10": recall_at_k(found, truth)}}
    out["process_rss_after_queries_mb"] = round(_rss_mb())
    return out


def ann_benchmark(cfg: AnnBenchConfig) -> dict:
    """Every size in `cfg.sizes`: the real index's own size, then synthetic ones."""
    real_files = read_index(cfg.real)
    real_vectors = np.asarray(real_files.vectors)
    sampler = Sampler(real_vectors, cfg.bandwidth)
    report: dict = {
        "real_index": str(cfg.real), "model": real_files.manifest.model.label, "k": cfg.k,
        "synthetic": f"kernel density sample of the real vectors (bandwidth {cfg.bandwidth} x their covariance)",
        "neighbour_contrast": {"real": neighbour_contrast(real_vectors),
                               "synthetic": neighbour_contrast(sampler.block(3, 40_000)[0])},
        "sizes": [],
    }
    for rows in cfg.sizes:
        if rows <= 1.2 * len(real_vectors):  # "44k": the real index itself (39,992 of the 44,441 products)
            report["sizes"].append(_indexed_size(cfg, len(real_vectors), None, real_files))
        elif rows <= 2_000_000:
            report["sizes"].append(_indexed_size(cfg, rows, sampler, real_files))
        else:
            report["sizes"].append(_ten_million(cfg, rows, sampler, real_files))
    return report


if __name__ == "__main__":  # the 10M serving probe (see _ten_million)
    print(json.dumps(_serve_probe(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
