"""Catalogues embedded once per model and kept: the query photos of evaluate, the training photos of train.

A photo folder used as queries or as training data is embedded by the backbone of the index it
goes with; building that index again on every run would cost minutes. It is built once into a
cache folder named after the catalogue version, the model and the colour histograms' definition, and reused
while all three are unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from recommender.appearance import APPEARANCE_VERSION
from recommender.errors import IncompatibleIndex, IndexFormatError
from recommender.model_spec import ModelSpec
from recommender.settings import EMBEDDINGS_DIR

if TYPE_CHECKING:
    from recommender.catalog import Catalog
    from recommender.index import Index

__all__ = ["DEFAULT_CACHE", "cache_dir", "cached_index"]

DEFAULT_CACHE = EMBEDDINGS_DIR / "eval-cache"


def cache_dir(cache_root: Path, catalog_root: Path, fingerprint: str, model: ModelSpec,
              appearance_version: int = APPEARANCE_VERSION) -> Path:
    """The folder for one catalogue version embedded by one model with one colour definition, so a rerun reuses
    it: the photos scored against an index of colour version 1 (Kaggle) and 2 (the demo) are kept side by side."""
    return cache_root / f"{catalog_root.name}-{fingerprint[:8]}-{model.slug}-colours{appearance_version}"


def cached_index(catalog: Catalog, spec: ModelSpec, cache_root: Path, log: TextIO | None,
                 appearance_version: int = APPEARANCE_VERSION) -> Index:
    """The raw backbone index of `catalog` by the model `spec` (its head ignored): reused when complete, else built.

    The extractor is loaded even to reuse an index, so that one made by a different extractor
    (another output tensor, dimension or weights) is rebuilt rather than used; so is one of an
    older format (no unit vectors, no appearance) or whose colour histograms are of another definition
    than `appearance_version` (the index these pictures are compared with records its own). An interrupted
    build resumes on the next run (build_index keeps its finished chunks).
    """
    from recommender.backbones import load_extractor
    from recommender.build import build_index
    from recommender.index import Index

    extractor = load_extractor(spec.without_head())
    out = cache_dir(cache_root, catalog.root, catalog.fingerprint(), extractor.spec, appearance_version)
    try:
        index = Index.load(out)
        index.check_compatible(extractor.spec, extractor.dim)
        current = index.manifest.normalized and index.appearance is not None \
            and index.manifest.appearance_version == appearance_version
        if current and index.manifest.catalog.fingerprint == catalog.fingerprint():
            print(f"reusing {out}", file=log, flush=True)
            return index
    except (IndexFormatError, IncompatibleIndex):
        pass
    print(f"building the index of {catalog.root} with {extractor.spec.label} in {out}", file=log, flush=True)
    build_index(catalog, out, extractor, progress=log is not None and log.isatty(),
                appearance_version=appearance_version)  # described as the index they go with
    return Index.load(out)
