"""One benchmark run: what to measure (`BenchmarkConfig`), and the sections run in order in a
scratch folder into one JSON-ready report, its targets checked at the end."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from recommender.backbones import KERAS_BACKBONES, load_extractor
from recommender.errors import RecommenderError
from recommender.model_spec import ModelSpec
from recommender.settings import PROJECT_ROOT

from bench import SECTIONS
from bench.app_probe import app_cold_start
from bench.embedding import add_fraction_of_peak, embed_one_latency, embedding_throughput, sample_images
from bench.jobs import build_wall_time
from bench.knn import can_hold, knn_latency, write_synthetic_index
from bench.machine import load_average, machine_info, matmul_rate
from bench.report import check_targets

SHARED = PROJECT_ROOT.parent / "shared"
DEFAULT_CATALOG = SHARED / "data" / "fashion-product-images-small"
DEFAULT_IMAGES = DEFAULT_CATALOG / "images"
DEFAULT_TFLITE = SHARED / "models" / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"


@dataclass
class BenchmarkConfig:
    """What to measure and how much: the defaults are the full run, `quick_preset()` the quick one."""

    sections: tuple[str, ...] = SECTIONS
    images: Path | None = None  # folder of JPEGs; None = the shared Kaggle images, else a demo catalogue
    backbone: str = "resnet50"
    pipeline_images: int = 256
    loop_images: int = 128
    batch_size: int = 32
    rounds: int = 4  # the two embedding sides alternate this many times
    matmul_size: int = 2048
    embed_repeats: int = 50
    index_sizes: tuple[int, ...] = (44_000, 1_000_000)
    dim: int = 2048
    knn_repeats: int = 200
    knn_repeats_large: int = 10  # for indexes over 200k rows, where one query takes ~1 s
    k: int = 10
    build_catalog: Path = DEFAULT_CATALOG
    build_extractors: tuple[str, ...] = (str(DEFAULT_TFLITE), "resnet50")  # the short job first
    app_timeout_s: float = 120.0
    ann_real: Path = PROJECT_ROOT / "embeddings" / "kaggle-small-v2"  # real vectors the ANN section samples
    ann_sizes: tuple[int, ...] = (1_000_000, 10_000_000)
    ann_queries: int = 200
    ann_workdir: Path | None = None  # where the ann section keeps its large indexes for reruns; None = the temp folder
    look_index: Path | None = None  # a trained index for the look section; None: the section says it was not run
    look_photos: Path | None = None  # photos of people (e.g. a looks-set folder's images/); None: the sampled images
    look_repeats: int = 20
    quick: bool = False
    workdir: Path | None = None  # where synthetic indexes go; None = a temporary folder
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))

    @classmethod
    def quick_preset(cls, **overrides: object) -> "BenchmarkConfig":
        """Under a minute on 2 cores: small samples, the 44k index only, no whole-catalogue build."""
        base = dict(
            sections=tuple(s for s in SECTIONS if s not in ("build", "ann")),
            pipeline_images=64, loop_images=16, rounds=2, embed_repeats=10, index_sizes=(44_000,),
            knn_repeats=20, quick=True,
        )  # fmt: skip
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]


def run_benchmark(config: BenchmarkConfig) -> dict:
    """Run the chosen sections and return one JSON-ready report (targets checked at the end)."""
    log, sections = config.log, set(config.sections)
    if sections & {"embedding", "query"} and config.backbone not in KERAS_BACKBONES:
        raise RecommenderError(
            f"The benchmark times Keras backbones ({', '.join(KERAS_BACKBONES)}), not {config.backbone!r}."
        )
    report: dict = {"mode": "quick" if config.quick else "full", "sections": list(config.sections)}
    report["machine"] = machine_info()
    with tempfile.TemporaryDirectory(prefix="recommender-benchmark-", dir=config.workdir) as tmp:
        work = Path(tmp)
        paths: list[Path] = []
        if sections & {"embedding", "query", "app"} or ("look" in sections and config.look_photos is None):
            images = config.images or (DEFAULT_IMAGES if DEFAULT_IMAGES.is_dir() else None)
            paths = sample_images(images, config.pipeline_images, work)
        if sections & {"embedding", "query"}:  # first: it imports TensorFlow quietly
            extractor = load_extractor(ModelSpec.parse(config.backbone, "none"))
        if sections & {"matmul", "embedding"}:
            with _step(log, f"matmul: float32 {config.matmul_size}x{config.matmul_size}"):
                report["matmul"] = matmul_rate(config.matmul_size)
        if "embedding" in sections:
            message = f"embedding: {len(paths)} images with the pipeline, {config.loop_images} with the per-image loop"
            with _step(log, message):
                report["embedding"] = embedding_throughput(
                    paths, extractor, loop_images=config.loop_images, batch_size=config.batch_size, rounds=config.rounds
                )
            report["embedding"]["images_from"] = str(paths[0].parent)
            add_fraction_of_peak(report["embedding"], report["matmul"])
        if "query" in sections:
            with _step(log, f"query: embed one upload x {config.embed_repeats}"):
                report["query"] = {"embed_one": embed_one_latency(extractor, paths[0], config.embed_repeats)}
            report["query"].update({"knn": [], "skipped_sizes": []})
        app_index: Path | None = None
        skipped: list[dict] = []
        if sections & {"query", "app"}:
            app_index, skipped = _index_sizes_section(config, report, paths, work)
        if "build" in sections:
            report["build"] = []
            for backbone in config.build_extractors:
                out = work / f"build-{Path(backbone).stem}"
                with _step(log, f"build: {Path(backbone).name} over {config.build_catalog} (this takes a while)"):
                    report["build"].append(build_wall_time(config.build_catalog, backbone, out))
                shutil.rmtree(out, ignore_errors=True)
        if "app" in sections and app_index is None:
            report["app"] = {"error": "no index to serve: " + "; ".join(s["reason"] for s in skipped)}
        elif "app" in sections:
            with _step(log, f"app: cold start with the synthetic {config.index_sizes[0]:,}-item index"):
                report["app"] = app_cold_start(app_index, work, query_image=paths[0], timeout_s=config.app_timeout_s)
        if "look" in sections:
            report["look"] = _look_section(config, paths, work)
        if "ann" in sections:
            from bench.ann import AnnBenchConfig, ann_benchmark

            with _step(log, f"ann: FAISS vs exact at {', '.join(f'{n:,}' for n in config.ann_sizes)} vectors"):
                report["ann"] = ann_benchmark(AnnBenchConfig(real=config.ann_real, sizes=config.ann_sizes,
                                                             queries=config.ann_queries,
                                                             workdir=config.ann_workdir or work, log=log))
    report["machine"]["load_average_after"] = load_average()
    report["targets"] = check_targets(report)
    return report


def _look_section(config: BenchmarkConfig, paths: list[Path], work: Path) -> dict:
    from bench.look import look_latency

    if config.look_index is None:
        return {"error": "no trained index given (--look-index DIR)"}
    photos = sample_images(config.look_photos, config.look_repeats, work / "look") if config.look_photos else paths
    if not photos:
        return {"error": "no photos to search with (--look-photos DIR)"}
    with _step(config.log, f"look: shop the look vs a single search, {config.look_repeats} photos each"):
        return look_latency(config.look_index, photos[: config.look_repeats], config.look_repeats)


@contextmanager
def _step(log: Callable[[str], None], message: str) -> Iterator[None]:
    """Log a step and, when it ends, how long it took (full runs are long: show progress)."""
    log(message)
    start = time.perf_counter()
    yield
    log(f"  done in {time.perf_counter() - start:.1f} s")


def _index_sizes_section(
    config: BenchmarkConfig, report: dict, paths: list[Path], work: Path
) -> tuple[Path | None, list[dict]]:
    """Write each synthetic index size and time kNN on it; keep the first one written (for the app),
    drop the rest. Returns it and the sizes skipped, with the reason (memory, disk)."""
    query = "query" in config.sections
    kept: Path | None = None
    skipped: list[dict] = report["query"]["skipped_sizes"] if query else []
    for rows in config.index_sizes if query else config.index_sizes[:1]:
        reason = can_hold(rows, config.dim, work)
        if reason:
            config.log(f"query: skipping {rows:,} rows: {reason}")
            skipped.append({"rows": rows, "reason": reason})
            continue
        with _step(config.log, f"query: writing a synthetic {rows:,} x {config.dim} index"):
            index_dir = write_synthetic_index(work / f"index-{rows}", rows, config.dim, paths, backbone=config.backbone)
        if query:
            repeats = config.knn_repeats if rows <= 200_000 else config.knn_repeats_large
            message = f"query: kNN top {config.k} over {rows:,} rows, {repeats} queries per case, ours and scikit-learn"
            with _step(config.log, message):
                report["query"]["knn"] += knn_latency(index_dir, repeats=repeats, k=config.k)
        if kept is None:
            kept = index_dir
        else:
            shutil.rmtree(index_dir)  # free the disk for the next size
    return kept, skipped
