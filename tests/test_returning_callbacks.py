"""The returning shopper's server side without a browser: a forged cookie gets nobody's likes, forget me and
remember me, the start page's tiles refusing forged clicks, every photo search logged, Trends kept off."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import flask
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate
from flask.sessions import SecureCookieSessionInterface
from PIL import Image

from recommender.feedback import VoteEvent
from recommender.settings import Settings
from recommender.ui import create_app
from recommender.ui.components import MERCHANT_PAGE_OFF, thumbnail_url
from recommender.ui.services import get_services
from recommender.ui.session import current_session_id
from tests.test_app_callbacks import _text, as_shopper, tiny_index  # noqa: F401 - `tiny_index` is a fixture
from tests.test_feedback import walk
from tests.ui_fakes import tiny_engine

VICTIM = "0123456789abcdef0123456789abcdef"


def _app(tiny_index: Path, tmp_path: Path, merchant: bool = False):
    settings = Settings.from_env(index=tiny_index, feedback_db=tmp_path / "votes.sqlite3", merchant_tools=merchant,
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    return create_app(settings, engine=tiny_engine(tiny_index))


@pytest.fixture
def app(tiny_index: Path, tmp_path: Path):
    app = _app(tiny_index, tmp_path)
    with app.server.test_request_context():
        yield app


def _page(path: str):
    """A page module as Dash loaded it (importing it again would register it again)."""
    import sys

    import dash

    return sys.modules[next(p["module"] for p in dash.page_registry.values() if p["path"] == path)]


def _like(session_id: str, item: str) -> None:
    services = get_services()
    catalog = services.engine.index.manifest.catalog.identity
    services.feedback.record_shown(session_id, catalog, "q", [(item, 1, 0.5)])
    services.feedback.record(VoteEvent(catalog, session_id, "item", "q", {}, item, 1, 0.5, "fake", 1))


def _clicked(component_id: dict, value: int = 1) -> None:
    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": json.dumps(component_id) + ".n_clicks",
                                                       "value": value}]))


def test_a_forged_cookie_gets_a_new_session_never_the_victims_likes(tiny_index: Path, tmp_path: Path) -> None:
    app = _app(tiny_index, tmp_path)
    with app.server.test_request_context():
        _like(VICTIM, "1004")
        assert get_services().feedback.likes(get_services().engine.index.manifest.catalog.identity, VICTIM) == ["1004"]
    forger = flask.Flask("forger")
    forger.secret_key = "not the shop's key, but long enough to look real"
    forged = SecureCookieSessionInterface().get_signing_serializer(forger).dumps({"sid": VICTIM})
    client = app.server.test_client()
    client.set_cookie("session", forged)
    with client:
        client.get("/for-you", headers={"Accept": "text/html"})
        assert flask.session["sid"] != VICTIM  # the signature failed: a new session, with no likes
        assert "Nothing here yet" in _text(_page("/for-you").for_you_content(get_services(), current_session_id()))


def test_for_you_then_remember_me_then_forget_me(app) -> None:
    page = _page("/for-you")
    for_you_content, on_forget, on_remember = page.for_you_content, page.on_forget, page.on_remember
    me = as_shopper("me")
    _like(me, "1004")
    _like(me, "1005")
    content = for_you_content(get_services(), me)
    page = _text(content)
    assert "Because you liked Red canvas shoes" in page and "Because you liked Black leather bag" in page
    # each reason shows the liked product's own picture too (a demo's names repeat: "Black hat, adults")
    pictures = {c.src for c in walk(content) if "because-img" in str(getattr(c, "className", ""))}
    assert pictures == {thumbnail_url("1004"), thumbnail_url("1005")}
    assert "Tops" in page  # the tiny catalogue's one kind: one interest

    _, disabled, said = on_remember(1)
    assert disabled and "180 days" in said and flask.session.permanent and get_services().feedback.remembered(me)

    content, _, disabled, said = on_forget(1)
    assert "Nothing here yet" in _text(content) and not disabled and "2 votes kept anonymously" in said
    assert current_session_id() != me and not flask.session.permanent  # a new session, ending with the browser
    assert not get_services().feedback.remembered(me)
    assert "Nothing here yet" in _text(for_you_content(get_services(), me))
    assert get_services().feedback.summary(get_services().engine.index.manifest.catalog.identity)["votes"] == 2
    with pytest.raises(PreventUpdate):
        on_forget(None)


def test_start_page_tiles_show_only_on_an_empty_search_and_refuse_forged_clicks(app) -> None:
    from recommender.ui import ids
    from recommender.ui.search.popular import render_popular, start_from_popular

    tiles = _text(render_popular(""))
    assert "Start from a kind" in tiles  # no votes yet
    assert render_popular("#s=item:1004") is None and render_popular("#text=shoes") is None
    _like(as_shopper("someone"), "1004")
    assert "Start from a kind" in _text(render_popular(""))  # one shopper's like makes nothing popular
    for shopper in ("another", "a third"):
        _like(as_shopper(shopper), "1004")
    assert "Popular with shoppers" in _text(render_popular("")) and "3 likes" in _text(render_popular(""))

    _clicked(ids.product(ids.POPULAR, "1004"))
    assert start_from_popular([1], "") == "#s=item:1004"
    for forged in ("no-such-product", 42):
        _clicked({"type": ids.POPULAR, "id": forged})
        with pytest.raises(PreventUpdate):
            start_from_popular([1], "")
    _clicked(ids.product(ids.POPULAR, "1004"), value=0)  # drawn, not clicked
    with pytest.raises(PreventUpdate):
        start_from_popular([0], "")


def test_every_photo_search_is_logged_without_the_photo_or_the_shopper(app) -> None:
    from recommender.ui.search.actions import on_upload

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(buffer, "JPEG")
    payload = {"contents": "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode(), "filename": "a.jpg"}
    for _ in range(2):
        fragment, alert, _ = on_upload(payload, "")
        assert alert is None and fragment.startswith("#s=upload:")
    store = get_services().feedback
    rows = store._query("SELECT * FROM searches")
    assert len(rows) == 2
    assert {name for name in store._query("SELECT name FROM pragma_table_info('searches')")} == {
        ("id",), ("created",), ("catalog",), ("kind",), ("colour",), ("best_item",), ("best_alike",)}
    assert rows[0][3] == "Tops" and 0 <= rows[0][6] <= 1


def test_trends_is_off_without_the_merchant_tools_and_on_with_them(tiny_index: Path, tmp_path: Path) -> None:
    shop, merchant = _app(tiny_index, tmp_path), _app(tiny_index, tmp_path / "merchant", merchant=True)
    trends = _page("/trends")
    with shop.server.test_request_context():
        off = _text(trends.layout())
        assert MERCHANT_PAGE_OFF in off and "RECOMMENDER_MERCHANT_TOOLS=1" in off and "Share of searches" not in off
        with pytest.raises(PreventUpdate):
            trends.redraw("week")
    with merchant.server.test_request_context():
        assert "No searches yet" in _text(trends.layout())
        get_services().feedback.log_search(get_services().engine.index.manifest.catalog.identity, "Tops", "Red",
                                           "1004", 0.2)
        page = _text(trends.redraw("day"))
        assert "Tops" in page and "100% (1)" in page and "Searched, but the best result matched under 50%: Tops" in page
        with pytest.raises(PreventUpdate):
            trends.redraw("year")


def test_trends_shows_the_poorly_matched_searches_table_only_when_there_are_some(tiny_index: Path,
                                                                                    tmp_path: Path) -> None:
    merchant = _app(tiny_index, tmp_path, merchant=True)
    with merchant.server.test_request_context():
        services = get_services()
        catalog = services.engine.index.manifest.catalog.identity
        services.feedback.log_search(catalog, "Tops", "Red", "1004", 0.9)
        content = _page("/trends").trends_content(services, "week")
        assert not _parts(content, lambda part: getattr(part, "id", None) == "trends-lacking")
        assert "Every kind searched had a result matching 50% or more." in _text(content)
        services.feedback.log_search(catalog, "Shoes", "Red", "1004", 0.1)
        content = _page("/trends").trends_content(services, "week")
    assert _parts(content, lambda part: getattr(part, "id", None) == "trends-lacking")


def _parts(component, wanted) -> list:
    """The parts of a component tree (itself included) that are `wanted`."""
    children = getattr(component, "children", None)
    below = children if isinstance(children, (list, tuple)) else [] if children is None else [children]
    return ([component] if wanted(component) else []) + [p for child in below for p in _parts(child, wanted)]


def test_trends_names_each_product_with_its_picture_and_a_link_to_more_like_it(tiny_index: Path,
                                                                                tmp_path: Path) -> None:
    """Products of one name ("Black shoes, adults") are told apart by their picture; a row starts a search."""
    from recommender.feedback.schema import VoteEvent
    from recommender.ui.components import more_like_url, thumbnail_url

    merchant = _app(tiny_index, tmp_path, merchant=True)
    with merchant.server.test_request_context():
        store, catalog = get_services().feedback, get_services().engine.index.manifest.catalog.identity
        store.record_shown("s1", catalog, "1001", [("1004", 1, 0.2)])
        store.record(VoteEvent(catalog, "s1", "item", "1001", {}, "1004", 1, 0.2, "fake", 1))
        content = _page("/trends").trends_content(get_services(), "week")
    [liked] = _parts(content, lambda part: getattr(part, "id", None) == "trends-liked")
    [cell] = _parts(liked, lambda part: getattr(part, "className", None) == "trend-product")
    picture, link = cell.children
    with merchant.server.test_request_context():
        assert (picture.src, picture.alt) == (thumbnail_url("1004"), "")
        assert (link.children, link.href) == ("Red canvas shoes", more_like_url("1004"))
