"""The shopper's second-pass journeys in headless Chromium: a stable order under "Show more" (appended,
one history entry), the phone's layout after an upload, a dragged box that only reframes the picture,
words kept and named, open dropdowns checked by axe-core. Helpers and fixtures as in test_app.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains

from recommender.engine import Recommender
from recommender.index import Index
from recommender.settings import Settings
from recommender.text_search import TextIndex
from recommender.ui import create_app
from tests.browser_checks import assert_accessible
from tests.index_fakes import FakeExtractor
from tests.test_app import (  # noqa: F401 - `engine`, `settings` and `shop` are fixtures
    RESULT_CARDS,
    _card_ids,
    _click,
    _fragment,
    _js,
    _text,
    _title_is,
    _upload,
    _wait,
    engine,
    settings,
    shop,
)  # fmt: skip
from tests.ui_fakes import build_pool_trap_index

NAVBAR_BOTTOM_JS = "return document.querySelector('.shop-navbar').getBoundingClientRect().bottom;"


def _top(dash_duo, selector: str) -> float:
    return _js(dash_duo, "return document.querySelector(arguments[0]).getBoundingClientRect().top;", selector)


def _cards(dash_duo, n: int) -> None:
    _wait(dash_duo, lambda: len(dash_duo.find_elements(RESULT_CARDS)) == n, f"{n} result cards")


@pytest.fixture
def trap_shop(dash_duo, tmp_path: Path):
    """The app over an index whose order would change if the re-scored pool grew with the results asked for."""
    index_dir = build_pool_trap_index(tmp_path / "trap")
    settings = Settings.from_env(index=index_dir, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    engine = Recommender(Index.load(index_dir), FakeExtractor(weights="imagenet", dim=2, size=(12, 10)))
    dash_duo.start_server(create_app(settings, engine=engine))
    dash_duo.wait_for_element(".product-card", timeout=30)
    return dash_duo


def test_show_more_keeps_the_first_results_appends_and_replaces_the_history_entry(trap_shop) -> None:
    dash_duo = trap_shop
    dash_duo.driver.get(dash_duo.server_url + "/#s=item:p0")
    _cards(dash_duo, 10)
    first = _card_ids(dash_duo)
    assert first[0] == "p100"  # the red one among the nearest, lifted by its colour
    steps = _js(dash_duo, "document.getElementById('card-1').__drawn = true; return history.length;")
    for shown in (20, 30):
        _click(dash_duo, dash_duo.find_element("#show-more"))
        _cards(dash_duo, shown)
        assert _card_ids(dash_duo)[:10] == first and f"n={shown}" in _fragment(dash_duo)
    assert _js(dash_duo, "return document.getElementById('card-1').__drawn === true;")  # appended, not redrawn
    assert _js(dash_duo, "return history.length;") == steps  # Show more replaced the entry: no step of its own
    thirty = _card_ids(dash_duo)

    # A long colour is never clipped in a narrow card.
    clipped = _js(dash_duo, "return [...document.querySelectorAll('.tag')].filter(t => t.scrollWidth > t.clientWidth + 1"
                            " || t.getBoundingClientRect().right > t.closest('.product-card').getBoundingClientRect()"
                            ".right).map(t => t.textContent);")
    assert "Mushroom Brown" in _js(dash_duo, "return document.body.textContent;") and clipped == []

    dash_duo.driver.back()  # one Back leaves the search, however many times Show more was clicked
    _title_is(dash_duo, "Or start from a product")
    dash_duo.driver.get(dash_duo.server_url + "/#s=item:p0&n=100")  # a link asking for 100 from the start
    _cards(dash_duo, 100)
    assert _card_ids(dash_duo)[:30] == thirty
    assert_accessible(dash_duo.driver, "100 results")


def test_a_dragged_box_reframes_the_picture_drawn_and_adds_a_history_entry(shop, demo_catalog_dir) -> None:
    dash_duo = shop
    _upload(dash_duo, sorted((demo_catalog_dir / "images").glob("*.jpg"))[3])
    _title_is(dash_duo, "Looks like your photo")
    _wait(dash_duo, lambda: dash_duo.find_elements(".region-graph .nsewdrag"), "the picture drawn")
    steps = _js(dash_duo, "document.querySelector('.region-graph .js-plotly-plot').__drawn = true;"
                          " return history.length;")
    plot = dash_duo.find_element(".region-graph .nsewdrag")
    ActionChains(dash_duo.driver).move_to_element(plot).move_by_offset(-60, -60).click_and_hold().pause(0.1) \
        .move_by_offset(40, 40).pause(0.1).move_by_offset(50, 60).release().perform()
    _title_is(dash_duo, "Looks like the framed part of your photo")
    _wait(dash_duo, lambda: len(dash_duo.find_elements(".region-graph .shapelayer path")) >= 2, "the frame drawn", 20)
    # the rest of the picture dimmed by one shape with the box cut out (even-odd), the frame around the box
    rules = _js(dash_duo, "return [...document.querySelectorAll('.region-graph .shapelayer path')]"
                          ".map(p => p.style.fillRule || p.getAttribute('fill-rule'));")
    assert len(rules) == 2 and "evenodd" in rules, rules
    assert _js(dash_duo, "return document.querySelector('.region-graph .js-plotly-plot').__drawn === true;")
    assert dash_duo.find_element(".region-note").text == "Searching only the framed part."
    assert dash_duo.find_element(".region-reset").is_displayed()
    assert _js(dash_duo, "return history.length;") == steps + 1  # a crop is a step Back undoes
    dash_duo.driver.back()
    _title_is(dash_duo, "Looks like your photo")
    _wait(dash_duo, lambda: not dash_duo.find_elements(".region-graph .shapelayer path"), "the frame gone", 20)
    assert not dash_duo.find_element(".region-reset").is_displayed()
    # the box the shopper dragged goes with the frame: no outline or handles are left on the whole picture
    assert not dash_duo.find_elements(".region-graph .selectionlayer path, .region-graph .outline-controllers *")
    assert dash_duo.get_logs() == []


def test_phone_shows_the_query_and_first_results_with_the_filters_folded(shop, demo_catalog_dir) -> None:
    dash_duo = shop
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    dash_duo.driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})  # a phone's "Take a photo"
    dash_duo.driver.refresh()
    dash_duo.wait_for_element(".product-card", timeout=30)
    _click(dash_duo, dash_duo.find_element("#weights-banner .btn-close"))  # the test index's random weights
    _wait(dash_duo, lambda: not dash_duo.find_elements("#weights-banner"), "the banner closed", 10)
    toggle = dash_duo.find_element("#filters-toggle")
    assert toggle.is_displayed() and not dash_duo.find_element("#filters-body").is_displayed()
    _upload(dash_duo, sorted((demo_catalog_dir / "images").glob("*.jpg"))[2])
    _title_is(dash_duo, "Looks like your photo")
    _cards(dash_duo, 10)
    navbar = _js(dash_duo, NAVBAR_BOTTOM_JS)
    try:
        _wait(dash_duo, lambda: _top(dash_duo, ".query-figure") >= navbar - 1
              and _top(dash_duo, RESULT_CARDS) < _js(dash_duo, "return window.innerHeight;") - 90,
              "the photo and the first results on the screen", 10)
    except TimeoutException:
        raise AssertionError(f"the photo and the first results not both on the screen: navbar bottom {navbar}, "
                             f"photo top {_top(dash_duo, '.query-figure')}, first result top "
                             f"{_top(dash_duo, RESULT_CARDS)}, window {_js(dash_duo, 'return window.innerHeight;')}, "
                             f"scrolled {_js(dash_duo, 'return window.scrollY;')}") from None
    assert dash_duo.find_element(".camera-btn").is_displayed()
    assert _js(dash_duo, "const a = document.querySelector('.upload-area').getBoundingClientRect(),"  # one row
                         " c = document.querySelector('.camera-btn').getBoundingClientRect();"
                         " return c.top < a.bottom && c.left >= a.right;")
    assert dash_duo.find_element(".replace-touch").text == "Choose another photo"  # nothing is dropped on a phone
    assert_accessible(dash_duo.driver, "phone results, filters folded")

    _click(dash_duo, dash_duo.find_element('#tag-row .chip[aria-label^="Show only"]'))
    _wait(dash_duo, lambda: toggle.text == "Filters and words · 1 active", "the active filter counted")
    _click(dash_duo, toggle)
    _wait(dash_duo, lambda: dash_duo.find_element("#filters-body").is_displayed(), "filters unfolded", 10)
    assert toggle.get_attribute("aria-expanded") == "true"
    _click(dash_duo, dash_duo.find_element("#filter-category"))
    _wait(dash_duo, lambda: dash_duo.find_elements("input.dash-dropdown-search"), "the dropdown open", 10)
    assert dash_duo.find_element("input.dash-dropdown-search").get_attribute("aria-label") == \
        "Search the category options"
    assert_accessible(dash_duo.driver, "phone, a filter's dropdown open")


def test_words_are_suggested_named_when_missing_and_kept_visibly(shop, demo_catalog_dir, engine) -> None:
    dash_duo = shop
    index = engine.index
    common = TextIndex.of_products(index.products, index.roles.name).common_words()
    assert dash_duo.find_element("#text-search").get_attribute("placeholder") == f"e.g. {common[0]} or {common[1]}"
    _click(dash_duo, dash_duo.find_element("#filter-colour"))
    _wait(dash_duo, lambda: dash_duo.find_elements("input.dash-dropdown-search"), "the dropdown open", 10)
    assert_accessible(dash_duo.driver, "desktop, a filter's dropdown open")
    dash_duo.find_element("#text-search").send_keys(common[0] + "\n")
    _wait(dash_duo, lambda: f"“{common[0]}”" in (_text(dash_duo, "results-count") or ""), "words applied")

    _upload(dash_duo, sorted((demo_catalog_dir / "images").glob("*.jpg"))[1])  # the words go with the new photo
    _wait(dash_duo, lambda: dash_duo.find_elements("#kept-row"), "kept row")
    assert f"Words: “{common[0]}”" in dash_duo.find_element("#kept-row").text
    assert_accessible(dash_duo.driver, "words kept")
    _click(dash_duo, dash_duo.find_element("#kept-words"))
    _wait(dash_duo, lambda: not dash_duo.find_elements("#kept-row"), "kept words removed")
    assert dash_duo.find_element("#text-search").get_attribute("value") == "" and "text=" not in _fragment(dash_duo)

    # A word no name has, typed while scrolled down the results: the sentence names it, in view.
    # Known race (README, known limits): a Show more clicked while the page still redraws after the words went
    # can be undone by that redraw; the shopper clicks again, and so does this test (at most three times).
    for _attempt in range(3):
        _click(dash_duo, dash_duo.find_element("#show-more"))
        try:
            _wait(dash_duo, lambda: "n=20" in _fragment(dash_duo), "Show more in the URL", 10)
            break
        except TimeoutException:
            continue
    _cards(dash_duo, 20)
    _js(dash_duo, "window.scrollTo(0, document.body.scrollHeight);")
    box = dash_duo.find_element("#text-search")
    _js(dash_duo, "arguments[0].focus({preventScroll: true});", box)
    box.send_keys("zzqx\n")
    _wait(dash_duo, lambda: dash_duo.find_elements(".no-results"), "no results")
    assert "No product name has the words “zzqx”." in dash_duo.find_element(".no-results").text
    assert "0 of 0" not in _text(dash_duo, "results-count")
    _wait(dash_duo, lambda: _top(dash_duo, ".no-results") >= _js(dash_duo, NAVBAR_BOTTOM_JS),
          "the message clear of the navbar", 10)
    assert_accessible(dash_duo.driver, "no product has the words")
    assert dash_duo.get_logs() == []
