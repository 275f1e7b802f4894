"""The kept uploads' folder stays within its disk budget, and keeps nothing on a nearly full disk."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.errors import RecommenderError
from recommender.regions import Box
from recommender.uploads import NOT_KEPT, UploadGone, UploadStore


def _upload(seed: int) -> tuple[bytes, Image.Image]:
    """A noisy photo (it compresses badly, like a real one): its bytes and its picture."""
    pixels = np.random.default_rng(seed).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue(), Image.fromarray(pixels)


def _embed(_image: Image.Image) -> np.ndarray:
    return np.ones(512, dtype=np.float32)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def test_the_least_recently_used_photos_go_beyond_the_disk_budget(tmp_path: Path) -> None:
    probe = UploadStore(tmp_path / "probe")
    probe.add(*_upload(0), _embed)
    one = _folder_bytes(tmp_path / "probe")  # a photo and its vector
    store = UploadStore(tmp_path / "uploads", max_bytes=3 * one + one // 2)
    refs = []
    for seed in range(6):
        refs.append(store.add(*_upload(seed), _embed))
        os.utime(store.photo_path(refs[-1]), (seed, seed))  # used in this order
        if seed == 2:
            os.utime(store.photo_path(refs[0]), (10, 10))  # the first photo used again: it stays
    assert _folder_bytes(tmp_path / "uploads") <= store.max_bytes
    kept = [ref for ref in refs if (tmp_path / "uploads" / f"{ref}.jpg").exists()]
    assert kept == [refs[0], refs[4], refs[5]]
    with pytest.raises(UploadGone):
        store.photo_path(refs[1])
    assert len(list((tmp_path / "uploads").iterdir())) == 6  # each kept photo with its vector, nothing else


def test_region_vectors_count_in_the_budget(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads", max_bytes=10**9)
    first = store.add(*_upload(0), _embed)
    os.utime(store.photo_path(first), (1, 1))
    second = store.add(*_upload(1), _embed)
    store.max_bytes = _folder_bytes(tmp_path / "uploads") + 1000
    for i in range(4):  # four regions of 2 KB each: past the budget, the older photo goes
        store.region_vector(second, Box(0, 0, 0.5 + i / 10, 1), _embed)
    assert _folder_bytes(tmp_path / "uploads") <= store.max_bytes
    assert not (tmp_path / "uploads" / f"{first}.jpg").exists() and store.photo_path(second)


def test_a_nearly_full_disk_keeps_no_new_photo(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads", min_free_bytes=2**62)  # more than any disk has free
    with pytest.raises(RecommenderError) as refused:
        store.add(*_upload(0), _embed)
    assert str(refused.value) == NOT_KEPT
    assert list((tmp_path / "uploads").iterdir()) == []
