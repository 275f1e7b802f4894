"""The audit's near-duplicates on the served demo index, whose trained head draws each kind's products
together: none of its 691 different photos is taken for a duplicate (its vectors alone grouped 36 shoes),
while the same photo added again under another id, re-encoded, is found. Skips when the demo index is not
built (python app.py builds it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.appearance import Appearance
from recommender.audit import DUPLICATE_DISTANCE, audit, neighbours, reduced
from recommender.catalog import Product
from recommender.engine import Recommender
from recommender.images import open_image
from recommender.index_files import IndexFiles, read_index
from recommender.settings import Settings


@pytest.fixture(scope="module")
def demo_files() -> IndexFiles:
    index = Settings.from_env().demo_index
    if not (index / "manifest.json").exists():
        pytest.skip(f"the demo index is not built at {index} (python app.py builds it)")
    files = read_index(index)
    if not files.manifest.model.head:
        pytest.skip("the demo index has no trained head")
    return files


def test_the_trained_demo_index_holds_no_false_duplicates(demo_files: IndexFiles) -> None:
    distances, _ = neighbours(reduced(demo_files.vectors))
    assert (distances < DUPLICATE_DISTANCE).sum() > 10  # the head's vectors alone would group products
    assert audit(demo_files, images=False).duplicates == []


def test_the_same_photo_added_twice_to_the_demo_is_found(demo_files: IndexFiles, tmp_path: Path) -> None:
    original = next(p for p in demo_files.products if p.attributes.get("category") == "Shoes")
    copy = tmp_path / "copy.jpg"
    with Image.open(original.image) as image:  # another file: re-encoded, its pixel digest differs
        image.convert("RGB").save(copy, quality=80)
    vector = Recommender.open(demo_files.path).embed_image(open_image(copy)).vector
    shown = demo_files.appearance
    appearance = Appearance(np.vstack([shown.colours, shown.colours[:1]]), np.append(shown.digests, "copy"),
                            np.append(shown.blank, False))
    planted = IndexFiles(demo_files.path, demo_files.manifest,
                         [*demo_files.products, Product("copy-of-" + original.id, copy, dict(original.attributes))],
                         np.vstack([demo_files.vectors, vector[None, :]]).astype(np.float32), appearance)
    groups = [set(g["ids"]) for g in audit(planted, images=False).duplicates]
    assert groups == [{original.id, "copy-of-" + original.id}]
