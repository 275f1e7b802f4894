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


@pytest.mark.parametrize("change", ["another model", "random weights", "a join cut short"])
def test_an_index_of_another_model_or_half_written_gives_nothing(tmp_path: Path, change: str) -> None:
    catalog = make_catalog(tmp_path / "shop", n=6)
    weights = "none" if change == "random weights" else "imagenet"
    build_index(catalog, tmp_path / "index", FakeExtractor(weights=weights), progress=False)
    if change == "a join cut short":  # vectors.npy newer than the manifest: not the index the manifest describes
        later = (tmp_path / "index" / "manifest.json").stat().st_mtime_ns + 10**9
        os.utime(tmp_path / "index" / "vectors.npy", ns=(later, later))
    extractor = FakeExtractor(weights=weights, dim=12 if change == "another model" else 8)
    build_index(replace(catalog), tmp_path / "index", extractor, progress=False)
    assert extractor.images == 6
