"""The resumable, atomic embedding build and its reader -> mapper pipeline (a fake extractor: no TensorFlow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recommender.build import build_index
from recommender.errors import CatalogError, IndexFormatError
from recommender.images import load_for_model
from recommender.index import Index
from recommender.pipeline import embed_sources
from recommender.vectors import unit_rows
from tests.index_fakes import FakeExtractor, Interrupted, make_catalog

REPO = Path(__file__).resolve().parent.parent


def read_index(folder: Path) -> tuple[dict, list[str], np.ndarray, list[dict]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    ids = json.loads((folder / "ids.json").read_text())
    vectors = np.load(folder / "vectors.npy")
    products = [json.loads(line) for line in (folder / "products.jsonl").read_text().splitlines()]
    return manifest, ids, vectors, products


def test_build_writes_the_documented_files(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "cat", n=23)
    extractor = FakeExtractor()
    manifest = build_index(catalog, tmp_path / "idx", extractor, batch_size=4, chunk_size=10, workers=2,
                           progress=False)
    on_disk, ids, vectors, products = read_index(tmp_path / "idx")
    assert on_disk == manifest.to_json()
    assert sorted(os.listdir(tmp_path / "idx")) == ["appearance.npz", "ids.json", "manifest.json", "products.jsonl",
                                                    "vectors.npy"]
    assert on_disk["format_version"] == 3 and on_disk["dtype"] == "float32"
    assert on_disk["normalized"] is True and on_disk["appearance"] is True and on_disk["holdout"] is None
    assert on_disk["computed"] == []  # the catalogue has its own colours
    assert on_disk["model"] == {"backbone": "fake", "weights": "none", "head": None}
    assert (on_disk["dim"], on_disk["count"]) == (8, 23)
    assert on_disk["input_size"] == [12, 10]
    assert on_disk["catalog"] == {"path": str(catalog.root.resolve()), "layout": "csv",
                                  "fingerprint": catalog.fingerprint(), "products": 23}
    assert on_disk["skipped"] == [{"ref": "line 99", "reason": "malformed row"}]
    assert on_disk["skipped_counts"] == {"malformed row": 1}
    assert ids == [p.id for p in catalog.products]
    assert [p["id"] for p in products] == ids
    assert products[3] == {"id": "p003", "image": str(catalog.products[3].image),
                           "attributes": catalog.products[3].attributes}
    assert vectors.dtype == np.float32 and vectors.shape == (23, 8)
    expected = np.stack([extractor.embed(load_for_model(p.image, (12, 10))[None])[0] for p in catalog.products])
    np.testing.assert_allclose(vectors, unit_rows(expected), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_unreadable_images_are_skipped_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    catalog = make_catalog(tmp_path / "cat", n=9, broken={2: b"", 5: b"not an image at all", 7: b"\x89PNG\r\n\x1a\n"})
    manifest = build_index(catalog, tmp_path / "idx", FakeExtractor(), batch_size=3, chunk_size=4, progress=False)
    _, ids, vectors, _ = read_index(tmp_path / "idx")
    assert ids == ["p000", "p001", "p003", "p004", "p006", "p008"]
    assert vectors.shape == (6, 8)
    assert manifest.count == 6
    assert [(s.ref, s.reason) for s in manifest.skipped] == [
        ("line 99", "malformed row"), ("p002", "unreadable image"), ("p005", "unreadable image"),
        ("p007", "unreadable image")]
    assert manifest.skipped_counts() == {"malformed row": 1, "unreadable image": 3}
    err = capsys.readouterr().err
    assert "skipped p005" in err and "3 unreadable image" in err and "images/s" in err
    assert "indexed 6 of 9 products" in err


def test_the_summary_names_what_was_indexed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The demo's training views are no products (the demo's first run says so on every start of a newcomer)."""
    build_index(make_catalog(tmp_path / "cat", n=3), tmp_path / "idx", FakeExtractor(), progress=False,
                noun="training views")
    err = capsys.readouterr().err
    assert "indexed 3 of 3 training views" in err and "products" not in err


def test_a_catalogue_of_only_unreadable_images_is_an_error(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "cat", n=2, broken={0: b"x", 1: b"y"})
    with pytest.raises(CatalogError, match="None of the 2 images"):
        build_index(catalog, tmp_path / "idx", FakeExtractor(), progress=False)


