"""A build meeting a full disk or a kill -9 during its final join, through the real CLI in a subprocess.

The join writes vectors.npy with plain writes (no memory map over a sparse file, which turned a
full disk into SIGBUS, "Bus error"): a write that fails is one sentence, the temp files go, and
the rerun joins the chunks it kept. Every rename is followed by a flush of its folder.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recommender.build import build_index
from tests.index_fakes import FakeExtractor, make_catalog, write_image

REPO = Path(__file__).resolve().parent.parent
DIM = 256

# The CLI's build with the fake extractor: argv = catalogue, out, file size limit in bytes (0: none), join delay.
CLI_BUILD = f"""
import resource, signal, sys, time
sys.path.insert(0, {str(REPO)!r})
import recommender.backbones as backbones
import recommender.build as build
from tests.index_fakes import FakeExtractor
backbones.load_extractor = lambda spec, **_: FakeExtractor(dim={DIM})
catalog, out, limit, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if limit:  # files may not grow past `limit`: a write beyond it fails as on a full disk (EFBIG)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
if delay:  # a slow join, long enough to be killed in it
    vectors = build.Chunk.vectors
    build.Chunk.vectors = lambda chunk: time.sleep(delay) or vectors(chunk)
from recommender.cli import main
raise SystemExit(main(["build", "--catalog", catalog, "--out", out, "--backbone", "fake", "--weights", "none",
                       "--chunk-size", "8", "--no-progress"]))
"""


def _catalogue(root: Path, n: int = 40) -> Path:
    lines = ["id,image,colour"]
    for i in range(n):
        write_image(root / "images" / f"{i}.png", seed=i)
        lines.append(f"p{i:03d},images/{i}.png,{('Red', 'Blue')[i % 2]}")
    (root / "catalog.csv").write_text("\n".join(lines) + "\n")
    return root / "catalog.csv"


def _cli_build(catalog: Path, out: Path, *, limit: int = 0, delay: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI_BUILD, str(catalog), str(out), str(limit), str(delay)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


def _same_index(a: Path, b: Path) -> None:
    np.testing.assert_array_equal(np.load(a / "vectors.npy"), np.load(b / "vectors.npy"))
    for name in ("ids.json", "products.jsonl"):
        assert (a / name).read_text() == (b / name).read_text()


@pytest.fixture
def reference(tmp_path: Path) -> tuple[Path, Path]:
    """A catalogue and its index built without trouble, to compare the troubled builds with."""
    catalog = _catalogue(tmp_path / "shop")
    done = _cli_build(catalog, tmp_path / "reference")
    assert done.wait(timeout=120) == 0, done.stderr.read()
    return catalog, tmp_path / "reference"


def _assert_full_disk_then_resume(catalog: Path, out: Path, reference: Path, failed: subprocess.Popen,
                                  rerun: subprocess.Popen | None = None) -> None:
    _, stderr = failed.communicate(timeout=120)
    assert failed.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"Writing the index into {out} failed" in lines[0], stderr
    assert "the 5 finished chunks are kept" in lines[0] and "Traceback" not in stderr
    assert _temp_files(out) == [] and not (out / "manifest.json").exists()
    assert len(list((out / ".build").glob("chunk-*.npz"))) == 5
    rerun = rerun or _cli_build(catalog, out)
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert "5 of 5 chunks already done" in stderr
    _same_index(out, reference)
    assert _temp_files(out) == [] and not (out / ".build").exists()


def test_a_file_size_limit_in_the_join_is_one_sentence_and_the_rerun_resumes(tmp_path: Path, reference) -> None:
    catalog, whole = reference
    limit = 20_000  # chunks (8 x 256 floats, about 9 KB) fit; vectors.npy (40 x 256 floats, 41 KB) does not
    assert limit < (whole / "vectors.npy").stat().st_size
    out = tmp_path / "index"
    _assert_full_disk_then_resume(catalog, out, whole, _cli_build(catalog, out, limit=limit))


def test_a_full_file_system_in_the_join_is_one_sentence_and_the_rerun_resumes(tmp_path: Path, reference) -> None:
    """A real tmpfs that fills up during the join (needs the right to mount: skipped without it)."""
    catalog, whole = reference
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root (or CAP_SYS_ADMIN)")
    try:
        out = disk / "index"
        failed = _cli_build(catalog, out)
        failed.wait(timeout=120)
        assert "No space left on device" in (failed.stderr.read() if failed.returncode else "no failure")
        # The chunks filled most of the disk; the same disk made larger is what "free some space" means.
        subprocess.run(["mount", "-o", "remount,size=1m", str(disk)], check=True)
        again = _cli_build(catalog, out)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == 0 and "5 of 5 chunks already done" in stderr, stderr
        _same_index(out, whole)
        assert _temp_files(out) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_kill_during_the_join_leaves_temp_files_that_the_next_run_removes(tmp_path: Path, reference) -> None:
    catalog, whole = reference
    out = tmp_path / "index"
    proc = _cli_build(catalog, out, delay=0.5)  # 5 chunks x 0.5 s inside the join
    deadline = time.monotonic() + 60
    while not any(out.glob(".vectors.npy.*.tmp")):
        assert proc.poll() is None and time.monotonic() < deadline, "the build ended before its join"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _temp_files(out) and not (out / "manifest.json").exists()
    rerun = _cli_build(catalog, out)
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0 and "5 of 5 chunks already done" in stderr, stderr
    assert _temp_files(out) == []
    _same_index(out, whole)


def test_the_join_uses_no_memory_map_and_flushes_the_folder_after_each_rename(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        events.append(("rename", str(Path(dst).parent)))

    def fsync(fd):
        real_fsync(fd)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            events.append(("flush folder", os.readlink(f"/proc/self/fd/{fd}")))

    def no_memory_map(*_args, **_kwargs):
        raise AssertionError("the build wrote through a memory map")

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(np, "memmap", no_memory_map)
    monkeypatch.setattr(np.lib.format, "open_memmap", no_memory_map)
    build_index(make_catalog(tmp_path / "cat", n=12), tmp_path / "idx", FakeExtractor(), chunk_size=4,
                progress=False)
    renames = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    assert len(renames) >= 4 + 3  # the plan and three chunks, then vectors, ids, products and the manifest
    for i in renames:
        assert events[i + 1] == ("flush folder", events[i][1])
