"""The app's server side without a browser: every bad upload, odd but valid photos, result notices,
two shoppers at once, and the `app.py` entry points.

Most tests use the tiny index with its fake model (no TensorFlow); the concurrency test uses the
demo index with a real Keras backbone, as the app does.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import logging
import struct
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from dash import no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate
from PIL import Image

from recommender.engine import Recommender
from recommender.images import MIB
from recommender.roles import Roles
from recommender.settings import Settings
from recommender.ui import create_app
from recommender.ui.query import find, selected_filters
from recommender.ui.services import get_services
from recommender.ui.state import Search, Step
from tests.ui_fakes import build_tiny_index, tiny_engine


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_index(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def app(tiny_index: Path, tmp_path: Path):
    settings = Settings.from_env(index=tiny_index, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads",
                                 max_upload_bytes=MIB)
    app = create_app(settings, engine=tiny_engine(tiny_index))
    with app.server.test_request_context():
        yield app


def on_upload(payload, fragment=""):
    """The upload callback: (URL fragment, alert, upload area)."""
    from recommender.ui.search.actions import on_upload

    return on_upload(payload, fragment)


def as_shopper(name: str) -> str:
    """Make the current request one of shopper `name`'s (their signed cookie's session id); return the id."""
    import flask

    flask.session["sid"] = hashlib.md5(name.encode()).hexdigest()
    return flask.session["sid"]


def on_vote(*args, session="s1"):
    """A vote from shopper `session` (the server reads the session from the request's signed cookie)."""
    from recommender.ui.search.votes import on_vote

    as_shopper(session)
    return on_vote(*args)


def _results(fragment, session="s1", drawn=None, **filters):
    """The results the page draws for a URL fragment, for shopper `session`, with these filters added
    (`drawn`: what the page had drawn before)."""
    from recommender.ui.search.render import render_results

    search = Search.from_fragment(fragment)
    if filters:
        fragment = search.with_filters({**search.filters, **filters}).fragment()
    as_shopper(session)
    # as Dash calls it: the pattern outputs (count line and button, pages) match what the page has drawn
    context_value.set(AttributeDict(outputs_list=[{}] * 5 + [[], []], triggered_inputs=[]))
    return render_results(fragment, drawn)


def _ids(fragment):
    return [hit.id for hit in find(get_services(), Search.from_fragment(fragment)).hits]


def _text(component) -> str:
    """All the text a component tree shows, in order."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return "".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def _payload(data: bytes, filename: str = "photo") -> dict[str, str]:
    return {"filename": filename, "contents": "data:image/jpeg;base64," + base64.b64encode(data).decode()}


def _encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid little PNG whose header claims another size: a decompression bomb's signature."""
    data = bytearray(_encoded(Image.new("L", (8, 8)), "PNG"))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def _photo() -> bytes:
    return _encoded(Image.new("RGB", (64, 48), (180, 40, 40)), "JPEG")


BAD_UPLOADS = {
    "not an image": (b"%PDF-1.4 certainly not a photo", "not a photo we can use"),
    "truncated JPEG": (_photo()[:200], "damaged or incomplete"),
    "zero bytes": (b"", "The file is empty (0 bytes)"),
    "over the size limit": (
        _encoded(Image.fromarray(np.random.default_rng(0).integers(0, 256, (800, 700, 3), dtype=np.uint8)), "PNG"),
        "more than the 1 MB limit",
    ),
    "decompression bomb": (_png_claiming(30_000, 30_000), "too many pixels"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_upload_gets_one_sentence_and_changes_nothing(app, case: str) -> None:
    data, sentence = BAD_UPLOADS[case]
    fragment, alert, preview = on_upload(_payload(data, "upload.bin"))
    assert fragment is no_update and preview is no_update
    text = _text(alert)
    assert text.startswith("upload.bin could not be used. ")
    assert sentence in text
    assert "Traceback" not in text
    # The page keeps working: the next, good upload goes through.
    fragment, alert, _ = on_upload(_payload(_photo()))
    assert alert is None and Search.from_fragment(fragment).current.kind == "upload"


def test_upload_held_back_by_the_browser_for_its_size(app) -> None:
    _, alert, _ = on_upload({"filename": "huge.jpg", "size": 30 * MIB})
    assert _text(alert) == "huge.jpg could not be used. The file is 30 MB, more than the 1 MB limit for images."


def test_a_file_the_browser_refused_as_no_picture(app) -> None:
    _, alert, _ = on_upload({"filename": "cv.pdf", "rejected": True, "at": 1})
    assert _text(alert) == "cv.pdf could not be used. It is not a photo: choose a JPEG, PNG, WebP or HEIC picture."


def test_garbled_upload_data(app) -> None:
    _, alert, _ = on_upload({"filename": "x.jpg", "contents": "data:image/jpeg;base64,@@@not base64@@@"})
    assert "did not arrive complete" in _text(alert)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to display
    return _encoded(Image.new("RGB", (80, 40), "navy"), "JPEG", exif=exif)


ODD_BUT_VALID = {
    "PNG with alpha": (_encoded(Image.new("RGBA", (40, 60), (255, 0, 0, 0)), "PNG"), (40, 60)),
    "greyscale": (_encoded(Image.new("L", (40, 60), 128), "JPEG"), (40, 60)),
    "CMYK JPEG": (_encoded(Image.new("CMYK", (40, 60), (0, 255, 255, 0)), "JPEG"), (40, 60)),
    "16-bit PNG": (_encoded(Image.new("I;16", (40, 60), 40000), "PNG"), (40, 60)),
    "EXIF-rotated phone photo": (_exif_rotated(), (40, 80)),
    "tiny": (_encoded(Image.new("RGB", (1, 1), "white"), "PNG"), (1, 1)),
    "huge": (_encoded(Image.new("RGB", (6000, 4000), "white"), "JPEG"), (480, 320)),
}


@pytest.mark.parametrize("case", ODD_BUT_VALID)
def test_odd_but_valid_photos_are_accepted(app, case: str) -> None:
    data, preview_size = ODD_BUT_VALID[case]
    fragment, alert, preview = on_upload(_payload(data))
    assert alert is None
    (step,) = Search.from_fragment(fragment).trail
    assert step.kind == "upload" and len(fragment) < 200  # only a reference travels, in the URL
    assert get_services().uploads.vector(step.ref).shape == (get_services().engine.query_dim,)
    response = app.server.test_client().get(f"/upload/{step.ref}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(response.data)) as shown:
        assert shown.mode == "RGB" and shown.size == preview_size  # upright, at most 320 px tall


def test_counts_say_what_the_filters_leave_and_none_says_so(app) -> None:
    fragment, _, _ = on_upload(_payload(_photo()))
    few = _text(_results(fragment, colour=["Black"]))
    assert "2 of 2 products · Colour: Black" in few and "No product matches" not in few
    none = _text(_results(fragment, gender=["Men"]))
    assert "No product matches these filters." in none and "Try widening them (Gender: Men" in none
    words = Search.from_fragment(fragment).cleared().with_text("velvet").fragment()
    unknown = _text(_results(words))  # the words are named, the filters not blamed, no "0 of 0 products"
    assert "No product name has the words “velvet”." in unknown and "filters" not in unknown
    assert "0 of 0" not in unknown and "names here use words like" in unknown
    both = _text(_results(words, colour=["Black"]))
    assert "No product named “velvet” matches the filters (Colour: Black)." in both
    blamed = _text(_results(words, gender=["Men"]))  # the filter alone leaves nothing: it is named, not the words
    assert "No product matches the filters (Gender: Men), even without the words." in blamed
    assert "5 of 5 products" in _text(_results(fragment))


def test_results_show_the_sessions_own_votes(app) -> None:
    from recommender.feedback import VoteEvent

    fragment, _, _ = on_upload(_payload(_photo()))
    ref = Search.from_fragment(fragment).current.ref
    _results(fragment, session="mine")  # the server records what it showed to "mine"
    hit = find(get_services(), Search.from_fragment(fragment)).hits[0]
    catalog = get_services().engine.index.manifest.catalog.identity
    get_services().feedback.record(VoteEvent(catalog, as_shopper("mine"), "upload", ref, {}, hit.id, 1, hit.distance,
                                             "fake", -1))
    mine, theirs = str(_results(fragment, session="mine")), str(_results(fragment, session="theirs"))
    assert mine.count("vote-btn vote-down active") == 1 and "aria-pressed='true'" in mine
    assert "active" not in theirs


def test_results_still_show_when_the_votes_cannot_be_read(app, monkeypatch) -> None:
    from recommender.errors import RecommenderError

    def unusable(*_args) -> dict:
        raise RecommenderError("The feedback database votes.sqlite3 cannot be used: database is locked.")

    fragment, _, _ = on_upload(_payload(_photo()))
    monkeypatch.setattr(get_services().feedback, "current_votes", unusable)
    assert "5 of 5 products" in _text(_results(fragment))


@pytest.mark.parametrize("fragment, sentence", [
    ("#s=upload:" + "0" * 64, "no longer kept on the server"),
    ("#s=upload:x", "please upload the photo again"),
    ("#s=item:no-such-product", "no longer in the catalogue"),
])
def test_a_search_naming_what_is_gone_gets_a_sentence(app, fragment, sentence) -> None:
    crumbs, chips, body, status, *_ = _results(fragment)
    assert sentence in _text(body) and sentence in status


@pytest.mark.parametrize("fragment", ["#s=telepathy:x", "#s=item:", "#n=abc&gender=", "%%%", "#" + "s=a" * 9000])
def test_a_malformed_url_is_read_as_a_smaller_search(app, fragment) -> None:
    _, _, body, *_ = _results(fragment)
    assert "Or start from a product" in _text(body)


def test_filters_follow_the_catalogue(app) -> None:
    roles = get_services().engine.index.roles
    assert dict(roles.filters()) == {"gender": "gender", "colour": "baseColour", "category": "articleType", "age": None}
    assert selected_filters(roles, {"gender": [], "colour": ["Red", "Blue"], "category": None}) == {
        "baseColour": ["Red", "Blue"]
    }
    assert selected_filters(Roles.of(["category"]), {"colour": ["Red"], "category": ["hat"]}) == {"category": ["hat"]}


def test_two_shoppers_at_once_get_their_own_results(demo_index_dir: Path, demo_catalog_dir: Path, tmp_path: Path) -> None:
    """Concurrent uploads through one shared engine (real Keras model) equal the same uploads one by one."""
    settings = Settings.from_env(index=demo_index_dir, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    app = create_app(settings, engine=Recommender.open(demo_index_dir))
    photos = [p.read_bytes() for p in sorted((demo_catalog_dir / "images").glob("*.jpg"))[:6]]

    def shop(data: bytes) -> list[str]:
        with app.server.test_request_context():
            fragment, alert, _ = on_upload(_payload(data))
            assert alert is None
            return _ids(fragment)

    alone = [shop(data) for data in photos]
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(shop, photos))
    assert together == alone
    assert len({tuple(ids) for ids in alone}) == len(photos)  # each shopper really got different results


def test_app_module_builds_nothing_until_server_is_asked_for(tiny_index: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RECOMMENDER_INDEX", str(tiny_index))
    monkeypatch.setenv("RECOMMENDER_FEEDBACK_DB", str(tmp_path / "votes.sqlite3"))
    monkeypatch.setenv("RECOMMENDER_THUMBNAIL_DIR", str(tmp_path / "thumbs"))
    monkeypatch.setenv("RECOMMENDER_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    sys.modules.pop("app", None)
    module = importlib.import_module("app")
    assert module._app_from_env.cache_info().currsize == 0
    server = module.server
    assert server is module.server  # one app per process
    assert server.test_client().get("/").status_code == 200
    assert module.parse_args([]).port == 8050 and module.parse_args([]).host == "127.0.0.1"


def test_app_main_reports_a_missing_index_in_one_sentence(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    module = importlib.import_module("app")
    assert module.main(["--index", str(tmp_path / "nowhere")]) == 2
    # (Other tests' apps may still be loading their model in a background thread and log meanwhile.)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: There is no index at")


def _click_thumb_up(item_id: str) -> None:
    """Set Dash's callback context as a click on the item's thumbs-up button would."""

    prop_id = json.dumps({"id": item_id, "type": "vote-up"}, separators=(",", ":")) + ".n_clicks"
    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))


def test_a_vote_is_stored_and_a_tampered_card_gets_a_sentence(app) -> None:
    index = get_services().engine.index
    query = index.ids[0]
    fragment = Search().followed(Step("item", query)).fragment()
    _results(fragment, session="s1")  # shown to s1: these results can be voted on
    hit = find(get_services(), Search.from_fragment(fragment)).hits[1]
    _click_thumb_up(hit.id)
    state, up_class, up_pressed, _, down_pressed, message = on_vote(
        1, None, {"rank": hit.rank, "distance": hit.distance}, fragment)
    assert state["vote"] == 1 and message is None and "active" in up_class
    assert (up_pressed, down_pressed) == ("true", "false")
    catalog = index.manifest.catalog.identity
    assert get_services().feedback.current_votes(catalog, as_shopper("s1"), query) == {hit.id: 1}
    _click_thumb_up(hit.id)
    *_, message = on_vote(1, None, {"rank": hit.rank}, fragment)  # no distance
    assert message.startswith("Your vote was not saved: this result's data is damaged")
    for forged in ({"rank": hit.rank + 1, "distance": hit.distance}, {"rank": 10**30, "distance": 1e308},
                   {"rank": hit.rank, "distance": hit.distance * 2}):
        _click_thumb_up(hit.id)
        *_, message = on_vote(1, None, forged, fragment)
        assert message.startswith("Your vote was not saved: "), message
    _click_thumb_up(hit.id)
    *_, message = on_vote(1, None, {"rank": hit.rank, "distance": hit.distance}, fragment, session="another")
    assert "not shown to you" in message
    assert get_services().feedback.current_votes(catalog, as_shopper("s1"), query) == {hit.id: 1}


def test_the_start_page_spreads_over_the_matching_products(app) -> None:
    index = get_services().engine.index
    everything = find(get_services(), Search(shown=100)).products
    assert [p.id for p in everything] == index.ids
    value = index.products[0].attributes["gender"]
    some = find(get_services(), Search(filters={"gender": (value,)})).products
    assert some and all(p.attributes["gender"] == value for p in some)
    assert len(some) == sum(p.attributes.get("gender") == value for p in index.products)


def test_an_upload_is_decoded_once(app, monkeypatch) -> None:
    """The bug this fixes: a photo was decoded for validation, then decoded again for the model."""
    import recommender.images as images

    calls = []
    real = images._open
    monkeypatch.setattr(images, "_open", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    fragment, alert, _ = on_upload(_payload(_photo()))
    assert alert is None and len(calls) == 1
    assert len(_ids(fragment)) == 5
    assert len(calls) == 1  # re-ranking uses the kept vector: no decode, no embedding


def test_option_counts_follow_the_other_filters_and_the_words(app) -> None:
    from recommender.ui.query import facet_counts

    services = get_services()
    black = facet_counts(services, Search(filters={"colour": ("Black",)}))
    assert black["colour"] == {"Black": 2, "Blue": 1, "Cream": 1, "Red": 1}  # its own filter does not count
    assert black["gender"] == {"Women": 2} and black["category"] == {"Tops": 2}
    assert facet_counts(services, Search(filters={"gender": ("Men",)}))["colour"] == {}  # every colour: none left
    assert facet_counts(services, Search(text="linen"))["colour"] == {"Cream": 1}


def test_controls_follow_the_url_and_write_it_back(app) -> None:
    """The filters and the word box are set from the URL (load, Back, a chip) and a change in them
    writes the URL; an option that would leave nothing is greyed out."""
    from recommender.ui.search.actions import sync_controls

    def triggered(prop_id: str, value) -> None:
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": value}]))

    fragment = "#s=item:1004&gender=Women&colour=Red"
    triggered("search-url.hash", fragment)
    drawn = sync_controls(fragment, {}, None, None)
    assert drawn["hash"] is no_update and drawn["values"] == {"gender": ["Women"], "colour": ["Red"], "category": [], "age": []}
    greyed = {o["value"]: o["disabled"] for o in drawn["options"]["category"]}
    assert greyed == {"Tops": False}
    with pytest.raises(PreventUpdate):  # "Show more" changes only the count: the controls are left as drawn
        sync_controls(Search.from_fragment(fragment).more().fragment(), {}, None, drawn["drawn"])
    triggered("filter-colour.value", ["Red", "Blue"])
    written = sync_controls(fragment, {"gender": ["Women"], "colour": ["Red", "Blue", 7], "category": None}, None,
                            drawn["drawn"])
    assert Search.from_fragment(written["hash"]).filters == {"gender": ("Women",), "colour": ("Red", "Blue")}
    triggered("text-search.value", "  linen  shirt ")
    assert Search.from_fragment(sync_controls(fragment, {}, "  linen  shirt ", None)["hash"]).text == "linen shirt"


def test_what_a_search_finds_for_each_kind_of_step(app) -> None:
    """A refinement is Rocchio on the step before it; a product's region re-embeds that crop; words narrow."""
    from recommender.images import open_image
    from recommender.regions import Box
    from recommender.ui.query import step_query
    from recommender.ui.state import liked_step

    services = get_services()
    index = services.engine.index
    base = Step("item", "1004")
    refined = (base, liked_step(["1005", "gone-from-catalogue"], ["1001"]))
    query, excluded = step_query(services, refined)
    code = services.engine.product_query
    expected = code("1004").refined([code("1005")], [code("1001")])
    np.testing.assert_allclose(query.to_array(), expected.to_array(), rtol=1e-6)
    assert excluded == {"1004", "1005", "1001"}  # the query and the voted products are not shown again
    hits = find(services, Search(trail=refined)).hits
    assert {h.id for h in hits} == set(index.ids) - excluded

    box = Box(0, 0.5, 1, 1)
    framed, _ = step_query(services, (Step("item", "1004", box),))
    crop = box.crop(open_image(index.product("1004").image))
    np.testing.assert_allclose(framed.to_array(), services.engine.embed_image(crop).to_array(), rtol=1e-6)
    assert not np.allclose(framed.to_array(), code("1004").to_array())

    narrowed = find(services, Search(trail=(base,), text="linen"))
    assert [h.id for h in narrowed.hits] == ["café 7"] and narrowed.total == 1
    alone = find(services, Search(text="black"))
    assert [p.id for p in alone.products] == ["1005"] and alone.total == 1


def _find(component, class_name: str) -> list:
    """Every component of a tree with this class name, in page order."""
    if isinstance(component, (list, tuple)):
        return [found for c in component for found in _find(c, class_name)]
    if not hasattr(component, "children"):
        return []
    own = [component] if getattr(component, "className", None) == class_name else []
    return own + _find(component.children, class_name)


def test_result_badges_follow_the_order_and_titles_say_how_alike(app) -> None:
    fragment, _, _ = on_upload(_payload(_photo()))
    hits = find(get_services(), Search.from_fragment(fragment)).hits
    badges = _find(_results(fragment), "match-badge")
    assert [b.children for b in badges] == [f"{h.match:.0%} match" for h in hits]
    matches = [h.match for h in hits]
    assert matches == sorted(matches, reverse=True)
    for badge, hit in zip(badges, hits):
        alike = get_services().similarity(hit.distance)
        assert f"The pictures alone look {alike:.0%} alike" in badge.title and f"{hit.distance:.3g}" in badge.title


def test_every_start_names_the_index_its_model_and_head(tiny_index: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from dash import Dash

    from recommender.ui import preflight

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    module = importlib.import_module("app")
    monkeypatch.setattr(Dash, "run", lambda self, **kwargs: None)  # started, not served
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.NOTSET)  # put back after the test
    places = {"INDEX": tiny_index, "FEEDBACK_DB": tmp_path / "votes.sqlite3", "THUMBNAIL_DIR": tmp_path / "th",
              "UPLOAD_DIR": tmp_path / "up"}
    for name, value in places.items():
        monkeypatch.setenv(f"RECOMMENDER_{name}", str(value))
    for _ in range(2):  # the index is built already: later starts say it too
        assert module.main([]) == 0
        err = capsys.readouterr().err
        assert module.TRYING_IT_OUT in err  # what Flask's "development server" warning means, and what a shop runs
        assert logging.getLogger("werkzeug").level == logging.WARNING  # no line per request (20 per page load)
        lines = [line for line in err.splitlines() if line.startswith("Serving ")]
        assert lines == [f"Serving {tiny_index}: 5 products; model fake (random); no head (the backbone's own "
                         "features); random weights: the ranking is not meaningful."]
    assert preflight.main() == 0  # gunicorn's start, before its workers
    assert f"Serving {tiny_index}: 5 products" in capsys.readouterr().err
