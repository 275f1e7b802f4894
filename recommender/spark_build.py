"""The same build on Apache Spark: one chunk per partition, the model loaded once per executor.

The driver plans the chunks exactly as `recommender.build` does (same plan file, same chunk files,
so a Spark build resumes a local one and vice versa), sends each unfinished chunk's products to
an executor, where the unchanged chunk worker (`embed_chunk`: reader -> mapper -> chunk writer)
writes `chunk-NNNNN.npz` into the index folder's `.build`, then joins them with the local build's
join. On a cluster the catalogue and the index folder must be on storage every node sees at the
same path (NFS, a mounted bucket), and every node needs this project's Python environment.

Each task gets `spark.task.cpus` cores (1 by default): the executor's TFLite interpreter, its
decoding threads and TensorFlow's thread pools are sized to that, so N concurrent tasks on a
machine use N cores instead of N x all of them.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recommender.build import (
    ChunkPlan,
    _join,
    _start_or_resume,
    build_lock,
    build_plan,
    embed_chunk,
    load_chunk,
    plan_chunks,
    remove_stale_temp_files,
)  # fmt: skip
from recommender.catalog import Catalog, Product
from recommender.errors import RecommenderError
from recommender.manifest import Manifest
from recommender.model_spec import ModelSpec
from recommender.pipeline import StageTimes
from recommender.settings import PROJECT_ROOT

__all__ = ["build_index_spark", "spark_session"]

_EXTRACTORS: dict[tuple[str, int], Any] = {}  # per executor process: the model, loaded once


def spark_session(master: str, app_name: str = "lookalike-build", progress: bool = True) -> Any:
    """A Spark session on `master`, or one sentence naming what is missing (pyspark, Java)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RecommenderError("build --engine spark needs the pyspark package; install it with "
                               "pip install -r requirements-scale.txt.") from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise RecommenderError("build --engine spark needs Java, which is not installed; install Debian's "
                               "default-jre-headless package (apt-get install default-jre-headless).")
    python_path = os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spark = (SparkSession.builder.master(master).appName(app_name)
                 .config("spark.executorEnv.PYTHONPATH", python_path)
                 .config("spark.python.worker.reuse", "true")  # keeps the loaded model between tasks
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "true" if progress else "false")
                 .getOrCreate())
    except Exception as exc:  # noqa: BLE001 - the JVM's failures arrive as assorted exception types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise RecommenderError(f"Spark could not start on {master} ({first}); check that Java "
                               "(default-jre-headless) and the --master URL are right.") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _executor_extractor(spec_json: dict, threads: int) -> Any:
    """The model of this executor process: loaded on its first task, reused by the next ones."""
    key = (repr(sorted(spec_json.items())), threads)
    if key not in _EXTRACTORS:
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))  # read when TensorFlow loads
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from recommender.backbones import load_extractor

        _EXTRACTORS[key] = load_extractor(ModelSpec.from_json(spec_json), threads=threads)
    return _EXTRACTORS[key]


def embed_partition(chunks: Iterable[tuple[int, list[tuple[str, str, dict]]]], spec_json: dict, work: str,
                    batch_size: int, threads: int) -> Iterator[dict]:
    """Runs on an executor: each chunk of the partition through the same worker as a local build."""
    from recommender.pipeline import Mapper, Reader

    extractor = _executor_extractor(spec_json, threads)
    reader, mapper = Reader(extractor.input_size, threads), Mapper(extractor)
    for number, records in chunks:
        plan = ChunkPlan(number, tuple(Product(i, Path(image), attributes) for i, image, attributes in records))
        times = StageTimes()
        started = time.perf_counter()
        chunk = embed_chunk(plan, Path(work), reader, mapper, batch_size=batch_size, times=times)
        yield {"number": number, "images": len(records), "skipped": chunk.skipped,
               "seconds": time.perf_counter() - started, "times": vars(times), "pid": os.getpid()}


def build_index_spark(catalog: Catalog, out: str | Path, spec: ModelSpec, *, master: str = "local[*]",
                      batch_size: int = 32, chunk_size: int = 1024, progress: bool = True) -> Manifest:
    """`build_index` with the chunks embedded by Spark executors; the same files, the same join."""
    from recommender.backbones import load_extractor

    started = time.perf_counter()
    out = Path(out).resolve()
    extractor = load_extractor(spec)  # the driver checks the model (and learns its size) before Spark starts
    run_plan = build_plan(catalog, extractor, chunk_size)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with build_lock(out) as work:
        _start_or_resume(work, run_plan, say)
        plans = plan_chunks(catalog.products, chunk_size)
        todo = [plan for plan in plans if load_chunk(plan, work, extractor.dim) is None]
        if len(todo) < len(plans):
            say(f"Resuming the build in {out}: {len(plans) - len(todo)} of {len(plans)} chunks already done.")
        spark = spark_session(master, progress=progress)
        try:
            sc = spark.sparkContext
            threads = int(sc.getConf().get("spark.task.cpus", "1"))
            payload = [(plan.number, [(p.id, str(p.image), p.attributes) for p in plan.products]) for plan in todo]
            spec_json, work_dir = extractor.spec.to_json(), str(work)
            job_started = time.perf_counter()
            results = (sc.parallelize(payload, numSlices=max(1, len(payload)))
                       .mapPartitions(lambda part: embed_partition(part, spec_json, work_dir, batch_size, threads))
                       .collect()) if payload else []
            job_seconds = time.perf_counter() - job_started
        finally:
            spark.stop()
        chunks = [load_chunk(plan, work, extractor.dim) for plan in plans]
        missing = [plan.number for plan, chunk in zip(plans, chunks) if chunk is None]
        if missing:
            raise RecommenderError(f"{len(missing)} chunks were not written by the Spark executors (e.g. chunk "
                                   f"{missing[0]}); is {out} on storage every executor can write? Rerun to resume.")
        for result in results:
            for item in result["skipped"]:
                say(f"skipped {item}: unreadable image")
        manifest = _join(catalog, out, extractor, chunks, started)  # type: ignore[arg-type]
        remove_stale_temp_files(out)
        shutil.rmtree(work)
    images = sum(r["images"] for r in results)
    executors = len({r["pid"] for r in results})
    rate = images / job_seconds if job_seconds > 0 else 0.0
    stage = {name: sum(r["times"][name] for r in results) for name in ("read_work", "read_wait", "model")}
    say(f"indexed {manifest.count} of {len(catalog.products)} products with Spark on {master}: embedded {images} "
        f"images in {len(results)} chunks on {executors} executor processes at {rate:.1f} images/s "
        f"({job_seconds:.1f} s of Spark job, {time.perf_counter() - started:.1f} s in all); summed over the "
        f"executors: reader {stage['read_work']:.1f} s (model waited {stage['read_wait']:.1f} s), "
        f"model {stage['model']:.1f} s")
    return manifest
