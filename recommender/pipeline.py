"""Images -> vectors in batches: a reader that decodes ahead of the model, and a mapper that runs it.

The reader decodes and resizes images in a thread pool (Pillow releases the GIL) and keeps a few
batches ahead of the model; the mapper runs the extractor on each batch. Both record where the time
went (`StageTimes`), so a slow disk or CPU decode is told apart from a slow model. The build
(`recommender.build`) and the benchmark use them; the query side embeds one decoded photo through
`Recommender.embed_image`.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.images import load_for_model

if TYPE_CHECKING:  # the backbones module imports TensorFlow; only its Protocol is needed here
    from recommender.backbones import Extractor

__all__ = ["Source", "StageTimes", "Batch", "Reader", "Mapper", "embed_sources"]

PREFETCH_BATCHES = 2  # batches decoded ahead of the one the model is running on

Source = Path | bytes


@dataclass
class StageTimes:
    """Seconds spent per stage: decode + resize (summed over threads), waiting for it, model, writing."""

    read_work: float = 0.0
    read_wait: float = 0.0
    model: float = 0.0
    write: float = 0.0

    def add(self, other: "StageTimes") -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Batch:
    """One decoded batch: the images that loaded, their positions in the batch, and the failures."""

    pixels: np.ndarray  # uint8 (n_ok, h, w, 3)
    ok: list[int]
    failures: list[tuple[int, str]] = field(default_factory=list)


def _read_one(source: Source, size: tuple[int, int]) -> tuple[np.ndarray | None, str | None, float]:
    start = time.perf_counter()
    try:
        pixels = load_for_model(source, size)
    except Exception as exc:  # noqa: BLE001 - any decode failure skips this image, never the whole build
        return None, str(exc) or type(exc).__name__, time.perf_counter() - start
    return pixels, None, time.perf_counter() - start


class Reader:
    """Decodes groups of images into model-sized batches in a thread pool, a few groups ahead."""

    def __init__(self, size: tuple[int, int], workers: int | None = None, prefetch: int = PREFETCH_BATCHES) -> None:
        self.size = size
        self.workers = workers or os.cpu_count() or 1
        self.prefetch = prefetch

    def batches(self, groups: Iterable[Sequence[Source]], times: StageTimes) -> Iterator[Batch]:
        height, width = self.size
        pending: deque[list[Future]] = deque()
        group_iter = iter(groups)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:

            def submit_next() -> None:
                group = next(group_iter, None)
                if group is not None:
                    pending.append([pool.submit(_read_one, source, self.size) for source in group])

            try:
                for _ in range(self.prefetch + 1):
                    submit_next()
                while pending:
                    futures = pending.popleft()
                    submit_next()
                    start = time.perf_counter()
                    results = [future.result() for future in futures]
                    times.read_wait += time.perf_counter() - start
                    times.read_work += sum(seconds for _, _, seconds in results)
                    ok = [i for i, (pixels, _, _) in enumerate(results) if pixels is not None]
                    failures = [(i, error) for i, (_, error, _) in enumerate(results) if error is not None]
                    pixels = (np.stack([results[i][0] for i in ok]) if ok
                              else np.empty((0, height, width, 3), dtype=np.uint8))
                    yield Batch(pixels, ok, failures)
            finally:  # interrupted: drop queued decodes, let the few running ones finish
                for futures in pending:
                    for future in futures:
                        future.cancel()


class Mapper:
    """Runs the extractor on decoded batches: float32 vectors, timed."""

    def __init__(self, extractor: Extractor) -> None:
        self.extractor = extractor

    def __call__(self, pixels: np.ndarray, times: StageTimes) -> np.ndarray:
        start = time.perf_counter()
        if len(pixels):
            vectors = np.asarray(self.extractor.embed(pixels), dtype=np.float32)
        else:
            vectors = np.empty((0, self.extractor.dim), dtype=np.float32)
        times.model += time.perf_counter() - start
        return vectors


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
    times = StageTimes()
    mapper = Mapper(extractor)
    groups = [sources[i : i + batch_size] for i in range(0, len(sources), batch_size)]
    parts: list[np.ndarray] = []
    ok_positions: list[int] = []
    failures: list[tuple[int, str]] = []
    with closing(Reader(extractor.input_size, workers).batches(groups, times)) as decoded:
        for offset, batch in zip(range(0, len(sources), batch_size), decoded):
            parts.append(mapper(batch.pixels, times))
            ok_positions.extend(offset + i for i in batch.ok)
            failures.extend((offset + i, error) for i, error in batch.failures)
    vectors = np.concatenate(parts) if parts else np.empty((0, extractor.dim), dtype=np.float32)
    return vectors, ok_positions, failures
