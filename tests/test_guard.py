"""The app's boundary in-process: body limits and pace (ui.limits), callback bodies and failures (ui.guard),
sessions (ui.session) and the sentences shoppers see. The same corpus against gunicorn: test_hostile.py."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import recommender.ui.limits as limits
from recommender.errors import RecommenderError
from recommender.images import MIB
from recommender.settings import Settings
from recommender.ui import create_app
from recommender.ui.app import UPLOAD_PROPS
from recommender.ui.guard import body_problem, public_message, short, upload_outputs
from recommender.ui.limits import BodyLimits, upload_body_bytes
from recommender.ui.search import render
from recommender.ui.services import get_services
from recommender.ui.session import SECRET_FILE, load_secret_key
from tests.ui_fakes import build_tiny_index, tiny_engine


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_index(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def app(tiny_index: Path, tmp_path: Path):
    settings = Settings.from_env(index=tiny_index, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads",
                                 max_upload_bytes=MIB)
    return create_app(settings, engine=tiny_engine(tiny_index))


def _echo(environ: dict, start_response) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]


def _call(middleware: BodyLimits, path: str, body: bytes | object, length: int | None = None) -> tuple[str, bytes]:
    stream = body if not isinstance(body, bytes) else io.BytesIO(body)
    environ = {"PATH_INFO": path, "wsgi.input": stream,
               "CONTENT_LENGTH": str(len(body) if length is None else length)}
    status: list[str] = []
    answer = b"".join(middleware(environ, lambda s, headers: status.append(s)))
    return status[0], answer


UPLOAD_OUTPUT = "..search-url.hash@abc...upload-alert.children...upload-inner.children.."  # the shape of the page's
RENDER_OUTPUT = ("..crumbs-area.children...chips-area.children...results-area.children...results-status.children..."
                 'results-key.data...{"part":["ALL"],"type":"results-part"}.children...'
                 '{"n":["ALL"],"type":"results-page"}.children..')


def _limits(upload_outputs: set[str] = frozenset({UPLOAD_OUTPUT})) -> BodyLimits:
    return BodyLimits(_echo, callback_path="/_dash-update-component", api_upload_path="/api/search",
                      upload_outputs=lambda: set(upload_outputs), max_upload_bytes=MIB)


def test_every_route_but_the_photo_ones_takes_a_small_body() -> None:
    middleware = _limits()
    assert _call(middleware, "/_dash-update-component", b"{}" + b" " * 200_000) == ("200 OK", b"200002")
    status, answer = _call(middleware, "/_dash-update-component", b"{" + b" " * 300_000 + b"}")
    assert status.startswith("413") and "256 KB" in json.loads(answer)["error"]
    upload = json.dumps({"output": UPLOAD_OUTPUT, "inputs": []}).encode()
    big = upload[:-1] + b" " * 1_000_000 + b"}"
    assert _call(middleware, "/_dash-update-component", big)[0] == "200 OK"  # the upload callback: a photo's worth
    too_big = upload[:-1] + b" " * upload_body_bytes(MIB, base64=True) + b"}"
    status, answer = _call(middleware, "/_dash-update-component", too_big)
    assert status.startswith("413") and json.loads(answer) == {"error": "The request is larger than the 1 MB limit "
                                                                        "for images."}
    assert _call(middleware, "/api/search", b"x" * MIB)[0] == "200 OK"
    assert _call(middleware, "/api/search", b"x" * (upload_body_bytes(MIB, base64=False) + 1))[0].startswith("413")
    assert _call(middleware, "/thumbnail/1", b"x" * 300_000)[0].startswith("413")


def test_a_declared_length_is_checked_before_the_body_is_read() -> None:
    class Endless(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            return b"x" * min(size, 65536)

    status, _ = _call(_limits(), "/_dash-update-component", Endless(), length=10 * MIB)
    assert status.startswith("413")
    status, answer = _call(_limits(), "/x", b"abc", length=10)  # the client promised more than it sent
    assert status.startswith("400") and "did not arrive complete" in json.loads(answer)["error"]
    environ = {"PATH_INFO": "/x", "wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "1e9"}
    status = []
    answer = b"".join(_limits()(environ, lambda s, h: status.append(s)))
    assert status[0].startswith("400") and "not a number of bytes" in json.loads(answer)["error"]


def test_a_body_arriving_too_slowly_gets_a_408(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "GRACE_S", 0.2)

    class Trickle(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            time.sleep(0.05)
            return b"x"

    status, answer = _call(_limits(), "/_dash-update-component", Trickle(), length=1000)
    assert status.startswith("408") and "too slowly" in json.loads(answer)["error"]


def _post(client, body: dict):
    """A callback request with "output" first, as Dash's renderer writes it (the test client's json= sorts keys)."""
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


def test_the_photo_limit_goes_to_the_upload_callback_only(app) -> None:
    """The callbacks taking a photo (`UPLOAD_PROPS`) are the upload's; a body that large anywhere else is refused."""
    upload = next(key for key, cb in app.callback_map.items()
                  if "callback" in cb and any(d["id"] == "upload-payload" for d in cb["inputs"]))
    assert upload_outputs(app, UPLOAD_PROPS) == {upload}  # the browser-side forwarding is no server callback
    client = app.server.test_client()
    photo = {"filename": "x.jpg", "contents": "data:image/jpeg;base64," + "A" * 600_000}
    body = {"output": upload, "outputs": [{"id": "search-url", "property": "hash"},
                                          {"id": "upload-alert", "property": "children"},
                                          {"id": "upload-inner", "property": "children"}],
            "inputs": [{"id": "upload-payload", "property": "data", "value": photo}],
            "state": [{"id": "search-url", "property": "hash", "value": ""}], "changedPropIds": ["upload-payload.data"]}
    response = _post(client, body)
    assert response.status_code == 200 and "could not be used" in response.get_data(as_text=True)
    render = {"output": RENDER_OUTPUT, "outputs": [], "inputs": [{"id": "search-url", "property": "hash",
                                                                  "value": "#text=" + "a" * 600_000}]}
    refused = _post(client, render)
    assert refused.status_code == 413 and "256 KB" in refused.json["error"]


