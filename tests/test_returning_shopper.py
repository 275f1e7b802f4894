"""Returning shoppers in headless Chromium: the start page's products to start from, votes over two
visits giving a "For you" page, "forget me" emptying it, and the merchant's Trends after a few searches.

Every page state is checked by axe-core; with LOOKALIKE_SCREENSHOTS=DIR each is also saved at 1280 and
390 px wide (for a person to look at; the test asserts nothing about the pictures).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest

from recommender.engine import Recommender
from recommender.feedback import FeedbackStore, VoteEvent
from recommender.settings import Settings
from recommender.ui import create_app
from tests.browser_checks import assert_accessible
from tests.test_app import RESULT_CARDS, _click, _fragment, _js, _texts, _title_is, _upload, _wait, engine  # noqa: F401

SCREENSHOT_WIDTHS = (1280, 390)


def _screenshots(dash_duo, state: str) -> None:
    folder = os.environ.get("LOOKALIKE_SCREENSHOTS")
    if not folder:
        return
    driver = dash_duo.driver
    _js(dash_duo, "document.querySelectorAll('.popular-row').forEach(r => r.scrollLeft = 0); window.scrollTo(0, 0);")
    for width in SCREENSHOT_WIDTHS:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
        time.sleep(1.0)  # charts follow the new width after a resize event
        height = _js(dash_duo, "return document.documentElement.scrollHeight;")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": min(height, 4000), "deviceScaleFactor": 1,
                                "mobile": width < 600})
        driver.save_screenshot(str(Path(folder) / f"{state}-{width}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _checked(dash_duo, state: str) -> None:
    assert_accessible(dash_duo.driver, state)
    _screenshots(dash_duo, state)


@pytest.fixture
def settings(demo_index_dir: Path, tmp_path: Path) -> Settings:
    return Settings.from_env(index=demo_index_dir, feedback_db=tmp_path / "votes.sqlite3", merchant_tools=True,
                             thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")


@pytest.fixture
def shop(dash_duo, settings: Settings, engine: Recommender):
    dash_duo.start_server(create_app(settings, engine=engine))
    dash_duo.wait_for_element(".popular-tile", timeout=30)
    return dash_duo


def _vote_up(dash_duo, n: int) -> list[str]:
    """Thumbs up on the first `n` results; returns their product ids once the page shows each vote."""
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) >= n, "results to vote on")
    buttons = dash_duo.find_elements(f"{RESULT_CARDS} .vote-up")[:n]
    voted = [json.loads(b.get_attribute("id"))["id"] for b in buttons]
    for button in buttons:
        _click(dash_duo, button)
        _wait(dash_duo, lambda b=button: b.get_attribute("aria-pressed") == "true", "the thumb up shown", 15)
    return voted


def _start_from(dash_duo, tile) -> None:
    """Tap a product to start from: "more like this" from it, and the starting points give way to results."""
    started = json.loads(tile.get_attribute("id"))["id"]
    _click(dash_duo, tile)
    _wait(dash_duo, lambda: f"s=item:{started}" in _fragment(dash_duo), "more like the tapped product")
    _wait(dash_duo, lambda: not dash_duo.find_elements(".popular-tile"), "the starting points gone once searching")


def _for_you(dash_duo) -> None:
    dash_duo.driver.get(dash_duo.server_url + "/for-you")
    dash_duo.wait_for_element("#for-you-content", timeout=30)


def test_start_page_offers_kinds_then_popular_products_and_a_tap_starts_more_like_this(shop, settings,
                                                                                      engine) -> None:
    dash_duo = shop
    # No votes yet: one product of each kind, a varied start.
    kinds = _texts(dash_duo, ".popular-why")
    assert _texts(dash_duo, "#popular-area h2") == ["Start from a kind"]
    assert len(kinds) >= 2 and len(set(kinds)) == len(kinds)
    _checked(dash_duo, "start-kinds")
    _start_from(dash_duo, dash_duo.find_elements(".popular-tile")[1])
    liked = _vote_up(dash_duo, 2)

    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_element(".popular-tile", timeout=30)
    assert _texts(dash_duo, "#popular-area h2") == ["Start from a kind"]  # one shopper makes nothing popular
    store, catalog = FeedbackStore(settings.feedback_db), engine.index.manifest.catalog.identity
    for shopper in ("another", "a third"):  # two more shoppers like the same products
        store.record_shown(shopper, catalog, "q", [(item, 1, 0.5) for item in liked])
        for item in liked:
            store.record(VoteEvent(catalog, shopper, "item", "q", {}, item, 1, 0.5, "fake", 1))
    dash_duo.driver.get(dash_duo.server_url + "/")
    _wait(dash_duo, lambda: _texts(dash_duo, "#popular-area h2") == ["Popular with shoppers"], "the popular products")
    tiles = [json.loads(i)["id"] for i in _js(dash_duo, "return [...document.querySelectorAll('.popular-tile')]"
                                                        ".map(t => t.id);")]
    assert sorted(tiles[:2]) == sorted(liked)  # the liked ones first
    assert _texts(dash_duo, ".popular-why")[:2] == ["3 likes", "3 likes"]
    _checked(dash_duo, "start-popular")


def test_votes_over_two_visits_give_for_you_and_forget_me_empties_it(shop, settings, engine) -> None:
    dash_duo = shop
    _for_you(dash_duo)
    dash_duo.wait_for_contains_text("#for-you-empty", "Nothing here yet")
    _checked(dash_duo, "for-you-empty")

    # First visit: likes in two searches, each started from a product of the start page.
    liked = []
    for tile, likes in ((0, 2), (-1, 1)):
        dash_duo.driver.get(dash_duo.server_url + "/")
        dash_duo.wait_for_element(".popular-tile", timeout=30)
        _start_from(dash_duo, dash_duo.find_elements(".popular-tile")[tile])
        liked += _vote_up(dash_duo, likes)

    _for_you(dash_duo)
    dash_duo.wait_for_element(".interest .because", timeout=30)
    becauses = set(_texts(dash_duo, ".because"))
    names = {engine.index.product(i).name for i in liked}
    assert becauses <= {f"Because you liked {name}" for name in names} and becauses
    assert not set(liked) & set(_more_like_ids(dash_duo))  # never a product already liked
    _checked(dash_duo, "for-you")

    # Remember me: the cookie now outlives the browser. A second visit after a browser restart (session
    # cookies dropped, persistent ones kept) finds the same page.
    _click(dash_duo, dash_duo.find_element("#for-you-remember"))  # scrolled clear of the sticky navbar
    dash_duo.wait_for_contains_text("#for-you-status", "kept on this device")
    cookie = dash_duo.driver.get_cookie("session")
    assert cookie and cookie.get("expiry"), cookie
    dash_duo.driver.delete_all_cookies()
    dash_duo.driver.add_cookie({k: cookie[k] for k in ("name", "value", "path", "expiry", "httpOnly") if k in cookie})
    _for_you(dash_duo)
    dash_duo.wait_for_element(".interest .because", timeout=30)
    assert set(_texts(dash_duo, ".because")) == becauses
    assert dash_duo.find_element("#for-you-remember").text == "Remembered on this device"

    # Forget me: the page empties, and stays empty on the next visit; the votes stay, anonymous.
    _click(dash_duo, dash_duo.find_element("#for-you-forget"))
    dash_duo.wait_for_contains_text("#for-you-empty", "Nothing here yet")
    assert "3 votes kept anonymously" in dash_duo.find_element("#for-you-status").text
    _checked(dash_duo, "for-you-forgotten")
    _for_you(dash_duo)
    dash_duo.wait_for_contains_text("#for-you-empty", "Nothing here yet")
    with sqlite3.connect(settings.feedback_db) as conn:
        assert conn.execute("SELECT count(*) FROM votes WHERE vote = 1").fetchone() == (3,)
        assert conn.execute("SELECT count(DISTINCT session_id) FROM votes").fetchone() == (1,)
        assert conn.execute("SELECT session_id FROM votes").fetchone()[0].startswith("forgotten-")
        assert conn.execute("SELECT count(*) FROM profiles").fetchone() == (0,)


def _more_like_ids(dash_duo) -> list[str]:
    hrefs = _js(dash_duo, "return [...document.querySelectorAll('.for-you-card a')].map(a => a.getAttribute('href'));")
    return [h.split("s=item:")[1] for h in hrefs]


def test_trends_page_after_a_few_searches(shop, settings, demo_catalog_dir) -> None:
    dash_duo = shop
    dash_duo.driver.get(dash_duo.server_url + "/trends")
    dash_duo.wait_for_contains_text("#trends-empty", "No searches yet", timeout=30)
    _checked(dash_duo, "trends-empty")
    dash_duo.driver.get(dash_duo.server_url + "/")
    photos = sorted((demo_catalog_dir / "images").glob("*.jpg"))[:3]
    for photo in photos:
        _upload(dash_duo, photo)
        _title_is(dash_duo, "Looks like your photo")
        _wait(dash_duo, lambda: _fragment(dash_duo).count("s=upload:") == 1, "the photo's search")
        dash_duo.driver.get(dash_duo.server_url + "/")
        dash_duo.wait_for_element(".popular-tile", timeout=30)
    store = FeedbackStore(settings.feedback_db)
    (searches,) = store._query("SELECT count(*) FROM searches")[0]
    assert searches == 3
    kinds = {kind for (kind,) in store._query("SELECT kind FROM searches")}
    dash_duo.driver.get(dash_duo.server_url + "/trends")
    dash_duo.wait_for_element("#trends-kind table", timeout=30)
    table = dash_duo.find_element("#trends-kind table").text
    assert all(kind in table for kind in kinds)
    assert re.search(r"\b\d{4}-W\d{2}\b", table)  # this week's column
    assert sum(int(n) for n in re.findall(r"\((\d+)\)", table)) == 3  # the three searches, all this week
    _checked(dash_duo, "trends-week")
    _click(dash_duo, dash_duo.find_element("label[for='_dbcprivate_radioitems_trends-period_input_day']"))
    _wait(dash_duo, lambda: re.search(r"\b\d{4}-\d{2}-\d{2}\b", dash_duo.find_element("#trends-kind table").text),
          "the table by day")
    _checked(dash_duo, "trends-day")


def test_the_trends_page_is_off_without_the_merchant_tools(dash_duo, demo_index_dir, tmp_path, engine) -> None:
    settings = Settings.from_env(index=demo_index_dir, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    dash_duo.start_server(create_app(settings, engine=engine))
    dash_duo.driver.get(dash_duo.server_url + "/trends")
    dash_duo.wait_for_contains_text("main", "turned off here", timeout=30)
    assert "Trends" not in dash_duo.find_element(".nav-main").text and "For you" in dash_duo.find_element(".nav-main").text
