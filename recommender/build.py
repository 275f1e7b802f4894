"""Catalogue -> index folder: a resumable build, chunk by chunk, then one atomic write.

The catalogue is cut into chunks of `chunk_size` products. Each chunk runs reader -> mapper
(`recommender.pipeline`) -> writer (`.build/chunk-NNNNN.npz`, atomically) on its own, so the same
chunk worker can run in this process or on any other machine; a rerun with the same inputs keeps
finished chunks, so a killed build continues where it stopped and ends with exactly the files an
uninterrupted build writes. Only a few batches of images are ever in memory. When every chunk is
done, `recommender.index_files.write_index` joins them into the index folder.
"""

from __future__ import annotations

import fcntl
import math
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from recommender.appearance import APPEARANCE_VERSION, COLOUR_NAMES, Appearance, colour_names, describe
from recommender.atomic import TEMP_SUFFIX, atomic_write
from recommender.catalog import Catalog, Product, Skipped, without_category
from recommender.errors import CatalogError, RecommenderError
from recommender.index_files import write_index
from recommender.known_vectors import KnownVectors
from recommender.manifest import BUILD_DIR, FORMAT_VERSION, CatalogInfo, Manifest, write_json
from recommender.pipeline import Mapper, Reader, StageTimes
from recommender.roles import Roles
from recommender.vectors import unit_rows

if TYPE_CHECKING:
    from recommender.backbones import Extractor

__all__ = ["UNREADABLE", "BLANK", "COMPUTED_COLOUR", "COMPUTED_NAME", "ChunkPlan", "Chunk", "embed_chunk", "build_index"]

UNREADABLE = "unreadable image"
BLANK = "blank image"  # (almost) no pixel away from the border colour: nothing a shopper could want
COMPUTED_COLOUR = "colour"  # the attribute a catalogue without colours gets from its pictures
COMPUTED_NAME = "name"  # the attribute a generated name goes into when the catalogue has no name column
PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class ChunkPlan:
    """One unit of work and of resumption: a numbered slice of the catalogue's products."""

    number: int
    products: tuple[Product, ...]

    def path(self, work: Path) -> Path:
        return work / f"chunk-{self.number:05d}.npz"


@dataclass(frozen=True)
class Chunk:
    """A finished chunk file and what it holds; its vectors stay on disk until the final join."""

    path: Path
    ids: list[str]
    skipped: list[str]  # ids of unreadable images
    blank: list[str]  # ids of blank images (left out of the index, counted)

    def vectors(self) -> np.ndarray:
        with np.load(self.path, allow_pickle=False) as data:
            return data["vectors"]

    def appearance(self) -> Appearance:
        with np.load(self.path, allow_pickle=False) as data:
            return Appearance(data["colours"], data["digests"], np.zeros(len(self.ids), dtype=bool))


def plan_chunks(products: Sequence[Product], chunk_size: int) -> list[ChunkPlan]:
    return [ChunkPlan(c, tuple(products[c * chunk_size : (c + 1) * chunk_size]))
            for c in range(math.ceil(len(products) / chunk_size))]


def load_chunk(plan: ChunkPlan, work: Path, dim: int) -> Chunk | None:
    """A finished chunk, or None when it is absent or does not match the plan (then it is redone)."""
    path = plan.path(work)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, skipped, blank = data["ids"].tolist(), data["skipped"].tolist(), data["blank"].tolist()
            vectors, colours, digests = data["vectors"], data["colours"], data["digests"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    left_out = set(skipped) | set(blank)
    expected = [p.id for p in plan.products if p.id not in left_out]
    if vectors.shape != (len(ids), dim) or vectors.dtype != np.float32 or ids != expected \
            or colours.shape != (len(ids), len(COLOUR_NAMES)) or len(digests) != len(ids):
        return None
    return Chunk(path, ids, skipped, blank)


def embed_chunk(
    plan: ChunkPlan,
    work: Path,
    reader: Reader,
    mapper: Mapper,
    *,
    batch_size: int,
    times: StageTimes,
    on_batch: Callable[[int, list[tuple[Product, str]]], None] = lambda n, failures: None,
    appearance_version: int = APPEARANCE_VERSION,
    known: KnownVectors | None = None,
) -> Chunk:
    """Embed one chunk's images and write its chunk file atomically (the writer stage).

    Vectors are stored as unit vectors, beside each picture's appearance (colour, digest); blank
    pictures are left out and listed. `on_batch(images_done, [(product, error), ...])` reports
    progress and unreadable images. A picture `known` holds (the index being replaced) takes its vector from there.
    """
    products = plan.products
    groups = [products[i : i + batch_size] for i in range(0, len(products), batch_size)]
    ids: list[str] = []
    skipped: list[str] = []
    blank: list[str] = []
    parts: list[np.ndarray] = []
    looks: list[Appearance] = []
    with closing(reader.batches(([p.image for p in g] for g in groups), times)) as decoded:
        for members, batch in zip(groups, decoded):
            appearance = describe(batch.pixels, appearance_version)
            vectors = unit_rows(mapper(batch.pixels, times) if known is None else
                                known.vectors_for(appearance.digests, lambda pixels: mapper(pixels, times),
                                                  batch.pixels))
            keep = ~appearance.blank
            parts.append(vectors[keep])
            looks.append(appearance.take(np.flatnonzero(keep)))
            ids.extend(members[i].id for i, kept in zip(batch.ok, keep) if kept)
            blank.extend(members[i].id for i, kept in zip(batch.ok, keep) if not kept)
            failed = [(members[i], error) for i, error in batch.failures]
            skipped.extend(p.id for p, _ in failed)
            on_batch(len(members), failed)
    start = time.perf_counter()
    vectors = np.concatenate(parts) if parts else np.empty((0, mapper.extractor.dim), np.float32)
    appearance = Appearance.concat(looks)
    path = plan.path(work)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, ids=np.array(ids, dtype=str), vectors=vectors, skipped=np.array(skipped, dtype=str),
                 blank=np.array(blank, dtype=str), colours=appearance.colours, digests=appearance.digests.astype(str))
    times.write += time.perf_counter() - start
    return Chunk(path, ids, skipped, blank)


