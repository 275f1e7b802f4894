"""The benchmark's arithmetic on known inputs, and its measurements run end to end on tiny inputs
emitting well-formed JSON (no timing assertions)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.embedding import add_fraction_of_peak, compare_throughput, count_flops
from bench.jobs import child_env
from bench.knn import FILTER_CASES, knn_latency, write_synthetic_index
from bench.report import render_table
from bench.run import BenchmarkConfig, run_benchmark
from bench.timing import paired_latency, ratio, summarize_ms
from recommender.cli import main
from recommender.index import Index
from recommender.settings import Settings


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _assert_latency(stats: dict) -> None:
    assert _positive(stats["p50_ms"]) and _positive(stats["p95_ms"]) and _positive(stats["mean_ms"])
    assert stats["p50_ms"] <= stats["p95_ms"]


def test_count_flops_sums_conv_and_dense_multiply_adds() -> None:
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8 outputs * 3*3*3 taps * 4 filters
    x = keras.layers.DepthwiseConv2D(3, padding="valid")(x)  # 6*6 outputs * 3*3 taps * 4 channels
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2)(x)  # 144 inputs * 2 outputs
    model = keras.Model(inputs, outputs)
    assert count_flops(model) == 2 * (8 * 8 * 27 * 4 + 6 * 6 * 9 * 4 + 144 * 2)


def test_latency_percentiles_of_known_samples() -> None:
    stats = summarize_ms([4.0, 1.0, 10.0, 3.0, 2.0])
    # sorted 1 2 3 4 10: the median is 3; p95 sits 0.8 of the way from 4 to 10 (linear interpolation)
    assert stats == {"p50_ms": 3.0, "p95_ms": pytest.approx(8.8, rel=1e-12), "mean_ms": 4.0, "repeats": 5}


def test_ratio_is_none_when_nothing_was_measured() -> None:
    assert ratio(98.0, 18.0) == pytest.approx(5.444444444444, rel=1e-12)
    assert ratio(0.0, 3.0) == 0.0
    assert ratio(1.0, 0.0) is None


def test_speedup_is_the_ratio_of_images_per_second() -> None:
    # 64 images in 3.2 s against 16 in 2 s: 20 vs 8 images/s, a 2.5x speed-up (not 64/16 = 4x)
    assert compare_throughput(pipeline=(64, 3.2), per_image_loop=(16, 2.0)) == {
        "pipeline": {"images": 64, "seconds": 3.2, "images_per_s": 20.0},
        "per_image_loop": {"images": 16, "seconds": 2.0, "images_per_s": 8.0},
        "speedup": 2.5,
    }


def test_fraction_of_matmul_peak() -> None:
    embedding = {"gflops_per_image": 7.5, "pipeline": {"images_per_s": 20.0}, "per_image_loop": {"images_per_s": 8.0}}
    add_fraction_of_peak(embedding, {"best_gflops": 200.0})
    assert embedding["pipeline"] == {"images_per_s": 20.0, "gflops": 150.0, "fraction_of_matmul_peak": 0.75}
    assert embedding["per_image_loop"] == {"images_per_s": 8.0, "gflops": 60.0, "fraction_of_matmul_peak": 0.3}


def test_synthetic_index_opens_with_the_real_loader_and_knn_agrees_with_sklearn(
    tmp_path: Path, demo_catalog_dir: Path
) -> None:
    images = sorted((demo_catalog_dir / "images").glob("*.jpg"))[:3]
    index_dir = write_synthetic_index(tmp_path / "index", rows=500, dim=16, image_paths=images, chunk_rows=64)
    index = Index.load(index_dir)
    assert len(index) == 500 and index.vectors.shape == (500, 16)
    assert float(np.min(index.vectors)) >= 0  # ReLU-like features
    assert set(index.attributes()) >= {"gender", "baseColour", "articleType"}
    assert index.products[4].image == images[4 % 3].resolve()

    results = knn_latency(index_dir, repeats=3, k=5)
    assert [r["filter"] for r in results] == list(FILTER_CASES)
    for entry in results:
        assert entry["rows"] == 500 and entry["dim"] == 16
        assert entry["same_results"] is True
        _assert_latency(entry["ours"])
        _assert_latency(entry["sklearn"])
        assert _positive(entry["speedup_p50"])
    assert results[0]["matching_rows_mean"] == 500
    assert 0 < results[2]["matching_rows_mean"] < results[1]["matching_rows_mean"] < 500


def test_paired_latency_alternates_and_skips_warmup() -> None:
    calls: list[tuple[str, int]] = []
    stats = paired_latency(
        {"a": lambda i: calls.append(("a", i)), "b": lambda i: calls.append(("b", i))}, repeats=2, warmup=1
    )
    assert calls == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert stats["a"]["repeats"] == stats["b"]["repeats"] == 2


def test_run_benchmark_tiny_emits_json_with_every_section(tmp_path: Path, demo_catalog_dir: Path,
                                                          demo_index_dir: Path) -> None:
    """All sections on tiny inputs, the build and the app as real subprocesses."""
    config = BenchmarkConfig(
        images=demo_catalog_dir / "images",
        backbone="mobilenet_v2",
        pipeline_images=4,
        loop_images=2,
        batch_size=2,
        matmul_size=64,
        embed_repeats=2,
        index_sizes=(300,),
        dim=1280,
        knn_repeats=2,
        build_catalog=demo_catalog_dir,
        build_extractors=("mobilenet_v2",),
        workdir=tmp_path,
        ann_real=demo_index_dir,
        ann_sizes=(300, 2_000),  # vectors sampled from the real index
        ann_queries=20,
        log=lambda message: None,
    )
    report = json.loads(json.dumps(run_benchmark(config)))
    small, large = report["ann"]["sizes"]
    assert small["rows"] == 300 and large["rows"] == 2_000
    for size in (small, large):
        assert 0.5 <= size["no_filter"]["hnsw"]["recall_at_10"] <= 1.0
        _assert_latency(size["no_filter"]["exact"])
        assert size["no_filter"]["share"] == 1.0 and 0 < size["rare_filter"]["share"] < size["gender_filter"]["share"]
        for case in ("gender_filter", "rare_filter"):  # few rows: searched exactly, so nothing is missed
            assert size[case]["hnsw"]["recall_at_10"] == 1.0

    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["cpu_model"] and isinstance(machine["blas"], list)
    assert _positive(report["matmul"]["best_gflops"])
    embedding = report["embedding"]
    assert embedding["backbone"] == "mobilenet_v2" and embedding["dim"] == 1280
    for side in ("pipeline", "per_image_loop"):
        assert _positive(embedding[side]["images_per_s"]) and _positive(embedding[side]["fraction_of_matmul_peak"])
    assert _positive(embedding["speedup"]) and _positive(embedding["gflops_per_image"])
    _assert_latency(report["query"]["embed_one"])
    assert [entry["rows"] for entry in report["query"]["knn"]] == [300] * 3
    build = report["build"][0]
    assert build["returncode"] == 0, build
    assert build["count"] == 60 and _positive(build["seconds"])
    app = report["app"]
    assert "error" not in app, app
    assert app["index_rows"] == 300
    assert _positive(app["cold_start_s"]) and _positive(app["rss_mib_after_first_page"])
    targets = {t["target"]: t for t in report["targets"]}
    memory = targets["app resident memory after a photo query"]
    if "query_error" in app:  # an app without the JSON search API (or a failed query): said, not passed
        assert memory["value"] is None and memory["met"] is False and app["query_error"] in memory["reason"]
    else:
        assert app["first_query_results"] == 10 and memory["value"] == app["rss_mib_after_query"]
    assert _positive(targets["embedding pipeline / per-image loop"]["value"])
    assert targets["kNN p50 44k (none)"]["reason"] == "the 44,000-row index was not in this run"
    assert report["look"] == {"error": "no trained index given (--look-index DIR)"}  # measured in tests/test_looks.py
    look = targets["shop the look p50 (photo to every garment's results)"]
    assert look["met"] is False and look["reason"] == report["look"]["error"]
    assert list(tmp_path.iterdir()) == []  # the temporary work folder is gone
    assert "Targets" in render_table(report)


def test_cli_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--only", "machine", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sections"] == ["machine"] and report["machine"]["cores"] >= 1


def test_cli_rejects_unknown_section_and_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--only", "speed"], ["--index-sizes", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["benchmark", *argv])
        assert exit_info.value.code == 2
    assert "invalid choice: 'speed'" in capsys.readouterr().err


def test_benchmark_children_write_only_into_their_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_FEEDBACK_URL", "postgresql://shop@db.example/votes")  # a shop's own database
    monkeypatch.setattr(os, "environ", child_env(tmp_path))  # what the build and the app probe start with
    settings = Settings.from_env()
    for written in (settings.feedback_target, settings.thumbnail_dir, settings.upload_dir):
        assert Path(written).is_relative_to(tmp_path), written


def test_every_option_reaches_the_benchmark_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import bench.run
    from bench.cli import main as bench_main

    seen: list[BenchmarkConfig] = []
    monkeypatch.setattr(bench.run, "run_benchmark", lambda config: seen.append(config) or {})
    folder = str(tmp_path)
    assert bench_main(["--index-sizes", "5", "7", "--catalog", folder, "--ann-real", folder, "--ann-sizes", "9",
                       "--ann-workdir", folder, "--look-index", folder, "--look-photos", folder,
                       "--only", "ann", "machine", "--json"]) == 0
    config = seen[0]
    assert (config.index_sizes, config.ann_sizes, config.sections) == ((5, 7), (9,), ("machine", "ann"))
    assert {config.build_catalog, config.ann_real, config.ann_workdir, config.look_index,
            config.look_photos} == {tmp_path}
    assert json.loads(capsys.readouterr().out) == {}


def test_python_m_bench_and_its_alias_print_the_same_options() -> None:
    def usage(*argv: str) -> str:
        proc = subprocess.run([sys.executable, "-m", *argv, "--help"], cwd=Path(__file__).resolve().parents[1],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split("options:", 1)[1]

    assert usage("bench") == usage("recommender", "benchmark")
