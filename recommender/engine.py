"""The recommender the app and the CLI talk to: an index plus the extractor that embeds queries.

The extractor is loaded lazily, once, from the backbone and weights recorded in the index's
manifest, so "more like this" by id never pays for loading TensorFlow, and a query photo is
always embedded exactly like the catalogue was.
"""

from __future__ import annotations

import fcntl
import sys
import threading
from collections.abc import Collection, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from recommender.embeddings import build_index, embed_one
from recommender.errors import IndexFormatError, RecommenderError, WeightsUnavailable
from recommender.index import Hit, Index, same_backbone
from recommender.settings import Settings

if TYPE_CHECKING:
    from recommender.backbones import Extractor

__all__ = ["Recommender", "ensure_demo_index"]

Filters = Mapping[str, Collection[str]] | None


class Recommender:
    """Query an index by photo, by catalogue id or by vector."""

    def __init__(self, index: Index, extractor: Extractor | None = None) -> None:
        if extractor is not None:
            index.check_compatible(extractor)
        self.index = index
        self._extractor = extractor
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: str | Path, *, extractor: Extractor | None = None) -> "Recommender":
        return cls(Index.load(index_dir), extractor)

    @property
    def extractor(self) -> Extractor:
        """The index's own backbone, loaded on first use (once, even with concurrent requests)."""
        with self._lock:
            if self._extractor is None:
                from recommender.backbones import load_extractor  # imports TensorFlow: only when needed

                extractor = load_extractor(self.index.manifest["backbone"], self.index.manifest["weights"])
                self.index.check_compatible(extractor)
                self._extractor = extractor
            return self._extractor

    @property
    def random_weights(self) -> bool:
        """True when the index was built with random weights: rankings are not meaningful."""
        return self.index.manifest["weights"] == "none"

    def embed(self, source: bytes | Path) -> np.ndarray:
        """Embed a photo (upload bytes or a path); ImageError with a sentence when unreadable."""
        return embed_one(self.extractor, source)

    def query_image(self, source: bytes | Path, k: int = 10, filters: Filters = None) -> list[Hit]:
        return self.query_vector(self.embed(source), k, filters)

    def query_id(self, product_id: str, k: int = 10, filters: Filters = None) -> list[Hit]:
        """More like this catalogue product, leaving the product itself out."""
        try:
            vector = self.index.vector(product_id)
        except KeyError:
            raise RecommenderError(f"No product with id {product_id!r} in the index {self.index.path}.") from None
        return self.query_vector(vector, k, filters, exclude=(product_id,))

    def query_vector(self, vector: np.ndarray, k: int = 10, filters: Filters = None,
                     exclude: Collection[str] = ()) -> list[Hit]:
        return self.index.search(vector, k, filters, exclude)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise demo set-up across processes (e.g. several gunicorn workers starting at once)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _extractor_identity(backbone: str, weights: str) -> tuple[str, str]:
    """The (name, weights) that load_extractor(backbone, weights) reports, without loading a model."""
    if backbone.lower().endswith(".tflite"):  # a TFLite file is its own weights
        path = Path(weights if weights.lower().endswith(".tflite") else backbone).expanduser().resolve()
        return path.name, str(path)
    if weights.lower() in ("imagenet", "none"):
        return backbone.lower(), weights.lower()
    return backbone.lower(), str(Path(weights).expanduser().resolve())


def _fallback_notice(settings: Settings, exc: WeightsUnavailable) -> str:
    """Why the demo runs on random weights, in the app's terms (environment variables, not CLI flags)."""
    if settings.weights.lower() == "imagenet":
        why = f"The ImageNet weights for {settings.backbone} cannot be downloaded (no network?)"
    else:
        why = str(exc).rstrip(".")
    return (f"{why}, so the demo index is built with random weights and its ranking is not meaningful; for real "
            "weights set RECOMMENDER_WEIGHTS=PATH.h5 or RECOMMENDER_BACKBONE=PATH.tflite, or serve an index built "
            "with a TFLite extractor: python app.py --index DIR.")


def ensure_demo_index(settings: Settings) -> Path:
    """The demo index, made on first use: demo catalogue written if missing, index built or reused."""
    from recommender.catalog import load_catalog
    from recommender.demo import write_demo_catalog

    with _exclusive(settings.demo_index.parent / f".{settings.demo_index.name}.lock"):
        if not (settings.demo_catalog / "styles.csv").exists():
            write_demo_catalog(settings.demo_catalog)
        catalog = load_catalog(settings.demo_catalog)
        try:
            manifest = Index.load(settings.demo_index).manifest
        except IndexFormatError:
            manifest = None
        if manifest is not None and manifest["catalog"]["fingerprint"] == catalog.fingerprint():
            built = (manifest["backbone"], manifest["weights"])
            wanted = _extractor_identity(settings.backbone, settings.weights)
            if same_backbone(built, wanted) or same_backbone(built, (wanted[0], "none")):  # "none": offline fallback
                return settings.demo_index

        from recommender.backbones import load_extractor  # imports TensorFlow: only when building

        try:
            extractor = load_extractor(settings.backbone, settings.weights)
        except WeightsUnavailable as exc:
            print(_fallback_notice(settings, exc), file=sys.stderr)
            extractor = load_extractor(settings.backbone, "none")
        build_index(catalog, settings.demo_index, extractor, progress=sys.stderr.isatty())
        return settings.demo_index
