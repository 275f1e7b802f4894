"""Catalogue -> embedding index: a streaming, resumable, atomic build.

The pipeline is reader -> mapper -> writer. The reader decodes and resizes images in a thread
pool (Pillow releases the GIL) and keeps a few batches ahead of the model; the mapper runs the
extractor in batches; the writer stores every `chunk_size` products as `.build/chunk-NNNNN.npz`.
A rerun with the same inputs skips finished chunks, so a killed build continues where it stopped
and ends with exactly the files an uninterrupted build writes. Only a few batches of images are
ever in memory, so a 44k-image catalogue streams.

Index folder format (read by `recommender.index.Index`):
  manifest.json   what was built, from what, with what (written last: its presence means complete)
  vectors.npy     float32 (count, dim), loadable memory-mapped
  ids.json        the count product ids, in vector order
  products.jsonl  one {"id", "image", "attributes"} line per vector, same order
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from recommender.atomic import atomic_write
from recommender.catalog import Catalog, Skipped
from recommender.errors import CatalogError, RecommenderError
from recommender.images import load_for_model

if TYPE_CHECKING:  # the backbones module imports TensorFlow; only its Protocol is needed here
    from recommender.backbones import Extractor

__all__ = ["FORMAT_VERSION", "UNREADABLE", "build_index", "embed_sources", "embed_one"]

FORMAT_VERSION = 1
UNREADABLE = "unreadable image"
BUILD_DIR = ".build"
PLAN_FILE = "plan.json"
PREFETCH_BATCHES = 2  # batches decoded ahead of the one the model is running on

Source = Path | bytes


@dataclass
class _Timings:
    """Where the time went, to tell a slow disk/CPU decode from a slow model."""

    read_work: float = 0.0  # decode + resize, summed over reader threads
    read_wait: float = 0.0  # time the model waited for decoded images
    model: float = 0.0
    write: float = 0.0


@dataclass
class _Batch:
    """One decoded batch: the images that loaded, their positions in the batch, and the failures."""

    pixels: np.ndarray  # uint8 (n_ok, h, w, 3)
    ok: list[int]
    failures: list[tuple[int, str]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# reader


def _read_one(source: Source, size: tuple[int, int]) -> tuple[np.ndarray | None, str | None, float]:
    start = time.perf_counter()
    try:
        pixels = load_for_model(source, size)
    except Exception as exc:  # noqa: BLE001 - any decode failure skips this image, never the whole build
        return None, str(exc) or type(exc).__name__, time.perf_counter() - start
    return pixels, None, time.perf_counter() - start


def _decoded_batches(
    batches: Iterable[Sequence[Source]],
    size: tuple[int, int],
    workers: int | None,
    timings: _Timings,
) -> Iterator[_Batch]:
    """Decode batches in a thread pool, keeping PREFETCH_BATCHES batches in flight ahead."""
    height, width = size
    pending: deque[list[Future]] = deque()
    batch_iter = iter(batches)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:

        def submit_next() -> None:
            batch = next(batch_iter, None)
            if batch is not None:
                pending.append([pool.submit(_read_one, source, size) for source in batch])

        try:
            for _ in range(PREFETCH_BATCHES + 1):
                submit_next()
            while pending:
                futures = pending.popleft()
                submit_next()
                start = time.perf_counter()
                results = [future.result() for future in futures]
                timings.read_wait += time.perf_counter() - start
                ok = [i for i, (pixels, _, _) in enumerate(results) if pixels is not None]
                failures = [(i, error) for i, (_, error, _) in enumerate(results) if error is not None]
                timings.read_work += sum(seconds for _, _, seconds in results)
                pixels = (
                    np.stack([results[i][0] for i in ok])
                    if ok
                    else np.empty((0, height, width, 3), dtype=np.uint8)
                )
                yield _Batch(pixels, ok, failures)
        finally:  # interrupted: drop queued decodes, let the few running ones finish
            for futures in pending:
                for future in futures:
                    future.cancel()


def _embed(extractor: Extractor, pixels: np.ndarray, timings: _Timings) -> np.ndarray:
    start = time.perf_counter()
    if len(pixels):
        vectors = np.asarray(extractor.embed(pixels), dtype=np.float32)
    else:
        vectors = np.empty((0, extractor.dim), dtype=np.float32)
    timings.model += time.perf_counter() - start
    return vectors


# --------------------------------------------------------------------------------------------
# public embedding helpers (query side)


def embed_sources(
    extractor: Extractor,
    sources: Sequence[Source],
    *,
    batch_size: int = 32,
    workers: int | None = None,
) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """Embed many images: (vectors of those that loaded, their positions, (position, error) failures)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    timings = _Timings()
    groups = [sources[i : i + batch_size] for i in range(0, len(sources), batch_size)]
    parts: list[np.ndarray] = []
    ok_positions: list[int] = []
    failures: list[tuple[int, str]] = []
    with closing(_decoded_batches(groups, extractor.input_size, workers, timings)) as decoded:
        for offset, batch in zip(range(0, len(sources), batch_size), decoded):
            parts.append(_embed(extractor, batch.pixels, timings))
            ok_positions.extend(offset + i for i in batch.ok)
            failures.extend((offset + i, error) for i, error in batch.failures)
    vectors = np.concatenate(parts) if parts else np.empty((0, extractor.dim), dtype=np.float32)
    return vectors, ok_positions, failures


