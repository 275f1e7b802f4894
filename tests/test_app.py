"""The shopper's app in a real (headless Chromium) browser: every page state, checked by axe-core.

Few tests, each a whole journey, because every browser start costs seconds. The engine (and so
its model, loaded once) is shared by the tests; each test has its own app, votes and uploads.
Behaviour that needs no browser (each bad input, odd images, two users at once) is tested in
test_app_callbacks.py.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains

from recommender.engine import Recommender
from recommender.settings import Settings
from recommender.ui import create_app
from tests.browser_checks import assert_accessible, wait_until
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
    return wait_until(dash_duo.driver, condition, message, timeout)


def _js(dash_duo, script: str, *args):
    return dash_duo.driver.execute_script(script, *args)


def _texts(dash_duo, selector: str) -> list[str]:
    return _js(dash_duo, "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);", selector)


def _text(dash_duo, element_id: str) -> str | None:
    return _js(dash_duo, "const e = document.getElementById(arguments[0]); return e && e.textContent;", element_id)


def _card_ids(dash_duo) -> list[str]:
    """The result cards' product ids, read in one script (the cards may be redrawn meanwhile)."""
    ids = _js(dash_duo, "return [...document.querySelectorAll(arguments[0])].map(b => b.id);", f"{RESULT_CARDS} .more-btn")
    return [json.loads(i)["id"] for i in ids]