def test_malformed_callback_bodies_are_named(app) -> None:
    callbacks = app.callback_map
    good = {"output": RENDER_OUTPUT,
            "outputs": [{"id": i, "property": "children"} for i in ("crumbs-area", "chips-area", "results-area",
                                                                    "results-status")]
            + [{"id": "results-key", "property": "data"}, [], []],
            "inputs": [{"id": "search-url", "property": "hash", "value": ""}],
            "state": [{"id": "results-key", "property": "data"}], "changedPropIds": ["search-url.hash"]}
    assert body_problem(good, callbacks) is None
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    cases = {
        "the body is not a JSON object": None,
        "output names no server callback of this app": {**good, "output": "nope.children"},
        "inputs or state do not match the callback": {**good, "inputs": []},
        "inputs or state are not lists of component properties": {**good, "inputs": [{"id": ["x"], "property": "p"}]},
        "outputs are not component properties": {**good, "outputs": 5},
        "changedPropIds is not a list of texts": {**good, "changedPropIds": [1]},
        "the body nests deeper than 64 levels": {**good, "inputs": [{"id": "search-url", "property": "hash",
                                                                     "value": deep}]},
    }
    for problem, body in cases.items():
        assert body_problem(body, callbacks) == problem
    clientside = next(key for key, cb in callbacks.items() if "callback" not in cb)  # runs in the browser only
    assert body_problem({**good, "output": clientside}, callbacks) == "output names no server callback of this app"


def test_every_callback_failure_is_one_short_log_line(app, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's own checks leave nothing that raises on a browser's values (see test_hostile.py); a bug
    that does raise (here one planted in the results' search) costs the shopper one answer, not the page,
    and the log one short line that names the callback and the exception but holds nothing of the body."""
    def planted_bug(services, search):
        raise AttributeError("'list' object has no attribute " + repr("x" * 10_000))

    monkeypatch.setattr(render, "find", planted_bug)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("recommender")
    logger.addHandler(handler)
    client = app.server.test_client()
    body = {"output": RENDER_OUTPUT, "outputs": [{"id": i, "property": "children"} for i in
                                                 ("crumbs-area", "chips-area", "results-area", "results-status")]
            + [{"id": "results-key", "property": "data"}, [], []],
            "inputs": [{"id": "search-url", "property": "hash", "value": "#text=SECRET-MARKER" + "y" * 50_000}],
            "state": [{"id": "results-key", "property": "data"}], "changedPropIds": ["search-url.hash"]}
    try:
        response = _post(client, body)
        refused = client.post("/_dash-update-component", data=b"[" * 50_000, content_type="application/json")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 200 and json.loads(response.data).get("response", {}) == {}  # no update
    assert refused.status_code == 400
    messages = [r.getMessage() for r in records]
    assert len(messages) == 2 and "failed on its input: AttributeError" in messages[0]
    assert "results-area.children" in messages[0] and messages[0].endswith("…")  # named, and cut
    assert all(len(m) < 500 and "SECRET-MARKER" not in m and "yyyy" not in m for m in messages)
    assert not any(r.exc_info for r in records)
    assert short("a\nb " * 1000, 20) == "a b a b a b a b a b…"


def test_shoppers_never_see_a_server_path(app, tmp_path: Path) -> None:
    failing = RecommenderError(f"The feedback database {tmp_path}/votes.sqlite3 cannot be used: disk I/O error.")
    assert public_message(failing, "Votes cannot be saved now.") == "Votes cannot be saved now."
    plain = RecommenderError("No product with id 'dress/blue-42' in this catalogue.")
    assert public_message(plain, "fallback") == str(plain)
    with app.server.test_request_context():
        services = get_services()
        with pytest.raises(RecommenderError) as info:
            services.engine.product_query("nope")
        assert str(tmp_path) not in str(info.value) and str(services.engine.index.path) not in str(info.value)


def test_the_secret_key_is_made_once_private_and_shared_by_racing_workers(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_secret_key(folder), range(32)))
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    assert stat.S_IMODE(os.stat(folder / SECRET_FILE).st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == [SECRET_FILE]  # no temp file left
    assert load_secret_key(folder) == next(iter(keys))
    (folder / SECRET_FILE).write_text("short")
    with pytest.raises(RecommenderError, match="is damaged; delete it"):
        load_secret_key(folder)


def test_the_secret_key_setting_must_be_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDER_SECRET_KEY", "too short")
    with pytest.raises(RecommenderError, match="at least 32 characters"):
        Settings.from_env()
    monkeypatch.setenv("RECOMMENDER_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("RECOMMENDER_SECURE_COOKIES", "1")
    settings = Settings.from_env()
    assert settings.secret_key == "k" * 40 and settings.secure_cookies


def test_a_page_load_starts_a_signed_session_that_callbacks_keep(app) -> None:
    client = app.server.test_client()
    page = client.get("/", headers={"Accept": "text/html"})
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Set-Cookie" not in client.get("/", headers={"Accept": "text/html"}).headers  # kept, not renewed
    assert "Set-Cookie" not in client.get("/thumbnail/1001").headers  # images start no session

