"""The Map page in a real browser: hover shows a product's name, a click starts "more like this", the URL's
search is highlighted; the sentences for an index without a map and a catalogue without labels; axe."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from recommender.cli import main
from recommender.engine import Recommender
from recommender.index import Index
from recommender.settings import Settings
from recommender.ui import create_app
from tests.audit_fakes import write_audit_index
from tests.browser_checks import assert_accessible
from tests.index_fakes import FakeExtractor

SHOTS = Path("/tmp/map21-shots")
QUERY, CLICKED = "p000", "p070"

POINT_JS = """
const gd = document.querySelector('#map-graph .js-plotly-plot');
const drag = gd.querySelector('.nsewdrag').getBoundingClientRect();
const fl = gd._fullLayout;
for (const t of gd._fullData) {
  const i = Array.from(t.customdata || []).indexOf(arguments[0]);
  if (i >= 0 && !['Query', 'Results'].includes(t.name)) {
    const x = fl.xaxis.l2p(t.x[i]) + fl.xaxis._offset - (drag.left - gd.getBoundingClientRect().left);
    const y = fl.yaxis.l2p(t.y[i]) + fl.yaxis._offset - (drag.top - gd.getBoundingClientRect().top);
    return [x - drag.width / 2, y - drag.height / 2];
  }
}
return null;
"""
TRACES_JS = """
const gd = document.querySelector('#map-graph .js-plotly-plot');
return gd && gd._fullData ? gd._fullData.map(t => [t.name, t.type, Array.from(t.customdata || [])]) : null;
"""


def _index(root: Path, *, labels: bool = True, mapped: bool = True) -> Path:
    index = write_audit_index(root, labels=labels)
    if mapped:
        assert main(["map", "--index", str(index)]) == 0
    return index


def _app(index: Path, tmp_path: Path):
    settings = Settings.from_env(index=index, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    return create_app(settings, engine=Recommender(Index.load(index), FakeExtractor(dim=16)))


def _shots(dash_duo, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        dash_duo.driver.set_window_size(width, 1000)
        time.sleep(1.5)  # the graph follows the window's width
        dash_duo.driver.execute_script("window.scrollTo(0, 0);")
        dash_duo.driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    dash_duo.driver.set_window_size(1280, 1000)
    time.sleep(1.5)


def _expected_results(app, index: Path) -> list[int]:
    from recommender.ui.query import find
    from recommender.ui.services import get_services
    from recommender.ui.state import Search

    with app.server.test_request_context():
        found = find(get_services(), Search.from_fragment(f"#s=item:{QUERY}"))
    positions = Index.load(index).position
    return sorted(positions(h.product.id) for h in found.hits)


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _index(tmp_path_factory.mktemp("map-page"))


def test_hover_click_and_the_search_highlighted(dash_duo, mapped: Path, tmp_path: Path) -> None:
    app = _app(mapped, tmp_path)
    expected = _expected_results(app, mapped)
    dash_duo.start_server(app)
    assert "Map" in [a.text for a in dash_duo.find_elements(".nav-main .nav-link")]  # shoppers get it too
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/map#s=item:{QUERY}")
    dash_duo.wait_for_element("#map-graph .js-plotly-plot .nsewdrag", timeout=30)
    traces = dash_duo.driver.execute_script(TRACES_JS)
    assert {t[1] for t in traces} == {"scattergl"}
    by_name = {t[0]: t[2] for t in traces}
    assert by_name["Query"] == [Index.load(mapped).position(QUERY)]
    assert sorted(by_name["Results"]) == expected and len(expected) >= 5
    assert {"Tshirts", "Jeans", "Watches", "Caps"} <= set(by_name)  # coloured by the category
    assert sum(len(c) for n, c in by_name.items() if n not in ("Query", "Results")) == 122
    legend = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#map-graph .legend .traces .legendtext')].map(e => e.textContent);")
    values = [name for name in legend[2:] if not name.startswith("Other")]
    assert set(legend[:2]) == {"Query", "Results"} and values == sorted(values, key=str.casefold) and len(values) >= 4
    # the map and its whole legend on the first screen
    bottom, screen = dash_duo.driver.execute_script(
        "window.scrollTo(0, 0); return [document.querySelector('#map-graph .legend').getBoundingClientRect().bottom,"
        " window.innerHeight];")
    assert bottom <= screen, (bottom, screen)
    assert_accessible(dash_duo.driver, "map page")
    _shots(dash_duo, "map")

    drag = dash_duo.find_element("#map-graph .nsewdrag")
    dx, dy = dash_duo.driver.execute_script(POINT_JS, 70)
    ActionChains(dash_duo.driver).move_to_element(drag).pause(0.3).move_by_offset(int(dx), int(dy)).pause(0.3) \
        .move_by_offset(1, 0).perform()
    dash_duo.wait_for_contains_text(".map-tip-name", "Watches 70", timeout=15)  # p070's name
    assert dash_duo.find_element(".map-tip-img").get_attribute("src").endswith("/thumbnail/p070")
    _shots(dash_duo, "map-hover")

    ActionChains(dash_duo.driver).click().perform()  # where the pointer rests: on p070
    deadline = time.time() + 30
    while time.time() < deadline and f"item:{CLICKED}" not in dash_duo.driver.current_url:
        time.sleep(0.2)
    assert dash_duo.driver.current_url.endswith(f"/#s=item:{CLICKED}")
    dash_duo.wait_for_element(".results-title", timeout=30)  # the search page, with p070 as the query
    link = dash_duo.wait_for_element("#map-link", timeout=30)  # and back: this search on the map
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", link)
    dash_duo.wait_for_element("#map-graph .js-plotly-plot .nsewdrag", timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline and {t[0]: t[2] for t in dash_duo.driver.execute_script(TRACES_JS)}.get("Query") \
            != [Index.load(mapped).position(CLICKED)]:
        time.sleep(0.3)
    assert {t[0]: t[2] for t in dash_duo.driver.execute_script(TRACES_JS)}["Query"] == \
        [Index.load(mapped).position(CLICKED)]
    assert dash_duo.driver.current_url.endswith(f"/map#s=item:{CLICKED}")
    assert dash_duo.get_logs() == []


def test_the_colouring_changes_with_the_dropdown(dash_duo, mapped: Path, tmp_path: Path) -> None:
    dash_duo.start_server(_app(mapped, tmp_path))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/map")
    dash_duo.wait_for_element("#map-graph .js-plotly-plot .nsewdrag", timeout=30)
    dash_duo.select_dcc_dropdown("#map-colour", index_label(mapped))
    dash_duo.wait_for_contains_text("#map-graph", "Apparel", timeout=15)
    names = {t[0] for t in dash_duo.driver.execute_script(TRACES_JS)}
    assert names == {"Apparel", "Accessories"}  # no search: nothing highlighted


def index_label(index: Path) -> str:
    return Index.load(index).roles.label("masterCategory")


def test_an_index_without_a_map_says_how_to_make_one(dash_duo, tmp_path: Path) -> None:
    index = _index(tmp_path / "old", mapped=False)
    dash_duo.start_server(_app(index, tmp_path))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/map")
    dash_duo.wait_for_contains_text("#map-note", "This catalogue has no map yet", timeout=30)
    assert "python -m recommender map --index" in dash_duo.find_element("#map-note").text
    assert str(tmp_path) not in dash_duo.find_element("#map-note").text  # no server path on a page
    assert_accessible(dash_duo.driver, "map page without a map")
    _shots(dash_duo, "map-none")


def test_a_catalogue_without_labels_is_drawn_in_one_colour_and_says_so(dash_duo, tmp_path: Path) -> None:
    index = _index(tmp_path / "plain", labels=False)
    dash_duo.start_server(_app(index, tmp_path))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/map")
    dash_duo.wait_for_contains_text("#map-note", "no attributes to colour by", timeout=30)
    dash_duo.wait_for_element("#map-graph .js-plotly-plot .nsewdrag", timeout=30)
    assert [t[0] for t in dash_duo.driver.execute_script(TRACES_JS)] == ["Products"]
    assert_accessible(dash_duo.driver, "map page without labels")
    _shots(dash_duo, "map-nolabels")


def test_forged_events_and_values_are_no_update_never_an_error(mapped: Path, tmp_path: Path) -> None:
    import sys

    import dash
    from dash.exceptions import PreventUpdate

    app = _app(mapped, tmp_path)
    page = sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/map")]
    with app.server.test_request_context():
        for event in (None, "x", {"points": []}, {"points": [{"customdata": "nan"}]},
                      {"points": [{"customdata": float("inf")}]}, {"points": [{"customdata": 10 ** 9}]}):
            assert page.hover(event) == (True, dash.no_update)
            with pytest.raises(PreventUpdate):
                page.click(event)
        assert page.click({"points": [{"customdata": 70}]}) == "/#s=item:p070"
        forged = page.draw(["not", "an", "attribute"], {"hash": 1})  # one colour, nothing highlighted
        assert [t.name for t in forged.data] == ["Products"]


def test_every_value_gets_its_own_colour_up_to_the_palette_then_other_says_how_many(tmp_path: Path) -> None:
    """The demo's 16 kinds all get a colour (15 did, skirts were grey); beyond the palette, "Other" counts them."""
    import sys

    import dash

    from recommender.index_files import read_index, write_index

    index = _index(tmp_path)
    files = read_index(index, mmap=False)
    products = [replace(p, attributes={**p.attributes, "articleType": f"Kind {i % 16}", "usage": f"Use {i % 30}"})
                for i, p in enumerate(files.products)]
    write_index(index, files.manifest, products, files.vectors, files.appearance)
    app = _app(index, tmp_path)
    page = sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == "/map")]
    with app.server.test_request_context():
        kinds, uses = page.draw("articleType", None).data, page.draw("usage", None).data
    assert sorted(t.name for t in kinds) == sorted(f"Kind {i}" for i in range(16))
    assert len({t.marker.color for t in kinds}) == 16 and page.OTHER not in {t.marker.color for t in kinds}
    assert len(uses) == page.MOST_VALUES + 1 and uses[0].name == f"Other ({30 - page.MOST_VALUES} rarer values)"
    assert len({t.marker.color for t in uses}) == page.MOST_VALUES + 1
    # the legend lists the values alphabetically, whatever their frequency, "Other" last
    listed = [t.name for t in sorted(uses, key=lambda t: t.legendrank)]
    assert listed[:-1] == sorted(listed[:-1], key=str.casefold) and listed[-1].startswith("Other")
    assert [t.name for t in uses][1:] != listed[:-1]  # the colours' order (frequency) is another one