def _click(dash_duo, element) -> None:
    _js(dash_duo, "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element)


def _fragment(dash_duo) -> str:
    return unquote(_js(dash_duo, "return window.location.hash;"))


def _focused(dash_duo) -> str:
    return _js(dash_duo, "return document.activeElement.id;")


def _votes(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT item_id, vote, query_kind, query_ref, rank FROM votes ORDER BY id").fetchall()


def _title_is(dash_duo, title: str) -> None:
    _wait(dash_duo, lambda: _text(dash_duo, "results-title") == title, f"results titled {title!r}")


def test_photo_tags_more_like_this_back_forward_votes_and_refine(shop, settings, demo_catalog_dir, engine) -> None:
    dash_duo = shop
    assert _js(dash_duo, "return document.documentElement.lang;") == "en"
    assert dash_duo.find_element("#upload input").get_attribute("aria-label") == "Upload a photo to search by"
    # each filter is named by its label first, then its value ("Colour, Any colour")
    assert dash_duo.find_element("#filter-colour").get_attribute("aria-labelledby").startswith("filter-colour-label ")
    assert dash_duo.find_element("a.skip-link").get_attribute("textContent") == "Skip to content"
    assert_accessible(dash_duo.driver, "start page")
    photo = sorted((demo_catalog_dir / "images").glob("*.jpg"))[0]
    _upload(dash_duo, photo)
    _title_is(dash_duo, "Looks like your photo")
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) == 10, "10 result cards")
    assert _card_ids(dash_duo)[0] == photo.stem  # a catalogue image: its own product comes first
    assert _fragment(dash_duo).startswith("#s=upload:")  # the search is in the URL
    assert _text(dash_duo, "results-count") == f"10 of {len(engine.index):,} products"
    assert "Looks like your photo" in _text(dash_duo, "results-status")  # announced (aria-live)
    assert dash_duo.find_element(".region-graph")  # the photo shown large, to choose a region on
    assert_accessible(dash_duo.driver, "photo results")

    # Tags: a click applies one as a filter (every card then has it), a second click removes it.
    chip = dash_duo.find_element('#tag-row .chip[aria-label^="Show only colour"]')
    colour = chip.text
    _click(dash_duo, chip)
    _wait(dash_duo, lambda: set(_texts(dash_duo, f"{RESULT_CARDS} .tag-colour")) == {colour}, f"only {colour}")
    total = engine.index.attribute_values("baseColour")[colour]
    shown = min(10, total)
    assert _text(dash_duo, "results-count") == f"{shown} of {total} products · Colour: {colour}"
    assert f"colour={colour}" in _fragment(dash_duo)
    assert dash_duo.find_element('#tag-row .chip[aria-pressed="true"]').text == colour
    assert_accessible(dash_duo.driver, "tag applied")

    # "More like this": the product becomes the query, focus moves to the new results' heading.
    first_id = _card_ids(dash_duo)[0]
    name = engine.index.product(first_id).name
    _click(dash_duo, dash_duo.find_elements(f"{RESULT_CARDS} .more-btn")[0])
    _title_is(dash_duo, f"Looks like “{name}”")
    _wait(dash_duo, lambda: _focused(dash_duo) == "results-title", "focus on the results' heading", 10)
    assert _texts(dash_duo, "#crumbs .crumb-label") == ["Your photo", name]
    assert first_id not in _card_ids(dash_duo)
    assert_accessible(dash_duo.driver, "more like this")

    # Back and Forward walk the trail; the filter stays with each step.
    dash_duo.driver.back()
    _title_is(dash_duo, "Looks like your photo")
    assert set(_texts(dash_duo, f"{RESULT_CARDS} .tag-colour")) == {colour}
    dash_duo.driver.forward()
    _title_is(dash_duo, f"Looks like “{name}”")

    # A vote names its product, shows at once (aria-pressed) and is kept under this query.
    voted = _card_ids(dash_duo)[1]
    up = dash_duo.find_element(f'[id=\'{{"id":"{voted}","type":"vote-up"}}\']')
    assert up.get_attribute("aria-label") == f"I like {engine.index.product(voted).name}"
    assert not dash_duo.find_element("#refine").is_enabled()
    _click(dash_duo, up)
    _wait(dash_duo, lambda: up.get_attribute("aria-pressed") == "true", "thumb up shown", 15)
    assert _votes(settings.feedback_db) == [(voted, 1, "item", first_id, 2)]
    _wait(dash_duo, lambda: dash_duo.find_element("#refine").is_enabled(), "refine usable", 15)
    assert_accessible(dash_duo.driver, "voted")

    # "More like the ones I liked" moves the query towards the liked product (Rocchio).
    _click(dash_duo, dash_duo.find_element("#refine"))
    _title_is(dash_duo, "Looks like the one you liked")
    assert f"s=liked:+{voted}" in _fragment(dash_duo)
    assert voted not in _card_ids(dash_duo) and first_id not in _card_ids(dash_duo)
    _wait(dash_duo, lambda: _focused(dash_duo) == "results-title", "focus on the results' heading", 10)
    assert_accessible(dash_duo.driver, "refined by votes")

    # A step back along the breadcrumb returns to the photo.
    _click(dash_duo, dash_duo.find_elements("#crumbs button.crumb")[0])
    _title_is(dash_duo, "Looks like your photo")
    logs = dash_duo.get_logs(); open("/tmp/i18-logs.txt", "a").write(repr(logs)); assert logs == []


def test_a_new_photo_keeps_filters_visibly_then_clear(shop, demo_catalog_dir, engine) -> None:
    dash_duo = shop
    photos = sorted((demo_catalog_dir / "images").glob("*.jpg"))
    _upload(dash_duo, photos[0])
    _title_is(dash_duo, "Looks like your photo")
    gender = dash_duo.find_element('#tag-row .chip[aria-label^="Show only gender"]')
    value = gender.text
    _click(dash_duo, gender)
    _wait(dash_duo, lambda: f"Gender: {value}" in (_text(dash_duo, "results-count") or ""), "gender applied")
    assert not dash_duo.find_elements("#kept-row")

    _upload(dash_duo, photos[7])  # another photo: the filter stays, and says so
    _wait(dash_duo, lambda: dash_duo.find_elements("#kept-row"), "kept-filters row")
    assert "Kept from your last search:" in dash_duo.find_element("#kept-row").text
    assert f"Gender: {value}" in dash_duo.find_element("#kept-row").text
    assert set(_texts(dash_duo, f"{RESULT_CARDS} .tag-gender")) == {value}
    assert_accessible(dash_duo.driver, "kept filters")
    _click(dash_duo, dash_duo.find_element("#kept-clear"))
    _wait(dash_duo, lambda: not dash_duo.find_elements("#kept-row"), "kept row cleared")
    assert _text(dash_duo, "results-count") == f"10 of {len(engine.index):,} products"

    # Words narrow the photo search; "Clear all" takes filters and words away.
    word = engine.index.products[0].name.split()[-1]
    dash_duo.find_element("#text-search").send_keys(word + "\n")
    _wait(dash_duo, lambda: f"“{word}”" in (_text(dash_duo, "results-count") or ""), "words applied")
    names = _texts(dash_duo, f"{RESULT_CARDS} .product-name")
    assert names and all(word.lower() in n.lower() for n in names)
    assert_accessible(dash_duo.driver, "words")
    _click(dash_duo, dash_duo.find_element("#clear-all"))
    _wait(dash_duo, lambda: _text(dash_duo, "results-count") == f"10 of {len(engine.index):,} products", "cleared")
    assert dash_duo.find_element("#text-search").get_attribute("value") == ""


