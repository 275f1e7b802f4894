"""Speed and memory benchmarks: the project's pipeline and index measured side by side
with the baselines most public fashion recommenders use, in one run, so that a noisy
shared machine shifts both sides alike and the ratios stay meaningful.

Sections (each a function returning a JSON-ready dict, so tests can run them tiny):
  machine     cores, CPU model, memory, load, the BLAS numpy uses (threadpoolctl)
  matmul      the machine's float32 matrix-multiply rate, the yardstick for "fraction of peak"
  embedding   images/s of `embed_sources` vs a `load_img` + `model.predict` loop, one image at a time
  query       latency of one upload's forward pass, and of kNN top-k (with and without filters)
              through `Index.search` on a memory-mapped index vs scikit-learn's brute-force search
  build       wall time of `python -m recommender build` as a user runs it (full mode only)
  app         `app.py` cold start until GET / answers 200, and its resident memory
"""

from __future__ import annotations

import base64
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil
from threadpoolctl import threadpool_info

from recommender.backbones import KERAS_BACKBONES, Extractor, load_extractor
from recommender.demo import write_demo_catalog
from recommender.embeddings import embed_one, embed_sources
from recommender.errors import ImageError, RecommenderError
from recommender.index import Index
from recommender.settings import PROJECT_ROOT

SHARED = PROJECT_ROOT.parent / "shared"
DEFAULT_IMAGES = SHARED / "data" / "fashion-product-images-small" / "images"
DEFAULT_CATALOG = SHARED / "data" / "fashion-product-images-small"
DEFAULT_TFLITE = SHARED / "models" / "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"

SECTIONS = ("machine", "matmul", "embedding", "query", "build", "app")
GIB = 1024**3
WARMUP = 3  # untimed calls before timing: first calls pay for graph tracing, page faults, caches

# Synthetic catalogue attributes: gender skewed like the Kaggle set, colours and types uniform.
GENDERS = {"Men": 0.50, "Women": 0.38, "Unisex": 0.05, "Boys": 0.04, "Girls": 0.03}
COLOURS = ("Black", "White", "Blue", "Brown", "Grey", "Red", "Green", "Pink", "Navy Blue", "Purple", "Silver", "Beige")
ARTICLE_TYPES = (
    "Tshirts", "Shirts", "Casual Shoes", "Watches", "Sports Shoes", "Kurtas", "Tops", "Handbags", "Heels",
    "Sunglasses", "Wallets", "Flip Flops", "Sandals", "Briefs", "Belts", "Backpacks", "Socks", "Formal Shoes",
    "Perfume and Body Mist", "Jeans",
)  # fmt: skip
VALUES = {"gender": tuple(GENDERS), "baseColour": COLOURS, "articleType": ARTICLE_TYPES}
FILTER_CASES = {"none": (), "gender": ("gender",), "gender+colour+type": ("gender", "baseColour", "articleType")}


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
    quick: bool = False
    workdir: Path | None = None  # where synthetic indexes go; None = a temporary folder
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))

    @classmethod
    def quick_preset(cls, **overrides: object) -> "BenchmarkConfig":
        """Under a minute on 2 cores: small samples, the 44k index only, no whole-catalogue build."""
        base = dict(
            sections=tuple(s for s in SECTIONS if s != "build"),
            pipeline_images=64, loop_images=16, rounds=2, embed_repeats=10, index_sizes=(44_000,),
            knn_repeats=20, quick=True,
        )  # fmt: skip
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- helpers


def paired_latency(fns: dict[str, Callable[[int], object]], repeats: int, warmup: int = WARMUP) -> dict[str, dict]:
    """Time several ways of answering query `i`, alternating them query by query.

    Alternating puts a noisy neighbour's burst on both sides alike, so the ratio holds even when the
    absolute numbers wobble. Each gets `warmup` untimed calls first. Returns p50/p95/mean in ms per name.
    """
    for i in range(warmup):
        for fn in fns.values():
            fn(i)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup, warmup + repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(i)
            times[name].append((time.perf_counter() - start) * 1000)
    return {
        name: {
            "p50_ms": float(np.percentile(values, 50)),
            "p95_ms": float(np.percentile(values, 95)),
            "mean_ms": float(np.mean(values)),
            "repeats": repeats,
        }
        for name, values in times.items()
    }


