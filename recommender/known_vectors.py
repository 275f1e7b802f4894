"""The vectors of the index a build replaces, by picture: a catalogue changed by a few products embeds only those.

A merchant adds twenty products to a catalogue of 40,000 and builds again; the model is the slow stage (most of
an hour for ResNet50 on two CPU cores), so a picture the index at `--out` already holds is not run through it
again. A picture is known by the digest of its model-sized pixels (`appearance.describe`, computed for every
picture anyway), so a renamed or moved image file is recognised by what it shows, and a changed one is embedded
anew. Only an index of the same model is trusted: the same spec, input size and dimension, not random weights
(they differ by seed, which no manifest records), and no weights file changed since it was built (a spec names
its file by path: a retrained file in its place makes another model); and only a finished one: `write_index`
removes `manifest.json` first and writes it last, so a join a crash cut short has none (a file newer than it is
not trusted either). An index that is there but not trusted is said so, with why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.errors import RecommenderError
from recommender.index_files import APPEARANCE, IDS, VECTORS, read_index
from recommender.manifest import MANIFEST

if TYPE_CHECKING:
    from recommender.backbones import Extractor

__all__ = ["KnownVectors"]


class KnownVectors:
    """Unit vectors by picture digest, from a finished index of the same model; counts what it gave back."""

    def __init__(self, vectors: np.ndarray, digests: np.ndarray) -> None:
        self.vectors = vectors  # (n, dim) float32, memory-mapped: read only for the pictures found
        self._rows = {str(digest): row for row, digest in enumerate(digests.tolist())}
        self.reused = 0

    @classmethod
    def of(cls, out: Path, extractor: Extractor) -> tuple[KnownVectors | None, str]:
        """The index at `out` if a build with this extractor may take its vectors, else None and why not ("": no
        index there)."""
        if not (out / MANIFEST).is_file():
            return None, ""
        try:
            files = read_index(out)
        except RecommenderError:  # damaged, half written, of an older format: everything is embedded
            return None, "it cannot be read"
        manifest, finished = files.manifest, (out / MANIFEST).stat().st_mtime_ns
        if (manifest.model != extractor.spec or tuple(manifest.input_size) != tuple(extractor.input_size)
                or manifest.dim != extractor.dim):
            return None, "it was built with another model"
        if manifest.random_weights:
            return None, "its model has random weights"
        if any(_changed_since(Path(name), finished) for name in {manifest.model.backbone, manifest.model.weights}):
            return None, "its model's file has changed since"
        if files.appearance is None or not manifest.normalized:
            return None, "it is of an older format"
        if any(_changed_since(out / name, finished) for name in (VECTORS, IDS, APPEARANCE)):
            return None, "its files are newer than its manifest"
        return cls(files.vectors, files.appearance.digests), ""

    def vectors_for(self, digests: np.ndarray, embed: Callable[[np.ndarray], np.ndarray],
                    pixels: np.ndarray) -> np.ndarray:
        """The vectors of a batch: the known pictures' as stored, the others by `embed` (only on those pixels)."""
        rows = np.array([self._rows.get(str(digest), -1) for digest in digests.tolist()], dtype=np.int64)
        known = rows >= 0
        out = np.empty((len(rows), self.vectors.shape[1]), dtype=np.float32)
        if known.any():
            out[known] = self.vectors[rows[known]]
            self.reused += int(known.sum())
        if (~known).any():
            out[~known] = embed(pixels[~known])
        return out


def _changed_since(path: Path, finished_ns: int) -> bool:
    """Whether a file (a model's weights, an index's own) was written after the index's manifest."""
    try:
        return path.is_file() and path.stat().st_mtime_ns > finished_ns
    except OSError:
        return False
