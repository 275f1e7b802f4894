"""An index built before the colour histograms changed still compares like with like."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.appearance import APPEARANCE_VERSION, describe
from recommender.backbones import load_extractor
from recommender.build import build_index
from recommender.catalog import load_catalog
from recommender.embedding_cache import cached_index
from recommender.engine import Recommender
from recommender.images import fit_to_model
from recommender.index import Index
from recommender.manifest import read_manifest, write_json
from recommender.model_spec import ModelSpec
from tests.index_fakes import FakeExtractor


def _warm_white_shirt() -> np.ndarray:
    """A white shirt under warm indoor light on a darker floor: the two definitions name it differently."""
    pixels = np.full((64, 64, 3), (120, 100, 80), np.uint8)
    pixels[16:48, 16:48] = (205, 190, 170)
    return pixels


def test_both_definitions_are_computed_and_differ() -> None:
    batch = _warm_white_shirt()[None]
    first, latest = describe(batch, 1).colours, describe(batch).colours
    assert APPEARANCE_VERSION > 1 and not np.allclose(first, latest)
    np.testing.assert_allclose(first.sum(), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="no colour histogram of version 9"):
        describe(batch, 9)


def test_a_query_is_described_as_its_index_was(tmp_path: Path) -> None:
    (tmp_path / "shop" / "images").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.roll(_warm_white_shirt(), i * 5, axis=0)).save(tmp_path / "shop" / "images" / f"p{i}.png")
    (tmp_path / "shop" / "catalog.csv").write_text("id,image,category\n" + "".join(
        f"p{i},images/p{i}.png,Shirt\n" for i in range(3)))
    extractor = FakeExtractor(size=(32, 32))
    build_index(load_catalog(tmp_path / "shop"), tmp_path / "idx", extractor, progress=False)
    picture = Image.fromarray(_warm_white_shirt())
    pixels = fit_to_model(picture, extractor.input_size)[None]

    def query_colours() -> np.ndarray:
        engine = Recommender(Index.load(tmp_path / "idx"), extractor)
        return engine.embed_image(picture).colours

    latest = describe(pixels).colours[0]
    np.testing.assert_allclose(query_colours(), latest / latest.sum(), atol=1e-6)
    write_json(tmp_path / "idx" / "manifest.json", replace(read_manifest(tmp_path / "idx"), appearance_version=1).to_json())
    first = describe(pixels, 1).colours[0]
    np.testing.assert_allclose(query_colours(), first / first.sum(), atol=1e-6)


def test_pictures_for_an_older_index_are_described_as_its_products_were(tmp_path: Path, tiny_tflite) -> None:
    """New photos or views trained or scored against an index of version 1 (the Kaggle indexes) get version 1's
    histograms, so they compare like with like, and a cache of the other version is rebuilt, never reused."""
    catalog_dir = tmp_path / "photos"
    (catalog_dir / "shirt").mkdir(parents=True)
    Image.fromarray(_warm_white_shirt()).save(catalog_dir / "shirt" / "a.png")
    spec = ModelSpec.parse(str(tiny_tflite["float"].path))
    latest = cached_index(load_catalog(catalog_dir), spec, tmp_path / "cache", None)
    older = cached_index(load_catalog(catalog_dir), spec, tmp_path / "cache", None, appearance_version=1)
    assert (latest.manifest.appearance_version, older.manifest.appearance_version) == (APPEARANCE_VERSION, 1)
    pixels = fit_to_model(Image.fromarray(_warm_white_shirt()), load_extractor(spec).input_size)[None]
    unit = lambda colours: colours / colours.sum()  # noqa: E731
    first, second = unit(describe(pixels, 1).colours[0]), unit(describe(pixels).colours[0])
    assert np.abs(first - second).sum() > 0.1  # the two definitions tell this picture apart
    np.testing.assert_allclose(unit(older.appearance.colours[0]), first, atol=0.02)
    np.testing.assert_allclose(unit(latest.appearance.colours[0]), second, atol=0.02)


def test_switching_colour_versions_reuses_each_cache(tmp_path: Path, tiny_tflite) -> None:
    """Photos scored against the Kaggle index (colours 1) then the demo (colours 2) then Kaggle again: each
    version's cache is kept in a folder of its own, so switching back rebuilds nothing."""
    catalog_dir = tmp_path / "photos"
    (catalog_dir / "shirt").mkdir(parents=True)
    Image.fromarray(_warm_white_shirt()).save(catalog_dir / "shirt" / "a.png")
    spec, said = ModelSpec.parse(str(tiny_tflite["float"].path)), io.StringIO()
    for version in (1, APPEARANCE_VERSION, 1, APPEARANCE_VERSION):
        index = cached_index(load_catalog(catalog_dir), spec, tmp_path / "cache", said, appearance_version=version)
        assert index.manifest.appearance_version == version
    assert [line.split()[0] for line in said.getvalue().splitlines()] == ["building", "building", "reusing", "reusing"]
    assert sorted(p.name.rsplit("-", 1)[1] for p in (tmp_path / "cache").iterdir()) == ["colours1", "colours2"]


def test_a_large_batch_is_described_in_chunks_exactly_as_picture_by_picture() -> None:
    from recommender.appearance import CHUNK

    pixels = np.random.default_rng(4).integers(0, 256, (2 * CHUNK + 3, 40, 30, 3), dtype=np.uint8)
    whole = describe(pixels)
    alone = [describe(pixels[i : i + 1]) for i in range(len(pixels))]
    np.testing.assert_array_equal(whole.colours, np.concatenate([a.colours for a in alone]))
    assert list(whole.digests) == [a.digests[0] for a in alone]
    np.testing.assert_array_equal(whole.blank, np.concatenate([a.blank for a in alone]))
