"""The index folder's files on disk: the one place that writes and reads them (the manifest is
`recommender.manifest`).

An index folder holds:
  manifest.json   what was built, from what, with which model (written last: its presence means complete)
  vectors.npy     float32 (count, dim), loadable memory-mapped
  ids.json        the product ids, in vector order
  products.jsonl  one {"id", "image", "attributes"} line per vector, same order
  ann.faiss       optional: a FAISS approximate-search index over the vectors (see recommender.ann),
                  described by the manifest's "ann" entry (kind, parameters, FAISS version, digest)
  appearance.npz  format 3: each product's foreground colour histogram and pixel digest
                  (recommender.appearance), for colour ranking, colour tags and collapsing duplicates
  head.npz, hubness.npy   a trained index (python -m recommender train): its head and per-product hubness

Format 3 indexes hold unit vectors (`Manifest.normalized`), so Euclidean order is cosine order;
older folders still load and rank as they were built.

`write_index` and `read_index` are the storage half (as FAISS keeps `write_index` apart from the search).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.appearance import COLOUR_NAMES, Appearance
from recommender.atomic import TEMP_SUFFIX, atomic_write, fsync_dir
from recommender.catalog import Product
from recommender.errors import IndexFormatError
from recommender.manifest import MANIFEST, AnnInfo, Manifest, read_manifest, rebuild_hint, write_json

VECTORS, IDS, PRODUCTS = "vectors.npy", "ids.json", "products.jsonl"
ANN = "ann.faiss"
APPEARANCE, HEAD, HUBNESS = "appearance.npz", "head.npz", "hubness.npy"
DIGEST_ROWS = 64  # rows hashed (evenly spaced, plus the last) to tie an ANN file to its vectors
DTYPE = np.dtype("<f4")


@dataclass
class IndexFiles:
    """An index folder as read: its manifest, products and vectors (same order)."""

    path: Path
    manifest: Manifest
    products: list[Product]
    vectors: np.ndarray  # (count, dim) float32, memory-mapped unless read with mmap=False
    appearance: Appearance | None = None  # per product, same order (format 3)
    ids: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.ids = [p.id for p in self.products]


def _write_vectors(path: Path, blocks: Iterable[np.ndarray], count: int, dim: int) -> None:
    """vectors.npy from row blocks, one block in memory at a time, with plain writes.

    Plain writes (not a memory map over a sparse file) turn a full disk into an OSError the
    caller can report, where a memory map would kill the process with SIGBUS.
    """
    written = 0
    with atomic_write(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": np.lib.format.dtype_to_descr(DTYPE), "fortran_order": False, "shape": (count, dim)}
        )
        for block in blocks:
            block = np.ascontiguousarray(block, dtype=DTYPE)
            if block.ndim != 2 or block.shape[1] != dim:
                raise ValueError(f"a block of vectors has shape {block.shape}, not (n, {dim})")
            handle.write(block.tobytes())
            written += len(block)
        if written != count:
            raise ValueError(f"{written} vectors were written for a manifest that says {count}")


def write_index(out: Path, manifest: Manifest, products: Sequence[Product],
                vectors: np.ndarray | Iterable[np.ndarray], appearance: Appearance | None = None,
                extra_files: Mapping[str, bytes] | None = None) -> None:
    """Write an index folder; `vectors` is one (count, dim) array or an iterable of row blocks.

    `appearance` (same order as products) is required when the manifest says it is there;
    `extra_files` (e.g. a trained head) are written beside the vectors. manifest.json is removed
    first and written last, so a reader sees either a complete index or an unfinished one
    ("rerun the build"), never old vectors beside new products.
    """
    if len(products) != manifest.count:
        raise ValueError(f"{len(products)} products for a manifest that says {manifest.count}")
    if manifest.appearance != (appearance is not None) or (appearance is not None and len(appearance) != manifest.count):
        raise ValueError("the appearance of every product must be given exactly when the manifest says it is there")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    blocks = [vectors] if isinstance(vectors, np.ndarray) else vectors
    _write_vectors(out / VECTORS, blocks, manifest.count, manifest.dim)
    write_json(out / IDS, [p.id for p in products])
    with atomic_write(out / PRODUCTS) as handle:
        for product in products:
            record = {"id": product.id, "image": str(product.image), "attributes": product.attributes}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    if appearance is not None:
        with atomic_write(out / APPEARANCE, "wb") as handle:
            np.savez(handle, colours=appearance.colours.astype(DTYPE), digests=appearance.digests.astype(str),
                     blank=appearance.blank.astype(bool))
    for name, data in (extra_files or {}).items():
        with atomic_write(out / name, "wb") as handle:
            handle.write(data)
    write_json(out / MANIFEST, manifest.to_json())


def _product(record: Any) -> Product:
    attributes = {str(k): str(v) for k, v in record["attributes"].items()}
    return Product(id=str(record["id"]), image=Path(record["image"]), attributes=attributes)


def read_index(path: str | Path, *, mmap: bool = True) -> IndexFiles:
    """Open an index folder, checking that its files agree with its manifest."""
    path = Path(path)
    manifest = read_manifest(path)
    count, dim = manifest.count, manifest.dim

    def corrupt(detail: str) -> IndexFormatError:
        return IndexFormatError(f"Index {path} is incomplete or corrupt: {detail}; {rebuild_hint(path)}.")

    try:
        vectors = np.load(path / VECTORS, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise corrupt(f"vectors.npy cannot be read ({exc or 'empty file'})") from None
    if vectors.shape != (count, dim):
        raise corrupt(f"manifest says {count} vectors of {dim} dimensions but vectors.npy has shape "
                      f"{tuple(vectors.shape)}")
    if vectors.dtype != np.float32:
        raise corrupt(f"vectors.npy holds {vectors.dtype}, not float32")
    try:
        ids = json.loads((path / IDS).read_text(encoding="utf-8"))
        lines = (path / PRODUCTS).read_text(encoding="utf-8").splitlines()
        products = [_product(json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: not objects
        raise corrupt(f"ids.json or products.jsonl cannot be read ({exc})") from None
    if not isinstance(ids, list):
        raise corrupt("ids.json does not hold a list of ids")
    if len(ids) != count:
        raise corrupt(f"manifest says {count} vectors but ids.json has {len(ids)} ids")
    if len(products) != count:
        raise corrupt(f"manifest says {count} vectors but products.jsonl has {len(products)} products")
    if [p.id for p in products] != ids:
        raise corrupt("ids.json and products.jsonl list different products")
    if len(set(ids)) != count:
        raise corrupt("ids.json has duplicate ids")
    appearance = _read_appearance(path / APPEARANCE, count, corrupt) if manifest.appearance else None
    return IndexFiles(path, manifest, products, vectors, appearance)


def read_hubness(path: str | Path, count: int) -> np.ndarray | None:
    """hubness.npy of a trained index folder, checked (None when the folder has none)."""
    path = Path(path)
    if not (path / HUBNESS).exists():
        return None
    try:
        hubness = np.load(path / HUBNESS, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexFormatError(f"Index {path} is corrupt: {HUBNESS} cannot be read ({exc or 'empty file'}); "
                               "train it again.") from None
    if hubness.shape != (count,) or not np.isfinite(hubness).all():
        raise IndexFormatError(f"Index {path} is corrupt: {HUBNESS} does not hold one finite value per product; "
                               "train it again.")
    return hubness.astype(np.float32)


def _read_appearance(path: Path, count: int, corrupt: Any) -> Appearance:
    try:
        with np.load(path, allow_pickle=False) as data:
            appearance = Appearance(data["colours"], data["digests"], data["blank"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise corrupt(f"{APPEARANCE} cannot be read ({exc or 'empty file'})") from None
    if appearance.colours.shape != (count, len(COLOUR_NAMES)) or len(appearance.digests) != count \
            or len(appearance.blank) != count:
        raise corrupt(f"{APPEARANCE} does not describe its {count} products")
    if not np.isfinite(appearance.colours).all():
        raise corrupt(f"{APPEARANCE} holds NaN or infinite colours")
    return appearance


# ---------------------------------------------------------------- the approximate-search index


def vectors_digest(vectors: np.ndarray) -> str:
    """A fingerprint of a (count, dim) array from a few rows: cheap on a 50 GB file, and it changes when
    the vectors are rebuilt (another model, another catalogue), so a stale ANN file is caught."""
    import hashlib

    count = len(vectors)
    digest = hashlib.sha256(f"{count}x{vectors.shape[1]}".encode())
    if count:
        rows = np.unique(np.linspace(0, count - 1, num=min(count, DIGEST_ROWS)).astype(np.int64))
        digest.update(np.ascontiguousarray(vectors[rows], dtype=DTYPE).tobytes())
    return digest.hexdigest()[:32]


def _ann_hint(path: Path) -> str:
    return f"rebuild it with python -m recommender ann --index {path} (or build with --ann none to search exactly)"


def write_ann(path: Path, faiss_index: Any, info: AnnInfo) -> Manifest:
    """Store a FAISS index beside the vectors of the index folder at `path` and record it in the manifest.

    The file is written under a temp name and renamed, then the manifest is replaced: a reader sees the
    old ANN (or none) or the new one, never a half-written file.
    """
    import faiss

    path = Path(path)
    manifest = read_manifest(path)
    if (info.count, info.dim) != (manifest.count, manifest.dim):
        raise ValueError(f"an ANN of {info.count}x{info.dim} for an index of {manifest.count}x{manifest.dim}")
    target = path / ANN
    tmp = target.with_name(f".{ANN}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        faiss.write_index(faiss_index, str(tmp))  # FAISS writes by file name (no Python handle to flush)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(path)
    except RuntimeError as exc:  # FAISS reports a full disk as a RuntimeError
        raise OSError(f"the approximate-search file could not be written: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    from dataclasses import replace

    manifest = replace(manifest, ann=info)
    write_json(path / MANIFEST, manifest.to_json())
    return manifest


def read_ann(path: Path, manifest: Manifest, vectors: np.ndarray) -> Any:
    """The FAISS index recorded in the manifest, checked against the vectors it must describe.

    Any mismatch (another build's vectors, a truncated file, a file FAISS cannot read, e.g. from
    another version) is an IndexFormatError with a rebuild hint, never a wrong answer.
    """
    info = manifest.ann
    if info is None:
        return None
    path = Path(path)
    hint = _ann_hint(path)
    if (info.count, info.dim) != (manifest.count, manifest.dim) or info.digest != vectors_digest(vectors):
        raise IndexFormatError(f"The approximate-search file of index {path} does not match its vectors (they were "
                               f"rebuilt after it); {hint}.")
    try:
        import faiss
    except ImportError:
        raise IndexFormatError(f"Index {path} has an approximate-search file but the faiss-cpu package is not "
                               "installed; install it with pip install -r requirements.txt.") from None
    try:
        ann = faiss.read_index(str(path / ANN))
    except (RuntimeError, OSError) as exc:
        first = (str(exc).strip().splitlines() or ["unreadable"])[-1][:200]
        raise IndexFormatError(f"The approximate-search file of index {path} cannot be read by FAISS "
                               f"{faiss.__version__} (it was written by FAISS {info.faiss_version}: {first}); "
                               f"{hint}.") from None
    if ann.ntotal != info.count or ann.d != info.dim:
        raise IndexFormatError(f"The approximate-search file of index {path} holds {ann.ntotal} vectors of {ann.d} "
                               f"dimensions, not {info.count} of {info.dim}; {hint}.")
    return ann


def remove_ann(path: Path) -> None:
    """Drop the approximate-search index (manifest entry first, then the file): exact search from then on."""
    from dataclasses import replace

    path = Path(path)
    manifest = read_manifest(path)
    if manifest.ann is not None:
        write_json(path / MANIFEST, replace(manifest, ann=None).to_json())
    (path / ANN).unlink(missing_ok=True)
