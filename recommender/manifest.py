"""The index manifest (manifest.json): what an index holds and how it was made, typed and validated on
load, so no other module reads a raw dict.

The manifest is written last when a folder is built (its presence means complete); format 1 folders
(written before the manifest named its model as one object) still load. The folder's other files are
`recommender.index_files`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.appearance import APPEARANCE_VERSION
from recommender.atomic import atomic_write
from recommender.catalog import Skipped
from recommender.errors import IndexFormatError
from recommender.model_spec import ModelSpec

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MANIFEST = "manifest.json"
BUILD_DIR = ".build"  # where an unfinished build keeps its chunks (see recommender.build)


@dataclass(frozen=True)
class CatalogInfo:
    """The catalogue an index was built from: where, which layout, which version (fingerprint)."""

    path: str
    layout: str
    fingerprint: str
    products: int

    @property
    def identity(self) -> str:
        """Which catalogue this is, for keying shoppers' votes: its resolved path at build time.

        Unchanged when an index of the same catalogue is rebuilt (another model, a trained head),
        different for another catalogue (the demo, the Kaggle set). Not its fingerprint: adding a
        product to a catalogue must not orphan its votes.
        """
        return self.path


@dataclass(frozen=True)
class AnnInfo:
    """The FAISS index beside the vectors: which kind, built how, by which FAISS, over which vectors."""

    kind: str  # "hnsw" | "ivfpq"
    params: dict[str, Any]
    faiss_version: str
    count: int
    dim: int
    digest: str  # vectors_digest of the vectors it was built from
    build_seconds: float = 0.0

    @classmethod
    def from_json(cls, data: Any) -> "AnnInfo":
        if not isinstance(data, dict) or data.get("kind") not in ("hnsw", "ivfpq"):
            raise ValueError("its ann entry is not an object with kind hnsw or ivfpq")
        if not isinstance(data.get("params"), dict):
            raise ValueError("its ann parameters are not an object")
        return cls(kind=data["kind"], params=dict(data["params"]), faiss_version=str(data.get("faiss_version", "")),
                   count=_count(data.get("count"), "ann count", 0), dim=_count(data.get("dim"), "ann dim", 1),
                   digest=str(data.get("digest", "")), build_seconds=float(data.get("build_seconds", 0.0)))


@dataclass(frozen=True)
class Holdout:
    """Which products a trained head never saw: a fixed share, chosen by hashing (seed, id).

    Recomputable by anyone from the manifest alone, stable when products are added, and the same
    product is held out by every training run with the same seed.
    """

    fraction: float
    seed: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction < 1.0:
            raise ValueError(f"the held-out fraction must be from 0 to below 1, not {self.fraction}")

    def contains(self, product_id: str) -> bool:
        import hashlib

        digest = hashlib.sha256(f"{self.seed}:{product_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.fraction

    def mask(self, ids: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.contains(i) for i in ids), dtype=bool, count=len(ids))


@dataclass(frozen=True)
class Manifest:
    """What an index holds and how it was made."""

    model: ModelSpec
    input_size: tuple[int, int]  # (height, width) the model's images were resized to
    dim: int
    count: int
    catalog: CatalogInfo
    skipped: tuple[Skipped, ...] = ()
    created: str = ""  # UTC, ISO 8601
    build_seconds: float = 0.0
    format_version: int = FORMAT_VERSION
    ann: AnnInfo | None = None  # an approximate-search index stored beside the vectors
    normalized: bool = False  # unit vectors (format 3 builds): Euclidean order is cosine order
    appearance: bool = False  # appearance.npz holds each product's colour histogram and pixel digest
    appearance_version: int = APPEARANCE_VERSION  # how those histograms were computed (1: before it was recorded)
    computed: tuple[str, ...] = ()  # attributes computed at build (e.g. "colour"), not the catalogue's own
    holdout: Holdout | None = None  # products a trained head never saw: what evaluate scores by default

    @property
    def random_weights(self) -> bool:
        """Built with random weights: its ranking is not meaningful."""
        return self.model.random

    def skipped_counts(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "model": self.model.to_json(),
            "input_size": list(self.input_size),
            "dim": self.dim,
            "count": self.count,
            "dtype": "float32",
            "catalog": vars(self.catalog),
            "skipped": [{"ref": s.ref, "reason": s.reason} for s in self.skipped],
            "skipped_counts": self.skipped_counts(),
            "created": self.created,
            "build_seconds": self.build_seconds,
            **({"ann": vars(self.ann)} if self.ann else {}),
            "normalized": self.normalized,
            "appearance": self.appearance,
            "appearance_version": self.appearance_version,
            "computed": list(self.computed),
            "holdout": vars(self.holdout) if self.holdout else None,
        }

    @classmethod
    def from_json(cls, data: Any) -> "Manifest":
        """A validated manifest; ValueError (with what is wrong) for anything else."""
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"format version {version!r} is not one this program reads ({READABLE_VERSIONS})")
        if version == 1:
            model = ModelSpec.from_json({"backbone": data.get("backbone"), "weights": data.get("weights")})
        else:
            model = ModelSpec.from_json(data.get("model"))
        catalog = data.get("catalog")
        if not isinstance(catalog, dict):
            raise ValueError("its catalog is not an object")
        input_size = data.get("input_size")
        if not (isinstance(input_size, list) and len(input_size) == 2):
            raise ValueError("its input_size is not [height, width]")
        skipped = data.get("skipped", [])
        if not isinstance(skipped, list):
            raise ValueError("its skipped list is not a list")
        return cls(
            model=model,
            input_size=(_count(input_size[0], "input height", 1), _count(input_size[1], "input width", 1)),
            dim=_count(data.get("dim"), "dim", 1),
            count=_count(data.get("count"), "count", 0),
            catalog=CatalogInfo(
                path=str(catalog.get("path", "")),
                layout=str(catalog.get("layout", "")),
                fingerprint=str(catalog.get("fingerprint", "")),
                products=_count(catalog.get("products", 0), "catalog products", 0),
            ),
            skipped=tuple(Skipped(str(s["ref"]), str(s["reason"])) for s in skipped),
            created=str(data.get("created", "")),
            build_seconds=float(data.get("build_seconds", 0.0)),
            format_version=version,
            ann=AnnInfo.from_json(data["ann"]) if data.get("ann") is not None else None,
            normalized=data.get("normalized", False) is True,
            appearance=data.get("appearance", False) is True,
            appearance_version=_count(data.get("appearance_version", 1), "appearance version", 1),
            computed=_texts(data.get("computed", []), "computed attributes"),
            holdout=_holdout(data.get("holdout")),
        )


def _texts(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"its {what} are not a list of texts")
    return tuple(value)


def _holdout(value: Any) -> Holdout | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("fraction"), (int, float)):
        raise ValueError("its holdout is not an object with a fraction and a seed")
    return Holdout(float(value["fraction"]), _count(value.get("seed"), "holdout seed", 0))


def _count(value: Any, what: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"its {what} is {value!r}, not a whole number from {least}")
    return value


def write_json(path: Path, data: object) -> None:
    """A JSON file, replaced atomically."""
    with atomic_write(path) as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


def read_manifest(path: Path) -> Manifest:
    """The validated manifest of the index folder at `path` (IndexFormatError with a sentence otherwise)."""
    path = Path(path)
    rebuild = rebuild_hint(path)
    if not path.is_dir():
        raise IndexFormatError(f"There is no index at {path}; build one with python -m recommender build "
                               f"--catalog DIR --out {path}.")
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        if (path / BUILD_DIR).exists():
            raise IndexFormatError(f"The index build in {path} has not finished; rerun the build command to "
                                   "resume it.")
        raise IndexFormatError(f"{path} is not an index (no manifest.json); {rebuild}.")
    try:
        return Manifest.from_json(json.loads(manifest_path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(f"The manifest of index {path} is unreadable ({exc}); {rebuild}.") from None


def rebuild_hint(path: Path) -> str:
    """The sentence's remedy for an index folder that cannot be used."""
    return f"rebuild it with python -m recommender build --catalog DIR --out {path}"