def embed_one(extractor: Extractor, source: Source) -> np.ndarray:
    """Embed one image (an upload); raises ImageError with a sentence when it cannot be read."""
    pixels = load_for_model(source, extractor.input_size)
    return np.asarray(extractor.embed(pixels[np.newaxis]), dtype=np.float32)[0]


# --------------------------------------------------------------------------------------------
# atomic files


def _write_json(path: Path, data: object) -> None:
    with atomic_write(path) as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.write("\n")


# --------------------------------------------------------------------------------------------
# build


def _chunk_path(work: Path, number: int) -> Path:
    return work / f"chunk-{number:05d}.npz"


@dataclass(frozen=True)
class _Chunk:
    """A finished chunk file and what it holds; its vectors stay on disk until the final join."""

    path: Path
    ids: list[str]
    skipped: list[str]  # ids of unreadable images

    def vectors(self) -> np.ndarray:
        with np.load(self.path, allow_pickle=False) as data:
            return data["vectors"]


def _load_chunk(path: Path, expected_ids: list[str], dim: int) -> _Chunk | None:
    """A finished chunk, or None when it is absent or does not match the plan (then it is redone)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, skipped, vectors = data["ids"].tolist(), data["skipped"].tolist(), data["vectors"]
    except (OSError, ValueError, KeyError):
        return None
    unreadable = set(skipped)
    if (
        vectors.shape != (len(ids), dim)
        or vectors.dtype != np.float32
        or ids != [i for i in expected_ids if i not in unreadable]
    ):
        return None
    return _Chunk(path, ids, skipped)


def _start_or_resume(work: Path, plan: dict[str, Any], say: Callable[[str], None]) -> None:
    """Keep `.build` when it holds an unfinished build of these exact inputs, else start it afresh."""
    plan_path = work / PLAN_FILE
    try:
        previous = json.loads(plan_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if previous == plan:
        return
    if previous is not None:
        say(f"{work} holds an unfinished build of other inputs (catalogue, backbone, weights or chunk size "
            "differ); starting over.")
    for child in work.iterdir():  # chunks without a matching plan cannot be trusted
        if child.name != "lock":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    _write_json(plan_path, plan)


@contextmanager
def _build_lock(work: Path) -> Iterator[None]:
    """One build per index folder at a time; a second one gets a sentence, not corrupt chunks."""
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RecommenderError(
                f"Another build is writing to {work.parent}; wait for it to finish or use another --out."
            ) from None
        yield


def _summary(count: int, total: int, skipped: Counter[str], seconds: float, images: int,
             timings: _Timings, workers: int) -> str:
    skipped_text = ", ".join(f"{n} {reason}" for reason, n in skipped.most_common()) or "none"
    rate = images / seconds if seconds > 0 else 0.0
    return (
        f"indexed {count} of {total} products (skipped: {skipped_text}); embedded {images} images "
        f"this run at {rate:.1f} images/s in {seconds:.1f} s; reader {timings.read_work:.1f} s over "
        f"{workers} threads (model waited {timings.read_wait:.1f} s), model {timings.model:.1f} s, "
        f"writer {timings.write:.1f} s"
    )


def build_index(
    catalog: Catalog,
    out: str | Path,
    extractor: Extractor,
    *,
    batch_size: int = 32,
    chunk_size: int = 1024,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Embed every catalogue image into an index folder at `out`; return its manifest.

    Resumable: rerun after an interruption and finished chunks are kept. Atomic: each file is
    renamed into place complete, and `manifest.json` comes last.
    """
    if batch_size < 1 or chunk_size < 1:
        raise ValueError("batch_size and chunk_size must be at least 1")
    started = time.perf_counter()
    out = Path(out)
    work = out / BUILD_DIR
    workers = workers or os.cpu_count() or 1
    products = catalog.products
    duplicates = [i for i, n in Counter(p.id for p in products).items() if n > 1]
    if duplicates:
        raise CatalogError(f"The catalogue {catalog.root} has duplicate product ids, e.g. {duplicates[0]!r}.")
    plan = {
        "format_version": FORMAT_VERSION,
        "catalog_fingerprint": catalog.fingerprint(),
        "products": len(products),
        "backbone": extractor.name,
        "weights": extractor.weights,
        "input_size": list(extractor.input_size),
        "dim": extractor.dim,
        "chunk_size": chunk_size,
    }

    def say(message: str) -> None:
        tqdm.write(message, file=sys.stderr)

    timings = _Timings()
    with _build_lock(work):
        _start_or_resume(work, plan, say)
        n_chunks = math.ceil(len(products) / chunk_size)
        chunk_ids = [[p.id for p in products[c * chunk_size : (c + 1) * chunk_size]] for c in range(n_chunks)]
        chunks: list[_Chunk | None] = [
            _load_chunk(_chunk_path(work, c), chunk_ids[c], extractor.dim) for c in range(n_chunks)
        ]
        todo = [c for c in range(n_chunks) if chunks[c] is None]
        if len(todo) < n_chunks:
            say(f"Resuming the build in {out}: {n_chunks - len(todo)} of {n_chunks} chunks already done.")
        images_todo = sum(len(chunk_ids[c]) for c in todo)

        # One batch never spans two chunks, so each chunk is written as soon as its last batch is embedded.
        specs = [
            (c, start)
            for c in todo
            for start in range(c * chunk_size, min((c + 1) * chunk_size, len(products)), batch_size)
        ]

        def batch_products(c: int, start: int) -> list:
            return products[start : min(start + batch_size, (c + 1) * chunk_size, len(products))]

        groups = ([p.image for p in batch_products(c, start)] for c, start in specs)
        bar = tqdm(
            total=len(products),
            initial=len(products) - images_todo,
            unit="img",
            desc="embedding",
            disable=not progress,
            dynamic_ncols=True,
            smoothing=0.05,
        )
        current: dict[str, list] = {"ids": [], "vectors": [], "skipped": []}
        with bar, closing(_decoded_batches(groups, extractor.input_size, workers, timings)) as decoded:
            for (c, start), batch in zip(specs, decoded):
                members = batch_products(c, start)
                vectors = _embed(extractor, batch.pixels, timings)
                current["ids"].extend(members[i].id for i in batch.ok)
                current["vectors"].append(vectors)
                current["skipped"].extend(members[i].id for i, _ in batch.failures)
                for i, error in batch.failures:
                    bar.write(f"skipped {members[i].id} ({members[i].image}): {error}", file=sys.stderr)
                bar.update(len(members))
                if start + len(members) == min((c + 1) * chunk_size, len(products)):  # chunk complete
                    write_start = time.perf_counter()
                    chunks[c] = _save_chunk(_chunk_path(work, c), current, extractor.dim)
                    timings.write += time.perf_counter() - write_start
                    current = {"ids": [], "vectors": [], "skipped": []}

        write_start = time.perf_counter()
        manifest = _finalize(catalog, out, extractor, chunks, started)  # type: ignore[arg-type]
        timings.write += time.perf_counter() - write_start
        shutil.rmtree(work)
    skipped = Counter(manifest["skipped_counts"])
    say(_summary(manifest["count"], len(products), skipped, time.perf_counter() - started,
                 images_todo, timings, workers))
    return manifest