def test_show_more_region_reload_and_shared_links(shop, demo_catalog_dir, engine) -> None:
    dash_duo = shop
    _upload(dash_duo, sorted((demo_catalog_dir / "images").glob("*.jpg"))[3])
    _title_is(dash_duo, "Looks like your photo")
    _click(dash_duo, dash_duo.find_element("#show-more"))
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) == 20, "20 results")
    _wait(dash_duo, lambda: _focused(dash_duo) == "card-11", "focus on the first new result", 10)
    assert "n=20" in _fragment(dash_duo)

    # Drag a box on the photo: only that part is searched, and the URL says which.
    before = _card_ids(dash_duo)
    plot = dash_duo.find_element(".region-graph .nsewdrag")
    ActionChains(dash_duo.driver).move_to_element(plot).move_by_offset(-60, -60).click_and_hold().pause(0.1) \
        .move_by_offset(40, 40).pause(0.1).move_by_offset(50, 60).release().perform()
    _wait(dash_duo, lambda: "@" in _fragment(dash_duo), "region in the URL", 20)
    _title_is(dash_duo, "Looks like the framed part of your photo")
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) == 10 and _card_ids(dash_duo) != before[:10],
          "results of the region")
    assert dash_duo.find_element(".region-note").text == "Searching only the framed part."
    assert_accessible(dash_duo.driver, "region")

    # A reload restores the whole search; the region's reset gives the whole photo back.
    region_ids = _card_ids(dash_duo)
    dash_duo.driver.refresh()
    _wait(dash_duo, lambda: _card_ids(dash_duo) == region_ids, "the same results after a reload", 30)
    _click(dash_duo, dash_duo.find_element(".region-reset"))
    _wait(dash_duo, lambda: "@" not in _fragment(dash_duo), "region reset", 20)
    _wait(dash_duo, lambda: _card_ids(dash_duo) == before[:10], "whole-photo results again", 30)

    # A product link opens that search; a link to a photo the server no longer keeps says so.
    product_id = engine.index.ids[5]
    dash_duo.driver.get(dash_duo.server_url + f"/#s=item:{product_id}")
    _title_is(dash_duo, f"Looks like “{engine.index.product(product_id).name}”")
    dash_duo.driver.get(dash_duo.server_url + "/#s=upload:" + "0" * 64)
    _wait(dash_duo, lambda: "no longer kept on the server" in (_text(dash_duo, "results-area") or ""), "gone")
    assert_accessible(dash_duo.driver, "photo gone")
    dash_duo.driver.get(dash_duo.server_url + f"/#s=item:{product_id}&colour=No%20such%20colour")
    _wait(dash_duo, lambda: "No product matches" in (_text(dash_duo, "results-area") or ""), "no results")
    assert_accessible(dash_duo.driver, "no results")
    logs = dash_duo.get_logs(); open("/tmp/i18-logs.txt", "a").write(repr(logs)); assert logs == []


