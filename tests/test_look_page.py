"""Shop the look on the search page, in Chromium, on the demo index as the demo serves it (shipped catalogue,
shipped MobileNetV2, its trained head): a photo of a person gives a chip per garment, choosing one changes
the results and the URL, Back returns to the garment before, a dragged box overrides, a product shot gives
no chip."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from recommender.engine import Recommender
from recommender.settings import Settings
from recommender.ui import create_app
from tests.browser_checks import assert_accessible, wait_until

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "catalogue"
PRODUCT_SHOT = DEMO / "images" / "029f9205-bc0a-4083-b13d-581bb8cfed9b.jpg"  # a dress, shot alone
WAIT_S = 90  # the first photo waits for the model to load on a busy 2-core machine
CHIPS = ".look-chip"
CARDS = ".product-card:has(.rank-badge) .more-btn"


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory) -> Path:
    """The demo's own index (trained head included), built as on a first run offline (the shipped model)."""
    from recommender.demo_index import ensure_demo_index

    out = tmp_path_factory.mktemp("look-demo") / "demo-index"
    shipped = Settings().demo_model
    return ensure_demo_index(Settings(demo_index=out, backbone=str(shipped), weights=str(shipped)))


@pytest.fixture(scope="module")
def person(tmp_path_factory) -> Path:
    """A person as the catalogue would dress them: hat, t-shirt, trousers and shoes of the demo's own photos,
    stacked on a plain wall (the head finds the hat and the shoes, and the t-shirt and trousers when sure)."""
    rows = list(csv.DictReader((DEMO / "catalog.csv").open(encoding="utf-8")))
    scene = Image.new("RGB", (600, 800), (200, 190, 170))
    for category, box in [("Hat", (220, 0, 380, 140)), ("T-shirt", (130, 150, 470, 420)),
                          ("Pants", (170, 420, 430, 690)), ("Shoes", (200, 690, 400, 800))]:
        row = [r for r in rows if r["category"] == category][3]
        with Image.open(DEMO / row["image"]) as shot:
            scene.paste(shot.convert("RGB").resize((box[2] - box[0], box[3] - box[1])), box[:2])
    path = tmp_path_factory.mktemp("look-photo") / "person.jpg"
    scene.save(path, quality=92)
    return path