def test_interrupted_build_resumes_to_the_uninterrupted_result(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    catalog = make_catalog(tmp_path / "cat", n=23, broken={6: b"junk"})
    build_index(catalog, tmp_path / "whole", FakeExtractor(), batch_size=3, chunk_size=5, progress=False)

    with pytest.raises(Interrupted):  # dies in the 6th batch: chunks 0 and 1 (2 batches each) are done
        build_index(catalog, tmp_path / "resumed", FakeExtractor(fail_after=5), batch_size=3, chunk_size=5,
                    progress=False)
    work = tmp_path / "resumed" / ".build"
    assert sorted(p.name for p in work.glob("chunk-*.npz")) == ["chunk-00000.npz", "chunk-00001.npz"]
    assert not (tmp_path / "resumed" / "manifest.json").exists()
    with pytest.raises(IndexFormatError, match="has not finished; rerun the build command"):
        Index.load(tmp_path / "resumed")

    second = FakeExtractor()
    manifest = build_index(catalog, tmp_path / "resumed", second, batch_size=3, chunk_size=5, progress=False)
    assert "2 of 5 chunks already done" in capsys.readouterr().err
    assert second.images == 13  # only chunks 2..4 (p010..p022) were embedded again
    assert not work.exists()
    whole, resumed = read_index(tmp_path / "whole"), read_index(tmp_path / "resumed")
    assert resumed[1] == whole[1] and len(set(resumed[1])) == len(resumed[1]) == 22
    np.testing.assert_array_equal(resumed[2], whole[2])
    assert resumed[3] == whole[3]
    assert manifest.to_json()["skipped"] == whole[0]["skipped"]


def test_different_inputs_start_the_build_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    catalog = make_catalog(tmp_path / "cat", n=12)
    with pytest.raises(Interrupted):
        build_index(catalog, tmp_path / "idx", FakeExtractor(fail_after=2), batch_size=2, chunk_size=4,
                    progress=False)
    other = FakeExtractor(name="other", seed=1)
    build_index(catalog, tmp_path / "idx", other, batch_size=2, chunk_size=4, progress=False)
    assert "starting over" in capsys.readouterr().err
    assert other.images == 12
    build_index(catalog, tmp_path / "fresh", FakeExtractor(name="other", seed=1), progress=False)
    np.testing.assert_array_equal(read_index(tmp_path / "idx")[2], read_index(tmp_path / "fresh")[2])


KILLED_BUILD = """
import sys
from pathlib import Path
from recommender.build import build_index
from tests.index_fakes import FakeExtractor, make_catalog
root = Path(sys.argv[1])
catalog = make_catalog(root / "cat", n=24)
delay = float(sys.argv[3])
build_index(catalog, root / sys.argv[2], FakeExtractor(delay=delay), batch_size=2, chunk_size=4, progress=False)
"""


def test_killed_process_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """A real SIGKILL after the first chunk: atomic chunk files make the rerun complete and equal."""
    def run(out: str, delay: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(tmp_path), out, str(delay)], cwd=REPO)

    assert run("whole", 0.0).wait(timeout=120) == 0
    proc = run("killed", 0.3)  # 12 batches x 0.3 s: time enough to kill it after chunk 0
    deadline = time.monotonic() + 60
    while not (tmp_path / "killed" / ".build" / "chunk-00000.npz").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the build ended before its first chunk"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (tmp_path / "killed" / "manifest.json").exists()
    assert run("killed", 0.0).wait(timeout=120) == 0
    whole, killed = read_index(tmp_path / "whole"), read_index(tmp_path / "killed")
    assert killed[1] == whole[1] and len(set(killed[1])) == 24
    np.testing.assert_array_equal(killed[2], whole[2])
    assert killed[3] == whole[3]


def test_embed_sources_reports_positions_and_failures(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "cat", n=5)
    images = [p.image for p in catalog.products]
    extractor = FakeExtractor()
    sources = [images[0], b"garbage", images[1].read_bytes(), tmp_path / "missing.png", images[4]]
    vectors, ok, failures = embed_sources(extractor, sources, batch_size=2, workers=2)
    assert ok == [0, 2, 4]
    assert [position for position, _ in failures] == [1, 3]
    assert all(message for _, message in failures)
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    for row, image in ((1, images[1]), (2, images[4])):
        np.testing.assert_allclose(vectors[row], extractor.embed(load_for_model(image, extractor.input_size)[None])[0],
                                   rtol=1e-6)
    empty, ok, failures = embed_sources(extractor, [])
    assert empty.shape == (0, 8) and ok == [] and failures == []


def test_a_second_build_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    import fcntl

    from recommender.errors import RecommenderError

    catalog = make_catalog(tmp_path / "cat", n=3)
    (tmp_path / "idx" / ".build").mkdir(parents=True)
    with open(tmp_path / "idx" / ".build" / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(RecommenderError, match="Another build is writing to"):
            build_index(catalog, tmp_path / "idx", FakeExtractor(), progress=False)
    build_index(catalog, tmp_path / "idx", FakeExtractor(), progress=False)
    assert (tmp_path / "idx" / "manifest.json").exists()


def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path: Path) -> None:
    from recommender.atomic import atomic_write, write_text_atomic

    target = tmp_path / "manifest.json"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]  # no temp file left behind
    with atomic_write(target, "wb") as handle:
        handle.write(b"new\n")
    assert target.read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
