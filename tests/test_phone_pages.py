"""The shopper's and the merchant's pages on a 390 px phone, in headless Chromium: the Map's square map and its
whole legend in a graph that fits them, its "Colour by" 44 px high; every button of For you, Feedback and Audit
a 44 px pill; the Audit page's captions cut between words, never inside one, their whole text in their title."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from recommender.cli import main
from recommender.engine import Recommender
from recommender.index import Index
from recommender.settings import Settings
from recommender.ui import create_app
from tests.audit_fakes import write_audit_index
from tests.browser_checks import assert_accessible, wait_until
from tests.index_fakes import FakeExtractor

TOUCH_PX = 44
SHOTS = Path("/tmp/papercuts20-shots")
# one word each, wider than a phone's 56 px caption: the captions that broke mid-word ("Undershi / rt")
LONG_WORDS = (("Undershirts", "Apparel"), ("Longsleeves", "Apparel"), ("Wristwatches", "Accessories"),
              ("Sunglasses", "Accessories"))

MAP_JS = """
const graph = document.querySelector('#map-graph').getBoundingClientRect();
const plot = document.querySelector('#map-graph .nsewdrag').getBoundingClientRect();
const entries = [...document.querySelectorAll('#map-graph .legend .traces')].map(e => e.getBoundingClientRect());
const colour = document.querySelector('.map-colour').getBoundingClientRect();
return {graph: [graph.top, graph.bottom, graph.width], plot: [plot.top, plot.bottom, plot.width, plot.height],
        entries: entries.map(e => [e.top, e.bottom]), colour: colour.height};
"""
BUTTONS_JS = """
return [...document.querySelectorAll('main .btn')].filter(b => b.offsetParent !== null).map(b => {
  const r = b.getBoundingClientRect();
  return {text: b.textContent, height: r.height, radius: parseFloat(getComputedStyle(b).borderTopLeftRadius)};
});
"""
# each caption's text, title, and per word how many line boxes it is drawn on (2: broken inside the word)
CAPTIONS_JS = """
return [...document.querySelectorAll('.audit-neighbour figcaption')].map(c => {
  const node = c.firstChild, words = [];
  for (const m of node.textContent.matchAll(/\\S+/g)) {
    const range = document.createRange();
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    words.push([m[0], new Set([...range.getClientRects()].map(r => Math.round(r.top))).size]);
  }
  return {text: c.textContent, title: c.title, words: words};
});
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mapped and audited index whose labels are long single words."""
    folder = write_audit_index(tmp_path_factory.mktemp("phone-pages"), categories=LONG_WORDS)
    assert main(["map", "--index", str(folder)]) == 0
    assert main(["audit", "--index", str(folder)]) == 0
    return folder


@pytest.fixture
def phone(dash_duo, index: Path, tmp_path: Path):
    return _serve(dash_duo, index, tmp_path)


def _serve(dash_duo, index: Path, tmp_path: Path):
    """The app over `index`, in a 390 px wide phone's Chromium."""
    settings = Settings.from_env(index=index, feedback_db=tmp_path / "votes.sqlite3", merchant_tools=True,
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    dash_duo.start_server(create_app(settings, engine=Recommender(Index.load(index), FakeExtractor(dim=16))))
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    return dash_duo


def _open(phone, path: str, ready: str) -> None:
    phone.driver.get(phone.server_url + path)
    phone.wait_for_element(ready, timeout=30)


def _shot(phone, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    time.sleep(0.5)
    phone.driver.save_screenshot(str(SHOTS / f"{name}-390.png"))


@pytest.mark.parametrize("path", ["/map", "/map#s=item:p000"])  # a search adds its results and query to the legend
def test_the_map_and_its_whole_legend_fit_a_phone(phone, path: str) -> None:
    _open(phone, path, "#map-graph .js-plotly-plot .legend .traces")
    wanted = 5 + 2 * ("#s=" in path)  # the 5 categories (none "Other"); with a search, its Results and Query too
    wait_until(phone.driver, lambda: len(phone.driver.execute_script(MAP_JS)["entries"]) == wanted,
               "the legend's entries", 30)
    time.sleep(1)  # the graph takes its height from the style the figure came with
    shown = phone.driver.execute_script(MAP_JS)
    (top, bottom, width), (plot_top, plot_bottom, plot_width, plot_height) = shown["graph"], shown["plot"]
    assert plot_width >= width - 4 and abs(plot_height - plot_width) <= 2, shown  # the square map, page-wide
    assert plot_top - top <= 4, shown  # no white space above it
    last = max(entry_bottom for _, entry_bottom in shown["entries"])
    assert all(entry_top >= plot_bottom for entry_top, _ in shown["entries"]), shown  # the legend below the map
    assert last <= bottom and bottom - last <= 30, shown  # every entry inside the graph, no white space below
    assert shown["colour"] >= TOUCH_PX, shown
    assert_accessible(phone.driver, f"map on a phone ({path})")
    _shot(phone, "map" + "-search" * ("#s=" in path))


def test_a_one_colour_map_fills_a_phone_with_no_white_space(dash_duo, tmp_path: Path) -> None:
    """No attribute to colour by: one trace, which Plotly draws without a legend, so the graph is the square map."""
    index = write_audit_index(tmp_path / "unlabelled", labels=False)
    assert main(["map", "--index", str(index)]) == 0
    phone = _serve(dash_duo, index, tmp_path)
    _open(phone, "/map", "#map-graph .js-plotly-plot .nsewdrag")
    time.sleep(1)  # the graph takes its height from the style the figure came with
    shown = phone.driver.execute_script(MAP_JS)
    (top, bottom, width), (plot_top, plot_bottom, plot_width, plot_height) = shown["graph"], shown["plot"]
    assert not shown["entries"] and plot_width >= width - 4 and abs(plot_height - plot_width) <= 2, shown
    assert plot_top - top <= 4 and bottom - plot_bottom <= 4, shown  # no white space above or below it
    note, colour = (phone.driver.find_element("css selector", s).rect for s in ("#map-note", ".map-colour"))
    assert note["y"] >= colour["y"] + colour["height"] and note["width"] >= width - 4, (note, colour)  # its own row
    _shot(phone, "map-one-colour")


@pytest.mark.parametrize("path,ready", [("/for-you", "#for-you-forget"), ("/feedback", "#feedback-refresh"),
                                        ("/audit", ".audit-decide")])
def test_every_button_is_a_touch_sized_pill(phone, path: str, ready: str) -> None:
    _open(phone, path, ready)
    buttons = phone.driver.execute_script(BUTTONS_JS)
    assert buttons
    assert all(b["height"] >= TOUCH_PX and b["radius"] >= b["height"] / 2 for b in buttons), buttons


def test_audit_captions_break_between_words_and_keep_their_whole_text(phone) -> None:
    _open(phone, "/audit", ".audit-neighbour figcaption")
    captions = phone.driver.execute_script(CAPTIONS_JS)
    assert {c["text"] for c in captions} >= {name for name, _ in LONG_WORDS[:2]}, captions
    assert all(c["title"] == c["text"] for c in captions), captions  # the whole label, on hover and to a reader
    broken = [(c["text"], word) for c in captions for word, lines in c["words"] if lines != 1]
    assert not broken, broken
    assert_accessible(phone.driver, "audit on a phone")
    _shot(phone, "audit")
