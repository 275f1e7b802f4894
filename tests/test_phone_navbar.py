"""The navigation on a 390 px phone, in headless Chromium: every link a 44 px touch target, in the pages'
registered order, and the current page's link scrolled into the sideways-scrolling row; the "For you"
page's Remember me / Forget me buttons touch-sized too."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.engine import Recommender
from recommender.settings import Settings
from recommender.ui import create_app
from tests.browser_checks import assert_accessible
from tests.test_app import _js, engine  # noqa: F401

TOUCH_PX = 44
PAGES = {"/": "Search", "/for-you": "For you", "/map": "Map", "/feedback": "Feedback", "/trends": "Trends",
         "/audit": "Audit"}  # in the navigation's order
LINKS_JS = """const row = document.querySelector('.nav-main').getBoundingClientRect();
return [...document.querySelectorAll('.nav-main .nav-link')].map(a => { const r = a.getBoundingClientRect();
  return {name: a.textContent, height: r.height, active: a.classList.contains('active'),
          inView: r.left >= row.left - 1 && r.right <= row.right + 1}; });"""


def _serve_on_a_phone(dash_duo, index: Path, tmp_path: Path, engine: Recommender, merchant: bool):  # noqa: F811
    settings = Settings.from_env(index=index, feedback_db=tmp_path / "votes.sqlite3", merchant_tools=merchant,
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    dash_duo.start_server(create_app(settings, engine=engine))
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    return dash_duo


@pytest.fixture
def phone(dash_duo, demo_index_dir: Path, tmp_path: Path, engine: Recommender):  # noqa: F811
    """The staff's view: the merchant's tools on, every page listed."""
    return _serve_on_a_phone(dash_duo, demo_index_dir, tmp_path, engine, merchant=True)


def _links(dash_duo, path: str) -> list[dict]:
    dash_duo.driver.get(dash_duo.server_url + path)
    dash_duo.wait_for_element(".nav-main .nav-link.active", timeout=30)
    dash_duo.wait_for_element("main h1", timeout=30)
    return _js(dash_duo, LINKS_JS)


@pytest.mark.parametrize("path", list(PAGES))
def test_phone_navigation_links_are_touch_sized_ordered_and_the_current_one_in_view(phone, path: str) -> None:
    links = _links(phone, path)
    assert [link["name"] for link in links] == list(PAGES.values())
    assert all(link["height"] >= TOUCH_PX for link in links), links
    active = [link for link in links if link["active"]]
    assert [link["name"] for link in active] == [PAGES[path]]
    phone.wait_for_element(".nav-main")
    assert _js(phone, LINKS_JS)[list(PAGES).index(path)]["inView"], f"{PAGES[path]} scrolled out of the navigation"
    assert not all(link["inView"] for link in links)  # the row does scroll at 390 px: what is tested is real


def test_for_you_remember_and_forget_buttons_are_touch_sized_on_a_phone(phone) -> None:
    _links(phone, "/for-you")
    phone.wait_for_element("#for-you-remember")
    heights = _js(phone, "return [...document.querySelectorAll('.for-you-actions .btn')]"
                         ".map(b => b.getBoundingClientRect().height);")
    assert len(heights) == 2 and min(heights) >= TOUCH_PX, heights
    assert_accessible(phone.driver, "for you, phone")


def test_the_phone_navigation_row_fades_at_its_ends_and_its_first_link_starts_past_the_fade(phone) -> None:
    """A link cut by the row's edge fades out (read as "more this way", not as a stray word beside the brand);
    at the start, the first link is whole, clear of the left fade."""
    _links(phone, "/")
    mask, gap = _js(phone, """const row = document.querySelector('.nav-main'), style = getComputedStyle(row);
      const first = row.querySelector('.nav-link').getBoundingClientRect();
      return [style.maskImage || style.webkitMaskImage, first.left - row.getBoundingClientRect().left];""")
    assert "linear-gradient" in mask and gap >= 11, (mask, gap)


def test_a_shoppers_navigation_fits_a_phone_without_scrolling(dash_duo, demo_index_dir: Path, tmp_path: Path,
                                                              engine: Recommender) -> None:  # noqa: F811
    """Without the merchant's tools a shopper gets Search, For you and Map, every one whole in the row."""
    _serve_on_a_phone(dash_duo, demo_index_dir, tmp_path, engine, merchant=False)
    links = _links(dash_duo, "/")
    assert [link["name"] for link in links] == ["Search", "For you", "Map"]
    assert all(link["inView"] and link["height"] >= TOUCH_PX for link in links), links
