"""build --engine spark: the same chunk worker on Spark executors gives the same index as a local build."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from recommender.backbones import load_extractor
from recommender.build import build_index
from recommender.cli import main
from recommender.errors import RecommenderError
from recommender.index import Index
from recommender.model_spec import ModelSpec
from tests.index_fakes import make_catalog
from tests.tflite_models import tiny_tflite  # noqa: F401 (a fixture)


def spark_ready() -> None:
    """Skip, saying which, when pyspark or Java is missing (CI installs both: a skip there is a failure)."""
    missing = [what for what, ok in (("the pyspark package", importlib.util.find_spec("pyspark") is not None),
                                     ("Java", bool(os.environ.get("JAVA_HOME") or shutil.which("java"))))
               if not ok]
    if missing:
        reason = f"{' and '.join(missing)} not installed (scripts/setup.sh --test installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def test_a_spark_build_on_local_2_equals_the_single_process_build(tmp_path: Path, tiny_tflite) -> None:  # noqa: F811
    spark_ready()
    catalog = make_catalog(tmp_path / "cat", n=45, broken={7: b"not an image"})
    spec = ModelSpec.parse(str(tiny_tflite["uint8"].path))
    build_index(catalog, tmp_path / "local", load_extractor(spec), chunk_size=8, progress=False)
    from recommender.spark_build import build_index_spark

    manifest = build_index_spark(catalog, tmp_path / "spark", spec, master="local[2]", chunk_size=8, progress=False)
    local, spark = Index.load(tmp_path / "local"), Index.load(tmp_path / "spark")
    assert spark.ids == local.ids and "p007" not in spark.ids  # the unreadable image skipped on both
    np.testing.assert_allclose(spark.vectors, local.vectors, rtol=1e-5, atol=1e-6)
    assert manifest.skipped_counts() == local.manifest.skipped_counts()
    assert [p.attributes for p in spark.products] == [p.attributes for p in local.products]
    assert not (tmp_path / "spark" / ".build").exists()


def test_a_spark_build_resumes_the_chunks_a_local_build_left(tmp_path: Path, tiny_tflite, capsys) -> None:  # noqa: F811
    spark_ready()
    from recommender.build import ChunkPlan, embed_chunk, plan_chunks
    from recommender.pipeline import Mapper, Reader, StageTimes
    from recommender.spark_build import build_index_spark

    catalog = make_catalog(tmp_path / "cat", n=24)
    spec = ModelSpec.parse(str(tiny_tflite["float"].path))
    extractor = load_extractor(spec)
    build_index(catalog, tmp_path / "whole", extractor, chunk_size=8, progress=False)
    # an interrupted local build: its plan and its first chunk only
    from recommender.build import _start_or_resume, build_lock, build_plan

    with build_lock(tmp_path / "spark") as work:
        _start_or_resume(work, build_plan(catalog, extractor, 8), lambda m: None)
        first: ChunkPlan = plan_chunks(catalog.products, 8)[0]
        embed_chunk(first, work, Reader(extractor.input_size, 1), Mapper(extractor), batch_size=4, times=StageTimes())
    capsys.readouterr()
    build_index_spark(catalog, tmp_path / "spark", spec, master="local[2]", chunk_size=8, progress=False)
    np.testing.assert_allclose(Index.load(tmp_path / "spark").vectors, Index.load(tmp_path / "whole").vectors,
                               rtol=1e-5, atol=1e-6)
    err = capsys.readouterr().err
    assert "1 of 3 chunks already done" in err and "embedded 16 images in 2 chunks" in err  # not redone


def test_spark_or_java_missing_is_one_sentence(tmp_path: Path, monkeypatch, capsys) -> None:
    import recommender.spark_build as spark_build

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_build.shutil, "which", lambda name: None)
    if importlib.util.find_spec("pyspark") is None:
        with pytest.raises(RecommenderError, match="needs the pyspark package; install it with pip install"):
            spark_build.spark_session("local[1]")
    else:
        with pytest.raises(RecommenderError, match="needs Java.*default-jre-headless"):
            spark_build.spark_session("local[1]")
    monkeypatch.setitem(__import__("sys").modules, "pyspark", None)
    monkeypatch.setitem(__import__("sys").modules, "pyspark.sql", None)
    with pytest.raises(RecommenderError, match=r"^build --engine spark needs the pyspark package; .*\.$"):
        spark_build.spark_session("local[1]")
    make_catalog(tmp_path / "cat", n=3)
    (tmp_path / "cat" / "catalog.csv").write_text("id,image\n" + "".join(
        f"p{i:03d},images/p{i:03d}.png\n" for i in range(3)))
    code = main(["build", "--catalog", str(tmp_path / "cat" / "catalog.csv"), "--out", str(tmp_path / "out"),
                 "--backbone", "mobilenet_v2", "--weights", "none", "--engine", "spark", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: build --engine spark needs the pyspark package")