def _start_or_resume(work: Path, plan: dict[str, Any], say: Callable[[str], None]) -> None:
    """Keep `.build` when it holds an unfinished build of these exact inputs, else start it afresh."""
    import json

    plan_path = work / PLAN_FILE
    try:
        previous = json.loads(plan_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if previous == plan:
        return
    if previous is not None:
        say(f"{work} holds an unfinished build of other inputs (catalogue, model or chunk size differ); "
            "starting over.")
    for child in work.iterdir():  # chunks without a matching plan cannot be trusted
        if child.name != "lock":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    write_json(plan_path, plan)


@contextmanager
def build_lock(out: Path) -> Iterator[Path]:
    """One writer per index folder at a time; a second one gets a sentence, not corrupt chunks.

    Yields the work folder (`out/.build`), where chunks and the plan live until the build ends.
    """
    work = out / BUILD_DIR
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RecommenderError(
                f"Another build is writing to {out}; wait for it to finish or use another --out."
            ) from None
        yield work


def remove_stale_temp_files(out: Path) -> None:
    """Temp files of writes that a kill -9 cut short (their process is gone; we hold the lock)."""
    for stale in out.glob(f".*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def _summary(manifest: Manifest, total: int, seconds: float, images: int, times: StageTimes, workers: int,
             noun: str = "products", reused: int = 0) -> str:
    """The one line a build ends with: what was indexed and skipped, and where the time went (each stage's)."""
    skipped = ", ".join(f"{n} {reason}" for reason, n in Counter(manifest.skipped_counts()).most_common()) or "none"
    rate = images / seconds if seconds > 0 else 0.0
    kept = f" ({reused:,} unchanged pictures kept from the index it replaces)" if reused else ""
    return (
        f"indexed {manifest.count} of {total} {noun} (skipped: {skipped}); embedded {images} images{kept} "
        f"this run at {rate:.1f} images/s in {seconds:.1f} s; reader {times.read_work:.1f} s over "
        f"{workers} threads (model waited {times.read_wait:.1f} s), model {times.model:.1f} s, "
        f"writer {times.write:.1f} s"
    )


def build_plan(catalog: Catalog, extractor: Extractor, chunk_size: int,
               appearance_version: int = APPEARANCE_VERSION) -> dict[str, Any]:
    """What a build's chunks depend on: a rerun with the same plan (any engine) keeps finished chunks."""
    duplicates = [i for i, n in Counter(p.id for p in catalog.products).items() if n > 1]
    if duplicates:
        raise CatalogError(f"The catalogue {catalog.root} has duplicate product ids, e.g. {duplicates[0]!r}.")
    return {
        "format_version": FORMAT_VERSION,
        "appearance_version": appearance_version,  # chunks hold histograms: another definition redoes them
        "catalog_fingerprint": catalog.fingerprint(),
        "products": len(catalog.products),
        "model": extractor.spec.to_json(),
        "input_size": list(extractor.input_size),
        "dim": extractor.dim,
        "chunk_size": chunk_size,
    }


def build_index(
    catalog: Catalog,
    out: str | Path,
    extractor: Extractor,
    *,
    batch_size: int = 32,
    chunk_size: int = 1024,
    workers: int | None = None,
    progress: bool = True,
    name: Callable[[Mapping[str, str]], str] | None = None,
    appearance_version: int = APPEARANCE_VERSION,
    noun: str = "products",
) -> Manifest:
    """Embed every catalogue image into an index folder at `out`; return its manifest.

    Resumable: rerun after an interruption and finished chunks are kept. Atomic: each file is
    renamed into place complete, and `manifest.json` comes last. `name` gives each product its name
    from its attributes, those computed from its picture included (the demo's: "Black dress, kids").
    `appearance_version` is the colour histograms' definition: an older one only for pictures compared with an
    index built under it (recommender.embedding_cache). `noun` names what the catalogue's rows are in the summary
    line (the demo's training views are no products a shopper can find).
    """
    if batch_size < 1 or chunk_size < 1:
        raise ValueError("batch_size and chunk_size must be at least 1")
    started = time.perf_counter()
    out = Path(out)
    workers = workers or os.cpu_count() or 1
    products = catalog.products
    run_plan = build_plan(catalog, extractor, chunk_size, appearance_version)

    def say(message: str) -> None:
        tqdm.write(message, file=sys.stderr)

    times = StageTimes()
    with build_lock(out) as work:
        _start_or_resume(work, run_plan, say)
        plans = plan_chunks(products, chunk_size)
        chunks: list[Chunk | None] = [load_chunk(plan, work, extractor.dim) for plan in plans]
        todo = [plan for plan, chunk in zip(plans, chunks) if chunk is None]
        if len(todo) < len(plans):
            say(f"Resuming the build in {out}: {len(plans) - len(todo)} of {len(plans)} chunks already done.")
        images_todo = sum(len(plan.products) for plan in todo)
        known, refused = KnownVectors.of(out, extractor) if todo else (None, "")
        if refused:
            say(f"The index in {out} gives no vectors to this build ({refused}): every picture is embedded.")
        reader, mapper = Reader(extractor.input_size, workers), Mapper(extractor)
        bar = tqdm(total=len(products), initial=len(products) - images_todo, unit="img", desc="embedding",
                   disable=not progress, dynamic_ncols=True, smoothing=0.05)

        def on_batch(done: int, failures: list[tuple[Product, str]]) -> None:
            for product, error in failures:
                bar.write(f"skipped {product.id} ({product.image}): {error}", file=sys.stderr)
            bar.update(done)

        with bar:
            for plan in todo:
                chunks[plan.number] = embed_chunk(plan, work, reader, mapper, batch_size=batch_size,
                                                  times=times, on_batch=on_batch, appearance_version=appearance_version,
                                                  known=known)
        reused = known.reused if known is not None else 0
        del known  # its memory-mapped vectors: the join replaces that file
        start = time.perf_counter()
        try:
            manifest = _join(catalog, out, extractor, chunks, started, name,  # type: ignore[arg-type]
                             appearance_version)
        except OSError as exc:  # a full disk: the chunks are kept, so the rerun only joins them
            raise RecommenderError(
                f"Writing the index into {out} failed ({exc.strerror or exc}); free some disk space and rerun the "
                f"same command: the {len(chunks)} finished chunks are kept and only the final files are written."
            ) from exc
        times.write += time.perf_counter() - start
        remove_stale_temp_files(out)
        shutil.rmtree(work)
    say(_summary(manifest, len(products), time.perf_counter() - started, images_todo - reused, times, workers, noun,
                 reused))
    indexed = {i for chunk in chunks for i in chunk.ids}  # type: ignore[union-attr]
    unlabelled = without_category([p for p in products if p.id in indexed])
    if unlabelled:
        say(unlabelled)
    return manifest


def _join(catalog: Catalog, out: Path, extractor: Extractor, chunks: list[Chunk], started: float,
          name: Callable[[Mapping[str, str]], str] | None = None,
          appearance_version: int = APPEARANCE_VERSION) -> Manifest:
    """Write the index folder from the finished chunks, one chunk in memory at a time."""
    ids = [i for chunk in chunks for i in chunk.ids]
    unreadable = [i for chunk in chunks for i in chunk.skipped]
    blank = [i for chunk in chunks for i in chunk.blank]
    if not ids:
        raise CatalogError(
            f"None of the {len(catalog.products)} images of the catalogue {catalog.root} could be read "
            f"({len(blank)} blank)."
        )
    by_id = {p.id: p for p in catalog.products}
    products = [by_id[i] for i in ids]
    appearance = Appearance.concat([chunk.appearance() for chunk in chunks])
    computed: tuple[str, ...] = ()
    if Roles.of({a for p in products for a in p.attributes}).colour is None:
        products = [replace(p, attributes={**p.attributes, COMPUTED_COLOUR: name})
                    for p, (name, _) in zip(products, colour_names(appearance.colours))]
        computed = (COMPUTED_COLOUR,)
    if name is not None:
        name_attribute = Roles.of({a for p in products for a in p.attributes}).name or COMPUTED_NAME
        products = [replace(p, attributes={**p.attributes, name_attribute: name(p.attributes)}) for p in products]
        computed += (name_attribute,)
    manifest = Manifest(
        model=extractor.spec,
        input_size=extractor.input_size,
        dim=extractor.dim,
        count=len(ids),
        catalog=CatalogInfo(str(Path(catalog.root).resolve()), catalog.layout, catalog.fingerprint(),
                            len(catalog.products)),
        skipped=(*catalog.skipped, *(Skipped(ref=i, reason=UNREADABLE) for i in unreadable),
                 *(Skipped(ref=i, reason=BLANK) for i in blank)),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
        normalized=True,
        appearance=True,
        appearance_version=appearance_version,
        computed=computed,
    )
    write_index(out, manifest, products, (chunk.vectors() for chunk in chunks), appearance)
    return manifest
