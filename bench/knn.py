"""kNN speed: a synthetic index of any size in the index folder format, and top-k latency of
`Index.search` vs scikit-learn's brute force on it, with and without attribute filters."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil

from recommender.backbones import KERAS_BACKBONES
from recommender.catalog import Product
from recommender.index import Index
from recommender.index_files import write_index
from recommender.manifest import CatalogInfo, Manifest
from recommender.model_spec import ModelSpec

from bench.machine import GIB
from bench.timing import WARMUP, paired_latency, ratio

# Synthetic catalogue attributes: gender skewed like the Kaggle set, colours and types uniform.
GENDERS = {"Men": 0.50, "Women": 0.38, "Unisex": 0.05, "Boys": 0.04, "Girls": 0.03}
COLOURS = ("Black", "White", "Blue", "Brown", "Grey", "Red", "Green", "Pink", "Navy Blue", "Purple", "Silver", "Beige")
ARTICLE_TYPES = (
    "Tshirts", "Shirts", "Casual Shoes", "Watches", "Sports Shoes", "Kurtas", "Tops", "Handbags", "Heels",
    "Sunglasses", "Wallets", "Flip Flops", "Sandals", "Briefs", "Belts", "Backpacks", "Socks", "Formal Shoes",
    "Perfume and Body Mist", "Jeans",
)  # fmt: skip
VALUES = {"gender": tuple(GENDERS), "baseColour": COLOURS, "articleType": ARTICLE_TYPES}
FILTER_CASES = {"none": (), "gender": ("gender",), "gender+colour+type": ("gender", "baseColour", "articleType")}


def synthetic_attributes(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-row codes of gender, baseColour and articleType (indexes into the value lists)."""
    rng = np.random.default_rng(seed)
    return {
        "gender": rng.choice(len(GENDERS), size=rows, p=list(GENDERS.values())).astype(np.int8),
        "baseColour": rng.integers(0, len(COLOURS), size=rows, dtype=np.int8),
        "articleType": rng.integers(0, len(ARTICLE_TYPES), size=rows, dtype=np.int8),
    }


def write_synthetic_index(
    out: Path,
    rows: int,
    dim: int,
    image_paths: Sequence[Path],
    *,
    backbone: str = "resnet50",
    seed: int = 0,
    chunk_rows: int = 50_000,
) -> Path:
    """An index folder (written by `index_files.write_index`) with random non-negative (ReLU-like) vectors.

    Vectors are written block by block, so peak memory stays at one block even for 1M x 2048
    (8 GB). Products point at real image files, reused cyclically, so the app can show thumbnails.
    """
    rng = np.random.default_rng(seed)
    codes = synthetic_attributes(rows, seed)
    products = [
        Product(f"s{i}", Path(image_paths[i % len(image_paths)]).resolve(),
                {**{name: VALUES[name][codes[name][i]] for name in VALUES},
                 "productDisplayName": f"Synthetic product {i}"})
        for i in range(rows)
    ]
    size = KERAS_BACKBONES[backbone].size if backbone in KERAS_BACKBONES else 224
    manifest = Manifest(
        model=ModelSpec.parse(backbone, "none"),
        input_size=(size, size),
        dim=dim,
        count=rows,
        catalog=CatalogInfo(str(out), "synthetic", f"synthetic-{rows}-{seed}", rows),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    blocks = (rng.standard_exponential((min(rows, start + chunk_rows) - start, dim), dtype=np.float32)
              for start in range(0, rows, chunk_rows))
    write_index(out, manifest, products, blocks)
    return out


def knn_latency(index_dir: Path, *, repeats: int, k: int = 10, seed: int = 1) -> list[dict]:
    """Top-k latency of `Index.search` (memory-mapped, as the app loads it) vs scikit-learn brute force.

    Each query is a fresh random vector; filters are the attributes of a random product, so they are
    as common as a shopper's picks. scikit-learn has no filters, so the filtered baseline is what a
    user writes for exact results: mask the rows, fit `NearestNeighbors(algorithm="brute")` on the
    subset, query it (all three timed per query). Both sides must return the same ids (as sets:
    float rounding may swap near-equal neighbours).
    """
    from sklearn.neighbors import NearestNeighbors

    start = time.perf_counter()
    index = Index.load(index_dir, mmap=True)
    load_s = time.perf_counter() - start
    rows, dim = index.vectors.shape
    rng = np.random.default_rng(seed)
    total = repeats + WARMUP
    queries = rng.standard_exponential((total, dim), dtype=np.float32)
    picks = rng.integers(0, rows, size=total)
    # Attribute columns as integer codes (set-up, untimed): the cheapest mask a scikit-learn user can build.
    columns = {a: np.unique([p.attributes[a] for p in index.products], return_inverse=True) for a in VALUES}
    data = np.load(Path(index_dir) / "vectors.npy", mmap_mode="r")
    full_nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(data)  # a view of the memmap: no copy

    results = []
    for case, attributes in FILTER_CASES.items():

        def filters_for(i: int) -> dict[str, set[str]] | None:
            return {a: {index.products[picks[i]].attributes[a]} for a in attributes} or None

        def mask_for(i: int) -> np.ndarray:
            mask = np.ones(rows, dtype=bool)
            for a in attributes:
                codes = columns[a][1]
                mask &= codes == codes[picks[i]]
            return mask

        def ours(i: int) -> list:
            return index.hits(queries[i], k, index.select(filters_for(i)))

        def theirs(i: int) -> list[str]:
            if not attributes:
                _, positions = full_nn.kneighbors(queries[i : i + 1])
                return [index.ids[p] for p in positions[0]]
            selected = np.flatnonzero(mask_for(i))
            nn = NearestNeighbors(n_neighbors=min(k, len(selected)), algorithm="brute").fit(data[selected])
            _, positions = nn.kneighbors(queries[i : i + 1])
            return [index.ids[selected[p]] for p in positions[0]]

        entry: dict = {"rows": rows, "dim": dim, "k": k, "filter": case, "index_load_s": load_s}
        entry["matching_rows_mean"] = float(np.mean([mask_for(i).sum() for i in range(min(total, 50))]))
        stats = paired_latency({"ours": ours, "sklearn": theirs}, repeats)
        entry["ours"], entry["sklearn"] = stats["ours"], stats["sklearn"]
        entry["sklearn"]["method"] = (
            "fit once, kneighbors" if not attributes else "per query: mask rows, fit on the subset, kneighbors"
        )
        entry["speedup_p50"] = ratio(entry["sklearn"]["p50_ms"], entry["ours"]["p50_ms"])
        entry["same_results"] = all({hit.id for hit in ours(i)} == set(theirs(i)) for i in range(min(3, total)))
        results.append(entry)
    return results


def can_hold(rows: int, dim: int, workdir: Path) -> str | None:
    """Why an index of this size cannot be benchmarked here (memory for the page cache, disk), or None."""
    size = rows * dim * 4
    available = psutil.virtual_memory().available
    if available < size * 1.25 + 2 * GIB:
        return f"needs ~{(size * 1.25 + 2 * GIB) / GIB:.1f} GiB available memory, {available / GIB:.1f} GiB free"
    free_disk = shutil.disk_usage(workdir).free
    if free_disk < size + GIB:
        return f"needs {(size + GIB) / GIB:.1f} GiB free disk in {workdir}, {free_disk / GIB:.1f} GiB free"
    return None
