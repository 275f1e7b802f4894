"""A catalogue changed by a few products embeds only those: the index being replaced gives the vectors of the
pictures it already holds (merchant run: 20 products added to 212 embedded all 232 again)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender.build import build_index
from recommender.index_files import read_index
from tests.index_fakes import FakeExtractor, make_catalog, write_image


def _vectors(out: Path) -> dict[str, np.ndarray]:
    files = read_index(out)
    return dict(zip(files.ids, np.asarray(files.vectors)))


def test_a_rebuild_embeds_only_new_and_changed_pictures_and_gives_the_same_index(tmp_path: Path,
                                                                                   capsys: pytest.CaptureFixture) -> None:
    first = make_catalog(tmp_path / "shop", n=12)
    build_index(first, tmp_path / "index", FakeExtractor(weights="imagenet"), progress=False, chunk_size=5)
    grown = make_catalog(tmp_path / "shop", n=15)  # the same twelve pictures and three new ones
    write_image(grown.products[4].image, seed=99)  # and one picture changed under its old id
    capsys.readouterr()
    extractor = FakeExtractor(weights="imagenet")
    build_index(grown, tmp_path / "index", extractor, progress=False, chunk_size=5)
    assert extractor.images == 4  # three new, one changed
    assert "embedded 4 images (11 unchanged pictures kept from the index it replaces)" in capsys.readouterr().err
    fresh = tmp_path / "fresh"
    build_index(grown, fresh, FakeExtractor(weights="imagenet"), progress=False, chunk_size=5)
    rebuilt, expected = _vectors(tmp_path / "index"), _vectors(fresh)
    assert rebuilt.keys() == expected.keys() and all(np.allclose(rebuilt[i], expected[i], atol=1e-6) for i in rebuilt)


@pytest.mark.parametrize("change, why", [
    ("another model", "it was built with another model"),
    ("random weights", "its model has random weights"),
    ("its weights file retrained in place", "its model's file has changed since"),
    ("files newer than the manifest", "its files are newer than its manifest"),
    ("a join cut short", None),
])
def test_an_index_of_another_model_or_unfinished_gives_nothing(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                change: str, why: str | None) -> None:
    catalog = make_catalog(tmp_path / "shop", n=6)
    weights = tmp_path / "weights.h5"
    weights.write_bytes(b"the first training")
    spec = {"random weights": "none", "its weights file retrained in place": str(weights)}.get(change, "imagenet")
    build_index(catalog, tmp_path / "index", FakeExtractor(weights=spec), progress=False)
    index = tmp_path / "index"
    later = (index / "manifest.json").stat().st_mtime_ns + 10**9
    if change == "its weights file retrained in place":
        weights.write_bytes(b"the second training")
        os.utime(weights, ns=(later, later))
    elif change == "files newer than the manifest":
        os.utime(index / "vectors.npy", ns=(later, later))
    elif change == "a join cut short":  # write_index removes the manifest first and writes it last
        (index / "manifest.json").unlink()
    capsys.readouterr()
    extractor = FakeExtractor(name="other" if change == "another model" else "fake", weights=spec)
    build_index(catalog, index, extractor, progress=False)
    assert extractor.images == 6
    said = capsys.readouterr().err
    assert (f"gives no vectors to this build ({why}): every picture is embedded." in said) if why else \
        "gives no vectors" not in said


def test_a_renamed_picture_is_known_by_what_it_shows(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "shop", n=4)
    build_index(catalog, tmp_path / "index", FakeExtractor(weights="imagenet"), progress=False)
    moved = catalog.products[0].image.rename(catalog.products[0].image.with_name("renamed.png"))
    renamed = replace(catalog, products=[replace(catalog.products[0], image=moved), *catalog.products[1:]])
    extractor = FakeExtractor(weights="imagenet")
    build_index(renamed, tmp_path / "index", extractor, progress=False)
    assert extractor.images == 0
