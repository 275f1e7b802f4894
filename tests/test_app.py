"""The shopper's app in a real (headless Chromium) browser: upload, filter, more like this, votes.

Few tests, each a whole journey, because every browser start costs seconds. The engine (and so
its model, loaded once) is shared by the tests; each test has its own app, votes and thumbnails.
Behaviour that needs no browser (each bad input, odd images, two users at once) is tested in
test_app_callbacks.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.support.ui import WebDriverWait

from recommender.engine import Recommender
from recommender.settings import Settings
from recommender.ui import create_app
from tests.ui_fakes import HOSTILE_NAME, build_tiny_index, tiny_engine

QUERY_WAIT_S = 90  # the first photo waits for the model to load on a busy 2-core machine
RESULT_CARDS = ".product-card:has(.rank-badge)"


@pytest.fixture(scope="module")
def engine(demo_index_dir: Path) -> Recommender:
    return Recommender.open(demo_index_dir)


@pytest.fixture
def settings(demo_index_dir: Path, tmp_path: Path) -> Settings:
    return Settings.from_env(index=demo_index_dir, feedback_db=tmp_path / "votes.sqlite3",
                             thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")


@pytest.fixture
def shop(dash_duo, settings: Settings, engine: Recommender):
    dash_duo.start_server(create_app(settings, engine=engine))
    dash_duo.wait_for_element(".product-card", timeout=30)  # the page starts with products to browse
    return dash_duo


def _upload(dash_duo, path: Path) -> None:
    dash_duo.find_element("#upload input[type=file]").send_keys(str(path))


def _wait(dash_duo, condition, message: str, timeout: float = QUERY_WAIT_S):
    return WebDriverWait(dash_duo.driver, timeout).until(lambda _driver: condition(), message)


def _texts(dash_duo, selector: str) -> list[str]:
    return dash_duo.driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);", selector
    )


def _card_ids(dash_duo) -> list[str]:
    buttons = dash_duo.find_elements(f"{RESULT_CARDS} .more-btn")
    return [json.loads(button.get_attribute("id"))["id"] for button in buttons]


def _click(dash_duo, element) -> None:
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element)


def _votes(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT item_id, vote, query_kind, query_ref, rank, filters FROM votes ORDER BY id").fetchall()


def test_upload_filter_more_like_this_and_vote(shop, settings: Settings, demo_catalog_dir: Path, engine) -> None:
    dash_duo = shop
    assert dash_duo.find_element("#weights-banner").text.startswith("Demo mode: the ranking is not meaningful")
    photo = sorted((demo_catalog_dir / "images").glob("*.jpg"))[0]
    _upload(dash_duo, photo)
    dash_duo.wait_for_text_to_equal("#results-title", "Looks like your photo", timeout=QUERY_WAIT_S)
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) == 10, "10 result cards")
    assert _texts(dash_duo, f"{RESULT_CARDS} .rank-badge") == [f"#{r}" for r in range(1, 11)]
    preview = dash_duo.find_element(".upload-preview-img")
    assert "/upload/" in preview.get_attribute("src")  # served by reference: the photo stays on the server
    assert dash_duo.driver.execute_script("return arguments[0].naturalWidth > 0;", preview)
    # The photo is a catalogue image, so the nearest product is that very product.
    assert _card_ids(dash_duo)[0] == photo.stem

    # A colour filter re-ranks the same photo: every card now has that colour.
    colour = next(iter(engine.index.attribute_values("baseColour")))  # most common: first option
    dash_duo.select_dcc_dropdown("#filter-colour", index=0)
    _wait(dash_duo, lambda: set(_texts(dash_duo, f"{RESULT_CARDS} .tag-colour")) == {colour}, f"only {colour}")
    shown = len(dash_duo.find_elements(RESULT_CARDS))
    expected = min(10, engine.index.attribute_values("baseColour")[colour])
    assert shown == expected
    if expected < 10:
        assert f"Only {expected} products match these filters" in dash_duo.find_element(".few-results").text
    dash_duo.find_element("body").click()  # close the dropdown menu

    # "More like this": the product becomes the query and the breadcrumb grows.
    first_id = _card_ids(dash_duo)[0]
    name = engine.index.product(first_id).name
    _click(dash_duo, dash_duo.find_elements(f"{RESULT_CARDS} .more-btn")[0])
    dash_duo.wait_for_text_to_equal("#results-title", f"Looks like “{name}”", timeout=30)
    assert _texts(dash_duo, "#crumbs .crumb-label") == ["Your photo", name]
    assert first_id not in _card_ids(dash_duo)  # the query product is not its own result

    # Votes show at once, are stored, and clicking the active thumb withdraws.
    voted = _card_ids(dash_duo)[1]
    up = dash_duo.find_element(f'[id=\'{{"id":"{voted}","type":"vote-up"}}\']')
    _click(dash_duo, up)
    _wait(dash_duo, lambda: "active" in up.get_attribute("class"), "thumb up shown", 15)
    assert _votes(settings.feedback_db) == [
        (voted, 1, "item", first_id, 2, json.dumps({"baseColour": [colour]})),
    ]
    _click(dash_duo, up)
    _wait(dash_duo, lambda: "active" not in up.get_attribute("class"), "vote withdrawn", 15)
    assert [row[1] for row in _votes(settings.feedback_db)] == [1, 0]

    # Stepping back along the breadcrumb returns to the photo's results, filter kept.
    _click(dash_duo, dash_duo.find_elements("#crumbs button.crumb")[0])
    dash_duo.wait_for_text_to_equal("#results-title", "Looks like your photo", timeout=30)
    assert _texts(dash_duo, "#crumbs .crumb-label") == ["Your photo"]
    assert set(_texts(dash_duo, f"{RESULT_CARDS} .tag-colour")) == {colour}


def test_bad_upload_shows_an_alert_and_the_next_upload_works(shop, demo_catalog_dir: Path, tmp_path: Path) -> None:
    dash_duo = shop
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("these are not the pixels you are looking for\n")
    _upload(dash_duo, not_an_image)
    dash_duo.wait_for_contains_text(".upload-error", "notes.txt could not be used.", timeout=30)
    assert "not an image" in dash_duo.find_element(".upload-error").text
    assert not dash_duo.find_elements(RESULT_CARDS)

    # The same file again (a shopper retrying) is read again: the alert, closed meanwhile, comes back.
    _click(dash_duo, dash_duo.find_element(".upload-error .btn-close"))
    _wait(dash_duo, lambda: not dash_duo.find_elements(".upload-error"), "alert closed", 15)
    _upload(dash_duo, not_an_image)
    dash_duo.wait_for_contains_text(".upload-error", "notes.txt could not be used.", timeout=30)

    # A phone-sized photo (about 500 KB, twice the limit of every other callback's body) goes through.
    photo = tmp_path / "phone.jpg"
    with Image.open(sorted((demo_catalog_dir / "images").glob("*.jpg"))[5]) as image:
        noise = np.random.default_rng(0).integers(-12, 12, (1200, 1600, 3))
        big = np.asarray(image.convert("RGB").resize((1600, 1200)), dtype=int) + noise
        Image.fromarray(big.clip(0, 255).astype(np.uint8)).save(photo, quality=92)
    assert photo.stat().st_size > 400_000
    _upload(dash_duo, photo)
    dash_duo.wait_for_text_to_equal("#results-title", "Looks like your photo", timeout=QUERY_WAIT_S)
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) == 10, "10 result cards")
    assert not dash_duo.find_elements(".upload-error")
    assert dash_duo.get_logs() == []  # no JavaScript or callback errors on the way


def test_product_names_are_shown_as_text_never_as_html(dash_duo, tmp_path: Path) -> None:
    index_dir = build_tiny_index(tmp_path / "catalogue")
    settings = Settings.from_env(index=index_dir, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    dash_duo.start_server(create_app(settings, engine=tiny_engine(index_dir)))
    dash_duo.wait_for_element(".product-card", timeout=30)
    assert HOSTILE_NAME in _texts(dash_duo, ".product-name")
    assert dash_duo.driver.execute_script("return window.pwned === undefined;")
    assert not dash_duo.find_elements("#results-area script, #results-area img[src='x']")
