"""The feedback page in a real browser: empty state, then charts and product cards after votes; without the
merchant's tools, the sentence that it is turned off."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from recommender.catalog import Product
from recommender.feedback import FeedbackStore, VoteEvent
from recommender.ui.components import MERCHANT_PAGE_OFF
from tests.browser_checks import assert_accessible
from tests.test_feedback import CATALOG, CatalogIndex

# per chart with a rate axis: the words drawn on (or beside) each of its bars, in order; a bar whose words
# Plotly hid (an empty text element, or none) reads as ''
BAR_TEXTS_JS = """
return [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  if (!plot.querySelector('.gtitle') || !plot.querySelector('.gtitle').textContent.startsWith('Thumbs-up rate')) return null;
  return [...plot.querySelectorAll('.bars .point')].map(bar => {
    const t = bar.querySelector('text.bartext');
    return t && t.getBoundingClientRect().width > 0 ? t.textContent : '';
  });
});"""
PAGE_FILE = Path(__file__).resolve().parent.parent / "recommender" / "ui" / "pages" / "feedback.py"


@pytest.fixture
def isolated_pages():
    """Dash's page registry is process-wide: give this test its own and restore it after."""
    import dash

    saved = dict(dash.page_registry)
    dash.page_registry.clear()
    yield
    dash.page_registry.clear()
    dash.page_registry.update(saved)


def feedback_app(store: FeedbackStore, index: CatalogIndex, merchant: bool = True):
    """A minimal multi-page app holding only the feedback page, loaded the way Dash loads pages."""
    import dash
    from dash import html

    from recommender.ui.app import INDEX_STRING
    from recommender.ui.services import install_services

    # no CDN stylesheet: tests run offline; the shop's page template (its language), styles and scripts
    app = dash.Dash(__name__, use_pages=True, pages_folder="", index_string=INDEX_STRING,
                    assets_folder=str(PAGE_FILE.parents[3] / "assets"))
    spec = importlib.util.spec_from_file_location("feedback_page_under_test", PAGE_FILE)
    page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page)
    dash.page_registry[page.__name__]["layout"] = page.layout  # what Dash does for a pages folder
    page.register_callbacks(app)  # what create_app does for each page
    app.layout = html.Main(dash.page_container)  # as in the shop's frame: the page is its main landmark
    install_services(app.server, SimpleNamespace(feedback=store, engine=SimpleNamespace(index=index),
                                                 settings=SimpleNamespace(merchant_tools=merchant)))
    return app


def test_feedback_page_shows_empty_state_then_votes(dash_duo, tmp_path: Path, isolated_pages) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    index = CatalogIndex(
        [
            Product("11", tmp_path / "11.jpg", {"productDisplayName": "Navy <script>Shirt</script>", "articleType": "Shirts"}),
            Product("12", tmp_path / "12.jpg", {"productDisplayName": "Black Sneakers", "articleType": "Casual Shoes"}),
        ]
    )
    dash_duo.start_server(feedback_app(store, index))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/feedback")
    dash_duo.wait_for_contains_text("#feedback-empty", "No votes yet")
    assert_accessible(dash_duo.driver, "feedback without votes")

    votes = [("s1", "11", 1, 1), ("s2", "11", 1, 1), ("s2", "12", -1, 2), ("s3", "99", -1, 3), ("s1", "99", -1, 1)]
    for session, item, vote, rank in votes:  # product 99 was voted on, then left the catalogue
        store.record_shown(session, CATALOG, "q", [(item, rank, 0.3)])
        store.record(VoteEvent(CATALOG, session, "upload", "q", {}, item, rank, 0.3, "resnet50", vote))
    dash_duo.find_element("#feedback-refresh").click()

    dash_duo.wait_for_text_to_equal("#feedback-votes", "5")
    dash_duo.wait_for_text_to_equal("#feedback-up-rate", "40%")
    dash_duo.wait_for_text_to_equal("#feedback-sessions", "3")
    dash_duo.wait_for_contains_text("#feedback-liked", "Navy <script>Shirt</script>")  # the name as text
    dash_duo.wait_for_contains_text("#feedback-disliked", "Black Sneakers")
    gone = dash_duo.find_element("#feedback-disliked .feedback-gone")  # no broken image for a removed product
    assert gone.text == "No longer in the catalogue"
    assert "99 (no longer in the catalogue)" in dash_duo.find_element("#feedback-disliked").text
    assert len(dash_duo.find_elements("#feedback-disliked img")) == 1
    thumbs = [img.get_attribute("src") for img in dash_duo.find_elements("#feedback-liked img")]
    assert [src.removeprefix(dash_duo.server_url) for src in thumbs] == ["/thumbnail/11"]
    dash_duo.wait_for_element_by_css_selector(".js-plotly-plot")
    assert len(dash_duo.find_elements(".js-plotly-plot")) == 3
    titles = [title.text for title in dash_duo.find_elements(".gtitle")]
    assert "Thumbs-up rate by category" in titles, titles  # the page's word, not the column name articleType
    spoken = [chart.get_attribute("aria-label") for chart in dash_duo.find_elements("[role=img]")]
    assert any(text.startswith("Thumbs-up rate by category.") and "Shirts: 100% (2 votes)" in text
               for text in spoken), spoken
    assert any("2: 0% (1 vote)" in text for text in spoken), spoken  # the words a bar at 0 % shows, spoken too
    # every bar of the rate charts shows its votes, those at 0 % too (ranks 2 and 3; the gone product and the shoes)
    shown = dash_duo.driver.execute_script(BAR_TEXTS_JS)
    assert [texts for texts in shown if texts is not None] == [["3 votes", "1 vote", "1 vote"],
                                                               ["2 votes", "1 vote", "2 votes"]]
    assert_accessible(dash_duo.driver, "feedback with votes")
    assert [entry for entry in dash_duo.get_logs() if "thumbnail" not in entry["message"]] == []


def test_feedback_page_is_turned_off_without_the_merchant_tools(dash_duo, tmp_path: Path, isolated_pages) -> None:
    """A shop's votes are its staff's: without the merchant's tools the page says so and shows none of them."""
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    store.record_shown("s1", CATALOG, "q", [("11", 1, 0.3)])
    store.record(VoteEvent(CATALOG, "s1", "upload", "q", {}, "11", 1, 0.3, "resnet50", 1))
    dash_duo.start_server(feedback_app(store, CatalogIndex([]), merchant=False))
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/feedback")
    dash_duo.wait_for_contains_text("main", MERCHANT_PAGE_OFF, timeout=30)
    assert dash_duo.find_elements("#feedback-refresh") == [] and dash_duo.find_elements("#feedback-votes") == []