def latency_stats(fn: Callable[[int], object], repeats: int, warmup: int = WARMUP) -> dict:
    """p50/p95/mean in ms of `fn(i)` over `repeats` timed calls after `warmup` untimed ones."""
    return paired_latency({"only": fn}, repeats, warmup)["only"]


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


# ---------------------------------------------------------------- machine and matmul


def machine_info() -> dict:
    """Where the numbers were measured: the figures only mean something next to this."""
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory()
    blas = [
        {k: pool.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]
    return {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_total_gib": round(memory.total / GIB, 1),
        "memory_available_gib": round(memory.available / GIB, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "blas": blas,
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def matmul_rate(n: int = 2048, repeats: int = 5) -> dict:
    """Best float32 n x n matmul rate (GFLOP/s) of numpy and TensorFlow: the machine's practical peak."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    flops = 2.0 * n**3
    ta, tb = tf.constant(a), tf.constant(b)
    runs = {"numpy": lambda: a @ b, "tensorflow": lambda: tf.linalg.matmul(ta, tb).numpy()}
    result: dict = {"n": n}
    for name, fn in runs.items():
        fn()
        best = min(_time_once(fn) for _ in range(repeats))
        result[f"{name}_gflops"] = flops / best / 1e9
    result["best_gflops"] = max(result["numpy_gflops"], result["tensorflow_gflops"])
    return result


def _time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---------------------------------------------------------------- embedding throughput


def count_flops(model: object) -> int:
    """Multiply-add FLOPs (2 per MAC) of one forward pass, summed over conv and dense layers.

    Normalisation, activations and pooling are left out: together they are under 1% of a CNN's work.
    """
    import keras

    macs = 0
    for layer in _leaf_layers(model):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw, cin, mult = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            macs += h * w * kh * kw * cin * mult
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin_per_group, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            macs += h * w * kh * kw * cin_per_group * cout
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            macs += cin * cout
    return int(2 * macs)


def _leaf_layers(model: object) -> list:
    layers = []
    for layer in getattr(model, "layers", []):
        layers.extend(_leaf_layers(layer) if getattr(layer, "layers", None) else [layer])
    return layers


def sample_images(folder: Path | None, n: int, workdir: Path) -> tuple[list[Path], str]:
    """`n` JPEGs, spread evenly over the sorted folder; without one, a demo catalogue written to `workdir`."""
    if folder is None and DEFAULT_IMAGES.is_dir():
        folder = DEFAULT_IMAGES
    if folder is None:
        root = write_demo_catalog(workdir / "demo-catalog", n=max(n, 60), seed=0)
        folder = Path(root) / "images"
    if not Path(folder).is_dir():
        raise ImageError(f"There is no image folder at {folder}.")
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg"})
    if not paths:
        raise ImageError(f"No JPEG images in {folder}.")
    step = max(1, len(paths) // n)
    chosen = paths[::step][:n]
    while len(chosen) < n:  # a small folder is reused cyclically
        chosen += paths[: n - len(chosen)]
    return chosen, str(folder)


def _keras_baseline_model(backbone: str):
    """The model and preprocessing a typical public recommender builds with `keras.applications`."""
    import keras

    spec = KERAS_BACKBONES[backbone]
    constructor = getattr(keras.applications, spec.constructor)
    model = constructor(weights=None, include_top=False, pooling="avg", input_shape=(spec.size, spec.size, 3))
    return model, getattr(keras.applications, spec.family).preprocess_input, (spec.size, spec.size)


def embedding_throughput(
    paths: Sequence[Path], extractor: Extractor, *, loop_images: int, batch_size: int = 32, rounds: int = 2
) -> dict:
    """Images/s of the project's pipeline vs the one-image-at-a-time `model.predict` loop.

    Both decode and resize the same JPEGs (warm in the page cache) with the same architecture and
    random weights, after an untimed warm-up (graph tracing is not counted). The images are split
    into `rounds` parts and the two sides alternate part by part, so a neighbour's burst of load
    falls on both: the pipeline embeds all of a part, the loop the first `loop_images / rounds`.
    """
    import keras

    paths = list(paths)
    for path in paths:  # same page-cache state for both sides
        path.read_bytes()
    model, preprocess, size = _keras_baseline_model(extractor.name)

    def predict_one(path: Path) -> np.ndarray:
        img = keras.utils.load_img(path, target_size=size)
        x = np.expand_dims(keras.utils.img_to_array(img), axis=0)
        return model.predict(preprocess(x), verbose=0)

    embed_sources(extractor, paths[:batch_size], batch_size=batch_size)
    for path in paths[:2]:
        predict_one(path)
    per_round = math.ceil(len(paths) / rounds)
    loop_per_round = max(1, math.ceil(loop_images / rounds))
    totals = {"pipeline": [0, 0.0], "per_image_loop": [0, 0.0]}  # images, seconds
    dim = 0
    for part in (paths[i : i + per_round] for i in range(0, len(paths), per_round)):
        start = time.perf_counter()
        vectors, _, failures = embed_sources(extractor, part, batch_size=batch_size)
        totals["pipeline"][1] += time.perf_counter() - start
        totals["pipeline"][0] += len(part)
        if failures:
            raise ImageError(f"{len(failures)} benchmark images could not be read, e.g. {failures[0][1]}.")
        dim = int(vectors.shape[1])
        start = time.perf_counter()
        for path in part[:loop_per_round]:
            predict_one(path)
        totals["per_image_loop"][1] += time.perf_counter() - start
        totals["per_image_loop"][0] += len(part[:loop_per_round])

    result: dict = {
        "backbone": extractor.name,
        "weights": extractor.weights,
        "input_size": list(size),
        "dim": dim,
        "gflops_per_image": count_flops(model) / 1e9,
        "rounds": rounds,
    }
    for side, (images, seconds) in totals.items():
        result[side] = {"images": images, "seconds": seconds, "images_per_s": images / seconds}
    result["pipeline"]["batch_size"] = batch_size
    result["speedup"] = _ratio(result["pipeline"]["images_per_s"], result["per_image_loop"]["images_per_s"])
    return result


def add_fraction_of_peak(embedding: dict, matmul: dict) -> None:
    """Achieved GFLOP/s of each side and its share of the measured matmul rate."""
    for side in ("pipeline", "per_image_loop"):
        achieved = embedding[side]["images_per_s"] * embedding["gflops_per_image"]
        embedding[side]["gflops"] = achieved
        embedding[side]["fraction_of_matmul_peak"] = _ratio(achieved, matmul["best_gflops"])


# ---------------------------------------------------------------- query latency


def embed_one_latency(extractor: Extractor, image: Path, repeats: int) -> dict:
    """Forward pass for one uploaded JPEG, from its bytes (decode, resize, model), as the app does it."""
    data = image.read_bytes()
    stats = latency_stats(lambda _i: embed_one(extractor, data), repeats)
    stats.update({"backbone": extractor.name, "image_bytes": len(data)})
    return stats


def synthetic_attributes(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-row codes of gender, baseColour and articleType (indexes into the value lists)."""
    rng = np.random.default_rng(seed)
    return {
        "gender": rng.choice(len(GENDERS), size=rows, p=list(GENDERS.values())).astype(np.int8),
        "baseColour": rng.integers(0, len(COLOURS), size=rows, dtype=np.int8),
        "articleType": rng.integers(0, len(ARTICLE_TYPES), size=rows, dtype=np.int8),
    }


def write_synthetic_index(
    out: Path,
    rows: int,
    dim: int,
    image_paths: Sequence[Path],
    *,
    backbone: str = "resnet50",
    seed: int = 0,
    chunk_rows: int = 50_000,
) -> Path:
    """An index folder in the documented format with random non-negative (ReLU-like) vectors.

    Vectors are written in chunks into a memory-mapped .npy, so peak memory stays at one chunk
    even for 1M x 2048 (8 GB). Products point at real image files, reused cyclically, so the app
    can show thumbnails.
    """
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    vectors = np.lib.format.open_memmap(out / "vectors.npy", mode="w+", dtype=np.float32, shape=(rows, dim))
    for start in range(0, rows, chunk_rows):
        stop = min(rows, start + chunk_rows)
        vectors[start:stop] = rng.standard_exponential((stop - start, dim), dtype=np.float32)
    vectors.flush()
    del vectors
    ids = [f"s{i}" for i in range(rows)]
    codes = synthetic_attributes(rows, seed)
    with open(out / "products.jsonl", "w", encoding="utf-8") as fh:
        for i, pid in enumerate(ids):
            attributes = {name: VALUES[name][codes[name][i]] for name in VALUES}
            attributes["productDisplayName"] = f"Synthetic product {i}"
            record = {"id": pid, "image": str(Path(image_paths[i % len(image_paths)]).resolve()), "attributes": attributes}
            fh.write(json.dumps(record) + "\n")
    (out / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
    size = KERAS_BACKBONES[backbone].size if backbone in KERAS_BACKBONES else 224
    manifest = {
        "format_version": 1,
        "backbone": backbone,
        "weights": "none",
        "input_size": [size, size],
        "dim": dim,
        "count": rows,
        "dtype": "float32",
        "catalog": {"path": str(out), "layout": "synthetic", "fingerprint": f"synthetic-{rows}-{seed}", "products": rows},
        "skipped": [],
        "skipped_counts": {},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": 0.0,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


def knn_latency(index_dir: Path, *, repeats: int, k: int = 10, seed: int = 1) -> list[dict]:
    """Top-k latency of `Index.search` (memory-mapped, as the app loads it) vs scikit-learn brute force.

    Each query is a fresh random vector; filters are the attributes of a random product, so they are
    as common as a shopper's picks. scikit-learn has no filters, so the filtered baseline is what a
    user writes for exact results: mask the rows, fit `NearestNeighbors(algorithm="brute")` on the
    subset, query it (all three timed per query). Both sides must return the same ids (as sets:
    float rounding may swap near-equal neighbours).
    """
    from sklearn.neighbors import NearestNeighbors

    start = time.perf_counter()
    index = Index.load(index_dir, mmap=True)
    load_s = time.perf_counter() - start
    rows, dim = index.vectors.shape
    rng = np.random.default_rng(seed)
    total = repeats + WARMUP
    queries = rng.standard_exponential((total, dim), dtype=np.float32)
    picks = rng.integers(0, rows, size=total)
    # Attribute columns as integer codes (set-up, untimed): the cheapest mask a scikit-learn user can build.
    columns = {a: np.unique([p.attributes[a] for p in index.products], return_inverse=True) for a in VALUES}
    data = np.load(Path(index_dir) / "vectors.npy", mmap_mode="r")
    full_nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(data)  # a view of the memmap: no copy

    results = []
    for case, attributes in FILTER_CASES.items():

        def filters_for(i: int) -> dict[str, set[str]] | None:
            return {a: {index.products[picks[i]].attributes[a]} for a in attributes} or None

        def mask_for(i: int) -> np.ndarray:
            mask = np.ones(rows, dtype=bool)
            for a in attributes:
                codes = columns[a][1]
                mask &= codes == codes[picks[i]]
            return mask

        def ours(i: int) -> list:
            return index.search(queries[i], k=k, filters=filters_for(i))

        def theirs(i: int) -> list[str]:
            if not attributes:
                _, positions = full_nn.kneighbors(queries[i : i + 1])
                return [index.ids[p] for p in positions[0]]
            selected = np.flatnonzero(mask_for(i))
            nn = NearestNeighbors(n_neighbors=min(k, len(selected)), algorithm="brute").fit(data[selected])
            _, positions = nn.kneighbors(queries[i : i + 1])
            return [index.ids[selected[p]] for p in positions[0]]

        entry: dict = {"rows": rows, "dim": dim, "k": k, "filter": case, "index_load_s": load_s}
        entry["matching_rows_mean"] = float(np.mean([mask_for(i).sum() for i in range(min(total, 50))]))
        stats = paired_latency({"ours": ours, "sklearn": theirs}, repeats)
        entry["ours"], entry["sklearn"] = stats["ours"], stats["sklearn"]
        entry["sklearn"]["method"] = (
            "fit once, kneighbors" if not attributes else "per query: mask rows, fit on the subset, kneighbors"
        )
        entry["speedup_p50"] = _ratio(entry["sklearn"]["p50_ms"], entry["ours"]["p50_ms"])
        entry["same_results"] = all({hit.id for hit in ours(i)} == set(theirs(i)) for i in range(min(3, total)))
        results.append(entry)
    return results


def can_hold(rows: int, dim: int, workdir: Path) -> str | None:
    """Why an index of this size cannot be benchmarked here (memory for the page cache, disk), or None."""
    size = rows * dim * 4
    available = psutil.virtual_memory().available
    if available < size * 1.25 + 2 * GIB:
        return f"needs ~{(size * 1.25 + 2 * GIB) / GIB:.1f} GiB available memory, {available / GIB:.1f} GiB free"
    free_disk = shutil.disk_usage(workdir).free
    if free_disk < size + GIB:
        return f"needs {(size + GIB) / GIB:.1f} GiB free disk in {workdir}, {free_disk / GIB:.1f} GiB free"
    return None


# ---------------------------------------------------------------- whole job and app


def build_wall_time(catalog: Path, backbone: str, out: Path) -> dict:
    """`python -m recommender build` as a user runs it (its own process: model load and import included)."""
    weights = [] if backbone.endswith(".tflite") else ["--weights", "none"]
    command = [sys.executable, "-m", "recommender", "build", "--catalog", str(catalog), "--out", str(out),
               "--backbone", backbone, *weights, "--no-progress"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=_child_env(out.parent))
    seconds = time.perf_counter() - start
    result: dict = {"backbone": Path(backbone).name, "seconds": seconds, "returncode": proc.returncode}
    manifest_path = out / "manifest.json"
    if proc.returncode == 0 and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        count = manifest["count"]
        result.update({"weights": manifest["weights"], "count": count, "images_per_s": count / seconds})
        # build_index's own summary says where the time went (decode vs model vs write)
        result["summary"] = next((line for line in proc.stderr.splitlines() if line.startswith("indexed ")), None)
    else:
        result["error"] = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
    return result


def _child_env(workdir: Path) -> dict[str, str]:
    """Environment for subprocesses: keep their databases and caches out of the repository."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["RECOMMENDER_FEEDBACK_DB"] = str(workdir / "feedback.sqlite3")
    env["RECOMMENDER_THUMBNAIL_DIR"] = str(workdir / "thumbnails")
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree_rss(pid: int) -> int:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def app_cold_start(index_dir: Path, workdir: Path, *, query_image: Path | None = None, timeout_s: float = 120.0) -> dict:
    """Seconds from launching `app.py` until GET / returns 200, and the app's resident memory then
    and after one photo query sent the way the browser sends it (which waits for the model)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "app.py", "--index", str(index_dir), "--port", str(port)]
    log_path = workdir / "app.log"
    start = time.perf_counter()
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=_child_env(workdir), stdout=log_file, stderr=log_file)
    try:
        status = None
        while time.perf_counter() - start < timeout_s and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/", timeout=5) as response:
                    status = response.status
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        seconds = time.perf_counter() - start
        if status != 200:
            reason = "exited" if proc.poll() is not None else f"did not answer in {timeout_s:.0f} s"
            tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-5:])
            return {"error": f"the app {reason}", "log_tail": tail}
        result: dict = {"index_rows": _count_lines(index_dir / "products.jsonl"), "cold_start_s": seconds}
        with urllib.request.urlopen(f"{base}/_dash-layout", timeout=30) as response:
            response.read()  # the page's content: the browser asks for it right after the page
        result["cold_start_with_layout_s"] = time.perf_counter() - start
        result["rss_mib_after_first_page"] = _tree_rss(proc.pid) / 2**20
        if query_image is not None:
            try:
                start = time.perf_counter()
                result["first_query_results"] = _dash_photo_query(base, query_image.read_bytes())
                result["first_query_s"] = time.perf_counter() - start
                result["rss_mib_after_query"] = _tree_rss(proc.pid) / 2**20
            except (OSError, ValueError, KeyError, StopIteration) as exc:
                result["query_error"] = f"{type(exc).__name__}: {exc}"
        result["rss_peak_mib"] = _peak_rss(proc.pid) / 2**20
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _peak_rss(pid: int) -> float:
    """The kernel's high-water mark of resident memory (VmHWM), 0 where /proc has none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _post_json(url: str, body: dict, timeout_s: float = 120.0) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


def _dash_photo_query(base: str, image: bytes) -> int:
    """Send a photo through the app's own callbacks over HTTP, as the browser does: the upload
    callback (decode + embed) and then the results callback (kNN); returns the number of results.

    The callbacks are found in `/_dash-dependencies` by the ids the search page uses
    (`upload-payload`, `trail`, `results-area`).
    """
    with urllib.request.urlopen(f"{base}/_dash-dependencies", timeout=30) as response:
        callbacks = json.loads(response.read())

    def call(callback: dict, values: dict[str, object]) -> dict:
        def props(items: list[dict]) -> list[dict]:
            return [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in items]

        parts = callback["output"].strip(".").split("...") if callback["output"].startswith("..") else [callback["output"]]
        outputs = [dict(zip(("id", "property"), part.rsplit(".", 1))) for part in parts]
        body = {
            "output": callback["output"],
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": props(callback["inputs"]),
            "state": props(callback["state"]),
            "changedPropIds": [f"{item['id']}.{item['property']}" for item in callback["inputs"]][:1],
        }
        return _post_json(f"{base}/_dash-update-component", body)["response"]

    upload = next(c for c in callbacks if any(i["id"] == "upload-payload" for i in c["inputs"]))
    contents = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    response = call(upload, {"upload-payload.data": {"filename": "query.jpg", "contents": contents}})
    trail = response["trail"]["data"]
    if not trail:
        raise ValueError("the upload callback returned no query")
    render = next(c for c in callbacks if c["output"].startswith("results-area.children"))
    children = call(render, {"trail.data": trail})["results-area"]["children"]
    return json.dumps(children).count("/thumbnail/")


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


# ---------------------------------------------------------------- the whole run


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
        paths, source = ([], None)
        if sections & {"embedding", "query", "app"}:
            paths, source = sample_images(config.images, config.pipeline_images, work)
        if sections & {"embedding", "query"}:  # first: it imports TensorFlow quietly
            extractor = load_extractor(config.backbone, "none")
        if sections & {"matmul", "embedding"}:
            with _step(log, f"matmul: float32 {config.matmul_size}x{config.matmul_size}"):
                report["matmul"] = matmul_rate(config.matmul_size)
        if "embedding" in sections:
            message = f"embedding: {len(paths)} images with the pipeline, {config.loop_images} with the per-image loop"
            with _step(log, message):
                report["embedding"] = embedding_throughput(
                    paths, extractor, loop_images=config.loop_images, batch_size=config.batch_size, rounds=config.rounds
                )
            report["embedding"]["images_from"] = source
            add_fraction_of_peak(report["embedding"], report["matmul"])
        if "query" in sections:
            with _step(log, f"query: embed one upload x {config.embed_repeats}"):
                report["query"] = {"embed_one": embed_one_latency(extractor, paths[0], config.embed_repeats)}
            report["query"].update({"knn": [], "skipped_sizes": []})
        app_index = _index_sizes_section(config, report, paths, work) if sections & {"query", "app"} else None
        if "build" in sections:
            report["build"] = []
            for backbone in config.build_extractors:
                out = work / f"build-{Path(backbone).stem}"
                with _step(log, f"build: {Path(backbone).name} over {config.build_catalog} (this takes a while)"):
                    report["build"].append(build_wall_time(config.build_catalog, backbone, out))
                shutil.rmtree(out, ignore_errors=True)
        if "app" in sections and app_index is not None:
            with _step(log, f"app: cold start with the synthetic {config.index_sizes[0]:,}-item index"):
                report["app"] = app_cold_start(app_index, work, query_image=paths[0], timeout_s=config.app_timeout_s)
    report["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = check_targets(report)
    return report


@contextmanager
def _step(log: Callable[[str], None], message: str) -> Iterator[None]:
    """Log a step and, when it ends, how long it took (full runs are long: show progress)."""
    log(message)
    start = time.perf_counter()
    yield
    log(f"  done in {time.perf_counter() - start:.1f} s")


def _index_sizes_section(config: BenchmarkConfig, report: dict, paths: list[Path], work: Path) -> Path | None:
    """Write each synthetic index size and time kNN on it; keep the first one (for the app), drop the rest."""
    query = "query" in config.sections
    kept: Path | None = None
    for rows in config.index_sizes if query else config.index_sizes[:1]:
        reason = can_hold(rows, config.dim, work)
        if reason:
            config.log(f"query: skipping {rows:,} rows: {reason}")
            report.setdefault("query", {}).setdefault("skipped_sizes", []).append({"rows": rows, "reason": reason})
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
    return kept


def check_targets(report: dict) -> list[dict]:
    """The issue's targets next to the measured values (a miss is reported, not hidden)."""
    checks: list[dict] = []

    def add(name: str, value: float | None, target: str, ok: bool | None) -> None:
        if value is not None:
            checks.append({"target": name, "value": value, "goal": target, "met": ok})

    embedding = report.get("embedding")
    if embedding and embedding.get("speedup"):
        add("embedding pipeline / per-image loop", embedding["speedup"], ">= 2x", embedding["speedup"] >= 2)
    for entry in report.get("query", {}).get("knn", []):
        if entry["rows"] == 44_000:
            p50 = entry["ours"]["p50_ms"]
            add(f"kNN p50 44k ({entry['filter']})", p50, "< 25 ms", p50 < 25)
            if entry.get("speedup_p50"):
                add(f"kNN speedup vs sklearn 44k ({entry['filter']})", entry["speedup_p50"], ">= 2x", entry["speedup_p50"] >= 2)
    app = report.get("app", {})
    if "cold_start_s" in app:
        add("app cold start", app["cold_start_s"], "< 5 s", app["cold_start_s"] < 5)
        rss = app.get("rss_mib_after_query", app["rss_mib_after_first_page"])
        add("app resident memory", rss, "< 1536 MiB", rss < 1536)
    return checks


# ---------------------------------------------------------------- table


def render_table(report: dict) -> str:
    """The report as a plain-text table for the terminal."""
    lines: list[str] = []
    m = report["machine"]
    blas = ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']} x{b['num_threads']}" for b in m["blas"])
    lines.append(f"Machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_total_gib']} GiB RAM, BLAS: {blas or 'n/a'}")
    lines.append(f"OPENBLAS_CORETYPE={m['openblas_coretype_env'] or '(unset)'}; load average before/after: "
                 f"{m['load_average']} / {m.get('load_average_after')}  (mode: {report['mode']})")
    if "matmul" in report:
        mm = report["matmul"]
        lines.append(
            f"Matmul {mm['n']}x{mm['n']} float32: numpy {mm['numpy_gflops']:.0f} GFLOP/s, "
            f"TensorFlow {mm['tensorflow_gflops']:.0f} GFLOP/s"
        )
    if "embedding" in report:
        e = report["embedding"]
        lines += ["", f"Embedding throughput ({e['backbone']}, {e['gflops_per_image']:.2f} GFLOPs/image, decode+resize included)"]
        lines.append(f"  {'method':<36}{'images':>8}{'images/s':>10}{'GFLOP/s':>9}{'of peak':>9}")
        for key, label in (("pipeline", "project pipeline (embed_sources)"), ("per_image_loop", "load_img + predict, one by one")):
            s = e[key]
            lines.append(
                f"  {label:<36}{s['images']:>8}{s['images_per_s']:>10.1f}{s['gflops']:>9.0f}{s['fraction_of_matmul_peak']:>9.0%}"
            )
        lines.append(f"  speedup: {e['speedup']:.2f}x")
    query = report.get("query", {})
    if "embed_one" in query:
        q = query["embed_one"]
        lines += ["", f"Query: embed one uploaded JPEG ({q['image_bytes']:,} bytes, {q['backbone']}): "
                  f"p50 {q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms"]
    if query.get("knn"):
        lines += ["", "kNN top 10 (p50 / p95 ms)", f"  {'rows':>9} {'filter':<20}{'matches':>9}{'ours':>17}{'scikit-learn':>19}{'speedup':>9}  same"]
        for entry in query["knn"]:
            ours, theirs = entry["ours"], entry["sklearn"]
            sk = f"{theirs['p50_ms']:.1f} / {theirs['p95_ms']:.1f}"
            lines.append(
                f"  {entry['rows']:>9,} {entry['filter']:<20}{entry['matching_rows_mean']:>9.0f}"
                f"{ours['p50_ms']:>9.1f} / {ours['p95_ms']:<6.1f}{sk:>18}{entry['speedup_p50']:>8.1f}x  {entry['same_results']}"
            )
        loads = {entry["rows"]: entry["index_load_s"] for entry in query["knn"]}
        lines.append("  scikit-learn filtered = per query: mask rows, fit NearestNeighbors(brute) on them, kneighbors")
        lines.append("  Index.load (memory-mapped): " + ", ".join(f"{rows:,} rows {s:.1f} s" for rows, s in loads.items()))
    for skipped in query.get("skipped_sizes", []):
        lines.append(f"  {skipped['rows']:,} rows skipped: {skipped['reason']}")
    if report.get("build"):
        lines.append("")
    for b in report.get("build", []):
        if "count" in b:
            lines.append(f"Build {b['backbone']}: {b['count']:,} images in {b['seconds']:.0f} s ({b['images_per_s']:.1f} images/s)")
        else:
            lines.append(f"Build {b['backbone']}: failed (exit {b['returncode']}): {b['error']}")
    if "app" in report:
        a = report["app"]
        if "cold_start_s" in a:
            lines += ["", f"App ({a['index_rows']:,}-item index): first page served {a['cold_start_s']:.2f} s after launch "
                      f"({a['cold_start_with_layout_s']:.2f} s with its layout); RSS {a['rss_mib_after_first_page']:.0f} MiB"]
            if "rss_mib_after_query" in a:
                lines.append(f"  first photo query (waits for the model): {a['first_query_s']:.1f} s, "
                             f"{a['first_query_results']} results; RSS {a['rss_mib_after_query']:.0f} MiB, "
                             f"peak {a['rss_peak_mib']:.0f} MiB")
            else:
                lines.append(f"  photo query not measured: {a.get('query_error', 'no image')}")
        else:
            lines += ["", f"App: {a['error']}: {a.get('log_tail', '')}"]
    if report.get("targets"):
        lines += ["", "Targets"]
        for t in report["targets"]:
            lines.append(f"  {'MET ' if t['met'] else 'MISS'} {t['target']}: {t['value']:.2f} (goal {t['goal']})")
    return "\n".join(lines)
