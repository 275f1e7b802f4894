"""Regions of a photo: boxes from a browser's selection, their crops, and the upload store's region vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.regions import Box
from recommender.ui.region import box_from_selection, query_figure
from recommender.uploads import UploadGone, UploadStore


def test_boxes_are_checked_and_canonical() -> None:
    assert Box.around(0.9, 0.8, 0.1, -3) == Box(0.1, 0.0, 0.9, 0.8)  # corners in any order, clipped
    assert Box.around(0.1, 0.1, 0.12, 0.9) is None  # thinner than 5 % of the photo
    assert Box.around("a", 0, 1, 1) is None and Box.around(float("nan"), 0, 1, 1) is None
    assert Box.around(10**400, 0, 0, 1) is None  # JSON may carry an integer no float can hold
    assert Box(0.1, 0.25, 0.5, 1).key() == "0.1,0.25,0.5,1" and Box.parse("0.1,0.25,0.5,1") == Box(0.1, 0.25, 0.5, 1)
    for text in ("0.1,0.2,0.5", "1e-3,0,1,1", "0.5,0.5,0.1,0.1", "nan,0,1,1", None):
        assert Box.parse(text) is None
    with pytest.raises(ValueError):
        Box(0, 0, 1.5, 1)


def test_a_crop_is_the_boxed_part_of_the_picture() -> None:
    picture = Image.new("RGB", (200, 100), "white")
    picture.paste((255, 0, 0), (100, 50, 200, 100))  # bottom-right quarter red
    crop = Box(0.5, 0.5, 1, 1).crop(picture)
    assert crop.size == (100, 50) and crop.getcolors() == [(5000, (255, 0, 0))]


def test_a_box_selection_on_the_figure_is_read_in_picture_fractions() -> None:
    # the figure's y axis points up, so a selection from y 0.2 to 0.6 is the band 0.4..0.8 from the top
    assert box_from_selection({"range": {"x": [0.25, 0.75], "y": [0.2, 0.6]}, "points": []}) == Box(0.25, 0.4, 0.75, 0.8)
    for bad in (None, {}, {"range": {"x": [0, 1]}}, {"range": {"x": ["a", 1], "y": [0, 1]}}, {"range": "x"},
                {"lassoPoints": {"x": [0, 1]}}, {"range": {"x": [0, 1], "y": [10**400, 0]}},
                {"range": {"x": [0, 1], "y": ["0.1", [0.9]]}}, {"range": {"x": [0, 1], "y": [float("nan"), 1]}}):
        assert box_from_selection(bad) is None
    figure = query_figure("/thumbnail/1", (300, 600), Box(0.25, 0.4, 0.75, 0.8), "A dress")
    assert figure.layout.yaxis.scaleratio == 2 and figure.layout.dragmode == "select"
    dim, frame = figure.layout.shapes
    assert (frame.x0, frame.x1) == (0.25, 0.75) and (round(frame.y0, 6), round(frame.y1, 6)) == (0.2, 0.6)
    # the rest dimmed by one shape with the box cut out: no seams where several shapes' edges meet
    assert dim.type == "path" and dim.fillrule == "evenodd" and dim.path.startswith("M0,0 H1 V1 H0 Z")
    hole = [float(v) for v in dim.path.split("Z")[1].replace("M", "").replace("H", ",").replace("V", ",").split(",")]
    assert np.allclose(hole, [0.25, 0.2, 0.75, 0.6, 0.25])


def test_region_vectors_embed_the_kept_copy_once(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads", max_photos=1)
    picture = Image.new("RGB", (400, 200), "white")
    picture.paste((0, 0, 255), (0, 0, 200, 200))
    seen = []

    def embed(image: Image.Image) -> np.ndarray:
        seen.append(image.size)
        return np.asarray(image, dtype=np.float32).mean(axis=(0, 1))

    ref = store.add(b"photo-1", picture, embed)
    left = store.region_vector(ref, Box(0, 0, 0.5, 1), embed)
    assert seen == [(400, 200), (200, 200)] and left[2] > 250 and left[0] < 5  # the blue half
    assert np.array_equal(UploadStore(tmp_path / "uploads").region_vector(ref, Box(0, 0, 0.5, 1), embed), left)
    assert len(seen) == 2  # kept on disk: another process reads it back without embedding
    store.add(b"photo-2", picture, embed)  # over max_photos: the first photo and its regions go
    assert not list((tmp_path / "uploads").glob(f"{ref}*"))
    with pytest.raises(UploadGone):
        store.region_vector(ref, Box(0, 0, 0.5, 1), embed)


def test_a_kept_region_vector_replaces_the_one_kept_before_for_every_process(tmp_path: Path) -> None:
    """A look's garment keeps its own query for its box, even where an older one was kept for that box."""
    store = UploadStore(tmp_path / "uploads", max_photos=2)
    picture = Image.new("RGB", (400, 200), "white")
    ref = store.add(b"photo-1", picture, lambda image: np.zeros(3, np.float32))
    box = Box(0, 0, 0.5, 1)
    store.region_vector(ref, box, lambda image: np.zeros(3, np.float32))
    kept = store.keep_region_vector(ref, box, np.array([1.0, 2.0, 3.0]))
    assert kept.dtype == np.float32

    def never(image: Image.Image) -> np.ndarray:
        raise AssertionError("embedded again")

    for reader in (store, UploadStore(tmp_path / "uploads")):  # this process, and another reading the disk
        assert reader.region_vector(ref, box, never).tolist() == [1.0, 2.0, 3.0]
    store.add(b"photo-2", picture, lambda image: np.zeros(3, np.float32))
    store.add(b"photo-3", picture, lambda image: np.zeros(3, np.float32))
    with pytest.raises(UploadGone):  # a photo no longer kept keeps nothing
        store.keep_region_vector(ref, box, np.ones(3))


def test_a_part_s_vector_the_disk_cannot_keep_is_still_answered_by_this_process(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk after the photo was kept: choosing a garment (or the API's look=1) still searches its query."""
    import errno

    import recommender.uploads as uploads

    store = UploadStore(tmp_path / "uploads")
    ref = store.add(b"photo-1", Image.new("RGB", (400, 200), "white"), lambda image: np.zeros(3, np.float32))

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads, "atomic_write", full)
    box = Box(0, 0, 0.5, 1)
    kept = store.keep_region_vector(ref, box, np.array([1.0, 2.0, 3.0]))
    assert np.array_equal(store.region_vector(ref, box, lambda _: pytest.fail("embedded again")), kept)
    assert not list((tmp_path / "uploads").glob(f"{ref}@*"))  # nothing half written