def test_phone_layout_is_touch_sized_and_reads_names(shop, demo_catalog_dir) -> None:
    dash_duo = shop
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    dash_duo.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(".product-card", timeout=30)
    assert _js(dash_duo, "return window.scrollY;") == 0  # arriving, the shopper starts at the upload
    _click(dash_duo, dash_duo.find_element("#weights-banner .btn-close"))  # the test index's random weights
    assert dash_duo.find_element("#upload input").get_attribute("accept") == "image/*,.heic,.heif"
    camera = dash_duo.find_element("#upload-camera input")
    assert camera.get_attribute("capture") == "environment" and camera.get_attribute("accept") == "image/*"
    assert dash_duo.find_element("#upload-camera").is_displayed()  # a touch screen: "Take a photo" is offered
    camera.send_keys(str(sorted((demo_catalog_dir / "images").glob("*.jpg"))[2]))  # what the camera hands over
    _title_is(dash_duo, "Looks like your photo")
    _wait(dash_duo, lambda: _js(dash_duo, "return document.getElementById('crumbs-area').getBoundingClientRect()"
                                          ".top < window.innerHeight;"), "results scrolled into view", 10)
    _click(dash_duo, dash_duo.find_elements(f"{RESULT_CARDS} .more-btn")[0])  # a trail, to touch its steps
    _wait(dash_duo, lambda: dash_duo.find_elements("#crumbs button.crumb"), "a trail")
    _click(dash_duo, dash_duo.find_element("#filters-toggle"))  # the filters unfolded: "Clear all" shown
    _wait(dash_duo, lambda: dash_duo.find_element("#clear-all").is_displayed(), "filters unfolded", 10)
    sizes = _js(dash_duo, "return [...document.querySelectorAll('.vote-btn, .more-btn, .chip, #show-more, "
                          ".crumb, #clear-all, #refine, #filters-toggle')]"
                          ".map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height]);")
    assert sizes and min(min(w, h) for w, h in sizes) >= 44
    name = dash_duo.find_elements(f"{RESULT_CARDS} .product-name")[0]
    _js(dash_duo, "arguments[0].focus();", name)  # what a tap does: the name unfolds
    assert _js(dash_duo, "return getComputedStyle(arguments[0]).webkitLineClamp;", name) in ("none", "unset")
    assert_accessible(dash_duo.driver, "phone results")


def test_bad_upload_shows_an_alert_and_the_next_upload_works(shop, demo_catalog_dir: Path, tmp_path: Path) -> None:
    dash_duo = shop
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("these are not the pixels you are looking for\n")
    _upload(dash_duo, not_an_image)
    dash_duo.wait_for_contains_text(".upload-error", "notes.txt could not be used.", timeout=30)
    assert "It is not a photo" in dash_duo.find_element(".upload-error").text  # refused in the browser

    disguised = tmp_path / "notes.jpg"  # claims to be a photo: the server reads it and refuses it
    disguised.write_text("these are not the pixels you are looking for\n")
    _upload(dash_duo, disguised)
    dash_duo.wait_for_contains_text(".upload-error", "notes.jpg could not be used.", timeout=30)
    assert "not a photo we can use" in dash_duo.find_element(".upload-error").text
    assert not dash_duo.find_elements(RESULT_CARDS)
    assert_accessible(dash_duo.driver, "upload refused")

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
    _title_is(dash_duo, "Looks like your photo")
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
    assert _js(dash_duo, "return window.pwned === undefined;")
    assert not dash_duo.find_elements("#results-area script, #results-area img[src='x']")


def test_an_iphone_heic_photo_through_the_page(shop, demo_catalog_dir, tmp_path) -> None:
    """The file picker accepts .heic; the page decodes it (pillow-heif) and searches with it."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    dash_duo = shop
    photo = tmp_path / "IMG_0001.HEIC"
    Image.open(sorted((demo_catalog_dir / "images").glob("*.jpg"))[4]).convert("RGB").save(photo, format="HEIF")
    assert photo.read_bytes()[4:12] == b"ftypheic"
    _upload(dash_duo, photo)
    _title_is(dash_duo, "Looks like your photo")
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) == 10, "ten results for the HEIC photo")
    logs = dash_duo.get_logs(); open("/tmp/i18-logs.txt", "a").write(repr(logs)); assert logs == []
