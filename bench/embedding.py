"""Embedding speed: the project's pipeline vs the one-image-at-a-time `model.predict` loop, its
share of the machine's matmul peak, and one uploaded photo's forward pass."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recommender.backbones import KERAS_BACKBONES, Extractor
from recommender.demo import write_demo_catalog
from recommender.engine import embed_picture
from recommender.errors import ImageError
from recommender.images import open_image
from recommender.pipeline import embed_sources

from bench.timing import latency_stats, ratio


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


def sample_images(folder: Path | None, n: int, workdir: Path) -> list[Path]:
    """`n` JPEGs spread evenly over the sorted folder (reused cyclically when it holds fewer);
    without a folder, those of a demo catalogue written to `workdir`."""
    if folder is None:
        folder = Path(write_demo_catalog(workdir / "demo-catalog", n=max(n, 60), seed=0)) / "images"
    if not Path(folder).is_dir():
        raise ImageError(f"There is no image folder at {folder}.")
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg"})
    if not paths:
        raise ImageError(f"No JPEG images in {folder}.")
    chosen = paths[:: max(1, len(paths) // n)][:n]
    while len(chosen) < n:
        chosen += paths[: n - len(chosen)]
    return chosen


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
    model, preprocess, size = _keras_baseline_model(extractor.spec.backbone)

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
        "backbone": extractor.spec.backbone,
        "weights": extractor.spec.weights,
        "input_size": list(size),
        "dim": dim,
        "gflops_per_image": count_flops(model) / 1e9,
        "rounds": rounds,
        **compare_throughput(pipeline=totals["pipeline"], per_image_loop=totals["per_image_loop"]),
    }
    result["pipeline"]["batch_size"] = batch_size
    return result


def compare_throughput(*, pipeline: Sequence[float], per_image_loop: Sequence[float]) -> dict:
    """Images/s of each side from its (images, seconds), and the pipeline's speed-up over the loop."""
    sides = {
        name: {"images": int(images), "seconds": float(seconds), "images_per_s": images / seconds}
        for name, (images, seconds) in (("pipeline", pipeline), ("per_image_loop", per_image_loop))
    }
    speedup = ratio(sides["pipeline"]["images_per_s"], sides["per_image_loop"]["images_per_s"])
    return {**sides, "speedup": speedup}


def add_fraction_of_peak(embedding: dict, matmul: dict) -> None:
    """Achieved GFLOP/s of each side and its share of the measured matmul rate."""
    for side in ("pipeline", "per_image_loop"):
        achieved = embedding[side]["images_per_s"] * embedding["gflops_per_image"]
        embedding[side]["gflops"] = achieved
        embedding[side]["fraction_of_matmul_peak"] = ratio(achieved, matmul["best_gflops"])


def embed_one_latency(extractor: Extractor, image: Path, repeats: int) -> dict:
    """Forward pass for one uploaded JPEG, from its bytes (decode, resize, model), as the app does it."""
    data = image.read_bytes()
    stats = latency_stats(lambda _i: embed_picture(extractor, open_image(data)), repeats)
    stats.update({"backbone": extractor.spec.label, "image_bytes": len(data)})
    return stats
