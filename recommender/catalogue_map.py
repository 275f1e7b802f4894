"""The map of the catalogue: a 2-D layout of an index's vectors, computed once and kept beside them.

t-SNE over 44k products takes minutes, far too long for a page load, so the layout is computed at
build and train time (or by `python -m recommender map`) and stored in the index folder: `map.npy`
(count x 2, float32, the index's order) and `map.json` (its version, method, build time and the
digest of the vectors it was computed from). A layout of other vectors (a rebuilt index) or of an
earlier format is refused with a sentence that says how to make a new one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.atomic import atomic_write
from recommender.errors import RecommenderError
from recommender.index_files import vectors_digest
from recommender.manifest import write_json

__all__ = ["MAP_VERSION", "MAP_FILE", "MAP_INFO", "CatalogueMap", "compute_layout", "write_map", "read_map",
           "map_command"]

MAP_VERSION = 1
MAP_FILE = "map.npy"
MAP_INFO = "map.json"
PCA_DIMS = 50  # t-SNE's neighbours are found on the vectors reduced to this many dimensions, as usual
PERPLEXITY = 30.0


@dataclass(frozen=True)
class CatalogueMap:
    """A stored layout: one (x, y) per product in the index's order, and how it was made."""

    xy: np.ndarray  # (count, 2) float32
    method: str
    seconds: float


def map_command(index_dir: Path) -> str:
    """The command that (re)makes the map of `index_dir`: every refusal names it."""
    return f"python -m recommender map --index {index_dir}"


def compute_layout(vectors: np.ndarray, *, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> np.ndarray:
    """t-SNE of `vectors` (PCA to 50 dimensions first), scaled into [-1, 1]; (count, 2) float32.

    Fewer than 4 products get a trivial line layout (t-SNE needs more points than its perplexity).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    count = len(vectors)
    if count < 4:
        return np.column_stack([np.linspace(-1, 1, count), np.zeros(count)]).astype(np.float32)
    data = np.asarray(vectors, dtype=np.float32)
    dims = min(PCA_DIMS, data.shape[1], count)
    say = progress or (lambda _line: None)
    say(f"map: PCA of {count} products to {dims} dimensions")
    reduced = PCA(n_components=dims, random_state=seed).fit_transform(data)
    say(f"map: t-SNE of {count} products (this takes minutes on a large catalogue)")
    xy = TSNE(n_components=2, perplexity=min(PERPLEXITY, (count - 1) / 3), init="pca", random_state=seed,
              n_jobs=-1).fit_transform(reduced)
    xy -= xy.mean(axis=0)
    xy /= max(float(np.abs(xy).max()), 1e-9)
    return xy.astype(np.float32)


def write_map(index_dir: Path, vectors: np.ndarray, *, seed: int = 0,
              progress: Callable[[str], None] | None = None) -> CatalogueMap:
    """Compute the layout of `vectors` and store it atomically in `index_dir` (the array, then its record)."""
    index_dir = Path(index_dir)
    start = time.perf_counter()
    xy = compute_layout(vectors, seed=seed, progress=progress)
    seconds = round(time.perf_counter() - start, 1)
    with atomic_write(index_dir / MAP_FILE, "wb") as handle:
        np.save(handle, xy)
    write_json(index_dir / MAP_INFO, {"version": MAP_VERSION, "method": "pca50+tsne", "count": len(xy),
                                      "vectors": vectors_digest(vectors), "seconds": seconds, "seed": seed})
    return CatalogueMap(xy, "pca50+tsne", seconds)


def read_map(index_dir: Path, vectors: np.ndarray) -> CatalogueMap:
    """The stored layout of the index at `index_dir`; RecommenderError with a sentence when there is none
    usable (never made: an index built before maps existed; of other vectors; unreadable)."""
    index_dir = Path(index_dir)
    command = map_command(index_dir)
    if not (index_dir / MAP_INFO).exists():
        raise RecommenderError(f"This index has no map yet (it was built before maps existed, or its map was "
                               f"not made); make one with {command} (a few minutes on 40k products).")
    try:
        info = json.loads((index_dir / MAP_INFO).read_text(encoding="utf-8"))
        xy = np.load(index_dir / MAP_FILE)
        version, digest = info["version"], info["vectors"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecommenderError(f"The map of this index cannot be read ({exc}); make it again with {command}.") \
            from None
    if version != MAP_VERSION:
        raise RecommenderError(f"The map of this index is of an older format (version {version}); "
                               f"make it again with {command}.")
    if digest != vectors_digest(vectors) or xy.shape != (len(vectors), 2):
        raise RecommenderError(f"The map is of an earlier build of this index; make it again with {command}.")
    return CatalogueMap(xy.astype(np.float32, copy=False), str(info.get("method", "")),
                        float(info.get("seconds", 0.0)))