def _save_chunk(path: Path, current: dict[str, list], dim: int) -> _Chunk:
    vectors = np.concatenate(current["vectors"]) if current["vectors"] else np.empty((0, dim), np.float32)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, ids=np.array(current["ids"], dtype=str), vectors=vectors,
                 skipped=np.array(current["skipped"], dtype=str))
    return _Chunk(path, current["ids"], current["skipped"])


def _finalize(
    catalog: Catalog,
    out: Path,
    extractor: Extractor,
    chunks: list[_Chunk],
    started: float,
) -> dict[str, Any]:
    """Join the chunks into the index files; manifest.json is removed first and written last."""
    ids = [i for chunk in chunks for i in chunk.ids]
    unreadable = [i for chunk in chunks for i in chunk.skipped]
    if not ids:
        raise CatalogError(
            f"None of the {len(catalog.products)} images of the catalogue {catalog.root} could be read."
        )
    (out / "manifest.json").unlink(missing_ok=True)  # from here on the folder reads as unfinished

    tmp_vectors = out / ".vectors.npy.tmp"
    matrix = np.lib.format.open_memmap(tmp_vectors, mode="w+", dtype=np.float32, shape=(len(ids), extractor.dim))
    row = 0
    for chunk in chunks:  # one chunk in memory at a time: the whole matrix never is
        vectors = chunk.vectors()
        matrix[row : row + len(vectors)] = vectors
        row += len(vectors)
    matrix.flush()
    del matrix
    with open(tmp_vectors, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp_vectors, out / "vectors.npy")

    _write_json(out / "ids.json", ids)
    by_id = {p.id: p for p in catalog.products}
    with atomic_write(out / "products.jsonl") as handle:
        for product_id in ids:
            product = by_id[product_id]
            record = {"id": product.id, "image": str(product.image), "attributes": product.attributes}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    skipped = list(catalog.skipped) + [Skipped(ref=i, reason=UNREADABLE) for i in unreadable]
    manifest = {
        "format_version": FORMAT_VERSION,
        "backbone": extractor.name,
        "weights": extractor.weights,
        "input_size": list(extractor.input_size),
        "dim": extractor.dim,
        "count": len(ids),
        "dtype": "float32",
        "catalog": {
            "path": str(Path(catalog.root).resolve()),
            "layout": catalog.layout,
            "fingerprint": catalog.fingerprint(),
            "products": len(catalog.products),
        },
        "skipped": [{"ref": s.ref, "reason": s.reason} for s in skipped],
        "skipped_counts": dict(Counter(s.reason for s in skipped)),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    _write_json(out / "manifest.json", manifest)
    return manifest
