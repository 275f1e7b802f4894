"""The vectors of the index a build replaces, by picture: a catalogue changed by a few products embeds only those.

A merchant adds twenty products to a catalogue of 40,000 and builds again; the model is the slow stage (most of
an hour for ResNet50 on two CPU cores), so a picture the index at `--out` already holds is not run through it
again. A picture is known by the digest of its model-sized pixels (`appearance.describe`, computed for every
picture anyway), so a renamed or moved image file is recognised by what it shows, and a changed one is embedded
anew. Only an index of the same model (spec, input size and dimension; not random weights) and colour
histograms is trusted, and only a finished one: `write_index` removes `manifest.json` first and writes it last,
so a join a crash cut short has none (and a file newer than it is not trusted either).
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
    def of(cls, out: Path, extractor: Extractor, appearance_version: int) -> "KnownVectors | None":
        """The index at `out` if a build with this extractor may take its vectors (None: none, or not trusted)."""
        if not (out / MANIFEST).is_file():
            return None
        try:
            files = read_index(out)
        except RecommenderError:  # damaged, half written, of an older format: everything is embedded
            return None
        manifest = files.manifest
        same_model = (manifest.model == extractor.spec and tuple(manifest.input_size) == tuple(extractor.input_size)
                      and manifest.dim == extractor.dim and manifest.appearance_version == appearance_version)
        if not same_model or manifest.random_weights or files.appearance is None or not manifest.normalized:
            return None  # random weights differ by seed, which no manifest records
        finished = (out / MANIFEST).stat().st_mtime_ns
        if any((out / name).stat().st_mtime_ns > finished for name in (VECTORS, IDS, APPEARANCE)):
            return None
        return cls(files.vectors, files.appearance.digests)

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