@pytest.fixture
def shop(dash_duo, demo_index: Path, tmp_path: Path):
    settings = Settings.from_env(index=demo_index, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    dash_duo.start_server(create_app(settings, engine=Recommender.open(demo_index)))
    dash_duo.wait_for_element(".product-card", timeout=30)
    return dash_duo


def _wait(dash_duo, condition, message: str, timeout: float = WAIT_S):
    return wait_until(dash_duo.driver, condition, message, timeout)


def _js(dash_duo, script: str, *args):
    return dash_duo.driver.execute_script(script, *args)


def _fragment(dash_duo) -> str:
    return unquote(_js(dash_duo, "return window.location.hash;"))


def _chips(dash_duo) -> list[tuple[str, bool]]:
    """(name, chosen) of every garment chip, in one script (they may be redrawn meanwhile)."""
    return [tuple(c) for c in _js(dash_duo, "return [...document.querySelectorAll(arguments[0])].map("
                                            "c => [c.textContent, c.getAttribute('aria-pressed') === 'true']);", CHIPS)]


def _chosen(dash_duo) -> str | None:
    return next((name for name, on in _chips(dash_duo) if on), None)


def _cards(dash_duo) -> list[str]:
    ids = _js(dash_duo, "return [...document.querySelectorAll(arguments[0])].map(b => b.id);", CARDS)
    return [json.loads(i)["id"] for i in ids]


def _title(dash_duo) -> str:
    return _js(dash_duo, "const t = document.getElementById('results-title'); return t ? t.textContent : '';")


def _settled(dash_duo, garment: str) -> None:
    """The page searches `garment`: its chip chosen, the heading naming it, ten results drawn."""
    _wait(dash_duo, lambda: _chosen(dash_duo) == garment
          and _title(dash_duo) == f"Looks like the {garment.lower()} in your photo" and len(_cards(dash_duo)) == 10,
          f"the {garment} searched")


def _surest(dash_duo) -> str:
    """The garment the page chose by itself (the surest), once its search is drawn."""
    _wait(dash_duo, lambda: _chosen(dash_duo) is not None, "a garment chosen")
    garment = _chosen(dash_duo)
    _settled(dash_duo, garment)
    return garment


def test_a_person_gives_a_chip_per_garment_and_each_chip_is_a_search_in_the_url(shop, person: Path) -> None:
    dash_duo = shop
    dash_duo.find_element("#upload input[type=file]").send_keys(str(person))
    _wait(dash_duo, lambda: len(_chips(dash_duo)) >= 2, "a chip per garment")
    names = [name for name, _ in _chips(dash_duo)]
    # top to bottom; the hat and the shoes always, the t-shirt and trousers as sure as the head is of them
    assert names[0] == "Hat" and names[-1] == "Shoes" and len(names) <= 4
    first = _surest(dash_duo)  # the surest garment is searched first
    first_url, first_cards = _fragment(dash_duo), _cards(dash_duo)
    assert "@" in first_url  # the garment's box is the search's region
    # the strip: the first three results of every garment, each a link to more like it
    groups = dash_duo.find_elements(".look-group")
    headings = [g.find_element(By.CSS_SELECTOR, "h3").text for g in groups]
    assert headings == [name + " · shown below" if name == first else name for name in names]
    assert [len(g.find_elements(By.CSS_SELECTOR, "a.look-item")) for g in groups] == [3] * len(names)
    chosen_group = groups[names.index(first)]
    marked = [g.get_attribute("aria-current") == "true" for g in groups]
    assert marked == [name == first for name in names]  # the garment searched: its results are the list below
    # at 1280 px every garment's results are on the page (the groups wrap), none beyond the strip's right edge
    assert _js(dash_duo, "return getComputedStyle(document.querySelector('.look-groups')).flexWrap;") == "wrap"
    right = _js(dash_duo, "return document.querySelector('.look-strip').getBoundingClientRect().right;")
    assert all(_js(dash_duo, "return arguments[0].getBoundingClientRect().right;", g) <= right for g in groups)
    masks = _js(dash_duo, "return ['.look-row', '.look-groups'].map(s => getComputedStyle(document.querySelector(s))"
                          ".maskImage);")
    assert masks == ["none", "none"]  # nothing scrolls sideways here: no fade clips a focus ring
    hrefs = [unquote(a.get_attribute("href")) for a in chosen_group.find_elements(By.CSS_SELECTOR, "a.look-item")]
    assert [h.rsplit("s=item:", 1)[1].split("&")[0] for h in hrefs] == first_cards[:3]  # its first results
    # the page applied the garment's category itself; the strip's links (other garments too) do not carry it
    assert "auto=category" in first_url and f"category={first}" in first_url
    links = [unquote(a.get_attribute("href")) for a in dash_duo.find_elements(".look-group a.look-item")]
    assert len(links) == 3 * len(names) and not any("category=" in h or "auto=" in h for h in links)
    assert_accessible(dash_duo.driver, "look")

    # choosing another garment searches it: other results, another URL
    other = "Hat" if first != "Hat" else "Shoes"
    chip = next(c for c in dash_duo.find_elements(CHIPS) if c.text == other)
    _js(dash_duo, "window.scrollTo({top: 0, behavior: 'instant'}); arguments[0].click();", chip)
    _settled(dash_duo, other)
    assert _fragment(dash_duo) != first_url and set(_cards(dash_duo)).isdisjoint(first_cards)
    # focus on its results, whose heading shows already at 1280 px: the page stays put (the strip, the tags and the
    # photo's chips in view), where it used to bring the heading to the top of the screen
    _wait(dash_duo, lambda: _js(dash_duo, "return document.activeElement.id;") == "results-title",
          "focus on the chosen garment's results")
    assert _js(dash_duo, "return document.getElementById('results-title').getBoundingClientRect().top;") > 300
    assert_accessible(dash_duo.driver, "look, another garment")

    # Back returns to the garment before, with its results; a reload keeps it
    dash_duo.driver.back()
    _settled(dash_duo, first)
    assert _fragment(dash_duo) == first_url and _cards(dash_duo) == first_cards
    dash_duo.driver.refresh()
    _settled(dash_duo, first)

    # the garment's label on its outline is tappable too
    label = next(a for a in dash_duo.find_elements(".region-graph g.annotation") if a.text == other)
    _js(dash_duo, "window.scrollTo({top: 0, behavior: 'instant'});")
    ActionChains(dash_duo.driver).move_to_element(label.find_element(By.CSS_SELECTOR, "text")).click().perform()
    _settled(dash_duo, other)
    _wait(dash_duo, lambda: _js(dash_duo, "return document.activeElement.id;") == "results-title",
          "focus on the chosen garment's results")

    # a box dragged by hand overrides: no garment chosen, the framed part searched
    # the photo back in view (choosing the garment moved focus to its results), at once: the page scrolls smoothly
    _js(dash_duo, "window.scrollTo({top: 0, behavior: 'instant'});")
    plot = dash_duo.find_element(".region-graph .nsewdrag")
    ActionChains(dash_duo.driver).move_to_element(plot).move_by_offset(-60, -60).click_and_hold().pause(0.1) \
        .move_by_offset(40, 40).pause(0.1).move_by_offset(50, 60).release().perform()
    _wait(dash_duo, lambda: _title(dash_duo) == "Looks like the framed part of your photo", "the dragged box searched")
    assert _chosen(dash_duo) is None and len(_chips(dash_duo)) == len(names)

    # a product of the strip is a link to more like it: a step of the trail
    link = dash_duo.find_elements(".look-group a.look-item")[0]
    product = unquote(link.get_attribute("href")).rsplit("s=item:", 1)[1].split("&")[0]
    _js(dash_duo, "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", link)
    _wait(dash_duo, lambda: _fragment(dash_duo).endswith(f"s=item:{product}") or f"s=item:{product}&" in _fragment(dash_duo),
          "the product followed")
    _wait(dash_duo, lambda: _title(dash_duo).startswith("Looks like “"), "more like the product")
    assert not _chips(dash_duo)  # a catalogue product is no look


def test_chips_are_44_px_on_one_row_and_the_strip_shows_on_a_phone_s_first_screen(shop, person: Path) -> None:
    dash_duo = shop
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    dash_duo.find_element("#upload input[type=file]").send_keys(str(person))
    _surest(dash_duo)
    _js(dash_duo, "window.scrollTo({top: 0, behavior: 'instant'});")
    boxes = _js(dash_duo, "return [...document.querySelectorAll(arguments[0])].map(c => c.getBoundingClientRect())"
                          ".map(r => [r.top, r.height]);", CHIPS)
    assert len(boxes) >= 2 and min(h for _, h in boxes) >= 44
    assert len({round(top) for top, _ in boxes}) == 1  # one row (it scrolls sideways where they do not fit)
    # the first results of the look, the strip's pictures, begin on the first screen
    first = _js(dash_duo, "return document.querySelector('.look-item img').getBoundingClientRect().top;")
    assert first < 844 - 60, first
    labels = lambda: _js(dash_duo, "return [...document.querySelectorAll('.region-graph g.annotation')]"  # noqa: E731
                                   ".map(a => getComputedStyle(a).display);")
    _wait(dash_duo, labels, "the garments' labels drawn on the photo")
    assert set(labels()) == {"none"}  # the photo's labels would cover its garments: the chips name them
    masks = _js(dash_duo, "return ['.look-row', '.look-groups'].map(s => getComputedStyle(document.querySelector(s))"
                          ".maskImage);")
    assert all("linear-gradient" in m for m in masks), masks  # the rows that scroll sideways fade at the ends with more
    fade = "const row = document.querySelector('.look-groups'); row.scrollLeft = arguments[0];" \
           "return getComputedStyle(row).getPropertyValue(arguments[1]);"  # the fade follows on the next frame
    _wait(dash_duo, lambda: _js(dash_duo, fade, 0, "--more-left") == "0px", "no fade at the left end, scrolled to it")
    _wait(dash_duo, lambda: _js(dash_duo, fade, 10**6, "--more-right") == "0px", "nor at the right end")
    assert _js(dash_duo, fade, 10**6, "--more-left") == "40px"  # the other end still fades
    assert_accessible(dash_duo.driver, "look on a phone")
    # another garment's chip: its results, below the photo on a phone, come into view
    other = next(name for name, on in reversed(_chips(dash_duo)) if not on)  # the last: its group is off the row
    chip = next(c for c in dash_duo.find_elements(CHIPS) if c.text == other)
    _js(dash_duo, "arguments[0].click();", chip)
    _settled(dash_duo, other)
    _wait(dash_duo, lambda: 0 <= _js(dash_duo, "return document.getElementById('results-title')"
                                               ".getBoundingClientRect().top;") < 844, "its results in view")
    # the strip's row scrolls sideways here: the searched garment's group is scrolled into its view, its name clear of
    # the fade at the row's left end
    seen = "const rows = document.querySelector('.look-groups'); const row = rows.getBoundingClientRect();" \
           "const fade = parseFloat(getComputedStyle(rows).getPropertyValue('--more-left'));" \
           "const on = document.querySelector('.look-group-on'); const box = on && on.getBoundingClientRect();" \
           "return !!box && on.textContent.startsWith(arguments[0]) && box.left >= row.left + fade - 1" \
           "       && box.right <= row.right + 1;"
    _wait(dash_duo, lambda: _js(dash_duo, seen, other), "the searched garment's group in the strip's view")


def test_a_product_shot_is_one_garment_with_no_chip(shop) -> None:
    dash_duo = shop
    dash_duo.find_element("#upload input[type=file]").send_keys(str(PRODUCT_SHOT))
    _wait(dash_duo, lambda: _title(dash_duo) == "Looks like your photo" and len(_cards(dash_duo)) == 10,
          "the photo's results")
    assert "@" not in _fragment(dash_duo)  # the whole photo: the plain search it always was
    assert not _chips(dash_duo) and not dash_duo.find_elements(".look-strip")


@pytest.mark.parametrize("taps", [None, [], [None], [{}], [{"annotation": {}}], [{"annotation": {"name": "hat"}}],
                                  [{"annotation": {"name": ["0"]}}], "0"])
def test_a_malformed_tap_on_the_picture_changes_nothing(taps) -> None:
    from dash.exceptions import PreventUpdate

    from recommender.ui.search.look import on_garment_tap

    with pytest.raises(PreventUpdate):
        on_garment_tap(taps, "#s=upload:" + "0" * 64)
