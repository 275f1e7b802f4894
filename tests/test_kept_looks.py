"""A look's garments are found once, on the photo as uploaded, and kept with it: every process and restart shows
the same ones, and they are those the API and the CLI find (the kept copy's JPEG moved boxes and swapped two
garments nearly as sure). The model is the red/blue one of test_tag_agreement; `find_garments` is replaced by one
that records the picture it was given and names its garments by its pixels."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import recommender.ui.garments as page_garments
from recommender.looks import Garment, LookSettings
from recommender.uploads import UploadGone, UploadStore
from tests.test_tag_agreement import services  # noqa: F401 (the fixture)

PHOTO_SIDE = 1600  # above the kept copy's 1024 px: the copy differs from the photo as uploaded


def _photo() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (PHOTO_SIDE, PHOTO_SIDE * 3 // 4, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def looked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes of the pictures garments were looked for in; each look is two garments named by the picture."""
    seen: list[tuple[int, int]] = []

    def find(engine, picture):
        seen.append(picture.size)
        garments = [Garment((0.1, 0.1, 0.6, 0.5), f"Tops {picture.size[0]}", 0.99),
                    Garment((0.2, 0.6, 0.5, 0.95), "Shoes", 0.98)]
        return garments, [engine.embed_image(g.region.crop(picture)) for g in garments]

    monkeypatch.setattr(page_garments, "find_garments", find)
    monkeypatch.setattr(page_garments, "_garments", page_garments._Garments())  # this test's process memory
    return seen


def test_the_garments_are_found_on_the_photo_as_uploaded_and_kept_for_every_process(services, looked,  # noqa: F811
                                                                                     monkeypatch) -> None:
    ref, picture = services.add_upload_picture(_photo())
    step = page_garments.opening_step(services, ref, picture)
    assert looked == [picture.size] and max(picture.size) >= PHOTO_SIDE  # the photo as uploaded, not the kept copy
    first = page_garments.garments_of_upload(services, ref)
    assert step.region == first[0].region and first[0].category == f"Tops {picture.size[0]}"
    # another process (or a restart): the kept garments, not found again on the kept copy
    monkeypatch.setattr(page_garments, "_garments", page_garments._Garments())
    assert page_garments.garments_of_upload(services, ref) == first and len(looked) == 1
    # each garment's query was kept as its region's: choosing it embeds nothing
    for garment in first:
        kept = services.uploads.region_vector(ref, garment.region, lambda _: pytest.fail("embedded again"))
        assert kept.shape == (services.engine.query_dim,)


def test_garments_of_another_recipe_or_an_unreadable_file_are_found_again_on_the_kept_copy(services, looked,  # noqa: F811
                                                                                           monkeypatch) -> None:
    ref, picture = services.add_upload_picture(_photo())
    page_garments.opening_step(services, ref, picture)
    kept_copy = Image.open(services.uploads.photo_path(ref)).size
    monkeypatch.setattr(page_garments, "index_look_settings", lambda index: LookSettings(min_confidence=0.5))
    monkeypatch.setattr(page_garments, "_garments", page_garments._Garments())
    again = page_garments.garments_of_upload(services, ref)  # other settings: their own garments
    assert looked == [picture.size, kept_copy] and again[0].category == f"Tops {kept_copy[0]}"
    (services.uploads.folder / f"{ref}.look.json").write_text('{"recipe": ', encoding="utf-8")
    monkeypatch.setattr(page_garments, "_garments", page_garments._Garments())
    assert page_garments.garments_of_upload(services, ref) == again and len(looked) == 3


def test_the_store_keeps_a_look_with_its_recipe_and_drops_it_with_its_photo(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads", max_photos=1)
    pixels = np.zeros((40, 30, 3), np.uint8)
    first = store.add(b"first", Image.fromarray(pixels), lambda _: np.ones(3))
    garments = [{"box": [0.1, 0.2, 0.3, 0.4], "category": "Tops", "confidence": 0.9}]
    store.keep_look(first, "head A", garments)
    assert store.look(first, "head A") == garments and store.look(first, "head B") is None
    json.loads((tmp_path / "uploads" / f"{first}.look.json").read_text())  # whole JSON, written atomically
    store.add(b"second", Image.fromarray(pixels + 1), lambda _: np.ones(3))  # one photo kept: the first goes
    assert not (tmp_path / "uploads" / f"{first}.look.json").exists()
    with pytest.raises(UploadGone):
        store.look(first, "head A")
    with pytest.raises(UploadGone):
        store.keep_look("../../etc/passwd", "head A", garments)  # no path outside the store


def test_the_api_s_look_is_kept_for_the_page_with_the_results_it_answered(services, looked,  # noqa: F811
                                                                          monkeypatch) -> None:
    """POST /api/search look=1 finds the garments as an upload to the page does and keeps them: the page opened on
    the photo (another process) shows the same garments, and each garment's results are its kept query's."""
    from recommender.ui import create_app

    client = create_app(services.settings, engine=services.engine).server.test_client()
    data = _photo()
    body = client.post("/api/search", data={"photo": (io.BytesIO(data), "photo.png"), "look": "1", "k": "3"},
                       content_type="multipart/form-data").get_json()
    ref, size = body["query"]["ref"], Image.open(io.BytesIO(data)).size
    monkeypatch.setattr(page_garments, "_garments", page_garments._Garments())  # the page, in another process
    kept = page_garments.garments_of_upload(services, ref)
    assert len(looked) == 1 and len(kept) == 2  # found once, by the API
    assert [(g["category"], g["box"]) for g in body["garments"]] == [(g.category, g.pixels(size)) for g in kept]
    for garment, answered in zip(kept, body["garments"]):
        vector = services.uploads.region_vector(ref, garment.region, lambda _: pytest.fail("embedded again"))
        hits = services.engine.search(services.engine.stored_query(vector), 3)
        assert [r["id"] for r in answered["results"]] == [hit.id for hit in hits]
